"""Open a screenplay file of either format, with one-line errors for anything unreadable."""

from __future__ import annotations

import math
from pathlib import Path

from soundstage.domain.screenplay import ElementKind, Screenplay
from soundstage.errors import InputError, NotFoundError, ParseError, UnsafeInputError
from soundstage.script.fdx import parse_fdx
from soundstage.script.fountain import parse_fountain
from soundstage.script.headings import NO_HEADING_HINT, looks_like_heading

__all__ = ["load_screenplay", "parse_screenplay_bytes", "refuse_oversized", "require_scenes", "MAX_SCREENPLAY_BYTES"]

# A feature screenplay is 150-300 KB and a whole TV season in one file a few MB; 16 MB leaves room
# for that (and for bench/script_breakdown.py's 10 MB script) while bounding the work one file can
# cause: import and revision time grow linearly with size, and 10 MB already takes ~7 s to import
# and ~11 s to import as a revision on our 2-core box (docs/benchmarks.md).
MAX_SCREENPLAY_BYTES = 16 * 1024 * 1024
_FOUNTAIN_SUFFIXES = {".fountain", ".spmd", ".txt", ".ftn"}


def _looks_like_xml(data: bytes) -> bool:
    head = data.lstrip(b"\xef\xbb\xbf").lstrip()[:200]
    return head.startswith(b"<?xml") or head.startswith(b"<FinalDraft")


def _decode(data: bytes, name: str) -> str:
    """Decode UTF-8 text, refusing binary files by naming the first offending byte."""
    nul = data.find(b"\x00")
    if nul >= 0:
        raise ParseError(f"binary data (NUL byte at offset {nul}); not a screenplay text file", source=name)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError(f"not UTF-8 text (invalid byte 0x{data[exc.start]:02x} at offset {exc.start})",
                         source=name, hint="save the script as UTF-8") from None


def _size(size: int, up: bool = False) -> str:
    """"16 MB", "16.1 MB", "200 KB"; ``up`` rounds up, so an oversized file never shows as the limit."""
    unit, scale = ("MB", 1024 * 1024) if size >= 100 * 1024 else ("KB", 1024)
    tenths = size * 10 / scale
    return f"{(math.ceil(tenths) if up else round(tenths)) / 10:.1f}".removesuffix(".0") + " " + unit


def refuse_oversized(name: str, size: int, limit: int | None = None) -> None:
    """Raise the one-line size error when ``size`` bytes is over ``limit`` (default: MAX_SCREENPLAY_BYTES)."""
    limit = MAX_SCREENPLAY_BYTES if limit is None else limit
    if size > limit:
        raise UnsafeInputError(f"{name}: file is {_size(size, up=True)}, larger than the {_size(limit)} limit "
                               "for a screenplay",
                               hint="a feature script is about 0.2 MB; check the file, or split it into episodes")


def parse_screenplay_bytes(data: bytes, name: str = "", suffix: str = "") -> Screenplay:
    """Parse screenplay bytes, choosing FDX or Fountain by suffix, then by content."""
    refuse_oversized(name or "screenplay", len(data))
    suffix = suffix.lower()
    if suffix == ".fdx" or (suffix not in _FOUNTAIN_SUFFIXES and _looks_like_xml(data)):
        if not data.strip():
            raise ParseError("no screenplay content (the file is empty)", source=name or None)
        sp = parse_fdx(data, name)
    else:
        text = _decode(data, name or "screenplay")
        if not text.strip():
            raise ParseError("no screenplay content (the file is empty or only whitespace)", source=name or None)
        sp = parse_fountain(text, name)
    if not sp.elements and not sp.title_page:
        raise ParseError("no screenplay content", source=name or None)
    return sp


def load_screenplay(path: Path) -> Screenplay:
    """Read a .fountain/.spmd/.txt or .fdx file into a Screenplay."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise NotFoundError(f"screenplay not found: {path}") from None
    except OSError as exc:
        raise InputError(f"cannot read screenplay {path}: {exc.strerror or exc}") from None
    if path.is_dir():
        raise InputError(f"{path} is a directory, not a screenplay file")
    refuse_oversized(path.name, size)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read screenplay {path}: {exc.strerror or exc}") from None
    return parse_screenplay_bytes(data, path.name, path.suffix)


def has_scenes(sp: Screenplay) -> bool:
    """True when the script has at least one scene heading (a breakdown needs one)."""
    return any(el.kind is ElementKind.SCENE_HEADING for el in sp.elements)


def require_scenes(sp: Screenplay, source: str | None = None) -> None:
    """Refuse a script with no scene heading, naming the first line that looks like one.

    The hint says how to force a heading in any language: start the line with '.'.
    """
    if has_scenes(sp):
        return
    candidate = next((el for el in sp.elements
                      if el.kind in (ElementKind.ACTION, ElementKind.DIALOGUE, ElementKind.TRANSITION)
                      and looks_like_heading((el.character or el.text).split("\n", 1)[0])), None)
    where = ""
    if candidate is not None:
        first = (candidate.character or candidate.text).split("\n", 1)[0].strip()
        where = f"; line {candidate.line} ({first[:40]!r}) may be one: write it as '.{first[:40]}'"
    raise ParseError("no scene headings found; nothing to break down", source=source,
                     hint=NO_HEADING_HINT + where)
