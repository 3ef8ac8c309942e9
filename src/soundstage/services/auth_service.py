"""Credentials: create (shown once), authenticate, list, revoke, rotate; and the signing key each
one stands for.

Tokens are 256-bit random strings, so a plain sha256 at rest is enough (no slow KDF needed: there
is nothing to brute-force). Every token belongs to one crew member of the production and carries
their roles at the moment of each request, so changing someone's roles takes effect at once.

The same token is the person's signing key: an Ed25519 seed is derived from it (HKDF,
``safeguards.signatures``), its public key is registered with a certificate signed by whoever
issued the credential, and a request that must sign (an approval, a consent action, issuing a
credential) derives the private key from the credential it presented, signs and drops it. The
API, the web app and the CLI authenticate with this module, so the three resolve a person the
same way. See docs/design/trust-model.md.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import delete, select

from soundstage.clock import as_utc, utcnow
from soundstage.domain.permissions import ISSUER_ROLES, SINGLE_USER_PREFIX, STAFF
from soundstage.errors import InputError, IntegrityError, NotFoundError, PermissionDeniedError, SoundstageError
from soundstage.safeguards import audit, signatures
from soundstage.safeguards.resolve import performer_of
from soundstage.safeguards.signatures import Signer
from soundstage.services.people_service import find_person
from soundstage.services.workspace import Workspace
from soundstage.store.models import ApiToken, Person, PersonKey, Production, WebSession

TOKEN_PREFIX = "sst_"
MAX_TOKEN_LIFETIME = timedelta(days=366)
_DURATION = re.compile(r"^\s*(\d{1,5})\s*([mhdw])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class AuthenticationError(SoundstageError):
    """No, a forged, an expired or a revoked token: HTTP 401 (not a RefusedError: we do not know who asks)."""

    http_status = 401


@dataclass(frozen=True)
class Principal:
    """Who is asking: a crew member, their roles and (for representatives) whom they represent."""

    person_id: str
    name: str
    roles: frozenset[str]
    token_id: str
    expires_at: datetime
    represents: frozenset[str] = field(default_factory=frozenset)
    #: the CLI's single-user mode: no credential, no key (never signs, never a final deliverable)
    single_user: bool = False

    def has_any(self, roles: frozenset[str] | set[str]) -> bool:
        return bool(self.roles & set(roles))


def single_user_principal(login: str) -> Principal:
    """The CLI's single-user laptop mode (SOUNDSTAGE_SINGLE_USER=1, no credential): staff roles, no
    key. Every event it writes names ``single-user:<login>``; it cannot sign (approve, reject, grant
    or change a consent, issue a credential once the production has one) and final deliverables
    refuse it (jobs_service.submit_job)."""
    name = SINGLE_USER_PREFIX + (login or "unknown")
    return Principal(person_id=name, name=name, roles=STAFF, token_id="", expires_at=utcnow() + timedelta(days=1),
                     single_user=True)



def parse_duration(text: str) -> timedelta:
    """'30d', '12h', '90m', '2w' -> timedelta; refuses zero and anything over a year."""
    match = _DURATION.match(text or "")
    if not match:
        raise InputError(f"not a duration: {text!r}", hint="use e.g. 30d, 12h, 90m or 2w")
    delta = timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    if delta <= timedelta(0) or delta > MAX_TOKEN_LIFETIME:
        raise InputError(f"token lifetime {text!r} must be more than zero and at most 366 days")
    return delta


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def create_token(ws: Workspace, person_ref: str, *, expires_in: timedelta, actor: str, label: str = "",
                 issuer: Signer | None = None) -> dict:
    """Issue a credential for a crew member. The returned ``token`` is the only copy there will be.

    The credential's signing key is registered with a certificate signed by ``issuer`` (the key of
    the person issuing it: someone who may issue credentials, or the same person rotating their
    own). Without an issuer this is the production's first credential: its key certifies itself
    and becomes the identity root, so it must go to someone who may issue credentials."""

    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with ws.unit_of_work() as s:
        return _issue(s, ws, person_ref, token, expires_in=expires_in, actor=actor, label=label, issuer=issuer)


def _issue(s, ws: Workspace, person_ref: str, token: str, *, expires_in: timedelta, actor: str, label: str,
           issuer: Signer | None) -> dict:
    """``create_token`` inside the caller's unit of work."""
    now = utcnow()
    person = find_person(s, ws, person_ref, kind="crew")
    if not person.roles:
        raise PermissionDeniedError(f"{person.name} holds no role; a token would allow nothing",
                                    hint="give them a role first: soundstage crew add NAME --role ROLE")
    production = s.get(Production, ws.production_id)
    own = Signer.from_seed(person.id, person.name, signatures.derive_seed(token, ws.production_id))
    if issuer is None:
        if production.identity_root is not None:
            raise PermissionDeniedError("a credential is issued by a person who holds one, and certified with "
                                        "their key", hint="run it with your own credential (SOUNDSTAGE_TOKEN "
                                                          "or --token-file)")
        if not set(person.roles) & ISSUER_ROLES:
            raise PermissionDeniedError(
                f"the production's first credential is its identity root and certifies every other; it goes to "
                f"someone who may issue credentials ({', '.join(sorted(ISSUER_ROLES))}), not {person.name}")
        production.identity_root = own.public_hex
        certifier, issuer_key = own, None
    else:
        issuing = signatures.verify_key(s, ws.production_id, issuer.key_id)
        if issuing.person_id != issuer.person_id:
            raise IntegrityError(f"key {issuer.key_id} is not {issuer.name}'s")
        if issuing.revoked_at is not None:
            raise PermissionDeniedError(f"{issuer.name}'s credential was revoked")
        if not issuing.roles & ISSUER_ROLES and (issuer.person_id != person.id
                                                 or not set(person.roles) <= issuing.roles):
            raise PermissionDeniedError(f"{issuer.name} may not issue credentials for {person.name}",
                                        hint="needs one of: " + ", ".join(sorted(ISSUER_ROLES)))
        certifier, issuer_key = issuer, issuer.key_id
    row = ApiToken(id="tk-" + uuid.uuid4().hex[:12], production_id=ws.production_id, person_id=person.id,
                   token_hash=hash_token(token), label=label[:200], created_by=actor, created_at=now,
                   expires_at=now + expires_in, revoked_at=None)
    s.add(row)
    s.flush()
    certificate = signatures.certificate_content(
        ws.production_id, key_id=own.key_id, public_key=own.public_hex, person_id=person.id, name=person.name,
        roles=person.roles, token_id=row.id, issuer=issuer_key, issued_at=now)
    s.add(PersonKey(id=own.key_id, production_id=ws.production_id, person_id=person.id,
                    public_key=own.public_hex, token_id=row.id, issuer_key_id=issuer_key,
                    certificate=signatures.canonical(certificate).decode("utf-8"),
                    signature=certifier.sign(certificate), created_at=now, revoked_at=None))
    s.flush()
    audit.append(s, production_id=ws.production_id, actor=actor, action="token.created", subject=row.id,
                 payload={"person": person.id, "expires_at": row.expires_at.isoformat(), "label": row.label,
                          "key": own.key_id, "public_key": own.public_hex, "issuer_key": issuer_key,
                          "roles": sorted(person.roles)})
    return {"id": row.id, "token": token, "person": person.name, "person_id": person.id,
            "roles": list(person.roles), "expires_at": row.expires_at.isoformat(), "key_id": own.key_id,
            "identity_root": issuer_key is None}


def rotate_token(ws: Workspace, token: str, *, expires_in: timedelta, label: str = "") -> dict:
    """A new credential for the person presenting ``token``, certified by its key, and ``token``
    revoked: afterwards nobody who saw the old credential (the person who issued it) can sign as
    them."""
    principal = authenticate(ws, token)
    signer = signer_for_token(ws, token, principal)
    new = TOKEN_PREFIX + secrets.token_urlsafe(32)
    # one unit: the new credential exists only with the old one revoked (two units left both valid
    # when the second failed), and a second rotation of the same credential finds it revoked
    with ws.unit_of_work() as s:
        if s.get(ApiToken, principal.token_id).revoked_at is not None:
            raise AuthenticationError("this token was revoked (rotated already?)", hint="use the credential that "
                                      "replaced it")
        out = _issue(s, ws, principal.person_id, new, expires_in=expires_in, actor=principal.name,
                     label=label or f"rotated from {principal.token_id}", issuer=signer)
        _revoke(s, ws, principal.token_id, actor=principal.name)
    return {**out, "replaces": principal.token_id}


def signer_for_token(ws: Workspace, token: str, principal: Principal | None = None) -> Signer:
    """The signing key a credential stands for, derived now (for this request) and checked against
    the key registered for it."""
    principal = principal or authenticate(ws, token)
    with ws.reading() as s:
        key = s.scalars(select(PersonKey).where(PersonKey.token_id == principal.token_id)).first()
    if key is None:
        raise PermissionDeniedError(f"{principal.name}'s credential {principal.token_id} has no signing key (it was "
                                    "issued before approvals and consents were signed)",
                                    hint="ask for a new credential: soundstage token create")
    signer = Signer.from_seed(principal.person_id, principal.name, signatures.derive_seed(token, ws.production_id))
    if signer.key_id != key.id or key.person_id != principal.person_id:
        raise IntegrityError(f"credential {principal.token_id} does not match the key registered for it")
    if key.revoked_at is not None:
        raise AuthenticationError("this credential's key was revoked", hint="ask for a new one")
    return signer


def _token_view(row: ApiToken, person_name: str) -> dict:
    now = utcnow()
    status = "revoked" if row.revoked_at else ("expired" if as_utc(row.expires_at) <= now else "active")
    return {"id": row.id, "person": person_name, "person_id": row.person_id, "label": row.label,
            "created_at": row.created_at.isoformat(), "expires_at": row.expires_at.isoformat(),
            "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None, "status": status}


def list_tokens(ws: Workspace) -> list[dict]:
    with ws.reading() as s:
        names = {p.id: p.name for p in s.scalars(select(Person).where(Person.production_id == ws.production_id))}
        rows = s.scalars(select(ApiToken).where(ApiToken.production_id == ws.production_id)
                         .order_by(ApiToken.created_at))
        return [_token_view(r, names.get(r.person_id, r.person_id)) for r in rows]


def revoke_token(ws: Workspace, token_id: str, *, actor: str) -> dict:
    with ws.unit_of_work() as s:
        return _revoke(s, ws, token_id, actor=actor)


def _revoke(s, ws: Workspace, token_id: str, *, actor: str) -> dict:
    """``revoke_token`` inside the caller's unit of work."""
    row = s.get(ApiToken, token_id)
    if row is None or row.production_id != ws.production_id:
        raise NotFoundError(f"no token {token_id} in this production", hint="list them: soundstage token list")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        for key in s.scalars(select(PersonKey).where(PersonKey.token_id == row.id)):
            key.revoked_at = row.revoked_at  # its key signs nothing from now on
        audit.append(s, production_id=ws.production_id, actor=actor, action="token.revoked", subject=row.id,
                     payload={"person": row.person_id})
    person = s.get(Person, row.person_id)
    return _token_view(row, person.name if person else row.person_id)


def authenticate(ws: Workspace, token: str | None) -> Principal:
    """The principal behind a bearer token, or AuthenticationError saying why not."""
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        raise AuthenticationError("missing or malformed token",
                                  hint="send 'Authorization: Bearer sst_...'; create one with: soundstage token create")
    with ws.reading() as s:
        row = s.scalars(select(ApiToken).where(ApiToken.token_hash == hash_token(token))).first()
        if row is None or row.production_id != ws.production_id:
            raise AuthenticationError("unknown token")
        if row.revoked_at is not None:
            raise AuthenticationError("this token was revoked", hint="ask for a new one")
        if as_utc(row.expires_at) <= utcnow():
            raise AuthenticationError("this token has expired", hint="ask for a new one")
        return principal_for(s, ws, row)


def _session_key(nonce: str) -> str:
    return hashlib.sha256(f"web-session|{nonce}".encode()).hexdigest()


def start_session(ws: Workspace, token_id: str, nonce: str, expires_at: datetime, *, token: str | None = None) -> None:
    """Record a web login (its cookie's nonce, by hash) so that logout can end it on the server.
    Sessions that expired more than a day ago are dropped on the way.

    With the ``token`` that logged in, the person's signing key is kept on the session row sealed
    (AES-GCM) under a key derived from the cookie's nonce, which the server does not keep: the web
    app can sign for this person while their cookie is presented, and nobody can from the row."""

    now = utcnow()
    session_id = _session_key(nonce)
    sealed = None
    if token is not None:
        with ws.reading() as s:
            registered = s.scalars(select(PersonKey).where(PersonKey.token_id == token_id)).first()
        if registered is not None:
            sealed = _seal(signatures.derive_seed(token, ws.production_id), nonce, session_id)
    with ws.unit_of_work() as s:
        s.execute(delete(WebSession).where(WebSession.production_id == ws.production_id,
                                           WebSession.expires_at < now - timedelta(days=1)))
        s.add(WebSession(id=session_id, production_id=ws.production_id, token_id=token_id,
                         created_at=now, expires_at=expires_at, ended_at=None, sealed_key=sealed))


def signer_for_session(ws: Workspace, token_id: str, nonce: str) -> Signer:
    """The signing key of a web session's person, unsealed with the cookie's nonce for this request."""
    principal = authenticate_session(ws, token_id, nonce)
    session_id = _session_key(nonce)
    with ws.reading() as s:
        sealed = s.get(WebSession, session_id).sealed_key
        key = s.scalars(select(PersonKey).where(PersonKey.token_id == token_id)).first()
    if not sealed or key is None:
        raise PermissionDeniedError(f"this session of {principal.name} cannot sign (its credential has no signing "
                                    "key)", hint="log in again with a credential issued by soundstage token create")
    signer = Signer.from_seed(principal.person_id, principal.name, _unseal(sealed, nonce, session_id))
    if signer.key_id != key.id or key.revoked_at is not None:
        raise AuthenticationError("this session's signing key is not the credential's", hint="log in again")
    return signer


def _seal_key(nonce: str, session_id: str) -> bytes:

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"soundstage web session seal v1",
                info=session_id.encode()).derive(nonce.encode())


def _seal(seed: bytes, nonce: str, session_id: str) -> str:

    iv = os.urandom(12)
    return (iv + AESGCM(_seal_key(nonce, session_id)).encrypt(iv, seed, session_id.encode())).hex()


def _unseal(sealed: str, nonce: str, session_id: str) -> bytes:

    try:
        raw = bytes.fromhex(sealed)
        return AESGCM(_seal_key(nonce, session_id)).decrypt(raw[:12], raw[12:], session_id.encode())
    except (ValueError, InvalidTag):
        raise AuthenticationError("this session's sealed key does not open", hint="log in again") from None


def end_session(ws: Workspace, nonce: str) -> None:
    """Logout: the session's cookie (and the CSRF token derived from it) is refused from now on."""
    with ws.unit_of_work() as s:
        row = s.get(WebSession, _session_key(nonce))
        if row is not None and row.ended_at is None:
            row.ended_at = utcnow()


def authenticate_session(ws: Workspace, token_id: str, nonce: str) -> Principal:
    """The principal behind a (signed) web session cookie: the session must be on record and not
    ended, and the token behind it still valid."""
    with ws.reading() as s:
        session = s.get(WebSession, _session_key(nonce))
        if session is None or session.token_id != token_id or session.production_id != ws.production_id:
            raise AuthenticationError("unknown session", hint="log in again at /login")
        if session.ended_at is not None:
            raise AuthenticationError("this session was ended (logged out)", hint="log in again at /login")
        if as_utc(session.expires_at) <= utcnow():
            raise AuthenticationError("this session has expired", hint="log in again at /login")
        row = s.get(ApiToken, token_id)
        if row is None or row.production_id != ws.production_id:
            raise AuthenticationError("unknown session")
        if row.revoked_at is not None or as_utc(row.expires_at) <= utcnow():
            raise AuthenticationError("the token behind this session was revoked or has expired")
        return principal_for(s, ws, row)


def principal_for(s, ws: Workspace, row: ApiToken) -> Principal:
    person = s.get(Person, row.person_id)
    if person is None:
        raise AuthenticationError("the token's owner no longer exists")
    represents: frozenset[str] = frozenset()
    if "performer_rep" in (person.roles or []):
        performers = s.scalars(select(Person).where(Person.production_id == ws.production_id,
                                                    Person.kind == "performer"))
        represents = frozenset(p.id for p in performers if person.id in performer_of(p).representatives)
    return Principal(person_id=person.id, name=person.name, roles=frozenset(person.roles or []),
                     token_id=row.id, expires_at=as_utc(row.expires_at), represents=represents)
