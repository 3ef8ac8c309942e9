"""Fountain parsing/writing and the screenplay loader, on a fixture using every element."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from soundstage.domain.screenplay import Element, ElementKind, Run, Screenplay
from soundstage.errors import InputError, NotFoundError, ParseError
from soundstage.script import loader
from soundstage.script.fountain import parse_emphasis, parse_fountain, parse_heading, write_fountain
from soundstage.script.loader import load_screenplay

DATA = Path(__file__).resolve().parents[1] / "data"
SAMPLE = Path(__file__).resolve().parents[2] / "src" / "soundstage" / "samples" / "the_last_take.fountain"


@pytest.fixture(scope="module")
def every() -> Screenplay:
    return parse_fountain((DATA / "every_element.fountain").read_text(encoding="utf-8"), "every_element.fountain")


def _kinds(sp: Screenplay) -> list[ElementKind]:
    return [el.kind for el in sp.elements]


def _without_lines(el: Element) -> Element:
    return dataclasses.replace(el, line=0, lines=tuple(dataclasses.replace(d, line=0) for d in el.lines))


def test_title_page_with_indented_multiline_value(every: Screenplay) -> None:
    assert every.title == "Every Element"
    assert every.title_page["credit"] == "Written by"
    assert every.title_page["author"] == "Test Writer"
    assert every.title_page["contact"] == "12 Fixture Lane\nTestville"


def test_sections_and_synopsis(every: Screenplay) -> None:
    sections = list(every.iter_kind(ElementKind.SECTION))
    assert [(s.text, s.depth, s.line) for s in sections] == [("Act One", 1, 8), ("Cold Open", 2, 10)]
    (synopsis,) = every.iter_kind(ElementKind.SYNOPSIS)
    assert synopsis.text == "Everything the parser must understand, once." and synopsis.line == 12


def test_scene_headings_numbers_forced_and_lines(every: Screenplay) -> None:
    headings = list(every.iter_kind(ElementKind.SCENE_HEADING))
    assert [(h.text, h.scene_number, h.forced, h.line) for h in headings] == [
        ("INT. KITCHEN - NIGHT", "1", False, 14),
        ("EXT. HARBOR - DAY", "2A", False, 37),
        ("THE DREAM", None, True, 55),
        ("EST. CITY SKYLINE - DUSK", None, False, 61),
        ("I/E CAR - CONTINUOUS", None, False, 63),
        ("INT./EXT. PICKUP TRUCK - MOVING - NIGHT", None, False, 65),
    ]
    assert len(every.scenes()) == 6


def test_emphasis_runs_and_escapes(every: Screenplay) -> None:
    action = next(every.iter_kind(ElementKind.ACTION))
    assert action.line == 16
    assert action.text == ("Rain hammers the window. Soft light, hard shadows, both, underlined and a literal *star*.")
    styled = {r.text: (r.bold, r.italic, r.underline) for r in action.runs}
    assert styled["Soft"] == (False, True, False)
    assert styled["hard"] == (True, False, False)
    assert styled["both"] == (True, True, False)
    assert styled["underlined"] == (False, False, True)
    assert "".join(r.text for r in action.runs) == action.text


def test_dialogue_extensions_parentheticals_and_inline_note(every: Screenplay) -> None:
    dialogues = list(every.iter_kind(ElementKind.DIALOGUE))
    first = dialogues[0]
    assert (first.character, first.extensions, first.line) == ("MAYA", ("V.O.",), 18)
    assert [(d.text, d.parenthetical, d.line) for d in first.lines] == [
        ("(whispering)", True, 19),
        ("I kept the letter.\nEvery word of it.", False, 20),
    ]
    assert first.notes == ("check this line with legal",)
    assert first.speech == "I kept the letter.\nEvery word of it."
    assert dialogues[1].extensions == ("CONT'D",)
    forced = dialogues[2]
    assert (forced.character, forced.forced) == ("McCLANE", True)
    assert [d.character for d in dialogues if d.dual] == ["STEEL"]
    assert every.characters() == ["MAYA", "McCLANE", "BRICK", "STEEL"]


def test_boneyard_removed_and_line_numbers_survive(every: Screenplay) -> None:
    assert "OLD CHARACTER" not in every.characters()
    assert all("This was cut" not in el.text for el in every.elements)
    forced_action = next(el for el in every.iter_kind(ElementKind.ACTION) if el.forced)
    assert (forced_action.text, forced_action.line) == ("SHOUTED ACTION THAT IS NOT A CHARACTER", 45)


def test_lyrics_notes_transitions_centered_page_break(every: Screenplay) -> None:
    (lyrics,) = every.iter_kind(ElementKind.LYRICS)
    assert (lyrics.text, lyrics.line) == ("Sail away, sail away\nover the grey", 47)
    (note,) = every.iter_kind(ElementKind.NOTE)
    assert (note.text, note.line) == ("A standalone note that spans two lines", 50)
    transitions = [(t.text, t.forced, t.line) for t in every.iter_kind(ElementKind.TRANSITION)]
    assert transitions == [("CUT TO:", False, 35), ("SMASH CUT", True, 53)]
    centered = [el for el in every.iter_kind(ElementKind.ACTION) if el.centered]
    assert [(c.text, c.line) for c in centered] == [("THE END", 57)]
    (page_break,) = every.iter_kind(ElementKind.PAGE_BREAK)
    assert page_break.line == 59


def test_parse_heading_parts() -> None:
    assert parse_heading("INT. KITCHEN - NIGHT") == parse_heading("INT. KITCHEN - NIGHT")
    h = parse_heading("INT./EXT. PICKUP TRUCK - MOVING - NIGHT")
    assert (h.int_ext, h.location, h.time_of_day) == ("INT/EXT", "PICKUP TRUCK - MOVING", "NIGHT")
    h = parse_heading("EST. CITY SKYLINE - DUSK")
    assert (h.int_ext, h.location, h.time_of_day) == ("EST", "CITY SKYLINE", "DUSK")
    h = parse_heading("I/E CAR - CONTINUOUS")
    assert (h.int_ext, h.location, h.time_of_day) == ("INT/EXT", "CAR", "CONTINUOUS")
    h = parse_heading("EXT. RIVERBANK - DAY (FLASHBACK - 1994)")
    assert (h.int_ext, h.location, h.time_of_day) == ("EXT", "RIVERBANK", "DAY")
    h = parse_heading(".THE DREAM")
    assert (h.int_ext, h.location, h.time_of_day) == ("", "THE DREAM", "")
    h = parse_heading("ext. beach #4#")
    assert (h.int_ext, h.location, h.time_of_day) == ("EXT", "BEACH", "")


def test_emphasis_unpaired_marker_stays_literal() -> None:
    assert parse_emphasis("5 * 3 = 15") == ("5 * 3 = 15", ())
    text, runs = parse_emphasis("a _b *c* d_ e")
    assert text == "a b c d e"
    assert Run("c", italic=True, underline=True) in runs


def test_line_endings_tabs_and_bom_do_not_change_results() -> None:
    unix = "INT. HALL - DAY\n\nMAYA\nHi.\n\nShe\tleaves.\n"
    for variant in ("\ufeff" + unix, unix.replace("\n", "\r\n"), unix.replace("\n", "\r")):
        sp = parse_fountain(variant)
        assert [(e.kind, e.line) for e in sp.elements] == [
            (ElementKind.SCENE_HEADING, 1), (ElementKind.DIALOGUE, 3), (ElementKind.ACTION, 6)]
        assert sp.elements[2].text == "She    leaves."


def test_uppercase_line_without_dialogue_is_action_and_fade_in_is_not_title() -> None:
    sp = parse_fountain("FADE IN:\n\nINT. ROOM - DAY\n\nBANG\n\nShe sleeps.\n")
    assert sp.title_page == {}
    assert _kinds(sp) == [ElementKind.ACTION, ElementKind.SCENE_HEADING, ElementKind.ACTION, ElementKind.ACTION]


def test_write_fountain_round_trips_every_element(every: Screenplay) -> None:
    again = parse_fountain(write_fountain(every))
    assert again.title_page == every.title_page
    assert [_without_lines(e) for e in again.elements] == [_without_lines(e) for e in every.elements]


def test_sample_screenplay_has_what_a_breakdown_needs() -> None:
    sp = load_screenplay(SAMPLE)
    assert sp.title == "THE LAST TAKE"
    scenes = sp.scenes()
    assert 6 <= len(scenes) <= 8
    headings = [parse_heading(s.heading.text) for s in scenes]
    assert {"EXT", "INT", "EST"} <= {h.int_ext for h in headings}
    assert {"DAY", "NIGHT", "DUSK"} <= {h.time_of_day for h in headings}
    text = "\n".join(e.text + " " + e.speech + " " + " ".join(e.notes) for e in sp.elements).lower()
    for word in ("set extension", "de-ag", "water tower", "flashback", "letter", "camera", "truck", "dog",
                 "horse", "stunt", "rain", "smoke", "extras", "wardrobe", "sound"):
        assert word in text, word
    assert "MAYA" in sp.characters()
    assert any(e.extensions for e in sp.iter_kind(ElementKind.DIALOGUE))
    assert any(e.dual for e in sp.elements)
    assert list(sp.iter_kind(ElementKind.LYRICS)) and list(sp.iter_kind(ElementKind.TRANSITION))


@pytest.mark.slow
def test_ten_megabyte_script_loads_in_seconds(tmp_path: Path) -> None:
    sample = SAMPLE.read_text(encoding="utf-8")
    title, body = sample.split("FADE IN:", 1)
    reps = 10 * 1024 * 1024 // len(body) + 1
    path = tmp_path / "big.fountain"
    path.write_text(title + body * reps, encoding="utf-8")
    assert path.stat().st_size > 10 * 1024 * 1024
    start = time.perf_counter()
    sp = load_screenplay(path)
    elapsed = time.perf_counter() - start
    assert len(sp.scenes()) == 7 * reps
    assert elapsed < 10, elapsed  # ~1 s measured on an idle 2-core machine; generous for busy CI


@pytest.mark.parametrize("hostile", ["/*" * 100_000, "[[" * 100_000, "*_" * 100_000, "/* " + "x\n" * 100_000])
def test_hostile_markup_is_linear(hostile: str) -> None:
    start = time.perf_counter()
    parse_fountain(hostile)
    assert time.perf_counter() - start < 5  # catastrophic backtracking would take minutes


# ----------------------------------------------------------------------------- loader

def test_loader_refuses_binary_with_offset(tmp_path: Path) -> None:
    path = tmp_path / "x.fountain"
    path.write_bytes(b"INT. A - DAY\n\x00\x01")
    with pytest.raises(ParseError, match=r"x.fountain: .*offset 13"):
        load_screenplay(path)


def test_loader_refuses_non_utf8_with_offset(tmp_path: Path) -> None:
    path = tmp_path / "latin.fountain"
    path.write_bytes("INT. CAFÉ - DAY\n".encode("latin-1"))
    with pytest.raises(ParseError, match=r"offset 8") as info:
        load_screenplay(path)
    assert "\n" not in info.value.one_line()


@pytest.mark.parametrize("content", [b"", b"   \n\n\t  \r\n"])
def test_loader_refuses_empty(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "empty.fountain"
    path.write_bytes(content)
    with pytest.raises(ParseError, match="no screenplay content"):
        load_screenplay(path)


def test_loader_refuses_oversized_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader, "MAX_SCREENPLAY_BYTES", 1000)
    path = tmp_path / "huge.fountain"
    path.write_bytes(b"INT. A - DAY\n\n" + b"Action.\n\n" * 200)
    with pytest.raises(InputError, match="larger than") as info:
        load_screenplay(path)
    assert not isinstance(info.value, ParseError)


def test_loader_chooses_fdx_by_content_and_reports_missing(tmp_path: Path) -> None:
    path = tmp_path / "script.txt"
    path.write_text('<?xml version="1.0"?><FinalDraft><Content><Paragraph Type="Scene Heading">'
                    "<Text>INT. A - DAY</Text></Paragraph></Content></FinalDraft>", encoding="utf-8")
    # .txt is Fountain by extension, so the XML is read as (odd) action text...
    assert load_screenplay(path).elements[0].kind is ElementKind.ACTION
    xml_path = tmp_path / "script.xml"
    xml_path.write_bytes(path.read_bytes())
    # ...while an unknown extension falls back to sniffing the content.
    assert load_screenplay(xml_path).elements[0].kind is ElementKind.SCENE_HEADING
    with pytest.raises(NotFoundError):
        load_screenplay(tmp_path / "missing.fountain")


def test_inline_notes_do_not_hide_headings_or_transitions() -> None:
    sp = parse_fountain("INT. A - DAY #1# [[check]]\n\nMAYA [[cue note]]\nHi [[x]]\n\nCUT TO: [[t]]\n")
    heading, dialogue, transition = sp.elements
    assert (heading.kind, heading.text, heading.scene_number, heading.notes) == (
        ElementKind.SCENE_HEADING, "INT. A - DAY", "1", ("check",))
    assert (dialogue.character, dialogue.speech, dialogue.notes) == ("MAYA", "Hi", ("cue note", "x"))
    assert (transition.kind, transition.notes) == (ElementKind.TRANSITION, ("t",))


def test_action_starting_with_a_name_in_capitals_is_not_a_cue():
    sp = parse_fountain("INT. DINER - NIGHT\n\nMAYA (30s), in a bloody apron, wipes the counter.\nShe looks up.\n\n"
                        "MAYA (V.O.)\nHello.\n")
    kinds = [e.kind.value for e in sp.elements]
    assert kinds == ["scene_heading", "action", "dialogue"]
    assert sp.elements[2].extensions == ("V.O.",)
