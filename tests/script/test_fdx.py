"""Final Draft reading/writing: round trip with Fountain, hostile and malformed XML."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from soundstage.domain.screenplay import ElementKind, Screenplay
from soundstage.errors import ParseError, UnsafeInputError
from soundstage.script.fdx import parse_fdx, write_fdx
from soundstage.script.fountain import parse_fountain
from soundstage.script.loader import load_screenplay

DATA = Path(__file__).resolve().parents[1] / "data"
SAMPLE = Path(__file__).resolve().parents[2] / "src" / "soundstage" / "samples" / "the_last_take.fountain"


def _summary(sp: Screenplay) -> dict:
    """What must survive a format change: the words and the structure, not the markup."""
    return {
        "scenes": [(s.heading.text, s.number) for s in sp.scenes()],
        "characters": sp.characters(),
        "dialogue": [(e.character, e.extensions, e.dual, tuple((d.text, d.parenthetical) for d in e.lines))
                     for e in sp.iter_kind(ElementKind.DIALOGUE)],
        "transitions": [e.text for e in sp.iter_kind(ElementKind.TRANSITION)],
        "lyrics": [e.text for e in sp.iter_kind(ElementKind.LYRICS)],
        "centered": [e.text for e in sp.elements if e.centered],
        "actions": [(e.text, e.runs) for e in sp.iter_kind(ElementKind.ACTION)],
        "kinds": [e.kind for e in sp.elements],
    }


def _as_final_draft(sp: Screenplay) -> Screenplay:
    """What Final Draft can hold: its screenplay has no lyrics element, so lyrics come back as
    action (written as General paragraphs, words and styles kept)."""
    elements = [replace(e, kind=ElementKind.ACTION) if e.kind is ElementKind.LYRICS else e for e in sp.elements]
    return Screenplay(title_page=sp.title_page, elements=elements, source_name=sp.source_name)


@pytest.mark.parametrize("path", [DATA / "every_element.fountain", SAMPLE], ids=["every_element", "sample"])
def test_fountain_to_fdx_round_trip_keeps_structure(path: Path) -> None:
    original = parse_fountain(path.read_text(encoding="utf-8"))
    again = parse_fdx(write_fdx(original), "rt.fdx")
    assert _summary(again) == _summary(_as_final_draft(original))
    assert again.title_page == original.title_page
    assert any(e.dual for e in again.elements)


def test_fdx_lines_point_at_paragraphs() -> None:
    data = write_fdx(parse_fountain((DATA / "every_element.fountain").read_text(encoding="utf-8")))
    sp = parse_fdx(data)
    text_lines = data.decode("utf-8").split("\n")
    heading = next(sp.iter_kind(ElementKind.SCENE_HEADING))
    assert "INT. KITCHEN - NIGHT" in text_lines[heading.line - 1]


def test_reads_real_final_draft_shapes(tmp_path: Path) -> None:
    fdx = DATA / "final_draft_sample.fdx"
    sp = load_screenplay(fdx)
    assert sp.title == "Harbor Lights"
    (scene,) = sp.scenes()
    assert (scene.heading.text, scene.number) == ("EXT. HARBOR - NIGHT", "12A")
    action = scene.elements[0]
    assert action.text == "Fog rolls in. A SHIP horn sounds."
    assert [(r.text, r.bold, r.italic, r.underline) for r in action.runs] == [
        ("Fog rolls in. ", False, False, False), ("A SHIP", True, True, True), (" horn sounds.", False, False, False)]
    dialogues = list(sp.iter_kind(ElementKind.DIALOGUE))
    assert [(d.character, d.extensions, d.dual) for d in dialogues] == [
        ("NORA", ("O.S.",), False), ("ELI", (), False), ("NORA", ("CONT'D",), True)]
    assert dialogues[0].lines[0].parenthetical and dialogues[0].lines[0].text == "(shouting)"
    assert [e.kind for e in sp.elements][-2:] == [ElementKind.PAGE_BREAK, ElementKind.TRANSITION]
    shot = [e for e in scene.elements if e.kind is ElementKind.ACTION][-1]
    assert shot.text == "CLOSE ON THE LIGHTHOUSE"


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<FinalDraft><Content><Paragraph Type="Action"><Text>&lol3;</Text></Paragraph></Content></FinalDraft>
"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE fd [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<FinalDraft><Content><Paragraph Type="Action"><Text>&secret;</Text></Paragraph></Content></FinalDraft>
"""

BARE_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE FinalDraft SYSTEM "http://example.invalid/fd.dtd">
<FinalDraft><Content/></FinalDraft>
"""


@pytest.mark.parametrize("payload", [BILLION_LAUGHS, EXTERNAL_ENTITY, BARE_DTD], ids=["laughs", "xxe", "dtd"])
def test_hostile_fdx_is_refused(payload: bytes, tmp_path: Path) -> None:
    with pytest.raises(UnsafeInputError) as info:
        parse_fdx(payload, "evil.fdx")
    assert "\n" not in info.value.one_line() and "evil.fdx" in info.value.one_line()
    path = tmp_path / "evil.fdx"
    path.write_bytes(payload)
    with pytest.raises(UnsafeInputError):
        load_screenplay(path)


def test_malformed_fdx_names_the_line() -> None:
    bad = b'<?xml version="1.0"?>\n<FinalDraft>\n<Content>\n<Paragraph Type="Action"><Text>x</Paragraph>\n</FinalDraft>'
    with pytest.raises(ParseError) as info:
        parse_fdx(bad, "bad.fdx")
    assert info.value.line == 4
    assert info.value.one_line().startswith("bad.fdx:4: malformed FDX XML")


def test_xml_that_is_not_final_draft_is_refused() -> None:
    with pytest.raises(ParseError, match="not a Final Draft document"):
        parse_fdx(b"<?xml version='1.0'?><html><body/></html>", "page.fdx")
    with pytest.raises(ParseError, match="no <Content>"):
        parse_fdx(b"<FinalDraft/>", "empty.fdx")


def test_written_fdx_escapes_markup_characters() -> None:
    sp = parse_fountain("INT. R&D LAB - DAY\n\nShe types <script> & \"quotes\".\n")
    again = parse_fdx(write_fdx(sp))
    assert [e.text for e in again.elements] == ["INT. R&D LAB - DAY", 'She types <script> & "quotes".']
