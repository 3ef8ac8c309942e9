"""What a delivered line goes through, applied to float32 (n, channels) audio: the audio mark's
attack suite (tests run a fast subset, bench/audio_watermark.py all of it).

Every attack returns (samples, sample_rate). Definitions:

- ``mp3_128`` / ``aac_128``: encode to MP3 (LAME) / AAC in M4A at 128 kb/s and decode (PyAV);
- ``resample_44k``: 48 kHz -> 44.1 kHz (polyphase, scipy); ``resample_48k`` the other way;
- ``music_bed_-10dB``: a music bed mixed in at 10 dB (RMS) *under* the marked line (a usual
  dialogue-over-score mix); ``under_music_+10dB``: the marked line 10 dB *under* louder music;
- ``speed_0.90`` / ``speed_1.10``: played 10 % slower / faster by resampling (tape-style: pitch
  moves with it); ``tempo_0.90`` / ``tempo_1.10``: the tempo changed with the pitch kept
  (overlap-add time stretch);
- ``excerpt_2s``: any 2 seconds (the start is drawn from `seed`).
"""

from __future__ import annotations

from math import gcd

import numpy as np

from soundstage.media.audio import decode_audio, encode_audio
from soundstage.safeguards.watermark import audio_samples

__all__ = ["ATTACKS", "apply", "codec", "resample", "speed", "tempo", "excerpt"]


def codec(samples: np.ndarray, rate: int, suffix: str, bitrate: int = 128_000) -> tuple[np.ndarray, int]:
    data = encode_audio(samples, rate, suffix, bitrate=bitrate)
    return decode_audio(data, name="attack" + suffix)


def resample(samples: np.ndarray, rate: int, new_rate: int) -> tuple[np.ndarray, int]:
    from scipy.signal import resample_poly

    g = gcd(rate, new_rate)
    out = resample_poly(samples.astype(np.float64), new_rate // g, rate // g, axis=0)
    return np.clip(out, -1, 1).astype(np.float32), new_rate


def speed(samples: np.ndarray, rate: int, factor: float) -> tuple[np.ndarray, int]:
    """Played `factor` times faster at the same rate: shorter, and every frequency times `factor`."""
    from scipy.signal import resample_poly

    up, down = 1000, int(round(factor * 1000))
    g = gcd(up, down)
    out = resample_poly(samples.astype(np.float64), up // g, down // g, axis=0)
    return np.clip(out, -1, 1).astype(np.float32), rate


def tempo(samples: np.ndarray, rate: int, factor: float, frame_seconds: float = 0.04) -> tuple[np.ndarray, int]:
    """Tempo times `factor`, pitch kept: WSOLA-style overlap-add (Hann frames, 50 % overlap at the
    output, each input frame nudged by up to a quarter frame to line up with the previous one)."""
    n_frame = int(frame_seconds * rate) // 2 * 2
    hop_out = n_frame // 2
    hop_in = hop_out * factor
    tol = n_frame // 4
    x = samples.astype(np.float64)
    mono = x.mean(axis=1)
    n_out = int(len(x) / factor)
    out = np.zeros((n_out + n_frame, x.shape[1]))
    norm = np.zeros(n_out + n_frame)
    win = np.hanning(n_frame)
    prev_tail: np.ndarray | None = None
    k = 0
    while True:
        centre = int(k * hop_in)
        if centre + n_frame + tol >= len(x) or k * hop_out + n_frame > len(out):
            break
        start = centre
        if prev_tail is not None and centre - tol >= 0:
            seg = mono[centre - tol:centre + tol + hop_out]
            corr = np.correlate(seg, prev_tail, mode="valid")
            start = centre - tol + int(np.argmax(corr))
        out[k * hop_out:k * hop_out + n_frame] += x[start:start + n_frame] * win[:, None]
        norm[k * hop_out:k * hop_out + n_frame] += win
        prev_tail = mono[start + hop_out:start + 2 * hop_out] if start + 2 * hop_out <= len(mono) else None
        k += 1
    out = out[:n_out] / np.maximum(norm[:n_out], 1e-3)[:, None]
    return np.clip(out, -1, 1).astype(np.float32), rate


def excerpt(samples: np.ndarray, rate: int, seconds: float = 2.0, *, seed: int = 0) -> tuple[np.ndarray, int]:
    n = int(seconds * rate)
    start = int(np.random.default_rng(seed).integers(0, max(1, len(samples) - n)))
    return samples[start:start + n].copy(), rate


def _mix(samples: np.ndarray, rate: int, bed_db: float, seed: int) -> tuple[np.ndarray, int]:
    bed = audio_samples.music(len(samples) / rate + 0.1, rate, seed=1000 + seed, channels=samples.shape[1])
    return audio_samples.mix_under(samples, bed, bed_db), rate


ATTACKS = {
    "none": lambda x, r, s: (x, r),
    "mp3_128": lambda x, r, s: codec(x, r, ".mp3"),
    "aac_128": lambda x, r, s: codec(x, r, ".m4a"),
    "resample_44k": lambda x, r, s: resample(x, r, 44_100),
    "music_bed_-10dB": lambda x, r, s: _mix(x, r, -10.0, s),
    "under_music_+10dB": lambda x, r, s: _mix(x, r, 10.0, s),
    "speed_0.90": lambda x, r, s: speed(x, r, 0.90),
    "speed_1.10": lambda x, r, s: speed(x, r, 1.10),
    "tempo_0.97": lambda x, r, s: tempo(x, r, 0.97),
    "tempo_0.90": lambda x, r, s: tempo(x, r, 0.90),
    "tempo_1.10": lambda x, r, s: tempo(x, r, 1.10),
    "excerpt_2s": lambda x, r, s: excerpt(x, r, 2.0, seed=s),
    "mp3_128+excerpt_2s": lambda x, r, s: excerpt(*codec(x, r, ".mp3"), 2.0, seed=s),
}


def apply(name: str, samples: np.ndarray, rate: int, seed: int = 0) -> tuple[np.ndarray, int]:
    return ATTACKS[name](samples, rate, seed)
