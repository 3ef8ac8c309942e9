"""How strong the mark may be, pixel by pixel: a perceptual mask for the spread engine.

A colourist sees a mark where the picture is flat (a sky, a wall), where it is dark (a night
exterior, lifted by two stops in the grade) and where it would clip (blacks lifted, highlights
dented). So the amplitude of the mark, in grey levels (RMS of a unit pattern), is

    min(max(texture, grain), lift cap, clip cap) x luminance

- **texture**: A_FLAT on a flat field (under the visibility of a mid-frequency pattern there),
  growing with the local band-pass contrast of the picture above TEXTURE_FLOOR (about as fast as
  the contrast itself: a pattern weaker than the texture it sits in is masked by it), faster
  above TEXTURE_KNEE (busy texture hides a pattern of its own scale), capped at A_MAX. A block
  counts as busy only if its neighbours are busy too, so the smooth side of an edge gets no halo.
  Flat regions are where the mark would show; textured ones are where it survives a codec, so
  that is where the energy goes (DR015: 2.8 grey levels RMS on average over the test frames);
- **grain**: at least GRAIN_SHARE of the picture's own fine noise (film grain, sensor noise, a
  generator's dither), measured on every second pixel so the noise is not filtered away: a
  pattern about half as strong as the grain it sits in is masked by it (a grainy flat frame is
  not flat to the eye), and without it a grainy small clip lost the mark in H.264;
- **luminance**: 0 where the darkest luma of the block and its neighbours is <= DARK_ZERO
  (nothing changes in blacks), rising smoothly to 1 at DARK_FULL;
- **lift cap**: at most DARK_SLOPE grey levels per level of luma above DARK_ZERO: a lift of
  2 stops multiplies the shadows, and their mark, by up to 4 in linear light;
- **clip cap**: at most CLIP_SHARE of the distance of any channel to 0 or 255, so the mark
  (Gaussian-like, peaks ~4x its RMS) almost never clips: no lifted blacks, no dented
  highlights, even in a saturated colour whose own luma is mid-grey;
- **skin cap**: at most SKIN_CAP (x the caller's strength and `size_gain`) where the
  colour is a skin tone (hue and saturation in the Cb/Cr plane, SKIN_HUE / SKIN_SAT; a block
  and its neighbours within SKIN_REACH blocks). The texture term measures band-pass contrast at
  a fixed pixel scale, and that cannot tell a face's structure (eyes, brows, nostrils, lips,
  shading: sparse, predictable shapes that mask little) from texture (noise-like, which does):
  on a 512x288 frame a face's features fall right into the measured band (contrast 6.7 grey
  levels on the astronaut's face there, 1.7 at 1080p, same picture), and x 1.55 `size_gain` on
  top the mark reached 11 grey levels RMS on her face, a visible blotchy mottle (DR015, small
  frames). A viewer looks at faces first, so skin keeps a low mark whatever its measured
  texture; only `size_gain` raises it (without that, 320x192 H.264 clips of a face lost the
  guard's 2-frame check in 21 of 48 runs). From SKIN_HD_SIDE lines up, where a face is large
  enough in blocks to have smooth skin between its features, skin is narrowed twice (DR015,
  sixth pass): only a patch at least SKIN_OPEN blocks wide and high counts (the lines and specks
  where orange meets white or a warm light blends into a skin hue do not), and dense texture
  (fur, wood, sand: busy in every block within BUSY_REACH + SKIN_DENSE_REACH blocks, where a
  face's least busy block is a cheek) keeps SKIN_DENSE_SHARE x the texture term of that wide
  neighbourhood. Colour alone had capped 68-89% of a ginger cat's blocks and cost the bench's
  H.265 row 3 of 24 frames.

The texture term is measured in pixels, so a smaller frame of the same picture measures more
"texture" (its structure is denser in pixels); the skin cap does not follow the texture term.
No normalisation to a fixed PSNR: a flat or dark frame gets a weaker mark (it would show), a
busy frame a stronger one (it hides). Frames under 540 lines get more (`size_gain`): the same
64 bits ride on fewer pixels. Everything is computed on a grid of 4x4 blocks and upsampled, in row
bands worked on at once (workers.py): block statistics first (``block_stats``), then each band's
amplitude from the statistics of its rows and REACH rows round them (``FrameMask.block_rows``); the
bands' bytes are those of one pass over the whole frame.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import cv2
import numpy as np

from . import workers

__all__ = ["amplitude", "block_amplitude", "frame_mask", "FrameMask", "block_stats", "BlockStats", "upsampled", "padded", "size_gain",
           "luminance_weight", "skin_blocks", "A_FLAT", "A_MAX", "DARK_ZERO", "DARK_FULL",
           "SKIN_CAP"]

A_FLAT = 0.3             # grey levels (RMS of the mark) on a flat field
TEXTURE_FLOOR = 0.6      # local band-pass contrast (grey levels) below which a region counts as flat
A_GAIN = 1.0             # extra amplitude per grey level of contrast above the floor ...
TEXTURE_KNEE = 4.0       # ... up to this contrast (skin, walls: a pattern shows early there)
A_GAIN_BUSY = 1.3        # and this much per grey level above the knee (busy texture hides it)
A_MAX = 14.0             # cap
DARK_ZERO = 4            # a block whose darkest luma is at or below this gets no mark
DARK_FULL = 64           # full strength from here up ...
DARK_SLOPE = 0.15        # ... but never more than this many grey levels per level above DARK_ZERO
CLIP_SHARE = 0.25        # and never more than this share of any channel's distance to 0 or 255
GRAIN_SHARE = 0.7        # up to this share of the fine grain (mean deviation from its 3 x 3 mean, every 2nd pixel)
BLOCK = 4                # the mask is computed on BLOCK x BLOCK blocks
BUSY_REACH = 3           # a block is as busy as the least busy block within this many blocks
SMALL_SIDE = 540         # a frame with a shorter short side carries the same 64 bits on fewer pixels ...
SMALL_GAIN_POWER = 0.7   # ... so its mark grows as (SMALL_SIDE / short side) ** this ...
SMALL_GAIN_MAX = 3.0     # ... up to this
SKIN_CAP = 1.5           # grey levels (RMS) at most on skin tones (x the caller's strength and size_gain)
SKIN_HUE = (105.0, 150.0)  # skin: hue (degrees, atan2(Cr - 128, Cb - 128)) of the block's mean colour ...
SKIN_SAT = (14.0, 45.0)    # ... and saturation (distance from grey in the Cb/Cr plane, 8-bit units) ...
SKIN_LUMA = 40           # ... in a block brighter than this (darker ones are left to the luminance term)
SKIN_REACH = 2           # and blocks within this many blocks of such a block (eyes, brows, lips in a face)
SKIN_HD_SIDE = 720       # from this many lines up, skin is only a patch of such blocks ...
SKIN_OPEN = 3            # ... at least this many blocks wide and high (a face, not an edge's blend), and
                         # skin-coloured texture that is dense ...
SKIN_DENSE_REACH = 6     # ... (busy in every block within BUSY_REACH + this many) ...
SKIN_DENSE_SHARE = 1.3   # ... keeps this share of the texture term's amplitude for that contrast

_LEVELS = np.arange(256, dtype=np.float32)
_ramp = np.clip((_LEVELS - DARK_ZERO) / (DARK_FULL - DARK_ZERO), 0.0, 1.0)
_DARK = (_ramp * _ramp * (3.0 - 2.0 * _ramp)).astype(np.float32)             # smoothstep, no kinks
_LIFT = (np.maximum(_LEVELS - DARK_ZERO, 0.0) * DARK_SLOPE).astype(np.float32)
_CLIP = (_LEVELS * CLIP_SHARE).astype(np.float32)
_NEIGHBOURS = np.ones((3, 3), np.uint8)


def size_gain(height: int, width: int) -> float:
    """Extra strength for small frames (proxies, previews, thumbnails): the detector's evidence
    grows with the number of pixels, so below SMALL_SIDE lines the same mark would not read.
    360 lines: x1.33; 320x192: x2.1; 128x128: x2.7."""
    short = min(height, width)
    return 1.0 if short >= SMALL_SIDE else min(SMALL_GAIN_MAX, (SMALL_SIDE / short) ** SMALL_GAIN_POWER)


def padded(frame_rgb: np.ndarray) -> np.ndarray:
    """The frame itself when its sides are whole blocks, else extended to whole blocks by
    repeating its last row and column (a partial block's least and greatest values stay its own)."""
    h, w = frame_rgb.shape[:2]
    bottom, right = -h % BLOCK, -w % BLOCK
    if not bottom and not right:
        return frame_rgb
    return cv2.copyMakeBorder(frame_rgb, 0, bottom, 0, right, cv2.BORDER_REPLICATE)


def _over_rows(image: np.ndarray, op: Callable) -> np.ndarray:
    """``op`` (cv2.min / cv2.max) over each BLOCK consecutive rows (strided views: no copies)."""
    out = op(image[0::BLOCK], image[1::BLOCK])
    for k in range(2, BLOCK):
        out = op(out, image[k::BLOCK])
    return out


def _over_columns(image: np.ndarray, op: Callable, n: int) -> np.ndarray:
    """``op`` over each ``n`` consecutive values of a row (2-D uint8): transposed, the values
    are rows, and strided views of them are whole images to OpenCV."""
    t = cv2.transpose(image)
    out = op(t[0::n], t[1::n])
    for k in range(2, n):
        out = op(out, t[k::n])
    return cv2.transpose(out)


class BlockStats(NamedTuple):
    """What the mask needs of the full-size frame (sides whole blocks), one value per BLOCK x BLOCK
    block. The limits are per block; the mask takes the worst of each block's 3 x 3 neighbourhood
    of them (``FrameMask.block_rows``): the tables are monotonic, so eroding the limits is the
    same as looking the eroded levels up."""

    cap: np.ndarray     # float32: the lift and clip caps of the block's darkest luma and darkest / brightest channel
    dark: np.ndarray    # float32: the luminance term of the block's darkest luma
    skin: np.ndarray    # uint8: 1 where the block's mean colour is a skin tone
    small: np.ndarray   # uint8: the luma brought down twice by a Gaussian pyramid (the texture term's input)
    grain: np.ndarray   # float32: mean deviation of every second pixel's luma from its 3 x 3 mean


#: rows of luma above and below a band that its pyramid and grain need (a 5-tap pyramid twice
#: reaches 6 rows; a multiple of 2 x 2 keeps the band's pyramid rows on the frame's)
_MARGIN = 2 * BLOCK


def block_stats(frame_rgb: np.ndarray, spans: list[tuple[int, int]] | None = None) -> BlockStats:
    """The frame's BlockStats, worked out in row bands of whole blocks (workers.py), each writing its
    own rows. Per pixel and per block, the bands give the same bytes as one pass; the pyramid and
    the grain filter their neighbours, so a band converts _MARGIN more rows of luma on each side
    (inside the frame; at its edges the filters' own border rule applies, as in one pass)."""
    h, w = frame_rgb.shape[:2]
    if h % BLOCK or w % BLOCK:
        raise ValueError(f"block_stats needs whole blocks, got {w}x{h} (use padded())")
    rows, cols = h // BLOCK, w // BLOCK
    stats = BlockStats(np.empty((rows, cols), np.float32), np.empty((rows, cols), np.float32),
                       np.empty((rows, cols), np.uint8), np.empty((rows, cols), np.uint8),
                       np.empty((rows, cols), np.float32))
    flat = frame_rgb.reshape(h, w * 3)   # a pixel's three channels side by side: one block is 4 x 12

    def band(b0: int, b1: int) -> None:
        y0, y1 = b0 * BLOCK, b1 * BLOCK
        m0, m1 = max(0, y0 - _MARGIN), min(h, y1 + _MARGIN)
        luma = cv2.cvtColor(frame_rgb[m0:m1], cv2.COLOR_RGB2GRAY)
        # the darkest / brightest value of any channel per pixel, then per block: min and max commute
        y_lo = _over_columns(_over_rows(luma[y0 - m0:y1 - m0], cv2.min), cv2.min, BLOCK)
        c_lo = _over_columns(_over_rows(flat[y0:y1], cv2.min), cv2.min, 3 * BLOCK)
        c_hi = _over_columns(_over_rows(flat[y0:y1], cv2.max), cv2.max, 3 * BLOCK)
        cv2.min(cv2.min(cv2.LUT(y_lo, _LIFT), cv2.LUT(c_lo, _CLIP)), cv2.LUT(cv2.bitwise_not(c_hi), _CLIP),
                dst=stats.cap[b0:b1])
        cv2.LUT(y_lo, _DARK, dst=stats.dark[b0:b1])
        stats.skin[b0:b1] = _skin_colour(cv2.resize(frame_rgb[y0:y1], (cols, b1 - b0), interpolation=cv2.INTER_AREA))
        top = (y0 - m0) // BLOCK
        stats.small[b0:b1] = cv2.pyrDown(cv2.pyrDown(luma))[top:top + b1 - b0]
        every_other = np.ascontiguousarray(luma[::2, ::2])   # decimated, not filtered: the grain stays
        grain = cv2.absdiff(every_other, cv2.blur(every_other, (3, 3))).astype(np.float32)
        grain = grain[2 * top:2 * (top + b1 - b0)]
        cv2.resize(grain, (cols, b1 - b0), dst=stats.grain[b0:b1], interpolation=cv2.INTER_AREA)

    workers.run(band, spans or workers.bands(rows))
    return stats


def _skin_colour(mean: np.ndarray) -> np.ndarray:
    """1 where a block's mean colour (RGB) is a skin tone, else 0 (uint8)."""
    luma, cr, cb = cv2.split(cv2.cvtColor(mean, cv2.COLOR_RGB2YCrCb))
    sat, hue = cv2.cartToPolar(cb.astype(np.float32) - 128.0, cr.astype(np.float32) - 128.0, angleInDegrees=True)
    return ((hue >= SKIN_HUE[0]) & (hue <= SKIN_HUE[1]) & (sat >= SKIN_SAT[0]) & (sat <= SKIN_SAT[1])
            & (luma > SKIN_LUMA)).astype(np.uint8)


def _skin_reach(skin: np.ndarray, hd: bool) -> np.ndarray:
    """Skin-coloured blocks (``_skin_colour``) as the skin cap's blocks: opened (``hd``) and dilated."""
    if hd:
        # an opening drops skin-coloured specks and lines: where orange meets white, a warm light,
        # the lit rim of a rocket (a block's mean colour there is a blend, not skin). Not in
        # smaller frames: there the blend along a face's hair keeps the grey beside it calm
        skin = cv2.morphologyEx(skin, cv2.MORPH_OPEN, np.ones((SKIN_OPEN, SKIN_OPEN), np.uint8))
    return cv2.dilate(skin, np.ones((2 * SKIN_REACH + 1, 2 * SKIN_REACH + 1), np.uint8))


def skin_blocks(frame_rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """1 where a block of the grid `size` (width, height) has a skin tone or one within
    SKIN_REACH blocks, else 0 (uint8). Skin tones of every complexion share a narrow hue in the
    Cb/Cr plane and differ mostly in luma and saturation."""
    mean = cv2.resize(frame_rgb, size, interpolation=cv2.INTER_AREA)
    return _skin_reach(_skin_colour(mean), min(frame_rgb.shape[:2]) >= SKIN_HD_SIDE)


#: block rows on each side that a block's amplitude depends on: the texture term's two blurs
#: (radius 4 and 8 at sigma 1 and 2) and its busy erosion (3), the dense-skin erosion (6) after it;
#: and one more for the bilinear upsampling between blocks
REACH = 4 + 8 + BUSY_REACH + SKIN_DENSE_REACH + 1


@dataclass(frozen=True)
class FrameMask:
    """A frame's perceptual mask, ready to be worked out for any band of block rows."""

    stats: BlockStats
    gain: float          # the caller's strength x size_gain
    hd: bool             # the frame has SKIN_HD_SIDE lines or more

    @property
    def rows(self) -> int:
        return self.stats.cap.shape[0]

    def block_rows(self, b0: int, b1: int) -> tuple[np.ndarray, int]:
        """The block amplitude (grey levels, float32) of block rows b0..b1 and REACH rows round
        them, and the first row it holds. Every operation is local: rows REACH or more from a
        cut edge (an edge that is not the frame's) are the same bytes as the whole frame's."""
        l0, l1 = max(0, b0 - REACH), min(self.rows, b1 + REACH)
        stats, gain = BlockStats(*(part[l0:l1] for part in self.stats)), self.gain
        # the upsampling at the end blends neighbouring blocks, so each takes the worst limits of
        # its 3 x 3 neighbourhood
        cap = cv2.erode(stats.cap, _NEIGHBOURS)
        dark = cv2.erode(stats.dark, _NEIGHBOURS)
        small = stats.small.astype(np.float32)
        band = small - cv2.GaussianBlur(small, (0, 0), 1.0)
        contrast = cv2.sqrt(cv2.GaussianBlur(band * band, (0, 0), 2.0))
        # an edge next to a smooth area is no texture: the smooth side would show the mark as a
        # halo, so a block only counts as busy when its neighbours are busy too
        contrast = cv2.erode(contrast, np.ones((2 * BUSY_REACH + 1, 2 * BUSY_REACH + 1), np.uint8))
        texture = cv2.max(contrast - TEXTURE_FLOOR, 0.0) * A_GAIN + A_FLAT
        texture += cv2.max(contrast - TEXTURE_KNEE, 0.0) * (A_GAIN_BUSY - A_GAIN)
        # grain: a pattern weaker than the fine noise it sits in is masked by it (film grain,
        # sensor noise, a generator's dither); a block is as grainy as the least grainy within BUSY_REACH
        grain = cv2.erode(stats.grain, np.ones((2 * BUSY_REACH + 1, 2 * BUSY_REACH + 1), np.uint8))
        texture = cv2.max(texture, grain * GRAIN_SHARE)
        texture = cv2.min(cv2.min(texture, A_MAX), cap)
        amp = cv2.multiply(texture, dark, scale=gain)
        # skin: a face's structure is not texture, and a viewer looks there first (module docstring)
        on_skin = _skin_reach(stats.skin, self.hd).astype(bool)
        skin_cap = np.full(amp.shape, float(SKIN_CAP * gain), np.float32)
        if self.hd:
            # except dense texture (fur, wood, sand): busy over a wide neighbourhood, where a
            # face's features are sparse, with smooth skin between them
            wide = cv2.erode(contrast, np.ones((2 * SKIN_DENSE_REACH + 1, 2 * SKIN_DENSE_REACH + 1), np.uint8))
            dense = (cv2.max(wide - TEXTURE_FLOOR, 0.0) * A_GAIN + A_FLAT) * SKIN_DENSE_SHARE
            skin_cap = cv2.max(skin_cap, cv2.multiply(dense, dark, scale=gain))
        amp[on_skin] = np.minimum(amp[on_skin], skin_cap[on_skin])
        return amp, l0


def frame_mask(frame_rgb: np.ndarray, gain: float = 1.0, spans: list[tuple[int, int]] | None = None) -> FrameMask:
    """The frame's mask: its block statistics (a partial block at the right or bottom counts as
    whole: ``padded``), and the gain and skin rule its size calls for."""
    h, w = frame_rgb.shape[:2]
    return FrameMask(block_stats(padded(frame_rgb), spans), float(gain * size_gain(h, w)), min(h, w) >= SKIN_HD_SIDE)


def block_amplitude(frame_rgb: np.ndarray, gain: float = 1.0) -> np.ndarray:
    """Amplitude (grey levels, float32) of a unit-RMS pattern per BLOCK x BLOCK block of this frame."""
    mask = frame_mask(frame_rgb, gain)
    return mask.block_rows(0, mask.rows)[0]


def upsampled(amp: np.ndarray, rows: tuple[int, int], width: int) -> np.ndarray:
    """Block rows ``rows`` (start, stop) of a block amplitude, bilinearly upsampled to pixels and
    cut to ``width``: bit for bit the same rows as upsampling the whole grid (the scale is exactly
    BLOCK, and a row reads only its two nearest block rows, so one more on each side suffices)."""
    b0, b1 = rows
    a0, a1 = max(0, b0 - 1), min(amp.shape[0], b1 + 1)
    up = cv2.resize(amp[a0:a1], (amp.shape[1] * BLOCK, (a1 - a0) * BLOCK), interpolation=cv2.INTER_LINEAR)
    return up[(b0 - a0) * BLOCK:(b1 - a0) * BLOCK, :width]


def amplitude(frame_rgb: np.ndarray, gain: float = 1.0) -> np.ndarray:
    """Per-pixel amplitude (grey levels, float32, HxW) of a unit-RMS pattern for this frame."""
    h, w = frame_rgb.shape[:2]
    amp = block_amplitude(frame_rgb, gain)
    return np.ascontiguousarray(upsampled(amp, (0, amp.shape[0]), w)[:h])


def luminance_weight(gray: np.ndarray) -> np.ndarray:
    """The luminance term alone, per pixel of a (possibly resized, attacked) uint8 luma: the
    detector's weight for each pixel, since where the embedder put no mark there is only noise."""
    clip = cv2.min(cv2.LUT(cv2.dilate(gray, _NEIGHBOURS), _DARK[::-1].copy()), 1.0)
    return cv2.min(cv2.LUT(cv2.erode(gray, _NEIGHBOURS), _DARK), clip)
