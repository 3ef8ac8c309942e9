"""Carrying the assist's suggestions and reviews to a new draft (script/assist.py ``carry``, DR022 "New
drafts"): only scenes whose words did not change carry, re-pointed to their new lines; a person's
removal still wins."""

from __future__ import annotations

from soundstage.domain.breakdown import BreakdownEdit
from soundstage.script.assist import (
    CARRY_SCENE_CHANGED, Review, Suggestion, carry, check_answer, merge, scene_anchors, scene_texts,
    unchanged_scenes,
)
from soundstage.script.breakdown import apply_edits, break_down
from soundstage.script.fountain import parse_fountain
from soundstage.script.revisions import carry_edits, lock_numbers

GARAGE = """INT. GARAGE - NIGHT

Maya drags a rusted toolbox across the concrete.
A single bulb swings overhead.
"""
PIER = """EXT. PIER - DAWN

Gulls wheel over a fishing boat. An old man mends a net.
"""
PIER_REWRITTEN = """EXT. PIER - DAWN

Gulls wheel over a fishing boat. An old man mends a rope.
"""
KITCHEN = """INT. KITCHEN - DAY

A kettle screams on the stove.
"""
ROOF = """EXT. ROOF - NIGHT

Rain hammers the tin sheets.
"""

DRAFT1 = "\n".join([GARAGE, PIER, KITCHEN])
# draft 2: a new scene first, the pier rewritten and moved before the garage (unchanged), the kitchen cut
DRAFT2 = "\n".join([ROOF, PIER_REWRITTEN, GARAGE])


def line_of(text: str, words: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if words in line)


def suggestion(script: str, index: int, category: str, name: str, quote: str) -> Suggestion:
    return Suggestion(index, category, name, line_of(script, quote), quote)


def test_an_unchanged_scene_that_moved_carries_to_its_new_lines():
    old, new = parse_fountain(DRAFT1), parse_fountain(DRAFT2)
    toolbox = suggestion(DRAFT1, 0, "props", "toolbox", "rusted toolbox")
    bulb = Review(0, "set_dressing", "bulb", line_of(DRAFT1, "bulb"), "not_an_element", "", "a practical light",
                  "single bulb")
    kept, reviews, dropped = carry([toolbox], [bulb], scene_anchors(old), scene_anchors(new))
    assert dropped == {}
    (moved,) = kept
    assert moved.scene_index == 2 and moved.line == line_of(DRAFT2, "rusted toolbox") != toolbox.line
    assert (moved.category, moved.name, moved.quote) == ("props", "toolbox", "rusted toolbox")
    assert reviews[0].scene_index == 2 and reviews[0].line == line_of(DRAFT2, "single bulb")
    assert (reviews[0].verdict, reviews[0].reason) == ("not_an_element", "a practical light")
    # re-pointed, it passes the same checks against the new script as the model's own answer did
    part = next(p for p in scene_texts(new) if p.index == 2)
    found, _ = check_answer({"elements": [moved.to_dict() | {"line": moved.line}]}, part)
    assert found == [moved]


def test_a_changed_scene_drops_its_suggestions_whether_or_not_the_quote_is_still_there():
    old, new = parse_fountain(DRAFT1), parse_fountain(DRAFT2)
    boat = suggestion(DRAFT1, 1, "vehicles", "fishing boat", "fishing boat")  # words still in the new line
    net = suggestion(DRAFT1, 1, "props", "net", "mends a net")  # words gone from it
    assert "fishing boat" in DRAFT2 and "mends a net" not in DRAFT2
    kept, _, dropped = carry([boat, net], [], scene_anchors(old), scene_anchors(new))
    assert kept == [] and dropped == {CARRY_SCENE_CHANGED: 2}


def test_an_omitted_scene_drops_its_suggestions_and_reviews():
    old, new = parse_fountain(DRAFT1), parse_fountain(DRAFT2)
    kettle = suggestion(DRAFT1, 2, "sound", "kettle", "kettle screams")
    stove = Review(2, "props", "stove", line_of(DRAFT1, "stove"), "other_category", "set_dressing", "fixed",
                   "the stove")
    kept, reviews, dropped = carry([kettle], [stove], scene_anchors(old), scene_anchors(new))
    assert kept == [] and reviews == []
    assert dropped == {CARRY_SCENE_CHANGED: 1, "review_" + CARRY_SCENE_CHANGED: 1}


def test_identical_scenes_pair_in_order_and_a_scene_unknown_to_the_old_draft_is_dropped():
    twice = "\n".join([KITCHEN, GARAGE, KITCHEN])
    pairs = unchanged_scenes(scene_anchors(parse_fountain(twice)), scene_anchors(parse_fountain(KITCHEN)))
    assert list(pairs) == [0] and pairs[0].index == 0  # the second kitchen has no partner left
    stray = Suggestion(7, "props", "toolbox", 3, "rusted toolbox")  # a scene the old draft does not have
    kept, _, dropped = carry([stray], [], scene_anchors(parse_fountain(DRAFT1)), scene_anchors(parse_fountain(DRAFT1)))
    assert kept == [] and dropped == {CARRY_SCENE_CHANGED: 1}


def test_a_scene_rewritten_in_a_draft_between_and_restored_since_does_not_carry():
    """The job read draft 1; draft 2 rewrote the pier; draft 3 has draft 1's pier again. Straight from
    draft 1 to 3 the pier looks unchanged, but draft 2 dropped its suggestions: through the drafts
    between (``via``) it stays dropped, while the garage, unchanged all along, carries."""
    first = parse_fountain(DRAFT1)
    between = parse_fountain("\n".join([GARAGE, PIER_REWRITTEN, KITCHEN]))
    restored = parse_fountain(DRAFT1)
    net = suggestion(DRAFT1, 1, "props", "net", "mends a net")
    toolbox = suggestion(DRAFT1, 0, "props", "toolbox", "rusted toolbox")
    kept, _, _ = carry([net, toolbox], [], scene_anchors(first), scene_anchors(restored))
    assert kept == [net, toolbox]  # draft 1 to draft 3 alone: the pier looks unchanged
    kept, _, dropped = carry([net, toolbox], [], scene_anchors(first), scene_anchors(restored),
                             via=[scene_anchors(between)])
    assert kept == [toolbox] and dropped == {CARRY_SCENE_CHANGED: 1}
    # moves compose: a draft between that moved the garage, a new one that moved it back
    moved = "\n".join([KITCHEN, PIER, GARAGE])
    kept, _, dropped = carry([toolbox], [], scene_anchors(first), scene_anchors(restored),
                             via=[scene_anchors(parse_fountain(moved))])
    assert kept == [toolbox] and dropped == {}


def test_a_persons_removal_of_an_assist_element_keeps_removing_it_on_the_new_draft():
    old_sp, new_sp = parse_fountain(DRAFT1), parse_fountain(DRAFT2)
    old_bd = break_down(old_sp)
    concrete = suggestion(DRAFT1, 0, "set_dressing", "concrete", "the concrete")
    lines = {n: t for p in scene_texts(new_sp) for n, t in p.lines}
    locked, report = lock_numbers(old_bd, break_down(new_sp))
    assert locked.scene("1").find("set_dressing", "concrete") is None  # the rules do not have it
    garage = next(s for s in locked.scenes if s.index == 2)
    assert garage.number == "1"  # locked: the garage keeps its number wherever it moved
    carried, _, _ = carry([concrete], [], scene_anchors(old_sp), scene_anchors(new_sp))
    # without the person's edit the suggestion does carry ...
    plain = merge(locked, carried, model_id="studio.llm", lines=lines)
    assert plain.scene("1").find("set_dressing", "concrete").origin == "assist:studio.llm"
    # ... with it, the carried edit keeps it out of the merge, and apply_edits removes it on read
    kept_edits, dropped_edits = carry_edits([BreakdownEdit("1", "remove", "set_dressing", "concrete")], report)
    assert dropped_edits == [] and kept_edits[0].scene == "1"
    guarded = merge(locked, carried, model_id="studio.llm", lines=lines, removed={"1": {"concrete"}})
    assert guarded.scene("1").find("set_dressing", "concrete") is None
    applied, unapplied = apply_edits(plain, kept_edits)
    assert applied.scene("1").find("set_dressing", "concrete") is None and unapplied == []
