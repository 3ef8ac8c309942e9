"""Fountain reader and writer producing the domain ``Screenplay``.

In-house rather than screenplain because a breakdown needs what screenplain drops: the
source line of every element, lyrics, inline notes and emphasis runs. The parser is a
single pass over lines with ``str.find`` scans for boneyard and notes, so hostile input
cannot trigger regex backtracking and a 10 MB script stays linear.
"""

from __future__ import annotations

import gc
import re
from contextlib import contextmanager
from typing import Iterable, Iterator

from soundstage.domain.screenplay import (
    DialogueLine,
    Element,
    ElementKind,
    Run,
    Screenplay,
)
from soundstage.script.headings import heading_start, is_standard_heading, parse_heading

__all__ = ["parse_fountain", "write_fountain", "parse_heading", "parse_emphasis", "emphasis_markup"]

# Control characters we use as in-band markers; stripped from input first.
_NOTE_OPEN = "\x01"
_NOTE_CLOSE = "\x02"
_GONE = "\x03"  # marks a line consumed by a boneyard or a note's continuation
_MARKERS = str.maketrans("", "", "\x01\x02\x03")

_SCENE_NUMBER_RE = re.compile(r"\s*#([A-Za-z0-9.\-]+)#\s*$")
# The scene number some scripts write before an INT./EXT.-style prefix ("12. ", "1-1. ", "3 ").
_LEADING_NUMBER_RE = re.compile(r"^\d{1,4}[A-Z]{0,2}(?:[-.]\d{1,4}[A-Z]{0,2})?(?:[.):]\s*|\s+)(?=\D)")
_EMPHASIS_TOKEN_RE = re.compile(r"(\\[*_\\]|\*{1,3}|_)")
_TITLE_KEY_RE = re.compile(r"^([A-Za-z][A-Za-z0-9 _\-]*):(.*)$")
_KNOWN_TITLE_KEYS = {
    "title", "credit", "author", "authors", "source", "draft date", "date", "contact",
    "copyright", "notes", "revision", "format", "font",
}
_EXTENSION_RE = re.compile(r"\(([^()]*)\)")
_PAGE_BREAK_RE = re.compile(r"^={3,}$")
_SPACES_RE = re.compile(r"(?<=\S)  +")
_PLACEHOLDER_RE = re.compile(r"\x01(\d+)\x02")


# --------------------------------------------------------------------------- emphasis

def parse_emphasis(text: str) -> tuple[str, tuple[Run, ...]]:
    """Turn Fountain emphasis markup into plain text plus style runs.

    Returns ``runs == ()`` when the text carries no emphasis, so plain elements stay small.
    Markers must be paired within the text to count (as the Fountain spec asks); a lone
    ``*`` stays a literal star. Tokenising is one ``re.split`` with no nested quantifiers,
    so it is linear however hostile the input.
    """
    if "*" not in text and "_" not in text and "\\" not in text:
        return text, ()
    parts = _EMPHASIS_TOKEN_RE.split(text)
    tokens: list[str] = []
    is_marker: list[bool] = []
    for k, part in enumerate(parts):
        if not part:
            continue
        if k % 2 == 0:
            tokens.append(part)
            is_marker.append(False)
        elif part[0] == "\\":
            tokens.append(part[1])
            is_marker.append(False)
        else:
            tokens.append(part)
            is_marker.append(True)

    # Pair markers with a stack; anything left unpaired is literal text again.
    paired = [False] * len(tokens)
    stack: list[int] = []
    for idx, tok in enumerate(tokens):
        if not is_marker[idx]:
            continue
        for depth in range(len(stack) - 1, max(-1, len(stack) - 4), -1):  # only 3 marker kinds nest
            if tokens[stack[depth]] == tok:
                paired[stack[depth]] = paired[idx] = True
                del stack[depth:]
                break
        else:
            stack.append(idx)

    groups: list[tuple[tuple[bool, bool, bool], list[str]]] = []
    bold = italic = underline = False
    any_style = False
    for idx, tok in enumerate(tokens):
        if paired[idx]:
            any_style = True
            if tok == "_":
                underline = not underline
            elif tok == "*":
                italic = not italic
            elif tok == "**":
                bold = not bold
            else:
                bold, italic = not bold, not italic
            continue
        style = (bold, italic, underline)
        if groups and groups[-1][0] == style:
            groups[-1][1].append(tok)
        else:
            groups.append((style, [tok]))
    runs = tuple(Run("".join(chunks), *style) for style, chunks in groups)
    plain_text = "".join(r.text for r in runs)
    return plain_text, (runs if any_style else ())


# --------------------------------------------------------------------------- pre-pass

def _normalise(text: str) -> str:
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\t" in text:
        text = text.replace("\t", "    ")
    return text.translate(_MARKERS)


def _strip_boneyard_and_notes(text: str, notes: list[str]) -> str:
    """Remove /* boneyard */ and lift [[notes]] out as placeholders, keeping line numbers.

    Every newline inside a removed span is kept as ``\\n`` + a GONE marker, so the line
    count never changes, and a line made only of GONE markers is later skipped without
    counting as a blank line (which would otherwise break a paragraph in two). A note's
    newlines are kept after the rest of the line it closes on, so "runs. [[a long\\nnote]] He
    follows." stays one line of action with no break where the note was.
    """
    if "/*" not in text and "[[" not in text:
        return text
    out: list[str] = []
    deferred = 0  # newlines of a multi-line note, put back at the end of the line it closed on

    def emit(segment: str) -> None:
        nonlocal deferred
        if deferred:
            eol = segment.find("\n")
            if eol >= 0:
                segment = segment[:eol + 1] + (_GONE + "\n") * deferred + segment[eol + 1:]
                deferred = 0
        out.append(segment)

    pos, n = 0, len(text)
    b = o = -2  # next "/*" and "[[" at or after pos; refreshed only when passed, so scans stay linear
    while pos < n:
        if b != -1 and b < pos:
            b = text.find("/*", pos)
        if o != -1 and o < pos:
            o = text.find("[[", pos)
        if b < 0 and o < 0:
            emit(text[pos:])
            break
        if o < 0 or (0 <= b < o):
            end = text.find("*/", b + 2)
            if end < 0:  # an unclosed boneyard runs to the end of the file
                end = n
                close = n
            else:
                close = end + 2
            emit(text[pos:b])
            out.append(_GONE + ("\n" + _GONE) * text.count("\n", b, close))
            pos = close
        else:
            end = text.find("]]", o + 2)
            if end < 0:
                emit(text[pos:])
                break
            emit(text[pos:o])
            body = text[o + 2:end]
            out.append(f"{_NOTE_OPEN}{len(notes)}{_NOTE_CLOSE}")
            notes.append(" ".join(part.strip() for part in body.split("\n")).strip())
            deferred += body.count("\n")
            pos = end + 2
    if deferred:
        out.append(("\n" + _GONE) * deferred)
    return "".join(out)


def _lift_notes(text: str, notes: list[str]) -> tuple[str, tuple[str, ...]]:
    """Replace note placeholders in ``text``; return (text without notes, the notes)."""
    if _NOTE_OPEN not in text:
        return text, ()
    found: list[str] = []
    parts: list[str] = []
    pos = 0
    while True:
        a = text.find(_NOTE_OPEN, pos)
        if a < 0:
            parts.append(text[pos:])
            break
        b = text.find(_NOTE_CLOSE, a)
        parts.append(text[pos:a])
        found.append(notes[int(text[a + 1:b])])
        pos = b + 1
    cleaned = "\n".join(_SPACES_RE.sub(" ", ln).rstrip() for ln in "".join(parts).split("\n"))
    return cleaned, tuple(found)


# --------------------------------------------------------------------------- parser

_Line = tuple[str, int]  # (text, 1-based source line)


def _paragraphs(lines: list[str], start_index: int) -> Iterable[list[_Line]]:
    """Group lines into blank-line separated paragraphs; GONE lines vanish silently."""
    para: list[_Line] = []
    for idx in range(start_index, len(lines)):
        raw = lines[idx]
        if _GONE in raw:
            raw = raw.replace(_GONE, "")
            if not raw.strip():
                continue
        if raw.strip() or (raw == "  " and para):
            para.append((raw.rstrip() if raw != "  " else "", idx + 1))
        elif para:
            yield para
            para = []
    if para:
        yield para


def _parse_title_page(lines: list[str]) -> tuple[dict[str, str], int]:
    """Read the key: value block at the very top; return it and the first body line index."""
    idx = 0
    while idx < len(lines) and not lines[idx].replace(_GONE, "").strip():
        idx += 1
    first = idx
    values: dict[str, list[str]] = {}
    key: str | None = None
    while idx < len(lines):
        raw = lines[idx].replace(_GONE, "")
        if not raw.strip():
            if _GONE in lines[idx]:
                idx += 1
                continue
            break
        match = _TITLE_KEY_RE.match(raw)
        if match and not raw.startswith((" ", "\t")):
            key = match.group(1).strip().lower()
            values[key] = [match.group(2).strip()] if match.group(2).strip() else []
        elif key is not None and raw.startswith((" ", "\t")):
            values[key].append(raw.strip())
        else:
            return {}, first
        idx += 1
    if not values or not (set(values) & _KNOWN_TITLE_KEYS):
        return {}, first
    return {k: "\n".join(v) for k, v in values.items()}, idx


_CUE_TAIL = re.compile(r"(?:\s*\([^()]*\))*\s*\^?\s*")


def _is_character_cue(first: str) -> bool:
    """A cue is a name in capitals, then only (EXTENSIONS) and an optional dual-dialogue ^:
    "MAYA (30s), in a bloody apron, ..." is action that happens to start with a name."""
    if first.startswith("@"):
        return True
    head, paren, tail = first.partition("(")
    name = head.rstrip().rstrip("^").rstrip()
    if not (name and name == name.upper() and any(c.isalpha() for c in name)) or first.endswith("TO:"):
        return False
    return not paren or _CUE_TAIL.fullmatch(paren + tail) is not None


class _Parser:
    def __init__(self, notes: list[str]) -> None:
        self.notes = notes
        self.elements: list[Element] = []
        self.pending_notes: tuple[str, ...] = ()  # lifted off a first line before classifying it

    def styled(self, text: str) -> tuple[str, tuple[Run, ...], tuple[str, ...]]:
        text, found = _lift_notes(text, self.notes)
        plain, runs = parse_emphasis(text)
        if self.pending_notes:
            found, self.pending_notes = self.pending_notes + found, ()
        return plain, runs, found

    def add_simple(self, kind: ElementKind, text: str, line: int, **extra: object) -> None:
        plain, runs, found = self.styled(text)
        self.elements.append(Element(kind=kind, text=plain, line=line, runs=runs, notes=found, **extra))  # type: ignore[arg-type]

    def paragraph(self, para: list[_Line]) -> None:
        while para:
            para = self._one(para)

    def _one(self, para: list[_Line]) -> list[_Line]:
        """Classify the paragraph's head; return any lines that must be read again."""
        first, line_no = para[0]
        stripped = first.strip()
        # A paragraph made only of notes is a standalone NOTE.
        if _NOTE_OPEN in stripped and not _PLACEHOLDER_RE.sub("", "".join(t for t, _ in para)).strip():
            for text, ln in para:
                for m in _PLACEHOLDER_RE.finditer(text):
                    self.elements.append(Element(kind=ElementKind.NOTE, text=self.notes[int(m.group(1))], line=ln))
            return []
        if _NOTE_OPEN in first:
            # "INT. HOUSE - DAY #1# [[check]]" must still classify (and number) as a heading.
            first, found = _lift_notes(first, self.notes)
            self.pending_notes += found
            stripped = first.strip()
            para = [(first, line_no)] + para[1:]
        if _PAGE_BREAK_RE.match(stripped):
            self.elements.append(Element(kind=ElementKind.PAGE_BREAK, line=line_no))
            return para[1:]
        if stripped.startswith("#"):
            depth = len(stripped) - len(stripped.lstrip("#"))
            self.add_simple(ElementKind.SECTION, stripped[depth:].strip(), line_no, depth=depth)
            return para[1:]
        if stripped.startswith("="):
            self.add_simple(ElementKind.SYNOPSIS, stripped[1:].strip(), line_no)
            return para[1:]
        if stripped.startswith("~"):
            take = 0
            while take < len(para) and para[take][0].strip().startswith("~"):
                take += 1
            text = "\n".join(t.strip()[1:].strip() for t, _ in para[:take])
            self.add_simple(ElementKind.LYRICS, text, line_no)
            return para[take:]
        if stripped.startswith("!"):
            text = "\n".join([first.lstrip()[1:]] + [t for t, _ in para[1:]])
            self.add_simple(ElementKind.ACTION, text, line_no, forced=True)
            return []
        dotted = stripped.startswith(".") and not stripped.startswith("..") and len(stripped) > 1
        start = None if dotted else heading_start(stripped)
        if dotted or start is not None:
            body = stripped[1:].strip() if dotted else stripped
            number = None
            match = _SCENE_NUMBER_RE.search(body)
            if match:
                number, body = match.group(1), body[: match.start()].rstrip()
            if start is not None and start.number is not None and start.number.isascii():
                # "12. INT. CUISINE - NUIT", "S#12. 카페": the number written before the place is the scene's
                number = number or start.number
                body = _LEADING_NUMBER_RE.sub("", body, count=1)
            # A localized heading needs the '.' for other Fountain tools: it is written (and kept) forced.
            forced = dotted or not is_standard_heading(body)
            self.add_simple(ElementKind.SCENE_HEADING, body, line_no, forced=forced, scene_number=number)
            return para[1:]
        if stripped.startswith(">") and stripped.endswith("<"):
            take = 0
            while take < len(para) and para[take][0].strip().startswith(">") and para[take][0].strip().endswith("<"):
                take += 1
            text = "\n".join(t.strip()[1:-1].strip() for t, _ in para[:take])
            self.add_simple(ElementKind.ACTION, text, line_no, centered=True)
            return para[take:]
        if stripped.startswith(">"):
            self.add_simple(ElementKind.TRANSITION, stripped[1:].strip(), line_no, forced=True)
            return para[1:]
        if len(para) == 1 and stripped.endswith("TO:") and stripped == stripped.upper():
            self.add_simple(ElementKind.TRANSITION, stripped, line_no)
            return []
        if len(para) > 1 and _is_character_cue(stripped):
            self.dialogue(para)
            return []
        text = "\n".join(t for t, _ in para)
        self.add_simple(ElementKind.ACTION, text, line_no)
        return []

    def dialogue(self, para: list[_Line]) -> None:
        cue, line_no = para[0]
        cue, cue_notes = _lift_notes(cue.strip(), self.notes)
        cue_notes, self.pending_notes = self.pending_notes + cue_notes, ()
        forced = cue.startswith("@")
        if forced:
            cue = cue[1:]
        dual = cue.rstrip().endswith("^")
        if dual:
            cue = cue.rstrip()[:-1].rstrip()
        extensions = tuple(m.group(1).strip() for m in _EXTENSION_RE.finditer(cue))
        name = cue.split("(", 1)[0].strip()
        blocks: list[DialogueLine] = []
        speech: list[str] = []
        speech_line = 0
        notes: list[str] = list(cue_notes)

        def flush() -> None:
            nonlocal speech
            if speech:
                plain, runs, found = self.styled("\n".join(speech))
                notes.extend(found)
                blocks.append(DialogueLine(text=plain, line=speech_line, runs=runs))
                speech = []

        for text, ln in para[1:]:
            s = text.strip()
            if s.startswith("(") and s.endswith(")"):
                flush()
                plain, runs, found = self.styled(s)
                notes.extend(found)
                blocks.append(DialogueLine(text=plain, parenthetical=True, line=ln, runs=runs))
            else:
                if not speech:
                    speech_line = ln
                speech.append(s)
        flush()
        self.elements.append(Element(
            kind=ElementKind.DIALOGUE, text=name, line=line_no, forced=forced, character=name,
            extensions=extensions, lines=tuple(blocks), dual=dual, notes=tuple(notes),
        ))


def parse_fountain(text: str, source_name: str = "") -> Screenplay:
    """Parse Fountain text into a Screenplay whose elements carry 1-based source lines."""
    notes: list[str] = []
    text = _strip_boneyard_and_notes(_normalise(text), notes)
    lines = text.split("\n")
    title_page, body_start = _parse_title_page(lines)
    parser = _Parser(notes)
    with gc_paused():
        for para in _paragraphs(lines, body_start):
            parser.paragraph(para)
    return Screenplay(title_page=title_page, elements=parser.elements, source_name=source_name)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while building many small acyclic objects.

    A feature script is thousands of frozen dataclasses and no reference cycles; letting
    the collector rescan them all as they pile up made a 10 MB parse ~40% slower.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# --------------------------------------------------------------------------- writer

def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("*", "\\*").replace("_", "\\_")


def _markup(text: str, runs: tuple[Run, ...]) -> str:
    """Render plain text or runs back into Fountain emphasis markup."""
    if not runs:
        return _escape(text)
    out: list[str] = []
    for run in runs:
        # Markers must hug the words, so keep surrounding whitespace outside them.
        core = run.text.strip()
        if not core:
            out.append(run.text)
            continue
        lead = run.text[: len(run.text) - len(run.text.lstrip())]
        trail = run.text[len(run.text.rstrip()):]
        open_, close = "", ""
        if run.underline:
            open_, close = "_", "_"
        if run.bold and run.italic:
            open_, close = open_ + "***", "***" + close
        elif run.bold:
            open_, close = open_ + "**", "**" + close
        elif run.italic:
            open_, close = open_ + "*", "*" + close
        out.append(f"{lead}{open_}{_escape(core)}{close}{trail}")
    return "".join(out)


def emphasis_markup(text: str, runs: tuple[Run, ...]) -> str:
    """Plain text and its style runs as Fountain markup (the inverse of ``parse_emphasis``)."""
    return _markup(text, runs)


def _with_notes(text: str, notes: tuple[str, ...]) -> str:
    return text + "".join(f" [[{n}]]" for n in notes)


def write_fountain(sp: Screenplay) -> str:
    """Write a Screenplay as Fountain that parses back to the same elements."""
    out: list[str] = []
    if sp.title_page:
        for key, value in sp.title_page.items():
            label = key.title()
            parts = value.split("\n")
            if len(parts) == 1:
                out.append(f"{label}: {value}")
            else:
                out.append(f"{label}:")
                out.extend(f"   {p}" for p in parts)
        out.append("")
    for el in sp.elements:
        kind = el.kind
        if kind is ElementKind.SCENE_HEADING:
            text = _markup(el.text, el.runs)
            if el.forced or not is_standard_heading(el.text):
                text = "." + text
            if el.scene_number:
                text += f" #{el.scene_number}#"
            out.append(_with_notes(text, el.notes))
        elif kind is ElementKind.ACTION:
            if el.centered:
                parts = _markup(el.text, el.runs).split("\n")
                out.append(_with_notes("\n".join(f"> {part} <" for part in parts), el.notes))
            else:
                text = _markup(el.text, el.runs)
                probe = parse_fountain(text + "\n").elements if text.strip() else []
                needs_force = el.forced or not (len(probe) == 1 and probe[0].kind is ElementKind.ACTION
                                                and not probe[0].centered)
                out.append(_with_notes(("!" if needs_force else "") + text, el.notes))
        elif kind is ElementKind.DIALOGUE:
            cue = el.character
            if el.forced or cue != cue.upper() or not _is_character_cue(cue):
                cue = "@" + cue
            cue += "".join(f" ({ext})" for ext in el.extensions)
            if el.dual:
                cue += " ^"
            block = [_with_notes(cue, el.notes)]
            for dl in el.lines:
                text = _markup(dl.text, dl.runs)
                block.append(text if text else "  ")
            out.append("\n".join(block))
        elif kind is ElementKind.TRANSITION:
            text = _markup(el.text, el.runs)
            if el.forced or not (el.text.endswith("TO:") and el.text == el.text.upper()):
                text = "> " + text
            out.append(_with_notes(text, el.notes))
        elif kind is ElementKind.LYRICS:
            out.append(_with_notes("\n".join("~" + part for part in _markup(el.text, el.runs).split("\n")), el.notes))
        elif kind is ElementKind.SECTION:
            out.append("#" * max(1, el.depth) + " " + el.text)
        elif kind is ElementKind.SYNOPSIS:
            out.append("= " + el.text)
        elif kind is ElementKind.PAGE_BREAK:
            out.append("===")
        elif kind is ElementKind.NOTE:
            out.append(f"[[{el.text}]]")
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"
