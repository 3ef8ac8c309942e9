"""The disclosure report built from a real ledger, through the services: a demo-like production
(a union performer, a consent for the final cut, a de-age approved by every role), real backend,
watermark and C2PA. What legal needs to hand it over: who prepared it, who signs it off, the audit
head it reflects, readable times, finals counted right and the credits notice written.

The adversary: a sign-off by someone without the role, a report run in single-user mode, a forged
audit head, a temporary job under a final-cut-only consent, a revoked consent."""

from __future__ import annotations

import json
import re
import subprocess

import numpy as np
import pytest
from PIL import Image

from soundstage.domain.safeguards import JobSpec, OperationKind
from soundstage.errors import SpecError
from soundstage.safeguards.disclosure import DisclosureData
from soundstage.services import jobs_service as jobs
from soundstage.services import consent_service, disclosure_service, people_service, talent_service
from soundstage.services.ledger import audit_log, ingest_media, list_assets, verify_audit
from soundstage.testing.approvals import approve
from soundstage.testing.identity import signer_for

HOLDERS = {"producer": "Priya Shah", "vfx_supervisor": "Ken Ito", "rights_clearance": "Tom Reed",
           "legal": "Tom Reed", "performer_rep": "Lena Ortiz"}
ISO_WITH_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")
READABLE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC")


@pytest.fixture
def final_cut(workspace, tmp_path):
    """The demo's shot 5A: Maya Castell de-aged for the final cut, consented, approved, delivered."""
    ws = workspace
    people_service.add_crew(ws, "Priya Shah", ["producer"], actor="setup")
    people_service.add_crew(ws, "Ken Ito", ["vfx_supervisor"], actor="setup")
    people_service.add_crew(ws, "Tom Reed", ["rights_clearance", "legal"], actor="setup")
    people_service.add_crew(ws, "Lena Ortiz", ["performer_rep"], actor="setup")
    maya = talent_service.add_performer(ws, "Maya Castell", union_status="sag-aftra", representatives=["Lena Ortiz"],
                            actor="setup")
    rng = np.random.default_rng(5)
    pixels = (rng.random((240, 320, 3)) * 60 + np.linspace(60, 180, 320)[None, :, None]).astype(np.uint8)
    Image.fromarray(pixels).save(tmp_path / "plate.png")
    plate = ingest_media(ws, tmp_path / "plate.png", kind="plate", actor="setup", scene="5", shot="5A")
    document = tmp_path / "signed_consent.pdf"
    document.write_bytes(b"%PDF-1.4 signed digital alteration consent, Maya Castell, scene 5, final cut")
    consent = consent_service.grant_consent(ws, maya["id"], document=document, kind="digital_alteration",
                               operations=["likeness_deage"], scenes=["5"], max_alteration=0.5,
                               media=["final"], signed_separately=True, representation="union",
                               description="De-ageing of Maya Castell in the 1994 flashback, scene 5, "
                                           "for the final cut of The Last Take only",
                               signer=signer_for(ws, "Lena Ortiz"))

    def deage(**over) -> dict:
        fields = dict(id="", production_id=ws.production_id, operation=OperationKind.LIKENESS_DEAGE,
                      requested_by="Rae Requester", model_id="soundstage.retouch", inputs=(plate["id"],),
                      performers=(maya["id"],), scene="5", shot="5A", alteration_amount=0.3,
                      deliverable="final", medium="final")
        fields.update(over)
        return jobs.submit_job(ws, JobSpec(**fields), actor="Rae Requester")

    result = deage()
    for role in result["decision"]["approver_roles"]:
        result = approve(ws, result["job"], signer=signer_for(ws, HOLDERS[role]), role=role, note=f"{role} ok",
                         actor=HOLDERS[role])
    assert result["status"] == "done", result
    return ws, maya, consent, deage, result


def pdf_text(path) -> str:
    """The PDF's text as a reader sees it (poppler's pdftotext, a Debian package from scripts/sysdeps.sh)."""
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True,
                          text=True).stdout


def _report(ws, out, **kw):
    kw.setdefault("actor", "Tom Reed")
    paths, head = disclosure_service.write_disclosure_report(ws, out, ["json", "html", "pdf"], **kw)
    return {p.name: p for p in paths}, head


def test_final_cut_deage_is_a_final_deliverable_and_the_credits_notice_says_so(final_cut, tmp_path):
    ws, maya, consent, _, result = final_cut
    files, _ = _report(ws, tmp_path / "disclosure", sign_off_role="legal")
    data = json.loads(files["disclosure.json"].read_text(encoding="utf-8"))
    [use] = data["uses"]
    assert use["job_id"] == result["job"] and use["operation"] == "likeness_deage"
    assert use["deliverable"] == "final"
    assert data["summary"]["by_deliverable"] == {"temporary": 0, "final": 1}
    assert [c["consent_id"] for c in use["consents"]] == [consent["id"]]
    notice = files["credits_notice.txt"].read_text(encoding="utf-8")
    assert notice == data["summary"]["credits_notice"] + "\n"
    assert "performers' appearance was digitally altered (including de-ageing)" in notice
    assert notice.rstrip().endswith("with their consent.")
    assert data["performers_depicted"] == [{"performer": "Maya Castell", "operations": ["likeness_deage"]}]
    page = files["disclosure.html"].read_text(encoding="utf-8")
    assert 'id="credits-notice">This programme contains scenes' in page


def test_a_temporary_job_under_a_final_cut_only_consent_is_refused(final_cut):
    """Why the demo's de-age counted as temporary: it was submitted without --final, so the job said
    'temporary' while the consent said 'final cut'. A final-only consent refuses that mismatch."""
    _, _, _, deage, _ = final_cut
    refused = deage(deliverable="temporary", medium="previz")
    assert refused["status"] == "denied" and refused["assets"] == []


def test_prepared_by_sign_off_and_audit_head_tie_the_report_to_the_ledger(final_cut, tmp_path):
    ws = final_cut[0]
    files, head = _report(ws, tmp_path / "disclosure", sign_off_role="legal")
    data = json.loads(files["disclosure.json"].read_text(encoding="utf-8"))
    assert data["prepared_by"] == {"person": "Tom Reed", "roles": ["legal", "rights_clearance"],
                                   "authenticated": True}
    assert data["sign_off"] == {"role": "legal", "person": "Tom Reed"}  # the role's only holder
    assert data["audit_head"] == head
    # the head is the event just before the report's own audit event, and the chain verifies through it
    events = audit_log(ws, limit=10_000)
    written = events[-1]
    assert written["action"] == "disclosure.written"
    before = next(e for e in events if e["seq"] == head["seq"])
    assert before["hash"] == head["hash"] and written["seq"] == head["seq"] + 1
    assert written["payload"]["audit_head"] == head and written["payload"]["sign_off"]["person"] == "Tom Reed"
    assert verify_audit(ws).ok
    page = files["disclosure.html"].read_text(encoding="utf-8")
    assert f"event #{head['seq']}, hash <code>{head['hash']}</code>" in page
    assert 'id="prepared-by">Tom Reed (legal, rights_clearance)</td>' in page
    assert "Reviewed and approved for release by Tom Reed, legal" in page
    text = pdf_text(files["disclosure.pdf"])
    assert f"event #{head['seq']}, hash {head['hash']}" in text and "Tom Reed (legal, rights_clearance)" in text
    assert re.search(r"_{38}\s+_{38}\s+_{20}\s+Signature\s+Name\s+Date", text)  # blank lines for a wet signature


def test_times_are_readable_everywhere_a_person_reads_them(final_cut, tmp_path):
    files, _ = _report(final_cut[0], tmp_path / "disclosure")
    data = json.loads(files["disclosure.json"].read_text(encoding="utf-8"))
    stamps = [data["generated_at"], data["uses"][0]["created_at"]] + [a["at"] for a in data["uses"][0]["approvals"]]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", t) for t in stamps), stamps
    page = files["disclosure.html"].read_text(encoding="utf-8")
    assert not ISO_WITH_TIME.search(page)
    assert len(READABLE.findall(page)) >= 2 + len(data["uses"][0]["approvals"])
    text = pdf_text(files["disclosure.pdf"])
    assert len(READABLE.findall(text)) >= 1 + len(data["uses"][0]["approvals"]) and not ISO_WITH_TIME.search(text)


def test_sign_off_must_name_a_holder_of_the_role_and_nothing_is_written_otherwise(final_cut, tmp_path):
    ws = final_cut[0]
    with pytest.raises(SpecError, match="not a crew member holding the role 'legal'") as err:
        _report(ws, tmp_path / "a", sign_off_role="legal", sign_off_person="Ken Ito")
    assert err.value.field == "sign_off.person"
    with pytest.raises(SpecError, match="0 crew members hold the role 'notary'"):
        _report(ws, tmp_path / "b", sign_off_role="notary")
    with pytest.raises(SpecError) as err:
        _report(ws, tmp_path / "c", sign_off_person="Tom Reed")
    assert err.value.field == "sign_off.role"
    assert not any((tmp_path / d).exists() for d in "abc")
    files, _ = _report(ws, tmp_path / "d", sign_off_role="legal", sign_off_person="tom reed")
    assert json.loads(files["disclosure.json"].read_text())["sign_off"]["person"] == "Tom Reed"


def test_a_report_run_without_a_credential_says_so(final_cut, tmp_path):
    files, _ = _report(final_cut[0], tmp_path / "disclosure", actor="single-user:tom")
    data = json.loads(files["disclosure.json"].read_text(encoding="utf-8"))
    assert data["prepared_by"] == {"person": "single-user:tom", "roles": [], "authenticated": False}
    assert "NOT AUTHENTICATED" in files["disclosure.html"].read_text(encoding="utf-8")


def test_a_forged_audit_head_is_refused_or_disagrees_with_the_log(final_cut, tmp_path):
    ws = final_cut[0]
    files, head = _report(ws, tmp_path / "disclosure")
    data = json.loads(files["disclosure.json"].read_text(encoding="utf-8"))
    data.pop("summary")
    for bad, field in (({"seq": -1, "hash": head["hash"]}, "audit_head.seq"),
                       ({"seq": True, "hash": head["hash"]}, "audit_head.seq"),
                       ({"seq": head["seq"], "hash": "nope"}, "audit_head.hash"),
                       ({"seq": head["seq"], "hash": head["hash"], "verified": True}, "audit_head.verified")):
        with pytest.raises(SpecError) as err:
            DisclosureData.from_dict({**data, "audit_head": bad})
        assert err.value.field == field
    without = dict(data)
    without.pop("audit_head")
    with pytest.raises(SpecError, match="is missing"):
        DisclosureData.from_dict(without)
    # a well-formed but forged head names an event the log does not have with that hash
    forged = {"seq": head["seq"], "hash": "0" * 64}
    DisclosureData.from_dict({**data, "audit_head": forged})
    logged = {e["seq"]: e["hash"] for e in audit_log(ws, limit=10_000)}
    assert logged[head["seq"]] == head["hash"] != forged["hash"]


def test_after_revocation_the_deage_leaves_the_notice_and_is_listed_as_quarantined(final_cut, tmp_path):
    ws, _, consent, _, result = final_cut
    consent_service.revoke_consent(ws, consent["id"], reason="performer withdrew consent", signer=signer_for(ws, "Lena Ortiz"))
    files, _ = _report(ws, tmp_path / "disclosure")
    data = json.loads(files["disclosure.json"].read_text(encoding="utf-8"))
    assert data["summary"]["by_deliverable"]["final"] == 1 and data["summary"]["active_assets"] == 0
    # the de-age and the review preview its approvers looked at both relied on the consent and are
    # quarantined; the report lists the deliverable only (a preview is never delivered, as in its uses)
    previews = [a for a in list_assets(ws, "preview") if a["job_id"] == result["job"]]
    assert len(previews) == 1 and previews[0]["status"] == "quarantined"
    assert [q["asset_id"] for q in data["quarantined"]] == [a["id"] for a in result["assets"]]
    assert files["credits_notice.txt"].read_text(encoding="utf-8") == ""
    page = files["disclosure.html"].read_text(encoding="utf-8")
    assert "relied on a revoked consent" in page and not ISO_WITH_TIME.search(page)


def test_when_the_pdf_cannot_be_signed_no_report_is_left_half_written(final_cut, tmp_path):
    """The time-stamp authority is down: the signed PDF fails first, so no JSON, HTML or credits
    notice is left beside a missing PDF, and no 'disclosure.written' event claims otherwise."""
    import socket

    import tomli_w
    import tomllib

    from soundstage.errors import BackendError
    from soundstage.services.workspace import open_workspace

    ws = final_cut[0]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = ws.settings.root / "soundstage.toml"
    cfg = tomllib.loads(config.read_text(encoding="utf-8"))
    cfg["provenance"] = {"tsa_url": f"http://127.0.0.1:{port}/tsa"}
    config.write_text(tomli_w.dumps(cfg), encoding="utf-8")
    down = open_workspace(ws.settings.root)
    try:
        events = len(audit_log(down, limit=10_000))
        with pytest.raises(BackendError, match="time-stamp"):
            _report(down, tmp_path / "disclosure", sign_off_role="legal")
        assert not any((tmp_path / "disclosure").glob("*")) and not any((tmp_path / "disclosure").glob(".*"))
        assert len(audit_log(down, limit=10_000)) == events
    finally:
        down.close()
