"""A model of standard screenplay page layout, for page counts and scene eighths.

Schedules are built from scene lengths in eighths of a page, so the page model must be the
one the industry prints: Courier 12 (10 characters per inch, 6 lines per inch), 55 body
lines per page, fixed indents per element, a blank line between elements, scene headings
kept with what follows, and speeches split only at a sentence end with (MORE)/(CONT'D).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from soundstage.domain.screenplay import DialogueLine, Element, ElementKind, Screenplay
from soundstage.script.fountain import gc_paused

__all__ = [
    "LINES_PER_PAGE",
    "Placement",
    "Pagination",
    "paginate",
    "estimate_screen_seconds",
    "share_eighths",
    "wrap",
]

LINES_PER_PAGE = 55
SECONDS_PER_PAGE = 60  # the rule of thumb: one page is about one minute of screen time
BODY_WIDTH = 60  # 1.5" left margin to 1" right margin at 10 characters per inch

# (indent from the left margin, width) in characters; the left margin is 1.5".
ACTION = (0, 60)
HEADING = (0, 60)
CHARACTER = (22, 38)  # cue at 3.7"
DIALOGUE = (10, 35)  # speech at 2.5"
PARENTHETICAL = (15, 25)  # parenthetical at 3.0"
LYRICS = (10, 35)
DUAL_LEFT = (0, 28)
DUAL_RIGHT = (32, 28)
MIN_LINES_AT_SPLIT = 2  # no widow/orphan of fewer lines either side of an action split

_SENTENCE_END_RE = re.compile(r"(?<=[.!?…])[\"')\]]*\s+")


def wrap(text: str, width: int) -> list[str]:
    """Greedy word wrap on spaces, hard line breaks kept; over-long words are cut."""
    out: list[str] = []
    for raw in text.split("\n"):
        if len(raw) <= width:
            out.append(raw)
            continue
        words = " ".join(raw.split())  # single-spaced: every space is a place to break
        start = 0
        while len(words) - start > width:
            cut = words.rfind(" ", start, start + width + 1)  # the last break that fits
            if cut < 0:  # the first word is longer than the line: cut it
                out.append(words[start:start + width])
                start += width
            else:
                out.append(words[start:cut])
                start = cut + 1
        out.append(words[start:])
    return out


@dataclass(frozen=True)
class Placement:
    """Where one printed piece of an element landed. A split speech has two pieces."""

    element_index: int
    page: int  # 1-based
    line: int  # 0-based line on the page where the piece starts
    height: int  # printed lines, blank separator not included
    continued: bool = False  # the piece after a (MORE)/(CONT'D) split


@dataclass
class Pagination:
    """The laid-out script: page count, element positions and scene lengths."""

    page_count: int
    placements: list[Placement]
    pages: list[list[str]]  # rendered body lines per page (indents included), for checks and previews
    scene_starts: list[tuple[int, int]] = field(default_factory=list)  # (page, line) per scene
    scene_lines: list[int] = field(default_factory=list)  # page-space length per scene, in lines

    def element_position(self, element_index: int) -> tuple[int, int]:
        """(page, line) of an element's first printed piece; (0, 0) for unprinted ones."""
        for p in self._first_by_element().get(element_index, ()):
            return p.page, p.line
        return (0, 0)

    def _first_by_element(self) -> dict[int, tuple[Placement, ...]]:
        cache = getattr(self, "_cache", None)
        if cache is None:
            cache = {}
            for p in self.placements:
                cache.setdefault(p.element_index, ())
                cache[p.element_index] += (p,)
            self._cache = cache
        return cache

    def scene_eighths(self, scene_index: int) -> int:
        """Scene length in eighths of a page, never below 1/8, within 1/8 of the exact length.

        Scenes share out the script's measured length (``used_eighths``, at least 1/8 a scene,
        half rounded up) by largest remainder, so their sum is the script's length on the page
        and a breakdown's "total length" agrees with its page count (issue 15): rounding each
        scene on its own drifted by up to 1/16 page per scene.
        """
        cache = getattr(self, "_eighths", None)
        if cache is None:
            cache = self._eighths = share_eighths(self.scene_lines)
        return cache[scene_index]

    def scene_page_start(self, scene_index: int) -> int:
        return self.scene_starts[scene_index][0]

    @property
    def used_eighths(self) -> float:
        """Page space the script body fills, in eighths (last page counted to its last line)."""
        return sum(self.scene_lines) * 8 / LINES_PER_PAGE


def share_eighths(scene_lines: list[int]) -> list[int]:
    """Whole eighths per scene summing to the script's length, half rounded up, each within 1/8
    of its exact length; a scene shorter than 1/8 counts as 1/8 (the industry's minimum)."""
    exact = [max(1.0, n * 8 / LINES_PER_PAGE) for n in scene_lines]
    shares = [int(x) for x in exact]
    target = int(sum(exact) + 0.5)
    by_remainder = sorted(range(len(exact)), key=lambda i: (exact[i] - shares[i], -i), reverse=True)
    gap = target - sum(shares)
    for i in by_remainder:  # the largest leftovers get the eighths still to give
        if gap <= 0:
            break
        shares[i] += 1
        gap -= 1
    return shares


def estimate_screen_seconds(eighths: int) -> float:
    """Screen time from page length: one page (8/8) is about a minute."""
    return eighths * SECONDS_PER_PAGE / 8


# --------------------------------------------------------------------------- layout

def _indent(lines: list[str], indent: int) -> list[str]:
    pad = " " * indent
    return [pad + ln if ln else "" for ln in lines]


def _cue(el: Element, contd: bool = False) -> str:
    extensions = list(el.extensions)
    if contd and not any(e.upper().replace("’", "'") in ("CONT'D", "CONTD", "CONT’D") for e in extensions):
        extensions.append("CONT'D")
    return el.character.upper() + "".join(f" ({e})" for e in extensions)


def _render_blocks(blocks: list[DialogueLine], width_speech: tuple[int, int] = DIALOGUE,
                   width_paren: tuple[int, int] = PARENTHETICAL) -> list[str]:
    out: list[str] = []
    for b in blocks:
        if b.parenthetical:
            out.extend(_indent(wrap(b.text, width_paren[1]), width_paren[0]))
        else:
            out.extend(_indent(wrap(b.text, width_speech[1]), width_speech[0]))
    return out


def _render_dialogue(el: Element, blocks: list[DialogueLine], contd: bool = False) -> list[str]:
    return [" " * CHARACTER[0] + _cue(el, contd)] + _render_blocks(blocks)


def _split_points(blocks: tuple[DialogueLine, ...]) -> list[tuple[list[DialogueLine], list[DialogueLine]]]:
    """Every way to cut a speech at a sentence end, longest first part first.

    A cut never leaves a parenthetical as the last thing on the page and never splits a
    sentence, so the reader never turns the page mid-thought.
    """
    options: list[tuple[list[DialogueLine], list[DialogueLine]]] = []
    for bi, block in enumerate(blocks):
        if block.parenthetical:
            # Cut just before a parenthetical (the previous block then ends the page).
            if bi > 0 and not blocks[bi - 1].parenthetical:
                options.append((list(blocks[:bi]), list(blocks[bi:])))
            continue
        ends = [m.end() for m in _SENTENCE_END_RE.finditer(block.text)]
        for end in ends:
            head, tail = block.text[:end].rstrip(), block.text[end:].strip()
            if not tail:
                continue
            options.append((list(blocks[:bi]) + [DialogueLine(head, False, block.line)],
                            [DialogueLine(tail, False, block.line)] + list(blocks[bi + 1:])))
        if bi + 1 < len(blocks) and not blocks[bi + 1].parenthetical and block.text.rstrip()[-1:] in ".!?…":
            options.append((list(blocks[:bi + 1]), list(blocks[bi + 1:])))
    options.reverse()
    return options


class _Layout:
    def __init__(self) -> None:
        self.pages: list[list[str]] = [[]]
        self.placements: list[Placement] = []

    @property
    def used(self) -> int:
        return len(self.pages[-1])

    @property
    def room(self) -> int:
        """Lines left on this page, after the blank separator the next element needs."""
        return LINES_PER_PAGE - self.used - (1 if self.used else 0)

    def new_page(self) -> None:
        if self.pages[-1]:
            self.pages.append([])

    def put(self, index: int, lines: list[str], continued: bool = False) -> None:
        if self.used:
            self.pages[-1].append("")
        self.placements.append(Placement(index, len(self.pages), self.used, len(lines), continued))
        self.pages[-1].extend(lines)

    def position(self) -> tuple[int, int]:
        """Where the next element would start, blank separator included."""
        if self.used == 0:
            return len(self.pages), 0
        if self.used + 1 >= LINES_PER_PAGE:
            return len(self.pages) + 1, 0
        return len(self.pages), self.used + 1


def _element_lines(el: Element) -> list[str]:
    kind = el.kind
    if kind is ElementKind.SCENE_HEADING:
        text = el.text.upper() + (f"  #{el.scene_number}" if el.scene_number else "")
        return _indent(wrap(text, HEADING[1]), HEADING[0])
    if kind is ElementKind.ACTION:
        if el.centered:
            return [ln.center(BODY_WIDTH).rstrip() for ln in wrap(el.text, BODY_WIDTH)]
        return wrap(el.text, ACTION[1])
    if kind is ElementKind.TRANSITION:
        return [ln.rjust(BODY_WIDTH) for ln in wrap(el.text.upper(), 20)]
    if kind is ElementKind.LYRICS:
        return _indent(wrap(el.text, LYRICS[1]), LYRICS[0])
    return []


def _dual_lines(left: Element, right: Element) -> list[str]:
    def column(el: Element, spec: tuple[int, int]) -> list[str]:
        out = [_cue(el).center(spec[1]).rstrip()]
        for b in el.lines:
            out.extend(wrap(b.text, spec[1] - (4 if b.parenthetical else 0)))
        return out

    a, b = column(left, DUAL_LEFT), column(right, DUAL_RIGHT)
    rows = max(len(a), len(b))
    a += [""] * (rows - len(a))
    b += [""] * (rows - len(b))
    return [(la.ljust(DUAL_RIGHT[0]) + lb).rstrip() for la, lb in zip(a, b)]


def _next_printed(elements: list[Element], start: int) -> Element | None:
    for index in range(start, len(elements)):  # no slicing: that copied the tail per heading
        if elements[index].kind not in (ElementKind.SECTION, ElementKind.SYNOPSIS, ElementKind.NOTE):
            return elements[index]
    return None


def _min_keep(el: Element | None) -> int:
    """Lines of the next element that must sit under a scene heading on the same page."""
    if el is None or el.kind in (ElementKind.PAGE_BREAK, ElementKind.SCENE_HEADING):
        return 0
    if el.kind is ElementKind.DIALOGUE:
        return 1 + min(MIN_LINES_AT_SPLIT, len(_render_blocks(list(el.lines))))
    return 1 + min(MIN_LINES_AT_SPLIT, len(_element_lines(el)))  # +1: the blank between them


def _place_action(layout: _Layout, index: int, lines: list[str]) -> None:
    """Action may break between lines, leaving at least two lines on each page."""
    while lines:
        room = layout.room
        if len(lines) <= room:
            layout.put(index, lines)
            return
        cut = min(room, len(lines) - MIN_LINES_AT_SPLIT)
        if cut < MIN_LINES_AT_SPLIT:
            layout.new_page()
            continue
        layout.put(index, lines[:cut])
        layout.new_page()
        lines = lines[cut:]


def _place_dialogue(layout: _Layout, index: int, el: Element) -> None:
    blocks = list(el.lines)
    contd = False
    while True:
        lines = _render_dialogue(el, blocks, contd)
        if len(lines) <= layout.room:
            layout.put(index, lines, continued=contd)
            return
        fitted = None
        for first, rest in _split_points(tuple(blocks)):
            head = _render_dialogue(el, first, contd)
            body = len(head) - 1
            if len(head) + 1 <= layout.room and body >= MIN_LINES_AT_SPLIT:
                fitted = head, rest
                break
        if fitted is None:
            if layout.used:
                layout.new_page()
                continue
            # One sentence longer than a page: cut by lines as a last resort.
            speech = lines[1:]
            room = LINES_PER_PAGE - 2
            layout.put(index, [lines[0]] + speech[:room] + [" " * CHARACTER[0] + "(MORE)"], continued=contd)
            layout.new_page()
            rest_text = " ".join(s.strip() for s in speech[room:])
            blocks, contd = [DialogueLine(rest_text, False, el.line)], True
            continue
        head, rest = fitted
        layout.put(index, head + [" " * CHARACTER[0] + "(MORE)"], continued=contd)
        layout.new_page()
        blocks, contd = rest, True


def paginate(sp: Screenplay) -> Pagination:
    """Lay the script out on US-letter screenplay pages and measure every scene."""
    with gc_paused():
        return _paginate(sp)


def _paginate(sp: Screenplay) -> Pagination:
    layout = _Layout()
    elements = sp.elements
    scene_starts: list[tuple[int, int]] = []
    i = 0
    while i < len(elements):
        el = elements[i]
        kind = el.kind
        if kind is ElementKind.PAGE_BREAK:
            layout.new_page()
        elif kind is ElementKind.SCENE_HEADING:
            lines = _element_lines(el)
            need = len(lines) + _min_keep(_next_printed(elements, i + 1))
            if need > layout.room:
                layout.new_page()
            layout.put(i, lines)
            placed = layout.placements[-1]
            scene_starts.append((placed.page, placed.line))
        elif kind is ElementKind.DIALOGUE:
            nxt = elements[i + 1] if i + 1 < len(elements) else None
            if nxt is not None and nxt.kind is ElementKind.DIALOGUE and nxt.dual and not el.dual:
                lines = _dual_lines(el, nxt)
                if len(lines) > layout.room:
                    layout.new_page()
                layout.put(i, lines)
                layout.placements.append(Placement(i + 1, layout.placements[-1].page,
                                                   layout.placements[-1].line, len(lines)))
                i += 2
                continue
            _place_dialogue(layout, i, el)
        elif kind in (ElementKind.ACTION, ElementKind.TRANSITION, ElementKind.LYRICS):
            lines = _element_lines(el)
            if kind is ElementKind.TRANSITION and len(lines) > layout.room:
                layout.new_page()
            if lines:
                _place_action(layout, i, lines)
        # sections, synopses and notes are never printed
        i += 1

    pages = layout.pages if layout.pages[-1] or len(layout.pages) == 1 else layout.pages[:-1]
    end = (len(pages), len(pages[-1]))
    scene_lines = []
    for k, (page, line) in enumerate(scene_starts):
        nxt_page, nxt_line = scene_starts[k + 1] if k + 1 < len(scene_starts) else end
        scene_lines.append(max(1, (nxt_page - page) * LINES_PER_PAGE + (nxt_line - line)))
    return Pagination(page_count=len(pages), placements=layout.placements, pages=pages,
                      scene_starts=scene_starts, scene_lines=scene_lines)
