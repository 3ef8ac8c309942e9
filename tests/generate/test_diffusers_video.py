"""The diffusers video backend on a tiny, randomly initialised LTX-Video pipeline built here."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from soundstage.domain.safeguards import JobSpec, OperationKind
from soundstage.errors import InputError, RefusedError, SpecError
from soundstage.generate.backends.diffusers_local import weights_digest
from soundstage.generate.backends.diffusers_video import DiffusersVideoGenerator
from soundstage.generate.protocol import GeneratedClip, GenerationInput, GenerationRequest
from soundstage.generate.registry import get_generator
from soundstage.media.video import iter_frames
from soundstage.safeguards.watermark import default_engine

KEY = b"another-production-secret-key!!"
SMALL = {"frames": 9, "width": 128, "height": 128, "steps": 2, "fps": 12}


def backend(path: Path, **config) -> DiffusersVideoGenerator:
    return DiffusersVideoGenerator("studio.ltx", {"path": str(path), "weights_sha256": weights_digest(path), **config})


def request(tmp_path: Path, params: dict, inputs=(), prompt="storm clouds over a harbour", **kw):
    spec = JobSpec(id="J-ltx", production_id="p", operation=OperationKind.CONCEPT_ART, requested_by="t",
                   model_id="studio.ltx", prompt=prompt, params=params)
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    return GenerationRequest(job=spec, inputs=tuple(inputs), params=params, seed=int(params.get("seed", 0)),
                             scratch_dir=scratch, reserved_asset_ids=(0xC11B, 0xC11C), watermark_key=KEY, **kw)


def test_importing_the_backend_does_not_import_torch():
    code = ("import sys, soundstage.generate.backends.diffusers_video as m; "
            "assert 'torch' not in sys.modules and 'diffusers' not in sys.modules and 'av' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


@pytest.mark.slow
def test_text2video_streams_marked_frames_reproducibly(tiny_ltx, tmp_path):
    ticks: list[tuple[int, int]] = []
    gen = backend(tiny_ltx)
    (clip,) = gen.generate(request(tmp_path, {**SMALL, "seed": 3}, progress=lambda d, t: ticks.append((d, t))))
    assert isinstance(clip, GeneratedClip) and clip.operation == "generated" and clip.payload == 0xC11B
    assert clip.details["frames"] == 9 and clip.details["size"] == [128, 128] and clip.details["fps"] == "12/1"
    assert clip.details["weights_sha256"] == weights_digest(tiny_ltx)
    assert ticks[:2] == [(1, 2), (2, 2)] and ticks[2:] == [(i, 9) for i in range(1, 10)]  # steps, then frames
    frames = list(iter_frames(clip.path))
    assert len(frames) == 9 and frames[0].shape == (128, 128, 3)
    engine = default_engine(KEY)
    for index in (0, 4, 8):  # every frame carries the id, not only the first
        found = engine.detect(frames[index])
        assert found.found and found.payload == 0xC11B, index
    other = tmp_path / "again"
    other.mkdir()
    (again,) = gen.generate(request(other, {**SMALL, "seed": 3}))
    assert np.array_equal(np.stack(list(iter_frames(again.path))), np.stack(frames))  # same seed, same clip


@pytest.mark.slow
def test_image2video_is_conditioned_on_the_input_and_names_it(tiny_ltx, tmp_path):
    clips = []
    for level in (20, 230):  # two different pictures to animate, the same seed and prompt
        still = np.full((128, 128, 3), level, np.uint8)
        still[:, 64:] = 255 - level
        folder = tmp_path / str(level)
        folder.mkdir()
        Image.fromarray(still).save(folder / "board.png")
        source = GenerationInput(41, folder / "board.png", "image/png", "image", "board.png")
        (clip,) = backend(tiny_ltx).generate(request(folder, {**SMALL, "mode": "image2video"}, (source,)))
        assert clip.operation == "genai_edit" and clip.parents == (41,) and clip.details["source"] == "board.png"
        clips.append(np.stack(list(iter_frames(clip.path))).astype(float))
    # a random VAE cannot reproduce the picture, but the picture must steer the clip
    assert np.abs(clips[0] - clips[1]).mean() > 0.5


@pytest.mark.parametrize("params, field", [
    ({"frames": 10}, "params.frames"),  # not 1 + 4k for this VAE
    ({"width": 130}, "params.width"),  # not a multiple of 4
    ({"frames": 5000}, "params.frames"),
    ({"width": 8192}, "params.width"),
    ({"guidance_scale": 99.0}, "params.guidance_scale"),
    ({"mode": "video2video"}, "params.mode"),
])
def test_params_out_of_bounds_are_refused(tiny_ltx, tmp_path, params, field):
    with pytest.raises(SpecError) as err:
        backend(tiny_ltx).generate(request(tmp_path, {**SMALL, **params}))
    assert err.value.field == field
    assert list((tmp_path / "scratch").iterdir()) == []


def test_image2video_needs_an_image(tiny_ltx, tmp_path):
    with pytest.raises(InputError, match="needs the image to animate"):
        backend(tiny_ltx).generate(request(tmp_path, {**SMALL, "mode": "image2video"}))


def test_swapped_weights_are_refused_before_loading(tiny_ltx, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_ltx, copy)
    registered = weights_digest(copy)
    weights = sorted(copy.rglob("*.safetensors"))[0]
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    gen = DiffusersVideoGenerator("studio.ltx", {"path": str(copy), "weights_sha256": registered})
    with pytest.raises(RefusedError, match="do not match"):
        gen.generate(request(tmp_path, SMALL))


@pytest.mark.slow
def test_cancelling_stops_and_leaves_no_file(tiny_ltx, tmp_path):
    with pytest.raises(Exception, match="cancelled"):
        backend(tiny_ltx).generate(request(tmp_path, SMALL, cancelled=lambda: True))
    assert list((tmp_path / "scratch").iterdir()) == []


def test_registry_builds_it_and_the_card_names_the_weights(tiny_ltx):
    gen = get_generator("studio.ltx", "diffusers-video", {"path": str(tiny_ltx)})
    card = gen.model_card()
    assert card.weights_sha256 == weights_digest(tiny_ltx) and card.trained_model
    assert "ltx" in card.name
