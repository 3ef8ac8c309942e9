"""Blender renders for real in its worker process; the tests look at the pictures."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("bpy")

from soundstage.domain.safeguards import JobSpec, OperationKind  # noqa: E402
from soundstage.errors import BackendError, SpecError  # noqa: E402
from soundstage.previz.renderer import BlenderRenderer  # noqa: E402
from soundstage.generate.protocol import GeneratedImage, GenerationRequest  # noqa: E402
from soundstage.previz.cast import palette_colour  # noqa: E402

W, H = 320, 180
#: the production's cast table: index -> palette colour (orange, sky blue, bluish green, blue)
CAST = {"MAYA": {"index": 0}, "JONAS": {"index": 1}, "OTTO": {"index": 2}, "LENA": {"index": 4},
        "LILY": {"index": 5, "height": 1.22, "child": True}}


def scene(time_of_day: str = "DAY", int_ext: str = "INT", location: str = "KITCHEN") -> dict:
    return {"number": "12", "heading": f"{int_ext}. {location} - {time_of_day}", "int_ext": int_ext,
            "location": location, "time_of_day": time_of_day, "elements": [{"category": "props", "name": "revolver"}]}


def request(params: dict, tmp_path, **kw) -> GenerationRequest:
    job = JobSpec(id="job-test", production_id="p", operation=OperationKind.STORYBOARD, requested_by="t",
                  model_id="soundstage.blender-blocking")
    params = {"characters": CAST, **params}
    return GenerationRequest(job=job, params=params, scratch_dir=tmp_path, **kw)


def character_mask(pixels: np.ndarray, name: str) -> np.ndarray:
    """Pixels of a character's palette colour. Flat tones render the colour as printed; cavity
    shading shifts it a little. (Hue alone would not do: sky blue and blue share a hue.)"""
    target = np.array(palette_colour(CAST[name]["index"]), np.float32) * 255
    return np.linalg.norm(pixels.astype(np.float32) - target, axis=-1) < 40


def luma(px: np.ndarray) -> float:
    return float((px.astype(np.float32) @ np.array([0.299, 0.587, 0.114])).mean())


SHOTS = [
    {"scene": "12", "number": "A", "size": "CU", "characters": ["MAYA"]},
    {"scene": "12", "number": "B", "size": "WS", "characters": ["MAYA", "JONAS"]},
    {"scene": "12", "number": "C", "size": "MS", "characters": ["MAYA", "JONAS", "OTTO"]},
]
NIGHT_SHOTS = [
    {"scene": "3", "number": "A", "size": "EWS", "angle": "high"},
    {"scene": "3", "number": "B", "size": "WS", "characters": ["MAYA", "LILY", "INTERCOM"]},
]


@pytest.fixture(scope="module")
def day_night(tmp_path_factory):
    renderer = BlenderRenderer()
    day = renderer.generate(request({"shots": SHOTS, "scene": scene("DAY"), "width": W, "height": H},
                                    tmp_path_factory.mktemp("day")))
    timings = dict(renderer.last_timings)
    night = renderer.generate(request({"shots": NIGHT_SHOTS, "scene": scene("NIGHT", "EXT", "MAIN STREET"),
                                       "width": W, "height": H, "depth": False, "save_blend": False},
                                      tmp_path_factory.mktemp("night")))
    return day, night, timings


@pytest.mark.slow
def test_outputs_are_one_image_and_depth_per_shot_plus_the_blend(day_night):
    day, night, timings = day_night
    kinds = [(type(o).__name__, getattr(o, "media_type", "image")) for o in day]
    assert kinds == [("GeneratedImage", "image")] + [("GeneratedFile", "image/png")] + \
        [("GeneratedImage", "image"), ("GeneratedFile", "image/png")] * 2 + [("GeneratedFile", "application/x-blender")]
    image = day[0]
    assert image.operation == "procedural" and image.pixels.shape == (H, W, 3)
    assert image.details["camera"] == {**image.details["camera"], "sensor_width_mm": 24.89, "focal_length_mm": 85.0}
    assert image.details["label"] == "temporary previz media" and image.details["size"] == "CU"
    assert image.details["look"] == "drawn"
    depth = np.asarray(Image.open(day[1].path))
    assert depth.dtype in (np.uint16, np.int32) and depth.shape == (H, W) and depth.max() > 256 * 200
    # the face is nearer the camera than the wall behind it: the centre is brighter than the corners
    assert depth[H // 2, W // 2] > depth[5, 5]
    assert day[-1].path.read_bytes()[:4] in (b"BLEN", b"\x28\xb5\x2f\xfd")  # plain or zstd .blend
    assert len([o for o in night if isinstance(o, GeneratedImage)]) == 2 and len(night) == 2
    assert timings["worker_start_s"] < 30 and len(timings["shots_s"]) == 3


@pytest.mark.slow
def test_close_up_fills_the_frame_and_wide_shows_small_figures(day_night):
    day, _, _ = day_night
    cu, ws = day[0].pixels, day[2].pixels
    assert character_mask(cu, "MAYA").mean() > 0.25  # measured 0.32 at 320x180
    assert character_mask(ws, "MAYA").mean() < 0.15


@pytest.mark.slow
def test_a_night_exterior_reads_as_night_and_stays_readable(day_night):
    day, night, _ = day_night
    establishing, wide = night[0].pixels, night[1].pixels
    for px in (establishing, wide):
        assert luma(px) >= 60  # measured 71.1 and 76.7 at 320x180: readable on paper, not a black frame
        mean = px.reshape(-1, 3).astype(float).mean(axis=0)
        assert mean[2] > 1.2 * mean[0]  # and it reads as night: blue, not daylight grey
    assert luma(wide) < luma(day[2].pixels)
    # the sky is behind the establishing shot: dark blue at the top, lighter toward the horizon
    top, lower = establishing[2:8].reshape(-1, 3).mean(axis=0), establishing[40:46].reshape(-1, 3).mean(axis=0)
    assert top[2] > top[0] + 20 and lower.sum() > top.sum()
    # the ground: the bottom rows are not sky
    assert np.abs(establishing[-6:].reshape(-1, 3).mean(axis=0) - top).sum() > 30


@pytest.mark.slow
def test_figures_in_render_match_the_shot_and_keep_their_colour(day_night):
    import cv2

    day, night, _ = day_night
    images = [o for o in day if isinstance(o, GeneratedImage)]
    shots = SHOTS + [{"number": "night", "characters": ["MAYA", "LILY"]}]  # the INTERCOM is a voice
    images.append(night[1])
    for image, shot in zip(images, shots):
        present = {name for name in CAST if character_mask(image.pixels, name).mean() > 0.002}
        assert present == set(shot["characters"]), shot["number"]
        union = np.zeros(image.pixels.shape[:2], np.uint8)
        for name in shot["characters"]:
            union |= character_mask(image.pixels, name).astype(np.uint8)
        union = cv2.dilate(union, np.ones((3, 3), np.uint8))  # close the drawn outlines between body parts
        count, _, stats, _ = cv2.connectedComponentsWithStats(union)
        figures = [a for a in stats[1:, cv2.CC_STAT_AREA] if a > 0.012 * union.size]  # tags are smaller
        assert len(figures) == len(shot["characters"]), shot["number"]
    assert night[1].details["voices"] == ["INTERCOM (DEVICE)"]
    # a name tag in the character's colour sits above each head
    wide = day[2]
    for name in ("MAYA", "JONAS"):
        rows = np.nonzero(character_mask(wide.pixels, name).any(axis=1))[0]
        assert rows.min() < H * 0.25  # the tag is above the figure, near the top of the frame

    def median_hue(pixels, name):
        mask = character_mask(pixels, name)
        hsv = np.asarray(Image.fromarray(pixels).convert("HSV"))[mask]
        return np.median(hsv[:, 0].astype(float))

    hues = [median_hue(img.pixels, "MAYA") for img in images]
    assert max(hues) - min(hues) <= 3  # the same hue (of 255) in the close-up, the wide, the medium, at night


@pytest.mark.slow
def test_a_killed_worker_is_a_backend_error_naming_the_shot(tmp_path):
    renderer = BlenderRenderer()
    shots = [{"scene": "3", "number": n, "size": "MS", "characters": ["MAYA"]} for n in ("A", "B", "C")]

    def kill_after_first(done: int, total: int) -> None:
        if done == 1:
            os.kill(renderer.worker_pid, signal.SIGKILL)

    with pytest.raises(BackendError) as err:
        renderer.generate(request({"shots": shots, "scene": scene(), "width": 160, "height": 90, "depth": False,
                                   "save_blend": False}, tmp_path, progress=kill_after_first))
    assert "3-B" in err.value.one_line() and "died" in err.value.one_line()
    assert "\n" not in err.value.one_line()


def test_bad_input_fails_before_blender_starts(tmp_path):
    renderer = BlenderRenderer()
    for params, field in (({"shots": [{"size": "HUGE"}]}, "shots[0].size"),
                          ({"shots": [{"size": "CU"}], "engine": "eevee"}, "engine"),
                          ({"shots": [{"size": "CU"}], "width": 100000}, "width"),
                          ({"scene": scene()}, "shots")):
        with pytest.raises(SpecError) as err:
            renderer.generate(request(params, tmp_path))
        assert err.value.field == field
    assert renderer.last_timings == {}  # no worker was ever started
    assert not list(tmp_path.glob("*.log"))


@pytest.mark.slow
def test_forty_characters_and_no_location_still_render(tmp_path):
    renderer = BlenderRenderer()
    out = renderer.generate(request({"shot": {"size": "WS", "characters": [f"EXTRA {i}" for i in range(40)]},
                                     "scene": {"heading": "INT. - DAY", "location": ""}, "width": 160,
                                     "height": 90, "depth": False, "save_blend": False}, tmp_path))
    assert len(out) == 1 and out[0].details["characters"][39] == "EXTRA 39"
    assert out[0].pixels.std() > 10  # not a blank frame


@pytest.mark.slow
def test_guarded_storyboard_job_registers_marked_signed_assets(sqlite_workspace):
    from soundstage.media.images import read_image
    from soundstage.safeguards.guard import parse_asset_id
    from soundstage.safeguards.provenance import read_credentials
    from soundstage.services import jobs_service as jobs
    from soundstage.services import models, people_service
    from soundstage.services.ledger import show_asset

    ws = sqlite_workspace
    people_service.add_crew(ws, "Priya Shah", ["producer"], actor="setup")
    # a built-in model: every production has it from init
    assert any(m["id"] == "soundstage.blender-blocking" and m["backend"] == "blender" for m in models.list_models(ws))
    spec = JobSpec(id="", production_id=ws.production_id, operation=OperationKind.STORYBOARD,
                   requested_by="Priya Shah", model_id="soundstage.blender-blocking", scene="12",
                   params={"scene": scene(), "shots": SHOTS[:2], "width": W, "height": H})
    result = jobs.submit_job(ws, spec, actor="Priya Shah")
    assert result["status"] == "done", result
    assets = [show_asset(ws, a["id"]) for a in result["assets"]]
    images = [a for a in assets if a["media_type"] == "image/png" and a["kind"] == "image"]
    files = [a for a in assets if a["kind"] != "image"]
    assert len(images) == 2 and {a["kind"] for a in files} == {"depth", "blend"}
    anchors = [(ws.settings.keys_dir / "ca.pem").read_bytes()]
    for asset in images:
        stored = ws.store.path_for(asset["sha256"])
        assert ws.watermark_engine().detect(read_image(stored)).payload == parse_asset_id(asset["id"])
        creds = read_credentials(stored, trust_anchors=anchors)
        assert creds.state.value == "Trusted" and creds.soundstage["asset_id"] == asset["id"]
    blend = next(a for a in files if a["kind"] == "blend")
    assert blend["media_type"] == "application/x-blender" and blend["details"]["c2pa_sidecar_sha256"]
