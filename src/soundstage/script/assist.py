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

Since ``assist.2`` each request also sends the rules' elements of that part of the scene (category,
name, the line each points at; never cast, never a person's) for review (``check_reviews``): the
model may mark one "not_an_element" or "other_category", with a short reason quoting the element's
own line. ``merge`` keeps a rejected element in the breakdown, marked with its review, but the
sheets and exports leave it out; a move changes its category; a person's add, removal or retag of
that name in that scene beats a review, and one ``add`` edit restores a rejected element.
"""

from __future__ import annotations

import copy
import re
from collections import Counter, deque
from dataclasses import dataclass, replace
from typing import Any, Callable, Hashable, Iterable, Mapping, Sequence, TypeVar

from soundstage.domain.breakdown import (
    ASSIST_ORIGIN_PREFIX, REVIEW_VERDICTS, Breakdown, BreakdownElement, Category, normalise_name,
)
from soundstage.domain.screenplay import ElementKind, Scene, Screenplay
from soundstage.script.breakdown import scene_fingerprint

#: recorded with every assisted breakdown and suggestion set: bump when the prompt or the checks change
T = TypeVar("T")

ASSIST_VERSION = "assist.2"
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
#: rule elements one request sends for review (the rest of a crowded scene part is not reviewed)
MAX_REVIEW_ELEMENTS = 120
#: a review's reason at most
MAX_REASON_CHARS = 200
#: what a model may say of a rule element (domain.breakdown.REVIEW_VERDICTS)
VERDICTS = REVIEW_VERDICTS

_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"[\w']+")

SYSTEM_PROMPT = (
    "You are a first assistant director breaking down a screenplay for production. You get the numbered "
    "action lines of one scene. List every element the scene needs on the day that is not a speaking or "
    "named character: props, wardrobe, makeup_hair, vehicles, animals, extras (unnamed background people), "
    "set_dressing, special_effects, visual_effects, stunts, sound, music. For each element give its "
    "category, a short name (at most six words), the number of the line it comes from, and quote the exact "
    "words of that line that show it. Only use the lines given. "
    "You also get the elements an automatic tagger found (E1, E2, ...), each with the line it points at. "
    "Review them: for one that is not an element the scene needs, answer its id with verdict "
    '"not_an_element"; for one filed under the wrong category, verdict "other_category" and the right '
    "category. Give a short reason and quote the words of the element's own line that show it. Leave out "
    "the ones that are right. Answer with JSON only: "
    '{"elements": [{"category": "...", "name": "...", "line": 12, "quote": "..."}], '
    '"reviews": [{"id": "E1", "verdict": "not_an_element", "category": "", "reason": "...", "quote": "..."}]}'
)


def response_schema() -> dict[str, Any]:
    """The JSON schema of an answer (sent as ``response_format`` json_schema, strict)."""
    item = {"type": "object", "additionalProperties": False,
            "required": ["category", "name", "line", "quote"],
            "properties": {"category": {"type": "string", "enum": list(ASSIST_CATEGORIES)},
                           "name": {"type": "string"},
                           "line": {"type": "integer"},
                           "quote": {"type": "string"}}}
    review = {"type": "object", "additionalProperties": False,
              "required": ["id", "verdict", "category", "reason", "quote"],
              "properties": {"id": {"type": "string"},
                             "verdict": {"type": "string", "enum": list(VERDICTS)},
                             "category": {"type": "string", "enum": ["", *ASSIST_CATEGORIES]},
                             "reason": {"type": "string"},
                             "quote": {"type": "string"}}}
    return {"type": "object", "additionalProperties": False, "required": ["elements", "reviews"],
            "properties": {"elements": {"type": "array", "items": item},
                           "reviews": {"type": "array", "items": review}}}


@dataclass(frozen=True)
class RuleElement:
    """A rule element sent for review: its id in the request, category, name and the line it points at."""

    ref: str  # "E1", "E2", ... within one request
    category: str
    name: str
    line: int


@dataclass(frozen=True)
class SceneText:
    """One request's worth of a scene: its numbered action lines (source line -> text), and the rule
    elements sent for review with the lines they point at that are not action lines."""

    index: int  # the scene's 0-based position in the script (SceneBreakdown.index)
    heading: str
    content_hash: str  # the scene's fingerprint (script.breakdown.scene_fingerprint)
    lines: tuple[tuple[int, str], ...]
    part: int = 0  # 0 for the first (or only) request of the scene
    elements: tuple[RuleElement, ...] = ()
    element_lines: tuple[tuple[int, str], ...] = ()  # dialogue or heading lines an element points at

    def user_message(self) -> str:
        text = "Scene heading: " + self.heading + "\n\n" + "\n".join(f"{n}: {t}" for n, t in self.lines)
        if self.elements:
            text += ("\n\nElements the tagger found:\n"
                     + "\n".join(f'{e.ref}: {e.category} "{e.name}" (line {e.line})' for e in self.elements))
        if self.element_lines:
            text += ("\n\nOther lines these elements point at:\n"
                     + "\n".join(f"{n}: {t}" for n, t in self.element_lines))
        return text

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


def _scene_lines(scene: Scene) -> dict[int, str]:
    """Every line of the scene an element can point at: heading, action, cue, speech, parenthetical."""
    out: dict[int, str] = {scene.heading.line: scene.heading.text}
    for el in scene.elements:
        if el.kind is ElementKind.DIALOGUE:
            out.setdefault(el.line, el.character or el.text)
            for dl in el.lines:
                if dl.line and dl.text.strip():
                    out.setdefault(dl.line, dl.text)
        elif el.text:
            for offset, text in enumerate(el.text.split("\n")):
                out.setdefault(el.line + offset, text)
    return {n: _SPACE.sub(" ", t).strip()[:MAX_LINE_CHARS] for n, t in out.items() if t.strip()}


def reviewable(element: BreakdownElement) -> bool:
    """A rule element the assist may review: not cast, not a person's, pointing at a script line."""
    return element.origin == "rule" and element.category is not Category.CAST and element.source_line > 0


def scene_texts(sp: Screenplay, *, budget: int = MAX_REQUEST_CHARS, breakdown: Breakdown | None = None) -> list[SceneText]:
    """The requests for a whole script: each scene's action lines, split into parts of at most
    ``budget`` characters. With ``breakdown`` (the rules'), each part also carries the rule elements
    to review: those pointing at one of its lines, and - in the scene's first part - those pointing
    at a dialogue or heading line (sent with it), at most MAX_REVIEW_ELEMENTS per part. Scenes with
    nothing to read or review are left out."""
    by_index = {s.index: s for s in breakdown.scenes if not s.omitted} if breakdown is not None else {}
    out: list[SceneText] = []
    for scene in sp.scenes():
        lines = _action_lines(scene)
        sb = by_index.get(scene.index)
        rule = [e for e in sb.elements if reviewable(e)] if sb is not None else []
        if not lines and not rule:
            continue
        whole, _ = scene_fingerprint(scene)
        heading = _SPACE.sub(" ", scene.heading.text).strip()
        parts: list[list[tuple[int, str]]] = [[]]
        size = 0
        for number, text in lines:
            if parts[-1] and size + len(text) > budget:
                parts.append([])
                size = 0
            parts[-1].append((number, text))
            size += len(text) + 8
        all_lines = _scene_lines(scene) if rule else {}
        part_of = {n: k for k, part in enumerate(parts) for n, _ in part}
        for k, part in enumerate(parts):
            mine = [e for e in rule if part_of.get(e.source_line, 0) == k
                    and (e.source_line in part_of or e.source_line in all_lines)][:MAX_REVIEW_ELEMENTS]
            extra = sorted({e.source_line for e in mine if e.source_line not in part_of})
            out.append(SceneText(scene.index, heading, whole, tuple(part), part=k,
                                 elements=tuple(RuleElement(f"E{i + 1}", e.category.value, e.name, e.source_line)
                                                for i, e in enumerate(mine)),
                                 element_lines=tuple((n, all_lines[n]) for n in extra)))
    return out


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
    return _screen(items, lambda item: _check_item(item, request.index, lines, cast_names),
                   lambda suggestion: (suggestion.category, normalise_name(suggestion.name)), "duplicate")


def _screen(items: list, check: Callable[[Any], tuple[str, T | None]], key: Callable[[T], Hashable],
            duplicate: str) -> tuple[list[T], Counter]:
    """The items ``check`` keeps, the first of each ``key`` only; every other counted by its reason
    (a repeated key as ``duplicate``)."""
    kept: list[T] = []
    keys: set = set()
    dropped: Counter = Counter()
    for item in items:
        reason, found = check(item)
        if found is not None:
            if key(found) in keys:
                reason, found = duplicate, None
            else:
                keys.add(key(found))
        if found is None:
            dropped[reason] += 1
        else:
            kept.append(found)
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
    if norm in cast or any(norm.startswith(c + " ") for c in cast):  # "maya" or "maya reyes", not "maya's coat"
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


@dataclass(frozen=True)
class Review:
    """One kept review of a rule element: the element (category, name, line), the verdict, the new
    category of an "other_category", a short reason and the words of the element's line it quotes."""

    scene_index: int
    category: str
    name: str
    line: int
    verdict: str
    new_category: str
    reason: str
    quote: str

    def to_dict(self) -> dict[str, Any]:
        return {"scene_index": self.scene_index, "category": self.category, "name": self.name,
                "line": self.line, "verdict": self.verdict, "new_category": self.new_category,
                "reason": self.reason, "quote": self.quote}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Review:
        return cls(scene_index=int(d["scene_index"]), category=str(d["category"]), name=str(d["name"]),
                   line=int(d["line"]), verdict=str(d["verdict"]), new_category=str(d.get("new_category") or ""),
                   reason=str(d["reason"]), quote=str(d["quote"]))

    def answer_item(self, ref: str) -> dict[str, str]:
        """This review as a model's answer names the element ``ref`` (to check it again)."""
        return {"id": ref, "verdict": self.verdict, "category": self.new_category, "reason": self.reason,
                "quote": self.quote}


def check_reviews(answer: Any, request: SceneText) -> tuple[list[Review], Counter]:
    """The reviews of one answer that hold, and the dropped ones counted by reason (``review_*``).

    A review is kept only when it names an element this very request sent, its verdict is known,
    an "other_category" names a known non-cast category other than the element's, its reason is
    one line of at most MAX_REASON_CHARS, and its quote occurs in the element's own line. An answer
    without ``reviews`` reviews nothing; a ``reviews`` that is not a list of at most
    MAX_SUGGESTIONS items refuses the whole answer (MalformedAnswer)."""
    if not isinstance(answer, dict):
        raise MalformedAnswer('the answer is not {"elements": [...], "reviews": [...]}')
    items = answer.get("reviews", [])
    if not isinstance(items, list):
        raise MalformedAnswer('the answer\'s "reviews" is not a list')
    if len(items) > MAX_SUGGESTIONS:
        raise MalformedAnswer(f"the answer lists {len(items)} reviews, over the {MAX_SUGGESTIONS} limit")
    sent = {e.ref: e for e in request.elements}
    lines = {**dict(request.element_lines), **dict(request.lines)}
    return _screen(items, lambda item: _check_review(item, request.index, sent, lines),
                   lambda review: (review.category, review.name, review.line), "review_duplicate")


def _check_review(item: Any, scene_index: int, sent: Mapping[str, RuleElement],
                  lines: Mapping[int, str]) -> tuple[str, Review | None]:
    if not isinstance(item, dict):
        return "review_not_an_object", None
    ref, verdict, category, reason, quote = (item.get(k) for k in ("id", "verdict", "category", "reason", "quote"))
    if not all(isinstance(v, str) for v in (ref, verdict, reason, quote)) or not isinstance(category, (str, type(None))):
        return "review_missing_field", None
    element = sent.get(ref.strip())
    if element is None:
        return "review_not_sent", None
    if verdict not in VERDICTS:
        return "review_unknown_verdict", None
    new_category = ""
    if verdict == "other_category":
        new_category = (category or "").strip().lower()
        if new_category == Category.CAST.value:
            return "review_cast", None
        if new_category not in ASSIST_CATEGORIES:
            return "review_unknown_category", None
        if new_category == element.category:
            return "review_same_category", None
    flat_reason = _SPACE.sub(" ", reason).strip()
    if not flat_reason or len(reason) > MAX_REASON_CHARS:
        return "review_bad_reason", None
    flat_quote = _flat(quote)
    line = lines.get(element.line)
    if line is None or not flat_quote or len(quote) > MAX_QUOTE_CHARS or flat_quote not in _flat(line):
        return "review_quote_not_in_line", None
    return "", Review(scene_index, element.category, element.name, element.line, verdict, new_category,
                      flat_reason, quote.strip())


def recheck_review(review: Review, parts: Iterable[SceneText]) -> Review | None:
    """``review`` as the checks keep it against the script's requests now (None: it no longer holds)."""
    for part in parts:
        if part.index != review.scene_index:
            continue
        for e in part.elements:
            if (e.category, normalise_name(e.name), e.line) == (review.category, normalise_name(review.name),
                                                               review.line):
                found, _ = check_reviews({"reviews": [review.answer_item(e.ref)]}, part)
                return found[0] if found else None
    return None


def reset_reviews(bd: Breakdown) -> Breakdown:
    """A copy of ``bd`` as the rules left it: earlier assist elements gone, reviews undone."""
    result = copy.deepcopy(bd)
    for scene in result.scenes:
        scene.elements = [e for e in scene.elements if not e.origin.startswith(ASSIST_ORIGIN_PREFIX)]
        for e in scene.elements:
            if e.review.get("from"):
                e.category = Category(e.review["from"])
            e.review = {}
    return result


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
          lines: Mapping[int, str] | None = None, reviews: Iterable[Review] = (),
          protected: Mapping[str, set[str]] | None = None) -> Breakdown:
    """A copy of ``bd`` with the reviews applied and the suggestions merged in as ``assist:<model_id>`` elements.

    The previous assist's elements and reviews are undone first (``reset_reviews``). A review applies
    to the rule element it names (same category, name and line): "not_an_element" marks it rejected
    (kept, hidden from sheets and exports), "other_category" moves it; a review of an element a
    person edited in that scene (``protected``: scene number -> normalised names a person added,
    removed or retagged there) or of one the breakdown does not have is dropped and counted in
    ``assist["review_dropped"]``.

    An element the scene already has (and the assist did not reject) stays as it is: the same name
    in any category, or a name ending in the same word in the same category (the rules' "van" is the
    model's "delivery van"); ``removed`` (scene number -> normalised names a person removed there) is
    never brought back. ``lines`` (script line -> text), when given, also merges a suggestion into an
    element of its category whose name stands in the same phrase of the same line. ``record`` is
    stored as ``bd.assist``, with the counts of rejected and moved elements."""
    result = reset_reviews(bd)
    by_index = {s.index: s for s in result.scenes if not s.omitted and s.index >= 0}
    origin = ASSIST_ORIGIN_PREFIX + model_id
    counts: Counter = Counter()
    review_dropped: Counter = Counter()
    for r in reviews:
        scene = by_index.get(r.scene_index)
        if scene is None:
            review_dropped["review_not_in_breakdown"] += 1
            continue
        norm = normalise_name(r.name)
        if norm in (protected or {}).get(scene.number, set()):
            review_dropped["review_person_edited"] += 1
            continue
        target = next((e for e in scene.elements if reviewable(e) and not e.review and e.category.value == r.category
                       and normalise_name(e.name) == norm and e.source_line == r.line), None)
        if target is None:
            review_dropped["review_not_in_breakdown"] += 1
            continue
        if r.verdict == "other_category":
            if any(not e.rejected and e.category.value == r.new_category and normalise_name(e.name) == norm
                   for e in scene.elements):
                review_dropped["review_duplicate"] += 1  # the scene has it there already
                continue
            target.review = {"by": origin, "verdict": r.verdict, "reason": r.reason, "from": target.category.value}
            target.category = Category(r.new_category)
            counts["recategorised"] += 1
        else:
            target.review = {"by": origin, "verdict": r.verdict, "reason": r.reason}
            counts["rejected"] += 1
    for s in suggestions:
        scene = by_index.get(s.scene_index)
        if scene is None:
            continue
        norm = normalise_name(s.name)
        if norm in (removed or {}).get(scene.number, set()):
            continue
        live = scene.live_elements()
        if any(_same_thing(normalise_name(e.name), norm, e.category.value == s.category) for e in live):
            continue
        line = (lines or {}).get(s.line)
        if line is not None and any(e.category.value == s.category and e.source_line == s.line
                                    and _same_phrase(line, e.name, s.quote) for e in live):
            continue  # the rules' "bottle" is the model's "Coca-Cola" in "a bottle of Coca-Cola"
        scene.elements.append(BreakdownElement(Category(s.category), norm, s.line, origin=origin))
    result.assist = {**dict(record or {}), "rejected": counts["rejected"], "recategorised": counts["recategorised"],
                     "review_dropped": dict(sorted(review_dropped.items()))}
    return result


# --------------------------------------------------------------------------- carrying the assist to a new draft

#: why a suggestion did not carry to a new draft: its scene is not in it word for word (rewritten or
#: cut); a review's reason is "review_" + this. A carried one that then fails the checks against the
#: new script is counted as a merge counts it (``not_in_script``, ``review_not_in_script``).
CARRY_SCENE_CHANGED = "scene_changed"


@dataclass(frozen=True)
class SceneAnchor:
    """Where a scene stands in one draft: its 0-based index, its content hash (the breakdown's
    ``content_hash``, ``script.breakdown.scene_fingerprint``) and the script line of its heading."""

    index: int
    content_hash: str
    line: int


def scene_anchors(sp: Screenplay) -> list[SceneAnchor]:
    """Every scene of ``sp`` as a SceneAnchor, in script order."""
    return [SceneAnchor(scene.index, scene_fingerprint(scene)[0], scene.heading.line) for scene in sp.scenes()]


def unchanged_scenes(old: Sequence[SceneAnchor], new: Sequence[SceneAnchor]) -> dict[int, SceneAnchor]:
    """Old scene index -> the new draft's scene with the same content hash (identical words, wherever
    it moved). Scenes with the same hash pair up in script order, as ``revisions.lock_numbers`` does."""
    by_hash: dict[str, deque[SceneAnchor]] = {}
    for anchor in new:
        by_hash.setdefault(anchor.content_hash, deque()).append(anchor)
    pairs: dict[int, SceneAnchor] = {}
    for anchor in old:
        waiting = by_hash.get(anchor.content_hash)
        if waiting:
            pairs[anchor.index] = waiting.popleft()
    return pairs


def carry(suggestions: Iterable[Suggestion], reviews: Iterable[Review], old: Sequence[SceneAnchor],
          new: Sequence[SceneAnchor], via: Sequence[Sequence[SceneAnchor]] = (),
          ) -> tuple[list[Suggestion], list[Review], Counter]:
    """The suggestions and reviews of an assist job (made on the draft whose scenes are ``old``) that
    carry to a new draft (scenes ``new``), re-addressed to it, and the others counted by reason.

    Only a scene whose words did not change carries (DR022, "New drafts"): the same content hash,
    moved or not. Its suggestions and reviews keep their category, name, quote, verdict and reason;
    their scene index becomes the new one, and their line moves by as many lines as the scene's
    heading moved. Everything on a rewritten or cut scene is dropped (``scene_changed``), even when
    its quoted words are still in the line: the model judged the scene it read. The caller checks
    the carried ones again against the new script (``check_answer``, ``recheck_review``) and merges
    them with a person's edits winning (``merge``).

    ``via``: the scenes of each draft between the job's and the new one, oldest first. A scene
    carries only when it is unchanged from each draft to the next: one rewritten in a draft between
    and restored since does not bring back what that draft dropped (nor undo a person's removal
    that was dropped with it)."""
    pairs = {a.index: a for a in old}
    for step in [*via, new]:
        onward = unchanged_scenes(list(pairs.values()), step)  # keyed by the previous step's index
        pairs = {i: onward[a.index] for i, a in pairs.items() if a.index in onward}
    where = {a.index: a for a in old}
    dropped: Counter = Counter()

    def readdressed(items: Iterable[T], reason: str) -> list[T]:
        out = []
        for item in items:
            source, target = where.get(item.scene_index), pairs.get(item.scene_index)
            if source is None or target is None:
                dropped[reason] += 1
            else:
                out.append(replace(item, scene_index=target.index, line=item.line + target.line - source.line))
        return out

    kept = readdressed(suggestions, CARRY_SCENE_CHANGED)
    held = readdressed(reviews, "review_" + CARRY_SCENE_CHANGED)
    return kept, held, dropped


__all__ = ["ASSIST_VERSION", "SUGGESTIONS_KIND", "ASSIST_CATEGORIES", "CARRY_SCENE_CHANGED",
           "MalformedAnswer", "Review", "RuleElement", "SceneAnchor", "SceneText", "Suggestion", "carry",
           "check_answer", "check_reviews", "merge", "recheck_review", "reset_reviews",
           "response_schema", "reviewable", "scene_anchors", "scene_texts", "script_names", "unchanged_scenes",
           "SYSTEM_PROMPT"]
