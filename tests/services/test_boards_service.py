"""Previz end to end on a real workspace: sample script -> shot list -> guarded panels -> sheets,
animatic, OTIO. Real backends, real watermark, real C2PA."""

from __future__ import annotations

import shutil

import pytest

from soundstage.errors import SpecError
from soundstage.media.video import iter_frames
from soundstage.previz.timeline import clip_records, read_timeline
from soundstage.safeguards.guard import parse_asset_id
from soundstage.safeguards.provenance import read_credentials
from soundstage.services import boards_service, shotlist_service
from soundstage.services import models
from soundstage.services.ledger import audit_log, verify_audit
from soundstage.services.script_service import import_script


@pytest.fixture
def production(sqlite_workspace, sample_script):
    """The sample script imported; the animatic backend is a built-in model of every production."""
    ws = sqlite_workspace
    import_script(ws, sample_script, actor="setup")
    assert any(m["id"] == "soundstage.animatic" for m in models.list_models(ws))
    yield ws


def test_shot_list_is_stored_and_audited(production):
    ws = production
    result = shotlist_service.build_shot_list(ws, actor="Priya")
    shots = result["shot_list"]
    assert len(shots) > 20 and shots.scene("1").shots[0].size == "EWS"
    assert shotlist_service.state_path(ws).is_file()
    assert "previz.shotlist.built" in [e["action"] for e in audit_log(ws)]
    assert shotlist_service.current_shot_list(ws, actor="Priya").to_dict() == shots.to_dict()


def test_edits_survive_a_rebuild_and_nonsense_is_refused(production, tmp_path):
    ws = production
    out = shotlist_service.export_shot_list(ws, "yaml", tmp_path / "shots.yaml", actor="Priya")
    text = out.read_text()
    text = text.replace("    size: EWS", "    size: WS", 1)  # 1-A edited by a person
    text = text.replace("  shots:\n", "  shots:\n  - number: 1-Z\n    size: ECU\n    description: Biscuit's nose\n", 1)
    out.write_text(text)
    result = shotlist_service.import_shot_list(ws, out, actor="Priya")
    assert result["user_shots"] == ["1-Z"] and "1-A" in result["edited_rule_shots"]
    rebuilt = shotlist_service.build_shot_list(ws, actor="Priya")
    scene1 = rebuilt["shot_list"].scene("1")
    by_number = {s.number: s for s in scene1.shots}
    assert by_number["1-A"].size == "WS" and any(s.number == "1-Z" and s.origin == "user" for s in scene1.shots)
    assert "1" in rebuilt["merge"]["kept"]
    bad = tmp_path / "bad.csv"
    shotlist_service.export_shot_list(ws, "csv", bad, actor="Priya")
    lines = bad.read_text().splitlines()
    lines[3] = lines[3].replace(",MCU,", ",HUGE,").replace(",INSERT,", ",HUGE,").replace(",WS,", ",HUGE,")
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(SpecError) as err:
        shotlist_service.import_shot_list(ws, bad, actor="Priya")
    assert err.value.line == 4 and err.value.field == "size"


@pytest.mark.slow
def test_board_scene_one_through_the_guarded_path(production):
    ws = production
    assert boards_service.default_renderer(ws) in (boards_service.CARD_MODEL, boards_service.BLENDER_MODEL)
    result = boards_service.board(ws, scenes=["1"], renderer_model_id=boards_service.CARD_MODEL, actor="Priya", compress_pdf=False)
    shots = shotlist_service.current_shot_list(ws, actor="Priya").scene("1").shots
    assert [b.shot.number for b in result.shots] == [s.number for s in shots]
    anchors = [(ws.settings.keys_dir / "ca.pem").read_bytes()]
    engine = ws.watermark_engine()  # the production's own key
    for b in result.shots[:2]:
        creds = read_credentials(b.path, trust_anchors=anchors)
        assert creds.state.value == "Trusted" and creds.soundstage["asset_id"] == b.asset_id
        assert b.manifest_label and creds.active_manifest == b.manifest_label
    pdf = result.script_pdf.read_bytes()
    for b in result.shots:
        assert b.asset_id.encode() in pdf and b.shot.number.encode() in pdf
    assert b"TEMPORARY PREVIZ MEDIA" in pdf
    # the animatic is an asset of its own, marked with its own id in its frames
    frames = list(iter_frames(result.animatic, max_frames=10))
    detection = engine.detect_frames(frames)
    assert detection.found and detection.payload == parse_asset_id(result.animatic_asset)
    import av

    with av.open(str(result.animatic)) as c:
        stream = c.streams.video[0]
        assert stream.frames == round(sum(s.est_seconds for s in shots) * 24)
        if shutil.which("espeak-ng") and any(s.dialogue_excerpt for s in shots):  # the scratch track
            assert "synthetic voice" in c.streams.audio[0].metadata.get("handler_name", "")
    assert read_credentials(result.animatic, trust_anchors=anchors).state.value == "Trusted"
    records = clip_records(read_timeline(result.otio))
    assert [r["soundstage"]["asset_id"] for r in records] == [b.asset_id for b in result.shots]
    edl = result.edl.read_text()
    assert all(b.asset_id in edl for b in result.shots)
    # boarding again reuses every panel: no second asset for an unchanged shot
    again = boards_service.board(ws, scenes=["1"], renderer_model_id=boards_service.CARD_MODEL, actor="Priya", animatic=False)
    assert again.reused == len(shots) and [b.asset_id for b in again.shots] == [b.asset_id for b in result.shots]
    assert verify_audit(ws).ok
