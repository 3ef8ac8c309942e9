"""Storyboard sheets of scripts in seven writing systems, planned by the real shot planner: the
embedded fonts draw every character of the names and captions, and long captions wrap and stop
with an ellipsis inside their own panel instead of running into the next one."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PIL import Image

from soundstage.previz.boards import BoardPanel, write_storyboard_pdf
from soundstage.previz.shotlist import make_shot_list
from soundstage.script.breakdown import break_down
from soundstage.script.fountain import parse_fountain
from soundstage.testing.pdf_fonts import MULTILINGUAL_SCRIPTS, missing_chars, word_boxes

# the sheet's geometry, restated here (landscape letter, 3 x 2 panels) so the test measures the
# file against the layout a reader expects rather than against the writer's own numbers
PAGE_W, PAGE_H, MARGIN, GUTTER, HEADER, FOOTER = 792.0, 612.0, 28.0, 14.0, 34.0, 22.0
CELL_W = (PAGE_W - 2 * MARGIN - 2 * GUTTER) / 3
CELL_H = (PAGE_H - 2 * MARGIN - HEADER - FOOTER - GUTTER) / 2


def _cell(word) -> tuple[int, int] | None:
    """The (column, row) panel a word box lies wholly inside, or None."""
    for col in range(3):
        x0 = MARGIN + col * (CELL_W + GUTTER)
        for row in range(2):
            top = MARGIN + HEADER + row * (CELL_H + GUTTER)
            if x0 - 0.5 <= word.x0 and word.x1 <= x0 + CELL_W + 0.5 and top - 0.5 <= word.y0 and word.y1 <= top + CELL_H + 0.5:
                return col, row
    return None


def _panels(tmp_path, language: str) -> tuple[list[BoardPanel], str]:
    source = MULTILINGUAL_SCRIPTS[language]
    screenplay = parse_fountain(source)
    shots = [s for scene in make_shot_list(break_down(screenplay), screenplay).scenes for s in scene.shots]
    action = [b for b in source.split("\n\n") if b and not b.startswith((".", "@"))][0]
    frame = tmp_path / "frame.png"
    Image.fromarray(np.full((270, 480, 3), 150, np.uint8)).save(frame)
    panels = []
    for i, shot in enumerate(shots):
        # the planner's captions are short; the first shot gets the whole action line, repeated,
        # so it must wrap and be cut
        if i == 0:
            shot = dataclasses.replace(shot, description=(action + " ") * 3)
        panels.append(BoardPanel(shot, frame, asset_id=f"{i + 1:016x}", manifest_label=f"urn:c2pa:{i:04d}"))
    return panels, source


@pytest.mark.parametrize("language", sorted(MULTILINGUAL_SCRIPTS))
def test_boards_draw_every_script_and_keep_captions_in_their_panels(tmp_path, language):
    panels, _ = _panels(tmp_path, language)
    heading = break_down(parse_fountain(MULTILINGUAL_SCRIPTS[language])).scenes[0].heading
    out = tmp_path / "board.pdf"
    write_storyboard_pdf(out, panels, title=heading, subtitle=f"{len(panels)} shots")
    drawn = heading + "".join(c for p in panels for c in p.shot.characters) + panels[-1].shot.description
    drawn += panels[0].shot.description[:12] + panels[-1].shot.dialogue_excerpt[:12]
    assert missing_chars(out, drawn) == set()

    words = word_boxes(out)
    body = [w for w in words if MARGIN + HEADER <= w.y0 and w.y1 <= PAGE_H - MARGIN - FOOTER + 6]
    assert body
    stray = [w for w in body if _cell(w) is None]
    assert stray == [], f"words outside every panel: {[(w.text, w.x0, w.x1) for w in stray][:5]}"
    # the long caption was wrapped onto two lines of its own panel and cut with an ellipsis
    first = [w for w in body if _cell(w) == (0, 0)]
    assert any("\u2026" in w.text for w in first)
    assert not any("\u2026" in w.text for w in body if _cell(w) != (0, 0))


def test_a_caption_in_an_unwrapped_writer_would_be_caught(tmp_path):
    """The adversary: one long line drawn straight across a panel's edge is found by the check."""
    from reportlab.pdfgen.canvas import Canvas

    from soundstage import fonts

    out = tmp_path / "overflow.pdf"
    c = Canvas(str(out), pagesize=(PAGE_W, PAGE_H))
    fonts.draw_string(c, MARGIN, PAGE_H - MARGIN - HEADER - 150, "Анна медленно подходит к окну " * 4, 7)
    c.save()
    assert any(_cell(w) is None for w in word_boxes(out))
