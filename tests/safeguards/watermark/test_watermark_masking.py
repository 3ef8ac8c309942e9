"""Invisible to a colourist (issue 13 item 8): the perceptual mask, SSIM on flat and dark regions at
1:1 and after a +2-stop lift / contrast grade, and no shift of the black level."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from soundstage.safeguards.watermark import attacks, masking, quality, samples
from soundstage.safeguards.watermark.spread import SpreadSpectrumWatermark

from .conftest import PAYLOAD

SSIM_MIN = 0.99


@pytest.fixture(scope="module")
def pictures() -> dict[str, np.ndarray]:
    pytest.importorskip("skimage.data")
    return {"sky": samples.flat_sky(), "night": samples.night_frame(variant=0),
            "night_moto": samples.night_frame(variant=4), "astronaut": samples.natural_frame(variant=0),
            "garage": samples.natural_frame(variant=4), "launch_pad": samples.natural_frame(variant=1)}


def test_flat_and_dark_regions_keep_ssim_at_1_1_and_after_grading(engine, pictures) -> None:
    checked = 0
    for name, picture in pictures.items():
        marked = engine.embed(picture, PAYLOAD)
        report = quality.report(picture, marked)
        for key in ("ssim_flat", "ssim_dark", "ssim_flat_contrast", "ssim_dark_lift2", "ssim_dark_lift2_contrast"):
            if report[key] is not None:
                assert report[key] >= SSIM_MIN, (name, key, report)
                checked += 1
    assert checked >= 15          # every picture has flat or dark regions to measure


def test_the_measure_would_catch_a_visible_mark(engine, pictures) -> None:
    """The adversary's check on the test itself: the old mark (2.4 grey levels RMS everywhere, no
    luminance term) fails it on the sky and in the lifted night."""
    sky, night = pictures["sky"], pictures["night"]
    pattern = engine.pattern(PAYLOAD, *sky.shape[:2])
    old_sky = np.clip(np.round(sky + 2.4 * pattern[..., None]), 0, 255).astype(np.uint8)
    old_night = np.clip(np.round(night + 2.4 * pattern[..., None]), 0, 255).astype(np.uint8)
    assert quality.report(sky, old_sky)["ssim_flat"] < SSIM_MIN
    assert quality.report(night, old_night)["ssim_dark_lift2"] < SSIM_MIN


def test_no_black_lift(engine, pictures) -> None:
    for name in ("night", "night_moto", "launch_pad"):
        picture = pictures[name]
        marked = engine.embed(picture, PAYLOAD)
        report = quality.report(picture, marked)
        assert report["black_pixels_changed"] == 0, name
        assert abs(report["dark_mean_delta"]) < 0.02, (name, report["dark_mean_delta"])
    # pure black and near-black fields stay untouched, whatever the texture around them
    frame = pictures["astronaut"].copy()
    frame[200:500, 200:700] = 3
    marked = engine.embed(frame, PAYLOAD)
    assert np.array_equal(marked[200:500, 200:700], frame[200:500, 200:700])


def test_amplitude_follows_texture_and_luminance() -> None:
    flat = np.full((270, 480, 3), 128, np.uint8)
    amp = masking.amplitude(flat)
    assert np.allclose(amp, masking.A_FLAT * masking.size_gain(270, 480), atol=1e-4)
    assert np.allclose(masking.amplitude(np.full((540, 960, 3), 128, np.uint8)), masking.A_FLAT, atol=1e-4)
    rng = np.random.default_rng(0)
    grain = cv2.GaussianBlur(rng.normal(0, 1, (270, 480)).astype(np.float32), (0, 0), 3.0)
    busy = np.clip(140 + 30 * grain[..., None] / grain.std(), 0, 255).astype(np.uint8).repeat(3, -1)
    assert float(np.median(masking.amplitude(busy))) > 4 * masking.A_FLAT
    assert float(masking.amplitude(busy).max()) <= masking.A_MAX * masking.size_gain(270, 480) + 1e-4
    dark = np.full((270, 480, 3), masking.DARK_ZERO, np.uint8)
    assert float(masking.amplitude(dark).max()) == 0.0
    white = np.full((270, 480, 3), 255, np.uint8)
    assert float(masking.amplitude(white).max()) == 0.0
    ramp = np.repeat(np.linspace(0, 255, 480, dtype=np.float32)[None, :], 270, 0)
    amp = masking.amplitude(np.repeat(ramp.astype(np.uint8)[..., None], 3, -1))[135]
    assert amp[10] == 0.0 and amp[240] > amp[40] > 0.0 and amp[-1] == 0.0 and amp[470] < 0.5


@pytest.mark.parametrize("channel", [0, 1, 2])
def test_a_block_near_clipping_in_one_channel_is_capped(channel: int) -> None:
    """The clip cap looks at every channel of a block (the darkest and the brightest one), not at
    its luma: one pixel near 0 or 255 in one channel caps the block and its neighbours."""
    rng = np.random.default_rng(2)
    grain = cv2.GaussianBlur(rng.normal(0, 1, (540, 960)).astype(np.float32), (0, 0), 2.0)
    frame = np.clip(128 + 25 * grain[..., None] / grain.std(), 60, 200).astype(np.uint8).repeat(3, -1)
    assert float(masking.amplitude(frame)[200:220, 400:420].min()) > 1.0      # busy: a strong mark
    low, high = frame.copy(), frame.copy()
    low[210, 410, channel] = 2
    high[210, 410, channel] = 254
    for changed, distance in ((low, 2), (high, 1)):
        amp = masking.amplitude(changed)
        assert float(amp[206:214, 406:414].max()) <= masking.CLIP_SHARE * distance + 1e-4, channel
        assert float(amp[300:320, 600:620].min()) > 1.0                      # elsewhere unchanged


def test_the_smooth_side_of_an_edge_gets_no_halo() -> None:
    """Busy texture beside a smooth wall: the wall keeps the flat amplitude a few blocks from the
    edge (the first spread.2 mask put a visible mottle there once its texture gain went up)."""
    rng = np.random.default_rng(1)
    frame = np.full((540, 960, 3), 150, np.uint8)
    grain = cv2.GaussianBlur(rng.normal(0, 1, (540, 480)).astype(np.float32), (0, 0), 2.0)
    frame[:, :480] = np.clip(150 + 25 * grain / grain.std(), 0, 255).astype(np.uint8)[..., None]
    amp = masking.amplitude(frame)
    reach = 20                                                                # pixels: 5 blocks
    assert float(np.median(amp[:, 100:380])) > 8 * masking.A_FLAT           # the texture carries the mark
    assert float(amp[:, 480 + reach:].max()) <= masking.A_FLAT + 1e-4        # the wall beside it does not


def test_the_mark_is_zero_mean(engine, pictures) -> None:
    for name, picture in pictures.items():
        delta = engine.embed(picture, PAYLOAD).astype(np.float64) - picture
        assert abs(float(delta.mean())) < 0.02, name


def test_graded_crops_can_be_written_for_a_person(engine, pictures, tmp_path) -> None:
    night = pictures["night"]
    marked = engine.embed(night, PAYLOAD)
    grade = lambda a: quality.contrast_grade(quality.lift(a[300:500, 1000:1300]))  # noqa: E731
    path = quality.side_by_side(tmp_path / "night.png", [("night +2 stops", grade(night), grade(marked))], zoom=2)
    sheet = cv2.imread(str(path))
    assert sheet is not None and sheet.shape[0] >= 400 and sheet.shape[1] >= 1200


def test_embedding_1080p_is_fast(engine, natural_1080p) -> None:
    """>= 100 fps is the goal (bench/watermark.py measures it); here a loose bound that a loaded
    machine still meets, so a 3x regression fails."""
    engine.embed(natural_1080p, PAYLOAD)
    cpu = []
    for _ in range(10):
        start = time.process_time()
        engine.embed(natural_1080p, PAYLOAD)
        cpu.append(time.process_time() - start)
    assert float(np.median(cpu)) < 0.03


def test_strength_scales_the_mark(natural_1080p) -> None:
    weak, strong = SpreadSpectrumWatermark(strength=0.5), SpreadSpectrumWatermark(strength=1.0)
    rms = [float(np.sqrt(np.mean((e.embed(natural_1080p, 1).astype(float) - natural_1080p) ** 2)))
           for e in (weak, strong)]
    assert rms[0] < 0.7 * rms[1]


def test_small_frames_get_a_stronger_mark_up_to_a_cap() -> None:
    assert masking.size_gain(1080, 1920) == masking.size_gain(540, 960) == 1.0
    assert 1.0 < masking.size_gain(360, 640) < masking.size_gain(192, 320) < masking.size_gain(64, 64)
    assert masking.size_gain(64, 64) == masking.SMALL_GAIN_MAX


@pytest.mark.slow
def test_a_small_clip_is_read_in_every_run_of_two_frames(engine) -> None:
    """The guard's check of a backend's clip (4 runs of 2 frames) on 320x192 H.264: it refused
    ~7% of random ids before small frames got their gain (the tests/vfx sequence flake)."""
    pytest.importorskip("skimage.data")
    photo = samples.natural_images()["astronaut"]
    big = cv2.resize(photo, (640, 640), interpolation=cv2.INTER_AREA)
    frames = [np.ascontiguousarray(big[i:i + 192, 3 * i:3 * i + 320]) for i in range(8)]
    rng = np.random.default_rng(21)
    for _ in range(25):
        payload = int(rng.integers(0, 2**63))
        decoded = attacks.h264_roundtrip(list(engine.embed_frames(frames, payload)), crf=16, preset="veryfast")
        for start in range(0, 8, 2):
            assert engine.detect_frames(decoded[start:start + 2]).payload == payload


#: the face in the web approval card's de-age preview (sample_media.astronaut_push_in frame 3), in
#: 512x288 pixels: cheeks, forehead, eyes, nose and mouth, no hair
FACE_512 = (30, 140, 200, 320)


@pytest.mark.parametrize("width,height", [(512, 288), (960, 540), (1280, 720), (1920, 1080)])
def test_no_mottle_on_a_face_at_any_frame_size(engine, width: int, height: int) -> None:
    """The mark was plainly visible on a performer's face in a 512 px preview: the texture term
    read her features as texture and small frames got x 1.55 on top (face crop p99 |change| 20
    grey levels, SSIM 0.909; 1080p 8 / 0.986). Skin keeps at most masking.SKIN_CAP x size_gain."""
    pytest.importorskip("skimage.data")
    from skimage.metrics import structural_similarity

    from soundstage.testing import sample_media

    frame = sample_media.astronaut_push_in(count=8, width=width, height=height)[3]
    marked = engine.embed(frame, PAYLOAD)
    y0, y1, x0, x1 = (round(v * width / 512) for v in FACE_512)
    before = cv2.cvtColor(frame[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY)
    after = cv2.cvtColor(marked[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY)
    change = np.abs(after.astype(np.int16) - before)
    assert np.percentile(change, 99) <= 6, (width, np.percentile(change, 99))
    assert structural_similarity(before, after, data_range=255) >= 0.98     # 0.984 at 512x288, 0.989+ above
    assert abs(float(np.mean(after.astype(np.float64) - before))) < 0.2        # no shift of the level


def test_skin_is_found_on_a_face_and_not_on_grey_or_saturated_colour() -> None:
    pytest.importorskip("skimage.data")
    from soundstage.testing import sample_media

    frame = sample_media.astronaut_push_in(count=8, width=512, height=288)[3]
    grid = (128, 72)
    skin = masking.skin_blocks(frame, grid)
    y0, y1, x0, x1 = (v // masking.BLOCK for v in FACE_512)
    assert skin[y0:y1, x0:x1].mean() > 0.95
    flat = np.zeros((64, 64, 3), np.uint8)
    for colour in ((128, 128, 128), (240, 240, 240), (230, 60, 20), (30, 90, 200), (40, 160, 60)):
        flat[:] = colour
        assert not masking.skin_blocks(flat, (16, 16)).any(), colour


def _rms_against_grey(frame: np.ndarray, box: tuple[int, int, int, int] | None = None) -> float:
    """RMS amplitude of a frame's mask over that of the same frame in grey (same luma, same
    texture, no colour: never skin), on the whole frame or a box (y0, y1, x0, x1)."""
    grey = np.repeat(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
    y0, y1, x0, x1 = box or (0, frame.shape[0], 0, frame.shape[1])
    colour, plain = masking.amplitude(frame)[y0:y1, x0:x1], masking.amplitude(grey)[y0:y1, x0:x1]
    return float(np.sqrt(np.mean(colour ** 2) / np.mean(plain ** 2)))


def test_skin_coloured_fur_and_wood_keep_most_of_the_mark_and_a_face_does_not() -> None:
    """Skin detection is colour only: a ginger cat's fur and a garage's wood count as skin, and the
    skin cap took 40% of their mark (H.265 CRF 32: 23 -> 20 of the bench's 24 frames). Dense
    texture over a wide neighbourhood is not a face (DR015, sixth pass); a face keeps its cap."""
    pytest.importorskip("skimage.data")
    from soundstage.testing import sample_media

    cat, garage = samples.natural_frame(1920, 1080, variant=13), samples.natural_frame(1920, 1080, variant=4)
    assert masking.skin_blocks(cat, (480, 270)).mean() > 0.8                 # still skin by colour
    assert _rms_against_grey(cat) > 0.75, _rms_against_grey(cat)              # 0.87 (0.57 capped)
    assert _rms_against_grey(garage) > 0.75, _rms_against_grey(garage)        # 0.80 (0.59 capped)
    for width, height in ((1280, 720), (1920, 1080)):
        face = sample_media.astronaut_push_in(count=8, width=width, height=height)[3]
        box = tuple(round(v * width / 512) for v in FACE_512)
        assert _rms_against_grey(face, box) < 0.7, (width, _rms_against_grey(face, box))   # 0.58, 0.63
