"""One Euro filter for landmark tracks (Casiez, Roussel & Vogel, CHI 2012).

Why One Euro: sensor noise makes per-frame landmarks jitter by a pixel or two, which shows up as
masks and warps that shimmer. A fixed low-pass removes the jitter but lags behind real motion;
the One Euro filter raises its cutoff with speed, so a still face is smoothed hard and a moving
one follows without lag.

Why a *windowed* run (``smooth_window``): chunked VFX runs must be bit-identical to single-chunk
runs, so the smoothed value at frame *i* is a pure function of the raw values in a bounded
window ending at *i* (the filter restarted at the window start), never of an unbounded history.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["OneEuroFilter", "smooth_window", "smooth_sequence"]


def _alpha(cutoff_hz: np.ndarray | float, dt: float) -> np.ndarray | float:
    tau = 1.0 / (2.0 * math.pi * cutoff_hz)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """Vectorised One Euro filter: every element of the array is filtered independently.

    min_cutoff (Hz) sets the smoothing at rest; beta how fast the cutoff rises with speed
    (units: 1/(value units)); d_cutoff the cutoff used on the speed estimate itself.
    """

    def __init__(self, freq_hz: float, min_cutoff: float = 1.0, beta: float = 0.05, d_cutoff: float = 1.0) -> None:
        if freq_hz <= 0:
            raise ValueError("freq_hz must be positive")
        self.dt = 1.0 / freq_hz
        self.min_cutoff = min_cutoff
        self.beta = beta
        self.d_cutoff = d_cutoff
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None

    def reset(self) -> None:
        self._x = None
        self._dx = None

    def __call__(self, value: np.ndarray) -> np.ndarray:
        x = np.asarray(value, dtype=np.float64)
        if self._x is None:
            self._x = x.copy()
            self._dx = np.zeros_like(x)
            return self._x.copy()
        raw_speed = (x - self._x) / self.dt
        a_d = _alpha(self.d_cutoff, self.dt)
        self._dx = a_d * raw_speed + (1.0 - a_d) * self._dx
        cutoff = self.min_cutoff + self.beta * np.abs(self._dx)
        a = _alpha(cutoff, self.dt)
        self._x = a * x + (1.0 - a) * self._x
        return self._x.copy()


def smooth_sequence(values: Sequence[np.ndarray], freq_hz: float, **params: float) -> list[np.ndarray]:
    """Filter a whole sequence from its first element (causal)."""
    filt = OneEuroFilter(freq_hz, **params)
    return [filt(v) for v in values]


def smooth_window(values: Sequence[np.ndarray], freq_hz: float, **params: float) -> np.ndarray:
    """The filtered value of the LAST element, with the filter started at the first element."""
    filt = OneEuroFilter(freq_hz, **params)
    out: np.ndarray | None = None
    for v in values:
        out = filt(v)
    if out is None:
        raise ValueError("smooth_window needs at least one value")
    return out
