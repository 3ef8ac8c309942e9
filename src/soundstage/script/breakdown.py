"""Screenplay -> production breakdown by rules and word lists, plus re-applying people's edits.

Pure functions. Rules are deliberately conservative and every element carries the script
line it came from, so a coordinator can check it and correct it with a BreakdownEdit that
survives every re-run.
"""

from __future__ import annotations

import copy
from functools import lru_cache
import hashlib
from itertools import chain
import re
import zlib

from soundstage.domain.breakdown import (
    Breakdown, BreakdownEdit, BreakdownElement, Category, SceneBreakdown, normalise_name,
)
from soundstage.domain.screenplay import Element, ElementKind, Scene, SceneHeading, Screenplay
from soundstage.script.fountain import gc_paused, parse_heading
from soundstage.script.lexicon import (
    CAR_MAKES, GENERIC_VEHICLES, MUSICAL_GROUPS, PERSON_NOUNS, PET_WORDS, compiled, lookup_match,
)
from soundstage.script.pagination import Pagination, estimate_screen_seconds, paginate
from soundstage.script.tagger import (
    TAGGER_VERSION, UPPER, CastIndex, caps_parts, elements_of, is_direction_cue, is_machine_cue, quoted_spans,
)

_SCENE_NUMBER = re.compile(r"\s*#[^#]*#\s*$")
_CUE_EXTENSION = re.compile(r"\s*\([^)]*\)")
_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"[\w']+")
# "MAYA (30s)", "OLD MAN (70)", "DETECTIVE REYES, 40s," - the convention for a first introduction.
_INTRODUCTION = re.compile(
    rf"(?<![\w'])([{UPPER}][{UPPER}'.\-]*[{UPPER}.](?:\s+[{UPPER}][{UPPER}'.\-]*[{UPPER}]){{0,2}})"
    r"(?:\s*\(\s*(?:early |mid |late |mid-)?\d{1,2}s?\b[^)]{0,80}\)|,\s*(?:early |mid |late |mid-)?\d{1,2}s?\b)"
)
_DIGIT = re.compile(r"\d")
_MAX_NAME_WORDS = 6
_COUPLE = re.compile(r"(MR\.?|MRS\.?|MS\.?|DR\.?)\s+AND\s+(MR\.?|MRS\.?|MS\.?|DR\.?)\s+([A-Z][A-Z'\-]+)")
# Words that are also names: never a character's alias by themselves.
_COMMON_WORDS = {"will", "may", "june", "april", "march", "august", "mark", "bill", "grace", "hope", "faith", "joy",
                 "chase", "hunter", "rich", "summer", "dawn", "frank", "jack", "pat", "sue", "rob", "guy", "art",
                 "sky", "rose", "lily", "iris", "daisy", "violet", "ivy", "ruby", "pearl", "amber", "holly", "heather",
                 "crystal", "sunny", "angel", "major", "baker", "cook", "king", "young", "little", "big", "mr", "mrs",
                 "ms", "miss", "dr", "sir", "lady", "lord", "the", "old", "new", "red", "black", "white", "brown",
                 "green", "gray", "grey", "long", "short", "price", "page", "lane", "hall", "wood", "street"}
_AGE_WORDS = {"YOUNG", "YOUNGER", "OLD", "OLDER", "LITTLE", "ADULT", "TEEN", "TEENAGE", "FUTURE", "PAST", "ELDER",
              "BABY", "BIG", "CHILD", "KID", "YOUNGEST", "ELDEST"}
_PET = re.compile(r"\b([a-z][a-z\-]+?)s?\s+(?:called|named)\s+([A-Z][\w'’\-]+)")
# "The dog, BANJO, jumps": a name in capitals set off by commas after an animal word
_PET_APPOSITION = re.compile(r", ([A-Z][A-Z'’\-]+),")
_ANIMAL_BEFORE = re.compile(r"(?:^|\s)(?:[Tt]he|[Aa]n?|[Hh]is|[Hh]er|[Tt]heir|[Oo]ur|[Mm]y)\s+([a-z][a-z\-]+)$")
# A scene set in space, by the words a heading uses for it: "EXT. SPACE - HALCYON", "EXT. ORBIT".
_SPACE = re.compile(r"^(?:OUTER\s+|DEEP\s+)?SPACE\b|^(?:LOW\s+|HIGH\s+)?(?:EARTH\s+|LUNAR\s+)?ORBIT\b|\bIN\s+ORBIT\b",
                    re.IGNORECASE)
_PLAYS = re.compile(r"[\s,]*(?:plays?|playing|sings?|singing|performs?|performing|strikes? up)\b", re.IGNORECASE)
_NOT_NAMES = {"INT", "EXT", "CONT'D", "CONTINUED", "V.O.", "O.S.", "O.C.", "CUT TO", "FADE IN",
              "FADE OUT", "THE", "A", "AN", "AND", "DAY", "NIGHT", "LATER", "BACK", "CLOSE ON"}


def _norm_text(text: str) -> str:
    return " ".join(text.split()).lower()


class _WordHashes(dict):
    """word -> 16-bit hex hash, computed once per distinct word (scripts repeat words a lot)."""

    def __missing__(self, word: str) -> str:
        value = self[word] = format(zlib.crc32(word.encode("utf-8")) & 0xFFFF, "04x")
        return value


_WORD_HASHES = _WordHashes()


class _TokenHashes(dict):
    """Text between spaces -> the hashes of its words, computed once per distinct token. No word
    spans a space, so the words of a text are the words of its tokens, in order."""

    def __missing__(self, token: str) -> tuple[str, ...]:
        value = self[token] = tuple(map(_WORD_HASHES.__getitem__, _WORD.findall(token)))
        return value


_TOKEN_HASHES = _TokenHashes()


class _PartMemo(dict):
    """(kind, paragraph text) -> (its normalised line of the scene text, the hashes of its words),
    computed once per distinct paragraph (scripts repeat "(beat)", cues, stock lines)."""

    def __missing__(self, key: tuple[str, str]) -> tuple[str, tuple[str, ...]]:
        part = f"{key[0]}|{_norm_text(key[1])}"
        value = self[key] = (part, tuple(chain.from_iterable(map(_TOKEN_HASHES.__getitem__, part.split()))))
        return value


_PARTS = _PartMemo()


@lru_cache(maxsize=4096)
def cue_name(cue: str) -> str:
    """The character behind a cue: "maya (V.O.) (CONT'D)" -> "MAYA"."""
    name = _CUE_EXTENSION.sub("", cue).replace("^", "").strip()
    name = re.sub(r"\bCONT'?D\b\.?", "", name, flags=re.IGNORECASE)
    return _SPACE.sub(" ", name).strip().upper()


def _paragraph_text(el: Element) -> str:
    if el.kind is ElementKind.DIALOGUE:
        return cue_name(el.character or el.text) + ": " + " ".join([dl.text for dl in el.lines])
    return el.text


_NOT_FINGERPRINTED = (ElementKind.PAGE_BREAK, ElementKind.NOTE)


def scene_fingerprint(scene: Scene) -> tuple[str, list[str]]:
    """(sha256 of the whole normalised scene, 16-bit hash per word) - independent of scene numbers."""
    if len(_WORD_HASHES) > 200_000 or len(_TOKEN_HASHES) > 200_000 or len(_PARTS) > 20_000:
        _WORD_HASHES.clear()  # bound the memos for long-running services
        _TOKEN_HASHES.clear()
        _PARTS.clear()
    heading = _norm_text(_SCENE_NUMBER.sub("", scene.heading.text))
    parts = [_PARTS[(el.kind.value, _paragraph_text(el))] for el in scene.elements
             if el.kind not in _NOT_FINGERPRINTED]
    text = "\n".join([heading, *(part for part, _ in parts)])
    whole = hashlib.sha256(text.encode("utf-8")).hexdigest()
    # the words of the whole text are the heading's then each part's: no word spans a line
    sketch = list(chain(chain.from_iterable(map(_TOKEN_HASHES.__getitem__, heading.split())),
                        *(hashes for _, hashes in parts)))
    return whole, sketch


@lru_cache(maxsize=4096)
def _heading(text: str) -> SceneHeading:
    """The parts of a scene heading without its scene number (scripts repeat their sets' headings)."""
    return parse_heading(_SCENE_NUMBER.sub("", text))


def _short_name(text: str) -> str:
    words = text.strip().split()
    return " ".join(words[:_MAX_NAME_WORDS]).strip(" ,:-").lower()


def _aliases(speakers: set[str], introduced: set[str]) -> dict[str, str]:
    """Map a full introduction to the cue the character speaks under: "MAYA REYES" -> "MAYA".

    Scripts introduce "MAYA REYES (68)" and then cue "MAYA"; both are one person on a call sheet.
    """
    aliases: dict[str, str] = {}
    for full in introduced - speakers:
        words = full.split()
        for k in range(len(words) - 1, 0, -1):
            head, tail = " ".join(words[:k]), " ".join(words[-k:])
            if head in speakers:
                aliases[full] = head
                break
            if tail in speakers:
                aliases[full] = tail
                break
        else:  # "MARSHAL ELI CRANE" speaks as ELI
            inner = [w for w in words[1:-1] if w in speakers]
            if len(inner) == 1:
                aliases[full] = inner[0]
    # "CYBER BOB" and "BOB" are one person ("YOUNG MAYA" and "MAYA" are two parts)
    for cue in speakers:
        words = cue.split()
        if len(words) > 1 and words[-1] in speakers and words[0] not in _AGE_WORDS:
            aliases.setdefault(cue, words[-1])
    return aliases


def _introduced_names(sp: Screenplay, actions: list[Element] | None = None) -> set[str]:
    found: set[str] = set()
    for el in sp.iter_kind(ElementKind.ACTION) if actions is None else actions:
        if ("(" in el.text or "," in el.text) and _DIGIT.search(el.text):  # an age is a number
            for m in _INTRODUCTION.finditer(el.text):
                name = _SPACE.sub(" ", m.group(1)).strip(" .")
                couple = _COUPLE.fullmatch(name)
                if couple:  # "MR. AND MRS. HALE (40s)" introduces two people
                    found.update({f"{couple.group(1)} {couple.group(3)}", f"{couple.group(2)} {couple.group(3)}"})
                elif name not in _NOT_NAMES:
                    found.add(name)
    return found


class _SceneCollector:
    """Deduplicates elements of one scene by (category, normalised name), keeping the first line."""

    def __init__(self) -> None:
        self.first_line: dict[tuple[Category, str], int] = {}

    def add(self, category: Category, name: str, line: int) -> None:
        """``name`` must already be normalised (lexicon names are)."""
        if name and (category, name) not in self.first_line:
            self.first_line[(category, name)] = line

    def in_space(self, line: int) -> None:
        """A scene set in space ("EXT. SPACE - ..."): nothing in it can be shot practically, so its
        vehicles and effects are visual effects, and so is space itself."""
        moved: dict[tuple[Category, str], int] = {(Category.VISUAL_EFFECTS, "space"): line}
        for (c, n), at in self.first_line.items():
            key = (Category.VISUAL_EFFECTS, n) if c in (Category.VEHICLES, Category.SPECIAL_EFFECTS) else (c, n)
            moved.setdefault(key, at)
        self.first_line = moved

    def elements(self) -> list[BreakdownElement]:
        """One element per thing: "wagon" is the scene's "station wagon", "car" its Porsche."""
        words: dict[Category, set[str]] = {}  # every word of the category's multi-word names
        for c, n in self.first_line:
            if " " in n:
                words.setdefault(c, set()).update(n.split())
        out = []
        for (c, n), line in self.first_line.items():
            if words and " " not in n and n in words.get(c, ()):
                continue  # "wagon" is the "station wagon", "alfa" the "alfa romeo"
            if c is Category.VEHICLES and n in GENERIC_VEHICLES and any(
                    o in CAR_MAKES and at <= line for (k, o), at in self.first_line.items() if k is c):
                continue  # "the car" after "a red PORSCHE" is the Porsche
            out.append(BreakdownElement(c, n, line))
        return out


# What one paragraph holds, in the order the rules find it: (category, name, offset) for an
# element, (None, name, offset) for a character it puts in the scene.
_Reading = tuple[tuple[Category | None, str, int], ...]


class _Script:
    """What the whole script tells about its people: real cues, device cues, names and aliases."""

    def __init__(self, sp: Screenplay) -> None:
        self.direction: set[str] = set()  # cue texts that are directions or action lines
        self.machines: set[str] = set()  # cue names that are devices
        known: set[str] = set()
        cues: set[str] = set()
        actions = [el for el in sp.elements if el.kind is ElementKind.ACTION]  # read three times below
        for el in sp.iter_kind(ElementKind.DIALOGUE):
            raw = el.character or el.text
            if raw in cues:
                continue  # a cue said again adds nothing
            cues.add(raw)
            name = cue_name(raw)
            if is_direction_cue(raw.split("(", 1)[0]) or is_direction_cue(name):
                self.direction.add(raw)
            elif is_machine_cue(name):
                self.machines.add(name)
            else:
                known.add(name)
        introduced = _introduced_names(sp, actions) - self.machines
        parts: set[str] = set()
        self.parts: dict[str, tuple[tuple[int, int, str, str], ...]] = {}  # paragraph -> its capitalised parts
        for el in actions:
            if el.text in self.parts:
                continue  # a paragraph the script repeats ("Silence.") names no one new
            found = self.parts[el.text] = caps_parts(el.text)
            for _, _, name, kind in found:
                if kind == "cast":
                    parts.add(name.upper())
        names: dict[str, str] = {n: n for n in known | introduced | parts if n not in _NOT_NAMES}
        names.update(_aliases(known, introduced | parts))
        # "DANNY REYNA (20s)" who never speaks is "Danny" (or "Reyna") in later action
        taken = {w for n in names for w in n.split()}
        for full in introduced - known:
            if full in names and names[full] == full:
                for word in (full.split()[0], full.split()[-1]) if len(full.split()) > 1 else ():
                    clean = word.strip(".")
                    if len(clean) > 2 and clean not in names and clean.lower() not in _COMMON_WORDS and \
                            sum(w == word for w in taken) == 1 and clean.lower() not in PERSON_NOUNS:
                        names[clean] = full
        self.cast = CastIndex.build(names)
        # "a scruffy terrier called BISCUIT": later "Biscuit barks" is the dog, not a character
        self.pets: dict[str, str] = {}
        for el in actions:
            found: list[tuple[str, str]] = []
            if "called" in el.text or "named" in el.text:  # "a terrier called BISCUIT"
                found += [(m.group(1), m.group(2)) for m in _PET.finditer(el.text)]
            for m in _PET_APPOSITION.finditer(el.text) if ", " in el.text else ():  # "The dog, BANJO, jumps"
                before = _ANIMAL_BEFORE.search(el.text, max(0, m.start() - 40), m.start())
                if before is not None:
                    found.append((before.group(1), m.group(1)))
            for kind, pet in found:
                animal = next((t.canonical for t in lookup_match(kind) if t.category is Category.ANIMALS), None)
                if animal is None and kind in PET_WORDS:
                    animal = kind
                if animal is not None and pet.upper() not in names:
                    self.pets[pet.upper()] = animal
        self.pet_pattern = (re.compile(r"(?<![\w'’])(?:" + "|".join(re.escape(p) for p in self.pets)
                                       + r")(?![\w'’])", re.IGNORECASE) if self.pets else None)
        self.readings: dict[tuple[str, bool], _Reading] = {}  # (paragraph, with cast) -> _read_paragraph
        self.speakers: dict[str, str | None] = {}  # cue as written -> speaker()

    def speaker(self, el: Element) -> str | None:
        """The character speaking a dialogue element, or None for a direction or a device."""
        raw = el.character or el.text
        if raw in self.speakers:
            return self.speakers[raw]
        if raw in self.direction:
            found = None
        else:
            name = cue_name(raw)
            found = None if name in self.machines else self.cast.canonical.get(name, name)
        self.speakers[raw] = found
        return found


def _read_paragraph(text: str, script: _Script, with_cast: bool) -> _Reading:
    """Every element and (``with_cast``) cast rule over one paragraph, offsets from its start."""
    found: list[tuple[Category | None, str, int]] = []
    quoted = quoted_spans(text)
    parts = (script.parts[text] if text in script.parts else caps_parts(text)) if with_cast else ()
    if quoted and parts:  # a text message from "MUM" puts no one in the scene
        parts = tuple(p for p in parts if not any(a <= p[0] < b for a, b in quoted))
    skip = [(a, b) for a, b, _, _ in parts]
    elements = elements_of(text, script.cast, quoted, skip)
    if script.pet_pattern is not None:  # "Banjo sleeps": a pet's name is the animal, not a banjo
        names = [(m.start(), m.end()) for m in script.pet_pattern.finditer(text) if m.group(0)[0].isupper()]
        elements = [f for f in elements if not any(a <= f.offset < b for a, b in names)]
    found += elements  # (category, name, offset) each
    if not with_cast:
        return tuple(found)
    for start, end, name, kind in parts:
        if kind == "cast":
            found.append((None, script.cast.canonical.get(name.upper(), name.upper()), start))
            continue
        found.append((Category.EXTRAS, normalise_name(name), start))
        if name.split()[-1].lower() in MUSICAL_GROUPS and _PLAYS.match(text, end):
            found.append((Category.MUSIC, normalise_name(name), start))  # "A STRING QUARTET plays"
    if script.pet_pattern is not None:
        for m in script.pet_pattern.finditer(text):
            if m.group(0)[0].isupper():
                found.append((Category.ANIMALS, script.pets[m.group(0).upper()], m.start()))
    found += [(None, name, start) for start, name in script.cast.mentions(text, quoted)]
    return tuple(found)


def _scan_action(text: str, first_line: int, out: _SceneCollector, script: _Script,
                 mentions: dict[str, int] | None) -> None:
    """Every element and cast rule over one paragraph; lines counted from the paragraph start.

    A paragraph is read once per script (scripts repeat "(beat)", "(into phone)", "Silence."):
    the reading depends only on its text and the script's cast, not on where it stands.
    """
    key = (text, mentions is not None)
    reading = script.readings.get(key)
    if reading is None:
        reading = script.readings[key] = _read_paragraph(text, script, mentions is not None)
    first = out.first_line  # _SceneCollector.add, inlined: a script has thousands of these
    seen = mentions if mentions is not None else {}  # a reading without cast has no (None, ...) entry
    single = "\n" not in text
    for category, name, offset in reading:
        if category is None:
            if name not in seen:
                seen[name] = first_line if single else first_line + text.count("\n", 0, offset)
        elif name and (category, name) not in first:
            first[(category, name)] = first_line if single else first_line + text.count("\n", 0, offset)


def _break_down_scene(scene: Scene, script: _Script, number: str, eighths: int, page_start: int) -> SceneBreakdown:
    out = _SceneCollector()
    speakers: dict[str, int] = {}
    mentions: dict[str, int] = {}  # characters seen in action, first line each
    for el in scene.elements:
        kind = el.kind
        if kind is ElementKind.ACTION:
            _scan_action(el.text, el.line, out, script, mentions)
        elif kind is ElementKind.DIALOGUE:
            speaker = script.speaker(el)
            if speaker is not None:
                speakers.setdefault(speaker, el.line)
                for dl in el.lines:  # "(singing)", "(lights a cigarette)": stage business in parentheticals
                    if dl.parenthetical:
                        _scan_action(dl.text, dl.line or el.line, out, script, None)
            elif (el.character or el.text) in script.direction:
                # "SUPER:", "THE DOORBELL RINGS TWICE." + a line: Fountain read a cue; it is action
                lines = [el.character or el.text] + [dl.text for dl in el.lines]
                _scan_action("\n".join(lines), el.line, out, script, mentions)
            else:  # a device speaking: its lines are sound (playback or post), not a part to cast
                out.add(Category.SOUND, normalise_name(cue_name(el.character or el.text)), el.line)
        elif kind is ElementKind.LYRICS:
            first = el.text.strip().splitlines()[0] if el.text.strip() else "lyrics"
            out.add(Category.MUSIC, normalise_name("lyrics: " + _short_name(first)), el.line)
    silent = [n for n in mentions if n not in speakers]
    first_seen = {n: min(speakers.get(n, line), line) for n, line in mentions.items()}
    first_seen.update({n: line for n, line in speakers.items() if n not in mentions})
    cast = sorted((BreakdownElement(Category.CAST, n, line) for n, line in first_seen.items()),
                  key=lambda e: e.source_line)
    heading = _heading(scene.heading.text)
    if heading.location and heading.int_ext != "INT" and _SPACE.search(heading.location):  # not "INT. SPACE STATION"
        out.in_space(scene.heading.line)
    whole, parts = scene_fingerprint(scene)
    return SceneBreakdown(
        number=number, index=scene.index, heading=heading.raw, int_ext=heading.int_ext,
        location=heading.location, time_of_day=heading.time_of_day, eighths=eighths,
        page_start=page_start, est_seconds=estimate_screen_seconds(eighths),
        speaking_cast=list(speakers), nonspeaking_cast=silent,
        elements=cast + out.elements(), source_line=scene.heading.line,
        content_hash=whole, text_sketch=parts,
    )


def break_down(sp: Screenplay, pagination: Pagination | None = None) -> Breakdown:
    """Every scene with its cast, elements by category, length in eighths and page.

    Scene number: the script's own ``#n#`` when present, else its position (1, 2, ...).
    Speaking cast comes from dialogue cues that are people; non-speaking cast from names in
    action (capitals or mixed case) of characters who speak elsewhere, are introduced with an
    age ("MAYA (30s)") or are introduced in capitals by their part ("A HAIRDRESSER"). The
    rules are script/tagger.py; their version is stored with the breakdown.
    """
    scenes = sp.scenes()
    pagination = pagination if pagination is not None else paginate(sp)
    compiled()
    with gc_paused():  # thousands of small acyclic objects, as in parsing and pagination
        script = _Script(sp)
        result = []
        for scene in scenes:
            number = (scene.number or "").strip() or str(scene.index + 1)
            result.append(_break_down_scene(scene, script, number, pagination.scene_eighths(scene.index),
                                            pagination.scene_page_start(scene.index)))
        del script, scenes  # garbage now: freed here rather than traversed by the collection that resuming GC starts
    return Breakdown(title=sp.title, scenes=result, page_count=pagination.page_count, tagger=TAGGER_VERSION)


# --------------------------------------------------------------------------- edits

def _set_cast(scene: SceneBreakdown, name: str, present: bool) -> None:
    name = name.strip().upper()
    if present:
        if name not in scene.speaking_cast and name not in scene.nonspeaking_cast:
            scene.nonspeaking_cast.append(name)
    else:
        scene.speaking_cast = [c for c in scene.speaking_cast if c != name]
        scene.nonspeaking_cast = [c for c in scene.nonspeaking_cast if c != name]


def _apply_one(scene: SceneBreakdown, edit: BreakdownEdit) -> bool:
    """Apply one edit in place; False when it cannot apply (retag of an element that is gone)."""
    category = Category(edit.category)
    existing = scene.find(category, edit.name)
    if edit.action == "add":
        if existing is None:
            name = edit.name.strip().upper() if category is Category.CAST else edit.name.strip()
            scene.elements.append(BreakdownElement(category, name, 0, origin="user", note=edit.note))
        else:
            if existing.rejected:
                existing.review = {}  # a person's add restores an element the assist rejected
            if edit.note:
                existing.note = edit.note
        if category is Category.CAST:
            _set_cast(scene, edit.name, True)
        return True
    if edit.action == "remove":
        # Already absent still counts as applied: the state the person asked for holds.
        if existing is not None:
            scene.elements.remove(existing)
        if category is Category.CAST:
            _set_cast(scene, edit.name, False)
        return True
    # retag
    if existing is None:
        return False
    new_category = Category(edit.new_category or edit.category)
    scene.elements.remove(existing)
    if category is Category.CAST:
        _set_cast(scene, existing.name, False)
    if scene.find(new_category, existing.name) is None:
        scene.elements.append(BreakdownElement(new_category, existing.name, existing.source_line,
                                               origin="user", note=edit.note or existing.note))
    if new_category is Category.CAST:
        _set_cast(scene, existing.name, True)
    return True


def apply_edits(bd: Breakdown, edits: list[BreakdownEdit]) -> tuple[Breakdown, list[BreakdownEdit]]:
    """A copy of ``bd`` with the edits applied in order, and the edits that could not be applied.

    An edit is unapplied when its scene no longer exists (or is OMITTED) or it retags an element
    the rules no longer find; the caller shows those to a person instead of dropping them.
    """
    result = copy.deepcopy(bd)
    live = {s.number: s for s in result.scenes if not s.omitted}
    unapplied: list[BreakdownEdit] = []
    for edit in edits:
        scene = live.get(str(edit.scene).strip())
        if scene is None or not _apply_one(scene, edit):
            unapplied.append(edit)
    return result, unapplied


__all__ = ["break_down", "apply_edits", "cue_name", "scene_fingerprint", "normalise_name", "TAGGER_VERSION"]
