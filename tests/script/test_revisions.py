"""Draft comparison with locked scene numbers, and carrying edits across drafts."""

from __future__ import annotations

import random
from dataclasses import fields

import pytest

from soundstage.domain.breakdown import Breakdown, BreakdownEdit, Category, SceneBreakdown
from soundstage.script.breakdown import apply_edits, break_down
from soundstage.script.fountain import parse_fountain
from soundstage.script.revisions import (
    MatchLimits, MatchStats, _copy_scene, _insert_number, _next_letters, carry_edits, compare_drafts, lock_numbers,
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


# --------------------------------------------------------------------------- large and adversarial drafts
#
# Speed is measured in bench/script_breakdown.py; these check what the bounded matching decides,
# and count its comparisons through MatchStats.

SYLLABLES = [a + b for a in ("ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo")
             for b in ("ban", "dor", "fel", "gim", "lar", "mun", "pes", "rot", "sil", "tak")]
PLACES = ["KITCHEN", "GARDEN", "GARAGE", "ATTIC", "ROOF", "CELLAR", "HALLWAY", "OFFICE", "STREET", "BEACH"]
TIMES = ["DAY", "NIGHT", "DAWN", "DUSK"]


def generated(n: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    return [(f"{rng.choice(['INT.', 'EXT.'])} {rng.choice(PLACES)} - {rng.choice(TIMES)}",
             " ".join(rng.choice(SYLLABLES) for _ in range(rng.randint(15, 30))) + ".") for _ in range(n)]


def tiny_edit(body: str, rng: random.Random) -> str:
    words = body.rstrip(".").split()
    words[rng.randrange(len(words))] = rng.choice(["kettle", "umbrella", "ladder"])
    return " ".join(words) + "."


def revised(scenes: list[tuple[str, str]], seed: int) -> tuple[list[tuple[str, str]], list[int | None], list[int]]:
    """A new draft: edits, omissions, insertions, moves (some also edited), re-timed headings.

    Returns the draft, the old position each new scene comes from (None: inserted) and the omitted ones.
    """
    rng = random.Random(seed)
    new: list[tuple[str, str]] = []
    origin: list[int | None] = []
    omitted: list[int] = []
    moving: list[list] = []  # [scenes still to pass, scene, old position]
    for k, (heading, body) in enumerate(scenes):
        r = rng.random()
        if r < 0.04:
            omitted.append(k)
            continue
        if r < 0.24:
            body = tiny_edit(body, rng)
        elif r < 0.26:
            heading, body = heading.rsplit(" - ", 1)[0] + " - LATER", tiny_edit(body, rng)
        elif r < 0.29:
            moving.append([rng.randint(3, 20), (heading, tiny_edit(body, rng) if r < 0.275 else body), k])
            continue
        new.append((heading, body))
        origin.append(k)
        if rng.random() < 0.04:  # a new scene, in no way like the old ones
            new.append((f"EXT. NEW SET {len(new)} - NIGHT", f"Fireworks {len(new)} light up the harbour."))
            origin.append(None)
        for m in moving:
            m[0] -= 1
        for m in [m for m in moving if m[0] <= 0]:
            moving.remove(m)
            new.append(m[1])
            origin.append(m[2])
    for m in moving:
        new.append(m[1])
        origin.append(m[2])
    return new, origin, omitted


def test_large_revision_locks_every_scene_to_where_it_came_from() -> None:
    base = generated(600, seed=11)
    draft, origin, omitted = revised(base, seed=12)
    old, new = bd_of(base), bd_of(draft)
    stats = MatchStats()
    locked, report = lock_numbers(old, new, stats=stats)
    assert not stats.exhaustive  # too many leftovers for all-against-all: the anchored search ran

    by_index = {c.new_index: c for c in report.changes if c.new_index is not None}
    for i, k in enumerate(origin):
        change = by_index[i]
        if k is None:
            assert change.status == "added", (i, change)
        else:
            assert change.old_number == str(k + 1), (i, k, change)
            assert change.status == ("unchanged" if draft[i] == base[k] else "changed")
    assert report.omitted == [str(k + 1) for k in omitted]
    assert len(locked.scenes) == len(new.scenes) + len(omitted)
    assert len(set(locked.numbers())) == len(locked.scenes)

    # The same decisions as scoring every leftover pair, for a fraction of the comparisons.
    everything = MatchStats()
    locked_all, report_all = lock_numbers(old, new, limits=MatchLimits(exhaustive_pairs=10**9), stats=everything)
    assert everything.exhaustive
    assert report.to_dict() == report_all.to_dict() and locked.numbers() == locked_all.numbers()
    assert stats.comparisons * 5 < everything.comparisons


@pytest.mark.parametrize("draft", [
    BASE,
    BASE[:2] + [("INT. HALLWAY - DAY", "A new hallway with a long rug.")] + BASE[2:],
    [("EXT. SKY - DAY", "Clouds roll by.")] + BASE,
    [s for s in BASE if "ATTIC" not in s[0]],
    BASE[2:] + [("EXT. GARDEN - DAY", "A dog digs a deep hole under the roses. Maya drinks tea.")] + BASE[:1],
    [BASE[0], BASE[1], ("INT. GARAGE - NIGHT", "Completely different words: an explosion.")] + BASE[3:],
])
def test_anchored_search_decides_like_scoring_every_pair(old: Breakdown, draft: list[tuple[str, str]]) -> None:
    anchored = MatchStats()
    _, report = lock_numbers(old, bd_of(draft), limits=MatchLimits(exhaustive_pairs=0), stats=anchored)
    _, expected = lock_numbers(old, bd_of(draft))
    assert report.to_dict() == expected.to_dict()


def test_two_thousand_identical_headings_with_tiny_edits_everywhere() -> None:
    """Every scene is "INT. ROOM - DAY" and every one is edited: no scene is identical, so there is
    no anchor, and every pair of scenes looks alike. Scored all against all that is 4 million
    comparisons; the bounded search keeps each scene to a few dozen and still pairs them right."""
    rng = random.Random(3)
    base = [("INT. ROOM - DAY", f"Take {k}. Maya waits by the door while the {rng.choice(SYLLABLES)} boils. "
                                f"Rain falls on the roof of take {k} all night long, and nobody sleeps.")
            for k in range(2000)]
    cut = set(range(100, 2000, 100))  # 19 scenes omitted
    draft: list[tuple[str, str]] = []
    origin: list[int | None] = []
    for k, (heading, body) in enumerate(base):
        if k in cut:
            continue
        draft.append((heading, body.replace("waits", rng.choice(["stands", "sits", "paces"]))))
        origin.append(k)
        if k % 97 == 50:  # 21 inserted, same heading, other words
            draft.append((heading, f"Lena {k} paints the ceiling blue, humming."))
            origin.append(None)
    old, new = bd_of(base), bd_of(draft)
    stats = MatchStats()
    locked, report = lock_numbers(old, new, stats=stats)

    assert not stats.exhaustive and stats.comparisons <= 30 * len(new.scenes)  # all pairs: 3,998,000
    assert stats.anchors > 1500  # the closing words, unique to each take, cut the one big gap
    by_index = {c.new_index: c for c in report.changes if c.new_index is not None}
    cut_numbers = {str(k + 1) for k in cut}
    for i, k in enumerate(origin):
        change = by_index[i]
        if k is not None:  # every surviving scene keeps its own number
            assert change.status == "changed" and change.old_number == str(k + 1), (i, k, change)
        else:  # an insertion is new, or at most takes the place of a cut scene (same heading, same gap)
            assert change.status == "added" or change.old_number in cut_numbers, (i, change)
    assert set(report.moved) <= cut_numbers  # only such stand-ins can be out of order
    assert len(set(locked.numbers())) == len(locked.scenes)


def test_two_thousand_identical_scenes_each_edited_keep_their_order() -> None:
    """The old draft is one scene 2,000 times; the new one edits each copy a little. Any old scene
    fits any new one equally well, so the sensible answer is to keep the order: 1..2000, all changed."""
    base = [("INT. ROOM - DAY", "Maya waits by the door while the kettle boils.")] * 2000
    words = ["stands", "sits", "paces", "sleeps", "hides"]
    draft = [(h, b.replace("waits", words[k % 5])) for k, (h, b) in enumerate(base)]
    stats = MatchStats()
    locked, report = lock_numbers(bd_of(base), bd_of(draft), stats=stats)
    assert locked.numbers() == [str(k + 1) for k in range(2000)]
    assert report.changed == locked.numbers() and report.added == report.omitted == report.moved == []
    assert stats.comparisons <= 30 * 2000


def test_copied_scenes_share_nothing_mutable(old: Breakdown) -> None:
    scene = old.scenes[0]
    copied = _copy_scene(scene)
    assert copied == scene
    for f in fields(SceneBreakdown):
        value = getattr(scene, f.name)
        if isinstance(value, (list, dict, set)):
            assert getattr(copied, f.name) is not value, f.name
            for a, b in zip(value, getattr(copied, f.name)):
                assert a is b if isinstance(a, (str, int, float)) else a is not b, f.name
        else:
            assert isinstance(value, (str, int, float, bool, type(None))), f"{f.name}: copy it in _copy_scene"
