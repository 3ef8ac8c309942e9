"""The language-model assist for the breakdown (DR022): what a model is asked, and what is kept of its answer.

Pure functions over domain nouns; the HTTP call is the chat backend's
(``generate/backends/openai_chat.py``), the guard and the ledger the service's. A model is asked,
one scene (or one budget of its lines) at a time, for the elements the scene needs, each with its
category, a name, the number of the script line it comes from and the exact words quoted from that
line. Soundstage keeps a suggestion only when:

- its category is a breakdown category other than cast (the cast is the rules' and the people's:
  a cue or an introduction says who is in a scene; a model's guess does not);
- its line is one of the lines this very request sent (another scene's line is dropped);
- its quoted words occur in that line (case and spacing aside), and some word of its name occurs in
  the quote: every element keeps pointing at its script line;
- its name is not a character of the script (no "MAYA" as a prop) and is at most six words;

everything else is dropped and counted by reason. Kept suggestions merge into the breakdown with
origin ``assist:<model id>``: an element the rules (or a person) already have, in any category,
stays theirs; a re-run replaces the previous assist's elements; a person's edits are re-applied
on top when the breakdown is read (``script.breakdown.apply_edits``), so a removed element stays
removed and a retag holds.
"""

from __future__ import annotations

import copy
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from soundstage.domain.breakdown import (
    ASSIST_ORIGIN_PREFIX, Breakdown, BreakdownElement, Category, normalise_name,
)
from soundstage.domain.screenplay import ElementKind, Scene, Screenplay
from soundstage.script.breakdown import scene_fingerprint

#: recorded with every assisted breakdown and suggestion set: bump when the prompt or the checks change
ASSIST_VERSION = "assist.1"
#: the asset kind of a suggestion set (the chat backend's output, a signed JSON file)
SUGGESTIONS_KIND = "breakdown_suggestions"
#: the categories a model may suggest (cast is never taken from a model)
ASSIST_CATEGORIES = tuple(c.value for c in Category if c is not Category.CAST)
#: the script text one request carries at most (a longer scene goes in several requests)
MAX_REQUEST_CHARS = 12_000
#: one action line at most (a longer one is cut: the quote must lie in what was sent)
MAX_LINE_CHARS = 2_000
#: suggestions one answer may hold; a longer list is a malformed answer
MAX_SUGGESTIONS = 200
MAX_NAME_WORDS = 6
MAX_NAME_CHARS = 80
MAX_QUOTE_CHARS = 300

_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"[\w']+")

SYSTEM_PROMPT = (
    "You are a first assistant director breaking down a screenplay for production. You get the numbered "
    "action lines of one scene. List every element the scene needs on the day that is not a speaking or "
    "named character: props, wardrobe, makeup_hair, vehicles, animals, extras (unnamed background people), "
    "set_dressing, special_effects, visual_effects, stunts, sound, music. For each element give its "
    "category, a short name (at most six words), the number of the line it comes from, and quote the exact "
    "words of that line that show it. Only use the lines given. Answer with JSON only: "
    '{"elements": [{"category": "...", "name": "...", "line": 12, "quote": "..."}]}'
)


def response_schema() -> dict[str, Any]:
    """The JSON schema of an answer (sent as ``response_format`` json_schema, strict)."""
    item = {"type": "object", "additionalProperties": False,
            "required": ["category", "name", "line", "quote"],
            "properties": {"category": {"type": "string", "enum": list(ASSIST_CATEGORIES)},
                           "name": {"type": "string"},
                           "line": {"type": "integer"},
                           "quote": {"type": "string"}}}
    return {"type": "object", "additionalProperties": False, "required": ["elements"],
            "properties": {"elements": {"type": "array", "items": item}}}


@dataclass(frozen=True)
class SceneText:
    """One request's worth of a scene: its numbered action lines (source line -> text)."""

    index: int  # the scene's 0-based position in the script (SceneBreakdown.index)
    heading: str
    content_hash: str  # the scene's fingerprint (script.breakdown.scene_fingerprint)
    lines: tuple[tuple[int, str], ...]
    part: int = 0  # 0 for the first (or only) request of the scene

    def user_message(self) -> str:
        return "Scene heading: " + self.heading + "\n\n" + "\n".join(f"{n}: {t}" for n, t in self.lines)

    def messages(self) -> list[dict[str, str]]:
        return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": self.user_message()}]


def _action_lines(scene: Scene) -> list[tuple[int, str]]:
    """Every non-empty line of the scene's action paragraphs and parentheticals, by source line."""
    out: list[tuple[int, str]] = []
    for el in scene.elements:
        if el.kind is ElementKind.ACTION:
            for offset, text in enumerate(el.text.split("\n")):
                if text.strip():
                    out.append((el.line + offset, _SPACE.sub(" ", text).strip()[:MAX_LINE_CHARS]))
        elif el.kind is ElementKind.DIALOGUE:
            for dl in el.lines:
                if dl.parenthetical and dl.text.strip():
                    out.append((dl.line or el.line, _SPACE.sub(" ", dl.text).strip()[:MAX_LINE_CHARS]))
    return out


def scene_texts(sp: Screenplay, *, budget: int = MAX_REQUEST_CHARS) -> list[SceneText]:
    """The requests for a whole script: each scene's action lines, split into parts of at most
    ``budget`` characters. Scenes without action lines are left out (nothing to read)."""
    out: list[SceneText] = []
    for scene in sp.scenes():
        lines = _action_lines(scene)
        if not lines:
            continue
        whole, _ = scene_fingerprint(scene)
        heading = _SPACE.sub(" ", scene.heading.text).strip()
        part: list[tuple[int, str]] = []
        size = 0
        for number, text in lines:
            if part and size + len(text) > budget:
                out.append(SceneText(scene.index, heading, whole, tuple(part)))
                part, size = [], 0
            part.append((number, text))
            size += len(text) + 8
        out.append(SceneText(scene.index, heading, whole, tuple(part)))
    # number the parts within each scene
    seen: Counter[int] = Counter()
    numbered = []
    for t in out:
        numbered.append(SceneText(t.index, t.heading, t.content_hash, t.lines, part=seen[t.index]))
        seen[t.index] += 1
    return numbered


def script_names(sp: Screenplay) -> frozenset[str]:
    """Every character cue of the script, normalised: a model never turns one into an object."""
    names = set()
    for el in sp.iter_kind(ElementKind.DIALOGUE):
        cue = _SPACE.sub(" ", re.sub(r"\([^)]*\)", "", el.character or el.text)).strip()
        if cue:
            names.add(normalise_name(cue))
    return frozenset(n for n in names if n)


@dataclass(frozen=True)
class Suggestion:
    """One kept suggestion: a category, a name, and the script line its quote was found in."""

    scene_index: int
    category: str
    name: str
    line: int
    quote: str

    def to_dict(self) -> dict[str, Any]:
        return {"scene_index": self.scene_index, "category": self.category, "name": self.name,
                "line": self.line, "quote": self.quote}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Suggestion:
        return cls(scene_index=int(d["scene_index"]), category=str(d["category"]), name=str(d["name"]),
                   line=int(d["line"]), quote=str(d["quote"]))


class MalformedAnswer(ValueError):
    """The answer as a whole is not the shape asked for (not a list of elements, too many)."""


def _flat(text: str) -> str:
    return _SPACE.sub(" ", text).strip().lower()


def check_answer(answer: Any, request: SceneText, cast: Iterable[str] = ()) -> tuple[list[Suggestion], Counter]:
    """The suggestions of one answer that hold, and the dropped ones counted by reason.

    Raises MalformedAnswer when the answer is not ``{"elements": [...]}`` with at most
    MAX_SUGGESTIONS items: the whole answer is refused, nothing of it kept."""
    if not isinstance(answer, dict) or not isinstance(answer.get("elements"), list):
        raise MalformedAnswer('the answer is not {"elements": [...]}')
    items = answer["elements"]
    if len(items) > MAX_SUGGESTIONS:
        raise MalformedAnswer(f"the answer lists {len(items)} elements, over the {MAX_SUGGESTIONS} limit")
    lines = dict(request.lines)
    cast_names = {normalise_name(c) for c in cast}
    kept: list[Suggestion] = []
    keys: set[tuple[str, str]] = set()
    dropped: Counter = Counter()
    for item in items:
        reason, suggestion = _check_item(item, request.index, lines, cast_names)
        if suggestion is not None:
            key = (suggestion.category, normalise_name(suggestion.name))
            if key in keys:
                reason, suggestion = "duplicate", None
            else:
                keys.add(key)
        if suggestion is None:
            dropped[reason] += 1
        else:
            kept.append(suggestion)
    return kept, dropped


def _check_item(item: Any, scene_index: int, lines: Mapping[int, str],
                cast: set[str]) -> tuple[str, Suggestion | None]:
    if not isinstance(item, dict):
        return "not_an_object", None
    category, name, line, quote = item.get("category"), item.get("name"), item.get("line"), item.get("quote")
    if not isinstance(category, str) or not isinstance(name, str) or not isinstance(quote, str) \
            or isinstance(line, bool) or not isinstance(line, int):
        return "missing_field", None
    category = category.strip().lower()
    if category == Category.CAST.value:
        return "cast", None
    if category not in ASSIST_CATEGORIES:
        return "unknown_category", None
    norm = normalise_name(name)
    if not norm or len(name) > MAX_NAME_CHARS or len(norm.split()) > MAX_NAME_WORDS:
        return "bad_name", None
    if norm in cast:
        return "names_cast", None
    if line not in lines:
        return "line_not_sent", None
    flat_quote = _flat(quote)
    if not flat_quote or len(quote) > MAX_QUOTE_CHARS or flat_quote not in _flat(lines[line]):
        return "quote_not_in_line", None
    quote_words = set(_WORD.findall(flat_quote))
    if not any(w in quote_words or w.rstrip("s") in quote_words for w in _WORD.findall(norm)):
        return "name_not_in_quote", None
    return "", Suggestion(scene_index, category, name.strip(), line, quote.strip())


def _same_thing(have: str, suggested: str, same_category: bool) -> bool:
    """One element under two names: the same name in any category, or - in one category - names
    that end in the same word ("van" and "delivery van", "rifle" and "hunting rifle")."""
    if have == suggested:
        return True
    return same_category and have.split()[-1] == suggested.split()[-1]


def _span(text: str, words: str) -> tuple[int, int] | None:
    m = re.search(r"(?<!\w)" + r"\s+".join(map(re.escape, words.split())) + r"(?!\w)", text, re.IGNORECASE)
    return m.span() if m else None


def _same_phrase(line: str, have: str, quote: str) -> bool:
    """The quote and an element's name are one phrase of the line: they overlap or stand at most a
    short word apart ("a bottle of Coca-Cola": "bottle" and "Coca-Cola")."""
    a, b = _span(line, have), _span(line, quote)
    if a is None or b is None:
        return False
    gap = max(a[0], b[0]) - min(a[1], b[1])
    return gap <= 4


def merge(bd: Breakdown, suggestions: Iterable[Suggestion], *, model_id: str,
          removed: Mapping[str, set[str]] | None = None, record: Mapping[str, Any] | None = None,
          lines: Mapping[int, str] | None = None) -> Breakdown:
    """A copy of ``bd`` with the suggestions merged in as ``assist:<model_id>`` elements.

    The previous assist's elements are replaced; an element the scene already has stays as it is
    (the same name in any category, or a name ending in the same word in the same category: the
    rules' "van" is the model's "delivery van"); ``removed`` (scene number -> normalised names
    a person removed there) is never brought back. ``lines`` (script line -> text), when given, also
    merges a suggestion into an element of its category whose name stands in the same phrase of the
    same line. ``record`` is stored as ``bd.assist``."""
    result = copy.deepcopy(bd)
    by_index = {s.index: s for s in result.scenes if not s.omitted and s.index >= 0}
    for scene in result.scenes:
        scene.elements = [e for e in scene.elements if not e.origin.startswith(ASSIST_ORIGIN_PREFIX)]
    origin = ASSIST_ORIGIN_PREFIX + model_id
    for s in suggestions:
        scene = by_index.get(s.scene_index)
        if scene is None:
            continue
        norm = normalise_name(s.name)
        if norm in (removed or {}).get(scene.number, set()):
            continue
        if any(_same_thing(normalise_name(e.name), norm, e.category.value == s.category) for e in scene.elements):
            continue
        line = (lines or {}).get(s.line)
        if line is not None and any(e.category.value == s.category and e.source_line == s.line
                                    and _same_phrase(line, e.name, s.quote) for e in scene.elements):
            continue  # the rules' "bottle" is the model's "Coca-Cola" in "a bottle of Coca-Cola"
        scene.elements.append(BreakdownElement(Category(s.category), norm, s.line, origin=origin))
    result.assist = dict(record or {})
    return result


__all__ = ["ASSIST_VERSION", "SUGGESTIONS_KIND", "ASSIST_CATEGORIES", "MalformedAnswer", "SceneText", "Suggestion", "check_answer",
           "merge", "response_schema", "scene_texts", "script_names", "SYSTEM_PROMPT"]
