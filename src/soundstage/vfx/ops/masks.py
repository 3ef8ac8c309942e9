"""Masks from the 478-point FaceMesh: skin (face oval minus eyes, brows, lips), wrinkle regions, feathering.

Why masks are built in a region of interest (ROI) around the face, on a working grid: a 1080p frame
is 2 M pixels and the face is a fraction of it; building masks only for the ROI, scaled to a fixed
face width, keeps the op cheaper than the codec whatever the shot size, and guarantees nothing
outside the ROI can change.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

__all__ = ["FaceRegions", "face_regions", "working_scale", "landmark_groups", "guided_filter", "feather",
           "wide_blur", "PROCESS_FACE_WIDTH"]

# Indices that are stable facts of the FaceMesh topology (used for geometry, not for polygons).
FOREHEAD_TOP = 10
CHIN = 152
CHEEK_RIGHT, CHEEK_LEFT = 234, 454  # image-left / image-right sides of the face
EYE_OUTER_RIGHT, EYE_OUTER_LEFT = 33, 263
NOSE_WING_RIGHT, NOSE_WING_LEFT = 98, 327
MOUTH_RIGHT, MOUTH_LEFT = 61, 291


@lru_cache(maxsize=1)
def landmark_groups() -> dict[str, np.ndarray]:
    """Index sets of the face parts, taken from mediapipe's own connection tables (no hand-typed lists)."""
    from .tracking import _mediapipe

    conn = _mediapipe().solutions.face_mesh_connections

    def idx(edges: frozenset[tuple[int, int]]) -> np.ndarray:
        return np.array(sorted({i for e in edges for i in e}), dtype=np.int64)

    return {
        "oval": idx(conn.FACEMESH_FACE_OVAL),
        "left_eye": idx(conn.FACEMESH_LEFT_EYE),
        "right_eye": idx(conn.FACEMESH_RIGHT_EYE),
        "left_brow": idx(conn.FACEMESH_LEFT_EYEBROW),
        "right_brow": idx(conn.FACEMESH_RIGHT_EYEBROW),
        "lips": idx(conn.FACEMESH_LIPS),
    }


def guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """He et al.'s guided filter (grey guide): edges of ``src`` snap to edges of ``guide``.

    Written with box filters because cv2.ximgproc lives only in opencv-contrib, which we do not ship."""
    ksize = (2 * radius + 1, 2 * radius + 1)

    def box(x: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(x, cv2.CV_32F, ksize, borderType=cv2.BORDER_REFLECT)

    guide = guide.astype(np.float32)
    src = src.astype(np.float32)
    mean_i, mean_p = box(guide), box(src)
    cov_ip = box(guide * src) - mean_i * mean_p
    var_i = box(guide * guide) - mean_i * mean_i
    a = cov_ip / (var_i + eps)
    b = mean_p - a * mean_i
    return box(a) * guide + box(b)


def wide_blur(x: np.ndarray, sigma: float, border: int = cv2.BORDER_REFLECT) -> np.ndarray:
    """A Gaussian blur whose cost does not grow with sigma: wide kernels run on a reduced copy
    (the result is smooth at that scale anyway) and are scaled back. Deterministic."""
    sigma = max(float(sigma), 0.5)
    factor = 1
    while sigma / (factor * 2) >= 3.0 and min(x.shape[:2]) // (factor * 2) >= 16:
        factor *= 2
    if factor == 1:
        return cv2.GaussianBlur(x, (0, 0), sigma, borderType=border)
    h, w = x.shape[:2]
    small = cv2.resize(x, (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma / factor, borderType=border)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def feather(mask: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian-feathered float32 copy of a 0/1 mask."""
    if sigma <= 0:
        return mask.astype(np.float32)
    return wide_blur(mask.astype(np.float32), sigma, cv2.BORDER_CONSTANT)


# Faces wider than this are retouched on a scaled copy; the change (not the picture) is scaled back,
# so the finest grain and every pixel outside the change stay the camera's own.
PROCESS_FACE_WIDTH = 224.0


@dataclass
class FaceRegions:
    """Float32 alphas on the *working grid* of a face's region of interest (ROI).

    Why a working grid: skin smoothing, wrinkle and tone work are mid- and low-frequency changes,
    so masks and changes are computed on a copy of the ROI scaled to a face width of at most
    PROCESS_FACE_WIDTH (cost grows with the area; a 1080p close-up is ~4x smaller there) and only
    the finished change is brought back to frame pixels. ``roi`` is (x0, y0, x1, y1) in frame pixels;
    ``scale`` is working pixels per frame pixel (1.0 for small faces); ``face_width`` and ``points``
    are in working pixels."""

    roi: tuple[int, int, int, int]
    face_width: float
    oval: np.ndarray
    skin: np.ndarray
    wrinkles: np.ndarray  # forehead + crow's feet + nasolabial folds
    under_eye: np.ndarray
    points: np.ndarray  # landmarks in working-grid ROI coordinates
    scale: float = 1.0

    @property
    def slices(self) -> tuple[slice, slice]:
        x0, y0, x1, y1 = self.roi
        return slice(y0, y1), slice(x0, x1)

    @property
    def frame_size(self) -> tuple[int, int]:
        """(height, width) of the ROI in frame pixels."""
        x0, y0, x1, y1 = self.roi
        return y1 - y0, x1 - x0

    def working_copy(self, frame: np.ndarray) -> np.ndarray:
        """The ROI of ``frame`` on the working grid, as float32."""
        roi = frame[self.slices]
        if self.scale != 1.0:
            h, w = self.oval.shape
            roi = cv2.resize(roi, (w, h), interpolation=cv2.INTER_AREA)
        return roi.astype(np.float32)

    def to_frame(self, layer: np.ndarray, box: tuple[int, int, int, int] | None = None) -> np.ndarray:
        """A working-grid layer resampled to frame pixels of the ROI, or only of ``box`` (x0, y0, x1, y1
        in ROI frame pixels): resizing the whole layer and cropping, without the waste (warpAffine places
        samples to 1/32 px, which on a smooth change layer is far below one code value)."""
        fh, fw = self.frame_size
        bx0, by0, bx1, by1 = box or (0, 0, fw, fh)
        if self.scale == 1.0:
            return layer[by0:by1, bx0:bx1]
        h, w = layer.shape[:2]
        sx, sy = w / fw, h / fh
        # cv2.resize's pixel-centre convention, as an inverse affine map onto the box
        m = np.array([[sx, 0.0, (bx0 + 0.5) * sx - 0.5], [0.0, sy, (by0 + 0.5) * sy - 0.5]])
        return cv2.warpAffine(layer, m, (bx1 - bx0, by1 - by0), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_REPLICATE)

    def frame_box(self, where: np.ndarray, pad: int = 2) -> tuple[int, int, int, int] | None:
        """Bounding box, in ROI frame pixels, of the True cells of a working-grid boolean mask."""
        rows, cols = np.flatnonzero(where.any(axis=1)), np.flatnonzero(where.any(axis=0))
        if rows.size == 0:
            return None
        fh, fw = self.frame_size
        inv = 1.0 / self.scale
        # one more working cell each side: bilinear resampling spreads a cell's value that far
        return (max(0, int(np.floor((cols[0] - 1) * inv)) - pad), max(0, int(np.floor((rows[0] - 1) * inv)) - pad),
                min(fw, int(np.ceil((cols[-1] + 2) * inv)) + pad), min(fh, int(np.ceil((rows[-1] + 2) * inv)) + pad))


def _hull_fill(shape: tuple[int, int], pts: np.ndarray) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    hull = cv2.convexHull(np.round(pts * 16).astype(np.int32))
    cv2.fillConvexPoly(mask, hull, 1, lineType=cv2.LINE_AA, shift=4)
    return mask


def _erode(mask: np.ndarray, radius: float) -> np.ndarray:
    """Erode a 0/1 uint8 mask by a disc of ``radius`` pixels: a distance transform costs the same
    for any radius, where a morphological erosion grows with the kernel's area."""
    inside = cv2.distanceTransform(mask, cv2.DIST_L2, cv2.DIST_MASK_5)
    return (inside > radius).astype(np.uint8)


def working_scale(face_width: float, roi_size: tuple[int, int],
                  max_face_width: float = PROCESS_FACE_WIDTH) -> float:
    """Working pixels per frame pixel for a face: 1.0 unless the face is wider than ``max_face_width``."""
    scale = max_face_width / max(face_width, 1.0)
    if scale >= 0.9 or min(roi_size) * scale < 32:
        return 1.0
    return scale


def face_regions(landmarks: np.ndarray, frame_shape: tuple[int, ...],
                 max_face_width: float = PROCESS_FACE_WIDTH) -> FaceRegions:
    """Build every mask an operation needs from one (smoothed) landmark set, on the face's working grid."""
    groups = landmark_groups()
    h, w = frame_shape[:2]
    face_width = float(np.linalg.norm(landmarks[CHEEK_LEFT] - landmarks[CHEEK_RIGHT]))
    face_width = max(face_width, 8.0)
    margin = 0.25 * face_width
    x0 = int(max(0, np.floor(landmarks[:, 0].min() - margin)))
    y0 = int(max(0, np.floor(landmarks[:, 1].min() - margin)))
    x1 = int(min(w, np.ceil(landmarks[:, 0].max() + margin)))
    y1 = int(min(h, np.ceil(landmarks[:, 1].max() + margin)))
    frame_shape_roi = (max(1, y1 - y0), max(1, x1 - x0))
    scale = working_scale(face_width, frame_shape_roi, max_face_width)
    shape = (max(1, round(frame_shape_roi[0] * scale)), max(1, round(frame_shape_roi[1] * scale)))
    # working-grid coordinates follow cv2.resize's pixel-centre convention
    axis_scale = np.array([shape[1] / frame_shape_roi[1], shape[0] / frame_shape_roi[0]])
    pts = (landmarks - np.array([x0, y0], dtype=np.float64) + 0.5) * axis_scale - 0.5
    face_width *= scale

    feather_sigma = 0.025 * face_width
    grow = 2.0 * max(1, int(round(0.03 * face_width)))  # how far eyes, brows, lips and the jaw are kept clear

    oval_hard = _hull_fill(shape, pts[groups["oval"]])
    # shrink before feathering so the soft edge stays (almost) inside the oval
    oval_inner = _erode(oval_hard, grow)
    oval = feather(oval_inner, feather_sigma)

    holes = np.zeros(shape, np.uint8)
    for part in ("left_eye", "right_eye", "left_brow", "right_brow", "lips"):
        holes |= _hull_fill(shape, pts[groups[part]])
    holes = 1 - _erode(1 - holes, grow)  # grown by the same distance
    skin = feather(oval_inner & (1 - holes), feather_sigma)

    wr = np.zeros(shape, np.uint8)
    brows = np.concatenate([pts[groups["left_brow"]], pts[groups["right_brow"]]])
    top = pts[groups["oval"]]
    top = top[top[:, 1] < brows[:, 1].min()]
    if len(top) >= 2:
        wr |= _hull_fill(shape, np.concatenate([brows - [0, 0.04 * face_width], top]))
    radius = int(round(0.09 * face_width))
    center = (pts[EYE_OUTER_RIGHT] + pts[EYE_OUTER_LEFT]) / 2
    for corner in (EYE_OUTER_RIGHT, EYE_OUTER_LEFT):
        out_dir = pts[corner] - center
        out_dir /= max(np.linalg.norm(out_dir), 1e-6)
        c = pts[corner] + out_dir * 0.07 * face_width
        cv2.circle(wr, (int(round(c[0])), int(round(c[1]))), radius, 1, -1)
    thick = max(2, int(round(0.06 * face_width)))
    for wing, mouth in ((NOSE_WING_RIGHT, MOUTH_RIGHT), (NOSE_WING_LEFT, MOUTH_LEFT)):
        out_dir = pts[wing] - pts[1] if len(pts) > 1 else np.zeros(2)
        shift = out_dir / max(np.linalg.norm(out_dir), 1e-6) * 0.03 * face_width
        a, b = pts[wing] + shift, pts[mouth] + shift
        cv2.line(wr, tuple(int(v) for v in np.round(a)), tuple(int(v) for v in np.round(b)), 1, thick)
    wrinkles = feather(wr & oval_inner & (1 - holes), feather_sigma) * oval

    ue = np.zeros(shape, np.uint8)
    for part in ("left_eye", "right_eye"):
        eye = pts[groups[part]]
        ec = eye.mean(axis=0)
        eye_w = float(eye[:, 0].max() - eye[:, 0].min())
        cv2.ellipse(ue, (int(round(ec[0])), int(round(ec[1] + 0.45 * eye_w))),
                    (max(1, int(0.55 * eye_w)), max(1, int(0.25 * eye_w))), 0, 0, 360, 1, -1)
    under_eye = feather(ue & oval_inner & (1 - holes), feather_sigma) * oval

    return FaceRegions(roi=(x0, y0, x1, y1), face_width=face_width, oval=oval, skin=skin,
                       wrinkles=wrinkles, under_eye=under_eye, points=pts, scale=scale)
