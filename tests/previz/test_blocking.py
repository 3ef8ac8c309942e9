"""The blocking spec is pure data: framing, consistency and bad input are checked without Blender."""

from __future__ import annotations

import pytest

from soundstage.domain.shots import SUPER35_WIDTH_MM
from soundstage.errors import SpecError
from soundstage.previz.blocking import build_blocking, character_look, figure_levels

KITCHEN = {"number": "12", "heading": "INT. KITCHEN - NIGHT", "int_ext": "INT", "location": "KITCHEN",
           "time_of_day": "NIGHT", "elements": [{"category": "props", "name": "revolver"},
                                                {"category": "wardrobe", "name": "red coat"}]}


def test_character_look_is_a_function_of_the_name_and_the_cast_table():
    a, b = character_look("Maya"), character_look("  MAYA ")
    assert a["color"] == b["color"] and a["height"] == b["height"]
    heights = [character_look(f"EXTRA {i}")["height"] for i in range(200)]
    assert 1.6 <= min(heights) and max(heights) <= 1.9 and max(heights) - min(heights) > 0.2
    assert character_look("MAYA", {"index": 0})["color"] != character_look("JONAS", {"index": 1})["color"]
    child = character_look("LILY", {"index": 2, "height": 1.22, "child": True})
    assert child["height"] == 1.22 and child["child"]
    forged = character_look("LILY", {"index": True, "height": 9.0, "child": True})  # nonsense is ignored
    assert 1.6 <= forged["height"] <= 1.9 and not forged["child"]


def test_the_leads_never_share_a_colour_even_without_a_cast_table():
    spec = build_blocking([{"size": "WS", "characters": ["MAYA", "JONAS", "OTTO", "LENA", "DEV", "PRIYA", "SAM"]}],
                          KITCHEN)
    colours = [tuple(c["color"]) for c in spec["shots"][0]["characters"]]
    assert len(set(colours)) == 7


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


# ----------------------------------------------------------------------------- boards a director reads

VOICES_SCRIPT = b"""INT. KITCHEN - NIGHT

MAYA (40s) washes up. Her daughter LILY (7) sits at the table.

MAYA
Bed. Now.

LILY
Five more minutes.

MESSAGE MACHINE
You have one new message.

DAD (V.O.)
It's me. I'll be late.

PRINTER
Paper jam.
"""


def _planned(script: bytes):
    from soundstage.previz.cast import cast_looks
    from soundstage.previz.shotlist import plan_scene
    from soundstage.script.breakdown import break_down
    from soundstage.script.loader import parse_screenplay_bytes

    sp = parse_screenplay_bytes(script, "s.fountain", ".fountain")
    bd = break_down(sp)
    sb = bd.live_scenes()[0]
    shots = plan_scene(sb, sp.scenes()[0])
    names = [n for scene in bd.live_scenes() for n in scene.cast]
    table = {n: look.to_dict() for n, look in cast_looks(names, sp).items()}
    scene = {k: v for k, v in sb.to_dict().items() if k != "text_sketch"}
    return shots, build_blocking([s.to_dict() for s in shots], scene, characters=table), table


def test_voices_and_machines_are_never_drawn_as_bodies():
    shots, spec, _ = _planned(VOICES_SCRIPT)
    drawn = {c["name"] for shot in spec["shots"] for c in shot["characters"]}
    assert drawn == {"MAYA", "LILY"}  # not DAD (V.O.), the MESSAGE MACHINE or the PRINTER
    master = next(s for s in spec["shots"] if s["description"].startswith("Master"))
    assert len(master["characters"]) == 2  # two figures in the set, not five in a line
    heard = {v["name"] for v in master["voices"]}
    assert {"DAD", "MESSAGE MACHINE", "PRINTER"} <= heard
    assert "DAD (V.O.)" in next(s for s in shots if s.size == "WS").camera_notes


def test_a_voice_the_table_forgot_is_still_not_drawn():
    """A hand-edited shot list can name a device as a character: it stays a voice."""
    spec = build_blocking([{"size": "WS", "characters": ["MAYA", "INTERCOM"]},
                           {"size": "WS", "characters": ["MAYA", "MOM"], "camera_notes": "voices: MOM (V.O.)"}], KITCHEN)
    first, second = spec["shots"]
    assert [c["name"] for c in first["characters"]] == ["MAYA"] and first["voices"][0]["name"] == "INTERCOM"
    assert [c["name"] for c in second["characters"]] == ["MAYA"]
    assert second["voices"] == [{"name": "MOM", "kind": "V.O."}]


def test_a_child_from_the_script_is_drawn_smaller_than_the_adults():
    _, spec, table = _planned(VOICES_SCRIPT)
    master = next(s for s in spec["shots"] if s["description"].startswith("Master"))
    heights = {c["name"]: c["height"] for c in master["characters"]}
    assert heights["LILY"] == pytest.approx(1.22) and heights["MAYA"] >= 1.62
    tops = {c["name"]: max(p["location"][2] + p["scale"][2] for p in c["parts"]) for c in master["characters"]}
    assert tops["LILY"] < 0.8 * tops["MAYA"]
    assert table["LILY"]["colour"] != table["MAYA"]["colour"]


def test_pov_puts_the_lens_at_the_viewers_eyes():
    table = {"LILY": {"index": 0, "height": 1.22, "child": True}, "MAYA": {"index": 1}}
    spec = build_blocking([{"size": "MS", "characters": ["MAYA", "LILY"], "description": "LILY'S POV: Maya looms."},
                           {"size": "MS", "characters": ["MAYA"], "description": "Maya."}], KITCHEN, characters=table)
    pov, plain = spec["shots"]
    eye = figure_levels(1.22, "standing")["eyes"]
    assert pov["pov"] == {"viewer": "LILY", "mask": "vignette", "eye_height_m": pytest.approx(eye, abs=1e-3)}
    assert pov["camera"]["location"][2] == pytest.approx(eye, abs=1e-3)
    assert [c["name"] for c in pov["characters"]] == ["MAYA"]  # the viewer is the camera, not in frame
    maya_eyes = figure_levels(pov["characters"][0]["height"], "standing")["eyes"]
    assert pov["camera"]["target"][2] == pytest.approx(maya_eyes, abs=1e-3)  # a child looks up
    assert plain["pov"] is None
    scope = build_blocking([{"size": "WS", "characters": ["MAYA"]}],
                           {"int_ext": "EXT", "location": "ROOFTOP - SNIPER SCOPE POV", "time_of_day": "DAY"})
    assert scope["shots"][0]["pov"]["mask"] == "scope"
    assert scope["shots"][0]["camera"]["location"][2] == pytest.approx(figure_levels(1.72, "standing")["eyes"])
    insert = build_blocking([{"size": "INSERT", "description": "Insert: the sniper scope. NELL'S POV."}],
                            {**KITCHEN, "elements": [{"category": "props", "name": "sniper scope"}]})["shots"][0]
    assert insert["pov"] is None and insert["props"][0]["name"] == "sniper scope"  # still close on the object


def test_exteriors_get_sky_and_ground_and_interiors_walls():
    street = build_blocking([{"size": "EWS", "angle": "high"}],
                            {"int_ext": "EXT", "location": "MAIN STREET", "time_of_day": "NIGHT"})["scene"]
    kitchen = build_blocking([{"size": "WS"}], KITCHEN)["scene"]
    assert street["lighting"]["sky"] and kitchen["lighting"]["sky"] is None
    zenith, horizon = street["lighting"]["sky"]
    assert zenith[2] > zenith[0] and sum(horizon) > sum(zenith)  # a night sky: blue, lighter at the horizon
    assert max(b["location"][2] + b["scale"][2] for b in street["set"]["blocks"]) < 10  # low enough to see sky
    tint = street["lighting"]["tint"]
    assert tint[2] > tint[0]  # night is told by a blue tint


def test_name_tags_land_inside_the_frame_above_each_head():
    from soundstage.previz.blocking import project

    spec = build_blocking([{"size": "WS", "characters": ["MAYA", "JONAS"]}], KITCHEN, width=960, height=540)
    shot = spec["shots"][0]
    assert [t["text"] for t in shot["tags"]] == ["MAYA", "JONAS"]
    for tag, person in zip(shot["tags"], shot["characters"]):
        assert 0 <= tag["x"] <= 960 and 0 < tag["y"] < 540
        feet = project(shot["camera"], person["location"], 960, 540)
        assert feet[2] and tag["y"] < feet[1] and abs(tag["x"] - feet[0]) < 60  # above the figure
    assert project(shot["camera"], [0, -50, 1], 960, 540)[2] is False  # behind the lens


def test_an_insert_frames_one_object_close_on_its_surface():
    spec = build_blocking([{"size": "INSERT", "description": "Insert: the folded letter."}],
                          {**KITCHEN, "elements": [{"category": "props", "name": "folded letter"},
                                                   {"category": "props", "name": "revolver"}]})
    shot = spec["shots"][0]
    assert [p["name"] for p in shot["props"]] == ["folded letter"]
    prop = shot["props"][0]
    assert prop["scale"][2] < 0.01 and prop["color"][0] > 0.9  # a flat sheet of paper, not a brown box
    cam = shot["camera"]
    frame_w = cam["distance_m"] * cam["sensor_width_mm"] / cam["lens_mm"]
    assert 0.3 <= 2 * max(prop["scale"]) / frame_w <= 0.6  # the object fills about half the frame
    assert cam["location"][2] > prop["location"][2] + 0.5  # looking down onto it
