"""Open a screenplay file of either format, with one-line errors for anything unreadable."""

from __future__ import annotations

from pathlib import Path

from soundstage.domain.screenplay import ElementKind, Screenplay
from soundstage.errors import InputError, NotFoundError, ParseError
from soundstage.script.fdx import parse_fdx
from soundstage.script.fountain import parse_fountain

__all__ = ["load_screenplay", "parse_screenplay_bytes", "MAX_SCREENPLAY_BYTES"]

MAX_SCREENPLAY_BYTES = 50 * 1024 * 1024  # a feature script is ~200 KB; 50 MB is not a screenplay
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


def parse_screenplay_bytes(data: bytes, name: str = "", suffix: str = "") -> Screenplay:
    """Parse screenplay bytes, choosing FDX or Fountain by suffix, then by content."""
    if len(data) > MAX_SCREENPLAY_BYTES:
        raise InputError(f"{name or 'screenplay'}: file is {len(data) / 1e6:.1f} MB, larger than the "
                         f"{MAX_SCREENPLAY_BYTES // (1024 * 1024)} MB limit for a screenplay")
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
    if size > MAX_SCREENPLAY_BYTES:
        raise InputError(f"{path.name}: file is {size / 1e6:.1f} MB, larger than the "
                         f"{MAX_SCREENPLAY_BYTES // (1024 * 1024)} MB limit for a screenplay")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read screenplay {path}: {exc.strerror or exc}") from None
    return parse_screenplay_bytes(data, path.name, path.suffix)


def has_scenes(sp: Screenplay) -> bool:
    """True when the script has at least one scene heading (a breakdown needs one)."""
    return any(el.kind is ElementKind.SCENE_HEADING for el in sp.elements)
