"""The production breakdown as data: what each scene needs on the day.

Pure nouns, no I/O. Everything round-trips through plain dicts (``to_dict``/``from_dict``)
so the lead can store a breakdown and the user's edits in the database and rebuild them
after every re-run of the rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Iterator

from soundstage.errors import SpecError

SCHEMA = "Breakdown.1"
# The rules that made a breakdown stored before breakdowns carried their tagger's version.
LEGACY_TAGGER = "rules.1"


class Category(StrEnum):
    CAST = "cast"
    EXTRAS = "extras"
    PROPS = "props"
    WARDROBE = "wardrobe"
    MAKEUP_HAIR = "makeup_hair"
    VEHICLES = "vehicles"
    ANIMALS = "animals"
    SET_DRESSING = "set_dressing"
    SPECIAL_EFFECTS = "special_effects"
    VISUAL_EFFECTS = "visual_effects"
    STUNTS = "stunts"
    SOUND = "sound"
    MUSIC = "music"


ORIGINS = ("rule", "user")
#: an element a language model suggested (script/assist.py, DR022): "assist:<model id>"
ASSIST_ORIGIN_PREFIX = "assist:"
#: what the assist may say of a rule element it reviewed
REVIEW_VERDICTS = ("not_an_element", "other_category")
EDIT_ACTIONS = ("add", "remove", "retag")

_SPACE = re.compile(r"\s+")
_EDGE_PUNCT = re.compile(r"^[\W_]+|[\W_]+$")


def normalise_name(name: str) -> str:
    """Lower-case, single-spaced, no edge punctuation: "The  Gun!" and "the gun" are one element."""
    return _EDGE_PUNCT.sub("", _SPACE.sub(" ", name.strip().lower()))


def element_key(category: str, name: str) -> str:
    return f"{Category(category)}:{normalise_name(name)}"


def parse_category(value: str, *, field_name: str = "category") -> Category:
    """A category from user input, with a SpecError that lists the valid ones."""
    try:
        return Category(str(value).strip().lower())
    except ValueError:
        raise SpecError(f"unknown category {value!r}", field=field_name,
                        hint="one of: " + ", ".join(c.value for c in Category)) from None


@dataclass
class BreakdownElement:
    category: Category
    name: str
    source_line: int  # 1-based line of the script it came from; 0 when a person added it
    origin: str = "rule"  # "rule" | "user" | "assist:<model id>"
    note: str = ""
    # The assist's review of a rule element (script/assist.py, DR022): {"by": "assist:<model>",
    # "verdict": "not_an_element" | "other_category", "reason": ..., "from": the category it was
    # moved from}; empty when none. A rejected element stays in the breakdown but is left out of
    # the sheets and exports (``SceneBreakdown.in_category``, ``Breakdown.elements``).
    review: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.category.__class__ is not Category:  # a Category is one already (the rules make thousands)
            self.category = parse_category(self.category)
        if self.origin not in ORIGINS and not (self.origin.startswith(ASSIST_ORIGIN_PREFIX)
                                               and len(self.origin) > len(ASSIST_ORIGIN_PREFIX)):
            raise SpecError(f"unknown origin {self.origin!r}", field="origin")
        if not isinstance(self.review, dict) or (self.review and self.review.get("verdict") not in REVIEW_VERDICTS):
            raise SpecError("unknown element review", field="review")

    @property
    def key(self) -> str:
        return element_key(self.category, self.name)

    @property
    def rejected(self) -> bool:
        """The assist said this is not an element: hidden from sheets and exports until a person restores it."""
        return self.review.get("verdict") == "not_an_element"

    def review_text(self) -> str:
        """"rejected by assist:m (reason)" or "moved from props by assist:m (reason)"; "" when not reviewed."""
        if not self.review:
            return ""
        what = "rejected" if self.rejected else f"moved from {self.review.get('from', '?')}"
        return f"{what} by {self.review.get('by', '?')} ({self.review.get('reason', '')})"

    def to_dict(self) -> dict[str, Any]:
        out = {"category": self.category.value, "name": self.name, "source_line": self.source_line,
               "origin": self.origin, "note": self.note}
        if self.review:
            out["review"] = dict(self.review)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "BreakdownElement":
        return cls(category=d["category"], name=d["name"], source_line=int(d.get("source_line", 0)),
                   origin=d.get("origin", "rule"), note=d.get("note", ""),
                   review={str(k): str(v) for k, v in (d.get("review") or {}).items()})


@dataclass
class SceneBreakdown:
    number: str
    index: int  # 0-based position among the script's scenes; -1 for an OMITTED placeholder
    heading: str
    int_ext: str
    location: str
    time_of_day: str
    eighths: int
    page_start: int
    est_seconds: float
    speaking_cast: list[str]
    nonspeaking_cast: list[str]
    elements: list[BreakdownElement]
    source_line: int
    content_hash: str  # sha256 of the scene's normalised text: matches scenes across drafts
    omitted: bool = False
    # A 16-bit hash per normalised word, in order: lets a later draft be compared word by word
    # (difflib) without storing the script's text in the breakdown.
    text_sketch: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.number} OMITTED" if self.omitted else self.number

    @property
    def cast(self) -> list[str]:
        return self.speaking_cast + [c for c in self.nonspeaking_cast if c not in self.speaking_cast]

    def in_category(self, category: str) -> list[BreakdownElement]:
        """The scene's elements of one category, less those the assist rejected (kept in ``elements``)."""
        cat = Category(category)
        return [e for e in self.elements if e.category is cat and not e.rejected]

    def live_elements(self) -> list[BreakdownElement]:
        """What the scene needs: every element but those the assist rejected."""
        return [e for e in self.elements if not e.rejected]

    def find(self, category: str, name: str) -> BreakdownElement | None:
        key = element_key(category, name)
        return next((e for e in self.elements if e.key == key), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number, "index": self.index, "heading": self.heading,
            "int_ext": self.int_ext, "location": self.location, "time_of_day": self.time_of_day,
            "eighths": self.eighths, "page_start": self.page_start, "est_seconds": self.est_seconds,
            "speaking_cast": list(self.speaking_cast), "nonspeaking_cast": list(self.nonspeaking_cast),
            "elements": [e.to_dict() for e in self.elements], "source_line": self.source_line,
            "content_hash": self.content_hash, "omitted": self.omitted,
            "text_sketch": list(self.text_sketch),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SceneBreakdown":
        return cls(
            number=str(d["number"]), index=int(d["index"]), heading=d.get("heading", ""),
            int_ext=d.get("int_ext", ""), location=d.get("location", ""),
            time_of_day=d.get("time_of_day", ""), eighths=int(d.get("eighths", 0)),
            page_start=int(d.get("page_start", 0)), est_seconds=float(d.get("est_seconds", 0.0)),
            speaking_cast=list(d.get("speaking_cast", [])),
            nonspeaking_cast=list(d.get("nonspeaking_cast", [])),
            elements=[BreakdownElement.from_dict(e) for e in d.get("elements", [])],
            source_line=int(d.get("source_line", 0)), content_hash=d.get("content_hash", ""),
            omitted=bool(d.get("omitted", False)), text_sketch=list(d.get("text_sketch", [])),
        )


@dataclass
class Breakdown:
    title: str
    scenes: list[SceneBreakdown]
    page_count: int
    # Which rules made the elements (script/tagger.py TAGGER_VERSION); "rules.1" for older stored ones.
    tagger: str = LEGACY_TAGGER
    # The language-model assist merged into it (script/assist.py, DR022): its version, the model, the
    # job and what it kept and dropped; empty when none was.
    assist: dict[str, Any] = field(default_factory=dict)

    def live_scenes(self) -> list[SceneBreakdown]:
        """Scenes that are shot: OMITTED placeholders left out."""
        return [s for s in self.scenes if not s.omitted]

    def scene(self, number: str) -> SceneBreakdown | None:
        return next((s for s in self.scenes if s.number == number), None)

    def numbers(self) -> list[str]:
        return [s.number for s in self.scenes]

    def total_eighths(self) -> int:
        return sum(s.eighths for s in self.live_scenes())

    def elements(self, category: str | None = None, *,
                 rejected: bool = False) -> Iterator[tuple[SceneBreakdown, BreakdownElement]]:
        """Every element of the shot scenes; those the assist rejected only with ``rejected``."""
        for s in self.live_scenes():
            for e in s.elements:
                if (category is None or e.category == category) and (rejected or not e.rejected):
                    yield s, e

    def to_dict(self) -> dict[str, Any]:
        out = {"schema": SCHEMA, "title": self.title, "page_count": self.page_count, "tagger": self.tagger,
               "scenes": [s.to_dict() for s in self.scenes]}
        if self.assist:
            out["assist"] = dict(self.assist)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Breakdown":
        if d.get("schema") != SCHEMA:
            raise SpecError(f"not a breakdown (schema {d.get('schema')!r}, expected {SCHEMA!r})",
                            field="schema")
        return cls(title=d.get("title", ""), page_count=int(d.get("page_count", 0)),
                   scenes=[SceneBreakdown.from_dict(s) for s in d.get("scenes", [])],
                   tagger=str(d.get("tagger") or LEGACY_TAGGER), assist=dict(d.get("assist") or {}))


@dataclass(frozen=True)
class BreakdownEdit:
    """A person's correction to the rules' output, re-applied after every re-run."""

    scene: str
    action: str  # "add" | "remove" | "retag"
    category: str
    name: str
    new_category: str | None = None
    note: str = ""

    def __post_init__(self) -> None:
        if self.action not in EDIT_ACTIONS:
            raise SpecError(f"unknown edit action {self.action!r}", field="action",
                            hint="one of: " + ", ".join(EDIT_ACTIONS))
        object.__setattr__(self, "category", parse_category(self.category).value)
        if self.action == "retag":
            if not self.new_category:
                raise SpecError("a retag needs a new category", field="new_category")
            object.__setattr__(self, "new_category",
                               parse_category(self.new_category, field_name="new_category").value)
        if not normalise_name(self.name):
            raise SpecError("an edit needs an element name", field="name")
        if not str(self.scene).strip():
            raise SpecError("an edit needs a scene number", field="scene")

    @property
    def key(self) -> str:
        return element_key(self.category, self.name)

    def to_dict(self) -> dict[str, Any]:
        return {"scene": self.scene, "action": self.action, "category": self.category, "name": self.name,
                "new_category": self.new_category, "note": self.note}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "BreakdownEdit":
        try:
            return cls(scene=str(d["scene"]), action=d["action"], category=d["category"], name=d["name"],
                       new_category=d.get("new_category"), note=d.get("note", ""))
        except KeyError as missing:
            raise SpecError("missing field in breakdown edit", field=str(missing.args[0])) from None
