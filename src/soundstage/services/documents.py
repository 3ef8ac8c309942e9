"""Every PDF soundstage writes carries Content Credentials: ``publish_pdf`` is the one way out.

Storyboard sheets, the look-book, breakdown sheets and the disclosure report are rendered by
soundstage itself (ReportLab), not by a model, so each is signed with the production signer as
a ``c2pa.created`` document of IPTC ``algorithmicMedia`` (PROCEDURAL), titled, with our record
(``io.soundstage.production``: production, the audit head it was signed at, what the document is
and which assets it shows). When a frame it shows was made by a trained model, the document is a
composite of those frames: ``compositeWithTrainedAlgorithmicMedia``, every signed frame a
``componentOf`` ingredient carrying its own manifest, so a viewer still says "made with AI".

Embedded or sidecar: c2pa-python 0.38.1 (c2pa-rs 0.91.3) writes a manifest store into a PDF (it
rewrites the file with the store as an associated embedded file, ``/AF`` of type application/c2pa;
text and pages stay) and reads it back Trusted; c2pa-wasm 0.13.3, ExifTool 13.59 and poppler read it
(measured 2026-12-06 on 1- to 11-page ReportLab files up to 2.9 MB: signing adds ~0.2 s and ~3 KB to
the 63-panel storyboard of the sample script, 12 ms and 4 KB to its breakdown sheets). So the
manifest is **embedded**. ``PDF_BINDING = "sidecar"`` is the one-line switch to a per-file
``X.pdf.c2pa`` whose data hash covers the PDF's bytes (``signing.sign_sidecar``), for a library that
cannot write PDF; then the API's PDF downloads (``/script/reports/sheets``,
``/disclosure?format=pdf``) would hand out the PDF without its sidecar.

The renderer writes into a private temporary folder beside the target; only the signed file is
moved into place, so no unsigned PDF is ever left where a person would pick it up, and a failure
leaves the previous file (if any) untouched.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Generic, Literal, Sequence, TypeVar

from soundstage import __version__
from soundstage.errors import WorkspaceError
from soundstage.safeguards import keys
from soundstage.safeguards.provenance import (
    AI_SOURCE_TYPES, IngredientSource, ManifestSpec, Operation, SoftwareAgent, SoundstageRecord, sign_file, signing,
)
from soundstage.safeguards.provenance.media import sidecar_candidates
from soundstage.services.ledger import audit_head
from soundstage.services.workspace import Workspace

__all__ = ["PDF_BINDING", "DocumentFrame", "SignedDocument", "publish_pdf", "document_spec", "sidecar_path"]

#: how a PDF's manifest is bound to it: "embedded" in the file, or "sidecar" beside it
PDF_BINDING: Literal["embedded", "sidecar"] = "embedded"

T = TypeVar("T")


@dataclass(frozen=True)
class DocumentFrame:
    """A picture a document shows: a signed asset of the ledger (stored file and its source type)."""

    asset_id: str
    path: Path
    name: str = ""
    digital_source_type: str | None = None
    signed: bool = True


@dataclass(frozen=True)
class SignedDocument(Generic[T]):
    path: Path
    sidecar: Path | None  # the .c2pa beside the PDF when PDF_BINDING is "sidecar"
    manifest_label: str
    sha256: str  # of the PDF as written
    operation: str  # "procedural" or "composite"
    rendered: T  # what the renderer returned (a page count, the path...)


def sidecar_path(pdf: Path) -> Path:
    """Where a PDF's sidecar lives: ``X.pdf.c2pa`` beside it, the first name ``soundstage verify`` looks for."""
    return sidecar_candidates(Path(pdf))[0]


def document_spec(ws: Workspace, *, title: str, document: str, frames: Sequence[DocumentFrame] = (),
                  description: str | None = None) -> ManifestSpec:
    """The manifest spec of a document soundstage rendered (pure apart from reading the audit head)."""
    head = audit_head(ws)
    unique: dict[str, DocumentFrame] = {}
    for frame in frames:  # a frame shown twice is one ingredient
        unique.setdefault(frame.asset_id, frame)
    frames = list(unique.values())
    made_with_ai = any(f.signed and f.digital_source_type in AI_SOURCE_TYPES for f in frames)
    components = tuple(IngredientSource(f"{f.name or f.asset_id} ({f.asset_id})", path=f.path)
                       for f in frames if f.signed) if made_with_ai else ()
    extra: dict[str, object] = {"document": document}
    if frames:
        extra["frames"] = [f.asset_id for f in frames]
    return ManifestSpec(
        operation=Operation.COMPOSITE if made_with_ai else Operation.PROCEDURAL,
        title=title,
        generator=SoftwareAgent("soundstage", __version__),
        components=components,
        component_ai_origin=made_with_ai,
        record=SoundstageRecord(ws.production_id, job_id="", asset_id="", extra=extra,
                                audit_head=(head["seq"], head["hash"]) if head["seq"] else None),
        description=description or f"{document} rendered by soundstage (no trained model)"
        + (f"; shows {len(components)} frames made with a trained model" if made_with_ai else ""),
    )


def publish_pdf(ws: Workspace, target: Path, render: Callable[[Path], T], *, title: str, document: str,
                frames: Sequence[DocumentFrame] = (), description: str | None = None) -> SignedDocument[T]:
    """Render a PDF with ``render(path)`` and put it at ``target`` signed by the production.

    ``document`` names the kind (storyboard, lookbook, breakdown_sheets, disclosure); ``frames``
    are the signed assets it shows. Every PDF soundstage writes goes through here."""
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WorkspaceError(f"cannot create {target.parent}: {exc.strerror or exc}") from exc
    spec = document_spec(ws, title=title, document=document, frames=frames, description=description)
    credentials = keys.load_production_signer(ws.settings.keys_dir, tsa_url=ws.settings.tsa_url)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}.") as tmp:
        unsigned = Path(tmp) / target.name
        rendered = render(unsigned)
        if not unsigned.is_file():
            raise WorkspaceError(f"the {document} renderer wrote no PDF")
        if PDF_BINDING == "sidecar":
            staged = Path(tmp) / (target.name + ".c2pa")
            result = signing.sign_sidecar(unsigned, staged, spec, credentials)
            os.replace(unsigned, target)
            os.replace(staged, sidecar_path(target))
            sidecar: Path | None = sidecar_path(target)
        else:
            result = sign_file(unsigned, target, spec, credentials)
            sidecar = None
            stale = sidecar_path(target)
            if stale.is_file() and not stale.is_symlink():
                stale.unlink()  # a sidecar from an earlier run would now describe other bytes
    return SignedDocument(target, sidecar, result.manifest_label, result.sha256, spec.operation.value, rendered)

