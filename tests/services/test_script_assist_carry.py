"""A new draft keeps the breakdown assist's suggestions and reviews on the scenes the writer did not
touch (DR022 "New drafts"), through the service, the guard and a protocol-faithful local chat
server: draft 1 is assisted, draft 2 rewrites one scene and moves another, and exactly the unchanged
scene's suggestions survive, re-pointed, with a person's removal still winning. A breakdown row that
claims an assist the ledger does not prove carries nothing."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from soundstage.domain.breakdown import BreakdownEdit
from soundstage.errors import PendingApprovalError
from soundstage.services import people_service, script_service
from soundstage.services.ledger import audit_log
from soundstage.store.models import Asset, AuditEvent, Job, Production, ScreenplayDraft
from soundstage.testing.approvals import approve
from soundstage.testing.fake_chat_server import FakeOpenAIChat, numbered_lines, register_chat_model, tagger_elements
from soundstage.testing.identity import signer_for

KEY = "sk-test-carry-41d0"
GARAGE = """INT. GARAGE - NIGHT

MAYA (30s) drags a rusted toolbox across the concrete.
A single bulb swings overhead. Rain hammers the tin roof.

MAYA
Where is it?

She pulls a tarp off a battered motorcycle.
"""
PIER = """EXT. PIER - DAWN

Gulls wheel over a fishing boat. An old man mends a net.

MAYA
Too late.
"""
# the writer's second draft: a new scene before the garage (which moves down, word for word the same),
# and one word of the pier changed - "fishing boat" is still in the line the model quoted
PIER_REWRITTEN = PIER.replace("mends a net.", "mends a net under a lantern.")
STREET = """EXT. STREET - NIGHT

A bus pulls away from the kerb.
"""
DRAFT1 = "Title: Carry Test\n\n" + GARAGE + "\n" + PIER
DRAFT2 = "Title: Carry Test\n\n" + STREET + "\n" + GARAGE + "\n" + PIER_REWRITTEN
VOCABULARY = {"toolbox": "props", "bulb": "set_dressing", "rain": "special_effects", "tarp": "props",
              "motorcycle": "vehicles", "gulls": "animals", "boat": "vehicles", "net": "props", "lantern": "props"}


def model(body: dict) -> dict:
    """A scripted model: the vocabulary's words wherever a sent line has them; it rejects the rules' "tin"."""
    elements = [{"category": category, "name": word, "line": number, "quote": m.group(0)}
                for number, text in numbered_lines(body).items() for word, category in VOCABULARY.items()
                for m in [re.search(rf"\b{word}\b", text, re.IGNORECASE)] if m]
    reviews = [{"id": ref, "verdict": "not_an_element", "category": "", "reason": "part of the roof",
                "quote": "the tin roof"} for ref, (_, name, _) in tagger_elements(body).items() if name == "tin"]
    return {"elements": elements, "reviews": reviews}


@pytest.fixture
def production(sqlite_workspace, tmp_path, monkeypatch):
    ws = sqlite_workspace
    monkeypatch.setenv("STUDIO_LLM_KEY", KEY)
    for name, roles in [("Priya Shah", ["producer"]), ("Ken Ito", ["producer"])]:
        people_service.add_crew(ws, name, roles, actor="setup")
    import_draft(ws, tmp_path, DRAFT1, "carry1.fountain")
    return ws


def import_draft(ws, tmp_path, text: str, name: str) -> dict:
    path = tmp_path / name
    path.write_text(text)
    return script_service.import_script(ws, path, actor="Priya Shah")


def run_assist(ws) -> dict:
    with pytest.raises(PendingApprovalError) as waiting:
        script_service.assist_breakdown(ws, actor="Priya Shah")
    job = re.search(r"job (j-\w+)", str(waiting.value)).group(1)
    approve(ws, job, signer=signer_for(ws, "Ken Ito"), role="producer", actor="Ken Ito", wait=False)
    return script_service.assist_breakdown(ws, actor="Priya Shah", job_id=job)


def assisted(ws, version: int | None = None) -> set[tuple[str, str, str, int]]:
    bd, _ = script_service.get_breakdown(ws, version)
    return {(s.number, e.category.value, e.name, e.source_line) for s, e in bd.elements()
            if e.origin.startswith("assist:")}


def rejected(ws, version: int | None = None) -> set[tuple[str, str, int, str]]:
    bd, _ = script_service.get_breakdown(ws, version)
    return {(s.number, e.name, e.source_line, e.review["by"]) for s, e in bd.elements(rejected=True) if e.rejected}


def suggestion_set(ws, job: str) -> dict:
    with ws.unit_of_work() as s:
        output = s.scalars(select(Asset).where(Asset.job_id == job)).one()
        return json.loads(ws.store.read_bytes(output.sha256))


def test_a_new_draft_keeps_the_assist_on_the_unchanged_scene_only(production, tmp_path):
    with FakeOpenAIChat(model, api_key=KEY) as server:
        register_chat_model(production, server)
        result = run_assist(production)
        sent = len(server.completions())
        job = result["job"]
        before = assisted(production)
        garage = {a for a in before if a[0] == "1"}
        assert garage and {a for a in before if a[0] == "2"}, "the model must add to both scenes for the test to show"
        assert rejected(production) == {("1", "tin", 6, "assist:studio.llm")}
        # a person removes one of the assist's elements on the unchanged scene
        script_service.add_edit(production, BreakdownEdit("1", "remove", "set_dressing", "bulb"), actor="Priya Shah")
        imported = import_draft(production, tmp_path, DRAFT2, "carry2.fountain")
        assert len(server.completions()) == sent  # nothing was sent to the model for the new draft
    shift = 4  # the new street scene (heading, blank, action, blank) pushed the garage down four lines
    bd, _ = script_service.get_breakdown(production)
    assert [s.number for s in bd.scenes] == ["A1", "1", "2"] and imported["revision"]["changed"] == ["2"]
    expected = {(n, c, name, line + shift) for n, c, name, line in garage if name != "bulb"}
    assert assisted(production) == expected  # the garage's, moved four lines; none of the rewritten pier's
    for _, _, name, line in expected:
        assert name in DRAFT2.splitlines()[line - 1].lower()
    assert bd.scene("1").find("set_dressing", "bulb") is None  # the person's removal still wins
    assert rejected(production) == {("1", "tin", 6 + shift, "assist:studio.llm")}  # the review carried too
    assert "boat" in DRAFT2 and not any(a[0] == "2" for a in assisted(production))
    # which job, and how many carried and dropped: the breakdown, the import's answer and its audit event
    body = suggestion_set(production, job)
    on_pier = sum(1 for k in body["kept"] + body["reviews"] if k["scene_index"] == 1)
    on_garage = sum(1 for k in body["kept"] + body["reviews"] if k["scene_index"] == 0)
    assert bd.assist["job"] == job and bd.assist["carried"]["job_draft"] == 1 and bd.assist["model"] == "studio.llm"
    carried = imported["assist"]
    assert (carried["carried"], carried["dropped"]) == (on_garage, on_pier) and carried["job"] == job
    event = [e for e in audit_log(production) if e["action"] == "script.imported"][-1]
    assert event["subject"] == "draft 2" and event["payload"]["assist"]["carried"] == on_garage
    assert event["payload"]["assist"]["dropped"] == on_pier
    pier_reviews = sum(1 for k in body["reviews"] if k["scene_index"] == 1)
    assert event["payload"]["assist"]["reasons"] == {k: v for k, v in {
        "scene_changed": on_pier - pier_reviews, "review_scene_changed": pier_reviews}.items() if v}
    # the draft is "assisted" by that job: the page does not offer to merge it again
    assert script_service.assist_status(production)["merged"] is True

    # a third draft, the same as the second: the carry goes on from the job's own output
    third = import_draft(production, tmp_path, DRAFT2, "carry3.fountain")
    assert third["assist"]["carried"] == on_garage and third["assist"]["dropped"] == on_pier
    assert assisted(production) == expected


def test_a_forged_assist_element_in_the_previous_breakdown_is_not_carried(production, tmp_path):
    with FakeOpenAIChat(model, api_key=KEY) as server:
        register_chat_model(production, server)
        job = run_assist(production)["job"]
    proven = assisted(production)
    with production.unit_of_work() as s:  # someone with write access to the database adds a row
        draft = s.scalars(select(ScreenplayDraft).where(ScreenplayDraft.version == 1)).one()
        data = json.loads(json.dumps(draft.breakdown))
        data["scenes"][0]["elements"].append({"category": "props", "name": "grenade", "source_line": 5,
                                              "origin": "assist:studio.llm", "note": ""})
        toolbox = next(e for e in data["scenes"][0]["elements"] if e["name"] == "toolbox")
        toolbox["review"] = {"by": "assist:studio.llm", "verdict": "not_an_element", "reason": "forged"}
        draft.breakdown = data
    assert ("1", "props", "grenade", 5) in assisted(production)  # the forgery is in draft 1's breakdown
    assert ("1", "toolbox", 5, "assist:studio.llm") in rejected(production)
    imported = import_draft(production, tmp_path, DRAFT2, "carry2.fountain")
    assert imported["assist"]["job"] == job
    now = assisted(production)
    assert not any(name == "grenade" for _, _, name, _ in now)
    assert now == {(n, c, name, line + 4) for n, c, name, line in proven if n == "1"}
    assert rejected(production) == {("1", "tin", 10, "assist:studio.llm")}  # the job's review, not the forged one


def test_a_forged_assist_record_naming_no_merged_job_carries_nothing(sqlite_workspace, tmp_path):
    ws = sqlite_workspace
    import_draft(ws, tmp_path, DRAFT1, "carry1.fountain")
    with ws.unit_of_work() as s:  # draft 1 was never assisted; its row is made to say it was
        draft = s.scalars(select(ScreenplayDraft).where(ScreenplayDraft.version == 1)).one()
        data = json.loads(json.dumps(draft.breakdown))
        data["scenes"][0]["elements"].append({"category": "props", "name": "grenade", "source_line": 5,
                                              "origin": "assist:studio.llm", "note": ""})
        data["assist"] = {"version": "assist.2", "model": "studio.llm", "job": "j-000000000000"}
        draft.breakdown = data
    imported = import_draft(ws, tmp_path, DRAFT2, "carry2.fountain")
    assert imported["assist"]["carried"] == 0 and "j-000000000000" in imported["assist"]["refused"]
    assert assisted(ws) == set()
    bd, _ = script_service.get_breakdown(ws)
    assert bd.assist == {}
    event = [e for e in audit_log(ws) if e["action"] == "script.imported"][-1]
    assert event["payload"]["assist"]["refused"] == imported["assist"]["refused"]


def _merged_then_tampered(ws, tmp_path, tamper) -> dict:
    """Draft 1 assisted and merged, then ``tamper(session, job)`` behind the ledger's back, then draft 2."""
    with FakeOpenAIChat(model, api_key=KEY) as server:
        register_chat_model(ws, server)
        job = run_assist(ws)["job"]
    with ws.unit_of_work() as s:
        tamper(s, job)
    return import_draft(ws, tmp_path, DRAFT2, "carry2.fountain")


def test_a_merge_event_edited_in_the_audit_table_carries_nothing(production, tmp_path):
    """Pointing the merge event at another suggestion set (one an insider could forge into the store)
    breaks the event's own hash: the chain, not the row, says what was merged."""
    def tamper(s, job):
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "breakdown.assisted")).one()
        payload = json.loads(event.payload)
        payload["suggestions_sha256"] = "0" * 64
        event.payload = json.dumps(payload)

    imported = _merged_then_tampered(production, tmp_path, tamper)
    assert imported["assist"]["carried"] == 0 and "is not the chain's" in imported["assist"]["refused"]
    assert assisted(production) == set()


def test_an_assist_job_row_edited_behind_the_ledgers_back_carries_nothing(production, tmp_path):
    """The job the carry relies on is proven from its own audit events, as the guard proves a job
    before it runs: a row whose spec was edited (here: who asked for it) is named and nothing carries."""
    def tamper(s, job):
        row = s.get(Job, job)
        row.spec = {**row.spec, "requested_by": "Ken Ito"}

    imported = _merged_then_tampered(production, tmp_path, tamper)
    assert imported["assist"]["carried"] == 0 and "does not match its audit log" in imported["assist"]["refused"]
    assert assisted(production) == set()


def test_a_scene_rewritten_then_restored_does_not_bring_back_what_the_draft_between_dropped(production, tmp_path):
    """Draft 2 rewrites the garage (its assist drops, and so does a person's removal of an assist
    element there: the rules never found it); draft 3 restores draft 1's words. The carry goes from
    the previous draft, through the job's draft: what draft 2 did not hold does not come back, so the
    element the person removed stays out."""
    with FakeOpenAIChat(model, api_key=KEY) as server:
        register_chat_model(production, server)
        job = run_assist(production)["job"]
    assert ("1", "set_dressing", "bulb", 6) in assisted(production)
    script_service.add_edit(production, BreakdownEdit("1", "remove", "set_dressing", "bulb"), actor="Priya Shah")
    garage_rewritten = GARAGE.replace("Where is it?", "Where did you put it?")
    second = import_draft(production, tmp_path, "Title: Carry Test\n\n" + garage_rewritten + "\n" + PIER,
                          "carry2.fountain")
    assert second["assist"]["job"] == job and second["assist"]["carried"] > 0  # the pier carried
    assert not any(a[0] == "1" for a in assisted(production))
    third = import_draft(production, tmp_path, DRAFT1, "carry3.fountain")  # the garage as draft 1 had it
    assert third["assist"]["job"] == job
    assert not any(a[0] == "1" for a in assisted(production))  # draft 2 dropped them: they stay dropped
    bd, _ = script_service.get_breakdown(production)
    assert bd.scene("1").find("set_dressing", "bulb") is None
    assert {a for a in assisted(production) if a[0] == "2"} == {a for a in assisted(production, 1) if a[0] == "2"}
    import_draft(production, tmp_path, DRAFT1, "carry4.fountain")  # and not in a later draft either
    assert not any(a[0] == "1" for a in assisted(production)) and any(a[0] == "2" for a in assisted(production))


def test_a_suggestion_set_taken_out_of_service_after_the_merge_carries_nothing(production, tmp_path):
    """A suggestion set that is no longer active (quarantined, here by a row edit) is not read: the
    carry needs the job's one active set, so nothing of it reaches the new draft."""
    def tamper(s, job):
        s.scalars(select(Asset).where(Asset.job_id == job)).one().status = "quarantined"

    imported = _merged_then_tampered(production, tmp_path, tamper)
    assert imported["assist"]["carried"] == 0 and "0 suggestion sets" in imported["assist"]["refused"]
    assert assisted(production) == set() and rejected(production) == set()


def test_an_assist_record_naming_another_productions_job_carries_nothing(production, tmp_path):
    """A job of another production in the same database (here: the merged job's row moved to one)
    is not this production's to carry, whatever this draft's row says."""
    def tamper(s, job):
        s.add(Production(id="other0production", title="Another Show", created_at=datetime.now(timezone.utc)))
        s.flush()
        s.get(Job, job).production_id = "other0production"

    imported = _merged_then_tampered(production, tmp_path, tamper)
    assert imported["assist"]["carried"] == 0 and "of this production" in imported["assist"]["refused"]
    assert assisted(production) == set()


def test_a_persons_retag_beats_a_carried_review(production, tmp_path):
    """The model said the rules' "tin" is not an element; a person retagged it. On the new draft the
    carried review does not reject it again: the person's word on that name in that scene wins."""
    with FakeOpenAIChat(model, api_key=KEY) as server:
        register_chat_model(production, server)
        run_assist(production)
    bd, _ = script_service.get_breakdown(production)
    tin = next(e for s, e in bd.elements(rejected=True) if s.number == "1" and e.name == "tin")
    new_category = "props" if tin.category.value != "props" else "set_dressing"
    script_service.add_edit(production, BreakdownEdit("1", "retag", tin.category.value, "tin", new_category),
                            actor="Priya Shah")
    imported = import_draft(production, tmp_path, DRAFT2, "carry2.fountain")
    assert imported["assist"]["carried"] > 0
    bd, _ = script_service.get_breakdown(production)
    assert rejected(production) == set()  # the review did not come back over the person's retag
    found = bd.scene("1").find(new_category, "tin")
    assert found is not None and not found.rejected
    assert bd.assist["review_dropped"].get("review_person_edited") == 1
