"""ComfyUI workflows that return video, against the protocol-faithful local ComfyUI server."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from soundstage.domain.safeguards import JobSpec, OperationKind
from soundstage.errors import BackendError
from soundstage.generate.backends.comfyui_http import ComfyUIGenerator
from soundstage.generate.protocol import GeneratedClip, GeneratedImage, GenerationRequest
from soundstage.media.video import iter_frames
from soundstage.safeguards.watermark import default_engine
from soundstage.testing.fake_servers import FakeComfyUI, moving_frames

KEY = b"comfy-production-secret-key-123"
FAST = {"timeout_s": 2.0, "retries": 2, "backoff_s": 0.01, "poll_interval_s": 0.01, "poll_timeout_s": 5}

# an LTX-Video text-to-video workflow as "Save (API Format)" writes it, saving through VHS_VideoCombine
LTXV = {
    "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "ltx-video-2b-v0.9.safetensors"}},
    "2": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["1", 1]}},
    "3": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["1", 1]}},
    "4": {"class_type": "EmptyLTXVLatentVideo", "inputs": {"width": 768, "height": 512, "length": 97,
                                                           "batch_size": 1}},
    "5": {"class_type": "KSampler", "inputs": {"seed": 0, "steps": 30, "cfg": 3.0, "sampler_name": "euler",
                                               "scheduler": "normal", "denoise": 1.0, "model": ["1", 0],
                                               "positive": ["2", 0], "negative": ["3", 0],
                                               "latent_image": ["4", 0]}},
    "6": {"class_type": "VAEDecode", "inputs": {"samples": ["5", 0], "vae": ["1", 2]}},
    "7": {"class_type": "VHS_VideoCombine", "inputs": {"frame_rate": 24, "loop_count": 0,
                                                       "filename_prefix": "soundstage", "format": "video/h264-mp4",
                                                       "pingpong": False, "save_output": True,
                                                       "images": ["6", 0]}},
}
NODES = {"prompt": "2", "negative": "3", "seed": "5", "steps": "5", "size": "4", "output": "7"}


def req(tmp_path: Path, params: dict, inputs=(), **kw) -> GenerationRequest:
    spec = JobSpec(id="J-comfy", production_id="p", operation=OperationKind.CONCEPT_ART, requested_by="t",
                   model_id="studio.comfy-video", prompt="a tide coming in over rocks", params=params)
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    return GenerationRequest(job=spec, inputs=tuple(inputs), params=params, seed=int(params.get("seed", 0)),
                             scratch_dir=scratch, reserved_asset_ids=(0xA1, 0xA2, 0xA3), watermark_key=KEY, **kw)


def make(tmp_path: Path, server: FakeComfyUI, workflow: dict, nodes: dict, **config) -> ComfyUIGenerator:
    path = tmp_path / "workflow_api.json"
    path.write_text(json.dumps(workflow))
    return ComfyUIGenerator("studio.comfy-video", {"url": server.url, "workflow": str(path), "nodes": nodes,
                                                   **FAST, **config})


def marked(path: Path, payload: int, picks=(0, -1)) -> None:
    frames = list(iter_frames(path))
    engine = default_engine(KEY)
    for index in picks:
        found = engine.detect(frames[index])
        assert found.found and found.payload == payload, index


def test_vhs_video_combine_mp4_becomes_a_marked_clip(tmp_path):
    with FakeComfyUI() as server:
        gen = make(tmp_path, server, LTXV, NODES)
        ticks = []
        out = gen.generate(req(tmp_path, {"seed": 5, "width": 160, "height": 128, "frames": 9, "fps": 12},
                               progress=lambda d, t: ticks.append((d, t))))
    assert len(out) == 1 and isinstance(out[0], GeneratedClip)
    clip = out[0]
    assert clip.payload == 0xA1 and clip.operation == "generated" and clip.details["frames"] == 9
    assert clip.details["fps"] == "12/1" and clip.details["size"] == [160, 128]
    sent = server.requests_to("/prompt")[0].json["prompt"]
    assert sent["4"]["inputs"]["length"] == 9 and sent["4"]["inputs"]["width"] == 160
    assert sent["7"]["inputs"]["frame_rate"] == 12 and sent["2"]["inputs"]["text"] == "a tide coming in over rocks"
    assert ticks[-9:] == [(i, 9) for i in range(1, 10)]
    marked(clip.path, 0xA1, (0, 4, 8))
    assert sorted(p.name for p in (tmp_path / "scratch").iterdir()) == [clip.path.name]  # download removed


def test_save_animated_webp_becomes_a_clip_at_its_frame_rate(tmp_path):
    workflow = {k: v for k, v in LTXV.items() if k != "7"}
    workflow["8"] = {"class_type": "SaveAnimatedWEBP", "inputs": {"filename_prefix": "soundstage", "fps": 8.0,
                                                                  "lossless": False, "quality": 90,
                                                                  "method": "default", "images": ["6", 0]}}
    with FakeComfyUI() as server:
        gen = make(tmp_path, server, workflow, {**NODES, "output": "8"})
        (clip,) = gen.generate(req(tmp_path, {"width": 128, "height": 128, "frames": 6}))
    history = server.requests_to("/view")
    assert history[0].query["filename"][0].endswith(".webp")
    assert clip.details["frames"] == 6 and clip.details["fps"] == "8/1"
    first = next(iter_frames(clip.path))
    expected = moving_frames("a tide coming in over rocks ", 0, 128, 128, 6)[0]
    assert np.abs(first.astype(int) - expected.astype(int)).mean() < 6  # the frames are the service's
    marked(clip.path, 0xA1)


def test_a_batch_of_saved_images_can_be_one_clip(tmp_path):
    workflow = {k: v for k, v in LTXV.items() if k not in ("4", "7")}
    workflow["4"] = {"class_type": "EmptyLatentImage", "inputs": {"width": 128, "height": 96, "batch_size": 5}}
    workflow["9"] = {"class_type": "SaveImage", "inputs": {"filename_prefix": "frames", "images": ["6", 0]}}
    with FakeComfyUI() as server:
        stills = make(tmp_path, server, workflow, {**NODES, "output": "9"})
        images = stills.generate(req(tmp_path, {}))
        assert len(images) == 5 and all(isinstance(i, GeneratedImage) for i in images)
        gen = make(tmp_path, server, workflow, {**NODES, "output": "9"}, frames_as_clip=True, fps=6)
        (clip,) = gen.generate(req(tmp_path, {"frames": 7}))
    assert clip.details["frames"] == 7 and clip.details["size"] == [128, 96] and clip.details["fps"] == "6/1"
    marked(clip.path, 0xA1, (0, 3, 6))


def test_an_oversized_video_download_is_refused(tmp_path):
    with FakeComfyUI() as server:
        gen = make(tmp_path, server, LTXV, NODES, max_download_bytes=2048)
        with pytest.raises(BackendError, match="download limit"):
            gen.generate(req(tmp_path, {"width": 160, "height": 128, "frames": 9}))
    assert list((tmp_path / "scratch").iterdir()) == []


def test_a_video_output_that_is_not_a_video_is_refused(tmp_path):
    with FakeComfyUI() as server:
        gen = make(tmp_path, server, LTXV, NODES)
        server.script("/view", 200, b"<html>login</html>", content_type="text/html")
        with pytest.raises(BackendError, match="not a video"):
            gen.generate(req(tmp_path, {"width": 160, "height": 128, "frames": 9}))
    assert list((tmp_path / "scratch").iterdir()) == []


def test_a_frame_count_out_of_bounds_is_refused_by_the_declarations():
    from soundstage.domain.params import validate as validate_params
    from soundstage.errors import SpecError
    from soundstage.generate.registry import operation_params

    table = operation_params(ComfyUIGenerator("c", {}), "concept_art")
    with pytest.raises(SpecError) as err:
        validate_params({"frames": 100_000}, table, operation="concept_art on c")
    assert err.value.field == "params.frames"
