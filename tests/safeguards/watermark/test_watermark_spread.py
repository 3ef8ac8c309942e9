"""The spread-spectrum engine: round trip, the attack suite, PSNR, and no false alarms."""

from __future__ import annotations

import numpy as np
import pytest

from soundstage.errors import InputError
from soundstage.safeguards.watermark import Detection, SpreadSpectrumWatermark, WatermarkEngine
from soundstage.safeguards.watermark import attacks, samples

PAYLOAD = 0xD1CE_5EED_0BAD_F00D  # same id as conftest.py uses for marked_1080p


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255.0**2 / mse)


def test_engine_satisfies_protocol(engine: SpreadSpectrumWatermark) -> None:
    assert isinstance(engine, WatermarkEngine)
    assert engine.payload_bits == 64


def test_round_trip_clean_frame(engine, natural_1080p, marked_1080p) -> None:
    found = engine.detect(marked_1080p)
    assert isinstance(found, Detection)
    assert found.found and found.payload == PAYLOAD
    assert found.false_positive_rate <= 1e-6
    assert found.engine == "io.soundstage.spread.1"
    assert marked_1080p.shape == natural_1080p.shape and marked_1080p.dtype == np.uint8


def test_psnr_at_least_40db(engine, natural_1080p, marked_1080p) -> None:
    assert psnr(natural_1080p, marked_1080p) >= 40.0
    for frame in samples.synthetic_frames(640, 360).values():
        assert psnr(frame, engine.embed(frame, PAYLOAD)) >= 40.0


def test_same_delta_on_all_channels_keeps_hue(engine, natural_1080p, marked_1080p) -> None:
    delta = marked_1080p.astype(np.int16) - natural_1080p
    inside = (natural_1080p >= 25).all(-1) & (natural_1080p <= 230).all(-1)  # no clipping there
    assert np.array_equal(delta[..., 0][inside], delta[..., 1][inside])
    assert np.array_equal(delta[..., 1][inside], delta[..., 2][inside])


@pytest.mark.parametrize("attack", [a for a in attacks.STILL_ATTACKS if a != "none"])
def test_payload_survives_attack(engine, marked_1080p, attack: str) -> None:
    attacked = attacks.STILL_ATTACKS[attack](marked_1080p)
    result = engine.detect(attacked)
    assert result.found, result.details
    assert result.payload == PAYLOAD, result.details


def test_resize_to_720p_and_combined_attack(engine, marked_1080p) -> None:
    small = attacks.jpeg(attacks.crop(attacks.resize(marked_1080p, 2 / 3), 0.10), 60)
    result = engine.detect(small)
    assert result.payload == PAYLOAD, result.details


def test_720p_frame_round_trip_under_jpeg50(engine) -> None:
    pytest.importorskip("skimage.data")
    frame = samples.natural_frame(1280, 720, variant=1)
    result = engine.detect(attacks.jpeg(engine.embed(frame, 12345), 50))
    assert result.payload == 12345


def test_other_key_does_not_read_our_mark(marked_1080p) -> None:
    stranger = SpreadSpectrumWatermark(key=b"another production's key")
    assert not stranger.detect(marked_1080p).found


def test_unmarked_natural_images_not_detected(engine) -> None:
    pytest.importorskip("skimage.data")
    for variant in range(4):
        result = engine.detect(samples.natural_frame(1280, 720, variant=variant))
        assert not result.found and result.payload is None, (variant, result.details)
    for name, image in samples.natural_images().items():
        if min(image.shape[:2]) >= 64:
            assert not engine.detect(image).found, name


def test_unmarked_synthetic_images_not_detected(engine) -> None:
    for name, frame in samples.synthetic_frames(1280, 720).items():
        result = engine.detect(frame)
        assert not result.found, (name, result.details)
        assert result.false_positive_rate == 1.0
        # structured pictures must not pass the RS check either (flat grey used to read as
        # the all-zero codeword before the keyed scrambling)
        assert result.details["rs_corrected_bytes"] == -1, name


def test_sync_score_is_small_on_unmarked_input(engine) -> None:
    """The null sync z (max over 16384 shifts) of noise stays well below the threshold."""
    rng = np.random.default_rng(3)
    zs = []
    for _ in range(6):
        noise = np.clip(rng.normal(128, 40, (360, 640, 1)), 0, 255).astype(np.uint8).repeat(3, -1)
        zs.append(engine.detect(noise).details["sync_z"])
    assert max(zs) < 6.0, zs


def test_video_clip_h264_with_dropped_frames(engine) -> None:
    pytest.importorskip("skimage.data")
    clip = samples.panning_clip(n_frames=12, width=1280, height=720)
    marked = list(engine.embed_frames(clip, PAYLOAD))
    decoded = attacks.h264_roundtrip(marked, crf=28)
    kept = attacks.drop_frames(decoded, keep_every=3)
    assert engine.detect_frames(kept).payload == PAYLOAD
    assert engine.detect(decoded[5]).payload == PAYLOAD          # one frame is enough
    assert not engine.detect_frames(attacks.h264_roundtrip(clip[:4], crf=28)).found


def test_bad_inputs_raise_input_error(engine, natural_1080p) -> None:
    with pytest.raises(InputError):
        engine.embed(natural_1080p, -1)
    with pytest.raises(InputError):
        engine.embed(natural_1080p, 1 << 64)
    with pytest.raises(InputError):
        engine.embed(natural_1080p.astype(np.float32), 1)
    with pytest.raises(InputError):
        engine.detect(natural_1080p[..., 0])


def test_c2pa_soft_binding_body(engine) -> None:
    body = engine.c2pa_soft_binding(PAYLOAD, timespan_ms=(0, 4000))
    assert body["alg"] == "io.soundstage.spread.1"
    import base64

    block = body["blocks"][0]
    assert int.from_bytes(base64.b64decode(block["value"]), "big") == PAYLOAD
    assert block["scope"] == {"timespan": {"start": 0, "end": 4000}}
    assert engine.c2pa_soft_binding(7)["blocks"][0]["scope"] == {}


def test_aspect_change_and_upscale(engine, marked_1080p) -> None:
    import cv2

    squeezed = cv2.resize(marked_1080p, (1728, 1080), interpolation=cv2.INTER_AREA)
    assert engine.detect(squeezed).payload == PAYLOAD
    assert engine.detect(attacks.resize(marked_1080p, 1.25)).payload == PAYLOAD


def test_clip_where_the_mark_moves_with_the_picture(engine) -> None:
    """Low-bitrate codecs drag the mark along with motion; the clip reader aligns per frame."""
    pytest.importorskip("skimage.data")
    still = engine.embed(samples.natural_frame(1280, 720, variant=3), PAYLOAD)
    rng = np.random.default_rng(5)
    moving = [np.roll(still, tuple(rng.integers(0, 170, 2)), axis=(0, 1)) for _ in range(8)]
    result = engine.detect_frames(moving)
    assert result.payload == PAYLOAD, result.details
    assert result.details.get("mode") == "per-frame"      # the static fold alone cannot do it
