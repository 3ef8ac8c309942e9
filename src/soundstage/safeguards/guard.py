"""The one guarded path: the only code that may write an asset.

Every asset enters the ledger through here, in a fixed order. Source material (a screenplay, a
camera plate) is *ingested*: hashed, stored, registered and audited. Generative and altering
jobs add the safeguard steps in front (model registry, consent, policy, approvals) and the
marking steps behind (watermark, C2PA) - see ``docs/decisions`` for the order.

The asset store refuses a write without a ``WriteGrant`` minted here.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy.orm import Session

from soundstage.safeguards import audit
from soundstage.store.assets import AssetStore, WriteGrant
from soundstage.store.models import Asset, AssetEdge

_GRANT_KEY = object()  # only this module can mint write grants

ASSET_ID_BITS = 63  # the watermark carries the asset id; 63 bits keeps it a positive BIGINT


def new_asset_id() -> int:
    while True:
        value = secrets.randbits(ASSET_ID_BITS)
        if value:
            return value


def format_asset_id(value: int) -> str:
    return f"{value:016x}"


def parse_asset_id(text: str) -> int:
    from soundstage.errors import InputError

    try:
        value = int(text.strip().removeprefix("A-").removeprefix("a-"), 16)
    except ValueError:
        raise InputError(f"not an asset id: {text!r} (expected 16 hex digits)") from None
    if not 0 < value < (1 << ASSET_ID_BITS):
        raise InputError(f"not an asset id: {text!r}")
    return value


def _grant(job_id: str) -> WriteGrant:
    return WriteGrant(job_id, _key=_GRANT_KEY)


@dataclass
class IngestRequest:
    """Source material entering the production as-is (no model touched it)."""

    production_id: str
    actor: str
    kind: str  # screenplay | plate | document | reference_image ...
    media_type: str
    name: str
    data: bytes | None = None
    path: Path | None = None
    parents: list[int] = field(default_factory=list)
    details: dict = field(default_factory=dict)


def ingest(session: Session, store: AssetStore, req: IngestRequest) -> Asset:
    """Store, register and audit one source asset inside the caller's transaction."""
    grant = _grant(f"ingest:{req.kind}")
    if req.data is not None:
        blob = store.put_bytes(req.data, grant)
    elif req.path is not None:
        blob = store.put_file(req.path, grant)
    else:  # pragma: no cover - programming error
        raise ValueError("IngestRequest needs data or path")
    asset = Asset(
        id=new_asset_id(), production_id=req.production_id, sha256=blob.sha256, kind=req.kind,
        media_type=req.media_type, name=req.name, size=blob.size, status="active", job_id=None,
        details=req.details, created_at=datetime.now(timezone.utc),
    )
    session.add(asset)
    session.flush()
    for parent in req.parents:
        session.add(AssetEdge(child_id=asset.id, parent_id=parent, relation="derived_from"))
    audit.append(session, production_id=req.production_id, actor=req.actor, action="asset.ingested",
                 subject=format_asset_id(asset.id),
                 payload={"kind": req.kind, "name": req.name, "sha256": blob.sha256, "size": blob.size,
                          "parents": [format_asset_id(p) for p in req.parents]})
    return asset
