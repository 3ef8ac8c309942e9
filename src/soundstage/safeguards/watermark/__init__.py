"""Invisible watermarks: the soft binding between a frame and its ledger entry.

`SpreadSpectrumWatermark` (fast, 64-bit, every frame) is the default engine;
`RivaGanWatermark` (slow, 32-bit, stills/keyframes) is a second opinion.
"""

import os
import secrets
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .protocol import Detection, WatermarkEngine, soft_binding_assertion
from .spread import ALG as SPREAD_ALG
from .spread import MIN_SIDE, Picture, SpreadSpectrumWatermark, detect_frames_with

if TYPE_CHECKING:
    from .rivagan import RivaGanWatermark

__all__ = ["Detection", "WatermarkEngine", "SpreadSpectrumWatermark", "SPREAD_ALG", "soft_binding_assertion",
           "default_engine", "detect_with_keys", "detect_frames_with_keys", "rivagan_engine", "KEY_FILE",
           "create_key", "read_key", "PREVIZ_STRENGTH", "MIN_SIDE"]

#: a production's secret watermark key, in its keys directory (hex, readable by the owner only)
KEY_FILE = "watermark.key"


#: strength for previz (boards, animatics): flat-shaded pictures that nobody grades, cut and
#: cross-faded through H.264, where the invisible default (1.0) is too weak to survive a fade
#: between two flat colour cards (docs/design/watermark.md). Detection does not depend on it.
PREVIZ_STRENGTH = 2.5


def default_engine(key: bytes | None = None, strength: float = 1.0) -> SpreadSpectrumWatermark:
    """The engine the guarded path uses for every generated or altered frame.

    ``key`` is the production's secret (``read_key``): without it nobody can find the mark, let
    alone lift it. ``None`` is the public default key, which workspaces made before production keys
    used and which anyone with soundstage can read. ``strength`` scales the perceptual mask (1.0:
    invisible to a colourist, for anything that may reach a final picture; PREVIZ_STRENGTH for
    previz). Engines are cached per key and strength (building one lays out the keyed spectrum;
    each keeps its full-frame patterns)."""
    return _engine_for(bytes(key) if key else b"", float(strength))


@lru_cache(maxsize=6)
def _engine_for(key: bytes, strength: float) -> SpreadSpectrumWatermark:
    return SpreadSpectrumWatermark(key, strength) if key else SpreadSpectrumWatermark(strength=strength)


def detect_with_keys(frame_rgb: np.ndarray, keys: Sequence[bytes | None]) -> Iterator[Detection]:
    """Each key's ``default_engine(key).detect(frame_rgb)``, in order and only as far as the caller
    reads: what a read works out without the key (whitening, the key-independent geometries and
    their folds, the rotation search's folds, the perspective search's first lattices) is worked
    out once for all keys (``spread.Picture``). A second key costs about a third of the first on an
    unmarked picture (DR015, twelfth pass)."""
    picture = Picture(frame_rgb)
    for key in keys:
        yield default_engine(key).read(picture)


def detect_frames_with_keys(frames: Iterable[np.ndarray], keys: Sequence[bytes | None],
                            max_frames: int = 48) -> list[Detection]:
    """Each key's ``default_engine(key).detect_frames(frames)``, in one pass over the frames (each
    frame whitened and folded once; ``spread.detect_frames_with``)."""
    return detect_frames_with([default_engine(key) for key in keys], frames, max_frames)


def create_key(keys_dir: Path) -> Path:
    """Write a new random 256-bit key; an existing key is never replaced (its marks would be lost)."""
    from soundstage.errors import AlreadyExistsError

    path = Path(keys_dir) / KEY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:  # created owner-only and exclusively: never readable by others, never over an existing key
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise AlreadyExistsError(f"{path} already exists; replacing it would orphan every mark made with it") \
            from None
    try:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(secrets.token_hex(32) + "\n")
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def read_key(keys_dir: Path) -> bytes | None:
    """The production's key, or None for a workspace made before production keys (public default)."""
    from soundstage.errors import IntegrityError

    path = Path(keys_dir) / KEY_FILE
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise IntegrityError(f"{path} is not a hex watermark key") from None
    if len(key) < 16:
        raise IntegrityError(f"{path} holds a key of {len(key)} bytes; 16 or more are needed")
    return key


def rivagan_engine() -> "RivaGanWatermark":
    """The slow 32-bit RivaGAN engine (needs the invisible-watermark wheel's ONNX files)."""
    from .rivagan import RivaGanWatermark

    return RivaGanWatermark()
