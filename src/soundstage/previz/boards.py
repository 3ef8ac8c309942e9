"""Storyboard sheets: six panels to a landscape page, each provenance-labelled.

Every panel names the asset id and C2PA manifest of its frame, and every page says the frames
are temporary AI/procedural previz media, so a printed board cannot be mistaken for a photograph
or a final deliverable. Files are written to a temporary name and renamed into place.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from soundstage import fonts
from soundstage.domain.shots import Shot
from soundstage.files import atomic_path

PROVENANCE_LABEL = "TEMPORARY PREVIZ MEDIA \u2014 AI/procedural"
COLUMNS, ROWS = 3, 2
PANELS_PER_PAGE = COLUMNS * ROWS
THUMB_WIDTH = 480  # pixels embedded per panel: sharp in print, keeps a 60-panel PDF small


@dataclass(frozen=True)
class BoardPanel:
    shot: Shot
    image_path: Path | None
    asset_id: str = ""
    manifest_label: str = ""
    scene_heading: str = ""


def _thumbnail(path: Path):
    from reportlab.lib.utils import ImageReader

    return ImageReader(_thumbnail_image(str(path)))


@lru_cache(maxsize=512)
def _thumbnail_image(path: str):
    """Panels are content-addressed files that never change: scale each once per process
    (the scene sheets and the whole-script sheet share them)."""
    from PIL import Image

    from soundstage.media.images import read_image

    img = Image.fromarray(read_image(Path(path)))
    height = max(1, round(img.height * THUMB_WIDTH / img.width))
    return img.resize((THUMB_WIDTH, height), Image.Resampling.BILINEAR)


def write_storyboard_pdf(path: Path, panels: list[BoardPanel], *, title: str, subtitle: str = "",
                         compress: bool = True) -> int:
    """Write the sheet atomically; returns the page count. ``compress=False`` keeps the text
    streams plain, so the ids printed under each panel can be searched in the file itself."""
    from reportlab.lib.pagesizes import landscape, letter
    from reportlab.pdfgen import canvas

    path = Path(path)
    with atomic_path(path) as tmp:
        page_w, page_h = landscape(letter)
        c = canvas.Canvas(str(tmp), pagesize=(page_w, page_h), invariant=1, pageCompression=1 if compress else 0)
        c.setTitle(f"{title} - storyboard")
        c.setSubject(PROVENANCE_LABEL)
        c.setCreator("soundstage previz")
        margin, gutter = 28.0, 14.0
        header_h, footer_h = 34.0, 22.0
        cell_w = (page_w - 2 * margin - (COLUMNS - 1) * gutter) / COLUMNS
        cell_h = (page_h - 2 * margin - header_h - footer_h - (ROWS - 1) * gutter) / ROWS
        image_h = cell_w * 9 / 16
        pages = max(1, -(-len(panels) // PANELS_PER_PAGE))
        for page in range(pages):
            chunk = panels[page * PANELS_PER_PAGE:(page + 1) * PANELS_PER_PAGE]
            page_label = f"page {page + 1} of {pages}"
            label_w = fonts.draw_string(c, page_w - margin, page_h - margin - 14, page_label, 9, align="right")
            head_w = page_w - 2 * margin - label_w - 12
            fonts.draw_lines(c, margin, page_h - margin - 14, title, head_w, 13, "bold", max_lines=1)
            fonts.draw_lines(c, margin, page_h - margin - 27, subtitle, head_w, 9, max_lines=1)
            c.setFillColorRGB(0.7, 0.0, 0.0)
            fonts.draw_string(c, page_w / 2, margin - 6, PROVENANCE_LABEL
                              + " - every frame carries a watermark and Content Credentials", 9, "bold",
                              align="centre")
            c.setFillColorRGB(0, 0, 0)
            for i, panel in enumerate(chunk):
                col, row = i % COLUMNS, i // COLUMNS
                x = margin + col * (cell_w + gutter)
                top = page_h - margin - header_h - row * (cell_h + gutter)
                _draw_panel(c, panel, x, top, cell_w, image_h)
            c.showPage()
        c.save()
    return pages


def _draw_panel(c, panel: BoardPanel, x: float, top: float, width: float, image_h: float) -> None:
    shot = panel.shot
    image_y = top - image_h
    if panel.image_path is not None:
        c.drawImage(_thumbnail(panel.image_path), x, image_y, width=width, height=image_h)
    c.setLineWidth(0.8)
    c.rect(x, image_y, width, image_h)
    # the provenance tag sits on the frame itself as well as under it
    c.setFillColorRGB(0, 0, 0)
    tag_w = fonts.string_width("TEMPORARY PREVIZ MEDIA", 6, "bold")
    c.rect(x, image_y, tag_w + 6, 9, stroke=0, fill=1)
    c.setFillColorRGB(1, 1, 1)
    fonts.draw_string(c, x + 3, image_y + 3, "TEMPORARY PREVIZ MEDIA", 6, "bold")
    c.setFillColorRGB(0, 0, 0)
    y = image_y - 11
    secs = f"{shot.est_seconds:g}s"
    secs_w = fonts.draw_string(c, x + width, y, secs, 7, align="right")
    fonts.draw_lines(c, x, y, f"{shot.number}  {shot.size} \u00b7 {shot.lens_mm:g}mm \u00b7 {shot.movement} "
                     f"\u00b7 {shot.angle}", width - secs_w - 4, 9, "bold", max_lines=1)
    y -= 10
    # captions wrap inside the panel's width and stop with an ellipsis: never into the next panel
    y = fonts.draw_lines(c, x, y, shot.description, width, 7, max_lines=2, leading=8.5)
    if shot.dialogue_excerpt:
        y = fonts.draw_lines(c, x, y, shot.dialogue_excerpt, width, 7, "italic", max_lines=2, leading=8.5)
    if shot.camera_notes:
        c.setFillColorRGB(0.25, 0.25, 0.25)
        y = fonts.draw_lines(c, x, y, shot.camera_notes, width, 6.5, max_lines=1, leading=8.5)
    c.setFillColorRGB(0.3, 0.3, 0.3)
    fonts.draw_lines(c, x, y, f"asset {panel.asset_id or 'none'}", width, 6, "mono", max_lines=1)
    y -= 7
    label = f"c2pa {panel.manifest_label or 'none'}"
    fonts.draw_string(c, x, y, label, fonts.fit_size(label, width, 6.0, "mono"), "mono")
    c.setFillColorRGB(0, 0, 0)
