"""What the breakdown assist sends a model and what it keeps of the answer (script/assist.py, DR022)."""

from __future__ import annotations

import pytest

from soundstage.domain.breakdown import Breakdown, BreakdownEdit, BreakdownElement
from soundstage.script.assist import (
    MAX_REASON_CHARS, MAX_REVIEW_ELEMENTS, MAX_SUGGESTIONS, MalformedAnswer, Review, Suggestion, check_answer,
    check_reviews, merge, recheck_review, response_schema, scene_texts, script_names,
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
        {"category": "props", "name": "Maya Reyes", "line": 3, "quote": "MAYA"},  # her full name: the character
        {"category": "props", "name": "Maya's candle", "line": 3, "quote": "CANDLE"},  # hers: a thing
        {"category": "weather", "name": "night", "line": 3, "quote": "candle"},
        {"category": "props", "name": "candle", "line": "3", "quote": "candle"},  # line not a number
        "candle",
    ]}
    kept, dropped = check_answer(answer, kitchen, script_names(sp))
    assert kept == [Suggestion(0, "props", "candle", 3, "lights a  CANDLE"),
                    Suggestion(0, "sound", "kettle scream", 4, "kettle screams"),
                    Suggestion(0, "props", "Maya's candle", 3, "CANDLE")]
    assert dropped == {"duplicate": 1, "name_not_in_quote": 1, "line_not_sent": 1, "quote_not_in_line": 1,
                       "cast": 1, "names_cast": 2, "unknown_category": 1, "missing_field": 1, "not_an_object": 1}


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
    assert again.assist == {"version": "assist.1", "rejected": 0, "recategorised": 0, "review_dropped": {}}
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


# ----------------------------------------------------------------------------- the review of rule elements (assist.2)

REVIEWED = """INT. KITCHEN - NIGHT

MAYA (30s) lights a candle. The kettle screams.

MAYA
Hand me the revolver.

EXT. YARD - NIGHT

A dog barks at a broken swing.
"""


def _rules(text: str = REVIEWED):
    """The script and its rules' breakdown, plus - for REVIEWED - a rule element pointing at a dialogue
    line (as the rules make for a thing only named in dialogue), to show its line is sent with it."""
    sp = parse_fountain(text)
    bd = break_down(sp)
    if text == REVIEWED:
        bd.scenes[0].elements.append(BreakdownElement("props", "revolver", 6))
    return sp, bd


def _ref(part, category: str, name: str) -> str:
    return next(e.ref for e in part.elements if (e.category, e.name) == (category, name))


def test_the_rules_elements_are_sent_for_review_with_their_lines():
    sp, bd = _rules()
    kitchen, yard = scene_texts(sp, breakdown=bd)
    sent = {(e.category, e.name, e.line) for e in kitchen.elements}
    rules = {(e.category.value, e.name, e.source_line) for e in bd.scenes[0].elements if e.category != "cast"}
    assert sent == rules and ("props", "revolver", 6) in sent  # named only in dialogue: sent with its line
    assert all(e.category != "cast" for p in (kitchen, yard) for e in p.elements)
    assert dict(kitchen.element_lines) == {6: "Hand me the revolver."}  # not an action line, sent for the quote
    message = kitchen.user_message()
    assert 'props "revolver" (line 6)' in message and "6: Hand me the revolver." in message
    assert {e.name for e in yard.elements} >= {"dog"}
    assert scene_texts(sp)[0].elements == ()  # without the rules' breakdown nothing is reviewed
    schema = response_schema()
    assert schema["required"] == ["elements", "reviews"]
    assert "cast" not in schema["properties"]["reviews"]["items"]["properties"]["category"]["enum"]


def test_a_crowded_scene_sends_at_most_the_bound():
    props = " ".join(f"She drops a {w}." for w in ["cup", "gun", "knife", "bottle", "lamp", "book"] * 40)
    sp, bd = _rules(f"INT. ROOM - DAY\n\n{props}\n")
    part = scene_texts(sp, breakdown=bd)[0]
    assert 0 < len(part.elements) <= MAX_REVIEW_ELEMENTS


def test_check_keeps_grounded_reviews_and_counts_the_rest():
    sp, bd = _rules()
    kitchen = scene_texts(sp, breakdown=bd)[0]
    candle, revolver = _ref(kitchen, "props", "candle"), _ref(kitchen, "props", "revolver")
    answer = {"elements": [], "reviews": [
        {"id": revolver, "verdict": "not_an_element", "category": "", "reason": "only talked about",
         "quote": "hand me the  REVOLVER"},  # the dialogue line it points at; case and spacing aside
        {"id": candle, "verdict": "other_category", "category": "set_dressing", "reason": "dressing",
         "quote": "lights a candle"},
        {"id": candle, "verdict": "not_an_element", "category": "", "reason": "again", "quote": "candle"},  # dup
        {"id": "E99", "verdict": "not_an_element", "category": "", "reason": "x", "quote": "candle"},  # not sent
        {"id": revolver, "verdict": "not_an_element", "category": "", "reason": "x",
         "quote": "lights a candle"},  # another line's words
        {"id": candle, "verdict": "other_category", "category": "cast", "reason": "x", "quote": "candle"},
        {"id": candle, "verdict": "other_category", "category": "weather", "reason": "x", "quote": "candle"},
        {"id": candle, "verdict": "other_category", "category": "props", "reason": "x", "quote": "candle"},
        {"id": candle, "verdict": "delete", "category": "", "reason": "x", "quote": "candle"},
        {"id": candle, "verdict": "not_an_element", "category": "", "reason": "x" * (MAX_REASON_CHARS + 1),
         "quote": "candle"},
        {"id": candle, "verdict": "not_an_element", "reason": 3, "quote": "candle"},
        "E1",
    ]}
    kept, dropped = check_reviews(answer, kitchen)
    assert kept == [Review(0, "props", "revolver", 6, "not_an_element", "", "only talked about",
                           "hand me the  REVOLVER"),
                    Review(0, "props", "candle", 3, "other_category", "set_dressing", "dressing", "lights a candle")]
    assert dropped == {"review_duplicate": 1, "review_not_sent": 1, "review_quote_not_in_line": 1, "review_cast": 1,
                       "review_unknown_category": 1, "review_same_category": 1, "review_unknown_verdict": 1,
                       "review_bad_reason": 1, "review_missing_field": 1, "review_not_an_object": 1}
    assert check_reviews({"elements": []}, kitchen) == ([], {})  # a model that reviews nothing
    # the service checks a stored review again against the script: it holds, or is dropped
    assert recheck_review(kept[0], scene_texts(sp, breakdown=bd)) == kept[0]
    assert recheck_review(Review(0, "props", "revolver", 3, "not_an_element", "", "x", "revolver"),
                          scene_texts(sp, breakdown=bd)) is None


@pytest.mark.parametrize("answer", [{"elements": [], "reviews": "E1"},
                                    {"elements": [], "reviews": [{}] * (MAX_SUGGESTIONS + 1)}])
def test_a_malformed_review_list_is_refused_whole(answer):
    sp, bd = _rules()
    with pytest.raises(MalformedAnswer):
        check_reviews(answer, scene_texts(sp, breakdown=bd)[0])


def test_a_rejected_element_is_kept_but_left_out_and_a_persons_add_restores_it():
    sp, bd = _rules()
    revolver = Review(0, "props", "revolver", 6, "not_an_element", "", "only talked about", "revolver")
    candle = Review(0, "props", "candle", 3, "other_category", "set_dressing", "dressing", "candle")
    merged = Breakdown.from_dict(merge(bd, [], model_id="m", reviews=[revolver, candle]).to_dict())
    kitchen = merged.scenes[0]
    gone = kitchen.find("props", "revolver")
    assert gone is not None and gone.rejected and gone.origin == "rule"
    assert gone.review_text() == "rejected by assist:m (only talked about)"
    assert "revolver" not in {e.name for e in kitchen.in_category("props")}
    assert "revolver" not in {e.name for _, e in merged.elements()}
    assert "revolver" in {e.name for _, e in merged.elements(rejected=True)}
    moved = kitchen.find("set_dressing", "candle")
    assert moved is not None and not moved.rejected and kitchen.find("props", "candle") is None
    assert moved.review_text() == "moved from props by assist:m (dressing)"
    assert merged.assist["rejected"] == 1 and merged.assist["recategorised"] == 1
    # one edit restores it; a re-run without reviews undoes the last run's
    shown, _ = apply_edits(merged, [BreakdownEdit("1", "add", "props", "revolver")])
    assert "revolver" in {e.name for e in shown.scenes[0].in_category("props")}
    rerun = merge(merged, [], model_id="m")
    assert rerun.scenes[0].find("props", "candle") is not None
    assert not any(e.review for _, e in rerun.elements(rejected=True))


def test_a_review_of_an_element_a_person_edited_or_the_breakdown_lacks_is_dropped():
    sp, bd = _rules()
    revolver = Review(0, "props", "revolver", 6, "not_an_element", "", "only talked about", "revolver")
    ghost = Review(0, "props", "chainsaw", 3, "not_an_element", "", "x", "candle")
    merged = merge(bd, [], model_id="m", reviews=[revolver, ghost], protected={"1": {"revolver"}})
    assert not merged.scenes[0].find("props", "revolver").rejected
    assert merged.assist["review_dropped"] == {"review_not_in_breakdown": 1, "review_person_edited": 1}
