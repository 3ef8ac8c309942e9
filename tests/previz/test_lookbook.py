"""The wardrobe and set look-book: planning from the breakdown, the guarded concept jobs, the PDF.

The sample production is looked-booked once per module with the procedural renderer (about 3 s);
the checks read what that run really produced: the ledger, the stored frames, their watermark
and Content Credentials, the PDF's text (written uncompressed so it can be searched)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from soundstage.errors import InputError, NotFoundError
from soundstage.previz.lookbook import PROVENANCE_LABEL, heading_periods, plan_looks, redact_names
from soundstage.services.script_service import compute_breakdown, parse_draft

SAMPLE = Path(__file__).resolve().parents[2] / "src" / "soundstage" / "samples" / "the_last_take.fountain"
PERFORMER = "Maya Castell"
CHARACTERS = ["PRIYA", "JONAH", "MAYA", "DEV", "LENA", "TOMAS"]
LOCATIONS = ["HARLOW FALLS - MAIN STREET", "MAYA'S TRAILER", "MAIN STREET", "SOUND STAGE 4 - VIDEO VILLAGE",
             "RIVERBANK", "WATER TOWER HILL", "PRODUCTION OFFICE"]


def sample_plan(**kwargs):
    bd = compute_breakdown(parse_draft(SAMPLE.read_bytes(), SAMPLE.name))
    return plan_looks(bd, SAMPLE.read_text(encoding="utf-8").splitlines(), **kwargs)


# ----------------------------------------------------------------------------- planning (pure)

def test_every_character_and_location_gets_a_look_with_attributed_notes():
    chars, locs = sample_plan()
    assert [c.name for c in chars] == CHARACTERS and [x.name for x in locs] == LOCATIONS
    maya, jonah = chars[2], chars[1]
    assert maya.scenes == ["2", "3", "5", "6", "7"]
    # "MAYA REYES ... She wears ... DENIM WORK JACKET" (line 44): the jacket is Maya's, not Jonah's
    assert any(n.name == "jacket" and n.worn_by == "MAYA" and n.line == 44 for n in maya.notes)
    assert not any(n.name == "jacket" for n in jonah.notes)
    assert any(n.name == "glasses" and n.worn_by == "JONAH" and n.line == 50 for n in jonah.notes)
    # the [[Wardrobe: ...]] note on line 46 is kept, with its line, and given to the jacket's wearer
    assert any(n.from_note and n.line == 46 and n.worn_by == "MAYA" and "hero costume" in n.text for n in maya.notes)
    assert "jacket" in maya.prompt and "glasses" not in maya.prompt and "hero costume" not in maya.prompt
    assert "1994" in maya.prompt and "flashback" in maya.prompt  # from "(FLASHBACK - 1994)"
    trailer = locs[1]
    assert trailer.int_ext == ["INT"] and trailer.times_of_day == ["NIGHT"]
    assert "mirror" in trailer.prompt and "couch" in trailer.prompt and "interior" in trailer.prompt
    assert {n.category for n in trailer.notes} == {"set_dressing", "props"}


def test_heading_period_words():
    assert heading_periods("EXT. RIVERBANK - DAY (FLASHBACK - 1994)") == ["FLASHBACK", "1994"]
    assert heading_periods("INT. KITCHEN - NIGHT") == []


def test_real_names_are_redacted_but_character_words_stay():
    text = "wardrobe for MAYA; a Maya Castell look, Castell's coat, a Taylor  Swift t-shirt"
    out = redact_names(text, ["Maya Castell", "Taylor Swift"], keep=["MAYA"])
    assert "Castell" not in out and "Swift" not in out and "MAYA" in out
    # a performer whose full name is a character's name is still never put in a prompt
    chars, _ = sample_plan(real_names=["Dev Okafor", "Dev"])
    assert all("Dev" not in c.prompt and "DEV" not in c.prompt for c in chars)


def test_unknown_names_and_the_story_central_flag():
    with pytest.raises(NotFoundError, match="no character 'NOBODY'"):
        sample_plan(characters=["NOBODY"])
    chars, locs = sample_plan(characters=["maya"], locations=["riverbank"], story_central=["Riverbank"])
    assert [c.name for c in chars] == ["MAYA"] and [x.name for x in locs] == ["RIVERBANK"]
    assert locs[0].story_central


# ----------------------------------------------------------------------------- the guarded run

@pytest.fixture(scope="module")
def booked(tmp_path_factory):
    from soundstage.services import lookbook_service, script_service
    from soundstage.services import talent_service
    from soundstage.services.ledger import list_assets
    from soundstage.services.workspace import init_workspace

    ws = init_workspace(tmp_path_factory.mktemp("lookbook") / "production", "The Last Take")
    script_service.import_script(ws, SAMPLE, actor="Priya Shah")
    talent_service.add_performer(ws, PERFORMER, actor="Priya Shah")  # plays MAYA: her name must never reach a prompt
    before = {a["id"] for a in list_assets(ws)}
    result = lookbook_service.lookbook(ws, actor="Priya Shah", story_central=["WATER TOWER HILL"],
                                     compress_pdf=False)
    try:
        yield ws, result, before
    finally:
        ws.close()


def test_the_pdf_has_a_section_per_character_and_location(booked):
    ws, result, _ = booked
    assert result.pdf == ws.settings.exports_dir / "previz" / "lookbook.pdf"
    data = result.pdf.read_bytes()
    assert data.startswith(b"%PDF")
    for name in CHARACTERS:
        assert data.count(f"(CHARACTER: {name})".encode()) == 1, name
    for name in LOCATIONS:
        assert data.count(f"(LOCATION: {name})".encode()) == 1, name
    assert data.count(PROVENANCE_LABEL.split(" \u2014")[0].encode()) >= len(result.assets)
    for asset_id in result.assets:
        assert asset_id.encode() in data
    assert b"line 44" in data  # script line references in the notes
    assert not list(result.pdf.parent.glob(".lookbook.pdf*"))


def test_every_frame_is_registered_watermarked_and_signed(booked):
    from soundstage.media.images import read_image
    from soundstage.safeguards.guard import parse_asset_id
    from soundstage.safeguards.provenance import read_credentials
    from soundstage.services.ledger import list_assets, verify_audit

    ws, result, before = booked
    stored = {a["id"]: a for a in list_assets(ws)}
    done = [d for d in result.decisions if d["status"] == "done"]
    assert len(done) == len(CHARACTERS) + len(LOCATIONS) - 1  # the story-central hill is held back
    assert len(result.assets) == len(set(result.assets)) >= len(done)
    assert set(result.assets) == set(stored) - before
    anchor = (ws.settings.keys_dir / "ca.pem").read_bytes()
    engine = ws.watermark_engine()
    pdf = result.pdf.read_bytes()
    for asset_id in result.assets:
        asset = stored[asset_id]
        path = ws.store.path_for(asset["sha256"])
        detection = engine.detect(read_image(path))
        assert detection.found and detection.payload == parse_asset_id(asset_id)
        creds = read_credentials(path, trust_anchors=[anchor])
        assert creds.state.value == "Trusted" and "c2pa.created" in creds.actions
        label = asset["details"]["c2pa"]["manifest_label"]
        assert label == creds.active_manifest and label.encode() in pdf
    assert verify_audit(ws).ok


def test_a_story_central_location_is_reported_not_fatal(booked):
    from soundstage.services import jobs_service

    ws, result, _ = booked
    hill = next(d for d in result.decisions if d["name"] == "WATER TOWER HILL")
    assert hill["status"] == "escalated" and "NFX-ESC-STORY-CENTRAL" in hill["rules"] and not hill["assets"]
    assert jobs_service.show_job(ws, hill["job"])["status"] == "escalated"
    assert f"job {hill['job']}".encode() in result.pdf.read_bytes()
    assert b"NFX-ESC-STORY-CENTRAL" in result.pdf.read_bytes()


def test_prompts_and_job_specs_never_name_the_performer(booked):
    from soundstage.services import jobs_service

    ws, result, _ = booked
    specs = [jobs_service.show_job(ws, d["job"])["spec"] for d in result.decisions]
    assert len(specs) == len(CHARACTERS) + len(LOCATIONS)
    maya = next(d for d in result.decisions if d["name"] == "MAYA")
    assert "MAYA" in maya["prompt"]
    for spec in specs:
        assert spec["operation"] == "concept_art" and spec["deliverable"] == "temporary"
        assert spec["performers"] == []
        flat = str(spec).casefold()
        assert PERFORMER.casefold() not in flat and "castell" not in flat and "reyes" not in flat


def test_rerunning_makes_no_new_assets(booked):
    from soundstage.services import lookbook_service
    from soundstage.services.ledger import list_assets

    ws, result, _ = booked
    count = len(list_assets(ws))
    again = lookbook_service.lookbook(ws, actor="Priya Shah", story_central=["WATER TOWER HILL"],
                                    compress_pdf=False)
    assert again.assets == result.assets and len(list_assets(ws)) == count
    assert again.reused == len(CHARACTERS) + len(LOCATIONS)
    with pytest.raises(InputError, match="frames"):
        lookbook_service.lookbook(ws, actor="Priya Shah", frames=9)
    with pytest.raises(InputError, match="frame size"):
        lookbook_service.lookbook(ws, actor="Priya Shah", size=(64, 64))
    with pytest.raises(NotFoundError, match="renderer"):
        lookbook_service.lookbook(ws, actor="Priya Shah", renderer_model_id="no.such-model")


# ----------------------------------------------------------------------------- diffusers renderer

@pytest.mark.slow
def test_the_diffusers_renderer_path(tmp_path):
    os.environ["HF_HUB_OFFLINE"] = "1"
    torch = pytest.importorskip("torch")
    pytest.importorskip("diffusers")
    from soundstage.domain.safeguards import ModelCard
    from soundstage.generate.backends.diffusers_local import weights_digest
    from soundstage.safeguards.guard import parse_asset_id
    from soundstage.services import lookbook_service, script_service
    from soundstage.services import models
    from soundstage.services.ledger import list_assets
    from soundstage.services.workspace import init_workspace
    from soundstage.testing.tiny_diffusers import build_tiny_sd
    from soundstage.media.images import read_image

    torch.set_num_threads(1)
    weights = build_tiny_sd(tmp_path / "tiny-sd")
    ws = init_workspace(tmp_path / "production", "The Last Take")
    try:
        script_service.import_script(ws, SAMPLE, actor="Priya Shah")
        models.register_model(ws, ModelCard(id="local.tiny-sd", name="tiny SD (random test weights)", version="0",
                                        weights_sha256=weights_digest(weights), training_data="owned",
                                        evidence="randomly initialised test weights", trained_model=True,
                                        runs_in_production_env=True, licence="Apache-2.0", stores_inputs=False,
                                        trains_on_inputs=False),
                          backend="diffusers", actor="Priya Shah",
                          config={"path": str(weights), "weights_sha256": weights_digest(weights)})
        result = lookbook_service.lookbook(ws, renderer_model_id="local.tiny-sd", characters=["MAYA"],
                                         locations=["RIVERBANK"], frames=2, size=(128, 128), steps=2,
                                         actor="Priya Shah")
        assert [d["status"] for d in result.decisions] == ["done", "done"]
        assert all(len(d["assets"]) == 2 for d in result.decisions)  # the backend honoured count=2
        stored = {a["id"]: a for a in list_assets(ws)}
        for asset_id in result.assets:
            asset = stored[asset_id]
            assert asset["details"]["weights_sha256"] == weights_digest(weights)
            pixels = read_image(ws.store.path_for(asset["sha256"]))
            assert pixels.shape == (128, 128, 3)
            assert ws.watermark_engine().detect(pixels).payload == parse_asset_id(asset_id)
        assert result.pdf.is_file()
    finally:
        ws.close()
