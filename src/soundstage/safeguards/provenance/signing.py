"""Embed Content Credentials into stills, video and audio; bind any other file, and frame sequences, by a sidecar.

Output is always written to a temporary file beside the destination and moved into place,
so a crash never leaves a half-signed file and signing in place (src == dst) is safe.

**A file's sidecar** (`sign_sidecar`: a depth pass, a .blend, a glTF, an EXR, a PDF when asked).
The `.c2pa` holds a manifest store made in c2pa's no-embed mode (C2PA 2.2 §11.4, external
manifests) whose hard binding covers the file's own bytes, so a standard reader given the file
and its sidecar reports Valid (Trusted with our CA). Measured with c2pa-python 0.38.1
(c2pa-rs 0.91.3), reading the untouched file with its sidecar:

- JPEG, PNG (8- and 16-bit), TIFF, GIF, WebP, WAV: signed with the file's own MIME; c2pa-rs makes a
  ``c2pa.hash.data`` over the whole file (no exclusions: the file is not modified);
- MP4, MOV: signed with their MIME; c2pa-rs makes a ``c2pa.hash.bmff.v3``;
- everything it has no handler for (EXR, DPX, glTF, .blend, JSON, any bytes) **and PDF**: signed as
  ``application/octet-stream``, a ``c2pa.hash.data`` over the raw bytes, which a reader checks
  whatever MIME it is told (a PNG read as octet-stream, a PDF read as application/pdf: both Trusted).
  PDF is here because in no-embed mode c2pa-rs 0.91 hashes a *rewritten* PDF, so the original file
  then reads ``assertion.dataHash.mismatch``. A collection hash over the one file was no option:
  c2pa-rs 0.91 cannot validate ``c2pa.hash.collection.data`` at all (DR008).

c2pa-wasm 0.13.3 has no API for an asset plus a sidecar; given the sidecar alone it checks the
signature and every assertion hash, and the data hash it shows is the file's SHA-256 (tested).

**A sequence's sidecar** (`sign_sequence`): frame sequences cannot carry a manifest per frame
cheaply, and c2pa-rs 0.91 cannot validate a collection hash (DR008), so the hard binding is a
``c2pa.hash.data`` over the frame list in the `sha256sum` format (``<sha256>  <name>`` per frame, in
order), written beside the sidecar as ``<stem>.sha256``; the same list is a signed
``io.soundstage.frame-index`` (``FrameIndex.2``). A standard reader validates ``plate.sha256`` with
``plate.c2pa`` (the c2pa-rs sidecar name for it), ``sha256sum -c plate.sha256`` checks the frames,
and `sidecars.verify_sequence` does both at once and names the frame that changed, went missing or
appeared. Sidecars written before (``FrameIndex.1``) still verify: sidecars.py.

A sequence one manifest cannot hold (c2pa-python refuses a manifest definition over 1 MiB of JSON:
8,878 frames named ``plate.1001.exr`` signed, 8,879 did not) is signed in parts: ``plate.part0001.c2pa``
with ``plate.part0001.sha256``, ... each the same kind of sidecar over a contiguous run of frames, its
frame index naming its number, the number of parts and the SHA-256 of the whole frame list
(`sign_sequence`, `plan_parts`; DR008, amendment).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
from dataclasses import dataclass
from dataclasses import replace as dc_replace
from pathlib import Path
from typing import Any, Sequence

from soundstage.errors import BackendError, InputError, NotFoundError, ParseError, SpecError, UnsafeInputError
from soundstage.files import sha256_file
from soundstage.safeguards.keys import SigningCredentials
from soundstage.safeguards.provenance.manifest import (
    CREATED_ASSERTION_LABELS, ManifestSpec, Operation, IngredientSource, SoftwareAgent, build_manifest,
    ingredient_plan,
)
from soundstage.safeguards.provenance.media import (
    DEFAULT_LIMITS, SIDECAR_MAX_BYTES, SIDECAR_MIME, STILL_TYPES, VIDEO_TYPES, SizeLimits, check_file_size, check_size,
    sidecar_binding_mime, sniff_file_mime, sniff_mime,
)
from soundstage.safeguards.provenance.reading import backend_error
from soundstage.safeguards.provenance.sidecars import (
    DEFAULT_PART_FRAMES, FRAME_INDEX_ASSERTION, FRAME_LIST_MIME, MANIFEST_JSON_LIMIT, MAX_PART_FRAMES,
    MAX_SEQUENCE_FRAMES, MAX_SEQUENCE_PARTS, FrameEntry, SequencePart, SequenceVerification, entry_json,
    frame_entries, frame_index_document, frame_list_document, index_assertion, part_sidecar, sequence_parts,
    verify_sequence,
)

__all__ = [
    "FRAME_INDEX_ASSERTION",
    "SignResult",
    "SequenceVerification",
    "sign_file",
    "sign_sidecar",
    "sign_sequence",
    "plan_parts",
    "verify_sequence",
    "frame_index_document",
    "SIDECAR_MAX_BYTES",
]


@dataclass(frozen=True)
class SignResult:
    path: Path  # the signed file, or the sidecar (of a file or of a sequence)
    mime: str  # the signed file's type; "application/c2pa" for a sequence
    manifest_label: str
    manifest_bytes: int
    sha256: str  # of the signed file, of the file a sidecar is bound to, or of a sequence's frame list
    document: Path | None = None  # a sequence's frame list (what its sidecar is bound to), beside the sidecar
    parts: tuple["SignResult", ...] = ()  # a sequence signed in parts: every part, this result's own first


def sign_file(
    src: Path,
    dst: Path,
    spec: ManifestSpec,
    signer: Any,
    *,
    thumbnail: bool = True,
    limits: SizeLimits = DEFAULT_LIMITS,
) -> SignResult:
    """Embed a manifest built from `spec` into a copy of `src` at `dst` (JPEG, PNG, MP4, MOV, PDF, and
    WAV, MP3, M4A: c2pa-rs 0.91 writes a RIFF chunk, an ID3 frame, a BMFF box; audio gets no thumbnail).

    `signer` is SigningCredentials (from keys.load_signer) or a c2pa Signer (keys.callback_signer).
    `thumbnail`: a claim thumbnail of the output (stills and video) and one of each ingredient
    signed with bytes, made here (see `_thumbnail_jpeg` for the measured cost); data-less
    ingredients (model weights, a performer's reference face) never get one.
    """
    import c2pa

    src, dst = Path(src), Path(dst)
    if not src.is_file():
        raise NotFoundError(f"{src} does not exist")
    if spec.operation is Operation.INGEST and _same_file(src, dst):
        raise SpecError("an ingested source is never rewritten in place; sign a copy", field="dst")
    with open(src, "rb") as handle:
        mime = sniff_mime(handle.read(16), str(src))
    check_size(src.stat().st_size, mime, limits, source=str(src))
    if thumbnail and mime in STILL_TYPES:
        _refuse_pixel_bomb(src, limits)

    manifest = build_manifest(spec)
    opened = _prepare_ingredients(spec, manifest, limits)
    try:
        resources = _attach_thumbnails(manifest, src, mime, opened, limits) if thumbnail else {}
        # c2pa-rs's own thumbnailer stays off: ours is ~3x faster on a 1080p still and also does video
        context = c2pa.Context.from_dict(_builder_settings(thumbnail=False))
        with c2pa.Builder(manifest, context=context) as builder:
            for identifier, jpeg in resources.items():
                builder.add_resource(identifier, io.BytesIO(jpeg))
            _add_ingredients(builder, opened)
            with _signer_for(signer) as c2pa_signer, open(src, "rb") as source:
                manifest_bytes, digest = _write_atomically(
                    dst, lambda out: builder.sign(c2pa_signer, mime, source, out))
    except c2pa.C2paError as exc:
        raise _signing_error(exc, signer) from exc
    finally:
        for _, stream, _ in opened:
            stream.close()
    label = _active_label(mime, dst)
    return SignResult(dst, mime, label, len(manifest_bytes), digest)


def _builder_settings(*, thumbnail: bool, extra_created: tuple[str, ...] = ()) -> dict:
    """The one builder configuration: our own assertions are *created* ones (the signer states them)."""
    return {"builder": {"thumbnail": {"enabled": thumbnail},
                        "created_assertion_labels": [*CREATED_ASSERTION_LABELS, *extra_created]}}


def _detached_manifest(spec: ManifestSpec, manifest: dict, signer: Any, mime: str, source, limits: SizeLimits, *,
                       extra_created: tuple[str, ...] = ()) -> bytes:
    """Sign ``manifest`` over ``source`` (read as ``mime``) without embedding it anywhere, and return
    the manifest store's bytes: what a sidecar holds. One-line errors; ingredient files are closed."""
    opened = _prepare_ingredients(spec, manifest, limits)
    try:
        return _sign_detached(manifest, opened, signer, mime, source, extra_created=extra_created)
    finally:
        for _, stream, _ in opened:
            stream.close()


def _sign_detached(manifest: dict, opened: list[tuple[dict[str, Any], Any, str]], signer: Any, mime: str, source, *,
                   extra_created: tuple[str, ...] = ()) -> bytes:
    """`_detached_manifest` with the ingredients already opened (read from their start)."""
    import c2pa

    for _, stream, _ in opened:
        stream.seek(0)
    try:
        context = c2pa.Context.from_dict(_builder_settings(thumbnail=False, extra_created=extra_created))
        with c2pa.Builder(manifest, context=context) as builder:
            _add_ingredients(builder, opened)
            builder.set_no_embed()
            with _signer_for(signer) as c2pa_signer:
                return builder.sign(c2pa_signer, mime, source, _Discard())
    except c2pa.C2paError as exc:
        raise _signing_error(exc, signer) from exc


def sign_sidecar(src: Path, sidecar: Path, spec: ManifestSpec, signer: Any, *,
                 limits: SizeLimits = DEFAULT_LIMITS) -> SignResult:
    """Write a `.c2pa` sidecar whose hard binding covers `src` itself (any file type; the module
    docstring says which binding each type gets). `src` is read, never modified."""

    src, sidecar = Path(src), Path(sidecar)
    if not src.is_file():
        raise NotFoundError(f"{src.name} does not exist")
    if _same_file(src, sidecar):
        raise SpecError("a sidecar cannot be written over the file it describes", field="sidecar")
    with open(src, "rb") as handle:
        mime = sniff_file_mime(handle.read(16), src.name)
    check_file_size(src.stat().st_size, limits, source=src.name)
    manifest = build_manifest(spec)
    with open(src, "rb") as source:
        manifest_bytes = _detached_manifest(spec, manifest, signer, sidecar_binding_mime(mime), source, limits)
    sidecar.parent.mkdir(parents=True, exist_ok=True)
    _write_atomically(sidecar, lambda out: out.write(manifest_bytes))
    return SignResult(sidecar, mime, _store_label(manifest_bytes), len(manifest_bytes), sha256_file(src))


def sign_sequence(frames: Sequence[Path], sidecar: Path, spec: ManifestSpec, signer: Any, *,
                  limits: SizeLimits = DEFAULT_LIMITS, part_frames: int | None = None) -> SignResult:
    """Write a sequence's `.c2pa` sidecar, bound to its frame list, and the list itself beside it
    (``<sidecar stem>.sha256``, `sha256sum` format): see the module docstring.

    A sequence one manifest cannot hold (c2pa's limit on a manifest definition,
    ``MANIFEST_JSON_LIMIT``: ~8,800 frames with short names) is signed in parts, each a sequence
    sidecar of its own over a contiguous run of at most ``part_frames`` frames (default
    ``DEFAULT_PART_FRAMES``; a part is cut earlier when its manifest would pass the limit):
    ``<stem>.part0001.c2pa`` with ``<stem>.part0001.sha256``, and so on. Each part's frame index
    names its number, the number of parts and the SHA-256 of the whole sequence's frame list. Given
    ``part_frames``, a longer sequence is signed in parts even when it would fit in one. A sequence
    that fits is signed exactly as before, in one sidecar at ``sidecar``. Sidecars and lists of an
    earlier signing under the same name (the other shape, or parts past the new count) are removed
    once the new ones are written. The result is the one sidecar's, or the first part's with every
    part in ``parts``."""

    if not frames:
        raise SpecError("a sequence needs at least one frame", field="frames")
    if len(frames) > MAX_SEQUENCE_FRAMES:
        raise SpecError(f"{len(frames)} frames: a sequence is signed with at most {MAX_SEQUENCE_FRAMES}",
                        field="frames", hint="sign it as several sequences")
    if part_frames is not None and (isinstance(part_frames, bool) or not isinstance(part_frames, int)
                                    or not 1 <= part_frames <= MAX_PART_FRAMES):
        raise SpecError(f"a part holds 1 to {MAX_PART_FRAMES} frames, not {part_frames!r}", field="part_frames")
    sidecar = Path(sidecar)
    if re.search(r"\.part\d{4,}\Z", sidecar.stem):
        raise SpecError(f"{sidecar.name} is named like a part of a sequence signed in parts; name the whole "
                        "sequence's sidecar (parts are named after it)", field="sidecar")
    _refuse_overwriting(frames, [sidecar, sidecar.with_suffix(".sha256")])
    entries = frame_entries(frames, limits=limits)
    manifest = build_manifest(spec)
    opened = _prepare_ingredients(spec, manifest, limits)  # data-less ingredients join the manifest here
    try:
        runs = plan_parts(manifest, entries, part_frames)
        if len(runs) == 1:
            result = _sign_run(manifest, opened, entries, sidecar, None, signer)
            _remove_stale(sidecar, keep=0)
            return result
        targets = [part_sidecar(sidecar, number) for number in range(1, len(runs) + 1)]
        _refuse_overwriting(frames, [p for t in targets for p in (t, t.with_suffix(".sha256"))])
        whole = hashlib.sha256(frame_list_document(entries)).hexdigest()
        results = [_sign_run(manifest, opened, entries[start:stop], target,
                             SequencePart(number, len(runs), len(entries), whole), signer)
                   for number, ((start, stop), target) in enumerate(zip(runs, targets), start=1)]
    finally:
        for _, stream, _ in opened:
            stream.close()
    _remove_stale(sidecar, keep=len(results))
    return dc_replace(results[0], parts=tuple(results))


def plan_parts(manifest: dict[str, Any], entries: Sequence[FrameEntry], part_frames: int | None = None
               ) -> list[tuple[int, int]]:
    """The runs of ``entries`` (start, stop) a sequence is signed in: one when its whole manifest is
    within ``MANIFEST_JSON_LIMIT`` (and ``part_frames`` does not ask for smaller parts), else
    consecutive runs of ``part_frames`` (default ``DEFAULT_PART_FRAMES``) frames, each cut earlier
    when its manifest would pass the limit. Sizes are counted as c2pa-python serialises the
    definition (``json.dumps``)."""
    if not entries:
        raise SpecError("a sequence needs at least one frame", field="frames")
    if part_frames is None or len(entries) <= part_frames:
        if _json_size(_with_index(manifest, entries, None)) <= MANIFEST_JSON_LIMIT:
            return [(0, len(entries))]
    per_part = part_frames or DEFAULT_PART_FRAMES
    widest = SequencePart(MAX_SEQUENCE_PARTS, MAX_SEQUENCE_PARTS, MAX_SEQUENCE_FRAMES, "0" * 64)
    room = MANIFEST_JSON_LIMIT - _json_size(_with_index(manifest, [], widest))
    runs: list[tuple[int, int]] = []
    start = used = 0
    for at, entry in enumerate(entries):
        size = _json_size(entry_json(entry)) + 2  # and the ", " before the next
        if size > room:
            raise SpecError(f"frame {entry.name}: the manifest has no room for even one frame of this name",
                            field="frames")
        if at > start and (at - start >= per_part or used + size > room):
            runs.append((start, at))
            start, used = at, 0
        used += size
    runs.append((start, len(entries)))
    if len(runs) > MAX_SEQUENCE_PARTS:
        raise SpecError(f"{len(entries)} frames in parts of at most {per_part} would be {len(runs)} parts; at most "
                        f"{MAX_SEQUENCE_PARTS}", field="part_frames", hint="choose larger parts")
    return runs


def _with_index(manifest: dict[str, Any], entries: Sequence[FrameEntry], part: SequencePart | None) -> dict[str, Any]:
    return {**manifest, "assertions": [*manifest["assertions"],
                                       {"label": FRAME_INDEX_ASSERTION, "data": index_assertion(entries, part)}]}


def _json_size(value: Any) -> int:
    return len(json.dumps(value).encode("utf-8"))


def _sign_run(manifest: dict[str, Any], opened, entries: Sequence[FrameEntry], sidecar: Path,
              part: SequencePart | None, signer: Any) -> SignResult:
    """One sequence sidecar over ``entries`` (the whole sequence, or one part) and its frame list."""
    document_path = sidecar.with_suffix(".sha256")
    document = frame_list_document(entries)
    definition = _with_index(manifest, entries, part)
    if _json_size(definition) > MANIFEST_JSON_LIMIT:  # plan_parts keeps every run within it
        raise SpecError(f"{sidecar.name}: {len(entries)} frames do not fit in one manifest", field="part_frames")
    manifest_bytes = _sign_detached(definition, opened, signer, FRAME_LIST_MIME, io.BytesIO(document),
                                    extra_created=(FRAME_INDEX_ASSERTION,))
    sidecar.parent.mkdir(parents=True, exist_ok=True)
    _write_atomically(document_path, lambda out: out.write(document))
    try:
        _write_atomically(sidecar, lambda out: out.write(manifest_bytes))
    except BaseException:
        document_path.unlink(missing_ok=True)
        raise
    return SignResult(sidecar, SIDECAR_MIME, _store_label(manifest_bytes), len(manifest_bytes),
                      hashlib.sha256(document).hexdigest(), document=document_path)


def _refuse_overwriting(frames: Sequence[Path], targets: Sequence[Path]) -> None:
    """A sidecar or frame list that would be written over one of the frames (the same path, or the
    same file under another name) is refused. Each frame is resolved once, whatever the targets."""
    by_path = {Path(t).resolve(): Path(t) for t in targets}
    by_inode: dict[tuple[int, int], Path] = {}
    for target in targets:
        try:
            stat = Path(target).stat()
        except OSError:
            continue
        by_inode[(stat.st_dev, stat.st_ino)] = Path(target)
    for frame in frames:
        frame = Path(frame)
        hit = by_path.get(frame.resolve())
        if hit is None and by_inode:
            try:
                stat = frame.stat()
                hit = by_inode.get((stat.st_dev, stat.st_ino))
            except OSError:
                pass
        if hit is not None:
            raise SpecError(f"{hit.name} would overwrite a frame", field="sidecar")


def _remove_stale(sidecar: Path, *, keep: int) -> None:
    """After a signing: what an earlier signing left under the same name - the whole sequence's
    sidecar and list when ``keep`` parts were written, parts past ``keep`` (all of them for a
    sequence signed in one sidecar) - so verify never reads the two signings together."""
    stale = [] if keep == 0 else [sidecar, sidecar.with_suffix(".sha256")]
    for part in sequence_parts(sidecar):
        number = int(part.stem.rsplit(".part", 1)[1])
        if number > keep:
            stale += [part, part.with_suffix(".sha256")]
    for path in stale:
        path.unlink(missing_ok=True)


# --------------------------------------------------------------------------- helpers

class _BorrowedSigner:
    """Context manager that closes signers we made and leaves caller-owned ones open."""

    def __init__(self, signer: Any, owned: bool) -> None:
        self.signer, self.owned = signer, owned

    def __enter__(self) -> Any:
        return self.signer

    def __exit__(self, *exc: object) -> None:
        if self.owned:
            self.signer.close()


def _signer_for(signer: Any) -> _BorrowedSigner:
    import c2pa

    if isinstance(signer, SigningCredentials):
        return _BorrowedSigner(signer.signer(), owned=True)
    if isinstance(signer, c2pa.Signer):
        return _BorrowedSigner(signer, owned=False)
    raise InputError(f"signer must be SigningCredentials or a c2pa Signer, not {type(signer).__name__}")


def _prepare_ingredients(spec: ManifestSpec, manifest: dict[str, Any], limits: SizeLimits
                         ) -> list[tuple[dict[str, Any], Any, str]]:
    """Open ingredients c2pa can parse (hashed, own manifest kept); describe the rest by sha256.

    EXR/DPX plates and other formats c2pa cannot read go into the manifest definition as
    data-less ingredients whose instance_id is the sha256 of their bytes.
    """
    opened: list[tuple[dict[str, Any], Any, str]] = []
    try:
        for ingredient_json, source in ingredient_plan(spec):
            stream, mime = _open_ingredient(source, limits)
            if mime is None:
                stream.close()
                manifest.setdefault("ingredients", []).append(
                    dict(ingredient_json, format="application/octet-stream",
                         instance_id=f"sha256:{_sha256_source(source)}"))
                continue
            opened.append((ingredient_json, stream, mime))
    except BaseException:
        for _, stream, _ in opened:
            stream.close()
        raise
    return opened


#: long side of the thumbnails we make (c2pa-rs's own default); JPEG quality 80
THUMBNAIL_LONG_SIDE = 1024
THUMBNAIL_QUALITY = 80


def _attach_thumbnails(manifest: dict[str, Any], src: Path, mime: str,
                       opened: list[tuple[dict[str, Any], Any, str]], limits: SizeLimits) -> dict[str, bytes]:
    """Make the claim thumbnail of `src` and one per ingredient opened with bytes; point the manifest
    and the ingredients at them. Returns identifier -> JPEG bytes for Builder.add_resource.

    Only files we hold the bytes of get one: data-less ingredients (weights, reference faces) are
    not in `opened`, so no thumbnail of a performer's reference face can be made here."""
    resources: dict[str, bytes] = {}
    with open(src, "rb") as handle:
        claim = _thumbnail_jpeg(handle, mime, limits, name=str(src))
    if claim is not None:
        resources["soundstage-claim-thumbnail.jpg"] = claim
        manifest["thumbnail"] = {"format": "image/jpeg", "identifier": "soundstage-claim-thumbnail.jpg"}
    for index, (ingredient_json, stream, ingredient_mime) in enumerate(opened):
        try:
            jpeg = _thumbnail_jpeg(stream, ingredient_mime, limits, name=ingredient_json.get("title"))
        except UnsafeInputError:
            jpeg = None  # an ingredient too large to decode safely is still hashed; it just has no thumbnail
        finally:
            stream.seek(0)
        if jpeg is not None:
            identifier = f"soundstage-ingredient-thumbnail-{index}.jpg"
            resources[identifier] = jpeg
            ingredient_json["thumbnail"] = {"format": "image/jpeg", "identifier": identifier}
    return resources


def _thumbnail_jpeg(stream: Any, mime: str, limits: SizeLimits, *, name: str | None = None) -> bytes | None:
    """A JPEG of at most THUMBNAIL_LONG_SIDE pixels of a still, or of a video's first frame.

    Measured on a 1080p PNG (this machine, 2 cores): c2pa-rs's own thumbnailer adds ~115 ms to a
    16 ms signature; this one ~45 ms (OpenCV decodes at half size when that still covers the
    thumbnail; a JPEG source costs ~7 ms). A video's first frame costs ~55 ms once per clip; c2pa-rs
    makes none for video. None when the data cannot be decoded."""
    import cv2
    import numpy as np

    if mime in STILL_TYPES:
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(stream) as image:
                width, height = image.size
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
            return None
        if width * height > limits.still_pixels:
            raise UnsafeInputError(f"{name or 'image'}: {width}x{height} pixels is over the {limits.still_pixels}-"
                                   "pixel limit for thumbnailing", hint="sign without a thumbnail")
        stream.seek(0)
        factor = next((f for f in (8, 4, 2) if max(width, height) / f >= 0.9 * THUMBNAIL_LONG_SIDE), 1)
        flag = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4,
                8: cv2.IMREAD_REDUCED_COLOR_8}[factor]
        bgr = cv2.imdecode(np.frombuffer(stream.read(), np.uint8), flag)
    elif mime in VIDEO_TYPES:
        bgr = _first_video_frame(stream)
    else:
        return None
    if bgr is None or bgr.size == 0:
        return None
    height, width = bgr.shape[:2]
    scale = THUMBNAIL_LONG_SIDE / max(height, width)
    if scale < 1:
        bgr = cv2.resize(bgr, (max(1, round(width * scale)), max(1, round(height * scale))),
                         interpolation=cv2.INTER_AREA)
    ok, jpeg = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, THUMBNAIL_QUALITY])
    return jpeg.tobytes() if ok else None


def _first_video_frame(stream: Any) -> Any:
    import av

    try:
        with av.open(stream) as container:
            for frame in container.decode(video=0):
                return frame.to_ndarray(format="bgr24")
    except (av.error.FFmpegError, ValueError, IndexError):
        return None
    return None


def _add_ingredients(builder: Any, opened: list[tuple[dict[str, Any], Any, str]]) -> None:
    for ingredient_json, stream, mime in opened:
        builder.add_ingredient(ingredient_json, mime, stream)


def _open_ingredient(source: IngredientSource, limits: SizeLimits) -> tuple[Any, str | None]:
    if source.path is not None:
        path = Path(source.path)
        if not path.is_file():
            raise NotFoundError(f"ingredient {path} does not exist")
        stream: Any = open(path, "rb")
        name: str | None = str(path)
        size = path.stat().st_size
    else:
        stream = io.BytesIO(source.data or b"")
        name, size = source.title, len(source.data or b"")
    head = stream.read(16)
    stream.seek(0)
    try:
        mime = source.mime or sniff_mime(head, name)
    except ParseError:
        return stream, None
    check_size(size, mime, limits, source=name)
    return stream, mime


def _sha256_source(source: IngredientSource) -> str:
    if source.path is not None:
        return sha256_file(Path(source.path))
    return hashlib.sha256(source.data or b"").hexdigest()


def _write_atomically(dst: Path, write: Any) -> tuple[Any, str]:
    """Run write(out_stream) into a temp file beside dst, then replace dst with it."""
    from soundstage.files import atomic_path

    with atomic_path(dst, make_parents=False) as tmp, open(tmp, "w+b") as out:
        result = write(out)
    return result, sha256_file(dst)


class _Discard(io.RawIOBase):
    """Where a no-embed signing writes its copy of the asset: nowhere. c2pa-rs copies the source to
    the destination even when it embeds nothing (a 2 GB .blend would be 2 GB of memory); reading it
    back is refused, so a library that needed the copy fails loudly instead of binding nothing."""

    def __init__(self) -> None:
        super().__init__()
        self._pos = self._end = 0

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def write(self, data) -> int:  # type: ignore[override]
        self._pos += len(data)
        self._end = max(self._end, self._pos)
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._pos = offset if whence == io.SEEK_SET else self._pos + offset if whence == io.SEEK_CUR \
            else self._end + offset
        return self._pos

    def tell(self) -> int:
        return self._pos


def _store_label(manifest_bytes: bytes) -> str:
    return str(_unverified_store(SIDECAR_MIME, io.BytesIO(manifest_bytes), None).get("active_manifest"))


def _active_label(mime: str, path: Path) -> str:
    with open(path, "rb") as handle:
        store = _unverified_store(mime, handle, None)
    return str(store.get("active_manifest"))


def _unverified_store(mime: str, stream: Any, manifest_bytes: bytes | None) -> dict[str, Any]:
    """Parse without re-hashing: we only want the label of what we just wrote."""
    import c2pa

    context = c2pa.Context.from_dict({"verify": {"verify_after_reading": False}})
    try:
        with c2pa.Reader(mime, stream, manifest_bytes, context=context) as reader:
            return json.loads(reader.json())
    except c2pa.C2paError as exc:
        raise backend_error(exc, "reading back the manifest just written") from exc


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


def _refuse_pixel_bomb(path: Path, limits: SizeLimits) -> None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            width, height = image.size
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise UnsafeInputError(f"{path.name}: image header refused ({exc})") from exc
    if width * height > limits.still_pixels:
        raise UnsafeInputError(f"{path.name}: {width}x{height} pixels is over the {limits.still_pixels}-pixel limit "
                               "for thumbnailing", hint="sign without a thumbnail")


#: what c2pa-rs 0.91 says when the time-stamp it asked for is wrong (its TimeStampError texts, lower
#: case), and what that means, in the words of a one-line error naming the TSA
_TSA_FAULTS = (
    ("nonce mismatch", "answered with a time-stamp for another request (its nonce is not the one sent)",
     "a TSA answers each request with its own nonce: something on the way to it replays answers, or it is "
     "broken; check [provenance] tsa_url (https keeps others off the path) or ask the TSA's operator"),
    ("time stamp does not match data", "answered with a time-stamp over other data (its message imprint is "
     "not this signature's hash)",
     "something on the way to it answers in its place, or it is broken; check [provenance] tsa_url (https keeps "
     "others off the path) or ask the TSA's operator"),
    ("time stamp has an expired certificate", "stamped with a certificate that was not valid at the time it "
     "stamped", "the TSA's certificate or its clock is wrong: ask the TSA's operator"),
    ("time stamp contains an unsupported algorithm", "signed its time-stamp with an algorithm c2pa does not accept",
     "ask the TSA's operator, or name another TSA in [provenance] tsa_url"),
    ("decode error", "gave no time-stamp",
     "it refused, or sent something that is not an RFC 3161 reply (c2pa-rs 0.91 reads a refusal's failInfo as a "
     "decode error): check [provenance] tsa_url in soundstage.toml and that the authority is up and stamping"),
    ("service responded with an http error", "answered with an HTTP error",
     "check [provenance] tsa_url in soundstage.toml and that the authority is up"),
)
_TSA_HINT = "check [provenance] tsa_url in soundstage.toml and that the authority is up"


def _signing_error(exc: Exception, signer: Any = None) -> Exception:
    """One line for a failed signing, blaming what failed. With a TSA (``signer.tsa_url``) a failure of
    its time-stamp names the TSA and what was wrong with its answer; a refused certificate is the
    claim signer's only if the same signer also fails without the TSA (c2pa-rs reports a TSA
    certificate it refuses as ``signingCredential.invalid``, in the claim signer's words)."""
    text = " ".join(str(exc).split())
    lower = text.lower()
    tsa_url = getattr(signer, "tsa_url", None)
    if tsa_url:
        for marker, cause, hint in _TSA_FAULTS:
            if marker in lower:
                return BackendError(f"the time-stamp authority {tsa_url} {cause}, so nothing was signed ({text})",
                                    hint=hint)
        if "certificate" in lower or "signingcredential" in lower:
            if _signs_without_the_tsa(signer):
                return BackendError(
                    f"the time-stamp authority {tsa_url} answered with a token whose certificate c2pa refuses, so "
                    f"nothing was signed (the production's signer signs without it; {text})",
                    hint="a TSA's certificate is an end-entity certificate whose one extended key usage is the "
                         "critical timeStamping (RFC 3161 §2.3), with an authority key identifier: ask the TSA's "
                         "operator, or name another TSA in [provenance] tsa_url")
        elif any(marker in lower for marker in ("http", "time stamp", "timestamp")):
            return BackendError(f"the time-stamp authority {tsa_url} gave no time-stamp, so nothing was signed "
                                f"({text})", hint=_TSA_HINT)
    if "certificate" in lower:
        return SpecError(f"the signing certificate was refused: {text}", field="chain")
    return backend_error(exc, "signing")


def _signs_without_the_tsa(signer: Any) -> bool:
    """Whether ``signer`` (SigningCredentials with a TSA) signs a few bytes when no TSA is asked: then
    a certificate its signing with the TSA refused was the TSA's. Asked only after a failure."""
    if not isinstance(signer, SigningCredentials):
        return False
    probe = ManifestSpec(Operation.PROCEDURAL, "soundstage signer probe", SoftwareAgent("soundstage", "probe"))
    try:
        _detached_manifest(probe, build_manifest(probe), dc_replace(signer, tsa_url=None), "application/octet-stream",
                           io.BytesIO(b"soundstage signer probe"), DEFAULT_LIMITS)
    except Exception:  # noqa: BLE001 - any failure: the signer itself is what is refused
        return False
    return True
