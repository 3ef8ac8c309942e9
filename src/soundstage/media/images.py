"""Still images in and out, refusing hostile files before they reach a decoder's worst case."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np

from soundstage.errors import InputError, ParseError, UnsafeInputError

MAX_IMAGE_PIXELS = 8192 * 8192  # an 8K frame is 7680x4320 (33 Mpx); 67 Mpx is the ceiling
MAX_IMAGE_BYTES = 512 * 1024 * 1024


def read_image(source: Path | bytes, *, name: str | None = None, max_pixels: int = MAX_IMAGE_PIXELS) -> np.ndarray:
    """Decode a still to HxWx3 uint8 RGB; decompression bombs and truncated files are refused."""
    from PIL import Image

    label = name or (source.name if isinstance(source, Path) else "image")
    if isinstance(source, Path):
        try:
            size = source.stat().st_size
        except FileNotFoundError:
            raise InputError(f"image not found: {label}") from None
        if size > MAX_IMAGE_BYTES:
            raise UnsafeInputError(f"{label}: {size / 1e6:.0f} MB is larger than the image limit")
        data = source.read_bytes()
    else:
        data = source
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                w, h = im.size
                if w * h > max_pixels:
                    raise UnsafeInputError(f"{label}: {w}x{h} is {w * h / 1e6:.0f} Mpx, over the "
                                           f"{max_pixels / 1e6:.0f} Mpx limit (decompression bomb?)")
                im.load()
                rgb = im.convert("RGB")
                return np.asarray(rgb, dtype=np.uint8).copy()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise UnsafeInputError(f"{label}: refused as a decompression bomb ({exc})".splitlines()[0]) from None
    except UnsafeInputError:
        raise
    except (OSError, SyntaxError, ValueError) as exc:
        raise ParseError(f"not a readable image ({exc})".splitlines()[0], source=label) from None


def encode_image(pixels: np.ndarray, fmt: str = "png", quality: int = 95) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    im = Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8))
    if fmt.lower() in ("jpg", "jpeg"):
        im.save(buf, format="JPEG", quality=quality, subsampling=0)
    else:
        im.save(buf, format="PNG", compress_level=3)
    return buf.getvalue()
