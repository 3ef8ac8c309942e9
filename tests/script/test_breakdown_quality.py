"""Breakdown quality measured on the tagged corpus, and the failures a first AD reported, one by one.

The corpus (tests/data/breakdown_corpus, README there) has a development part and a held-out part
written after the rules were frozen; bench/script_breakdown.py --quality prints the same numbers.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from soundstage.domain.breakdown import LEGACY_TAGGER, Breakdown, BreakdownEdit, Category, SceneBreakdown
from soundstage.script.breakdown import TAGGER_VERSION, apply_edits, break_down
from soundstage.script.fountain import parse_fountain
from soundstage.script.revisions import lock_numbers


def _bench():
    path = Path(__file__).resolve().parents[2] / "bench" / "script_breakdown.py"
    spec = importlib.util.spec_from_file_location("script_breakdown_bench_quality", path)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench():
    return _bench()


# --------------------------------------------------------------------------- measured on the corpus

@pytest.fixture(scope="module")
def heldout(bench):
    """The held-out part. Between rounds it is empty: the last round's scripts have moved into
    dev/ and the next round's are being written (README of the corpus, "Parts")."""
    if not bench.load_corpus("heldout"):
        pytest.skip("no held-out round in tests/data/breakdown_corpus/heldout/ yet (between rounds)")
    return bench.score("heldout")


def test_cast_per_scene_meets_the_goal_on_the_held_out_part(bench, heldout) -> None:
    """Cast per scene >= 95% precision and recall on scripts the rules never saw (goal of issue 15)."""
    assert heldout["scenes"] >= 15
    assert heldout["cast_precision"] >= bench.GOAL["cast_precision"], heldout["errors"]
    assert heldout["cast_recall"] >= bench.GOAL["cast_recall"], heldout["errors"]


def test_elements_on_the_held_out_part_do_not_regress(heldout) -> None:
    """Non-cast elements on the held-out part. Round 6 measured once: 62.6% / 53.0% with rules.3,
    64.3% / 56.9% with rules.4 (DR024). This floor is just under rules.4's level there, so a
    regression fails (the goal, 85% / 80%, is not met on unseen scripts)."""
    assert heldout["scenes"] >= 15
    assert heldout["elements_precision"] >= 0.62
    assert heldout["elements_recall"] >= 0.55


def test_development_part_does_not_regress(bench) -> None:
    """The development part (20 scripts, 112 scenes, rounds 4 and 5 included): 82.0% / 74.7% with
    rules.3, 84.97% / 81.0% with rules.4 (DR024): recall meets the goal, precision is 0.03 point
    under it. Cast per scene meets it."""
    result = bench.score("dev")
    assert result["scenes"] >= 112
    assert result["elements_precision"] >= 0.835
    assert result["elements_recall"] >= 0.80
    assert result["cast_precision"] >= bench.GOAL["cast_precision"]
    assert result["cast_recall"] >= bench.GOAL["cast_recall"]


def test_the_rules_beat_the_first_tagger_on_every_part(bench) -> None:
    """The scorer can fail: a breakdown with nothing in it scores zero recall, an empty gold nothing."""
    def empty(text: str, name: str) -> Breakdown:
        bd = break_down(parse_fountain(text, name))
        for scene in bd.scenes:
            scene.elements, scene.speaking_cast, scene.nonspeaking_cast = [], [], []
        return bd

    nothing = bench.score("dev", empty)
    assert nothing["elements_recall"] == 0.0 and nothing["cast_recall"] == 0.0


def test_every_rule_element_points_at_a_line_of_its_scene(bench) -> None:
    for name, text, _ in bench.load_corpus("all"):
        bd = break_down(parse_fountain(text, name))
        lines = text.splitlines()
        starts = [s.source_line for s in bd.scenes] + [len(lines) + 1]
        for scene, end in zip(bd.scenes, starts[1:]):
            for element in scene.elements:
                assert scene.source_line <= element.source_line < end, (name, scene.number, element)
                assert lines[element.source_line - 1].strip(), (name, element)


def test_the_scorer_matches_names_one_to_one(bench) -> None:
    tp, false, missed = bench._match(["porsche", "car"], [["porsche", "car"]], loose=True)
    assert (tp, false, missed) == (1, ["car"], [])
    tp, false, missed = bench._match(["slam"], [["slammed against the wall"]], loose=True)
    assert tp == 1
    tp, false, missed = bench._match(["MR. HALE"], [["MRS. HALE"]], loose=False)
    assert tp == 0 and false == ["MR. HALE"] and missed == ["MRS. HALE"]
    assert bench._match(["DANNY REYNA"], [["DANNY"]], loose=False)[0] == 1


def test_bench_prints_quality_as_json(bench, capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--quality", "--split", "dev", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["split"] == "dev" and set(result["categories"]) == {c.value for c in Category}
    assert 0.0 <= result["elements_recall"] <= 1.0


# --------------------------------------------------------------------------- what the AD reported

SCRIPT = """Title: Brass & Gravel

EXT. MARLOWE'S DECK - DAY

KATE MARLOWE (50s) sips lemonade. The SCREEN DOOR squeaks open and TOM REED (50s) comes out.

TOM
Drink up. They're here.

Kate drinks. A silver PORSCHE crawls up the lane. Kate's face drains of blood.

INT. MARLOWE'S GARAGE - CONTINUOUS

A gang called THE BOY BAND, four men in white tracksuits, pile out of the Porsche.

One of them SLAMS Tom against the wall. Kate SMACKS him with a rake.

THE GARAGE DOOR RATTLES.
Nobody breathes.

INT. BACK OFFICE - DAY

Kate clicks the mouse. A PRINTER spits out a photo. She shows no signs of alarm.

PRINTER
OUT OF TONER.

The INTERCOM buzzes.

INTERCOM
Mrs. Marlowe, your two o'clock.

Tom snaps a picture with a digital camera.

TITLE CARD:
Six hours later

INT. KATE'S KITCHEN - NIGHT

Kate watches the rain. The MESSAGE MACHINE blinks.

MESSAGE MACHINE
One new message.

EXT. WATER TOWER - NIGHT

Tom's eye to the sniper scope. Crosshairs find the Porsche.

SUPER: "MIDNIGHT"
"""


@pytest.fixture(scope="module")
def brass() -> Breakdown:
    return break_down(parse_fountain(SCRIPT, "brass.fountain"))


def _names(scene: SceneBreakdown, category: Category) -> set[str]:
    return {e.name for e in scene.in_category(category)}


def test_found_what_was_missed(brass: Breakdown) -> None:
    deck, garage, office, kitchen, tower = brass.scenes
    assert "porsche" in _names(deck, Category.VEHICLES)
    assert "screen door" in _names(deck, Category.SET_DRESSING)
    assert {"slam", "smack"} <= _names(garage, Category.STUNTS)
    assert "sniper scope" in _names(tower, Category.PROPS)
    assert "title card" in _names(office, Category.VISUAL_EFFECTS)  # the "TITLE CARD:" Fountain read as a cue
    assert "title card" in _names(tower, Category.VISUAL_EFFECTS)


def test_no_longer_false(brass: Breakdown) -> None:
    deck, garage, office, kitchen, tower = brass.scenes
    assert "drink" not in _names(deck, Category.PROPS)  # "Kate drinks", "Drink up" (dialogue)
    assert "blood" not in _names(deck, Category.MAKEUP_HAIR)  # "face drains of blood"
    assert "band" not in _names(garage, Category.MUSIC)  # a gang called THE BOY BAND
    assert "boy band" in _names(garage, Category.EXTRAS)
    assert "mouse" not in _names(office, Category.ANIMALS) and "mouse" in _names(office, Category.PROPS)
    assert "camera" in _names(office, Category.PROPS)
    assert not office.in_category(Category.VISUAL_EFFECTS) or _names(office, Category.VISUAL_EFFECTS) == {
        "title card"}  # "digital camera" is not VFX
    assert "alarm" not in _names(office, Category.SOUND)  # "signs of alarm"


def test_devices_and_directions_are_not_cast(brass: Breakdown) -> None:
    deck, garage, office, kitchen, tower = brass.scenes
    for scene in brass.scenes:
        assert not {"PRINTER", "INTERCOM", "MESSAGE MACHINE", "TITLE CARD", "THE GARAGE DOOR RATTLES"} & set(
            scene.cast), scene.cast
    assert {"printer", "intercom"} <= _names(office, Category.SOUND)
    assert "message machine" in _names(kitchen, Category.SOUND)
    assert garage.speaking_cast == []  # an all-caps action line followed by another line is not a speaker


def test_mixed_case_and_possessive_mentions_put_people_in_the_scene(brass: Breakdown) -> None:
    deck, garage, office, kitchen, tower = brass.scenes
    assert set(deck.cast) == {"KATE MARLOWE", "TOM"}  # introduced in caps, then "Kate drinks"
    assert "KATE MARLOWE" in kitchen.nonspeaking_cast  # alone: "Kate watches the rain"
    assert "TOM" in tower.cast  # "Tom's eye to the sniper scope"
    assert {"TOM", "KATE MARLOWE"} <= set(garage.cast)
    assert kitchen.find(Category.CAST, "KATE MARLOWE").source_line == SCRIPT.splitlines().index(
        "Kate watches the rain. The MESSAGE MACHINE blinks.") + 1


def test_a_name_in_quotes_or_a_photo_is_not_a_presence() -> None:
    text = ('INT. ROOM - DAY\n\nANNA (30) reads a text from "BEN": "late again".\n\nANNA\nTypical.\n\n'
            "INT. HALL - DAY\n\nA photo of Ben hangs by the door.\n\nBEN\n(V.O.)\nHello?\n\n"
            "INT. STUDY - DAY\n\nThe room is empty.\n")
    room, hall, study = break_down(parse_fountain(text)).scenes
    assert room.cast == ["ANNA"]
    assert hall.cast == ["BEN"]  # heard, not the photo
    assert study.cast == []


def test_a_part_introduced_in_capitals_is_cast_and_a_crowd_is_extras() -> None:
    text = "INT. SALON - DAY\n\nA HAIRDRESSER pins up her hair. Two BOYS giggle. The CROWD cheers.\n"
    (salon,) = break_down(parse_fountain(text)).scenes
    assert salon.cast == ["HAIRDRESSER"]
    assert {"boys", "crowd"} <= _names(salon, Category.EXTRAS)


def test_verb_uses_are_not_things() -> None:
    text = ("INT. BAR - NIGHT\n\nShe smokes a cigarette and checks her watch. He ducks. The phone rings. "
            "Smoke fills the room. Jo pours a drink and files the report.\n")
    (bar,) = break_down(parse_fountain(text)).scenes
    assert {"cigarette", "watch", "drink", "phone"} <= _names(bar, Category.PROPS)
    assert "file" not in _names(bar, Category.PROPS) and "ring" not in _names(bar, Category.PROPS)
    assert "duck" not in _names(bar, Category.ANIMALS)
    assert _names(bar, Category.SPECIAL_EFFECTS) == {"smoke"}  # "Smoke fills", not "smokes a cigarette"
    assert "phone rings" in _names(bar, Category.SOUND)


# --------------------------------------------------------------------------- versions and edits

def test_the_breakdown_says_which_rules_made_it(brass: Breakdown) -> None:
    assert brass.tagger == TAGGER_VERSION == "rules.4"
    stored = brass.to_dict()
    assert stored["tagger"] == TAGGER_VERSION and Breakdown.from_dict(stored) == brass
    old = dict(stored)
    del old["tagger"]  # a breakdown stored before breakdowns carried their version
    assert Breakdown.from_dict(old).tagger == LEGACY_TAGGER == "rules.1"


def test_a_revision_keeps_the_new_drafts_tagger_version(brass: Breakdown) -> None:
    old = Breakdown.from_dict({**brass.to_dict(), "tagger": LEGACY_TAGGER})
    locked, _ = lock_numbers(old, brass)
    assert locked.tagger == TAGGER_VERSION


def test_a_persons_edits_still_win_over_the_new_rules(brass: Breakdown) -> None:
    edits = [BreakdownEdit("1", "remove", "vehicles", "porsche"),
             BreakdownEdit("1", "add", "props", "lemonade", note="hero glass"),
             BreakdownEdit("1", "add", "props", "ice bucket", note="by the door"),
             BreakdownEdit("3", "retag", "sound", "printer", new_category="set_dressing"),
             BreakdownEdit("4", "add", "cast", "Tom")]
    edited, unapplied = apply_edits(brass, edits)
    deck, _, office, kitchen, _ = edited.scenes
    assert unapplied == []
    assert deck.find(Category.VEHICLES, "porsche") is None
    assert deck.find(Category.PROPS, "ice bucket").origin == "user"
    # rules.3 and later find the lemonade itself (WordNet: a beverage); the person's note goes on that element
    lemonade = deck.find(Category.PROPS, "lemonade")
    assert lemonade.origin == "rule" and lemonade.note == "hero glass" and lemonade.source_line > 0
    assert office.find(Category.SOUND, "printer") is None and office.find(Category.SET_DRESSING, "printer")
    assert "TOM" in kitchen.cast
