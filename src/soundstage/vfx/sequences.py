"""Image sequences: shot_####.exr patterns, gap detection, PNG (Pillow) and EXR (OpenEXR) frames.

DPX: not supported yet - OpenImageIO's wheel was not evaluated against numpy 1.26 in this pass.
Files are recognised by their magic bytes, not their suffix (stored assets have no suffix).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from soundstage.errors import InputError, NotFoundError, ParseError

__all__ = ["Sequence", "find_sequence", "read_frame_rgb8", "read_exr", "write_exr", "write_png"]

EXR_MAGIC = b"\x76\x2f\x31\x01"
DPX_MAGICS = (b"SDPX", b"XPDS")
_PATTERN = re.compile(r"^(?P<prefix>.*?)(?P<hashes>#+)(?P<suffix>\.[A-Za-z0-9]+)$")


@dataclass(frozen=True)
class Sequence:
    pattern: str
    frames: tuple[int, ...]  # frame numbers found, ascending
    paths: tuple[Path, ...]
    gaps: tuple[int, ...]  # frame numbers missing between first and last

    @property
    def complete(self) -> bool:
        return not self.gaps


def find_sequence(pattern: str | Path) -> Sequence:
    """``/shots/shot_####.exr`` -> the frames present and the gaps between first and last."""
    pattern = Path(pattern)
    match = _PATTERN.match(pattern.name)
    if not match:
        raise InputError(f"{pattern.name}: not a sequence pattern", hint="e.g. shot_####.exr")
    width = len(match["hashes"])
    regex = re.compile(re.escape(match["prefix"]) + rf"(\d{{{width},}})" + re.escape(match["suffix"]) + "$")
    found: dict[int, Path] = {}
    for candidate in pattern.parent.glob(match["prefix"] + "*" + match["suffix"]):
        number = regex.match(candidate.name)
        if number:
            found[int(number.group(1))] = candidate
    if not found:
        raise NotFoundError(f"no frames match {pattern}")
    numbers = sorted(found)
    gaps = tuple(sorted(set(range(numbers[0], numbers[-1] + 1)) - set(numbers)))
    return Sequence(str(pattern), tuple(numbers), tuple(found[n] for n in numbers), gaps)


def write_png(path: Path, rgb: np.ndarray) -> None:
    from PIL import Image

    Image.fromarray(rgb).save(path)


def write_exr(path: Path, rgb: np.ndarray, *, half: bool = True) -> None:
    """Linear float RGB (HxWx3) to an EXR with half (default) or float channels."""
    import OpenEXR

    data = np.ascontiguousarray(rgb, dtype=np.float16 if half else np.float32)
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    channels = {name: np.ascontiguousarray(data[:, :, i]) for i, name in enumerate("RGB")}
    with OpenEXR.File(header, channels) as exr:
        exr.write(str(path))


def read_exr(path: Path) -> np.ndarray:
    """HxWx3 float32 (R, G, B)."""
    import OpenEXR

    try:
        with OpenEXR.File(str(path), separate_channels=True) as exr:
            channels = exr.channels()
            if not all(c in channels for c in "RGB"):
                raise ParseError(f"EXR has channels {sorted(channels)}; R, G and B are needed", source=Path(path).name)
            return np.stack([channels[c].pixels.astype(np.float32) for c in "RGB"], axis=-1)
    except ParseError:
        raise
    except Exception as exc:  # noqa: BLE001 - OpenEXR raises plain exceptions for corrupt files
        raise ParseError(f"not a readable EXR ({exc})", source=Path(path).name) from None


def read_frame_rgb8(path: Path) -> np.ndarray:
    """Any supported still as HxWx3 uint8 RGB (EXR: linear -> sRGB, clipped) for the operations."""
    path = Path(path)
    try:
        head = path.open("rb").read(4)
    except FileNotFoundError:
        raise NotFoundError(f"image not found: {path}") from None
    if head == EXR_MAGIC:
        linear = np.clip(read_exr(path), 0.0, 1.0)
        srgb = np.where(linear <= 0.0031308, linear * 12.92, 1.055 * np.power(linear, 1 / 2.4) - 0.055)
        return (srgb * 255 + 0.5).astype(np.uint8)
    if head in DPX_MAGICS:
        raise InputError(f"{path.name}: DPX is not supported yet", hint="convert to EXR or PNG")
    from soundstage.media.images import read_image

    return read_image(path)
