"""Production keys that need the ledger: the signing keys and the secret watermark key, every
creation, import and renewal an audit event.

A signing-keys event (``keys.created`` / ``keys.imported`` / ``keys.renewed``, subject "signing
keys") carries the SHA-256 fingerprints of ca.pem, of the CA the signing chain ends at and of its
leaf. The last one is what the production signs with: ``keys.load_production_signer`` refuses any
other keys (the workspace adopted its key directory, services.workspace), ``audit verify`` names a
certificate in keys/ that differs, and ``info`` says whether keys/ is what the log records.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from soundstage.errors import IntegrityError, SoundstageError
from soundstage.safeguards import audit, guard, keys
from soundstage.safeguards.ledger_state import (
    SIGNING_KEYS_SUBJECT,
    Difference,
    Unprovable,
    recorded_signing_keys,
    signing_key_differences,
)
from soundstage.safeguards.watermark import KEY_FILE, create_key


def create_watermark_key(ws, *, actor: str):
    """A secret watermark key for a workspace made before production keys (audited)."""
    path = create_key(ws.settings.keys_dir)
    with ws.unit_of_work() as s:
        audit.append(s, production_id=ws.production_id, actor=actor, action="keys.created",
                     subject="watermark key", payload={"file": path.name})
    return path


def record_signing_keys(s, ws, *, action: str, actor: str, encrypted: bool | None = None) -> dict:
    """Append the event that records the keys now in keys/ (inside the caller's transaction)."""
    directory = ws.settings.keys_dir
    payload = {**keys.fingerprints(directory).to_payload(), "chain": keys.CHAIN}
    expires = keys.signing_certificate_expiry(directory)
    if expires is not None:
        payload["leaf_not_after"] = expires.isoformat()
    if encrypted is not None:
        payload["encrypted"] = encrypted
    audit.append(s, production_id=ws.production_id, actor=actor, action=action, subject=SIGNING_KEYS_SUBJECT,
                 payload=payload)
    return payload


def create_signing_keys(ws, passphrase: str | None, *, passphrase_env: str | None = None, actor: str) -> dict:
    """A new production CA and claim-signing certificate in keys/ (refuses to overwrite), recorded
    in the audit log: from then on the production signs with these keys and no others. Returns
    the paths, the fingerprints and the CA the log recorded before (None: none)."""
    directory = ws.settings.keys_dir
    with ws.unit_of_work() as s:
        before = recorded_signing_keys(s)
        paths = keys.create_production_ca(directory, ws.settings.title, passphrase, passphrase_env=passphrase_env)
        recorded = record_signing_keys(s, ws, action="keys.created", actor=actor, encrypted=passphrase is not None)
    return {"paths": paths, "recorded": recorded, "previous": before}


def import_signing_keys(ws, chain_pem: bytes, key_pem: bytes, passphrase: str | None, *,
                        passphrase_env: str | None = None, actor: str) -> dict:
    """Store a chain issued elsewhere (keys.import_signing_credentials) and record it."""
    with ws.unit_of_work() as s:
        paths = keys.import_signing_credentials(ws.settings.keys_dir, chain_pem, key_pem, passphrase,
                                                passphrase_env=passphrase_env)
        recorded = record_signing_keys(s, ws, action="keys.imported", actor=actor, encrypted=passphrase is not None)
    return {"paths": paths, "recorded": recorded}


def renew_signing_certificate(ws, *, actor: str, validity_days: int = 730, now: dt.datetime | None = None) -> dict:
    """A new signing certificate from the SAME production CA (keys.renew_signing_certificate), so
    files signed before stay trusted, recorded as ``keys.renewed``. The CA in keys/ must be the one
    the audit log records (a swapped CA is not renewed into the record); the old leaf need not be
    (a renewal whose event was lost is renewed again)."""
    directory = ws.settings.keys_dir
    with ws.unit_of_work() as s:
        before = recorded_signing_keys(s, "nothing was renewed")
        if before is not None:
            swapped = [m for m in keys.recorded_mismatches(directory, before) if m.field != "leaf_sha256"]
            if swapped:
                raise IntegrityError(f"{swapped[0].message(before.seq)}; nothing was renewed",
                                     hint="restore the CA the audit log records; a new CA is made with "
                                          "soundstage keys init")
        keys.renew_signing_certificate(directory, validity_days=validity_days, now=now)
        recorded = record_signing_keys(s, ws, action="keys.renewed", actor=actor)
    return {"recorded": recorded, "previous": before, "expires": keys.signing_certificate_expiry(directory)}


def check_signer_ready(ws, *, now: dt.datetime | None = None, runs_for: dt.timedelta = keys.SIGNING_MARGIN):
    """Whether a job's outputs could be signed now: the production signer loads, is the one the
    audit log records, and its certificate outlives the run; else the one-line error with its fix.
    The check every claim makes before a backend runs (``guard.check_signer_ready``)."""
    return guard.check_signer_ready(ws, now=now, runs_for=runs_for)


def verify_signing_keys(ws) -> tuple[list[Difference], list[Unprovable]]:
    """``audit verify`` on keys/: each certificate that is not the one the audit log records last."""
    with ws.db.transaction() as s:
        return signing_key_differences(s, ws.settings.keys_dir)


def with_signing_keys(ws, report):
    """A ``services.ledger.verify_audit`` report with keys/ checked too (when the chain held): each
    certificate that differs from the record is one more difference, keys recorded before
    fingerprints were are unprovable."""
    if report.state is not None:
        differences, unprovable = verify_signing_keys(ws)
        report.state.differences.extend(differences)
        report.state.unprovable.extend(unprovable)
    return report


def signing_status(ws) -> dict:
    """What ``info`` shows of the signing keys: the CA's fingerprint, whether keys/ is what the
    audit log records, and the private key files others can read or write."""
    directory: Path = ws.settings.keys_dir
    found = keys.fingerprints(directory)
    problems = keys.private_key_problems(directory, (keys.SIGNER_KEY, keys.CA_KEY, KEY_FILE))
    try:
        with ws.db.transaction() as s:
            recorded = recorded_signing_keys(s, "the key directory cannot be checked")
    except SoundstageError as exc:
        status = exc.one_line()
    else:
        if recorded is None:
            status = ("not recorded (made before soundstage recorded signing keys; soundstage keys renew or import "
                      "records them)")
        else:
            mismatches = keys.recorded_mismatches(directory, recorded)
            status = (f"DIFFER from the audit log: {mismatches[0].message(recorded.seq)}" if mismatches
                      else f"as the audit log records ({recorded.action}, event #{recorded.seq})")
    return {"signing_ca_sha256": found.anchor_sha256 or found.ca_sha256, "signing_keys": status,
            "private_key_files": "; ".join(problems) if problems else "owner-only"}
