"""Our audio mark (io.soundstage.audio.1): the asset id, inaudibly, in every synthetic or altered line.

Design in one paragraph (details, measurements and the false-positive argument:
docs/design/watermark.md "Audio mark", DR017). The signal is analysed at a working rate of
16 kHz in frames of 32 ms (hop 512, a 1024-point FFT of a square-rooted trapezoid window, so each
frame barely overlaps its neighbours). Between 150 Hz and 7 kHz the bins are grouped into bands
about 3.5 % wide (three bins at least), so a speed change of a percent leaves each band on itself.
A *period* is 32 frames (1.024 s) x the bands: a key-seeded layout deals its cells out among the 160
Reed-Solomon coded bits of the 64-bit id (RS(20, 8), `audio_ecc.py`, scrambled by a keyed mask) and
32 known *sync* symbols, each cell with a random chip of +-1. Embedding multiplies each cell's
spectrum by exp(G), G = chip * (strength * bit - what the host already says about that bit in that
period): *improved spread spectrum* on the whitened log magnitude, which cancels the host's own
projection instead of fighting it, corrected over a few analyse-and-correct passes. The gain follows
the signal's own spectrum (a fast-moving, fine-grained equaliser, masked by the sound it rides on);
the mark is computed once at 16 kHz from the downmix, upsampled and added to every channel. The
period repeats for the whole clip, so any two seconds hold it (almost) twice. The detector resamples
over a grid of speeds (0.88-1.12), takes the STFT at an eighth of a hop to find the frame phase,
folds the frames onto one period, finds the period's start by correlating with the sync symbols,
reads each bit as a sum over its cells and decodes RS(20, 8), erasing the least reliable bytes.
Only DECODE_CANDIDATES alignments ever reach the decoder, which bounds the false-positive rate.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from math import gcd
from typing import Any

import numpy as np

from soundstage.errors import InputError

from . import audio_ecc as ecc
from .protocol import Detection, check_payload, soft_binding_assertion

__all__ = ["ALG", "AudioWatermark", "Sound", "DEFAULT_KEY", "default_audio_engine", "check_samples",
           "WORK_RATE", "MIN_DETECT_SECONDS", "SPEED_GRID"]

ALG = "io.soundstage.audio.1"
DEFAULT_KEY = b"soundstage/watermark/audio/v1"

WORK_RATE = 16_000
N_FFT = 1024
HOP = 512
RAMP = 128                                  # cross-fade between frames (samples at 16 kHz)
FRAMES_PER_PERIOD = 32                      # 1.024 s: any 2 s window holds the period (almost) twice
BAND_HZ = (150.0, 7000.0)                   # survives MP3/AAC at 128 kb/s and 44.1 kHz
BAND_RELATIVE_WIDTH = 0.035                 # a band is ~3.5 % wide: a 1 % speed error stays inside it
MIN_BAND_BINS = 3                           # narrower bands are blurred away by the window (measured)
SMOOTH_BANDS = 3                            # whitening: subtract the mean of +-3 neighbouring bands
SYNC_SYMBOLS = 32                           # sync "bits" (known values) next to the 160 coded bits
DEFAULT_STRENGTH = 0.16                     # target projection per cell, in nepers of magnitude
MAX_GAIN = 0.8                              # no cell is changed by more than +-6.9 dB
RELATIVE_FLOOR = 1e-5                       # bands 50 dB under their frame's mean are floor
WHITE_CLIP = 3.0                            # whitened log magnitudes are clipped to +-3 nepers
STEP_GAIN = 1.5                             # over-relaxation of each embedding pass
EMBED_PASSES = 5                            # analyse-correct passes (overlap-add blurs each pass)
SPEED_GRID = tuple(round(1.0 + 0.01 * k, 2) for k in range(-12, 13))
SUB_PHASES = 8                              # frame phase searched at HOP / 8 (4 ms)
DECODE_CANDIDATES = 16                      # alignments ever given to the RS decoder (the FPR bound)
MIN_DETECT_SECONDS = 1.1                    # one period (1.024 s) and a window: 12 / 12 read at 1.1 s
MAX_DETECT_SECONDS = 20.0                   # longer inputs: the first 20 s are read
MAX_CHANNELS = 16
RATE_RANGE = (8_000, 192_000)
MIN_LEVEL = 1e-4                            # RMS below this (-80 dBFS) is silence: nothing to read


def check_samples(samples: Any, sample_rate: Any) -> tuple[np.ndarray, int]:
    """Refuse anything that is not float audio shaped (n_samples, n_channels) at a sane rate."""
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)):
        raise InputError(f"sample rate must be an int, got {type(sample_rate).__name__}")
    rate = int(sample_rate)
    if not RATE_RANGE[0] <= rate <= RATE_RANGE[1]:
        raise InputError(f"sample rate {rate} Hz is outside {RATE_RANGE[0]}-{RATE_RANGE[1]} Hz")
    if not isinstance(samples, np.ndarray):
        raise InputError(f"audio samples must be a numpy array, got {type(samples).__name__}")
    if samples.ndim != 2 or not 1 <= samples.shape[1] <= MAX_CHANNELS:
        raise InputError(f"audio samples must be shaped (n_samples, n_channels <= {MAX_CHANNELS}), "
                         f"got {samples.shape}", hint="use samples.reshape(-1, 1) for mono")
    if samples.dtype != np.float32:
        raise InputError(f"audio samples must be float32 in [-1, 1], got {samples.dtype}",
                         hint="convert int16 with x.astype(np.float32) / 32768")
    if not np.all(np.isfinite(samples)):
        raise InputError("audio samples contain NaN or infinity")
    return samples, rate


@dataclass(frozen=True)
class _Layout:
    """Key-derived placement: which band each bin is in, and what each (frame, band) cell carries."""

    band_of_bin: np.ndarray   # (N_FFT//2+1,) band index, -1 outside the band
    n_bands: int
    symbol: np.ndarray        # (FRAMES_PER_PERIOD, n_bands) 0..127 coded bit, 128.. sync symbol
    chip: np.ndarray          # (FRAMES_PER_PERIOD, n_bands) +-1
    sync_value: np.ndarray    # (SYNC_SYMBOLS,) +-1, the known values of the sync symbols
    scramble: np.ndarray      # (128,) keyed 0/1 XORed onto the coded bits


def _bands() -> tuple[np.ndarray, int]:
    bin_hz = WORK_RATE / N_FFT
    lo, hi = int(np.ceil(BAND_HZ[0] / bin_hz)), int(BAND_HZ[1] / bin_hz)
    band_of_bin = np.full(N_FFT // 2 + 1, -1, dtype=np.int64)
    k, band = lo, 0
    while k <= hi:
        width = max(MIN_BAND_BINS, int(round(BAND_RELATIVE_WIDTH * k)))
        band_of_bin[k:min(k + width, hi + 1)] = band
        k += width
        band += 1
    return band_of_bin, band


def _make_layout(key: bytes) -> _Layout:
    seed = int.from_bytes(hashlib.sha256(b"audio.1|" + key).digest()[:8], "big")
    rng = np.random.default_rng(seed)
    band_of_bin, n_bands = _bands()
    cells = FRAMES_PER_PERIOD * n_bands
    n_symbols = ecc.CODED_BITS + SYNC_SYMBOLS
    # deal the cells out round-robin over a keyed permutation: every symbol gets cells//n_symbols
    # or one more, scattered over time and frequency (a lost frame or band costs each bit little)
    symbol = np.empty(cells, dtype=np.int64)
    symbol[rng.permutation(cells)] = np.arange(cells) % n_symbols
    chip = rng.choice(np.array([-1.0, 1.0]), size=cells)
    sync_value = rng.choice(np.array([-1.0, 1.0]), size=SYNC_SYMBOLS)
    # without the scramble, audio with no mark (all-zero soft bits) reads as the codeword of id 0
    scramble = rng.integers(0, 2, ecc.CODED_BITS).astype(np.uint8)
    return _Layout(band_of_bin=band_of_bin, n_bands=n_bands,
                   symbol=symbol.reshape(FRAMES_PER_PERIOD, n_bands), chip=chip.reshape(FRAMES_PER_PERIOD, n_bands),
                   sync_value=sync_value, scramble=scramble)


def _window() -> np.ndarray:
    """Square root of a trapezoid: flat over most of a hop, sine-squared ramps of RAMP samples, zero
    at the frame's ends. Analysis times synthesis sums to one at hop HOP (perfect reconstruction),
    and, unlike a Hann window, a frame barely overlaps its neighbours, so each frame's gain is what
    the detector measures in it (with sqrt-Hann, half of it leaked into the next frames)."""
    ramp = RAMP
    lead = (N_FFT - HOP - ramp) // 2
    up = np.sin(0.5 * np.pi * (np.arange(ramp) + 0.5) / ramp) ** 2
    trapezoid = np.concatenate([np.zeros(lead), up, np.ones(HOP - ramp), up[::-1], np.zeros(lead)])
    return np.sqrt(trapezoid)


_WIN = _window()


def _resample(x: np.ndarray, rate_from: int, rate_to: int) -> np.ndarray:
    from scipy.signal import resample_poly

    if rate_from == rate_to:
        return x
    g = gcd(rate_from, rate_to)
    return resample_poly(np.asarray(x, dtype=np.float32), rate_to // g, rate_from // g, axis=0)


def _downmix(samples: np.ndarray) -> np.ndarray:
    # a matrix product: numpy's mean over a short last axis is several times slower
    channels = samples.shape[1]
    return samples[:, 0] if channels == 1 else samples @ np.full(channels, 1.0 / channels, dtype=np.float32)


def _rfft(frames: np.ndarray) -> np.ndarray:
    import scipy.fft

    return scipy.fft.rfft(frames.astype(np.float32, copy=False), axis=1)


def _irfft(spec: np.ndarray) -> np.ndarray:
    import scipy.fft

    return scipy.fft.irfft(spec.astype(np.complex64, copy=False), n=N_FFT, axis=1)


def _overlap_add(frames: np.ndarray, length: int) -> np.ndarray:
    """Frames of N_FFT = 2 * HOP at hop HOP, summed into a signal of `length` samples."""
    blocks = np.zeros((frames.shape[0] + 1, HOP))
    blocks[:-1] += frames[:, :HOP]
    blocks[1:] += frames[:, HOP:]
    out = np.zeros(length)
    flat = blocks.ravel()[:length]
    out[:len(flat)] = flat
    return out


def _frames(x: np.ndarray, hop: int) -> np.ndarray:
    """Windowed frames starting at 0, hop, 2*hop ... (the tail shorter than a frame is dropped)."""
    n = 1 + (len(x) - N_FFT) // hop if len(x) >= N_FFT else 0
    if n <= 0:
        return np.zeros((0, N_FFT))
    view = np.lib.stride_tricks.sliding_window_view(x, N_FFT)[::hop][:n]
    return view * _WIN.astype(x.dtype, copy=False)


def _band_logmag(spec: np.ndarray, band_of_bin: np.ndarray, n_bands: int, floor: float) -> np.ndarray:
    """Log magnitude per band (mean power of its bins), whitened across bands: the host's spectral
    envelope and its loudness are removed, what is left is the fine structure the mark modulates.
    The bands (`_bands`) are the same for every key."""
    band_mean, smooth, lo, hi = _band_matrices(n_bands, band_of_bin.tobytes())
    part = spec[:, lo:hi]
    power = part.real ** 2 + part.imag ** 2
    bands = power @ band_mean
    # bands 50 dB under the frame's mean are noise floor (or a codec's zeros): their logs would be
    # outliers that drown everything else, so they are floored and the result clipped
    level = bands.mean(axis=1, keepdims=True)
    logm = 0.5 * np.log(bands + RELATIVE_FLOOR * level + floor)
    white = logm - logm @ smooth
    return np.clip(white, -WHITE_CLIP, WHITE_CLIP, out=white)


@lru_cache(maxsize=2)
def _band_matrices(n_bands: int, band_key: bytes) -> tuple[np.ndarray, np.ndarray, int, int]:
    """(bins lo:hi -> band mean power, band -> mean of its +-SMOOTH_BANDS neighbours with the edges
    repeated, lo, hi): float32, the detector's hot loop."""
    band_of_bin = np.frombuffer(band_key, dtype=np.int64)
    inside = np.flatnonzero(band_of_bin >= 0)
    lo, hi = int(inside[0]), int(inside[-1]) + 1
    mean = np.zeros((hi - lo, n_bands), dtype=np.float32)
    mean[np.arange(hi - lo), band_of_bin[lo:hi]] = 1.0
    mean /= mean.sum(axis=0, keepdims=True)
    smooth = np.zeros((n_bands, n_bands), dtype=np.float32)
    for b in range(n_bands):
        for j in range(b - SMOOTH_BANDS, b + SMOOTH_BANDS + 1):
            smooth[min(max(j, 0), n_bands - 1), b] += 1.0 / (2 * SMOOTH_BANDS + 1)
    return mean, smooth, lo, hi


class Sound:
    """An excerpt as every key's detector hears it: what a read works out without the key, kept so
    that a second key (verify reads the production's key, then the public default one) does not
    work it out again (DR017 amendment, shared reads).

    Made once from the samples: the checked input, its first MAX_DETECT_SECONDS downmixed and
    resampled to WORK_RATE. Worked out by the first read at each speed (`AudioWatermark.read`):
    the band log-magnitudes of that speed's sub-hop frames, whitened across bands (`_bands`: the
    same for every key), and their spread. Nothing keyed is kept: a read through a `Sound`
    another key has read is the read of the samples themselves (a test holds it to that)."""

    def __init__(self, samples: np.ndarray, sample_rate: int) -> None:
        samples, rate = check_samples(samples, sample_rate)
        self.seconds = samples.shape[0] / rate
        mono = _downmix(samples[: int(MAX_DETECT_SECONDS * rate)]).astype(np.float64)
        self.silent = float(np.sqrt(np.mean(mono ** 2))) < MIN_LEVEL
        self.x = _resample(mono, rate, WORK_RATE) if self.seconds >= MIN_DETECT_SECONDS and not self.silent \
            else np.zeros(0)
        self._bands = _bands()
        self._white: dict[float, tuple[np.ndarray, float] | None] = {}

    def whitened(self, speed: float) -> tuple[np.ndarray, float] | None:
        """(whitened band log-magnitudes of the sub-hop frames, their standard deviation) at one
        speed; None when the excerpt holds too few frames for a period at every sub-phase."""
        if speed not in self._white:
            y = np.asarray(self.x if speed == 1.0 else _resample_ratio(self.x, speed), dtype=np.float32)
            spec = _rfft(_frames(y, HOP // SUB_PHASES))
            if spec.shape[0] < SUB_PHASES * FRAMES_PER_PERIOD:
                self._white[speed] = None
            else:
                white = _band_logmag(spec, *self._bands, floor=1e-12)
                self._white[speed] = (white, float(np.std(white)) + 1e-12)
        return self._white[speed]


class AudioWatermark:
    """Keyed, periodic, log-spectral improved-spread-spectrum mark carrying a 64-bit id (RS(16, 8))."""

    name = ALG
    payload_bits = 64

    def __init__(self, key: bytes = DEFAULT_KEY, strength: float = DEFAULT_STRENGTH) -> None:
        if not key:
            raise InputError("watermark key must not be empty")
        if not 0.0 < float(strength) <= 1.0:
            raise InputError(f"audio watermark strength must be in (0, 1], got {strength}")
        self._layout = _make_layout(bytes(key))
        self._strength = float(strength)

    # ------------------------------------------------------------------ embedding
    def coded_bits(self, payload: int) -> np.ndarray:
        """The 128 Reed-Solomon coded bits of a payload (before the keyed scramble)."""
        return ecc.encode_payload(check_payload(payload, self.payload_bits))

    def _symbol_values(self, payload: int) -> np.ndarray:
        lay = self._layout
        bits = (ecc.encode_payload(payload) ^ lay.scramble).astype(np.float64) * 2.0 - 1.0
        return np.concatenate([bits, lay.sync_value])

    def embed(self, samples: np.ndarray, sample_rate: int, payload: int) -> np.ndarray:
        """The same audio with the id in it: same shape, float32, clipped to [-1, 1]."""
        samples, rate = check_samples(samples, sample_rate)
        payload = check_payload(payload, self.payload_bits)
        if samples.shape[0] == 0:
            return samples.copy()
        mono = _downmix(samples)
        mark = self._mark(mono, rate, payload).astype(np.float32)
        out = samples + mark[:, None]
        return np.clip(out, -1.0, 1.0, out=out)

    def _mark(self, mono: np.ndarray, rate: int, payload: int) -> np.ndarray:
        lay = self._layout
        x = _resample(mono, rate, WORK_RATE).astype(np.float64)
        n = len(x)
        # frame t covers [t*HOP - HOP, t*HOP + HOP) of x: pad so every sample is under two frames
        n_frames = -(-n // HOP) + 1
        padded = np.zeros((n_frames + 1) * HOP)
        padded[HOP:HOP + n] = x
        t_pos = np.arange(n_frames) % FRAMES_PER_PERIOD
        sym = lay.symbol[t_pos]                                 # (frames, bands)
        chip = lay.chip[t_pos]
        period = np.arange(n_frames) // FRAMES_PER_PERIOD
        n_sym = ecc.CODED_BITS + SYNC_SYMBOLS
        group = (period[:, None] * n_sym + sym).ravel()
        n_groups = (int(period[-1]) + 1) * n_sym
        count = np.maximum(np.bincount(group, minlength=n_groups), 1)
        target = self._symbol_values(payload)[None, :] * self._strength
        valid = lay.band_of_bin >= 0
        current = padded
        gain = np.zeros((n_frames, lay.n_bands))
        for _ in range(EMBED_PASSES):
            spec = _rfft(_frames(current, HOP))
            white = _band_logmag(spec, lay.band_of_bin, lay.n_bands, floor=1e-12).astype(np.float64)
            # projection per (period, symbol): what the sound says about each bit now
            proj = np.bincount(group, weights=(white * chip).ravel(), minlength=n_groups)
            host = (proj / count).reshape(-1, n_sym)
            # improved spread spectrum: move each projection to its target, whatever the host said;
            # later passes correct what overlap-add and clipping left of the earlier ones
            delta = (target - host)[period[:, None], sym]
            step = chip * delta * STEP_GAIN
            new_gain = np.clip(gain + step, -MAX_GAIN, MAX_GAIN)
            step, gain = new_gain - gain, new_gain
            bins = np.zeros(spec.shape)
            bins[:, valid] = step[:, lay.band_of_bin[valid]]
            current = current + _overlap_add(_irfft(spec * np.expm1(bins)) * _WIN, len(padded))
        mark16 = (current - padded)[HOP:HOP + n]
        mark = _resample(mark16, WORK_RATE, rate)
        if len(mark) < len(mono):
            mark = np.pad(mark, (0, len(mono) - len(mark)))
        return mark[:len(mono)]

    # ------------------------------------------------------------------ detection
    def detect(self, samples: np.ndarray, sample_rate: int) -> Detection:
        """Look for the mark in audio of at least MIN_DETECT_SECONDS (any excerpt of a marked clip).

        At most DECODE_CANDIDATES alignments (the best by sync score; the nominal speed first) reach
        the Reed-Solomon decoder, each at most once per erasure count, so an unmarked input is
        reported marked with probability <= DECODE_CANDIDATES * sum of the attempts' random-decode
        probabilities (1.2e-7; `false_positive_bound`)."""
        return self.read(Sound(samples, sample_rate))

    def read(self, sound: Sound) -> Detection:
        """`detect` of a `Sound`: what this key finds in it (the key-independent work is shared with
        every other key that reads the same `Sound`)."""
        details: dict[str, Any] = {"seconds": round(min(sound.seconds, MAX_DETECT_SECONDS), 3)}
        if sound.seconds < MIN_DETECT_SECONDS:
            return self._absent(dict(details, reason=f"shorter than {MIN_DETECT_SECONDS} s"))
        if sound.silent:
            return self._absent(dict(details, reason="silence"))
        # the nominal speed first (most files are not sped up): its best alignment is decoded before
        # the other speeds are even computed; then the best of all by sync score
        nominal = list(self._candidates(sound, 1.0))
        if not nominal:
            return self._absent(dict(details, reason="too short"))
        first = max(nominal, key=lambda c: c[0])
        found = self._try(first, 1.0, details)
        if found is not None:
            return found
        others = [(z, speed, phase, shift, folded) for speed in SPEED_GRID if speed != 1.0
                  for z, phase, shift, folded in self._candidates(sound, speed)]
        others += [(z, 1.0, phase, shift, folded) for z, phase, shift, folded in nominal
                   if (z, phase, shift) != first[:3]]
        for z, speed, phase, shift, folded in sorted(others, key=lambda c: -c[0])[:DECODE_CANDIDATES - 1]:
            found = self._try((z, phase, shift, folded), speed, details)
            if found is not None:
                return found
        return self._absent(dict(details, **self._alignment(first[0], 1.0, first[1], first[2],
                                                            self._soft_bits(first[3]))))

    def _try(self, candidate: tuple[float, int, int, np.ndarray], speed: float,
             details: dict[str, Any]) -> Detection | None:
        z, phase, shift, folded = candidate
        soft = self._soft_bits(folded)
        payload, corrected, erasures, _ = ecc.decode_soft(soft[: ecc.CODED_BITS], self._layout.scramble)
        if payload is None:
            return None
        fpr = false_positive_bound()
        details = dict(details, **self._alignment(z, speed, phase, shift, soft), corrected_bytes=corrected,
                       erased_bytes=erasures)
        return Detection(found=True, payload=payload, confidence=1.0 - fpr, false_positive_rate=fpr, engine=ALG,
                         details=details)

    def _soft_bits(self, folded: np.ndarray) -> np.ndarray:
        lay = self._layout
        n_sym = ecc.CODED_BITS + SYNC_SYMBOLS
        return np.bincount(lay.symbol.ravel(), weights=(folded * lay.chip).ravel(), minlength=n_sym)

    def _alignment(self, z: float, speed: float, phase: int, shift: int, soft: np.ndarray) -> dict[str, Any]:
        bits = (soft[: ecc.CODED_BITS] > 0).astype(np.uint8) ^ self._layout.scramble
        return {"sync_z": round(float(z), 2), "speed": speed, "frame_phase": phase, "period_shift": shift,
                "codeword": np.packbits(bits).tobytes().hex()}

    def _candidates(self, sound: Sound, speed: float):
        """(sync z, frame phase, period shift, folded period) per frame phase, at one speed."""
        lay = self._layout
        seen = sound.whitened(speed)
        if seen is None:
            return
        white, scale = seen
        sync_mask = lay.symbol >= ecc.CODED_BITS
        template = np.where(sync_mask, lay.chip * lay.sync_value[np.clip(lay.symbol - ecc.CODED_BITS, 0, None)], 0.0)
        n_sync = float(sync_mask.sum())
        for phase in range(SUB_PHASES):
            seq = white[phase::SUB_PHASES]
            n = seq.shape[0]
            periods = -(-n // FRAMES_PER_PERIOD)
            stack = np.zeros((periods * FRAMES_PER_PERIOD, lay.n_bands))
            stack[:n] = seq
            folded = stack.reshape(periods, FRAMES_PER_PERIOD, lay.n_bands).sum(axis=0)
            reps = np.bincount(np.arange(n) % FRAMES_PER_PERIOD, minlength=FRAMES_PER_PERIOD).astype(np.float64)
            folded /= np.maximum(reps, 1.0)[:, None] * scale
            # score(shift) = sum over cells of template[q] * folded[(q + shift) % P]
            spectrum = np.fft.rfft(folded, axis=0) * np.conj(np.fft.rfft(template, axis=0))
            scores = np.fft.irfft(spectrum, n=FRAMES_PER_PERIOD, axis=0).sum(axis=1)
            # folded cells have variance ~1/reps; z under the null is ~N(0, 1)
            z = scores * np.sqrt(max(1.0, n / FRAMES_PER_PERIOD)) / np.sqrt(n_sync)
            shift = int(np.argmax(z))
            yield float(z[shift]), phase, shift, np.roll(folded, -shift, axis=0)

    def _absent(self, details: dict[str, Any]) -> Detection:
        return Detection(found=False, payload=None, confidence=0.0, false_positive_rate=1.0, engine=ALG,
                         details=details)

    def c2pa_soft_binding(self, payload: int, *, timespan_ms: tuple[int, int] | None = None) -> dict[str, Any]:
        return soft_binding_assertion(ALG, check_payload(payload, self.payload_bits), self.payload_bits,
                                      timespan_ms=timespan_ms)


def _resample_ratio(x: np.ndarray, speed: float) -> np.ndarray:
    """Undo a speed change of `speed` (played `speed` times faster): stretch by `speed`."""
    from scipy.signal import resample_poly

    up = int(round(speed * 100))
    g = gcd(up, 100)
    return resample_poly(x, up // g, 100 // g)


def false_positive_bound() -> float:
    """P(an unmarked input is reported marked) <= this: DECODE_CANDIDATES alignments, each costing
    at most the summed random-decode probability of its erasure attempts (audio_ecc)."""
    return DECODE_CANDIDATES * ecc.worst_case_probability()


def default_audio_engine(key: bytes | None = None) -> AudioWatermark:
    """The engine the guarded path uses for audio: keyed by the production's secret (``read_key``);
    ``None``/empty is the public default key. Cached per key (the layout is built once)."""
    return _engine_for(bytes(key) if key else b"")


@lru_cache(maxsize=4)
def _engine_for(key: bytes) -> AudioWatermark:
    return AudioWatermark(key) if key else AudioWatermark()
