"""`soundstage audit checkpoint` and `audit verify --checkpoint/--witness` on the command line (issue 12)."""

from __future__ import annotations

import json
import shutil

from rich.console import Console
from sqlalchemy import delete, select

from soundstage.domain.safeguards import JobSpec, OperationKind
from soundstage.interfaces.cli import common
from soundstage.interfaces.cli.app import main
from soundstage.safeguards import audit
from soundstage.services import jobs_service
from soundstage.store.models import AuditEvent, AuditHead


def _events(ws, n: int) -> None:
    with ws.unit_of_work() as s:
        for i in range(n):
            audit.append(s, production_id=ws.production_id, actor="maya", action="test.event", subject=str(i),
                         payload={"i": i})


def _rebuild_without(ws, seq: int) -> None:
    """Delete event #seq and rewrite every later one through the same append: a consistent chain."""
    with ws.unit_of_work() as s:
        rows = [(e.production_id, e.at, e.actor, e.action, e.subject, json.loads(e.payload))
                for e in s.scalars(select(AuditEvent).order_by(AuditEvent.seq)) if e.seq != seq]
        s.execute(delete(AuditEvent))
        s.execute(delete(AuditHead))
        s.flush()
        for production_id, at, actor, action, subject, payload in rows:
            audit.append(s, production_id=production_id, actor=actor, action=action, subject=subject,
                         payload=payload, at=at)


def test_checkpoint_then_verify_detects_a_rebuilt_chain(sqlite_workspace, tmp_path, monkeypatch, capsys):
    ws = sqlite_workspace
    monkeypatch.setenv("SOUNDSTAGE_SINGLE_USER", "1")
    monkeypatch.delenv("SOUNDSTAGE_TOKEN", raising=False)
    monkeypatch.setattr(common, "console", Console(width=300, highlight=False))

    def cli(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(["-w", str(ws.settings.root), *args])
        out, err = capsys.readouterr()
        return code, out, err

    _events(ws, 4)
    spec = JobSpec(id="", production_id=ws.production_id, operation=OperationKind.IDEATION, requested_by="Priya Shah",
                   model_id="soundstage.procedural-card", prompt="rainy street at dusk")
    asset = jobs_service.submit_job(ws, spec, actor="Priya Shah")["assets"][0]
    delivered = tmp_path / "delivered.png"
    shutil.copyfile(ws.store.path_for(asset["sha256"]), delivered)

    code, out, err = cli("audit", "checkpoint", "--out", str(tmp_path / "cp.json"), "--json")
    assert code == 0, err
    made = json.loads(out)
    assert made["file"] == str(tmp_path / "cp.json") and made["timestamped"] is False
    code, out, err = cli("audit", "checkpoint")  # default: a new file under exports/
    assert code == 0, err
    assert "not time-stamped" in out
    assert len(list((ws.settings.root / "exports").glob("audit-checkpoint-*.json"))) == 1

    code, out, err = cli("audit", "verify", "--checkpoint", str(tmp_path / "cp.json"), "--witness", str(delivered))
    assert code == 0, err
    assert f"checkpoint cp.json: event #{made['seq']} still has the signed hash" in out
    assert "witness delivered.png: event #" in out

    _rebuild_without(ws, 2)
    code, out, err = cli("audit", "verify")
    assert code == 0, err  # the rebuilt chain is consistent: plain verify cannot tell
    code, out, err = cli("audit", "verify", "--checkpoint", str(tmp_path / "cp.json"), "--witness", str(delivered))
    assert code == 1
    assert "checkpoint cp.json:" in err and "rebuilt" in err and "and 1 more" in err
    assert "witness delivered.png:" in out  # the second problem, listed
    code, out, _ = cli("audit", "verify", "--json", "--checkpoint", str(tmp_path / "cp.json"))
    assert code == 1
    report = json.loads(out)
    assert [(a["kind"], a["ok"]) for a in report["anchors"]] == [("checkpoint", False)]
    assert "rebuilt" in report["anchors"][0]["problem"]
