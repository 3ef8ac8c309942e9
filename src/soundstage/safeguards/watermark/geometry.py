"""Where the tiles are: key-independent geometry estimation for the tiled watermark.

The mark repeats one tile over the frame, so the frame's autocorrelation has a peak at every
vector of the tile lattice, whatever the key and payload. After a resize, a rotation, a mirror,
an aspect change or a shear, the lattice is the transformed one, so finding its two basis vectors
in the autocorrelation gives the affine map from the frame to the tile grid (`find_lattices`).
`rotation_lattice` gives the lattice a rotated, cut and resized frame must have, for the
detector's keyed angle search; `inscribed_rect` is the cut (shared with attacks.rotate).

A perspective (a phone filming a screen) is locally affine: the lattice differs from place to
place, which smears the global autocorrelation. `local_lattices` measures the lattice in large
overlapping windows near a prior, and `fit_perspective` fits the one homography whose local
Jacobians match them (its projective terms are how the lattice changes across the frame).

Nothing here looks at the key: the candidates it returns are a fixed, small family for a
given picture (see the false-positive argument in docs/design/watermark.md).

Conventions: images are (row y, column x); vectors are (dy, dx); a geometry is a 3x3
homography M (in OpenCV's (x, y, 1) order) mapping *canonical* coordinates, where one tile
is `period` x `period` pixels and axis-aligned, to coordinates in the analysed image.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

__all__ = ["Lattice", "LocalLattice", "Perspective", "autocorr_blobs", "find_lattices", "affine_matrix", "inscribed_rect",
           "rotation_lattice", "local_lattices", "fit_perspective"]

SECTOR_DEG = 16.0        # a basis vector is searched this far (degrees) from its axis
MIN_LAG = 24             # shortest tile period looked for, in analysed pixels
PEAKS_PER_AXIS = 16      # local maxima kept per axis before pairing
SORTED_FIRST = 2048      # lags sorted first when picking them (16 peaks, each hiding < 25 neighbours)
HARMONICS = 6            # multiples of a candidate period looked at
FLATTEN_SIGMA = 2.0      # periodogram bins over which the picture's spectral envelope is estimated
FLATTEN_CAP = 8.0        # a line may stand this far above its envelope (limits one strong line's pull)
LOCAL_SHARE = 0.6        # local lattices: windows this share of each side of the picture ...
LOCAL_GRID = 3           # ... on a 3 x 3 grid (overlapping: each holds ~3.5 x 2 tiles of a 16:9 frame)
LOCAL_TILES = 5.0        # ... and at most this many prior periods a side
LOCAL_RADIUS = 9         # a window's basis vectors are looked for this far (pixels) from the prior
LOCAL_TOLERANCE = 0.015  # a window agrees with a fitted homography within this (share of the period)


@dataclass(frozen=True)
class Lattice:
    """Two basis vectors (dy, dx) of the tile lattice in analysed pixels, and a score
    (sum of the normalised autocorrelation peaks at the lattice points / sqrt(count))."""

    v1: tuple[float, float]      # the one near the +x axis
    v2: tuple[float, float]      # the one near the +y axis
    score: float
    points: int


def autocorr_blobs(white: np.ndarray) -> np.ndarray:
    """Autocorrelation of a whitened picture (zero lag at the centre), turned into a map of
    *blob* strength: the smallest curvature of the smoothed autocorrelation, so sharp
    isolated peaks (a repeated tile) score and ridges (long straight edges, letterbox bars,
    the black corners of a warped picture) do not. Normalised to unit RMS."""
    h, w = white.shape
    # OpenCV's DFT in float32: numpy's is several times slower on window sizes with large prime factors
    spec = cv2.dft(np.ascontiguousarray(white - np.float32(white.mean()), dtype=np.float32),
                   flags=cv2.DFT_COMPLEX_OUTPUT)
    power = cv2.magnitude(spec[..., 0], spec[..., 1])
    power = cv2.multiply(power, power)
    # flatten the periodogram: divide by its local mean, so the picture's own spectrum drops out
    # and every frequency counts by how much it stands above its neighbours (the tile's lines do)
    envelope = np.fft.ifftshift(cv2.GaussianBlur(np.fft.fftshift(power), (0, 0), FLATTEN_SIGMA))
    power = cv2.min(cv2.divide(power, cv2.add(envelope, 1e-12)), FLATTEN_CAP)
    # the frequency axes hold the lines of every horizontal and vertical edge (frames, horizons,
    # letterbox bars, a pasted picture): they would become ridges right on an upright lattice
    # (set to the flattened spectrum's typical level, 1, not to 0: a hole would dig a valley instead)
    power[:, :2] = 1.0
    power[:, -1:] = 1.0
    power[:2] = 1.0
    power[-1:] = 1.0
    ac = cv2.idft(cv2.merge([power, np.zeros_like(power)]), flags=cv2.DFT_REAL_OUTPUT | cv2.DFT_SCALE)
    ac = np.fft.fftshift(ac / (ac[0, 0] + 1e-12)).astype(np.float32)
    a = cv2.GaussianBlur(ac, (0, 0), 1.5)
    hxx = cv2.Sobel(a, cv2.CV_32F, 2, 0, ksize=3)
    hyy = cv2.Sobel(a, cv2.CV_32F, 0, 2, ksize=3)
    hxy = cv2.Sobel(a, cv2.CV_32F, 1, 1, ksize=3)
    # the larger Hessian eigenvalue, 0.5 (hxx + hyy + sqrt((hxx - hyy)^2 + 4 hxy^2)), in OpenCV's
    # element-wise operations (the window searches of a perspective call this 18 times)
    root = cv2.magnitude(cv2.subtract(hxx, hyy), cv2.multiply(hxy, 2.0))
    blob = cv2.max(cv2.multiply(cv2.add(cv2.add(hxx, hyy), root), -0.5), 0.0)
    cy, cx = h // 2, w // 2
    r = MIN_LAG // 2
    # zero-mean, unit variance over the map: sums over many lattice points of noise stay near 0
    keep = np.ones(blob.shape, np.uint8)
    keep[max(0, cy - r):cy + r + 1, max(0, cx - r):cx + r + 1] = 0
    mean, std = cv2.meanStdDev(blob, mask=keep)
    out = cv2.multiply(cv2.subtract(blob, float(mean[0, 0])), 1.0 / (float(std[0, 0]) + 1e-12))
    out[max(0, cy - r):cy + r + 1, max(0, cx - r):cx + r + 1] = 0.0
    return out


def _pooled(blob: np.ndarray) -> np.ndarray:
    """3x3 max-pooled blob map (a lattice point lands within a pixel of where it is predicted),
    re-centred: the maximum of nine values is biased upwards, and that bias would make dense
    lattices of noise win."""
    pooled = cv2.dilate(blob, np.ones((3, 3), np.uint8))
    mean, std = cv2.meanStdDev(pooled)
    return cv2.multiply(cv2.subtract(pooled, float(mean[0, 0])), 1.0 / (float(std[0, 0]) + 1e-12))


@lru_cache(maxsize=16)
def _sector(ry: int, rx: int, axis: int, lo: float) -> tuple[np.ndarray, np.ndarray]:
    """Integer lags (dy, dx) within SECTOR_DEG of +x (axis 0) or +y (axis 1), lo <= |v|, in the box.

    Only the part of the box the sector can reach is laid out (the same lags in the same
    row-major order as the whole box: a quarter of it or less, for a new picture size)."""
    reach = math.tan(math.radians(SECTOR_DEG))
    if axis == 0:
        side = min(ry, int(math.ceil(rx * reach)) + 1)
        dy, dx = np.mgrid[-side:side + 1, 0:rx + 1]
    else:
        side = min(rx, int(math.ceil(ry * reach)) + 1)
        dy, dx = np.mgrid[0:ry + 1, -side:side + 1]
    r = np.hypot(dy, dx)
    off = np.degrees(np.arctan2(dy, dx)) if axis == 0 else np.degrees(np.arctan2(-dx, dy))
    sel = (r >= lo) & (np.abs(off) <= SECTOR_DEG)
    vy, vx = dy[sel], dx[sel]
    vy.flags.writeable = False
    vx.flags.writeable = False
    return vy, vx


def _sector_peaks(blob: np.ndarray, pooled: np.ndarray, axis: int, lo: float, hi_y: float, hi_x: float,
                  top: int) -> list[tuple[int, int]]:
    """Best candidate basis vectors in the sector around +x (axis 0) or +y (axis 1).

    Each lag v is scored by the blob map at its multiples v, 2v, 3v, ... that fit in the map
    (max-pooled over 3x3, summed, divided by sqrt(count)): a true period gathers evidence
    from all its harmonics, a stray peak of the picture has none."""
    h, w = blob.shape
    cy, cx = h // 2, w // 2
    ry, rx = int(min(hi_y, cy - 2)), int(min(hi_x, cx - 2))
    if ry < 2 or rx < 2:
        return []
    vy, vx = _sector(ry, rx, axis, float(lo))
    total = np.zeros(len(vy), np.float32)
    count = np.zeros(len(vy), np.float32)
    for k in range(1, HARMONICS + 1):
        ok = (np.abs(k * vy) <= ry) & (np.abs(k * vx) <= rx)
        if not ok.any():
            break
        total[ok] += pooled[cy + k * vy[ok], cx + k * vx[ok]]
        count[ok] += 1
    score = total / np.sqrt(np.maximum(count, 1)) + 1e-3 * blob[cy + vy, cx + vx]   # ties: the sharper one
    chosen: list[tuple[int, int]] = []
    for i in _best_first(score, SORTED_FIRST):
        if score[i] <= 0 or len(chosen) == top:
            break
        v = (int(vy[i]), int(vx[i]))
        if all((v[0] - c[0]) ** 2 + (v[1] - c[1]) ** 2 > 8 for c in chosen):
            chosen.append(v)
    return chosen


def _best_first(score: np.ndarray, first: int) -> Iterator[int]:
    """Indices of `score` from the highest down: the best `first` sorted alone (a partition,
    not a sort of the whole sector, which costs milliseconds), then the rest if asked for."""
    if len(score) <= first:
        yield from np.argsort(-score)
        return
    head = np.argpartition(-score, first)[:first]
    yield from head[np.argsort(-score[head])]
    rest = np.ones(len(score), bool)
    rest[head] = False
    others = np.flatnonzero(rest)
    yield from others[np.argsort(-score[others])]


_AB = np.array([(a, b) for b in range(0, 6) for a in range(-6, 7) if b > 0 or a > 0], np.float64)


def _lattice_score(pooled: np.ndarray, v1: np.ndarray, v2: np.ndarray) -> tuple[float, int]:
    """Normalised sum of the pooled blob map over the lattice points visible in the map (half plane)."""
    h, w = pooled.shape
    cy, cx = h // 2, w // 2
    py = _AB[:, 0] * v1[0] + _AB[:, 1] * v2[0]
    px = _AB[:, 0] * v1[1] + _AB[:, 1] * v2[1]
    iy, ix = np.rint(cy + py).astype(int), np.rint(cx + px).astype(int)
    ok = (py * py + px * px > (MIN_LAG // 2) ** 2) & (iy >= 2) & (iy < h - 2) & (ix >= 2) & (ix < w - 2)
    count = int(np.count_nonzero(ok))
    if not count:
        return 0.0, 0
    return float(pooled[iy[ok], ix[ok]].sum()) / math.sqrt(count), count


_REFINE_AB = np.array([(a, b) for b in range(0, 6) for a in range(-6, 7) if b > 0 or a > 0], np.int64)
_WIN_DY, _WIN_DX = np.mgrid[-2:3, -2:3]


def parabola_offset(left: float, centre: float, right: float) -> float:
    """Where the parabola through three neighbouring samples peaks, relative to the centre one
    (within half a sample; 0 when the three are flat or a neighbour is not finite)."""
    if not (math.isfinite(left) and math.isfinite(right)):
        return 0.0
    den = left - 2 * centre + right
    return 0.0 if abs(den) < 1e-12 else float(np.clip(0.5 * (left - right) / den, -0.5, 0.5))


def _refine(blob: np.ndarray, v1: np.ndarray, v2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares basis through the sub-pixel peaks found near the predicted lattice points
    (the 5 x 5 windows around them gathered at once; the peaks are then taken in the order
    b = 0..5, a = -6..6, the same numbers as one window at a time)."""
    h, w = blob.shape
    cy, cx = h // 2, w // 2
    a_all, b_all = _REFINE_AB[:, 0], _REFINE_AB[:, 1]
    py = cy + a_all * v1[0] + b_all * v2[0]
    px = cx + a_all * v1[1] + b_all * v2[1]
    iy, ix = np.rint(py).astype(np.int64), np.rint(px).astype(np.int64)
    inside = (iy >= 4) & (iy < h - 4) & (ix >= 4) & (ix < w - 4)
    use = [i for i in np.flatnonzero(inside) if math.hypot(py[i] - cy, px[i] - cx) >= MIN_LAG]
    if len(use) < 3:
        return v1, v2
    sel = np.array(use)
    wins = blob[iy[sel, None, None] + _WIN_DY, ix[sel, None, None] + _WIN_DX]
    ks = np.argmax(wins.reshape(len(sel), 25), axis=1)
    rows, targets, weights = [], [], []
    for j, i in enumerate(use):
        win = wins[j]
        my, mx = divmod(int(ks[j]), 5)
        peak = float(win[my, mx])
        if peak < 3.0 or my in (0, 4) or mx in (0, 4):
            continue
        sy = parabola_offset(win[my - 1, mx], peak, win[my + 1, mx])
        sx = parabola_offset(win[my, mx - 1], peak, win[my, mx + 1])
        rows.append((int(a_all[i]), int(b_all[i])))
        targets.append((int(iy[i]) - 2 + my + sy - cy, int(ix[i]) - 2 + mx + sx - cx))
        weights.append(peak)
    if len(rows) < 3:
        return v1, v2
    a_mat = np.array(rows, np.float64)
    t = np.array(targets, np.float64)
    sw = np.sqrt(np.array(weights))[:, None]
    sol, *_ = np.linalg.lstsq(a_mat * sw, t * sw, rcond=None)
    n1, n2 = sol[0], sol[1]
    # keep the refinement only if it stays close to the integer estimate
    if np.hypot(*(n1 - v1)) > 2.0 or np.hypot(*(n2 - v2)) > 2.0:
        return v1, v2
    return n1, n2


def find_lattices(white: np.ndarray, max_candidates: int = 2, min_score: float = 0.0) -> list[Lattice]:
    """Candidate tile lattices of a whitened picture, best first (key-independent)."""
    white = white[:_smooth_below(white.shape[0]), :_smooth_below(white.shape[1])]   # a fast DFT size
    blob = autocorr_blobs(white)
    h, w = white.shape
    hi_y, hi_x = h / 2.0 - 3, w / 2.0 - 3
    pooled = _pooled(blob)
    xs = _sector_peaks(blob, pooled, 0, MIN_LAG, hi_y, hi_x, PEAKS_PER_AXIS)
    ys = _sector_peaks(blob, pooled, 1, MIN_LAG, hi_y, hi_x, PEAKS_PER_AXIS)
    scored = []
    for p1 in xs:
        for p2 in ys:
            v1, v2 = np.array(p1, np.float64), np.array(p2, np.float64)
            n1, n2 = np.hypot(*v1), np.hypot(*v2)
            if not 0.5 <= n1 / n2 <= 2.0:
                continue
            if abs(v1[0] * v2[1] - v1[1] * v2[0]) < 0.5 * n1 * n2:   # nearly parallel: no lattice
                continue
            score, count = _lattice_score(pooled, v1, v2)
            scored.append((score, count, v1, v2))
    scored.sort(key=lambda s: -s[0])
    out: list[Lattice] = []
    for score, count, v1, v2 in scored:
        if score < min_score:
            break
        if any(np.hypot(*(v1 - np.array(o.v1))) < 3 and np.hypot(*(v2 - np.array(o.v2))) < 3 for o in out):
            continue
        r1, r2 = _refine(blob, v1, v2)
        out.append(Lattice((float(r1[0]), float(r1[1])), (float(r2[0]), float(r2[1])), float(score), count))
        if len(out) == max_candidates:
            break
    return out


@dataclass(frozen=True)
class LocalLattice:
    """The lattice of one window: its centre (y, x) in analysed pixels, the two basis vectors
    (dy, dx) and the weaker of their two harmonic scores."""

    centre: tuple[float, float]
    v1: tuple[float, float]
    v2: tuple[float, float]
    score: float


def _near_axis(pooled: np.ndarray, vy: np.ndarray, vx: np.ndarray) -> np.ndarray:
    """Harmonic score of candidate basis vectors: the pooled blob map summed over v, 2v, 3v, ...
    (as far as the map reaches), divided by sqrt(count)."""
    h, w = pooled.shape
    cy, cx = h // 2, w // 2
    total = np.zeros(len(vy), np.float32)
    count = np.zeros(len(vy), np.float32)
    for k in range(1, HARMONICS + 1):
        py, px = cy + k * vy, cx + k * vx
        ok = (py >= 2) & (py < h - 2) & (px >= 2) & (px < w - 2)
        if not ok.any():
            break
        total[ok] += pooled[py[ok], px[ok]]
        count[ok] += 1
    return total / np.sqrt(np.maximum(count, 1))


@lru_cache(maxsize=256)
def _smooth_below(n: int) -> int:
    """The largest size <= n (n >= 1) with no prime factor above 5: a DFT of a size with a large
    prime factor costs several times more (331 x 583 pixels: 5x the DFT of 324 x 576). Used for
    the whole-picture autocorrelation, where a few pixels less see the same lattice (not for the
    perspective windows: cropping those measurably cost perspective reads, DR015)."""
    for m in range(n, 0, -1):
        k = m
        for p in (2, 3, 5):
            while k % p == 0:
                k //= p
        if k == 1:
            return m
    return 1


def local_lattices(white: np.ndarray, v1: tuple[float, float], v2: tuple[float, float],
                   radius: int = LOCAL_RADIUS, share: float = LOCAL_SHARE,
                   grid: int = LOCAL_GRID, check: Callable[[], None] | None = None) -> list[LocalLattice]:
    """The lattice in each of grid x grid overlapping windows (each `share` of the picture's
    sides), its basis vectors looked for within `radius` pixels of the prior (v1, v2) only: a
    window holds too little of the mark for a free search (DR015), but near a known lattice its
    peaks stand out. Key-independent, like find_lattices. ``check`` is called before each window
    (work started ahead stops there: workers.py)."""
    h, w = white.shape
    # a window holds a few tiles: more cost the time of its DFT and smear a perspective more
    reach = LOCAL_TILES * max(math.hypot(*v1), math.hypot(*v2))
    wh, ww = int(min(h * share, reach)), int(min(w * share, reach))
    if min(wh, ww) < 2 * MIN_LAG:
        return []
    dy, dx = np.mgrid[-radius:radius + 1, -radius:radius + 1]
    dy, dx = dy.ravel(), dx.ravel()
    out = []
    for y0 in np.linspace(0, h - wh, grid).astype(int):
        for x0 in np.linspace(0, w - ww, grid).astype(int):
            if check is not None:
                check()
            blob = autocorr_blobs(white[y0:y0 + wh, x0:x0 + ww])
            pooled = _pooled(blob)
            found, scores = [], []
            for v in (v1, v2):
                vy = np.rint(v[0] + dy).astype(int)
                vx = np.rint(v[1] + dx).astype(int)
                score = _near_axis(pooled, vy, vx)
                i = int(np.argmax(score))
                found.append(np.array([vy[i], vx[i]], np.float64))
                scores.append(float(score[i]))
            r1, r2 = _refine(blob, found[0], found[1])
            out.append(LocalLattice((y0 + wh / 2.0, x0 + ww / 2.0), (float(r1[0]), float(r1[1])),
                                    (float(r2[0]), float(r2[1])), min(scores)))
    return out


@dataclass(frozen=True)
class Perspective:
    """A homography fitted to local lattices: the 3x3 canonical -> analysed map (as
    affine_matrix's), and how many windows agree with it within LOCAL_TOLERANCE."""

    matrix: np.ndarray
    inliers: int


def _model_jacobians(params: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Jacobians (k, 2, 2) of y = A c / (1 + p.c) (canonical c -> analysed y, both centred, (x, y)
    order; params = A row-major, p) at the analysed points ys (k, 2)."""
    a = params[:4].reshape(2, 2)
    p = params[4:6]
    det = a[0, 0] * a[1, 1] - a[0, 1] * a[1, 0]
    b = np.array([[a[1, 1], -a[0, 1]], [-a[1, 0], a[0, 0]]]) / det
    by = ys @ b.T
    c = by / (1.0 - by @ p)[:, None]                 # the inverse map: canonical point of each y
    den = 1.0 + c @ p
    inner = den[:, None, None] * np.eye(2)[None] - c[:, :, None] * p[None, None, :]
    return np.einsum("ij,kjl->kil", a, inner) / (den ** 2)[:, None, None]


def fit_perspective(local: list[LocalLattice], centre: tuple[float, float], period: int,
                    iterations: int = 6) -> Perspective | None:
    """The homography whose Jacobian matches the local lattices (robust Gauss-Newton).

    A homography seen from the analysed centre is y = A c / (1 + p.c) up to a translation of the
    canonical grid, which the lattice cannot see and the tile-phase search finds; so 6 numbers
    (A and p) describe it, and every window gives 4 (its two basis vectors). `centre` is (x, y)."""
    if len(local) < 3:
        return None
    ys = np.array([[lat.centre[1] - centre[0], lat.centre[0] - centre[1]] for lat in local])
    ks = np.array([[[lat.v1[1], lat.v2[1]], [lat.v1[0], lat.v2[0]]] for lat in local]) / period
    weights = np.array([max(lat.score, 0.0) for lat in local]) + 1e-6
    params = np.concatenate([np.median(ks, axis=0).ravel(), [0.0, 0.0]])
    robust = np.ones(len(ys))
    errors = np.full(len(ys), np.inf)
    steps = np.array([1e-6] * 4 + [1e-8] * 2)
    for _ in range(iterations):
        sw = np.sqrt(weights * robust)[:, None]
        if abs(params[0] * params[3] - params[1] * params[2]) < 1e-6:
            return None
        r0 = ((_model_jacobians(params, ys) - ks).reshape(len(ys), 4) * sw).ravel()
        jac = np.empty((len(r0), 6))
        for j in range(6):
            d = np.zeros(6)
            d[j] = steps[j]
            jac[:, j] = (((_model_jacobians(params + d, ys) - ks).reshape(len(ys), 4) * sw).ravel() - r0) / steps[j]
        step, *_ = np.linalg.lstsq(jac, -r0, rcond=None)
        params = params + step
        if not np.all(np.isfinite(params)):
            return None
        errors = np.abs(_model_jacobians(params, ys) - ks).reshape(len(ys), 4).max(axis=1)
        robust = 1.0 / (1.0 + (errors / LOCAL_TOLERANCE) ** 2)          # Cauchy weights: outliers fade
    a, p = params[:4].reshape(2, 2), params[4:6]
    matrix = np.array([[1.0, 0.0, centre[0]], [0.0, 1.0, centre[1]], [0.0, 0.0, 1.0]]) @ np.array(
        [[a[0, 0], a[0, 1], 0.0], [a[1, 0], a[1, 1], 0.0], [p[0], p[1], 1.0]])
    return Perspective(matrix, int(np.count_nonzero(errors < LOCAL_TOLERANCE)))


def affine_matrix(v1: tuple[float, float], v2: tuple[float, float], period: int) -> np.ndarray:
    """3x3 map from canonical (x, y) to analysed (x, y): +period in canonical x moves by v1,
    +period in canonical y by v2 (origin: the analysed image's top-left)."""
    return np.array([[v1[1] / period, v2[1] / period, 0.0],
                     [v1[0] / period, v2[0] / period, 0.0],
                     [0.0, 0.0, 1.0]], np.float64)


def inscribed_rect(width: int, height: int, degrees: float) -> tuple[float, float]:
    """Size (w, h) of the largest axis-aligned rectangle inside a width x height picture
    rotated by `degrees` about its centre (the crop that removes every black corner).

    A centred rectangle with half-sizes (x, y) fits when its corner does, i.e. when
    x*c + y*s <= width/2 and x*s + y*c <= height/2 (c = |cos|, s = |sin|). The area x*y is
    largest either on one constraint alone (the half-way point of that line, if the other
    holds) or where both meet; take the best feasible of the three."""
    a = math.radians(degrees)
    c, s = abs(math.cos(a)), abs(math.sin(a))
    half_w, half_h = width / 2.0, height / 2.0
    if s < 1e-12:
        return float(width), float(height)

    def fits(x: float, y: float) -> bool:
        return x > 0 and y > 0 and x * c + y * s <= half_w * (1 + 1e-9) and x * s + y * c <= half_h * (1 + 1e-9)

    candidates = [(half_w / (2 * c), half_w / (2 * s)), (half_h / (2 * s), half_h / (2 * c))]
    det = c * c - s * s
    if abs(det) > 1e-12:
        candidates.append(((half_w * c - half_h * s) / det, (half_h * c - half_w * s) / det))
    x, y = max((p for p in candidates if fits(*p)), key=lambda p: p[0] * p[1])
    return 2 * x, 2 * y


def rotation_lattice(degrees: float, width: int, height: int, period_over_width: float,
                     period_over_height: float) -> tuple[tuple[float, float], tuple[float, float]]:
    """Tile lattice (v1, v2 as (dy, dx)) of a picture that was rotated by `degrees` (OpenCV's
    sense: counter-clockwise on screen), cut to its largest inscribed rectangle and resized
    to width x height. `period_over_*`: the tile period as a share of the original width and
    height (for a 16:9 original marked by the embedder's rule: 256/1920 and 256/1080)."""
    cw, ch = inscribed_rect(16, 9, degrees)
    px = period_over_width * width * 16.0 / cw          # period along each axis after the resize
    py = period_over_height * height * 9.0 / ch
    a = math.radians(degrees)
    c, s = math.cos(a), math.sin(a)
    return (-py * s, px * c), (py * c, px * s)
