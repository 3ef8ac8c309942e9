"""Planar (corner-pin) tracking from the plate's own features, and the corner keyframes a person gives.

How a plane is tracked (``PlanarTracker``):

* features: Shi-Tomasi corners (``goodFeaturesToTrack``) inside the region the person drew in
  frame 0, on a grey copy at most ``TRACK_WIDTH`` pixels wide;
* frame to frame: pyramidal Lucas-Kanade from the previous frame's positions with a
  forward-backward check, then a homography from frame 0 to this frame with RANSAC: the prediction;
* drift-free refinement: frame 0 is warped by the prediction into this frame's geometry and the
  features are tracked again from that warped reference (a small residual motion LK handles at
  sub-pixel precision), so every frame is aligned with frame 0 itself, never with an accumulated
  chain; the final homography is fitted with RANSAC and refined on its inliers;
* each frame reports its inliers, the points tried and the RMS reprojection error of the inliers
  (full-resolution pixels); a frame with too few inliers is marked lost and holds the last pose.

Hand adjustment (``CornerKeyframe``): the four corners of the placed element at chosen frames. The
first keyframe (frame 0) also gives the region tracked unless a separate region is declared. A
keyframe *anchors* the track: from it on, the corners follow the plane's motion relative to that
frame (``H_t · H_k⁻¹``), so a person who fixes a bad frame re-runs the job from their corners.
Without tracking the corners are interpolated linearly between keyframes (a manual corner pin).
Keyframes are declared parameters: the approval's spec digest binds them.

Corner paths are smoothed by an alpha-beta filter restarted at every keyframe (keyframes are exact).

Determinism (vfx/contract.py): the track of frame *t* is a pure function of frames 0..t, so the
operation asks for every earlier frame as warm-up (``MAX_PLACE_FRAMES``; longer plates are refused).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import cv2
import numpy as np

from soundstage.errors import InputError, SpecError


__all__ = ["CornerKeyframe", "Quad", "parse_corner_keyframes", "parse_quad", "check_quad_in_frame",
           "TrackSample", "PlanarTracker", "corner_path", "interpolated_path", "AlphaBetaFilter", "MAX_PLACE_FRAMES", "MAX_KEYFRAMES",
           "TRACK_WIDTH", "TrackingReport", "tracking_report"]

#: a placement tracks from frame 0: every chunk sees all earlier frames; longer shots are split
MAX_PLACE_FRAMES = 240
MAX_KEYFRAMES = MAX_PLACE_FRAMES
#: tracking runs on a grey copy at most this wide (sub-pixel LK: precision survives the downscale)
TRACK_WIDTH = 960
MIN_INLIERS = 8
_MAX_POINTS = 400

Quad = tuple[tuple[float, float], tuple[float, float], tuple[float, float], tuple[float, float]]
_KEYFRAME_TEXT = re.compile(r"^\s*(\d+)\s*:\s*(.+)$")


@dataclass(frozen=True)
class CornerKeyframe:
    """The element's four corners (top-left, top-right, bottom-right, bottom-left) at ``frame``."""

    frame: int
    corners: Quad

    def to_dict(self) -> dict[str, Any]:
        return {"frame": self.frame, "corners": [list(c) for c in self.corners]}


def _number(raw: Any, where: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise SpecError(f"{where}: {raw!r} is not a number"[:200], field="params.corners")
    try:
        value = float(raw)
    except ValueError:
        raise SpecError(f"{where}: {raw!r} is not a number"[:200], field="params.corners") from None
    if not math.isfinite(value):
        raise SpecError(f"{where}: must be a finite number", field="params.corners")
    return value


def parse_quad(raw: Any, where: str = "corners", field_name: str = "params.corners") -> Quad:
    """Four (x, y) points from ``[[x, y] x4]``, ``[x1, y1, ... x4, y4]`` or ``"x1,y1,...,x4,y4"``;
    convex, in order around the quad, not degenerate."""
    values: list[Any]
    if isinstance(raw, (list, tuple)) and len(raw) == 1 and isinstance(raw[0], str):
        raw = raw[0]  # one text given as a (repeatable) CLI option
    if isinstance(raw, str):
        values = [v for v in re.split(r"[,\s]+", raw.strip()) if v]
    elif isinstance(raw, (list, tuple)) and raw and all(isinstance(p, (list, tuple)) for p in raw):
        if any(len(p) != 2 for p in raw):
            raise SpecError(f"{where}: each corner is [x, y]", field=field_name)
        values = [v for p in raw for v in p]
    elif isinstance(raw, (list, tuple)):
        values = list(raw)
    else:
        raise SpecError(f"{where}: give four corners x1,y1,x2,y2,x3,y3,x4,y4", field=field_name)
    if len(values) != 8:
        raise SpecError(f"{where}: four corners are 8 numbers, got {len(values)}", field=field_name,
                        hint="x1,y1,x2,y2,x3,y3,x4,y4: top-left, top-right, bottom-right, bottom-left")
    numbers = [_number(v, where) for v in values]
    quad: Quad = tuple((numbers[i], numbers[i + 1]) for i in range(0, 8, 2))  # type: ignore[assignment]
    pts = np.asarray(quad, np.float64)
    edges = np.roll(pts, -1, axis=0) - pts
    cross = edges[:, 0] * np.roll(edges, -1, axis=0)[:, 1] - edges[:, 1] * np.roll(edges, -1, axis=0)[:, 0]
    area = 0.5 * abs(float(np.sum(pts[:, 0] * np.roll(pts[:, 1], -1) - np.roll(pts[:, 0], -1) * pts[:, 1])))
    if area < 16.0 or not (np.all(cross > 0) or np.all(cross < 0)):
        raise SpecError(f"{where}: the four corners must make a convex quad of at least 16 px² "
                        "(in order around it)", field=field_name,
                        hint="top-left, top-right, bottom-right, bottom-left")
    return quad


def parse_corner_keyframes(raw: Any) -> tuple[CornerKeyframe, ...]:
    """Keyframes from ``[{"frame": F, "corners": [[x, y] x4]}, ...]``, ``["F:x1,y1,...,x4,y4", ...]``
    or one text with keyframes separated by ``;``. Sorted, one per frame, the first at frame 0."""
    if isinstance(raw, str):
        text = raw.strip()
        if text.startswith("[") or text.startswith("{"):
            try:
                raw = json.loads(text)
            except ValueError:
                raise SpecError("is not valid JSON", field="params.corners") from None
        else:
            raw = [part for part in text.split(";") if part.strip()]
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, (list, tuple)) or not raw:
        raise SpecError("give at least one corner keyframe: frame:x1,y1,x2,y2,x3,y3,x4,y4", field="params.corners")
    if len(raw) > MAX_KEYFRAMES:
        raise SpecError(f"at most {MAX_KEYFRAMES} corner keyframes", field="params.corners")
    keyframes: dict[int, CornerKeyframe] = {}
    for item in raw:
        if isinstance(item, str):
            match = _KEYFRAME_TEXT.match(item)
            if not match:
                raise SpecError(f"{item[:60]!r} is not frame:x1,y1,x2,y2,x3,y3,x4,y4", field="params.corners")
            frame, corners = int(match.group(1)), match.group(2)
        elif isinstance(item, dict) and set(item) <= {"frame", "corners"} and "corners" in item:
            frame_raw = item.get("frame", 0)
            if isinstance(frame_raw, bool) or not isinstance(frame_raw, int):
                raise SpecError(f"keyframe frame {frame_raw!r} is not a whole number"[:120], field="params.corners")
            frame, corners = frame_raw, item["corners"]
        else:
            raise SpecError("a keyframe is {\"frame\": F, \"corners\": [[x, y] x4]} or \"F:x1,y1,...,x4,y4\"",
                            field="params.corners")
        if not 0 <= frame < MAX_PLACE_FRAMES:
            raise SpecError(f"keyframe frame {frame} is outside 0..{MAX_PLACE_FRAMES - 1}", field="params.corners")
        if frame in keyframes:
            raise SpecError(f"two keyframes for frame {frame}", field="params.corners")
        keyframes[frame] = CornerKeyframe(frame, parse_quad(corners, f"keyframe {frame}"))
    ordered = tuple(keyframes[f] for f in sorted(keyframes))
    if ordered[0].frame != 0:
        raise SpecError(f"the first corner keyframe is at frame {ordered[0].frame}; it must be at frame 0 (where "
                        "the element is placed and the region tracked)", field="params.corners")
    return ordered


def check_quad_in_frame(quad: Quad, width: int, height: int, where: str, field_name: str = "params.corners") -> None:
    """Refuse corners outside the frame (pixel coordinates: 0..width, 0..height)."""
    for x, y in quad:
        if not (0.0 <= x <= width and 0.0 <= y <= height):
            raise SpecError(f"{where}: corner ({x:g}, {y:g}) is outside the {width}x{height} frame",
                            field=field_name, hint="corners are pixel coordinates of the plate")


@dataclass(frozen=True)
class TrackSample:
    """The plane's pose at one frame: ``homography`` maps frame-0 pixels to this frame's pixels."""

    frame: int
    homography: np.ndarray = field(repr=False)
    points: int = 0
    inliers: int = 0
    reprojection_rms: float = 0.0  # px, full resolution, over the inliers
    lost: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"frame": self.frame, "points": self.points, "inliers": self.inliers,
                "reprojection_rms": round(self.reprojection_rms, 4), "lost": self.lost}


def _grey(frame: np.ndarray, scale: float) -> np.ndarray:
    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    if scale != 1.0:
        grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return grey


_LK = dict(winSize=(21, 21), maxLevel=3, criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 40, 0.01))


def _lk(prev: np.ndarray, cur: np.ndarray, pts: np.ndarray, guess: np.ndarray | None = None,
        max_level: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Track ``pts`` (N,1,2 float32) with a forward-backward check: (positions, ok mask)."""
    params = dict(_LK, maxLevel=max_level)
    if guess is not None:
        fwd, st1, _ = cv2.calcOpticalFlowPyrLK(prev, cur, pts, guess.copy(), flags=cv2.OPTFLOW_USE_INITIAL_FLOW,
                                               **params)
    else:
        fwd, st1, _ = cv2.calcOpticalFlowPyrLK(prev, cur, pts, None, **params)
    back, st2, _ = cv2.calcOpticalFlowPyrLK(cur, prev, fwd, pts.copy(), flags=cv2.OPTFLOW_USE_INITIAL_FLOW,
                                            **params)
    fb = np.linalg.norm((back - pts).reshape(-1, 2), axis=1)
    ok = (st1.ravel() == 1) & (st2.ravel() == 1) & (fb < 0.5)
    return fwd, ok


def _scale_h(h: np.ndarray, s: float) -> np.ndarray:
    """A homography between track-scale images as one between full-size images."""
    down = np.diag([s, s, 1.0])
    up = np.diag([1.0 / s, 1.0 / s, 1.0])
    out = up @ h @ down
    return out / out[2, 2]


def _fit(ref: np.ndarray, cur: np.ndarray, threshold: float) -> tuple[np.ndarray | None, np.ndarray]:
    if len(ref) < MIN_INLIERS:
        return None, np.zeros(len(ref), bool)
    h, mask = cv2.findHomography(ref, cur, cv2.RANSAC, threshold, maxIters=2000, confidence=0.999)
    if h is None or mask is None:
        return None, np.zeros(len(ref), bool)
    inl = mask.ravel().astype(bool)
    if inl.sum() >= MIN_INLIERS:  # least squares on the inliers (RANSAC's model is from a minimal sample)
        refined, _ = cv2.findHomography(ref[inl], cur[inl], 0)
        if refined is not None:
            h = refined
    return h / h[2, 2], inl


class PlanarTracker:
    """Track the plane inside ``region`` (frame-0 pixels) through a clip; see the module docstring."""

    def __init__(self, region: Quad, width: int, height: int) -> None:
        self.region = region
        self.scale = min(1.0, TRACK_WIDTH / float(width))
        self.width, self.height = width, height

    def _features(self, grey: np.ndarray) -> np.ndarray:
        mask = np.zeros_like(grey)
        quad = np.round(np.asarray(self.region, np.float64) * self.scale).astype(np.int32)
        cv2.fillConvexPoly(mask, quad, 255)
        mask = cv2.erode(mask, np.ones((5, 5), np.uint8))  # keep clear of the region's edge
        pts = cv2.goodFeaturesToTrack(grey, _MAX_POINTS, 0.01, max(4.0, 8.0 * self.scale), mask=mask, blockSize=7)
        if pts is None or len(pts) < MIN_INLIERS:
            raise InputError(f"the tracked region has {0 if pts is None else len(pts)} trackable features in frame 0; "
                             f"at least {MIN_INLIERS} are needed",
                             hint="draw the region over textured, planar detail, or place with --no-track")
        cv2.cornerSubPix(grey, pts, (5, 5), (-1, -1), (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01))
        return pts.astype(np.float32)

    def track(self, frames: Sequence[np.ndarray]) -> list[TrackSample]:
        """One sample per frame; ``frames[0]`` is frame 0 (the region's frame)."""
        if not frames:
            return []
        s = self.scale
        ref = _grey(frames[0], s)
        ref_pts = self._features(ref)
        samples = [TrackSample(0, np.eye(3), len(ref_pts), len(ref_pts), 0.0, False)]
        h_prev = np.eye(3)  # track scale, frame 0 -> previous frame
        prev, prev_pts, alive = ref, ref_pts.copy(), np.ones(len(ref_pts), bool)
        size = (ref.shape[1], ref.shape[0])
        threshold = max(1.0, 2.0 * s)
        for index in range(1, len(frames)):
            cur = _grey(frames[index], s)
            # 1. frame to frame from the previous positions: a prediction of this frame's pose
            idx = np.flatnonzero(alive)
            h_pred = None
            if len(idx) >= MIN_INLIERS:
                moved, ok = _lk(prev, cur, prev_pts[idx])
                h_pred, _ = _fit(ref_pts[idx][ok].reshape(-1, 2), moved[ok].reshape(-1, 2), threshold)
            if h_pred is None:
                h_pred = h_prev
            # 2. against frame 0 warped into this frame's geometry: drift-free, sub-pixel
            warped = cv2.warpPerspective(ref, h_pred, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            predicted = cv2.perspectiveTransform(ref_pts, h_pred).astype(np.float32)
            refined, ok = _lk(warped, cur, predicted, guess=predicted, max_level=1)
            h, inl = _fit(ref_pts[ok].reshape(-1, 2), refined[ok].reshape(-1, 2), threshold)
            points = int(ok.sum())
            if h is None or int(inl.sum()) < MIN_INLIERS:
                samples.append(TrackSample(index, _scale_h(h_prev, s), points, int(inl.sum()), float("nan"), True))
                prev = cur
                continue
            good = np.flatnonzero(ok)[inl]
            projected = cv2.perspectiveTransform(ref_pts[good], h).reshape(-1, 2)
            err = np.linalg.norm(projected - refined[good].reshape(-1, 2), axis=1) / s
            samples.append(TrackSample(index, _scale_h(h, s), points, int(inl.sum()),
                                       float(np.sqrt(np.mean(err ** 2))), False))
            alive = np.zeros(len(ref_pts), bool)
            alive[good] = True
            prev_pts = refined.copy()
            h_prev, prev = h, cur
        return samples


def _apply(h: np.ndarray, quad: Quad | np.ndarray) -> np.ndarray:
    return cv2.perspectiveTransform(np.asarray(quad, np.float64).reshape(-1, 1, 2), h).reshape(4, 2)


class AlphaBetaFilter:
    """A causal alpha-beta (g-h) tracker of positions and velocities, Benedict-Bordner gains.

    Why not a plain low-pass (or One Euro): a tracked plane moves steadily, and a low-pass lags a
    steady motion (1-2 px at a slow pan, measured), which makes the element slide on the plate; the
    alpha-beta filter predicts with the velocity it has learned, so a constant motion passes with no
    lag and only the frame-to-frame jitter is smoothed."""

    def __init__(self, alpha: float) -> None:
        self.alpha = float(alpha)
        self.beta = self.alpha ** 2 / (2.0 - self.alpha)
        self._x: np.ndarray | None = None
        self._v: np.ndarray | None = None

    def __call__(self, value: np.ndarray) -> np.ndarray:
        z = np.asarray(value, np.float64)
        if self._x is None:
            self._x = z.copy()
            return z.copy()
        if self._v is None:  # two-point start: the velocity from the first step, no start-up lag
            self._v = z - self._x
            self._x = z.copy()
            return z.copy()
        predicted = self._x + self._v
        residual = z - predicted
        self._x = predicted + self.alpha * residual
        self._v = self._v + self.beta * residual
        return self._x.copy()


def _alpha(smoothing: float) -> float:
    """Smoothing 0..1 as the filter's gain: 0 → 1 (raw track), 1 → 0.25 (heavy)."""
    return 1.0 - 0.75 * min(1.0, max(0.0, smoothing))


def corner_path(samples: Sequence[TrackSample], keyframes: Sequence[CornerKeyframe],
                smoothing: float) -> list[np.ndarray]:
    """The element's corners (4x2, full-resolution pixels) at every tracked frame: each keyframe's
    corners carried by the plane's motion since that keyframe, smoothed between keyframes (the
    filter restarts at every keyframe, which it passes exactly)."""
    by_frame = {k.frame: k for k in keyframes}
    out: list[np.ndarray] = []
    anchor: CornerKeyframe | None = None
    anchor_inv = np.eye(3)
    filt = AlphaBetaFilter(_alpha(smoothing))
    for sample in samples:
        key = by_frame.get(sample.frame)
        if key is not None:
            anchor, anchor_inv = key, np.linalg.inv(sample.homography)
            filt = AlphaBetaFilter(_alpha(smoothing))
        if anchor is None:
            raise InputError("the first corner keyframe must be at frame 0")
        raw = _apply(sample.homography @ anchor_inv, anchor.corners)
        out.append(filt(raw))
    return out


def interpolated_path(keyframes: Sequence[CornerKeyframe], frame: int) -> np.ndarray:
    """A manual corner pin: the corners at ``frame``, linear between keyframes, held after the last."""
    before = [k for k in keyframes if k.frame <= frame][-1]
    after = next((k for k in keyframes if k.frame > frame), None)
    a = np.asarray(before.corners, np.float64)
    if after is None or before.frame == frame:
        return a
    t = (frame - before.frame) / float(after.frame - before.frame)
    return a + t * (np.asarray(after.corners, np.float64) - a)


@dataclass(frozen=True)
class TrackingReport:
    """What a person checks before approving a placement: per-frame numbers and two pictures."""

    folder: Path
    frames: int
    lost_frames: tuple[int, ...]
    mean_inliers: float
    max_reprojection_rms: float
    paths_png: Path
    contact_sheet_png: Path
    rows: tuple[dict[str, Any], ...] = field(repr=False, default=())


_CORNER_COLOURS = ((255, 80, 80), (80, 220, 80), (80, 160, 255), (255, 210, 60))  # TL TR BR BL


def _fit_width(image: np.ndarray, width: int) -> tuple[np.ndarray, float]:
    scale = min(1.0, width / float(image.shape[1]))
    if scale == 1.0:
        return image.copy(), 1.0
    return cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), scale


def tracking_report(frames: Sequence[np.ndarray], samples: Sequence[TrackSample | None],
                    corners: Sequence[np.ndarray], keyframes: Sequence[CornerKeyframe], folder: Path,
                    *, thumbnails: int = 12) -> TrackingReport:
    """Write ``tracking.json`` (per frame: points, inliers, reprojection error, lost, corners),
    ``corner_paths.png`` (the four corner paths over frame 0, keyframes ringed, with inliers and
    error per frame below) and ``contact_sheet.png`` (frames with the placed quad drawn) to ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    keyed = {k.frame for k in keyframes}
    rows = []
    for index, quad in enumerate(corners):
        sample = samples[index] if index < len(samples) else None
        row: dict[str, Any] = sample.to_dict() if sample is not None else {"frame": index, "tracked": False}
        row["corners"] = np.round(np.asarray(quad), 3).tolist()
        row["keyframe"] = index in keyed
        if isinstance(row.get("reprojection_rms"), float) and not math.isfinite(row["reprojection_rms"]):
            row["reprojection_rms"] = None
        rows.append(row)
    tracked = [s for s in samples if s is not None]
    lost = tuple(s.frame for s in tracked if s.lost)
    errors = [s.reprojection_rms for s in tracked[1:] if not s.lost]
    summary = {"frames": len(corners), "lost_frames": list(lost),
               "mean_inliers": float(np.mean([s.inliers for s in tracked])) if tracked else 0.0,
               "max_reprojection_rms": float(max(errors)) if errors else 0.0,
               "keyframes": [k.to_dict() for k in keyframes], "rows": rows}
    (folder / "tracking.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")

    # the corner paths over frame 0, then a strip: inliers (bars) and reprojection error (line)
    base, scale = _fit_width(frames[0], 960)
    canvas = (base.astype(np.float32) * 0.45).astype(np.uint8)
    paths = np.asarray(corners, np.float64) * scale
    for c, colour in enumerate(_CORNER_COLOURS):
        pts = np.round(paths[:, c] * 4).astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(canvas, [pts], False, colour, 1, cv2.LINE_AA, shift=2)
        for k in keyframes:
            if k.frame < len(paths):
                centre = tuple(int(v) for v in np.round(paths[k.frame, c]))
                cv2.circle(canvas, centre, 5, (255, 255, 255), 1, cv2.LINE_AA)
    first = np.round(paths[0] * 4).astype(np.int32).reshape(-1, 1, 2)
    cv2.polylines(canvas, [first], True, (255, 255, 255), 1, cv2.LINE_AA, shift=2)
    strip_h = 90
    strip = np.full((strip_h, canvas.shape[1], 3), 24, np.uint8)
    n = max(1, len(corners))
    top = max([s.points for s in tracked] + [1])
    worst = max(errors + [0.5])
    for s in tracked:
        x0 = int(s.frame * canvas.shape[1] / n)
        x1 = max(x0 + 1, int((s.frame + 1) * canvas.shape[1] / n) - 1)
        bar = int((strip_h - 20) * s.inliers / top)
        cv2.rectangle(strip, (x0, strip_h - 4 - bar), (x1, strip_h - 4), (200, 60, 60) if s.lost else (70, 130, 90), -1)
    line = [(int((s.frame + 0.5) * canvas.shape[1] / n), int(strip_h - 4 - (strip_h - 20) * s.reprojection_rms / worst))
            for s in tracked[1:] if not s.lost]
    if len(line) > 1:
        cv2.polylines(strip, [np.array(line, np.int32).reshape(-1, 1, 2)], False, (255, 210, 60), 1, cv2.LINE_AA)
    cv2.putText(strip, f"inliers (bars, max {top})  reprojection error (line, max {worst:.2f} px)  lost: {len(lost)}",
                (6, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (230, 230, 230), 1, cv2.LINE_AA)
    paths_png = folder / "corner_paths.png"
    cv2.imwrite(str(paths_png), cv2.cvtColor(np.vstack([canvas, strip]), cv2.COLOR_RGB2BGR))

    # the contact sheet: evenly spaced frames, the quad drawn (red where the track was lost)
    picks = sorted(set(np.linspace(0, len(corners) - 1, min(thumbnails, len(corners))).round().astype(int)))
    tiles = []
    for index in picks:
        tile, s = _fit_width(frames[index], 240)
        sample = samples[index] if index < len(samples) else None
        colour = (255, 60, 60) if sample is not None and sample.lost else (60, 255, 120)
        quad = np.round(np.asarray(corners[index]) * s * 4).astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(tile, [quad], True, colour, 1, cv2.LINE_AA, shift=2)
        label = f"{index}" + ("" if sample is None else f"  {sample.inliers} in  {sample.reprojection_rms:.2f}px")
        label += "  KEY" if index in keyed else ""
        cv2.rectangle(tile, (0, 0), (8 + 6 * len(label), 16), (0, 0, 0), -1)
        cv2.putText(tile, label, (4, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (255, 255, 255), 1, cv2.LINE_AA)
        tiles.append(tile)
    cols = 4
    th, tw = tiles[0].shape[:2]
    sheet = np.full((th * ((len(tiles) + cols - 1) // cols), tw * cols, 3), 16, np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, cols)
        sheet[r * th:r * th + tile.shape[0], c * tw:c * tw + tile.shape[1]] = tile
    sheet_png = folder / "contact_sheet.png"
    cv2.imwrite(str(sheet_png), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    return TrackingReport(folder, len(corners), lost, summary["mean_inliers"], summary["max_reprojection_rms"],
                          paths_png, sheet_png, tuple(rows))
