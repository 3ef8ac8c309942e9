"""The HTTP backends against local servers that speak the real ComfyUI and OpenAI images protocols."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from soundstage.domain.safeguards import JobSpec, ModelCard, OperationKind
from soundstage.errors import BackendError, SpecError
from soundstage.generate.backends.comfyui_http import ComfyUIGenerator
from soundstage.generate.backends.openai_images import OpenAIImagesGenerator
from soundstage.generate.protocol import GenerationInput, GenerationRequest
from soundstage.testing.fake_servers import FakeComfyUI, FakeOpenAIImages
from soundstage.testing.identity import signer_for

FAST = {"timeout_s": 2.0, "retries": 2, "backoff_s": 0.01, "poll_interval_s": 0.01, "poll_timeout_s": 5}

# a text-to-image workflow as ComfyUI's "Save (API Format)" writes it
WORKFLOW = {
    "3": {"class_type": "KSampler", "inputs": {"seed": 0, "steps": 20, "cfg": 7.0, "sampler_name": "euler",
                                               "scheduler": "normal", "denoise": 1.0, "model": ["4", 0],
                                               "positive": ["6", 0], "negative": ["7", 0],
                                               "latent_image": ["5", 0]}},
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "studio-sd15.safetensors"}},
    "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 512, "height": 512, "batch_size": 1}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["4", 1]}},
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["4", 1]}},
    "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
    "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "soundstage", "images": ["8", 0]}},
    "10": {"class_type": "PreviewImage", "inputs": {"images": ["8", 0]}},
}
NODES = {"prompt": "6", "negative": "7", "seed": "3", "steps": "3", "size": "5"}


def job(params: dict, prompt: str = "a rain-soaked neon alley, wide") -> JobSpec:
    return JobSpec(id="J-http", production_id="p", operation=OperationKind.CONCEPT_ART, requested_by="tester",
                   model_id="remote", prompt=prompt, params=params)


def req(params: dict, inputs=(), prompt="a rain-soaked neon alley, wide") -> GenerationRequest:
    spec = job(params, prompt)
    return GenerationRequest(job=spec, inputs=tuple(inputs), params=spec.params, seed=int(params.get("seed", 0)))


@pytest.fixture
def comfy(tmp_path):
    workflow = tmp_path / "workflow_api.json"
    workflow.write_text(json.dumps(WORKFLOW))
    with FakeComfyUI(polls_before_done=2) as server:
        yield server, ComfyUIGenerator("studio.comfy", {"url": server.url, "workflow": str(workflow),
                                                         "nodes": NODES, **FAST})


@pytest.fixture
def openai(monkeypatch):
    monkeypatch.setenv("TEST_IMAGES_KEY", "sk-test-123")
    with FakeOpenAIImages(api_key="sk-test-123") as server:
        yield server, OpenAIImagesGenerator("vendor.images", {"base_url": server.url + "/v1", "model": "img-1",
                                                              "api_key_env": "TEST_IMAGES_KEY", **FAST})


def still(tmp_path: Path, pixels: np.ndarray, asset_id: int, name: str) -> GenerationInput:
    Image.fromarray(pixels).save(tmp_path / name)
    return GenerationInput(asset_id, tmp_path / name, "image/png", "plate", name)


def test_importing_http_backends_is_light():
    code = ("import sys; import soundstage.generate.backends.comfyui_http, soundstage.generate.backends.openai_images;"
            "assert 'httpx' not in sys.modules and 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# ----------------------------------------------------------------------------- ComfyUI

def test_comfyui_fills_the_workflow_polls_and_fetches_outputs(comfy):
    server, gen = comfy
    out = gen.generate(req({"seed": 42, "steps": 12, "width": 192, "height": 128, "negative_prompt": "blurry"}))
    assert len(out) == 1 and out[0].operation == "generated" and out[0].pixels.shape == (128, 192, 3)
    sent = server.requests_to("/prompt")[0].json["prompt"]
    assert sent["6"]["inputs"]["text"] == "a rain-soaked neon alley, wide"
    assert sent["7"]["inputs"]["text"] == "blurry"
    assert sent["3"]["inputs"]["seed"] == 42 and sent["3"]["inputs"]["steps"] == 12
    assert sent["5"]["inputs"] == {"width": 192, "height": 128, "batch_size": 1}
    assert len(server.requests_to("/history/")) == 3  # empty, empty, done
    views = server.requests_to("/view")
    assert len(views) == 1 and views[0].query["type"] == ["output"]  # the PreviewImage is not a result
    again = gen.generate(req({"seed": 42, "steps": 12, "width": 192, "height": 128, "negative_prompt": "blurry"}))
    assert np.array_equal(out[0].pixels, again[0].pixels)


def test_comfyui_img2img_uploads_the_input_and_names_the_parent(tmp_path):
    workflow = dict(WORKFLOW, **{"11": {"class_type": "LoadImage", "inputs": {"image": "placeholder.png"}}})
    path = tmp_path / "wf.json"
    path.write_text(json.dumps(workflow))
    source = still(tmp_path, np.full((64, 96, 3), 90, np.uint8), 77, "board_3A.png")
    with FakeComfyUI() as server:
        gen = ComfyUIGenerator("c", {"url": server.url, "workflow": str(path), "nodes": {**NODES, "image": "11"},
                                     **FAST})
        out = gen.generate(req({"seed": 1, "strength": 0.4}, (source,)))
    assert out[0].operation == "genai_edit" and out[0].parents == (77,) and out[0].pixels.shape == (64, 96, 3)
    sent = server.requests_to("/prompt")[0].json["prompt"]
    assert sent["11"]["inputs"]["image"] == "J-http_board_3A.png" and sent["3"]["inputs"]["denoise"] == 0.4


def test_comfyui_retries_a_500_then_succeeds(comfy):
    server, gen = comfy
    server.script("/prompt", 500, {"error": "out of memory"})
    out = gen.generate(req({"seed": 2}))
    assert len(out) == 1 and len(server.requests_to("/prompt")) == 2


def test_comfyui_validation_error_is_a_one_line_backend_error(comfy):
    server, gen = comfy
    server.script("/prompt", 400, {"error": {"type": "prompt_outputs_failed_validation",
                                             "message": "Prompt outputs failed validation", "details": ""},
                                   "node_errors": {"4": {"errors": []}}})
    with pytest.raises(BackendError) as err:
        gen.generate(req({}))
    assert "HTTP 400: Prompt outputs failed validation (node errors in 4)" in err.value.one_line()
    assert len(server.requests_to("/prompt")) == 1  # a 4xx is not retried


def test_comfyui_execution_error_and_poll_timeout(comfy, tmp_path):
    server, gen = comfy
    server.fail_execution = "CUDA error: device-side assert triggered"
    with pytest.raises(BackendError, match="workflow failed: CUDA error"):
        gen.generate(req({}))
    slow = FakeComfyUI(polls_before_done=10_000).start()
    try:
        cfg = {**gen.config, "url": slow.url, "poll_timeout_s": 0.2}
        started = time.monotonic()
        with pytest.raises(BackendError, match="did not finish within 0.2 s"):
            ComfyUIGenerator("c", cfg).generate(req({}))
        assert time.monotonic() - started < 3
    finally:
        slow.stop()


def test_comfyui_non_image_output_is_refused(comfy):
    server, gen = comfy
    server.script("/view", 200, b"<html>login required</html>", content_type="text/html")
    with pytest.raises(BackendError, match="not an image"):
        gen.generate(req({}))


def test_comfyui_config_errors(comfy, tmp_path):
    server, gen = comfy
    with pytest.raises(SpecError) as err:
        ComfyUIGenerator("c", {**gen.config, "nodes": {"prompt": "99"}}).generate(req({}))
    assert err.value.field == "config.nodes.prompt"
    (tmp_path / "ui.json").write_text(json.dumps({"nodes": [], "links": []}))  # the UI format, not the API one
    with pytest.raises(SpecError, match="API-format"):
        ComfyUIGenerator("c", {**gen.config, "workflow": str(tmp_path / "ui.json")}).generate(req({}))


# ----------------------------------------------------------------------------- OpenAI-compatible

def test_openai_generation_sends_the_real_request_shape(openai):
    server, gen = openai
    out = gen.generate(req({"width": 256, "height": 128, "count": 2, "quality": "low"}))
    assert len(out) == 2 and out[0].pixels.shape == (128, 256, 3) and out[0].operation == "generated"
    seen = server.requests_to("/v1/images/generations")[0]
    assert seen.headers["Authorization"] == "Bearer sk-test-123"
    assert seen.json == {"model": "img-1", "prompt": "a rain-soaked neon alley, wide", "n": 2, "size": "256x128",
                         "response_format": "b64_json", "quality": "low"}


def test_openai_edit_sends_image_and_transparent_mask(openai, tmp_path):
    server, gen = openai
    mask = np.zeros((64, 64, 3), np.uint8)
    mask[:, 32:] = 255
    inputs = (still(tmp_path, np.full((64, 64, 3), 50, np.uint8), 5, "plate.png"),
              still(tmp_path, mask, 6, "mask.png"))
    out = gen.generate(req({"mode": "edit", "size": "64x64"}, inputs))
    assert out[0].operation == "genai_edit" and out[0].parents == (5,)
    form = server.requests_to("/v1/images/edits")[0].form
    assert form["model"] == "img-1" and form["image"][0] == "plate.png"
    alpha = np.asarray(Image.open(__import__("io").BytesIO(form["mask"][1])))[..., 3]
    assert alpha[:, :32].min() == 255 and alpha[:, 32:].max() == 0  # transparent where we repaint


def test_openai_retries_then_succeeds_and_gives_up_bounded(openai):
    server, gen = openai
    server.script("/v1/images/generations", 503, {"error": {"message": "overloaded", "type": "server_error"}})
    assert len(gen.generate(req({"size": "64x64"}))) == 1
    assert len(server.requests_to("/v1/images/generations")) == 2
    for _ in range(3):
        server.script("/v1/images/generations", 500, {"error": {"message": "boom", "type": "server_error"}})
    with pytest.raises(BackendError, match=r"failed after 3 attempts: HTTP 500: boom"):
        gen.generate(req({"size": "64x64"}))


def test_openai_4xx_carries_the_servers_message(openai, monkeypatch):
    server, gen = openai
    monkeypatch.setenv("TEST_IMAGES_KEY", "sk-wrong")
    with pytest.raises(BackendError) as err:
        gen.generate(req({"size": "64x64"}))
    assert err.value.one_line() == "image service refused the request: HTTP 401: Incorrect API key provided."
    assert err.value.status == 401
    assert len(server.seen) == 1


def test_openai_timeout_is_bounded(openai):
    server, gen = openai
    for _ in range(2):
        server.script("/v1/images/generations", 200, {"data": []}, delay_s=0.8)
    slow = OpenAIImagesGenerator("v", {**gen.config, "timeout_s": 0.2, "retries": 1})
    started = time.monotonic()
    with pytest.raises(BackendError, match="failed after 2 attempts: timed out after 0.2 s"):
        slow.generate(req({"size": "64x64"}))
    assert time.monotonic() - started < 2


def test_openai_non_image_payload_and_bomb_are_refused(openai):
    from soundstage.errors import UnsafeInputError

    server, gen = openai
    server.b64_override = base64.b64encode(b"<html>not a picture</html>").decode()
    with pytest.raises(BackendError, match="not an image"):
        gen.generate(req({"size": "64x64"}))
    import io

    buf = io.BytesIO()
    Image.new("L", (10_000, 10_000)).save(buf, format="PNG")  # 100 Mpx of zeros: a few hundred KB
    server.b64_override = base64.b64encode(buf.getvalue()).decode()
    with pytest.raises(UnsafeInputError):
        gen.generate(req({"size": "64x64"}))


def test_openai_config_never_holds_the_key(monkeypatch):
    with pytest.raises(SpecError, match="holds a secret"):
        OpenAIImagesGenerator("v", {"model": "m", "api_key": "sk-live"})
    monkeypatch.delenv("NOPE_KEY", raising=False)
    with pytest.raises(SpecError, match="NOPE_KEY"):
        OpenAIImagesGenerator("v", {"model": "m", "api_key_env": "NOPE_KEY",
                                    "base_url": "http://127.0.0.1:9"}).generate(req({}))


def test_remote_cards_assume_the_worst_unless_told():
    card = OpenAIImagesGenerator("v", {"model": "m"}).model_card()
    assert (card.runs_in_production_env, card.stores_inputs, card.trains_on_inputs) == (False, True, True)
    told = ComfyUIGenerator("c", {"url": "http://x", "stores_inputs": True, "trains_on_inputs": False,
                                  "training_data": "licensed"}).model_card()
    assert (told.trains_on_inputs, told.training_data, told.runs_in_production_env) == (False, "licensed", False)


# ----------------------------------------------------------------------------- through the guard

def register_remote(ws, server, *, trains_on_inputs: bool):
    from soundstage.services import models

    card = ModelCard(id="vendor.images", name="Vendor Images", version="2026-01", licence="commercial ToS",
                     training_data="licensed", evidence="vendor attestation on file", stores_inputs=True,
                     trains_on_inputs=trains_on_inputs, runs_in_production_env=False, trained_model=True)
    models.register_model(ws, card, backend="openai-images", actor="setup",
                      config={"base_url": server.url + "/v1", "model": "img-1", "api_key_env": "TEST_IMAGES_KEY",
                              **FAST})


def test_likeness_job_on_a_remote_tool_that_trains_on_inputs_is_denied(workspace, openai, tmp_path):
    from soundstage.services import jobs_service as jobs
    from soundstage.services import people_service, talent_service
    from soundstage.services.ledger import ingest_media

    server, _ = openai
    ws = workspace
    people_service.add_crew(ws, "Ken Ito", ["vfx_supervisor"], actor="setup")
    maya = talent_service.add_performer(ws, "Maya Castell", union_status="sag-aftra", actor="setup")
    Image.fromarray(np.full((64, 64, 3), 120, np.uint8)).save(tmp_path / "plate.png")
    plate = ingest_media(ws, tmp_path / "plate.png", kind="plate", actor="setup", scene="5", shot="5A")
    register_remote(ws, server, trains_on_inputs=True)
    spec = JobSpec(id="", production_id=ws.production_id, operation=OperationKind.LIKENESS_COSMETIC,
                   requested_by="Ken Ito", model_id="vendor.images", prompt="remove the blemish",
                   inputs=(plate["id"],), performers=(maya["id"],), scene="5", shot="5A", alteration_amount=0.1,
                   params={"mode": "edit", "size": "64x64"})
    result = jobs.submit_job(ws, spec, actor="Ken Ito")
    assert result["status"] == "denied"
    assert "NFX-P2-LIKENESS" in [r["rule_id"] for r in result["decision"]["reasons"] if r["outcome"] == "deny"]
    assert server.seen == []  # the performer's likeness never left the building


def test_concept_art_on_a_remote_tool_escalates_then_runs_marked(workspace, openai):
    from soundstage.safeguards.guard import parse_asset_id
    from soundstage.safeguards.provenance import read_credentials
    from soundstage.media.images import read_image
    from soundstage.services import jobs_service as jobs
    from soundstage.services import models, people_service

    server, _ = openai
    ws = workspace
    people_service.add_crew(ws, "Ken Ito", ["vfx_supervisor"], actor="setup")
    holders = {"producer": "Priya Shah", "legal": "Tom Reed"}
    for role, person in holders.items():
        people_service.add_crew(ws, person, [role], actor="setup")
    register_remote(ws, server, trains_on_inputs=False)
    spec = JobSpec(id="", production_id=ws.production_id, operation=OperationKind.CONCEPT_ART,
                   requested_by="Ken Ito", model_id="vendor.images", prompt="a 1994 diner interior, concept",
                   params={"size": "256x256"})
    result = jobs.submit_job(ws, spec, actor="Ken Ito")
    assert result["status"] == "escalated" and "producer" in result["decision"]["approver_roles"]
    assert server.seen == []  # nothing is sent before the approval
    for role in result["decision"]["approver_roles"]:
        result = jobs.decide_on_job(ws, result["job"], signer=signer_for(ws, holders[role]),
                                    role=role, verdict="approve",
                                    note="ok for previz", actor=holders[role])
    assert result["status"] == "done", result
    asset = result["assets"][0]
    stored = ws.store.path_for(asset["sha256"])
    assert ws.watermark_engine().detect(read_image(stored)).payload == parse_asset_id(asset["id"])
    creds = read_credentials(stored)
    assert "c2pa.created" in creds.actions
    assert "sk-test-123" not in json.dumps(models.list_models(ws))  # the key never reaches the registry
