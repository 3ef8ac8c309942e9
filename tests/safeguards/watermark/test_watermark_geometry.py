"""The mark survives geometry (issue 13 item 7): one test per attack family, exact 64-bit payload
on a fixed set of natural 1080p frames; plus the key-independent lattice search on its own.
The >= 95%-of-frames measurements over 24 frames are in bench/watermark.py."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from soundstage.safeguards.watermark import attacks, geometry, samples, spread
from soundstage.safeguards.watermark.protocol import Detection
from soundstage.safeguards.watermark.spread import WORK_PERIOD


def _assert_all_read(engine, marked_frames, attack) -> None:
    for payload, marked in marked_frames:
        result = engine.detect(attack(marked))
        assert result.found and result.payload == payload, result.details
        assert result.false_positive_rate <= 1e-6


@pytest.mark.parametrize("degrees", [1.0, -2.0, 5.0, -5.0])
def test_rotation_cropped_and_resized_back(engine, marked_frames, degrees: float) -> None:
    _assert_all_read(engine, marked_frames, lambda f: attacks.rotate(f, degrees))


def test_rotation_resized_to_another_size(engine, marked_frames) -> None:
    _assert_all_read(engine, marked_frames, lambda f: attacks.rotate(f, -4.0, out_size=(1280, 720)))


def test_horizontal_flip(engine, marked_frames) -> None:
    _assert_all_read(engine, marked_frames, attacks.hflip)
    payload, marked = marked_frames[0]
    assert engine.detect(attacks.hflip(marked)).details["orientation"] == "mirrored"


@pytest.mark.parametrize("turn", ["upside down", "quarter turn"])
def test_other_orientations(engine, marked_frames, turn: str) -> None:
    """Quarter turns and a vertical flip are the same search (8 orientations of a square tile)."""
    payload, marked = marked_frames[0]
    turned = np.ascontiguousarray(marked[::-1] if turn == "upside down" else np.rot90(marked))
    result = engine.detect(turned)
    assert result.payload == payload, result.details


@pytest.mark.parametrize("size", [(854, 480), (640, 360)])
def test_delivery_downscale(engine, marked_frames, size: tuple[int, int]) -> None:
    _assert_all_read(engine, marked_frames, lambda f: attacks.resize_to(f, *size))


def test_mirrored_tilted_reposted(engine, marked_frames) -> None:
    """Mirror + 2 degree tilt + 720p + JPEG 60, in one go."""
    _assert_all_read(engine, marked_frames[:2], attacks.STILL_ATTACKS["repost"])


def test_small_perspective_is_straightened_by_local_synchronisation(engine, marked_frames) -> None:
    """A keystone the global lattice cannot follow: the local windows find where each part of
    the picture went and a homography through them re-folds the frame."""
    h, w = 1080, 1920
    src = np.float32([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]])
    dst = src + np.float32([[6, 0], [-6, 0], [0, 0], [0, 0]])             # top edge 0.6% shorter
    matrix = cv2.getPerspectiveTransform(src, dst)
    payload, marked = marked_frames[0]
    warped = cv2.warpPerspective(marked, matrix, (w, h), flags=cv2.INTER_LINEAR)
    result = engine.detect(warped)
    assert result.payload == payload, result.details


@pytest.mark.parametrize("seed", [3, 11])
def test_three_percent_perspective(engine, marked_frames, seed: int) -> None:
    """A phone filming a screen: every corner moved by up to 3% of the side (issue 13 item 7).
    The global lattice is smeared; the sync field and local lattices give the homography
    (spread._perspective)."""
    payload, marked = marked_frames[0]
    result = engine.detect(attacks.perspective(marked, 0.03, seed=seed))
    assert result.payload == payload, result.details
    assert result.details["geometry"].startswith("perspective")
    assert result.false_positive_rate <= 1e-6


def test_three_percent_perspective_on_most_frames_and_only_with_the_search(engine, marked_frames,
                                                                           monkeypatch) -> None:
    """Three frames x three corner seeds at 3%: 88% over six corner seeds and 24 frames since the
    second field start (DR015, eighth pass; not the 95% goal); here 9 of these 9 read (8 before it,
    the garage frame at seed 5 did not; 6 before the sync field), at least 7 must; without the
    perspective search none does (at most one may: the global lattice is smeared), so the search
    is what reads them."""
    cases = [(payload, attacks.perspective(marked, 0.03, seed=seed))
             for payload, marked in marked_frames for seed in (3, 5, 11)]

    def read() -> int:
        return sum(engine.detect(warped).payload == payload for payload, warped in cases)

    assert read() >= 7
    monkeypatch.setattr(spread, "PERSPECTIVE_SHARES", ())
    assert read() <= 1



def _attack_matrix(amount: float, seed: int, width: int = 1920, height: int = 1080) -> np.ndarray:
    """The homography attacks.perspective(frame, amount, seed) applies (the same seeded corner moves)."""
    rng = np.random.default_rng(seed)
    src = np.float32([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]])
    jitter = rng.uniform(-amount, amount, (4, 2)) * np.float32([width, height])
    return cv2.getPerspectiveTransform(src, (src + jitter).astype(np.float32)).astype(np.float64)


@pytest.mark.parametrize("variant", [21, 22])
def test_three_percent_perspective_read_by_the_sync_field(engine, variant: int) -> None:
    """Two natural frames whose 3% perspective (corner seed 3) the local lattices alone did not
    read (their fits start 20-60 px off at the corners, DR015): the keyed sync field of one-tile
    windows brings the map close enough for the fold, and the exact id comes back."""
    pytest.importorskip("skimage.data", reason="scikit-image provides the natural test photos")
    payload = 0xD1CE_5EED_0BAD_F00D
    marked = engine.embed(samples.natural_frame(1920, 1080, variant=variant), payload)
    result = engine.detect(attacks.perspective(marked, 0.03, seed=3))
    assert result.payload == payload, result.details
    assert result.details["geometry"].startswith("perspective-sync")
    assert result.false_positive_rate <= 1e-6


def test_sync_field_lands_near_the_true_homography(engine) -> None:
    """From the embedder's square lattice, the coarse sync field (64-pixel tiles) and then the full
    one from its PROSAC fit put every part of a 3%-warped frame within a few analysed pixels of
    where the warp put it (the fold tolerates ~3, local synchronisation ~13); the picture's own
    content alone (no mark) gives no map or far ones, and its windows do not agree."""
    pytest.importorskip("skimage.data", reason="scikit-image provides the natural test photos")
    payload = 0xD1CE_5EED_0BAD_F00D
    frame = samples.natural_frame(1920, 1080, variant=21)
    warped = attacks.perspective(engine.embed(frame, payload), 0.03, seed=3)
    white, factor = engine._prepare(warped)
    per = spread.tile_period_for(1080, 1920) * factor
    prior = geometry.affine_matrix((0.0, per), (per, 0.0), WORK_PERIOD)
    coarse = engine._sync_field(white, prior, spread.FIELD_START_TILE)
    assert coarse.fits and coarse.agree >= spread.FIELD_START_COHERENT
    full = engine._sync_field(white, coarse.fits[0])
    assert full.fits and full.agree >= spread.FIELD_COHERENT
    to_work = np.array([[factor, 0, 0.5 * factor - 0.5], [0, factor, 0.5 * factor - 0.5], [0, 0, 1.0]])
    truth = to_work @ _attack_matrix(0.03, 3) @ np.diag([per / factor / WORK_PERIOD] * 2 + [1.0])

    def error(m: np.ndarray) -> float:
        """Largest distance over the picture after the best tile-phase shift (the map's translation
        is only known modulo a tile, and the search finds it)."""
        ys, xs = np.mgrid[10:530:40, 10:950:40]
        pts = np.c_[xs.ravel(), ys.ravel(), np.ones(xs.size)]
        can_t = (np.linalg.inv(truth) @ pts.T)
        can_m = (np.linalg.inv(m) @ pts.T)
        can_t, can_m = can_t[:2] / can_t[2], can_m[:2] / can_m[2]
        shift = np.median(can_m - can_t, axis=1)
        back = m @ np.vstack([can_t + shift[:, None], np.ones(can_t.shape[1])])
        return float(np.max(np.hypot(*(back[:2] / back[2] - pts[:, :2].T))))

    assert error(prior) > 15.0
    assert error(coarse.fits[0]) < error(prior)
    assert error(full.fits[0]) < 6.0
    white_frame, _ = engine._prepare(frame)
    for tile in (spread.FIELD_START_TILE, WORK_PERIOD):
        unmarked = engine._sync_field(white_frame, prior, tile)
        assert all(error(m) > 15.0 for m in unmarked.fits + unmarked.wider())
        assert unmarked.agree < spread.FIELD_START_COHERENT



@pytest.mark.slow
@pytest.mark.parametrize(("variant", "seed", "payload"), [(22, 25, 0x4E67_B29F_EDC0_E5B6),
                                                          (2, 27, 0x6349_AB2F_CA05_7CB1),
                                                          (10, 5, 0x26C9_C43D_6881_EE24)])
def test_field_again_through_each_windows_few_peaks(engine, variant: int, seed: int, payload: int) -> None:
    """3% perspectives the bench's frames and payloads (`bench/watermark.py`) lost on main at these
    corner seeds: the full field agrees, but its fit through each window's best peak stays too far
    for the fold. Past the agreement gate, the fit through each window's three best peaks and the
    field measured again from the best map (DR015, thirteenth pass) read the exact id."""
    pytest.importorskip("skimage.data", reason="scikit-image provides the natural test photos")
    marked = engine.embed(samples.natural_frame(1920, 1080, variant=variant), payload)
    result = engine.detect(attacks.perspective(marked, 0.03, seed=seed))
    assert result.payload == payload, result.details
    assert result.details["geometry"] == "perspective-sync3"
    assert result.false_positive_rate <= 1e-6



def test_field_again_skipped_where_a_periodic_texture_agrees(engine, monkeypatch) -> None:
    """Tiled noise (a null-study texture, no mark) makes the full fields agree in 50-61% of their
    windows, on the texture's own lattice, while the fold stays noise: measuring the field again
    there only costs time (up to 130 ms a picture in the null study). At FIELD_AGAIN_BELOW it is
    skipped; with the cap lifted the same picture runs two more full fields."""
    picture = spread.Picture(samples._texture(2, 1080, 1920, np.random.default_rng(2)))
    full: list[float] = []
    measure = spread.SpreadSpectrumWatermark._sync_field

    def counted(self, white, matrix, tile=WORK_PERIOD):
        field = measure(self, white, matrix, tile)
        if tile == WORK_PERIOD:
            full.append(field.agree)
        return field

    monkeypatch.setattr(spread.SpreadSpectrumWatermark, "_sync_field", counted)
    found = engine._perspective(picture)
    assert found is None or found.z_a < spread.PERSPECTIVE_LOCKED_Z
    assert len(full) == 2 and max(full) >= spread.FIELD_AGAIN_BELOW
    full.clear()
    monkeypatch.setattr(spread, "FIELD_AGAIN_BELOW", 1.1)
    engine._perspective(spread.Picture(samples._texture(2, 1080, 1920, np.random.default_rng(2))))
    assert len(full) == 4

def test_separated_peaks_take_a_plateau_as_one_and_wrap_round() -> None:
    """`_separated`: the maximum first (the first of equal values, as argmax), then the highest
    point more than `gap` from it on either axis, circularly; a max-pooled surface's flat top is
    one peak, and a peak at one edge is near the other edge's points."""
    n = 32
    surface = np.zeros((n, n), np.float32)
    surface[10:13, 20:23] = 5.0           # a plateau: one peak, its first point kept
    surface[11, 23] = 4.0                 # within the gap of the plateau's point: not a peak of its own
    surface[0, 30] = 3.0                  # a peak at the edge ...
    surface[31, 1] = 2.5                  # ... whose wrapped neighbour is suppressed
    surface[20, 5] = 2.0
    other = np.full((n, n), -1.0, np.float32)
    other[4, 4] = 1.0
    found = spread._separated(np.stack([surface.ravel(), other.ravel()]), n, 3, 3)
    assert found[0] == [(10 * n + 20, 5.0), (0 * n + 30, 3.0), (20 * n + 5, 2.0)]
    assert found[0][0][0] == int(surface.argmax())
    assert found[1][0] == (4 * n + 4, 1.0) and len(found[1]) == 3
    # fewer points than asked for: what is there, no repeats
    tiny = spread._separated(np.ones((1, 16), np.float32), 4, 3, 3)
    assert tiny == [[(0, 1.0)]]


@pytest.mark.parametrize("tile", [WORK_PERIOD, 64])
def test_batched_window_surfaces_equal_the_single_ones(engine, tile: int) -> None:
    """The field's batch (`_tile_sync_surfaces`: one stack of float32 FFTs, the power smoothed at
    the sync bins only through a sparse matrix) gives every window the surface the single
    reference (`_tile_sync_surface`, OpenCV's Gaussian over the whole power spectrum) gives it."""
    rng = np.random.default_rng(4)
    tiles = rng.standard_normal((6, tile, tile)).astype(np.float32)
    tiles[1] *= 40.0                                  # a loud window and a smooth one
    tiles[2] = cv2.GaussianBlur(tiles[2], (0, 0), 3.0)
    batch = engine._tile_sync_surfaces(tiles)
    for k, one in enumerate(tiles):
        single = engine._tile_sync_surface(one)
        assert np.max(np.abs(batch[k] - single)) <= 1e-4 * max(1.0, float(np.max(np.abs(single))))


def test_field_worked_in_chunks_gives_the_numbers_of_one_batch(engine, monkeypatch) -> None:
    """`_sync_field` works its windows a few at a time (FIELD_CHUNK_PIXELS) so their spectra stay in
    the cache: one window at a time and all of them in one batch measure the same field (the
    same agreement and the same homographies, bit for bit), coarse and full."""
    pytest.importorskip("skimage.data", reason="scikit-image provides the natural test photos")
    frame = samples.natural_frame(1280, 720, variant=3)
    warped = attacks.perspective(engine.embed(frame, 0x5EED_CAFE_F00D_0001), 0.03, seed=5)
    white, factor = engine._prepare(warped)
    per = spread.tile_period_for(720, 1280) * factor
    prior = geometry.affine_matrix((0.0, per), (per, 0.0), WORK_PERIOD)
    for tile in (spread.FIELD_START_TILE, WORK_PERIOD):
        fields = []
        for pixels in (1, 10 ** 9):
            monkeypatch.setattr(spread, "FIELD_CHUNK_PIXELS", pixels)
            fields.append(engine._sync_field(white, prior, tile))
        one, batch = fields
        assert one.fits and one.agree == batch.agree
        assert all(np.array_equal(a, b) for a, b in zip(one.fits + one.wider(), batch.fits + batch.wider(), strict=True))


@pytest.mark.parametrize("shape", [(8, 8), (5, 7)])
def test_rolled_into_is_a_roll(shape: tuple[int, int]) -> None:
    z = np.arange(shape[0] * shape[1], dtype=np.float32).reshape(shape)
    for sy in range(shape[0]):
        for sx in range(shape[1]):
            out = np.full(shape, -1.0, np.float32)
            spread._rolled_into(out, z, sy, sx)
            assert np.array_equal(out, np.roll(z, (sy, sx), (0, 1)))


def test_fields_that_do_not_agree_are_not_folded(engine, monkeypatch) -> None:
    """The time budget (DR015, fourteenth pass): the fits of a coarse field agreeing in less than
    FIELD_START_COHERENT of its windows, or of a full one in less than FIELD_COHERENT, are not
    folded (over 720 3% perspectives none led to a read). An unmarked natural 854 x 480 frame from
    the speed line has one coarse field above its gate and one below, and its full field below:
    only fits of the coarse field above the gate (those near the lattice) are warped and folded."""
    pytest.importorskip("skimage.data", reason="scikit-image provides the natural test photos")
    _, picture = list(samples.unmarked_pictures(10, seed=3))[9]
    fields: list[tuple[int, float, list[np.ndarray]]] = []
    folded: list[np.ndarray] = []
    measure, fold = spread.SpreadSpectrumWatermark._sync_field, spread.SpreadSpectrumWatermark._fold

    def measured(self, white, matrix, tile=WORK_PERIOD):
        field = measure(self, white, matrix, tile)
        fields.append((tile, field.agree, field.fits))
        return field

    def counted(white, matrix, n=WORK_PERIOD):
        folded.append(matrix)
        return fold(white, matrix, n)

    monkeypatch.setattr(spread.SpreadSpectrumWatermark, "_sync_field", measured)
    monkeypatch.setattr(spread.SpreadSpectrumWatermark, "_fold", staticmethod(counted))
    engine._perspective(spread.Picture(picture))
    gate = {spread.FIELD_START_TILE: spread.FIELD_START_COHERENT, WORK_PERIOD: spread.FIELD_COHERENT}
    below = [m for tile, agree, fits in fields if agree < gate[tile] for m in fits]
    above = [m for tile, agree, fits in fields if agree >= gate[tile] for m in fits]
    assert sorted(tile for tile, _, _ in fields) == [spread.FIELD_START_TILE, spread.FIELD_START_TILE, WORK_PERIOD]
    assert below and above
    assert not any(np.array_equal(m, f) for m in below for f in folded)
    assert any(np.array_equal(m, f) for m in above for f in folded)


@pytest.mark.parametrize("variant", [0, 3])
def test_turned_and_unevenly_stretched_screen_read_from_the_local_lattices(engine, variant: int) -> None:
    """A 3% perspective whose corners (seed 7) also turn the picture by 1.4 degrees and stretch it
    5% more one way than the other: the field from the embedder's square lattice agrees in fewer
    than FIELD_COHERENT of its windows (as on unmarked pictures), and main's engine read none of
    these frames; started from the local lattices' homography (the second coarse start), the
    exact id comes back."""
    pytest.importorskip("skimage.data", reason="scikit-image provides the natural test photos")
    payload = 0xD1CE_5EED_0BAD_F00D
    marked = engine.embed(samples.natural_frame(1920, 1080, variant=variant), payload)
    warped = attacks.perspective(marked, 0.03, seed=7)
    white, factor = engine._prepare(warped)
    per = spread.tile_period_for(1080, 1920) * factor
    prior = geometry.affine_matrix((0.0, per), (per, 0.0), WORK_PERIOD)
    assert engine._sync_field(white, prior).agree < spread.FIELD_COHERENT
    result = engine.detect(warped)
    assert result.payload == payload, result.details
    assert result.details["geometry"].startswith(("perspective-sync2", "perspective-sync3"))
    assert result.false_positive_rate <= 1e-6


@pytest.mark.parametrize("variant, seed, payload", [(5, 21, 0x6FD0_996B_A47D_139A), (20, 12, 0x1B8F_3C44_BBAD_70F4)])
def test_screen_whose_mark_lives_in_a_few_textured_parts_is_read(engine, variant: int, seed: int,
                                                                 payload: int) -> None:
    """A 3% perspective of a frame whose mark sits mostly in a few textured parts (the masking puts
    it there): summed with every neighbour within 1.2 tiles, the full field's windows round the
    strong ones all took their shifts, and a wrong homography through those copies outvoted the
    true one (main's engine read neither frame with the bench's payloads). Summed with its 3 x 3
    nearest only (FIELD_REACH_FULL), the full field's fit folds the mark and the exact id comes back."""
    pytest.importorskip("skimage.data", reason="scikit-image provides the natural test photos")
    marked = engine.embed(samples.natural_frame(1920, 1080, variant=variant), payload)
    result = engine.detect(attacks.perspective(marked, 0.03, seed=seed))
    assert result.payload == payload, result.details
    assert result.details["geometry"].startswith("perspective-sync3")
    assert result.false_positive_rate <= 1e-6


# ---------------------------------------------------------------- the key-independent geometry

def test_inscribed_rectangle_fits_and_is_largest() -> None:
    for degrees in (0.5, 2.0, 5.0, 30.0, 45.0):
        cw, ch = geometry.inscribed_rect(1920, 1080, degrees)
        a = math.radians(degrees)
        c, s = math.cos(a), math.sin(a)
        assert cw / 2 * c + ch / 2 * s <= 1920 / 2 + 1e-6 and cw / 2 * s + ch / 2 * c <= 1080 / 2 + 1e-6
        # no slightly larger rectangle of the same shape fits
        bigger = 1.002
        assert (cw * bigger / 2 * c + ch * bigger / 2 * s > 960) or (cw * bigger / 2 * s + ch * bigger / 2 * c > 540)


def test_rotation_lattice_matches_the_attack() -> None:
    """The lattice a rotated, cut and resized frame has, found in a plain periodic picture."""
    rng = np.random.default_rng(1)
    tile = cv2.GaussianBlur(rng.normal(0, 1, (256, 256)).astype(np.float32), (0, 0), 1.2)
    picture = np.tile(tile, (5, 8))[:1080, :1920]
    rgb = np.repeat(np.clip(128 + 40 * picture / picture.std(), 0, 255).astype(np.uint8)[..., None], 3, -1)
    turned = attacks.rotate(rgb, 4.0)
    white = cv2.resize(cv2.cvtColor(turned, cv2.COLOR_RGB2GRAY), (960, 540), interpolation=cv2.INTER_AREA)
    white = white.astype(np.float32) - cv2.GaussianBlur(white.astype(np.float32), (0, 0), 2.0)
    found = geometry.find_lattices(white, max_candidates=1)[0]
    v1, v2 = geometry.rotation_lattice(4.0, 1920, 1080, 256 / 1920, 256 / 1080)
    assert np.hypot(found.v1[0] - v1[0] / 2, found.v1[1] - v1[1] / 2) < 1.5
    assert np.hypot(found.v2[0] - v2[0] / 2, found.v2[1] - v2[1] / 2) < 1.5


def test_lattice_search_ignores_straight_edges() -> None:
    """Letterbox bars and a horizon make ridges in the autocorrelation, not a lattice (the blob
    measure needs curvature across every direction)."""
    rng = np.random.default_rng(2)
    picture = rng.normal(0, 1.0, (540, 960)).astype(np.float32)
    picture[:60] -= 50.0
    picture[-60:] -= 50.0
    picture[300:480] += 30.0                                     # a horizon
    picture[:, 700:] += 20.0                                     # a wall's edge
    white = picture - cv2.GaussianBlur(picture, (0, 0), 2.0)
    found = geometry.find_lattices(white, max_candidates=1)
    assert not found or found[0].score < 8.0, found
    # the same picture with a faint lattice in it: found, at the right period
    tile = rng.normal(0, 1.0, (100, 100)).astype(np.float32)
    marked = picture + 0.5 * np.tile(tile, (6, 10))[:540, :960]
    best = geometry.find_lattices(marked - cv2.GaussianBlur(marked, (0, 0), 2.0), max_candidates=1)[0]
    assert np.allclose(best.v1, (0, 100), atol=1.0) and np.allclose(best.v2, (100, 0), atol=1.0)


def test_affine_matrix_maps_one_tile_to_the_lattice_vectors() -> None:
    m = geometry.affine_matrix((3.0, 120.0), (130.0, -4.0), WORK_PERIOD)
    assert np.allclose(m @ [WORK_PERIOD, 0, 1], [120.0, 3.0, 1.0])
    assert np.allclose(m @ [0, WORK_PERIOD, 1], [-4.0, 130.0, 1.0])


_SRC = np.float32([[0, 0], [960, 0], [960, 540], [0, 540]])
#: corners of a 960 x 540 picture moved by up to 3% of the side
_WARP = cv2.getPerspectiveTransform(_SRC, _SRC + np.float32([[-22, 10], [25, -12], [-18, 14], [27, 9]])).astype(np.float64)


def _jacobian(m: np.ndarray, x: float, y: float) -> np.ndarray:
    """Jacobian of the (x, y, 1) homography m at (x, y)."""
    p = m @ [x, y, 1.0]
    return np.array([[m[0, 0] - p[0] / p[2] * m[2, 0], m[0, 1] - p[0] / p[2] * m[2, 1]],
                     [m[1, 0] - p[1] / p[2] * m[2, 0], m[1, 1] - p[1] / p[2] * m[2, 1]]]) / p[2]


def _true_lattice(x: float, y: float, period: int) -> tuple[tuple[float, float], tuple[float, float]]:
    """The lattice (v1, v2 as (dy, dx)) the warp puts at the warped point (x, y)."""
    q = np.linalg.inv(_WARP) @ [x, y, 1.0]
    j = _jacobian(_WARP, q[0] / q[2], q[1] / q[2]) * period
    return (j[1, 0], j[0, 0]), (j[1, 1], j[0, 1])


def test_fit_perspective_recovers_the_homography_from_local_lattices() -> None:
    """Exact window lattices (and one wrong window) give back the warp's Jacobian everywhere; the
    wrong window is the only one that disagrees."""
    period = 128
    local = []
    for y in (162.0, 270.0, 378.0):
        for x in (288.0, 480.0, 672.0):
            v1, v2 = _true_lattice(x, y, period)
            local.append(geometry.LocalLattice((y, x), v1, v2, 4.0))
    local[4] = geometry.LocalLattice((270.0, 480.0), (6.0, 121.0), (135.0, -7.0), 4.0)
    fit = geometry.fit_perspective(local, (480.0, 270.0), period)
    assert fit is not None and fit.inliers == 8
    inv = np.linalg.inv(fit.matrix)
    for x, y in ((0, 0), (960, 0), (960, 540), (0, 540), (480, 270)):
        c = inv @ [x, y, 1.0]
        found = _jacobian(fit.matrix, c[0] / c[2], c[1] / c[2]) * period
        v1, v2 = _true_lattice(x, y, period)
        assert np.allclose(found, [[v1[1], v2[1]], [v1[0], v2[0]]], atol=0.2), (x, y)


def _tiled(period: int, noise: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    tile = cv2.GaussianBlur(rng.normal(0, 1, (period, period)).astype(np.float32), (0, 0), 0.8)
    return np.tile(tile, (5, 8))[:540, :960] + rng.normal(0, noise, (540, 960)).astype(np.float32)


def test_local_lattices_find_a_sheared_lattice_near_the_prior() -> None:
    """Every window finds the sheared, stretched lattice a few pixels from the square prior."""
    warp = np.array([[1.03, 0.04, 0.0], [-0.01, 0.98, 0.0], [0.0, 0.0, 1.0]])
    picture = cv2.warpPerspective(_tiled(128, 0.3), warp, (960, 540), flags=cv2.INTER_LINEAR)
    local = geometry.local_lattices(picture, (0.0, 128.0), (128.0, 0.0))
    assert len(local) == geometry.LOCAL_GRID ** 2
    for lat in local:
        assert np.allclose(lat.v1, (-0.01 * 128, 1.03 * 128), atol=0.3), lat
        assert np.allclose(lat.v2, (0.98 * 128, 0.04 * 128), atol=0.3), lat


def test_perspective_passes_straighten_a_three_percent_warp(engine) -> None:
    """The same perspective on a tiled picture: one pass of window lattices is smeared by the
    warp inside each window; the passes in unwarped coordinates end within a pixel per tile of
    the warp everywhere (spread._perspective, key-independent)."""
    period = 128
    warped = cv2.warpPerspective(_tiled(period, 1.0), _WARP, (960, 540), flags=cv2.INTER_LINEAR)
    estimates = list(engine._perspective_passes(warped, (1080, 1920), 0.5, 0.6))
    assert len(estimates) == spread.PERSPECTIVE_PASSES
    matrix, canonical = estimates[-1]
    assert canonical is not None and canonical[0].shape[0] % WORK_PERIOD == 0    # what the caller folds
    inv = np.linalg.inv(matrix)
    for x, y in ((40, 40), (920, 40), (920, 500), (40, 500), (480, 270)):
        c = inv @ [x, y, 1.0]
        found = _jacobian(matrix, c[0] / c[2], c[1] / c[2]) * period
        v1, v2 = _true_lattice(x, y, period)
        assert np.allclose(found, [[v1[1], v2[1]], [v1[0], v2[0]]], atol=1.0), (x, y, found, v1, v2)


def test_local_lattices_of_a_picture_without_a_lattice_disagree() -> None:
    """Noise has no lattice: the windows' best guesses near the prior do not fit one homography."""
    rng = np.random.default_rng(6)
    noise = cv2.GaussianBlur(rng.normal(0, 1, (540, 960)).astype(np.float32), (0, 0), 0.8)
    fit = geometry.fit_perspective(geometry.local_lattices(noise, (0.0, 128.0), (128.0, 0.0)), (480, 270), 128)
    assert fit is None or fit.inliers <= 4


def _first_window_score(engine, picture: np.ndarray) -> float:
    white, factor = engine._prepare(picture)
    per = spread.tile_period_for(*picture.shape[:2]) * factor
    local = geometry.local_lattices(white, (0.0, per), (per, 0.0), share=spread.PERSPECTIVE_SHARES[0])
    return float(np.mean([lat.score for lat in local]))


def test_perspective_search_is_skipped_where_the_windows_show_no_lattice(engine, marked_frames) -> None:
    """The time budget (DR015): an unmarked picture whose first windows see nothing periodic near
    the period (here a wide crop of a natural frame, as in the null study) skips the perspective
    search; a marked 3% perspective passes the same gate and is found."""
    picture = np.ascontiguousarray(samples.natural_frame(1920, 1080, variant=0)[400:653, 300:1007])
    assert _first_window_score(engine, picture) < spread.PERSPECTIVE_MIN_SCORE
    assert engine._perspective(spread.Picture(picture)) is None
    payload, marked = marked_frames[0]
    warped = attacks.perspective(marked, 0.03, seed=5)
    assert _first_window_score(engine, warped) >= spread.PERSPECTIVE_MIN_SCORE
    found = engine._perspective(spread.Picture(warped))
    assert found is not None and found.z_a >= spread.REFINE_FROM_Z


def test_perspective_search_ends_where_the_sync_field_does_not_agree(engine) -> None:
    """The time budget (DR015, fourth look and the coarse starts): an unmarked natural frame passes
    the first-window gate, but neither coarse field's windows agree on one homography (PROSAC
    inliers < FIELD_START_COHERENT of them), so the search ends there: no full field, no free
    local synchronisation and no key-independent passes (points perspective-sync3, -sync4 and
    perspective1..3). A marked 3% perspective that only the steps past the gate read (variant 6,
    corner seed 3: the key-independent passes before the fields' few-peak fits, DR015 thirteenth
    pass, read it at the gate's first step after) still goes on to them and is read."""
    pytest.importorskip("skimage.data", reason="scikit-image provides the natural test photos")
    picture = samples.natural_frame(1920, 1080, variant=6)
    assert _first_window_score(engine, picture) >= spread.PERSPECTIVE_MIN_SCORE
    found = engine._perspective(spread.Picture(picture))
    assert found is None or found.geometry in ("perspective-sync1", "perspective-sync2")
    payload = 0xD1CE_5EED_0BAD_F00D
    marked = engine.embed(samples.natural_frame(1920, 1080, variant=6), payload)
    result = engine.detect(attacks.perspective(marked, 0.03, seed=3))
    assert result.payload == payload, result.details
    assert result.details["geometry"] in ("perspective-sync3", "perspective-sync4", "perspective1", "perspective2",
                                          "perspective3")


@pytest.mark.parametrize("box", [(270, 480), (480, 270), (5, 300), (300, 5), (161, 285), (40, 40)])
def test_sector_lays_out_the_same_lags_as_the_whole_box(box: tuple[int, int]) -> None:
    """The sector is laid out over the part of the box it can reach only (a new picture size
    costs a fifth): the same lags, in the same row-major order, as a search of the whole box."""
    ry, rx = box
    dy, dx = np.mgrid[-ry:ry + 1, -rx:rx + 1]
    for axis in (0, 1):
        off = np.degrees(np.arctan2(dy, dx)) if axis == 0 else np.degrees(np.arctan2(-dx, dy))
        sel = (np.hypot(dy, dx) >= geometry.MIN_LAG) & (np.abs(off) <= geometry.SECTOR_DEG)
        vy, vx = geometry._sector(ry, rx, axis, float(geometry.MIN_LAG))
        assert np.array_equal(vy, dy[sel]) and np.array_equal(vx, dx[sel]), (box, axis)


def test_best_first_yields_every_index_from_the_highest_score_down() -> None:
    rng = np.random.default_rng(4)
    score = rng.normal(0, 1, 5000).astype(np.float32)
    score[:300] = 2.5                                            # ties
    order = list(geometry._best_first(score, 64))
    assert sorted(order) == list(range(len(score)))
    assert np.all(np.diff(score[order]) <= 0)
    assert list(geometry._best_first(score[:10], 64)) == list(np.argsort(-score[:10]))


# ---------------------------------------------------------------------- clips (detect_frames)

def _panned_clip(engine, variant: int, payload: int, frames: int = 8) -> list[np.ndarray]:
    """A slow pan (4 px a frame) across a natural 1080p picture, marked frame by frame."""
    pytest.importorskip("skimage.data", reason="scikit-image provides the natural test photos")
    base = samples.natural_frame(1920 + 48, 1080, variant=variant)
    return list(engine.embed_frames([np.ascontiguousarray(base[:, 4 * k:4 * k + 1920]) for k in range(frames)],
                                    payload))


def test_clip_filmed_off_a_screen_is_read_from_its_mean_frame(engine) -> None:
    """A phone filming a screen: every frame of a clip under one 3% perspective (corner seed 3).
    Each frame reads by itself, but the clip reader's static fold and per-frame combination only
    fold at the key-independent candidates, and miss it (on the code before DR015's fifteenth pass
    the clip was not read at all: 10 of 24 such clips); the clip's mean whitened frame, read with
    every search a still gets, holds the mark."""
    payload = 0xD1CE_5EED_0BAD_F00D
    clip = [attacks.perspective(f, 0.03, seed=3) for f in _panned_clip(engine, 0, payload)]
    assert engine.detect(clip[0]).payload == payload            # one frame of it reads ...
    result = engine.detect_frames(clip)                          # ... and now so does the clip
    assert result.payload == payload, result.details
    assert result.details["mode"] == "mean" and result.details["frames"] == 8
    assert result.false_positive_rate <= 1e-6


@pytest.mark.slow
def test_clip_filmed_off_a_screen_and_reencoded_is_read(engine) -> None:
    """The same after the phone's own H.264 encode (CRF 23): 5 of 24 such clips read before the
    mean frame, 24 of 24 with it (DR015, fifteenth pass)."""
    payload = 0x5EED_0BAD_F00D_D1CE
    clip = attacks.h264_roundtrip([attacks.perspective(f, 0.03, seed=3) for f in _panned_clip(engine, 6, payload)],
                                  crf=23)
    result = engine.detect_frames(clip)
    assert result.payload == payload, result.details
    assert result.false_positive_rate <= 1e-6


def test_the_mean_frames_read_counts_the_clips_validations_too(engine, marked_1080p) -> None:
    """The mean frame's read validates up to MAX_VALIDATIONS points after the clip's
    CLIP_VALIDATIONS: its acceptance rule counts them all (the union bound of the whole clip read),
    so the same point's p-value is (MAX_VALIDATIONS + CLIP_VALIDATIONS) / MAX_VALIDATIONS times a
    still's. A picture made from a whitened frame reads as the frame."""
    picture = spread.Picture(marked_1080p)
    alone = engine.read(spread.Picture.from_white(picture.white, picture.shape, picture.factor))
    assert alone == engine.detect(marked_1080p)
    counted = engine.read(picture, validations=spread.MAX_VALIDATIONS + spread.CLIP_VALIDATIONS)
    assert counted.payload == alone.payload and counted.details["geometry"] == alone.details["geometry"]
    ratio = (spread.MAX_VALIDATIONS + spread.CLIP_VALIDATIONS) / spread.MAX_VALIDATIONS
    assert counted.details["p_sync"] == pytest.approx(alone.details["p_sync"] * ratio)


def test_only_a_short_clip_pays_for_the_mean_frames_read(engine, monkeypatch) -> None:
    """From CLIP_MEAN_BELOW frames on, the static fold read every clip filmed off a screen that was
    measured (DR015, fifteenth pass), so a longer unmarked clip (every span `verify` reads) is not
    charged a still's read; a shorter one is."""
    pytest.importorskip("skimage.data", reason="scikit-image provides the natural test photos")
    base = samples.natural_frame(320 + 2 * spread.CLIP_MEAN_BELOW, 180, variant=3)
    clip = [np.ascontiguousarray(base[:, 2 * k:2 * k + 320]) for k in range(spread.CLIP_MEAN_BELOW)]
    reads = []
    monkeypatch.setattr(spread.SpreadSpectrumWatermark, "read",
                        lambda self, picture, validations=spread.MAX_VALIDATIONS: reads.append(validations)
                        or Detection(False, None, 0.0, 1.0, self.name, {}))
    assert not engine.detect_frames(clip).found and reads == []
    assert not engine.detect_frames(clip[1:]).found
    assert reads == [spread.MAX_VALIDATIONS + spread.CLIP_VALIDATIONS]
