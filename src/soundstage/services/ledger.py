"""Read and verify the ledger: assets, lineage and the audit log."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from soundstage.errors import InputError, NotFoundError, QuarantinedError, RefusedError, SoundstageError
from soundstage.files import refuse_existing
from soundstage.media.audio import read_audio
from soundstage.media.images import read_image
from soundstage.media.video import iter_frames
from soundstage.safeguards import audit
from soundstage.safeguards.guard import IngestRequest, format_asset_id, ingest, parse_asset_id
from soundstage.safeguards.ledger_state import LedgerReport, prove_assets, verify_ledger
from soundstage.safeguards.provenance import read_credentials
from soundstage.safeguards.provenance.manifest import AI_SOURCE_TYPES
from soundstage.services.workspace import Workspace
from soundstage.store.models import Asset, AssetEdge, AuditEvent, AuditHead
from soundstage.vfx import sequences
from soundstage.vfx.sequences import SEQUENCE_MEDIA_TYPE, SequenceIndex, read_frame_rgb8


def asset_to_dict(a: Asset) -> dict:
    return {
        "id": format_asset_id(a.id), "kind": a.kind, "name": a.name, "media_type": a.media_type,
        "sha256": a.sha256, "size": a.size, "status": a.status, "job_id": a.job_id,
        "created_at": a.created_at.isoformat() if a.created_at else None, "details": a.details or {},
    }


def list_assets(ws: Workspace, kind: str | None = None) -> list[dict]:
    with ws.reading() as s:
        q = select(Asset).where(Asset.production_id == ws.production_id).order_by(Asset.created_at)
        if kind:
            q = q.where(Asset.kind == kind)
        return [asset_to_dict(a) for a in s.scalars(q)]


def show_asset(ws: Workspace, asset_ref: str) -> dict:
    asset_id = parse_asset_id(asset_ref)
    with ws.reading() as s:
        a = s.get(Asset, asset_id)
        if a is None or a.production_id != ws.production_id:
            raise NotFoundError(f"no asset {asset_ref} in this production")
        out = asset_to_dict(a)
        out["parents"] = [format_asset_id(e.parent_id) for e in
                          s.scalars(select(AssetEdge).where(AssetEdge.child_id == asset_id))]
        out["children"] = [format_asset_id(e.child_id) for e in
                           s.scalars(select(AssetEdge).where(AssetEdge.parent_id == asset_id))]
        return out


def audit_log(ws: Workspace, limit: int | None = None, action: str | None = None, *, actor: str | None = None,
              subject: str | None = None, before: int | None = None) -> list[dict]:
    """The newest `limit` events (oldest first) matching the filters: `action` with * wildcards,
    `actor` and `subject` exactly, and only events with seq < `before` (paging back)."""
    with ws.reading() as s:
        q = select(AuditEvent).order_by(AuditEvent.seq.desc())
        if action:
            q = q.where(AuditEvent.action.like(action.replace("*", "%")))
        if actor:
            q = q.where(AuditEvent.actor == actor)
        if subject:
            q = q.where(AuditEvent.subject == subject)
        if before is not None:
            q = q.where(AuditEvent.seq < before)
        if limit:
            q = q.limit(limit)
        rows = list(s.scalars(q))
    return [{"seq": e.seq, "at": e.at, "actor": e.actor, "action": e.action, "subject": e.subject,
             "payload": json.loads(e.payload), "hash": e.hash} for e in reversed(rows)]


def verify_audit(ws: Workspace, *, deep: bool = False) -> LedgerReport:
    """The hash chain, then the state it proves: every safeguard row is what the log says, every
    asset's stored file is there at its recorded size (``deep``: re-hashed too)."""
    with ws.reading() as s:
        return verify_ledger(s, ws.store, deep=deep)


def prove_asset(ws: Workspace, asset_ref: str) -> None:
    """IntegrityError unless the asset's row (and the lineage that can quarantine it) is what the
    audit log says: before its bytes leave the store."""
    with ws.reading() as s:
        prove_assets(s, [parse_asset_id(asset_ref)])


def audit_head(ws: Workspace) -> dict:
    with ws.reading() as s:
        head = s.get(AuditHead, 1)
        return {"seq": head.seq if head else 0, "hash": head.hash if head else audit.GENESIS}


MEDIA_KINDS = ("plate", "reference", "document", "element", "audio")
#: audio a plate (a production track) or an ``audio`` asset may be: probed by decoding it whole
#: (``media.audio``), at most ``AUDIO_PLATE_SECONDS`` long (what a line replacement reads)
AUDIO_PLATE_TYPES = {".wav": "audio/wav", ".mp3": "audio/mpeg", ".m4a": "audio/mp4", ".flac": "audio/flac"}
AUDIO_PLATE_SECONDS = 600.0
#: what the probe may decode (float32): a 10-minute 48 kHz stereo track is 220 MiB; 8 channels at
#: 192 kHz would be 3.4 GiB, so such a file gets proportionally fewer seconds
AUDIO_PLATE_DECODE_BYTES = 512 * 1024 * 1024


def ingest_media(ws: Workspace, path, *, kind: str = "plate", actor: str, scene: str | None = None,
                 shot: str | None = None) -> dict:
    """Bring a camera plate, reference or document into the ledger as a source asset.

    Images are decoded first (bombs, truncation and non-images are refused before anything is
    stored); videos must decode at least one frame; audio (WAV, MP3, M4A, FLAC; kind ``plate`` or
    ``audio``) is decoded whole, within the bounds of ``_probe_audio``.
    """
    path = Path(path)
    if kind not in MEDIA_KINDS:
        raise InputError(f"unknown asset kind {kind!r} (one of: {', '.join(MEDIA_KINDS)})")
    if not path.is_file():
        raise NotFoundError(f"file not found: {path}")
    suffix = path.suffix.lower()
    details: dict = {"scene": scene, "shot": shot}
    if suffix in (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp"):
        pixels = read_image(path)
        details["size"] = [pixels.shape[1], pixels.shape[0]]
        media_type = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp"}.get(
            suffix, "image/tiff")
    elif suffix in (".exr", ".dpx"):
        pixels = read_frame_rgb8(path)  # header size check, then a full decode
        details["size"] = [pixels.shape[1], pixels.shape[0]]
        media_type = "image/x-exr" if suffix == ".exr" else "image/x-dpx"
    elif suffix in (".mp4", ".mov", ".m4v"):
        first = next(iter_frames(path, max_frames=1))
        details["size"] = [first.shape[1], first.shape[0]]
        media_type = "video/mp4" if suffix != ".mov" else "video/quicktime"
    elif suffix in AUDIO_PLATE_TYPES and kind in ("plate", "audio"):
        details.update(_probe_audio(path))
        media_type = AUDIO_PLATE_TYPES[suffix]
    elif kind == "audio":
        raise InputError(f"{path.name}: an audio asset is one of {', '.join(AUDIO_PLATE_TYPES)}, not "
                         f"{suffix or '(none)'}")
    elif kind == "document":
        media_type = "application/pdf" if suffix == ".pdf" else "application/octet-stream"
    else:
        raise InputError(f"{path.name}: unsupported media type {suffix or '(none)'} for a {kind}")
    declared = declared_ai_origin(path)
    if declared is not None:
        details["c2pa"] = declared
    with ws.unit_of_work() as s:
        asset = ingest(s, ws.store, IngestRequest(production_id=ws.production_id, actor=actor, kind=kind,
                                                  media_type=media_type, name=path.name, path=path,
                                                  details=details))
        return asset_to_dict(asset)


def declared_ai_origin(path: Path) -> dict | None:
    """What an incoming file's own Content Credentials say of AI origin, kept in its ledger row so
    every edit and composite of it declares it too (the guard reads ``details.c2pa``: `guard._ai_made`).

    A plate from another tool's generator, signed ``trainedAlgorithmicMedia``, was ingested with no
    record of that, and a classical cleanup of it was signed ``algorithmicallyEnhanced``: its new
    active manifest - the one viewers read - no longer said AI (red team, issue 13 item 5). Any
    manifest that declares AI origin counts, whoever signed it and whether or not it still validates:
    honouring a claim of AI only ever discloses more. None when the file declares none (or carries
    no manifest: a stripped file cannot be told from a camera original here)."""
    try:
        credentials = read_credentials(path)
    except SoundstageError:
        return None     # a type that carries no embedded manifest, or credentials that cannot be read
    declared = [t for t in credentials.digital_source_types if t in AI_SOURCE_TYPES]
    if not declared:
        return None
    return {"digital_source_type": declared[0], "declared_by": "the file's own Content Credentials",
            "credentials_state": str(credentials.state.value), "signer": credentials.signer_common_name}


def _probe_audio(path) -> dict:
    """Decode an audio plate whole before anything is stored: not audio, truncated to nothing, over
    the size / length / channel bounds of ``media.audio``, over ``AUDIO_PLATE_SECONDS`` or over
    ``AUDIO_PLATE_DECODE_BYTES`` decoded -> refused."""
    head, rate = read_audio(path, max_seconds=0.05, head_only=True)  # the rate and channels, cheaply
    budget = min(AUDIO_PLATE_SECONDS, AUDIO_PLATE_DECODE_BYTES / (rate * head.shape[1] * 4))
    samples, rate = read_audio(path, max_seconds=budget)
    return {"seconds": round(samples.shape[0] / rate, 6), "sample_rate": rate, "channels": int(samples.shape[1])}


def ingest_sequence(ws: Workspace, pattern, *, kind: str = "plate", actor: str, fps=None, scene: str | None = None,
                    shot: str | None = None, progress=None) -> dict:
    """Bring an image sequence (``A001_C005_####.exr``; EXR, DPX or PNG frames) in as one asset.

    Every frame is decoded and hashed first (gaps, mixed sizes, truncated frames and frames over 8K
    are refused before anything is stored); then the frames and their index are stored in one
    transaction. The asset's content is the index, which names each frame by its sha256, so the
    asset hash binds every frame."""
    if kind not in MEDIA_KINDS or kind in ("document", "audio"):
        raise InputError(f"an image sequence cannot be a {kind!r} asset (one of: plate, reference, element)")
    index, paths = sequences.scan_sequence(pattern, fps=fps, progress=progress)
    details = {"scene": scene, "shot": shot, "size": [index.width, index.height], "frames": len(index.frames),
               "first_frame": index.frames[0].number, "last_frame": index.frames[-1].number,
               "fps": f"{index.fps.numerator}/{index.fps.denominator}", "format": index.format,
               "timecode": index.timecode}
    with ws.unit_of_work() as s:
        asset = ingest(s, ws.store, IngestRequest(
            production_id=ws.production_id, actor=actor, kind=kind, media_type=SEQUENCE_MEDIA_TYPE,
            name=index.pattern, data=index.to_bytes(), details=details,
            members=[(path, frame.sha256) for path, frame in zip(paths, index.frames)]))
        return asset_to_dict(asset)


def export_asset(ws: Workspace, asset_ref: str, target, *, actor: str) -> list:
    """Copy an asset out of the store (with its signed .c2pa sidecar when it has one).

    Quarantined assets are never exported: a revoked consent reaches every copy we hand out. Every
    file is hash-checked as it is copied (``AssetStore.export_to``, the same check as the API
    download), written through a temp file beside its target, never over an existing file and
    never through a symlink; a failure leaves nothing behind."""
    asset_id = parse_asset_id(asset_ref)
    target = Path(target)
    with ws.unit_of_work() as s:
        a = s.get(Asset, asset_id)
        if a is None or a.production_id != ws.production_id:
            raise NotFoundError(f"no asset {asset_ref} in this production")
        if a.status != "active":
            raise QuarantinedError(f"asset {asset_ref} ({a.name}) is quarantined after a consent revocation and "
                                   "cannot be exported")
        prove_assets(s, [a.id])  # an un-quarantined or hand-made row is refused (IntegrityError)
        if a.kind == "preview":  # a review preview (issue 15) is shown to approvers, never handed out

            raise RefusedError(f"asset {asset_ref} is a review preview (labelled PREVIEW - NOT FOR USE); it is never "
                               "exported", hint=f"export the job's output once it is approved: soundstage job show "
                               f"{a.job_id}")

        if a.media_type == SEQUENCE_MEDIA_TYPE:
            written = _export_sequence(ws, a, target)
            audit.append(s, production_id=ws.production_id, actor=actor, action="asset.exported",
                         subject=format_asset_id(a.id), payload={"to": str(target), "files": len(written)})
            return written
        if target.is_dir():  # a folder (a symlinked one too); the file written in it is never a link
            target = target / (Path(a.name).name or format_asset_id(a.id))
        _check_export_folder(target.parent)
        sidecar = (a.details or {}).get("c2pa_sidecar_sha256")
        side = target.with_name(target.name + ".c2pa")
        refuse_existing(target)
        if sidecar:
            refuse_existing(side)
        written = [ws.store.export_to(a.sha256, target)]
        if sidecar:
            try:
                written.append(ws.store.export_to(sidecar, side))
            except BaseException:
                target.unlink(missing_ok=True)
                raise
        audit.append(s, production_id=ws.production_id, actor=actor, action="asset.exported",
                     subject=format_asset_id(a.id), payload={"to": str(target)})
        return written


def _check_export_folder(folder) -> None:
    """An export goes into a folder that exists: a typo in --out is bad input, not a new tree."""
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise InputError(f"cannot export into {folder}: the folder {what}",
                         hint=f"create it first with: mkdir -p {folder}; or choose another --out")


def _export_sequence(ws: Workspace, asset: Asset, target) -> list:
    """A sequence exports as its frames (original names, each hash-checked) plus its index, into a
    directory; nothing is overwritten and a failure leaves no partial set behind."""
    target = Path(target)
    if target.is_symlink() and not target.is_dir():
        refuse_existing(target)
    if target.exists() and not target.is_dir():
        raise InputError(f"{target} is a file; an image sequence exports into a directory")
    index = SequenceIndex.from_bytes(b"".join(ws.store.iter_verified(asset.sha256)), source=asset.name)
    names = [f.name for f in index.frames] + [Path(index.pattern).stem.rstrip("#._-") + ".sequence.json"]
    if any(Path(n).name != n for n in names):
        raise InputError(f"sequence {asset.name} names a frame outside its directory")
    created = not target.is_dir()
    if created:
        _check_export_folder(target.parent)
    else:
        for name in names:
            refuse_existing(target / name)
    target.mkdir(exist_ok=True)
    written = []
    try:
        for frame in index.frames:
            written.append(ws.store.export_to(frame.sha256, target / frame.name))
        written.append(ws.store.export_to(asset.sha256, target / names[-1]))
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        if created:
            try:
                target.rmdir()
            except OSError:
                pass
        raise
    return written
