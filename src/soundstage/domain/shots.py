"""The shot list as data: what the camera department will shoot, scene by scene.

Pure nouns, no I/O. A shot is validated when it is built, so a hand-edited YAML/CSV file that
names an unknown size or a negative lens fails with the field (and, from the readers, the line)
instead of reaching a renderer. Everything round-trips through plain dicts.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, fields
from typing import Any, Iterator, Mapping

from soundstage.errors import SpecError

SCHEMA = "ShotList.1"

SIZES = ("EWS", "WS", "MS", "MCU", "CU", "ECU", "INSERT", "OTS")
ANGLES = ("eye", "high", "low", "overhead", "dutch")
MOVEMENTS = ("static", "pan", "tilt", "dolly", "handheld", "crane", "push in")
ORIGINS = ("rule", "user")

#: Super 35 (3-perf) gate width in mm: the "physically defined camera" every lens choice assumes.
SUPER35_WIDTH_MM = 24.89
SUPER35_HEIGHT_MM = 18.66

#: The lens a shot size gets by default on Super 35 (focal length in mm).
LENS_FOR_SIZE: dict[str, float] = {
    "EWS": 18.0, "WS": 25.0, "MS": 35.0, "OTS": 40.0, "MCU": 50.0, "CU": 85.0, "ECU": 100.0, "INSERT": 100.0,
}

MAX_LENS_MM = 1200.0
MAX_SHOT_SECONDS = 600.0
_NUMBER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-]{0,23}$")


def horizontal_fov_degrees(lens_mm: float, sensor_width_mm: float = SUPER35_WIDTH_MM) -> float:
    """Why: camera notes state the field of view so a DP can match the lens on another format."""
    return math.degrees(2.0 * math.atan(sensor_width_mm / (2.0 * lens_mm)))


def shot_letters(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA: shot suffixes as a script supervisor writes them."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(ord("A") + rem) + letters
    return letters


def shot_number(scene: str, index: int) -> str:
    return f"{scene}-{shot_letters(index)}"


def _text(value: Any, name: str, *, required: bool = False, limit: int = 2000) -> str:
    if value is None:
        value = ""
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise SpecError(f"must be text, not {type(value).__name__}", field=name)
    text = str(value).strip()
    if required and not text:
        raise SpecError("must not be empty", field=name)
    if len(text) > limit:
        raise SpecError(f"is longer than {limit} characters", field=name)
    return text


def _number(value: Any, name: str, *, low: float, high: float, allow_low: bool = True) -> float:
    if isinstance(value, bool):
        raise SpecError("must be a number", field=name)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SpecError(f"must be a number, not {value!r}", field=name) from None
    if math.isnan(number) or math.isinf(number) or number > high or number < low or \
            (not allow_low and number == low):
        bound = f"more than {low:g}" if not allow_low else f"at least {low:g}"
        raise SpecError(f"{number:g} is out of range (must be {bound} and at most {high:g})", field=name)
    return number


def _choice(value: Any, allowed: tuple[str, ...], name: str, *, fold: str = "none") -> str:
    text = str(value if value is not None else "").strip()
    text = text.upper() if fold == "upper" else text.lower() if fold == "lower" else text
    if text not in allowed:
        raise SpecError(f"unknown {name} {value!r}", field=name, hint="one of: " + ", ".join(allowed))
    return text


@dataclass
class Shot:
    """One camera setup. ``origin`` says whether the coverage rules or a person made it."""

    scene: str
    number: str
    size: str
    angle: str = "eye"
    lens_mm: float = 0.0  # 0 means "the default lens for the size"
    movement: str = "static"
    characters: list[str] = field(default_factory=list)
    description: str = ""
    dialogue_excerpt: str = ""
    camera_notes: str = ""
    est_seconds: float = 3.0
    origin: str = "rule"
    source_line: int = 0

    def __post_init__(self) -> None:
        self.scene = _text(self.scene, "scene", required=True, limit=16)
        self.number = _text(self.number, "number", required=True, limit=24)
        if not _NUMBER_RE.match(self.number):
            raise SpecError(f"{self.number!r} is not a shot number like 1-A or 12A-C", field="number")
        self.size = _choice(self.size, SIZES, "size", fold="upper")
        self.angle = _choice(self.angle or "eye", ANGLES, "angle", fold="lower")
        self.movement = _choice(self.movement or "static", MOVEMENTS, "movement", fold="lower")
        lens = self.lens_mm if self.lens_mm not in (None, "") else 0.0
        lens = _number(lens, "lens_mm", low=0.0, high=MAX_LENS_MM)
        self.lens_mm = lens if lens > 0 else LENS_FOR_SIZE[self.size]
        if isinstance(self.characters, str):
            self.characters = [c for c in (p.strip() for p in self.characters.split(";")) if c]
        if not isinstance(self.characters, (list, tuple)):
            raise SpecError("must be a list of names", field="characters")
        self.characters = [_text(c, "characters", required=True, limit=120) for c in self.characters]
        self.description = _text(self.description, "description")
        self.dialogue_excerpt = _text(self.dialogue_excerpt, "dialogue_excerpt")
        self.camera_notes = _text(self.camera_notes, "camera_notes")
        self.est_seconds = round(_number(self.est_seconds, "est_seconds", low=0.0, high=MAX_SHOT_SECONDS,
                                         allow_low=False), 3)
        self.origin = _choice(self.origin or "rule", ORIGINS, "origin", fold="lower")
        self.source_line = int(_number(self.source_line or 0, "source_line", low=0, high=10_000_000))

    @property
    def fov_degrees(self) -> float:
        return horizontal_fov_degrees(self.lens_mm)

    @property
    def title(self) -> str:
        """The one-line slate burned into panels and clips: "1-A  WS 25mm static"."""
        return f"{self.number}  {self.size} {self.lens_mm:g}mm {self.movement}"

    def to_dict(self) -> dict[str, Any]:
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), list) else v) for f in fields(self)}

    def content_key(self) -> dict[str, Any]:
        """Everything a person can change, without ``origin``: compares a shot to its rule baseline."""
        data = self.to_dict()
        data.pop("origin")
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Shot":
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise SpecError("unknown field in a shot", field=str(unknown[0]),
                            hint="fields: " + ", ".join(f.name for f in fields(cls)))
        for required in ("scene", "number", "size"):
            if data.get(required) in (None, ""):
                raise SpecError("missing", field=required)
        return cls(**dict(data))


@dataclass
class SceneShots:
    """The shots of one scene and the scene version (content hash) they were planned for."""

    number: str
    heading: str
    content_hash: str
    shots: list[Shot] = field(default_factory=list)

    @property
    def est_seconds(self) -> float:
        return round(sum(s.est_seconds for s in self.shots), 3)

    def to_dict(self) -> dict[str, Any]:
        return {"scene": self.number, "heading": self.heading, "content_hash": self.content_hash,
                "shots": [s.to_dict() for s in self.shots]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "SceneShots":
        number = str(data.get("scene", "")).strip()
        if not number:
            raise SpecError("missing", field="scene")
        return cls(number=number, heading=str(data.get("heading", "")), content_hash=str(data.get("content_hash", "")),
                   shots=[Shot.from_dict({"scene": number, **s}) for s in data.get("shots", [])])


@dataclass
class ShotList:
    title: str
    scenes: list[SceneShots]
    draft: int | None = None

    def scene(self, number: str) -> SceneShots | None:
        return next((s for s in self.scenes if s.number == number), None)

    def shots(self) -> Iterator[Shot]:
        for scene in self.scenes:
            yield from scene.shots

    def find(self, number: str) -> Shot | None:
        return next((s for s in self.shots() if s.number == number), None)

    def __len__(self) -> int:
        return sum(len(s.shots) for s in self.scenes)

    @property
    def est_seconds(self) -> float:
        return round(sum(s.est_seconds for s in self.scenes), 3)

    def to_dict(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "title": self.title, "draft": self.draft,
                "scenes": [s.to_dict() for s in self.scenes]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ShotList":
        if data.get("schema") != SCHEMA:
            raise SpecError(f"not a shot list (schema {data.get('schema')!r}, expected {SCHEMA!r})", field="schema")
        draft = data.get("draft")
        return cls(title=str(data.get("title", "")), draft=int(draft) if draft is not None else None,
                   scenes=[SceneShots.from_dict(s) for s in data.get("scenes", [])])
