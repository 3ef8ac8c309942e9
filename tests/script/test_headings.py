"""Scene headings in many languages: a short script per language parses into scenes, and a script
with no heading is refused with a hint that says how to force one."""

from __future__ import annotations

import pytest

from soundstage.domain.screenplay import ElementKind
from soundstage.errors import ParseError
from soundstage.script.breakdown import break_down
from soundstage.script.fountain import parse_fountain, write_fountain
from soundstage.script.headings import heading_start, is_standard_heading, parse_heading
from soundstage.script.loader import require_scenes

# language: (script, [(int_ext, location, time_of_day, scene number)], a character who speaks)
SCRIPTS = {
    "ru": ("ИНТ. КУХНЯ – НОЧЬ\n\nМаша ставит чайник.\n\nМАША\nТы опоздал.\n\n"
           "НАТ. ДВОР – ДЕНЬ\n\nИдёт снег.\n\n1-3. ИНТ./НАТ. МАШИНА – УТРО\n\nМаша за рулём.\n",
           [("INT", "КУХНЯ", "NIGHT", None), ("EXT", "ДВОР", "DAY", None), ("INT/EXT", "МАШИНА", "MORNING", "1-3")],
           "МАША"),
    "uk": ("ІНТ. КВАРТИРА – НІЧ\n\nОксана читає лист.\n\nОКСАНА\nНарешті.\n\nНАТ. ПАРК – РАНОК\n\nДощ.\n",
           [("INT", "КВАРТИРА", "NIGHT", None), ("EXT", "ПАРК", "MORNING", None)], "ОКСАНА"),
    "es": ("INT. COCINA - NOCHE\n\nLucía enciende una vela.\n\nLUCÍA\n¿Quién anda ahí?\n\n"
           "EXT. PLAZA - DÍA\n\nNiños juegan.\n",
           [("INT", "COCINA", "NIGHT", None), ("EXT", "PLAZA", "DAY", None)], "LUCÍA"),
    "fr": ("12. INT. CUISINE - NUIT\n\nMarie boit un café.\n\nMARIE\nEncore toi ?\n\n"
           "13. EXT. RUE - JOUR\n\nIl pleut.\n",
           [("INT", "CUISINE", "NIGHT", "12"), ("EXT", "RUE", "DAY", "13")], "MARIE"),
    "de": ("INNEN - KÜCHE - TAG\n\nAnna kocht Kaffee.\n\nANNA\nGuten Morgen.\n\n"
           "AUSSEN. STRASSE – NACHT\n\nEs regnet.\n\nINT. BÜRO - ABEND\n\nAnna telefoniert.\n",
           [("INT", "KÜCHE", "DAY", None), ("EXT", "STRASSE", "NIGHT", None), ("INT", "BÜRO", "EVENING", None)],
           "ANNA"),
    "it": ("INT. CUCINA - NOTTE\n\nGiulia apre il frigo.\n\nGIULIA\nChi è?\n\nEST. PIAZZA - GIORNO\n\nPiccioni.\n",
           [("INT", "CUCINA", "NIGHT", None), ("EXT", "PIAZZA", "DAY", None)], "GIULIA"),
    "pt": ("INT. SALA - NOITE\n\nJoão liga a televisão.\n\nJOÃO\nOlá?\n\nEXT. PRAIA - DIA\n\nOndas.\n",
           [("INT", "SALA", "NIGHT", None), ("EXT", "PRAIA", "DAY", None)], "JOÃO"),
    "ja": ("○ 喫茶店・店内（夜）\n\n花子がコーヒーを飲む。\n\n花子\nおそいね。\n\n"
           "○ 学校・外観（朝）\n\n雨が降っている。\n\nINT。 キッチン - 夜\n\n花子が料理する。\n",
           [("INT", "喫茶店・店内", "NIGHT", None), ("EXT", "学校・外観", "MORNING", None),
            ("INT", "キッチン", "NIGHT", None)], "花子"),
    "zh": ("1. 内景 咖啡馆 - 夜\n\n小明喝咖啡。\n\n小明\n你来了。\n\n2-1 日 外 街道\n\n下雨。\n",
           [("INT", "咖啡馆", "NIGHT", "1"), ("EXT", "街道", "DAY", "2-1")], "小明"),
    "ko": ("S#1. 카페 안 (밤)\n\n지수가 커피를 마신다.\n\n지수\n늦었네.\n\n씬 2. 거리 / 낮\n\n비가 온다.\n",
           [("", "카페 안", "NIGHT", "1"), ("", "거리", "DAY", "2")], "지수"),
}


@pytest.mark.parametrize("language", sorted(SCRIPTS))
def test_a_short_script_in_each_language_has_its_scenes(language: str) -> None:
    text, expected, speaker = SCRIPTS[language]
    sp = parse_fountain(text, f"{language}.fountain")
    require_scenes(sp, f"{language}.fountain")
    bd = break_down(sp)
    got = [(s.int_ext, s.location, s.time_of_day) for s in bd.scenes]
    assert got == [e[:3] for e in expected]
    assert [h.scene_number for h in sp.iter_kind(ElementKind.SCENE_HEADING)] == [e[3] for e in expected]
    assert speaker in bd.scenes[0].speaking_cast
    # every localized heading is written back with the '.' other Fountain tools need, and reads the same
    again = parse_fountain(write_fountain(sp))
    assert [el.text for el in again.iter_kind(ElementKind.SCENE_HEADING)] == \
        [el.text for el in sp.iter_kind(ElementKind.SCENE_HEADING)]
    assert [(s.int_ext, s.location) for s in break_down(again).scenes] == [e[:2] for e in expected]


def test_full_width_prefixes_fold() -> None:
    for line in ("ＩＮＴ．ＫＩＴＣＨＥＮ － ＮＩＧＨＴ", "INT。 KITCHEN - NIGHT", "ｉｎｔ． kitchen - night"):
        heading = parse_heading(line)
        assert (heading.int_ext, heading.location, heading.time_of_day) == ("INT", "KITCHEN", "NIGHT")
        assert heading.raw == line  # the text as written is kept
        assert not is_standard_heading(line)  # other tools need the '.'


def test_fountain_headings_are_read_as_before() -> None:
    assert parse_heading("INT./EXT. PICKUP TRUCK - MOVING - NIGHT").location == "PICKUP TRUCK - MOVING"
    assert parse_heading("I/E CAR - CONTINUOUS").int_ext == "INT/EXT"
    assert parse_heading("EST. CITY SKYLINE - DUSK").int_ext == "EST"
    assert parse_heading("INT. HOUSE (FLASHBACK - 1994)").time_of_day == ""
    assert is_standard_heading("int. kitchen - day") and is_standard_heading("EXT. STREET")


@pytest.mark.parametrize("line", [
    "Innen ist es dunkel.", "НАТАША входит в комнату.", "12 people wait outside.", "Internal memo on the desk.",
    "EXTRA! EXTRA!", "Estimates vary.", "S# and symbols", "内容很多。", "○",
])
def test_action_lines_that_only_look_like_headings_stay_action(line: str) -> None:
    assert heading_start(line) is None
    sp = parse_fountain(f"INT. ROOM - DAY\n\n{line}\n")
    assert len(sp.scenes()) == 1


def test_no_heading_is_refused_with_a_hint_to_force_one() -> None:
    sp = parse_fountain("СЦЕНА 1. КУХНЯ - НОЧЬ\n\nМаша пьёт чай.\n")
    with pytest.raises(ParseError) as caught:
        require_scenes(sp, "draft.fountain")
    message = str(caught.value)
    assert message == "draft.fountain: no scene headings found; nothing to break down"
    assert "starting it with '.'" in caught.value.hint
    assert "line 1" in caught.value.hint and "'.СЦЕНА 1. КУХНЯ - НОЧЬ'" in caught.value.hint
    forced = parse_fountain(".СЦЕНА 1. КУХНЯ - НОЧЬ\n\nМаша пьёт чай.\n")
    require_scenes(forced)
    assert break_down(forced).scenes[0].time_of_day == "NIGHT"


@pytest.mark.parametrize("source, present", [
    (".ИНТ. КВАРТИРА - НОЧЬ\n\nАнна подходит к окну. Маленькая МАША (7) спит на диване.\n\nАННА\nТише.\n", "МАША"),
    (".INT. CUISINE - JOUR\n\nÉLODIE (30) coupe des oignons. Le petit THÉO (6) entre.\n\nÉLODIE\nSors !\n", "THÉO"),
    (".ΕΣΩΤ. ΚΟΥΖΙΝΑ - ΜΕΡΑ\n\nΗ μικρή ΖΩΗ (8) παίζει στο πάτωμα.\n\nΕΛΕΝΗ\nΈλα εδώ.\n", "ΖΩΗ"),
])
def test_a_part_introduced_in_capitals_counts_in_any_alphabet(source, present):
    """"МАША (7)" introduces a silent child exactly as "MASHA (7)" does: she is in the scene."""
    scene = break_down(parse_fountain(source)).scenes[0]
    assert present in scene.nonspeaking_cast
    assert present not in scene.speaking_cast
