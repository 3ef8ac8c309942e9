"""Which registered performers a job involves without listing them: named in its text, shown in its inputs.

Pure: no database, no I/O. ``resolve.decide`` builds the production's roster (every registered
performer's name, stage name and aliases) and the faces found in the job's stored inputs
(``safeguards.faces_seen``), and passes the result to the policy engine, whose rules deny a job
that involves a performer it does not list (DR019).

Name matching, chosen so that a requester cannot dodge it by spelling and a word that merely
contains a name does not trip it:

- every free-text field is read: the prompt and every string anywhere in the parameters
  (negative prompt, a caption, a style note...), keys included;
- both sides are normalised the same way: NFKC, case-folded, accents dropped, zero-width and other
  format characters removed, common Cyrillic/Greek letters that look Latin mapped to the Latin
  letter, then split into words of letters and digits (so punctuation, hyphens, underscores and
  apostrophes separate words: "Ana Ruiz's" and "ANA-RUIZ" both hold the words "ana ruiz");
- a name matches a run of whole words, so "Ruizberg" does not match "Ruiz";
- a name of one word shorter than ``MIN_SINGLE_WORD`` characters is not matched on its own (it
  would deny every prompt with an ordinary short word in it); its full name still is.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Iterable, Iterator, Mapping

__all__ = ["RosterEntry", "Involvement", "Sighting", "normalise_words", "names_in_job", "NameIndex",
           "MIN_SINGLE_WORD", "MAX_SCANNED_CHARS", "index_for"]

#: a single-word name shorter than this is not matched alone ("Al", "Jo", "Sky" would match ordinary words)
MIN_SINGLE_WORD = 4
#: free text read per job; JobSpec bounds its fields far below this, the bound is a second line
MAX_SCANNED_CHARS = 1_000_000

# Letters from other scripts drawn like Latin ones (a small confusables table: the common lookalikes
# of Unicode's confusables.txt for Cyrillic and Greek; the whole table is not needed to stop
# "Аna Ruiz" written with a Cyrillic A).
_CONFUSABLES = str.maketrans({
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c",
    "т": "t", "у": "y", "х": "x", "і": "i", "ї": "i", "ј": "j", "ѕ": "s", "ԁ": "d", "ӏ": "l", "һ": "h",
    "ԛ": "q", "ԝ": "w", "ɑ": "a", "ο": "o", "α": "a", "ν": "v", "ρ": "p", "ι": "i", "κ": "k", "τ": "t",
    "υ": "u", "χ": "x", "β": "b", "ε": "e", "η": "n", "μ": "u", "ϲ": "c", "ϳ": "j", "ı": "i",
})


def normalise_words(text: str) -> tuple[str, ...]:
    """The words of ``text`` after NFKC, case-folding, accent and format-character removal and
    confusable mapping; anything that is not a letter or digit separates words."""
    folded = unicodedata.normalize("NFKC", text).casefold().translate(_CONFUSABLES)
    kept: list[str] = []
    for ch in unicodedata.normalize("NFKD", folded):
        cat = unicodedata.category(ch)
        if cat.startswith("M") or cat == "Cf":  # accents, zero-width joiners/spaces, soft hyphens
            continue
        kept.append(ch if ch.isalnum() else " ")
    return tuple("".join(kept).translate(_CONFUSABLES).split())


@dataclass(frozen=True)
class RosterEntry:
    """A registered performer and every name they are known by."""

    performer_id: str
    display: str
    names: tuple[str, ...]


@dataclass(frozen=True)
class Sighting:
    """A registered performer's face found in one of a job's inputs."""

    input_ref: str
    input_kind: str  # the asset's kind: plate, reference, element, generated ...
    distance: float

    def to_dict(self) -> dict[str, Any]:
        return {"input": self.input_ref, "kind": self.input_kind, "distance": round(self.distance, 3)}


@dataclass(frozen=True)
class Involvement:
    """Registered performers a job involves, by how: named (where) and shown (in which input)."""

    named: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # performer id -> fields naming them
    shown: Mapping[str, tuple[Sighting, ...]] = field(default_factory=dict)  # performer id -> sightings
    display: Mapping[str, str] = field(default_factory=dict)  # performer id -> name, for the reasons

    def named_unlisted(self, listed: Iterable[str]) -> dict[str, tuple[str, ...]]:
        ids = set(listed)
        return {pid: where for pid, where in self.named.items() if pid not in ids}

    def shown_unlisted(self, listed: Iterable[str]) -> dict[str, tuple[Sighting, ...]]:
        ids = set(listed)
        return {pid: seen for pid, seen in self.shown.items() if pid not in ids}

    def label(self, pid: str) -> str:
        name = self.display.get(pid)
        return f"{name} ({pid})" if name else pid

    def to_dict(self) -> dict[str, Any]:
        return {"named": {k: list(v) for k, v in sorted(self.named.items())},
                "shown": {k: [s.to_dict() for s in v] for k, v in sorted(self.shown.items())}}


class NameIndex:
    """Every name of a roster, indexed by its first word, for one linear pass over a text."""

    def __init__(self, roster: Iterable[RosterEntry]) -> None:
        self.display: dict[str, str] = {}
        self._by_first: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        for entry in roster:
            self.display[entry.performer_id] = entry.display
            for name in entry.names:
                words = normalise_words(name)
                if not words or (len(words) == 1 and len(words[0]) < MIN_SINGLE_WORD):
                    continue
                self._by_first.setdefault(words[0], []).append((words, entry.performer_id))
        for candidates in self._by_first.values():
            candidates.sort(key=lambda c: -len(c[0]))

    def __bool__(self) -> bool:
        return bool(self._by_first)

    def find(self, text: str) -> set[str]:
        """Performer ids whose names occur in ``text`` as whole words."""
        words = normalise_words(text[:MAX_SCANNED_CHARS])
        found: set[str] = set()
        for i, word in enumerate(words):
            for name, pid in self._by_first.get(word, ()):
                if words[i:i + len(name)] == name:
                    found.add(pid)
        return found


@lru_cache(maxsize=32)
def index_for(roster: tuple[RosterEntry, ...]) -> NameIndex:
    """The index of a roster, cached: a production's roster changes rarely, a job is decided often
    (building one costs ~0.15 ms per performer)."""
    return NameIndex(roster)


def _texts(value: Any, where: str, depth: int = 0) -> Iterator[tuple[str, str]]:
    """(where, text) for every string in a parameter value, keys included (bounded depth)."""
    if depth > 16:
        return
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield where, str(key)
            yield from _texts(item, f"{where}.{key}", depth + 1)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _texts(item, f"{where}[{index}]", depth + 1)


def names_in_job(prompt: str, params: Mapping[str, Any], index: NameIndex) -> dict[str, tuple[str, ...]]:
    """performer id -> the fields of the job that name them (``prompt``, ``params.negative_prompt``...)."""
    if not index:
        return {}
    hits: dict[str, list[str]] = {}
    for where, text in [("prompt", prompt), *_texts(dict(params), "params")]:
        for pid in index.find(text):
            places = hits.setdefault(pid, [])
            if where not in places:
                places.append(where)
    return {pid: tuple(places) for pid, places in sorted(hits.items())}
