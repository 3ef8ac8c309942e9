"""The shape every invisible-watermark engine shares, so callers can swap engines.

Frames are HxWx3 uint8 RGB numpy arrays everywhere; payloads are non-negative ints
(the asset's ledger id). Detection never raises on "no watermark": it returns
``found=False`` so `soundstage verify` can report it as a fact, not an error.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from soundstage.errors import InputError

__all__ = [
    "Detection",
    "WatermarkEngine",
    "check_frame",
    "check_payload",
    "soft_binding_assertion",
]


@dataclass(frozen=True)
class Detection:
    """What a detector concluded about one frame (or one clip, when aggregated).

    found: the mark is present with false-positive probability <= the engine's bound.
    payload: the decoded id, or None when the mark is present but unreadable.
    confidence: 1 - false_positive_rate (0.0 when nothing was found), for sorting/UI.
    false_positive_rate: probability an unmarked input yields a result at least this
        strong (an upper bound from the engine's null model, see docs/design/watermark.md).
    details: engine-specific numbers (sync z-score, estimated scale, raw bits, ...).
    """

    found: bool
    payload: int | None
    confidence: float
    false_positive_rate: float
    engine: str
    details: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class WatermarkEngine(Protocol):
    """An invisible watermark: embed an integer id into frames, read it back."""

    name: str
    payload_bits: int

    def embed(self, frame_rgb: np.ndarray, payload: int) -> np.ndarray: ...

    def detect(self, frame_rgb: np.ndarray) -> Detection: ...

    def embed_frames(self, frames: Iterable[np.ndarray], payload: int) -> Iterator[np.ndarray]: ...

    def detect_frames(self, frames: Iterable[np.ndarray]) -> Detection: ...

    def c2pa_soft_binding(self, payload: int, *, timespan_ms: tuple[int, int] | None = None) -> dict[str, Any]: ...


def check_frame(frame: Any, *, min_side: int = 16) -> np.ndarray:
    """Refuse anything that is not an HxWx3 uint8 image, with a message a user can act on."""
    if not isinstance(frame, np.ndarray):
        raise InputError(f"a frame must be a numpy array, got {type(frame).__name__}")
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise InputError(f"a frame must be HxWx3 RGB, got shape {frame.shape}")
    if frame.dtype != np.uint8:
        raise InputError(f"a frame must be uint8, got {frame.dtype}", hint="convert with np.clip(x, 0, 255).astype(np.uint8)")
    if min(frame.shape[:2]) < min_side:
        raise InputError(f"frame {frame.shape[1]}x{frame.shape[0]} is too small to watermark (min side {min_side} px)")
    return np.ascontiguousarray(frame)


def check_payload(payload: Any, bits: int) -> int:
    """Payloads are ids: plain non-negative ints that fit the engine's width."""
    if isinstance(payload, bool) or not isinstance(payload, (int, np.integer)):
        raise InputError(f"watermark payload must be an int, got {type(payload).__name__}")
    value = int(payload)
    if value < 0 or value >= (1 << bits):
        raise InputError(f"watermark payload {value} does not fit in {bits} bits")
    return value


def soft_binding_assertion(alg: str, payload: int, payload_bits: int,
                           timespan_ms: tuple[int, int] | None = None) -> dict[str, Any]:
    """Body of a `c2pa.soft-binding` assertion (C2PA 2.2 §18.10) for this payload.

    `value` is the payload as big-endian bytes, base64 encoded (the JSON form of a bstr).
    A soft binding only points at the manifest; it must never be used as a hard binding.
    """
    nbytes = (payload_bits + 7) // 8
    value = base64.b64encode(int(payload).to_bytes(nbytes, "big")).decode("ascii")
    scope: dict[str, Any] = {}
    if timespan_ms is not None:
        start, end = timespan_ms
        if start < 0 or end < start:
            raise InputError(f"bad timespan {timespan_ms}: need 0 <= start <= end (ms)")
        scope = {"timespan": {"start": int(start), "end": int(end)}}
    # `pad` is a bstr; c2pa-rs (serde_bytes) takes its JSON form as a list of byte values
    return {"alg": alg, "blocks": [{"scope": scope, "value": value}], "pad": [0]}
