"""Coverage rules on hand-built breakdowns, edit files, and merges that keep a person's edits."""

from __future__ import annotations

import pytest

from soundstage.domain.breakdown import Breakdown, BreakdownElement, SceneBreakdown
from soundstage.domain.shots import Shot, ShotList
from soundstage.errors import SpecError
from soundstage.previz.shotlist import (
    make_shot_list,
    merge_shot_lists,
    plan_scene,
    read_shot_list_csv,
    read_shot_list_yaml,
    write_shot_list_csv,
    write_shot_list_yaml,
)
from soundstage.script.loader import parse_screenplay_bytes


def scene(number="1", int_ext="INT", location="KITCHEN", speaking=(), silent=(), elements=(), eighths=8,
          content_hash="h1", line=1) -> SceneBreakdown:
    return SceneBreakdown(number=number, index=0, heading=f"{int_ext}. {location} - DAY", int_ext=int_ext,
                          location=location, time_of_day="DAY", eighths=eighths, page_start=1,
                          est_seconds=eighths * 7.5, speaking_cast=list(speaking), nonspeaking_cast=list(silent),
                          elements=[BreakdownElement(*e) for e in elements], source_line=line,
                          content_hash=content_hash)


DIALOGUE = b"""INT. KITCHEN - DAY

Ana puts a REVOLVER on the table.

ANA
You kept it. All these years you kept it and never said a word to me about it.

BEN
It was his.
"""


def test_exterior_dialogue_scene_gets_establishing_master_ots_singles_and_inserts():
    sp = parse_screenplay_bytes(DIALOGUE.replace(b"INT.", b"EXT."), "s.fountain", ".fountain")
    sb = scene(int_ext="EXT", speaking=["ANA", "BEN"], elements=[("props", "revolver", 3)])
    shots = plan_scene(sb, sp.scenes()[0])
    sizes = [s.size for s in shots]
    assert sizes[:2] == ["EWS", "WS"] and sizes.count("OTS") == 2 and "INSERT" in sizes
    assert [s.number for s in shots] == [f"1-{c}" for c in "ABCDEFG"[: len(shots)]]
    singles = [s for s in shots if s.size in ("MCU", "CU")]
    assert sorted(s.characters[0] for s in singles) == ["ANA", "BEN"]
    insert = next(s for s in shots if s.size == "INSERT")
    assert insert.lens_mm == 100 and "REVOLVER" in insert.description and insert.source_line == 3
    assert next(s for s in shots if s.size == "WS").lens_mm == 25
    # timing: the scene's eighths, with dialogue at 2.5 words/s on the shots featuring the speaker
    assert sum(s.est_seconds for s in shots) == pytest.approx(sb.est_seconds, abs=1.0)


def test_interior_has_no_establishing_and_cutaways_follow_effects():
    sb = scene(elements=[("sound", "knock", 5), ("special_effects", "rain", 7)])
    shots = plan_scene(sb, None)
    assert shots[0].size == "WS" and not any(s.size == "EWS" for s in shots)
    assert sum(1 for s in shots if s.description.startswith("Cutaway")) == 2


def test_forty_characters_get_group_shots_not_forty_singles():
    crowd = [f"EXTRA {i}" for i in range(38)]
    sb = scene(int_ext="EXT", speaking=["ANA", "BEN"], silent=crowd)
    shots = plan_scene(sb, None)
    singles = [s for s in shots if s.size in ("MCU", "CU")]
    assert len(singles) == 2 and len(shots) < 12
    groups = [s for s in shots if s.description.startswith("Group")]
    assert groups and all(len(g.characters) <= 8 for g in groups)
    assert len(shots[1].characters) == 40  # the master holds everyone


def test_heading_without_location_is_sensible():
    shots = plan_scene(scene(int_ext="EXT", location=""), None)
    assert "unnamed location" in shots[0].description and shots[1].size == "WS"


def test_yaml_and_csv_round_trip():
    bd = Breakdown("T", [scene(speaking=["ANA", "BEN"], elements=[("props", "revolver", 3)]),
                         scene(number="12A", int_ext="EXT", line=20, content_hash="h2")], 2)
    shots = make_shot_list(bd, None)
    assert shots.scene("12A").shots[0].number == "12A-A"
    from_yaml = read_shot_list_yaml(write_shot_list_yaml(shots)).shots
    from_csv = read_shot_list_csv(write_shot_list_csv(shots)).shots
    for other in (from_yaml, from_csv):
        assert [s.to_dict() for s in other.shots()] == [s.to_dict() for s in shots.shots()]


@pytest.mark.parametrize("edit,field", [("size: HUGE", "size"), ("lens_mm: -35", "lens_mm"),
                                        ("est_seconds: soon", "est_seconds"), ("zoom: 3", "zoom")])
def test_nonsense_yaml_names_line_and_field(edit, field):
    shots = make_shot_list(Breakdown("T", [scene(speaking=["ANA"])], 1), None)
    text = write_shot_list_yaml(shots)
    lines = text.splitlines()
    at = next(i for i, l in enumerate(lines) if l.strip().startswith("angle:"))
    lines.insert(at, "    " + edit) if field == "zoom" else lines.__setitem__(
        next(i for i, l in enumerate(lines) if l.strip().startswith(field + ":")), "    " + edit)
    with pytest.raises(SpecError) as err:
        read_shot_list_yaml("\n".join(lines), source="shots.yaml")
    assert err.value.field == field and err.value.line is not None and "shots.yaml" in str(err.value)


def test_csv_missing_scene_and_duplicates_are_refused():
    with pytest.raises(SpecError) as err:
        read_shot_list_csv("scene,number,size\n,1-A,WS\n")
    assert err.value.field == "scene" and err.value.line == 2
    with pytest.raises(SpecError) as err:
        read_shot_list_csv("scene,number,size\n1,1-A,WS\n1,1-A,CU\n")
    assert err.value.field == "number" and err.value.line == 3


def test_rerun_keeps_edits_on_unchanged_scenes_and_replans_changed_ones():
    bd = Breakdown("T", [scene(speaking=["ANA"]), scene(number="2", content_hash="h2", line=30)], 2)
    rules = make_shot_list(bd, None)
    edited = ShotList.from_dict(rules.to_dict())
    edited.scene("1").shots[0].lens_mm = 21.0
    edited.scene("2").shots[0].description = "my own master"
    edited.scene("2").shots.append(Shot(scene="2", number="2-Z", size="ECU", origin="user"))
    rewritten = Breakdown("T", [scene(speaking=["ANA"]), scene(number="2", content_hash="h2-new", line=30)], 2)
    merged, report = merge_shot_lists(make_shot_list(rewritten, None), edited, rules)
    assert merged.scene("1").shots[0].lens_mm == 21.0 and report.kept == ["1"]
    assert merged.scene("2").shots[0].description != "my own master" and report.dropped_edits == ["2-A"]
    assert merged.find("2-Z").origin == "user" and report.carried_user_shots == ["2-Z"]


PHONE_CALL = b"""INT. KITCHEN - NIGHT

ANA paces. She picks up the PHONE.

ANA
Where are you?

BEN (V.O.)
(filtered)
On my way. Don't open the door.

INTERCOM
Delivery for apartment four.

ANA
I said don't.

ANA'S POV

Through the peephole: an empty corridor.
"""


def test_voices_are_heard_not_blocked_and_pov_beats_get_a_pov_shot():
    from soundstage.script.breakdown import break_down

    sp = parse_screenplay_bytes(PHONE_CALL, "s.fountain", ".fountain")
    sb = break_down(sp).live_scenes()[0]
    shots = plan_scene(sb, sp.scenes()[0])
    framed = {c for s in shots for c in s.characters}
    assert "BEN" not in framed and "INTERCOM" not in framed and "ANA" in framed
    master = next(s for s in shots if s.description.startswith("Master"))
    assert "voices: BEN (V.O.)" in master.camera_notes and "INTERCOM" in master.camera_notes
    assert not any(s.size == "OTS" for s in shots)  # nobody on screen to talk to
    pov = [s for s in shots if s.description.startswith("POV")]
    assert len(pov) == 1 and "ANA" in pov[0].description and "ANA" not in pov[0].characters


def test_a_pov_scene_heading_makes_the_master_a_pov():
    sp = parse_screenplay_bytes(b"EXT. ROOFTOP - SNIPER SCOPE POV - DAY\n\nThe street below. A van stops.\n",
                                "s.fountain", ".fountain")
    from soundstage.script.breakdown import break_down

    sb = break_down(sp).live_scenes()[0]
    master = next(s for s in plan_scene(sb, sp.scenes()[0]) if s.size == "WS")
    assert master.description.startswith("POV") and "Master" not in master.description
