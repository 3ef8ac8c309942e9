"""What a director reads on a panel, drawn over the Blender render (pure Pillow/numpy).

The render gives flat tones and outlines; this adds what a storyboard artist would letter by
hand: the sky behind an exterior, the time of day as a tint (never as underexposure), a name tag
in each character's colour, a speaker mark for the voices that are heard but not seen, the
"POV" mask and label, and the "INSERT" label. Text uses the Debian Noto/WenQuanYi fonts the
PDFs embed, so any script's names draw as glyphs, and every caption is wrapped to the panel.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Mapping, Sequence

import numpy as np

from soundstage import fonts

OUTLINE = (18, 18, 20)


@lru_cache(maxsize=64)
def pil_font(family: str, style: str, size: int):
    from PIL import ImageFont

    styles = fonts.FONT_FILES[family]
    ff = styles.get(style) or styles["regular"]
    try:
        return ImageFont.truetype(str(ff.path), size, index=ff.subfont)
    except OSError:  # the font package is missing: Pillow's own font still draws Latin
        return ImageFont.load_default(size=size)


def font_for(text: str, size: int, style: str = "regular"):
    """The font of the text's first non-Latin run (one font per string), else Noto Sans."""
    by_name = {f.name: (fam, st) for fam, styles in fonts.FONT_FILES.items() for st, f in styles.items()}
    name = fonts.primary_font(text, style)
    family, real_style = by_name.get(name, ("latin", style))
    return pil_font(family, real_style, size)


def wrap_pixels(text: str, font, width: float, max_lines: int | None = None) -> list[str]:
    """Greedy word wrap to a pixel width; a word longer than the line is broken; an ellipsis
    ends the last line when text was cut. Nothing is ever drawn past ``width``."""
    words = " ".join((text or "").split()).split(" ")
    lines: list[str] = []
    line = ""
    for word in words:
        if not word:
            continue
        candidate = f"{line} {word}" if line else word
        if font.getlength(candidate) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        while font.getlength(word) > width and len(word) > 1:  # CJK or a very long word
            cut = len(word)
            while cut > 1 and font.getlength(word[:cut]) > width:
                cut -= 1
            lines.append(word[:cut])
            word = word[cut:]
        line = word
    if line:
        lines.append(line)
    if max_lines is not None and len(lines) > max_lines:
        last = lines[max_lines - 1]
        while last and font.getlength(last + fonts.ELLIPSIS) > width:
            last = last[:-1].rstrip()
        lines = lines[:max_lines - 1] + [last + fonts.ELLIPSIS]
    return lines


@lru_cache(maxsize=16)
def _sky(height: int, width: int, zenith: tuple[float, ...], horizon: tuple[float, ...]) -> np.ndarray:
    t = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None] ** 0.8
    top, bottom = np.asarray(zenith, np.float32), np.asarray(horizon, np.float32)
    column = np.clip((top * (1 - t) + bottom * t) * 255.0 + 0.5, 0, 255).astype(np.uint8)  # (height, 3)
    sky = np.ascontiguousarray(np.broadcast_to(column[:, None, :], (height, width, 3)))
    sky.flags.writeable = False
    return sky


def sky_gradient(height: int, width: int, zenith: Sequence[float], horizon: Sequence[float]) -> np.ndarray:
    """A vertical sky, zenith at the top to horizon at the bottom (uint8 RGB, cached: read-only)."""
    return _sky(height, width, tuple(float(c) for c in zenith), tuple(float(c) for c in horizon))


@lru_cache(maxsize=16)
def _sky_image(height: int, width: int, zenith: tuple[float, ...], horizon: tuple[float, ...]):
    from PIL import Image

    return Image.fromarray(_sky(height, width, zenith, horizon)).convert("RGBA")


def _compose_image(render, sky: Sequence[Sequence[float]] | None):
    """The render (ndarray or Pillow image, RGB or RGBA) over the sky, as a Pillow RGB image.
    Pillow's alpha_composite does the blend in C; an opaque render is not blended at all."""
    from PIL import Image

    img = render if isinstance(render, Image.Image) else Image.fromarray(np.ascontiguousarray(render))
    if img.mode == "RGBA":
        if img.getextrema()[3][0] < 255:
            zenith, horizon = (tuple(float(c) for c in part) for part in sky) if sky else ((0.5,) * 3, (0.5,) * 3)
            img = Image.alpha_composite(_sky_image(img.height, img.width, zenith, horizon), img)
        return img.convert("RGB")
    return img if img.mode == "RGB" else img.convert("RGB")


def compose(pixels: np.ndarray, sky: Sequence[Sequence[float]] | None, tint: Sequence[float] = (1.0, 1.0, 1.0)
            ) -> np.ndarray:
    """RGBA render over the sky (exteriors), then an optional tint; returns RGB uint8. (The
    time-of-day tint is applied to the set's colours in Blender, so the cast keeps theirs.)"""
    rgb = np.asarray(_compose_image(pixels, sky), dtype=np.uint8)
    tint_arr = np.asarray(tint, np.float32)
    if not np.allclose(tint_arr, 1.0):
        rgb = np.clip(rgb.astype(np.float32) * tint_arr + 0.5, 0, 255).astype(np.uint8)
    return rgb


def _ink(colour: Sequence[float]) -> tuple[int, int, int]:
    """Black or white text, whichever reads on this fill."""
    r, g, b = (float(c) for c in colour[:3])
    return (0, 0, 0) if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else (255, 255, 255)


def _rgb(colour: Sequence[float]) -> tuple[int, int, int]:
    return tuple(int(round(max(0.0, min(1.0, float(c))) * 255)) for c in colour[:3])  # type: ignore[return-value]


def _speaker_icon(draw, x: int, y: int, s: int, fill) -> None:
    """A loudspeaker: a box and a cone, two sound arcs."""
    draw.rectangle([x, y + s * 0.3, x + s * 0.3, y + s * 0.7], fill=fill)
    draw.polygon([(x + s * 0.3, y + s * 0.3), (x + s * 0.65, y), (x + s * 0.65, y + s), (x + s * 0.3, y + s * 0.7)],
                 fill=fill)
    for r in (0.25, 0.45):
        draw.arc([x + s * (0.65 - r), y + s * (0.5 - r), x + s * (0.65 + r), y + s * (0.5 + r)], -50, 50,
                 fill=fill, width=max(1, s // 10))


def _label(draw, x: float, y: float, text: str, size: int, fill, ink, width: int, style: str = "bold",
           anchor: str = "left") -> tuple[int, int, int, int]:
    font = font_for(text, size, style)
    pad = max(2, size // 4)
    lines = wrap_pixels(text, font, max(10, width * 0.6 - 2 * pad), max_lines=1)
    label = lines[0] if lines else ""
    w = font.getlength(label)
    left = x - w / 2 - pad if anchor == "centre" else x
    left = max(1, min(left, width - w - 2 * pad - 1))
    box = (int(left), int(y), int(left + w + 2 * pad), int(y + size + 2 * pad))
    draw.rounded_rectangle(box, radius=pad, fill=fill, outline=OUTLINE, width=max(1, size // 12))
    draw.text((box[0] + pad, box[1] + pad), fonts.visual(label), fill=ink, font=font, anchor="la")
    return box


def letter_panel(render, shot: Mapping[str, Any], lighting: Mapping[str, Any]) -> np.ndarray:
    """The finished panel (RGB uint8) from the render (ndarray or Pillow image): the sky, POV
    mask, name tags, voices and the INSERT/POV labels."""
    from PIL import Image, ImageDraw

    img = _compose_image(render, lighting.get("sky"))
    w, h = img.size
    draw = ImageDraw.Draw(img, "RGBA")
    size = max(9, h // 20)
    pov = shot.get("pov")
    if pov:
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        if pov.get("mask") == "scope":
            r = 0.46 * h
            d = np.sqrt((xx - w / 2) ** 2 + (yy - h / 2) ** 2)
            shade = np.clip((d - r) / 3.0, 0, 1)[..., None]
        else:
            d = np.sqrt(((xx - w / 2) / (w / 2)) ** 2 + ((yy - h / 2) / (h / 2)) ** 2)
            shade = (np.clip((d - 0.75) / 0.6, 0, 1) ** 1.5 * 0.85)[..., None]
        arr = np.asarray(img, np.float32) * (1 - shade)
        img = Image.fromarray(arr.astype(np.uint8))
        draw = ImageDraw.Draw(img, "RGBA")
        if pov.get("mask") == "scope":
            c = (0, 0, 0, 200)
            draw.line([(w / 2 - 0.46 * h, h / 2), (w / 2 + 0.46 * h, h / 2)], fill=c, width=max(1, h // 200))
            draw.line([(w / 2, h / 2 - 0.46 * h), (w / 2, h / 2 + 0.46 * h)], fill=c, width=max(1, h // 200))
        who = pov.get("viewer") or ""
        _label(draw, size * 0.6, size * 0.6, f"POV \u2014 {who}" if who else "POV", size, (255, 255, 255, 235),
               (0, 0, 0), w)
    elif shot.get("size") == "INSERT":
        what = ", ".join(p["name"] for p in shot.get("props") or [] if p.get("name") != "INSERT")
        _label(draw, size * 0.6, size * 0.6, f"INSERT \u2014 {what.upper()}" if what else "INSERT", size,
               (255, 255, 255, 235), (0, 0, 0), w)
    for tag in shot.get("tags") or []:
        colour = tag.get("color") or (1.0, 1.0, 1.0)
        small = size if tag.get("kind") == "person" else max(8, size * 4 // 5)
        _label(draw, tag["x"], tag["y"] - small - 6, str(tag.get("text", "")), small, (*_rgb(colour), 240),
               _ink(colour), w, anchor="centre")
    voices = shot.get("voices") or []
    y = h - size * 1.9
    for voice in reversed(voices[:4]):
        kind = "heard, not seen" if voice.get("kind") in ("", "DEVICE", None) else voice["kind"]
        text = f"{voice['name']} ({kind})"
        font = font_for(text, size, "bold")
        line = (wrap_pixels(text, font, w * 0.45, max_lines=1) or [""])[0]
        box_w = size * 1.5 + font.getlength(line) + size * 0.6
        left = w - size * 0.5 - box_w  # bottom right: the sheet prints its provenance tag bottom left
        draw.rounded_rectangle([left, y, left + box_w, y + size * 1.5], radius=size // 3,
                               fill=(255, 255, 255, 225), outline=OUTLINE)
        _speaker_icon(draw, int(left + size * 0.25), int(y + size * 0.25), size, (20, 20, 20))
        draw.text((left + size * 1.6, y + size * 0.2), fonts.visual(line), fill=(0, 0, 0), font=font)
        y -= size * 1.8
    return np.asarray(img, dtype=np.uint8).copy()
