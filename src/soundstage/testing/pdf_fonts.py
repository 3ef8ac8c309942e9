"""Independent checks of the text in a PDF: which characters its embedded fonts can really draw,
and where poppler finds each word on the page.

Used by the tests of every PDF writer. It reads the file as written, not the writer's state: each
font object's ``/ToUnicode`` CMap says which character a code stands for, and the embedded font
program (``/FontFile2``, parsed with fontTools) must map that code to a glyph with an outline. A
character counts as drawable only when both hold, so a ``.notdef`` box, a font left unembedded
(ReportLab's built-in Helvetica) or a glyph-less code all count as missing. Word boxes come from
poppler's ``pdftotext -bbox`` (Debian's poppler-utils).
"""

from __future__ import annotations

import base64
import io
import re
import subprocess
import unicodedata
import zlib
from dataclasses import dataclass
from html import unescape
from pathlib import Path

__all__ = ["EmbeddedFont", "embedded_fonts", "drawable_chars", "missing_chars", "Word", "word_boxes"]

_OBJ = re.compile(rb"(\d+) 0 obj\s*(.*?)endobj", re.S)


def _objects(data: bytes) -> dict[int, tuple[bytes, bytes | None]]:
    """Object number -> (dictionary text, decoded stream or None)."""
    out: dict[int, tuple[bytes, bytes | None]] = {}
    for m in _OBJ.finditer(data):
        body = m.group(2)
        k = body.find(b"stream")
        if k < 0:
            out[int(m.group(1))] = (body, None)
            continue
        head = body[:k]
        start = k + len(b"stream")
        if body[start:start + 2] == b"\r\n":
            start += 2
        elif body[start:start + 1] in (b"\n", b"\r"):
            start += 1
        length = re.search(rb"/Length (\d+)", head)
        raw = body[start:start + int(length.group(1))] if length else body[start:body.rfind(b"endstream")]
        filters = re.findall(rb"/(ASCII85Decode|FlateDecode)", head.split(b"/Filter", 1)[1]) if b"/Filter" in head else []
        for f in filters:
            if f == b"ASCII85Decode":
                raw = raw.strip()
                if raw.endswith(b"~>") and not raw.startswith(b"<~"):
                    raw = b"<~" + raw   # ReportLab writes only the closing delimiter
                raw = base64.a85decode(raw, adobe=raw.startswith(b"<~"))
            else:
                raw = zlib.decompress(raw)
        out[int(m.group(1))] = (head, raw)
    return out


def _ref(head: bytes, key: bytes) -> int | None:
    m = re.search(rb"/" + key + rb" (\d+) 0 R", head)
    return int(m.group(1)) if m else None


def _to_unicode(cmap: bytes) -> dict[int, str]:
    """Code -> text from a ToUnicode CMap's bfchar and bfrange sections."""
    out: dict[int, str] = {}

    def text(hexstr: bytes) -> str:
        return bytes.fromhex(hexstr.decode()).decode("utf-16-be")

    for block in re.findall(rb"beginbfchar(.*?)endbfchar", cmap, re.S):
        for code, dst in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            out[int(code, 16)] = text(dst)
    for block in re.findall(rb"beginbfrange(.*?)endbfrange", cmap, re.S):
        for lo, hi, dst in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            first = int(dst, 16)
            for i, code in enumerate(range(int(lo, 16), int(hi, 16) + 1)):
                out[code] = chr(first + i)
    return out


@dataclass
class EmbeddedFont:
    base_name: str
    drawable: dict[int, str]    # code -> the text it stands for, only codes with a real glyph


def embedded_fonts(pdf: Path) -> list[EmbeddedFont]:
    """Every embedded TrueType font of the file with the codes its program can draw."""
    from fontTools.ttLib import TTFont

    objs = _objects(Path(pdf).read_bytes())
    fonts: list[EmbeddedFont] = []
    for head, _ in objs.values():
        if b"/Type /Font" not in head or b"/FontDescriptor" not in head:
            continue
        base = re.search(rb"/BaseFont /(\S+)", head)
        desc = objs.get(_ref(head, b"FontDescriptor") or -1)
        tu = objs.get(_ref(head, b"ToUnicode") or -1)
        if desc is None or tu is None or tu[1] is None:
            continue
        program = objs.get(_ref(desc[0], b"FontFile2") or -1)
        if program is None or program[1] is None:
            continue
        font = TTFont(io.BytesIO(program[1]))
        code_to_glyph: dict[int, str] = {}
        for table in font["cmap"].tables:
            code_to_glyph.update(table.cmap)
        glyf = font["glyf"] if "glyf" in font else None
        drawable: dict[int, str] = {}
        for code, chars in _to_unicode(tu[1]).items():
            name = code_to_glyph.get(code)
            if name is None or name == ".notdef":
                continue
            if glyf is not None and chars.strip() and glyf[name].numberOfContours == 0:
                continue  # a code that maps to an empty glyph draws nothing
            drawable[code] = chars
        fonts.append(EmbeddedFont(base.group(1).decode() if base else "?", drawable))
    return fonts


def drawable_chars(pdf: Path) -> set[str]:
    """Every character some embedded font draws with a real glyph, NFKC-normalised (Arabic
    presentation forms count as the letters they shape)."""
    out: set[str] = set()
    for font in embedded_fonts(pdf):
        for chars in font.drawable.values():
            out.add(chars)
            out.update(unicodedata.normalize("NFKC", chars))
    return out


def missing_chars(pdf: Path, text: str) -> set[str]:
    """The characters of ``text`` (spaces aside) that no embedded font of the PDF draws."""
    have = drawable_chars(pdf)
    return {ch for ch in text if not ch.isspace() and ch not in have
            and not set(unicodedata.normalize("NFKC", ch)) <= have}


@dataclass(frozen=True)
class Word:
    page: int
    x0: float
    y0: float   # from the top of the page, as poppler reports it
    x1: float
    y1: float
    text: str


def word_boxes(pdf: Path) -> list[Word]:
    """Every word poppler finds, with its box in PDF points."""
    html = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], check=True, capture_output=True, text=True).stdout
    words: list[Word] = []
    for page, body in enumerate(re.findall(r"<page [^>]*>(.*?)</page>", html, re.S), start=1):
        for x0, y0, x1, y1, text in re.findall(
                r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>', body):
            words.append(Word(page, float(x0), float(y0), float(x1), float(y1), unescape(text)))
    return words


# One short scene per script system, with forced headings ("." in Fountain) and forced cues ("@"):
# a long action line and a line of dialogue each, so captions have to wrap.
MULTILINGUAL_SCRIPTS: dict[str, str] = {
    "russian": ".ИНТ. КВАРТИРА АННЫ - НОЧЬ\n\nАнна медленно подходит к окну и долго смотрит на мокрую улицу, "
               "где горят фонари и едет одинокое такси.\n\n@АННА\nГде же ты был всю эту длинную ночь?\n",
    "greek": ".ΕΣΩΤ. ΔΙΑΜΕΡΙΣΜΑ ΕΛΕΝΗΣ - ΝΥΧΤΑ\n\nΗ Ελένη κοιτάζει έξω από το παράθυρο τη βρεγμένη οδό, όπου ένα "
             "ταξί περνά αργά κάτω από τα φώτα.\n\n@ΕΛΕΝΗ\nΠού ήσουν όλη αυτή τη νύχτα;\n",
    "japanese": ".INT. 東京のアパート - 夜\n\n由美は窓の外を見つめながら、長い手紙をゆっくりと書いている。雨が静かに"
                "降り続けている。\n\n@由美\nどうして電話してくれなかったの？\n",
    "chinese": ".内景. 北京的公寓 - 夜\n\n李华站在窗前，久久地望着被雨水打湿的街道，路灯一盏接一盏地亮了起来。"
               "\n\n@李华\n你整晚都去哪儿了？\n",
    "korean": ".내부. 서울 아파트 - 밤\n\n지민은 창가에 서서 비에 젖은 거리를 오랫동안 바라본다. 가로등이 하나씩 "
              "켜진다.\n\n@지민\n밤새 어디 있었어?\n",
    "arabic": ".داخلي. شقة ليلى - ليل\n\nتقف ليلى عند النافذة وتنظر طويلا إلى الشارع المبلل تحت المطر، حيث "
              "تمر سيارة أجرة وحيدة.\n\n@ليلى\nأين كنت طوال هذه الليلة؟\n",
    "hebrew": ".פנים. הדירה של נועה - לילה\n\nנועה עומדת ליד החלון ומביטה זמן רב ברחוב הרטוב, שבו עוברת מונית "
              "בודדת מתחת לפנסים.\n\n@נועה\nאיפה היית כל הלילה?\n",
}
