"""Red team: server settings smuggled in as job parameters or fields (attacks 1-3 of "Safeguards by
construction"). JobSpec.1 let a client name the VFX frame operation, the reference faces, the
work directory and the Dask scheduler in ``params``; JobSpec.2 declares every parameter an
operation takes, so each of these is refused with 422 naming the field (exit 2 from the CLI)
before anything is recorded, deleted or connected to.

1. Consentless de-ageing: a ``cleanup`` job whose params ask for ``vfx_operation: deage`` and name
   reference images -> 422, nothing recorded; the backend picks the frame operation from the
   job's operation alone, so a cleanup job can never alter a face.
2. Directory deletion: a client-chosen job id (``..``) or ``params.work_dir`` -> 422; the chunk
   work directory is always a direct child of the work root and is the only thing cleared.
3. SSRF: ``params.cluster`` pointing at a listener -> 422 and the listener sees no connection.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from redteam import (
    CARD_MODEL,
    VFX_MODEL,
    assert_error,
    assert_unchanged,
    auth,
    cleanup_body,
    cli,
    error_line,
    snapshot,
    write_yaml,
)

SMUGGLED = ("performer_refs", "work_dir", "cluster", "keep_chunks", "vfx_operation", "chunk_frames", "executor")


def smuggled_value(name: str, prod: dict, tmp_path: Path):
    return {"performer_refs": {prod["noah"]["id"]: str(tmp_path / "noah_face.png")},
            "work_dir": str(tmp_path), "cluster": "tcp://127.0.0.1:1", "keep_chunks": True,
            "vfx_operation": "deage", "chunk_frames": 1, "executor": "dask"}[name]


# ------------------------------------------------------------------------------ 1. consentless de-ageing

def deage_in_cleanup(prod: dict, tmp_path: Path) -> dict:
    face = tmp_path / "noah_face.png"
    face.write_bytes(b"not even an image")
    return cleanup_body(prod, vfx_operation="deage", amount=1.0,
                        performer_refs={prod["noah"]["id"]: str(face)})


def test_api_refuses_a_deage_smuggled_into_a_cleanup_job(api, prod, tmp_path):
    ws = prod["ws"]
    before = snapshot(ws)
    response = api.post("/api/jobs", headers=auth(prod, "vfx_supervisor"), json=deage_in_cleanup(prod, tmp_path))
    # validate() names the first unknown parameter in sorted order: amount < performer_refs < vfx_operation
    message = assert_error(response, 422, "SpecError", field="params.amount")
    assert "is not a parameter of cleanup" in message
    assert_unchanged(ws, before)
    assert api.get("/api/jobs", headers=auth(prod, "producer")).json() == []


@pytest.mark.parametrize("name", SMUGGLED)
def test_api_refuses_each_former_server_parameter_by_name(api, prod, tmp_path, name):
    ws = prod["ws"]
    before = snapshot(ws)
    body = cleanup_body(prod, **{name: smuggled_value(name, prod, tmp_path)})
    response = api.post("/api/jobs", headers=auth(prod, "vfx_supervisor"), json=body)
    assert_error(response, 422, "SpecError", field=f"params.{name}")
    # the same body is refused by the dry run too (it checks parameters as a submission does)
    response = api.post("/api/policy/check", headers=auth(prod, "vfx_supervisor"), json=body)
    assert_error(response, 422, "SpecError", field=f"params.{name}")
    assert_unchanged(ws, before)


def test_api_refuses_the_old_schema_in_a_request(api, prod, tmp_path):
    """A request cannot say it is a JobSpec.1 to have its server parameters dropped (or honoured)."""
    ws = prod["ws"]
    before = snapshot(ws)
    body = {**deage_in_cleanup(prod, tmp_path), "schema": "JobSpec.1"}
    response = api.post("/api/jobs", headers=auth(prod, "vfx_supervisor"), json=body)
    assert_error(response, 422, "SpecError", field="schema")
    assert_unchanged(ws, before)


def test_cli_refuses_a_deage_smuggled_into_a_cleanup_job(prod, tmp_path):
    ws = prod["ws"]
    before = snapshot(ws)
    spec = write_yaml(tmp_path / "cleanup.yaml", deage_in_cleanup(prod, tmp_path))
    result = cli(ws.settings.root, "job", "submit", str(spec))
    assert result.returncode == 2, result.stderr
    line = error_line(result)
    assert "field 'params.amount'" in line and "is not a parameter of cleanup" in line
    assert "job j-" not in result.stdout  # no job was reported, because none was recorded
    assert_unchanged(ws, before)


def test_the_frame_operation_comes_from_the_job_operation_only(tmp_path, monkeypatch):
    """The VFX backend itself, handed a cleanup job whose (unvalidated) params still ask for a
    de-age with reference faces: it builds the cleanup operation, with no performer references
    but those the guard resolved (none here). A cleanup job never reaches a face operation."""
    import numpy as np
    from PIL import Image

    import soundstage.compute as compute
    from soundstage.compute.chunks import DEFAULT_FACTORY
    from soundstage.compute.executors import FrameJobResult
    from soundstage.domain.safeguards import JobSpec, OperationKind
    from soundstage.errors import SpecError
    from soundstage.generate.protocol import GenerationInput, GenerationRequest
    from soundstage.vfx.backend import VfxOperationBackend
    from soundstage.vfx.registry import operation_for, vfx_operations

    plate = tmp_path / "plate.png"
    Image.fromarray(np.full((64, 96, 3), 90, dtype=np.uint8)).save(plate)
    mask = tmp_path / "mask.png"
    pixels = np.zeros((64, 96, 3), dtype=np.uint8)
    pixels[10:20, 10:20] = 255
    Image.fromarray(pixels).save(mask)
    seen = []

    class NoExecutor:
        def close(self):
            pass

    def fake_run(job, executor, progress=None, cancelled=None):
        seen.append(job)
        job.output.write_bytes(b"clip")
        return FrameJobResult(output=job.output, frames=1, chunks=1, computed_chunks=1, reused_chunks=0)

    monkeypatch.setattr(compute, "run_frame_job", fake_run)
    monkeypatch.setattr(compute, "make_executor", lambda cluster, workers=2, options=None: NoExecutor())
    spec = JobSpec(id="j-0123456789ab", production_id="p", operation=OperationKind.CLEANUP, requested_by="Ken Ito",
                   model_id=VFX_MODEL, inputs=("00000000000000a1", "00000000000000a2"), alteration_amount=0.0)
    request = GenerationRequest(
        job=spec, inputs=(GenerationInput(0xA1, plate, "image/png", "plate", "plate.png"),
                          GenerationInput(0xA2, mask, "image/png", "element", "mask.png")),
        params={"method": "telea", "radius": 5, "codec": "h264",
                "vfx_operation": "deage", "amount": 1.0, "performer_refs": {"p-noah": str(plate)}},
        seed=7, scratch_dir=tmp_path, reserved_asset_ids=(0x1234,), work_root=tmp_path / "vfx-work")
    outputs = VfxOperationBackend(VFX_MODEL).generate(request)
    (job,) = seen
    assert job.context.operation == "cleanup"
    assert job.context.performers == {}
    assert job.context.params["amount"] == 0.0  # the strength is the spec's alteration_amount, never a param
    assert vfx_operations()[job.context.operation].faces is False
    assert outputs[0].details["vfx_operation"] == "cleanup"
    # the workers build the operation from that name: the cleanup factory, not the de-age one
    assert vfx_operations()[job.context.operation].factory == "soundstage.vfx.ops.cleanup:CleanupOperation"
    assert job.factory == DEFAULT_FACTORY  # which builds by that name (soundstage.vfx.ops:make_operation)
    # and the table: a cleanup is the cleanup operation, whatever a model record asks for
    assert operation_for(OperationKind.CLEANUP).name == "cleanup"
    with pytest.raises(SpecError, match="does not perform cleanup"):
        operation_for(OperationKind.CLEANUP, "deage")
    assert "vfx_operation" not in {p.name for p in VfxOperationBackend(VFX_MODEL).operations()["cleanup"]}


# ------------------------------------------------------------------------------ 2. directory deletion

@pytest.fixture
def sentinels(prod, tmp_path):
    """Files that a deletion through ``..`` or a client-chosen work directory would take with it."""
    root = Path(prod["ws"].settings.root)
    made = []
    for folder in (tmp_path / "victim", root / "vfx-work", root.parent):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "SENTINEL").write_text("keep me")
        made.append(folder / "SENTINEL")
    return made


def assert_sentinels(paths) -> None:
    for path in paths:
        assert path.is_file() and path.read_text() == "keep me", path


@pytest.mark.parametrize("job_id", ["..", ".", "../..", "/", "j-0123456789ab", ""])
def test_api_refuses_a_client_chosen_job_id(api, prod, sentinels, job_id):
    ws = prod["ws"]
    before = snapshot(ws)
    body = {**cleanup_body(prod), "id": job_id}
    message = assert_error(api.post("/api/jobs", headers=auth(prod, "vfx_supervisor"), json=body), 422,
                           "SpecError", field="id")
    assert "is set by the server" in message
    assert_unchanged(ws, before)
    assert_sentinels(sentinels)


def test_api_refuses_a_client_chosen_requester(api, prod):
    ws = prod["ws"]
    before = snapshot(ws)
    body = {"operation": "ideation", "model_id": CARD_MODEL, "prompt": "fog", "requested_by": "Priya Shah"}
    message = assert_error(api.post("/api/jobs", headers=auth(prod, "vfx_supervisor"), json=body), 422,
                           "SpecError", field="requested_by")
    assert "is set by the server" in message
    assert_unchanged(ws, before)


def test_api_refuses_a_client_chosen_work_dir(api, prod, sentinels, tmp_path):
    ws = prod["ws"]
    before = snapshot(ws)
    for target in (tmp_path / "victim", Path(ws.settings.root).parent, Path("/")):
        body = cleanup_body(prod, work_dir=str(target), keep_chunks=False)
        assert_error(api.post("/api/jobs", headers=auth(prod, "vfx_supervisor"), json=body), 422,
                     "SpecError", field="params.keep_chunks")  # keep_chunks < work_dir: the first unknown
        body = cleanup_body(prod, work_dir=str(target))
        assert_error(api.post("/api/jobs", headers=auth(prod, "vfx_supervisor"), json=body), 422,
                     "SpecError", field="params.work_dir")
    assert_unchanged(ws, before)
    assert_sentinels(sentinels)


@pytest.mark.parametrize("attack", ["id", "work_dir"])
def test_cli_refuses_a_job_id_or_work_dir(prod, sentinels, tmp_path, attack):
    ws = prod["ws"]
    before = snapshot(ws)
    body = cleanup_body(prod, work_dir=str(tmp_path / "victim")) if attack == "work_dir" else \
        {"id": "..", **cleanup_body(prod)}
    spec = write_yaml(tmp_path / "job.yaml", body)
    result = cli(ws.settings.root, "job", "submit", str(spec))
    assert result.returncode == 2, result.stderr
    line = error_line(result)
    if attack == "id":
        assert f"{spec}:1" in line and "field 'id'" in line and "is set by the server" in line
    else:
        assert "field 'params.work_dir'" in line
    assert_unchanged(ws, before)
    assert_sentinels(sentinels)


HOSTILE_IDS = ["..", ".", "../..", "../../etc", "/", "/etc/passwd", "a/../../b", "", "\x00", "job-..", "..\\..",
               "~", "$HOME", "x" * 500, "é/../..", "j-0123456789ab"]


def _frame_job(job_id: str, root: Path):
    from soundstage.compute import FrameJob, FrameSource
    from soundstage.vfx.contract import OpContext

    return FrameJob(job_id=job_id, work_root=root, source=FrameSource("images"), source_sha256="0" * 64,
                    context=OpContext("cleanup"), payload=1, output=root / "out.mp4")


@pytest.mark.parametrize("job_id", HOSTILE_IDS)
def test_the_work_dir_is_always_a_child_of_the_work_root(tmp_path, job_id):
    from soundstage.compute.executors import clear_work_dir

    root = tmp_path / "vfx-work"
    root.mkdir()
    (root / "SENTINEL").write_text("keep me")
    (tmp_path / "SENTINEL").write_text("keep me")
    job = _frame_job(job_id, root)
    assert job.work_dir.parent == root and job.work_dir.name.startswith("job-")
    assert job.work_dir.resolve().parent == root.resolve()
    job.work_dir.mkdir()
    (job.work_dir / "chunk_0000.mp4").write_bytes(b"chunk")
    clear_work_dir(job)
    assert not job.work_dir.exists()  # its own folder goes...
    assert_sentinels([root / "SENTINEL", tmp_path / "SENTINEL"])  # ...and nothing else
    clear_work_dir(job)  # clearing twice is harmless
    assert_sentinels([root / "SENTINEL", tmp_path / "SENTINEL"])


def test_clear_work_dir_never_follows_a_symlinked_job_folder(tmp_path):
    from soundstage.compute.executors import clear_work_dir

    root = tmp_path / "vfx-work"
    root.mkdir()
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "SENTINEL").write_text("keep me")
    job = _frame_job("j-0123456789ab", root)
    job.work_dir.symlink_to(victim, target_is_directory=True)
    with pytest.raises(ValueError, match="refusing to clear"):
        clear_work_dir(job)
    assert_sentinels([victim / "SENTINEL"])


# ------------------------------------------------------------------------------ 3. SSRF

@pytest.mark.parametrize("model", [VFX_MODEL, CARD_MODEL])
def test_api_refuses_a_client_chosen_cluster_and_connects_nowhere(api, prod, listener, model):
    ws = prod["ws"]
    before = snapshot(ws)
    body = cleanup_body(prod, cluster=listener.url) if model == VFX_MODEL else \
        {"operation": "ideation", "model_id": CARD_MODEL, "prompt": "fog", "params": {"cluster": listener.url}}
    for path in ("/api/jobs", "/api/policy/check"):
        assert_error(api.post(path, headers=auth(prod, "vfx_supervisor"), json=body), 422, "SpecError",
                     field="params.cluster")
    assert listener.connections(wait=0.5) == 0
    assert_unchanged(ws, before)


def test_cli_refuses_a_client_chosen_cluster_and_connects_nowhere(prod, listener, tmp_path):
    ws = prod["ws"]
    before = snapshot(ws)
    spec = write_yaml(tmp_path / "job.yaml", cleanup_body(prod, cluster=listener.url))
    result = cli(ws.settings.root, "job", "submit", str(spec))
    assert result.returncode == 2, result.stderr
    assert "field 'params.cluster'" in error_line(result)
    assert listener.connections(wait=0.5) == 0
    assert_unchanged(ws, before)


def test_api_model_registration_cannot_carry_a_backend_or_cluster(api, prod, listener):
    """The API registers model cards only: how a model runs (backend, config) is not a card field."""
    ws = prod["ws"]
    before = snapshot(ws)
    card = {"id": "acme.remote", "name": "Acme remote", "version": "1", "licence": "commercial",
            "training_data": "licensed", "evidence": "contract", "backend": "vfx",
            "config": {"cluster": listener.url}}
    assert_error(api.post("/api/models", headers=auth(prod, "vfx_supervisor"), json=card), 422, "SpecError",
                 field="backend")
    assert listener.connections(wait=0.3) == 0
    assert_unchanged(ws, before)


def test_a_model_record_cannot_choose_the_cluster_or_work_dir(prod, listener):
    """Even a model registered by an operator with compute settings in its config: the guard
    strips them; the cluster and work directory are the production's (soundstage.toml)."""
    from soundstage.domain.safeguards import ModelCard
    from soundstage.safeguards.guard import generator_for
    from soundstage.services import models

    ws = prod["ws"]
    models.register_model(ws, ModelCard(id="acme.vfx", name="acme vfx", training_data="owned"), actor="setup",
                      backend="vfx", config={"cluster": listener.url, "work_dir": "/", "workers": 999,
                                             "chunk_frames": 24})
    with ws.unit_of_work() as s:
        generator = generator_for(s, "acme.vfx")
    assert generator.config == {"chunk_frames": 24}
    assert listener.connections(wait=0.3) == 0


@pytest.mark.parametrize("param", ["workflow", "nodes", "url"])
def test_api_refuses_a_client_graph_or_address_for_a_remote_model(api, prod, listener, param):
    """A ComfyUI model registered by the production (its server and workflow are the record's): a job
    cannot send its own graph (which could load a model the registry never saw), node map or URL, and
    the refusal happens before anything connects to the model's server."""
    from soundstage.domain.safeguards import ModelCard
    from soundstage.services import models

    ws = prod["ws"]
    server = f"http://127.0.0.1:{listener.port}"
    models.register_model(ws, ModelCard(id="acme.comfy", name="acme comfy", training_data="licensed",
                                    stores_inputs=False, trains_on_inputs=False, runs_in_production_env=True),
                      actor="setup", backend="comfyui", config={"url": server, "workflow": "workflow_api.json"})
    before = snapshot(ws)
    value = {"workflow": {"1": {"class_type": "CheckpointLoaderSimple",
                                "inputs": {"ckpt_name": "never-registered.safetensors"}}},
             "nodes": {"prompt": "1", "output": "9"}, "url": "http://169.254.169.254/latest/meta-data/"}[param]
    body = {"operation": "concept_art", "model_id": "acme.comfy", "prompt": "a coat", "params": {param: value}}
    for path in ("/api/jobs", "/api/policy/check"):
        assert_error(api.post(path, headers=auth(prod, "vfx_supervisor"), json=body), 422, "SpecError",
                     field=f"params.{param}")
    assert listener.connections(wait=0.5) == 0
    assert_unchanged(ws, before)
