"""Docs that cannot rot: the examples in the guides are loaded and run by the real code, and their
parameter tables are generated from the registries (see guide_tools.py for the rule)."""

import re
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from soundstage.safeguards.policy import PolicyEngine
from soundstage.safeguards.policy.loader import load_pack

sys.path.insert(0, str(Path(__file__).parent))
import guide_tools as gt  # noqa: E402

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_policy_pack_guide_example_loads_and_tightens_the_default():
    text = (DOCS / "guides" / "write-a-policy-pack.md").read_text()
    example = re.search(r"```yaml\n(pack: studio-x.*?)```", text, re.S).group(1)
    pack = load_pack(example, "write-a-policy-pack.md")
    assert pack.label == "studio-x@3" and [r.id for r in pack.rules] == ["STUDIO-X-1", "STUDIO-X-2", "STUDIO-X-3"]
    PolicyEngine.default([pack])  # combines with the default pack: no clashing rule ids


def test_policy_pack_guide_lists_every_field():
    from soundstage.safeguards.policy.loader import FIELDS

    text = (DOCS / "guides" / "write-a-policy-pack.md").read_text()
    missing = [name for name in FIELDS if f"`{name}`" not in text and f"`{name.split('.')[-1]}`" not in text]
    assert not missing, f"write-a-policy-pack.md does not list the fields {missing}"


# ----------------------------------------------------------------------------- parameter tables

@pytest.mark.parametrize("guide", [gt.GENERATOR_GUIDE, gt.VFX_GUIDE], ids=lambda p: p.name)
def test_parameter_tables_are_the_registry_declarations(guide):
    documented = gt.blocks(guide.read_text())
    expected = gt.expected_tables(guide)
    fix = "regenerate with: .venv/bin/python tests/docs/guide_tools.py"
    assert sorted(documented) == sorted(expected), f"{guide.name}: parameter blocks differ from the registry; {fix}"
    for key, table in expected.items():
        assert documented[key] == table, f"{guide.name}: the table for {key} is stale; {fix}"


def test_tables_cover_every_builtin_and_name_the_seed():
    from soundstage.generate.registry import BACKENDS
    from soundstage.vfx.registry import BUILTIN_OPERATIONS

    # one key per backend, or per operation ("NAME OPERATION"), or per voice engine ("voice:ENGINE OPERATION")
    assert {k.split(" ")[0].split(":")[0] for k in gt.backend_tables()} == set(BACKENDS) - {"vfx"}
    assert set(gt.vfx_tables()) == {f"vfx:{name}" for name in BUILTIN_OPERATIONS}
    for table in (*gt.backend_tables().values(), *gt.vfx_tables().values()):
        assert "| `seed` | int | 0 … 4294967295 | `0` |" in table
    assert "| `codec` | choice | h264 / h265 / prores |" in gt.vfx_tables()["vfx:cleanup"]


def test_regenerating_a_stale_table_restores_it():
    text = gt.GENERATOR_GUIDE.read_text()
    stale = re.sub(r"\| `width` \| int \| \d+ … 4096 \|", "| `width` | int | 1 … 2 |", text, count=1)
    assert stale != text
    assert gt.render(stale, gt.backend_tables()) == text


# ----------------------------------------------------------------------------- the examples, run

@pytest.fixture
def install(tmp_path, monkeypatch):
    """Install a guide's modules and pyproject entry points as a package on sys.path (what pip
    would leave), with the backend and VFX operation registries re-read; undone afterwards."""
    from soundstage.generate import registry as backends
    from soundstage.vfx import registry as vfx_registry

    site = tmp_path / "site"
    modules: list[str] = []

    def _install(files: dict[str, str], pyproject: str) -> None:
        gt.install_plugin(site, files, pyproject)
        modules.extend(Path(name).stem for name in files)
        monkeypatch.syspath_prepend(str(site))
        backends.available.cache_clear()
        vfx_registry.vfx_operations.cache_clear()

    yield _install
    for name in modules:
        sys.modules.pop(name, None)
    backends.available.cache_clear()
    vfx_registry.vfx_operations.cache_clear()


@pytest.fixture
def generator_guide():
    text = gt.GENERATOR_GUIDE.read_text()
    return {name: gt.example(text, name) for name in
            ("colour_card.py", "colour_sweep.py", "pyproject.toml", "run_colour_card.py")}


def _crew(ws):
    from soundstage.services import people_service

    for name, roles in [("Priya Shah", ["producer"]), ("Ken Ito", ["vfx_supervisor"]),
                        ("Tom Reed", ["rights_clearance", "legal"])]:
        people_service.add_crew(ws, name, roles, actor="setup")


def _ideation(ws, model_id: str, params: dict):
    from soundstage.domain.safeguards import JobSpec, OperationKind

    return JobSpec(id="", production_id=ws.production_id, operation=OperationKind.IDEATION,
                   requested_by="Priya Shah", model_id=model_id, prompt="guide test", params=params)


def test_generator_guide_still_backend_runs_through_the_guard(sqlite_workspace, install, generator_guide):
    from soundstage.errors import SpecError
    from soundstage.generate.registry import available
    from soundstage.media.images import read_image
    from soundstage.safeguards.guard import parse_asset_id
    from soundstage.safeguards.provenance import read_credentials
    from soundstage.safeguards.watermark import default_engine
    from soundstage.services import jobs_service as jobs
    from soundstage.services.ledger import audit_log, list_assets

    ws = sqlite_workspace
    _crew(ws)
    install({"colour_card.py": generator_guide["colour_card.py"],
             "colour_sweep.py": generator_guide["colour_sweep.py"]}, generator_guide["pyproject.toml"])
    assert {"colour-card", "colour-sweep"} <= set(available())  # found through the entry point

    namespace = {"ws": ws}
    exec(compile(generator_guide["run_colour_card.py"], "run_colour_card.py", "exec"), namespace)
    result = namespace["result"]
    assert result["status"] == "done" and len(result["assets"]) == 1, result
    asset = result["assets"][0]
    assert [a["id"] for a in list_assets(ws)] == [asset["id"]]  # registered in the ledger
    assert asset["details"]["size"] == [800, 450] and asset["details"]["seed"] == 7
    stored = ws.store.path_for(asset["sha256"])
    pixels = read_image(stored)
    assert pixels.shape == (450, 800, 3)
    detection = ws.watermark_engine().detect(pixels)
    assert detection.found and detection.payload == parse_asset_id(asset["id"])
    assert not default_engine().detect(pixels).found  # the production's secret key, not the public one
    creds = read_credentials(stored, trust_anchors=[(ws.settings.keys_dir / "ca.pem").read_bytes()])
    assert creds.state.value == "Trusted" and creds.soundstage["asset_id"] == asset["id"]
    submitted = [e for e in audit_log(ws) if e["action"] == "job.submitted"]

    # only the declared parameters: an undeclared one, a bad value or a wrong type is refused, by name,
    # before anything is recorded
    for params, field in [({"path": "/etc/passwd"}, "params.path"), ({"hue": 2}, "params.hue"),
                          ({"width": "wide"}, "params.width"), ({"seed": -1}, "params.seed")]:
        with pytest.raises(SpecError) as refused:
            jobs.submit_job(ws, _ideation(ws, "studio.colour-card", params), actor="Priya Shah")
        assert refused.value.field == field and refused.value.http_status == 422 and refused.value.exit_code == 2
        if field == "params.path":
            assert "its parameters: height, hue, seed, width" in refused.value.one_line()
    assert [e for e in audit_log(ws) if e["action"] == "job.submitted"] == submitted
    assert len(list_assets(ws)) == 1
    # the defaults fill in what a job leaves out; the seed alone is always accepted
    done = jobs.submit_job(ws, _ideation(ws, "studio.colour-card", {"seed": 3}), actor="Priya Shah")
    assert done["status"] == "done" and done["assets"][0]["details"]["size"] == [640, 360]


def test_generator_guide_clip_backend_marks_every_frame_with_the_production_key(sqlite_workspace, install,
                                                                                  generator_guide):
    from soundstage.safeguards.guard import parse_asset_id
    from soundstage.safeguards.watermark import default_engine
    from soundstage.services import jobs_service as jobs
    from soundstage.services import models
    from soundstage.services.ledger import list_assets

    ws = sqlite_workspace
    _crew(ws)
    install({"colour_card.py": generator_guide["colour_card.py"],
             "colour_sweep.py": generator_guide["colour_sweep.py"]}, generator_guide["pyproject.toml"])
    from colour_sweep import ColourSweepGenerator

    models.register_model(ws, ColourSweepGenerator("studio.colour-sweep").model_card(), backend="colour-sweep",
                      config={}, actor="setup")
    result = jobs.submit_job(ws, _ideation(ws, "studio.colour-sweep", {"frames": 30, "hue": 0.5}),
                             actor="Priya Shah")
    assert result["status"] == "done", result
    asset = result["assets"][0]
    assert asset["media_type"] == "video/mp4" and [a["id"] for a in list_assets(ws)] == [asset["id"]]
    frames = _decode(ws.store.path_for(asset["sha256"]))
    assert len(frames) == 30
    for run in (frames[:2], frames[14:16], frames[-2:]):
        assert ws.watermark_engine().detect_frames(run).payload == parse_asset_id(asset["id"])
    assert not default_engine().detect_frames(frames[:2]).found


def test_a_clip_marked_with_the_public_key_is_refused(sqlite_workspace, install, generator_guide):
    """What the guide used to say (``default_engine()``): the guard refuses such a clip."""
    from soundstage.errors import RefusedError
    from soundstage.services import jobs_service as jobs
    from soundstage.services import models
    from soundstage.services.ledger import list_assets

    ws = sqlite_workspace
    _crew(ws)
    public = generator_guide["colour_sweep.py"].replace("default_engine(request.watermark_key)", "default_engine()")
    assert public != generator_guide["colour_sweep.py"]
    install({"colour_sweep.py": public}, generator_guide["pyproject.toml"])
    from colour_sweep import ColourSweepGenerator

    models.register_model(ws, ColourSweepGenerator("studio.colour-sweep").model_card(), backend="colour-sweep",
                      config={}, actor="setup")
    with pytest.raises(RefusedError, match="not watermarked with its asset id"):
        jobs.submit_job(ws, _ideation(ws, "studio.colour-sweep", {"frames": 12}), actor="Priya Shah")
    assert list_assets(ws) == []


def test_vfx_guide_operation_runs_through_the_guard(sqlite_workspace, install, tmp_path, monkeypatch):
    from soundstage.domain.safeguards import JobSpec, ModelCard, OperationKind
    from soundstage.errors import SpecError
    from soundstage.generate.registry import get_generator, operation_params
    from soundstage.safeguards.guard import parse_asset_id
    from soundstage.safeguards.provenance import read_credentials
    from soundstage.safeguards.watermark import default_engine
    from soundstage.services import jobs_service as jobs
    from soundstage.services import models
    from soundstage.services.ledger import ingest_media, show_asset
    from soundstage.vfx.registry import vfx_operations

    text = gt.VFX_GUIDE.read_text()
    ws = sqlite_workspace
    _crew(ws)
    install({"studio_grade.py": gt.example(text, "studio_grade.py")}, gt.example(text, "pyproject.toml"))
    definition = vfx_operations()["studio-day-for-night"]  # found through the entry point
    assert [p.name for p in definition.params] == ["strength", "blue"]

    # the model record, exactly as `soundstage model add studio_day_for_night.yaml` reads it
    record = yaml.safe_load(gt.example(text, "studio_day_for_night.yaml"))
    backend, config = record.pop("backend"), record.pop("config")
    models.register_model(ws, ModelCard.from_dict(record), backend=backend, config=config, actor="setup")
    declared = operation_params(get_generator(record["id"], backend, config), "set_extension")
    assert [p.name for p in declared] == ["strength", "blue", "codec", "seed"]

    # chunks in-process: this test's sys.path (where the plug-in is) is then the workers' too; an
    # installed package is visible to the pool's workers as well
    monkeypatch.setitem(ws.settings.extra, "compute", {"cluster": "serial"})
    vfx = _vfx_helpers()
    frames = vfx.astronaut_frames(16, 320, 240)
    plate = ingest_media(ws, vfx.make_clip(tmp_path / "A001_C004.mp4", frames), kind="plate", actor="setup")

    namespace = {"ws": ws, "plate_id": plate["id"]}
    exec(compile(gt.example(text, "run_day_for_night.py"), "run_day_for_night.py", "exec"), namespace)
    result = namespace["result"]
    assert result["status"] == "done", result
    asset = result["assets"][0]
    assert asset["details"]["vfx_operation"] == "studio-day-for-night"
    assert asset["id"] in show_asset(ws, plate["id"])["children"]  # registered, with the plate as parent
    stored = ws.store.path_for(asset["sha256"])
    out = vfx.decode_all(stored)
    assert len(out) == 16
    assert ws.watermark_engine().detect_frames(out[::4]).payload == parse_asset_id(asset["id"])
    assert not default_engine().detect_frames(out[::4]).found
    creds = read_credentials(stored, trust_anchors=[(ws.settings.keys_dir / "ca.pem").read_bytes()])
    assert creds.state.value == "Trusted" and creds.soundstage["asset_id"] == asset["id"]
    # the grade ran with the job's strength: darker, and bluer relative to red, than the plate
    before, after = np.mean(frames, axis=(0, 1, 2)), np.mean(out, axis=(0, 1, 2))
    assert after.sum() < 0.75 * before.sum() and after[2] / after[0] > before[2] / before[0]

    for params, field in [({"gain": 1.2}, "params.gain"), ({"strength": 2}, "params.strength"),
                          ({"work_dir": "/tmp"}, "params.work_dir")]:
        spec = JobSpec(id="", production_id=ws.production_id, operation=OperationKind.SET_EXTENSION,
                       requested_by="Ken Ito", model_id="studio.day-for-night", inputs=(plate["id"],), params=params)
        with pytest.raises(SpecError) as refused:
            jobs.submit_job(ws, spec, actor="Ken Ito")
        assert refused.value.field == field
    # a job operation the entry does not perform is refused too
    spec = JobSpec(id="", production_id=ws.production_id, operation=OperationKind.CLEANUP, requested_by="Ken Ito",
                   model_id="studio.day-for-night", inputs=(plate["id"],))
    with pytest.raises(SpecError, match="does not perform cleanup"):
        jobs.submit_job(ws, spec, actor="Ken Ito")


def _decode(path: Path) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def _vfx_helpers():
    """tests/vfx/vfx_helpers.py (real-photograph plates), loaded by path."""
    import importlib.util

    name = "soundstage_test_vfx_helpers"
    if name not in sys.modules:
        path = Path(__file__).resolve().parents[1] / "vfx" / "vfx_helpers.py"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]
