"""Synthetic test audio for the audio mark's tests and bench: nothing is downloaded.

`speech_like` is a source-filter voice: a glottal pulse train whose pitch glides (90-240 Hz)
through formant resonators that move every syllable (vowel formants), with syllable envelopes
(~4 Hz), pauses and fricative noise bursts. `music` is a chord progression of harmonic notes with
decaying envelopes plus a hi-hat. `noise` is white, pink or brown. All are float32 (n, channels)
in [-1, 1], seeded, so every run sees the same clips.
"""

from __future__ import annotations

import numpy as np

__all__ = ["speech_like", "music", "noise", "silence", "mix_under", "clip_set"]

# (F1, F2, F3) Hz of a few vowels
_VOWELS = ((730, 1090, 2440), (270, 2290, 3010), (530, 1840, 2480), (300, 870, 2240), (660, 1720, 2410),
           (490, 1350, 1690), (570, 840, 2410))


def _resonator(x: np.ndarray, freq: float, bw: float, rate: int) -> np.ndarray:
    from scipy.signal import lfilter

    r = np.exp(-np.pi * bw / rate)
    theta = 2 * np.pi * freq / rate
    return lfilter([1 - r], [1, -2 * r * np.cos(theta), r * r], x)


def speech_like(seconds: float, rate: int = 48_000, *, seed: int = 0, channels: int = 1,
                level_db: float = -20.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    out = np.zeros(n)
    t = 0
    base = rng.uniform(95, 210)
    while t < n:
        syl = int(rng.uniform(0.12, 0.32) * rate)
        seg = min(syl, n - t)
        if rng.random() < 0.12:  # a pause
            t += int(rng.uniform(0.1, 0.4) * rate)
            continue
        f0 = base * np.exp(np.linspace(0, rng.uniform(-0.25, 0.25), seg))
        phase = np.cumsum(f0 / rate)
        pulses = np.diff(np.floor(phase), prepend=0.0)
        source = pulses + 0.02 * rng.standard_normal(seg)
        f1, f2, f3 = _VOWELS[rng.integers(len(_VOWELS))]
        voiced = sum(_resonator(source, f, 60 + 0.05 * f, rate) * g for f, g in ((f1, 1.0), (f2, 0.6), (f3, 0.3)))
        env = np.sin(np.pi * np.linspace(0, 1, seg)) ** 0.7
        piece = voiced * env
        if rng.random() < 0.35:  # a fricative at the syllable's start
            fr = min(seg, int(rng.uniform(0.04, 0.1) * rate))
            hiss = _resonator(rng.standard_normal(fr), rng.uniform(3500, 6500), 1500, rate)
            piece[:fr] += 0.3 * hiss * np.hanning(fr) * np.std(voiced) / (np.std(hiss) + 1e-12)
        out[t:t + seg] += piece
        t += seg
    return _finish(out, channels, level_db, rng)


def music(seconds: float, rate: int = 48_000, *, seed: int = 1, channels: int = 2, level_db: float = -18.0
          ) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    out = np.zeros(n)
    tt = np.arange(n) / rate
    beat = rng.uniform(0.35, 0.6)
    roots = rng.choice([110.0, 123.5, 130.8, 146.8, 164.8, 174.6, 196.0], size=int(seconds / (4 * beat)) + 2)
    for i, root in enumerate(roots):
        start = int(i * 4 * beat * rate)
        if start >= n:
            break
        length = min(int(4 * beat * rate), n - start)
        seg = tt[:length]
        env = np.exp(-seg * rng.uniform(0.5, 2.0))
        for ratio in (1.0, 1.26, 1.5, 2.0):
            for h in range(1, 7):
                out[start:start + length] += env * np.sin(2 * np.pi * root * ratio * h * seg) / h ** 1.3
    for k in range(int(seconds / beat)):  # a hi-hat on every beat
        s = int(k * beat * rate)
        length = min(int(0.05 * rate), n - s)
        if length > 0:
            out[s:s + length] += 0.3 * rng.standard_normal(length) * np.exp(-np.arange(length) / (0.01 * rate))
    return _finish(out, channels, level_db, rng)


def noise(seconds: float, rate: int = 48_000, *, seed: int = 2, color: str = "white", channels: int = 1,
          level_db: float = -25.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    white = rng.standard_normal(n)
    if color == "white":
        x = white
    else:
        spec = np.fft.rfft(white)
        f = np.maximum(np.fft.rfftfreq(n, 1 / rate), 1.0)
        x = np.fft.irfft(spec / (np.sqrt(f) if color == "pink" else f), n=n)
    return _finish(x, channels, level_db, rng)


def silence(seconds: float, rate: int = 48_000, *, channels: int = 1) -> np.ndarray:
    return np.zeros((int(seconds * rate), channels), dtype=np.float32)


def mix_under(marked: np.ndarray, bed: np.ndarray, bed_db: float) -> np.ndarray:
    """`marked` plus `bed` scaled so the bed's RMS is `bed_db` dB relative to the marked audio's RMS
    (bed_db=-10: a music bed 10 dB under the dialogue; bed_db=+10: the dialogue 10 dB under music)."""
    n = min(len(marked), len(bed))
    a, b = marked[:n].astype(np.float64), bed[:n].astype(np.float64)
    if b.shape[1] != a.shape[1]:
        b = np.repeat(b.mean(axis=1, keepdims=True), a.shape[1], axis=1)
    gain = np.sqrt(np.mean(a ** 2) / (np.mean(b ** 2) + 1e-20)) * 10 ** (bed_db / 20)
    mixed = a + gain * b
    peak = np.max(np.abs(mixed))
    if peak > 0.99:
        mixed *= 0.99 / peak
    return mixed.astype(np.float32)


def clip_set(count: int, seconds: float, rate: int = 48_000, *, seed: int = 100) -> list[tuple[str, np.ndarray]]:
    """`count` varied unmarked clips (speech, music, noise of three colours, speech over music)."""
    clips: list[tuple[str, np.ndarray]] = []
    for i in range(count):
        kind = i % 6
        s = seed + i
        if kind == 0:
            clips.append(("speech", speech_like(seconds, rate, seed=s)))
        elif kind == 1:
            clips.append(("music", music(seconds, rate, seed=s, channels=1)))
        elif kind in (2, 3, 4):
            color = ("white", "pink", "brown")[kind - 2]
            clips.append((f"{color} noise", noise(seconds, rate, seed=s, color=color)))
        else:
            clips.append(("speech over music", mix_under(speech_like(seconds, rate, seed=s),
                                                         music(seconds, rate, seed=s + 7, channels=1), -10.0)))
    return clips


def _finish(x: np.ndarray, channels: int, level_db: float, rng: np.random.Generator) -> np.ndarray:
    rms = float(np.sqrt(np.mean(x ** 2))) or 1.0
    x = x / rms * 10 ** (level_db / 20)
    if channels > 1:
        # a little decorrelation between channels
        x = np.stack([x] + [np.roll(x, int(rng.integers(1, 40))) for _ in range(channels - 1)], axis=1)
    else:
        x = x[:, None]
    return np.clip(x, -1.0, 1.0).astype(np.float32)
