"""Draft comparison with locked scene numbers, and carrying edits across drafts."""

from __future__ import annotations

import pytest

from soundstage.domain.breakdown import Breakdown, BreakdownEdit, Category
from soundstage.script.breakdown import apply_edits, break_down
from soundstage.script.fountain import parse_fountain
from soundstage.script.revisions import (
    _insert_number, _next_letters, carry_edits, compare_drafts, lock_numbers,
)

BASE = [
    ("INT. KITCHEN - DAY", "Maya cooks eggs in a pan. A cat watches from the counter."),
    ("EXT. GARDEN - DAY", "A dog digs under the roses. Maya drinks coffee from a mug."),
    ("INT. GARAGE - NIGHT", "The car will not start. Jonah kicks the tyre."),
    ("INT. ATTIC - NIGHT", "Dust everywhere. A trunk full of letters."),
    ("EXT. ROOF - DAWN", "Birds take off. Maya smokes a cigarette."),
    ("INT. CELLAR - NIGHT", "Wine racks. A single lamp swings."),
]


def script(scenes: list[tuple[str, str]]) -> str:
    return "\n\n".join(f"{heading}\n\n{action}" for heading, action in scenes) + "\n"


def bd_of(scenes: list[tuple[str, str]]) -> Breakdown:
    return break_down(parse_fountain(script(scenes)))


@pytest.fixture(scope="module")
def old() -> Breakdown:
    return bd_of(BASE)


def test_identical_draft_is_all_unchanged(old: Breakdown) -> None:
    locked, report = lock_numbers(old, bd_of(BASE))
    assert locked.numbers() == old.numbers() == ["1", "2", "3", "4", "5", "6"]
    assert report.unchanged == ["1", "2", "3", "4", "5", "6"]
    assert report.added == report.omitted == report.moved == report.changed == []


def test_insert_between_2_and_3_becomes_2A_then_2B(old: Breakdown) -> None:
    new = list(BASE)
    new.insert(2, ("INT. HALLWAY - DAY", "A new hallway with a long rug."))
    new.insert(3, ("INT. STAIRS - DAY", "Footsteps on a creaking stair."))
    locked, report = lock_numbers(old, bd_of(new))
    assert locked.numbers() == ["1", "2", "2A", "2B", "3", "4", "5", "6"]
    assert report.added == ["2A", "2B"]
    assert locked.scene("2A").location == "HALLWAY"


def test_insert_before_scene_1_becomes_A1(old: Breakdown) -> None:
    locked, report = lock_numbers(old, bd_of([("EXT. SKY - DAY", "Clouds roll by.")] + BASE))
    assert locked.numbers()[:2] == ["A1", "1"] and report.added == ["A1"]


def test_omitted_scene_stays_as_placeholder(old: Breakdown) -> None:
    new = [s for s in BASE if "ATTIC" not in s[0]]
    locked, report = lock_numbers(old, bd_of(new))
    assert [s.label for s in locked.scenes] == ["1", "2", "3", "4 OMITTED", "5", "6"]
    placeholder = locked.scene("4")
    assert placeholder.omitted and placeholder.heading == "OMITTED" and placeholder.elements == []
    assert report.omitted == ["4"]
    assert [s.number for s in locked.live_scenes()] == ["1", "2", "3", "5", "6"]
    # a later draft keeps the placeholder and never reuses number 4
    new2 = list(new)
    new2.insert(3, ("INT. LOFT - NIGHT", "Boxes and a broken chair."))  # where the attic was
    locked2, report2 = lock_numbers(locked, bd_of(new2))
    assert [s.label for s in locked2.scenes] == ["1", "2", "3", "4 OMITTED", "4A", "5", "6"]
    assert report2.omitted == [] and report2.added == ["4A"]


def test_moved_and_changed_scenes_keep_their_numbers(old: Breakdown) -> None:
    new = list(BASE)
    new[1] = ("EXT. GARDEN - DAY", "A dog digs a deep hole under the roses. Maya drinks tea from a mug.")
    new.append(new.pop(0))  # the kitchen scene now closes the script
    locked, report = lock_numbers(old, bd_of(new))
    assert locked.numbers() == ["2", "3", "4", "5", "6", "1"]
    assert report.moved == ["1"]
    assert report.changed == ["2"]
    assert report.unchanged == ["3", "4", "5", "6"]
    assert report.added == [] and report.omitted == []
    change = report.for_old_number("2")
    assert change is not None and 0.5 <= change.similarity < 1.0


def test_rewritten_scene_in_place_is_changed_not_added(old: Breakdown) -> None:
    new = list(BASE)
    new[2] = ("INT. GARAGE - NIGHT", "Completely different words: an explosion rocks the walls.")
    _, report = lock_numbers(old, bd_of(new))
    assert report.changed == ["3"] and report.added == [] and report.omitted == []


def test_compare_drafts_accepts_a_screenplay(old: Breakdown) -> None:
    new = [s for s in BASE if "CELLAR" not in s[0]]
    report = compare_drafts(old, parse_fountain(script(new)))
    assert report.omitted == ["6"]
    assert report.to_dict()["omitted"] == ["6"]


def test_edits_carry_to_unchanged_scenes_and_changed_ones_when_the_words_remain(old: Breakdown) -> None:
    edits = [
        BreakdownEdit("1", "add", "props", "frying pan"),  # unchanged scene: kept
        BreakdownEdit("2", "retag", "props", "mug", new_category="set_dressing"),  # mug still there: kept
        BreakdownEdit("2", "remove", "props", "coffee"),  # coffee rewritten away: dropped
        BreakdownEdit("2", "add", "wardrobe", "sun hat"),  # add on a changed scene: kept
        BreakdownEdit("4", "add", "props", "key"),  # scene omitted: dropped
    ]
    new = [s for s in BASE if "ATTIC" not in s[0]]
    new[1] = ("EXT. GARDEN - DAY", "A dog digs under the roses. Maya drinks tea from a mug.")
    locked, report = lock_numbers(old, bd_of(new))
    kept, dropped = carry_edits(edits, report)
    assert kept == [edits[0], edits[1], edits[3]]
    assert dropped == [edits[2], edits[4]]
    edited, unapplied = apply_edits(locked, kept)
    assert unapplied == []
    assert edited.scene("1").find(Category.PROPS, "frying pan") is not None
    assert edited.scene("2").find(Category.SET_DRESSING, "mug") is not None
    # an edit that was not carried would still be reported by apply_edits, never silently lost
    _, unapplied_all = apply_edits(locked, edits)
    assert edits[4] in unapplied_all


def test_letter_sequence_and_tight_gaps() -> None:
    assert [_next_letters(s) for s in ("", "A", "Y", "Z", "AZ")] == ["A", "B", "Z", "AA", "BA"]
    assert _insert_number("5", "6", {"5", "6"}) == "5A"
    assert _insert_number("5A", "6", {"5", "5A", "6"}) == "5B"
    assert _insert_number("5A", "5B", {"5", "5A", "5B", "6"}) == "5AA"
    assert _insert_number(None, "1", {"1"}) == "A1"
    assert _insert_number("A1", "1", {"A1", "1"}) == "B1"
