"""The spread-spectrum engine: round trip, the photometric and codec attacks, clips, keys,
spread.1 marks, and what an adversary without the key can and cannot do."""

from __future__ import annotations

import base64

import cv2
import numpy as np
import pytest

from soundstage.errors import InputError
from soundstage.safeguards.watermark import PREVIZ_STRENGTH, Detection, SpreadSpectrumWatermark, WatermarkEngine, default_engine
from soundstage.safeguards.watermark import attacks, ecc, masking, samples
from soundstage.safeguards.watermark.spread import ALG, ALG_V1, DEFAULT_KEY, MAX_VALIDATIONS, tile_period_for

from .conftest import PAYLOAD

#: non-geometric attacks (the geometric ones: test_watermark_geometry.py) that every test frame survives
PHOTOMETRIC = ["jpeg50", "jpeg75", "jpeg30", "h264_crf28", "h265_crf32", "resize50", "crop10", "brightness+20",
               "contrast1.2", "blur", "noise", "gamma0.7", "saturation1.5", "hue30", "overlay"]
#: harder ones that most frames survive (bench/watermark.py gives the rate over 24 frames): at
#: least 2 of the 3 test frames must give their payload
HARDER = {"crop25area": attacks.STILL_ATTACKS["crop25area"], "letterbox": attacks.STILL_ATTACKS["letterbox"],
          "720p_crop_jpeg60": lambda f: attacks.jpeg(attacks.crop(attacks.resize(f, 2 / 3), 0.10), 60)}


def test_engine_satisfies_protocol(engine: SpreadSpectrumWatermark) -> None:
    assert isinstance(engine, WatermarkEngine)
    assert engine.payload_bits == 64 and engine.name == ALG == "io.soundstage.spread.2"


def test_round_trip_clean_frame(engine, natural_1080p, marked_1080p) -> None:
    found = engine.detect(marked_1080p)
    assert isinstance(found, Detection)
    assert found.found and found.payload == PAYLOAD
    assert found.false_positive_rate <= 1e-6
    assert found.engine == ALG and found.details["format"] == ALG
    assert marked_1080p.shape == natural_1080p.shape and marked_1080p.dtype == np.uint8


def test_same_delta_on_all_channels_keeps_hue(natural_1080p, marked_1080p) -> None:
    delta = marked_1080p.astype(np.int16) - natural_1080p
    inside = (natural_1080p >= 25).all(-1) & (natural_1080p <= 230).all(-1)  # no clipping there
    assert np.array_equal(delta[..., 0][inside], delta[..., 1][inside])
    assert np.array_equal(delta[..., 1][inside], delta[..., 2][inside])
    assert np.count_nonzero(delta) > 0.2 * delta.size


def test_remove_undoes_the_mark(engine, natural_1080p, marked_1080p) -> None:
    cleaned = engine.remove(marked_1080p, PAYLOAD)
    assert np.mean(np.abs(cleaned.astype(np.int16) - natural_1080p)) < 0.1
    assert engine.detect(cleaned).payload is None


@pytest.mark.parametrize("attack", PHOTOMETRIC)
def test_payload_survives_attack(engine, marked_frames, attack: str) -> None:
    for payload, marked in marked_frames:
        result = engine.detect(attacks.STILL_ATTACKS[attack](marked))
        assert result.found and result.payload == payload, result.details
        assert result.false_positive_rate <= 1e-6


@pytest.mark.parametrize("attack", sorted(HARDER))
def test_payload_survives_harder_attacks_on_most_frames(engine, marked_frames, attack: str) -> None:
    read = [engine.detect(HARDER[attack](marked)).payload == payload for payload, marked in marked_frames]
    assert sum(read) >= 2, read


def test_720p_frame_round_trip_under_jpeg50(engine) -> None:
    pytest.importorskip("skimage.data")
    frame = samples.natural_frame(1280, 720, variant=1)
    assert engine.detect(attacks.jpeg(engine.embed(frame, 12345), 50)).payload == 12345


def test_aspect_change_and_upscale(engine, marked_1080p) -> None:
    squeezed = cv2.resize(marked_1080p, (1728, 1080), interpolation=cv2.INTER_AREA)
    assert engine.detect(squeezed).payload == PAYLOAD
    assert engine.detect(attacks.resize(marked_1080p, 1.25)).payload == PAYLOAD


def test_other_key_does_not_read_our_mark(marked_1080p) -> None:
    stranger = SpreadSpectrumWatermark(key=b"another production's key")
    result = stranger.detect(marked_1080p)
    assert not result.found and result.payload is None


def test_a_mark_forged_with_the_public_key_is_not_this_productions(natural_1080p) -> None:
    """Anyone can mark with soundstage's public default key; a production's key does not read it."""
    forged = SpreadSpectrumWatermark(DEFAULT_KEY).embed(natural_1080p, PAYLOAD)
    production = SpreadSpectrumWatermark(b"\x17" * 32)
    assert not production.detect(forged).found
    assert SpreadSpectrumWatermark(DEFAULT_KEY).detect(forged).payload == PAYLOAD


def test_a_second_mark_on_top_does_not_yield_a_chimera(engine, marked_1080p) -> None:
    """Marking a marked frame again with another id (a re-used asset) reads one id or none, never a third."""
    double = engine.embed(marked_1080p, 0x1111_2222_3333_4444)
    assert engine.detect(double).payload in (None, PAYLOAD, 0x1111_2222_3333_4444)


def test_spread_1_marks_are_still_read(engine) -> None:
    """Marks made before spread.2 (same tile and keyed layout, RS(16, 8) bits) still give their id."""
    pytest.importorskip("skimage.data")
    frame = samples.natural_frame(1920, 1080, variant=2)
    period = tile_period_for(1080, 1920)
    tile = engine._tile_of_bits(ecc.encode_payload_v1(4242), period)
    pattern = np.tile(tile, (-(-1080 // period), -(-1920 // period)))[:1080, :1920]
    step = pattern * masking.amplitude(frame)
    old = np.clip(np.round(frame + step[..., None]), 0, 255).astype(np.uint8)
    result = engine.detect(attacks.jpeg(old, 75))
    assert result.payload == 4242, result.details
    assert result.details["format"] == ALG_V1 and result.details["decoded_by"] == "rs"


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
        assert not result.found and result.payload is None, (name, result.details)
        assert result.false_positive_rate == 1.0


def test_a_periodic_picture_at_our_own_period_is_not_a_mark(engine) -> None:
    """Tiled noise at exactly the tile period: the lattice search locks on, the keyed test says no."""
    rng = np.random.default_rng(8)
    period = tile_period_for(1080, 1920)
    tile = cv2.GaussianBlur(rng.normal(128, 40, (period, period)).astype(np.float32), (0, 0), 2)
    picture = np.tile(tile, (5, 8))[:1080, :1920]
    result = engine.detect(np.repeat(np.clip(picture, 0, 255).astype(np.uint8)[..., None], 3, -1))
    assert not result.found, result.details


def test_video_clip_h264_with_dropped_frames(engine) -> None:
    pytest.importorskip("skimage.data")
    clip = samples.panning_clip(n_frames=12, width=1280, height=720)
    marked = list(engine.embed_frames(clip, PAYLOAD))
    decoded = attacks.h264_roundtrip(marked, crf=28)
    kept = attacks.drop_frames(decoded, keep_every=3)
    assert engine.detect_frames(kept).payload == PAYLOAD
    assert engine.detect(decoded[5]).payload == PAYLOAD          # one frame is enough
    assert not engine.detect_frames(attacks.h264_roundtrip(clip[:4], crf=28)).found


@pytest.mark.slow
def test_video_clip_at_720p_low_bitrate_is_read_by_the_clip_reader(engine) -> None:
    """A low-bitrate 720p re-encode of a panning 1080p clip. CRF 32 holds; the issue's CRF 35 no
    longer does at the invisible strength (docs/design/watermark.md, "what still breaks it")."""
    pytest.importorskip("skimage.data")
    clip = samples.panning_clip(n_frames=12, width=1920, height=1080, pan_px=4)
    marked = [attacks.resize_to(f, 1280, 720) for f in engine.embed_frames(clip, PAYLOAD)]
    result = engine.detect_frames(attacks.h264_roundtrip(marked, crf=32))
    assert result.payload == PAYLOAD, result.details


def test_clip_where_the_mark_moves_with_the_picture(engine) -> None:
    """Low-bitrate codecs drag the mark along with motion; the clip reader aligns per frame."""
    pytest.importorskip("skimage.data")
    still = engine.embed(samples.natural_frame(1280, 720, variant=3), PAYLOAD)
    rng = np.random.default_rng(5)
    moving = [np.roll(still, tuple(rng.integers(0, 170, 2)), axis=(0, 1)) for _ in range(8)]
    result = engine.detect_frames(moving)
    assert result.payload == PAYLOAD, result.details
    assert result.details.get("mode") == "per-frame"      # the static fold alone cannot do it


def test_frames_of_one_clip_must_share_a_size(engine, marked_1080p) -> None:
    with pytest.raises(InputError, match="share a size"):
        engine.detect_frames([marked_1080p, marked_1080p[:540]])


def test_bad_inputs_raise_input_error(engine, natural_1080p) -> None:
    with pytest.raises(InputError):
        engine.embed(natural_1080p, -1)
    with pytest.raises(InputError):
        engine.embed(natural_1080p, 1 << 64)
    with pytest.raises(InputError):
        engine.embed(natural_1080p.astype(np.float32), 1)
    with pytest.raises(InputError):
        engine.detect(natural_1080p[..., 0])
    with pytest.raises(InputError):
        SpreadSpectrumWatermark(key=b"")


def test_c2pa_soft_binding_body(engine) -> None:
    body = engine.c2pa_soft_binding(PAYLOAD, timespan_ms=(0, 4000))
    assert body["alg"] == ALG
    block = body["blocks"][0]
    assert int.from_bytes(base64.b64decode(block["value"]), "big") == PAYLOAD
    assert block["scope"] == {"timespan": {"start": 0, "end": 4000}}
    assert engine.c2pa_soft_binding(7)["blocks"][0]["scope"] == {}


def test_the_reported_false_positive_rate_is_within_the_rules_bound(engine, marked_1080p) -> None:
    """Each validated point's p-value carries the MAX_VALIDATIONS union factor, so the whole rule
    (every point, every decoding tier) stays under ecc.soft_false_positive_bound() < 1e-6."""
    assert MAX_VALIDATIONS >= 8 and ecc.soft_false_positive_bound() < 1e-6
    result = engine.detect(marked_1080p)
    assert 0 < result.false_positive_rate <= ecc.soft_false_positive_bound()


def test_default_engine_is_cached_per_key_and_strength() -> None:
    key = b"\x42" * 32
    plain, again = default_engine(key), default_engine(key)
    previz = default_engine(key, strength=PREVIZ_STRENGTH)
    assert plain is again and previz is not plain
    card = np.full((360, 640, 3), (200, 60, 60), np.uint8)
    assert plain.detect(previz.embed(card, 9)).payload == 9          # reading does not depend on it


def test_previz_strength_survives_a_crossfade_of_flat_cards_through_h264() -> None:
    """Flat colour cards cross-faded (an animatic): each frame differs, so the codec keeps only
    what the mark adds above its quantiser; the invisible default is too weak there, previz is not."""
    previz = default_engine(None, strength=PREVIZ_STRENGTH)
    red, blue = np.full((180, 320, 3), (200, 60, 60), np.float32), np.full((180, 320, 3), (60, 60, 200), np.float32)
    fade = [previz.embed((red * (1 - t) + blue * t).astype(np.uint8), 0x5EED) for t in np.linspace(0, 1, 8)]
    decoded = attacks.h264_roundtrip(fade, crf=20, preset="veryfast")
    assert all(previz.detect(f).payload == 0x5EED for f in decoded[2:7])


@pytest.mark.parametrize("size", [(96, 128), (128, 96), (100, 300)])
def test_a_frame_smaller_than_one_tile_is_read(size) -> None:
    """The tile period never goes under 128 pixels, so a 96-line frame shows only part of a tile:
    the unseen rows fold to 0 instead of refusing the fold (measured sync z 12-13 on a gradient)."""
    height, width = size
    engine = SpreadSpectrumWatermark(b"small-frame-key")
    t = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :, None]
    frame = (np.float32([40, 90, 160]) * (1 - t) + np.float32([200, 150, 60]) * t).repeat(height, axis=0)
    frame[:, width // 3:width // 3 + 8] = 235.0
    frame = frame.astype(np.uint8)
    found = engine.detect(engine.embed(frame, 0xA1))
    assert found.found and found.payload == 0xA1
    assert not engine.detect(frame).found  # the unmarked picture, same geometry
    assert not SpreadSpectrumWatermark(b"another-key").detect(engine.embed(frame, 0xA1)).found
