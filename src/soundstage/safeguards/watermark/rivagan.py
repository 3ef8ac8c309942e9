"""Second engine for stills and keyframes: RivaGAN (32-bit) run through onnxruntime.

The ONNX encoder/decoder ship inside the `invisible-watermark` wheel (imwatermark). We
only read the two files: importing imwatermark would import torch. Conventions (checked
against the models' input metadata and imwatermark's own wrapper): input `frame` is
float32 (1, 3, 1, H, W) in [-1, 1], channels in **BGR** order (imwatermark feeds OpenCV
images), encoder input `data` is (1, 32) float 0/1 bits; decoder output is (1, 32)
logits (> 0 means bit 1). Marks we make are readable by imwatermark's "rivaGan" decoder.

RivaGAN has no sync signal and no check bits, so its false-positive rate cannot be
bounded analytically as for our spread engine (we tried "two halves must agree": on
flat grey pictures the decoder's bits are biased, so the halves agree by chance). We
call the mark found when the mean |logit| clears MIN_MARGIN; unmarked natural and
synthetic pictures measured 0.2-3.4, marked ones 8-19. The reported FPR is an
empirical level, not a bound: use RivaGAN as a second opinion, never alone.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from soundstage.errors import BackendError

from .protocol import Detection, check_frame, check_payload, soft_binding_assertion

__all__ = ["RivaGanWatermark", "RIVAGAN_ALG", "find_rivagan_models"]

RIVAGAN_ALG = "io.soundstage.rivagan.1"
BITS = 32
MIN_MARGIN = 5.0          # mean |logit| required (unmarked pictures measured 0.2-3.4)
EMPIRICAL_FPR = 1e-2      # stated level for a found RivaGAN mark: not a bound (see docstring)


def find_rivagan_models(model_dir: str | os.PathLike[str] | None = None) -> tuple[Path, Path]:
    """Locate rivagan_encoder.onnx / rivagan_decoder.onnx without importing imwatermark."""
    if model_dir is None:
        spec = importlib.util.find_spec("imwatermark")
        if spec is None or not spec.submodule_search_locations:
            raise BackendError("the RivaGAN models are not installed",
                               hint="pip install --no-deps invisible-watermark (ships the ONNX files)")
        model_dir = list(spec.submodule_search_locations)[0]
    enc, dec = Path(model_dir) / "rivagan_encoder.onnx", Path(model_dir) / "rivagan_decoder.onnx"
    if not enc.is_file() or not dec.is_file():
        raise BackendError(f"RivaGAN ONNX files not found in {model_dir}")
    return enc, dec


def _to_input(frame_rgb: np.ndarray) -> np.ndarray:
    bgr = frame_rgb[..., ::-1].astype(np.float32) / 127.5 - 1.0
    return np.ascontiguousarray(bgr.transpose(2, 0, 1)[None, :, None])


class RivaGanWatermark:
    """RivaGAN via onnxruntime: robust (crop, JPEG) but ~5 s per 1080p frame on 2 cores."""

    name = RIVAGAN_ALG
    payload_bits = BITS

    def __init__(self, model_dir: str | os.PathLike[str] | None = None, threads: int | None = None) -> None:
        self._paths = find_rivagan_models(model_dir)
        self._threads = threads
        self._enc: Any = None
        self._dec: Any = None

    def _sessions(self) -> tuple[Any, Any]:
        if self._enc is None:
            try:
                import onnxruntime as ort
            except ImportError as exc:  # pragma: no cover - onnxruntime is a project dependency
                raise BackendError("onnxruntime is needed for RivaGAN") from exc
            opts = ort.SessionOptions()
            opts.log_severity_level = 3
            if self._threads:
                opts.intra_op_num_threads = self._threads
            try:
                self._enc = ort.InferenceSession(str(self._paths[0]), opts, providers=["CPUExecutionProvider"])
                self._dec = ort.InferenceSession(str(self._paths[1]), opts, providers=["CPUExecutionProvider"])
            except Exception as exc:  # onnxruntime raises its own exception types
                raise BackendError(f"could not load the RivaGAN models: {exc}") from exc
        return self._enc, self._dec

    def embed(self, frame_rgb: np.ndarray, payload: int) -> np.ndarray:
        frame = check_frame(frame_rgb, min_side=32)
        payload = check_payload(payload, BITS)
        enc, _ = self._sessions()
        h, w = frame.shape[:2]
        even = frame[: h - h % 2, : w - w % 2]          # the network halves the size internally
        bits = np.array([(payload >> (BITS - 1 - i)) & 1 for i in range(BITS)], dtype=np.float32)[None]
        out = enc.run(None, {"frame": _to_input(even), "data": bits})[0]
        marked = np.rint((np.clip(out[0, :, 0], -1.0, 1.0).transpose(1, 2, 0) + 1.0) * 127.5).astype(np.uint8)
        result = frame.copy()
        result[: even.shape[0], : even.shape[1]] = marked[..., ::-1]
        return result

    def logits(self, frame_rgb: np.ndarray) -> np.ndarray:
        """The decoder's 32 raw logits (> 0: bit is 1)."""
        _, dec = self._sessions()
        return np.asarray(dec.run(None, {"frame": _to_input(frame_rgb)})[0][0], dtype=np.float64)

    def _decide(self, logits: np.ndarray, extra: dict[str, Any]) -> Detection:
        bits = (logits > 0).astype(int)
        payload = int("".join(map(str, bits)), 2)
        margin = float(np.mean(np.abs(logits)))
        details = {"margin": round(margin, 2), "raw_payload": payload, "fpr_basis": "empirical", **extra}
        if margin >= MIN_MARGIN:
            return Detection(True, payload, 1.0 - EMPIRICAL_FPR, EMPIRICAL_FPR, self.name, details)
        return Detection(False, None, 0.0, 1.0, self.name, details)

    def detect(self, frame_rgb: np.ndarray) -> Detection:
        return self._decide(self.logits(check_frame(frame_rgb, min_side=32)), {})

    def embed_frames(self, frames: Iterable[np.ndarray], payload: int) -> Iterator[np.ndarray]:
        for frame in frames:
            yield self.embed(frame, payload)

    def detect_frames(self, frames: Iterable[np.ndarray], max_frames: int = 8) -> Detection:
        """Average the logits of up to `max_frames` frames, then decide once."""
        total: np.ndarray | None = None
        used = 0
        for frame in frames:
            if used >= max_frames:
                break
            logits = self.logits(check_frame(frame, min_side=32))
            total = logits if total is None else total + logits
            used += 1
        if total is None:
            return Detection(False, None, 0.0, 1.0, self.name, {"frames": 0})
        return self._decide(total / used, {"frames": used})

    def c2pa_soft_binding(self, payload: int, *, timespan_ms: tuple[int, int] | None = None) -> dict[str, Any]:
        return soft_binding_assertion(self.name, check_payload(payload, BITS), BITS, timespan_ms)
