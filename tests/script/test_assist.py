"""What the breakdown assist sends a model and what it keeps of the answer (script/assist.py, DR022)."""

from __future__ import annotations

import pytest

from soundstage.domain.breakdown import Breakdown, BreakdownEdit
from soundstage.script.assist import (
    MAX_SUGGESTIONS, MalformedAnswer, Suggestion, check_answer, merge, response_schema, scene_texts, script_names,
)
from soundstage.script.breakdown import apply_edits, break_down
from soundstage.script.fountain import parse_fountain

SCRIPT = """INT. KITCHEN - NIGHT

MAYA (30s) lights a candle.
The kettle screams.

MAYA
(pouring tea)
Sit.

EXT. YARD - NIGHT

A dog barks at a broken swing.
"""


@pytest.fixture
def sp():
    return parse_fountain(SCRIPT)


def test_each_scene_is_sent_as_its_numbered_action_lines(sp):
    parts = scene_texts(sp)
    assert [p.index for p in parts] == [0, 1]
    assert dict(parts[0].lines) == {3: "MAYA (30s) lights a candle.", 4: "The kettle screams.", 7: "(pouring tea)"}
    assert "3: MAYA (30s) lights a candle." in parts[0].user_message()
    assert parts[0].messages()[0]["role"] == "system" and "JSON" in parts[0].messages()[0]["content"]
    assert "cast" not in response_schema()["properties"]["elements"]["items"]["properties"]["category"]["enum"]


def test_a_long_scene_is_split_within_the_budget(sp):
    parts = scene_texts(sp, budget=30)
    first = [p for p in parts if p.index == 0]
    assert len(first) > 1 and [p.part for p in first] == list(range(len(first)))
    assert sorted(n for p in first for n, _ in p.lines) == [3, 4, 7]


def test_check_keeps_what_points_at_its_line_and_counts_the_rest(sp):
    kitchen = scene_texts(sp)[0]
    answer = {"elements": [
        {"category": "props", "name": "candle", "line": 3, "quote": "lights a  CANDLE"},  # spacing, case
        {"category": "props", "name": "candle", "line": 3, "quote": "candle"},  # duplicate
        {"category": "sound", "name": "kettle scream", "line": 4, "quote": "kettle screams"},
        {"category": "props", "name": "teapot", "line": 7, "quote": "(pouring tea"},  # name not in the quote
        {"category": "animals", "name": "dog", "line": 11, "quote": "A dog"},  # the other scene's line
        {"category": "props", "name": "gun", "line": 3, "quote": "a gun"},  # not in the line
        {"category": "cast", "name": "Maya", "line": 3, "quote": "MAYA"},
        {"category": "props", "name": "Maya", "line": 3, "quote": "MAYA"},  # a character as an object
        {"category": "weather", "name": "night", "line": 3, "quote": "candle"},
        {"category": "props", "name": "candle", "line": "3", "quote": "candle"},  # line not a number
        "candle",
    ]}
    kept, dropped = check_answer(answer, kitchen, script_names(sp))
    assert kept == [Suggestion(0, "props", "candle", 3, "lights a  CANDLE"),
                    Suggestion(0, "sound", "kettle scream", 4, "kettle screams")]
    assert dropped == {"duplicate": 1, "name_not_in_quote": 1, "line_not_sent": 1, "quote_not_in_line": 1,
                       "cast": 1, "names_cast": 1, "unknown_category": 1, "missing_field": 1, "not_an_object": 1}


@pytest.mark.parametrize("answer", [[], {"elements": "candle"}, {"items": []},
                                    {"elements": [{}] * (MAX_SUGGESTIONS + 1)}])
def test_a_malformed_answer_is_refused_whole(sp, answer):
    with pytest.raises(MalformedAnswer):
        check_answer(answer, scene_texts(sp)[0])


def test_merge_keeps_rule_elements_replaces_the_last_assist_and_edits_win(sp):
    bd = break_down(sp)
    rules = {(s.number, e.key): e.origin for s, e in bd.elements()}
    kettle = Suggestion(0, "sound", "kettle scream", 4, "kettle screams")
    swing = Suggestion(1, "set_dressing", "broken swing", 11, "broken swing")
    candle = Suggestion(0, "set_dressing", "candle", 3, "candle")  # the rules' prop, another category
    merged = merge(bd, [kettle, swing, candle], model_id="studio.llm", record={"version": "assist.1"})
    again = Breakdown.from_dict(merged.to_dict())
    assert again.assist == {"version": "assist.1"}
    added = {(s.number, e.name): (e.origin, e.source_line) for s, e in again.elements() if e.origin != "rule"}
    assert added[("1", "kettle scream")] == ("assist:studio.llm", 4)
    assert ("1", "candle") not in added and {(s.number, e.key): e.origin for s, e in again.elements()
                                             if e.origin == "rule"} == rules
    # a re-run replaces the previous suggestions; a person's removal is not brought back
    rerun = merge(again, [swing], model_id="studio.llm", removed={"2": {"broken swing"}})
    assert [e for _, e in rerun.elements() if e.origin.startswith("assist:")] == []
    shown, unapplied = apply_edits(merged, [BreakdownEdit("1", "remove", "sound", "kettle scream")])
    assert shown.scene("1").find("sound", "kettle scream") is None and unapplied == []


def test_an_assist_origin_names_its_model():
    from soundstage.domain.breakdown import BreakdownElement
    from soundstage.errors import SpecError

    assert BreakdownElement("props", "candle", 3, origin="assist:studio.llm").origin == "assist:studio.llm"
    with pytest.raises(SpecError):
        BreakdownElement("props", "candle", 3, origin="assist:")


def test_a_suggestion_in_the_same_phrase_as_a_rule_element_is_that_element():
    sp = parse_fountain("INT. DINER - DAY\n\nShe sets down a bottle of Coca-Cola.\n")
    bd = break_down(sp)
    assert bd.scenes[0].find("props", "bottle") is not None
    cola = Suggestion(0, "props", "coca-cola", 3, "Coca-Cola")
    lines = dict(scene_texts(sp)[0].lines)
    assert merge(bd, [cola], model_id="m", lines=lines).scenes[0].find("props", "coca-cola") is None
    assert merge(bd, [cola], model_id="m").scenes[0].find("props", "coca-cola") is not None  # no text: kept
