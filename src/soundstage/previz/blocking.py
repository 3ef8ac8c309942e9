"""3D blocking as data: a JSON scene spec from a shot list, a scene breakdown and the cast.

Pure (no bpy): everything a Blender worker needs - set, lighting, mannequins with their body
parts, prop stand-ins and a physically defined camera - is decided here, so framing and
consistency are testable without Blender and the worker stays a dumb instantiator.

Consistency by construction: a character's height and colour come only from a hash of the name,
so the same person looks the same in every shot, scene and run.
"""

from __future__ import annotations

import colorsys
import hashlib
import math
import re
from typing import Any, Mapping, Sequence

from soundstage.domain.shots import ANGLES, LENS_FOR_SIZE, MAX_LENS_MM, SIZES, SUPER35_WIDTH_MM
from soundstage.errors import SpecError
from soundstage.previz.cast import is_device, look_from_mapping

SPEC_VERSION = 2
MAX_CHARACTERS_PER_SHOT = 200
MAX_SHOTS = 500
MIN_LENS_MM = 4.0
ROW_WIDTH = 8  # a crowd is placed in rows of this many
SPACING_X, SPACING_Y = 0.85, 1.1
SIZE_ALIASES = {"LS": "WS", "FS": "WS", "ELS": "EWS", "XWS": "EWS", "XCU": "ECU", "BCU": "ECU", "MWS": "WS",
                "MLS": "WS", "MEDIUM": "MS", "CLOSE": "CU", "CLOSE-UP": "CU", "CLOSEUP": "CU", "WIDE": "WS"}
ANGLE_ALIASES = {"eye level": "eye", "eye-level": "eye", "eyelevel": "eye", "birds-eye": "overhead",
                 "bird's eye": "overhead", "top": "overhead", "canted": "dutch", "worm's eye": "low"}
#: camera elevation (degrees, positive looks down) and roll per angle
ANGLE_ELEVATION = {"eye": 0.0, "high": 28.0, "low": -18.0, "overhead": 88.0, "dutch": 0.0}
ANGLE_ROLL = {"dutch": 18.0}
ROUND_PROPS = re.compile(r"\b(cup|mug|glass|bottle|can|candle|jar|vase|lamp|ball|clock|plate|bowl|tin|drum|whistle|binoculars|"
                         r"barrel|pot|coin|ring|reel|canister|tube)s?\b", re.I)
SIT_WORDS = re.compile(r"\b(sits?|sitting|seated|sat)\b", re.I)
STREET_WORDS = re.compile(r"\b(car ?park|parking lot|playground|school ?yard|street|road|avenue|alley|lane|parking|lot|city|town|square|bridge|sidewalk|"
                          r"downtown|market|station|studio lot|block|highway|boulevard|corner)\b", re.I)
LANDSCAPE_WORDS = re.compile(r"\b(field|forest|woods?|beach|desert|mountains?|hills?|lake|river|farm|garden|"
                             r"park|meadow|coast|sea|shore|countryside|cliff|valley|prairie|jungle)\b", re.I)

#: (sun elevation deg, sun azimuth deg, sun strength, sun colour, world colour, workbench exposure,
#:  interior ceiling light watts)
LIGHTING = {
    "day": (55.0, 35.0, 4.0, (1.0, 0.97, 0.92), (0.52, 0.66, 0.85), 0.0, 600.0),
    "dawn": (9.0, -70.0, 1.6, (1.0, 0.74, 0.58), (0.50, 0.46, 0.56), -0.7, 350.0),
    "dusk": (7.0, 70.0, 1.3, (1.0, 0.58, 0.34), (0.36, 0.24, 0.34), -0.9, 300.0),
    "night": (35.0, 150.0, 0.12, (0.62, 0.72, 1.0), (0.015, 0.022, 0.05), -2.6, 120.0),
}
#: the drawn look's time of day: sky gradient (zenith, horizon; 0..1 RGB) and a tint multiplied
#: into the flat tones. Night and dusk are told by colour, not by underexposure, so they stay
#: readable on paper (a night panel keeps a mean luma above 60 of 255).
SKY = {
    "day": ((0.36, 0.60, 0.90), (0.80, 0.89, 0.97)),
    "dawn": ((0.42, 0.50, 0.75), (0.98, 0.78, 0.62)),
    "dusk": ((0.22, 0.20, 0.45), (0.98, 0.60, 0.36)),
    "night": ((0.03, 0.05, 0.16), (0.16, 0.22, 0.42)),
}
TINT = {"day": (1.0, 1.0, 1.0), "dawn": (0.95, 0.86, 0.80), "dusk": (0.95, 0.72, 0.62), "night": (0.46, 0.54, 0.86)}
#: an interior at night is lit by practicals: tinted less than the street outside
INTERIOR_TINT = {"day": (1.0, 1.0, 1.0), "dawn": (0.97, 0.92, 0.86), "dusk": (0.95, 0.82, 0.72),
                 "night": (0.62, 0.66, 0.90)}
TIME_WORDS = (("night", ("NIGHT", "MIDNIGHT", "LATE NIGHT")), ("dusk", ("DUSK", "EVENING", "SUNSET", "TWILIGHT")),
              ("dawn", ("DAWN", "MORNING", "SUNRISE", "DAYBREAK")))


# ----------------------------------------------------------------------------- characters

def _digest(text: str) -> bytes:
    return hashlib.sha256(" ".join(text.upper().split()).encode("utf-8")).digest()


def character_look(name: str, entry: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Colour (colour-blind-safe palette, by the cast table's index) and height (a child's from the
    script, else 1.62-1.88 m from the name): the same person looks the same in every shot."""
    look = look_from_mapping(" ".join(name.split()), entry)
    hue = colorsys.rgb_to_hsv(*look.colour)[0]
    return {"name": look.name, "hue": round(hue, 5), "color": [round(c, 4) for c in look.colour],
            "height": round(look.height, 3), "child": look.child, "voice_only": look.voice_only,
            "index": look.index}


def figure_levels(height: float, pose: str) -> dict[str, float]:
    """Heights (m above the floor) of the landmarks a shot size frames on."""
    if pose == "sitting":
        lift = 0.46 - 0.52 * height  # the pelvis sits on a 0.46 m seat
    else:
        lift = 0.0
    return {"top": height + lift, "eyes": 0.93 * height + lift, "chin": 0.865 * height + lift,
            "shoulders": 0.83 * height + lift, "chest": 0.72 * height + lift, "waist": 0.58 * height + lift,
            "knees": 0.28 * height if pose != "sitting" else 0.5, "feet": 0.0}


def mannequin_parts(height: float, pose: str) -> list[dict[str, Any]]:
    """Body parts in the character's local frame (facing -Y): primitive, centre, half-size, tilt."""
    h = height
    lv = figure_levels(h, pose)
    head_r = 0.066 * h
    parts = [
        {"part": "head", "shape": "sphere", "location": [0, 0, lv["top"] - head_r], "scale": [head_r * 0.9, head_r, head_r]},
        {"part": "nose", "shape": "cube", "location": [0, -head_r * 0.9, lv["eyes"] - 0.03 * h],
         "scale": [0.012 * h, 0.02 * h, 0.016 * h]},
        {"part": "neck", "shape": "cylinder", "location": [0, 0, (lv["chin"] + lv["shoulders"]) / 2 + 0.01 * h],
         "scale": [0.03 * h, 0.03 * h, (lv["chin"] - lv["shoulders"]) / 2 + 0.02 * h]},
        {"part": "torso", "shape": "cube", "location": [0, 0, (lv["shoulders"] + lv["waist"] - 0.06 * h) / 2],
         "scale": [0.125 * h, 0.07 * h, (lv["shoulders"] - lv["waist"] + 0.06 * h) / 2]},
    ]
    arm_len = 0.36 * h
    for side, x in (("left", -1), ("right", 1)):
        parts.append({"part": f"arm.{side}", "shape": "cylinder",
                      "location": [x * 0.155 * h, 0, lv["shoulders"] - arm_len / 2 + 0.01 * h],
                      "scale": [0.03 * h, 0.03 * h, arm_len / 2], "rotation": [0, x * -6.0, 0]})
        if pose == "sitting":
            seat = 0.46
            parts.append({"part": f"thigh.{side}", "shape": "cylinder", "location": [x * 0.06 * h, -0.2 * h / 2, seat],
                          "scale": [0.04 * h, 0.04 * h, 0.12 * h], "rotation": [90.0, 0, 0]})
            parts.append({"part": f"shin.{side}", "shape": "cylinder", "location": [x * 0.06 * h, -0.22 * h, seat / 2],
                          "scale": [0.035 * h, 0.035 * h, seat / 2]})
            if side == "right":
                parts.append({"part": "chair.seat", "shape": "cube", "location": [0, -0.06 * h, seat - 0.06],
                              "scale": [0.24, 0.23, 0.03], "neutral": True})
                parts.append({"part": "chair.back", "shape": "cube", "location": [0, 0.16, seat + 0.25],
                              "scale": [0.24, 0.025, 0.28], "neutral": True})
        else:
            parts.append({"part": f"leg.{side}", "shape": "cylinder", "location": [x * 0.06 * h, 0, lv["waist"] / 2],
                          "scale": [0.042 * h, 0.042 * h, lv["waist"] / 2]})
    for part in parts:
        part["location"] = [round(v, 4) for v in part["location"]]
        part["scale"] = [round(v, 4) for v in part["scale"]]
        part.setdefault("rotation", [0, 0, 0])
    return parts


# ----------------------------------------------------------------------------- validation

def _text(value: Any, field: str, limit: int = 4000) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise SpecError(f"must be text, not {type(value).__name__}", field=field)
    text = str(value).strip()
    if len(text) > limit:
        raise SpecError(f"is longer than {limit} characters", field=field)
    return text


def _size(value: Any, field: str) -> str:
    text = _text(value, field, 32).upper()
    text = SIZE_ALIASES.get(text, text)
    if text not in SIZES:
        raise SpecError(f"unknown shot size {value!r}", field=field, hint="one of: " + ", ".join(SIZES))
    return text


def _angle(value: Any, field: str) -> str:
    text = _text(value, field, 32).lower() or "eye"
    text = ANGLE_ALIASES.get(text, text)
    if text not in ANGLES:
        raise SpecError(f"unknown camera angle {value!r}", field=field, hint="one of: " + ", ".join(ANGLES))
    return text


def _lens(value: Any, size: str, field: str) -> float:
    if value in (None, "", 0, 0.0):
        return LENS_FOR_SIZE[size]
    if isinstance(value, bool):
        raise SpecError("must be a focal length in mm", field=field)
    try:
        lens = float(value)
    except (TypeError, ValueError):
        raise SpecError(f"must be a focal length in mm, not {value!r}", field=field) from None
    if not math.isfinite(lens) or not MIN_LENS_MM <= lens <= MAX_LENS_MM:
        raise SpecError(f"{value!r} mm is not a usable focal length", field=field,
                        hint=f"between {MIN_LENS_MM:g} and {MAX_LENS_MM:g} mm")
    return lens


def _names(value: Any, field: str) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = [v for v in re.split(r"[;,]", value)]
    if not isinstance(value, (list, tuple)):
        raise SpecError(f"must be a list of names, not {type(value).__name__}", field=field)
    names: list[str] = []
    for i, item in enumerate(value):
        name = " ".join(_text(item, f"{field}[{i}]", 80).split())
        if name and name.upper() not in {n.upper() for n in names}:
            names.append(name)
    if len(names) > MAX_CHARACTERS_PER_SHOT:
        raise SpecError(f"{len(names)} names; at most {MAX_CHARACTERS_PER_SHOT} can be blocked in one shot",
                        field=field)
    return names


def scene_props(scene: Mapping[str, Any] | None) -> list[str]:
    """Prop names from a breakdown's elements (category "props"), in order, deduplicated."""
    if not scene:
        return []
    elements = scene.get("elements") or []
    if isinstance(elements, Mapping):  # {"props": [...]} is accepted too
        elements = [{"category": k, "name": n} for k, names in elements.items() for n in (names or [])]
    if not isinstance(elements, (list, tuple)):
        raise SpecError("must be a list of breakdown elements", field="scene.elements")
    found: list[str] = []
    for i, element in enumerate(elements):
        if not isinstance(element, Mapping):
            raise SpecError("must be a mapping with category and name", field=f"scene.elements[{i}]")
        if str(element.get("category", "")).lower() in ("props", "prop"):
            name = " ".join(_text(element.get("name"), f"scene.elements[{i}].name", 120).split())
            if name and name.upper() not in {f.upper() for f in found}:
                found.append(name)
    return found


# ----------------------------------------------------------------------------- set and light

def time_of_day(scene: Mapping[str, Any] | None) -> str:
    text = _text((scene or {}).get("time_of_day"), "scene.time_of_day", 120).upper()
    for key, words in TIME_WORDS:
        if any(re.search(rf"\b{w}\b", text) for w in words):
            return key
    return "day"


#: facades of a street: brick, sandstone, slate, cream, sage
BUILDING_TONES = ((0.66, 0.36, 0.28), (0.80, 0.70, 0.52), (0.50, 0.56, 0.62), (0.90, 0.86, 0.74),
                  (0.58, 0.64, 0.52))


def build_set(scene: Mapping[str, Any] | None, extent_x: float, extent_y: float) -> dict[str, Any]:
    """Interior room, exterior street or landscape, or a neutral stage when there is no location."""
    scene = scene or {}
    location = _text(scene.get("location"), "scene.location", 400)
    int_ext = _text(scene.get("int_ext"), "scene.int_ext", 16).upper().replace(".", "")
    heading = _text(scene.get("heading"), "scene.heading", 600)
    seed = int.from_bytes(_digest(location or heading or "neutral")[:4], "big")
    if not location:
        kind = "neutral"
    elif int_ext.startswith("INT") or (not int_ext and heading.upper().startswith("INT")):
        kind = "interior"
    elif LANDSCAPE_WORDS.search(location) and not STREET_WORDS.search(location):
        kind = "landscape"
    else:
        kind = "street"
    width = max(7.0, extent_x + 4.0)
    depth = max(6.0, extent_y + 4.0)
    room = {"kind": kind, "location": location, "seed": seed, "width": round(width, 2), "depth": round(depth, 2),
            "wall_height": 3.0, "blocks": []}
    if kind == "street":
        rng = _Rng(seed)
        x = -40.0
        while x < 40.0:  # a row of low buildings across the back, far enough to leave sky above
            w = 4.0 + rng.uniform(0, 6.0)
            h = 3.5 + rng.uniform(0, 4.5)
            tone = BUILDING_TONES[int(rng.uniform(0, len(BUILDING_TONES) - 0.001))]
            room["blocks"].append({"location": [round(x + w / 2, 2), round(depth / 2 + 20.0, 2), round(h / 2, 2)],
                                   "scale": [round(w / 2 - 0.2, 2), 4.0, round(h / 2, 2)],
                                   "shade": round(0.45 + rng.uniform(0, 0.3), 3), "color": list(tone)})
            x += w
        room["blocks"].append({"location": [0.0, round(depth / 2 + 14.5, 2), 0.06], "scale": [80.0, 1.5, 0.06],
                               "shade": 0.7, "color": [0.72, 0.70, 0.66]})  # the far sidewalk
        for side in (-1, 1):
            room["blocks"].append({"location": [side * (width / 2 + 14.0), 0.0, 3.5], "scale": [4.0, 20.0, 3.5],
                                   "shade": 0.55, "color": list(BUILDING_TONES[2 if side < 0 else 4])})
    elif kind == "landscape":
        rng = _Rng(seed)
        for i in range(7):
            r = 15.0 + rng.uniform(0, 25.0)
            room["blocks"].append({"shape": "sphere", "location": [round(-90 + i * 30 + rng.uniform(-8, 8), 2),
                                                                   round(70 + rng.uniform(0, 40), 2), -r * 0.55],
                                   "scale": [r * 1.6, r, r], "shade": round(0.4 + rng.uniform(0, 0.15), 3)})
    return room


class _Rng:
    """A tiny deterministic generator (xorshift) so the same location always builds the same street."""

    def __init__(self, seed: int) -> None:
        self.state = (seed or 1) & 0xFFFFFFFF

    def uniform(self, low: float, high: float) -> float:
        x = self.state
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self.state = x & 0xFFFFFFFF
        return low + (high - low) * (self.state / 0xFFFFFFFF)


def build_lighting(scene: Mapping[str, Any] | None, kind: str) -> dict[str, Any]:
    tod = time_of_day(scene)
    elev, azim, strength, sun_color, world, exposure, ceiling = LIGHTING[tod]
    if kind == "interior":
        world = tuple(c * 0.55 for c in world)
    outdoors = kind in ("street", "landscape")
    return {"time": tod, "sun_elevation": elev, "sun_azimuth": azim, "sun_strength": strength,
            "sun_color": list(sun_color), "world_color": [round(c, 4) for c in world], "exposure": exposure,
            "ceiling_light_w": ceiling if kind == "interior" else 0.0,
            "sky": [list(c) for c in SKY[tod]] if outdoors else None,
            "tint": list(TINT[tod] if outdoors or kind == "neutral" else INTERIOR_TINT[tod])}


# ----------------------------------------------------------------------------- layout and camera

def _layout(names: list[str], size: str, sitting: set[str], looks: Mapping[str, dict[str, Any]]
            ) -> list[dict[str, Any]]:
    """Singles centred; two people facing each other; more in staggered rows facing camera."""
    placed = []
    n = len(names)
    for i, name in enumerate(names):
        look = looks[name]
        if n == 1:
            x, y, facing = 0.0, 0.0, 18.0
        elif n == 2:
            x = -0.7 if i == 0 else 0.7
            if size == "OTS":  # subject (first) faces the camera side; foreground turns to them
                x = 0.7 if i == 0 else -0.7
            y = 0.0
            # facing: angle the figure's front (-Y) is turned about Z; 90 faces +X
            toward = 90.0 if x < 0 else -90.0
            cheat = 0.0 if size == "OTS" else 40.0
            facing = toward - math.copysign(cheat, toward)
        else:
            row, col = divmod(i, ROW_WIDTH)
            in_row = min(ROW_WIDTH, n - row * ROW_WIDTH)
            x = (col - (in_row - 1) / 2) * SPACING_X + (0.3 if row % 2 else 0.0)
            y, facing = row * SPACING_Y, 0.0
        pose = "sitting" if name in sitting else "standing"
        placed.append({**look, "location": [round(x, 3), round(y, 3), 0.0], "facing_deg": facing, "pose": pose,
                       "parts": mannequin_parts(look["height"], pose)})
    return placed


def _who_sits(description: str, names: list[str]) -> set[str]:
    sitting: set[str] = set()
    for sentence in re.split(r"(?<=[.!?;])\s+", description):
        if SIT_WORDS.search(sentence):
            named = {n for n in names if re.search(rf"\b{re.escape(n)}\b", sentence, re.I)}
            sitting |= named or set(names)
    return sitting


# ----------------------------------------------------------------------------- voices and POV

VOICES_NOTE = re.compile(r"\bvoices?:\s*([^;]+)", re.I)
VOICE_KIND = re.compile(r"^(.*?)\s*\(([^)]*)\)\s*$")
POV_WORD = re.compile(r"\bPOV\b|\bpoint of view\b", re.I)
SCOPE_WORDS = re.compile(r"\b(scope|binoculars?|telescope|rifle sight|gun ?sight|crosshairs?|periscope|"
                         r"peep ?hole|keyhole|spyglass)\b", re.I)


def shot_voices(camera_notes: str) -> list[tuple[str, str]]:
    """Who is heard and not seen, from a ``voices: MOM (V.O.), INTERCOM`` camera note."""
    found: list[tuple[str, str]] = []
    for m in VOICES_NOTE.finditer(camera_notes or ""):
        for item in m.group(1).split(","):
            item = " ".join(item.split())
            if not item:
                continue
            kind = VOICE_KIND.match(item)
            name, what = (kind.group(1), kind.group(2).upper()) if kind else (item, "")
            if name and name.upper() not in {f[0].upper() for f in found}:
                found.append((name[:80], what[:20]))
    return found[:MAX_CHARACTERS_PER_SHOT]


def pov_of(text: str, candidates: Sequence[str]) -> tuple[bool, str, str]:
    """(is a POV shot, whose eyes - a candidate name or "", mask: "scope" or "vignette")."""
    if not POV_WORD.search(text or ""):
        return False, "", ""
    mask = "scope" if SCOPE_WORDS.search(text) else "vignette"
    for name in sorted(candidates, key=len, reverse=True):
        n = re.escape(name)
        if re.search(rf"(?<![\w']){n}(?:'s|’s|s')?\s+(?:POV|point of view)\b|\bPOV\b\W{{0,3}}(?:of\s+)?{n}(?![\w'])",
                     text, re.I):
            return True, name, mask
    return True, "", mask


# ----------------------------------------------------------------------------- props

FLAT_PROPS = re.compile(r"\b(badge|letter|envelope|paper|papers|note|card|photo|photograph|picture|map|page|pages|"
                        r"document|file|folder|script|book|notebook|diary|newspaper|magazine|ticket|passport|"
                        r"phone|cellphone|smartphone|tablet|laptop|screen|monitor|clipboard|sign|poster)s?\b", re.I)
LONG_PROPS = re.compile(r"\b(rifle|gun|shotgun|pistol|revolver|knife|sword|pen|pencil|scope|stick|bat|cane|key|cigar|"
                        r"cigarette|baton|leash|rope|"
                        r"keys|crowbar|pipe|umbrella|flashlight|torch|wand|syringe|screwdriver|hammer)s?\b", re.I)
PAPER_PROPS = re.compile(r"\b(letter|envelope|paper|note|card|photo|map|page|document|script|ticket|newspaper|"
                         r"magazine|passport|poster|sign)", re.I)
METAL_PROPS = re.compile(r"\b(rifle|gun|shotgun|pistol|revolver|knife|sword|scope|key|crowbar|pipe|hammer|"
                         r"screwdriver|camera|phone|laptop|tablet|monitor|screen|syringe)", re.I)
#: prop tones: clearly not a character's palette colour, never the old "brown box"
PROP_TONES = ((0.93, 0.92, 0.86), (0.36, 0.38, 0.42), (0.55, 0.75, 0.80), (0.62, 0.55, 0.78), (0.85, 0.55, 0.55),
              (0.60, 0.72, 0.45))


def prop_shape(name: str) -> tuple[str, list[float], list[float], list[float]]:
    """(primitive, half-size in m, rotation in degrees, colour) of a prop stand-in."""
    if ROUND_PROPS.search(name):
        shape, half, rotation = "cylinder", [0.05, 0.05, 0.09], [0.0, 0.0, 0.0]
    elif LONG_PROPS.search(name):
        shape, half, rotation = "cylinder", [0.025, 0.025, 0.22], [0.0, 90.0, 20.0]
    elif FLAT_PROPS.search(name):
        shape, half, rotation = "cube", [0.11, 0.08, 0.006], [0.0, 0.0, 8.0]
    else:
        shape, half, rotation = "cube", [0.12, 0.09, 0.07], [0.0, 0.0, 0.0]
    if PAPER_PROPS.search(name):
        colour = PROP_TONES[0]
    elif METAL_PROPS.search(name):
        colour = PROP_TONES[1]
    else:
        colour = PROP_TONES[2 + int.from_bytes(_digest(name)[:2], "big") % (len(PROP_TONES) - 2)]
    return shape, half, rotation, list(colour)


def _shot_props(shot: Mapping[str, Any], size: str, description: str, breakdown_props: list[str],
                index: int) -> list[str]:
    own = _names(shot.get("props"), f"shots[{index}].props")
    found = [(m.start(), p) for p in breakdown_props
             for m in [re.search(rf"\b{re.escape(p)}\b", description, re.I)] if m]
    named = [p for _, p in sorted(found)]  # in the order the description names them
    chosen = own + [p for p in named if p.upper() not in {o.upper() for o in own}]
    if size == "INSERT":
        if not chosen:
            chosen = breakdown_props[:1] or ["INSERT"]
        return chosen[:1]  # an insert is one object, close
    return chosen[:12]


def _prop_stand_ins(names: list[str], size: str, crowd_front_y: float) -> list[dict[str, Any]]:
    props = []
    for i, name in enumerate(names):
        shape, half, rotation, colour = prop_shape(name)
        x = (i - (len(names) - 1) / 2) * 0.45
        y = -0.55 if size != "INSERT" else 0.0
        y = min(y, crowd_front_y - 0.55)
        lying = rotation[1] == 90.0
        z = TABLE_TOP + (half[0] if lying else half[2])
        props.append({"name": name, "shape": shape, "location": [round(x, 3), round(y, 3), round(z, 3)],
                      "scale": half, "rotation": rotation, "color": colour})
    return props


TABLE_TOP = 0.76


def _prop_extent(prop: dict[str, Any]) -> float:
    """Largest half-extent of a prop as it lies (a lying rifle is long in x)."""
    return max(prop["scale"])


def _frame_span(size: str, subjects: list[dict[str, Any]], props: list[dict[str, Any]]
                ) -> tuple[float, float, float, float, float]:
    """(bottom z, top z, fraction of frame height, horizontal width, centre x) of what is framed."""
    if size == "INSERT" and props:
        xs = [p["location"][0] for p in props]
        half = max(_prop_extent(p) for p in props)
        width = max(xs) - min(xs) + 2 * half
        top = max(p["location"][2] + min(p["scale"]) for p in props)
        bottom = TABLE_TOP
        # the object takes about half the frame, on its surface: close, but it reads as a thing
        return bottom, max(top, bottom + 0.05), 0.5, width / 0.4, (max(xs) + min(xs)) / 2
    if not subjects:  # an empty set: frame an imaginary person at the centre
        subjects = [{"height": 1.75, "pose": "standing", "location": [0, 0, 0]}]
    lead = subjects[0]
    lv = figure_levels(lead["height"], lead["pose"])
    xs = [s["location"][0] for s in subjects]
    width = max(xs) - min(xs) + 0.6
    centre = (max(xs) + min(xs)) / 2
    top = max(figure_levels(s["height"], s["pose"])["top"] for s in subjects)
    if size == "ECU":
        return lv["eyes"] - 0.05 * lead["height"], lv["eyes"] + 0.03 * lead["height"], 0.8, 0.3, lead["location"][0]
    if size == "CU":
        return lv["chin"] - 0.02, lv["top"], 0.72, 0.3, lead["location"][0]
    if size in ("MCU", "OTS"):
        return lv["chest"], lv["top"] + 0.06, 0.9, 0.5, lead["location"][0]
    if size == "MS":
        return lv["waist"] - 0.05, top + 0.1, 0.92, width, centre
    if size == "WS":
        return 0.0, top, 0.72, width, centre
    return 0.0, top, 0.22, width, centre  # EWS


def _camera(size: str, angle: str, lens_mm: float, aspect: float, subjects: list[dict[str, Any]],
            props: list[dict[str, Any]], kind: str, depth_room: float) -> dict[str, Any]:
    """A camera placed so the framed span fills its share of a Super 35 gate at this focal length."""
    sensor_h = SUPER35_WIDTH_MM / aspect
    bottom, top, fill, width, centre_x = _frame_span(size, subjects, props)
    frame_h = max((top - bottom) / fill, width / 0.85 / aspect)
    distance = frame_h * lens_mm / sensor_h
    target_z = (bottom + top) / 2 - (0.1 * frame_h if size == "CU" else 0.0)
    target_y = subjects[0]["location"][1] if subjects and size not in ("INSERT", "WS", "EWS", "MS") else 0.0
    if size in ("WS", "EWS", "MS") and subjects:
        ys = [s["location"][1] for s in subjects]
        target_y = (max(ys) + min(ys)) / 2
    if size == "INSERT" and props:
        target_y = props[0]["location"][1]
    target = [centre_x, target_y, target_z]
    elevation = ANGLE_ELEVATION[angle]
    if size == "EWS" and angle == "high" and kind in ("street", "landscape"):
        elevation = 12.0  # an establishing shot outdoors keeps the sky in frame
    if size == "INSERT" and angle in ("eye", "high"):
        elevation = 50.0  # looking down onto the object on its surface
    yaw = 0.0  # looking along +Y
    if size == "OTS" and len(subjects) >= 2:
        fore = subjects[1]  # the foreground shoulder; subjects[0] is the subject the camera frames
        fl = figure_levels(fore["height"], fore["pose"])
        shoulder = [fore["location"][0], fore["location"][1] - 0.28, fl["shoulders"]]
        dx, dy = shoulder[0] - target[0], shoulder[1] - target[1]
        yaw = math.degrees(math.atan2(-dx, -dy))
        distance = max(distance, math.hypot(dx, dy) + 1.0)
        rise = shoulder[2] + 0.12 - target[2]  # a taller foreground: look down over the shoulder
        if rise > 0:
            elevation = max(elevation, math.degrees(math.atan2(rise, math.hypot(dx, dy))))
    e, y_r = math.radians(elevation), math.radians(yaw)
    view = [math.cos(e) * math.sin(y_r), math.cos(e) * math.cos(y_r), -math.sin(e)]
    location = [target[i] - distance * view[i] for i in range(3)]
    if location[2] < 0.12:  # a low angle never digs under the floor
        location[2] = 0.12
    return {"location": [round(v, 4) for v in location], "target": [round(v, 4) for v in target],
            "roll_deg": ANGLE_ROLL.get(angle, 0.0), "lens_mm": lens_mm, "sensor_width_mm": SUPER35_WIDTH_MM,
            "sensor_fit": "HORIZONTAL", "distance_m": round(distance, 3), "frame_height_m": round(frame_h, 4),
            "clip_end": 1000.0}


def _pov_camera(camera: dict[str, Any], eye_height: float, subjects: list[dict[str, Any]]) -> dict[str, Any]:
    """The same set-up from the viewer's eyes: the lens at their eye height, aimed at the eyes of
    whoever they look at (a child looks up at an adult), or level into the set."""
    location = list(camera["location"])
    target = list(camera["target"])
    location[2] = eye_height
    if subjects:
        lead = subjects[0]
        target = [lead["location"][0], lead["location"][1], figure_levels(lead["height"], lead["pose"])["eyes"]]
        location[1] = min(location[1], lead["location"][1] - 1.2)
    else:
        target[2] = eye_height
    return {**camera, "location": [round(v, 4) for v in location], "target": [round(v, 4) for v in target],
            "roll_deg": 0.0, "eye_height_m": round(eye_height, 4)}


def project(camera: Mapping[str, Any], point: Sequence[float], width: int, height: int
            ) -> tuple[float, float, bool]:
    """Pixel position (x right, y down) of a world point in this camera's frame, and whether it is
    in front of the lens. The same pinhole Blender uses: horizontal sensor fit, square pixels."""
    loc, tgt = camera["location"], camera["target"]
    fwd = [tgt[i] - loc[i] for i in range(3)]
    norm = math.sqrt(sum(v * v for v in fwd)) or 1.0
    fwd = [v / norm for v in fwd]
    up0 = [0.0, 0.0, 1.0] if abs(fwd[2]) < 0.999 else [0.0, 1.0, 0.0]
    right = [fwd[1] * up0[2] - fwd[2] * up0[1], fwd[2] * up0[0] - fwd[0] * up0[2], fwd[0] * up0[1] - fwd[1] * up0[0]]
    rn = math.sqrt(sum(v * v for v in right)) or 1.0
    right = [v / rn for v in right]
    up = [right[1] * fwd[2] - right[2] * fwd[1], right[2] * fwd[0] - right[0] * fwd[2],
          right[0] * fwd[1] - right[1] * fwd[0]]
    roll = math.radians(camera.get("roll_deg") or 0.0)
    if roll:
        right, up = ([math.cos(roll) * r + math.sin(roll) * u for r, u in zip(right, up)],
                     [-math.sin(roll) * r + math.cos(roll) * u for r, u in zip(right, up)])
    rel = [point[i] - loc[i] for i in range(3)]
    depth = sum(rel[i] * fwd[i] for i in range(3))
    if depth <= 1e-6:
        return 0.0, 0.0, False
    scale = camera["lens_mm"] / camera["sensor_width_mm"] * width
    x = width / 2 + scale * sum(rel[i] * right[i] for i in range(3)) / depth
    y = height / 2 - scale * sum(rel[i] * up[i] for i in range(3)) / depth
    return x, y, True


def _tags(people: list[dict[str, Any]], props: list[dict[str, Any]], camera: Mapping[str, Any], size: str,
          width: int, height: int) -> list[dict[str, Any]]:
    """Where each name tag goes in the panel: above the head, or on the chest when the head is
    cut by the frame; a prop's tag beside it on inserts."""
    tags = []
    for person in people:
        lv = figure_levels(person["height"], person["pose"])
        x0, y0 = person["location"][0], person["location"][1]
        for level in ("top", "chest", "waist"):
            z = lv[level] + (0.12 if level == "top" else 0.0)
            x, y, front = project(camera, (x0, y0, z), width, height)
            if front and 0.04 * height <= y <= 0.9 * height and 0 <= x <= width:
                tags.append({"text": person["name"], "kind": "person", "x": round(x, 1), "y": round(y, 1),
                             "color": person["color"]})
                break
        else:  # a close-up: the head fills the frame, so the tag goes beside it, at eye level
            x, y, front = project(camera, (x0, y0, lv["eyes"]), width, height)
            side, _, _ = project(camera, (x0 + 0.16 * person["height"], y0, lv["eyes"]), width, height)
            if front and 0 <= y <= height and -0.2 * width <= x <= 1.2 * width:
                tags.append({"text": person["name"], "kind": "person",
                             "x": round(min(max(side + 0.1 * width, 0.1 * width), 0.9 * width), 1),
                             "y": round(min(max(y, 0.12 * height), 0.9 * height), 1), "color": person["color"]})
    return tags


def _looks(characters: Any, names: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Each name's look from the job's cast table (index, height, child, voice_only); names the
    table lacks get the next free palette colours in order of appearance."""
    if characters is None:
        characters = {}
    if not isinstance(characters, Mapping):
        raise SpecError(f"must be a mapping of name to look, not {type(characters).__name__}", field="characters")
    if len(characters) > MAX_CHARACTERS_PER_SHOT * 10:
        raise SpecError(f"{len(characters)} characters; at most {MAX_CHARACTERS_PER_SHOT * 10}", field="characters")
    table = {" ".join(str(k).split()).upper(): v for k, v in characters.items()}
    for key, value in table.items():
        if not isinstance(value, Mapping):
            raise SpecError("must be a mapping (index, height, child, voice_only)", field=f"characters.{key[:40]}")
    used = {v.get("index") for v in table.values()}
    free = (i for i in range(10_000) if i not in used)
    looks: dict[str, dict[str, Any]] = {}
    for name in names:
        entry = table.get(name.upper())
        if entry is None or not isinstance(entry.get("index"), int):
            entry = {**(entry or {}), "index": next(free)}
        looks[name] = character_look(name, entry)
    return looks


def build_blocking(shots: Sequence[Mapping[str, Any]], scene: Mapping[str, Any] | None = None, *,
                   width: int = 960, height: int = 540, characters: Mapping[str, Any] | None = None
                   ) -> dict[str, Any]:
    """The whole scene spec for one script scene. Raises SpecError (naming the field) on bad input.

    ``characters`` is the production's cast table (name -> index, height, child, voice_only):
    the same colour and height in every scene. Voices - devices, and the names a shot's
    ``voices:`` note lists - are never drawn as bodies; POV shots put the lens at the viewer's eyes."""
    if not isinstance(shots, (list, tuple)) or not shots:
        raise SpecError("must be a non-empty list of shots", field="shots")
    if len(shots) > MAX_SHOTS:
        raise SpecError(f"{len(shots)} shots; at most {MAX_SHOTS} per scene", field="shots")
    if scene is not None and not isinstance(scene, Mapping):
        raise SpecError(f"must be a scene breakdown mapping, not {type(scene).__name__}", field="scene")
    aspect = width / height
    props_in_breakdown = scene_props(scene)
    heading = _text((scene or {}).get("heading"), "scene.heading", 600)
    location_text = _text((scene or {}).get("location"), "scene.location", 400)
    planned = []
    for index, shot in enumerate(shots):
        if not isinstance(shot, Mapping):
            raise SpecError(f"must be a mapping, not {type(shot).__name__}", field=f"shots[{index}]")
        size = _size(shot.get("size"), f"shots[{index}].size")
        angle = _angle(shot.get("angle"), f"shots[{index}].angle")
        lens = _lens(shot.get("lens_mm"), size, f"shots[{index}].lens_mm")
        names = _names(shot.get("characters"), f"shots[{index}].characters")
        description = _text(shot.get("description"), f"shots[{index}].description")
        notes = _text(shot.get("camera_notes"), f"shots[{index}].camera_notes")
        number = _text(shot.get("number"), f"shots[{index}].number", 24) or str(index + 1)
        scene_no = _text(shot.get("scene"), f"shots[{index}].scene", 16) or _text((scene or {}).get("number"),
                                                                                     "scene.number", 16)
        planned.append((index, shot, size, angle, lens, names, description, notes, number, scene_no))
    all_names = [n for p in planned for n in p[5]]
    table_names = list(characters) if isinstance(characters, Mapping) else []
    looks = _looks(characters, list(dict.fromkeys([*map(str, table_names), *all_names])))
    # the set must hold the widest layout of any shot
    widest = max(min(len(p[5]), ROW_WIDTH) for p in planned) if planned else 1
    deepest = max((len(p[5]) - 1) // ROW_WIDTH + 1 for p in planned) if planned else 1
    the_set = build_set(scene, widest * SPACING_X + 0.6, deepest * SPACING_Y + 2.0)
    lighting = build_lighting(scene, the_set["kind"])
    out_shots = []
    for index, shot, size, angle, lens, names, description, notes, number, scene_no in planned:
        voices = shot_voices(notes)
        heard = {v[0].upper() for v in voices}
        for name in names:
            if (looks[name]["voice_only"] or is_device(name)) and name.upper() not in heard:
                voices.append((name, "DEVICE" if is_device(name) else "V.O."))
                heard.add(name.upper())
        pov, viewer, mask = pov_of(" ".join((description, notes, location_text, heading)), list(looks))
        pov = pov and size != "INSERT"  # an insert of the scope is still an insert: close on the object
        drawn = [n for n in names if n.upper() not in heard and n != viewer]
        if size == "OTS" and len(drawn) < 2:
            size = "MCU"  # an over-the-shoulder needs a shoulder; without one it is a single
        people = _layout(drawn, size, _who_sits(description, drawn), looks)
        front = min((p["location"][1] for p in people), default=0.0)
        props = _prop_stand_ins(_shot_props(shot, size, description, props_in_breakdown, index), size, front)
        camera = _camera(size, angle, lens, aspect, people, props, the_set["kind"], the_set["depth"])
        pov_info = None
        if pov:
            viewer_look = looks.get(viewer) if viewer else None
            eye = figure_levels(viewer_look["height"] if viewer_look else 1.72, "standing")["eyes"]
            camera = _pov_camera(camera, eye, people)
            pov_info = {"viewer": viewer, "mask": mask, "eye_height_m": round(eye, 4)}
        out_shots.append({
            "index": index, "id": f"{scene_no}-{number}" if scene_no and not number.startswith(scene_no) else number,
            "scene": scene_no, "number": number, "size": size, "angle": angle, "lens_mm": lens,
            "movement": _text(shot.get("movement"), f"shots[{index}].movement", 40) or "static",
            "description": description, "characters": people, "props": props, "camera": camera,
            "voices": [{"name": n, "kind": k} for n, k in voices], "pov": pov_info,
            "tags": _tags(people, props, camera, size, width, height),
        })
    return {"version": SPEC_VERSION, "width": int(width), "height": int(height),
            "scene": {"number": _text((scene or {}).get("number"), "scene.number", 16),
                      "heading": heading, "set": the_set, "lighting": lighting},
            "shots": out_shots}
