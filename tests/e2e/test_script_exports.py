"""Exports of a locked, revised script (issue 15), end to end: import -> revise -> export -> re-import keeps
2A and OMITTED, through the real `soundstage` command and the service it calls; the title shown plain."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from sqlalchemy import select

from soundstage.errors import InputError, SpecError
from soundstage.services import script_service
from soundstage.store.models import ScreenplayDraft

DATA = Path(__file__).resolve().parents[1] / "data" / "exports"
DRAFT_1 = (DATA / "brick_draft1.fountain").read_text(encoding="utf-8")
DRAFT_2 = (DATA / "brick_draft2.fountain").read_text(encoding="utf-8")

LOCKED = ["1", "2", "2A", "3", "4 OMITTED", "5"]


def _labels(scenes: list[dict]) -> list[str]:
    return [f"{s['number']} OMITTED" if s.get("omitted") else s["number"] for s in scenes]


def sh(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "SOUNDSTAGE_WORKSPACE"}
    return subprocess.run([sys.executable, "-m", "soundstage", *args], env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture
def ws(tmp_path: Path, monkeypatch) -> Path:
    """A production made by `soundstage init`, commands run with its owner's credential."""
    for name in ("SOUNDSTAGE_TOKEN", "SOUNDSTAGE_TOKEN_FILE", "SOUNDSTAGE_SINGLE_USER"):
        monkeypatch.delenv(name, raising=False)
    root = tmp_path / "prod"
    r = sh("init", str(root), "--title", "Brick and Steel", "--owner", "first.ad")
    assert r.returncode == 0, r.stderr
    monkeypatch.setenv("SOUNDSTAGE_TOKEN", r.stdout.strip().splitlines()[-1])
    return root


@pytest.mark.slow
def test_cli_export_carries_locked_numbers_and_survives_reimport(ws, tmp_path: Path) -> None:
    for k, text in enumerate((DRAFT_1, DRAFT_2), start=1):
        draft = tmp_path / f"brick_{k}.fountain"
        draft.write_text(text, encoding="utf-8")
        r = sh("-w", str(ws), "script", "import", str(draft), "--json")
        assert r.returncode == 0, r.stderr
    r = sh("-w", str(ws), "script", "breakdown", "--json")
    assert _labels(json.loads(r.stdout)["scenes"]) == LOCKED

    fdx, fountain = tmp_path / "locked.fdx", tmp_path / "locked.fountain"
    for fmt, out in (("fdx", fdx), ("fountain", fountain)):
        r = sh("-w", str(ws), "script", "export", "-f", fmt, "-o", str(out))
        assert r.returncode == 0, r.stderr
    heads = [(p.get("Number"), p.findtext("Text")) for p in ET.parse(fdx).getroot().iter("Paragraph")
             if p.get("Type") == "Scene Heading"]
    assert [n for n, _ in heads] == ["1", "2", "2A", "3", "4", "5"] and heads[4][1] == "OMITTED"
    assert ET.parse(fdx).getroot().find("TitlePage/Content/Paragraph/Text").text == "BRICK & STEEL"
    text = fountain.read_text(encoding="utf-8")
    assert "#2A#" in text and ".OMITTED #4#" in text

    # the exported files come back as the next drafts with nothing added, cut or renumbered
    for out in (fountain, fdx):
        r = sh("-w", str(ws), "script", "import", str(out), "--json")
        assert r.returncode == 0, r.stderr
        revision = json.loads(r.stdout)["revision"]
        assert revision["added"] == [] and revision["omitted"] == [] and revision["changed"] == []
        r = sh("-w", str(ws), "script", "breakdown", "--json")
        assert _labels(json.loads(r.stdout)["scenes"]) == LOCKED


def test_service_export_is_from_the_locked_draft_and_titles_are_plain(sqlite_workspace, tmp_path: Path) -> None:
    ws = sqlite_workspace
    for k, text in enumerate((DRAFT_1, DRAFT_2), start=1):
        path = tmp_path / f"brick_{k}.fountain"
        path.write_text(text, encoding="utf-8")
        script_service.import_script(ws, path, actor="ad")
    out = tmp_path / "d2.fountain"
    script_service.export_script(ws, "fountain", out, actor="ad")
    assert "INT. STAIRWELL - NIGHT #2A#" in out.read_text(encoding="utf-8")
    # draft 1 exports with its own numbers, no OMITTED (nothing was cut yet)
    script_service.export_script(ws, "fountain", out, 1, actor="ad")
    assert "OMITTED" not in out.read_text(encoding="utf-8")

    bd, info = script_service.get_breakdown(ws)
    assert bd.title == info["title"] == "BRICK & STEEL"
    assert {d["title"] for d in script_service.draft_history(ws)} == {"BRICK & STEEL"}
    # a draft stored before titles were made plain reads plain too
    with ws.unit_of_work() as s:
        row = s.scalars(select(ScreenplayDraft).order_by(ScreenplayDraft.version.desc())).first()
        row.title = "_**BRICK & STEEL**_"
        row.breakdown = {**row.breakdown, "title": "_**BRICK & STEEL**_"}
    bd, info = script_service.get_breakdown(ws)
    assert bd.title == info["title"] == "BRICK & STEEL"


def test_export_refuses_a_bad_format_or_a_forged_breakdown_and_writes_nothing(sqlite_workspace, tmp_path: Path) -> None:
    ws = sqlite_workspace
    path = tmp_path / "brick.fountain"
    path.write_text(DRAFT_1, encoding="utf-8")
    script_service.import_script(ws, path, actor="ad")
    out = tmp_path / "out.fdx"
    with pytest.raises(InputError, match="unknown export format"):
        script_service.export_script(ws, "pdf", out, actor="ad")
    with ws.unit_of_work() as s:  # a stored breakdown whose scenes do not belong to the stored text
        row = s.scalars(select(ScreenplayDraft)).first()
        scenes = [dict(sc) for sc in row.breakdown["scenes"]]
        scenes[0]["index"] = 40
        row.breakdown = {**row.breakdown, "scenes": scenes}
    with pytest.raises(SpecError, match="does not have"):
        script_service.export_script(ws, "fdx", out, actor="ad")
    assert not out.exists()
