"""Anchor the audit chain outside the database: signed checkpoint files, and delivered files as
witnesses (see safeguards/checkpoint.py for the format and what each proves).

``write_checkpoint`` signs the head with the production key and records that it did (an
``audit.checkpointed`` event, after the head it signs); ``check_anchors`` tells, for each checkpoint
file and each delivered file, whether the log still holds the event it vouches for.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Sequence

from soundstage.errors import IntegrityError, SoundstageError
from soundstage.files import atomic_path
from soundstage.safeguards import audit, checkpoint, keys
from soundstage.services.verify_service import trust_anchors
from soundstage.services.workspace import Workspace
from soundstage.store.models import AuditEvent, AuditHead


def write_checkpoint(ws: Workspace, out: Path | None = None, *, actor: str,
                     now: dt.datetime | None = None) -> dict:
    """Sign the current head into a new checkpoint file (never over an existing one); refuses
    to vouch for a chain that does not verify."""
    now = now or dt.datetime.now(dt.timezone.utc)
    credentials = keys.load_production_signer(ws.settings.keys_dir, now=now)
    with ws.unit_of_work() as s:
        report = audit.verify_session(s)
        if not report.ok:
            raise IntegrityError(f"audit log broken at event #{report.first_bad_seq}: {report.problem}; "
                                 "not signing a checkpoint of it")
        head = s.get(AuditHead, 1)
        seq, head_hash = (head.seq, head.hash) if head is not None else (0, audit.GENESIS)
        document = checkpoint.sign_checkpoint(credentials, production_id=ws.production_id, seq=seq,
                                              head_hash=head_hash, at=now)
        data = (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
        target = Path(out) if out is not None else (
            ws.settings.exports_dir / f"audit-checkpoint-{seq}-{now.astimezone(dt.timezone.utc):%Y%m%dT%H%M%SZ}.json")
        with atomic_path(target, overwrite=False) as tmp:
            tmp.write_bytes(data)
        audit.append(s, production_id=ws.production_id, actor=actor, action="audit.checkpointed",
                     subject=str(seq), payload={"seq": seq, "hash": head_hash, "at": document["at"],
                                                "sha256": hashlib.sha256(data).hexdigest()})
    return {"file": str(target), "production_id": ws.production_id, "seq": seq, "hash": head_hash,
            "at": document["at"], "signer": credentials.subject, "timestamped": False}


def check_anchors(ws: Workspace, checkpoints: Sequence[Path] = (), witnesses: Sequence[Path] = ()) -> list[dict]:
    """One result per file: ``ok``, the seq and hash it vouches for, and the problem when not ok."""
    anchors_pem = trust_anchors(ws)
    results = []
    for path in checkpoints:
        results.append(_check(ws, "checkpoint", Path(path), lambda p: _read_checkpoint(p, anchors_pem)))
    for path in witnesses:
        results.append(_check(ws, "witness", Path(path), lambda p: _read_witness(ws, p, anchors_pem)))
    return results


def _check(ws: Workspace, kind: str, path: Path, read) -> dict:
    result: dict = {"kind": kind, "file": str(path), "ok": False, "seq": None, "hash": None, "problem": ""}
    try:
        anchor = read(path)
        result.update(seq=anchor.seq, hash=anchor.hash, at=anchor.at)
        with ws.unit_of_work() as s:
            head = s.get(AuditHead, 1)
            event = s.get(AuditEvent, anchor.seq) if anchor.seq else None
            checkpoint.compare_with_chain(anchor, production_id=ws.production_id,
                                          head_seq=head.seq if head is not None else 0,
                                          hash_at_seq=event.hash if event is not None else None)
    except SoundstageError as exc:
        result["problem"] = f"{kind} {path.name}: {exc.one_line()}"
        return result
    result["ok"] = True
    return result


def _read_checkpoint(path: Path, anchors_pem: list[bytes]) -> checkpoint.Anchor:
    if not path.is_file():
        raise checkpoint.AnchorError("the file does not exist")
    if path.stat().st_size > checkpoint.MAX_CHECKPOINT_BYTES:
        raise checkpoint.AnchorError("it is too large to be a checkpoint soundstage wrote")
    if not anchors_pem:
        raise checkpoint.AnchorError("there is no production CA certificate (keys/ca.pem) or configured trust "
                                     "anchor to check its signature against")
    return checkpoint.verify_checkpoint(path.read_bytes(), anchors_pem)


def _read_witness(ws: Workspace, path: Path, anchors_pem: list[bytes]) -> checkpoint.Anchor:
    """The head a delivered file's Content Credentials carry: believed only when the manifest
    validates and chains to this production's CA (state Trusted)."""
    from soundstage.safeguards.provenance import CredentialState, read_credentials

    if not path.is_file():
        raise checkpoint.AnchorError("the file does not exist")
    creds = read_credentials(path, trust_anchors=anchors_pem or None)
    if creds.state is CredentialState.ABSENT:
        raise checkpoint.AnchorError("it carries no Content Credentials")
    if creds.state is CredentialState.INVALID:
        codes = ", ".join(creds.failure_codes or creds.status_codes) or "no detail"
        raise checkpoint.AnchorError(f"its Content Credentials do not validate ({codes})")
    if creds.state is not CredentialState.TRUSTED:
        raise checkpoint.AnchorError("its Content Credentials are not signed under this production's CA")
    anchor = checkpoint.anchor_from_record(creds.soundstage)
    if anchor is None:
        raise checkpoint.AnchorError("its Content Credentials carry no audit head (signed before heads were "
                                     "recorded, or not a soundstage output)")
    return anchor
