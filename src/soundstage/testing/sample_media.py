"""Sample plates for the demo and the docs, made from a real photograph shipped in scikit-image.

No downloads: ``skimage.data.astronaut()`` is inside the scikit-image wheel. The clip is what a
camera plate looks like to soundstage: H.264 with a slow push-in and pan, 24 fps, SMPTE timecode,
BT.709 tags and an AAC audio track (a tone, so audio pass-through can be checked).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np


def astronaut_push_in(count: int = 48, width: int = 640, height: int = 360) -> list[np.ndarray]:
    """Frames of a slow push-in with a drift to the right: the face grows and moves."""
    import cv2
    from skimage import data

    photo = data.astronaut()  # 512x512, a face in the upper middle
    frames = []
    for i in range(count):
        t = i / max(1, count - 1)
        zoom = 1.0 + 0.35 * t
        crop_w = 500 / zoom
        crop_h = crop_w * height / width
        cx = photo.shape[1] * (0.46 - 0.05 * t)  # the face sits left of centre, around y = 0.33
        cy = photo.shape[0] * (0.36 - 0.03 * t)
        x0 = int(np.clip(cx - crop_w / 2, 0, photo.shape[1] - crop_w))
        y0 = int(np.clip(cy - crop_h / 2, 0, photo.shape[0] - crop_h))
        crop = photo[y0:y0 + int(crop_h), x0:x0 + int(crop_w)]
        frames.append(cv2.resize(crop, (width, height), interpolation=cv2.INTER_CUBIC))
    return frames


def reference_face(size: int = 256) -> np.ndarray:
    """The performer's enrolment photo: a head-and-shoulders crop of the same photograph."""
    import cv2
    from skimage import data

    photo = data.astronaut()
    return cv2.resize(photo[0:300, 100:400], (size, size), interpolation=cv2.INTER_AREA)


def write_plate(path: Path, frames: list[np.ndarray], fps: Fraction = Fraction(24),
                timecode: str = "05:00:12:00") -> Path:
    import av

    height, width = frames[0].shape[:2]
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"preset": "veryfast", "crf": "14"}
        video.metadata["timecode"] = timecode
        cc = video.codec_context
        cc.color_range, cc.color_primaries, cc.color_trc, cc.colorspace = 1, 1, 1, 1
        audio = out.add_stream("aac", rate=48000, layout="mono")
        encode_frames(out, video, frames)
        n = int(48000 * len(frames) / float(fps))
        tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(n) / 48000)).astype(np.float32)
        for start in range(0, n, 1024):
            chunk = tone[start:start + 1024]
            af = av.AudioFrame.from_ndarray(chunk[None, :], format="fltp", layout="mono")
            af.sample_rate = 48000
            af.pts = start
            for packet in audio.encode(af):
                out.mux(packet)
        for packet in audio.encode():
            out.mux(packet)
    return path


def with_boom_mic(frames: list[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray]:
    """The frames with a boom microphone dipping into the top-left corner (a dark windshield on a
    pole, the classic cleanup shot), and the matte a roto artist would draw for it (uint8 0/255)."""
    import cv2

    height, width = frames[0].shape[:2]
    matte = np.zeros((height, width), np.uint8)
    cx, cy = int(width * 0.18), int(height * 0.07)
    axes = (int(width * 0.06), int(height * 0.045))
    shot = []
    for frame in frames:
        frame = frame.copy()
        cv2.line(frame, (0, int(height * 0.02)), (cx, cy), (40, 40, 42), max(2, height // 120))
        cv2.ellipse(frame, (cx, cy), axes, 8, 0, 360, (58, 56, 54), -1, cv2.LINE_AA)
        shot.append(frame)
    cv2.line(matte, (0, int(height * 0.02)), (cx, cy), 255, max(2, height // 120) + 10)
    cv2.ellipse(matte, (cx, cy), (axes[0] + 6, axes[1] + 6), 8, 0, 360, 255, -1)
    return shot, matte


def write_dpx_scan(folder: Path, name: str, frames: list[np.ndarray], *, first: int = 1001, fps: int = 24,
                   timecode_hours: int = 1) -> Path:
    """A 10-bit DPX sequence as a scanner or a DI conform would deliver it (frame rate and a running
    timecode in every header), written with OpenImageIO. Returns the ``name_####.dpx`` pattern."""
    import OpenImageIO as oiio

    folder.mkdir(parents=True, exist_ok=True)
    height, width = frames[0].shape[:2]
    for i, frame in enumerate(frames):
        seconds, ff = divmod(i, fps)
        bcd = 0
        for value in (timecode_hours, seconds // 60, seconds % 60, ff):
            bcd = (bcd << 8) | ((value // 10) << 4) | (value % 10)
        spec = oiio.ImageSpec(width, height, 3, "uint16")
        spec.attribute("oiio:BitsPerSample", 10)
        spec.attribute("dpx:FrameRate", float(fps))
        spec.attribute("smpte:TimeCode", oiio.TypeDesc("timecode"), (bcd, 0))
        path = folder / f"{name}_{first + i:04d}.dpx"
        out = oiio.ImageOutput.create(str(path))
        out.open(str(path), spec)
        out.write_image((frame.astype(np.uint16) * 257))
        out.close()
    return folder / f"{name}_####.dpx"


def write_spliced_clip(path: Path, payload: int, *, key: bytes | None = None, seconds: float = 10.0,
                       at: float = 6.0, marked_seconds: float = 2.0, fps: int = 24, width: int = 320,
                       height: int = 180, crf: int = 18) -> Path:
    """An H.264 clip of ``seconds`` whose shot from ``at`` for ``marked_seconds`` carries our mark
    (``payload``, the engine of ``key``) and whose other frames do not: a marked soundstage shot cut
    into a longer film. ``marked_seconds`` 0: no mark at all."""
    import av

    from soundstage.safeguards.watermark import default_engine

    count, first, last = int(round(seconds * fps)), int(round(at * fps)), int(round((at + marked_seconds) * fps))
    frames = astronaut_push_in(count, width, height)
    if last > first:
        frames[first:last] = list(default_engine(key).embed_frames(frames[first:last], payload))
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"preset": "veryfast", "crf": str(crf)}
        encode_frames(out, video, frames)
    return path


def spliced_line(payload: int, *, key: bytes | None = None, seconds: float = 60.0, at: float = 41.0,
                 marked_seconds: float = 2.0, rate: int = 16_000) -> np.ndarray:
    """``seconds`` of unmarked speech-like sound (mono float32, (n, 1)) with a line of
    ``marked_seconds`` from ``at`` that carries our audio mark (``payload``, the engine of ``key``):
    a marked voice line cut into a longer track. ``marked_seconds`` 0: no mark at all."""
    from soundstage.safeguards.watermark.audio import default_audio_engine
    from soundstage.safeguards.watermark.audio_samples import speech_like

    track = speech_like(seconds, rate, seed=5).reshape(-1, 1).astype(np.float32)
    a, b = int(round(at * rate)), int(round((at + marked_seconds) * rate))
    if b > a:
        track[a:b] = default_audio_engine(key).embed(track[a:b], rate, payload)
    return track


def encode_frames(out, video, frames: list[np.ndarray]) -> None:
    """Encode RGB frames into an open PyAV container's video stream, one frame a tick, and flush
    (the sample clips here and the tests' own clips)."""
    import av

    for i, frame in enumerate(frames):
        vf = av.VideoFrame.from_ndarray(frame, format="rgb24")
        vf.pts = i
        for packet in video.encode(vf):
            out.mux(packet)
    for packet in video.encode():
        out.mux(packet)
