"""vfx place through the real guard: a signed, AI-made element placed into a plate, its Content
Credentials read back by soundstage and by the independent reader (c2pa-wasm), an element that is
not a signed production asset refused, and a corner keyframe changed after approval refused."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import update

from soundstage.domain.safeguards import JobSpec, ModelCard, OperationKind
from soundstage.errors import IntegrityError, RefusedError, SpecError
from soundstage.safeguards.provenance import IPTC, CredentialState, read_credentials
from soundstage.services import jobs_service as jobs
from soundstage.services import models, people_service
from soundstage.services import vfx_service
from soundstage.services.ledger import ingest_media
from soundstage.testing.identity import signer_for

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))
import place_plates as pp  # noqa: E402
import vfx_helpers as h  # noqa: E402

pytestmark = pytest.mark.slow

HOLDERS = {"producer": "Priya Shah", "rights_clearance": "Tom Reed", "legal": "Tom Reed",
           "vfx_supervisor": "Rosa Vidal"}
FRAMES = 8


@pytest.fixture
def production(workspace, tmp_path):
    ws = workspace
    for name, roles in [("Priya Shah", ["producer"]), ("Ken Ito", ["vfx_supervisor"]),
                        ("Tom Reed", ["rights_clearance", "legal"]), ("Rosa Vidal", ["vfx_supervisor"])]:
        people_service.add_crew(ws, name, roles, actor="setup")
    plate = ingest_media(ws, h.make_clip(tmp_path / "A007_C002.mp4", pp.moving_plane(FRAMES)), kind="plate",
                         actor="setup", scene="7", shot="7A")
    return ws, plate, tmp_path


def _approve_all(ws, result: dict, *, leave: int = 0) -> dict:
    roles = list(result["missing_roles"])
    for role in roles[:len(roles) - leave]:
        base = role.split(":")[0]
        result = jobs.decide_on_job(ws, result["job"], signer=signer_for(ws, HOLDERS[base]), role=base,
                                    verdict="approve", actor=HOLDERS[base])
    return result


def _generated_element(ws) -> dict:
    """An element made by a registered, trained generator through the guard: signed, marked, AI-made."""
    card = ModelCard(id="studio.gen", name="studio generator (stand-in)", version="1", licence="proprietary",
                     weights_sha256="ab" * 32, training_data="owned", evidence="trained on the studio's own art",
                     stores_inputs=False, trains_on_inputs=False, runs_in_production_env=True, trained_model=True)
    models.register_model(ws, card, actor="setup", backend="procedural-card", config={})
    spec = JobSpec(id="", production_id=ws.production_id, operation=OperationKind.BACKGROUND_ELEMENT,
                   requested_by="Ken Ito", model_id="studio.gen", prompt="a faded propaganda poster",
                   params={"width": 256, "height": 160})
    result = _approve_all(ws, jobs.submit_job(ws, spec, actor="Ken Ito"))
    assert result["status"] == "done", result
    return result["assets"][0]


def _place_spec(ws, plate: dict, element: dict, corners: list[str], *, final: bool = False) -> JobSpec:
    return vfx_service.build_vfx_job(ws, "place", plate["id"], requested_by="Ken Ito", extra_inputs=[element["id"]],
                                     scene="7", shot="7A", params={"corners": corners},
                                     deliverable="final" if final else "temporary",
                                     medium="final" if final else "previz")


def test_a_generated_element_is_placed_tracked_and_credited_as_a_composite_with_ai(production):
    ws, plate, tmp_path = production
    element = _generated_element(ws)
    result = jobs.submit_job(ws, _place_spec(ws, plate, element, [pp.corners_text(0, pp.QUAD)]), actor="Ken Ito")
    result = _approve_all(ws, result)
    assert result["status"] == "done", result
    asset = result["assets"][0]
    path = ws.store.path_for(asset["sha256"])
    reading = read_credentials(path, trust_anchors=[(ws.settings.keys_dir / "ca.pem").read_bytes()])
    assert reading.state is CredentialState.TRUSTED, reading.status_codes
    assert reading.actions == ("c2pa.opened", "c2pa.placed", "c2pa.watermarked.unbound")
    manifest = reading.store["manifests"][reading.active_manifest]
    actions = next(a["data"]["actions"] for a in manifest["assertions"] if a["label"].startswith("c2pa.actions"))
    assert actions[1]["digitalSourceType"] == IPTC + "compositeWithTrainedAlgorithmicMedia"
    relations = {i["title"]: i["relationship"] for i in manifest["ingredients"]}
    assert relations[plate["name"]] == "parentOf" and relations[element["name"]] == "componentOf"
    component = next(i for i in manifest["ingredients"] if i["relationship"] == "componentOf")
    own = reading.store["manifests"][component["active_manifest"]]  # the element's own credentials, kept
    own_actions = next(a["data"]["actions"] for a in own["assertions"] if a["label"].startswith("c2pa.actions"))
    assert any(a.get("digitalSourceType") == IPTC + "trainedAlgorithmicMedia" for a in own_actions)

    # the element is really there, where the track says: the frames inside the tracked quad changed
    from soundstage.vfx.media import decode_range

    out = list(decode_range(path, 0, FRAMES))
    source = pp.moving_plane(FRAMES)
    for t in (0, FRAMES - 1):
        centre = np.round(pp.true_corners(t).mean(axis=0)).astype(int)
        patch = (slice(centre[1] - 10, centre[1] + 10), slice(centre[0] - 10, centre[0] + 10))
        assert np.abs(out[t][patch].astype(int) - source[t][patch].astype(int)).mean() > 20
        assert np.abs(out[t][:20, :20].astype(int) - source[t][:20, :20].astype(int)).mean() < 6  # plate kept

    # an independent reader (c2pa-wasm under Node) reads the same actions and ingredients
    from soundstage.testing.independent_reader import missing, read_with_c2pa_wasm

    if missing():
        pytest.skip(f"the independent reader cannot run: {missing()}")
    (wasm,) = read_with_c2pa_wasm([path], trust_anchors=[(ws.settings.keys_dir / "ca.pem").read_bytes()])
    active = wasm.store["manifests"][wasm.active_manifest]
    wasm_actions = next(a["data"]["actions"] for a in active["assertions"] if a["label"].startswith("c2pa.actions"))
    assert [a["action"] for a in wasm_actions] == ["c2pa.opened", "c2pa.placed", "c2pa.watermarked.unbound"]
    assert wasm_actions[1]["digitalSourceType"] == IPTC + "compositeWithTrainedAlgorithmicMedia"
    assert {i["title"]: i["relationship"] for i in active["ingredients"]}[element["name"]] == "componentOf"
    assert {i["title"]: i["relationship"] for i in active["ingredients"]}[plate["name"]] == "parentOf"
    assert wasm.state in ("Trusted", "Valid"), json.dumps(wasm.store.get("validation_results"))[:400]


def test_an_element_that_is_not_a_signed_production_asset_is_refused(production):
    ws, plate, tmp_path = production
    still = tmp_path / "downloaded_explosion.png"
    Image.fromarray(pp.element_rgba()).save(still)
    added = ingest_media(ws, still, kind="element", actor="setup")  # in the store, but no job made it
    before = _asset_count(ws)
    with pytest.raises(RefusedError, match="not a signed asset of this production") as info:
        _approve_all(ws, jobs.submit_job(ws, _place_spec(ws, plate, added, [pp.corners_text(0, pp.QUAD)]),
                                         actor="Ken Ito"))
    assert "\n" not in str(info.value)
    assert _asset_count(ws) == before  # nothing was written


def _asset_count(ws) -> int:
    from sqlalchemy import func, select

    from soundstage.store.models import Asset

    with ws.unit_of_work() as s:
        return s.scalar(select(func.count()).select_from(Asset))


def test_corners_outside_the_frame_are_refused_with_one_line(production):
    ws, plate, tmp_path = production
    element = _generated_element(ws)
    outside = "0:10,10,900,10,900,200,10,200"  # the plate is 640 wide
    before = _asset_count(ws)
    with pytest.raises(SpecError, match="outside the 640x360 frame") as info:
        _approve_all(ws, jobs.submit_job(ws, _place_spec(ws, plate, element, [outside]), actor="Ken Ito"))
    assert "\n" not in str(info.value) and _asset_count(ws) == before
    huge = [pp.corners_text(0, pp.QUAD)] * 2000  # over the declared 64 KB: refused at submission (exit 2 / 422)
    with pytest.raises(SpecError, match="params.corners"):
        jobs.submit_job(ws, _place_spec(ws, plate, element, huge), actor="Ken Ito")


def test_a_final_shot_escalates_and_a_corner_keyframe_changed_after_approval_is_refused(production):
    from soundstage.store.models import Job

    ws, plate, tmp_path = production
    element = _generated_element(ws)
    approved_corners = [pp.corners_text(0, pp.QUAD)]
    result = jobs.submit_job(ws, _place_spec(ws, plate, element, approved_corners, final=True), actor="Ken Ito")
    assert result["status"] == "escalated" and result["missing_roles"], result  # final-deliverable approvals
    assert any(r.startswith("producer") for r in result["missing_roles"])
    result = _approve_all(ws, result, leave=1)
    job_id, last = result["job"], result["missing_roles"][-1].split(":")[0]
    with ws.unit_of_work() as s:  # an insider moves a corner in the ledger after the approvals
        spec = dict(s.get(Job, job_id).spec)
        spec["params"] = {**spec["params"], "corners": [pp.corners_text(0, pp.QUAD + np.array([30.0, 0.0]))]}
        s.execute(update(Job).where(Job.id == job_id).values(spec=spec))
    with pytest.raises(IntegrityError, match="spec digest"):
        jobs.decide_on_job(ws, job_id, signer=signer_for(ws, HOLDERS[last]), role=last, verdict="approve",
                           actor=HOLDERS[last])
    # the hand adjustment done properly is a new job: new corners, new digest, its own approvals
    moved = [pp.corners_text(0, pp.QUAD + np.array([30.0, 0.0]))]
    again = jobs.submit_job(ws, _place_spec(ws, plate, element, moved, final=True), actor="Ken Ito")
    assert again["status"] == "escalated" and again["job"] != job_id


def test_the_tracking_report_of_a_plate_is_what_the_job_tracks(production):
    ws, plate, tmp_path = production
    corners = [pp.corners_text(0, pp.QUAD)]
    report = vfx_service.track_plane(ws, plate["id"], corners, tmp_path / "report")
    assert report.frames == FRAMES and report.lost_frames == () and report.max_reprojection_rms < 0.5
    truth = np.array([pp.true_corners(t) for t in range(FRAMES)])
    used = np.array([row["corners"] for row in report.rows])
    assert np.sqrt(np.mean(np.sum((used - truth) ** 2, axis=2))) <= 1.0  # through H.264, still within a pixel
    assert report.paths_png.is_file() and report.contact_sheet_png.is_file()
    rows = json.loads((report.folder / "tracking.json").read_text())["rows"]
    assert [r["frame"] for r in rows] == list(range(FRAMES)) and rows[0]["keyframe"] is True
    with pytest.raises(SpecError, match="outside"):
        vfx_service.track_plane(ws, plate["id"], ["0:10,10,900,10,900,200,10,200"], tmp_path / "bad")
