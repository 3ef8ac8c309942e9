"""Reports a production office prints from a breakdown: cast, locations, scenes, breakdown sheets.

Rows are plain dicts so one shape feeds CSV, JSON and the web UI. The PDF uses the classic
one-sheet-per-scene layout with colour-coded category boxes. Colours follow the common
breakdown-sheet convention (cast red, stunts orange, extras green, special effects blue,
props violet, vehicles/animals pink, sound brown, wardrobe/make-up marked by shape on a
paper script, so here grey-blue and teal); the legend is printed on the cover page.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable

from soundstage import fonts
from soundstage.domain.breakdown import Breakdown, Category, SceneBreakdown
from soundstage.domain.screenplay import plain_title
from soundstage.errors import WorkspaceError

CATEGORY_LABELS: dict[Category, str] = {
    Category.CAST: "Cast",
    Category.EXTRAS: "Extras / Background",
    Category.PROPS: "Props",
    Category.WARDROBE: "Wardrobe",
    Category.MAKEUP_HAIR: "Make-up / Hair",
    Category.VEHICLES: "Vehicles",
    Category.ANIMALS: "Animals",
    Category.SET_DRESSING: "Set Dressing",
    Category.SPECIAL_EFFECTS: "Special Effects",
    Category.VISUAL_EFFECTS: "Visual Effects",
    Category.STUNTS: "Stunts",
    Category.SOUND: "Sound",
    Category.MUSIC: "Music",
}

# (header fill RGB 0-1, text is dark unless the fill is dark)
CATEGORY_COLOURS: dict[Category, tuple[float, float, float]] = {
    Category.CAST: (0.86, 0.16, 0.16),  # red
    Category.EXTRAS: (0.20, 0.62, 0.25),  # green
    Category.PROPS: (0.55, 0.30, 0.75),  # violet
    Category.WARDROBE: (0.45, 0.55, 0.70),  # grey-blue (circled on paper)
    Category.MAKEUP_HAIR: (0.25, 0.65, 0.65),  # teal (asterisked on paper)
    Category.VEHICLES: (0.93, 0.45, 0.70),  # pink
    Category.ANIMALS: (0.93, 0.45, 0.70),  # pink
    Category.SET_DRESSING: (0.40, 0.70, 0.40),  # light green
    Category.SPECIAL_EFFECTS: (0.20, 0.40, 0.85),  # blue
    Category.VISUAL_EFFECTS: (0.15, 0.25, 0.55),  # navy
    Category.STUNTS: (0.95, 0.55, 0.10),  # orange
    Category.SOUND: (0.55, 0.35, 0.20),  # brown
    Category.MUSIC: (0.45, 0.25, 0.15),  # dark brown
}


def format_eighths(n: int) -> str:
    """Page length the way schedules write it: 11 -> "1 3/8", 8 -> "1", 3 -> "3/8", 0 -> "0"."""
    if n < 0:
        raise ValueError("eighths cannot be negative")
    pages, rest = divmod(n, 8)
    if not rest:
        return str(pages)
    return f"{pages} {rest}/8" if pages else f"{rest}/8"


def format_seconds(seconds: float) -> str:
    total = int(round(seconds))
    return f"{total // 60}:{total % 60:02d}"


def _day_night(time_of_day: str) -> str:
    t = time_of_day.upper()
    if any(w in t for w in ("NIGHT", "EVENING", "DUSK", "SUNSET")):
        return "N"
    if any(w in t for w in ("DAY", "MORNING", "DAWN", "SUNRISE", "AFTERNOON", "NOON")):
        return "D"
    return t or "-"


# --------------------------------------------------------------------------- rows

def cast_rows(bd: Breakdown) -> list[dict[str, Any]]:
    """One row per character: how many scenes, speaking or not, first and last scene."""
    rows: dict[str, dict[str, Any]] = {}
    for scene in bd.live_scenes():
        for name in scene.cast:
            row = rows.setdefault(name, {"character": name, "scene_count": 0, "speaking_scenes": 0,
                                         "nonspeaking_scenes": 0, "first_scene": scene.number,
                                         "last_scene": scene.number, "scenes": []})
            row["scene_count"] += 1
            if name in scene.speaking_cast:
                row["speaking_scenes"] += 1
            else:
                row["nonspeaking_scenes"] += 1
            row["last_scene"] = scene.number
            row["scenes"].append(scene.number)
    result = list(rows.values())
    for row in result:
        row["speaking"] = "speaking" if row["speaking_scenes"] else "non-speaking"
    result.sort(key=lambda r: (-r["scene_count"], r["character"]))
    return result


def location_rows(bd: Breakdown) -> list[dict[str, Any]]:
    """One row per (location, INT/EXT): times of day, scene numbers and total eighths."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for scene in bd.live_scenes():
        key = (scene.location or scene.heading, scene.int_ext)
        row = rows.setdefault(key, {"location": key[0], "int_ext": key[1], "times_of_day": [],
                                    "scenes": [], "total_eighths": 0})
        if scene.time_of_day and scene.time_of_day not in row["times_of_day"]:
            row["times_of_day"].append(scene.time_of_day)
        row["scenes"].append(scene.number)
        row["total_eighths"] += scene.eighths
    result = list(rows.values())
    for row in result:
        row["total_pages"] = format_eighths(row["total_eighths"])
    return result


def scene_rows(bd: Breakdown) -> list[dict[str, Any]]:
    """One row per scene in script order, OMITTED placeholders included."""
    rows = []
    for s in bd.scenes:
        rows.append({
            "scene": s.number, "omitted": s.omitted, "int_ext": s.int_ext, "location": s.location,
            "time_of_day": s.time_of_day, "heading": s.heading, "pages": format_eighths(s.eighths),
            "eighths": s.eighths, "page_start": s.page_start, "est_seconds": s.est_seconds,
            "cast": list(s.cast), "element_count": len(s.live_elements()) - len(s.in_category(Category.CAST)),
            "source_line": s.source_line,
        })
    return rows


def rows_to_csv(rows: Iterable[dict[str, Any]]) -> str:
    """CSV text; list cells are joined with "; " so a spreadsheet shows them in one cell."""
    rows = list(rows)
    if not rows:
        return ""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "; ".join(map(str, v)) if isinstance(v, list) else v for k, v in row.items()})
    return out.getvalue()


def rows_to_json(rows: Iterable[dict[str, Any]]) -> str:
    return json.dumps(list(rows), indent=2, ensure_ascii=False)


# --------------------------------------------------------------------------- PDF

def _atomic_target(path: Path) -> tuple[int, str]:
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise WorkspaceError(f"cannot write {path}: folder {directory} does not exist")
    return tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)


def _line(c: Any, x: float, y: float, text: str, size: float, style: str = "regular",
          width: float | None = None, align: str = "left") -> None:
    """One line in a font that has its glyphs (any script); cut with an ellipsis at ``width``."""
    if width is not None:
        text = fonts.wrap(text, width, size, style, max_lines=1)[0] if text else ""
    fonts.draw_string(c, x, y, text, size, style, align)


def _draw_box(c: Any, x: float, y_top: float, w: float, h: float, category: Category, items: list[str]) -> None:
    r, g, b = CATEGORY_COLOURS[category]
    header_h = 14
    c.setFillColorRGB(r, g, b)
    c.rect(x, y_top - header_h, w, header_h, stroke=0, fill=1)
    c.setFillColorRGB(1, 1, 1)
    _line(c, x + 4, y_top - header_h + 4, CATEGORY_LABELS[category].upper(), 8.5, "bold", w - 8)
    c.setStrokeColorRGB(r, g, b)
    c.rect(x, y_top - h, w, h, stroke=1, fill=0)
    c.setFillColorRGB(0, 0, 0)
    line_h = 9.5
    capacity = max(0, int((h - header_h - 4) // line_h))
    shown = items if len(items) <= capacity else items[: max(0, capacity - 1)]
    y = y_top - header_h - 10
    for item in shown:
        _line(c, x + 4, y, item, 8, width=w - 8)
        y -= line_h
    if len(shown) < len(items):
        _line(c, x + 4, y, f"+ {len(items) - len(shown)} more", 8)


def _cover(c: Any, bd: Breakdown, title: str, width: float, height: float) -> None:
    live = bd.live_scenes()
    # a long title wraps onto a second line rather than running off the page
    y = fonts.draw_lines(c, 54, height - 90, title or bd.title or "Untitled", width - 108, 22, "bold",
                         max_lines=2, leading=26) + 26
    _line(c, 54, y - 25, "Breakdown sheets", 12)
    lines = [
        f"Scenes: {len(live)}" + (f" (+ {len(bd.scenes) - len(live)} omitted)" if len(bd.scenes) != len(live) else ""),
        f"Length: {format_eighths(bd.total_eighths())} pages of scenes, on {bd.page_count} printed pages",
        f"Estimated screen time: {format_seconds(sum(s.est_seconds for s in live))}",
        f"Speaking characters: {len({n for s in live for n in s.speaking_cast})}   "
        f"Locations: {len({(s.location, s.int_ext) for s in live})}",
    ]
    omitted = [s.number for s in bd.scenes if s.omitted]
    if omitted:
        lines.append("Omitted: " + ", ".join(omitted))
    y -= 60
    for line in lines:
        _line(c, 54, y, line, 11, width=width - 108)
        y -= 17
    y -= 16
    _line(c, 54, y, "Colour key", 11, "bold")
    y -= 18
    for category in Category:
        r, g, b = CATEGORY_COLOURS[category]
        c.setFillColorRGB(r, g, b)
        c.rect(54, y - 2, 18, 10, stroke=0, fill=1)
        c.setFillColorRGB(0, 0, 0)
        count = sum(1 for _ in bd.elements(category))
        _line(c, 80, y, f"{CATEGORY_LABELS[category]}  ({count})", 10)
        y -= 15


def _sheet(c: Any, bd: Breakdown, scene: SceneBreakdown, title: str, width: float, height: float) -> None:
    margin = 36
    _line(c, margin, height - 40, title or bd.title or "", 10, "bold", width / 2)
    _line(c, width - margin, height - 40, "BREAKDOWN SHEET", 10, "bold", align="right")
    # header grid: scene | INT/EXT | D/N | pages | page | est
    top = height - 52
    cells = [("SCENE", scene.number), ("INT/EXT", scene.int_ext or "-"),
             ("D/N", _day_night(scene.time_of_day)), ("PAGES", format_eighths(scene.eighths)),
             ("STARTS P.", str(scene.page_start)), ("EST.", format_seconds(scene.est_seconds))]
    cell_w = (width - 2 * margin) / len(cells)
    c.setStrokeColorRGB(0, 0, 0)
    for k, (label, value) in enumerate(cells):
        x = margin + k * cell_w
        c.rect(x, top - 40, cell_w, 40, stroke=1, fill=0)
        _line(c, x + 4, top - 10, label, 7)
        _line(c, x + 4, top - 30, value, 14, "bold", cell_w - 8)
    c.rect(margin, top - 80, width - 2 * margin, 40, stroke=1, fill=0)
    _line(c, margin + 4, top - 50, "LOCATION / TIME", 7)
    loc = scene.location + (f" - {scene.time_of_day}" if scene.time_of_day else "")
    _line(c, margin + 4, top - 70, loc or scene.heading, 12, "bold", width - 2 * margin - 8)
    # category boxes, two columns
    grid_top = top - 92
    col_w = (width - 2 * margin - 10) / 2
    categories = list(Category)
    rows = (len(categories) + 1) // 2
    box_h = (grid_top - 40) / rows - 6
    for k, category in enumerate(categories):
        col, row = k % 2, k // 2
        items = [e.name + (" *" if e.origin == "user" else "") for e in scene.in_category(category)]
        if category is Category.CAST:
            items = [n + ("" if n in scene.speaking_cast else " (silent)")
                     for n in [e.name for e in scene.in_category(category)]]
        _draw_box(c, margin + col * (col_w + 10), grid_top - row * (box_h + 6), col_w, box_h, category, items)
    _line(c, margin, 24, f"Script line {scene.source_line}.  * added by a person.", 7)


def breakdown_sheets_pdf(bd: Breakdown, path: Path, title: str = "") -> int:
    """Write a cover page plus one sheet per shot scene (omitted scenes are listed on the cover).

    Written to a temp file in the same folder and moved into place, so a reader never sees a
    half-written PDF. Returns the page count.
    """
    from reportlab.lib.pagesizes import letter
    from reportlab.pdfgen.canvas import Canvas

    path = Path(path)
    title = plain_title(title or bd.title)  # no Fountain markup on a sheet (issue 15)
    fd, tmp = _atomic_target(path)
    os.close(fd)
    try:
        width, height = letter
        c = Canvas(tmp, pagesize=letter, pageCompression=0)
        c.setTitle(title or bd.title or "Breakdown")
        c.setCreator("soundstage")
        _cover(c, bd, title, width, height)
        c.showPage()
        pages = 1
        for scene in bd.live_scenes():
            _sheet(c, bd, scene, title, width, height)
            c.showPage()
            pages += 1
        c.save()
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return pages
