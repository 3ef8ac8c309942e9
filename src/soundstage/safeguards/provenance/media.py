"""Which media type a file is, and whether it is small enough to touch.

The type is sniffed from the bytes, not trusted from the name: a renamed file must not be
hashed with the wrong rules. Size limits stop a hostile or mistaken input before c2pa reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from soundstage.errors import ParseError, UnsafeInputError

__all__ = ["SizeLimits", "DEFAULT_LIMITS", "STILL_TYPES", "VIDEO_TYPES", "AUDIO_TYPES", "sniff_mime", "check_size",
           "SIDECAR_MAX_BYTES", "SIDECAR_MIME", "GENERIC_MIME", "SIDECAR_NATIVE_TYPES", "sniff_file_mime",
           "sidecar_binding_mime", "sidecar_candidates", "check_file_size"]

STILL_TYPES = frozenset({"image/jpeg", "image/png"})
VIDEO_TYPES = frozenset({"video/mp4", "video/quicktime"})
#: audio c2pa-rs 0.91 embeds a manifest into (RIFF chunk, ID3 frame, BMFF box): measured round trips
#: in tests/safeguards/provenance/test_audio_credentials.py
AUDIO_TYPES = frozenset({"audio/wav", "audio/mpeg", "audio/mp4"})

_BY_SUFFIX = {
    ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png",
    ".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/quicktime",
    ".wav": "audio/wav", ".mp3": "audio/mpeg", ".m4a": "audio/mp4",
}
#: MP4 brands of audio-only files (iTunes M4A/M4B/M4P, FFmpeg's "ipod" muxer writes "M4A ")
_AUDIO_BRANDS = (b"M4A ", b"M4B ", b"M4P ")


@dataclass(frozen=True)
class SizeLimits:
    """Largest files we sign or read; configurable per deployment."""

    still_bytes: int = 200 * 1024 * 1024
    video_bytes: int = 2 * 1024 * 1024 * 1024
    still_pixels: int = 100_000_000  # only checked when a thumbnail would decode the image
    file_bytes: int = 2 * 1024 * 1024 * 1024  # any other file bound by a sidecar (a .blend, an EXR frame)

    def for_mime(self, mime: str) -> int:
        return self.video_bytes if mime in VIDEO_TYPES or mime in AUDIO_TYPES else self.still_bytes


DEFAULT_LIMITS = SizeLimits()


def sniff_mime(head: bytes, name: str | None = None) -> str:
    """JPEG / PNG / MP4 / MOV / WAV / MP3 / M4A / PDF from magic bytes; the file name only breaks a tie
    (mp4 vs mov, an M4A written with a generic MP4 brand)."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _AUDIO_BRANDS or (name and Path(name).suffix.lower() == ".m4a"):
            return "audio/mp4"
        if brand == b"qt  ":
            return "video/quicktime"
        if name and Path(name).suffix.lower() == ".mov":
            return "video/quicktime"
        return "video/mp4"
    if len(head) >= 8 and head[4:8] in (b"moov", b"mdat", b"wide", b"free") and name \
            and Path(name).suffix.lower() in (".mov", ".mp4", ".m4v"):
        return _BY_SUFFIX[Path(name).suffix.lower()]
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head.startswith(b"ID3") or (len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE6 in (0xE2, 0xE4, 0xE6)):
        return "audio/mpeg"  # an ID3v2 tag, or an MPEG-1/2 layer III/II frame sync (no ADTS AAC: layer bits 00)
    if head.startswith(b"%PDF-"):  # storyboards and reports (services/documents.py): c2pa-rs 0.91 embeds in PDF
        return "application/pdf"
    raise ParseError("not a JPEG, PNG, MP4, MOV, WAV, MP3, M4A or PDF file (unrecognised leading bytes)", source=name)


def check_size(size: int, mime: str, limits: SizeLimits, *, source: str | None = None) -> None:
    limit = limits.for_mime(mime)
    if size > limit:
        raise UnsafeInputError(f"{source + ': ' if source else ''}{size} bytes is over the {limit}-byte limit "
                               f"for {mime}", hint="raise SizeLimits if this file is genuine")
    if size == 0:
        raise ParseError("the file is empty", source=source)


# --------------------------------------------------------------------------- files bound by a sidecar

#: the largest manifest store we read from a `.c2pa` sidecar (ours are a few KB; ingredients add theirs)
SIDECAR_MAX_BYTES = 256 * 1024 * 1024
SIDECAR_MIME = "application/c2pa"
GENERIC_MIME = "application/octet-stream"
#: formats c2pa-rs 0.91 hashes with its own rules when it signs a sidecar (``set_no_embed``): the
#: untouched file plus its sidecar read back Valid (measured: data hash over the whole file, or the
#: BMFF hash for MP4/MOV). PDF is not among them: in no-embed mode c2pa-rs 0.91 hashes a rewritten
#: PDF, so the original file then reads ``assertion.dataHash.mismatch``; it is bound as raw bytes.
SIDECAR_NATIVE_TYPES = frozenset({"image/jpeg", "image/png", "image/tiff", "image/gif", "image/webp",
                                  "audio/wav", "video/mp4", "video/quicktime"})

_MAGIC = (
    (b"II*\x00", "image/tiff"), (b"MM\x00*", "image/tiff"), (b"GIF87a", "image/gif"), (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"), (b"\x76\x2f\x31\x01", "image/x-exr"), (b"SDPX", "image/x-dpx"),
    (b"XPDS", "image/x-dpx"), (b"glTF", "model/gltf-binary"), (b"BLENDER", "application/x-blender"),
)
_OTHER_SUFFIXES = {".gltf": "model/gltf+json", ".json": "application/json", ".otio": "application/json",
                   ".edl": "text/plain", ".txt": "text/plain", ".sha256": "text/plain", ".csv": "text/csv"}


def sniff_file_mime(head: bytes, name: str | None = None) -> str:
    """The media type of any file, for a sidecar's ``dc:format``: the embeddable kinds as `sniff_mime`
    says, a few production formats by their magic bytes, else by suffix, else octet-stream."""
    try:
        return sniff_mime(head, name)
    except ParseError:
        pass
    if head[:4] == b"RIFF" and head[8:12] in (b"WEBP", b"WAVE"):
        return "image/webp" if head[8:12] == b"WEBP" else "audio/wav"
    for magic, mime in _MAGIC:
        if head.startswith(magic):
            return mime
    return _OTHER_SUFFIXES.get(Path(name).suffix.lower(), GENERIC_MIME) if name else GENERIC_MIME


def sidecar_binding_mime(mime: str) -> str:
    """The format a sidecar's hard binding is made and checked with: the file's own type when c2pa-rs
    hashes that type correctly without embedding, else raw bytes (a data hash over the whole file)."""
    return mime if mime in SIDECAR_NATIVE_TYPES else GENERIC_MIME


def sidecar_candidates(path: Path) -> tuple[Path, ...]:
    """Where the sidecar of `path` is looked for: ``X.png.c2pa`` (what soundstage exports), then
    ``X.c2pa`` (the c2pa-rs convention: the file's name with its extension replaced)."""
    path = Path(path)
    first = path.with_name(path.name + ".c2pa")
    second = path.with_suffix(".c2pa") if path.suffix else first
    return (first,) if second == first else (first, second)


def check_file_size(size: int, limits: SizeLimits, *, source: str | None = None) -> None:
    """`check_size` for a file bound by a sidecar, whatever its type."""
    if size > limits.file_bytes:
        raise UnsafeInputError(f"{source + ': ' if source else ''}{size} bytes is over the {limits.file_bytes}-byte "
                               "limit for a file bound by a sidecar", hint="raise SizeLimits if this file is genuine")
    if size == 0:
        raise ParseError("the file is empty", source=source)
