"""Local stand-ins for remote image services that speak their REAL wire protocols, on 127.0.0.1.

Tests of the HTTP backends run against these instead of mocking the client: the backend's real
httpx code sends real requests and parses real responses. Each server also lets a test script
failures (a 500 before success, a 400 with a message, a slow answer, a payload that is not an
image) to exercise the error paths.

- ``FakeComfyUI``: ``POST /prompt`` -> ``{"prompt_id", "number", "node_errors"}``; ``GET /history/{id}``
  (``{}`` until done, then outputs per node); ``GET /view?filename=&subfolder=&type=``;
  ``POST /upload/image`` (multipart ``image``); ``POST /interrupt``.
- ``FakeOpenAIImages``: ``POST /v1/images/generations`` (JSON) and ``POST /v1/images/edits``
  (multipart), answering ``{"created", "data": [{"b64_json", "revised_prompt"}]}`` and OpenAI's
  ``{"error": {"message", "type", "param", "code"}}`` shape on errors.

Pictures are drawn deterministically from the prompt and seed so tests can compare them.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import hashlib
import io
import json
import mimetypes
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np


def picture(prompt: str, seed: int, width: int, height: int, base: np.ndarray | None = None) -> bytes:
    """A deterministic PNG for (prompt, seed): a colour gradient, or a tint of ``base`` for edits."""
    from PIL import Image

    digest = hashlib.sha256(f"{prompt}|{seed}".encode()).digest()
    a, b = np.frombuffer(digest[:3], np.uint8).astype(np.float32), np.frombuffer(digest[3:6], np.uint8)
    t = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :, None]
    pixels = (a * (1 - t) + b.astype(np.float32) * t).repeat(height, axis=0)
    if base is not None:
        pixels = 0.7 * np.asarray(Image.fromarray(base).resize((width, height)), np.float32) + 0.3 * pixels
    buf = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


@dataclass
class Scripted:
    """A canned answer for the next request whose path starts with ``path``."""

    path: str
    status: int
    body: bytes
    content_type: str = "application/json"
    delay_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)  # e.g. {"Retry-After": "1"} on a 429


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    json: Any = None
    form: dict[str, Any] = field(default_factory=dict)


def parse_multipart(content_type: str, body: bytes) -> dict[str, Any]:
    """form field -> str value, or (filename, bytes) for a file part."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    form: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        form[name] = (filename, payload) if filename is not None else payload.decode("utf-8", "replace")
    return form


class _FakeServer:
    """A threaded HTTP server on a free loopback port; use as a context manager."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self._script: list[Scripted] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _handle(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                seen = Seen(self.command, parts.path, parse_qs(parts.query), dict(self.headers.items()), body)
                ctype = self.headers.get("Content-Type", "")
                if ctype.startswith("application/json") and body:
                    try:
                        seen.json = json.loads(body)
                    except ValueError:
                        seen.json = None
                elif ctype.startswith("multipart/form-data"):
                    seen.form = parse_multipart(ctype, body)
                with outer._lock:
                    outer.seen.append(seen)
                    scripted = next((s for s in outer._script if parts.path.startswith(s.path)), None)
                    if scripted is not None:
                        outer._script.remove(scripted)
                if scripted is not None:
                    time.sleep(scripted.delay_s)
                    status, payload, content_type = scripted.status, scripted.body, scripted.content_type
                    extra = scripted.headers
                else:
                    # respond() answers (status, body, content type) or, with headers, a fourth item
                    answer = outer.respond(seen)
                    status, payload, content_type = answer[:3]
                    extra = answer[3] if len(answer) > 3 else {}
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    for name, value in extra.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
                    pass

            do_GET = do_POST = do_DELETE = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> _FakeServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def script(self, path: str, status: int, body: Any = b"", *, content_type: str = "application/json",
               delay_s: float = 0.0, headers: dict[str, str] | None = None) -> None:
        """Answer the next request to ``path`` like this (then behave normally again)."""
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        with self._lock:
            self._script.append(Scripted(path, status, data, content_type, delay_s, dict(headers or {})))

    def requests_to(self, path: str) -> list[Seen]:
        return [s for s in self.seen if s.path.startswith(path)]

    def respond(self, seen: Seen) -> tuple[int, bytes, str]:  # pragma: no cover - overridden
        raise NotImplementedError

    @staticmethod
    def _json(status: int, body: Any) -> tuple[int, bytes, str]:
        return status, json.dumps(body).encode(), "application/json"


class FakeComfyUI(_FakeServer):
    """ComfyUI's HTTP API. A workflow "runs" when ``/history`` has been polled ``polls_before_done`` times.

    Execution is simulated from the nodes a real workflow has: the text of CLIPTextEncode nodes, the
    seed of KSampler, the size of EmptyLatentImage (or of the LoadImage picture); each SaveImage node
    yields one "output" image, each PreviewImage a "temp" one (backends should skip those).
    """

    def __init__(self, *, polls_before_done: int = 1) -> None:
        super().__init__()
        self.polls_before_done = polls_before_done
        self.uploads: dict[str, bytes] = {}
        self.files: dict[tuple[str, str, str], bytes] = {}
        self.prompts: dict[str, dict] = {}
        self._polls: dict[str, int] = {}
        self.fail_execution: str | None = None  # an exception message to report for the next prompt
        self.interrupted = 0

    def respond(self, seen: Seen) -> tuple[int, bytes, str]:
        if seen.method == "POST" and seen.path == "/prompt":
            return self._submit(seen)
        if seen.method == "GET" and seen.path.startswith("/history/"):
            return self._history(seen.path.removeprefix("/history/"))
        if seen.method == "GET" and seen.path == "/view":
            key = tuple(seen.query.get(k, [""])[0] for k in ("filename", "subfolder", "type"))
            data = self.files.get(key)
            if data is None:
                return 404, b"404: Not Found", "text/plain"
            return 200, data, mimetypes.guess_type(key[0])[0] or "application/octet-stream"
        if seen.method == "POST" and seen.path == "/upload/image":
            item = seen.form.get("image")
            if not isinstance(item, tuple):
                return 400, b"", "text/plain"
            name = item[0] or "upload.png"
            self.uploads[name] = item[1]
            return self._json(200, {"name": name, "subfolder": seen.form.get("subfolder", ""), "type": "input"})
        if seen.method == "POST" and seen.path == "/interrupt":
            self.interrupted += 1
            return 200, b"", "text/plain"
        return 404, b"404: Not Found", "text/plain"

    def _submit(self, seen: Seen) -> tuple[int, bytes, str]:
        workflow = (seen.json or {}).get("prompt") if isinstance(seen.json, dict) else None
        if not isinstance(workflow, dict) or not workflow:
            return self._json(400, {"error": {"type": "invalid_prompt", "message": "Cannot execute because the "
                                              "prompt is empty or not an API-format workflow", "details": "",
                                              "extra_info": {}}, "node_errors": {}})
        node_errors = {}
        for node_id, node in workflow.items():
            if not isinstance(node, dict) or "class_type" not in node or not isinstance(node.get("inputs"), dict):
                node_errors[node_id] = {"errors": [{"type": "invalid_node", "message": "missing class_type/inputs"}]}
            elif node["class_type"] == "LoadImage" and node["inputs"].get("image") not in self.uploads:
                node_errors[node_id] = {"errors": [{"type": "value_not_in_list",
                                                    "message": "Value not in list",
                                                    "details": f"image: '{node['inputs'].get('image')}'"}],
                                        "class_type": "LoadImage"}
        if not any(isinstance(n, dict) and n.get("class_type") in OUTPUT_NODES for n in workflow.values()):
            return self._json(400, {"error": {"type": "prompt_no_outputs", "message": "Prompt has no outputs",
                                              "details": "", "extra_info": {}}, "node_errors": {}})
        if node_errors:
            return self._json(400, {"error": {"type": "prompt_outputs_failed_validation",
                                              "message": "Prompt outputs failed validation", "details": "",
                                              "extra_info": {}}, "node_errors": node_errors})
        prompt_id = str(uuid.uuid4())
        self.prompts[prompt_id] = workflow
        self._polls[prompt_id] = 0
        return self._json(200, {"prompt_id": prompt_id, "number": len(self.prompts), "node_errors": {}})

    def _history(self, prompt_id: str) -> tuple[int, bytes, str]:
        workflow = self.prompts.get(prompt_id)
        if workflow is None:
            return self._json(200, {})
        self._polls[prompt_id] += 1
        if self._polls[prompt_id] <= self.polls_before_done:
            return self._json(200, {})  # still queued or running: ComfyUI answers an empty object
        if self.fail_execution:
            message, self.fail_execution = self.fail_execution, None
            return self._json(200, {prompt_id: {"prompt": [0, prompt_id, workflow, {}, []], "outputs": {},
                                                "status": {"status_str": "error", "completed": False, "messages": [
                                                    ["execution_error", {"prompt_id": prompt_id, "node_id": "3",
                                                                         "exception_message": message}]]}}})
        texts = [n["inputs"].get("text", "") for n in workflow.values() if n["class_type"] == "CLIPTextEncode"]
        seeds = [n["inputs"].get("seed", n["inputs"].get("noise_seed", 0)) for n in workflow.values()
                 if n["class_type"].startswith("KSampler")]
        width, height, base, count = 512, 512, None, 1
        for node in workflow.values():
            if node["class_type"] == "EmptyLatentImage":
                width, height = int(node["inputs"]["width"]), int(node["inputs"]["height"])
                count = int(node["inputs"].get("batch_size", 1))
            if node["class_type"] in VIDEO_LATENT_NODES:  # e.g. EmptyLTXVLatentVideo: length = frames
                width, height = int(node["inputs"]["width"]), int(node["inputs"]["height"])
                count = int(node["inputs"].get("length", 1))
            if node["class_type"] == "LoadImage":
                from soundstage.media.images import read_image

                base = read_image(self.uploads[node["inputs"]["image"]])
                height, width = base.shape[:2]
        outputs = {}
        for node_id, node in sorted(workflow.items()):
            if node["class_type"] in VIDEO_OUTPUT_NODES:
                frames = moving_frames(" ".join(texts), int(seeds[0] if seeds else 0), width, height, count, base)
                outputs[node_id] = self._save_video(node, frames)
                continue
            kind = {"SaveImage": "output", "PreviewImage": "temp"}.get(node["class_type"])
            if kind is None:
                continue
            if kind == "output" and count > 1:  # a batch: SaveImage writes one file per image
                frames = moving_frames(" ".join(texts), int(seeds[0] if seeds else 0), width, height, count, base)
                images = []
                for frame in frames:
                    filename = f"{node['inputs'].get('filename_prefix', 'ComfyUI')}_{len(self.files) + 1:05d}_.png"
                    self.files[(filename, "", "output")] = png_of(frame)
                    images.append({"filename": filename, "subfolder": "", "type": "output"})
                outputs[node_id] = {"images": images}
                continue
            prefix = node["inputs"].get("filename_prefix", "ComfyUI") if kind == "output" else "ComfyUI_temp"
            filename = f"{prefix}_{len(self.files) + 1:05d}_.png"
            self.files[(filename, "", kind)] = picture(" ".join(texts) + kind, int(seeds[0] if seeds else 0),
                                                       width, height, base)
            outputs[node_id] = {"images": [{"filename": filename, "subfolder": "", "type": kind}]}
        return self._json(200, {prompt_id: {"prompt": [0, prompt_id, workflow, {}, list(outputs)],
                                            "outputs": outputs,
                                            "status": {"status_str": "success", "completed": True, "messages": []}}})


    def _save_video(self, node: dict, frames: list[np.ndarray]) -> dict:
        """What ComfyUI's video output nodes save and report: SaveAnimatedWEBP an animated WebP
        under ``images`` with ``animated: [true]``, VHS_VideoCombine an MP4 under ``gifs``."""
        inputs = node["inputs"]
        prefix = inputs.get("filename_prefix", "ComfyUI")
        if node["class_type"] == "VHS_VideoCombine":
            rate = float(inputs.get("frame_rate", 8))
            filename = f"{prefix}_{len(self.files) + 1:05d}.mp4"
            self.files[(filename, "", "output")] = mp4_of(frames, rate)
            return {"gifs": [{"filename": filename, "subfolder": "", "type": "output",
                              "format": inputs.get("format", "video/h264-mp4"), "frame_rate": rate}]}
        filename = f"{prefix}_{len(self.files) + 1:05d}_.webp"
        self.files[(filename, "", "output")] = webp_of(frames, float(inputs.get("fps", 6.0)))
        return {"images": [{"filename": filename, "subfolder": "", "type": "output"}], "animated": [True]}


OUTPUT_NODES = ("SaveImage", "PreviewImage", "SaveAnimatedWEBP", "VHS_VideoCombine")
VIDEO_OUTPUT_NODES = ("SaveAnimatedWEBP", "VHS_VideoCombine")
VIDEO_LATENT_NODES = ("EmptyLTXVLatentVideo", "EmptyHunyuanLatentVideo", "EmptyMochiLatentVideo")


def moving_frames(prompt: str, seed: int, width: int, height: int, count: int,
                  base: np.ndarray | None = None) -> list[np.ndarray]:
    """``count`` deterministic frames for (prompt, seed): a gradient with a bright bar that moves
    across it, so consecutive frames differ (or a tint of ``base`` for image-to-video)."""
    from PIL import Image

    digest = hashlib.sha256(f"{prompt}|{seed}".encode()).digest()
    a = np.frombuffer(digest[:3], np.uint8).astype(np.float32)
    b = np.frombuffer(digest[3:6], np.uint8).astype(np.float32)
    t = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :, None]
    still = (a * (1 - t) + b * t).repeat(height, axis=0)
    if base is not None:
        still = 0.7 * np.asarray(Image.fromarray(base).resize((width, height)), np.float32) + 0.3 * still
    frames = []
    for index in range(count):
        frame = still.copy()
        x = int(index * max(1, width // max(count, 1))) % width
        frame[:, x:x + max(2, width // 16)] = 235.0
        frames.append(np.clip(frame, 0, 255).astype(np.uint8))
    return frames


def png_of(frame: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, format="PNG")
    return buf.getvalue()


def webp_of(frames: list[np.ndarray], fps: float) -> bytes:
    """An animated WebP, as ComfyUI's SaveAnimatedWEBP writes it (lossless here, so tests compare)."""
    from PIL import Image

    images = [Image.fromarray(f) for f in frames]
    buf = io.BytesIO()
    images[0].save(buf, format="WEBP", save_all=True, append_images=images[1:], duration=int(round(1000 / fps)),
                   lossless=True, loop=0)
    return buf.getvalue()


def mp4_of(frames: list[np.ndarray], fps: float) -> bytes:
    """An H.264 MP4 of ``frames`` (what video services and VHS_VideoCombine return)."""
    import tempfile
    from fractions import Fraction
    from pathlib import Path

    import av

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clip.mp4"
        with av.open(str(path), "w") as container:
            stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
            stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
            stream.options = {"crf": "18", "preset": "veryfast"}
            for frame in frames:
                for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        return path.read_bytes()


class FakeOpenAIImages(_FakeServer):
    """The OpenAI images API (generations and edits), optionally requiring a bearer key."""

    def __init__(self, *, api_key: str | None = None) -> None:
        super().__init__()
        self.api_key = api_key
        self.b64_override: str | None = None  # send this instead of a real picture (non-image tests)

    def _error(self, status: int, message: str, kind: str = "invalid_request_error",
               param: str | None = None, code: str | None = None) -> tuple[int, bytes, str]:
        return self._json(status, {"error": {"message": message, "type": kind, "param": param, "code": code}})

    def respond(self, seen: Seen) -> tuple[int, bytes, str]:
        if seen.method != "POST" or seen.path not in ("/v1/images/generations", "/v1/images/edits"):
            return self._error(404, f"Invalid URL ({seen.method} {seen.path})")
        if self.api_key is not None and seen.headers.get("Authorization") != f"Bearer {self.api_key}":
            return self._error(401, "Incorrect API key provided.", code="invalid_api_key")
        fields = seen.json if seen.path.endswith("generations") else seen.form
        if not isinstance(fields, dict):
            return self._error(400, "We could not parse the JSON body of your request.")
        prompt, model = fields.get("prompt"), fields.get("model")
        if not prompt:
            return self._error(400, "Missing required parameter: 'prompt'.", param="prompt")
        if not model:
            return self._error(400, "you must provide a model parameter", param="model")
        try:
            width, height = (int(v) for v in str(fields.get("size", "1024x1024")).split("x"))
            count = int(fields.get("n", 1))
        except ValueError:
            return self._error(400, f"Invalid size or n: {fields.get('size')!r}", param="size")
        base = None
        if seen.path.endswith("edits"):
            image = fields.get("image") or fields.get("image[]")
            if not isinstance(image, tuple):
                return self._error(400, "Missing required parameter: 'image'.", param="image")
            from soundstage.media.images import read_image

            base = read_image(image[1])
        data = []
        for index in range(count):
            png = picture(f"{model}|{prompt}", index, width, height, base)
            b64 = self.b64_override if self.b64_override is not None else base64.b64encode(png).decode()
            data.append({"b64_json": b64, "revised_prompt": prompt})
        return self._json(200, {"created": int(time.time()), "data": data})
