"""Scene headings in the conventions of many languages: what starts one, and its parts.

Fountain's own prefixes (INT, EXT, EST, INT./EXT, INT/EXT, I/E) are matched in any case, as
every Fountain tool does. Other conventions are matched only as they are written in scripts
(upper case), so a German action line "Innen ist es dunkel." is never a heading:

- Russian ``ИНТ.`` / ``НАТ.`` (also ``ЭКСТ.``, ``ПАВ.`` for a studio set), Ukrainian ``ІНТ.`` /
  ``НАТ.`` / ``ЕКСТ.``;
- Spanish, French, Portuguese ``INT.`` / ``EXT.`` (as English) and the spelled-out ``INTERIOR`` /
  ``EXTERIOR`` / ``INTÉRIEUR`` / ``EXTÉRIEUR``; Italian ``INT.`` / ``EST.`` and ``INTERNO`` /
  ``ESTERNO``; German ``INNEN`` / ``AUSSEN`` (``AUßEN``), ``I/A``;
- Japanese scenario headings open with a circle: ``○ 喫茶店・店内（夜）``;
- Korean ``S#12. 카페 안 (밤)`` (or ``씬 12``);
- Chinese ``1. 内景 咖啡馆 - 夜`` or ``1-3 日 内 咖啡馆`` (``內景`` in traditional script).

Full-width forms typed with a CJK input method (``ＩＮＴ．``, ``INT。``) are folded first (NFKC,
and the ideographic full stop read as "."). A scene number written before the prefix, as
European and Asian scripts do (``12. INT. CUISINE - NUIT``, ``1-1. ИНТ. КУХНЯ``), is returned so
the parser can keep it. Times of day are returned in the English words the rest of soundstage
reads (DAY, NIGHT, ...), the heading's own text is always kept as written.

Pure functions, no I/O; every pattern is anchored and free of nested quantifiers.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from soundstage.domain.screenplay import SceneHeading

__all__ = ["HeadingStart", "heading_start", "is_heading", "is_standard_heading", "parse_heading",
           "fold", "NO_HEADING_HINT", "looks_like_heading"]

NO_HEADING_HINT = ("a heading starts with INT./EXT. (or ИНТ./НАТ., ІНТ./НАТ., INNEN/AUSSEN, INT./EST., "
                   "○, S#1, 内景/外景); force any line to be a heading by starting it with '.'")

_STOPS = str.maketrans({"。": ".", "｡": ".", "．": ".", "／": "/", "－": "-", "　": " "})


def fold(text: str) -> str:
    """NFKC with CJK full stops as ".": ``ＩＮＴ．`` and ``INT。`` both read ``INT.``."""
    if text.isascii():
        return text
    return unicodedata.normalize("NFKC", text).translate(_STOPS)


# --------------------------------------------------------------------------- prefixes

# Fountain's own prefixes, any case (the spec's list).
_FOUNTAIN = re.compile(
    r"(INT\.?\s*/\s*EXT|EXT\.?\s*/\s*INT|INT\.?\s*/\s*EST|EST\.?\s*/\s*INT|I\s*/\s*E|E\s*/\s*I|INT|EXT|EST)"
    r"(?:\.|\s)", re.IGNORECASE)
# Spelled-out and localized word prefixes, upper case only.
_INT_WORDS = ("ИНТ", "ІНТ", "IНТ", "ПАВ", "INNEN", "INTERIOR", "INTERNO", "INTÉRIEUR", "INTERIEUR")
_EXT_WORDS = ("НАТ", "ЭКСТ", "ЕКСТ", "AUSSEN", "AUßEN", "AUẞEN", "EXTERIOR", "ESTERNO", "EXTÉRIEUR",
              "EXTERIEUR")
_WORD = "|".join(sorted(_INT_WORDS + _EXT_WORDS, key=len, reverse=True))
_LOCAL = re.compile(rf"((?:{_WORD})(?:\.?\s*/\s*(?:{_WORD}))?|I\s*/\s*A|A\s*/\s*I)(?:\.|\s|-|–|—)")
# "12. ", "12A ", "1-1. ", "3) " before a prefix.
_LEADING_NUMBER = re.compile(r"(\d{1,4}[A-Z]{0,2}(?:[-.]\d{1,4}[A-Z]{0,2})?)(?:[.):]\s*|\s+)")
_JAPANESE = re.compile(r"[○◯〇]\s*(?=\S)")
_KOREAN = re.compile(r"(?:S\s*#|씬|신|장면)\s*#?\s*(\d{1,4}[A-Za-z]?)\s*[.:)]?\s*")
_ZH_NUMBER = re.compile(r"(?:第\s*([\d一二三四五六七八九十百零〇]{1,6})\s*[场場]|[场場]景?\s*([\d一二三四五六七八九十]{1,6})"
                        r"|(\d{1,4}(?:[-–.]\d{1,4})?))[\s.、:：]*")
_ZH_SCENE = re.compile(r"(?:内景|外景|內景|内/外景|內/外景|内外景|內外景)(?:\s|$|[-–—:：])")
_ZH_TOKENS = re.compile(r"(?:[日夜晨昏][\s/、]+[内外內]|[内外內][\s/、]+[日夜晨昏])(?:\s|$)")


@dataclass(frozen=True)
class HeadingStart:
    """Where a heading's prefix ends in the folded text, what it says, and a leading scene number."""

    int_ext: str  # "INT", "EXT", "INT/EXT", "EST" or "" (the prefix says nothing about it)
    end: int  # offset in the folded text where the location starts
    number: str | None = None
    standard: bool = True  # one of Fountain's own prefixes, at the start of the line


def _int_ext_of(prefix: str) -> str:
    parts = [p for p in re.split(r"[\s./]+", prefix.upper()) if p]
    kinds = []
    for part in parts:
        if part in ("INT", "I") or part in _INT_WORDS:
            kinds.append("INT")
        elif part in ("EXT", "E", "A") or part in _EXT_WORDS:
            kinds.append("EXT")
        elif part == "EST":
            kinds.append("EST")
    if len(set(kinds)) > 1:
        return "INT/EXT"
    return kinds[0] if kinds else ""


def _prefix_at(folded: str, pos: int) -> HeadingStart | None:
    m = _FOUNTAIN.match(folded, pos)
    if m:
        return HeadingStart(_int_ext_of(m.group(1)), m.end(), standard=pos == 0)
    m = _LOCAL.match(folded, pos)
    if m:
        return HeadingStart(_int_ext_of(m.group(1)), m.end(), standard=False)
    return None


def heading_start(line: str) -> HeadingStart | None:
    """The heading prefix of ``line`` (already stripped), or None when it is not a scene heading."""
    folded = fold(line)
    if not folded:
        return None
    first = folded[0]
    if first.isascii() or first.isalpha() and not _is_cjk(first):
        found = _prefix_at(folded, 0)
        if found is not None:
            return found
        m = _LEADING_NUMBER.match(folded) if first.isdigit() else None
        if m:
            found = _prefix_at(folded, m.end())
            if found is not None:
                return HeadingStart(found.int_ext, found.end, m.group(1), standard=False)
        m = _KOREAN.match(folded)
        if m and m.end() < len(folded):
            return HeadingStart("", m.end(), m.group(1), standard=False)
        if not first.isdigit():
            return None
    m = _JAPANESE.match(folded)
    if m:
        return HeadingStart("", m.end(), standard=False)
    m = _KOREAN.match(folded)
    if m and m.end() < len(folded):
        return HeadingStart("", m.end(), m.group(1), standard=False)
    m = _ZH_NUMBER.match(folded)
    start = m.end() if m else 0
    number = next((g for g in m.groups() if g), None) if m else None
    if _ZH_SCENE.match(folded + " ", start) or (m and _ZH_TOKENS.match(folded + " ", start)):
        return HeadingStart("", start, number, standard=False)
    return None


def _is_cjk(ch: str) -> bool:
    return "\u2e80" <= ch <= "\u9fff" or "\uac00" <= ch <= "\ud7af" or "\uf900" <= ch <= "\ufaff"


def is_heading(line: str) -> bool:
    """True when ``line`` starts a scene heading in any convention this module knows."""
    return heading_start(line) is not None


def is_standard_heading(line: str) -> bool:
    """True when every Fountain tool reads ``line`` as a heading without a leading '.'."""
    return _FOUNTAIN.match(line) is not None


# --------------------------------------------------------------------------- parts

_TIMES: dict[str, str] = {}
for _canonical, _words in {
    "DAY": "DAY ДЕНЬ DÍA DIA JOUR TAG GIORNO 昼 日中 日 白天 낮",
    "NIGHT": "NIGHT НОЧЬ НІЧ NOCHE NUIT NACHT NOTTE NOITE 夜 深夜 夜晚 晚上 밤",
    "MORNING": "MORNING УТРО РАНОК MAÑANA MANANA MATIN MORGEN MATTINA MANHÃ MANHA 朝 晨 清晨 早晨 早上 아침",
    "EVENING": "EVENING ВЕЧЕР ВЕЧІР SOIR ABEND SERA 저녁",
    "AFTERNOON": "AFTERNOON TARDE APRÈS-MIDI APRES-MIDI NACHMITTAG POMERIGGIO 午後 下午 오후",
    "DAWN": "DAWN РАССВЕТ СВІТАНОК AMANECER AUBE MORGENDÄMMERUNG ALBA AMANHECER MADRUGADA 明け方 夜明け 黎明 새벽",
    "DUSK": "DUSK СУМЕРКИ СУТІНКИ ATARDECER ANOCHECER CRÉPUSCULE CREPUSCULE DÄMMERUNG CREPUSCOLO ENTARDECER "
            "ANOITECER 夕 夕方 昏 黄昏 傍晚 해질녘 황혼",
    "SUNSET": "SUNSET ЗАКАТ TRAMONTO",
    "LATER": "LATER ПОЗЖЕ ПІЗНІШЕ SPÄTER",
    "CONTINUOUS": "CONTINUOUS ПРОДОЛЖЕНИЕ CONTINUO CONTINU CONTÍNUO",
}.items():
    for _w in _words.split():
        _TIMES[_w] = _canonical
# Multi-word times, matched as a whole tail.
_TIMES.update({"MÁS TARDE": "LATER", "PLUS TARD": "LATER", "PIÙ TARDI": "LATER", "MAIS TARDE": "LATER"})
_ITALIAN_TIMES = {"GIORNO", "NOTTE", "MATTINA", "SERA", "ALBA", "TRAMONTO", "CREPUSCOLO", "POMERIGGIO", "PIÙ TARDI"}

_SCENE_NUMBER_RE = re.compile(r"\s*#([A-Za-z0-9.\-]+)#\s*$")
_TRAILING_PAREN_RE = re.compile(r"\s*\(([^()]*)\)\s*$")
_CJK_INT = {"内", "內", "内景", "內景", "실내", "내부"}
_CJK_EXT = {"外", "外景", "실외", "외부"}
_JA_INT = ("店内", "室内", "屋内", "車内", "機内", "内部")
_JA_EXT = ("外観", "屋外", "表通り")
_CJK_BOTH = {"内/外景", "內/外景", "内外景", "內外景"}


def _time_word(text: str) -> str | None:
    return _TIMES.get(text.strip().upper())


def parse_heading(text: str) -> SceneHeading:
    """Split "INT. KITCHEN - NIGHT" (or "ИНТ. КУХНЯ – НОЧЬ", "○ 喫茶店（夜）") into its parts.

    ``int_ext`` is INT, EXT, INT/EXT or EST (or "" when the heading does not say); the time of
    day is in English when the word is known, else as written; ``raw`` keeps the text as written.
    """
    raw = text.strip()
    body = raw[1:] if raw.startswith(".") and not raw.startswith("..") else raw
    body = fold(_SCENE_NUMBER_RE.sub("", body).strip())
    start = heading_start(body)
    int_ext = ""
    if start is not None:
        int_ext = start.int_ext
        body = body[start.end:]
    body = body.lstrip(" .-–—:")
    time_of_day = ""
    # A trailing "(FLASHBACK - 1994)" qualifies the time; its own dashes must not split it.
    # In CJK headings the parenthesis holds the time itself: "喫茶店（夜）".
    qualifier = _TRAILING_PAREN_RE.search(body)
    if qualifier:
        body = body[: qualifier.start()]
        time_of_day = _time_word(qualifier.group(1)) or ""
    body = body.replace(" -- ", " - ")
    location = body.strip()
    for sep in (" - ", " – ", " — ", " / "):
        if sep in body:
            parts = [p.strip() for p in body.split(sep)]
            if _time_word(parts[-1]) is None and _time_word(parts[0]):
                time_of_day, location = parts[0], sep.join(parts[1:])  # "INT. JOUR - CUISINE"
            else:
                location, time_of_day = sep.join(parts[:-1]), parts[-1]
            break
    if not location.isascii():
        location, time_of_day, int_ext = _cjk_tokens(location, time_of_day, int_ext)
    canonical = _time_word(time_of_day)
    if int_ext == "EST" and time_of_day.upper() in _ITALIAN_TIMES:
        int_ext = "EXT"  # Italian EST. is esterno
    return SceneHeading(int_ext=int_ext, location=location.strip(" -–—").upper(),
                        time_of_day=canonical or time_of_day.upper(), raw=raw)


def _cjk_tokens(location: str, time_of_day: str, int_ext: str) -> tuple[str, str, str]:
    """"日 内 咖啡馆" / "内景 咖啡馆 夜": pick the time and interior/exterior tokens out of the words."""
    words = location.split()
    if not int_ext:
        if any(w in location for w in _JA_INT):
            int_ext = "INT"
        elif any(w in location for w in _JA_EXT):
            int_ext = "EXT"
    if len(words) < 2:
        return location, time_of_day, int_ext
    kept = []
    for word in words:
        if not time_of_day and _time_word(word) and not word.isascii():
            time_of_day = word
        elif word in _CJK_BOTH:
            int_ext = "INT/EXT"
        elif word in _CJK_INT and not int_ext:
            int_ext = "INT"
        elif word in _CJK_EXT and not int_ext:
            int_ext = "EXT"
        else:
            kept.append(word)
    return " ".join(kept), time_of_day, int_ext


# --------------------------------------------------------------------------- hints

_CAPS_LINE = re.compile(r"^[^\W\d_a-z][^a-z]{2,60}$")


def looks_like_heading(line: str) -> bool:
    """A short upper-case line that could be a heading a reader did not recognise (for hints)."""
    text = line.strip()
    return bool(_CAPS_LINE.match(text)) and not text.endswith(":") and text.upper() == text \
        and any(c.isalpha() for c in text) and (" " in text or "." in text)
