"""The vfx backend end to end through the real guard: consent, watermark, C2PA, lineage."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from soundstage.domain.safeguards import ModelCard
from soundstage.errors import InputError
from soundstage.safeguards.guard import parse_asset_id
from soundstage.safeguards.provenance import read_credentials
from soundstage.services import jobs_service as jobs
from soundstage.services import models, people_service, talent_service
from soundstage.services import vfx_service
from soundstage.services.ledger import ingest_media, show_asset
from soundstage.testing.identity import signer_for

sys.path.insert(0, str(Path(__file__).parent))
import vfx_helpers as h  # noqa: E402

MODEL = "soundstage.vfx-test-grade"


@pytest.fixture
def production(workspace, tmp_path):
    ws = workspace
    for name, roles in [("Priya Shah", ["producer"]), ("Ken Ito", ["vfx_supervisor"]),
                        ("Tom Reed", ["rights_clearance", "legal"]), ("Lena Ortiz", ["performer_rep"])]:
        people_service.add_crew(ws, name, roles, actor="setup")
    maya = talent_service.add_performer(ws, "Maya Castell", union_status="sag-aftra", representatives=["Lena Ortiz"],
                            actor="setup")
    frames = h.astronaut_frames(20, 512, 288)
    plate = ingest_media(ws, h.make_clip(tmp_path / "A001_C003.mp4", frames), kind="plate", actor="setup",
                         scene="5", shot="5A")
    # the test operation stands in for soundstage.vfx.ops; everything else is the production path
    card = ModelCard(id=MODEL, name="temporal grade (test op)", version="1", licence="Apache-2.0",
                     weights_sha256="", training_data="owned", evidence="classical", trained_model=False,
                     runs_in_production_env=True, stores_inputs=False, trains_on_inputs=False)
    models.register_model(ws, card, actor="setup", backend="vfx", config={"factory": h.FACTORY, "chunk_frames": 8})
    return ws, maya, plate, frames, tmp_path


def test_cleanup_clip_is_registered_marked_signed_with_plate_parent(production):
    ws, maya, plate, frames, tmp_path = production
    mask = tmp_path / "mask.png"
    Image.fromarray(np.zeros((288, 512, 3), np.uint8)).save(mask)
    mask_asset = ingest_media(ws, mask, kind="plate", actor="setup")
    spec = vfx_service.build_vfx_job(ws, "cleanup", plate["id"], requested_by="Ken Ito",
                                     extra_inputs=[mask_asset["id"]], model_id=MODEL, scene="5", shot="5A")
    result = h.submit_approved(ws, spec)
    assert result["status"] == "done", result
    asset = result["assets"][0]
    stored = ws.store.path_for(asset["sha256"])
    out = h.decode_all(stored)
    assert len(out) == 20
    detection = ws.watermark_engine().detect_frames(out[::5])
    from soundstage.safeguards.watermark import default_engine

    assert not default_engine().detect_frames(out[::5]).found  # the workers used the production's key
    assert detection.payload == parse_asset_id(asset["id"])
    creds = read_credentials(stored, trust_anchors=[(ws.settings.keys_dir / "ca.pem").read_bytes()])
    assert creds.state.value == "Trusted" and creds.soundstage["asset_id"] == asset["id"]
    assert asset["id"] in show_asset(ws, plate["id"])["children"]
    # a retried job is idempotent: the same job id returns the same asset
    again = jobs.run_job(ws, result["job"], actor="Ken Ito")
    assert [a["id"] for a in again["assets"]] == [asset["id"]]


def test_mask_of_wrong_size_is_refused_and_nothing_registered(production):
    ws, maya, plate, frames, tmp_path = production
    mask = tmp_path / "small_mask.png"
    Image.fromarray(np.zeros((100, 100, 3), np.uint8)).save(mask)
    mask_asset = ingest_media(ws, mask, kind="plate", actor="setup")
    spec = vfx_service.build_vfx_job(ws, "cleanup", plate["id"], requested_by="Ken Ito",
                                     extra_inputs=[mask_asset["id"]], model_id=MODEL)
    with pytest.raises(InputError, match="mask is 100x100"):
        result = jobs.submit_job(ws, spec, actor="Ken Ito")
        if result["status"] == "escalated":  # approvals first, then the backend refuses
            for role, holder in [("producer", "Priya Shah"), ("rights_clearance", "Tom Reed"), ("legal", "Tom Reed")]:
                if role in result["decision"]["approver_roles"]:
                    jobs.decide_on_job(ws, result["job"], signer=signer_for(ws, holder), role=role,
                                       verdict="approve", actor=holder)
    assert show_asset(ws, plate["id"])["children"] == []


def test_deage_without_consent_is_denied_before_any_frame_is_touched(production):
    ws, maya, plate, frames, tmp_path = production
    spec = vfx_service.build_vfx_job(ws, "deage", plate["id"], requested_by="Ken Ito", performers=["Maya Castell"],
                                     amount=0.3, model_id=MODEL, scene="5", shot="5A", deliverable="final",
                                     medium="final")
    result = jobs.submit_job(ws, spec, actor="Ken Ito")
    assert result["status"] == "denied" and result["assets"] == []
    assert not (Path(ws.settings.root) / "vfx-work").exists()


@pytest.mark.parametrize("codec,container", [("h265", "mov,mp4,m4a,3gp,3g2,mj2"), ("prores", "mov,mp4,m4a,3gp,3g2,mj2")])
def test_chunked_h265_and_prores_deliveries_join_into_one_marked_signed_clip(production, codec, container):
    """20 frames in chunks of 8 (8 + 8 + 4): three segments encoded by the workers, joined by remuxing."""
    from soundstage.vfx import media

    ws, maya, plate, frames, tmp_path = production
    mask = tmp_path / "mask.png"
    Image.fromarray(np.zeros((288, 512, 3), np.uint8)).save(mask)
    mask_asset = ingest_media(ws, mask, kind="plate", actor="setup")
    spec = vfx_service.build_vfx_job(ws, "cleanup", plate["id"], requested_by="Ken Ito", codec=codec,
                                     extra_inputs=[mask_asset["id"]], model_id=MODEL, scene="5", shot="5A")
    result = h.submit_approved(ws, spec)
    assert result["status"] == "done", result
    asset = result["assets"][0]
    stored = ws.store.path_for(asset["sha256"])
    info = media.probe(stored)
    source = media.probe(ws.store.path_for(plate["sha256"]))
    assert info.codec == {"h265": "hevc", "prores": "prores"}[codec] and info.container == container
    assert info.frame_count == 20 and info.fps == source.fps and not info.variable_frame_rate
    assert info.timecode == source.timecode and asset["details"]["chunks"] == 3
    out = h.decode_all(stored)
    assert ws.watermark_engine().detect_frames(out[::5]).payload == parse_asset_id(asset["id"])
    creds = read_credentials(stored, trust_anchors=[(ws.settings.keys_dir / "ca.pem").read_bytes()])
    assert creds.state.value == "Trusted"
