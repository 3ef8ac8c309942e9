"""API tokens: create (shown once), authenticate, list, revoke.

Tokens are 256-bit random strings, so a plain sha256 at rest is enough (no slow KDF needed: there
is nothing to brute-force). Every token belongs to one crew member of the production and carries
their roles at the moment of each request, so changing someone's roles takes effect at once.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from soundstage.errors import InputError, NotFoundError, PermissionDeniedError, SoundstageError
from soundstage.safeguards import audit
from soundstage.safeguards.resolve import performer_of
from soundstage.services.workspace import Workspace
from soundstage.store.models import ApiToken, Person, WebSession

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

    def has_any(self, roles: frozenset[str] | set[str]) -> bool:
        return bool(self.roles & set(roles))


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


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


def create_token(ws: Workspace, person_ref: str, *, expires_in: timedelta, actor: str, label: str = "") -> dict:
    """Issue a token for a crew member. The returned ``token`` is the only copy there will be."""
    from soundstage.services.safeguards_service import find_person

    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    with ws.unit_of_work() as s:
        person = find_person(s, ws, person_ref, kind="crew")
        if not person.roles:
            raise PermissionDeniedError(f"{person.name} holds no role; a token would allow nothing",
                                        hint="give them a role first: soundstage crew add NAME --role ROLE")
        row = ApiToken(id="tk-" + uuid.uuid4().hex[:12], production_id=ws.production_id, person_id=person.id,
                       token_hash=hash_token(token), label=label[:200], created_by=actor, created_at=now,
                       expires_at=now + expires_in, revoked_at=None)
        s.add(row)
        s.flush()
        audit.append(s, production_id=ws.production_id, actor=actor, action="token.created", subject=row.id,
                     payload={"person": person.id, "expires_at": row.expires_at.isoformat(), "label": row.label})
        return {"id": row.id, "token": token, "person": person.name, "person_id": person.id,
                "roles": list(person.roles), "expires_at": row.expires_at.isoformat()}


def _token_view(row: ApiToken, person_name: str) -> dict:
    now = utcnow()
    status = "revoked" if row.revoked_at else ("expired" if _aware(row.expires_at) <= now else "active")
    return {"id": row.id, "person": person_name, "person_id": row.person_id, "label": row.label,
            "created_at": row.created_at.isoformat(), "expires_at": row.expires_at.isoformat(),
            "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None, "status": status}


def list_tokens(ws: Workspace) -> list[dict]:
    with ws.unit_of_work() as s:
        names = {p.id: p.name for p in s.scalars(select(Person).where(Person.production_id == ws.production_id))}
        rows = s.scalars(select(ApiToken).where(ApiToken.production_id == ws.production_id)
                         .order_by(ApiToken.created_at))
        return [_token_view(r, names.get(r.person_id, r.person_id)) for r in rows]


def revoke_token(ws: Workspace, token_id: str, *, actor: str) -> dict:
    with ws.unit_of_work() as s:
        row = s.get(ApiToken, token_id)
        if row is None or row.production_id != ws.production_id:
            raise NotFoundError(f"no token {token_id} in this production", hint="list them: soundstage token list")
        if row.revoked_at is None:
            row.revoked_at = utcnow()
            audit.append(s, production_id=ws.production_id, actor=actor, action="token.revoked", subject=row.id,
                         payload={"person": row.person_id})
        person = s.get(Person, row.person_id)
        return _token_view(row, person.name if person else row.person_id)


def authenticate(ws: Workspace, token: str | None) -> Principal:
    """The principal behind a bearer token, or AuthenticationError saying why not."""
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        raise AuthenticationError("missing or malformed token",
                                  hint="send 'Authorization: Bearer sst_...'; create one with: soundstage token create")
    with ws.unit_of_work() as s:
        row = s.scalars(select(ApiToken).where(ApiToken.token_hash == hash_token(token))).first()
        if row is None or row.production_id != ws.production_id:
            raise AuthenticationError("unknown token")
        if row.revoked_at is not None:
            raise AuthenticationError("this token was revoked", hint="ask for a new one")
        if _aware(row.expires_at) <= utcnow():
            raise AuthenticationError("this token has expired", hint="ask for a new one")
        return principal_for(s, ws, row)


def _session_key(nonce: str) -> str:
    return hashlib.sha256(f"web-session|{nonce}".encode()).hexdigest()


def start_session(ws: Workspace, token_id: str, nonce: str, expires_at: datetime) -> None:
    """Record a web login (its cookie's nonce, by hash) so that logout can end it on the server.
    Sessions that expired more than a day ago are dropped on the way."""
    from sqlalchemy import delete

    now = utcnow()
    with ws.unit_of_work() as s:
        s.execute(delete(WebSession).where(WebSession.production_id == ws.production_id,
                                           WebSession.expires_at < now - timedelta(days=1)))
        s.add(WebSession(id=_session_key(nonce), production_id=ws.production_id, token_id=token_id,
                         created_at=now, expires_at=expires_at, ended_at=None))


def end_session(ws: Workspace, nonce: str) -> None:
    """Logout: the session's cookie (and the CSRF token derived from it) is refused from now on."""
    with ws.unit_of_work() as s:
        row = s.get(WebSession, _session_key(nonce))
        if row is not None and row.ended_at is None:
            row.ended_at = utcnow()


def authenticate_session(ws: Workspace, token_id: str, nonce: str) -> Principal:
    """The principal behind a (signed) web session cookie: the session must be on record and not
    ended, and the token behind it still valid."""
    with ws.unit_of_work() as s:
        session = s.get(WebSession, _session_key(nonce))
        if session is None or session.token_id != token_id or session.production_id != ws.production_id:
            raise AuthenticationError("unknown session", hint="log in again at /login")
        if session.ended_at is not None:
            raise AuthenticationError("this session was ended (logged out)", hint="log in again at /login")
        if _aware(session.expires_at) <= utcnow():
            raise AuthenticationError("this session has expired", hint="log in again at /login")
        row = s.get(ApiToken, token_id)
        if row is None or row.production_id != ws.production_id:
            raise AuthenticationError("unknown session")
        if row.revoked_at is not None or _aware(row.expires_at) <= utcnow():
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
                     token_id=row.id, expires_at=_aware(row.expires_at), represents=represents)
