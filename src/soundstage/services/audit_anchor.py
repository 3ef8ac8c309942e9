"""Anchor the audit chain outside the database: signed checkpoint files, and delivered files as
witnesses (see safeguards/checkpoint.py for the format and what each proves).

``write_checkpoint`` signs the head with the production key and records that it did (an
``audit.checkpointed`` event, after the head it signs); ``check_anchors`` tells, for each checkpoint
file and each delivered file, whether the log still holds the event it vouches for.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import json
import secrets
from pathlib import Path
from typing import Sequence

import httpx

from soundstage.errors import BackendError, InputError, IntegrityError, SoundstageError, SpecError
from soundstage.files import atomic_path
from soundstage.safeguards import audit, checkpoint, keys
from soundstage.safeguards.provenance import CredentialState, read_credentials
from soundstage.services.verify_service import trust_anchors
from soundstage.services.workspace import Workspace
from soundstage.store.models import AuditEvent, AuditHead

#: the whole time-stamp exchange - connect, send, the reply's headers and body - gets this long, as
#: c2pa-rs gives its own TSA client when signing: a TSA that drips its answer cannot hold
#: `audit checkpoint` (and its open ledger transaction) for longer
TSA_DEADLINE_SECONDS = 30.0
#: an RFC 3161 reply is a few KB (a token and the TSA's certificates); anything larger is not one
MAX_TSA_REPLY_BYTES = 64 * 1024
_TSA_HINT = "check [provenance] tsa_url in soundstage.toml and that the TSA is up"
#: a token that is not this request's answer (another nonce, other data, a broken signature)
_BAD_TOKEN_HINT = ("a TSA answers each request with a token over it and its nonce: something on the way to the TSA "
                   "answers in its place, or the TSA is broken; check [provenance] tsa_url (https keeps others off "
                   "the path) or ask the TSA's operator")
_CHAIN_HINT = ("the TSA at [provenance] tsa_url is not one whose CA [provenance] tsa_trust_anchor names: check both "
               "in soundstage.toml, or ask the TSA's operator for its CA certificate")


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
        stamp = None
        if ws.settings.tsa_url is not None:  # before anything is written: no TSA answer, no checkpoint
            document, stamp = _time_stamp(ws, document)
        data = (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
        target = Path(out) if out is not None else (
            ws.settings.exports_dir / f"audit-checkpoint-{seq}-{now.astimezone(dt.timezone.utc):%Y%m%dT%H%M%SZ}.json")
        with atomic_path(target, overwrite=False) as tmp:
            tmp.write_bytes(data)
        payload = {"seq": seq, "hash": head_hash, "at": document["at"], "sha256": hashlib.sha256(data).hexdigest()}
        if stamp is not None:
            payload["time_stamped_at"] = stamp.at.isoformat()
        audit.append(s, production_id=ws.production_id, actor=actor, action="audit.checkpointed",
                     subject=str(seq), payload=payload)
    return {"file": str(target), "production_id": ws.production_id, "seq": seq, "hash": head_hash,
            "at": document["at"], "signer": credentials.subject, "timestamped": stamp is not None,
            "time_stamped_at": stamp.at.isoformat() if stamp is not None else None,
            "tsa": ws.settings.tsa_url if stamp is not None else None}


def _tsa_anchors(ws: Workspace) -> list[bytes]:
    path = ws.settings.tsa_trust_anchor
    if path is None:
        return []
    if not path.is_file():  # in the words of keys.trust_anchors, which refuses it for every other reader
        raise InputError(f"configured trust anchor not found: {path} ([provenance] tsa_trust_anchor)",
                         hint="put the PEM certificate there or fix [provenance] tsa_trust_anchor in soundstage.toml")
    return [path.read_bytes()]


def _time_stamp(ws: Workspace, document: dict) -> tuple[dict, checkpoint.TimeStamp]:
    """Ask the production's TSA for a token over the checkpoint's signature and check it."""
    url = ws.settings.tsa_url  # never with user:password in it: settings refuse that (it would be logged)
    signature = base64.b64decode(document["signature"]["value"])
    nonce = secrets.randbits(63)
    reply = ask_tsa(url, checkpoint.timestamp_request(signature, nonce))
    anchors = _tsa_anchors(ws)
    try:
        token = checkpoint.token_from_reply(reply, source=f"the time-stamp authority {url}")
    except BackendError as exc:
        raise BackendError(f"{exc.message}; no checkpoint was written", hint=_TSA_HINT) from None
    try:
        stamp = checkpoint.verify_timestamp(token, signature, anchors, nonce=nonce)
    except SpecError as exc:
        raise BackendError(f"the time-stamp from {url} does not verify: {exc.message}; no checkpoint was written",
                           hint=_BAD_TOKEN_HINT) from None
    if ws.settings.tsa_trust_anchor is not None and not stamp.trusted:
        raise BackendError(f"the time-stamp from {url} is not signed under [provenance] tsa_trust_anchor "
                           f"({stamp.problem}); no checkpoint was written", hint=_CHAIN_HINT)
    return checkpoint.attach_timestamp(document, token), stamp


def ask_tsa(url: str, query: bytes, *, deadline: float | None = None, max_bytes: int | None = None) -> bytes:
    """POST a DER TimeStampReq to the TSA at `url` and return its reply's body. BackendError, one
    line naming the TSA, when the whole exchange takes longer than `deadline` seconds (default
    TSA_DEADLINE_SECONDS), the reply is over `max_bytes` (MAX_TSA_REPLY_BYTES), or it is not an
    HTTP 200 ``application/timestamp-reply``.

    httpx's timeouts are per network operation: a server sending a byte every few seconds never
    trips them. An overall deadline needs cancellation, so the exchange runs on its own event loop
    under ``asyncio.wait_for`` (the caller is synchronous code)."""
    deadline = TSA_DEADLINE_SECONDS if deadline is None else deadline
    max_bytes = MAX_TSA_REPLY_BYTES if max_bytes is None else max_bytes
    try:
        return asyncio.run(asyncio.wait_for(_exchange(url, query, deadline, max_bytes), deadline))
    except TimeoutError:
        raise BackendError(f"the time-stamp authority {url} did not send a complete answer within {deadline:g} s; "
                           "no checkpoint was written", hint=_TSA_HINT) from None
    except httpx.HTTPError as exc:
        why = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise BackendError(f"the time-stamp authority {url} did not answer ({why}); no checkpoint was written",
                           hint=_TSA_HINT) from None


async def _exchange(url: str, query: bytes, deadline: float, max_bytes: int) -> bytes:
    async with httpx.AsyncClient(timeout=deadline) as client:
        async with client.stream("POST", url, content=query,
                                 headers={"Content-Type": "application/timestamp-query"}) as reply:
            kind = reply.headers.get("content-type", "")
            if reply.status_code != 200 or kind.split(";")[0].strip() != "application/timestamp-reply":
                raise BackendError(f"the time-stamp authority {url} answered HTTP {reply.status_code} "
                                   f"({' '.join(kind.split())[:80] or 'no content type'}); no checkpoint was written",
                                   status=reply.status_code)
            declared = reply.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise BackendError(f"the time-stamp authority {url} offered a {int(declared)}-byte answer, over the "
                                   f"{max_bytes}-byte limit for a time-stamp reply; no checkpoint was written")
            body = bytearray()
            async for chunk in reply.aiter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise BackendError(f"the time-stamp authority {url} sent more than the {max_bytes}-byte limit "
                                       "for a time-stamp reply; no checkpoint was written")
            return bytes(body)


def check_anchors(ws: Workspace, checkpoints: Sequence[Path] = (), witnesses: Sequence[Path] = ()) -> list[dict]:
    """One result per file: ``ok``, the seq and hash it vouches for, and the problem when not ok."""
    anchors_pem = trust_anchors(ws)
    tsa_pem = _tsa_anchors(ws)
    # a checkpoint is signed by the production's key: the TSA's CA vouches for time-stamps only
    signing_pem = [pem for pem in anchors_pem if pem not in tsa_pem]
    results = []
    for path in checkpoints:
        results.append(_check(ws, "checkpoint", Path(path), lambda p: _read_checkpoint(p, signing_pem, tsa_pem)))
    for path in witnesses:
        results.append(_check(ws, "witness", Path(path), lambda p: _read_witness(ws, p, anchors_pem)))
    return results


def _check(ws: Workspace, kind: str, path: Path, read) -> dict:
    result: dict = {"kind": kind, "file": str(path), "ok": False, "seq": None, "hash": None, "problem": ""}
    try:
        anchor = read(path)
        result.update(seq=anchor.seq, hash=anchor.hash, at=anchor.at, time_stamp=anchor.time_stamp,
                      time_stamped_at=anchor.time_stamped_at)
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


def _read_checkpoint(path: Path, anchors_pem: list[bytes], tsa_pem: list[bytes]) -> checkpoint.Anchor:
    if not path.is_file():
        raise checkpoint.AnchorError("the file does not exist")
    if path.stat().st_size > checkpoint.MAX_CHECKPOINT_BYTES:
        raise checkpoint.AnchorError("it is too large to be a checkpoint soundstage wrote")
    if not anchors_pem:
        raise checkpoint.AnchorError("there is no production CA certificate (keys/ca.pem) or configured trust "
                                     "anchor to check its signature against")
    return checkpoint.verify_checkpoint(path.read_bytes(), anchors_pem, tsa_pem)


def _read_witness(ws: Workspace, path: Path, anchors_pem: list[bytes]) -> checkpoint.Anchor:
    """The head a delivered file's Content Credentials carry: believed only when the manifest
    validates and chains to this production's CA (state Trusted)."""
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
