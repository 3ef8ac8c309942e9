"""vfx place, the operation itself: planar tracking on plates with known motion, hand keyframes,
grade and grain match, edges, element kinds, bad corners, chunking (no guard here: see
test_place_guarded.py for the job, its provenance and its refusals)."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from soundstage.errors import InputError, SpecError
from soundstage.vfx.ops.grade_match import add_grain, measure_grain
from soundstage.vfx.ops.place import PlaceOperation, composite_element
from soundstage.vfx.ops.planar_track import (AlphaBetaFilter, PlanarTracker, corner_path, parse_corner_keyframes,
                                             tracking_report)
from soundstage.vfx.registry import operation_named

sys.path.insert(0, str(Path(__file__).parent))
import place_plates as pp  # noqa: E402


@pytest.fixture
def element_png(tmp_path) -> Path:
    path = tmp_path / "element.png"
    Image.fromarray(pp.element_rgba()).save(path)
    return path


def _op(element: Path, corners, **params) -> PlaceOperation:
    return PlaceOperation({"corners": corners, **params}, {"element": str(element)}, 24.0, pp.W, pp.H)


def _rms(corners: list[np.ndarray], truth: list[np.ndarray]) -> float:
    return float(np.sqrt(np.mean([np.sum((c - t) ** 2, axis=1) for c, t in zip(corners, truth)])))


def test_the_track_of_a_plane_with_known_motion_is_within_a_pixel_on_the_corners(element_png):
    frames = pp.moving_plane(16, noise=3.0)
    op = _op(element_png, [pp.corners_text(0, pp.QUAD)])
    corners, samples = op.corners_for(frames)
    error = _rms(corners, [pp.true_corners(t) for t in range(16)])
    assert error <= 1.0, error
    assert all(not s.lost and s.inliers >= 30 for s in samples)
    assert max(s.reprojection_rms for s in samples[1:]) < 0.5
    # the control: a corner path that ignores the motion is tens of pixels off (the test can fail)
    assert _rms([pp.QUAD] * 16, [pp.true_corners(t) for t in range(16)]) > 15


def test_smoothing_passes_a_steady_motion_without_lag_and_removes_jitter():
    rng = np.random.default_rng(3)
    steady = [np.array([[2.0 * t, 1.0 * t]]) for t in range(40)]
    jittery = [p + rng.normal(0, 0.6, p.shape) for p in steady]
    filt = AlphaBetaFilter(0.55)
    smoothed = [filt(p) for p in jittery]
    raw_error = np.sqrt(np.mean([(j - s) ** 2 for j, s in zip(jittery[10:], steady[10:])]))
    error = np.sqrt(np.mean([(f - s) ** 2 for f, s in zip(smoothed[10:], steady[10:])]))
    assert error < 0.8 * raw_error and abs(float(np.mean([(f - s).mean() for f, s in zip(smoothed[10:], steady[10:])]))) < 0.2


def test_hand_keyframes_override_a_bad_track_and_the_track_reruns_from_them(element_png):
    frames = pp.card_over_backdrop(18)
    truth = [pp.true_corners(t) for t in range(18)]
    backdrop = "20,200,120,200,120,262,20,262"  # a region on the static backdrop: a bad track of the card
    bad = _op(element_png, [pp.corners_text(0, pp.QUAD)], region=backdrop)
    bad_corners, _ = bad.corners_for(frames)
    assert _rms(bad_corners, truth) > 10  # the track followed the backdrop, not the card
    keys = [pp.corners_text(t, truth[t]) for t in (0, 6, 12)]
    fixed = _op(element_png, keys, region=backdrop)
    fixed_corners, _ = fixed.corners_for(frames)
    for t in (6, 12):
        assert np.allclose(fixed_corners[t], truth[t], atol=1e-3)  # the person's corners, exactly
    assert _rms(fixed_corners, truth) < 0.5 * _rms(bad_corners, truth)
    # tracking the card itself from the same keyframes: within a pixel everywhere
    good = _op(element_png, keys)
    assert _rms(good.corners_for(frames)[0], truth) <= 1.0


def test_without_tracking_the_corners_are_a_manual_corner_pin_between_keyframes(element_png):
    q0, q1 = pp.QUAD, pp.QUAD + np.array([40.0, 10.0])
    op = _op(element_png, [pp.corners_text(0, q0), pp.corners_text(10, q1)], track=False)
    frames = pp.moving_plane(12)
    op.process_chunk(frames, 0, 0)
    rows = {r["frame"]: np.array(r["corners"]) for r in op.report}
    assert np.allclose(rows[5], (q0 + q1) / 2, atol=1e-3) and np.allclose(rows[11], q1, atol=1e-3)


def test_a_chunked_run_equals_a_single_chunk_run(element_png):
    frames = pp.moving_plane(10)
    whole = _op(element_png, [pp.corners_text(0, pp.QUAD)]).process_chunk(frames, 0, 0)
    op = _op(element_png, [pp.corners_text(0, pp.QUAD)])
    parts = op.process_chunk(frames[:4], 0, 0) + op.process_chunk(frames[:7], 4, 4) + op.process_chunk(frames, 7, 7)
    assert len(parts) == 10 and all(np.array_equal(a, b) for a, b in zip(parts, whole))
    # a chunk that does not see frame 0 cannot track: refused, never guessed
    with pytest.raises(InputError, match="from frame 0"):
        op.process_chunk(frames[2:], 4, 2)


def test_grain_of_the_placed_element_matches_the_plate_within_20_percent():
    rng = np.random.default_rng(5)
    plate = np.clip(110 + 30 * np.sin(np.mgrid[0:240, 0:320][1] / 40.0)[..., None]
                    + rng.normal(0, 4.0, (240, 320, 3)), 0, 255).astype(np.uint8)
    element = (np.full((120, 160, 3), 150.0, np.float32), np.ones((120, 160), np.float32))
    quad = np.array([[60.0, 50.0], [250.0, 55.0], [245.0, 190.0], [65.0, 185.0]])
    inside = np.zeros((240, 320), np.float32)
    cv2.fillConvexPoly(inside, np.round(quad).astype(np.int32), 1.0)
    inside = cv2.erode(inside, np.ones((9, 9), np.uint8))
    plate_grain = measure_grain(plate, inside)
    assert np.allclose(plate_grain, 4.0, rtol=0.15), plate_grain  # the measure itself is right
    out = composite_element(plate, element, quad, grade=0.0, grain=1.0, feather=0.0, light_wrap=0.0, seed=1,
                            frame_index=0)
    grain = measure_grain(out, inside)
    assert np.all(np.abs(grain / plate_grain - 1) <= 0.2), (grain, plate_grain)
    clean = composite_element(plate, element, quad, grade=0.0, grain=0.0, feather=0.0, light_wrap=0.0, seed=1,
                              frame_index=0)
    assert np.all(measure_grain(clean, inside) < 0.5 * plate_grain)  # without grain the element is clean
    # an element already as noisy as the plate gets none added (variances add)
    noisy = add_grain(np.full((8, 8, 3), 100.0, np.float32), np.array([4.0] * 3), np.array([4.0] * 3), 1.0, 0, 0)
    assert np.all(noisy == 100.0)


def test_grade_moves_the_element_toward_the_plate_and_the_rest_of_the_plate_is_untouched():
    plate = np.full((200, 300, 3), (40, 60, 90), np.uint8)
    element = (np.full((100, 100, 3), (240, 230, 200), np.float32), np.ones((100, 100), np.float32))
    quad = np.array([[100.0, 50.0], [200.0, 50.0], [200.0, 150.0], [100.0, 150.0]])
    raw = composite_element(plate, element, quad, grade=0.0, grain=0.0, feather=0.0, light_wrap=0.0, seed=0,
                            frame_index=0)
    graded = composite_element(plate, element, quad, grade=0.8, grain=0.0, feather=0.0, light_wrap=0.0, seed=0,
                               frame_index=0)
    centre = (slice(90, 110), slice(140, 160))
    assert graded[centre].mean() < raw[centre].mean() - 40  # the bright element is brought down to the dark plate
    far = (slice(0, 20), slice(0, 20))
    assert np.array_equal(graded[far], plate[far])  # outside the element's box: bit-identical


def test_feathered_edges_are_soft_and_alpha_holes_show_the_plate(element_png):
    plate = np.full((272, 480, 3), 30, np.uint8)
    rgba = pp.element_rgba()
    element = (rgba[..., :3].astype(np.float32), rgba[..., 3].astype(np.float32) / 255)
    quad = np.array([[100.0, 60.0], [340.0, 60.0], [340.0, 220.0], [100.0, 220.0]])
    hard = composite_element(plate, element, quad, grade=0.0, grain=0.0, feather=0.0, light_wrap=0.0, seed=0,
                             frame_index=0)
    soft = composite_element(plate, element, quad, grade=0.0, grain=0.0, feather=6.0, light_wrap=0.0, seed=0,
                             frame_index=0)
    row = 140
    assert np.count_nonzero(np.diff(soft[row, 90:110, 0].astype(int))) > np.count_nonzero(
        np.diff(hard[row, 90:110, 0].astype(int)))  # more intermediate steps across the edge
    hole = (int(60 + 0.5 * 160), int(100 + 0.7 * 240))
    assert np.all(hard[hole] == 30)  # the element's transparent hole shows the plate


def test_a_keyed_element_on_green_is_keyed(tmp_path):
    green = np.zeros((100, 140, 3), np.uint8)
    green[...] = (20, 200, 30)
    green[30:70, 40:100] = (200, 80, 60)  # the element on its screen
    path = tmp_path / "element_on_green.png"
    Image.fromarray(green).save(path)
    plate = pp.moving_plane(1)[0]
    quad = "0:100,60,380,60,380,220,100,220"
    op = PlaceOperation({"corners": [quad], "key": "green", "grade": 0.0, "grain": 0.0, "light_wrap": 0.0,
                         "track": False}, {"element": str(path)}, 24, pp.W, pp.H)
    out = op.process_chunk([plate], 0, 0)[0]
    screen = (70, 110)  # on the element's green screen: the plate shows through
    assert np.abs(out[screen].astype(int) - plate[screen].astype(int)).max() <= 2
    subject = (140, 240)
    assert out[subject][0] > 150 and out[subject][1] < 120


@pytest.mark.parametrize("corners, message", [
    (["0:10,10,100,10,100,80"], "8 numbers"),
    (["0:10,10,100,10,100,80,10,80", "0:12,10,100,10,100,80,10,80"], "two keyframes"),
    (["3:10,10,100,10,100,80,10,80"], "at frame 0"),
    (["0:10,10,100,80,100,10,10,80"], "convex"),
    (["0:10,10,100,10,100,80,10,nan"], "finite"),
    (["0:-5,10,100,10,100,80,10,80"], "outside"),
    (["0:10,10,900,10,900,80,10,80"], "outside"),
    (["x:10,10,100,10,100,80,10,80"], "frame:x1"),
    ("[{\"frame\": 0, \"corners\": \"nope\"}", "JSON"),
    ([], "at least one"),
    ([{"frame": 0.5, "corners": [[1, 1], [50, 1], [50, 50], [1, 50]]}], "whole number"),
])
def test_malformed_or_outside_corners_are_one_line_errors(element_png, corners, message):
    with pytest.raises(SpecError, match=message) as info:
        _op(element_png, corners)
    assert "\n" not in str(info.value) and info.value.field in ("params.corners", "params.region")


def test_keyframes_parse_from_json_objects_and_text_alike():
    quad = [[10, 10], [100, 10], [100, 80], [10, 80]]
    a = parse_corner_keyframes([{"frame": 0, "corners": quad}, {"frame": 5, "corners": quad}])
    b = parse_corner_keyframes("0:10,10,100,10,100,80,10,80; 5:10,10,100,10,100,80,10,80")
    assert a == b and [k.frame for k in a] == [0, 5]


def test_an_element_that_is_not_an_image_or_a_clip_is_refused(tmp_path):
    junk = tmp_path / "element.bin"
    junk.write_bytes(b"not a picture" * 10)
    with pytest.raises(InputError):
        _op(junk, [pp.corners_text(0, pp.QUAD)])


def test_the_tracking_report_draws_the_corner_paths_and_a_contact_sheet(element_png, tmp_path):
    frames = pp.moving_plane(12)
    tracker = PlanarTracker(tuple(map(tuple, pp.QUAD)), pp.W, pp.H)
    samples = tracker.track(frames)
    keys = parse_corner_keyframes([pp.corners_text(0, pp.QUAD)])
    corners = corner_path(samples, keys, 0.2)
    report = tracking_report(frames, samples, corners, keys, tmp_path / "report")
    assert report.frames == 12 and report.lost_frames == () and report.max_reprojection_rms < 0.5
    paths = np.asarray(Image.open(report.paths_png))
    sheet = np.asarray(Image.open(report.contact_sheet_png))
    assert paths.shape[2] == 3 and sheet.shape[0] > 100
    assert (report.folder / "tracking.json").is_file()


def test_the_registry_declares_place_as_a_set_extension_with_a_signed_placed_element():
    d = operation_named("place")
    assert [k.value for k in d.kinds] == ["set_extension"]
    assert d.second_input == "element" and d.second_input_use == "component" and d.second_input_signed
    assert d.networks == ()  # classical tracking and compositing: no trained network
    assert "set_extension" not in [k.value for k in operation_named("background").kinds]


def test_a_clip_element_with_alpha_is_decoded_frame_by_frame_and_held_on_its_last(tmp_path):
    import av

    from soundstage.vfx.ops.place import Element

    path = tmp_path / "debris.mov"  # PNG in MOV, RGBA: how a rendered element with alpha is delivered
    with av.open(str(path), "w") as out:
        stream = out.add_stream("png", rate=24)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "rgba"
        for i in range(3):
            rgba = np.zeros((48, 64, 4), np.uint8)
            rgba[..., 0] = 80 * i
            rgba[10:30, 10:40, 3] = 255
            frame = av.VideoFrame.from_ndarray(rgba, format="rgba")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    element = Element.open(path, None)
    assert element.frame_count == 3
    frames = list(element.frames(1, 5))  # plate frames 1..4: element frames 1, 2, 2, 2
    assert [int(rgb[0, 0, 0]) for rgb, _ in frames] == [80, 160, 160, 160]
    alpha = frames[0][1]
    assert alpha[20, 20] == 1.0 and alpha[0, 0] == 0.0
