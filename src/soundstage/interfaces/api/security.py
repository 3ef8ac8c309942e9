"""Who may do what over HTTP: the permission matrix (``soundstage.domain.permissions``, shared with
the CLI), bearer-token and session-cookie authentication, and CSRF protection for the web forms.

The matrix is the single place a role is granted an action; every route names its action and
``require(action)`` refuses with 403 and the reason. Finer rules that depend on the data (a
representative acts only for their own performers; nobody approves their own request) are
enforced by the service layer or by the ``scope_*`` helpers here, never by ad-hoc checks in routes.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

# the matrix and its checks live in the domain layer, shared with the CLI and the guard; imported
# here under their old names so every route keeps naming its action with ``require``
from soundstage.domain.permissions import (  # noqa: E402,F401  (re-exported)
    ALL_ROLES,
    LEGAL,
    PERMISSIONS,
    PRODUCER,
    REP,
    RIGHTS,
    STAFF,
    VFX,
    allowed_actions,
    check_allowed,
    check_performer_scope,
    is_scoped_rep,
)
from soundstage.errors import PermissionDeniedError
from soundstage.services.auth_service import (
    AuthenticationError,
    Principal,
    Signer,
    authenticate,
    authenticate_session,
    hash_token,
    signer_for_session,
    signer_for_token,
)


# ---------------------------------------------------------------- sessions (web)

SESSION_COOKIE = "ss_session"
LOGIN_CSRF_COOKIE = "ss_login_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SESSION_HOURS = 12


@dataclass(frozen=True)
class Session:
    token_id: str
    nonce: str
    expires: int

    def csrf_token(self, key: bytes) -> str:
        return hmac.new(key, f"csrf|{self.token_id}|{self.nonce}".encode(), hashlib.sha256).hexdigest()


def load_session_key(keys_dir: Path) -> bytes:
    """One secret per workspace, shared by every uvicorn worker; created 0600 on first use."""
    keys_dir.mkdir(parents=True, exist_ok=True)
    path = keys_dir / "web_session.key"
    if not path.exists():
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(secrets.token_bytes(32))
        except FileExistsError:
            pass  # another worker won the race
    data = path.read_bytes()
    if len(data) < 32:
        time.sleep(0.05)
        data = path.read_bytes()
    return data


def _mac(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def encode_session(key: bytes, token_id: str, expires: int) -> tuple[str, Session]:
    session = Session(token_id=token_id, nonce=secrets.token_hex(16), expires=expires)
    body = f"{session.token_id}.{session.nonce}.{session.expires}"
    return f"{body}.{_mac(key, body)}", session


def decode_session(key: bytes, cookie: str | None) -> Session | None:
    if not cookie or len(cookie) > 300:
        return None
    parts = cookie.split(".")
    if len(parts) != 4:
        return None
    body = ".".join(parts[:3])
    if not hmac.compare_digest(_mac(key, body), parts[3]):
        return None
    try:
        expires = int(parts[2])
    except ValueError:
        return None
    if expires < time.time():
        return None
    return Session(token_id=parts[0], nonce=parts[1], expires=expires)


# ---------------------------------------------------------------- dependencies

def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


async def current_principal(request: Request) -> Principal:
    """Bearer token first; else the web session cookie, which for unsafe methods also needs the
    CSRF token in a header or form field (checked where the form is parsed).

    ``async`` on purpose: a sync dependency costs a threadpool round trip (and a GIL hand-off) on
    every request. The work here is a dict lookup, or on a cache miss one indexed read (inline on
    SQLite, in the threadpool on PostgreSQL: ``off_loop_if_networked``)."""
    state = request.app.state
    token = bearer_token(request)
    if token is not None:
        principal = await _cached_authenticate(state, token)
        request.state.via_session = False
        return principal
    session = decode_session(state.session_key, request.cookies.get(SESSION_COOKIE))
    if session is None:
        raise AuthenticationError("not authenticated",
                                  hint="send 'Authorization: Bearer sst_...' or log in at /login")
    principal = await off_loop_if_networked(state.ws, authenticate_session, state.ws, session.token_id,
                                           session.nonce)
    request.state.via_session = True
    request.state.session = session
    if request.method not in ("GET", "HEAD", "OPTIONS") and request.url.path.startswith("/api/"):
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent, session.csrf_token(state.session_key)):
            raise PermissionDeniedError("missing or wrong CSRF token", hint=f"send the {CSRF_HEADER} header")
    return principal


AUTH_CACHE_SECONDS = 2.0


async def off_loop_if_networked(ws, fn, *args, **kwargs):
    """Call a (sync) service from an ``async`` route or dependency without stalling the event loop.

    SQLite reads run inline: a few indexed reads in-process, and WAL readers never wait on a
    writer, so a threadpool hand-off would cost more than the call. A networked database
    (PostgreSQL) pays a round trip per query and can wait on a lock; there the call goes to the
    threadpool, so one slow query never holds up every other request of the worker."""
    if ws.settings.database_url.startswith("sqlite"):
        return fn(*args, **kwargs)

    return await run_in_threadpool(fn, *args, **kwargs)


async def _cached_authenticate(state, token: str) -> Principal:
    """Tokens are looked up at most every 2 s per worker (keyed by the token's hash): a revocation or
    role change takes effect within 2 s, and reads stay one query instead of three."""
    cache: dict = state.__dict__.setdefault("_auth_cache", {})
    key = hash_token(token)
    now = time.monotonic()
    hit = cache.get(key)
    if hit is not None and hit[0] > now and hit[1].expires_at.timestamp() > time.time():
        return hit[1]
    principal = await off_loop_if_networked(state.ws, authenticate, state.ws, token)
    if len(cache) > 10_000:
        cache.clear()
    ttl = getattr(state, "auth_cache_seconds", AUTH_CACHE_SECONDS)
    if ttl > 0:
        cache[key] = (now + ttl, principal)
    return principal


def require(action: str):
    """A dependency: the authenticated principal, refused with 403 unless the matrix allows ``action``."""
    if action not in PERMISSIONS:
        raise KeyError(f"no such action in the permission matrix: {action}")

    async def dependency(principal: Principal = Depends(current_principal)) -> Principal:
        check_allowed(principal, action)
        return principal

    dependency.__name__ = f"require_{action.replace('.', '_')}"
    return dependency


def request_signer(request: Request) -> Signer:
    """The signing key of whoever made this (authenticated) request, for this request only: derived
    from their bearer token, or unsealed from their web session with the cookie's nonce. Routes that
    record a signature (a verdict, a consent action) call it after ``require`` let them in."""
    state = request.app.state
    token = bearer_token(request)
    if token is not None:
        return signer_for_token(state.ws, token)
    session = getattr(request.state, "session", None) or decode_session(state.session_key,
                                                                        request.cookies.get(SESSION_COOKIE))
    if session is None:
        raise AuthenticationError("not authenticated", hint="send 'Authorization: Bearer sst_...'")
    return signer_for_session(state.ws, session.token_id, session.nonce)
