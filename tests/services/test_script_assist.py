"""The breakdown assist end to end through the service and the guard, against a protocol-faithful local
chat server whose answers the test scripts (DR022): what is kept, what is refused before any byte is
sent, and that a person's edits win over a re-run."""

from __future__ import annotations

import json
import re

import pytest

from soundstage.domain.breakdown import BreakdownEdit
from soundstage.errors import BackendError, NotFoundError, PendingApprovalError, PolicyDeniedError, RefusedError
from soundstage.services import jobs_service
from soundstage.services import models, people_service
from soundstage.services import script_service
from soundstage.services.ledger import audit_log
from soundstage.testing.approvals import approve
from soundstage.testing.fake_chat_server import (
    FakeOpenAIChat, element_lines, numbered_lines, register_chat_model, tagger_elements,
)
from soundstage.testing.identity import signer_for

KEY = "sk-test-assist-7f3a9c"
SCRIPT = """Title: Assist Test

INT. GARAGE - NIGHT

MAYA (30s) drags a rusted toolbox across the concrete.
A single bulb swings overhead. Rain hammers the tin roof.

MAYA
Where is it?

She pulls a tarp off a battered motorcycle.

EXT. PIER - DAWN

Gulls wheel over a fishing boat. An old man mends a net.

MAYA
Too late.
"""


def things(body: dict) -> dict:
    """A scripted 'model': for each sent line, the listed words it finds there, as elements."""
    vocabulary = {"toolbox": "props", "bulb": "set_dressing", "rain": "special_effects", "tarp": "props",
                  "motorcycle": "vehicles", "gulls": "animals", "boat": "vehicles", "net": "props"}
    out = []
    for number, text in numbered_lines(body).items():
        for word, category in vocabulary.items():
            m = re.search(rf"\b{word}\b", text, re.IGNORECASE)
            if m:
                out.append({"category": category, "name": word, "line": number, "quote": m.group(0)})
    return {"elements": out}


@pytest.fixture
def production(sqlite_workspace, tmp_path, monkeypatch):
    ws = sqlite_workspace
    monkeypatch.setenv("STUDIO_LLM_KEY", KEY)
    for name, roles in [("Priya Shah", ["producer"]), ("Ken Ito", ["vfx_supervisor", "producer"])]:
        people_service.add_crew(ws, name, roles, actor="setup")
    path = tmp_path / "assist.fountain"
    path.write_text(SCRIPT)
    script_service.import_script(ws, path, actor="Priya Shah")
    return ws


def run_assist(ws, **kwargs) -> dict:
    """Start the assist as Priya Shah; Ken Ito (producer) approves; finish it."""
    with pytest.raises(PendingApprovalError, match="waiting for approval by") as waiting:
        script_service.assist_breakdown(ws, actor="Priya Shah", **kwargs)
    job = re.search(r"job (j-\w+)", str(waiting.value)).group(1)
    approve(ws, job, signer=signer_for(ws, "Ken Ito"), role="producer", actor="Ken Ito", wait=False)
    return script_service.assist_breakdown(ws, actor="Priya Shah", job_id=job)


def assisted(ws) -> dict[tuple[str, str], object]:
    bd, _ = script_service.get_breakdown(ws)
    return {(s.number, e.name): e for s, e in bd.elements() if e.origin.startswith("assist:")}


def test_suggestions_merge_with_their_lines_and_the_model_named(production):
    with FakeOpenAIChat(things, api_key=KEY) as server:
        register_chat_model(production, server)
        before, _ = script_service.get_breakdown(production)
        rule_names = {(s.number, e.name) for s, e in before.elements()}
        result = run_assist(production)
    sent = server.completions()
    assert len(sent) == 2  # one request per scene with action lines
    body = sent[0].json
    assert body["temperature"] == 0 and body["max_tokens"] == 2000
    assert body["response_format"]["type"] == "json_schema"
    assert sent[0].headers["Authorization"] == f"Bearer {KEY}"
    found = assisted(production)
    assert found, "the assist added nothing"
    for (scene, name), element in found.items():
        assert element.origin == "assist:studio.llm"
        assert (scene, name) not in rule_names  # what the rules had stays theirs
        line = SCRIPT.splitlines()[element.source_line - 1]
        assert re.search(name.rstrip("s"), line, re.IGNORECASE), (name, line)
    bd, _ = script_service.get_breakdown(production)
    assert bd.assist["version"] == "assist.2" and bd.assist["model"] == "studio.llm"
    assert result["kept"] >= len(found)
    events = [e for e in audit_log(production) if e["action"] == "breakdown.assisted"]
    assert events and events[-1]["payload"]["job"] == result["job"]
    # the suggestion set is the job's output: signed (a C2PA sidecar bound to its hash), from the script
    from sqlalchemy import select

    from soundstage.store.models import Asset, AssetEdge

    with production.unit_of_work() as s:
        output = s.scalars(select(Asset).where(Asset.job_id == result["job"])).one()
        parents = [e.parent_id for e in s.scalars(select(AssetEdge).where(AssetEdge.child_id == output.id))]
        script = s.get(Asset, parents[0])
        assert output.kind == "breakdown_suggestions" and output.details["c2pa_sidecar_sha256"]
        assert script.kind == "screenplay" and len(parents) == 1
        assert json.loads(production.store.read_bytes(output.sha256))["script_sha256"] == script.sha256
    submitted = next(e for e in audit_log(production) if e["action"] == "job.submitted"
                     and e["subject"] == result["job"])
    assert submitted["payload"]["model"] == "studio.llm" and submitted["payload"]["spec_digest"]


def test_a_model_that_keeps_inputs_is_refused_before_any_byte_is_sent(production):
    with FakeOpenAIChat(things, api_key=KEY) as server:
        register_chat_model(production, server, stores_inputs=True)
        with pytest.raises(PolicyDeniedError, match="NFX-P2-SCRIPT"):
            script_service.assist_breakdown(production, actor="Priya Shah")
    assert server.seen == []
    assert assisted(production) == {}


def test_a_model_that_trains_on_inputs_is_refused_too(production):
    with FakeOpenAIChat(things, api_key=KEY) as server:
        register_chat_model(production, server, trains_on_inputs=True)
        with pytest.raises(PolicyDeniedError, match="NFX-P2-SCRIPT"):
            script_service.assist_breakdown(production, actor="Priya Shah")
    assert server.seen == []


def test_an_unregistered_model_is_refused_and_none_registered_is_one_line(production):
    with FakeOpenAIChat(things, api_key=KEY) as server:
        with pytest.raises(NotFoundError, match="no breakdown assist model is registered"):
            script_service.assist_breakdown(production, actor="Priya Shah")
        with pytest.raises(RefusedError, match="acme.llm.*not in the model registry"):
            script_service.assist_breakdown(production, "acme.llm", actor="Priya Shah")
    assert server.seen == []


def test_suggestions_that_do_not_point_at_their_line_are_dropped_and_counted(production):
    def liar(body: dict) -> dict:
        lines = numbered_lines(body)
        first = min(lines)
        return {"elements": [
            {"category": "props", "name": "chainsaw", "line": first, "quote": "a chainsaw"},  # not in the line
            {"category": "props", "name": "toolbox", "line": 2, "quote": "toolbox"},  # the title page's line
            {"category": "props", "name": "maya", "line": first, "quote": "MAYA"},  # a character as an object
            {"category": "cast", "name": "old man", "line": first, "quote": lines[first][:6]},  # cast: never
            {"category": "weather", "name": "rain", "line": first, "quote": lines[first][:4]},  # no such category
        ]}

    with FakeOpenAIChat(liar, api_key=KEY) as server:
        register_chat_model(production, server)
        result = run_assist(production)
    assert assisted(production) == {}
    dropped = result["dropped"]
    assert dropped["quote_not_in_line"] == 2 and dropped["line_not_sent"] == 2
    assert dropped["names_cast"] == 2 and dropped["cast"] == 2 and dropped["unknown_category"] == 2


def test_a_suggestion_for_another_scenes_line_is_dropped(production):
    garage_line = next(i for i, t in enumerate(SCRIPT.splitlines(), 1) if "toolbox" in t)

    def crosser(body: dict) -> dict:
        if garage_line in numbered_lines(body):
            return {"elements": []}
        return {"elements": [{"category": "props", "name": "toolbox", "line": garage_line, "quote": "toolbox"}]}

    with FakeOpenAIChat(crosser, api_key=KEY) as server:
        register_chat_model(production, server)
        result = run_assist(production)
    assert assisted(production) == {} and result["dropped"] == {"line_not_sent": 1}


@pytest.mark.parametrize("answer,problem", [
    ("Sure! Here are the elements: toolbox, bulb.", "not JSON"),
    (json.dumps({"items": []}), "malformed element list"),
    (json.dumps({"elements": [{"category": "props", "name": "x", "line": 1, "quote": "x"}] * 201}),
     "malformed element list"),
])
def test_a_bad_answer_is_one_line_and_nothing_is_half_written(production, answer, problem):
    calls = []

    def respond(body: dict) -> str:
        calls.append(1)
        return json.dumps(things(body)) if len(calls) == 1 else answer  # the second scene goes wrong

    with FakeOpenAIChat(respond, api_key=KEY) as server:
        register_chat_model(production, server, completion_budget=16000)
        with pytest.raises(PendingApprovalError) as waiting:
            script_service.assist_breakdown(production, actor="Priya Shah")
        job = re.search(r"job (j-\w+)", str(waiting.value)).group(1)
        approve(production, job, signer=signer_for(production, "Ken Ito"), role="producer", actor="Ken Ito",
                wait=False)
        with pytest.raises(BackendError, match=problem) as error:
            script_service.assist_breakdown(production, actor="Priya Shah", job_id=job)
    assert "\n" not in str(error.value)
    assert assisted(production) == {}  # the first scene's good answer was not merged on its own
    assert jobs_service.show_job(production, job)["status"] == "failed"


def test_a_huge_answer_is_refused(production):
    with FakeOpenAIChat(lambda body: "x" * 300_000, api_key=KEY) as server:
        register_chat_model(production, server, completion_budget=16000)
        with pytest.raises(BackendError, match="KB limit|max_tokens"):
            run_assist(production)
    assert assisted(production) == {}


def test_a_persons_removal_and_retag_survive_a_rerun(production):
    with FakeOpenAIChat(things, api_key=KEY) as server:
        register_chat_model(production, server)
        run_assist(production)
        found = assisted(production)
        (scene, name), element = sorted(found.items())[0]
        (scene2, name2), element2 = sorted(found.items())[-1]
        script_service.add_edit(production, BreakdownEdit(scene, "remove", element.category, name), actor="Priya Shah")
        script_service.add_edit(production, BreakdownEdit(scene2, "retag", element2.category, name2,
                                                          new_category="set_dressing"), actor="Priya Shah")
        run_assist(production)
    bd, info = script_service.get_breakdown(production)
    assert bd.scene(scene).find(element.category, name) is None
    assert all(e.name != name for e in bd.scene(scene).elements)
    retagged = bd.scene(scene2).find("set_dressing", name2)
    assert retagged is not None and retagged.origin == "user"
    assert info["unapplied_edits"] == []


def test_the_api_key_is_never_in_the_ledger(production):
    with FakeOpenAIChat(things, api_key=KEY) as server:
        register_chat_model(production, server)
        run_assist(production)
    assert KEY not in json.dumps(audit_log(production), default=str)
    for model in models.list_models(production):
        assert KEY not in json.dumps(model)


def test_a_429_with_retry_after_is_retried(production):
    with FakeOpenAIChat(things, api_key=KEY) as server:
        register_chat_model(production, server, max_backoff_s=0.2)
        server.script("/v1/chat/completions", 429, {"error": {"message": "Rate limit reached", "type": "requests"}},
                      headers={"Retry-After": "0.1"})
        server.script("/v1/chat/completions", 500, {"error": {"message": "boom", "type": "server_error"}})
        run_assist(production)
    assert len(server.completions()) == 4  # two failures, then one request per scene
    assert assisted(production)


def test_a_server_without_json_schema_gets_json_object(production):
    with FakeOpenAIChat(things, api_key=KEY, schema_support=False) as server:
        register_chat_model(production, server)
        result = run_assist(production)
    formats = [s.json["response_format"]["type"] for s in server.completions()]
    assert formats == ["json_schema", "json_object", "json_object"]
    assert assisted(production) and result["kept"] > 0



# ----------------------------------------------------------------------------- the review of rule elements (assist.2)

def reviewer(verdicts: dict[str, tuple[str, str, str]], seen: list | None = None):
    """A scripted model that suggests ``things`` and reviews the rule elements it is sent by name:
    name -> (verdict, new category, quote of the element's line)."""
    def respond(body: dict) -> dict:
        if seen is not None:
            seen.append(tagger_elements(body))
        answer = things(body)
        answer["reviews"] = [{"id": ref, "verdict": verdicts[name][0], "category": verdicts[name][1],
                              "reason": f"the AD would not tag the {name}", "quote": verdicts[name][2]}
                             for ref, (_, name, _) in tagger_elements(body).items() if name in verdicts]
        return answer
    return respond


TIN = {"tin": ("not_an_element", "", "the tin roof")}


def test_a_review_rejects_a_rule_element_which_stays_for_a_person_but_leaves_the_exports(production, tmp_path):
    seen: list = []
    moves = {**TIN, "toolbox": ("other_category", "set_dressing", "a rusted toolbox")}
    with FakeOpenAIChat(reviewer(moves, seen), api_key=KEY) as server:
        register_chat_model(production, server)
        result = run_assist(production)
    sent = {name: (category, line) for request in seen for _, (category, name, line) in request.items()}
    assert sent["tin"] == ("props", 6) and sent["toolbox"] == ("props", 5)
    assert result["rejected"] == 1 and result["recategorised"] == 1 and result["version"] == "assist.2"
    bd, _ = script_service.get_breakdown(production)
    garage = bd.scene("1")
    tin = garage.find("props", "tin")
    assert tin is not None and tin.rejected and tin.origin == "rule"
    assert tin.review_text() == "rejected by assist:studio.llm (the AD would not tag the tin)"
    assert garage.find("set_dressing", "toolbox").review["from"] == "props" and garage.find("props", "toolbox") is None
    # the breakdown lists it with its reason; the sheets and exports leave it out
    listed = {e["name"]: e for e in bd.to_dict()["scenes"][0]["elements"]}
    assert listed["tin"]["review"]["verdict"] == "not_an_element"
    assert "tin" not in {e.name for e in garage.in_category("props")}
    written = script_service.write_reports(production, tmp_path / "out", ["elements", "scenes"], ["json", "csv"],
                                           actor="Priya Shah")
    elements = json.loads((tmp_path / "out" / "elements.json").read_text())
    assert {"toolbox", "rain"} <= {e["name"] for e in elements} and "tin" not in {e["name"] for e in elements}
    assert ",tin," not in (tmp_path / "out" / "elements.csv").read_text()
    assert len(written) == 4
    event = [e for e in audit_log(production) if e["action"] == "breakdown.assisted"][-1]
    assert event["payload"]["rejected"] == 1 and event["payload"]["recategorised"] == 1


def test_a_review_of_an_element_never_sent_is_dropped_and_counted(production):
    def stranger(body: dict) -> dict:
        refs = tagger_elements(body)
        line = next(iter(numbered_lines(body)))
        other = {**element_lines(body), **numbered_lines(body)}
        first = next(iter(refs))
        elsewhere = next(t for n, t in other.items() if n != refs[first][2]) if len(other) > 1 else "no such words"
        return {"elements": [], "reviews": [
            {"id": f"E{len(refs) + 1}", "verdict": "not_an_element", "category": "", "reason": "x",
             "quote": numbered_lines(body)[line][:8]},
            {"id": first, "verdict": "not_an_element", "category": "", "reason": "x", "quote": elsewhere}]}

    with FakeOpenAIChat(stranger, api_key=KEY) as server:
        register_chat_model(production, server)
        result = run_assist(production)
    assert result["dropped"]["review_not_sent"] == 2 and result["dropped"]["review_quote_not_in_line"] == 2
    assert result["rejected"] == 0
    bd, _ = script_service.get_breakdown(production)
    assert not any(e.review for _, e in bd.elements(rejected=True))


def test_a_persons_restore_survives_a_rerun(production):
    with FakeOpenAIChat(reviewer(TIN), api_key=KEY) as server:
        register_chat_model(production, server)
        run_assist(production)
        bd, _ = script_service.get_breakdown(production)
        assert bd.scene("1").find("props", "tin").rejected
        script_service.add_edit(production, BreakdownEdit("1", "add", "props", "tin"), actor="Priya Shah")
        bd, _ = script_service.get_breakdown(production)
        assert "tin" in {e.name for e in bd.scene("1").in_category("props")}  # one edit restores it
        result = run_assist(production)
    assert result["rejected"] == 0 and result["review_dropped"] == {"review_person_edited": 1}
    bd, info = script_service.get_breakdown(production)
    tin = bd.scene("1").find("props", "tin")
    assert tin is not None and not tin.rejected and info["unapplied_edits"] == []


def test_a_person_added_element_is_never_sent_for_review_nor_removed(production):
    seen: list = []
    script_service.add_edit(production, BreakdownEdit("1", "add", "props", "crowbar"), actor="Priya Shah")
    everything = {name: ("not_an_element", "", "a") for name in ("tin", "toolbox", "rain", "motorcycle", "crowbar")}
    with FakeOpenAIChat(reviewer(everything, seen), api_key=KEY) as server:
        register_chat_model(production, server)
        run_assist(production)
    assert seen and all("crowbar" not in {name for _, name, _ in request.values()} for request in seen)
    bd, _ = script_service.get_breakdown(production)
    crowbar = bd.scene("1").find("props", "crowbar")
    assert crowbar is not None and crowbar.origin == "user" and not crowbar.rejected
    assert bd.scene("1").find("props", "toolbox").rejected  # the same answer did reject the rules' elements


def test_a_rejected_element_is_not_handed_to_the_storyboards(production):
    from soundstage.services import boards_service

    with FakeOpenAIChat(reviewer(TIN), api_key=KEY) as server:
        register_chat_model(production, server)
        run_assist(production)
    bd, _ = script_service.get_breakdown(production)
    names = {e["name"] for e in boards_service._scene_dict(bd, "1")["elements"]}
    assert "toolbox" in names and "tin" not in names
