"""The diffusers video backend's Wan and CogVideoX families, on tiny randomly initialised pipelines
built in the tests (nothing downloaded): marked frames streamed, shapes checked, modes refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from soundstage.domain.safeguards import JobSpec, OperationKind
from soundstage.errors import SpecError
from soundstage.generate.backends.diffusers_local import weights_digest
from soundstage.generate.backends.diffusers_video import DiffusersVideoGenerator
from soundstage.generate.protocol import GeneratedClip, GenerationInput, GenerationRequest
from soundstage.generate.registry import get_generator
from soundstage.media.video import iter_frames
from soundstage.safeguards.watermark import default_engine

KEY = b"another-production-secret-key!!"
SMALL = {"frames": 5, "width": 128, "height": 128, "steps": 1, "fps": 12}
COG = {**SMALL, "frames": 9}  # CogVideoX: 1 + 8k frames (an odd count of latent frames)


def backend(path: Path, family: str) -> DiffusersVideoGenerator:
    return DiffusersVideoGenerator(f"studio.{family}", {"path": str(path), "weights_sha256": weights_digest(path),
                                                         "family": family})


def request(tmp_path: Path, params: dict, inputs=(), prompt="dust rolling down a street"):
    spec = JobSpec(id="J-vid", production_id="p", operation=OperationKind.CONCEPT_ART, requested_by="t",
                   model_id="studio.video", prompt=prompt, params=params)
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    return GenerationRequest(job=spec, inputs=tuple(inputs), params=params, seed=int(params.get("seed", 0)),
                             scratch_dir=scratch, reserved_asset_ids=(0xBEEF,), watermark_key=KEY)


def assert_marked_clip(clip: GeneratedClip, frames: int, side: int) -> np.ndarray:
    assert isinstance(clip, GeneratedClip) and clip.payload == 0xBEEF
    decoded = list(iter_frames(clip.path))
    assert len(decoded) == frames and decoded[0].shape == (side, side, 3)
    engine = default_engine(KEY)
    for index in (0, frames - 1):
        found = engine.detect(decoded[index])
        assert found.found and found.payload == 0xBEEF, index
    return np.stack(decoded)


def still(tmp_path: Path, level: int) -> GenerationInput:
    picture = np.full((128, 128, 3), level, np.uint8)
    picture[:, 64:] = 255 - level
    folder = tmp_path / f"in{level}"
    folder.mkdir()
    Image.fromarray(picture).save(folder / "board.png")
    return GenerationInput(41, folder / "board.png", "image/png", "image", "board.png")


@pytest.mark.slow
def test_wan_text2video_streams_marked_frames(tiny_wan, tmp_path):
    (clip,) = backend(tiny_wan, "wan").generate(request(tmp_path, {**SMALL, "seed": 2}))
    assert clip.operation == "generated" and clip.details["family"] == "wan"
    frames = assert_marked_clip(clip, 5, 128)
    assert frames.std() > 1  # the pipeline's own frames, not a blank


def test_wan_refuses_what_it_does_not_do_before_running(tiny_wan, tmp_path):
    gen = backend(tiny_wan, "wan")
    with pytest.raises(SpecError, match="not wired for the wan family") as err:
        gen.generate(request(tmp_path, {**SMALL, "mode": "image2video"}, (still(tmp_path, 20),)))
    assert err.value.field == "params.mode"
    with pytest.raises(SpecError, match="frame-size step 16") as err:  # 8x VAE x 2x2 patches
        gen.generate(request(tmp_path, {**SMALL, "width": 120}))
    assert err.value.field == "params.width"
    with pytest.raises(SpecError, match="nearest: 5") as err:  # 4x temporal compression: 1 + 4k frames
        gen.generate(request(tmp_path, {**SMALL, "frames": 6}))
    assert list((tmp_path / "scratch").iterdir()) == []


@pytest.mark.slow
def test_cogvideox_text2video_streams_marked_frames(tiny_cogvideox, tmp_path):
    (clip,) = backend(tiny_cogvideox, "cogvideox").generate(request(tmp_path, {**COG, "seed": 1}))
    assert clip.details["family"] == "cogvideox" and clip.details["weights_sha256"] == weights_digest(tiny_cogvideox)
    assert_marked_clip(clip, 9, 128)
    with pytest.raises(SpecError, match="nearest: 9") as err:  # 6 frames: 2 latents, which decode to 8: refused
        backend(tiny_cogvideox, "cogvideox").generate(request(tmp_path, {**SMALL, "frames": 6}))
    assert err.value.field == "params.frames"


@pytest.mark.slow
def test_cogvideox_image2video_is_conditioned_on_the_input(tiny_cogvideox_i2v, tmp_path):
    clips = []
    for level in (20, 230):
        source = still(tmp_path, level)
        folder = tmp_path / f"out{level}"
        folder.mkdir()
        (clip,) = backend(tiny_cogvideox_i2v, "cogvideox").generate(
            request(folder, {**COG, "mode": "image2video"}, (source,)))
        assert clip.operation == "genai_edit" and clip.parents == (41,)
        clips.append(assert_marked_clip(clip, 9, 128).astype(float))
    assert np.abs(clips[0] - clips[1]).mean() > 0.5  # the picture steers the clip


def test_a_cogvideox_checkpoint_does_only_its_own_mode(tiny_cogvideox, tiny_cogvideox_i2v, tmp_path):
    with pytest.raises(SpecError, match="needs a CogVideoXImageToVideoPipeline checkpoint"):
        backend(tiny_cogvideox, "cogvideox").generate(
            request(tmp_path, {**COG, "mode": "image2video"}, (still(tmp_path, 20),)))
    with pytest.raises(SpecError, match="needs a CogVideoXPipeline checkpoint"):
        backend(tiny_cogvideox_i2v, "cogvideox").generate(request(tmp_path, COG))


def test_an_unknown_family_is_refused(tiny_wan, tmp_path):
    with pytest.raises(SpecError, match="not a video family") as err:
        backend(tiny_wan, "sora").generate(request(tmp_path, SMALL))
    assert err.value.field == "config.family"


def test_registry_cards_name_the_family(tiny_wan, tiny_cogvideox):
    for path, family in ((tiny_wan, "wan"), (tiny_cogvideox, "cogvideox")):
        card = get_generator(f"studio.{family}", "diffusers-video", {"path": str(path), "family": family}).model_card()
        assert card.trained_model and card.weights_sha256 == weights_digest(path) and family in card.name
