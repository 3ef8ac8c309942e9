"""The blocking spec is pure data: framing, consistency and bad input are checked without Blender."""

from __future__ import annotations

import pytest

from soundstage.domain.shots import SUPER35_WIDTH_MM
from soundstage.errors import SpecError
from soundstage.previz.blocking import build_blocking, character_look, figure_levels

KITCHEN = {"number": "12", "heading": "INT. KITCHEN - NIGHT", "int_ext": "INT", "location": "KITCHEN",
           "time_of_day": "NIGHT", "elements": [{"category": "props", "name": "revolver"},
                                                {"category": "wardrobe", "name": "red coat"}]}


def test_character_look_is_a_function_of_the_name_only():
    a, b = character_look("Maya"), character_look("  MAYA ")
    assert a["color"] == b["color"] and a["height"] == b["height"]
    heights = [character_look(f"EXTRA {i}")["height"] for i in range(200)]
    assert 1.6 <= min(heights) and max(heights) <= 1.9 and max(heights) - min(heights) > 0.2
    assert character_look("MAYA")["color"] != character_look("JONAS")["color"]


def _head_share(shot: dict, height_px: int = 540, width_px: int = 960) -> float:
    """Fraction of the frame height the lead's head spans, from the camera's own numbers."""
    cam = shot["camera"]
    person = shot["characters"][0]
    lv = figure_levels(person["height"], person["pose"])
    sensor_h = SUPER35_WIDTH_MM * height_px / width_px
    frame_h = cam["distance_m"] * sensor_h / cam["lens_mm"]
    return (lv["top"] - lv["chin"]) / frame_h


def test_framing_follows_shot_size_and_lens():
    spec = build_blocking([{"size": "CU", "characters": ["MAYA"], "lens_mm": 85},
                           {"size": "CU", "characters": ["MAYA"], "lens_mm": 35},
                           {"size": "WS", "characters": ["MAYA", "JONAS"]}], KITCHEN)
    cu85, cu35, ws = spec["shots"]
    assert 0.6 <= _head_share(cu85) <= 0.8 and 0.6 <= _head_share(cu35) <= 0.8
    assert cu85["camera"]["distance_m"] > 2 * cu35["camera"]["distance_m"]  # longer lens, further away
    assert cu85["camera"]["sensor_width_mm"] == 24.89 and cu85["camera"]["lens_mm"] == 85
    assert _head_share(ws) < 0.15  # full figures with room


def test_two_people_face_each_other_and_a_crowd_stands_in_rows():
    spec = build_blocking([{"size": "OTS", "characters": ["MAYA", "JONAS"]},
                           {"size": "WS", "characters": [f"EXTRA {i}" for i in range(40)]}], KITCHEN)
    ots, crowd = spec["shots"]
    a, b = ots["characters"]
    assert a["location"][0] * b["location"][0] < 0 and a["facing_deg"] * b["facing_deg"] < 0
    rows = {c["location"][1] for c in crowd["characters"]}
    assert len(rows) == 5 and len(crowd["characters"]) == 40
    spots = {tuple(c["location"]) for c in crowd["characters"]}
    assert len(spots) == 40  # nobody stands inside anybody else


def test_set_and_light_come_from_the_heading():
    night = build_blocking([{"size": "WS"}], KITCHEN)["scene"]
    day = build_blocking([{"size": "WS"}], {**KITCHEN, "time_of_day": "DAY"})["scene"]
    street = build_blocking([{"size": "EWS"}], {"int_ext": "EXT", "location": "MAIN STREET", "time_of_day": "DUSK"})
    neutral = build_blocking([{"size": "WS", "characters": ["MAYA"]}], {"heading": "INT. - DAY", "location": ""})
    assert night["set"]["kind"] == "interior" and night["lighting"]["time"] == "night"
    assert night["lighting"]["exposure"] < day["lighting"]["exposure"]
    assert sum(night["lighting"]["world_color"]) < sum(day["lighting"]["world_color"])
    assert street["scene"]["set"]["kind"] == "street" and street["scene"]["set"]["blocks"]
    assert street["scene"]["lighting"]["time"] == "dusk"
    assert neutral["scene"]["set"]["kind"] == "neutral"


def test_props_appear_on_inserts_and_when_named_and_sitters_sit():
    spec = build_blocking([{"size": "INSERT", "description": "The revolver on the table."},
                           {"size": "MS", "characters": ["MAYA"], "description": "Maya sits and stares."},
                           {"size": "MS", "characters": ["MAYA"], "description": "Maya paces."}], KITCHEN)
    insert, sits, paces = spec["shots"]
    assert [p["name"] for p in insert["props"]] == ["revolver"]
    assert sits["characters"][0]["pose"] == "sitting" and paces["characters"][0]["pose"] == "standing"
    assert paces["props"] == []


@pytest.mark.parametrize("shot, field", [
    ({"size": "GIANT"}, "shots[0].size"),
    ({"size": "CU", "lens_mm": "banana"}, "shots[0].lens_mm"),
    ({"size": "CU", "lens_mm": -35}, "shots[0].lens_mm"),
    ({"size": "CU", "angle": "sideways"}, "shots[0].angle"),
    ({"size": "CU", "characters": {"a": 1}}, "shots[0].characters"),
    ("not a shot", "shots[0]"),
])
def test_nonsense_shots_are_spec_errors_naming_the_field(shot, field):
    with pytest.raises(SpecError) as err:
        build_blocking([shot], KITCHEN)
    assert err.value.field == field
