"""Uploads and downloads: size limits and file names that can never become paths.

The client's file name is only ever a label: it is reduced to a safe basename and written inside
a fresh private temporary directory, so ``../../etc/passwd`` or ``C:\\x`` cannot escape it. Names in
any script keep their letters (``撮影.png``, ``Überstunden.mp4``): a sequence's frame names are part
of what its Content Credentials bind, and people read the names they gave.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import unicodedata
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator
from urllib.parse import quote

from fastapi import UploadFile
from starlette.exceptions import HTTPException

from soundstage.errors import InputError, SoundstageError

DEFAULT_MAX_UPLOAD_BYTES = 200 * 1024 * 1024
# letters, marks and digits of any script, and these: no separator, quote, control or bidi character
_KEEP_ASCII = frozenset("._- ()[]+,@&=~#!'")
_KEEP_CATEGORIES = ("L", "M", "N")
#: a file system's name holds 255 bytes (UTF-8 takes up to 4 a character)
FILE_NAME_MAX_BYTES = 255
#: a name kept as a label (an asset's), 15 bytes left for what is added to it when it is written out
#: (``X.png`` -> ``X.png.c2pa``); an upload saved for one request keeps all 255 (a sequence's frame
#: names are what its credentials bind)
LABEL_MAX_BYTES = 240
#: what a cut keeps at the end of a long name: a frame number and the suffix (``.0001.exr``)
_TAIL = re.compile(r"(\.\d{1,9})?\.[^.]{1,15}$")
MEDIA_SUFFIX = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp", "image/tiff": ".tif",
                "video/mp4": ".mp4", "video/quicktime": ".mov", "application/pdf": ".pdf"}


class PayloadTooLargeError(SoundstageError):
    http_status = 413


def human_size(n: int) -> str:
    return f"{n // (1024 * 1024)} MB" if n >= 1024 * 1024 else f"{n} bytes"


def _kept(char: str) -> bool:
    return char in _KEEP_ASCII or (ord(char) > 127 and unicodedata.category(char)[0] in _KEEP_CATEGORIES) \
        or char.isascii() and char.isalnum()


def safe_filename(name: str | None, default: str = "upload", *, max_bytes: int = LABEL_MAX_BYTES) -> str:
    """A basename of letters, marks and digits in any script and ``._- ()[]+,@&=~#!'``; every other
    character (separators, quotes, controls, bidi overrides) becomes ``_``, one for one. No leading
    dot or space, at most ``max_bytes`` of UTF-8 (LABEL_MAX_BYTES unless asked), a frame number and
    the suffix kept when it is cut. Not normalised: a Mac names files decomposed (NFD), and a sequence's credentials bind the
    names as they were signed."""
    text = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    text = "".join(c if _kept(c) else "_" for c in text).lstrip(". ").rstrip(" ")
    if len(text.encode()) > max_bytes:
        tail = _TAIL.search(text)
        keep = tail.group(0) if tail and tail.start() > 0 else ""
        body = text[: len(text) - len(keep)]
        text = body.encode()[: max_bytes - len(keep.encode())].decode("utf-8", "ignore") + keep
    return text if text.strip("._ ") else default


def attachment(name: str) -> str:
    """A Content-Disposition value for a download named ``name`` (RFC 6266): an ASCII ``filename``
    for old clients and the exact UTF-8 name in ``filename*`` (RFC 8187)."""
    safe = safe_filename(name, default="download")
    stem, dot, suffix = safe.rpartition(".") if "." in safe else (safe, "", "")
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    ascii_stem = re.sub(r"[^A-Za-z0-9._ ()-]+", "_", ascii_stem).strip("._ ") or "download"
    fallback = ascii_stem + dot + re.sub(r"[^A-Za-z0-9]+", "", suffix)
    if fallback == safe:
        return f'attachment; filename="{safe}"'
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(safe, safe='')}"


@contextmanager
def saved_upload(upload: UploadFile, limit: int) -> Iterator[Path]:
    """Copy the upload to a private temp dir under its sanitised name; removed afterwards."""
    tmpdir = Path(tempfile.mkdtemp(prefix="soundstage-upload-"))
    try:
        target = tmpdir / safe_filename(upload.filename, max_bytes=FILE_NAME_MAX_BYTES)
        copied = 0
        with open(target, "wb") as out:
            while chunk := upload.file.read(1024 * 1024):
                copied += len(chunk)
                if copied > limit:
                    raise PayloadTooLargeError(f"upload is larger than the {human_size(limit)} limit")
                out.write(chunk)
        if copied == 0:
            raise InputError("the uploaded file is empty")
        yield target
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


@contextmanager
def temp_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="soundstage-export-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


class BodySizeLimit:
    """ASGI middleware: refuse a request body over the limit with 413 before it is parsed, whether
    or not the client sent Content-Length (chunked uploads are counted as they arrive)."""

    def __init__(self, app, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            return await _send_413(send, self.limit)
        if b"transfer-encoding" not in headers and (declared is None or declared.isdigit()):
            # the server stops reading at Content-Length (none means no body), and it is within the
            # limit: nothing to count, so skip the per-message wrappers on the hot path
            return await self.app(scope, receive, send)
        received = 0
        response_started = False

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    # an HTTPException passes through FastAPI's body parsing untouched
                    raise HTTPException(413, f"request body is larger than the {human_size(self.limit)} limit")
            return message

        async def tracking_send(message):
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except (PayloadTooLargeError, HTTPException):
            if not response_started:
                await _send_413(send, self.limit)


async def _send_413(send, limit: int) -> None:
    body = json.dumps({"error": {"type": "PayloadTooLargeError", "status": 413, "rule_ids": [],
                                 "message": f"request body is larger than the {human_size(limit)} limit"}}
                      ).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
