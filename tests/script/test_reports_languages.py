"""Breakdown sheets of scripts in seven writing systems: every glyph of every name, heading and
location is drawn from an embedded font that really has it (checked in the written file), and no
word runs off its sheet."""

from __future__ import annotations

import pytest

from soundstage.script.breakdown import break_down
from soundstage.script.fountain import parse_fountain
from soundstage.script.reports import breakdown_sheets_pdf
from soundstage.testing.pdf_fonts import MULTILINGUAL_SCRIPTS, embedded_fonts, missing_chars, word_boxes

LETTER_W = 612.0


@pytest.mark.parametrize("language", sorted(MULTILINGUAL_SCRIPTS))
def test_breakdown_sheets_draw_every_script_with_embedded_glyphs(tmp_path, language):
    source = MULTILINGUAL_SCRIPTS[language]
    bd = break_down(parse_fountain(source))
    scene = bd.scenes[0]
    title = f"{scene.speaking_cast[0]} \u2014 {scene.location}"
    out = tmp_path / "sheets.pdf"
    assert breakdown_sheets_pdf(bd, out, title=title) == 2
    drawn = title + scene.location + "".join(scene.speaking_cast) + "".join(e.name for e in scene.elements)
    assert missing_chars(out, drawn) == set()
    assert all(f.drawable for f in embedded_fonts(out))
    words = word_boxes(out)
    assert words and all(w.x0 >= 30 and w.x1 <= LETTER_W - 30 for w in words)
    # the name really is on the page (Arabic comes back in its joined presentation forms)
    if language != "arabic":
        text = " ".join(w.text for w in words)
        name = scene.speaking_cast[0]
        assert name in text or name[::-1] in text


def test_a_very_long_title_stays_on_the_sheet(tmp_path):
    bd = break_down(parse_fountain(MULTILINGUAL_SCRIPTS["russian"]))
    out = tmp_path / "sheets.pdf"
    breakdown_sheets_pdf(bd, out, title="Очень длинное название фильма " * 12)
    assert all(w.x1 <= LETTER_W - 30 for w in word_boxes(out))


def test_the_checker_catches_boxes_drawn_by_a_builtin_font(tmp_path):
    """The adversary: Cyrillic drawn in ReportLab's built-in Helvetica (the old sheets) must fail."""
    from reportlab.pdfgen.canvas import Canvas

    out = tmp_path / "helvetica.pdf"
    c = Canvas(str(out), pageCompression=0)
    c.setFont("Helvetica", 12)
    c.drawString(50, 700, "ИНТ. КВАРТИРА")
    c.save()
    assert missing_chars(out, "ИНТ. КВАРТИРА") >= set("ИНТКВАРТИРА")
