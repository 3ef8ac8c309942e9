"""Draft-to-draft comparison with locked scene numbers, as a production office does it.

Once a script is locked, scene numbers never change: a scene that survives keeps its number
wherever it moves, a new scene between 5 and 6 becomes 5A (then 5B ...), one before scene 1
becomes A1, and a cut scene stays in the breakdown as "5 OMITTED" so its number is never
reused. Matching needs no script text: the breakdown's content hash finds identical scenes,
then heading similarity, paragraph hashes and position pair up the rewritten ones.

Edit carry-over rule (see ``carry_edits``): edits on unchanged scenes (moved or not) always
carry. On a changed scene an "add" carries (a person's addition is not tied to a script line),
while "remove"/"retag" carry only when the rules still find that element in the new text,
i.e. the words it was made from are still there; otherwise it is dropped and reported.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import deque
from dataclasses import dataclass, field, replace
from difflib import SequenceMatcher
from typing import Any, Callable, Iterable, Iterator

from soundstage.domain.breakdown import Breakdown, BreakdownEdit, BreakdownElement, SceneBreakdown
from soundstage.domain.screenplay import Element, ElementKind, Screenplay
from soundstage.errors import SpecError
from soundstage.script.breakdown import break_down

MATCH_THRESHOLD = 0.5
_HEADING_WEIGHT = 0.35
_BODY_WEIGHT = 0.65
_SAME_GAP_BONUS = 0.2
_ORDER_PENALTY = 0.1
_KEY_WORDS = 12  # words of a scene's opening / closing that pair rewritten scenes in a large gap
_NUMBER_RE = re.compile(r"^([A-Z]*)(\d+)([A-Z]*)$")
# How a cut scene is printed in a locked script: its number and this heading, nothing else.
OMITTED_HEADING = "OMITTED"
_OMITTED_WORDS = {"OMITTED", "OMIT", "SCENE OMITTED"}


@dataclass(frozen=True)
class SceneChange:
    status: str  # "unchanged" | "changed" | "added" | "omitted"
    old_number: str | None
    new_number: str  # the locked number in the new draft
    heading: str
    moved: bool = False
    similarity: float = 1.0
    new_index: int | None = None  # position in the new script; None for omitted
    rule_keys: tuple[str, ...] = ()  # element keys the rules found in the new version

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "old_number": self.old_number, "new_number": self.new_number,
                "heading": self.heading, "moved": self.moved, "similarity": round(self.similarity, 3),
                "new_index": self.new_index}


@dataclass
class RevisionReport:
    changes: list[SceneChange] = field(default_factory=list)

    def _numbers(self, status: str) -> list[str]:
        return [c.new_number for c in self.changes if c.status == status]

    @property
    def added(self) -> list[str]:
        return self._numbers("added")

    @property
    def omitted(self) -> list[str]:
        return self._numbers("omitted")

    @property
    def changed(self) -> list[str]:
        """Content differs (whether or not the scene also moved)."""
        return self._numbers("changed")

    @property
    def unchanged(self) -> list[str]:
        """Identical content and not moved."""
        return [c.new_number for c in self.changes if c.status == "unchanged" and not c.moved]

    @property
    def moved(self) -> list[str]:
        """Out of their old order relative to the other surviving scenes (content may also differ)."""
        return [c.new_number for c in self.changes if c.moved]

    def for_old_number(self, number: str) -> SceneChange | None:
        return next((c for c in self.changes if c.old_number == number), None)

    def summary(self) -> dict[str, list[str]]:
        return {"added": self.added, "omitted": self.omitted, "moved": self.moved,
                "changed": self.changed, "unchanged": self.unchanged}

    def to_dict(self) -> dict[str, Any]:
        return {**self.summary(), "changes": [c.to_dict() for c in self.changes]}


# --------------------------------------------------------------------------- matching
#
# What costs time is the number of scene pairs scored (each is up to two difflib ratios), so
# that number is bounded. Identical scenes pair up by content hash in one pass. When few scenes
# are left over (any ordinary revision of a feature) every leftover new scene is scored against
# every leftover old one, exactly as drafts always were. Past that, the in-order hash matches
# are anchors and each rewritten scene is scored only against
#   * the old scenes in its own gap between anchors, when the gap is small;
#   * in a large gap, first the scenes whose opening or closing words or heading occur once on
#     each side of it and match on content (they cut the gap into small ones), then the old
#     scenes near its relative position in what is left of the gap;
#   * unless it already scores better in its gap than any pair outside a gap can, the few old
#     scenes anywhere in the script nearest its position that have the same heading, and those at
#     the same location (moved and rewritten, perhaps to another time of day).
# All candidates then compete best score first, as before; if the scenes still unmatched are
# few they are scored all against all, and whatever finds no match is added/omitted. Each stage
# costs a bounded number of comparisons per scene, so the total grows linearly with the script.


@dataclass(frozen=True)
class MatchLimits:
    """Bounds on fuzzy comparisons (see the note above); the defaults suit every script size."""

    exhaustive_pairs: int = 10_000  # unmatched new x unmatched old up to this: score every pair
    gap_pairs: int = 1_024  # a gap between anchors with up to this many pairs scores them all
    band: int = 8  # in a larger gap, old scenes this close to a new scene's relative position
    same_place: int = 8  # old scenes with the same heading (and with the same location) tried anywhere


@dataclass
class MatchStats:
    """What one matching did; pass one to ``lock_numbers`` to see it."""

    comparisons: int = 0  # scene pairs scored (each at most two difflib ratios)
    exhaustive: bool = True  # every leftover pair was scored (False: the anchored, bounded search)
    anchors: int = 0  # rewritten scenes paired through a key found once on each side of a large gap


class _Scorer:
    """Scores (new i, old j), counting each pair: heading and word-sketch similarity (difflib),
    a bonus for sitting between the same surviving neighbours, a penalty for distance in the script.

    The difflib matchers keep the last old scene loaded, and a pair that cannot reach the floor
    even at difflib's upper bounds (``real_quick_ratio``, ``quick_ratio``) skips the full ratio:
    the scores, and so the matches, are those of scoring every pair in full.
    """

    def __init__(self, old: list[SceneBreakdown], new: list[SceneBreakdown], pairs: dict[int, int],
                 stats: MatchStats) -> None:
        self.old, self.new, self.stats = old, new, stats
        self.old_headings = [s.heading.lower() for s in old]
        self.new_headings = [s.heading.lower() for s in new]
        # old positions of the hash-matched scenes just before and after each new scene
        self.before = [-1] * len(new)
        self.after = [len(old)] * len(new)
        last = -1
        for i in range(len(new)):
            self.before[i] = last
            last = pairs.get(i, last)
        last = len(old)
        for i in range(len(new) - 1, -1, -1):
            self.after[i] = last
            last = pairs.get(i, last)
        self._heading = SequenceMatcher(None, autojunk=False)
        self._body = SequenceMatcher(None, autojunk=False)
        self._loaded = -1

    def score(self, i: int, j: int, floor: float = MATCH_THRESHOLD) -> float | None:
        """The pair's score, or None when it is under ``floor``."""
        self.stats.comparisons += 1
        if self._loaded != j:
            self._heading.set_seq2(self.old_headings[j])
            self._body.set_seq2(self.old[j].text_sketch)
            self._loaded = j
        same_gap = self.before[i] < j < self.after[i]
        penalty = _ORDER_PENALTY * abs(i / max(1, len(self.new)) - j / max(1, len(self.old)))

        def total(heading: float, body: float) -> float:  # the same float steps for bounds and scores
            score = _HEADING_WEIGHT * heading + _BODY_WEIGHT * body
            if same_gap:  # sits where the old scene sat between surviving neighbours
                score += _SAME_GAP_BONUS
            return score - penalty

        self._heading.set_seq1(self.new_headings[i])
        heading = self._heading.ratio()
        if total(heading, 1.0) < floor:
            return None
        body = 0.0
        if self.new[i].text_sketch or self.old[j].text_sketch:
            sm = self._body
            sm.set_seq1(self.new[i].text_sketch)
            if total(heading, sm.real_quick_ratio()) < floor or total(heading, sm.quick_ratio()) < floor:
                return None
            body = sm.ratio()
        score = total(heading, body)
        return score if score >= floor else None

    def score_all(self, candidates: Iterable[tuple[int, int]]) -> list[tuple[float, int, int]]:
        """(score, i, j) for each (i, j) that reaches MATCH_THRESHOLD; old-major keeps a scene loaded."""
        scored = []
        for i, j in sorted(candidates, key=lambda p: (p[1], p[0])):
            score = self.score(i, j)
            if score is not None:
                scored.append((score, i, j))
        return scored


def _take_best(scored: list[tuple[float, int, int]], pairs: dict[int, int], score_of: dict[int, float],
               taken_old: set[int]) -> None:
    """Best score first: pair each new scene with the best old scene not yet taken."""
    scored.sort(key=lambda t: (-t[0], t[1], t[2]))
    for score, i, j in scored:
        if i not in pairs and j not in taken_old:
            pairs[i] = j
            taken_old.add(j)
            score_of[i] = min(score, 0.999)


def _match(old: list[SceneBreakdown], new: list[SceneBreakdown], limits: MatchLimits | None = None,
           stats: MatchStats | None = None) -> tuple[dict[int, int], dict[int, float]]:
    """new index -> old index, and each pair's similarity (1.0 for identical content)."""
    limits = limits or MatchLimits()
    stats = stats if stats is not None else MatchStats()
    pairs: dict[int, int] = {}
    score_of: dict[int, float] = {}
    by_hash: dict[str, deque[int]] = {}
    for j, s in enumerate(old):
        by_hash.setdefault(s.content_hash, deque()).append(j)
    for i, s in enumerate(new):
        candidates = by_hash.get(s.content_hash)
        if candidates:
            pairs[i] = candidates.popleft()
            score_of[i] = 1.0
    free_new = [i for i in range(len(new)) if i not in pairs]
    taken_old = set(pairs.values())
    free_old = [j for j in range(len(old)) if j not in taken_old]
    if not free_new or not free_old:
        return pairs, score_of
    scorer = _Scorer(old, new, pairs, stats)
    if len(free_new) * len(free_old) <= limits.exhaustive_pairs:
        _take_best(scorer.score_all((i, j) for i in free_new for j in free_old), pairs, score_of, taken_old)
        return pairs, score_of

    stats.exhaustive = False
    wanted: set[tuple[int, int]] = set()
    for news, olds in _gaps(pairs, free_new, free_old, len(new), len(old)):
        for gap_new, gap_old in _cut_gap(news, olds, limits, scorer, pairs, score_of, taken_old):
            if _all_pairs_affordable(len(gap_new), len(gap_old), limits):
                wanted.update((i, j) for i in gap_new for j in gap_old)
            else:
                wanted.update(_band(gap_new, gap_old, limits.band))
    scored = scorer.score_all(wanted)
    # A scene that scores this well in its own gap can score no better anywhere else (only its
    # own gap earns the bonus): no need to look for it elsewhere.
    settled = {i for score, i, _ in scored if score >= _HEADING_WEIGHT + _BODY_WEIGHT}
    elsewhere = _same_place(scorer, [i for i in free_new if i not in pairs and i not in settled],
                            [j for j in free_old if j not in taken_old], limits.same_place)
    _take_best(scored + scorer.score_all(elsewhere - wanted), pairs, score_of, taken_old)
    wanted |= elsewhere

    left_new = [i for i in free_new if i not in pairs]
    left_old = [j for j in free_old if j not in taken_old]
    if left_new and left_old and len(left_new) * len(left_old) <= limits.exhaustive_pairs:
        _take_best(scorer.score_all((i, j) for i in left_new for j in left_old if (i, j) not in wanted),
                   pairs, score_of, taken_old)
    return pairs, score_of


def _all_pairs_affordable(n: int, m: int, limits: MatchLimits) -> bool:
    """Scoring all n x m pairs costs at most a small, fixed number of comparisons per scene."""
    return n * m <= max(limits.gap_pairs, (2 * limits.band + 1) * (n + m))


def _gaps(pairs: dict[int, int], free_new: list[int], free_old: list[int], n_new: int,
          n_old: int) -> list[tuple[list[int], list[int]]]:
    """The unmatched scenes between consecutive in-order hash matches, as (new, old) position lists."""
    order = sorted(pairs)
    keep = _longest_increasing([pairs[i] for i in order])
    anchors = [(order[p], pairs[order[p]]) for p in sorted(keep)]
    return _split(free_new, free_old, anchors + [(n_new, n_old)])


def _split(news: list[int], olds: list[int],
           anchors: list[tuple[int, int]]) -> list[tuple[list[int], list[int]]]:
    """The (new, old) gaps with scenes on both sides between in-order anchors (anchors left out)."""
    taken_new = {i for i, _ in anchors}
    taken_old = {j for _, j in anchors}
    gaps: list[tuple[list[int], list[int]]] = []
    a = b = 0
    for anchor_new, anchor_old in [*anchors, (float("inf"), float("inf"))]:
        gap_new: list[int] = []
        gap_old: list[int] = []
        while a < len(news) and news[a] < anchor_new:
            if news[a] not in taken_new:
                gap_new.append(news[a])
            a += 1
        while b < len(olds) and olds[b] < anchor_old:
            if olds[b] not in taken_old:
                gap_old.append(olds[b])
            b += 1
        if gap_new and gap_old:
            gaps.append((gap_new, gap_old))
    return gaps


def _place(s: SceneBreakdown) -> str:
    return (s.location or s.heading).lower()


def _same_place(scorer: _Scorer, news: list[int], olds: list[int], k: int) -> set[tuple[int, int]]:
    """Each new scene with the ``k`` old scenes nearest its relative position that have its heading,
    and the ``k`` that have its location."""
    found: set[tuple[int, int]] = set()
    scale = len(scorer.old) / max(1, len(scorer.new))
    for key in (_heading_key, _place):
        buckets: dict[str, list[int]] = {}
        for j in olds:  # ascending, so each bucket is in old order
            buckets.setdefault(key(scorer.old[j]), []).append(j)
        for i in news:
            bucket = buckets.get(key(scorer.new[i]))
            if bucket:
                start = max(0, bisect_left(bucket, int(i * scale)) - k // 2)
                found.update((i, j) for j in bucket[start:start + k])
    return found


def _opening(s: SceneBreakdown) -> tuple[str, ...]:
    return tuple(s.text_sketch[:_KEY_WORDS])


def _closing(s: SceneBreakdown) -> tuple[str, ...]:
    return tuple(s.text_sketch[-_KEY_WORDS:])


def _heading_key(s: SceneBreakdown) -> str:
    return s.heading.lower()


def _cut_gap(news: list[int], olds: list[int], limits: MatchLimits, scorer: _Scorer,
             pairs: dict[int, int], score_of: dict[int, float],
             taken_old: set[int]) -> list[tuple[list[int], list[int]]]:
    """A large gap cut at rewritten scenes that a key found once on each side pairs up in order.

    Each key (opening words, closing words, heading) makes one pass over the gaps still too large
    to score in full. A pair is an anchor only when its content alone makes it a match (no credit
    for sharing the gap), so each scene costs at most one comparison per key.
    """
    done: list[tuple[list[int], list[int]]] = []
    todo = [(news, olds)]
    for key in (_opening, _closing, _heading_key):
        later: list[tuple[list[int], list[int]]] = []
        for gap_new, gap_old in todo:
            if _all_pairs_affordable(len(gap_new), len(gap_old), limits):
                done.append((gap_new, gap_old))
                continue
            found = _unique_key_pairs(gap_new, gap_old, key, scorer)
            for score, i, j in found:
                pairs[i] = j
                taken_old.add(j)
                score_of[i] = min(score, 0.999)
            scorer.stats.anchors += len(found)
            later.extend(_split(gap_new, gap_old, [(i, j) for _, i, j in found]) if found else [(gap_new, gap_old)])
        todo = later
    return done + todo


def _unique_key_pairs(news: list[int], olds: list[int], key: Callable[[SceneBreakdown], Any],
                      scorer: _Scorer) -> list[tuple[float, int, int]]:
    """In-order pairs whose key occurs once among ``news`` and once among ``olds``, that match on content."""
    def once(positions: list[int], scenes: list[SceneBreakdown]) -> dict[Any, int]:
        seen: dict[Any, int] = {}
        for p in positions:
            k = key(scenes[p])
            seen[k] = -1 if k in seen else p
        return {k: p for k, p in seen.items() if p >= 0}

    old_once = once(olds, scorer.old)
    candidates = sorted((i, old_once[k]) for k, i in once(news, scorer.new).items() if k in old_once)
    in_order = _longest_increasing([j for _, j in candidates])
    found: list[tuple[float, int, int]] = []
    for p in sorted(in_order):
        i, j = candidates[p]
        score = scorer.score(i, j, MATCH_THRESHOLD + _SAME_GAP_BONUS)
        if score is not None:
            found.append((score, i, j))
    return found


def _band(news: list[int], olds: list[int], band: int) -> Iterator[tuple[int, int]]:
    """Each new scene with the old scenes within ``band`` of the same relative position in the gap."""
    step = len(olds) / len(news)
    for r, i in enumerate(news):
        centre = int((r + 0.5) * step)
        for j in olds[max(0, centre - band):centre + band + 1]:
            yield i, j


def _longest_increasing(values: list[int]) -> set[int]:
    """Positions (into ``values``) of one longest strictly increasing subsequence."""
    tails: list[int] = []
    tail_pos: list[int] = []
    parent = [-1] * len(values)
    for pos, v in enumerate(values):
        k = bisect_left(tails, v)
        if k == len(tails):
            tails.append(v)
            tail_pos.append(pos)
        else:
            tails[k] = v
            tail_pos[k] = pos
        parent[pos] = tail_pos[k - 1] if k else -1
    keep: set[int] = set()
    pos = tail_pos[-1] if tail_pos else -1
    while pos != -1:
        keep.add(pos)
        pos = parent[pos]
    return keep


# --------------------------------------------------------------------------- numbering

def _next_letters(s: str) -> str:
    """"" -> "A", "A" -> "B", "Z" -> "AA", "AZ" -> "BA"."""
    if not s:
        return "A"
    chars = list(s)
    i = len(chars) - 1
    while i >= 0:
        if chars[i] != "Z":
            chars[i] = chr(ord(chars[i]) + 1)
            return "".join(chars)
        chars[i] = "A"
        i -= 1
    return "A" + "".join(chars)


def _letters_key(s: str) -> tuple[int, str]:
    return (len(s), s)


def _insert_number(prev: str | None, nxt: str | None, used: set[str]) -> str:
    """The locked number for a scene inserted between ``prev`` and ``nxt``."""
    if prev is None:
        m = _NUMBER_RE.match(nxt or "")
        if m is None:
            base = nxt or "1"
            letters = "A"
            while f"{letters}{base}" in used:
                letters = _next_letters(letters)
            return f"{letters}{base}"
        prefix, digits, suffix = m.groups()
        letters = "A"
        while True:  # A1, B1 ... but before an existing prefix (A1 exists before 1 -> insert before A1 is rare)
            candidate = f"{letters}{digits}{suffix}"
            if candidate not in used:
                return candidate
            letters = _next_letters(letters)
    m = _NUMBER_RE.match(prev)
    if m is None:
        letters = "A"
        while f"{prev}{letters}" in used:
            letters = _next_letters(letters)
        return f"{prev}{letters}"
    prefix, digits, suffix = m.groups()
    nxt_m = _NUMBER_RE.match(nxt or "")
    if prefix:  # after "A1" and before "1": "B1"
        letters = _next_letters(prefix)
        candidate = f"{letters}{digits}{suffix}"
        blocked = nxt_m is not None and nxt_m.group(2) == digits and nxt_m.group(1) \
            and _letters_key(nxt_m.group(1)) <= _letters_key(letters)
        if candidate not in used and not blocked:
            return candidate
        return _insert_number_extend(prev, used)
    letters = _next_letters(suffix)
    blocked = (nxt_m is not None and nxt_m.group(2) == digits and not nxt_m.group(1)
               and nxt_m.group(3) and _letters_key(nxt_m.group(3)) <= _letters_key(letters))
    candidate = f"{digits}{letters}"
    if candidate not in used and not blocked:
        return candidate
    return _insert_number_extend(prev, used)


def _insert_number_extend(prev: str, used: set[str]) -> str:
    """No room between two lettered scenes (5A, 5B): extend the earlier one (5AA, 5AB ...)."""
    letters = "A"
    while f"{prev}{letters}" in used:
        letters = _next_letters(letters)
    return f"{prev}{letters}"


def _placeholder(old: SceneBreakdown) -> SceneBreakdown:
    return SceneBreakdown(
        number=old.number, index=-1, heading="OMITTED", int_ext="", location="", time_of_day="",
        eighths=0, page_start=0, est_seconds=0.0, speaking_cast=[], nonspeaking_cast=[], elements=[],
        source_line=0, content_hash=old.content_hash, omitted=True, text_sketch=[],
    )


def _copy_scene(s: SceneBreakdown) -> SceneBreakdown:
    """A copy sharing nothing mutable with ``s``: what deepcopy gives, at a fifth of its cost (a scene
    holds strings and numbers, lists of strings, and elements whose fields are all immutable)."""
    elements = []
    for e in s.elements:  # copy.copy, minus its generic machinery (a 10 MB script has 225,000)
        c = object.__new__(type(e))
        c.__dict__.update(vars(e))
        elements.append(c)
    return replace(s, speaking_cast=list(s.speaking_cast), nonspeaking_cast=list(s.nonspeaking_cast),
                   elements=elements, text_sketch=list(s.text_sketch))


def _element_key(e: BreakdownElement, key_of: dict[tuple[str, str], str]) -> str:
    """``e.key``, remembered: the same names recur in scene after scene, and each costs two regexes."""
    key = key_of.get((e.category, e.name))
    if key is None:
        key = key_of[(e.category, e.name)] = e.key
    return key


def lock_numbers(old: Breakdown, new: Breakdown, *, limits: MatchLimits | None = None,
                 stats: MatchStats | None = None) -> tuple[Breakdown, RevisionReport]:
    """``new`` renumbered against ``old`` under locked numbering, with OMITTED placeholders.

    ``limits`` bounds the fuzzy comparisons (the defaults suit every size); ``stats``, when
    given, is filled in with what the matching did.
    """
    if old.scenes and any(s.omitted for s in new.scenes):
        # "5 OMITTED" headings in the new file (a locked export read back in) restate cuts the old
        # draft already records; its placeholders are placed from the old draft below.
        new = replace(new, scenes=[s for s in new.scenes if not s.omitted])
    old_live = [s for s in old.scenes if not s.omitted]
    pairs, scores = _match(old_live, new.scenes, limits, stats)
    order = sorted(pairs)
    in_order = _longest_increasing([pairs[i] for i in order])
    moved_new = {order[p] for p in range(len(order)) if p not in in_order}

    # Place every old scene that did not survive right after the surviving old scene before it.
    old_to_new = {id(old_live[j]): i for i, j in pairs.items()}
    anchored: dict[int | None, list[SceneBreakdown]] = {}
    anchor: int | None = None
    for s in old.scenes:
        if id(s) in old_to_new:
            anchor = old_to_new[id(s)]
        else:
            anchored.setdefault(anchor, []).append(s)

    sequence: list[tuple[str, SceneBreakdown, SceneBreakdown | None]] = []  # (kind, scene, old)
    for s in anchored.get(None, []):
        sequence.append(("omitted", s, s))
    for i, s in enumerate(new.scenes):
        sequence.append(("kept" if i in pairs else "added", s, old_live[pairs[i]] if i in pairs else None))
        for o in anchored.get(i, []):
            sequence.append(("omitted", o, o))

    used = {s.number for s in old.scenes}
    numbers: list[str | None] = [
        (old_s.number if kind != "added" and old_s is not None else None) for kind, _, old_s in sequence
    ]
    following: list[str | None] = [None] * len(sequence)  # the next kept or omitted number after each position
    upcoming: str | None = None
    for pos in range(len(sequence) - 1, -1, -1):
        following[pos] = upcoming
        if numbers[pos] is not None:
            upcoming = numbers[pos]
    no_old = not old.scenes
    for pos, (kind, scene, _) in enumerate(sequence):
        if kind != "added":
            continue
        if no_old:
            numbers[pos] = scene.number
            continue
        prev = numbers[pos - 1] if pos else None
        numbers[pos] = _insert_number(prev, following[pos], used)
        used.add(numbers[pos])

    scenes: list[SceneBreakdown] = []
    changes: list[SceneChange] = []
    new_index = {id(s): i for i, s in enumerate(new.scenes)}
    key_of: dict[tuple[str, str], str] = {}
    for (kind, scene, old_s), number in zip(sequence, numbers):
        assert number is not None
        if kind == "omitted":
            scenes.append(_placeholder(scene) if not scene.omitted else _copy_scene(scene))
            if not scene.omitted:  # already-omitted placeholders are not news in this draft
                changes.append(SceneChange("omitted", scene.number, number, scene.heading, similarity=0.0))
            continue
        copied = _copy_scene(scene)
        copied.number = number
        scenes.append(copied)
        i = new_index[id(scene)]
        keys = tuple(_element_key(e, key_of) for e in scene.elements if e.origin == "rule")
        if kind == "added":
            changes.append(SceneChange("added", None, number, scene.heading, similarity=0.0,
                                       new_index=i, rule_keys=keys))
        else:
            assert old_s is not None
            status = "unchanged" if old_s.content_hash == scene.content_hash else "changed"
            changes.append(SceneChange(status, old_s.number, number, scene.heading, moved=i in moved_new,
                                       similarity=scores.get(i, 1.0), new_index=i, rule_keys=keys))
    locked = Breakdown(title=new.title, scenes=scenes, page_count=new.page_count, tagger=new.tagger)
    return locked, RevisionReport(changes)


def compare_drafts(old: Breakdown, new_sp: Screenplay | Breakdown, pagination: Any = None) -> RevisionReport:
    """What changed between the old breakdown and a new draft (scene numbers locked)."""
    if isinstance(new_sp, Screenplay):
        new_bd = break_down(new_sp, pagination)
    else:
        new_bd = new_sp
    return lock_numbers(old, new_bd)[1]


def carry_edits(edits: list[BreakdownEdit], report: RevisionReport) -> tuple[list[BreakdownEdit], list[BreakdownEdit]]:
    """Split a draft's edits into those that still hold for the new draft and those dropped.

    Unchanged scenes keep every edit. Changed scenes keep "add" edits, and "remove"/"retag"
    edits only while the rules still find that element there. Edits on omitted or unknown
    scenes are dropped. Kept edits are re-addressed to the scene's locked number.
    """
    kept: list[BreakdownEdit] = []
    dropped: list[BreakdownEdit] = []
    for edit in edits:
        change = report.for_old_number(str(edit.scene).strip())
        if change is None or change.status in ("omitted", "added"):
            dropped.append(edit)
            continue
        if change.status == "changed" and edit.action != "add" and edit.key not in change.rule_keys:
            dropped.append(edit)
            continue
        if change.new_number != edit.scene:
            edit = BreakdownEdit(change.new_number, edit.action, edit.category, edit.name,
                                 edit.new_category, edit.note)
        kept.append(edit)
    return kept, dropped


# --------------------------------------------------------------------------- locked scripts

def is_omitted_heading(text: str) -> bool:
    """``OMITTED`` (or ``OMIT``) as a whole scene heading: how a locked script prints a cut scene."""
    return " ".join(text.upper().split()) in _OMITTED_WORDS


def mark_omitted(bd: Breakdown) -> Breakdown:
    """Turn "5 OMITTED" scenes of a locked script (a heading ``OMITTED`` and nothing under it)
    into OMITTED placeholders keeping their number, so a locked export read back counts them
    as cut scenes rather than live ones."""
    for k, scene in enumerate(bd.scenes):
        words = len(scene.heading.split())
        if (not scene.omitted and is_omitted_heading(scene.heading) and len(scene.text_sketch) <= words
                and not scene.speaking_cast and not scene.nonspeaking_cast):
            bd.scenes[k] = _placeholder(scene)
    return bd


def numbered_screenplay(sp: Screenplay, bd: Breakdown) -> Screenplay:
    """``sp`` as the locked script of its breakdown ``bd``: each heading carries its locked
    number (1, 2, 2A, A1 ...) and each cut scene is an ``OMITTED`` heading with its number,
    where the production office's breakdown shows it. ``bd`` must be the breakdown of ``sp``
    (its live scenes point at ``sp``'s scenes by index)."""
    headings = [i for i, el in enumerate(sp.elements) if el.kind is ElementKind.SCENE_HEADING]
    number_of: dict[int, str] = {}
    before: dict[int, list[str]] = {}
    pending: list[str] = []
    for scene in bd.scenes:
        if scene.omitted:
            pending.append(scene.number)
            continue
        if not 0 <= scene.index < len(headings) or scene.index in number_of:
            raise SpecError(f"breakdown scene {scene.number} points at scene {scene.index + 1}, "
                            f"which this draft's text does not have",
                            hint="export the draft the breakdown was made from")
        number_of[scene.index] = scene.number
        before[scene.index] = pending
        pending = []
    out: list[Element] = list(sp.elements[: headings[0]] if headings else sp.elements)
    for k, start in enumerate(headings):
        end = headings[k + 1] if k + 1 < len(headings) else len(sp.elements)
        if k not in number_of:
            if not is_omitted_heading(sp.elements[start].text):
                raise SpecError(f"scene {k + 1} ({sp.elements[start].text}) is missing from the breakdown",
                                hint="export the draft the breakdown was made from")
            continue  # an OMITTED heading of the source, restated from the breakdown instead
        out.extend(_omitted_element(n, sp.elements[start].line) for n in before[k])
        out.append(replace(sp.elements[start], scene_number=number_of[k]))
        out.extend(sp.elements[start + 1:end])
    out.extend(_omitted_element(n, 0) for n in pending)
    return Screenplay(title_page=dict(sp.title_page), elements=out, source_name=sp.source_name)


def _omitted_element(number: str, line: int) -> Element:
    return Element(kind=ElementKind.SCENE_HEADING, text=OMITTED_HEADING, line=line, forced=True,
                   scene_number=number)
