"""Plate upload over HTTP: the request body streams to disk while it is hashed and counted, then the
same guarded ingest as ``soundstage asset add`` stores it (in the folder or the S3 bucket).

``PUT /api/plates/{name}`` with the raw file as the body (no multipart: a multi-GB plate is not
parsed into form parts) and ``X-Content-SHA256`` naming the SHA-256 the client computed. Bounded:
the server's upload limit (``soundstage serve --max-upload-mb``), lowered per production by
``[api] max_plate_mib`` in soundstage.toml; over it -> 413 and nothing kept. A body whose hash is
not the one declared -> 409 and nothing stored. Who may: ``assets.add`` (producer, VFX supervisor).
Audio (WAV, MP3, M4A, FLAC; ``kind`` plate or audio) is decoded whole and bounded in length before
it is stored, as ``asset add`` does (``services.ledger.ingest_media``).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from pathlib import Path

from fastapi import APIRouter, Depends, Header, Query, Request
from starlette.concurrency import run_in_threadpool

from soundstage.errors import InputError, IntegrityError, SpecError
from soundstage.interfaces.api import schemas as S
from soundstage.interfaces.api.routes import ERRORS, ws_of
from soundstage.interfaces.api.security import require
from soundstage.interfaces.api.uploads import PayloadTooLargeError, human_size, safe_filename
from soundstage.services.auth_service import Principal
from soundstage.services.ledger import ingest_media

router = APIRouter(prefix="/api", responses=ERRORS)

PLATE_SUFFIXES = (".mp4", ".mov", ".m4v", ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".exr", ".dpx",
                  ".wav", ".mp3", ".m4a", ".flac")  # audio: a production track, probed whole before it is stored
_SHA256 = re.compile(r"[0-9a-f]{64}")
_SCENE = re.compile(r"[A-Za-z0-9 ._-]{1,32}")


def plate_limit(request: Request) -> int:
    """The server's upload limit, or the production's ``[api] max_plate_mib`` when lower."""
    limit = int(request.app.state.max_upload_bytes)
    table = ws_of(request).settings.extra.get("api") or {}
    configured = table.get("max_plate_mib") if isinstance(table, dict) else None
    if configured is not None:
        if isinstance(configured, bool) or not isinstance(configured, int) or configured < 1:
            raise SpecError("must be a whole number of MiB", field="api.max_plate_mib", source="soundstage.toml")
        limit = min(limit, configured * 1024 * 1024)
    return limit


@router.put("/plates/{name}", response_model=S.AssetOut, status_code=201,
            summary="Upload a plate (raw body, streamed, hash-checked) and ingest it",
            description="The body is the file itself. `X-Content-SHA256` is required: the server hashes what it "
                        "receives and stores nothing unless it matches. Over the size limit: 413.")
async def plate_upload(request: Request, name: str,
                       x_content_sha256: str = Header(..., description="lowercase hex SHA-256 of the body"),
                       kind: str = Query("plate", pattern="^(plate|reference|element|audio)$"),
                       scene: str | None = Query(None, max_length=32), shot: str | None = Query(None, max_length=32),
                       principal: Principal = Depends(require("assets.add"))) -> dict:
    declared = x_content_sha256.strip().lower()
    if not _SHA256.fullmatch(declared):
        raise InputError("X-Content-SHA256 must be 64 hexadecimal characters (the body's SHA-256)")
    for label, value in (("scene", scene), ("shot", shot)):
        if value is not None and not _SCENE.fullmatch(value):
            raise InputError(f"{label} must be 1-32 letters, digits, spaces, dots, hyphens or underscores")
    filename = safe_filename(name, default="plate")
    if Path(filename).suffix.lower() not in PLATE_SUFFIXES:
        raise InputError(f"{filename}: not a plate file", hint="one of " + ", ".join(PLATE_SUFFIXES))
    limit = plate_limit(request)
    declared_length = request.headers.get("content-length")
    if declared_length and declared_length.isdigit() and int(declared_length) > limit:
        raise PayloadTooLargeError(f"the plate is larger than the {human_size(limit)} limit")
    folder = Path(tempfile.mkdtemp(prefix="soundstage-plate-"))
    try:
        target = folder / filename
        digest, size = hashlib.sha256(), 0
        with open(target, "wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLargeError(f"the plate is larger than the {human_size(limit)} limit; "
                                               "nothing was kept")
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if size == 0:
            raise InputError("the uploaded plate is empty")
        if digest.hexdigest() != declared:
            raise IntegrityError(f"the body received hashes to {digest.hexdigest()[:12]}…, not the declared "
                                 f"{declared[:12]}…; nothing was stored", hint="upload it again")
        ws = ws_of(request)
        return await run_in_threadpool(ingest_media, ws, target, kind=kind, actor=principal.name, scene=scene,
                                       shot=shot)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
