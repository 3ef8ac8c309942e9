"""`soundstage script assist` through the real entry point, against a local OpenAI-compatible chat server
whose answers the test scripts: a one-line error with no model registered, the escalation to the
producer, and the merged suggestions after approval (DR022)."""

from __future__ import annotations

import json
import re

import pytest

from soundstage.services import people_service
from soundstage.services import script_service
from soundstage.testing.fake_chat_server import (
    FakeOpenAIChat, numbered_lines, register_chat_model, tagger_elements,
)
from soundstage.testing.identity import token_for

SCRIPT = """INT. WORKSHOP - NIGHT

Tomas sands a wooden rocking horse. Sawdust hangs in the lamplight.

TOMAS
Almost.
"""


def responder(body: dict) -> dict:
    """A scripted model: the rocking horse and the sawdust, wherever a sent line has them."""
    out = []
    for number, text in numbered_lines(body).items():
        for name, category in (("rocking horse", "props"), ("sawdust", "special_effects")):
            if name in text.lower():
                out.append({"category": category, "name": name, "line": number, "quote": name})
    return {"elements": out}


@pytest.fixture
def prod(sqlite_workspace, tmp_path, monkeypatch, cli_as):
    ws = sqlite_workspace
    for name in ("Priya Shah", "Ken Ito"):
        people_service.add_crew(ws, name, ["producer"], actor="setup")
    path = tmp_path / "workshop.fountain"
    path.write_text(SCRIPT)
    script_service.import_script(ws, path, actor="Priya Shah")
    monkeypatch.setenv("STUDIO_LLM_KEY", "sk-cli")
    return {"ws": ws, "cli": cli_as(ws, {n: token_for(ws, n) for n in ("Priya Shah", "Ken Ito")})}


def test_no_assist_model_registered_is_one_clear_line(prod):
    code, _, err = prod["cli"]("script", "assist", who="Priya Shah")
    assert code == 2
    assert "no breakdown assist model is registered" in err and "breakdown-assist.md" in err


def test_assist_waits_for_the_producer_then_merges(prod):
    cli = prod["cli"]
    code, out, _ = cli("script", "breakdown", "--json", who="Priya Shah")
    by_rules = {e["name"] for s in json.loads(out)["scenes"] for e in s["elements"]}
    expected = {"rocking horse", "sawdust"} - by_rules
    assert expected, "the rules found both already: the test would show nothing"
    with FakeOpenAIChat(responder, api_key="sk-cli") as server:
        register_chat_model(prod["ws"], server)
        code, _, err = cli("script", "assist", who="Priya Shah")
        assert code == 1 and "waiting for approval by" in err and "script assist --job" in " ".join(err.split())
        assert server.seen == []  # nothing is sent before the approval
        job = re.search(r"job (j-\w+)", err).group(1)
        code, _, err = cli("job", "approve", job, "--role", "producer", who="Ken Ito")
        assert code == 0, err
        code, out, err = cli("script", "assist", "--job", job, "--json", who="Priya Shah")
        assert code == 0, err
    result = json.loads(out)
    assert result["job"] == job and result["added"] == len(expected) and result["model"] == "studio.llm"
    code, out, _ = cli("script", "breakdown", "--json", who="Priya Shah")
    elements = [e for s in json.loads(out)["scenes"] for e in s["elements"]]
    assisted = {e["name"]: e for e in elements if e["origin"] == "assist:studio.llm"}
    assert set(assisted) == expected
    assert all(e["source_line"] == 3 for e in assisted.values())
    code, out, _ = cli("script", "breakdown", who="Priya Shah")
    assert code == 0 and "+ suggested by studio.llm" in out
    assert any(f"{name}+ (l.3)" in out for name in expected)


def test_an_element_the_assist_rejected_is_shown_with_a_minus_and_its_reason(prod):
    """The model rejects the rules' rocking horse: the listing marks it "-" with the reason, the JSON keeps it."""
    def rejecter(body: dict) -> dict:
        return {"elements": [], "reviews": [
            {"id": ref, "verdict": "not_an_element", "category": "", "reason": "a toy being made, not dressing",
             "quote": "wooden rocking horse"} for ref, (_, name, _) in tagger_elements(body).items()
            if name == "rocking horse"]}

    cli = prod["cli"]
    with FakeOpenAIChat(rejecter, api_key="sk-cli") as server:
        register_chat_model(prod["ws"], server)
        code, _, err = cli("script", "assist", who="Priya Shah")
        job = re.search(r"job (j-\w+)", err).group(1)
        code, _, err = cli("job", "approve", job, "--role", "producer", who="Ken Ito")
        assert code == 0, err
        code, out, err = cli("script", "assist", "--job", job, who="Priya Shah")
        assert code == 0, err
    assert "1 rejected" in " ".join(out.split())
    code, out, _ = cli("script", "breakdown", who="Priya Shah")
    flat = " ".join(out.split())
    assert code == 0
    assert "-set_dressing: rocking horse (l.3) rejected by assist:studio.llm (a toy being made, not dressing)" in flat
    assert "set dressing: rocking horse" not in flat  # not listed among what the scene needs
    code, out, _ = cli("script", "breakdown", "--json", who="Priya Shah")
    horse = next(e for s in json.loads(out)["scenes"] for e in s["elements"] if e["name"] == "rocking horse")
    assert horse["review"] == {"by": "assist:studio.llm", "verdict": "not_an_element",
                               "reason": "a toy being made, not dressing"}
    code, _, err = cli("script", "edit", "add", "--scene", "1", "--category", "set_dressing",
                       "--name", "rocking horse", who="Priya Shah")
    assert code == 0, err
    code, out, _ = cli("script", "breakdown", who="Priya Shah")
    assert "set dressing: rocking horse (l.3)" in " ".join(out.split())  # one edit restored it


def test_importing_a_new_draft_says_how_much_of_the_assist_carried(prod, tmp_path):
    """The workshop is word for word the same after a new first scene: both suggestions carry, re-pointed."""
    cli = prod["cli"]
    with FakeOpenAIChat(responder, api_key="sk-cli") as server:
        register_chat_model(prod["ws"], server)
        code, _, err = cli("script", "assist", who="Priya Shah")
        job = re.search(r"job (j-\w+)", err).group(1)
        assert cli("job", "approve", job, "--role", "producer", who="Ken Ito")[0] == 0
        code, out, err = cli("script", "assist", "--job", job, "--json", who="Priya Shah")
        assert code == 0, err
    added = json.loads(out)["added"]
    assert added > 0
    draft2 = tmp_path / "workshop2.fountain"
    draft2.write_text("EXT. YARD - DAY\n\nSnow on the woodpile.\n\n" + SCRIPT)
    code, out, err = cli("script", "import", str(draft2), who="Priya Shah")
    assert code == 0, err
    # both suggestions held (one of them the rules already had, so it added nothing, then as now)
    assert (f"assist: 2 carried, 0 dropped: {added} elements added, 0 rejected, 0 moved (job {job} of studio.llm, "
            "which read draft 1;") in " ".join(out.split())
    code, out, _ = cli("script", "breakdown", "--json", who="Priya Shah")
    data = json.loads(out)
    assisted = [e for s in data["scenes"] for e in s["elements"] if e["origin"] == "assist:studio.llm"]
    assert len(assisted) == added and all(e["source_line"] == 7 for e in assisted)  # line 3, four lines down
    assert data["assist"]["job"] == job and data["assist"]["carried"]["from_draft"] == 1
