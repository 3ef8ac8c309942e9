"""Screenplay -> production breakdown by rules and word lists, plus re-applying people's edits.

Pure functions. Rules are deliberately conservative and every element carries the script
line it came from, so a coordinator can check it and correct it with a BreakdownEdit that
survives every re-run.
"""

from __future__ import annotations

import copy
from functools import lru_cache
import hashlib
import re
import zlib
from typing import Iterable

from soundstage.domain.breakdown import (
    Breakdown, BreakdownEdit, BreakdownElement, Category, SceneBreakdown, normalise_name,
)
from soundstage.domain.screenplay import Element, ElementKind, Scene, Screenplay
from soundstage.script.fountain import parse_heading
from soundstage.script.lexicon import compiled, compiled_any_case, lookup_match
from soundstage.script.pagination import Pagination, estimate_screen_seconds, paginate

_SCENE_NUMBER = re.compile(r"\s*#[^#]*#\s*$")
_CUE_EXTENSION = re.compile(r"\s*\([^)]*\)")
_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"[\w']+")
# "MAYA (30s)", "OLD MAN (70)", "DETECTIVE REYES, 40s," - the convention for a first introduction.
_INTRODUCTION = re.compile(
    r"(?<![\w'])([A-Z][A-Z'.\-]*[A-Z.](?:\s+[A-Z][A-Z'.\-]*[A-Z]){0,2})"
    r"(?:\s*\(\s*(?:early |mid |late |mid-)?\d{1,2}s?\b[^)]{0,80}\)|,\s*(?:early |mid |late |mid-)?\d{1,2}s?\b)"
)
_WE_HEAR = re.compile(r"\bwe hear\s+(?:the\s+|a\s+|an\s+|some\s+)?([^.;!?\n]{1,80})", re.IGNORECASE)
_OFF_SCREEN = re.compile(
    r"((?:[\w'\-]+\s+){0,4}[\w'\-]+)\s*\(?\s*(?:O\.S\.|O\.C\.|off-?screen)(?:\)|(?=\W)|$)",
)
_MAX_NAME_WORDS = 6
_NOT_NAMES = {"INT", "EXT", "CONT'D", "CONTINUED", "V.O.", "O.S.", "O.C.", "CUT TO", "FADE IN",
              "FADE OUT", "THE", "A", "AN", "AND", "DAY", "NIGHT", "LATER", "BACK", "CLOSE ON"}


def _norm_text(text: str) -> str:
    return " ".join(text.split()).lower()


class _WordHashes(dict):
    """word -> 16-bit hex hash, computed once per distinct word (scripts repeat words a lot)."""

    def __missing__(self, word: str) -> str:
        value = self[word] = format(zlib.crc32(word.encode("utf-8")) & 0xFFFF, "04x")
        return value


_WORD_HASHES = _WordHashes()


@lru_cache(maxsize=4096)
def cue_name(cue: str) -> str:
    """The character behind a cue: "maya (V.O.) (CONT'D)" -> "MAYA"."""
    name = _CUE_EXTENSION.sub("", cue).replace("^", "").strip()
    name = re.sub(r"\bCONT'?D\b\.?", "", name, flags=re.IGNORECASE)
    return _SPACE.sub(" ", name).strip().upper()


def _paragraph_text(el: Element) -> str:
    if el.kind is ElementKind.DIALOGUE:
        return cue_name(el.character or el.text) + ": " + " ".join(dl.text for dl in el.lines)
    return el.text


def scene_fingerprint(scene: Scene) -> tuple[str, list[str]]:
    """(sha256 of the whole normalised scene, 16-bit hash per word) - independent of scene numbers."""
    heading = _norm_text(_SCENE_NUMBER.sub("", scene.heading.text))
    parts = [f"{el.kind.value}|{_norm_text(_paragraph_text(el))}" for el in scene.elements
             if el.kind not in (ElementKind.PAGE_BREAK, ElementKind.NOTE)]
    text = "\n".join([heading, *parts])
    whole = hashlib.sha256(text.encode("utf-8")).hexdigest()
    if len(_WORD_HASHES) > 200_000:  # bound the memo for long-running services
        _WORD_HASHES.clear()
    sketch = list(map(_WORD_HASHES.__getitem__, _WORD.findall(text)))
    return whole, sketch


def _short_name(text: str) -> str:
    words = text.strip().split()
    return " ".join(words[:_MAX_NAME_WORDS]).strip(" ,:-").lower()


def _names_pattern(names: Iterable[str]) -> re.Pattern[str] | None:
    ordered = sorted({n for n in names if n and n not in _NOT_NAMES}, key=len, reverse=True)
    if not ordered:
        return None
    return re.compile(r"(?<![\w'])(?:" + "|".join(re.escape(n) for n in ordered) + r")(?![A-Za-z])")


def _aliases(speakers: set[str], introduced: set[str]) -> dict[str, str]:
    """Map a full introduction to the cue the character speaks under: "MAYA REYES" -> "MAYA".

    Scripts introduce "MAYA REYES (68)" and then cue "MAYA"; both are one person on a call sheet.
    """
    aliases: dict[str, str] = {}
    for full in introduced - speakers:
        words = full.split()
        for k in range(len(words) - 1, 0, -1):
            head, tail = " ".join(words[:k]), " ".join(words[-k:])
            if head in speakers:
                aliases[full] = head
                break
            if tail in speakers:
                aliases[full] = tail
                break
    return aliases


def _introduced_names(sp: Screenplay) -> set[str]:
    found: set[str] = set()
    for el in sp.iter_kind(ElementKind.ACTION):
        if "(" in el.text or "," in el.text:
            for m in _INTRODUCTION.finditer(el.text):
                name = _SPACE.sub(" ", m.group(1)).strip(" .")
                if name not in _NOT_NAMES:
                    found.add(name)
    return found


class _SceneCollector:
    """Deduplicates elements of one scene by (category, normalised name), keeping the first line."""

    def __init__(self) -> None:
        self.first_line: dict[tuple[Category, str], int] = {}

    def add(self, category: Category, name: str, line: int) -> None:
        """``name`` must already be normalised (lexicon names are)."""
        if name and (category, name) not in self.first_line:
            self.first_line[(category, name)] = line

    def elements(self) -> list[BreakdownElement]:
        return [BreakdownElement(c, n, line) for (c, n), line in self.first_line.items()]


def _scan_text(text: str, first_line: int, out: _SceneCollector, pattern: re.Pattern[str],
               names: re.Pattern[str] | None, mentions: dict[str, int],
               aliases: dict[str, str] | None = None) -> None:
    """Every lexicon, sound and cast rule over one paragraph; lines counted from the paragraph start."""
    has_newline = "\n" in text

    def line_at(pos: int) -> int:
        return first_line + text.count("\n", 0, pos) if has_newline else first_line

    lowered = text.lower()
    if len(lowered) == len(text):
        matches = pattern.finditer(lowered)
    else:  # rare letters whose lower case is longer: keep offsets right
        matches = compiled_any_case().finditer(text)
    for m in matches:
        for category, canonical in lookup_match(m.group(0)):
            out.add(category, canonical, line_at(m.start()))
    if "hear" in text or "HEAR" in text or "Hear" in text:
        for m in _WE_HEAR.finditer(text):
            out.add(Category.SOUND, normalise_name(_short_name(m.group(1))), line_at(m.start()))
    if "O.S." in text or "O.C." in text or "screen" in text:
        for m in _OFF_SCREEN.finditer(text):
            name = normalise_name(_short_name(m.group(1)))
            if name:
                out.add(Category.SOUND, name, line_at(m.start()))
    if names is not None:
        for m in names.finditer(text):
            name = m.group(0)
            mentions.setdefault(aliases.get(name, name) if aliases else name, line_at(m.start()))


def _break_down_scene(scene: Scene, pattern: re.Pattern[str], names: re.Pattern[str] | None,
                      aliases: dict[str, str], number: str, eighths: int, page_start: int) -> SceneBreakdown:
    out = _SceneCollector()
    speakers: dict[str, int] = {}
    for el in scene.elements:
        if el.kind is ElementKind.DIALOGUE:
            speakers.setdefault(cue_name(el.character or el.text), el.line)
    mentions: dict[str, int] = {}  # CAPS names in action, first line each
    for el in scene.elements:
        kind = el.kind
        if kind is ElementKind.ACTION:
            _scan_text(el.text, el.line, out, pattern, names, mentions, aliases)
        elif kind is ElementKind.DIALOGUE:
            for dl in el.lines:  # "(singing)", "(lights a cigarette)": stage business in parentheticals
                if dl.parenthetical:
                    _scan_text(dl.text, dl.line or el.line, out, pattern, None, mentions)
        elif kind is ElementKind.LYRICS:
            first = el.text.strip().splitlines()[0] if el.text.strip() else "lyrics"
            out.add(Category.MUSIC, normalise_name("lyrics: " + _short_name(first)), el.line)
    silent = [n for n in mentions if n not in speakers]
    first_seen = {n: min(speakers.get(n, line), line) for n, line in mentions.items()}
    first_seen.update({n: line for n, line in speakers.items() if n not in mentions})
    cast = sorted((BreakdownElement(Category.CAST, n, line) for n, line in first_seen.items()),
                  key=lambda e: e.source_line)
    heading = parse_heading(_SCENE_NUMBER.sub("", scene.heading.text))
    whole, parts = scene_fingerprint(scene)
    return SceneBreakdown(
        number=number, index=scene.index, heading=heading.raw, int_ext=heading.int_ext,
        location=heading.location, time_of_day=heading.time_of_day, eighths=eighths,
        page_start=page_start, est_seconds=estimate_screen_seconds(eighths),
        speaking_cast=list(speakers), nonspeaking_cast=silent,
        elements=cast + out.elements(), source_line=scene.heading.line,
        content_hash=whole, text_sketch=parts,
    )


def break_down(sp: Screenplay, pagination: Pagination | None = None) -> Breakdown:
    """Every scene with its cast, elements by category, length in eighths and page.

    Scene number: the script's own ``#n#`` when present, else its position (1, 2, ...).
    Speaking cast comes from dialogue cues; non-speaking cast from CAPS names in action that
    are characters elsewhere in the script or introduced in caps with an age ("MAYA (30s)").
    """
    scenes = sp.scenes()
    pagination = pagination if pagination is not None else paginate(sp)
    pattern, _ = compiled()
    known = {cue_name(el.character or el.text) for el in sp.iter_kind(ElementKind.DIALOGUE)}
    introduced = _introduced_names(sp)
    names = _names_pattern(known | introduced)
    aliases = _aliases(known, introduced)
    result = []
    for scene in scenes:
        number = (scene.number or "").strip() or str(scene.index + 1)
        result.append(_break_down_scene(scene, pattern, names, aliases, number,
                                        pagination.scene_eighths(scene.index),
                                        pagination.scene_page_start(scene.index)))
    return Breakdown(title=sp.title, scenes=result, page_count=pagination.page_count)


# --------------------------------------------------------------------------- edits

def _set_cast(scene: SceneBreakdown, name: str, present: bool) -> None:
    name = name.strip().upper()
    if present:
        if name not in scene.speaking_cast and name not in scene.nonspeaking_cast:
            scene.nonspeaking_cast.append(name)
    else:
        scene.speaking_cast = [c for c in scene.speaking_cast if c != name]
        scene.nonspeaking_cast = [c for c in scene.nonspeaking_cast if c != name]


def _apply_one(scene: SceneBreakdown, edit: BreakdownEdit) -> bool:
    """Apply one edit in place; False when it cannot apply (retag of an element that is gone)."""
    category = Category(edit.category)
    existing = scene.find(category, edit.name)
    if edit.action == "add":
        if existing is None:
            name = edit.name.strip().upper() if category is Category.CAST else edit.name.strip()
            scene.elements.append(BreakdownElement(category, name, 0, origin="user", note=edit.note))
        elif edit.note:
            existing.note = edit.note
        if category is Category.CAST:
            _set_cast(scene, edit.name, True)
        return True
    if edit.action == "remove":
        # Already absent still counts as applied: the state the person asked for holds.
        if existing is not None:
            scene.elements.remove(existing)
        if category is Category.CAST:
            _set_cast(scene, edit.name, False)
        return True
    # retag
    if existing is None:
        return False
    new_category = Category(edit.new_category or edit.category)
    scene.elements.remove(existing)
    if category is Category.CAST:
        _set_cast(scene, existing.name, False)
    if scene.find(new_category, existing.name) is None:
        scene.elements.append(BreakdownElement(new_category, existing.name, existing.source_line,
                                               origin="user", note=edit.note or existing.note))
    if new_category is Category.CAST:
        _set_cast(scene, existing.name, True)
    return True


def apply_edits(bd: Breakdown, edits: list[BreakdownEdit]) -> tuple[Breakdown, list[BreakdownEdit]]:
    """A copy of ``bd`` with the edits applied in order, and the edits that could not be applied.

    An edit is unapplied when its scene no longer exists (or is OMITTED) or it retags an element
    the rules no longer find; the caller shows those to a person instead of dropping them.
    """
    result = copy.deepcopy(bd)
    live = {s.number: s for s in result.scenes if not s.omitted}
    unapplied: list[BreakdownEdit] = []
    for edit in edits:
        scene = live.get(str(edit.scene).strip())
        if scene is None or not _apply_one(scene, edit):
            unapplied.append(edit)
    return result, unapplied


__all__ = ["break_down", "apply_edits", "cue_name", "scene_fingerprint", "normalise_name"]
