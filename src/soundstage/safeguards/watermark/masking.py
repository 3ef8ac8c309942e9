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
64 bits ride on fewer pixels. Everything is computed on a quarter-size grid of 4x4
blocks and upsampled once: a few milliseconds at 1080p.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["amplitude", "size_gain", "luminance_weight", "skin_blocks", "A_FLAT", "A_MAX", "DARK_ZERO", "DARK_FULL",
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
_KERNEL = np.ones((BLOCK, BLOCK), np.uint8)
_NEIGHBOURS = np.ones((3, 3), np.uint8)


def _per_block(filtered: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """One sample per BLOCK x BLOCK block of an image eroded (dilated) with its window anchored
    at the top-left: nearest-neighbour resizing picks each block's first pixel."""
    return cv2.resize(filtered, size, interpolation=cv2.INTER_NEAREST)


def size_gain(height: int, width: int) -> float:
    """Extra strength for small frames (proxies, previews, thumbnails): the detector's evidence
    grows with the number of pixels, so below SMALL_SIDE lines the same mark would not read.
    360 lines: x1.33; 320x192: x2.1; 128x128: x2.7."""
    short = min(height, width)
    return 1.0 if short >= SMALL_SIDE else min(SMALL_GAIN_MAX, (SMALL_SIDE / short) ** SMALL_GAIN_POWER)


def skin_blocks(frame_rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """1 where a block of the grid `size` (width, height) has a skin tone or one within
    SKIN_REACH blocks, else 0 (uint8). Skin tones of every complexion share a narrow hue in the
    Cb/Cr plane and differ mostly in luma and saturation."""
    mean = cv2.resize(frame_rgb, size, interpolation=cv2.INTER_AREA)
    luma, cr, cb = cv2.split(cv2.cvtColor(mean, cv2.COLOR_RGB2YCrCb))
    sat, hue = cv2.cartToPolar(cb.astype(np.float32) - 128.0, cr.astype(np.float32) - 128.0, angleInDegrees=True)
    skin = ((hue >= SKIN_HUE[0]) & (hue <= SKIN_HUE[1]) & (sat >= SKIN_SAT[0]) & (sat <= SKIN_SAT[1])
            & (luma > SKIN_LUMA)).astype(np.uint8)
    if min(frame_rgb.shape[:2]) >= SKIN_HD_SIDE:
        # an opening drops skin-coloured specks and lines: where orange meets white, a warm light,
        # the lit rim of a rocket (a block's mean colour there is a blend, not skin). Not in
        # smaller frames: there the blend along a face's hair keeps the grey beside it calm
        skin = cv2.morphologyEx(skin, cv2.MORPH_OPEN, np.ones((SKIN_OPEN, SKIN_OPEN), np.uint8))
    return cv2.dilate(skin, np.ones((2 * SKIN_REACH + 1, 2 * SKIN_REACH + 1), np.uint8))


def amplitude(frame_rgb: np.ndarray, gain: float = 1.0) -> np.ndarray:
    """Per-pixel amplitude (grey levels, float32, HxW) of a unit-RMS pattern for this frame."""
    h, w = frame_rgb.shape[:2]
    gain = gain * size_gain(h, w)
    size = (-(-w // BLOCK), -(-h // BLOCK))
    gray = cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2GRAY)
    # per block: darkest luma; darkest and brightest value of any channel. The upsampling at the
    # end blends neighbouring blocks, so each takes the worst of its 3 x 3 neighbourhood (the
    # tables are monotonic: filtering the levels first is the same as filtering the results)
    # (the darkest / brightest channel is taken per pixel first, then per block: min and max
    # commute, and one single-channel erosion costs a third of a three-channel one)
    y_lo = cv2.erode(_per_block(cv2.erode(gray, _KERNEL, anchor=(0, 0)), size), _NEIGHBOURS)
    r, g, b = cv2.split(frame_rgb)
    c_lo = cv2.erode(_per_block(cv2.erode(cv2.min(cv2.min(r, g), b), _KERNEL, anchor=(0, 0)), size), _NEIGHBOURS)
    c_hi = cv2.dilate(_per_block(cv2.dilate(cv2.max(cv2.max(r, g), b), _KERNEL, anchor=(0, 0)), size), _NEIGHBOURS)
    cap = cv2.min(cv2.min(cv2.LUT(y_lo, _LIFT), cv2.LUT(c_lo, _CLIP)), cv2.LUT(cv2.bitwise_not(c_hi), _CLIP))
    small = cv2.resize(cv2.pyrDown(cv2.pyrDown(gray)), size, interpolation=cv2.INTER_LINEAR).astype(np.float32)
    band = small - cv2.GaussianBlur(small, (0, 0), 1.0)
    contrast = cv2.sqrt(cv2.GaussianBlur(band * band, (0, 0), 2.0))
    # an edge next to a smooth area is no texture: the smooth side would show the mark as a halo,
    # so a block only counts as busy when its neighbours are busy too
    contrast = cv2.erode(contrast, np.ones((2 * BUSY_REACH + 1, 2 * BUSY_REACH + 1), np.uint8))
    texture = cv2.max(contrast - TEXTURE_FLOOR, 0.0) * A_GAIN + A_FLAT
    texture += cv2.max(contrast - TEXTURE_KNEE, 0.0) * (A_GAIN_BUSY - A_GAIN)
    # grain: a pattern weaker than the fine noise it sits in is masked by it (film grain, sensor
    # noise, a generator's dither); a block is as grainy as the least grainy within BUSY_REACH
    every_other = np.ascontiguousarray(gray[::2, ::2])   # decimated, not filtered: the grain stays
    grain = cv2.absdiff(every_other, cv2.blur(every_other, (3, 3))).astype(np.float32)
    grain = cv2.resize(grain, size, interpolation=cv2.INTER_AREA)
    grain = cv2.erode(grain, np.ones((2 * BUSY_REACH + 1, 2 * BUSY_REACH + 1), np.uint8))
    texture = cv2.max(texture, grain * GRAIN_SHARE)
    texture = cv2.min(cv2.min(texture, A_MAX), cap)
    amp = cv2.multiply(texture, cv2.LUT(y_lo, _DARK), scale=float(gain))
    # skin: a face's structure is not texture, and a viewer looks there first (module docstring)
    on_skin = skin_blocks(frame_rgb, size).astype(bool)
    skin_cap = np.full(amp.shape, float(SKIN_CAP * gain), np.float32)
    if min(h, w) >= SKIN_HD_SIDE:
        # except dense texture (fur, wood, sand): busy over a wide neighbourhood, where a face's
        # features are sparse, with smooth skin between them
        wide = cv2.erode(contrast, np.ones((2 * SKIN_DENSE_REACH + 1, 2 * SKIN_DENSE_REACH + 1), np.uint8))
        dense = (cv2.max(wide - TEXTURE_FLOOR, 0.0) * A_GAIN + A_FLAT) * SKIN_DENSE_SHARE
        skin_cap = cv2.max(skin_cap, cv2.multiply(dense, cv2.LUT(y_lo, _DARK), scale=float(gain)))
    amp[on_skin] = np.minimum(amp[on_skin], skin_cap[on_skin])
    return cv2.resize(amp, (w, h), interpolation=cv2.INTER_LINEAR)


def luminance_weight(gray: np.ndarray) -> np.ndarray:
    """The luminance term alone, per pixel of a (possibly resized, attacked) uint8 luma: the
    detector's weight for each pixel, since where the embedder put no mark there is only noise."""
    clip = cv2.min(cv2.LUT(cv2.dilate(gray, _NEIGHBOURS), _DARK[::-1].copy()), 1.0)
    return cv2.min(cv2.LUT(cv2.erode(gray, _NEIGHBOURS), _DARK), clip)
