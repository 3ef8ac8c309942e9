"""The detector's batched steps give the same numbers as one step at a time (DR015, unmarked-picture
time, third and ninth looks): the 8 orientations' sync surfaces in one batch of inverse FFTs
(`spread._sync_surfaces`, `SpreadSpectrumWatermark._search`), the 5 x 5 peak windows of a
lattice refinement gathered at once (`geometry._refine`), the tiles of a stack whitened at once
(`spread._normalise_all`), the rotation search's angles and a local synchronisation's windows
each scored in one batch. Reads must not move by a bit: each is compared, exactly, with a loop
written the plain way."""

from __future__ import annotations

import math

import numpy as np
import pytest

import cv2

from soundstage.safeguards.watermark import attacks, geometry, spread
from soundstage.safeguards.watermark.spread import (_VARIANTS, REFINE_RADIUS, SpreadSpectrumWatermark, _normalise_all, _peak, _ring_mask, _sync_surface,
                                                     _sync_surfaces)


@pytest.mark.parametrize("n", [spread.WORK_PERIOD, spread.WORK_PERIOD // 2])
def test_batched_surfaces_equal_one_orientation_at_a_time(n: int) -> None:
    engine = SpreadSpectrumWatermark()
    lay = engine._layout
    rng = np.random.default_rng(n)
    gs = rng.standard_normal((5, len(lay.u))) + 1j * rng.standard_normal((5, len(lay.u)))
    batch = _sync_surfaces(gs, lay, lay.sync_a, engine._chips, n)
    assert batch.shape == (5, n, n)
    for k in range(5):
        assert np.array_equal(batch[k], _sync_surface(gs[k], lay, lay.sync_a, engine._chips, n))


def _search_one_at_a_time(engine: SpreadSpectrumWatermark, norm: np.ndarray, variants, near):
    lay = engine._layout
    n = norm.shape[0]
    best = None
    for d in variants:
        vv, uu = _VARIANTS[d](lay.v, lay.u)
        g = norm[vv % n, uu % n]
        z = _sync_surface(g, lay, lay.sync_a, engine._chips, n)
        if near is not None:
            z = np.where(_ring_mask(near, REFINE_RADIUS, n), z, -np.inf)
        dy, dx, zmax = _peak(z)
        if best is None or zmax > best[3]:
            best = (d, dy, dx, zmax, g)
    return best


@pytest.mark.parametrize("variants, near", [(range(8), None), ((0, 1), None), (range(8), (17.0, 100.0))])
def test_search_chooses_what_a_loop_over_orientations_chooses(engine, marked_1080p, variants, near) -> None:
    white, factor = engine._prepare(marked_1080p)
    per = spread.tile_period_for(1080, 1920) * factor
    pictures = [white, np.random.default_rng(3).standard_normal(white.shape).astype(np.float32)]
    for picture in pictures:
        # the embedder's lattice (the mark's orientation 0 wins on the marked frame), and a
        # mirrored one (another orientation must win there)
        for matrix in (geometry.affine_matrix((0.0, per), (per, 0.0), spread.WORK_PERIOD),
                       geometry.affine_matrix((0.0, -per), (per, 0.0), spread.WORK_PERIOD)):
            norm = engine._normalise(engine._fold(picture, matrix))
            point = engine._search(norm, "g", matrix, variants=variants, near=near)
            d, dy, dx, zmax, g = _search_one_at_a_time(engine, norm, variants, near)
            assert (point.variant, point.shift, point.z_a) == (d, (dy, dx), zmax)
            assert np.array_equal(point.g, g)
    marked = engine._search(engine._normalise(engine._fold(white, geometry.affine_matrix(
        (0.0, per), (per, 0.0), spread.WORK_PERIOD))), "g", np.eye(3))
    assert marked.variant == 0 and marked.z_a > 8.0     # the comparison above ran on a real mark


def _refine_one_window_at_a_time(blob: np.ndarray, v1: np.ndarray, v2: np.ndarray):
    h, w = blob.shape
    cy, cx = h // 2, w // 2
    rows, targets, weights = [], [], []
    for b in range(0, 6):
        for a in range(-6, 7):
            if b == 0 and a <= 0:
                continue
            py = cy + a * v1[0] + b * v2[0]
            px = cx + a * v1[1] + b * v2[1]
            iy, ix = int(round(py)), int(round(px))
            if not (4 <= iy < h - 4 and 4 <= ix < w - 4) or math.hypot(py - cy, px - cx) < geometry.MIN_LAG:
                continue
            win = blob[iy - 2:iy + 3, ix - 2:ix + 3]
            my, mx = divmod(int(np.argmax(win)), 5)
            peak = float(win[my, mx])
            if peak < 3.0 or my in (0, 4) or mx in (0, 4):
                continue

            def para(left: float, c: float, right: float) -> float:
                den = left - 2 * c + right
                return 0.0 if abs(den) < 1e-12 else float(np.clip(0.5 * (left - right) / den, -0.5, 0.5))
            sy = para(win[my - 1, mx], peak, win[my + 1, mx])
            sx = para(win[my, mx - 1], peak, win[my, mx + 1])
            rows.append((a, b))
            targets.append((iy - 2 + my + sy - cy, ix - 2 + mx + sx - cx))
            weights.append(peak)
    if len(rows) < 3:
        return v1, v2
    sw = np.sqrt(np.array(weights))[:, None]
    sol, *_ = np.linalg.lstsq(np.array(rows, np.float64) * sw, np.array(targets, np.float64) * sw, rcond=None)
    if np.hypot(*(sol[0] - v1)) > 2.0 or np.hypot(*(sol[1] - v2)) > 2.0:
        return v1, v2
    return sol[0], sol[1]


@pytest.mark.parametrize("seed", range(6))
def test_refine_takes_the_same_peaks_as_one_window_at_a_time(seed: int) -> None:
    rng = np.random.default_rng(seed)
    h, w = int(rng.integers(200, 420)), int(rng.integers(300, 700))
    blob = rng.standard_normal((h, w)).astype(np.float32)
    # a lattice of sharp peaks a little off the integer guess, some of them beyond the map
    t1 = np.array([rng.uniform(-4, 4), rng.uniform(40, 130)])
    t2 = np.array([rng.uniform(40, 130), rng.uniform(-4, 4)])
    yy, xx = np.mgrid[0:h, 0:w]
    for b in range(0, 6):
        for a in range(-6, 7):
            py, px = h // 2 + a * t1[0] + b * t2[0], w // 2 + a * t1[1] + b * t2[1]
            if 0 <= py < h and 0 <= px < w:
                blob += (8.0 * np.exp(-((yy - py) ** 2 + (xx - px) ** 2) / 1.5)).astype(np.float32)
    guess1, guess2 = np.rint(t1), np.rint(t2)
    got = geometry._refine(blob, guess1, guess2)
    want = _refine_one_window_at_a_time(blob, guess1, guess2)
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
    assert not np.array_equal(got[0], guess1)                  # the peaks moved the estimate
    assert np.hypot(*(got[0] - t1)) < 0.5 and np.hypot(*(got[1] - t2)) < 0.5


def _normalise_one(folded: np.ndarray) -> np.ndarray:
    spec = np.fft.fft2(folded)
    power = np.fft.fftshift((spec.real ** 2 + spec.imag ** 2).astype(np.float32))
    smooth = np.fft.ifftshift(cv2.GaussianBlur(power, (0, 0), 1.5))
    return spec / np.sqrt(smooth + spread.NOISE_FLOOR)


@pytest.mark.parametrize("n", [spread.WORK_PERIOD, spread.WORK_PERIOD // 2])
def test_a_stack_is_whitened_as_each_tile_alone(n: int) -> None:
    tiles = np.random.default_rng(n).standard_normal((4, n, n)) * np.linspace(0.5, 3.0, n)
    batch = _normalise_all(tiles)
    for k in range(4):
        assert np.array_equal(batch[k], _normalise_one(tiles[k]))


def test_rotation_search_keeps_the_angles_a_loop_over_angles_keeps(engine, marked_1080p) -> None:
    """The angles' sync peaks scored in one batch rank the angles exactly as one `_search` per angle."""
    for picture, angle in ((attacks.rotate(marked_1080p, 3.0), "+3.0"), (marked_1080p[::2, ::3].copy(), None)):
        white, factor = engine._prepare(picture)
        height, width = picture.shape[:2]
        small = cv2.resize(white, (white.shape[1] // 2, white.shape[0] // 2), interpolation=cv2.INTER_AREA)
        half = spread.WORK_PERIOD // 2
        scored = []
        for degrees in np.arange(-spread.ROTATION_MAX, spread.ROTATION_MAX + 1e-9, spread.ROTATION_STEP):
            v1, v2 = geometry.rotation_lattice(float(degrees), width, height, spread.CANONICAL_PERIOD / 1920.0,
                                               spread.CANONICAL_PERIOD / 1080.0)
            s = factor / 2.0
            matrix = geometry.affine_matrix((v1[0] * s, v1[1] * s), (v2[0] * s, v2[1] * s), half)
            folded = engine._fold(small, matrix, half)
            if folded is not None:
                point = engine._search(engine._normalise(folded), "", matrix, variants=(0, 1))
                scored.append((point.z_a, float(degrees)))
        want = [f"rotation{d:+.1f}" for _, d in sorted(scored, reverse=True)[:spread.ROTATION_CANDIDATES]]
        got = [name for name, _ in engine._rotation_search(spread.Picture(picture))]
        assert got == want
        if angle is not None:
            assert got[0] == f"rotation{angle}"          # the comparison ran on a real mark


def _refine_peaks_one_window_at_a_time(engine, white, point, free):
    """`_refine`'s window peaks the plain way: one `_normalise` and `_sync_surface` per window."""
    values, cover = engine._canonical(white, point.matrix)
    n, k = spread.WORK_PERIOD, spread.REFINE_WINDOW
    lay = engine._layout
    vv, uu = _VARIANTS[0 if free else point.variant](lay.v, lay.u)
    ring = _ring_mask(point.shift, REFINE_RADIUS)
    peaks = []
    for i in range(values.shape[0] // n - k + 1):
        for j in range(values.shape[1] // n - k + 1):
            count = cover[i * n:(i + k) * n, j * n:(j + k) * n].reshape(k, n, k, n).sum(axis=(0, 2), dtype=np.int32)
            if float(count.mean()) < 0.5 * k * k or int(count.min()) < 1:
                continue
            total = values[i * n:(i + k) * n, j * n:(j + k) * n].reshape(k, n, k, n).sum(axis=(0, 2))
            z = _sync_surface(_normalise_one(total / count)[vv % n, uu % n], lay, lay.sync_a, engine._chips, n)
            peaks.append(_peak(z if free else np.where(ring, z, -np.inf)))
    return peaks


@pytest.mark.parametrize("free", [False, True])
def test_local_synchronisation_finds_the_peaks_one_window_at_a_time_finds(engine, marked_1080p, free) -> None:
    picture = attacks.perspective(marked_1080p, 0.01, seed=3)      # a lattice a little off: windows to refine
    white, factor = engine._prepare(picture)
    per = spread.tile_period_for(1080, 1920) * factor
    matrix = geometry.affine_matrix((0.0, per), (per, 0.0), spread.WORK_PERIOD)
    point = engine._search(engine._normalise(engine._fold(white, matrix)), "g", matrix)
    seen = []
    original = spread._peak

    def spy(z):
        seen.append(original(z))
        return seen[-1]

    spread._peak = spy
    try:
        refined = engine._refine(white, point, free=free)
    finally:
        spread._peak = original
    assert seen == _refine_peaks_one_window_at_a_time(engine, white, point, free)
    assert refined is not None and sum(p[2] >= spread.REFINE_MIN_Z for p in seen) >= 6   # real windows
