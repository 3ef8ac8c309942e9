"""Shared HTTP plumbing for remote generator backends: bounded retries, one-line errors, image checks.

Why one helper: every remote backend must behave the same when a server is flaky (retry 5xx, 429,
timeouts and connection errors with backoff, a bounded number of times), wrong (a 4xx is the
caller's fault: fail at once with the server's own message) or hostile (a payload that is not an
image, or is a decompression bomb, never reaches the guard).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar

import numpy as np

from soundstage.errors import BackendError, ParseError, SpecError

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
MAX_RESPONSE_BYTES = 64 * 1024 * 1024

T = TypeVar("T")


@dataclass(frozen=True)
class HttpSettings:
    """Timeouts and retry policy from a model's config (all optional)."""

    timeout_s: float = 60.0
    retries: int = 3  # extra attempts after the first
    backoff_s: float = 0.5  # doubled after each failed attempt
    max_backoff_s: float = 8.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> HttpSettings:
        try:
            settings = cls(timeout_s=float(config.get("timeout_s", cls.timeout_s)),
                           retries=int(config.get("retries", cls.retries)),
                           backoff_s=float(config.get("backoff_s", cls.backoff_s)),
                           max_backoff_s=float(config.get("max_backoff_s", cls.max_backoff_s)))
        except (TypeError, ValueError) as exc:
            raise SpecError(f"timeouts and retries must be numbers ({exc})", field="config") from None
        if settings.timeout_s <= 0 or not 0 <= settings.retries <= 10 or settings.backoff_s < 0:
            raise SpecError("need timeout_s > 0, retries 0-10, backoff_s >= 0", field="config")
        return settings


def server_message(response) -> str:
    """The server's own explanation, from the usual JSON error shapes, on one line."""
    text = response.text[:2000]
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    message = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            message = error.get("message") or error.get("type")
            details = error.get("details")
            if details:
                message = f"{message}: {details}"
        elif isinstance(error, str):
            message = error
        message = message or body.get("message") or body.get("detail")
        node_errors = body.get("node_errors")
        if node_errors and isinstance(node_errors, dict):
            message = f"{message} (node errors in {', '.join(sorted(map(str, node_errors)))})"
    message = str(message or text or response.reason_phrase or "no message")
    return " ".join(message.split())[:300]


class _Retry(Exception):
    """One attempt's problem another attempt may not have (a retry status); its text is the problem,
    ``wait`` the seconds the server asked for (``Retry-After``), still capped at ``max_backoff_s``."""

    def __init__(self, problem: str, wait: float = 0.0) -> None:
        super().__init__(problem)
        self.wait = wait


def _check_status(response, service: str) -> None:
    """Raise ``_Retry`` for a status worth another attempt, a one-line BackendError carrying the
    status (``.status``) for any other answer that is not 2xx (the body must have been read)."""
    status = response.status_code
    if status in RETRY_STATUSES:
        raise _Retry(f"HTTP {status}: {server_message(response)}", retry_after(response))
    if 400 <= status < 500:
        raise BackendError(f"{service} refused the request: HTTP {status}: {server_message(response)}",
                           status=status)
    if status >= 300:
        raise BackendError(f"{service} answered HTTP {status}: {server_message(response)}", status=status)


def _with_retries(attempt: Callable[[], T], *, method: str, url: str, service: str, settings: HttpSettings) -> T:
    """Run ``attempt`` up to ``settings.retries + 1`` times with doubling, capped back-off while it
    times out, cannot connect or raises ``_Retry``; then one BackendError naming the last problem."""
    import httpx

    delay = settings.backoff_s
    last_problem = ""
    for index in range(settings.retries + 1):
        if index:
            time.sleep(min(delay, settings.max_backoff_s))
            delay *= 2
        try:
            return attempt()
        except _Retry as exc:
            last_problem = str(exc)
            delay = max(delay, exc.wait)
        except httpx.TimeoutException:
            last_problem = f"timed out after {settings.timeout_s:g} s"
        except httpx.TransportError as exc:
            last_problem = f"connection failed ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
    raise BackendError(f"{service} {method} {_path_of(url)} failed after {settings.retries + 1} attempts: "
                       f"{last_problem}")


def request(client, method: str, url: str, *, service: str, settings: HttpSettings, **kwargs):
    """Send one request with bounded retries; return the response (2xx) or raise a one-line BackendError."""

    def attempt():
        response = client.request(method, url, timeout=settings.timeout_s, **kwargs)
        _check_status(response, service)
        if len(response.content) > MAX_RESPONSE_BYTES:
            raise BackendError(f"{service} sent {len(response.content) / 1e6:.0f} MB, over the response limit")
        return response

    return _with_retries(attempt, method=method, url=url, service=service, settings=settings)


def retry_after(response) -> float:
    """The seconds a 429/503 answer's ``Retry-After`` header asks for (0 when absent or a date); the
    caller still caps the wait at ``max_backoff_s``."""
    value = (response.headers.get("retry-after") or "").strip()
    try:
        return max(0.0, float(value)) if value else 0.0
    except ValueError:
        return 0.0


def json_of(response, service: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise BackendError(f"{service} answered with something that is not JSON "
                           f"({response.headers.get('content-type', 'no content type')})") from None


def decode_image(data: bytes, *, service: str, name: str) -> np.ndarray:
    """Decode a returned image through the guarded reader: bombs stay UnsafeInputError (hostile),
    anything else that is not an image becomes a BackendError (the service misbehaved)."""
    from soundstage.media.images import read_image

    if not data:
        raise BackendError(f"{service} returned an empty payload for {name}")
    try:
        return read_image(data, name=name)
    except ParseError as exc:
        raise BackendError(f"{service} returned something that is not an image for {name}: {exc.one_line()}") \
            from None


def _path_of(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).path or "/"


def download(client, method: str, url: str, dest, *, service: str, settings: HttpSettings, max_bytes: int,
             **kwargs) -> int:
    """Stream a response body into ``dest`` with the same retries as ``request``, refusing (and
    deleting) a body over ``max_bytes`` - checked against the declared length before reading and
    against the bytes as they arrive. Returns the number of bytes written."""
    dest = Path(dest)

    def attempt() -> int:
        with client.stream(method, url, timeout=settings.timeout_s, **kwargs) as response:
            if response.status_code >= 300:
                response.read()
                _check_status(response, service)
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise BackendError(f"{service} offered {int(declared) / 1e6:.1f} MB, over the "
                                   f"{max_bytes / 1e6:.1f} MB download limit")
            written = 0
            try:
                with dest.open("wb") as out:
                    for chunk in response.iter_bytes(64 * 1024):
                        written += len(chunk)
                        if written > max_bytes:
                            raise BackendError(f"{service} sent more than the {max_bytes / 1e6:.1f} MB "
                                               "download limit")
                        out.write(chunk)
            except BaseException:
                dest.unlink(missing_ok=True)
                raise
            return written

    return _with_retries(attempt, method=method, url=url, service=service, settings=settings)


def openai_base_url(config: Mapping[str, Any]) -> str:
    """An OpenAI-compatible service's base URL from a model's config (OpenAI's own by default)."""
    url = str(config.get("base_url") or "https://api.openai.com/v1").rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise SpecError("must be an http(s) URL", field="config.base_url")
    return url


def bearer_headers(config: Mapping[str, Any]) -> dict[str, str]:
    """The Authorization header from the environment variable the config names (``api_key_env``):
    a model card names where its key is, never the key."""
    name = config.get("api_key_env")
    if not name:
        return {}
    key = os.environ.get(str(name))
    if not key:
        raise SpecError(f"the environment variable {name} (api_key_env) is not set", field="config.api_key_env",
                        hint=f"export {name}=... in the environment that runs the job")
    return {"Authorization": f"Bearer {key}"}


#: config keys that would put a credential into the registry and the audit log
SECRET_KEYS = ("api_key", "key", "token", "authorization", "password")


def refuse_secrets(config: Mapping[str, Any]) -> None:
    """A model's config is recorded in the registry and the audit log: it names where a key is
    (``api_key_env``), never the key itself."""
    leaked = [k for k in config if k.lower() in SECRET_KEYS]
    if leaked:
        raise SpecError(f"holds a secret ({', '.join(leaked)}); the registry and audit log record the config",
                        field="config", hint="put the key in an environment variable and name it in api_key_env")
