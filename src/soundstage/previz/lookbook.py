"""Wardrobe and set look-book: what each character wears and what each set holds, from the breakdown.

Pure planning and drawing, no workspace: ``plan_looks`` turns a breakdown (plus the draft's raw
lines, for attribution and script-line references) into one look per character and per location
with the prompt its concept job will carry; ``write_lookbook_pdf`` lays the finished looks out.
Prompts are built only from the script's characters and elements and pass through
``redact_names`` so a real person's name never reaches a generator.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from soundstage import fonts
from soundstage.domain.breakdown import Breakdown, Category, SceneBreakdown
from soundstage.errors import NotFoundError

PROVENANCE_LABEL = "TEMPORARY PREVIZ MEDIA \u2014 generated"
MAX_FRAMES = 4
WARDROBE_CATEGORIES = (Category.WARDROBE, Category.MAKEUP_HAIR)
SET_CATEGORIES = (Category.SET_DRESSING, Category.PROPS)
REDACTED = "a person"
_NOTE = re.compile(r"\[\[\s*(wardrobe|costume|make-?up|hair|props?|set(?: dressing)?|art)\s*:(.*?)\]\]", re.I)
_PAREN = re.compile(r"\(([^)]*)\)")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_PRONOUN = re.compile(r"^\W*(she|he|they|her|his|their)\b", re.I)
_GROUP_WORDS = ("extras", "crowd", "crew", "everyone", "everybody")


@dataclass(frozen=True)
class LookNote:
    """One breakdown element (or a [[Wardrobe: ...]] note) with the script line it came from."""

    scene: str
    category: str
    name: str
    line: int
    worn_by: str | None = None  # the character the line attributes it to; None = the scene at large
    text: str = ""
    from_note: bool = False  # a [[Wardrobe: ...]] note: shown in the book, never put in a prompt

    def label(self) -> str:
        where = f"sc {self.scene}, line {self.line}" if self.line else f"sc {self.scene}, added"
        who = f" ({self.worn_by})" if self.worn_by else ""
        body = self.text or self.name
        return f"{self.category.replace('_', '/')}: {body}{who}  [{where}]"


@dataclass
class Frame:
    asset_id: str
    manifest_label: str
    path: Path


@dataclass
class Look:
    """A character's or a location's section: facts from the breakdown, the prompt, the outcome."""

    kind: str  # "character" | "location"
    name: str
    scenes: list[str]
    notes: list[LookNote]
    periods: list[str]
    prompt: str = ""
    int_ext: list[str] = field(default_factory=list)
    times_of_day: list[str] = field(default_factory=list)
    story_central: bool = False
    frames: list[Frame] = field(default_factory=list)
    job: str = ""
    status: str = ""  # done | escalated | denied | rejected | cancelled
    rule_ids: list[str] = field(default_factory=list)
    missing_roles: list[str] = field(default_factory=list)
    reused: bool = False


# ----------------------------------------------------------------------------- planning

def heading_periods(heading: str) -> list[str]:
    """Period words from a heading's parentheses: "(FLASHBACK - 1994)" -> ["FLASHBACK", "1994"]."""
    words: list[str] = []
    for group in _PAREN.findall(heading):
        for word in re.split(r"[\s,\-/]+", group):
            if word and word.upper() not in (w.upper() for w in words):
                words.append(word.upper())
    return words


def _mentions(text: str, name: str) -> bool:
    return re.search(rf"(?<![\w']){re.escape(name)}(?![\w])", text, re.I) is not None


def _attribute(scene: SceneBreakdown, line_text: str, element: str, extras: list[str]) -> str | None:
    """The one cast member the sentence holding ``element`` is about, or None (scene-wide).

    Screenplay action introduces a person and then describes them, often in the next sentence
    ("MAYA ... sits. She wears a JACKET"); a sentence that also names a group (EXTRAS, crowd)
    describes the group, so it is left to the whole scene.
    """
    sentences = _SENTENCE.split(line_text)
    for i, sentence in enumerate(sentences):
        if not _mentions(sentence, element) and not _mentions(sentence, element.rstrip("s")):
            continue
        if any(_mentions(sentence, g) for g in list(_GROUP_WORDS) + extras):
            return None
        named = [c for c in scene.cast if _mentions(sentence, c)]
        if len(named) == 1:
            return named[0]
        if not named and i > 0 and _PRONOUN.match(sentence):
            before = [c for c in scene.cast if _mentions(sentences[i - 1], c)]
            return before[0] if len(before) == 1 else None
        return None
    return None


def _scene_lines(scene: SceneBreakdown, next_start: int, lines: list[str]) -> range:
    start = max(scene.source_line, 1)
    end = next_start - 1 if next_start > start else len(lines)
    return range(start, min(end, len(lines)) + 1)


def _scene_notes(bd: Breakdown, lines: list[str]) -> dict[str, list[LookNote]]:
    """Per scene: its wardrobe/makeup/set/prop elements attributed, and its bracketed notes."""
    live = bd.live_scenes()
    starts = sorted(s.source_line for s in live if s.source_line)
    out: dict[str, list[LookNote]] = {}
    for scene in live:
        extras = [e.name for e in scene.in_category(Category.EXTRAS)]
        notes: list[LookNote] = []
        for el in scene.elements:
            if el.category not in WARDROBE_CATEGORIES + SET_CATEGORIES:
                continue
            worn_by = None
            if el.category in WARDROBE_CATEGORIES and 0 < el.source_line <= len(lines):
                worn_by = _attribute(scene, lines[el.source_line - 1], el.name, extras)
            notes.append(LookNote(scene.number, el.category.value, el.name, el.source_line, worn_by, el.note))
        if lines and scene.source_line:
            following = [s for s in starts if s > scene.source_line]
            for n in _scene_lines(scene, following[0] if following else 0, lines):
                for kind, body in _NOTE.findall(lines[n - 1]):
                    body = " ".join(body.split())
                    category = "wardrobe" if kind.lower() in ("wardrobe", "costume") else \
                        "makeup_hair" if kind.lower().startswith(("make", "hair")) else "set_dressing"
                    # a note about an element someone wears belongs to them
                    owner = next((x.worn_by for x in notes if x.worn_by and _mentions(body, x.name)), None)
                    notes.append(LookNote(scene.number, category, kind.lower(), n, owner, body, from_note=True))
        out[scene.number] = sorted(notes, key=lambda x: x.line)
    return out


def redact_names(text: str, names: Iterable[str], keep: Iterable[str] = ()) -> str:
    """Remove every real person's full name, and a registered person's surname, from a prompt.

    ``keep`` are the script's own character words: a surname that is also a character's name is
    the character's and stays (the performer's *full* name still goes)."""
    kept = {k.casefold() for k in keep}
    out = text
    full = sorted({" ".join(n.split()) for n in names if n and n.strip()}, key=len, reverse=True)
    for name in full:
        pattern = r"\s+".join(re.escape(part) for part in name.split())
        out = re.sub(rf"(?<!\w){pattern}(?!\w)", REDACTED, out, flags=re.I)
    for name in full:
        parts = name.split()
        if len(parts) > 1 and len(parts[-1]) >= 3 and parts[-1].casefold() not in kept:
            out = re.sub(rf"(?<!\w){re.escape(parts[-1])}(?!\w)", REDACTED, out, flags=re.I)
    return out


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))


def character_prompt(look: Look) -> str:
    elements = [n for n in look.notes if not n.from_note]
    worn = _unique(n.name for n in elements if n.category == "wardrobe")
    makeup = _unique(n.name for n in elements if n.category == "makeup_hair")
    parts = [f"wardrobe concept sheet for the fictional character {look.name}, full figure, costume design"]
    if worn:
        parts.append("wearing " + ", ".join(worn))
    if makeup:
        parts.append("make-up and hair: " + ", ".join(makeup))
    if look.periods:
        parts.append("period: " + " ".join(look.periods).lower())
    parts.append("temporary previz")
    return "; ".join(parts)


def location_prompt(look: Look) -> str:
    setting = "interior" if look.int_ext == ["INT"] else "exterior" if look.int_ext in (["EXT"], ["EST"]) \
        else "interior and exterior"
    parts = [f"set concept art of the fictional location {look.name}, {setting}"]
    if look.times_of_day:
        parts.append("light: " + ", ".join(t.lower() for t in look.times_of_day))
    elements = [n for n in look.notes if not n.from_note]
    dressing = _unique(n.name for n in elements if n.category == "set_dressing")
    props = _unique(n.name for n in elements if n.category == "props")
    if dressing:
        parts.append("set dressing: " + ", ".join(dressing))
    if props:
        parts.append("props: " + ", ".join(props))
    if look.periods:
        parts.append("period: " + " ".join(look.periods).lower())
    parts.append("no people, temporary previz")
    return "; ".join(parts)


def plan_looks(bd: Breakdown, lines: list[str], *, characters: Iterable[str] | None = None,
               locations: Iterable[str] | None = None, story_central: Iterable[str] = (),
               real_names: Iterable[str] = ()) -> tuple[list[Look], list[Look]]:
    """One look per character (speaking and non-speaking) and per location, in script order."""
    notes_by_scene = _scene_notes(bd, lines)
    live = bd.live_scenes()
    cast = _unique(c for s in live for c in s.cast)
    loc_names = _unique((s.location or s.heading).strip() for s in live)
    want_chars = _pick(cast, characters, "character")
    want_locs = _pick(loc_names, locations, "location")
    central = {c.casefold() for c in story_central}
    real_names = list(real_names)
    char_words = [w for c in cast for w in c.split()]
    char_looks: list[Look] = []
    for name in want_chars:
        scenes = [s for s in live if name in s.cast]
        notes = [n for s in scenes for n in notes_by_scene[s.number]
                 if n.category in WARDROBE_CATEGORIES and n.worn_by in (None, name)]
        look = Look("character", name, [s.number for s in scenes], notes,
                    _unique(p for s in scenes for p in heading_periods(s.heading)))
        look.prompt = redact_names(character_prompt(look), real_names, keep=char_words)
        char_looks.append(look)
    loc_looks: list[Look] = []
    threshold = max(3, len(live) // 2 + 1)
    for name in want_locs:
        scenes = [s for s in live if (s.location or s.heading).strip() == name]
        notes = [n for s in scenes for n in notes_by_scene[s.number] if n.category in
                 (c.value for c in SET_CATEGORIES)]
        look = Look("location", name, [s.number for s in scenes], notes,
                    _unique(p for s in scenes for p in heading_periods(s.heading)),
                    int_ext=_unique(s.int_ext for s in scenes), times_of_day=_unique(s.time_of_day for s in scenes))
        # a setting most of the story plays in is "central to the story" in the policy's sense
        look.story_central = name.casefold() in central or len(scenes) >= threshold
        look.prompt = redact_names(location_prompt(look), real_names, keep=char_words)
        loc_looks.append(look)
    return char_looks, loc_looks


def _pick(available: list[str], wanted: Iterable[str] | None, what: str) -> list[str]:
    if wanted is None:
        return list(available)
    by_fold = {a.casefold(): a for a in available}
    picked = []
    for w in wanted:
        match = by_fold.get(" ".join(str(w).split()).casefold())
        if match is None:
            raise NotFoundError(f"no {what} {w!r} in the breakdown",
                                hint=f"{what}s: " + ", ".join(available[:30]))
        if match not in picked:
            picked.append(match)
    return picked


# ----------------------------------------------------------------------------- the PDF

def _thumbnail(path: Path, width_px: int = 520):
    from PIL import Image
    from reportlab.lib.utils import ImageReader

    from soundstage.media.images import read_image

    img = Image.fromarray(read_image(path))
    height = max(1, round(img.height * width_px / img.width))
    return ImageReader(img.resize((width_px, height), Image.Resampling.LANCZOS)), img.width / img.height


class _Page:
    """A portrait page cursor: writes lines top-down and starts a new page when full."""

    def __init__(self, c, title: str, size: tuple[float, float]) -> None:
        self.c, self.title, (self.w, self.h) = c, title, size
        self.margin = 42.0
        self.pages = 0
        self._start()

    def _start(self) -> None:
        c = self.c
        self.pages += 1
        c.setFillColorRGB(0.3, 0.3, 0.3)
        label_w = fonts.draw_string(c, self.w - self.margin, self.h - 26, f"page {self.pages}", 8, align="right")
        fonts.draw_lines(c, self.margin, self.h - 26, self.title, self.w - 2 * self.margin - label_w - 12, 8,
                         max_lines=1)
        c.setFillColorRGB(0.7, 0.0, 0.0)
        fonts.draw_string(c, self.w / 2, 22, PROVENANCE_LABEL
                          + " - every frame carries a watermark and Content Credentials", 8, "bold", align="centre")
        c.setFillColorRGB(0, 0, 0)
        self.y = self.h - self.margin - 8

    def new_page(self) -> None:
        self.c.showPage()
        self._start()

    def need(self, height: float) -> None:
        if self.y - height < self.margin + 10:
            self.new_page()

    def text(self, text: str, style: str = "regular", size: float = 9.5, indent: float = 0.0,
             colour: tuple[float, float, float] = (0, 0, 0)) -> None:
        """A paragraph in fonts that have its glyphs, wrapped to the measured page width."""
        width = self.w - 2 * self.margin - indent
        for line in fonts.wrap(text, width, size, style) or [""]:
            self.need(size * 1.35)
            self.c.setFillColorRGB(*colour)
            fonts.draw_lines(self.c, self.margin + indent, self.y - size, line, width, size, style, max_lines=1)
            self.y -= size * 1.35
        self.c.setFillColorRGB(0, 0, 0)

    def gap(self, h: float = 6.0) -> None:
        self.y -= h


def _frames(page: _Page, look: Look) -> None:
    c = page.c
    columns = 2
    cell_w = (page.w - 2 * page.margin - 12) / columns
    for i in range(0, len(look.frames), columns):
        row = look.frames[i:i + columns]
        images = [_thumbnail(f.path) for f in row]
        image_h = max(cell_w / ratio for _, ratio in images)
        page.need(image_h + 34)
        top = page.y
        for col, (frame, (reader, ratio)) in enumerate(zip(row, images)):
            x = page.margin + col * (cell_w + 12)
            h = cell_w / ratio
            c.drawImage(reader, x, top - h, width=cell_w, height=h)
            c.setLineWidth(0.7)
            c.rect(x, top - h, cell_w, h)
            c.setFillColorRGB(0, 0, 0)
            c.rect(x, top - h, fonts.string_width(PROVENANCE_LABEL, 6, "bold") + 6, 10, stroke=0, fill=1)
            c.setFillColorRGB(1, 1, 1)
            fonts.draw_string(c, x + 3, top - h + 3, PROVENANCE_LABEL, 6, "bold")
            c.setFillColorRGB(0.25, 0.25, 0.25)
            fonts.draw_lines(c, x, top - image_h - 9, f"asset {frame.asset_id}", cell_w, 6.5, "mono", max_lines=1)
            label = f"c2pa {frame.manifest_label or 'none'}"
            fonts.draw_string(c, x, top - image_h - 18, label, fonts.fit_size(label, cell_w, 6.5, "mono"), "mono")
            c.setFillColorRGB(0, 0, 0)
        page.y = top - image_h - 26


def _held_back(page: _Page, look: Look) -> None:
    roles = f"; waiting for: {', '.join(look.missing_roles)}" if look.missing_roles else ""
    page.text(f"No concept frame: job {look.job} is {look.status.upper()} by {', '.join(look.rule_ids) or 'policy'}"
              f"{roles}", "bold", 9, colour=(0.7, 0.0, 0.0))
    if look.status == "escalated":
        page.text(f"Approvers run: soundstage job approve {look.job} --role ROLE; then re-run the look-book.",
                  size=8, colour=(0.3, 0.3, 0.3))


def _section(page: _Page, look: Look) -> None:
    page.need(120)
    kind = "CHARACTER" if look.kind == "character" else "LOCATION"
    page.text(f"{kind}: {look.name}", "bold", 15)
    page.gap(2)
    if look.kind == "location":
        page.text(f"{'/'.join(look.int_ext)}  |  {', '.join(look.times_of_day) or 'time unstated'}"
                  + ("  |  story-central setting" if look.story_central else ""), size=9.5)
    page.text("Scenes: " + ", ".join(look.scenes), size=9.5)
    if look.periods:
        page.text("Period: " + " ".join(look.periods), size=9.5)
    page.gap(4)
    page.text("Wardrobe / make-up notes" if look.kind == "character" else "Set dressing / props notes",
              "bold", 10)
    if not look.notes:
        page.text("none in the breakdown", "italic", 8.5, indent=10)
    for note in look.notes:
        page.text("\u2022 " + note.label(), size=8.5, indent=10)
    page.gap(4)
    page.text("Prompt: " + look.prompt, "italic", 7.5, colour=(0.3, 0.3, 0.3))
    page.gap(4)
    if look.frames:
        _frames(page, look)
    else:
        _held_back(page, look)
    page.gap(16)


def write_lookbook_pdf(path: Path, looks: list[Look], *, title: str, subtitle: str = "",
                       compress: bool = True) -> int:
    """Write the look-book atomically (cover, a section per character then per location, then
    the list of held-back items); returns the page count. ``compress=False`` keeps text searchable."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".pdf")
    os.close(fd)
    try:
        c = canvas.Canvas(tmp, pagesize=A4, invariant=1, pageCompression=1 if compress else 0)
        c.setTitle(f"{title} - look-book")
        c.setSubject(PROVENANCE_LABEL)
        c.setCreator("soundstage previz")
        page = _Page(c, f"{title} - wardrobe and set look-book", A4)
        page.gap(140)
        page.text(title, "bold", 26)
        page.text("Wardrobe and set look-book", "regular", 16)
        page.gap(8)
        if subtitle:
            page.text(subtitle, size=10)
        chars = [x for x in looks if x.kind == "character"]
        locs = [x for x in looks if x.kind == "location"]
        page.text(f"{len(chars)} characters, {len(locs)} locations, "
                  f"{sum(len(x.frames) for x in looks)} concept frames", size=10)
        page.gap(8)
        page.text(PROVENANCE_LABEL + ". Concept frames are temporary previz, not final design; each carries an "
                  "invisible watermark and C2PA Content Credentials naming its asset id.", size=9)
        for look in looks:
            page.new_page()
            _section(page, look)
        held = [x for x in looks if not x.frames]
        if held:
            page.new_page()
            page.text("Held back by policy", "bold", 14)
            for look in held:
                page.text(f"\u2022 {look.kind} {look.name}: job {look.job} {look.status} - rules "
                          f"{', '.join(look.rule_ids) or 'none'}", size=9, indent=10)
        c.showPage()
        c.save()
        os.replace(tmp, path)
        return page.pages
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
