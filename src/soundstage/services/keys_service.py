"""Production keys that need the ledger: the secret watermark key (audited), and what ``info``
shows of the signing keys."""

from __future__ import annotations

from soundstage.safeguards import audit, keys
from soundstage.safeguards.watermark import KEY_FILE, create_key


def create_watermark_key(ws, *, actor: str):
    """A secret watermark key for a workspace made before production keys (audited)."""
    path = create_key(ws.settings.keys_dir)
    with ws.unit_of_work() as s:
        audit.append(s, production_id=ws.production_id, actor=actor, action="keys.created",
                     subject="watermark key", payload={"file": path.name})
    return path


def signing_status(ws) -> dict:
    """What ``info`` shows of the signing keys: the private key files others can read or write."""
    problems = keys.private_key_problems(ws.settings.keys_dir, (keys.SIGNER_KEY, keys.CA_KEY, KEY_FILE))
    return {"private_key_files": "; ".join(problems) if problems else "owner-only"}
