"""Who the boards draw, and how: a colour per character, heights from the script, voices unseen.

Pure functions over the script's words (no Blender, no I/O):

- every character gets a colour from the Okabe-Ito palette, designed to stay distinct for
  colour-blind readers, in order of first appearance, so the leads never share one;
- a character introduced as a child ("LILY (7)", "a seven-year-old boy, SAM", "the KID") is
  drawn at a child's height; everyone else at an adult height that depends only on the name;
- a speaker who is a device (PRINTER, INTERCOM, MESSAGE MACHINE, RADIO) or only ever heard
  (V.O., O.S., O.C., on the phone) is a voice, never a body in the set.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Iterable, Mapping

from soundstage.domain.screenplay import ElementKind, Screenplay
from soundstage.script.tagger import is_machine_cue

#: Okabe & Ito (2008), "Color Universal Design": distinguishable with protanopia, deuteranopia
#: and tritanopia. Black is left out: it is the outline colour of the drawn look.
PALETTE: tuple[tuple[float, float, float], ...] = (
    (0.902, 0.624, 0.000),  # orange
    (0.337, 0.706, 0.914),  # sky blue
    (0.000, 0.620, 0.451),  # bluish green
    (0.941, 0.894, 0.259),  # yellow
    (0.000, 0.447, 0.698),  # blue
    (0.835, 0.369, 0.000),  # vermillion
    (0.800, 0.475, 0.655),  # reddish purple
)
PALETTE_NAMES = ("orange", "sky blue", "bluish green", "yellow", "blue", "vermillion", "reddish purple")
ADULT_MIN_M, ADULT_SPAN_M = 1.62, 0.26
#: approximate standing height (m) by age in years (rounded growth-chart medians, both sexes)
CHILD_HEIGHTS = {0: 0.60, 1: 0.76, 2: 0.87, 3: 0.96, 4: 1.03, 5: 1.10, 6: 1.16, 7: 1.22, 8: 1.28, 9: 1.33,
                 10: 1.39, 11: 1.44, 12: 1.50, 13: 1.56, 14: 1.62, 15: 1.66, 16: 1.69, 17: 1.71}
NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
                "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
                "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18}
_NUM = r"(\d{1,3}|" + "|".join(NUMBER_WORDS) + r")"
_YEARS_OLD = re.compile(_NUM + r"[\s-]*(?:year|yr)s?[\s-]*old", re.I)
_MONTHS_OLD = re.compile(_NUM + r"[\s-]*months?[\s-]*old", re.I)
_AGE_AFTER_NAME = re.compile(r"^(?:\s+[A-Z][A-Z'.\-]+){0,2}\s*(?:\(\s*|,\s*)(?:about |around |aged? )?" + _NUM
                             + r"(s?)\b", re.I)
_WORD_HEIGHTS = (
    (re.compile(r"\b(baby|babies|infant|newborn)\b", re.I), 0.62),
    (re.compile(r"\b(toddler)\b", re.I), 0.88),
    (re.compile(r"\b(kid|kids|child|children|boy|girl|schoolboy|schoolgirl|little (?:one|brother|sister))\b",
                re.I), 1.25),
    (re.compile(r"\b(teen|teens|teenager|teenage|adolescent|preteen|tween)\b", re.I), 1.60),
)
_ADULT_WORDS = re.compile(r"\b(man|woman|men|women|father|mother|dad|mom|mum|grand\w*|husband|wife|adult|"
                          r"officer|detective|doctor|teacher|old|elderly)\b", re.I)
#: cue extensions that mean the speaker is heard, not seen
OFFSCREEN_EXTENSIONS = frozenset({"V.O.", "VO", "V.O", "O.S.", "OS", "O.S", "O.C.", "OC", "O.C", "FILTERED",
                                  "ON PHONE", "ON THE PHONE", "PHONE", "OVER PHONE", "INTERCOM", "RADIO", "ON RADIO",
                                  "OVER RADIO", "ON TV", "TV", "ON SCREEN", "RECORDED", "RECORDING", "PRE-LAP",
                                  "PRELAP", "SUBTITLED VOICE", "VOICE"})
_DEVICE_WORDS = re.compile(r"\b(phone|telephone|cellphone|intercom|speaker|loudspeaker|radio|tv|television|"
                           r"printer|computer|machine|answering|voicemail|pa system|p\.a\.|announcer|tannoy|"
                           r"walkie|walkie-talkie|dispatch|gps|alarm|robot voice|ai voice|narrator|voice)\b", re.I)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class CastLook:
    """How one character is drawn in every panel."""

    name: str
    index: int
    colour: tuple[float, float, float]  # 0..1 RGB
    height: float  # metres
    child: bool
    voice_only: bool
    intro: str = ""  # the words the height was read from

    def to_dict(self) -> dict:
        return {"index": self.index, "colour": [round(c * 255) for c in self.colour],
                "color": [round(c, 4) for c in self.colour], "height": round(self.height, 3),
                "child": self.child, "voice_only": self.voice_only, "intro": self.intro[:120]}


def _digest(name: str) -> bytes:
    return hashlib.sha256(" ".join(name.upper().split()).encode("utf-8")).digest()


def palette_colour(index: int) -> tuple[float, float, float]:
    """The index-th character's colour: the seven palette colours, then lighter and darker turns."""
    base = PALETTE[index % len(PALETTE)]
    turn = index // len(PALETTE) % 3
    if turn == 1:  # mix with white
        return tuple(round(c + (1 - c) * 0.45, 4) for c in base)  # type: ignore[return-value]
    if turn == 2:  # mix with black
        return tuple(round(c * 0.55, 4) for c in base)  # type: ignore[return-value]
    return base


def adult_height(name: str) -> float:
    """1.62-1.88 m from the name alone: the same person is the same height in every shot."""
    return round(ADULT_MIN_M + ADULT_SPAN_M * int.from_bytes(_digest(name)[2:4], "big") / 65535.0, 3)


def height_for_age(age: float) -> float | None:
    """Approximate height of a child of this age; None for an adult (18 or more)."""
    if age < 0 or age >= 18:
        return None
    whole = int(age)
    low = CHILD_HEIGHTS[whole]
    high = CHILD_HEIGHTS.get(whole + 1, 1.72)
    return round(low + (high - low) * (age - whole), 3)


def _number(text: str) -> int:
    return int(text) if text.isdigit() else NUMBER_WORDS[text.lower()]


def height_from_intro(text: str, name: str = "") -> float | None:
    """A child's height (m) from the words that introduce a character, or None for an adult.

    Reads, in order: an age right after the name ("LILY (7)", "SAM, 9,"; "(30s)" is an adult),
    "N-year-old"/"N months old", then words (baby, toddler, kid, boy, girl, teenager)."""
    text = " ".join((text or "").split())
    if not text:
        return None
    if name:
        at = re.search(rf"(?<![\w']){re.escape(name)}(?![\w'])", text)
        if at:
            m = _AGE_AFTER_NAME.match(text[at.end():])
            if m:
                if m.group(2):  # "(30s)": a decade, always an adult here
                    return None
                return height_for_age(_number(m.group(1)))
    m = _MONTHS_OLD.search(text)
    if m:
        return height_for_age(_number(m.group(1)) / 12.0)
    m = _YEARS_OLD.search(text)
    if m:
        return height_for_age(_number(m.group(1)))
    for pattern, height in _WORD_HEIGHTS:
        if pattern.search(text) and not (height >= 1.6 and _ADULT_WORDS.search(text)):
            return height
    return None


def _name_pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w']){re.escape(name)}(?![\w'])")


def character_intros(screenplay: Screenplay | None, names: Iterable[str]) -> dict[str, str]:
    """The words that introduce each character: the first action sentence naming them in
    capitals, cut at the neighbouring capitalised names so one person's age is not another's."""
    names = [n for n in dict.fromkeys(" ".join(n.split()) for n in names) if n]
    if screenplay is None or not names:
        return {}
    patterns = {n: _name_pattern(n) for n in names}
    found: dict[str, str] = {}
    for el in screenplay.iter_kind(ElementKind.ACTION):
        text = " ".join(el.text.split())
        for sentence in _SENTENCE.split(text):
            hits = sorted((m.start(), m.end(), n) for n, p in patterns.items() for m in p.finditer(sentence))
            for i, (start, end, name) in enumerate(hits):
                if name in found:
                    continue
                prev_end = max((e for s, e, _ in hits[:i] if e <= start), default=0)
                next_start = min((s for s, _, _ in hits[i + 1:] if s >= end), default=len(sentence))
                found[name] = sentence[prev_end:next_start].strip(" ,;")[:300]
        if len(found) == len(names):
            break
    return found


def is_device(name: str) -> bool:
    """A speaker that is a thing, not a person: drawn as a voice, never as a body."""
    return is_machine_cue(name) or bool(_DEVICE_WORDS.search(name))


def offscreen_extension(extensions: Iterable[str]) -> str:
    """The cue extension that says the speaker is unseen ("V.O.", "O.S.", "ON PHONE"), or ""."""
    for ext in extensions:
        key = " ".join(ext.upper().replace("(", "").replace(")", "").split())
        if key in OFFSCREEN_EXTENSIONS or key.replace(" ", "") in OFFSCREEN_EXTENSIONS:
            return key
    return ""


def cast_looks(names: Iterable[str], screenplay: Screenplay | None = None,
               voice_only: Iterable[str] = ()) -> dict[str, CastLook]:
    """Every character's look, indexed in the order given (the order of first appearance)."""
    ordered = [n for n in dict.fromkeys(" ".join(n.split()) for n in names) if n]
    intros = character_intros(screenplay, ordered)
    voices = {v.upper() for v in voice_only}
    table: dict[str, CastLook] = {}
    for i, name in enumerate(ordered):
        intro = intros.get(name, "")
        child = height_from_intro(intro, name)
        table[name] = CastLook(name=name, index=i, colour=palette_colour(i),
                               height=child if child is not None else adult_height(name),
                               child=child is not None, voice_only=is_device(name) or name.upper() in voices,
                               intro=intro)
    return table


def look_from_mapping(name: str, entry: Mapping | None) -> CastLook:
    """A look from a job's ``characters`` entry (validated), or the name's own defaults."""
    entry = entry or {}
    index = entry.get("index")
    index = index if isinstance(index, int) and not isinstance(index, bool) and 0 <= index < 10_000 else None
    if index is None:
        index = int.from_bytes(_digest(name)[:2], "big") % len(PALETTE)
    height = entry.get("height")
    ok_height = isinstance(height, (int, float)) and not isinstance(height, bool) and 0.4 <= float(height) <= 2.3
    child = bool(entry.get("child")) and ok_height
    return CastLook(name=name, index=index, colour=palette_colour(index),
                    height=float(height) if ok_height else adult_height(name), child=child,
                    voice_only=bool(entry.get("voice_only")) or is_device(name), intro="")
