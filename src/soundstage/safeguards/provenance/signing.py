"""Embed Content Credentials into stills and video, and bind frame sequences through a sidecar.

Output is always written to a temporary file beside the destination and moved into place,
so a crash never leaves a half-signed file and signing in place (src == dst) is safe.

Frame sequences (EXR, DPX, PNG frames) cannot carry an embedded manifest per frame cheaply,
so the sequence is described by a canonical "frame index" document (every frame's name and
sha256, in order). The manifest's hard binding is a data hash over that document, made with
c2pa's no-embed mode, and the same list is stored as a signed `io.soundstage.frame-index`
assertion. The `.c2pa` sidecar holds only the manifest store; the index is recomputed from the
frames at verification, so any changed, missing or extra frame breaks the hash, and the
signed list says which one.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from soundstage.errors import InputError, NotFoundError, ParseError, SpecError, UnsafeInputError
from soundstage.files import sha256_file
from soundstage.safeguards.keys import SigningCredentials
from soundstage.safeguards.provenance.manifest import (
    CREATED_ASSERTION_LABELS, ManifestSpec, Operation, IngredientSource, build_manifest, ingredient_plan,
)
from soundstage.safeguards.provenance.media import DEFAULT_LIMITS, STILL_TYPES, SizeLimits, check_size, sniff_mime
from soundstage.safeguards.provenance.reading import (
    Credentials, CredentialState, backend_error, credentials_from_store, trust_context_settings,
)

__all__ = [
    "FRAME_INDEX_ASSERTION",
    "SignResult",
    "SequenceVerification",
    "sign_file",
    "sign_sequence",
    "verify_sequence",
    "frame_index_document",
]

FRAME_INDEX_ASSERTION = "io.soundstage.frame-index"
FRAME_INDEX_SCHEMA = "FrameIndex.1"
# c2pa-rs 0.91 data-hashes an unembedded JSON document byte for byte (measured; tested).
FRAME_INDEX_MIME = "application/json"
SIDECAR_MAX_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class SignResult:
    path: Path  # the signed file, or the sidecar for a sequence
    mime: str
    manifest_label: str
    manifest_bytes: int
    sha256: str  # of the signed file (or of the frame-index document for a sequence)


@dataclass(frozen=True)
class SequenceVerification:
    credentials: Credentials
    changed: tuple[str, ...]
    missing: tuple[str, ...]
    unexpected: tuple[str, ...]
    index_authentic: bool  # False when the signature itself failed: the frame list cannot be relied on

    @property
    def ok(self) -> bool:
        return (self.credentials.state in (CredentialState.TRUSTED, CredentialState.VALID)
                and not (self.changed or self.missing or self.unexpected))


def sign_file(
    src: Path,
    dst: Path,
    spec: ManifestSpec,
    signer: Any,
    *,
    thumbnail: bool = False,
    limits: SizeLimits = DEFAULT_LIMITS,
) -> SignResult:
    """Embed a manifest built from `spec` into a copy of `src` at `dst` (JPEG, PNG, MP4, MOV).

    `signer` is SigningCredentials (from keys.load_signer) or a c2pa Signer (keys.callback_signer).
    Thumbnails are off by default: they cost ~40 ms per 1080p still and decode the pixels.
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
        want_thumbnail = bool(thumbnail and mime in STILL_TYPES)
        context = c2pa.Context.from_dict(_builder_settings(thumbnail=want_thumbnail))
        with c2pa.Builder(manifest, context=context) as builder:
            _add_ingredients(builder, opened)
            with _signer_for(signer) as c2pa_signer, open(src, "rb") as source:
                manifest_bytes, digest = _write_atomically(
                    dst, lambda out: builder.sign(c2pa_signer, mime, source, out))
    except c2pa.C2paError as exc:
        raise _signing_error(exc) from exc
    finally:
        for _, stream, _ in opened:
            stream.close()
    label = _active_label(mime, dst)
    return SignResult(dst, mime, label, len(manifest_bytes), digest)


def _builder_settings(*, thumbnail: bool, extra_created: tuple[str, ...] = ()) -> dict:
    """The one builder configuration: our own assertions are *created* ones (the signer states them)."""
    return {"builder": {"thumbnail": {"enabled": thumbnail},
                        "created_assertion_labels": [*CREATED_ASSERTION_LABELS, *extra_created]}}


def frame_index_document(frames: Sequence[Path]) -> tuple[bytes, list[dict[str, str]]]:
    """Canonical bytes listing every frame (base name + sha256) in sequence order."""
    entries = []
    seen: set[str] = set()
    for frame in frames:
        frame = Path(frame)
        if not frame.is_file():
            raise NotFoundError(f"frame {frame} does not exist")
        if frame.name in seen:
            raise SpecError(f"two frames are named {frame.name}; frame names must be unique", field="frames")
        seen.add(frame.name)
        entries.append({"name": frame.name, "sha256": sha256_file(frame)})
    document = {"schema": FRAME_INDEX_SCHEMA, "frames": entries}
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8"), entries


def sign_sequence(frames: Sequence[Path], sidecar: Path, spec: ManifestSpec, signer: Any, *,
                  limits: SizeLimits = DEFAULT_LIMITS) -> SignResult:
    """Write a `.c2pa` sidecar manifest store bound to every frame's hash."""
    import c2pa

    if not frames:
        raise SpecError("a sequence needs at least one frame", field="frames")
    sidecar = Path(sidecar)
    document, entries = frame_index_document(frames)
    manifest = build_manifest(spec)
    manifest["assertions"].append({"label": FRAME_INDEX_ASSERTION,
                                   "data": {"schema": FRAME_INDEX_SCHEMA, "frames": entries}})
    opened = _prepare_ingredients(spec, manifest, limits)
    try:
        context = c2pa.Context.from_dict(_builder_settings(thumbnail=False, extra_created=(FRAME_INDEX_ASSERTION,)))
        with c2pa.Builder(manifest, context=context) as builder:
            _add_ingredients(builder, opened)
            builder.set_no_embed()
            with _signer_for(signer) as c2pa_signer:
                manifest_bytes = builder.sign(c2pa_signer, FRAME_INDEX_MIME, io.BytesIO(document), io.BytesIO())
    except c2pa.C2paError as exc:
        raise _signing_error(exc) from exc
    finally:
        for _, stream, _ in opened:
            stream.close()
    sidecar.parent.mkdir(parents=True, exist_ok=True)
    _write_atomically(sidecar, lambda out: out.write(manifest_bytes))
    store = _unverified_store(FRAME_INDEX_MIME, io.BytesIO(document), manifest_bytes)
    return SignResult(sidecar, "application/c2pa", str(store.get("active_manifest")), len(manifest_bytes),
                      hashlib.sha256(document).hexdigest())


def verify_sequence(frames: Sequence[Path], sidecar: Path, *, trust_anchors: Sequence[bytes] | None = None,
                    trust_list: Path | None = None) -> SequenceVerification:
    """Check frames against their sidecar; names the frames that changed, went missing or appeared."""
    import c2pa

    sidecar = Path(sidecar)
    if not sidecar.is_file():
        raise NotFoundError(f"sidecar {sidecar} does not exist")
    if sidecar.stat().st_size > SIDECAR_MAX_BYTES:
        raise UnsafeInputError(f"{sidecar} is larger than {SIDECAR_MAX_BYTES} bytes; not a sidecar we wrote")
    manifest_bytes = sidecar.read_bytes()
    document, current = frame_index_document(frames)
    settings = trust_context_settings(trust_anchors, trust_list)
    try:
        context = c2pa.Context.from_dict(settings) if settings else None
        kwargs = {"context": context} if context is not None else {}
        with c2pa.Reader(FRAME_INDEX_MIME, io.BytesIO(document), manifest_bytes, **kwargs) as reader:
            store = json.loads(reader.json())
    except c2pa.C2paError.ManifestNotFound as exc:
        raise ParseError("the sidecar holds no manifest", source=str(sidecar)) from exc
    except c2pa.C2paError as exc:
        raise ParseError(f"the sidecar is not a readable manifest store: {' '.join(str(exc).split())}",
                         source=str(sidecar)) from exc
    credentials = credentials_from_store(store)
    signed = credentials.assertion(FRAME_INDEX_ASSERTION)
    if not isinstance(signed, dict) or not isinstance(signed.get("frames"), list):
        raise ParseError("the sidecar has no soundstage frame index", source=str(sidecar))
    broken = {"claimSignature.mismatch", "assertion.hashedURI.mismatch", "claimSignature.missing"}
    index_authentic = not broken.intersection(credentials.failure_codes)

    signed_hashes = {str(e.get("name")): str(e.get("sha256")) for e in signed["frames"]}
    current_hashes = {e["name"]: e["sha256"] for e in current}
    changed = tuple(n for n in signed_hashes if n in current_hashes and current_hashes[n] != signed_hashes[n])
    missing = tuple(n for n in signed_hashes if n not in current_hashes)
    unexpected = tuple(n for n in current_hashes if n not in signed_hashes)
    return SequenceVerification(credentials, changed, missing, unexpected, index_authentic)


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


def _signing_error(exc: Exception) -> Exception:
    text = " ".join(str(exc).split())
    if "certificate" in text.lower():
        return SpecError(f"the signing certificate was refused: {text}", field="chain")
    return backend_error(exc, "signing")
