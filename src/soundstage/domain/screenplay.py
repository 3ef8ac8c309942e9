"""The screenplay as data: what the Fountain and FDX readers produce and the writers consume.

Pure nouns, no I/O. Every element remembers the line of the source it came from, so a
breakdown element can always point a person back to the words in the script.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Iterator

SCHEMA = "Screenplay.1"

# Fountain emphasis markers (longest first) and escapes, and [[notes]], for plain_title().
_TITLE_TOKEN_RE = re.compile(r"(\\[*_\\]|\*{1,3}|_)")
_TITLE_NOTE_RE = re.compile(r"\[\[[^\]]*\]\]")


def plain_title(text: str) -> str:
    """A title-page value as people should read it: Fountain markup gone, one line.

    ``_**BRICK & STEEL**_`` -> ``BRICK & STEEL``; ``\\*`` -> ``*``; ``[[notes]]`` dropped; a
    multi-line value is joined with " - ". Markers count only in pairs (as Fountain reads
    them), so a lone ``*`` or ``_`` stays. The one function every title shown to a person
    (FDX, boards, look-book, breakdown sheets, web) goes through, so older stored titles that
    still carry markup read the same.
    """
    text = _TITLE_NOTE_RE.sub("", text or "")
    parts = _TITLE_TOKEN_RE.split(text)
    counts: dict[str, int] = {}
    for k, part in enumerate(parts):
        if k % 2 and part and part[0] != "\\":
            counts[part] = counts.get(part, 0) + 1
    budget = {m: n - n % 2 for m, n in counts.items()}  # an unpaired last marker stays literal
    out: list[str] = []
    for k, part in enumerate(parts):
        if not k % 2:
            out.append(part)
        elif part and part[0] == "\\":
            out.append(part[1])
        elif budget.get(part, 0) > 0:
            budget[part] -= 1
        else:
            out.append(part)
    lines = [" ".join(ln.split()) for ln in "".join(out).split("\n")]
    return " - ".join(ln for ln in lines if ln)


class ElementKind(StrEnum):
    SCENE_HEADING = "scene_heading"
    ACTION = "action"
    DIALOGUE = "dialogue"  # a character cue with its parentheticals and speech
    TRANSITION = "transition"
    LYRICS = "lyrics"
    SECTION = "section"
    SYNOPSIS = "synopsis"
    PAGE_BREAK = "page_break"
    NOTE = "note"  # a standalone [[note]] paragraph


@dataclass(frozen=True)
class Run:
    """A stretch of text with one style; emphasis survives Fountain <-> FDX."""

    text: str
    bold: bool = False
    italic: bool = False
    underline: bool = False


@dataclass(frozen=True)
class DialogueLine:
    """One block inside a dialogue: a parenthetical "(beat)" or a line of speech."""

    text: str
    parenthetical: bool = False
    line: int = 0
    runs: tuple[Run, ...] = ()


@dataclass(frozen=True)
class Element:
    """One screenplay paragraph.

    ``text`` is plain text with markup removed; ``runs`` keeps emphasis when there is any.
    Kind-specific fields are left at their defaults for other kinds.
    """

    kind: ElementKind
    text: str = ""
    line: int = 0  # 1-based line in the source file
    runs: tuple[Run, ...] = ()
    forced: bool = False  # ".HEADING", "@name", "> TRANSITION", "!action"
    # scene headings
    scene_number: str | None = None  # "12A" from "#12A#"
    # actions
    centered: bool = False
    # dialogue
    character: str = ""  # cue without extension: "MAYA"
    extensions: tuple[str, ...] = ()  # ("V.O.",), ("CONT'D",)
    lines: tuple[DialogueLine, ...] = ()
    dual: bool = False  # the second speaker of a dual-dialogue pair ("^")
    # sections
    depth: int = 0  # "#" = 1, "##" = 2 ...
    notes: tuple[str, ...] = ()  # inline [[notes]] found inside this element

    @property
    def speech(self) -> str:
        """All spoken words of a dialogue element, parentheticals left out."""
        return " ".join(dl.text for dl in self.lines if not dl.parenthetical)


@dataclass(frozen=True)
class SceneHeading:
    """A scene heading split into the parts a breakdown needs."""

    int_ext: str  # "INT", "EXT", "INT/EXT", "EST", "" when forced/unknown
    location: str  # "KITCHEN" or "" when missing
    time_of_day: str  # "DAY", "NIGHT", "DUSK", "CONTINUOUS", "" when missing
    raw: str


@dataclass(frozen=True)
class Scene:
    """A scene heading and every element up to the next heading."""

    heading: Element
    elements: tuple[Element, ...]
    index: int  # 0-based position in the script

    @property
    def number(self) -> str | None:
        return self.heading.scene_number


@dataclass
class Screenplay:
    title_page: dict[str, str] = field(default_factory=dict)  # keys lower-case: "title", "credit", "author", ...
    elements: list[Element] = field(default_factory=list)
    source_name: str = ""

    @property
    def title(self) -> str:
        """The title as shown to people: markup-free, one line (``title_page`` keeps the source form)."""
        return plain_title(self.title_page.get("title", "")) or self.source_name

    def scenes(self) -> list[Scene]:
        """Group elements into scenes; anything before the first heading is not a scene."""
        scenes: list[Scene] = []
        current: Element | None = None
        body: list[Element] = []
        for el in self.elements:
            if el.kind is ElementKind.SCENE_HEADING:
                if current is not None:
                    scenes.append(Scene(current, tuple(body), len(scenes)))
                current, body = el, []
            elif current is not None:
                body.append(el)
        if current is not None:
            scenes.append(Scene(current, tuple(body), len(scenes)))
        return scenes

    def characters(self) -> list[str]:
        """Speaking characters in order of first appearance."""
        seen: dict[str, None] = {}
        for el in self.iter_kind(ElementKind.DIALOGUE):
            seen.setdefault(el.character, None)
        return list(seen)

    def iter_kind(self, kind: ElementKind) -> Iterator[Element]:
        return (el for el in self.elements if el.kind is kind)
