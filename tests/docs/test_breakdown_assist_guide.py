"""docs/guides/breakdown-assist.md cannot rot: its model card registers and runs the assist end to end
(against the local chat server, its base_url pointed there), and every reason a suggestion is
dropped for is named in it."""

from __future__ import annotations

import inspect
import re
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).parent))
import guide_tools as gt  # noqa: E402

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "guides" / "breakdown-assist.md"


def test_the_guides_model_card_registers_and_assists(sqlite_workspace, tmp_path, monkeypatch):
    from soundstage.domain.safeguards import ModelCard
    from soundstage.errors import PendingApprovalError
    from soundstage.services import models, people_service
    from soundstage.services import script_service
    from soundstage.testing.approvals import approve
    from soundstage.testing.fake_chat_server import FakeOpenAIChat, numbered_lines
    from soundstage.testing.identity import signer_for

    ws = sqlite_workspace
    for name in ("Priya Shah", "Omar Reyes"):
        people_service.add_crew(ws, name, ["producer"], actor="setup")
    script = tmp_path / "dock.fountain"
    script.write_text("EXT. DOCK - NIGHT\n\nA pallet jack squeaks past stacked crates.\n")
    script_service.import_script(ws, script, actor="Priya Shah")

    def responder(body: dict) -> dict:
        return {"elements": [{"category": "props", "name": "pallet jack", "line": n, "quote": "pallet jack"}
                             for n, text in numbered_lines(body).items() if "pallet jack" in text]}

    record = yaml.safe_load(gt.example(GUIDE.read_text(), "studio_llm.yaml"))
    monkeypatch.setenv(record["config"]["api_key_env"], "sk-guide")
    with FakeOpenAIChat(responder, api_key="sk-guide", models=(record["config"]["model"],)) as server:
        backend, config = record.pop("backend"), record.pop("config")
        config["base_url"] = server.url + "/v1"
        models.register_model(ws, ModelCard.from_dict(record), backend=backend, config=config, actor="setup")
        try:
            script_service.assist_breakdown(ws, actor="Priya Shah")
        except PendingApprovalError as waiting:
            job = re.search(r"job (j-\w+)", str(waiting)).group(1)
        approve(ws, job, signer=signer_for(ws, "Omar Reyes"), role="producer", actor="Omar Reyes")
        result = script_service.assist_breakdown(ws, actor="Priya Shah", job_id=job)
    assert server.completions()[0].json["max_tokens"] == config["completion_budget"]
    assert result["model"] == "studio.llm" and result["version"] == "assist.2"
    bd, _ = script_service.get_breakdown(ws)
    assert bd.scenes[0].find("props", "pallet jack").origin == "assist:studio.llm"
    # "A new draft": the dock scene, word for word, after a new one - its suggestion carries, moved down
    script.write_text("INT. OFFICE - NIGHT\n\nA fax machine beeps.\n\n" + script.read_text())
    carried = script_service.import_script(ws, script, actor="Priya Shah")["assist"]
    assert (carried["carried"], carried["dropped"], carried["job"], carried["job_draft"]) == (1, 0, job, 1)
    bd, _ = script_service.get_breakdown(ws)
    jack = bd.scene("1").find("props", "pallet jack")
    assert jack.origin == "assist:studio.llm" and jack.source_line == 7


def test_the_guide_names_every_reason_a_suggestion_is_dropped():
    from soundstage.script import assist

    source = inspect.getsource(assist)
    reasons = set(re.findall(r'return "(\w+)", None', source)) | set(re.findall(r'reason, suggestion = "(\w+)"', source))
    assert len(reasons) >= 8
    text = GUIDE.read_text()
    reasons |= {assist.CARRY_SCENE_CHANGED, "review_" + assist.CARRY_SCENE_CHANGED}  # a new draft's drops
    missing = sorted(r for r in reasons - {"not_an_object", "missing_field", "bad_name"} if f"`{r}`" not in text)
    assert not missing, f"breakdown-assist.md does not explain {missing}"
