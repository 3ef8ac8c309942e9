"""The mark survives geometry (issue 13 item 7): one test per attack family, exact 64-bit payload
on a fixed set of natural 1080p frames; plus the key-independent lattice search on its own.
The >= 95%-of-frames measurements over 24 frames are in bench/watermark.py."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from soundstage.safeguards.watermark import attacks, geometry
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
