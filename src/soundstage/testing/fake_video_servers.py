"""A local stand-in for an OpenAI-compatible video service, speaking the real wire protocol on 127.0.0.1.

The shape is that of OpenAI's videos endpoints:

- ``POST /v1/videos`` (multipart form: ``model``, ``prompt``, ``seconds`` as a string, ``size``
  ``WIDTHxHEIGHT``, optional file ``input_reference``) -> a video object
  ``{"id", "object": "video", "model", "status": "queued", "progress": 0, "created_at",
  "completed_at": null, "expires_at": null, "prompt", "seconds", "size", "remixed_from_video_id": null,
  "error": null}``;
- ``GET /v1/videos/{id}`` -> the same object, ``status`` moving queued -> in_progress (with
  ``progress`` 0..100) -> completed (or failed, with ``error: {"code", "message"}``);
- ``GET /v1/videos/{id}/content`` (``?variant=video``) -> ``video/mp4`` bytes once completed;
- ``DELETE /v1/videos/{id}`` -> ``{"id", "object": "video.deleted", "deleted": true}``;
- errors in OpenAI's ``{"error": {"message", "type", "param", "code"}}`` shape.

A job "renders" while it is polled (``polls_before_done`` polls). Tests script failures through the
base server (``script(path, status, body)``: a 429, a 500...) and through attributes here: a job
that never finishes, one that fails, a body that is not a video, or one larger than it says.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from soundstage.testing.fake_servers import Seen, _FakeServer, moving_frames, mp4_of

FPS = 8  # frames per second of the clips this server renders (small: tests stay fast)


@dataclass
class VideoJob:
    id: str
    model: str
    prompt: str
    seconds: str
    size: str
    created_at: int
    reference: bytes | None = None
    polls: int = 0
    status: str = "queued"
    progress: int = 0
    completed_at: int | None = None
    error: dict | None = None
    deleted: bool = False
    content: bytes = b""
    extra: dict[str, Any] = field(default_factory=dict)

    def view(self) -> dict:
        return {"id": self.id, "object": "video", "model": self.model, "status": self.status,
                "progress": self.progress, "created_at": self.created_at, "completed_at": self.completed_at,
                "expires_at": (self.completed_at + 3600) if self.completed_at else None, "prompt": self.prompt,
                "seconds": self.seconds, "size": self.size, "remixed_from_video_id": None, "error": self.error}


class FakeOpenAIVideos(_FakeServer):
    """OpenAI's videos API, optionally requiring a bearer key."""

    def __init__(self, *, api_key: str | None = None, polls_before_done: int = 2) -> None:
        super().__init__()
        self.api_key = api_key
        self.polls_before_done = polls_before_done
        self.jobs: dict[str, VideoJob] = {}
        self.never_completes = False  # jobs stay in_progress forever (poll-timeout tests)
        self.fail_with: str | None = None  # the next job fails with this message
        self.content_override: bytes | None = None  # send this instead of the rendered MP4

    def _error(self, status: int, message: str, kind: str = "invalid_request_error",
               param: str | None = None, code: str | None = None) -> tuple[int, bytes, str]:
        return self._json(status, {"error": {"message": message, "type": kind, "param": param, "code": code}})

    def respond(self, seen: Seen) -> tuple[int, bytes, str]:
        if self.api_key is not None and seen.headers.get("Authorization") != f"Bearer {self.api_key}":
            return self._error(401, "Incorrect API key provided.", code="invalid_api_key")
        parts = seen.path.rstrip("/").split("/")  # ["", "v1", "videos", id?, "content"?]
        if parts[:3] != ["", "v1", "videos"]:
            return self._error(404, f"Invalid URL ({seen.method} {seen.path})")
        if seen.method == "POST" and len(parts) == 3:
            return self._create(seen)
        job = self.jobs.get(parts[3]) if len(parts) >= 4 else None
        if job is None or job.deleted:
            return self._error(404, f"Video with id '{parts[3] if len(parts) > 3 else ''}' not found.",
                               code="video_not_found")
        if seen.method == "GET" and len(parts) == 4:
            self._advance(job)
            return self._json(200, job.view())
        if seen.method == "GET" and len(parts) == 5 and parts[4] == "content":
            variant = seen.query.get("variant", ["video"])[0]
            if variant != "video":
                return self._error(400, f"Invalid variant {variant!r}.", param="variant")
            if job.status != "completed":
                return self._error(409, "Video is not ready yet; poll until status is 'completed'.",
                                   code="video_not_ready")
            return 200, (self.content_override if self.content_override is not None else job.content), "video/mp4"
        if seen.method == "DELETE" and len(parts) == 4:
            job.deleted = True
            return self._json(200, {"id": job.id, "object": "video.deleted", "deleted": True})
        return self._error(404, f"Invalid URL ({seen.method} {seen.path})")

    def _create(self, seen: Seen) -> tuple[int, bytes, str]:
        form = seen.form
        if not form:
            return self._error(400, "The request body must be multipart/form-data.")
        prompt, model = form.get("prompt"), form.get("model") or "sora-2"
        if not prompt or not isinstance(prompt, str):
            return self._error(400, "Missing required parameter: 'prompt'.", param="prompt")
        seconds = str(form.get("seconds", "4"))
        size = str(form.get("size", "720x1280"))
        try:
            width, height = (int(v) for v in size.split("x"))
            if not (64 <= width <= 1920 and 64 <= height <= 1920) or not 1 <= int(seconds) <= 20:
                raise ValueError
        except ValueError:
            return self._error(400, f"Invalid size {size!r} or seconds {seconds!r}.", param="size")
        reference = form.get("input_reference")
        job = VideoJob(id=f"video_{uuid.uuid4().hex[:24]}", model=str(model), prompt=prompt, seconds=seconds,
                       size=size, created_at=int(time.time()),
                       reference=reference[1] if isinstance(reference, tuple) else None)
        if self.fail_with:
            job.extra["fail"], self.fail_with = self.fail_with, None
        self.jobs[job.id] = job
        return self._json(200, job.view())

    def _advance(self, job: VideoJob) -> None:
        if job.status in ("completed", "failed"):
            return
        job.polls += 1
        if self.never_completes or job.polls <= self.polls_before_done:
            job.status = "in_progress"
            job.progress = min(99, int(100 * job.polls / (self.polls_before_done + 1)))
            return
        if job.extra.get("fail"):
            job.status, job.error = "failed", {"code": "moderation_blocked", "message": job.extra["fail"]}
            return
        width, height = (int(v) for v in job.size.split("x"))
        base = None
        if job.reference is not None:
            from soundstage.media.images import read_image

            base = read_image(job.reference)
        frames = moving_frames(f"{job.model}|{job.prompt}", 0, width, height, int(job.seconds) * FPS, base)
        job.content = mp4_of(frames, FPS)
        job.status, job.progress, job.completed_at = "completed", 100, int(time.time())
