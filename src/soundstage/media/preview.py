"""Review proxies: the low-resolution, labelled pictures approvers look at before they approve.

Pure pixel functions (no ledger, no store): the guard uses them to make a job's *preview* (its
backend run on proxies of its inputs, then labelled and marked like any output), the services to
make bounded thumbnails. A preview always carries a burned-in band reading ``PREVIEW_LABEL``, so a
frame grabbed from it cannot pass for a final."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

PREVIEW_LABEL = "PREVIEW \u2014 NOT FOR USE"
#: a proxy is at most this wide (and tall); the watermark stays reliable down to 512x288 plates
PROXY_MAX_SIDE = 512
#: and at most this many frames of a clip (the head of the shot)
PROXY_MAX_FRAMES = 24
THUMB_MAX_SIDE = 480


def fit_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """The size of a picture scaled down (never up) so neither side exceeds ``max_side``; both even
    (H.264 4:2:0 needs even sides)."""
    if width <= 0 or height <= 0:
        raise ValueError(f"bad picture size {width}x{height}")
    scale = min(1.0, max_side / max(width, height))
    w = max(2, int(round(width * scale)) // 2 * 2)
    h = max(2, int(round(height * scale)) // 2 * 2)
    return w, h


def downscale(pixels: np.ndarray, max_side: int) -> np.ndarray:
    """HxWx3 uint8 RGB scaled down to fit ``max_side`` (Lanczos), even-sized."""
    from PIL import Image

    h, w = pixels.shape[:2]
    size = fit_size(w, h, max_side)
    if size == (w, h):
        return np.ascontiguousarray(pixels[:, :, :3])
    return np.asarray(Image.fromarray(np.ascontiguousarray(pixels[:, :, :3])).resize(size, Image.LANCZOS))


@lru_cache(maxsize=16)
def _font(size: int):
    from PIL import ImageFont

    try:
        from soundstage.fonts import FONT_FILES

        return ImageFont.truetype(str(FONT_FILES["latin"]["bold"].path), size)
    except Exception:  # noqa: BLE001 - a missing Debian font still gets a readable label
        return ImageFont.load_default(size=size)


def burn_label(pixels: np.ndarray, text: str = PREVIEW_LABEL) -> np.ndarray:
    """The picture with an opaque red band along its top edge carrying ``text`` in white: part of
    the pixels (and so of the watermarked, signed file), not an overlay a player could hide."""
    from PIL import Image, ImageDraw

    image = Image.fromarray(np.ascontiguousarray(pixels[:, :, :3]))
    w, h = image.size
    band = max(12, h // 9)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, w, band), fill=(190, 20, 30))
    size = max(8, int(band * 0.62))
    font = _font(size)
    while size > 8 and draw.textlength(text, font=font) > w - 8:
        size -= 1
        font = _font(size)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    draw.text(((w - (right - left)) / 2 - left, (band - (bottom - top)) / 2 - top), text, font=font,
              fill=(255, 255, 255))
    return np.asarray(image)


def has_label_band(pixels: np.ndarray) -> bool:
    """Whether the top band is the label's red (tests, and a check on served previews)."""
    h = pixels.shape[0]
    band = pixels[: max(2, h // 30), :, :3].reshape(-1, 3).astype(int)
    red = (band[:, 0] > 140) & (band[:, 1] < 90) & (band[:, 2] < 100)
    return bool(red.mean() > 0.6)
