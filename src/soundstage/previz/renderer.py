"""3D blocking rendered by Blender (bpy) in its own worker process: the built-in previz renderer.

No trained model: every frame is procedural (``algorithmicMedia``). The scene spec is built and
validated here (soundstage.previz.blocking) before Blender starts, so bad input is a SpecError,
never a crashed render. Blender runs as ``python -m soundstage.previz.blender_worker``: one worker
per job, reused for every shot, spoken to in JSON lines with a timeout on every reply; a worker
that dies or errors becomes a one-line BackendError naming the shot.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Mapping

from soundstage import __version__
from soundstage.domain.safeguards import ModelCard
from soundstage.domain.params import Param
from soundstage.errors import BackendError, SpecError
from soundstage.generate.protocol import GeneratedFile, GeneratedImage, GenerationRequest

MODEL_ID = "soundstage.blender-blocking"
ENGINES = ("workbench", "cycles")
ANTIALIAS = ("off", "fxaa", "5", "8", "11", "16")
START_TIMEOUT_S = 60.0


def _int(params: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = params.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise SpecError(f"must be a whole number, not {value!r}", field=key)
    try:
        number = int(value)
    except ValueError:
        raise SpecError(f"must be a whole number, not {value!r}", field=key) from None
    if not low <= number <= high:
        raise SpecError(f"{number} is out of range ({low}..{high})", field=key)
    return number


def _bool(params: Mapping[str, Any], key: str, default: bool) -> bool:
    value = params.get(key, default)
    if not isinstance(value, bool):
        raise SpecError(f"must be true or false, not {value!r}", field=key)
    return value


class _Worker:
    """The Blender process and its JSON-lines pipe; every wait is bounded."""

    def __init__(self, log_dir: Path) -> None:
        self.log_path = log_dir / "blender_worker.log"
        self._log = open(self.log_path, "wb")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        started = time.perf_counter()
        try:
            self.proc = subprocess.Popen([sys.executable, "-m", "soundstage.previz.blender_worker"],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, env=env)
        except OSError as exc:
            self._log.close()
            raise BackendError(f"cannot start the Blender worker: {exc}") from exc
        self._buffer = b""
        self._selector = selectors.DefaultSelector()
        self._selector.register(self.proc.stdout, selectors.EVENT_READ)
        hello = self.receive(START_TIMEOUT_S, "starting Blender")
        if not hello.get("ok"):
            self.close()
            raise BackendError(f"the Blender worker could not start: {hello.get('error')}",
                               hint="pip install bpy==5.0.1 (needs numpy<2 and libGL)")
        self.blender_version = hello.get("blender", "")
        self.start_seconds = time.perf_counter() - started

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _last_log_line(self) -> str:
        try:
            lines = [ln for ln in self.log_path.read_text(errors="replace").splitlines()
                     if ln.strip() and "EGL" not in ln]
            return lines[-1].strip()[:200] if lines else ""
        except OSError:
            return ""

    def request(self, message: dict, timeout: float, doing: str) -> dict:
        try:
            self.proc.stdin.write((json.dumps(message) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise self._died(doing) from None
        reply = self.receive(timeout, doing)
        if not reply.get("ok"):
            raise BackendError(f"Blender failed {doing}: {reply.get('error', 'no reason given')}")
        return reply

    def receive(self, timeout: float, doing: str) -> dict:
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                raise BackendError(f"Blender timed out after {timeout:g} s {doing}",
                                   hint="raise the backend's shot_timeout_s, or lower width/height/samples")
            if not self._selector.select(timeout=min(left, 1.0)):
                if self.proc.poll() is not None:
                    raise self._died(doing)
                continue
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                self.proc.wait(timeout=5)
                raise self._died(doing)
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        try:
            return json.loads(line)
        except ValueError:
            self.kill()
            raise BackendError(f"the Blender worker sent garbage {doing}: {line[:80]!r}") from None

    def _died(self, doing: str) -> BackendError:
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()
            code = self.proc.returncode
        last = self._last_log_line()
        return BackendError(f"the Blender worker died {doing} (exit code {code})" + (f": {last}" if last else ""))

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(b'{"cmd": "quit"}\n')
                self.proc.stdin.flush()
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.kill()
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        self._selector.close()
        self._log.close()


_SHARED: _Worker | None = None


def _acquire_worker(log_root: Path, reuse: bool) -> tuple[_Worker, bool]:
    """A Blender worker for this job. Boarding submits one guarded job per shot, and starting
    Blender costs about a second, so one worker per process is kept alive and reused (each job
    rebuilds its set from factory settings, so nothing leaks between jobs). Returns (worker, reused)."""
    global _SHARED
    if not reuse:
        return _Worker(log_root), False
    if _SHARED is not None and _SHARED.proc.poll() is None:
        return _SHARED, True
    log_dir = Path(tempfile.gettempdir()) / f"soundstage-blender-{os.getpid()}"
    log_dir.mkdir(parents=True, exist_ok=True)
    _SHARED = _Worker(log_dir)
    if not getattr(_acquire_worker, "_registered", False):
        import atexit

        atexit.register(_release_shared)
        _acquire_worker._registered = True  # type: ignore[attr-defined]
    return _SHARED, False


def _release_shared(kill: bool = False) -> None:
    global _SHARED
    if _SHARED is not None:
        if kill:
            _SHARED.kill()
        _SHARED.close()
        _SHARED = None


class BlenderRenderer:
    """Backend "blender": blocking frames, depth passes and the .blend for each scene."""

    def __init__(self, model_id: str = MODEL_ID, config: Mapping[str, Any] | None = None) -> None:
        self.model_id = model_id
        self.config = dict(config or {})
        self.shot_timeout_s = float(self.config.get("shot_timeout_s", 120.0))
        self.worker_pid: int | None = None  # the live worker's pid while a job renders
        self.last_timings: dict[str, Any] = {}

    #: job operation ("*": any) -> the parameters a job may set
    OPERATIONS = {"*": (
        Param("shots", "json", "Shots to block (the shot list's records).", None, max_length=256 * 1024),
        Param("shot", "json", "One shot to block (instead of shots).", None, max_length=16 * 1024),
        Param("scene", "json", "The scene's breakdown record (set, characters, time of day).", None,
              max_length=64 * 1024),
        Param("characters", "json", "Character name -> mannequin look.", None, max_length=64 * 1024),
        Param("engine", "choice", "Render engine.", "workbench", choices=ENGINES),
        Param("antialias", "choice", "Anti-aliasing.", "off", choices=ANTIALIAS),
        Param("samples", "int", "Cycles samples per pixel.", 16, 1, 256),
        Param("width", "int", "Panel width in pixels.", 960, 64, 3840),
        Param("height", "int", "Panel height in pixels.", 540, 64, 2160),
        Param("depth", "bool", "Also render a depth pass per shot.", True),
        Param("save_blend", "bool", "Also keep the .blend scene.", True),
    )}

    def model_card(self) -> ModelCard:
        return ModelCard(
            id=self.model_id, name="soundstage Blender blocking", version=__version__,
            licence="GPL-3.0-or-later (Blender/bpy 5.0.1); Apache-2.0 (soundstage code)", weights_sha256="",
            training_data="owned", evidence="procedural renderer, no trained model", stores_inputs=False,
            trains_on_inputs=False, runs_in_production_env=True, trained_model=False,
        )

    # -- input
    def plan(self, params: Mapping[str, Any]) -> tuple[dict, dict]:
        """Validate the params and build the scene spec: every bad field fails here, before Blender."""
        from soundstage.previz.blocking import build_blocking

        if "shots" in params and "shot" in params:
            raise SpecError("give either 'shots' or 'shot', not both", field="shots")
        shots = params.get("shots")
        if shots is None and "shot" in params:
            shots = [params["shot"]]
        if shots is None:
            raise SpecError("no shots to block", field="shots", hint="params: {'shots': [...], 'scene': {...}}")
        engine = str(params.get("engine", "workbench")).lower()
        if engine not in ENGINES:
            raise SpecError(f"unknown engine {params.get('engine')!r}", field="engine", hint="workbench or cycles")
        antialias = str(params.get("antialias", "off")).lower()
        if antialias not in ANTIALIAS:
            raise SpecError(f"unknown antialias {params.get('antialias')!r}", field="antialias",
                            hint="one of: " + ", ".join(ANTIALIAS))
        render = {"engine": engine, "samples": _int(params, "samples", 16, 1, 256),
                  "width": _int(params, "width", 960, 64, 3840), "height": _int(params, "height", 540, 64, 2160),
                  "depth": _bool(params, "depth", True), "save_blend": _bool(params, "save_blend", True),
                  "antialias": antialias}
        spec = build_blocking(shots, params.get("scene"), width=render["width"], height=render["height"],
                              characters=params.get("characters"))
        return spec, render

    # -- run
    def generate(self, request: GenerationRequest) -> list[GeneratedImage | GeneratedFile]:
        spec, render = self.plan(request.params)
        shots = spec["shots"]
        wanted = len(shots) * (2 if render["depth"] else 1) + (1 if render["save_blend"] else 0)
        if request.reserved_asset_ids and wanted > len(request.reserved_asset_ids):
            raise SpecError(f"{len(shots)} shots make {wanted} outputs; this job allows "
                            f"{len(request.reserved_asset_ids)}", field="shots",
                            hint="split the scene into several jobs, or turn off depth")
        scratch_owner = None
        if request.scratch_dir is None:
            scratch_owner = tempfile.TemporaryDirectory(prefix="blender-")
            scratch = Path(scratch_owner.name)
        else:
            scratch = Path(request.scratch_dir)
        scene_no = spec["scene"]["number"] or (shots[0]["scene"] if shots else "") or "scene"
        outputs: list[GeneratedImage | GeneratedFile] = []
        worker = None
        shared = bool(self.config.get("reuse_worker", True))
        failed = False
        current = "starting Blender"
        try:
            worker, reused = _acquire_worker(scratch, shared)
            self.worker_pid = worker.pid
            self.last_timings = {"worker_start_s": 0.0 if reused else round(worker.start_seconds, 3),
                                 "worker_reused": reused, "shots_s": []}
            worker.request({"cmd": "scene", "spec": spec, "render": render}, self.shot_timeout_s,
                           f"building the set for scene {scene_no}")
            for position, shot in enumerate(shots):
                if request.cancelled is not None and request.cancelled():
                    raise BackendError(f"cancelled before shot {shot['id']}")
                current = f"rendering shot {shot['id']}"
                image_path = scratch / f"shot_{position:03d}.png"
                depth_path = scratch / f"shot_{position:03d}_depth.png" if render["depth"] else None
                reply = worker.request({"cmd": "shot", "index": position,
                                        "out": {"image": str(image_path),
                                                "depth": str(depth_path) if depth_path else None}},
                                       self.shot_timeout_s, current)
                self.last_timings["shots_s"].append(reply["render_seconds"])
                outputs.extend(self._outputs_for(shot, reply, render, worker, spec["scene"]["lighting"], depth_path))
                if request.progress is not None:
                    request.progress(position + 1, len(shots))
            if render["save_blend"]:
                current = f"saving the .blend of scene {scene_no}"
                blend_path = scratch / f"scene_{_slug(scene_no)}_blocking.blend"
                worker.request({"cmd": "save", "path": str(blend_path)}, self.shot_timeout_s, current)
                if not blend_path.is_file():
                    raise BackendError(f"Blender saved no .blend for scene {scene_no}")
                outputs.append(GeneratedFile(
                    path=blend_path, name=blend_path.name, media_type="application/x-blender",
                    details={"asset_kind": "blend", "scene": scene_no, "shots": [s["id"] for s in shots],
                             "blender": worker.blender_version, "label": "temporary previz media",
                             "note": "one Blender scene per shot, each with its own camera; the set is shared"}))
        except BackendError as exc:
            failed = True
            if current not in exc.message and "shot" not in exc.message:
                raise BackendError(f"{current}: {exc.message}", hint=exc.hint) from exc
            raise
        except BaseException:
            failed = True
            raise
        finally:
            self.worker_pid = None
            if worker is not None:
                if not shared:
                    worker.close()
                elif failed:  # a worker that erred or died is never reused
                    _release_shared(kill=True)
            if scratch_owner is not None and not outputs:
                scratch_owner.cleanup()
        return outputs

    def _outputs_for(self, shot: dict, reply: dict, render: dict, worker: _Worker, lighting: dict,
                     depth_path: Path | None) -> list[GeneratedImage | GeneratedFile]:
        from soundstage.previz.panel_art import letter_panel

        image_path = Path(reply["image"])
        if not image_path.is_file():
            raise BackendError(f"Blender wrote no image for shot {shot['id']}")
        pixels = letter_panel(_read_render(image_path, render), shot, lighting)
        cam = shot["camera"]
        details = {
            "shot": shot["id"], "shot_number": shot["number"], "scene": shot["scene"], "size": shot["size"],
            "angle": shot["angle"], "lens_mm": shot["lens_mm"], "movement": shot["movement"],
            "characters": [c["name"] for c in shot["characters"]], "props": [p["name"] for p in shot["props"]],
            "voices": [f"{v['name']} ({v['kind']})" for v in shot["voices"]], "pov": shot["pov"],
            "look": "drawn" if render["engine"] == "workbench" else "shaded",
            "camera": {"sensor_width_mm": cam["sensor_width_mm"], "focal_length_mm": cam["lens_mm"],
                       "distance_m": cam["distance_m"], "location": cam["location"], "target": cam["target"],
                       "roll_deg": cam["roll_deg"]},
            "engine": render["engine"], "samples": render["samples"] if render["engine"] == "cycles" else None,
            "render_seconds": reply["render_seconds"], "blender": worker.blender_version,
            "size_px": [render["width"], render["height"]], "label": "temporary previz media",
            "digital_source_type": "algorithmicMedia",
        }
        stem = f"scene{_slug(shot['scene'] or 'x')}_shot{_slug(shot['number'])}"
        out: list[GeneratedImage | GeneratedFile] = [
            GeneratedImage(pixels=pixels, name=f"{stem}_blocking.png", operation="procedural", details=details)]
        if depth_path is not None:
            if not depth_path.is_file():
                raise BackendError(f"Blender wrote no depth pass for shot {shot['id']}")
            depth = reply.get("depth") or {}
            out.append(GeneratedFile(path=depth_path, name=f"{stem}_depth.png", media_type="image/png",
                                     details={"asset_kind": "depth", "shot": shot["id"], "scene": shot["scene"],
                                              "near_m": depth.get("near_m"), "far_m": depth.get("far_m"),
                                              "encoding": depth.get("encoding"), "label": "temporary previz media"}))
        return out


def _read_render(path: Path, render: dict):
    """The worker's PNG (RGBA for exteriors, whose sky is laid in afterwards), size-checked
    before it is decoded."""
    from PIL import Image

    with Image.open(path) as im:
        if im.size != (render["width"], render["height"]):
            raise BackendError(f"Blender wrote a {im.size[0]}x{im.size[1]} image, not "
                               f"{render['width']}x{render['height']}")
        im.load()
        return im.convert("RGBA") if "A" in im.getbands() else im.convert("RGB")


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in str(text))[:40] or "x"
