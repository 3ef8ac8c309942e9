"""The diffusers backend for real, on tiny randomly initialised pipelines built and saved locally.

Nothing is downloaded (HF_HUB_OFFLINE=1, local_files_only=True). Outputs are noise; what is checked is
the real loading, verification, inference, reproducibility and the guarded path around it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"

import numpy as np
import pytest
from PIL import Image

from soundstage.domain.safeguards import JobSpec, ModelCard, OperationKind
from soundstage.errors import InputError, RefusedError, SpecError
from soundstage.generate.backends.diffusers_local import DiffusersGenerator, weights_digest
from soundstage.generate.protocol import GenerationInput, GenerationRequest
from soundstage.generate.registry import get_generator

MODEL_ID = "local.tiny-sd"


@pytest.fixture(scope="session")
def tiny_sd(tmp_path_factory) -> Path:
    import torch

    from soundstage.testing.tiny_diffusers import build_tiny_controlnet, build_tiny_sd

    # a 1 M-parameter model gains nothing from threads, and on a busy 2-core box OpenMP spin-waiting
    # made a 64 px, 2-step run take 6 s instead of 0.1 s
    torch.set_num_threads(1)
    path = build_tiny_sd(tmp_path_factory.mktemp("weights") / "tiny-sd")
    build_tiny_controlnet(path / "controlnet")
    backend(path)._base_pipeline(weights_digest(path))  # pay the one-time diffusers import/load here
    return path


def backend(path: Path, **config) -> DiffusersGenerator:
    return DiffusersGenerator(MODEL_ID, {"path": str(path), "weights_sha256": weights_digest(path), **config})


def request(params: dict, inputs: tuple[GenerationInput, ...] = (), prompt: str = "a red wool coat") -> GenerationRequest:
    job = JobSpec(id="J-test", production_id="p", operation=OperationKind.CONCEPT_ART, requested_by="tester",
                  model_id=MODEL_ID, prompt=prompt, params=params)
    return GenerationRequest(job=job, inputs=inputs, params=job.params, seed=int(params.get("seed", 0)))


def image_input(tmp_path: Path, pixels: np.ndarray, asset_id: int, name: str) -> GenerationInput:
    path = tmp_path / name
    Image.fromarray(pixels).save(path)
    return GenerationInput(asset_id, path, "image/png", "plate", name)


def plate(seed: int = 0, size: tuple[int, int] = (96, 128)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ramp = np.linspace(30, 220, size[1])[None, :, None]
    return np.clip(ramp + rng.normal(0, 12, (*size, 3)), 0, 255).astype(np.uint8)


SMALL = {"width": 64, "height": 64, "steps": 2}


def test_importing_the_backend_does_not_import_torch():
    code = ("import sys, soundstage.generate.backends.diffusers_local as m; "
            "assert 'torch' not in sys.modules and 'diffusers' not in sys.modules, 'eager import'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_weights_digest_is_the_sorted_sha256sum_listing(tiny_sd, tmp_path):
    import hashlib

    listing = ""
    for file in sorted(p.relative_to(tiny_sd).as_posix() for p in tiny_sd.rglob("*")
                       if p.suffix in (".safetensors", ".bin")):
        listing += f"{hashlib.sha256((tiny_sd / file).read_bytes()).hexdigest()}  {file}\n"
    assert weights_digest(tiny_sd) == hashlib.sha256(listing.encode()).hexdigest()
    assert "unet/diffusion_pytorch_model.safetensors" in listing and "controlnet/" in listing
    copy = shutil.copytree(tiny_sd, tmp_path / "elsewhere")
    assert weights_digest(copy) == weights_digest(tiny_sd)  # location-independent
    (copy / "model_index.json").write_text((copy / "model_index.json").read_text() + " ")
    assert weights_digest(copy) == weights_digest(tiny_sd)  # only weight files count
    with pytest.raises(InputError, match="no weight files"):
        weights_digest(tmp_path / "elsewhere" / "scheduler")


def test_text2img_is_reproducible_per_seed(tiny_sd):
    gen = backend(tiny_sd)
    first = gen.generate(request({**SMALL, "mode": "text2img", "seed": 7}))
    again = gen.generate(request({**SMALL, "mode": "text2img", "seed": 7}))
    other = gen.generate(request({**SMALL, "mode": "text2img", "seed": 8}))
    assert len(first) == 1 and first[0].operation == "generated" and first[0].parents == ()
    assert first[0].pixels.shape == (64, 64, 3) and first[0].pixels.dtype == np.uint8
    assert np.array_equal(first[0].pixels, again[0].pixels)
    assert not np.array_equal(first[0].pixels, other[0].pixels)
    assert first[0].details["weights_sha256"] == weights_digest(tiny_sd)
    assert first[0].pixels.std() > 1  # a real decode, not a blank frame


def test_text2img_progress_and_count(tiny_sd):
    seen = []
    req = request({**SMALL, "mode": "text2img", "steps": 3, "count": 2, "seed": 1})
    req = GenerationRequest(job=req.job, params=req.params, seed=1, progress=lambda d, t: seen.append((d, t)))
    outputs = backend(tiny_sd).generate(req)
    assert [o.details["seed"] for o in outputs] == [1, 2]
    assert seen[:3] == [(1, 3), (2, 3), (3, 3)]


def test_img2img_edits_the_input_and_names_it_as_parent(tiny_sd, tmp_path):
    source = image_input(tmp_path, plate(), 41, "plate.png")
    out = backend(tiny_sd).generate(request({"mode": "img2img", "steps": 2, "strength": 0.5, "seed": 3}, (source,)))
    assert out[0].operation == "genai_edit" and out[0].parents == (41,)
    assert out[0].pixels.shape == (96, 128, 3)  # the input's size (already a multiple of 8)


def test_inpaint_changes_only_the_masked_region(tiny_sd, tmp_path):
    original = plate(1, (128, 128))
    mask = np.zeros((128, 128, 3), np.uint8)
    mask[32:96, 40:88] = 255
    inputs = (image_input(tmp_path, original, 51, "plate.png"), image_input(tmp_path, mask, 52, "mask.png"))
    out = backend(tiny_sd).generate(request({"mode": "inpaint", "steps": 2, "seed": 5}, inputs))[0]
    assert out.operation == "genai_edit" and out.parents == (51,)
    outside = mask[:, :, 0] == 0
    assert np.array_equal(out.pixels[outside], original[outside])
    assert not np.array_equal(out.pixels[~outside], original[~outside])


def test_inpaint_refuses_a_mask_of_the_wrong_size(tiny_sd, tmp_path):
    inputs = (image_input(tmp_path, plate(1, (128, 128)), 51, "plate.png"),
              image_input(tmp_path, np.full((64, 64, 3), 255, np.uint8), 52, "mask.png"))
    with pytest.raises(InputError, match="mask mask.png is 64x64"):
        backend(tiny_sd).generate(request({"mode": "inpaint", "steps": 2}, inputs))


def test_controlnet_depth_follows_the_depth_map(tiny_sd, tmp_path):
    """The depth map is what the ControlNet is conditioned on, and what it hands the UNet changes
    with it. Watched at the ControlNet itself: the tiny random ControlNet barely reacts to its
    conditioning and the tiny random VAE barely to the latents, so a depth map and a flat one decoded
    to the same pixels on one CPU and a grey level apart on another: the pixels cannot show it."""
    depth = np.repeat(np.linspace(0, 255, 64, dtype=np.uint8)[None, :, None], 64, axis=0).repeat(3, axis=2)
    flat = np.full_like(depth, 128)
    gen = backend(tiny_sd)
    seen: list[tuple] = []

    def watch(module, args, kwargs, output):
        down, mid = output
        seen.append((kwargs["controlnet_cond"].detach().clone(), mid.detach().clone()))

    controlnet = gen._pipeline("controlnet-depth", weights_digest(tiny_sd)).controlnet
    hook = controlnet.register_forward_hook(watch, with_kwargs=True)
    try:
        a = gen.generate(request({"mode": "controlnet-depth", "steps": 2, "seed": 2},
                                 (image_input(tmp_path, depth, 61, "depth.png"),)))[0]
        calls = len(seen)
        b = gen.generate(request({"mode": "controlnet-depth", "steps": 2, "seed": 2},
                                 (image_input(tmp_path, flat, 62, "flat.png"),)))[0]
    finally:
        hook.remove()
    assert a.operation == "genai_edit" and a.parents == (61,) and a.pixels.shape == (64, 64, 3)
    assert b.parents == (62,) and calls >= 2 and len(seen) == 2 * calls
    cond_a, mid_a = seen[0]
    cond_b, mid_b = seen[calls]
    ramp = cond_a[0].mean(dim=(0, 1)).numpy()           # the depth map, as the ControlNet got it
    assert ramp[-1] - ramp[0] > 0.8 and np.all(np.diff(ramp) >= 0)
    assert float(cond_b.std()) < 1e-6                    # the flat map, flat
    # and what reaches the UNet differs: by ~1e-4 of its size with this random ControlNet, where the same
    # conditioning would give the same residuals to the last bit (deterministic CPU inference)
    assert float((mid_a - mid_b).abs().max()) > 1e-5 * float(mid_a.abs().max())


def test_tampered_weights_are_refused_before_loading(tiny_sd, tmp_path):
    copy = shutil.copytree(tiny_sd, tmp_path / "tampered")
    registered = weights_digest(copy)
    weights = copy / "vae" / "diffusion_pytorch_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0x01
    weights.write_bytes(bytes(data))
    gen = DiffusersGenerator(MODEL_ID, {"path": str(copy), "weights_sha256": registered})
    with pytest.raises(RefusedError, match="do not match") as err:
        gen.generate(request({**SMALL, "mode": "text2img"}))
    assert "\n" not in err.value.one_line()
    with pytest.raises(RefusedError, match="no registered weights_sha256"):
        DiffusersGenerator(MODEL_ID, {"path": str(copy)}).generate(request({**SMALL, "mode": "text2img"}))


@pytest.mark.parametrize("params, field", [
    ({"mode": "sketch"}, "params.mode"),
    ({"mode": "text2img", "steps": 0}, "params.steps"),
    ({"mode": "text2img", "steps": 2, "width": 4096, "height": 4096}, "params.width"),
    ({"mode": "img2img", "steps": 2, "strength": 1.5}, "params.strength"),
])
def test_bad_params_are_spec_errors(tiny_sd, tmp_path, params, field):
    source = (image_input(tmp_path, plate(), 41, "plate.png"),)
    with pytest.raises(SpecError) as err:
        backend(tiny_sd).generate(request(params, source))
    assert err.value.field == field


def test_edit_modes_need_an_image_input(tiny_sd):
    with pytest.raises(InputError, match="needs the image to edit"):
        backend(tiny_sd).generate(request({"mode": "img2img", "steps": 2}))


def test_model_card_and_registry_lookup(tiny_sd):
    gen = get_generator(MODEL_ID, "diffusers", {"path": str(tiny_sd), "licence": "Apache-2.0"})
    card = gen.model_card()
    assert isinstance(gen, DiffusersGenerator)
    assert card.weights_sha256 == weights_digest(tiny_sd) and card.trained_model and card.runs_in_production_env
    assert card.licence == "Apache-2.0" and card.training_data == "unknown"  # attestation is the user's to give
    with pytest.raises(SpecError, match="config.path"):
        DiffusersGenerator(MODEL_ID, {}).model_card()


# ----------------------------------------------------------------------------- the guarded path

def register_tiny(ws, path: Path, **config) -> None:
    from soundstage.services import models

    models.register_model(ws, ModelCard(id=MODEL_ID, name="tiny SD (random test weights)", version="0",
                                    weights_sha256=weights_digest(path), training_data="owned",
                                    evidence="randomly initialised test weights", trained_model=True,
                                    runs_in_production_env=True, licence="Apache-2.0", stores_inputs=False,
                                    trains_on_inputs=False),
                      backend="diffusers", actor="Priya Shah",
                      config={"path": str(path), "weights_sha256": weights_digest(path), **config})


def concept_job(ws, **params) -> JobSpec:
    return JobSpec(id="", production_id=ws.production_id, operation=OperationKind.CONCEPT_ART,
                   requested_by="Priya Shah", model_id=MODEL_ID, prompt="wardrobe: a 1994 denim jacket",
                   params={"mode": "text2img", "width": 128, "height": 128, "steps": 2, "seed": 1, **params})


def test_guarded_concept_art_is_registered_watermarked_and_signed(workspace, tiny_sd):
    from soundstage.media.images import read_image
    from soundstage.safeguards.guard import parse_asset_id
    from soundstage.safeguards.provenance import read_credentials
    from soundstage.services import jobs_service as jobs
    from soundstage.services import people_service
    from soundstage.services.ledger import verify_audit

    ws = workspace
    people_service.add_crew(ws, "Priya Shah", ["producer"], actor="setup")
    register_tiny(ws, tiny_sd)
    result = jobs.submit_job(ws, concept_job(ws), actor="Priya Shah")
    assert result["status"] == "done", result["decision"]
    asset = result["assets"][0]
    stored = ws.store.path_for(asset["sha256"])
    assert read_image(stored).shape == (128, 128, 3)
    detection = ws.watermark_engine().detect(read_image(stored))
    assert detection.found and detection.payload == parse_asset_id(asset["id"])
    creds = read_credentials(stored, trust_anchors=[(ws.settings.keys_dir / "ca.pem").read_bytes()])
    assert creds.state.value == "Trusted"
    assert "c2pa.created" in creds.actions
    assert any(t.endswith("trainedAlgorithmicMedia") for t in creds.digital_source_types)
    manifest = creds.store["manifests"][creds.active_manifest]
    model = [i for i in manifest["ingredients"] if i["relationship"] == "inputTo"]
    assert len(model) == 1 and "tiny SD" in model[0]["title"]
    assert weights_digest(tiny_sd) in str(model[0])
    assert asset["details"]["weights_sha256"] == weights_digest(tiny_sd)
    assert verify_audit(ws).ok


def test_guarded_job_on_swapped_weights_is_refused_and_writes_nothing(workspace, tiny_sd, tmp_path):
    from soundstage.services import jobs_service as jobs
    from soundstage.services import people_service
    from soundstage.services.ledger import list_assets

    ws = workspace
    people_service.add_crew(ws, "Priya Shah", ["producer"], actor="setup")
    copy = shutil.copytree(tiny_sd, tmp_path / "swapped")
    register_tiny(ws, copy)
    from soundstage.testing.tiny_diffusers import build_tiny_sd

    shutil.rmtree(copy / "unet")
    build_tiny_sd(tmp_path / "other", seed=99)
    shutil.copytree(tmp_path / "other" / "unet", copy / "unet")  # someone swaps the UNet after registration
    before = len(list_assets(ws))
    with pytest.raises(RefusedError, match="do not match"):
        jobs.submit_job(ws, concept_job(ws), actor="Priya Shah")
    assert len(list_assets(ws)) == before
