"""Read `.c2pa` sidecars: with the file they are bound to, alone, or with the frames of a sequence.

What the three kinds of sidecar soundstage writes are bound to (how they are made: signing.py):

- **a file's sidecar** (`sign_sidecar`, since issue 13): the hard binding covers the file's own bytes,
  so any C2PA reader given the file and its sidecar validates it, and so does `read_with_sidecar`.
- **a sequence's sidecar** (`sign_sequence`, ``FrameIndex.2``): a data hash over the frame list, one
  ``<sha256>  <name>`` line per frame in order (the `sha256sum` format), written beside the sidecar
  as ``<name>.sha256``; the same list is a signed ``io.soundstage.frame-index`` assertion, so the
  frame that changed, went missing or appeared can be named (DR008 says why this is not
  ``c2pa.hash.collection.data``).
- **a sequence signed in parts** (``FrameIndex.2`` with a ``part`` record; `sign_sequence` past
  what one manifest holds, DR008 amendment): ``<name>.part0001.c2pa`` with ``<name>.part0001.sha256``
  and so on, each a sequence sidecar as above over a contiguous run of the frames, each naming its
  index, the number of parts and the SHA-256 of the whole sequence's frame list, so a part that is
  missing, from another signing or out of place is named (`verify_sequence` given every part).
- **a legacy sidecar** (``FrameIndex.1``, written before issue 13 for sequences *and* for single
  files): a data hash over a canonical JSON index that was never written to disk. It is rebuilt
  here from the frames, so sidecars already in users' stores still verify.

A sidecar read alone (`read_sidecar`) has its signature and every assertion hash checked; the
binding to the asset cannot be, and the reading says so instead of calling the sidecar tampered.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import io
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from soundstage.errors import InputError, NotFoundError, ParseError, SpecError, UnsafeInputError
from soundstage.files import sha256_file
from soundstage.safeguards.provenance.media import (
    DEFAULT_LIMITS, SIDECAR_MAX_BYTES, SIDECAR_MIME, SizeLimits, check_file_size, sidecar_binding_mime,
    sniff_file_mime,
)
from soundstage.safeguards.provenance.reading import (
    Credentials, CredentialState, credentials_from_store, trust_context_settings,
)

__all__ = [
    "FRAME_INDEX_ASSERTION", "FRAME_INDEX_V1", "FRAME_INDEX_V2", "FRAME_LIST_MIME", "BINDING_MISMATCH_CODES",
    "FrameEntry", "FrameIndex", "SequencePart", "PartVerification", "SequenceVerification", "SidecarReading",
    "MANIFEST_JSON_LIMIT", "MAX_SEQUENCE_FRAMES", "MAX_SEQUENCE_PARTS", "MAX_PART_FRAMES", "DEFAULT_PART_FRAMES",
    "frame_entries", "frame_list_document", "legacy_index_document", "frame_index_document",
    "part_sidecar", "sequence_parts",
    "read_sidecar_bytes", "read_with_sidecar", "read_sidecar", "verify_sequence",
]

FRAME_INDEX_ASSERTION = "io.soundstage.frame-index"
FRAME_INDEX_V1 = "FrameIndex.1"  # before issue 13: binding over a JSON index never written to disk
FRAME_INDEX_V2 = "FrameIndex.2"  # binding over the sha256sum-format frame list written beside the sidecar
FRAME_LIST_MIME = "text/plain"
LEGACY_INDEX_MIME = "application/json"  # c2pa-rs 0.91 data-hashes an unembedded document byte for byte
#: what a reader reports when the bytes it hashed are not the ones the hard binding covers
BINDING_MISMATCH_CODES = frozenset({"assertion.dataHash.mismatch", "assertion.bmffHash.mismatch",
                                    "assertion.boxesHash.mismatch"})
#: a failure among these means the signed frame list itself cannot be relied on
_INDEX_BROKEN = frozenset({"claimSignature.mismatch", "assertion.hashedURI.mismatch", "claimSignature.missing"})
_UNTRUSTED = "signingCredential.untrusted"

#: the longest manifest definition c2pa-python 0.38.1 (c2pa-rs 0.91.3) signs: past it the builder
#: refuses with "StringTooLong: manifest_json". Measured: 1,048,576 bytes of JSON sign, 1,048,577 do
#: not; a sequence sidecar costs ~118 bytes a frame (plate.1001.exr), so one manifest holds 8,878
#: such frames and fails at 8,879 - fewer with longer names
MANIFEST_JSON_LIMIT = 1024 * 1024
#: most frames a sequence may have, signed or verified (a stray '*' in a big folder is refused)
MAX_SEQUENCE_FRAMES = 200_000
#: most parts a sequence is signed in, and read when it is verified
MAX_SEQUENCE_PARTS = 1_000
#: the part size a signer may choose is 1..MAX_PART_FRAMES frames (a part is cut earlier when its
#: manifest would pass MANIFEST_JSON_LIMIT)
MAX_PART_FRAMES = 8_192
#: frames a part holds when a sequence is too long for one sidecar and no part size was chosen:
#: 2 min 50 s at 24 fps, ~480 KB of sidecar
DEFAULT_PART_FRAMES = 4_096
_PART_NAME = re.compile(r"\.part(\d{4,})\Z")


@dataclass(frozen=True)
class FrameEntry:
    name: str
    sha256: str
    size: int | None = None


@dataclass(frozen=True)
class SequencePart:
    """Which part of a sequence signed in parts a sidecar is (signed, in its frame index)."""

    index: int  # 1..count
    count: int
    frames_total: int  # frames in the whole sequence
    sequence_sha256: str  # SHA-256 of the whole sequence's frame list (every part's, in part order)

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "count": self.count, "frames_total": self.frames_total,
                "sequence_sha256": self.sequence_sha256}


@dataclass(frozen=True)
class FrameIndex:
    """The frame list a sequence sidecar signed (``io.soundstage.frame-index``)."""

    schema: str
    frames: tuple[FrameEntry, ...]
    part: SequencePart | None = None  # set on a part of a sequence signed in parts

    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.frames)


@dataclass(frozen=True)
class PartVerification:
    """One part of a sequence signed in parts, checked against the frames it lists."""

    sidecar: str  # its file name
    index: int
    credentials: Credentials
    frames_signed: int
    first: str | None
    last: str | None
    changed: tuple[str, ...]
    missing: tuple[str, ...]
    index_authentic: bool


@dataclass(frozen=True)
class SequenceVerification:
    credentials: Credentials  # of a sequence in parts: the weakest part's (Invalid before Valid before Trusted)
    changed: tuple[str, ...]
    missing: tuple[str, ...]
    unexpected: tuple[str, ...]  # in parts: frames found that no part read covers
    index_authentic: bool  # False when the signature itself failed: the frame list cannot be relied on
    schema: str = FRAME_INDEX_V2
    frames_signed: int = 0
    parts: tuple[PartVerification, ...] = ()  # empty: one sidecar signs the whole sequence
    parts_expected: int = 0  # how many parts the sequence was signed in (0: not in parts)
    parts_missing: tuple[int, ...] = ()  # part numbers no sidecar given was
    parts_problem: str | None = None  # parts that do not make up one signed sequence, and why

    @property
    def ok(self) -> bool:
        return (self.credentials.state in (CredentialState.TRUSTED, CredentialState.VALID)
                and all(p.credentials.state in (CredentialState.TRUSTED, CredentialState.VALID) for p in self.parts)
                and not (self.changed or self.missing or self.unexpected or self.parts_missing or self.parts_problem))


@dataclass(frozen=True)
class SidecarReading:
    """A sidecar read without its asset: signature and assertion hashes checked, binding not."""

    credentials: Credentials  # the binding mismatch a reader reports without the asset is left out
    binding: str | None  # the hard-binding assertion's label (c2pa.hash.data, c2pa.hash.bmff.v3, ...)
    bound_sha256: str | None  # SHA-256 of the bytes a whole-file data hash covers; None for BMFF etc.
    unchecked: tuple[str, ...]  # the codes left out: what checking without the asset says
    frame_index: FrameIndex | None = None


# --------------------------------------------------------------------------- frame lists

def frame_entries(frames: Sequence[Path], *, limits: SizeLimits = DEFAULT_LIMITS) -> list[FrameEntry]:
    """Every frame's base name, SHA-256 and size, in the order given; names must be unique."""
    entries: list[FrameEntry] = []
    seen: set[str] = set()
    for frame in frames:
        frame = Path(frame)
        if not frame.is_file():
            raise NotFoundError(f"frame {frame.name} does not exist")
        if frame.name in seen:
            raise SpecError(f"two frames are named {frame.name}; frame names must be unique", field="frames")
        if "\n" in frame.name or "\\" in frame.name:
            raise SpecError(f"frame name {frame.name!r} has a newline or backslash", field="frames")
        seen.add(frame.name)
        size = frame.stat().st_size
        check_file_size(size, limits, source=frame.name)
        entries.append(FrameEntry(frame.name, sha256_file(frame), size))
    return entries


def frames_as_found(frames: Sequence[Path], *, limits: SizeLimits = DEFAULT_LIMITS) -> list[FrameEntry]:
    """The frames a verification finds, as they are: `frame_entries` without refusing any of them. A
    frame that is no longer a regular file is left out (the signed list then says it is missing);
    one that is empty, over the size limit or unreadable is an entry whose digest no signed frame
    has (it changed); any name is kept as it is (one the signer would refuse is then unexpected).
    What a verification is given is evidence, not input to be corrected."""
    entries: list[FrameEntry] = []
    for frame in frames:
        frame = Path(frame)
        try:
            if not frame.is_file():
                continue
            size = frame.stat().st_size
            digest = sha256_file(frame) if 0 < size <= limits.file_bytes else f"unread:{size}-bytes"
        except OSError as exc:
            size, digest = 0, f"unread:{exc.errno}"
        entries.append(FrameEntry(frame.name, digest, size))
    return entries


def frame_list_document(entries: Sequence[FrameEntry]) -> bytes:
    """``FrameIndex.2``: the bytes the sequence binding covers, ``sha256sum -c`` checks the frames with."""
    return "".join(f"{e.sha256}  {e.name}\n" for e in entries).encode("utf-8")


def legacy_index_document(entries: Sequence[FrameEntry]) -> bytes:
    """``FrameIndex.1``: the canonical JSON the sidecars written before issue 13 are bound to."""
    document = {"schema": FRAME_INDEX_V1, "frames": [{"name": e.name, "sha256": e.sha256} for e in entries]}
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8")


def frame_index_document(frames: Sequence[Path]) -> tuple[bytes, list[dict[str, str]]]:
    """Kept for callers of the FrameIndex.1 API: the legacy document and its entries."""
    entries = frame_entries(frames)
    return legacy_index_document(entries), [{"name": e.name, "sha256": e.sha256} for e in entries]


def index_assertion(entries: Sequence[FrameEntry], part: SequencePart | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"schema": FRAME_INDEX_V2, "alg": "sha256", "document": "sha256sum",
                            "frames": [entry_json(e) for e in entries]}
    if part is not None:
        data["part"] = part.to_dict()
    return data


def entry_json(entry: FrameEntry) -> dict[str, Any]:
    return {"name": entry.name, "sha256": entry.sha256, "size": entry.size}


def part_sidecar(sidecar: Path, index: int) -> Path:
    """Where part ``index`` of a sequence whose whole sidecar would be ``sidecar`` (``X.c2pa``) is
    written: ``X.part0001.c2pa`` (its frame list ``X.part0001.sha256`` beside it)."""
    sidecar = Path(sidecar)
    return sidecar.with_name(f"{sidecar.stem}.part{index:04d}{sidecar.suffix or '.c2pa'}")


def sequence_parts(sidecar: Path) -> list[Path]:
    """The parts found beside ``sidecar`` - the whole sequence's sidecar name (``X.c2pa``) or any
    part's (``X.part0002.c2pa``) - by name, in part order; at most MAX_SEQUENCE_PARTS are read."""
    sidecar = Path(sidecar)
    folder, stem = sidecar.parent, sidecar.stem
    match = _PART_NAME.search(stem)
    if match:
        stem = stem[:match.start()]
    if not folder.is_dir():
        return []
    pattern = re.compile(re.escape(stem) + r"\.part(\d{4,})\.c2pa\Z")
    found: list[tuple[int, str]] = []
    with os.scandir(folder) as entries:
        for entry in entries:
            named = pattern.match(entry.name)
            if not named or not entry.is_file():
                continue
            if len(found) >= MAX_SEQUENCE_PARTS:
                raise UnsafeInputError(f"more than {MAX_SEQUENCE_PARTS} part sidecars named {stem}.partNNNN.c2pa",
                                       hint="a sequence is signed in at most that many parts")
            found.append((int(named.group(1)), entry.name))
    return [folder / name for _, name in sorted(found)]


def _document_for(schema: str, entries: Sequence[FrameEntry]) -> tuple[bytes, str]:
    if schema == FRAME_INDEX_V1:
        return legacy_index_document(entries), LEGACY_INDEX_MIME
    return frame_list_document(entries), FRAME_LIST_MIME


# --------------------------------------------------------------------------- reading

def read_sidecar_bytes(sidecar: Path) -> bytes:
    """A sidecar's bytes, refused before reading when it is not a file or too large to be one."""
    sidecar = Path(sidecar)
    if not sidecar.is_file():
        raise NotFoundError(f"sidecar {sidecar.name} does not exist")
    size = sidecar.stat().st_size
    if size > SIDECAR_MAX_BYTES:
        raise UnsafeInputError(f"{sidecar.name}: {size} bytes is larger than any sidecar ({SIDECAR_MAX_BYTES} "
                               "bytes); not read")
    if size == 0:
        raise ParseError("the sidecar is empty", source=sidecar.name)
    return sidecar.read_bytes()


def read_with_sidecar(path: Path, sidecar: Path, *, trust_anchors: Sequence[bytes] | None = None,
                      trust_list: Path | None = None, limits: SizeLimits = DEFAULT_LIMITS) -> Credentials:
    """Validate a file against its sidecar, as a C2PA reader given both does (any file type)."""
    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"{path.name} does not exist")
    manifest_bytes = read_sidecar_bytes(sidecar)
    index = _frame_index(_peek(manifest_bytes, Path(sidecar).name))
    size = path.stat().st_size
    check_file_size(size, limits, source=path.name)
    settings = trust_context_settings(trust_anchors, trust_list)
    if index is not None and index.schema == FRAME_INDEX_V1 and len(index.frames) == 1:
        # a file's sidecar from before issue 13: a one-frame index under the name it was signed with
        entry = FrameEntry(index.frames[0].name, sha256_file(path))
        document, mime = _document_for(FRAME_INDEX_V1, [entry])
        return credentials_from_store(_read_store(mime, io.BytesIO(document), manifest_bytes, settings,
                                                  Path(sidecar).name))
    if index is not None and (path.name in index.names() or index.schema == FRAME_INDEX_V1):
        raise InputError(f"{Path(sidecar).name} signs a sequence of {len(index.frames)} frames, not {path.name} "
                         "alone", hint="verify the frames together: soundstage verify 'NAME.%04d.EXT' "
                                       f"--sidecar {Path(sidecar).name}")
    with open(path, "rb") as handle:
        mime = sidecar_binding_mime(sniff_file_mime(handle.read(16), path.name))
        handle.seek(0)
        return credentials_from_store(_read_store(mime, handle, manifest_bytes, settings, path.name))


def read_sidecar(sidecar: Path | bytes, *, trust_anchors: Sequence[bytes] | None = None,
                 trust_list: Path | None = None, name: str | None = None) -> SidecarReading:
    """Read a sidecar without its asset: who signed what, whether the signature and every assertion
    hash hold, and what the hard binding is bound to (the SHA-256 of the file, for a data hash over
    a whole file). The binding itself is left unchecked, and said to be."""
    if isinstance(sidecar, (bytes, bytearray)):
        manifest_bytes, label = bytes(sidecar), name or "sidecar"
        if len(manifest_bytes) > SIDECAR_MAX_BYTES:
            raise UnsafeInputError(f"{label}: larger than any sidecar ({SIDECAR_MAX_BYTES} bytes); not read")
        if not manifest_bytes:
            raise ParseError("the sidecar is empty", source=label)
    else:
        manifest_bytes, label = read_sidecar_bytes(Path(sidecar)), name or Path(sidecar).name
    settings = trust_context_settings(trust_anchors, trust_list)
    store, detailed = _read_store(SIDECAR_MIME, io.BytesIO(manifest_bytes), None, settings, label, detailed=True)
    active = store.get("active_manifest") or ""
    assertions = ((detailed.get("manifests") or {}).get(active) or {}).get("assertion_store") or {}
    binding = next((key for key in assertions if str(key).startswith("c2pa.hash.")), None)
    adjusted, unchecked = _without_binding_failures(store)
    credentials = credentials_from_store(adjusted)
    return SidecarReading(credentials, binding, _bound_sha256(assertions.get(binding) if binding else None),
                          unchecked, _frame_index(store))


def verify_sequence(frames: Sequence[Path], sidecar: Path | Sequence[Path], *,
                    trust_anchors: Sequence[bytes] | None = None, trust_list: Path | None = None,
                    limits: SizeLimits = DEFAULT_LIMITS) -> SequenceVerification:
    """Check frames against their sequence sidecar; names the frames that changed, went missing or
    appeared. The binding is checked over the frame list rebuilt from the frames as they are now
    (in the signed order), so any difference makes it fail; the signed list says where.

    ``sidecar`` may be the parts of a sequence signed in parts (every part found: `sequence_parts`);
    each is checked over the frames it lists, and the verification also names the parts that are
    missing, frames no part covers, and parts that do not make up one signed sequence."""
    sidecars = [Path(sidecar)] if isinstance(sidecar, (str, os.PathLike)) else [Path(s) for s in sidecar]
    if not sidecars:
        raise InputError("no sidecar given for the frames")
    if len(sidecars) > MAX_SEQUENCE_PARTS:
        raise UnsafeInputError(f"{len(sidecars)} sidecars given; a sequence is signed in at most "
                               f"{MAX_SEQUENCE_PARTS} parts")
    settings = trust_context_settings(trust_anchors, trust_list)
    current = frames_as_found(frames, limits=limits)
    if len(sidecars) == 1:
        manifest_bytes = read_sidecar_bytes(sidecars[0])
        label = sidecars[0].name
        index = _sequence_index(manifest_bytes, label)
        if index.part is None:
            return _verify_whole(current, index, manifest_bytes, settings, label)
    return _verify_parts(current, sidecars, settings)


def _sequence_index(manifest_bytes: bytes, label: str) -> FrameIndex:
    index = _frame_index(_peek(manifest_bytes, label))
    if index is None:
        raise ParseError("the sidecar has no soundstage frame index: it is not a sequence's sidecar", source=label,
                         hint="a file's sidecar is verified with its file: soundstage verify FILE --sidecar SIDECAR")
    return index


def _verify_whole(current: list[FrameEntry], index: FrameIndex, manifest_bytes: bytes, settings: dict[str, Any],
                  label: str) -> SequenceVerification:
    """One sidecar over the whole sequence: a frame it does not list is part of the list checked, so
    it fails the binding too."""
    by_name = {e.name: e for e in current}
    signed = {e.name: e for e in index.frames}
    ordered = [by_name[n] for n in index.names() if n in by_name] + [e for e in current if e.name not in signed]
    document, mime = _document_for(index.schema, ordered)
    store = _read_store(mime, io.BytesIO(document), manifest_bytes, settings, label)
    credentials = credentials_from_store(store)
    changed = tuple(n for n in index.names() if n in by_name and by_name[n].sha256 != signed[n].sha256)
    missing = tuple(n for n in index.names() if n not in by_name)
    unexpected = tuple(e.name for e in current if e.name not in signed)
    authentic = not _INDEX_BROKEN.intersection(credentials.failure_codes)
    return SequenceVerification(credentials, changed, missing, unexpected, authentic, index.schema, len(index.frames))


_STATE_RANK = {CredentialState.INVALID: 0, CredentialState.ABSENT: 1, CredentialState.VALID: 2,
               CredentialState.TRUSTED: 3}


def _verify_parts(current: list[FrameEntry], sidecars: list[Path], settings: dict[str, Any]) -> SequenceVerification:
    """The parts of a sequence signed in parts, each over the frames it lists (as they are now, in
    its signed order), then together: every part there, from one signing, the whole list they
    make the one they were signed as, by one signer naming one record."""
    by_name = {e.name: e for e in current}
    parts: dict[int, PartVerification] = {}
    lists: dict[int, tuple[FrameEntry, ...]] = {}
    problems: list[str] = []
    signing: SequencePart | None = None
    for path in sidecars:
        manifest_bytes = read_sidecar_bytes(path)
        index = _sequence_index(manifest_bytes, path.name)
        part = index.part
        if part is None:
            raise InputError(f"{path.name} signs a whole sequence of {len(index.frames)} frames, not a part of one",
                             hint="verify the frames against it alone")
        if signing is None:
            signing = part
        elif (part.count, part.frames_total, part.sequence_sha256) != \
                (signing.count, signing.frames_total, signing.sequence_sha256):
            problems.append(f"{path.name} is part {part.index} of another signing (of {part.frames_total} frames "
                            f"in {part.count} parts, not {signing.frames_total} in {signing.count})")
            continue
        if part.index in parts:
            problems.append(f"{path.name} and {parts[part.index].sidecar} both say they are part {part.index}")
            continue
        signed = {e.name: e for e in index.frames}
        ordered = [by_name[n] for n in index.names() if n in by_name]
        document, mime = _document_for(index.schema, ordered)
        credentials = credentials_from_store(_read_store(mime, io.BytesIO(document), manifest_bytes, settings,
                                                         path.name))
        names = index.names()
        parts[part.index] = PartVerification(
            path.name, part.index, credentials, len(names), names[0] if names else None,
            names[-1] if names else None,
            changed=tuple(n for n in names if n in by_name and by_name[n].sha256 != signed[n].sha256),
            missing=tuple(n for n in names if n not in by_name),
            index_authentic=not _INDEX_BROKEN.intersection(credentials.failure_codes))
        lists[part.index] = index.frames
    if signing is None or not parts:
        raise ParseError("none of the part sidecars given belongs to one signed sequence",
                         hint="; ".join(problems)[:300] or None)
    order = sorted(parts)
    covered: set[str] = set()
    for number in order:
        for entry in lists[number]:
            if entry.name in covered:
                problems.append(f"frame {entry.name} is listed by more than one part")
                break
            covered.add(entry.name)
    missing_parts = tuple(n for n in range(1, signing.count + 1) if n not in parts)
    if not missing_parts and not problems:
        whole = [entry for number in order for entry in lists[number]]
        if len(whole) != signing.frames_total or \
                hashlib.sha256(frame_list_document(whole)).hexdigest() != signing.sequence_sha256:
            problems.append("the parts' frame lists are not the sequence they were signed as (a part was replaced "
                            "by one from another signing)")
    readings = [parts[n].credentials for n in order]
    if len({(c.signer_issuer, c.signer_common_name) for c in readings}) > 1:
        problems.append("the parts were signed by different signers")
    if len({json.dumps(c.soundstage, sort_keys=True) for c in readings}) > 1:
        problems.append("the parts name different soundstage records")
    weakest = min(readings, key=lambda c: _STATE_RANK.get(c.state, 0))
    verified = tuple(parts[n] for n in order)
    return SequenceVerification(
        weakest, changed=tuple(n for p in verified for n in p.changed),
        missing=tuple(n for p in verified for n in p.missing),
        unexpected=tuple(e.name for e in current if e.name not in covered),
        index_authentic=all(p.index_authentic for p in verified), schema=FRAME_INDEX_V2,
        frames_signed=sum(p.frames_signed for p in verified), parts=verified, parts_expected=signing.count,
        parts_missing=missing_parts, parts_problem="; ".join(dict.fromkeys(problems)) or None)


# --------------------------------------------------------------------------- helpers

def _frame_index(store: dict[str, Any]) -> FrameIndex | None:
    """The active manifest's frame index, as signed (FrameIndex.1 or .2), or None."""
    manifest = (store.get("manifests") or {}).get(store.get("active_manifest") or "") or {}
    for item in manifest.get("assertions") or []:
        if str(item.get("label", "")).split("__")[0] != FRAME_INDEX_ASSERTION:
            continue
        data = item.get("data")
        if not isinstance(data, dict) or data.get("schema") not in (FRAME_INDEX_V1, FRAME_INDEX_V2) \
                or not isinstance(data.get("frames"), list):
            raise ParseError("the sidecar's frame index is malformed")
        frames = []
        for entry in data["frames"]:
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) \
                    or not isinstance(entry.get("sha256"), str):
                raise ParseError("the sidecar's frame index has a malformed entry")
            size = entry.get("size")
            frames.append(FrameEntry(entry["name"], entry["sha256"], size if isinstance(size, int) else None))
        return FrameIndex(str(data["schema"]), tuple(frames), _sequence_part(data.get("part")))
    return None


def _sequence_part(data: Any) -> SequencePart | None:
    """A frame index's part record, checked for shape and bounds (it is read before it is verified)."""
    if data is None:
        return None
    fields = ("index", "count", "frames_total")
    if not isinstance(data, dict) or any(type(data.get(f)) is not int for f in fields) \
            or not isinstance(data.get("sequence_sha256"), str) \
            or not re.fullmatch(r"[0-9a-f]{64}", data["sequence_sha256"]):
        raise ParseError("the sidecar's part record is malformed")
    if not 1 <= data["index"] <= data["count"] <= MAX_SEQUENCE_PARTS \
            or not 1 <= data["frames_total"] <= MAX_SEQUENCE_FRAMES:
        raise ParseError(f"the sidecar says it is part {data['index']} of {data['count']} of {data['frames_total']} "
                         f"frames: out of bounds (at most {MAX_SEQUENCE_PARTS} parts, {MAX_SEQUENCE_FRAMES} frames)")
    return SequencePart(data["index"], data["count"], data["frames_total"], data["sequence_sha256"])


def _peek(manifest_bytes: bytes, label: str) -> dict[str, Any]:
    """Parse a manifest store without validating it: only to learn which kind of sidecar it is."""
    return _read_store(SIDECAR_MIME, io.BytesIO(manifest_bytes), None, {"verify": {"verify_after_reading": False}},
                       label)


def _read_store(mime: str, stream: Any, manifest_bytes: bytes | None, settings: dict[str, Any], label: str,
                *, detailed: bool = False) -> Any:
    import c2pa

    try:
        context = c2pa.Context.from_dict(settings) if settings else None
    except c2pa.C2paError as exc:
        raise ParseError(f"trust anchors were refused: {_message(exc)}") from exc
    kwargs = {"context": context} if context is not None else {}
    try:
        with c2pa.Reader(mime, stream, manifest_bytes, **kwargs) as reader:
            store = json.loads(reader.json())
            return (store, json.loads(reader.detailed_json())) if detailed else store
    except c2pa.C2paError.ManifestNotFound as exc:
        raise ParseError("no manifest in the sidecar", source=label) from exc
    except c2pa.C2paError as exc:
        raise ParseError(f"not a readable C2PA sidecar: {_message(exc)}", source=label) from exc
    except (ValueError, OSError) as exc:
        raise ParseError(f"not a readable C2PA sidecar: {exc}", source=label) from exc


def _without_binding_failures(store: dict[str, Any]) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The store as a reader would judge it if the binding were not part of the question: the
    binding mismatches a reader reports when it hashes the sidecar itself are taken out, and the
    state follows from what is left (Trusted needs a trusted signer, like c2pa-rs)."""
    active = str(store.get("active_manifest") or "")

    def binding_failure(item: Any) -> bool:
        return isinstance(item, dict) and item.get("code") in BINDING_MISMATCH_CODES \
            and (not item.get("url") or active in str(item.get("url")))

    adjusted = copy.deepcopy(store)
    removed = [str(i["code"]) for i in store.get("validation_status") or [] if binding_failure(i)]
    adjusted["validation_status"] = [i for i in store.get("validation_status") or [] if not binding_failure(i)]
    results = (adjusted.get("validation_results") or {}).get("activeManifest")
    if isinstance(results, dict):
        removed += [str(i["code"]) for i in results.get("failure") or [] if binding_failure(i)]
        results["failure"] = [i for i in results.get("failure") or [] if not binding_failure(i)]
        left = {str(i.get("code")) for i in results["failure"] if isinstance(i, dict)}
        success = {str(i.get("code")) for i in results.get("success") or [] if isinstance(i, dict)}
        if removed and not (left - {_UNTRUSTED}) and "claimSignature.validated" in success:
            trusted = "signingCredential.trusted" in success and _UNTRUSTED not in left
            adjusted["validation_state"] = (CredentialState.TRUSTED if trusted else CredentialState.VALID).value
    return adjusted, tuple(dict.fromkeys(removed))


def _bound_sha256(hash_assertion: Any) -> str | None:
    """The SHA-256 a data hash binds, when it covers a whole file (no exclusion of any length: c2pa-rs
    writes one of length 0 for TIFF)."""
    if not isinstance(hash_assertion, dict):
        return None
    exclusions = hash_assertion.get("exclusions") or []
    if not isinstance(exclusions, list) or any(not isinstance(x, dict) or x.get("length") != 0 for x in exclusions):
        return None
    if hash_assertion.get("alg", "sha256") != "sha256" or not isinstance(hash_assertion.get("hash"), str):
        return None
    try:
        digest = base64.b64decode(hash_assertion["hash"], validate=True)
    except ValueError:
        return None
    return digest.hex() if len(digest) == 32 else None


def _message(exc: Exception) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
