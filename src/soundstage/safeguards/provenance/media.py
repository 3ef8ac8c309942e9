"""Which media type a file is, and whether it is small enough to touch.

The type is sniffed from the bytes, not trusted from the name: a renamed file must not be
hashed with the wrong rules. Size limits stop a hostile or mistaken input before c2pa reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from soundstage.errors import ParseError, UnsafeInputError

__all__ = ["SizeLimits", "DEFAULT_LIMITS", "STILL_TYPES", "VIDEO_TYPES", "sniff_mime", "check_size"]

STILL_TYPES = frozenset({"image/jpeg", "image/png"})
VIDEO_TYPES = frozenset({"video/mp4", "video/quicktime"})

_BY_SUFFIX = {
    ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png",
    ".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/quicktime",
}


@dataclass(frozen=True)
class SizeLimits:
    """Largest files we sign or read; configurable per deployment."""

    still_bytes: int = 200 * 1024 * 1024
    video_bytes: int = 2 * 1024 * 1024 * 1024
    still_pixels: int = 100_000_000  # only checked when a thumbnail would decode the image

    def for_mime(self, mime: str) -> int:
        return self.video_bytes if mime in VIDEO_TYPES else self.still_bytes


DEFAULT_LIMITS = SizeLimits()


def sniff_mime(head: bytes, name: str | None = None) -> str:
    """JPEG / PNG / MP4 / MOV from magic bytes; the file name only breaks a tie (mp4 vs mov)."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand == b"qt  ":
            return "video/quicktime"
        if name and Path(name).suffix.lower() == ".mov":
            return "video/quicktime"
        return "video/mp4"
    if len(head) >= 8 and head[4:8] in (b"moov", b"mdat", b"wide", b"free") and name \
            and Path(name).suffix.lower() in (".mov", ".mp4", ".m4v"):
        return _BY_SUFFIX[Path(name).suffix.lower()]
    raise ParseError("not a JPEG, PNG, MP4 or MOV file (unrecognised leading bytes)", source=name)


def check_size(size: int, mime: str, limits: SizeLimits, *, source: str | None = None) -> None:
    limit = limits.for_mime(mime)
    if size > limit:
        raise UnsafeInputError(f"{source + ': ' if source else ''}{size} bytes is over the {limit}-byte limit "
                               f"for {mime}", hint="raise SizeLimits if this file is genuine")
    if size == 0:
        raise ParseError("the file is empty", source=source)
