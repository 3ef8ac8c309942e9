"""The disclosure report: strict validation, numbers that match the data, escaping, honest notices."""

from __future__ import annotations

import copy
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from soundstage.errors import SpecError
from soundstage.safeguards.disclosure import (
    DisclosureData,
    credits_notice,
    html_document,
    marking_statement,
    readable_time,
    render_disclosure,
    scene_series,
    summarize,
)

HOSTILE = '<script>alert("x")</script>'
SVG_NS = "{http://www.w3.org/2000/svg}"


def _model(model_id: str = "m-sd", training: str = "licensed") -> dict[str, Any]:
    return {"id": model_id, "name": f"Model {model_id}", "version": "1.0", "licence": "studio licence",
            "weights_sha256": "ab" * 32, "training_data": training, "evidence": "licence #42",
            "stores_inputs": False, "trains_on_inputs": False, "runs_in_production_env": True,
            "trained_model": False}


def _consent(consent_id: str = "c-1", status: str = "active", performer_id: bool = False) -> dict[str, Any]:
    c = {"consent_id": consent_id, "performer": "Ada Lovelace", "kind": "digital_alteration",
         "description": "De-ageing in the flashback, scene 12", "valid_until": None, "status": status}
    if performer_id:
        c["performer_id"] = "p-ada"
    return c


def _asset(n: int, status: str = "active", marked: bool = True) -> dict[str, Any]:
    return {"id": f"{n:016x}", "name": f"frame_{n}.png", "media_type": "image/png",
            "watermark": {"engine": "spread.1", "payload_hex": "00ff" * 4} if marked else None,
            "c2pa": {"manifest_label": f"urn:c2pa:{n}",
                     "digital_source_type": "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"}
            if marked else None,
            "status": status}


_next_asset = iter(range(1, 10_000))


def _use(job_id: str, operation: str, scene: str | None, deliverable: str = "temporary",
         consents: list[dict[str, Any]] | None = None, model: str = "m-sd",
         assets: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"job_id": job_id, "operation": operation, "scene": scene, "shot": "A" if scene else None,
            "deliverable": deliverable, "requested_by": "vfx.sup", "created_at": "2025-10-21T10:00:00Z",
            "model": _model(model),
            "decision": {"outcome": "escalate",
                         "reasons": [{"rule_id": "NFX-LIKENESS", "text": "talent likeness", "outcome": "escalate"}],
                         "approver_roles": ["legal"], "duties": ["notify_netflix"]},
            "approvals": [{"role": "legal", "person": "Grace", "verdict": "approve", "note": "ok",
                           "at": "2025-10-21T11:00:00+00:00"}],
            "consents": consents or [],
            "assets": assets if assets is not None else [_asset(next(_next_asset))]}


def sample(uses: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Previz on scenes 2 and 10, de-ageing and a set extension in final scene 12."""
    if uses is None:
        uses = [
            _use("j1", "storyboard", "2"),
            _use("j2", "storyboard", "2"),
            _use("j3", "concept_art", "2"),
            _use("j4", "storyboard", "10"),
            _use("j5", "likeness_deage", "12", "final", consents=[_consent()]),
            _use("j6", "set_extension", "12", "final"),
            _use("j7", "concept_art", None),
        ]
    return {
        "schema": "Disclosure.2",
        "production": {"id": "prod-1", "title": "The Last Take"},
        "scope": {"episode": None},
        "generated_at": "2025-10-22T09:00:00Z",
        "prepared_by": {"person": "Tom Reed", "roles": ["legal"], "authenticated": True},
        "sign_off": {"role": "legal", "person": "Tom Reed"},
        "audit_head": {"seq": 42, "hash": "c0" * 32},
        "uses": uses,
        "models": [_model("m-sd")],
        "consents": [_consent(performer_id=True)] if uses else [],
        "quarantined": [],
        "performers_depicted": [{"performer": "Ada Lovelace", "operations": ["likeness_deage"]}]
        if any(u["operation"].startswith("likeness") for u in uses) else [],
    }


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize("mutate, field", [
    (lambda d: d.pop("production"), "production"),
    (lambda d: d["production"].update(title=""), "production.title"),
    (lambda d: d.update(schema="Disclosure.9"), "schema"),
    (lambda d: d.update(generated_at="yesterday"), "generated_at"),
    (lambda d: d["uses"][1].update(deliverable="draft"), "uses[1].deliverable"),
    (lambda d: d["uses"][4]["model"].update(training_data="scraped"), "uses[4].model.training_data"),
    (lambda d: d["uses"][4]["model"].update(stores_inputs="no"), "uses[4].model.stores_inputs"),
    (lambda d: d["uses"][0]["assets"][0].update(id="XYZ"), "uses[0].assets[0].id"),
    (lambda d: d["uses"][4]["consents"][0].update(status="maybe"), "uses[4].consents[0].status"),
    (lambda d: d["uses"][0]["approvals"][0].update(verdict="ok"), "uses[0].approvals[0].verdict"),
    (lambda d: d["uses"][0]["decision"].update(outcome="allow"), "uses[0].decision.outcome"),
    (lambda d: d["uses"][0]["assets"][0].update(watermarks=None), "uses[0].assets[0].watermarks"),
    (lambda d: d["uses"][2].update(job_id="j1"), "uses[2].job_id"),
    (lambda d: d["uses"][3]["model"].update(id="m-other"), "uses[3].model.id"),
    (lambda d: d["consents"][0].pop("performer_id"), "consents[0].performer_id"),
    (lambda d: d.update(uses={}), "uses"),
    (lambda d: d["uses"][0].update(scene="2\x00"), "uses[0].scene"),
    (lambda d: d["uses"][0]["assets"][0]["watermark"].update(payload_hex="abc"),
     "uses[0].assets[0].watermark.payload_hex"),
    (lambda d: d["uses"][0]["model"].update(weights_sha256="ab" * 31), "uses[0].model.weights_sha256"),
    (lambda d: d["uses"][0]["decision"]["reasons"][0].pop("rule_id"), "uses[0].decision.reasons[0].rule_id"),
    (lambda d: d["uses"][0]["decision"].update(duties=[""]), "uses[0].decision.duties[0]"),
    (lambda d: d["uses"][0].update(model=None), "uses[0].model"),
    (lambda d: d["uses"][0]["consents"].append(_consent("c-1") | {"valid_until": "soon"}),
     "uses[0].consents[0].valid_until"),
    (lambda d: d["quarantined"].append({"asset_id": "XYZ", "name": "a.png", "scene": None, "shot": None,
                                        "consent_id": None, "revoked_at": None, "reason": "revoked"}),
     "quarantined[0].asset_id"),
    (lambda d: d["performers_depicted"][0].update(operations="likeness_deage"), "performers_depicted[0].operations"),
])
def test_malformed_documents_are_refused_naming_the_field(mutate, field):
    data = sample()
    mutate(data)
    with pytest.raises(SpecError) as err:
        DisclosureData.from_dict(data)
    assert err.value.field == field
    assert f"field '{field}'" in err.value.one_line()


def test_optional_fields_read_as_the_types_say():
    data = sample()
    data["uses"][0]["approvals"][0]["note"] = None  # a note and a model's evidence may be null or absent: ""
    data["uses"][1]["approvals"][0].pop("note")
    data["uses"][0]["model"].pop("evidence")
    data["uses"][0]["assets"][0].update(watermark=None, c2pa=None)  # an unmarked asset
    data["uses"][0]["decision"].update(reasons=[], duties=[])
    doc = DisclosureData.from_dict(data)
    first = doc.uses[0]
    assert first.approvals[0].note == "" and doc.uses[1].approvals[0].note == "" and first.model.evidence == ""
    assert first.assets[0].watermark is None and first.assets[0].c2pa is None
    assert first.decision.reasons == () and first.decision.approver_roles == ("legal",)
    assert doc.uses[4].consents[0].performer_id is None and doc.consents[0].performer_id == "p-ada"
    assert doc.audit_head.seq == 42 and doc.sign_off.person == "Tom Reed"
    assert doc.uses[2].assets[0].watermark.payload_hex == "00ff" * 4


def test_a_valid_document_round_trips_unchanged():
    data = sample()
    doc = DisclosureData.from_dict(copy.deepcopy(data))
    assert doc.to_dict() == data
    assert doc.uses[4].consents[0].performer == "Ada Lovelace"


def test_a_model_registered_without_a_version_still_reports(tmp_path: Path):
    """The registry lets a card omit its version (a remote service often has none): the report shows
    the model by name instead of refusing the whole document."""
    data = sample()
    for use in data["uses"]:
        if use["model"]["id"] == data["uses"][0]["model"]["id"]:
            use["model"]["version"] = ""
    doc = DisclosureData.from_dict(data)
    assert doc.uses[0].model.version == ""
    assert doc.uses[0].model.name in html_document(doc)


# --------------------------------------------------------------------------- numbers and chart


def test_summary_counts_match_the_uses():
    data = sample()
    data["uses"][5]["assets"] = [_asset(900, status="quarantined"), _asset(901, marked=False)]
    s = summarize(data)
    assert s["uses"] == 7
    assert s["by_operation"] == {"storyboard": 3, "concept_art": 2, "likeness_deage": 1, "set_extension": 1}
    assert s["by_deliverable"] == {"temporary": 5, "final": 2}
    assert s["by_scene"]["2"] == {"concept_art": 1, "storyboard": 2}
    assert s["approvals"] == 7 and s["consents_relied_on"] == 1
    assert s["marking"]["not_fully_marked"] == [f"{901:016x}"]
    assert s["active_assets"] == 7 and s["assets"] == 8
    assert "NOT FULLY MARKED" in marking_statement(data)


def _bars(html_text: str) -> list[ET.Element]:
    svg = re.search(r"<svg.*?</svg>", html_text, re.S)
    assert svg, "no chart in the page"
    root = ET.fromstring(svg.group(0))
    return [r for r in root.iter(f"{SVG_NS}rect") if r.get("class") == "bar"]


def test_chart_bars_match_counts_per_scene_in_natural_order():
    data = sample()
    series = scene_series(data)
    assert series.scenes == ("2", "10", "12", "(no scene)")
    bars = _bars(html_document(data))
    per_scene: dict[str, int] = {}
    heights: dict[str, float] = {}
    for rect in bars:
        scene = rect.get("data-scene")
        per_scene[scene] = per_scene.get(scene, 0) + int(rect.get("data-count"))
        heights[scene] = heights.get(scene, 0.0) + float(rect.get("height"))
    assert per_scene == {"2": 3, "10": 1, "12": 2, "(no scene)": 1}
    # stacked heights are proportional to the counts: scene 2 is three times scene 10
    assert heights["2"] == pytest.approx(3 * heights["10"], rel=1e-3)
    assert heights["12"] == pytest.approx(2 * heights["10"], rel=1e-3)
    assert len(bars) == 6  # scene 2 has two segments (storyboard + concept art)
    # bars sit left to right in scene order
    xs = [float(r.get("x")) for r in bars]
    assert [r.get("data-scene") for r in sorted(bars, key=lambda r: float(r.get("x")))][0] == "2"
    assert xs == sorted(xs)


# --------------------------------------------------------------------------- escaping


def test_hostile_strings_are_escaped_everywhere_in_the_html():
    data = sample()
    data["production"]["title"] = HOSTILE
    data["uses"][0]["scene"] = HOSTILE
    data["uses"][0]["operation"] = '"><img src=x onerror=alert(1)>'
    data["uses"][4]["consents"][0]["description"] = HOSTILE
    data["consents"][0]["description"] = HOSTILE
    page = html_document(data)
    assert "<script" not in page.lower()
    assert "<img" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    _bars(page)  # the SVG stays well-formed with the hostile scene label inside it


# --------------------------------------------------------------------------- notices


def test_credits_notice_mentions_alteration_only_with_likeness_operations():
    with_likeness = credits_notice(sample())
    assert "digitally altered (including de-ageing)" in with_likeness
    assert "with their consent" in with_likeness
    assert "set extension" in with_likeness

    no_likeness = sample([u for u in sample()["uses"] if not u["operation"].startswith("likeness")])
    text = credits_notice(no_likeness)
    assert "altered" not in text and "performers" not in text
    assert "generated or modified using artificial intelligence" in text


def test_credits_notice_ignores_temporary_and_quarantined_material():
    temporary_only = sample([_use("j1", "storyboard", "1"), _use("j2", "likeness_deage", "2",
                                                                 consents=[_consent()])])
    assert credits_notice(temporary_only) == ""
    pulled = sample([_use("j1", "likeness_deage", "2", "final", consents=[_consent()],
                          assets=[_asset(500, status="quarantined")])])
    assert credits_notice(pulled) == ""


def test_credits_notice_does_not_claim_consent_it_does_not_have():
    data = sample([_use("j1", "likeness_deage", "2", "final", consents=[_consent(status="revoked")])])
    data["consents"][0]["status"] = "revoked"
    text = credits_notice(data)
    assert "de-ageing" in text and "consent" not in text


def test_per_episode_notice_speaks_of_the_episode():
    data = sample()
    data["scope"]["episode"] = "S01E03"
    assert credits_notice(data).startswith("This episode contains")


# --------------------------------------------------------------------------- files


def test_render_writes_all_formats_atomically(tmp_path: Path):
    paths = render_disclosure(sample(), tmp_path / "out")
    assert [p.name for p in paths] == ["disclosure.json", "disclosure.html", "disclosure.pdf", "credits_notice.txt"]
    assert not list((tmp_path / "out").glob(".*.tmp"))
    payload = json.loads(paths[0].read_text(encoding="utf-8"))
    assert payload["summary"]["by_scene"]["12"] == {"likeness_deage": 1, "set_extension": 1}
    assert payload["production"]["title"] == "The Last Take"
    pdf = paths[2].read_bytes()
    assert pdf.startswith(b"%PDF")
    assert b"(GenAI disclosure: The Last Take)" in pdf  # uncompressed page text
    assert b"Page 1 of" in pdf
    assert paths[3].read_text(encoding="utf-8").startswith("This programme contains")


def test_pdf_is_reproducible_and_survives_hostile_and_non_latin_text(tmp_path: Path):
    data = sample()
    data["uses"][0]["scene"] = HOSTILE
    data["consents"][0]["performer"] = "渡辺 謙"
    data["uses"][3]["assets"][0]["watermark"]["payload_hex"] = "ab" * 200  # one unbreakable word
    a = render_disclosure(data, tmp_path / "a", formats=("pdf",))[0].read_bytes()
    b = render_disclosure(data, tmp_path / "b", formats=("pdf",))[0].read_bytes()
    assert a.startswith(b"%PDF") and a == b


def test_a_model_card_taller_than_a_page_continues_on_the_next(tmp_path: Path):
    """A card's evidence can fill more than a landscape page's table cell (4,000 characters at the
    limit; cards registered before it may hold more): the row continues on the next page. ReportLab
    could not place such a table at all (LayoutError: the API's disclosure answered 500)."""
    data = sample()
    data["models"][0]["evidence"] = "contract clause " * 600 + "END-OF-EVIDENCE"
    data["models"][0]["name"] = "a very long model name " * 40
    [pdf] = render_disclosure(data, tmp_path, formats=("pdf",))[:1]
    text = pdf.read_bytes()
    assert b"END-OF-EVIDENCE" in text  # uncompressed page text: the row's end was drawn
    assert text.count(b"/Type /Page\n") + text.count(b"/Type /Page ") >= 3


def test_empty_uses_give_a_valid_report_saying_so(tmp_path: Path):
    data = sample([])
    paths = render_disclosure(data, tmp_path)
    page = paths[1].read_text(encoding="utf-8")
    assert "No generative AI use was recorded" in page
    assert "<svg" not in page
    assert json.loads(paths[0].read_text())["summary"]["genai_used"] is False
    assert paths[2].read_bytes().startswith(b"%PDF")
    assert b"No generative AI use was recorded" in paths[2].read_bytes()
    assert paths[3].read_text() == ""


def test_unknown_format_is_refused(tmp_path: Path):
    with pytest.raises(SpecError) as err:
        render_disclosure(sample(), tmp_path, formats=("json", "docx"))
    assert err.value.field == "formats[1]"
    assert not list(tmp_path.iterdir())


def test_unknown_training_data_is_flagged():
    data = sample()
    data["models"][0]["training_data"] = "unknown"
    for use in data["uses"]:
        use["model"]["training_data"] = "unknown"
    s = summarize(data)
    assert s["models_by_training_data"]["unknown"] == ["m-sd"]
    assert "training data provenance unknown" in s["models_with_concerns"]["m-sd"]
    assert 'class="flag">UNKNOWN' in html_document(data)


# --------------------------------------------------------------------------- hand-over: who, when, which log


@pytest.mark.parametrize("mutate, field", [
    (lambda d: d.pop("prepared_by"), "prepared_by"),
    (lambda d: d["prepared_by"].update(person=""), "prepared_by.person"),
    (lambda d: d["prepared_by"].update(authenticated="yes"), "prepared_by.authenticated"),
    (lambda d: d["sign_off"].update(date="tomorrow"), "sign_off.date"),
    (lambda d: d["sign_off"].pop("person"), "sign_off.person"),
    (lambda d: d.pop("audit_head"), "audit_head"),
    (lambda d: d["audit_head"].update(seq="42"), "audit_head.seq"),
    (lambda d: d["audit_head"].update(hash="C0" * 32), "audit_head.hash"),
])
def test_hand_over_fields_are_validated(mutate, field):
    data = sample()
    mutate(data)
    with pytest.raises(SpecError) as err:
        DisclosureData.from_dict(data)
    assert err.value.field == field


def test_sign_off_is_optional_and_then_no_signature_block_is_drawn(tmp_path: Path):
    data = sample()
    data.pop("sign_off")
    page = html_document(data)
    assert 'id="sign-off">not requested' in page and 'id="signature"' not in page
    signed = html_document(sample())
    assert 'id="signature"' in signed and "Reviewed and approved for release by Tom Reed, legal" in signed


@pytest.mark.parametrize("value, shown", [
    ("2026-12-06T14:03:27.123456+00:00", "2026-12-06 14:03 UTC"),
    ("2026-12-06T15:03:59+01:00", "2026-12-06 14:03 UTC"),
    ("2026-12-06T14:03:00", "2026-12-06 14:03 UTC"),  # the ledger's naive times are UTC
    ("2025-10-21T11:00:00Z", "2025-10-21 11:00 UTC"),
    ("2027-01-31", "2027-01-31"),
    (None, ""),
])
def test_readable_time(value, shown):
    assert readable_time(value) == shown


def test_html_shows_readable_times_and_never_raw_timestamps():
    data = sample()
    data["consents"][0]["valid_until"] = "2027-06-30T23:59:59.999999+00:00"
    data["generated_at"] = "2026-12-06T14:03:27.654321+00:00"
    page = html_document(data)
    assert "generated 2026-12-06 14:03 UTC" in page
    assert "2027-06-30 23:59 UTC" in page and "2025-10-21 11:00 UTC" in page
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:", page) and ".654321" not in page


def test_table_words_are_never_broken_only_hashes_and_ids_may_wrap():
    page = html_document(sample())
    css = re.search(r"<style>(.*?)</style>", page, re.S).group(1)
    rules = {sel.strip(): body for sel, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css)}
    cells = rules["th,td"]
    assert "word-break:normal" in cells and "overflow-wrap:normal" in cells and "anywhere" not in cells
    assert "overflow-wrap:anywhere" in rules["code,.id"]
    assert "break-all" not in css
    # every report table has explicit column widths adding up to the page
    for table in re.findall(r"<table>(<colgroup>.*?</colgroup>)", page):
        assert sum(int(w) for w in re.findall(r"width:(\d+)%", table)) == 100
    assert page.count("<colgroup>") == 3  # uses, models, consents (no quarantine in the sample)
    # hashes and watermark payloads are marked as ids, so they (and only they) wrap anywhere
    assert re.search(r'<span class="id">[0-9a-f]{16} frame_\d+\.png: wm spread\.1:', page)
    assert f"<code>{'ab' * 32}</code>" in page


def test_pdf_states_who_prepared_it_the_audit_head_and_leaves_signature_lines(tmp_path: Path):
    import subprocess

    [pdf] = render_disclosure(sample(), tmp_path, formats=("pdf",))[:1]
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True,
                          text=True).stdout
    assert re.search(r"Prepared by\s+Tom Reed \(legal\)", text)
    assert re.search(r"Audit log head\s+event #42, hash " + "c0" * 32, text)
    assert re.search(r"Signature\s+Name\s+Date", text) and "_" * 38 in text
    assert "generated 2025-10-22 09:00 UTC" in text and "2025-10-21 11:00 UTC" in text
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:", text)
