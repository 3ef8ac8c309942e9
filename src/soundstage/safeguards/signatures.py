"""Approvals and consents are signatures: each person's Ed25519 key, and the checks the guard runs
before it trusts a row.

Keys. A person's private key is derived from one of their credentials (an ``sst_`` token) with
HKDF, so it exists only while a request that presented the credential is being served, and is
never stored. The ledger keeps the public key, in a ``person_key`` row with a *certificate*: the
key, its person, the roles they held and the credential it belongs to, signed by the key of the
person who issued the credential. Only holders of an issuing role (``ISSUER_ROLES``: those who add
crew) certify other people's keys; a person may certify their own next key (rotation). The chain
ends at the production's identity root, the first credential's key, whose public key is recorded
on the production row when the production is created (and printed then, to be kept elsewhere).

Rows. An approval stores the approver's signature over canonical JSON of (production, job, spec
digest, role, verdict, note, person, key, time) and, when the approver was shown a review preview,
its sha256 (payload v2; a verdict without one is the v1 payload, so older verdicts still verify). A consent stores a list of signed actions
(granted, then any revoked / suspended / resumed), each over the consent's content, the state it
left the consent in, and the hash of the previous action's signature. ``verify_approvals`` and
``verify_consents`` raise ``IntegrityError`` naming the row when a signature does not verify, the
key is not the named person's, the signer's *certified* roles did not allow it, or the row's state
is not the state its last signature covers. See docs/design/trust-model.md for what this does and
does not protect against.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from soundstage.clock import as_utc
from soundstage.domain.canonical import canonical_bytes
from soundstage.domain.permissions import CONSENT_ACTIONS, ISSUER_ROLES, may_act_for_performer
from soundstage.errors import IntegrityError
from soundstage.store.models import AuditEvent, ConsentRecord, Person, PersonKey, Production

SCHEME = 1
_KEY_SALT = b"soundstage person signing key v1"
#: the longest certificate chain followed (root -> issuer -> ... -> key)
MAX_CHAIN = 16


# ---------------------------------------------------------------- primitives

def canonical(data: Any) -> bytes:
    return canonical_bytes(data)


def iso(dt: datetime | None) -> str | None:
    """A timestamp as signed: UTC, microseconds (the precision both SQLite and PostgreSQL keep)."""
    if dt is None:
        return None
    aware = dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)
    return aware.astimezone(timezone.utc).isoformat(timespec="microseconds")


def _parse(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def derive_seed(secret: str, production_id: str) -> bytes:
    """The 32-byte Ed25519 seed a credential stands for (HKDF-SHA256; the token's stored sha256 is
    a different function of it and reveals nothing about the seed)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=_KEY_SALT,
                info=production_id.encode("utf-8")).derive(secret.encode("utf-8", "surrogatepass"))


def key_id_for(public_hex: str) -> str:
    return "k-" + hashlib.sha256(bytes.fromhex(public_hex)).hexdigest()[:32]


@dataclass(frozen=True)
class Signer:
    """A person's private key for the length of one request; made from a credential (or a web
    session's sealed copy) and dropped with the request. Never stored, never logged."""

    person_id: str
    name: str
    key_id: str
    _key: Ed25519PrivateKey = field(repr=False, compare=False)

    @classmethod
    def from_seed(cls, person_id: str, name: str, seed: bytes) -> "Signer":
        key = Ed25519PrivateKey.from_private_bytes(seed)
        return cls(person_id, name, key_id_for(public_hex(key)), key)

    @property
    def public_hex(self) -> str:
        return public_hex(self._key)

    def seed(self) -> bytes:
        return self._key.private_bytes_raw()

    def sign(self, content: dict) -> str:
        return self._key.sign(canonical(content)).hex()


def public_hex(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes_raw().hex()


# ---------------------------------------------------------------- what is signed

def certificate_content(production_id: str, *, key_id: str, public_key: str, person_id: str, name: str,
                        roles: Iterable[str], token_id: str | None, issuer: str | None, issued_at: datetime) -> dict:
    return {"v": SCHEME, "type": "person_key", "production": production_id, "key": key_id, "public_key": public_key,
            "person": person_id, "name": name, "roles": sorted(set(roles)), "token": token_id, "issuer": issuer,
            "issued_at": iso(issued_at)}


#: the signed approval payload that also names the review preview the approver was shown (issue 15);
#: a verdict without a preview is signed (and verified) as the v1 payload, so older verdicts verify
APPROVAL_WITH_PREVIEW = 2


def approval_content(production_id: str, *, job_id: str, spec_digest: str | None, role: str, verdict: str,
                     note: str, person_id: str, key_id: str, at: datetime, preview_sha256: str | None = None) -> dict:
    content = {"v": SCHEME, "type": "approval", "production": production_id, "job": job_id,
               "spec_digest": spec_digest, "role": role, "verdict": verdict, "note": note, "person": person_id,
               "key": key_id, "at": iso(at)}
    if preview_sha256 is not None:  # versioned: a v1 signature never verifies with a preview added, nor the reverse
        content.update(v=APPROVAL_WITH_PREVIEW, preview=preview_sha256)
    return content


def consent_content(production_id: str, rec: ConsentRecord, entry: dict) -> dict:
    """One signed consent action: the consent as granted (row columns), the state the action left
    it in, who did it, when, why, and the previous action's signature hash (a chain per consent)."""
    return {"v": SCHEME, "type": "consent", "production": production_id, "consent": rec.id,
            "performer": rec.performer_id, "data": rec.data, "document_asset_id": rec.document_asset_id,
            **{k: entry.get(k) for k in ("action", "revoked_at", "suspended", "reason", "person", "key", "at",
                                         "prev")}}


def sign_approval(signer: Signer, production_id: str, *, job_id: str, spec_digest: str | None, role: str,
                  verdict: str, note: str, at: datetime, preview_sha256: str | None = None) -> str:
    return signer.sign(approval_content(production_id, job_id=job_id, spec_digest=spec_digest, role=role,
                                        verdict=verdict, note=note, person_id=signer.person_id,
                                        key_id=signer.key_id, at=at, preview_sha256=preview_sha256))


def sign_consent_action(rec: ConsentRecord, signer: Signer, production_id: str, *, action: str, reason: str,
                        at: datetime) -> dict:
    """Append a signed action to the consent, covering the row as it now is (set ``revoked_at`` /
    ``suspended`` first)."""
    if action not in CONSENT_ACTIONS:
        raise ValueError(f"not a consent action: {action}")
    history = list(rec.signatures or [])
    entry = {"action": action, "revoked_at": iso(rec.revoked_at), "suspended": bool(rec.suspended),
             "reason": reason, "person": signer.person_id, "key": signer.key_id, "at": iso(at),
             "prev": _link(history[-1]) if history else ""}
    entry["sig"] = signer.sign(consent_content(production_id, rec, entry))
    rec.signatures = [*history, entry]
    return entry


def _link(entry: dict) -> str:
    return hashlib.sha256(str(entry.get("sig", "")).encode()).hexdigest()


# ---------------------------------------------------------------- verification

@dataclass(frozen=True)
class CertifiedKey:
    """A key whose certificate chain verified to the production's identity root."""

    key_id: str
    person_id: str
    roles: frozenset[str]
    public: Ed25519PublicKey
    issued_at: datetime
    revoked_at: datetime | None


class Verifier:
    """Checks keys, approvals and consents of one production inside one transaction (keys are
    verified once each per verifier)."""

    def __init__(self, s: Session, production_id: str) -> None:
        self.s = s
        self.production_id = production_id
        self._keys: dict[str, CertifiedKey] = {}

    # -- keys

    def key(self, key_id: str, _depth: int = 0) -> CertifiedKey:
        if key_id in self._keys:
            return self._keys[key_id]
        if _depth > MAX_CHAIN:
            raise IntegrityError(f"key {key_id}: its certificate chain is longer than {MAX_CHAIN} (a loop?)")
        row = self.s.get(PersonKey, key_id) if isinstance(key_id, str) else None
        if row is None or row.production_id != self.production_id:
            raise IntegrityError(f"key {key_id} is not registered in this production")
        try:
            cert = json.loads(row.certificate)
            public = Ed25519PublicKey.from_public_bytes(bytes.fromhex(row.public_key))
            issued_at = _parse(cert["issued_at"])
        except (ValueError, TypeError, KeyError):
            raise IntegrityError(f"key {key_id}: its certificate cannot be read") from None
        expected = {"type": "person_key", "production": self.production_id, "key": row.id,
                    "public_key": row.public_key, "person": row.person_id, "issuer": row.issuer_key_id}
        if any(cert.get(k) != v for k, v in expected.items()) or key_id_for(row.public_key) != row.id:
            raise IntegrityError(f"key {key_id}: the row does not match its certificate (edited)")
        issuer_id = cert.get("issuer")
        if issuer_id is None:
            production = self.s.get(Production, self.production_id)
            if production is None or production.identity_root != row.public_key:
                raise IntegrityError(f"key {key_id} certifies itself but is not the production's identity root")
            issuer_public = public
        else:
            issuer = self.key(issuer_id, _depth + 1)
            if issuer.revoked_at is not None and issued_at > issuer.revoked_at:
                raise IntegrityError(f"key {key_id} was certified by {issuer_id} after that key was revoked")
            self_rotation = issuer.person_id == row.person_id and set(cert.get("roles") or ()) <= issuer.roles
            if not (issuer.roles & ISSUER_ROLES or self_rotation):
                raise IntegrityError(f"key {key_id} was certified by {issuer_id}, whose holder may not issue "
                                     "credentials")
            issuer_public = issuer.public
        _verify(issuer_public, row.signature, row.certificate.encode("utf-8"), f"the certificate of key {key_id}")
        certified = CertifiedKey(row.id, row.person_id, frozenset(cert.get("roles") or ()), public, issued_at,
                                 as_utc(row.revoked_at))
        self._keys[key_id] = certified
        return certified

    def _signer_key(self, key_id: str | None, person_id: str, at: datetime, label: str) -> CertifiedKey:
        if not key_id:
            raise IntegrityError(f"{label} is not signed; nothing ran",
                                 hint="verdicts and consents are signed by the person who gives them: give it "
                                      "again with a credential")
        try:
            key = self.key(key_id)
        except IntegrityError as exc:
            raise IntegrityError(f"{label}: {exc.message}; nothing ran") from None
        if key.person_id != person_id:
            raise IntegrityError(f"{label} names {person_id} but was signed with the key of {key.person_id}; "
                                 "nothing ran")
        if key.revoked_at is not None and at > key.revoked_at:
            raise IntegrityError(f"{label} was signed with key {key_id} after it was revoked; nothing ran")
        return key

    # -- approvals

    def approvals(self, job, rows: Iterable) -> None:
        """Every verdict on ``job``: signed by the person it names, over this job and spec, in a role
        their certificate gives them, for a performer they represent, and not by the requester."""
        for a in rows:
            label = f"the {a.role} verdict on job {job.id} (approval #{a.id})"
            key = self._signer_key(a.key_id, a.person_id, as_utc(a.at), label)
            content = approval_content(self.production_id, job_id=a.job_id, spec_digest=a.spec_digest, role=a.role,
                                       verdict=a.verdict, note=a.note or "", person_id=a.person_id,
                                       key_id=a.key_id, at=a.at, preview_sha256=a.preview_sha256)
            if a.job_id != job.id:
                raise IntegrityError(f"{label} belongs to job {a.job_id}; nothing ran")
            _verify(key.public, a.signature, canonical(content), label)
            base, _, performer_id = a.role.partition(":")
            if base not in key.roles:
                raise IntegrityError(f"{label}: its signer's certified roles ({', '.join(sorted(key.roles))}) do "
                                     f"not include {base}; nothing ran")
            if performer_id and a.person_id not in _representatives(self.s.get(Person, performer_id)):
                raise IntegrityError(f"{label}: its signer does not represent performer {performer_id}; nothing ran")
            person = self.s.get(Person, a.person_id)
            requester = (job.requested_by or "").casefold()
            if a.person_id.casefold() == requester or (person is not None and person.name.casefold() == requester):
                raise IntegrityError(f"{label} was given by the job's own requester; nothing ran")

    # -- consents

    def consents(self, performer_ids: Iterable[str]) -> None:
        for pid in performer_ids:
            reps = _representatives(self.s.get(Person, pid))
            for rec in self.s.scalars(select(ConsentRecord).where(ConsentRecord.performer_id == pid)):
                self.consent(rec, reps)

    def consent(self, rec: ConsentRecord, representatives: set[str]) -> None:
        label = f"consent {rec.id}"
        history = rec.signatures or []
        if not history:
            raise IntegrityError(f"{label} is not signed; nothing ran",
                                 hint="a consent is recorded by the signature of whoever granted it: grant it "
                                      "again with a credential")
        prev = ""
        for position, entry in enumerate(history):
            what = f"{label} ({entry.get('action')} #{position + 1})" if isinstance(entry, dict) else label
            if not isinstance(entry, dict) or entry.get("prev") != prev:
                raise IntegrityError(f"{what}: its signed history was cut, reordered or edited; nothing ran")
            action = entry.get("action")
            if action not in CONSENT_ACTIONS or (position == 0) != (action == "granted"):
                raise IntegrityError(f"{what}: not a consent action in order; nothing ran")
            at = _parse(entry.get("at")) if isinstance(entry.get("at"), str) else None
            if at is None:
                raise IntegrityError(f"{what}: no signing time; nothing ran")
            key = self._signer_key(entry.get("key"), str(entry.get("person")), at, what)
            _verify(key.public, entry.get("sig"), canonical(consent_content(self.production_id, rec, entry)), what)
            if not may_act_for_performer(key.roles, key.person_id, representatives, CONSENT_ACTIONS[action]):
                raise IntegrityError(f"{what}: its signer may not {CONSENT_ACTIONS[action]} for this performer "
                                     "(certified roles: " + (", ".join(sorted(key.roles)) or "none") + "); nothing ran")
            prev = _link(entry)
        last = history[-1]
        if last.get("revoked_at") != iso(rec.revoked_at) or bool(last.get("suspended")) != bool(rec.suspended):
            raise IntegrityError(f"{label}: its revoked/suspended state is not the state its last signature covers "
                                 "(edited, or a signed action removed); nothing ran")
        recorded = self.s.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.subject == rec.id,
            AuditEvent.action.in_([f"consent.{a}" for a in CONSENT_ACTIONS])))
        if recorded != len(history):
            raise IntegrityError(f"{label}: the audit log records {recorded} consent action(s), its signatures "
                                 f"{len(history)} (a signed action was removed); nothing ran",
                                 hint="soundstage audit verify; compare the audit head with an outside copy")


def verify_key(s: Session, production_id: str, key_id: str) -> CertifiedKey:
    return Verifier(s, production_id).key(key_id)


def verify_approvals(s: Session, production_id: str, job, approvals: Iterable) -> None:
    """The guard's check on a job's verdicts (``IntegrityError`` naming the first bad row)."""
    Verifier(s, production_id).approvals(job, approvals)


def verify_consents(s: Session, production_id: str, performer_ids: Iterable[str]) -> None:
    """The guard's check on every consent row of the job's performers (``IntegrityError`` naming it)."""
    Verifier(s, production_id).consents(performer_ids)


def _verify(public: Ed25519PublicKey, signature: Any, message: bytes, label: str) -> None:
    try:
        public.verify(bytes.fromhex(signature), message)
    except (InvalidSignature, ValueError, TypeError):
        raise IntegrityError(f"{label}: the signature does not verify (the row was edited, copied or forged); "
                             "nothing ran", hint="soundstage audit log shows who recorded what") from None


def _representatives(performer: Person | None) -> set[str]:
    if performer is None:
        return set()
    return set(((performer.details or {}).get("performer") or {}).get("representatives") or ())
