"""Our engine: a keyed, tiled spread-spectrum watermark in luma (io.soundstage.spread.2).

Design in short (details and the false-positive argument: docs/design/watermark.md). A square
tile of period P pixels (P = 256 at 1080p, proportional to the short side) is defined by its
spectrum: 1026 mid-frequency bins, each with a key-seeded random phase. A quarter of the bins
carry a fixed *sync* signal; the rest are shared out among the 128 coded bits (BCH(128, 64),
ecc.py), each bit flipping the sign of its bins. The tile repeats over the frame, is scaled by
a perceptual mask (masking.py: weaker in flat and dark areas, none in blacks) and added to R, G
and B alike (hue kept).

The detector whitens the luma and lists a few key-independent geometries (geometry.py: the tile
lattice in the autocorrelation, which follows a resize, a rotation, a mirror or a shear; and the
periods a delivery resize or a crop would give). For each it folds the frame onto one tile and
looks for the tile's orientation (8 mirrors / quarter turns) and phase with one half of the sync
bins (A). Local synchronisation refines a close estimate (the same search in small windows gives
local shifts, a homography through them re-folds the frame), a keyed angle search finds
rotations the autocorrelation missed, and a perspective (which smears the global lattice) is
estimated from the sync field of one-tile windows (half A, each window's sync surface summed
with its neighbours', a homography through their shifts) and from the lattices of large windows,
in passes that unwarp the picture (key-independent; half A picks the best estimate). The other half of the sync bins (B) then *validates* the
one chosen point, and the bits are read there and decoded (BCH with Chase decoding; spread.1
marks, RS-coded, still read). Because nothing chosen looks at B or at the bits, the search may
be as wide as needed without weakening the false-positive bound.
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import cv2
import numpy as np

from soundstage.errors import InputError

from . import ecc, geometry, masking, workers
from .protocol import Detection, check_frame, check_payload, soft_binding_assertion

__all__ = ["SpreadSpectrumWatermark", "Picture", "detect_frames_with", "ALG", "ALG_V1", "DEFAULT_KEY",
           "tile_period_for", "tiled_pattern", "add_mark", "lift_mark"]

ALG = "io.soundstage.spread.2"
ALG_V1 = "io.soundstage.spread.1"   # same tile and key layout, RS(16, 8) instead of BCH: still read
DEFAULT_KEY = b"soundstage/watermark/spread/v1"

GRID_HALF = 32                 # tile spectrum lives on a 64x64 grid (cycles per tile)
BAND = (5.0, 26.0)             # radius band in cycles per tile: survives JPEG50/H.264, not DC blotches
SYNC_FRACTION = 0.14           # at least this share of bins is sync (the remainder after dealing bits: 258/1026)
WORK_PERIOD = 128              # the detector resamples so that one tile is 128x128 pixels
CANONICAL_PERIOD = 256         # tile period at a 1080-pixel short side
MIN_PERIOD = 128
MIN_TILE_COVER = 0.5           # share of one tile a picture must show to be folded (a frame under one tile)
MIN_SIDE = 64                  # the shortest side a frame is marked or read at (pixels)
WORK_SHORT_SIDE = 540          # the detector analyses frames brought down to this short side
CLIP_GEOMETRY_FRAMES = 8       # frames averaged to find a clip's geometry
CLIP_VALIDATIONS = 2           # a clip's static fold and per-frame combination: validated before its mean frame's read
CLIP_MEAN_BELOW = 24           # a clip of fewer frames is also read from its mean frame (DR015, fifteenth pass)
CLIP_FRAME_Z = 4.8             # a clip frame joins the per-frame combination when its search peak reaches this
LATTICE_CANDIDATES = 3         # lattices taken from the autocorrelation
PATTERN_CACHE = 3              # full-frame patterns kept (one float32 plane each)
SYNC_ALONE_P = 1e-6            # validation level to claim "marked" even if the payload is unreadable
MAX_VALIDATIONS = 15           # points validated per call: every candidate (6), two refinements of the best,
                               # two rotation-search angles with a refinement each, and the perspective
                               # fit with two refinements (the union bound)
ROTATION_MAX = 7.0             # the keyed rotation search covers +-7 degrees ...
ROTATION_STEP = 0.5            # ... in steps this fine (the fold tolerates about a quarter of it)
ROTATION_CANDIDATES = 2        # angles kept from it
REFINE_WINDOW = 2              # local synchronisation windows are 2 x 2 tiles ...
REFINE_RADIUS = 40             # ... whose tile origin may sit this far (work pixels) from the global one
REFINE_MIN_Z = 3.5             # a window counts when its local sync peak reaches this z (half A)
REFINE_FROM_Z = 5.0            # refine only a point whose global sync (half A) stands out of the noise
REFINE_RANSAC_ITERATIONS = 300
PERSPECTIVE_SHARES = (0.6,)    # perspective, key-independent start: window size (share of the picture's sides) ...
PERSPECTIVE_PASSES = 3         # ... each a first estimate and up to two corrections in unwarped coordinates ...
PERSPECTIVE_LATER_GRID = 2     # ... whose windows (per side) need not be as many as the first pass's 3
PERSPECTIVE_RADIUS = 8         # pixels around the square lattice a correction pass looks in
PERSPECTIVE_LOCKED_Z = 8.0     # a perspective fold whose sync (half A) peaks this high needs no more passes
PERSPECTIVE_SPREAD = 0.2       # a fitted homography's local lattice stays this close to the prior everywhere
PERSPECTIVE_MIN_SCORE = 2.45   # the first start's windows must average this harmonic score (else no search)
FIELD_START_TILE = 64          # keyed perspective start: the sync field on a coarse grid (pixels a tile) from two starts ...
FIELD_STRIDE = WORK_PERIOD // 2  # ... in one-tile windows every half tile ...
FIELD_REACH = 1.2              # ... each window's max-pooled sync surface summed with its neighbours' this close (tiles) ...
FIELD_REACH_FULL = 0.75        # ... in a coarse field; in a full one, its 3 x 3 nearest only (DR015, ninth pass)
FIELD_POOL = 2                 # ... (max-pooled over this many pixels each way: the neighbours' shifts differ a little)
FIELD_RANSAC_PX = 3.0          # ... a homography through the windows' shifts (RANSAC, this reprojection threshold)
FIELD_MIN_INLIERS = 8
FIELD_CHUNK_PIXELS = 16 * WORK_PERIOD ** 2  # ... (the windows worked on at a time hold this many pixels)
FIELD_PEAKS = 3                # ... each window's best few peaks offered to the fit ...
FIELD_PEAK_GAP = 6             # ... more than this far apart (work pixels)
FIELD_COHERENT = 0.15          # ... the rest of the search only where this share of its windows agree
FIELD_START_COHERENT = 0.12    # ... and the full field only where this share of a coarse field's windows agree
FIELD_RANSAC_METHOD = cv2.USAC_PROSAC  # ... PROSAC, the windows strongest first ...
FIELD_RANSAC_ITERATIONS = 300   # ... (0.5 ms where RANSAC took 20 at 2000 iterations) ...
FIELD_OTHER_FIT = cv2.USAC_MAGSAC  # ... and a second fit through the same shifts, folded too
FIELD_AGAIN = 2                # ... measured again from its own best map while that improves (DR015, thirteenth pass)
FIELD_AGAIN_BELOW = 0.4        # ... where the full fields agree in less than this (DR015, thirteenth pass)
FREE_REFINE_MIN_Z = 3.0        # ... then one free local synchronisation (2 x 2-tile windows over the whole tile)
NOISE_FLOOR = 1e-12


def tile_period_for(height: int, width: int) -> int:
    """Tile period in pixels for a frame: proportional to the short side, so a delivery
    downscale of the whole picture keeps the mark at the same relative frequency."""
    return max(MIN_PERIOD, int(round(CANONICAL_PERIOD * min(height, width) / 1080)))


@dataclass(frozen=True)
class _Layout:
    """Key-derived placement of sync and bit bins on the tile spectrum."""

    u: np.ndarray            # horizontal frequency of each bin (cycles per tile)
    v: np.ndarray            # vertical frequency (>= 0: half plane; the rest is the conjugate)
    phase: np.ndarray        # key-seeded random phase (unit-magnitude chip) per bin
    sync: np.ndarray         # indices of sync bins
    bit_bins: np.ndarray     # (n_per_bit, CODED_BITS) indices: column j = bins of bit j
    scramble: np.ndarray     # keyed 0/1 mask XORed onto the coded bits (see _make_layout)
    sync_a: np.ndarray       # the sync bins that search (geometry, orientation, phase) ...
    sync_b: np.ndarray       # ... and the ones that validate the point the search chose


def _make_layout(key: bytes) -> _Layout:
    seed = int.from_bytes(hashlib.sha256(b"spread.1|" + key).digest()[:8], "big")
    rng = np.random.default_rng(seed)
    us, vs = [], []
    for v in range(0, GRID_HALF + 1):
        for u in range(-GRID_HALF + 1, GRID_HALF):
            if v == 0 and u <= 0:
                continue
            if BAND[0] <= math.hypot(u, v) <= BAND[1]:
                us.append(u)
                vs.append(v)
    u = np.array(us)
    v = np.array(vs)
    order = rng.permutation(len(u))
    phase = rng.uniform(0.0, 2 * np.pi, len(u))
    n_per_bit = int((1.0 - SYNC_FRACTION) * len(u)) // ecc.CODED_BITS
    bit_bins = order[: n_per_bit * ecc.CODED_BITS].reshape(n_per_bit, ecc.CODED_BITS)
    sync = order[n_per_bit * ecc.CODED_BITS:]
    # Without scrambling, a flat picture reads as all-zero bits, which IS a codeword
    # codeword (payload 0): measured 4 false decodes in 150 unmarked pictures. XOR with a
    # keyed mask makes key-independent structure look random to the RS check.
    scramble = rng.integers(0, 2, ecc.CODED_BITS).astype(np.uint8)
    # The split of the sync bins is drawn from its own keyed stream: the embedded tile (and
    # so every mark made before the split existed) is unchanged.
    split = np.random.default_rng(int.from_bytes(hashlib.sha256(b"spread.1|sync-split|" + key).digest()[:8], "big"))
    shuffled = sync[split.permutation(len(sync))]
    half = len(sync) // 2
    return _Layout(u=u, v=v, phase=phase, sync=sync, bit_bins=bit_bins, scramble=scramble,
                   sync_a=np.sort(shuffled[:half]), sync_b=np.sort(shuffled[half:]))


def _spectrum(layout: _Layout, size: int, coeffs: np.ndarray) -> np.ndarray:
    """Place half-plane coefficients (and their conjugates) on a size x size DFT grid."""
    spec = np.zeros((size, size), dtype=np.complex128)
    rows, cols = layout.v % size, layout.u % size
    spec[rows, cols] = coeffs
    spec[(-layout.v) % size, (-layout.u) % size] = np.conj(coeffs)
    return spec


def _whiten(gray: np.ndarray) -> np.ndarray:
    """Suppress the picture so the mark dominates: high-pass, then divide by the local
    contrast envelope (edges stop drowning the correlation), clip outliers, and weight by
    where the embedder could put a mark (nothing in blacks or clipped whites)."""
    y = gray.astype(np.float32)
    high = y - cv2.GaussianBlur(y, (0, 0), 2.0)
    env = cv2.GaussianBlur(high * high, (0, 0), 6.0)
    out = high / np.sqrt(env + 4.0)
    np.clip(out, -3.0, 3.0, out=out)
    return cv2.multiply(out, masking.luminance_weight(gray))


def _variant(transpose: bool, sy: int, sx: int):
    def read_at(v: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        a, b = (u, v) if transpose else (v, u)
        return sy * a, sx * b
    return read_at


#: the 8 ways a square tile can come back (mirrors and quarter turns): where to read the
#: observed spectrum to see bin (v, u) of the embedded tile
_VARIANTS = [_variant(t, sy, sx) for t in (False, True) for sy in (1, -1) for sx in (1, -1)]
_VARIANT_NAMES = ["as embedded", "mirrored", "upside down", "turned half", "transposed", "quarter turn",
                  "quarter turn back", "anti-transposed"]


@dataclass
class _Point:
    """Where the search landed: a geometry, an orientation, a tile phase, and what was read there."""

    geometry: str
    matrix: np.ndarray
    variant: int
    shift: tuple[float, float]
    z_a: float
    g: np.ndarray = field(repr=False)          # the normalised bins seen through the variant
    z_b: float = 0.0
    soft: np.ndarray | None = field(default=None, repr=False)


@dataclass(frozen=True)
class _Field:
    """What a sync field (`SpreadSpectrumWatermark._sync_field`) measured: the homographies through
    each window's best shift (PROSAC, then FIELD_OTHER_FIT), the share of windows PROSAC's agrees
    with, and a function that works out the homography through each window's few best shifts."""

    fits: list[np.ndarray]
    agree: float
    wider: Callable[[], list[np.ndarray]]


class Picture:
    """One picture as every key's detector sees it: what a read works out without the key, kept so
    that a second key (verify reads the production's key, then the public default one) does not
    work it out again (DR015, twelfth pass).

    Made once from the frame: the whitened luma at the analysis resolution and its factor. Worked
    out by the first read that needs them (`SpreadSpectrumWatermark.read`): the key-independent
    geometry candidates with their normalised folds, the rotation search's normalised folds at
    every angle, and the perspective search's first local lattices. Nothing keyed is kept, so a
    read through a `Picture` another key has read is the read of the frame itself (a test holds
    it to that)."""

    def __init__(self, frame_rgb: np.ndarray) -> None:
        frame = check_frame(frame_rgb, min_side=MIN_SIDE)
        white, factor = SpreadSpectrumWatermark._prepare(frame)
        self._start(frame.shape[:2], white, factor)

    @classmethod
    def from_white(cls, white: np.ndarray, shape: tuple[int, int], factor: float) -> Picture:
        """A picture already whitened at the analysis resolution (`SpreadSpectrumWatermark._prepare`):
        a clip's mean whitened frame (`detect_frames_with`), read like one frame."""
        picture = cls.__new__(cls)
        picture._start(shape, np.ascontiguousarray(white, np.float32), factor)
        return picture

    def _start(self, shape: tuple[int, int], white: np.ndarray, factor: float) -> None:
        """The picture as analysed, and nothing yet worked out from it."""
        self.shape: tuple[int, int] = shape
        self.white, self.factor = white, factor
        self.candidates: list[tuple[str, np.ndarray, np.ndarray | None]] | None = None  # name, matrix, normalised fold
        self.rotation: tuple[list[float], np.ndarray] | None = None                # angles, normalised folds
        self.lattices: list[geometry.LocalLattice] | None = None


class SpreadSpectrumWatermark:
    """Fast tiled spread-spectrum watermark carrying a 64-bit id with BCH(128, 64).

    Embedding costs the perceptual mask, two multiplies and two saturating adds per frame, in
    row bands, one per OpenCV thread (about 9 ms wall at 1080p on 2 cores, 14 ms on one); the
    full-frame pattern is cached per (payload, size). Detection
    needs one frame. `strength` scales the whole mask (1.0: the measured invisible default).
    """

    name = ALG
    payload_bits = 64

    def __init__(self, key: bytes = DEFAULT_KEY, strength: float = 1.0) -> None:
        if not key:
            raise InputError("watermark key must not be empty")
        self._layout = _make_layout(bytes(key))
        self._strength = float(strength)
        self._chips = np.exp(1j * self._layout.phase)
        self._patterns: OrderedDict[tuple[int, int, int], np.ndarray] = OrderedDict()
        self._bins: dict[int, np.ndarray] = {}
        self._smoothers: dict[int, Any] = {}

    # ------------------------------------------------------------------ embedding
    def _tile(self, payload: int, period: int) -> np.ndarray:
        return self._tile_of_bits(ecc.encode_payload(payload), period)

    def _tile_of_bits(self, coded: np.ndarray, period: int) -> np.ndarray:
        """Unit-RMS tile of `period` pixels carrying 128 coded bits (and the sync)."""
        lay = self._layout
        signs = (np.asarray(coded, dtype=np.uint8) ^ lay.scramble).astype(np.float64) * 2.0 - 1.0
        coeffs = np.zeros(len(lay.u), dtype=np.complex128)
        chips = np.exp(1j * lay.phase)
        coeffs[lay.sync] = chips[lay.sync]
        coeffs[lay.bit_bins] = chips[lay.bit_bins] * signs[None, :]
        tile = np.fft.ifft2(_spectrum(lay, period, coeffs)).real
        tile /= np.sqrt(np.mean(tile**2))
        return tile.astype(np.float32)

    def pattern(self, payload: int, height: int, width: int) -> np.ndarray:
        """Unit-RMS full-frame pattern: tiles start at the frame's top-left."""
        return self._pattern_for(payload, height, width)

    def _pattern_for(self, payload: int, height: int, width: int) -> np.ndarray:
        """The full-frame pattern (cached per payload and size)."""
        cache_key = (payload, height, width)
        cached = self._patterns.get(cache_key)
        if cached is not None:
            self._patterns.move_to_end(cache_key)
            return cached
        entry = tiled_pattern(self._tile(payload, tile_period_for(height, width)), height, width)
        self._patterns[cache_key] = entry
        while len(self._patterns) > PATTERN_CACHE:
            self._patterns.popitem(last=False)
        return entry

    def embed(self, frame_rgb: np.ndarray, payload: int) -> np.ndarray:
        frame = check_frame(frame_rgb, min_side=MIN_SIDE)
        payload = check_payload(payload, self.payload_bits)
        h, w = frame.shape[:2]
        return add_mark(frame, self._pattern_for(payload, h, w), self._strength)

    def remove(self, frame_rgb: np.ndarray, payload: int) -> np.ndarray:
        """Subtract a known mark (its payload is the ledger id of the asset it came from).

        Used before an already-marked asset is reworked into a new one (a composite, an animatic
        panel, a second VFX pass), so the new asset carries its own id instead of two marks that
        cancel each other's bits. The perceptual mask is recomputed from the picture: first from
        the marked frame (the mark adds a little texture, so that mask is slightly too strong),
        then once more from that first estimate of the original, which is close to exact."""
        frame = check_frame(frame_rgb, min_side=MIN_SIDE)
        payload = check_payload(payload, self.payload_bits)
        h, w = frame.shape[:2]
        return lift_mark(frame, self._pattern_for(payload, h, w), self._strength)

    def embed_frames(self, frames: Iterable[np.ndarray], payload: int) -> Iterator[np.ndarray]:
        """Same payload in every frame: any single frame (and any subset) carries the id."""
        for frame in frames:
            yield self.embed(frame, payload)

    # ------------------------------------------------------------------ detection
    @staticmethod
    def _work_luma(frame: np.ndarray) -> tuple[np.ndarray, float]:
        """uint8 luma at the analysis resolution (short side <= WORK_SHORT_SIDE), and the
        analysed-pixels-per-frame-pixel factor."""
        y = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        h, w = y.shape
        factor = 1.0
        if min(h, w) > WORK_SHORT_SIDE:
            factor = WORK_SHORT_SIDE / min(h, w)
            y = cv2.resize(y, (max(1, int(round(w * factor))), max(1, int(round(h * factor)))),
                           interpolation=cv2.INTER_AREA)
        return y, factor

    @staticmethod
    def _prepare(frame: np.ndarray) -> tuple[np.ndarray, float]:
        """Whitened luma at the analysis resolution, and the analysed-pixels-per-frame-pixel factor."""
        y, factor = SpreadSpectrumWatermark._work_luma(frame)
        return _whiten(y), factor

    @staticmethod
    def _candidates(white: np.ndarray, frame_shape: tuple[int, int], factor: float) -> list[tuple[str, np.ndarray]]:
        """Key-independent geometry candidates: canonical -> analysed 3x3 maps.

        The tile lattices the autocorrelation shows (resize, rotation, mirror, shear), and the
        periods a frame of this size has when it is the whole marked frame (the embedder's
        rule), a delivery resize of a larger one (the rule without its 128-pixel floor) or a
        crop of a 1080p frame: these need no autocorrelation, which a busy picture drowns."""
        n = WORK_PERIOD
        out: list[tuple[str, np.ndarray]] = []
        for i, lat in enumerate(geometry.find_lattices(white, max_candidates=LATTICE_CANDIDATES)):
            out.append((f"lattice{i}", geometry.affine_matrix(lat.v1, lat.v2, n)))
        short = min(frame_shape)
        periods = (tile_period_for(*frame_shape), CANONICAL_PERIOD * short / 1080.0, CANONICAL_PERIOD)
        for p in dict.fromkeys(round(p, 3) for p in periods):
            per = p * factor
            if per < 0.5 * geometry.MIN_LAG:
                continue
            matrix = geometry.affine_matrix((0.0, per), (per, 0.0), n)
            if all(np.max(np.abs(m - matrix)) > 1e-3 for _, m in out):
                out.append((f"period{p:g}", matrix))
        return out

    @staticmethod
    def _canonical(white: np.ndarray, matrix: np.ndarray,
                   n: int = WORK_PERIOD) -> tuple[np.ndarray, np.ndarray] | None:
        """The analysed picture resampled onto the canonical grid (one tile = n pixels,
        axis-aligned), padded to whole tiles: (values, coverage 0/1)."""
        h, w = white.shape
        inv = _inverse3(matrix)
        if inv is None:
            return None
        corners = inv @ np.array([[0, 0, 1], [w, 0, 1], [w, h, 1], [0, h, 1]], np.float64).T
        if np.any(corners[2] <= 1e-9):
            return None
        cx, cy = corners[0] / corners[2], corners[1] / corners[2]
        x0, y0 = math.floor(cx.min() / n) * n, math.floor(cy.min() / n) * n
        out_w, out_h = int(math.ceil(cx.max() - x0)), int(math.ceil(cy.max() - y0))
        if out_w * out_h > 16 * h * w + n * n or out_w < 8 or out_h < 8:
            return None
        m = matrix @ np.array([[1.0, 0.0, x0], [0.0, 1.0, y0], [0.0, 0.0, 1.0]])
        # anti-alias when the canonical grid is coarser than the analysed pixels
        scale = math.sqrt(abs((m[0, 0] * m[1, 1] - m[0, 1] * m[1, 0]) / max(m[2, 2] ** 2, 1e-12)))
        src = white if scale <= 1.05 else cv2.GaussianBlur(white, (0, 0), 0.45 * scale)
        ph, pw = -(-out_h // n) * n, -(-out_w // n) * n
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        if abs(m[2, 0]) + abs(m[2, 1]) < 1e-12 and abs(m[2, 2] - 1.0) < 1e-12:    # affine: the cheaper warp
            values = cv2.warpAffine(src, m[:2], (pw, ph), flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        else:
            values = cv2.warpPerspective(src, m, (pw, ph), flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        # coverage: the picture's outline in canonical coordinates (a homography keeps lines straight)
        cover = np.zeros((ph, pw), np.uint8)
        outline = np.stack([cx - x0, cy - y0], axis=1)
        cv2.fillConvexPoly(cover, np.round(outline * 16).astype(np.int32), 1, lineType=cv2.LINE_8, shift=4)
        return values, cover

    @staticmethod
    def _fold(white: np.ndarray, matrix: np.ndarray, n: int = WORK_PERIOD) -> np.ndarray | None:
        """All tiles of the canonical picture averaged onto one n x n tile."""
        can = SpreadSpectrumWatermark._canonical(white, matrix, n)
        return None if can is None else SpreadSpectrumWatermark._fold_canonical(can, n)

    @staticmethod
    def _fold_canonical(can: tuple[np.ndarray, np.ndarray], n: int = WORK_PERIOD) -> np.ndarray | None:
        """`_fold` of an already resampled canonical picture (values, coverage)."""
        values, cover = can
        rows, cols = values.shape[0] // n, values.shape[1] // n
        total = values.reshape(rows, n, cols, n).sum(axis=(0, 2))
        count = cover.reshape(rows, n, cols, n).sum(axis=(0, 2), dtype=np.int32)
        # a picture smaller than one tile (a 96-line frame, period 128) leaves part of the tile
        # unseen: those pixels fold to 0 (no evidence), as long as most of the tile was seen
        if float(np.mean(count > 0)) < MIN_TILE_COVER:
            return None
        return total / np.maximum(count, 1)

    @staticmethod
    def _normalise(folded: np.ndarray) -> np.ndarray:
        """Tile spectrum, each bin divided by the local average power (spectral whitening)."""
        return _normalise_all(folded[None])[0]

    def _variant_bins(self, n: int) -> np.ndarray:
        """(8, bins) flat indices into an n x n tile spectrum: where each of the 8 orientations
        (`_VARIANTS`) reads every bin of the embedded tile (cached per n)."""
        cached = self._bins.get(n)
        if cached is None:
            lay = self._layout
            rows = []
            for read_at in _VARIANTS:
                vv, uu = read_at(lay.v, lay.u)
                rows.append((vv % n) * n + (uu % n))
            cached = self._bins[n] = np.array(rows)
        return cached

    def _search(self, norm: np.ndarray, geometry_name: str, matrix: np.ndarray,
                variants: Iterable[int] = range(8), near: tuple[float, float] | None = None) -> _Point:
        """Best orientation and tile phase for one fold, by the sync bins of half A (the
        orientations' surfaces in one batch of inverse FFTs)."""
        lay = self._layout
        n = norm.shape[0]
        chosen = list(variants)
        gs = norm.ravel()[self._variant_bins(n)[chosen]]
        surfaces = _sync_surfaces(gs, lay, lay.sync_a, self._chips, n)
        if near is not None:
            surfaces = np.where(_ring_mask(near, REFINE_RADIUS, n), surfaces, -np.inf)
        best: _Point | None = None
        for k, d in enumerate(chosen):
            dy, dx, zmax = _peak(surfaces[k])
            if best is None or zmax > best.z_a:
                best = _Point(geometry_name, matrix, d, (dy, dx), zmax, gs[k])
        assert best is not None
        return best

    def _read(self, point: _Point) -> _Point:
        """At the chosen point: the validation statistic of half B and the soft bits."""
        lay = self._layout
        n = WORK_PERIOD
        dy, dx = point.shift
        aligned = point.g * np.exp(2j * np.pi * (lay.u * dx + lay.v * dy) / n) * np.conj(self._chips)
        b = aligned[lay.sync_b]
        point.z_b = float(np.sum(b.real) / math.sqrt(max(float(np.sum(np.abs(b) ** 2)) / 2.0, NOISE_FLOOR)))
        weights = _channel_weights(aligned, lay)
        point.soft = (aligned.real * weights)[lay.bit_bins].sum(axis=0)
        return point

    def _refine(self, white: np.ndarray, point: _Point, free: bool = False) -> np.ndarray | None:
        """Local synchronisation: the tile phase found in every 2 x 2-tile window (half A, near
        the global phase) says where that part of the picture really is; a homography through
        those points (RANSAC) replaces the global map. Straightens a perspective and corrects
        the residual error of a lattice estimate. `free`: the global phase is not known (its
        peak is noise), so every window searches the whole tile and the shifts are taken from
        the strongest window's (the perspective's sync field ends with this)."""
        can = self._canonical(white, point.matrix)
        if can is None:
            return None
        n, k = WORK_PERIOD, REFINE_WINDOW
        matrix = point.matrix
        inv = _inverse3(matrix)
        if inv is None:
            return None
        h, w = white.shape
        corners = inv @ np.array([[0, 0, 1], [w, 0, 1], [w, h, 1], [0, h, 1]], np.float64).T
        x0 = math.floor((corners[0] / corners[2]).min() / n) * n
        y0 = math.floor((corners[1] / corners[2]).min() / n) * n
        values, cover = can
        rows, cols = values.shape[0] // n, values.shape[1] // n
        lay = self._layout
        vv, uu = _VARIANTS[0 if free else point.variant](lay.v, lay.u)
        ring = _ring_mask(point.shift, REFINE_RADIUS)
        folded, at = [], []
        for i in range(rows - k + 1):
            for j in range(cols - k + 1):
                count = cover[i * n:(i + k) * n, j * n:(j + k) * n].reshape(k, n, k, n).sum(axis=(0, 2),
                                                                                          dtype=np.int32)
                if float(count.mean()) < 0.5 * k * k or int(count.min()) < 1:
                    continue
                total = values[i * n:(i + k) * n, j * n:(j + k) * n].reshape(k, n, k, n).sum(axis=(0, 2))
                folded.append(total / count)
                at.append((i, j))
        if len(folded) < 6:
            return None
        # the windows' sync surfaces in one batch (the numbers of one `_normalise` and `_sync_surface`
        # per window, without their per-call overheads)
        gs = _normalise_all(np.stack(folded)).reshape(len(folded), -1)[:, (vv % n) * n + (uu % n)]
        surfaces = _sync_surfaces(gs, lay, lay.sync_a, self._chips, n)
        found_peaks: list[tuple[float, float, float, float, float]] = []
        for z, (i, j) in zip(surfaces, at):
            dy, dx, zmax = _peak(z if free else np.where(ring, z, -np.inf))
            if zmax < (FREE_REFINE_MIN_Z if free else REFINE_MIN_Z):
                continue
            found_peaks.append((zmax, dy, dx, x0 + (j + k / 2) * n, y0 + (i + k / 2) * n))
        if len(found_peaks) < 6:
            return None
        ref = max(found_peaks)[1:3] if free else point.shift
        tiles, images = _pairs_through([p[1:] for p in found_peaks], ref, matrix, n)
        iterations, confidence = (FIELD_RANSAC_ITERATIONS, 0.999) if free else (REFINE_RANSAC_ITERATIONS, 0.99)
        method = FIELD_RANSAC_METHOD if free else cv2.RANSAC
        if free:
            tiles, images = _strongest_first(tiles, images, [p[0] for p in found_peaks])
        found, inliers = cv2.findHomography(np.float32(tiles), np.float32(images), method, 2.0,
                                            maxIters=iterations, confidence=confidence)
        if found is None or inliers is None or int(inliers.sum()) < 6:
            return None
        return found

    def _perspective(self, picture: Picture, ahead: workers.Ahead | None = None) -> _Point | None:
        """A perspective (a phone filming a screen): the keyed sync field (`_sync_field`, half A:
        one-tile windows' sync surfaces summed with their neighbours', homographies through their
        shifts), first coarse (FIELD_START_TILE) from two starts, the embedder's square lattice and
        the homography of the first windows' local lattices (a screen also turned or unevenly
        stretched), then full from the PROSAC map of each start whose coarse field agrees; then, if
        the best fold is still at noise level, one free local synchronisation
        (`_refine(free=True)`); then the key-independent homographies of `_perspective_passes`
        (local lattices of large windows). Of all these estimates the one whose fold the sync half
        A finds best is returned (A chooses, B then validates only that point); a fold that is
        clearly locked ends the search.

        The local lattices alone read 54 of 72 3% perspectives (24 frames x 3 corner seeds): at
        3% most windows' lattices are off by more than the prior itself (7-10 px per tile against
        4-5), and the fits start 15-80 px from the truth at the corners, where the fold tolerates
        ~3 and local synchronisation ~13 (DR015, perspective sync field). The field from the square
        lattice starts within ~5-15 px on most frames, but not on a screen turned by ~1.3 degrees
        and stretched 5% unevenly (corner seeds 5 and 7: 22 of 48); from both starts, 127 of 144
        over six corner seeds (DR015, eighth pass), 130 with the full field's narrower neighbour
        sum (FIELD_REACH_FULL; 439 of 480 over 20 seeds, DR015, ninth pass).

        Nothing runs unless the first start's windows average a harmonic score of at least
        PERSPECTIVE_MIN_SCORE (key-independent; it skips the search on most small pictures and
        crops, where no window holds the period's harmonics, to keep unmarked pictures fast); no
        full field unless a coarse one agrees in FIELD_START_COHERENT of its windows, and nothing
        after the fields unless at least FIELD_COHERENT of a full field's windows agree on its
        homography (the full fields that led to reads: 18-100%, unmarked natural pictures 0-12%,
        periodic textures up to 65%; DR015, ninth pass): the fits through each window's few best
        peaks, the field again from its own best map (while that improves, FIELD_AGAIN times; DR015,
        thirteenth pass), the free local synchronisation and the lattice passes only ever read
        frames whose field agrees. The fits of a field below its gate are not folded either: over
        720 3% perspectives none of them led to a read, and on unmarked pictures, which stop at
        the gates, those folds were a fifth of the search's warps (DR015, fourteenth pass).

        ``ahead``: when the search runs beside the earlier steps (workers.py), it checks between its
        stages whether it is still wanted. The first windows' lattices are the picture's
        (key-independent, kept in it)."""
        check = ahead.check if ahead is not None else (lambda: None)
        if not PERSPECTIVE_SHARES:
            return None
        white, frame_shape, factor = picture.white, picture.shape, picture.factor
        per = tile_period_for(*frame_shape) * factor
        if picture.lattices is None:
            picture.lattices = geometry.local_lattices(white, (0.0, per), (per, 0.0), share=PERSPECTIVE_SHARES[0],
                                                       check=check)
        first = picture.lattices
        if not first or float(np.mean([lat.score for lat in first])) < PERSPECTIVE_MIN_SCORE:
            return None         # the first windows see nothing periodic near the period: nothing to unwarp
        best: _Point | None = None
        h, w = white.shape
        lattice = per / WORK_PERIOD

        def fold_fits(fits: list[np.ndarray], label: str) -> _Point | None:
            """The field's fits folded; the one half A finds best (and `best` kept up to date)."""
            nonlocal best
            top = None
            for fit in fits:
                folded = self._fold(white, fit) if _near_lattice(fit, w, h, lattice) else None
                if folded is None:
                    continue
                point = self._search(self._normalise(folded), label, fit, variants=(0,))
                if top is None or point.z_a > top.z_a:
                    top = point
            if top is not None and (best is None or top.z_a > best.z_a):
                best = top
            return top

        # keyed starts (half A only): a coarse sync field from the embedder's lattice and one from the
        # local lattices' homography (the start a turned or unevenly stretched screen needs) ...
        starts = [geometry.affine_matrix((0.0, per), (per, 0.0), WORK_PERIOD)]
        fit = geometry.fit_perspective(first, (w / 2.0, h / 2.0), WORK_PERIOD)
        if fit is not None and _near_lattice(fit.matrix, w, h, lattice):
            starts.append(fit.matrix)
        chosen: list[tuple[float, np.ndarray]] = []
        for k, start in enumerate(starts):
            check()
            sync = self._sync_field(white, start, FIELD_START_TILE)
            if sync.agree < FIELD_START_COHERENT:
                continue        # a field whose windows do not agree: its fits are not folded (DR015, fourteenth pass)
            top = fold_fits(sync.fits, f"perspective-sync{k + 1}")
            if best is not None and best.z_a >= PERSPECTIVE_LOCKED_Z:
                return best
            if top is not None and _near_lattice(sync.fits[0], w, h, lattice):
                chosen.append((top.z_a, sync.fits[0]))
        # ... then the full field from the PROSAC fit of each start whose coarse field agrees, the one
        # half A found best first
        agree = 0.0
        wider: list[Callable[[], list[np.ndarray]]] = []
        for _, fit in sorted(chosen, key=lambda c: -c[0]):
            check()
            sync = self._sync_field(white, fit)
            agree = max(agree, sync.agree)
            wider.append(sync.wider)
            if sync.agree < FIELD_COHERENT:
                continue        # (nor here)
            fold_fits(sync.fits, "perspective-sync3")
            if best is not None and best.z_a >= PERSPECTIVE_LOCKED_Z:
                return best
        if agree < FIELD_COHERENT:
            return best         # no part of the picture moves with its neighbours: no perspective of a mark
        # the fits through every window's few best peaks (folded only here, where the field agrees:
        # unmarked pictures rarely get this far), then the field again from its own best map, closer
        # to the truth, while that improves (DR015, thirteenth pass)
        fold_fits([m for more in wider for m in more()], "perspective-sync3")
        # (not where a full field agrees in FIELD_AGAIN_BELOW or more and its fold is still noise: that
        # agreement is a periodic texture's own lattice, and the rounds cost it up to 130 ms)
        for _ in range(FIELD_AGAIN if agree < FIELD_AGAIN_BELOW else 0):
            if best is None or best.z_a >= PERSPECTIVE_LOCKED_Z:
                break
            check()
            before = best.z_a
            sync = self._sync_field(white, best.matrix)
            fold_fits(sync.fits + sync.wider(), "perspective-sync3")
            if best.z_a <= before:
                break
        if best is not None and best.z_a >= PERSPECTIVE_LOCKED_Z:
            return best
        if best is not None and best.z_a < REFINE_FROM_Z:
            # the field came close but its fold is not yet above the noise: local synchronisation
            # of 2 x 2-tile windows, each over the whole tile (no global phase to start from)
            check()
            matrix = self._refine(white, best, free=True)
            folded = None if matrix is None or not _near_lattice(matrix, w, h, per / WORK_PERIOD) \
                else self._fold(white, matrix)
            if folded is not None:
                point = self._search(self._normalise(folded), "perspective-sync4", matrix, variants=(0,))
                if point.z_a > best.z_a:
                    best = point
                if best.z_a >= PERSPECTIVE_LOCKED_Z:
                    return best
        for share in PERSPECTIVE_SHARES:
            local = first if share == PERSPECTIVE_SHARES[0] else None
            for step, (matrix, can) in enumerate(self._perspective_passes(white, frame_shape, factor, share, local)):
                check()
                folded = None if can is None else self._fold_canonical(can)
                if folded is None:
                    break
                point = self._search(self._normalise(folded), f"perspective{step + 1}", matrix)
                if best is None or point.z_a > best.z_a:
                    best = point
                if best.z_a >= PERSPECTIVE_LOCKED_Z:
                    return best
        return best

    def _tile_sync_surface(self, tile: np.ndarray) -> np.ndarray:
        """`_sync_surface` of half A for one n x n tile as embedded (variant 0), `_normalise`d, in
        OpenCV's float32 DFTs (the same surface to 1e-6; ~3x faster than numpy's float64 FFTs,
        which matters for the ~100 windows of each `_sync_field`)."""
        lay, n = self._layout, tile.shape[0]
        idx = lay.sync_a
        spec = cv2.dft(np.ascontiguousarray(tile, dtype=np.float32), flags=cv2.DFT_COMPLEX_OUTPUT)
        power = cv2.magnitude(spec[..., 0], spec[..., 1])
        smooth = np.fft.ifftshift(cv2.GaussianBlur(np.fft.fftshift(cv2.multiply(power, power)), (0, 0), 1.5))
        r, c = lay.v[idx] % n, lay.u[idx] % n
        t = (spec[r, c, 0] + 1j * spec[r, c, 1]) / np.sqrt(smooth[r, c] + NOISE_FLOOR) * np.conj(self._chips[idx])
        full = np.zeros((n, n, 2), np.float32)
        full[r, c, 0], full[r, c, 1] = t.real, t.imag
        mr, mc = (-lay.v[idx]) % n, (-lay.u[idx]) % n
        full[mr, mc, 0], full[mr, mc, 1] = t.real, -t.imag
        surface = cv2.idft(full, flags=cv2.DFT_REAL_OUTPUT | cv2.DFT_SCALE)
        sd = 2.0 / (n * n) * math.sqrt(max(float(np.sum(t.real ** 2 + t.imag ** 2)) / 2.0, NOISE_FLOOR))
        return surface * np.float32(1.0 / sd)

    def _smoother(self, n: int) -> Any:
        """`_tile_sync_surface`'s smoothing of the power spectrum (OpenCV's 13-tap Gaussian of sigma
        1.5 bins, reflect-101 border, on the fftshifted plane) evaluated at the sync bins of half A
        only: a sparse (bins x half-plane) matrix, so a batch of windows is smoothed by one product
        (the power of a real tile is symmetric, so the half plane `rfft2` returns is all it needs).
        float32, as the spectra: the product then needs no float64 copy of the batch's power."""
        import scipy.sparse
        cached = self._smoothers.get(n)
        if cached is not None:
            return cached
        taps = cv2.getGaussianKernel(13, 1.5, ktype=cv2.CV_64F).ravel()
        reach, half, cols_h = len(taps) // 2, n // 2, n // 2 + 1
        shifted = np.zeros((n, n))
        for out in range(n):
            for d in range(-reach, reach + 1):
                q = abs(out + d)                      # reflect-101 below 0 ...
                q = 2 * (n - 1) - q if q >= n else q  # ... and at n
                shifted[out, q] += taps[d + reach]
        order = (np.arange(n) + half) % n             # unshifted frequency -> fftshifted index
        blur = shifted[np.ix_(order, order)]          # the 1-D smoothing on unshifted frequencies
        idx = self._layout.sync_a
        rows, cols, vals = [], [], []
        for i, (r, c) in enumerate(zip(self._layout.v[idx] % n, self._layout.u[idx] % n)):
            q1, q2 = np.nonzero(blur[r])[0], np.nonzero(blur[c])[0]
            a, b = np.meshgrid(q1, q2, indexing="ij")
            mirror = b > half                         # the conjugate half: its power is at (-a, -b)
            a, b = np.where(mirror, (-a) % n, a), np.where(mirror, (n - b) % n, b)
            rows.append(np.full(a.size, i))
            cols.append((a * cols_h + b).ravel())
            vals.append(np.outer(blur[r, q1], blur[c, q2]).ravel())
        cached = self._smoothers[n] = scipy.sparse.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(len(idx), n * cols_h),
            dtype=np.float32)
        return cached

    def _tile_sync_surfaces(self, tiles: np.ndarray) -> np.ndarray:
        """`_tile_sync_surface` of every tile of a (k, n, n) stack in one batch: float32 FFTs of the
        whole stack (scipy's pocketfft, one thread) and the power smoothed at the sync bins only
        (`_smoother`); the same surfaces to ~1e-5 (float32). As fast as single calls at 128-pixel
        tiles, 2-3x faster at the 64-pixel tiles of a coarse field (whose per-call overheads dominate;
        a 1080p coarse field ≈ 15 ms against 26-39)."""
        import scipy.fft
        lay, k, n = self._layout, tiles.shape[0], tiles.shape[-1]
        idx = lay.sync_a
        spec = scipy.fft.rfft2(np.asarray(tiles, np.float32), workers=1)
        power2 = (spec.real * spec.real + spec.imag * spec.imag).reshape(k, -1)
        smooth = (self._smoother(n) @ power2.T).T
        v, u = lay.v[idx], lay.u[idx]
        pos = u >= 0
        at = np.empty((k, len(idx)), np.complex64)
        at[:, pos] = spec[:, v[pos] % n, u[pos]]
        at[:, ~pos] = np.conj(spec[:, (-v[~pos]) % n, -u[~pos]])
        t = (at / np.sqrt(smooth + NOISE_FLOOR)).astype(np.complex64) * np.conj(self._chips[idx]).astype(np.complex64)
        surfaces = scipy.fft.irfft2(_half_spectra(t, v, u, n), s=(n, n), workers=1)
        sd = 2.0 / (n * n) * np.sqrt(np.maximum(np.sum(t.real.astype(np.float64) ** 2 + t.imag.astype(np.float64) ** 2,
                                                       axis=1) / 2.0, NOISE_FLOOR))
        return surfaces * (1.0 / sd).astype(np.float32)[:, None, None]

    def _sync_field(self, white: np.ndarray, matrix: np.ndarray, tile: int = WORK_PERIOD) -> _Field:
        """Keyed perspective estimate: where each part of the picture went, by the sync half A.

        A 2 x 2-tile window (`_refine`) is smeared by a 3% perspective seen through the square
        lattice (its local scale and shear are off by up to ~6%, several pixels at its edges), so
        its sync peak drowns; a one-tile window is barely smeared but holds too little of the mark.
        Here every one-tile window (every half tile) gives its sync surface over all tile phases,
        max-pooled by FIELD_POOL pixels (neighbouring windows' shifts differ by a pixel or two) and
        summed with its neighbours' within FIELD_REACH tiles in a coarse field, its 3 x 3 nearest
        (FIELD_REACH_FULL) in a full one (incoherently: no smear); the peak of that sum is the
        window's shift, and a homography through the shifts (RANSAC) is the new canonical ->
        analysed map, returned with the share of windows that agree with it (RANSAC inliers; a
        marked frame's full field agrees in 18-100% of its windows, an unmarked natural picture's in
        0-12%, DR015). Nothing is validated here: half A chooses, B validates later.

        A wide sum finds a weak window's shift from a strong neighbour's, so the windows round a
        strong one all report its shift: they agree with each other more than with the truth, and
        on a picture whose mark lives in a few textured parts a wrong homography through those
        copies outvotes the true one (counted against the true warp: 34 of 122 windows agree with
        it, 53 with the fit). The full field starts close enough to need its neighbours less
        (DR015, ninth pass).

        `tile` is the canonical grid the windows are cut from (pixels a tile): WORK_PERIOD, or
        FIELD_START_TILE for a coarse field at a quarter of the cost (shifts to +-1 coarse pixel,
        which the full field then refines). Returned: the homographies (canonical -> analysed) of
        PROSAC and of FIELD_OTHER_FIT through the same shifts (a field's shifts are fitted as
        differently by the two as a frame's reads differ: each misses 3% perspectives the other
        reads), the share of windows that agree with PROSAC's, and a function for the PROSAC fit
        through each window's FIELD_PEAKS best peaks (more than FIELD_PEAK_GAP apart), worked out
        only if the caller gets past the agreement gate (`_Field`)."""
        scale = WORK_PERIOD / tile
        matrix = matrix @ np.diag([scale, scale, 1.0])     # field grid -> analysed
        can = self._canonical(white, matrix, tile)
        inv = _inverse3(matrix)
        if can is None or inv is None:
            return _Field([], 0.0, list)
        n, step = tile, int(round(FIELD_STRIDE / scale))
        h, w = white.shape
        corners = inv @ np.array([[0, 0, 1], [w, 0, 1], [w, h, 1], [0, h, 1]], np.float64).T
        x0 = math.floor((corners[0] / corners[2]).min() / n) * n
        y0 = math.floor((corners[1] / corners[2]).min() / n) * n
        values, cover = can
        q = max(1, int(round(FIELD_POOL / scale)))
        kernel = np.ones((2 * q + 1, 2 * q + 1), np.uint8)
        starts_y = range(0, values.shape[0] - n + 1, step)
        starts_x = range(0, values.shape[1] - n + 1, step)
        grid = np.zeros((len(starts_y), len(starts_x), n, n), np.float32)
        # a window is present where the picture covers at least half of it (exact integer sums)
        sums = cv2.integral(cover, sdepth=cv2.CV_32S)
        ys, xs = np.asarray(starts_y)[:, None], np.asarray(starts_x)[None, :]
        present = 2 * (sums[ys + n, xs + n] - sums[ys, xs + n] - sums[ys + n, xs] + sums[ys, xs]) >= n * n
        where = np.argwhere(present)
        if len(where) < FIELD_MIN_INLIERS:
            return _Field([], 0.0, list)
        # a few windows at a time (FIELD_CHUNK_PIXELS): their spectra and surfaces stay in the cache
        # while each is pooled (every window's transforms are its own: the numbers of one batch).
        # A surface is max-pooled round the tile (wrapped), brought to zero mean and unit deviation,
        # and put in the canonical tile's phase (rolled by its window's offset in the tile: pooling
        # and the statistics do not see a circular shift)
        chunk_windows = max(1, FIELD_CHUNK_PIXELS // (n * n))
        for c0 in range(0, len(where), chunk_windows):
            chunk = where[c0:c0 + chunk_windows]
            surfaces = self._tile_sync_surfaces(np.stack(
                [values[starts_y[a]:starts_y[a] + n, starts_x[b]:starts_x[b] + n] for a, b in chunk]))
            for z, (a, b) in zip(surfaces, chunk):
                pooled = cv2.dilate(cv2.copyMakeBorder(z, q, q, q, q, cv2.BORDER_WRAP), kernel)[q:-q, q:-q]
                mean, sd = cv2.meanStdDev(pooled)
                _rolled_into(grid[a, b], (pooled - float(mean[0, 0])) / (float(sd[0, 0]) + 1e-6),
                             starts_y[a] % n, starts_x[b] % n)
        # every window's surface summed with its neighbours' (the grid shifted by each offset in
        # reach), one row of windows at a time: its sums stay in the cache while every offset is
        # added (the same additions in the same order as whole-grid passes, 2-3x faster)
        rows, cols = present.shape
        total = np.zeros_like(grid)
        count = np.zeros(present.shape, np.int32)
        within = FIELD_REACH if tile < WORK_PERIOD else FIELD_REACH_FULL
        reach = int(within * n / step)
        offsets = [(di, dj) for di in range(-reach, reach + 1) for dj in range(-reach, reach + 1)
                   if math.hypot(di * step, dj * step) <= within * n + 1]
        for a in range(rows):
            for di, dj in offsets:
                if not 0 <= a + di < rows:
                    continue
                tb, sb = slice(max(0, -dj), cols - max(0, dj)), slice(max(0, dj), cols + min(0, dj))
                total[a, tb] += grid[a + di, sb]
                count[a, tb] += present[a + di, sb]
        at_windows = np.nonzero(present)
        windows = len(at_windows[0])
        gap = max(1, int(round(FIELD_PEAK_GAP / scale)))
        back = np.diag([1.0 / scale, 1.0 / scale, 1.0])     # canonical -> field grid

        def peaks(several: int) -> list[tuple[int, float, float, float, float, float]]:
            """Each window's `several` best peaks (more than FIELD_PEAK_GAP apart), as (rank, score,
            dy, dx, cx, cy)."""
            out = []
            tops = _separated(total[at_windows].reshape(-1, n * n), n, gap, several)
            for a, b, found in zip(*at_windows, tops):
                norm = math.sqrt(max(int(count[a, b]), 1))
                for rank, (at, value) in enumerate(found):
                    dy, dx = divmod(at, n)
                    out.append((rank, value / norm, dy, dx, x0 + starts_x[b] + n / 2.0, y0 + starts_y[a] + n / 2.0))
            return out

        best = peaks(1)
        ref = max(best, key=lambda p: p[1])[2:4]    # shifts relative to the strongest window's

        def fit(chosen: list[tuple[int, float, float, float, float, float]], method: int) -> tuple[np.ndarray | None, int]:
            """The homography (canonical -> analysed) through the chosen peaks, strongest first, and
            how many of them agree with it."""
            tiles, images = _pairs_through([p[2:] for p in chosen], ref, matrix, n)
            tiles, images = _strongest_first(tiles, images, [p[1] for p in chosen])
            found, inliers = cv2.findHomography(np.float32(tiles), np.float32(images), method, FIELD_RANSAC_PX,
                                                maxIters=FIELD_RANSAC_ITERATIONS, confidence=0.999)
            agreeing = 0 if inliers is None else int(inliers.sum())
            return (None if found is None or agreeing < FIELD_MIN_INLIERS else found @ back), agreeing

        fits, agree = [], 0.0
        for k, method in enumerate((FIELD_RANSAC_METHOD, FIELD_OTHER_FIT)):
            found, agreeing = fit(best, method)
            if k == 0:
                agree = agreeing / windows
            if found is not None:
                fits.append(found)

        def wider() -> list[np.ndarray]:
            """Each window's best few peaks (FIELD_PEAKS): where a window holds little mark its best
            peak is often not its true shift, but the true one is among the next few, and a PROSAC
            fit through all of them finds it (DR015, thirteenth pass). Worked out only when asked
            for (past the agreement gate: unmarked pictures rarely get there)."""
            found, _ = fit(peaks(FIELD_PEAKS), FIELD_RANSAC_METHOD)
            return [] if found is None else [found]

        return _Field(fits, agree, wider)

    def _perspective_passes(self, white: np.ndarray, frame_shape: tuple[int, int], factor: float,
                            share: float, first: list[geometry.LocalLattice] | None = None,
                            ) -> Iterator[tuple[np.ndarray, tuple[np.ndarray, np.ndarray] | None]]:
        """Key-independent homographies (canonical -> analysed) for a perspective, one per pass.

        1. The lattice in 3 x 3 overlapping windows (`share` of the picture's sides) near the
           embedder's period for this frame (a perspective of a few percent keeps every local
           lattice within a few pixels of it), and the homography whose Jacobian matches them
           (geometry.fit_perspective).
        2. The picture unwarped by the estimate so far, the same in canonical coordinates, where
           every window is now close to the square lattice (a smaller search, less smear), and
           the correction composed with the estimate; up to PERSPECTIVE_PASSES - 1 times."""
        n = WORK_PERIOD
        h, w = white.shape
        per = tile_period_for(*frame_shape) * factor
        if first is None:
            first = geometry.local_lattices(white, (0.0, per), (per, 0.0), share=share)
        fit = geometry.fit_perspective(first, (w / 2.0, h / 2.0), n)
        if fit is None or not _near_lattice(fit.matrix, w, h, per / n):
            return
        matrix = fit.matrix
        can = self._canonical(white, matrix)
        yield matrix, can
        for _ in range(PERSPECTIVE_PASSES - 1):
            inv = _inverse3(matrix)
            if inv is None or can is None:
                return
            corners = inv @ np.array([[0, 0, 1], [w, 0, 1], [w, h, 1], [0, h, 1]], np.float64).T
            x0 = math.floor((corners[0] / corners[2]).min() / n) * n
            y0 = math.floor((corners[1] / corners[2]).min() / n) * n
            # the unwarped picture without the padding to whole tiles around it
            rows, cols = np.flatnonzero(can[1].any(axis=1)), np.flatnonzero(can[1].any(axis=0))
            if len(rows) < 2 * geometry.MIN_LAG or len(cols) < 2 * geometry.MIN_LAG:
                return
            x0, y0 = x0 + int(cols[0]), y0 + int(rows[0])
            values = np.ascontiguousarray(can[0][rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1], dtype=np.float32)
            fit = geometry.fit_perspective(
                geometry.local_lattices(values, (0.0, float(n)), (float(n), 0.0), radius=PERSPECTIVE_RADIUS,
                                        grid=PERSPECTIVE_LATER_GRID),
                (values.shape[1] / 2.0, values.shape[0] / 2.0), n)
            if fit is None:
                return
            matrix = matrix @ np.array([[1.0, 0.0, x0], [0.0, 1.0, y0], [0.0, 0.0, 1.0]]) @ fit.matrix
            if not _near_lattice(matrix, w, h, per / n):
                return
            can = self._canonical(white, matrix)      # folded by the caller, unwarped by the next pass
            yield matrix, can

    def _rotation_search(self, picture: Picture) -> list[tuple[str, np.ndarray]]:
        """Keyed search for a rotated re-post: a 16:9 frame turned by up to ROTATION_MAX degrees,
        cut to its largest inscribed rectangle and resized to this frame's size has a known
        lattice for every angle; fold at each angle of a ROTATION_STEP grid on a half-size
        picture (tile of 32 pixels... 64) and keep the angles whose sync (half A) peaks highest.
        For pictures whose autocorrelation is too busy to show the lattice. The folds are the
        picture's (key-independent, kept in it); the peaks are this key's."""
        height, width = picture.shape
        factor = picture.factor
        half = WORK_PERIOD // 2
        if picture.rotation is None:
            white = picture.white
            small = cv2.resize(white, (max(8, white.shape[1] // 2), max(8, white.shape[0] // 2)),
                               interpolation=cv2.INTER_AREA)
            angles, folds = [], []
            for degrees in np.arange(-ROTATION_MAX, ROTATION_MAX + 1e-9, ROTATION_STEP):
                v1, v2 = geometry.rotation_lattice(float(degrees), width, height, CANONICAL_PERIOD / 1920.0,
                                                   CANONICAL_PERIOD / 1080.0)
                scale = factor / 2.0
                matrix = geometry.affine_matrix((v1[0] * scale, v1[1] * scale), (v2[0] * scale, v2[1] * scale), half)
                folded = self._fold(small, matrix, half)
                if folded is not None:
                    angles.append(float(degrees))
                    folds.append(folded)
            picture.rotation = (angles, _normalise_all(np.stack(folds)) if folds else np.empty((0, half, half)))
        angles, norms = picture.rotation
        if not angles:
            return []
        # every angle's best orientation (as embedded or mirrored) by its sync peak (half A), the
        # surfaces of all angles in one batch (`_search`'s numbers without its per-call overheads)
        bins = self._variant_bins(half)[[0, 1]]
        gs = np.concatenate([norm.ravel()[bins] for norm in norms])
        surfaces = _sync_surfaces(gs, self._layout, self._layout.sync_a, self._chips, half)
        peaks = surfaces.reshape(len(angles), -1).max(axis=1)
        scored = sorted(zip(peaks.tolist(), angles), reverse=True)
        out = []
        for _, degrees in scored[:ROTATION_CANDIDATES]:
            v1, v2 = geometry.rotation_lattice(degrees, width, height, CANONICAL_PERIOD / 1920.0,
                                               CANONICAL_PERIOD / 1080.0)
            out.append((f"rotation{degrees:+.1f}",
                        geometry.affine_matrix((v1[0] * factor, v1[1] * factor), (v2[0] * factor, v2[1] * factor),
                                               WORK_PERIOD)))
        return out

    def _decide(self, point: _Point, extra: dict[str, Any], validations: int = MAX_VALIDATIONS) -> Detection:
        """Decode the soft bits at the validated point (BCH, spread.1's RS, then Chase patterns) and
        accept a codeword only as far from the bits as read as the validation allows
        (ecc.decode_soft), and say what was found."""
        p_b = _validation_p(point.z_b) * validations
        assert point.soft is not None
        payload, corrected, how, bound = ecc.decode_soft(point.soft, self._layout.scramble, p_b)
        bits = (point.soft > 0).astype(np.uint8) ^ self._layout.scramble
        details = {"sync_z": round(point.z_a, 2), "validation_z": round(point.z_b, 2), "p_sync": p_b,
                   "raw_payload": ecc.raw_payload(bits), "corrected": corrected, "decoded_by": how,
                   "format": ALG_V1 if how == "rs" else ALG,
                   "orientation": _VARIANT_NAMES[point.variant], "geometry": point.geometry, **extra}
        if payload is not None:
            fpr = max(bound, 1e-300)
            return Detection(True, payload, 1.0 - fpr, fpr, self.name, details)
        if p_b <= SYNC_ALONE_P:
            # clearly our mark, but the payload did not survive
            return Detection(True, None, 1.0 - p_b, p_b, self.name, details)
        return Detection(False, None, 0.0, 1.0, self.name, details)

    def _points(self, folds: list[tuple[str, np.ndarray, np.ndarray | None]]) -> list[_Point]:
        """The best point of every candidate geometry (its normalised fold, None: nothing to fold),
        best first."""
        points = [self._search(norm, name, matrix) for name, matrix, norm in folds if norm is not None]
        points.sort(key=lambda p: -p.z_a)
        return points

    def detect(self, frame_rgb: np.ndarray) -> Detection:
        return self.read(Picture(frame_rgb))

    def read(self, picture: Picture, validations: int = MAX_VALIDATIONS) -> Detection:
        """`detect` of a `Picture`: what this key finds in it (the key-independent work is shared
        with every other key that reads the same `Picture`). ``validations``: the points the
        acceptance rule's union bound counts (this read's MAX_VALIDATIONS, plus any other points
        validated in the same call: a clip's)."""
        # the perspective search (the last fallback) needs only the picture: once the first read
        # fails it starts beside the steps before it, and is used only if they all fail, as if it
        # had run after them (workers.py)
        perspective = workers.Ahead(self._perspective, picture)
        try:
            return self._detect(picture, perspective, validations)
        finally:
            perspective.stop()

    def _detect(self, picture: Picture, perspective: workers.Ahead, validations: int) -> Detection:
        white, frame_shape, factor = picture.white, picture.shape, picture.factor
        if picture.candidates is None:
            folds = []
            for name, matrix in self._candidates(white, frame_shape, factor):
                folded = self._fold(white, matrix)
                folds.append((name, matrix, None if folded is None else self._normalise(folded)))
            picture.candidates = folds
        points = self._points(picture.candidates)
        if not points:
            return Detection(False, None, 0.0, 1.0, self.name, {"candidates": 0})
        extra: dict[str, Any] = {"candidates": len(picture.candidates)}
        # validated points (the union bound counts MAX_VALIDATIONS): the best point of every
        # candidate geometry, best first, and up to two local refinements of the best one; then
        # the rotation search, then the perspective fit and its refinements
        attempts: list[Detection] = []
        point = self._read(points[0])
        attempts.append(self._decide(point, extra, validations))
        if attempts[-1].payload is None:
            perspective.start()
        for step in (1, 2):
            if attempts[-1].payload is not None:
                return attempts[-1]
            if point.z_a < REFINE_FROM_Z:
                break
            refined = self._refine(white, point)
            folded = None if refined is None else self._fold(white, refined)
            if folded is None:
                break
            point = self._read(self._search(self._normalise(folded), f"{point.geometry}+local{step}", refined))
            attempts.append(self._decide(point, extra, validations))
        for other in points[1:]:
            if attempts[-1].payload is not None:
                break
            attempts.append(self._decide(self._read(other), extra, validations))
        if attempts[-1].payload is None:
            # the autocorrelation may have missed a rotation: search the angle with the key
            for name, matrix in self._rotation_search(picture):
                folded = self._fold(white, matrix)
                if folded is None:
                    continue
                point = self._read(self._search(self._normalise(folded), name, matrix))
                attempts.append(self._decide(point, extra, validations))
                if attempts[-1].payload is not None:
                    break
                refined = None if point.z_a < REFINE_FROM_Z else self._refine(white, point)
                folded = None if refined is None else self._fold(white, refined)
                if folded is not None:
                    point = self._read(self._search(self._normalise(folded), f"{name}+local1", refined))
                    attempts.append(self._decide(point, extra, validations))
                    if attempts[-1].payload is not None:
                        break
        if attempts[-1].payload is None:
            # a perspective smears the global lattice: local lattices give a homography (without
            # the key), then local synchronisation from that close start (up to 3 validated points)
            found = perspective.result()
            if found is not None:
                point = self._read(found)
                attempts.append(self._decide(point, extra, validations))
                for step in (1, 2):
                    if attempts[-1].payload is not None or point.z_a < REFINE_FROM_Z:
                        break
                    refined = self._refine(white, point)
                    folded = None if refined is None else self._fold(white, refined)
                    if folded is None:
                        break
                    point = self._read(self._search(self._normalise(folded), f"{found.geometry}+local{step}", refined))
                    attempts.append(self._decide(point, extra, validations))
        return _first_read(attempts)

    def detect_frames(self, frames: Iterable[np.ndarray], max_frames: int = 48) -> Detection:
        """Read a clip three ways and keep the first that decodes (`detect_frames_with` several
        keys).

        The geometry candidates come from the mean of the first frames' whitened lumas (the
        mark is static, the picture usually is not, so the lattice stands out more).
        1. Static: one geometry for the whole clip, folded tiles summed (best when the mark sits
           still in the picture, as we embed it).
        2. Per frame: at low bitrates the codec's motion compensation drags the mark along with
           the picture, so each frame is aligned by its own search (half A), and the soft bits
           and validation terms are summed (maximum-ratio combining).
        3. If neither decodes and the clip is short (under CLIP_MEAN_BELOW frames): its mean
           whitened frame read as a still (`read`: local synchronisation, the rotation and
           perspective searches), for a short clip filmed off a screen or re-posted turned (DR015,
           fifteenth pass).
        """
        return detect_frames_with((self,), frames, max_frames)[0]

    def _clip_result(self, clip: _ClipSums, static_norms: list[tuple[str, np.ndarray, np.ndarray]],
                     extra: dict[str, Any]) -> Detection:
        """This key's reading of a clip: the static fold (summed tiles) and the per-frame combination."""
        static_points = [self._search(norm, name, m) for name, m, norm in static_norms]
        if not static_points:
            return Detection(False, None, 0.0, 1.0, self.name, {**extra, "candidates": 0})
        static = self._read(max(static_points, key=lambda p: p.z_a))
        results = [self._decide(static, extra, validations=CLIP_VALIDATIONS)]
        if results[-1].payload is None and clip.aligned_frames:
            b_sum = clip.b_sum
            z_b = float(np.sum(b_sum.real) / math.sqrt(max(float(np.sum(np.abs(b_sum) ** 2)) / 2.0, NOISE_FLOOR)))
            point = _Point(static.geometry, static.matrix, static.variant, static.shift, static.z_a, static.g,
                           z_b=z_b, soft=clip.soft_sum)
            results.append(self._decide(point, {**extra, "aligned_frames": clip.aligned_frames, "mode": "per-frame"},
                                        validations=CLIP_VALIDATIONS))
        return _first_read(results)

    def c2pa_soft_binding(self, payload: int, *, timespan_ms: tuple[int, int] | None = None) -> dict[str, Any]:
        return soft_binding_assertion(self.name, check_payload(payload, self.payload_bits), self.payload_bits, timespan_ms)


# ---------------------------------------------------------------------- clips read with several keys

class _ClipSums:
    """One key's running sums over a clip's frames (the per-frame combination of `detect_frames`)."""

    def __init__(self, engine: SpreadSpectrumWatermark) -> None:
        self.engine = engine
        self.soft_sum = np.zeros(ecc.CODED_BITS)
        self.b_sum = np.zeros(len(engine._layout.sync_b), np.complex128)
        self.aligned_frames = 0

    def take(self, norms: list[tuple[str, np.ndarray, np.ndarray]]) -> None:
        """One frame's normalised folds: aligned by this key's best search, its soft bits and
        validation terms added (maximum-ratio combining) when the search peak reaches CLIP_FRAME_Z."""
        engine, lay = self.engine, self.engine._layout
        best: _Point | None = None
        for name, matrix, norm in norms:
            point = engine._search(norm, name, matrix)
            if best is None or point.z_a > best.z_a:
                best = point
        if best is not None and best.z_a >= CLIP_FRAME_Z:
            dy0, dx0 = best.shift
            aligned = best.g * np.exp(2j * np.pi * (lay.u * dx0 + lay.v * dy0) / WORK_PERIOD) * np.conj(engine._chips)
            self.b_sum = self.b_sum + aligned[lay.sync_b]
            self.soft_sum = self.soft_sum + (aligned.real * _channel_weights(aligned, lay))[lay.bit_bins].sum(axis=0)
            self.aligned_frames += 1


def detect_frames_with(engines: Sequence[SpreadSpectrumWatermark], frames: Iterable[np.ndarray],
                       max_frames: int = 48) -> list[Detection]:
    """`SpreadSpectrumWatermark.detect_frames` of one clip for each engine (key), in one pass: every
    frame is whitened and folded at the key-independent candidates once, and only the searches,
    the alignment and the decoding are each key's (verify reads a clip with the production's key
    and the public default one); the mean frame, where a key reads it, is one `Picture` for all.
    The same result per engine as its own `detect_frames`."""
    if not engines:
        return []
    shape: tuple[int, int] | None = None
    clips = [_ClipSums(engine) for engine in engines]
    keyless = SpreadSpectrumWatermark   # the key-independent steps are static methods: no engine, no key
    used = 0
    buffered: list[np.ndarray] = []
    candidates: list[tuple[str, np.ndarray]] = []
    sums: list[np.ndarray | None] = []
    total: np.ndarray | None = None     # a short clip's whitened frames summed (their mean: the last reading)
    factor = 1.0

    def take(white: np.ndarray) -> None:
        norms = []
        for i, (name, matrix) in enumerate(candidates):
            folded = keyless._fold(white, matrix)
            if folded is None:
                continue
            sums[i] = folded if sums[i] is None else sums[i] + folded
            norms.append((name, matrix, keyless._normalise(folded)))
        for clip in clips:
            clip.take(norms)

    for frame in frames:
        if used >= max_frames:
            break
        frame = check_frame(frame, min_side=MIN_SIDE)
        if shape is not None and frame.shape[:2] != shape:
            raise InputError(f"frames of one clip must share a size: {frame.shape[1]}x{frame.shape[0]} "
                             f"after {shape[1]}x{shape[0]}")
        shape = frame.shape[:2]
        white, factor = keyless._prepare(frame)
        if used < CLIP_MEAN_BELOW:     # (a longer clip's mean is never read)
            total = white.astype(np.float64) if total is None else total + white
        used += 1
        if not candidates:
            buffered.append(white)
            if len(buffered) < min(CLIP_GEOMETRY_FRAMES, max_frames):
                continue
            candidates = keyless._candidates(np.mean(buffered, axis=0), shape, factor)
            sums = [None] * len(candidates)
            for w in buffered:
                take(w)
            buffered = []
        else:
            take(white)
    if buffered:
        assert shape is not None
        candidates = keyless._candidates(np.mean(buffered, axis=0), shape, factor)
        sums = [None] * len(candidates)
        for w in buffered:
            take(w)
    if shape is None:
        return [Detection(False, None, 0.0, 1.0, engine.name, {"frames": 0}) for engine in engines]
    extra: dict[str, Any] = {"frames": used, "candidates": len(candidates)}
    static_norms = [(name, m, keyless._normalise(f)) for (name, m), f in zip(candidates, sums) if f is not None]
    results = [clip.engine._clip_result(clip, static_norms, extra) for clip in clips]
    if used >= CLIP_MEAN_BELOW or all(r.payload is not None for r in results):
        return results
    # 3. A short clip's mean whitened frame read as one picture, with every search a still gets
    # (rotation, local synchronisation, perspective): the static fold above is only the
    # key-independent candidates', and over a few frames it misses a clip filmed off a screen that
    # each of its frames reads (12 frames at a 3% perspective: 23 of 48 clips; from 24 frames on
    # the static fold read all 96 measured, so longer clips are not charged a still's read per
    # span). The mark stands still while the picture moves, so the mean holds more of it than any
    # one frame (DR015, fifteenth pass). Its points count with the clip's two in the union bound.
    assert total is not None
    mean = Picture.from_white(total / used, shape, factor)
    for i, (clip, result) in enumerate(zip(clips, results)):
        if result.payload is not None:
            continue
        read = clip.engine.read(mean, validations=MAX_VALIDATIONS + CLIP_VALIDATIONS)
        results[i] = _first_read([result, replace(read, details={**read.details, "frames": used, "mode": "mean"})])
    return results


# ---------------------------------------------------------------------- keyless marking arithmetic
# The mark of one payload at one size is a tile (which needs the key) times a perceptual mask
# (which needs only the picture and the strength). These functions are the second half: the
# engine uses them, and so does a render node holding a tile but no key (compute/marking.py,
# DR016), so both give the same pixels by construction.

def tiled_pattern(tile: np.ndarray, height: int, width: int) -> np.ndarray:
    """The unit-RMS full-frame pattern of a tile (tiles start at the top-left), float32."""
    period = tile.shape[0]
    reps = (-(-height // period), -(-width // period))
    return np.ascontiguousarray(np.tile(tile, reps)[:height, :width], dtype=np.float32)


APPLY_ROWS = 16   # block rows the mark is applied in at a time: a 1080p strip's working set fits in L2


def _apply(frame: np.ndarray, pattern: np.ndarray, strength: float,
           lift: bool = False, source: np.ndarray | None = None) -> np.ndarray:
    """``frame`` with the mark added (or, ``lift``, subtracted): the unit-RMS pattern times the
    perceptual amplitude of ``source`` (default: the frame; masking.py), rounded, the same step in
    R, G and B (hue kept). Two passes of row bands (workers.py): the mask's block statistics, then
    each band's mask and mark, in strips of APPLY_ROWS block rows, so no full-frame intermediate
    is made: only the result."""
    h, w = frame.shape[:2]
    mask = masking.frame_mask(frame if source is None else source, strength)
    out = np.empty_like(frame)

    def band(b0: int, b1: int) -> None:
        amp, first = mask.block_rows(b0, b1)
        for s0 in range(b0, b1, APPLY_ROWS):
            s1 = min(b1, s0 + APPLY_ROWS)
            y0, y1 = s0 * masking.BLOCK, min(h, s1 * masking.BLOCK)
            a = masking.upsampled(amp, (s0 - first, s1 - first), w)[:y1 - y0]
            # the positive and the negative steps: a uint8 result saturates the other sign to 0
            plus = cv2.multiply(pattern[y0:y1], a, dtype=cv2.CV_8U)
            minus = cv2.multiply(pattern[y0:y1], a, scale=-1.0, dtype=cv2.CV_8U)
            plus, minus = cv2.merge((plus, plus, plus)), cv2.merge((minus, minus, minus))
            rows = out[y0:y1]
            if lift:
                cv2.add(cv2.subtract(frame[y0:y1], plus), minus, dst=rows)
            else:                                    # saturating; a pixel has a plus or a minus, never both
                cv2.subtract(cv2.add(frame[y0:y1], plus, dst=rows), minus, dst=rows)

    workers.run(band, workers.bands(mask.rows))
    return out


def add_mark(frame: np.ndarray, pattern: np.ndarray, strength: float) -> np.ndarray:
    """``frame`` (checked uint8 RGB) with the ``pattern`` (``tiled_pattern``) added under the mask."""
    return _apply(frame, pattern, strength)


def lift_mark(frame: np.ndarray, pattern: np.ndarray, strength: float) -> np.ndarray:
    """The inverse of ``add_mark``: the mask is recomputed from the marked frame, then once more
    from that first estimate of the original."""
    estimate = frame
    for _ in range(2):
        estimate = _apply(frame, pattern, strength, lift=True, source=estimate)
    return estimate


def _inverse3(m: np.ndarray) -> np.ndarray | None:
    """Inverse of a 3x3 matrix by its adjugate (np.linalg.inv goes through LAPACK, whose thread
    pool costs milliseconds on a busy machine; this is called for every fold)."""
    a, b, c = m[0]
    d, e, f = m[1]
    g, h, i = m[2]
    co = np.array([[e * i - f * h, c * h - b * i, b * f - c * e],
                   [f * g - d * i, a * i - c * g, c * d - a * f],
                   [d * h - e * g, b * g - a * h, a * e - b * d]], np.float64)
    det = a * co[0, 0] + b * co[1, 0] + c * co[2, 0]
    if not math.isfinite(det) or abs(det) < 1e-12:
        return None
    return co / det


def _near_lattice(matrix: np.ndarray, width: int, height: int, scale: float) -> bool:
    """Whether a canonical -> analysed homography stays within PERSPECTIVE_SPREAD of the square
    lattice of `scale` analysed pixels per canonical pixel at the picture's four corners (a
    perspective of a few percent, not a fit to noise, which could ask for a huge unwarped picture)."""
    inv = _inverse3(matrix)
    if inv is None:
        return False
    for x, y in ((0.0, 0.0), (width, 0.0), (width, height), (0.0, height)):
        c = inv @ np.array([x, y, 1.0])
        if abs(c[2]) < 1e-12:
            return False
        cx, cy = c[0] / c[2], c[1] / c[2]
        den = matrix[2, 0] * cx + matrix[2, 1] * cy + matrix[2, 2]
        if den <= 1e-12:
            return False
        jac = np.array([[matrix[0, 0] - x * matrix[2, 0], matrix[0, 1] - x * matrix[2, 1]],
                        [matrix[1, 0] - y * matrix[2, 0], matrix[1, 1] - y * matrix[2, 1]]]) / (den * scale)
        if np.max(np.abs(jac - np.eye(2))) > PERSPECTIVE_SPREAD:
            return False
    return True


def _pairs_through(shifts: Iterable[tuple[float, float, float, float]], ref: tuple[float, float],
                   matrix: np.ndarray, n: int) -> tuple[list, list]:
    """The point pairs a local synchronisation fits its homography through: for each window
    (tile shift ``dy, dx`` found at canonical centre ``cx, cy``), where that centre really is once
    its shift relative to ``ref`` (wrapped to half a tile) is taken off, and where ``matrix`` sends
    the centre in the analysed picture."""
    tiles, images = [], []
    for dy, dx, cx, cy in shifts:
        ddy = (dy - ref[0] + n / 2) % n - n / 2
        ddx = (dx - ref[1] + n / 2) % n - n / 2
        tiles.append((cx - ddx, cy - ddy))
        hit = matrix @ np.array([cx, cy, 1.0])
        images.append((hit[0] / hit[2], hit[1] / hit[2]))
    return tiles, images


def _separated(surfaces: np.ndarray, n: int, gap: int, count: int) -> list[list[tuple[int, float]]]:
    """Each flat n x n surface's (row of ``surfaces``) ``count`` highest points, each more than
    ``gap`` pixels (circularly, on either axis) from every higher one kept (greedy: the maximum, then
    the maximum outside the square of ``gap`` round it, ...): a max-pooled surface's top is a
    plateau, whose points are one peak. Of equal values, the first in the surface (as argmax).
    All surfaces at once. Returned: (flat index, value), highest first."""
    # the best alone (every field's first fit) needs no copy to mark what is taken
    left = np.array(surfaces, np.float32, copy=count > 1)
    rows = np.arange(len(left))[:, None]
    d = np.arange(-gap, gap + 1)
    kept = []
    for taken in range(count):
        first = left.argmax(axis=1)
        value = left[rows[:, 0], first]
        kept.append((first, value, np.isfinite(value)))
        if taken == count - 1:
            break
        y, x = np.divmod(first, n)
        around = ((y[:, None, None] + d[None, :, None]) % n) * n + (x[:, None, None] + d[None, None, :]) % n
        left[rows, around.reshape(len(left), -1)] = -np.inf
    return [[(int(i[k]), float(v[k])) for i, v, ok in kept if ok[k]] for k in range(len(left))]


def _rolled_into(out: np.ndarray, z: np.ndarray, sy: int, sx: int) -> None:
    """``out[:] = np.roll(z, (sy, sx), (0, 1))`` for 0 <= sy, sx < the sides, as block copies."""
    h, w = z.shape
    out[sy:, sx:] = z[:h - sy, :w - sx]
    if sx:
        out[sy:, :sx] = z[:h - sy, w - sx:]
    if sy:
        out[:sy, sx:] = z[h - sy:, :w - sx]
        if sx:
            out[:sy, :sx] = z[h - sy:, w - sx:]


def _strongest_first(tiles: list, images: list, scores: list[float]) -> tuple[list, list]:
    """Point pairs ordered by their score, highest first (PROSAC draws its samples from the top)."""
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    return [tiles[i] for i in order], [images[i] for i in order]


def _first_read(results: list[Detection]) -> Detection:
    """The first reading that decoded an id; if none did, the strongest (found first, then by its
    validation z)."""
    for result in results:
        if result.payload is not None:
            return result
    return max(results, key=lambda r: (r.found, r.details.get("validation_z", 0.0)))


def _validation_p(z: float) -> float:
    """Tail bound for the validation statistic under no mark: each term is |g| cos(uniform
    phase), whose moment generating function I0(l|g|) <= exp(l^2 |g|^2 / 4), so the sum is
    sub-Gaussian with its own variance and P(z >= t) <= exp(-t^2 / 2) (Chernoff)."""
    return 1.0 if z <= 0 else min(1.0, math.exp(-0.5 * z * z))


def _normalise_all(folded: np.ndarray) -> np.ndarray:
    """`SpreadSpectrumWatermark._normalise` of a (k, n, n) stack of folded tiles: each tile's
    spectrum, every bin divided by the local average power (spectral whitening)."""
    spec = np.fft.fft2(folded)
    power = np.fft.fftshift((spec.real ** 2 + spec.imag ** 2).astype(np.float32), axes=(1, 2))
    smooth = np.stack([cv2.GaussianBlur(plane, (0, 0), 1.5) for plane in power])
    return spec / np.sqrt(np.fft.ifftshift(smooth, axes=(1, 2)) + NOISE_FLOOR)


def _half_spectra(t: np.ndarray, v: np.ndarray, u: np.ndarray, n: int) -> np.ndarray:
    """The half spectra (k, n, n // 2 + 1) that hold each row of `t` at the bins (v, u) and its
    conjugate at (-v, -u), for an inverse real FFT (`_sync_surfaces`, `_tile_sync_surfaces`)."""
    half = np.zeros((t.shape[0], n, n // 2 + 1), t.dtype)
    pos = u >= 0
    half[:, v[pos] % n, u[pos]] = t[:, pos]
    half[:, (-v[~pos]) % n, -u[~pos]] = np.conj(t[:, ~pos])
    axis = u == 0
    half[:, (-v[axis]) % n, 0] = np.conj(t[:, axis])
    return half


def _sync_surface(g: np.ndarray, lay: _Layout, idx: np.ndarray, chips: np.ndarray, n: int) -> np.ndarray:
    """z-scores of the correlation of the bins `idx` with their chips, for every circular
    shift: an inverse real FFT of the half spectrum, divided by its exact standard deviation
    under no mark (Parseval)."""
    t = g[idx] * np.conj(chips[idx])
    v, u = lay.v[idx], lay.u[idx]
    half = np.zeros((n, n // 2 + 1), np.complex128)
    pos = u >= 0
    half[v[pos] % n, u[pos]] = t[pos]
    half[(-v[~pos]) % n, -u[~pos]] = np.conj(t[~pos])
    axis = u == 0
    half[(-v[axis]) % n, 0] = np.conj(t[axis])
    surface = np.fft.irfft2(half, s=(n, n))
    sd = 2.0 / (n * n) * math.sqrt(max(float(np.sum(t.real ** 2 + t.imag ** 2)) / 2.0, NOISE_FLOOR))
    return surface / sd


def _sync_surfaces(gs: np.ndarray, lay: _Layout, idx: np.ndarray, chips: np.ndarray, n: int) -> np.ndarray:
    """`_sync_surface` of every row of `gs` (k orientations' bins), in one batch of inverse
    FFTs: the same numbers, row by row, as k separate calls."""
    t = gs[:, idx] * np.conj(chips[idx])
    surfaces = np.fft.irfft2(_half_spectra(t, lay.v[idx], lay.u[idx], n), s=(n, n))
    for k in range(len(gs)):
        row = t[k]
        surfaces[k] /= 2.0 / (n * n) * math.sqrt(max(float(np.sum(row.real ** 2 + row.imag ** 2)) / 2.0, NOISE_FLOOR))
    return surfaces


def _peak(z: np.ndarray) -> tuple[float, float, float]:
    """Highest point of a circular surface, refined to sub-pixel by parabolas through its neighbours."""
    n0, n1 = z.shape
    flat = int(np.argmax(z))
    dy, dx = divmod(flat, n1)
    zmax = float(z[dy, dx])
    sy = geometry.parabola_offset(float(z[(dy - 1) % n0, dx]), zmax, float(z[(dy + 1) % n0, dx]))
    sx = geometry.parabola_offset(float(z[dy, (dx - 1) % n1]), zmax, float(z[dy, (dx + 1) % n1]))
    return dy + sy, dx + sx, zmax


def _ring_mask(centre: tuple[float, float], radius: float, n: int = WORK_PERIOD) -> np.ndarray:
    """Circular shifts within `radius` of `centre` on the n x n torus."""
    yy, xx = np.mgrid[0:n, 0:n]
    dy = (yy - centre[0] + n / 2) % n - n / 2
    dx = (xx - centre[1] + n / 2) % n - n / 2
    return dy * dy + dx * dx <= radius * radius


RADIUS_BANDS = 6


def _channel_weights(aligned: np.ndarray, lay: _Layout) -> np.ndarray:
    """Per-bin weights A/sigma^2 estimated from the sync bins, by frequency band.

    Compression removes the high end of the band and the picture's own energy varies with
    frequency, so equal weights waste the bins that still carry the mark. Along the sync
    bins the real part is signal + noise and the imaginary part is noise alone.
    """
    radius = np.hypot(lay.u, lay.v)
    edges = np.linspace(BAND[0], BAND[1] + 1e-6, RADIUS_BANDS + 1)
    band_of = np.clip(np.digitize(radius, edges) - 1, 0, RADIUS_BANDS - 1)
    weights = np.ones(len(radius))
    sync_band = band_of[lay.sync]
    sync_vals = aligned[lay.sync]
    for b in range(RADIUS_BANDS):
        vals = sync_vals[sync_band == b]
        if len(vals) < 4:
            continue
        amp = max(float(np.mean(vals.real)), 0.0)
        noise = float(np.mean(vals.imag ** 2)) + 1e-9
        weights[band_of == b] = amp / noise
    if not np.any(weights > 0):
        weights[:] = 1.0
    return weights
