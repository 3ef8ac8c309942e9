"""Cast, location and scene reports (CSV/JSON) and the breakdown-sheet PDF."""

from __future__ import annotations

import csv
import io
import json
import os
import re
from pathlib import Path

import pytest

from soundstage.domain.breakdown import Breakdown, Category, SceneBreakdown
from soundstage.errors import WorkspaceError
from soundstage.script.breakdown import break_down
from soundstage.script.fountain import parse_fountain
from soundstage.script.reports import (
    breakdown_sheets_pdf, cast_rows, format_eighths, location_rows, rows_to_csv, rows_to_json, scene_rows,
)
from soundstage.script.revisions import lock_numbers

SCRIPT = """Title: Report Test

INT. KITCHEN - NIGHT

MAYA lights a candle.

MAYA
Anyone home?

EXT. STREET - DAY

JONAH runs past a parked car. MAYA watches.

JONAH
Wait!

INT. KITCHEN - DAY

JONAH sits. A knife on the table.

MAYA
You came back.
"""


@pytest.fixture(scope="module")
def bd() -> Breakdown:
    return break_down(parse_fountain(SCRIPT))


def test_format_eighths() -> None:
    assert [format_eighths(n) for n in (0, 1, 3, 8, 11, 16, 23)] == ["0", "1/8", "3/8", "1", "1 3/8", "2", "2 7/8"]
    with pytest.raises(ValueError):
        format_eighths(-1)


def test_cast_rows(bd: Breakdown) -> None:
    rows = {r["character"]: r for r in cast_rows(bd)}
    assert set(rows) == {"MAYA", "JONAH"}
    maya, jonah = rows["MAYA"], rows["JONAH"]
    assert (maya["scene_count"], maya["speaking_scenes"], maya["nonspeaking_scenes"]) == (3, 2, 1)
    assert (maya["first_scene"], maya["last_scene"]) == ("1", "3")
    assert (jonah["scene_count"], jonah["speaking_scenes"], jonah["nonspeaking_scenes"]) == (2, 1, 1)
    assert (jonah["first_scene"], jonah["last_scene"]) == ("2", "3")
    assert maya["speaking"] == "speaking"


def test_location_rows(bd: Breakdown) -> None:
    rows = {(r["location"], r["int_ext"]): r for r in location_rows(bd)}
    kitchen = rows[("KITCHEN", "INT")]
    assert kitchen["times_of_day"] == ["NIGHT", "DAY"] and kitchen["scenes"] == ["1", "3"]
    assert kitchen["total_eighths"] == bd.scenes[0].eighths + bd.scenes[2].eighths
    assert kitchen["total_pages"] == format_eighths(kitchen["total_eighths"])
    assert rows[("STREET", "EXT")]["scenes"] == ["2"]


def test_csv_and_json_round_trip(bd: Breakdown) -> None:
    text = rows_to_csv(cast_rows(bd))
    parsed = list(csv.DictReader(io.StringIO(text)))
    maya = next(r for r in parsed if r["character"] == "MAYA")
    assert maya["scene_count"] == "3" and maya["scenes"] == "1; 2; 3"
    data = json.loads(rows_to_json(scene_rows(bd)))
    assert [r["scene"] for r in data] == ["1", "2", "3"]
    assert data[1]["location"] == "STREET" and data[1]["cast"] == ["JONAH", "MAYA"]
    assert data[2]["element_count"] == len(bd.scenes[2].elements) - 2
    assert rows_to_csv([]) == ""


def _pdf_pages(path: Path) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", path.read_bytes()))


def test_breakdown_pdf_has_cover_plus_one_sheet_per_scene(bd: Breakdown, tmp_path: Path) -> None:
    out = tmp_path / "sheets.pdf"
    pages = breakdown_sheets_pdf(bd, out, title="Report Test")
    data = out.read_bytes()
    assert data.startswith(b"%PDF")
    assert pages == 4 == _pdf_pages(out)
    assert b"BREAKDOWN SHEET" in data and b"KITCHEN - NIGHT" in data
    assert [p.name for p in tmp_path.iterdir()] == ["sheets.pdf"]  # no temp file left behind


def test_pdf_skips_omitted_scenes_and_replaces_atomically(bd: Breakdown, tmp_path: Path) -> None:
    new_text = SCRIPT.split("EXT. STREET")[0] + "INT. KITCHEN - DAY" + SCRIPT.split("INT. KITCHEN - DAY")[1]
    locked, report = lock_numbers(bd, break_down(parse_fountain(new_text)))
    assert report.omitted == ["2"]
    out = tmp_path / "sheets.pdf"
    out.write_bytes(b"old content")
    assert breakdown_sheets_pdf(locked, out, title="Draft 2") == 3
    assert _pdf_pages(out) == 3 and out.read_bytes().startswith(b"%PDF")
    rows = scene_rows(locked)
    assert [(r["scene"], r["omitted"]) for r in rows] == [("1", False), ("2", True), ("3", False)]


def test_pdf_lists_many_elements_without_overflowing(tmp_path: Path) -> None:
    from soundstage.domain.breakdown import BreakdownElement

    scene = SceneBreakdown("1", 0, "INT. WAREHOUSE - NIGHT", "INT", "WAREHOUSE", "NIGHT", 11, 1, 82.5,
                           [], [], [BreakdownElement(Category.PROPS, f"crate {i}", 3) for i in range(60)],
                           1, "x")
    out = tmp_path / "big.pdf"
    assert breakdown_sheets_pdf(Breakdown("Big", [scene], 1), out) == 2
    data = out.read_bytes()
    assert b"1 3/8" in data and b"more" in data


def test_pdf_into_missing_folder_is_a_workspace_error(bd: Breakdown, tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError):
        breakdown_sheets_pdf(bd, tmp_path / "nope" / "x.pdf")
    assert not os.path.exists(tmp_path / "nope")
