"""An OpenAI-compatible video service: create a job, poll it, download the MP4 (OpenAI's videos API).

``POST {base_url}/videos`` (multipart: ``model``, ``prompt``, ``seconds``, ``size``, optional
``input_reference`` image) answers a video object; ``GET {base_url}/videos/{id}`` is polled while its
``status`` is ``queued``/``in_progress`` (its ``progress`` percentage is reported); ``completed`` is
followed by ``GET {base_url}/videos/{id}/content?variant=video``, streamed to disk under a byte limit;
``failed`` ends the job with the service's ``error.message``. A cancelled job, or one that outlives
``poll_timeout_s``, is deleted on the service (``DELETE {base_url}/videos/{id}``).

The download is never trusted: it must be a video within the frame and size bounds, and it is
decoded frame by frame, each frame marked with the clip's reserved id under the production's key
and re-encoded (``generate.clips.stream_clip``): the service's own file never reaches the guard.

Config: ``model`` (required), ``base_url`` (default https://api.openai.com/v1), ``api_key_env``,
``poll_interval_s`` (2), ``poll_timeout_s`` (1800), ``max_download_bytes`` (512 MB),
``timeout_s``/``retries``/``backoff_s``, and card fields as for the other remote backends (the
worst case unless the user's card says otherwise).
"""

from __future__ import annotations

import re
import time
from typing import Any, Mapping

from soundstage.domain.params import Param
from soundstage.domain.safeguards import ModelCard
from soundstage.errors import BackendError, InputError, SpecError
from soundstage.generate.clips import MAX_CLIP_FRAMES, check_video_file, even_crop, stream_clip
from soundstage.generate.backends._http import bearer_headers, download, HttpSettings, json_of, openai_base_url, refuse_secrets, request
from soundstage.generate.backends.comfyui_http import remote_card
from soundstage.generate.protocol import GeneratedClip, GenerationRequest

SERVICE = "video service"
DEFAULT_MAX_DOWNLOAD = 512 * 1024 * 1024
MAX_REFERENCE_BYTES = 20 * 1024 * 1024
RUNNING = ("queued", "in_progress")


class OpenAIVideoGenerator:
    """Backend "openai-video": text-to-video, or image-to-video from one image input."""

    def __init__(self, model_id: str, config: Mapping[str, Any] | None = None) -> None:
        self.model_id = model_id
        self.config = dict(config or {})
        refuse_secrets(self.config)

    #: job operation ("*": any) -> the parameters a job may set
    OPERATIONS = {"*": (
        Param("seconds", "int", "Clip length in seconds, as the service counts it.", 4, 1, 20),
        Param("width", "int", "Frame width the service is asked for.", 1280, 64, 4096),
        Param("height", "int", "Frame height the service is asked for.", 720, 64, 4096),
    )}

    def model_card(self) -> ModelCard:
        return remote_card(self.model_id, self.config, f"{self.config.get('model', 'video model')} at "
                                                       f"{self._base_url()}")

    def _base_url(self) -> str:
        return openai_base_url(self.config)

    def _headers(self) -> dict[str, str]:
        return bearer_headers(self.config)

    def _number(self, name: str, default: float, low: float, high: float) -> float:
        value = self.config.get(name, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= float(value) <= high:
            raise SpecError(f"must be a number from {low:g} to {high:g}", field=f"config.{name}")
        return float(value)

    def generate(self, request_: GenerationRequest) -> list[GeneratedClip]:
        import httpx

        params = request_.params
        model = self.config.get("model")
        if not model or not isinstance(model, str):
            raise SpecError("needs the service's model name", field="config.model")
        if not request_.job.prompt:
            raise InputError("a video service needs a prompt")
        seconds, width, height = (_bounded(params, "seconds", 4, 1, 20), _bounded(params, "width", 1280, 64, 4096),
                                  _bounded(params, "height", 720, 64, 4096))
        size = f"{width}x{height}"
        if not re.fullmatch(r"[1-9][0-9]{1,3}x[1-9][0-9]{1,3}", size):
            raise SpecError(f"{size!r} is not WIDTHxHEIGHT", field="params.width")
        poll_interval = self._number("poll_interval_s", 2.0, 0.0, 60.0)
        poll_timeout = self._number("poll_timeout_s", 1800.0, 0.01, 24 * 3600.0)
        max_bytes = int(self._number("max_download_bytes", DEFAULT_MAX_DOWNLOAD, 1024, 16 * 1024 ** 3))
        settings = HttpSettings.from_config(self.config)
        source = request_.inputs[0] if request_.inputs else None
        fields = {"model": model, "prompt": request_.job.prompt, "seconds": str(seconds), "size": size}
        # multipart form fields, as the service's own clients send them (with or without an image)
        files: dict[str, tuple] = {key: (None, value) for key, value in fields.items()}
        if source is not None:
            if not source.media_type.startswith("image/"):
                raise InputError(f"input {source.name} is {source.media_type}; image-to-video takes an image")
            data = source.path.read_bytes()
            if len(data) > MAX_REFERENCE_BYTES:
                raise InputError(f"input {source.name} is over the service's {MAX_REFERENCE_BYTES // 2 ** 20} MB "
                                 "reference limit")
            files["input_reference"] = (source.name, data, source.media_type)
        base = self._base_url()
        target = request_.scratch_dir / "service_download.mp4" if request_.scratch_dir else None
        if target is None:
            raise BackendError("a video backend needs the run's scratch directory (request.scratch_dir)")
        with httpx.Client(follow_redirects=False, headers=self._headers()) as client:
            created = json_of(request(client, "POST", f"{base}/videos", service=SERVICE, settings=settings,
                                      files=files), SERVICE)
            video_id = created.get("id") if isinstance(created, dict) else None
            if not isinstance(video_id, str) or not re.fullmatch(r"[A-Za-z0-9_\-]{1,128}", video_id):
                raise BackendError(f"{SERVICE} accepted the job but returned no usable video id")
            video = self._wait(client, base, video_id, created, settings, poll_interval, poll_timeout, request_)
            size_bytes = download(client, "GET", f"{base}/videos/{video_id}/content", target, service=SERVICE,
                                  settings=settings, max_bytes=max_bytes, params={"variant": "video"})
        try:
            clip = check_video_file(target, service=SERVICE, max_frames=min(MAX_CLIP_FRAMES, seconds * 120))
            fmt = clip.clip_format()
            streamed = stream_clip(even_crop(clip.frames(), fmt.width, fmt.height), request_, fmt,
                                   stem=f"{request_.job.id}_{model}", total=clip.frame_count)
        finally:
            target.unlink(missing_ok=True)  # the service's unmarked file never outlives the run
        details = {"service": base, "service_model": model, "service_video_id": video_id, "seconds": seconds,
                   "requested_size": size, "download_bytes": size_bytes, "prompt": request_.job.prompt,
                   "service_status": video.get("status")}
        name = f"{request_.job.id}_{model}.mp4".replace("/", "_")
        if source is not None:
            return [streamed.as_output(name, operation="genai_edit", parents=(source.asset_id,),
                                       details={**details, "mode": "image2video", "source": source.name})]
        return [streamed.as_output(name, operation="generated", details={**details, "mode": "text2video"})]

    def _wait(self, client, base: str, video_id: str, video: dict, settings: HttpSettings, interval: float,
              timeout: float, request_: GenerationRequest) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            status = video.get("status")
            if status == "completed":
                return video
            if status == "failed":
                error = video.get("error") or {}
                message = error.get("message") if isinstance(error, dict) else None
                raise BackendError(f"{SERVICE} failed video {video_id}: "
                                   f"{' '.join(str(message or 'no reason given').split())[:300]}")
            if status not in RUNNING:
                raise BackendError(f"{SERVICE} reported video {video_id} as {str(status)[:40]!r}, not one of "
                                   "queued, in_progress, completed, failed")
            if request_.progress:
                progress = video.get("progress")
                if isinstance(progress, (int, float)) and not isinstance(progress, bool):
                    request_.progress(int(max(0, min(100, progress))), 100)
            if request_.cancelled and request_.cancelled():
                self._delete(client, base, video_id, settings)
                raise BackendError(f"job {request_.job.id} was cancelled; {SERVICE} video {video_id} deleted")
            if time.monotonic() >= deadline:
                self._delete(client, base, video_id, settings)
                raise BackendError(f"{SERVICE} video {video_id} did not finish within {timeout:g} s; it was deleted")
            time.sleep(interval)
            video = json_of(request(client, "GET", f"{base}/videos/{video_id}", service=SERVICE,
                                    settings=settings), SERVICE)
            if not isinstance(video, dict):
                raise BackendError(f"{SERVICE} answered a poll of {video_id} with something that is not a video object")

    @staticmethod
    def _delete(client, base: str, video_id: str, settings: HttpSettings) -> None:
        try:
            request(client, "DELETE", f"{base}/videos/{video_id}", service=SERVICE,
                    settings=HttpSettings(settings.timeout_s, retries=1, backoff_s=settings.backoff_s))
        except BackendError:
            pass  # best effort: the job is ending anyway, and says why


def _bounded(params: Mapping[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SpecError(f"must be a whole number from {low} to {high}", field=f"params.{name}")
    return value
