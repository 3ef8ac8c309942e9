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

import copy
import re
from bisect import bisect_left
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any

from soundstage.domain.breakdown import Breakdown, BreakdownEdit, SceneBreakdown
from soundstage.domain.screenplay import Screenplay

MATCH_THRESHOLD = 0.5
_HEADING_WEIGHT = 0.35
_BODY_WEIGHT = 0.65
_SAME_GAP_BONUS = 0.2
_ORDER_PENALTY = 0.1
_NUMBER_RE = re.compile(r"^([A-Z]*)(\d+)([A-Z]*)$")


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

def _similarity(a: SceneBreakdown, b: SceneBreakdown) -> tuple[float, float]:
    heading = SequenceMatcher(None, a.heading.lower(), b.heading.lower(), autojunk=False).ratio()
    if a.text_sketch or b.text_sketch:
        body = SequenceMatcher(None, a.text_sketch, b.text_sketch, autojunk=False).ratio()
    else:
        body = 0.0
    return heading, body


def _match(old: list[SceneBreakdown], new: list[SceneBreakdown]) -> tuple[dict[int, int], dict[int, float]]:
    """new index -> old index, and each pair's similarity (1.0 for identical content)."""
    pairs: dict[int, int] = {}
    score_of: dict[int, float] = {}
    by_hash: dict[str, list[int]] = {}
    for j, s in enumerate(old):
        by_hash.setdefault(s.content_hash, []).append(j)
    for i, s in enumerate(new):
        candidates = by_hash.get(s.content_hash)
        if candidates:
            pairs[i] = candidates.pop(0)
            score_of[i] = 1.0
    free_new = [i for i in range(len(new)) if i not in pairs]
    used_old = set(pairs.values())
    free_old = [j for j in range(len(old)) if j not in used_old]
    if not free_new or not free_old:
        return pairs, score_of

    def bracket(i: int) -> tuple[int, int]:
        """Old positions of the matched scenes just before and after new scene i."""
        before = next((pairs[k] for k in range(i - 1, -1, -1) if k in pairs), -1)
        after = next((pairs[k] for k in range(i + 1, len(new)) if k in pairs), len(old))
        return before, after

    scored: list[tuple[float, int, int]] = []
    for i in free_new:
        before, after = bracket(i)
        for j in free_old:
            heading, body = _similarity(new[i], old[j])
            score = _HEADING_WEIGHT * heading + _BODY_WEIGHT * body
            if before < j < after:  # sits where the old scene sat between surviving neighbours
                score += _SAME_GAP_BONUS
            score -= _ORDER_PENALTY * abs(i / max(1, len(new)) - j / max(1, len(old)))
            if score >= MATCH_THRESHOLD:
                scored.append((score, i, j))
    scored.sort(key=lambda t: (-t[0], t[1], t[2]))
    taken_old: set[int] = set()
    for score, i, j in scored:
        if i not in pairs and j not in taken_old:
            pairs[i] = j
            taken_old.add(j)
            score_of[i] = min(score, 0.999)
    return pairs, score_of


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


def lock_numbers(old: Breakdown, new: Breakdown) -> tuple[Breakdown, RevisionReport]:
    """``new`` renumbered against ``old`` under locked numbering, with OMITTED placeholders."""
    old_live = [s for s in old.scenes if not s.omitted]
    pairs, scores = _match(old_live, new.scenes)
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
    no_old = not old.scenes
    for pos, (kind, scene, _) in enumerate(sequence):
        if kind != "added":
            continue
        if no_old:
            numbers[pos] = scene.number
            continue
        prev = numbers[pos - 1] if pos else None
        nxt = next((n for n in numbers[pos + 1:] if n is not None), None)
        numbers[pos] = _insert_number(prev, nxt, used)
        used.add(numbers[pos])

    scenes: list[SceneBreakdown] = []
    changes: list[SceneChange] = []
    new_index = {id(s): i for i, s in enumerate(new.scenes)}
    for (kind, scene, old_s), number in zip(sequence, numbers):
        assert number is not None
        if kind == "omitted":
            scenes.append(_placeholder(scene) if not scene.omitted else copy.deepcopy(scene))
            if not scene.omitted:  # already-omitted placeholders are not news in this draft
                changes.append(SceneChange("omitted", scene.number, number, scene.heading, similarity=0.0))
            continue
        copied = copy.deepcopy(scene)
        copied.number = number
        scenes.append(copied)
        i = new_index[id(scene)]
        keys = tuple(e.key for e in scene.elements if e.origin == "rule")
        if kind == "added":
            changes.append(SceneChange("added", None, number, scene.heading, similarity=0.0,
                                       new_index=i, rule_keys=keys))
        else:
            assert old_s is not None
            status = "unchanged" if old_s.content_hash == scene.content_hash else "changed"
            changes.append(SceneChange(status, old_s.number, number, scene.heading, moved=i in moved_new,
                                       similarity=scores.get(i, 1.0), new_index=i, rule_keys=keys))
    locked = Breakdown(title=new.title, scenes=scenes, page_count=new.page_count)
    return locked, RevisionReport(changes)


def compare_drafts(old: Breakdown, new_sp: Screenplay | Breakdown, pagination: Any = None) -> RevisionReport:
    """What changed between the old breakdown and a new draft (scene numbers locked)."""
    if isinstance(new_sp, Screenplay):
        from soundstage.script.breakdown import break_down
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
