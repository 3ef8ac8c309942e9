"""Fonts for every PDF soundstage writes: any script, shaped, measured and wrapped.

ReportLab's built-in Helvetica has Latin-1 only, so Cyrillic, Greek, CJK, Arabic and Hebrew would
print as black boxes. This module registers Debian's fonts (TrueType outlines, which ReportLab can
subset and embed) and draws text run by run, each run in a font that has its glyphs:

    Latin, Cyrillic, Greek      Noto Sans (regular/bold/italic), Noto Sans Mono   fonts-noto-core, fonts-noto-mono
    Arabic                      Noto Sans Arabic                                  fonts-noto-core
    Hebrew                      Noto Sans Hebrew                                  fonts-noto-core
    Japanese, Chinese, Korean   WenQuanYi Zen Hei (TrueType TTC)                  fonts-wqy-zenhei

Noto Sans CJK is not used: Debian ships it as a CFF-outline collection, which ReportLab cannot
embed. WenQuanYi Zen Hei was measured against Droid Sans Fallback and AR PL UMing: it is
the only one covering all of kana, the CJK Unified Ideographs block and all 11,172 hangul syllables
(docs/decisions/DR013-pdf-fonts-any-script.md).

Right-to-left text is shaped with ``arabic_reshaper`` (Arabic letters to their contextual
presentation forms, which Noto Sans Arabic maps) and put in visual order with ``python-bidi``;
the visual line is then split into font runs and drawn left to right. A font file that is missing
raises a one-line :class:`~soundstage.errors.WorkspaceError` naming the Debian package, never
silent boxes.

Wrapping measures with each run's font (``stringWidth``); words break at spaces, CJK text between
any two characters, and text past ``max_lines`` is cut with an ellipsis rather than overflowing.
"""

from __future__ import annotations

import threading
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from soundstage.errors import WorkspaceError

__all__ = [
    "FontFile", "FONT_FILES", "STYLES", "font_name", "runs", "string_width", "draw_string",
    "wrap", "draw_lines", "fit_size", "needed_packages", "visual", "primary_font", "markup",
]

_TRUETYPE = Path("/usr/share/fonts/truetype")


@dataclass(frozen=True)
class FontFile:
    name: str               # the name it is registered under in ReportLab
    path: Path
    package: str            # the Debian package that ships it
    subfont: int = 0        # index inside a .ttc collection


# script family -> style -> font file. Styles missing for a family fall back to "regular".
FONT_FILES: dict[str, dict[str, FontFile]] = {
    "latin": {
        "regular": FontFile("SS-NotoSans", _TRUETYPE / "noto/NotoSans-Regular.ttf", "fonts-noto-core"),
        "bold": FontFile("SS-NotoSans-Bold", _TRUETYPE / "noto/NotoSans-Bold.ttf", "fonts-noto-core"),
        "italic": FontFile("SS-NotoSans-Italic", _TRUETYPE / "noto/NotoSans-Italic.ttf", "fonts-noto-core"),
        "mono": FontFile("SS-NotoSansMono", _TRUETYPE / "noto/NotoSansMono-Regular.ttf", "fonts-noto-mono"),
    },
    "arabic": {
        "regular": FontFile("SS-NotoSansArabic", _TRUETYPE / "noto/NotoSansArabic-Regular.ttf", "fonts-noto-core"),
        "bold": FontFile("SS-NotoSansArabic-Bold", _TRUETYPE / "noto/NotoSansArabic-Bold.ttf", "fonts-noto-core"),
    },
    "hebrew": {
        "regular": FontFile("SS-NotoSansHebrew", _TRUETYPE / "noto/NotoSansHebrew-Regular.ttf", "fonts-noto-core"),
        "bold": FontFile("SS-NotoSansHebrew-Bold", _TRUETYPE / "noto/NotoSansHebrew-Bold.ttf", "fonts-noto-core"),
    },
    "cjk": {
        "regular": FontFile("SS-WenQuanYiZenHei", _TRUETYPE / "wqy/wqy-zenhei.ttc", "fonts-wqy-zenhei"),
    },
}
STYLES = ("regular", "bold", "italic", "mono")
ELLIPSIS = "\u2026"

_lock = threading.Lock()


def needed_packages() -> list[str]:
    """The Debian packages every font above comes from (scripts/sysdeps.sh installs them)."""
    return sorted({f.package for styles in FONT_FILES.values() for f in styles.values()})


def _family(ch: str) -> str | None:
    """The script family a character needs, or None for neutral characters (spaces, digits,
    punctuation, symbols) that stay in the font of the run around them."""
    cp = ord(ch)
    if 0x0590 <= cp <= 0x05FF or 0xFB1D <= cp <= 0xFB4F:
        return "hebrew"
    if (0x0600 <= cp <= 0x06FF or 0x0750 <= cp <= 0x077F or 0x08A0 <= cp <= 0x08FF
            or 0xFB50 <= cp <= 0xFDFF or 0xFE70 <= cp <= 0xFEFF):
        return "arabic"
    if (0x1100 <= cp <= 0x11FF or 0x2E80 <= cp <= 0x2FDF or 0x3000 <= cp <= 0x33FF
            or 0x3400 <= cp <= 0x4DBF or 0x4E00 <= cp <= 0x9FFF or 0xA960 <= cp <= 0xA97F
            or 0xAC00 <= cp <= 0xD7FF or 0xF900 <= cp <= 0xFAFF or 0xFE30 <= cp <= 0xFE4F
            or 0xFF00 <= cp <= 0xFFEF or 0x20000 <= cp <= 0x3FFFF):
        return "cjk"
    if unicodedata.category(ch)[0] in "LM":
        return "latin"
    return None


def _is_cjk(ch: str) -> bool:
    return _family(ch) == "cjk"


def _file(family: str, style: str) -> FontFile:
    styles = FONT_FILES[family]
    if style == "mono" and "mono" not in styles:
        style = "regular"
    return styles.get(style) or styles["regular"]


@lru_cache(maxsize=None)
def _registered(name: str, path: str, package: str, subfont: int):
    """Register one font file with ReportLab once per process; returns its cmap (a set)."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if not Path(path).is_file():
        raise WorkspaceError(f"font file {path} is missing, so this PDF cannot draw its text",
                             hint=f"install the Debian package {package}: run scripts/sysdeps.sh as root")
    with _lock:
        try:
            font = pdfmetrics.getFont(name)
        except KeyError:
            try:
                font = TTFont(name, path, subfontIndex=subfont)
            except Exception as exc:  # a corrupt or CFF-only file: say which and why
                raise WorkspaceError(f"font file {path} cannot be embedded: {exc}",
                                     hint=f"reinstall the Debian package {package}") from None
            pdfmetrics.registerFont(font)
    return frozenset(font.face.charToGlyph)


def font_name(family: str = "latin", style: str = "regular") -> str:
    """The registered ReportLab name of a family's font in a style (registering it if needed)."""
    f = _file(family, style)
    _registered(f.name, str(f.path), f.package, f.subfont)
    return f.name


def _cmap(family: str, style: str) -> frozenset[int]:
    f = _file(family, style)
    return _registered(f.name, str(f.path), f.package, f.subfont)


def _has_rtl(text: str) -> bool:
    return any(_family(ch) in ("arabic", "hebrew") for ch in text)


@lru_cache(maxsize=4096)
def _visual(text: str) -> str:
    """One line in display order: Arabic letters joined into their contextual forms, then
    right-to-left runs reversed by the Unicode bidi algorithm."""
    if not _has_rtl(text):
        return text
    import arabic_reshaper
    from bidi import get_display

    if any(_family(ch) == "arabic" for ch in text):
        text = arabic_reshaper.reshape(text)
    return get_display(text)


@lru_cache(maxsize=8192)
def _runs_visual(text: str, style: str) -> tuple[tuple[str, str], ...]:
    if style not in STYLES:
        raise ValueError(f"unknown font style {style!r}")
    out: list[tuple[str, str]] = []
    current = "latin"
    for ch in text:
        fam = _family(ch)
        if fam is None:
            # neutral: keep the current run when its font has the glyph
            fam = current if ord(ch) in _cmap(current, style) else "latin"
            if ord(ch) not in _cmap(fam, style):
                fam = next((f for f in FONT_FILES if ord(ch) in _cmap(f, style)), "latin")
        current = fam
        name = font_name(fam, style)
        if out and out[-1][0] == name:
            out[-1] = (name, out[-1][1] + ch)
        else:
            out.append((name, ch))
    return tuple(out)


def runs(text: str, style: str = "regular") -> list[tuple[str, str]]:
    """A line of text as (font name, text) runs in visual (left-to-right drawing) order."""
    return list(_runs_visual(_visual(text), style))


def string_width(text: str, size: float, style: str = "regular") -> float:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    return sum(stringWidth(t, name, size) for name, t in runs(text, style))


def draw_string(c, x: float, y: float, text: str, size: float, style: str = "regular",
                align: str = "left") -> float:
    """Draw one line on a ReportLab canvas; ``align`` is left, right (x is the right edge) or
    centre (x is the middle). Returns the drawn width."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    parts = runs(text, style)
    width = sum(stringWidth(t, name, size) for name, t in parts)
    if align == "right":
        x -= width
    elif align in ("centre", "center"):
        x -= width / 2
    for name, t in parts:
        c.setFont(name, size)
        c.drawString(x, y, t)
        x += stringWidth(t, name, size)
    return width


def _tokens(text: str) -> list[str]:
    """Break opportunities: words with their following spaces, and each CJK character alone."""
    out: list[str] = []
    word = ""
    for ch in text:
        if _is_cjk(ch) and unicodedata.category(ch)[0] in "LMN":
            if word:
                out.append(word)
            out.append(ch)
            word = ""
        elif ch.isspace():
            word += ch
            out.append(word)
            word = ""
        else:
            if word and word[-1].isspace():
                out.append(word)
                word = ""
            # CJK closing punctuation stays with the character before it
            if _is_cjk(ch) and out and not word:
                out[-1] += ch
                continue
            word += ch
    if word:
        out.append(word)
    return out


def _fit_chars(token: str, width: float, size: float, style: str) -> int:
    """How many leading characters of an over-long token fit in ``width`` (at least one)."""
    n = len(token)
    while n > 1 and string_width(token[:n], size, style) > width:
        n -= 1
    return n


def wrap(text: str, width: float, size: float, style: str = "regular", max_lines: int | None = None) -> list[str]:
    """Lines (logical order) of ``text`` that each fit in ``width`` points at ``size``; explicit
    newlines are kept. With ``max_lines`` the last kept line ends in an ellipsis if text was cut."""
    lines: list[str] = []
    for para in (text or "").split("\n"):
        line = ""
        for tok in _tokens(para):
            candidate = line + tok
            if string_width(candidate.rstrip(), size, style) <= width:
                line = candidate
                continue
            if line.strip():
                lines.append(line.rstrip())
            line = tok.lstrip()
            while string_width(line.rstrip(), size, style) > width:   # one token wider than the box
                n = _fit_chars(line, width, size, style)
                lines.append(line[:n])
                line = line[n:]
        if line.strip() or not lines or not para:
            lines.append(line.rstrip())
    if max_lines is not None and len(lines) > max_lines:
        kept = lines[:max_lines]
        last = kept[-1].rstrip()
        while last and string_width(last + ELLIPSIS, size, style) > width:
            last = last[:-1].rstrip()
        kept[-1] = last + ELLIPSIS
        return kept
    return lines


def draw_lines(c, x: float, y: float, text: str, width: float, size: float, style: str = "regular",
               *, max_lines: int | None = None, leading: float | None = None, align: str = "left") -> float:
    """Wrap ``text`` into ``width`` and draw it downwards from baseline ``y``; returns the baseline
    below the last line drawn. Right-to-left paragraphs are right-aligned unless told otherwise."""
    leading = leading if leading is not None else size * 1.2
    for line in wrap(text, width, size, style, max_lines):
        a = align
        if a == "left" and line and _base_rtl(line):
            a = "right"
        draw_string(c, x + width if a == "right" else x + width / 2 if a in ("centre", "center") else x,
                    y, line, size, style, a)
        y -= leading
    return y


def _base_rtl(text: str) -> bool:
    """True when the first strong character is right-to-left (the paragraph's base direction)."""
    for ch in text:
        fam = _family(ch)
        if fam in ("arabic", "hebrew"):
            return True
        if fam is not None:
            return False
    return False


def fit_size(text: str, width: float, size: float, style: str = "regular", minimum: float = 4.0) -> float:
    """The largest size up to ``size`` at which one line of ``text`` fits in ``width``."""
    w = string_width(text, size, style)
    if w <= width or w == 0:
        return size
    return max(minimum, size * width / w)


def visual(text: str) -> str:
    """One line in display order (Arabic joined, right-to-left runs reversed), for drawing APIs
    that take a whole string in a single font."""
    return _visual(text)


def primary_font(text: str, style: str = "regular") -> str:
    """The one font to use where a drawing API takes a single font per string (e.g. ReportLab
    graphics ``String``): the font of the text's first non-Latin run, else the Latin font."""
    names = [name for name, _ in runs(text, style)]
    latin = font_name("latin", style)
    return next((n for n in names if n != latin), latin)


def markup(text: str, style: str = "regular") -> str:
    """``text`` as XML-escaped ReportLab Paragraph markup with a ``<font name=...>`` per script run,
    so platypus paragraphs and table cells draw every script with real glyphs. Arabic is joined
    into its contextual forms; a right-to-left paragraph is put in visual order as a whole, which
    is right for the one-line cells of a table (a long RTL paragraph that wraps would list its
    lines bottom-up: use :func:`draw_lines` for those)."""
    from xml.sax.saxutils import escape

    out = []
    for line in str(text).split("\n"):
        out.append("".join(f'<font name="{name}">{escape(t)}</font>' for name, t in runs(line, style)))
    return "<br/>".join(out)
