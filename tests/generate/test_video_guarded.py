"""Generated clips through the real guard: marked on every frame, signed as created by a trained
model (the model an ingredient), consent checked like a still, and usable as a VFX job's plate."""

from __future__ import annotations


import numpy as np
import pytest
from PIL import Image

from soundstage.domain.safeguards import JobSpec, ModelCard, OperationKind
from soundstage.generate.backends.diffusers_local import weights_digest
from soundstage.safeguards.provenance import IPTC, CredentialState, read_credentials

MODEL_ID = "studio.ltx-tiny"
SMALL = {"mode": "text2video", "frames": 9, "width": 128, "height": 128, "steps": 2, "fps": 12, "seed": 4}


@pytest.fixture
def production(sqlite_workspace, tiny_ltx):
    from soundstage.services import models, people_service

    ws = sqlite_workspace
    for name, roles in [("Priya Shah", ["producer"]), ("Ken Ito", ["vfx_supervisor"]),
                        ("Tom Reed", ["rights_clearance", "legal"])]:
        people_service.add_crew(ws, name, roles, actor="setup")
    digest = weights_digest(tiny_ltx)
    models.register_model(ws, ModelCard(id=MODEL_ID, name="tiny LTX-Video (random test weights)", version="0",
                                    weights_sha256=digest, training_data="owned",
                                    evidence="randomly initialised test weights", trained_model=True,
                                    runs_in_production_env=True, licence="Apache-2.0", stores_inputs=False,
                                    trains_on_inputs=False),
                      backend="diffusers-video", actor="Priya Shah",
                      config={"path": str(tiny_ltx), "weights_sha256": digest})
    return ws


def video_job(ws, prompt: str = "a storm rolling over a harbour at dusk", **fields) -> JobSpec:
    return JobSpec(id="", production_id=ws.production_id, operation=OperationKind.CONCEPT_ART,
                   requested_by="Priya Shah", model_id=MODEL_ID, prompt=prompt, params=dict(SMALL), **fields)


def credentials(ws, asset: dict):
    path = ws.store.path_for(asset["sha256"])
    return path, read_credentials(path, trust_anchors=[(ws.settings.keys_dir / "ca.pem").read_bytes()])


@pytest.mark.slow
def test_a_generated_clip_is_marked_throughout_and_signed_as_created(production, tiny_ltx):
    from soundstage.media.video import iter_frames
    from soundstage.safeguards.guard import parse_asset_id
    from soundstage.services import jobs_service as jobs
    from soundstage.services.ledger import verify_audit

    ws = production
    result = jobs.submit_job(ws, video_job(ws), actor="Priya Shah")
    assert result["status"] == "done", result["decision"]
    (asset,) = result["assets"]
    assert asset["media_type"] == "video/mp4" and asset["details"]["frames"] == 9
    path, reading = credentials(ws, asset)
    frames = list(iter_frames(path))
    assert len(frames) == 9
    engine = ws.watermark_engine()
    for index in (0, 3, 6, 8):  # several frames, first to last
        found = engine.detect(frames[index])
        assert found.found and found.payload == parse_asset_id(asset["id"]), index
    assert reading.state is CredentialState.TRUSTED, reading.status_codes
    assert "c2pa.created" in reading.actions
    assert IPTC + "trainedAlgorithmicMedia" in reading.digital_source_types
    manifest = reading.store["manifests"][reading.active_manifest]
    (model,) = [i for i in manifest["ingredients"] if i["relationship"] == "inputTo"]
    assert "tiny LTX-Video" in model["title"] and weights_digest(tiny_ltx) in str(model)
    assert verify_audit(ws).ok


def test_a_prompt_naming_a_performer_without_consent_is_denied_like_a_still(production):
    from dataclasses import replace

    from soundstage.services import jobs_service as jobs
    from soundstage.services import models, policy_service, talent_service
    from soundstage.services.ledger import list_assets

    ws = production
    maya = talent_service.add_performer(ws, "Maya Castell", union_status="sag-aftra", actor="setup")
    spec = replace(video_job(ws, prompt="Maya Castell walks out of the sea at dawn", performers=(maya["id"],),
                             depicts_real_person=True), operation=OperationKind.LIKENESS_REPLICA)
    result = jobs.submit_job(ws, spec, actor="Priya Shah")
    assert result["status"] == "denied", result["decision"]
    rules = {r["rule_id"] for r in result["decision"]["reasons"] if r["outcome"] == "deny"}
    assert {"SAG-CONSENT-REQUIRED", "SAG-CONSENT-MISSING"} <= rules
    assert list_assets(ws) == []
    # the very same decision as a still of her: one consent path for stills and clips
    still = replace(spec, model_id="soundstage.procedural-card", params={})
    models.register_builtin_models(ws, actor="setup")
    assert {r["rule_id"] for r in policy_service.check_job(ws, still)["decision"]["reasons"] if r["outcome"] == "deny"} == rules


@pytest.mark.slow
def test_a_generated_clip_is_the_plate_of_a_background_replacement(production, tmp_path):
    from soundstage.media.video import iter_frames
    from soundstage.safeguards.guard import parse_asset_id
    from soundstage.services import jobs_service as jobs
    from soundstage.services import vfx_service
    from soundstage.services.ledger import ingest_media

    ws = production
    clip = jobs.submit_job(ws, video_job(ws), actor="Priya Shah")["assets"][0]
    still = np.zeros((128, 128, 3), np.uint8)
    still[..., 2] = 200  # a blue sky behind whatever the key lifts
    Image.fromarray(still).save(tmp_path / "sky.png")
    sky = ingest_media(ws, tmp_path / "sky.png", kind="plate", actor="setup")
    spec = vfx_service.build_vfx_job(ws, "background", clip["id"], requested_by="Ken Ito",
                                     extra_inputs=[sky["id"]], params={"key": "green"})
    result = jobs.submit_job(ws, spec, actor="Ken Ito")
    if result["status"] == "escalated":
        from soundstage.testing.identity import signer_for

        for role in result["missing_roles"]:
            holder = {"producer": "Priya Shah", "vfx_supervisor": "Ken Ito", "rights_clearance": "Tom Reed",
                      "legal": "Tom Reed"}[role]
            result = jobs.decide_on_job(ws, result["job"], signer=signer_for(ws, holder), role=role,
                                        verdict="approve", actor=holder)
    assert result["status"] == "done", result
    (out,) = result["assets"]
    path, reading = credentials(ws, out)
    frames = list(iter_frames(path))
    assert len(frames) == 9  # every frame of the generated clip went through the op
    found = ws.watermark_engine().detect_frames(frames[-3:])
    assert found.found and found.payload == parse_asset_id(out["id"])  # re-marked with the new id
    manifest = reading.store["manifests"][reading.active_manifest]
    parent = next(i for i in manifest["ingredients"] if i["relationship"] == "parentOf")
    assert parent["title"] == clip["name"]
    # the plate was made by a trained model, so the composite says so
    assert any(t.endswith("compositeWithTrainedAlgorithmicMedia") for t in reading.digital_source_types)


START_MARKED = '''
from fractions import Fraction
from pathlib import Path

import numpy as np

from soundstage.domain.params import Param
from soundstage.generate.protocol import GeneratedClip
from soundstage.safeguards.watermark import default_engine
from soundstage.vfx.media import VideoWriter


class StartMarkedBackend:
    """Encodes one GOP and marks only its first ``marked`` frames: what a careless (or hostile)
    video backend would do; the guard's seeks all land on the first keyframe of such a clip."""

    OPERATIONS = {"*": (Param("marked", "int", "Frames marked at the start.", 3, 0, 48),)}

    def __init__(self, model_id, config=None):
        self.model_id = model_id

    def model_card(self):
        raise NotImplementedError

    def generate(self, request):
        engine = default_engine(request.watermark_key)
        payload = request.reserved_asset_ids[0]
        path = Path(request.scratch_dir) / "start_marked.mp4"
        rng = np.random.default_rng(0)
        base = (np.linspace(60, 200, 256)[None, :, None] + rng.normal(0, 6, (256, 256, 3))).clip(0, 255)
        with VideoWriter(path, codec="h264", fps=Fraction(24), width=256, height=256) as writer:
            for i in range(48):
                frame = np.roll(base, i, axis=1).astype(np.uint8)
                writer.write(engine.embed(frame, payload) if i < request.params["marked"] else frame)
        return [GeneratedClip(path=path, name=path.name, payload=payload, operation="procedural")]
'''


@pytest.mark.parametrize("marked", [3, 48])
def test_a_clip_marked_only_at_its_start_is_refused(sqlite_workspace, tmp_path, monkeypatch, marked):
    from soundstage.errors import RefusedError
    from soundstage.generate import registry
    from soundstage.services import jobs_service as jobs
    from soundstage.services import models, people_service
    from soundstage.services.ledger import list_assets

    (tmp_path / "start_marked_backend.py").write_text(START_MARKED)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(registry.BACKENDS, "start-marked", "start_marked_backend:StartMarkedBackend")
    registry.available.cache_clear()
    ws = sqlite_workspace
    people_service.add_crew(ws, "Priya Shah", ["producer"], actor="setup")
    models.register_model(ws, ModelCard(id="test.start-marked", name="start marked", version="1", licence="test",
                                    training_data="owned", evidence="test", trained_model=False,
                                    runs_in_production_env=True, stores_inputs=False, trains_on_inputs=False),
                      actor="setup", backend="start-marked", config={})
    spec = JobSpec(id="", production_id=ws.production_id, operation=OperationKind.IDEATION, requested_by="Priya Shah",
                   model_id="test.start-marked", prompt="a clip", params={"marked": marked})
    try:
        if marked == 48:  # the control: every frame marked, the clip is registered
            assert jobs.submit_job(ws, spec, actor="Priya Shah")["status"] == "done"
            assert len(list_assets(ws)) == 1
            return
        with pytest.raises(RefusedError, match="not watermarked with its asset id throughout"):
            jobs.submit_job(ws, spec, actor="Priya Shah")
        assert list_assets(ws) == []
    finally:
        registry.available.cache_clear()


@pytest.mark.slow
def test_a_generated_clip_is_the_moving_background_of_a_background_replacement(sqlite_workspace, tmp_path,
                                                                               monkeypatch):
    """A clip from a video service (the OpenAI-shaped local server) replaces a green screen frame for
    frame: frame i of the shot sits on frame i of the clip, whose own mark is lifted first."""
    from fractions import Fraction

    from soundstage.media.video import iter_frames
    from soundstage.safeguards.guard import parse_asset_id
    from soundstage.services import jobs_service as jobs
    from soundstage.services import models, people_service
    from soundstage.services import vfx_service
    from soundstage.services.ledger import ingest_media
    from soundstage.testing.fake_video_servers import FPS, FakeOpenAIVideos
    from soundstage.vfx.media import VideoWriter

    ws = sqlite_workspace
    for name, roles in [("Priya Shah", ["producer"]), ("Ken Ito", ["vfx_supervisor"])]:
        people_service.add_crew(ws, name, roles, actor="setup")
    with FakeOpenAIVideos(polls_before_done=1) as server:
        models.register_model(ws, ModelCard(id="vendor.video", name="video service (test)", version="1",
                                        weights_sha256=None, training_data="licensed", evidence="test contract",
                                        trained_model=True, runs_in_production_env=True, licence="commercial",
                                        stores_inputs=False, trains_on_inputs=False),
                          backend="openai-video", actor="Priya Shah",
                          config={"base_url": server.url + "/v1", "model": "sora-2", "poll_interval_s": 0.01,
                                  "backoff_s": 0.01})
        made = jobs.submit_job(ws, JobSpec(id="", production_id=ws.production_id,
                                           operation=OperationKind.BACKGROUND_ELEMENT, requested_by="Priya Shah",
                                           model_id="vendor.video", prompt="surf rolling onto a beach",
                                           params={"seconds": 1, "width": 192, "height": 128}),
                               actor="Priya Shah")
    assert made["status"] == "done", made
    (clip,) = made["assets"]
    assert clip["details"]["frames"] == FPS
    # a green-screen plate: an actor-grey block on green, as long as the clip
    shot = np.zeros((128, 192, 3), np.uint8)
    shot[...] = (20, 200, 40)
    shot[40:100, 70:120] = 128
    plate_path = tmp_path / "GS_010.mp4"
    with VideoWriter(plate_path, codec="h264", fps=Fraction(FPS), width=192, height=128) as writer:
        for _ in range(FPS):
            writer.write(shot)
    plate = ingest_media(ws, plate_path, kind="plate", actor="setup")
    spec = vfx_service.build_vfx_job(ws, "background", plate["id"], requested_by="Ken Ito",
                                     extra_inputs=[clip["id"]], params={"key": "green", "light_wrap": 0.0})
    result = jobs.submit_job(ws, spec, actor="Ken Ito")
    assert result["status"] == "done", result
    (out,) = result["assets"]
    path, reading = credentials(ws, out)
    composite = list(iter_frames(path))
    backdrop = list(iter_frames(ws.store.path_for(clip["sha256"])))
    assert len(composite) == FPS
    sky = (slice(0, 30), slice(0, 192))  # far from the actor: pure background
    for i in range(FPS):
        own = np.abs(composite[i][sky].astype(int) - backdrop[i][sky].astype(int)).mean()
        other = np.abs(composite[i][sky].astype(int) - backdrop[(i + FPS // 2) % FPS][sky].astype(int)).mean()
        assert own < 8 and other > own + 4, (i, own, other)  # frame i on frame i: the background moves
    assert np.abs(composite[3][40:100, 75:115].astype(int) - 128).mean() < 8  # the actor stays
    found = ws.watermark_engine().detect_frames(composite[-3:])
    assert found.found and found.payload == parse_asset_id(out["id"])
    manifest = reading.store["manifests"][reading.active_manifest]
    component = next(i for i in manifest["ingredients"] if i["relationship"] == "componentOf")
    assert component["title"] == clip["name"]
    assert any(t.endswith("compositeWithTrainedAlgorithmicMedia") for t in reading.digital_source_types)
