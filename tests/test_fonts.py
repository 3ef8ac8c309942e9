"""The shared PDF font resolver: right font per script run, measured wrapping, RTL order, and a
clear error when a Debian font package is missing."""

from __future__ import annotations

import pytest

from soundstage import fonts
from soundstage.errors import WorkspaceError

CJK = "SS-WenQuanYiZenHei"


@pytest.mark.parametrize("text, font", [
    ("Анна смотрит в окно", "SS-NotoSans"),
    ("Η Ελένη κοιτάζει", "SS-NotoSans"),
    ("由美は窓の外を見つめる", CJK),
    ("李华站在窗前", CJK),
    ("지민은 창가에 서서", CJK),
    ("تقف ليلى عند النافذة", "SS-NotoSansArabic"),
    ("נועה עומדת ליד החלון", "SS-NotoSansHebrew"),
])
def test_each_script_gets_a_font_that_has_its_glyphs(text, font):
    parts = fonts.runs(text)
    assert [name for name, _ in parts] == [font]
    from reportlab.pdfbase.pdfmetrics import getFont

    cmap = getFont(font).face.charToGlyph
    assert all(ord(ch) in cmap for _, t in parts for ch in t)


def test_a_mixed_caption_is_split_into_runs_per_script():
    parts = fonts.runs("MCU on АННА and 由美 with נועה")
    assert [n for n, _ in parts] == ["SS-NotoSans", CJK, "SS-NotoSans", "SS-NotoSansHebrew"]
    assert "".join(t for _, t in parts).replace("העונ", "נועה") == "MCU on АННА and 由美 with נועה"


def test_right_to_left_text_is_drawn_in_visual_order_and_arabic_is_joined():
    (_, hebrew), = fonts.runs("שלום")
    assert hebrew == "םולש"
    (_, arabic), = fonts.runs("ليلى")
    assert all(0xFE70 <= ord(ch) <= 0xFEFF for ch in arabic)  # contextual presentation forms
    assert fonts.draw_lines.__doc__  # right-aligned by default: see the PDF tests for placement


@pytest.mark.parametrize("text", [
    "Анна медленно подходит к окну и долго смотрит на мокрую улицу, где горят фонари",
    "由美は窓の外を見つめながら、長い手紙をゆっくりと書いている。雨が静かに降り続けている。",
    "تقف ليلى عند النافذة وتنظر طويلا إلى الشارع المبلل تحت المطر",
    "Supercalifragilisticexpialidocious" * 3,
])
def test_wrapped_lines_fit_the_width_they_were_given(text):
    lines = fonts.wrap(text, 90, 9)
    assert len(lines) > 1
    assert all(fonts.string_width(line, 9) <= 90 for line in lines)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")  # nothing lost, nothing added


def test_cjk_wraps_between_characters_and_latin_between_words():
    cjk = fonts.wrap("雨が静かに降り続けている", 40, 10)
    assert len(cjk) >= 3 and all(len(line) <= 4 for line in cjk)
    latin = fonts.wrap("one two three four five six", 40, 10)
    assert all(w in ("one", "two", "three", "four", "five", "six") for line in latin for w in line.split())


def test_text_past_the_line_limit_ends_in_an_ellipsis_inside_the_width():
    lines = fonts.wrap("word " * 60, 80, 8, max_lines=2)
    assert len(lines) == 2 and lines[-1].endswith(fonts.ELLIPSIS)
    assert fonts.string_width(lines[-1], 8) <= 80
    assert fonts.wrap("short", 80, 8, max_lines=2) == ["short"]


def test_a_missing_font_file_names_its_debian_package(monkeypatch, tmp_path):
    gone = fonts.FontFile("SS-Test-Missing", tmp_path / "NotoSansHebrew-Regular.ttf", "fonts-noto-core")
    monkeypatch.setitem(fonts.FONT_FILES, "hebrew", {"regular": gone})
    fonts._runs_visual.cache_clear()
    with pytest.raises(WorkspaceError) as err:
        fonts.runs("שלום")
    line = err.value.one_line()
    assert "fonts-noto-core" in line and "NotoSansHebrew-Regular.ttf" in line and "\n" not in line
    fonts._runs_visual.cache_clear()
    assert fonts.runs("Latin still works") == [("SS-NotoSans", "Latin still works")]


def test_a_font_reportlab_cannot_embed_is_refused_clearly(monkeypatch, tmp_path):
    bad = tmp_path / "broken.ttf"
    bad.write_bytes(b"OTTO" + b"\0" * 64)  # a CFF-flavoured header with nothing behind it
    monkeypatch.setitem(fonts.FONT_FILES, "cjk", {"regular": fonts.FontFile("SS-Test-Broken", bad, "fonts-wqy-zenhei")})
    fonts._runs_visual.cache_clear()
    try:
        with pytest.raises(WorkspaceError) as err:
            fonts.runs("東京")
        assert "cannot be embedded" in err.value.one_line() and "fonts-wqy-zenhei" in err.value.one_line()
    finally:
        fonts._runs_visual.cache_clear()


def test_the_packages_sysdeps_installs_cover_every_font():
    from pathlib import Path

    sysdeps = (Path(__file__).resolve().parents[1] / "scripts" / "sysdeps.sh").read_text()
    assert all(pkg in sysdeps for pkg in fonts.needed_packages())
