"""Production keys that need the ledger: the secret watermark key (audited)."""

from __future__ import annotations

from soundstage.safeguards import audit
from soundstage.safeguards.watermark import create_key


def create_watermark_key(ws, *, actor: str):
    """A secret watermark key for a workspace made before production keys (audited)."""
    path = create_key(ws.settings.keys_dir)
    with ws.unit_of_work() as s:
        audit.append(s, production_id=ws.production_id, actor=actor, action="keys.created",
                     subject="watermark key", payload={"file": path.name})
    return path
