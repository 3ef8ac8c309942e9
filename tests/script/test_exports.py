"""Exports as a production office needs them (issue 15): locked numbers and OMITTED scenes in FDX and
Fountain, a plain title page written as Final Draft's <TitlePage>, only Final Draft paragraph types,
ScriptNote/Summary read back as notes and synopses, notes that leave no line break, one page count."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from soundstage.domain.breakdown import Breakdown
from soundstage.domain.screenplay import ElementKind, Screenplay, plain_title
from soundstage.errors import SpecError
from soundstage.script.breakdown import break_down
from soundstage.script.fdx import FINAL_DRAFT_TYPES, parse_fdx, write_fdx
from soundstage.script.fountain import parse_fountain, write_fountain
from soundstage.script.pagination import LINES_PER_PAGE, paginate, share_eighths
from soundstage.script.revisions import lock_numbers, mark_omitted, numbered_screenplay

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
SCRIPTS = sorted((DATA / "breakdown_corpus").glob("*/*.fountain")) + [
    DATA / "every_element.fountain", ROOT / "src" / "soundstage" / "samples" / "the_last_take.fountain"]

# Draft 2 of a five-scene script: a new scene after the ROOFTOP (-> 2A), the ALLEY cut (-> 4 OMITTED).
DRAFT_1 = (DATA / "exports" / "brick_draft1.fountain").read_text(encoding="utf-8")
DRAFT_2 = (DATA / "exports" / "brick_draft2.fountain").read_text(encoding="utf-8")


def _bd(sp: Screenplay) -> Breakdown:
    return mark_omitted(break_down(sp, paginate(sp)))


def _locked() -> tuple[Screenplay, Breakdown]:
    old = _bd(parse_fountain(DRAFT_1))
    sp2 = parse_fountain(DRAFT_2)
    locked, _ = lock_numbers(old, _bd(sp2))
    return sp2, locked


def _labels(bd: Breakdown) -> list[str]:
    return [s.label for s in bd.scenes]


# --------------------------------------------------------------------------- locked numbers

def test_revision_locks_2a_and_4_omitted() -> None:
    _, locked = _locked()
    assert _labels(locked) == ["1", "2", "2A", "3", "4 OMITTED", "5"]


def test_numbered_screenplay_carries_locked_numbers_and_omitted_headings() -> None:
    sp2, locked = _locked()
    numbered = numbered_screenplay(sp2, locked)
    headings = [(e.text, e.scene_number) for e in numbered.iter_kind(ElementKind.SCENE_HEADING)]
    assert headings == [("INT. GARAGE - DAY", "1"), ("EXT. ROOFTOP - NIGHT", "2"), ("INT. STAIRWELL - NIGHT", "2A"),
                        ("INT. DINER - DAY", "3"), ("OMITTED", "4"), ("INT. GARAGE - NIGHT", "5")]
    # nothing else moved or changed: every other element is the source's, in order
    others = [e for e in numbered.elements if e.kind is not ElementKind.SCENE_HEADING]
    assert others == [e for e in sp2.elements if e.kind is not ElementKind.SCENE_HEADING]


@pytest.mark.parametrize("fmt", ["fdx", "fountain"])
def test_export_reimport_revise_keeps_2a_and_omitted(fmt: str) -> None:
    sp2, locked = _locked()
    numbered = numbered_screenplay(sp2, locked)
    if fmt == "fdx":
        data = write_fdx(numbered)
        headings = [(p.get("Number"), p.findtext("Text")) for p in ET.fromstring(data).iter("Paragraph")
                    if p.get("Type") == "Scene Heading"]
        assert headings[2:5] == [("2A", "INT. STAIRWELL - NIGHT"), ("3", "INT. DINER - DAY"), ("4", "OMITTED")]
        again = parse_fdx(data, "locked.fdx")
    else:
        text = write_fountain(numbered)
        assert "INT. STAIRWELL - NIGHT #2A#" in text and ".OMITTED #4#" in text
        again = parse_fountain(text, "locked.fountain")
    # read on its own (a first import somewhere else): the file's numbers, the cut scene not live
    fresh = _bd(again)
    assert _labels(fresh) == ["1", "2", "2A", "3", "4 OMITTED", "5"]
    assert len(fresh.live_scenes()) == 5
    # read as the next draft of the same production, with one more scene cut: numbers hold
    draft3 = Screenplay(title_page=again.title_page, source_name="d3",
                        elements=list(again.elements))
    draft3.elements = _drop_scene(draft3, "INT. DINER - DAY")
    relocked, report = lock_numbers(locked, _bd(draft3))
    assert _labels(relocked) == ["1", "2", "2A", "3 OMITTED", "4 OMITTED", "5"]
    assert report.omitted == ["3"] and report.added == []


def _drop_scene(sp: Screenplay, heading: str) -> list:
    out, skipping = [], False
    for e in sp.elements:
        if e.kind is ElementKind.SCENE_HEADING:
            skipping = e.text == heading
        if not skipping:
            out.append(e)
    return out


def test_a_breakdown_from_another_draft_is_refused() -> None:
    sp2, locked = _locked()
    locked.scenes[-1].index = 17  # forged: points past the script's scenes
    with pytest.raises(SpecError, match="does not have"):
        numbered_screenplay(sp2, locked)
    shorter = Screenplay(title_page={}, elements=list(sp2.elements) + list(parse_fountain(
        "INT. EXTRA - DAY\n\nNot in the breakdown.\n").elements))
    _, locked = _locked()
    with pytest.raises(SpecError, match="missing from the breakdown"):
        numbered_screenplay(shorter, locked)  # a scene the breakdown does not know is never dropped silently


def test_an_omitted_heading_with_words_under_it_stays_a_scene() -> None:
    sp = parse_fountain("INT. A - DAY\n\nHi.\n\n.OMITTED #2#\n\nBut someone wrote action here.\n")
    bd = _bd(sp)
    assert [s.label for s in bd.scenes] == ["1", "2"]  # not turned into a cut scene: its words would vanish


# --------------------------------------------------------------------------- title page

def test_plain_title() -> None:
    assert plain_title("_**BRICK & STEEL**_") == "BRICK & STEEL"
    assert plain_title("***BOTH*** and _under_") == "BOTH and under"
    assert plain_title(r"A \*literal\* star") == "A *literal* star"
    assert plain_title("A lone * star and my_file") == "A lone * star and my_file"
    assert plain_title("BOB\nEPISODE 1 [[draft]]") == "BOB - EPISODE 1"
    assert parse_fountain(DRAFT_1).title == "BRICK & STEEL"


def test_fdx_title_page_is_final_drafts_title_page_without_markup() -> None:
    data = write_fdx(parse_fountain(DRAFT_1))
    root = ET.fromstring(data)
    paras = root.findall("TitlePage/Content/Paragraph")
    texts = ["".join(t.text or "" for t in p.findall("Text")) for p in paras]
    assert texts[0] == "BRICK & STEEL"
    assert paras[0].find("Text").get("Style") == "Bold+Underline"  # the markup became a text style
    assert "Written by" in texts and "Stu Tester" in texts and "1 March 2026" in texts
    assert not any(re.match(r"^(Title|Credit|Author|Draft date):", t) for t in texts)
    assert not any(ch in "".join(texts) for ch in "*_")
    # blocks separated by empty paragraphs, as Final Draft (and afterwriting's reader) expect
    assert texts[:5] == ["BRICK & STEEL", "", "Written by", "", "Stu Tester"]
    assert all(p.get("Type") is None for p in paras)
    again = parse_fdx(data)
    assert again.title == "BRICK & STEEL"
    assert again.title_page == parse_fountain(DRAFT_1).title_page


def test_reads_final_drafts_own_title_page_and_older_exports() -> None:
    fd = (b'<FinalDraft DocumentType="Script" Version="5"><Content/><TitlePage><Content>'
          b'<Paragraph Alignment="Center"><Text>NIGHT FERRY</Text></Paragraph><Paragraph><Text/></Paragraph>'
          b'<Paragraph Alignment="Center"><Text>Written by</Text></Paragraph><Paragraph/>'
          b'<Paragraph Alignment="Center"><Text>Ana Example</Text></Paragraph>'
          b'<Paragraph Alignment="Left"><Text>ana@example.org</Text></Paragraph>'
          b'<Paragraph Alignment="Right"><Text>Blue draft, 2 May 2026</Text></Paragraph>'
          b'</Content></TitlePage></FinalDraft>')
    assert parse_fdx(fd).title_page == {"title": "NIGHT FERRY", "credit": "Written by", "author": "Ana Example",
                                        "draft date": "Blue draft, 2 May 2026", "contact": "ana@example.org"}
    legacy = (b'<FinalDraft><Content/><TitlePage><Content>'
              b'<Paragraph Type="General" Alignment="Center"><Text>Title: Old Export</Text></Paragraph>'
              b'<Paragraph Type="General" Alignment="Center"><Text>Author: Someone</Text></Paragraph>'
              b'</Content></TitlePage></FinalDraft>')
    assert parse_fdx(legacy).title_page == {"title": "Old Export", "author": "Someone"}


# --------------------------------------------------------------------------- paragraph types, notes, summaries

@pytest.mark.parametrize("path", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_every_exported_fdx_uses_only_final_draft_paragraph_types(path: Path) -> None:
    sp = parse_fountain(path.read_text(encoding="utf-8"))
    numbered = numbered_screenplay(sp, _bd(sp))
    root = ET.fromstring(write_fdx(numbered))
    content = root.find("Content")
    types = {p.get("Type") for p in content.iter("Paragraph")
             if p.get("Type") is not None}
    assert types <= FINAL_DRAFT_TYPES, types - FINAL_DRAFT_TYPES
    # every body paragraph has a type except the DualDialogue wrapper and note/summary text
    for para in content.findall("Paragraph"):
        assert para.get("Type") in FINAL_DRAFT_TYPES or para.find("DualDialogue") is not None
    # every heading is numbered, as a locked script is
    headings = [p for p in content.findall("Paragraph") if p.get("Type") == "Scene Heading"]
    assert headings and all(p.get("Number") for p in headings)


def test_sections_synopses_and_notes_become_script_notes_and_summaries_and_come_back() -> None:
    original = parse_fountain((DATA / "every_element.fountain").read_text(encoding="utf-8")
                              + "\nINT. LAB - DAY\n\n= The lab is where it turns.\n\nShe tests it. [[check the prop]]\n")
    data = write_fdx(original)
    root = ET.fromstring(data)
    assert root.findall(".//ScriptNote"), "notes must be Final Draft ScriptNote elements"
    lab = next(p for p in root.iter("Paragraph") if "".join(t.text or "" for t in p.findall("Text")) == "INT. LAB - DAY")
    assert lab.find("SceneProperties/Summary/Paragraph/Text").text == "The lab is where it turns."
    again = parse_fdx(data)
    for kind in (ElementKind.SECTION, ElementKind.SYNOPSIS, ElementKind.NOTE):
        assert [(e.text, e.depth) for e in again.iter_kind(kind)] == [(e.text, e.depth) for e in original.iter_kind(kind)]
    assert [e.notes for e in again.elements if e.notes] == [e.notes for e in original.elements if e.notes]


def test_final_draft_script_notes_and_summaries_are_imported() -> None:
    fd = b"""<?xml version="1.0" encoding="UTF-8"?>
<FinalDraft DocumentType="Script" Version="5"><Content>
<Paragraph Number="7" Type="Scene Heading">
  <SceneProperties Length="1" Page="3" Title=""><Summary><Paragraph><Text>Ana finds the key.</Text></Paragraph></Summary></SceneProperties>
  <Text>INT. CABIN - NIGHT</Text></Paragraph>
<Paragraph Type="Action"><ScriptNote ID="1"><Paragraph><Text>Needs a practical lamp.</Text></Paragraph></ScriptNote><Text>Ana lights the lamp.</Text></Paragraph>
<Paragraph Type="Character"><Text>ANA</Text></Paragraph>
<Paragraph Type="Dialogue"><ScriptNote ID="2"><Paragraph><Text>Line to be</Text></Paragraph><Paragraph><Text>rewritten.</Text></Paragraph></ScriptNote><Text>Found it.</Text></Paragraph>
</Content></FinalDraft>"""
    sp = parse_fdx(fd)
    heading, synopsis, action, dialogue = sp.elements
    assert (heading.text, heading.scene_number) == ("INT. CABIN - NIGHT", "7")
    assert (synopsis.kind, synopsis.text) == (ElementKind.SYNOPSIS, "Ana finds the key.")
    assert (action.text, action.notes) == ("Ana lights the lamp.", ("Needs a practical lamp.",))
    assert dialogue.notes == ("Line to be rewritten.",) and dialogue.speech == "Found it."
    # and they survive into Fountain
    text = write_fountain(sp)
    assert "= Ana finds the key." in text and "[[Needs a practical lamp.]]" in text


def test_older_exports_section_synopsis_note_types_still_read() -> None:
    fd = (b'<FinalDraft><Content><Paragraph Type="Section" Depth="2"><Text>Act Two</Text></Paragraph>'
          b'<Paragraph Type="Synopsis"><Text>It turns.</Text></Paragraph>'
          b'<Paragraph Type="Note"><Text>fix</Text></Paragraph></Content></FinalDraft>')
    assert [(e.kind, e.text) for e in parse_fdx(fd).elements] == [
        (ElementKind.SECTION, "Act Two"), (ElementKind.SYNOPSIS, "It turns."), (ElementKind.NOTE, "fix")]


def test_multiline_note_leaves_no_line_break() -> None:
    sp = parse_fountain("INT. A - DAY\n\nShe runs. [[a note\nthat spans\nthree lines]] He follows.\nThen stops.\n\n"
                        "BOB\nHi [[x\ny]] there.\n\nLAST\nLine.\n")
    action = sp.elements[1]
    assert action.text == "She runs. He follows.\nThen stops."  # the writer's own line break stays
    assert action.notes == ("a note that spans three lines",)
    bob = sp.elements[2]
    assert bob.lines[0].text == "Hi there." and bob.notes == ("x y",)
    last = sp.elements[3]
    assert (last.line, last.lines[0].line) == (12, 13)  # source lines still count the note's lines
    assert "\n" not in parse_fdx(write_fdx(sp)).elements[1].text.split("\n")[0]


# --------------------------------------------------------------------------- page counts

def test_scene_eighths_share_the_measured_length() -> None:
    assert share_eighths([]) == []
    lines = [54, 2, 3, 70, 7, 7, 7, 7]
    shares = share_eighths(lines)
    exact = [max(1.0, n * 8 / LINES_PER_PAGE) for n in lines]
    assert sum(shares) == int(sum(exact) + 0.5)
    assert all(abs(s - x) < 1 for s, x in zip(shares, exact))
    assert min(shares) >= 1


@pytest.mark.parametrize("path", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_total_length_and_page_count_agree(path: Path) -> None:
    sp = parse_fountain(path.read_text(encoding="utf-8"))
    pg = paginate(sp)
    bd = break_down(sp, pg)
    forced_breaks = sum(1 for e in sp.elements if e.kind is ElementKind.PAGE_BREAK)
    tiny = sum(1 for n in pg.scene_lines if n * 8 < LINES_PER_PAGE)  # scenes counted up to the 1/8 minimum
    # one pagination: the scenes' eighths add up to the measured length, which ends on the last page
    assert bd.total_eighths() == int(sum(max(1.0, n * 8 / LINES_PER_PAGE) for n in pg.scene_lines) + 0.5)
    assert bd.total_eighths() <= 8 * bd.page_count + tiny
    assert bd.total_eighths() > 8 * (bd.page_count - 1 - forced_breaks) - 8 * (pg.scene_starts[0][0] - 1) - 1
