"""Coverage rules: a first-pass shot list from the breakdown and the script's words.

The rules plan what a careful first AD and DP would start from - an establishing shot for
exteriors, a master for every scene, singles for people who speak (never for a crowd), over-the-
shoulders when two people talk, inserts for the story props the action names, cutaways for
sound, special-effect and VFX beats - and time every shot from the scene's page eighths and the
length of its dialogue. A person then edits the list (YAML/CSV); ``merge_shot_lists`` keeps
those edits when the rules run again on a new draft.
"""

from __future__ import annotations

import csv
import io
import re
import string
from dataclasses import dataclass, field
from typing import Any, Iterable

import yaml

from soundstage.domain.breakdown import Breakdown, Category, SceneBreakdown
from soundstage.domain.screenplay import ElementKind, Scene, Screenplay
from soundstage.domain.safeguards import LocatedDict, LocatedList, compose_located
from soundstage.domain.shots import (
    LENS_FOR_SIZE,
    SCHEMA,
    SceneShots,
    Shot,
    ShotList,
    horizontal_fov_degrees,
    shot_number,
)
from soundstage.errors import SpecError
from soundstage.previz.cast import is_device, offscreen_extension

WORDS_PER_SECOND = 2.5  # conversational screen dialogue
MAX_SINGLES_GROUPED = 6  # above this many people in a scene, non-speakers are covered in groups
GROUP_SIZE = 8
MAX_GROUP_SHOTS = 2
MAX_INSERTS = 6
MAX_CUTAWAYS = 4
ESTABLISHING_SECONDS = 3.0
INSERT_SECONDS = 2.0
CUTAWAY_SECONDS = 2.5
MIN_MASTER_SECONDS = 3.0
MIN_DIALOGUE_SHOT_SECONDS = 1.5
POV_RE = re.compile(r"\bPOV\b|\bpoint of view\b", re.I)
MAX_POV_SHOTS = 2
EXTERIOR = {"EXT", "EST", "INT/EXT", "EXT/INT", "I/E"}
CUTAWAY_CATEGORIES = (Category.SOUND, Category.SPECIAL_EFFECTS, Category.VISUAL_EFFECTS)

CSV_COLUMNS = ("scene", "number", "size", "angle", "lens_mm", "movement", "characters", "description",
               "dialogue_excerpt", "camera_notes", "est_seconds", "origin", "source_line")
MAX_EDIT_FILE_BYTES = 5 * 1024 * 1024


# ----------------------------------------------------------------------------- script words

@dataclass
class _Speech:
    character: str
    text: str
    line: int
    onscreen: bool
    how: str = ""  # "V.O.", "O.S.", "ON PHONE"...: how an unseen speaker is heard


@dataclass
class _SceneText:
    """What the rules need from the script's words for one scene."""

    speeches: list[_Speech] = field(default_factory=list)
    lines: dict[int, str] = field(default_factory=dict)  # source line -> action text

    def words(self, character: str) -> int:
        return sum(len(s.text.split()) for s in self.speeches if s.character == character)

    def first_speech(self, character: str) -> _Speech | None:
        return next((s for s in self.speeches if s.character == character and s.text), None)

    def voices(self) -> dict[str, str]:
        """Speakers only ever heard in this scene (V.O., O.S., a phone, a machine) -> how."""
        heard: dict[str, str] = {}
        for s in self.speeches:
            if not s.onscreen:
                heard.setdefault(s.character, s.how)
        seen = {s.character for s in self.speeches if s.onscreen}
        return {c: how for c, how in heard.items() if c not in seen}

    def action_at(self, line: int) -> str:
        if line in self.lines:
            return self.lines[line]
        earlier = [n for n in self.lines if n <= line]
        return self.lines[max(earlier)] if earlier else ""


def _scene_text(scene: Scene | None) -> _SceneText:
    out = _SceneText()
    if scene is None:
        return out
    for el in scene.elements:
        if el.kind is ElementKind.DIALOGUE and POV_RE.search(el.character or ""):
            # "MARY'S POV" above a line reads as a cue in Fountain; it is a direction
            out.lines[el.line] = " ".join(f"{el.character}. {el.speech}".split())
        elif el.kind is ElementKind.DIALOGUE:
            how = offscreen_extension(el.extensions) or ("DEVICE" if is_device(el.character) else "")
            out.speeches.append(_Speech(el.character, el.speech.strip(), el.line, not how, how))
        elif el.kind is ElementKind.ACTION:
            out.lines[el.line] = " ".join(el.text.split())
    return out


def _match_scenes(breakdown: Breakdown, screenplay: Screenplay | None) -> dict[str, Scene]:
    """Breakdown scene -> script scene, by position (checked against the heading line)."""
    if screenplay is None:
        return {}
    scenes = screenplay.scenes()
    by_line = {s.heading.line: s for s in scenes}
    found: dict[str, Scene] = {}
    for sb in breakdown.live_scenes():
        scene = by_line.get(sb.source_line)
        if scene is None and 0 <= sb.index < len(scenes):
            scene = scenes[sb.index]
        if scene is not None:
            found[sb.number] = scene
    return found


def _clip(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _sentence_with(text: str, word: str) -> str:
    """The sentence of an action paragraph that names a prop: the insert's description."""
    for sentence in re.split(r"(?<=[.!?])\s+", text):
        if word.lower() in sentence.lower():
            return sentence
    return text


def _round_half(seconds: float) -> float:
    return max(0.5, round(seconds * 2) / 2)


def _notes(size: str, lens: float, *extra: str) -> str:
    base = f"Super 35, {lens:g}mm ({horizontal_fov_degrees(lens):.0f}° horizontal)"
    if size == "INSERT":
        base += ", macro"
    return "; ".join([base, *[e for e in extra if e]])


def _exterior(sb: SceneBreakdown) -> bool:
    return sb.int_ext.upper().replace(".", "") in EXTERIOR


def _place(sb: SceneBreakdown) -> str:
    return string.capwords(sb.location.strip().lower()) or "an unnamed location"


# ----------------------------------------------------------------------------- the rules

@dataclass
class _Planned:
    shot: dict[str, Any]
    order: tuple[int, int]  # (group, script line) - establishing and master first, then as scripted


def plan_scene(sb: SceneBreakdown, scene: Scene | None) -> list[Shot]:
    """The coverage for one scene, numbered and timed."""
    text = _scene_text(scene)
    tod = sb.time_of_day.strip().lower()
    mood = {"night": "night: practicals and moonlight", "dusk": "dusk: shoot in the last light",
            "dawn": "dawn: shoot in the first light"}.get(tod, "")
    planned: list[_Planned] = []
    heading_line = sb.source_line
    first_line = next((s for s in text.speeches if s.text), None)
    # who is in frame: onscreen speakers in order of speech, then the rest of the cast
    onscreen_speakers = [c for c in sb.speaking_cast
                         if any(s.character == c and s.onscreen for s in text.speeches) or not text.speeches]
    voices = text.voices()
    voices.update({c: "DEVICE" for c in sb.cast if is_device(c) and c not in voices})
    everyone = [c for c in sb.cast if c not in voices]  # a voice is heard, never blocked as a body
    onscreen_speakers = [c for c in onscreen_speakers if c not in voices]
    heard = "voices: " + ", ".join(f"{c} ({how})" if how and how != "DEVICE" else c for c, how in voices.items()) \
        if voices else ""
    stunt_or_chase = bool(sb.in_category(Category.STUNTS))
    pov_scene = bool(POV_RE.search(sb.location) or POV_RE.search(sb.heading))

    def add(group: int, line: int, **shot: Any) -> None:
        size = shot["size"]
        shot.setdefault("lens_mm", LENS_FOR_SIZE[size])
        shot.setdefault("angle", "eye")
        shot.setdefault("movement", "static")
        shot.setdefault("characters", [])
        shot["source_line"] = line
        planned.append(_Planned(shot, (group, line)))

    if _exterior(sb):
        add(0, heading_line, size="EWS", angle="high", movement="crane" if sb.int_ext.upper() == "EST" else "pan",
            description=f"Establishing: {_place(sb)}, {tod or 'time unstated'}.",
            camera_notes=_notes("EWS", LENS_FOR_SIZE["EWS"], mood,
                                "VFX plate: lock-off" if sb.in_category(Category.VISUAL_EFFECTS) else ""))
    master_move = "handheld" if stunt_or_chase else "dolly" if sb.eighths >= 16 else "static"
    crowd = len(everyone) > MAX_SINGLES_GROUPED
    master_people = ", ".join(everyone[:4]) + (f" and {len(everyone) - 4} more" if len(everyone) > 4 else "")
    if pov_scene:  # "EXT. ROOFTOP - SNIPER SCOPE POV": the scene is seen through someone's eyes
        master_desc = f"POV: {_place(sb)}" + (f", on {master_people}." if master_people else ".")
    else:
        master_desc = f"Master: {master_people or 'the empty set'} in {_place(sb)}."
    add(1, heading_line, size="WS", movement=master_move, characters=list(everyone),
        description=master_desc,
        dialogue_excerpt=_clip(f"{first_line.character}: {first_line.text}") if first_line else "",
        camera_notes=_notes("WS", LENS_FOR_SIZE["WS"], mood, "full figures, whole action covered", heard))
    # POV beats the action calls for ("MARY'S POV", "POV - THE STREET BELOW")
    pov_lines = [(line, t) for line, t in sorted(text.lines.items()) if POV_RE.search(t)][:MAX_POV_SHOTS]
    for line, action in pov_lines if not pov_scene else []:
        viewer = next((c for c in everyone if re.search(rf"(?<![\w']){re.escape(c)}(?:'S|’S)?\s+POV", action, re.I)), "")
        seen = [c for c in everyone if c != viewer][:4]
        add(2, line, size="MS", characters=seen,
            description=_clip(f"POV {viewer}: {_sentence_with(action, 'POV')}" if viewer
                              else f"POV: {_sentence_with(action, 'POV')}"),
            camera_notes=_notes("MS", LENS_FOR_SIZE["MS"], f"point of view of {viewer or 'the character'}", heard))
    if crowd:
        background = [c for c in everyone if c not in onscreen_speakers]
        for g in range(min(MAX_GROUP_SHOTS, -(-len(background) // GROUP_SIZE))):
            members = background[g * GROUP_SIZE:(g + 1) * GROUP_SIZE]
            add(2, heading_line + 1 + g, size="MS", characters=members,
                description=f"Group: {', '.join(members[:3])}{' and others' if len(members) > 3 else ''}.",
                camera_notes=_notes("MS", LENS_FOR_SIZE["MS"], "group shot: non-speaking cast covered together"))
    # over-the-shoulders: exactly two people talking to each other
    if len(onscreen_speakers) == 2:
        a, b = onscreen_speakers
        for speaker, listener in ((a, b), (b, a)):
            speech = text.first_speech(speaker)
            add(2, speech.line if speech else heading_line, size="OTS", characters=[speaker, listener],
                description=f"Over {listener}'s shoulder onto {speaker}.",
                dialogue_excerpt=_clip(f"{speaker}: {speech.text}") if speech else "",
                camera_notes=_notes("OTS", LENS_FOR_SIZE["OTS"], f"dirty single: {listener} soft in foreground"))
    longest = max(onscreen_speakers, key=text.words, default=None)
    for speaker in onscreen_speakers:
        speech = text.first_speech(speaker)
        close = speaker == longest and len(onscreen_speakers) <= 2 and text.words(speaker) >= 40
        size = "CU" if close else "MCU"
        add(2, (speech.line if speech else heading_line) + 1, size=size,
            movement="push in" if close else "static", characters=[speaker],
            description=f"Single on {speaker}.",
            dialogue_excerpt=_clip(f"{speaker}: {speech.text}") if speech else "",
            camera_notes=_notes(size, LENS_FOR_SIZE[size], "eye line just off lens"))
    # inserts: story props the action names, one per prop
    seen: set[str] = set()
    for el in sorted(sb.in_category(Category.PROPS), key=lambda e: e.source_line):
        if len([p for p in planned if p.shot["size"] == "INSERT"]) >= MAX_INSERTS or el.name.lower() in seen:
            continue
        seen.add(el.name.lower())
        action = _sentence_with(text.action_at(el.source_line), el.name) if el.source_line else ""
        add(2, el.source_line or heading_line, size="INSERT", angle="high",
            description=_clip(f"Insert: the {el.name}. {action}".strip()),
            camera_notes=_notes("INSERT", LENS_FOR_SIZE["INSERT"], "story prop"))
    # cutaways: the beats sound, SFX and VFX departments build
    beats: dict[int, list[str]] = {}
    kinds: dict[int, set[Category]] = {}
    for cat in CUTAWAY_CATEGORIES:
        for el in sb.in_category(cat):
            beats.setdefault(el.source_line, []).append(el.name)
            kinds.setdefault(el.source_line, set()).add(cat)
    for line in sorted(beats)[:MAX_CUTAWAYS]:
        names = sorted(set(beats[line]))
        vfx = Category.VISUAL_EFFECTS in kinds[line]
        size = "WS" if vfx or Category.SPECIAL_EFFECTS in kinds[line] else "MS"
        action = text.action_at(line) if line else ""
        named = [c for c in everyone if re.search(rf"(?<![\w']){re.escape(c)}(?![\w'])", action, re.I)]
        add(2, line or heading_line, size=size, angle="low" if vfx else "eye", characters=named[:8],
            description=_clip(f"Cutaway: {', '.join(names)}. {action}".strip()),
            camera_notes=_notes(size, LENS_FOR_SIZE[size], ", ".join(sorted(c.value for c in kinds[line]))))
    planned.sort(key=lambda p: p.order)
    _time_scene(sb, planned, text)
    return [Shot(scene=sb.number, number=shot_number(sb.number, i), origin="rule", **p.shot)
            for i, p in enumerate(planned)]


def _time_scene(sb: SceneBreakdown, planned: list[_Planned], text: _SceneText) -> None:
    """Fixed beats (establishing, inserts, cutaways, groups) get a fixed hold; each speaker's
    dialogue time (words / 2.5 per second) is split between the shots that feature them; the
    master takes what is left of the scene's page-eighths time, never less than three seconds."""
    scene_seconds = float(sb.est_seconds) or sb.eighths * 7.5
    featuring: dict[str, list[_Planned]] = {}
    for p in planned:
        size = p.shot["size"]
        if size in ("OTS", "MCU", "CU") and p.shot["characters"]:
            featuring.setdefault(p.shot["characters"][0], []).append(p)
    fixed = 0.0
    for p in planned:
        size = p.shot["size"]
        if p.order[0] == 0:
            p.shot["est_seconds"] = ESTABLISHING_SECONDS
        elif size == "INSERT":
            p.shot["est_seconds"] = INSERT_SECONDS
        elif p.shot["description"].startswith(("Cutaway", "Group")):
            p.shot["est_seconds"] = CUTAWAY_SECONDS
        else:
            continue
        fixed += p.shot["est_seconds"]
    dialogue = 0.0
    for speaker, shots in featuring.items():
        seconds = text.words(speaker) / WORDS_PER_SECOND
        for p in shots:
            p.shot["est_seconds"] = _round_half(max(MIN_DIALOGUE_SHOT_SECONDS, seconds / len(shots)))
            dialogue += p.shot["est_seconds"]
    for p in planned:
        if "est_seconds" not in p.shot:  # the master
            p.shot["est_seconds"] = _round_half(max(MIN_MASTER_SECONDS, scene_seconds - fixed - dialogue))


def make_shot_list(breakdown: Breakdown, screenplay: Screenplay | None, *, draft: int | None = None) -> ShotList:
    """The rules' shot list for every live scene (OMITTED placeholders are not shot)."""
    by_number = _match_scenes(breakdown, screenplay)
    scenes = [SceneShots(sb.number, sb.heading, sb.content_hash, plan_scene(sb, by_number.get(sb.number)))
              for sb in breakdown.live_scenes()]
    return ShotList(title=breakdown.title, scenes=scenes, draft=draft)


# ----------------------------------------------------------------------------- re-runs keep edits

@dataclass
class MergeReport:
    kept: list[str] = field(default_factory=list)  # unchanged scenes: the person's list stands
    replanned: list[str] = field(default_factory=list)  # changed scenes: rules re-ran
    new: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # scenes no longer in the draft
    carried_user_shots: list[str] = field(default_factory=list)
    dropped_edits: list[str] = field(default_factory=list)  # edits to rule shots of changed scenes

    def to_dict(self) -> dict[str, list[str]]:
        return {k: list(v) for k, v in self.__dict__.items()}


def edited_rule_shots(current: SceneShots, baseline: SceneShots | None) -> list[str]:
    """Rule shots a person changed (or deleted) relative to what the rules produced."""
    base = {s.number: s for s in (baseline.shots if baseline else [])}
    now = {s.number: s for s in current.shots}
    changed = [n for n, s in now.items() if s.origin == "rule" and n in base and s.content_key() != base[n].content_key()]
    deleted = [n for n in base if n not in now]
    return changed + deleted


def merge_shot_lists(rules: ShotList, current: ShotList | None, baseline: ShotList | None) -> tuple[ShotList, MergeReport]:
    """The new working list: a scene whose content hash is unchanged keeps the person's list as
    it is; a changed scene is replanned by the rules, carrying over the shots a person added
    (their edits to rule shots no longer match the words and are reported as dropped)."""
    report = MergeReport()
    scenes: list[SceneShots] = []
    for fresh in rules.scenes:
        old = current.scene(fresh.number) if current else None
        if old is None:
            report.new.append(fresh.number)
            scenes.append(fresh)
            continue
        if old.content_hash == fresh.content_hash:
            report.kept.append(fresh.number)
            scenes.append(SceneShots(fresh.number, fresh.heading, fresh.content_hash, list(old.shots)))
            continue
        report.replanned.append(fresh.number)
        report.dropped_edits.extend(edited_rule_shots(old, baseline.scene(fresh.number) if baseline else None))
        shots = list(fresh.shots)
        used = {s.number for s in shots}
        for user_shot in (s for s in old.shots if s.origin == "user"):
            number = user_shot.number
            k = 1
            while number in used:
                number, k = f"{user_shot.number}.{k}", k + 1
            used.add(number)
            shots.append(Shot.from_dict({**user_shot.to_dict(), "number": number}))
            report.carried_user_shots.append(number)
        scenes.append(SceneShots(fresh.number, fresh.heading, fresh.content_hash, shots))
    if current:
        live = {s.number for s in rules.scenes}
        report.removed = [s.number for s in current.scenes if s.number not in live]
    return ShotList(rules.title, scenes, draft=rules.draft), report


def mark_user_shots(edited: ShotList, baseline: ShotList | None) -> ShotList:
    """A shot the rules never produced is a person's, whatever the file says."""
    for scene in edited.scenes:
        base = baseline.scene(scene.number) if baseline else None
        rule_numbers = {s.number for s in base.shots} if base else set()
        for shot in scene.shots:
            if shot.number not in rule_numbers:
                shot.origin = "user"
    return edited


def check_against_breakdown(shots: ShotList, breakdown: Breakdown, *, source: str | None = None,
                            lines: dict[tuple[str, str], int] | None = None) -> ShotList:
    """Every scene must exist in the current draft; headings and hashes come from the breakdown."""
    lines = lines or {}
    for scene in shots.scenes:
        sb = breakdown.scene(scene.number)
        if sb is None or sb.omitted:
            first = scene.shots[0].number if scene.shots else ""
            raise SpecError(f"scene {scene.number!r} is not in the current draft", field="scene",
                            line=lines.get((scene.number, first)), source=source,
                            hint="scenes: " + ", ".join(s.number for s in breakdown.live_scenes()))
        scene.heading, scene.content_hash = sb.heading, sb.content_hash
    return shots


# ----------------------------------------------------------------------------- YAML / CSV

def write_shot_list_yaml(shots: ShotList) -> str:
    data = {"schema": SCHEMA, "title": shots.title, "draft": shots.draft,
            "scenes": [{"scene": s.number, "heading": s.heading,
                        "shots": [{k: v for k, v in shot.to_dict().items() if k != "scene"} for shot in s.shots]}
                       for s in shots.scenes]}
    header = ("# soundstage shot list - edit freely, then: soundstage previz shots import FILE\n"
              "# size: EWS WS MS MCU CU ECU INSERT OTS | angle: eye high low overhead dutch\n"
              "# movement: static pan tilt dolly handheld crane 'push in' | new shots get origin: user\n")
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110)


def write_shot_list_csv(shots: ShotList) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for shot in shots.shots():
        row = shot.to_dict()
        row["characters"] = "; ".join(shot.characters)
        writer.writerow({k: row[k] for k in CSV_COLUMNS})
    return buf.getvalue()


@dataclass
class ReadShotList:
    """A parsed edit file and where each shot was in it (for later errors)."""

    shots: ShotList
    lines: dict[tuple[str, str], int]


def _check_size(data: str | bytes, source: str | None) -> str:
    if len(data) > MAX_EDIT_FILE_BYTES:
        raise SpecError(f"the file is larger than {MAX_EDIT_FILE_BYTES // (1024 * 1024)} MB", source=source)
    if isinstance(data, bytes):
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise SpecError("the file is not UTF-8 text", source=source) from None
    return data


def _build_scenes(rows: Iterable[tuple[int, dict[str, Any]]], source: str | None) -> ReadShotList:
    scenes: dict[str, SceneShots] = {}
    lines: dict[tuple[str, str], int] = {}
    for line, row in rows:
        try:
            shot = Shot.from_dict(row)
        except SpecError as exc:
            raise SpecError(_bare(exc), field=exc.field, line=line, source=source, hint=exc.hint) from None
        key = (shot.scene, shot.number)
        if key in lines:
            raise SpecError(f"shot {shot.number} appears twice (first on line {lines[key]})", field="number",
                            line=line, source=source)
        lines[key] = line
        scenes.setdefault(shot.scene, SceneShots(shot.scene, "", "")).shots.append(shot)
    return ReadShotList(ShotList("", list(scenes.values())), lines)


def _bare(exc: SpecError) -> str:
    """The message of a SpecError without the prefix it already carries."""
    text = exc.message
    if exc.field and f"field '{exc.field}': " in text:
        text = text.split(f"field '{exc.field}': ", 1)[1]
    return text


def read_shot_list_yaml(data: str | bytes, *, source: str | None = None) -> ReadShotList:
    text = _check_size(data, source)
    doc = compose_located(text, source)
    if not isinstance(doc, LocatedDict):
        raise SpecError("a shot list is a mapping with 'scenes:'", source=source, line=1)
    if doc.get("schema", SCHEMA) != SCHEMA:
        raise SpecError(f"expected {SCHEMA!r}", field="schema", line=doc.line_of("schema"), source=source)
    scenes = doc.get("scenes")
    if not isinstance(scenes, LocatedList):
        raise SpecError("missing or not a list", field="scenes", line=doc.line_of("scenes"), source=source)
    rows: list[tuple[int, dict[str, Any]]] = []
    for i, scene in enumerate(scenes):
        if not isinstance(scene, LocatedDict):
            raise SpecError("each scene is a mapping with scene: and shots:", line=scenes.line_of(i), source=source)
        number = scene.get("scene")
        if number in (None, ""):
            raise SpecError("missing", field="scene", line=scene.line, source=source)
        shots = scene.get("shots", [])
        if not isinstance(shots, list):
            raise SpecError("must be a list", field="shots", line=scene.line_of("shots"), source=source)
        for j, shot in enumerate(shots):
            line = shots.line_of(j) if isinstance(shots, LocatedList) else scene.line
            if not isinstance(shot, LocatedDict):
                raise SpecError("each shot is a mapping of field: value", line=line, source=source)
            if "scene" in shot and str(shot["scene"]) != str(number):
                raise SpecError(f"shot says scene {shot['scene']!r} inside scene {number!r}", field="scene",
                                line=shot.line_of("scene"), source=source)
            try:
                Shot.from_dict({**dict(shot), "scene": str(number)})
            except SpecError as exc:
                raise SpecError(_bare(exc), field=exc.field, source=source, hint=exc.hint,
                                line=shot.line_of(exc.field) if exc.field else line) from None
            rows.append((line, {**dict(shot), "scene": str(number)}))
    read = _build_scenes(rows, source)
    read.shots.title = str(doc.get("title", ""))
    draft = doc.get("draft")
    read.shots.draft = draft if isinstance(draft, int) else None
    return read


def read_shot_list_csv(data: str | bytes, *, source: str | None = None) -> ReadShotList:
    text = _check_size(data, source)
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    unknown = [h for h in header if h not in CSV_COLUMNS]
    if unknown:
        raise SpecError("unknown column", field=unknown[0], line=1, source=source,
                        hint="columns: " + ", ".join(CSV_COLUMNS))
    for required in ("scene", "number", "size"):
        if required not in header:
            raise SpecError("missing column", field=required, line=1, source=source)
    rows: list[tuple[int, dict[str, Any]]] = []
    try:
        for row in reader:
            if None in row:
                raise SpecError("more cells than columns", line=reader.line_num, source=source)
            if not any((v or "").strip() for v in row.values()):
                continue
            clean = {k: v for k, v in row.items() if v not in (None, "") or k in ("scene", "number", "size")}
            rows.append((reader.line_num, clean))
    except csv.Error as exc:
        raise SpecError(f"not valid CSV: {exc}", line=reader.line_num, source=source) from None
    return _build_scenes(rows, source)
