"""Test material for the VFX executor: clips made from a real photograph, and a small real operation.

``TemporalGrade`` is a genuine temporal operation (a colour grade blended with the running mean of
the previous frames), so it exercises warm-up frames: a chunked run only equals a single-chunk run
if the executor hands it the right context frames. Loaded by path (tests are not a package).
"""

from __future__ import annotations

import importlib.util
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

from soundstage.testing.identity import signer_for
from soundstage.testing.sample_media import encode_frames

HELPERS_PATH = Path(__file__).resolve()
FACTORY = f"{HELPERS_PATH}:make_grade_op"


def load_helpers():
    """Import this file as a module from any test directory."""
    name = "soundstage_test_vfx_helpers"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, HELPERS_PATH)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


class TemporalGrade:
    """out[i] = gain * (0.6 * f[i] + 0.4 * mean(f[i-window .. i-1])) - needs ``window`` warm-up frames."""

    def __init__(self, window: int = 3, gain: tuple[float, float, float] = (1.05, 0.97, 0.9),
                 delay: float = 0.0) -> None:
        self.name = "temporal-grade"
        self.warmup_frames = window
        self.window = window
        self.gain = np.asarray(gain, dtype=np.float32)
        self.delay = delay

    def process_chunk(self, frames: list[np.ndarray], first_index: int, warmup: int) -> list[np.ndarray]:
        out = []
        for i in range(warmup, len(frames)):
            history = frames[max(0, i - self.window):i]
            current = frames[i].astype(np.float32)
            mean = np.mean([h.astype(np.float32) for h in history], axis=0) if history else current
            graded = (0.6 * current + 0.4 * mean) * self.gain
            out.append(np.clip(graded + 0.5, 0, 255).astype(np.uint8))
        if self.delay:
            time.sleep(self.delay)
        return out


def make_grade_op(ctx) -> TemporalGrade:
    return TemporalGrade(window=int(ctx.params.get("window", 3)), delay=float(ctx.params.get("delay", 0.0)))


def astronaut_frames(count: int, width: int = 320, height: int = 240, step: int = 3) -> list[np.ndarray]:
    """A camera pan across scikit-image's astronaut photograph (a real image, not noise)."""
    import cv2
    from skimage import data

    photo = data.astronaut()
    scale = max(width / photo.shape[1], height / photo.shape[0]) * 1.4
    big = cv2.resize(photo, (int(photo.shape[1] * scale) + 1, int(photo.shape[0] * scale) + 1),
                     interpolation=cv2.INTER_AREA)
    frames = []
    for i in range(count):
        x = (i * step) % max(1, big.shape[1] - width)
        y = (i * step // 2) % max(1, big.shape[0] - height)
        frames.append(np.ascontiguousarray(big[y:y + height, x:x + width]))
    return frames


def make_clip(path: Path, frames: list[np.ndarray], *, fps: Fraction = Fraction(24), codec: str = "libx264",
              pix_fmt: str = "yuv420p", audio: bool = True, timecode: str | None = "01:00:10:00",
              colour: tuple[int, int, int, int] | None = (1, 1, 1, 1), options: dict | None = None,
              gop: int | None = 12) -> Path:
    """Encode a plate the way a camera/editorial file looks: timecode, BT.709 tags, AAC audio."""
    import av

    height, width = frames[0].shape[:2]
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        stream.options = options or {"preset": "ultrafast", "crf": "12"}
        if gop:
            stream.codec_context.gop_size = gop
        if colour:
            cc = stream.codec_context
            cc.color_range, cc.color_primaries, cc.color_trc, cc.colorspace = colour
        if timecode:
            stream.metadata["timecode"] = timecode
        audio_stream = None
        if audio:
            audio_stream = out.add_stream("aac", rate=48000, layout="mono")
        encode_frames(out, stream, frames)
        if audio_stream is not None:
            samples = int(48000 * len(frames) / float(fps))
            t = np.arange(samples, dtype=np.float32) / 48000
            tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
            for offset in range(0, samples, 1024):
                block = tone[offset:offset + 1024]
                if len(block) < 1024:
                    block = np.pad(block, (0, 1024 - len(block)))
                af = av.AudioFrame.from_ndarray(block[None, :], format="fltp", layout="mono")
                af.sample_rate = 48000
                af.pts = offset
                for packet in audio_stream.encode(af):
                    out.mux(packet)
            for packet in audio_stream.encode():
                out.mux(packet)
    return path


def decode_all(path: Path) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def write_dpx(path: Path, rgb10: np.ndarray, *, timecode: str | None = None, fps: float = 0.0,
              big_endian: bool = True) -> Path:
    """A 10-bit RGB DPX (SMPTE 268M, packing method A) written from the standard, byte by byte:
    an interop check independent of the OpenImageIO library that reads it."""
    import struct

    height, width = rgb10.shape[:2]
    order = ">" if big_endian else "<"
    offset = 2048
    data = rgb10.astype(np.uint32)
    words = (data[..., 0] << 22) | (data[..., 1] << 12) | (data[..., 2] << 2)
    body = words.astype(order + "u4").tobytes()
    header = bytearray(offset)

    def put(at: int, fmt: str, *values) -> None:
        struct.pack_into(order + fmt, header, at, *values)

    header[0:4] = b"SDPX" if big_endian else b"XPDS"
    put(4, "I", offset)
    header[8:16] = b"V2.0\0\0\0\0"
    put(16, "I", offset + len(body))
    put(20, "I", 1)
    put(24, "III", 1664, 384, 0)
    put(660, "I", 0xFFFFFFFF)  # not encrypted
    put(768, "HHII", 0, 1, width, height)  # orientation, elements, pixels per line, lines
    put(780, "IIfIf", 0, 0, 0.0, 1023, 2.048)  # unsigned, reference low/high
    put(800, "BBBBHHIII", 50, 1, 1, 10, 1, 0, offset, 0, 0)  # RGB, printing density, 10 bit, method A
    if fps:
        put(1724, "f", fps)  # film header: frame rate
        put(1940, "f", fps)  # television header: temporal frame rate
    if timecode:
        hh, mm, ss, ff = (int(v) for v in timecode.split(":"))
        bcd = 0
        for value in (hh, mm, ss, ff):
            bcd = (bcd << 8) | ((value // 10) << 4) | (value % 10)
        put(1920, "I", bcd)
    path.write_bytes(bytes(header) + body)
    return path


#: who approves an escalated VFX test job, by role (the requester, Ken Ito, never approves his own)
APPROVERS = {"producer": "Priya Shah", "rights_clearance": "Tom Reed", "legal": "Tom Reed"}


def submit_approved(ws, spec, *, requester: str = "Ken Ito") -> dict:
    """Submit a job through the real guard and approve each escalated role a test crew member holds
    (on the job's preview when the policy asks for one)."""
    from soundstage.services import jobs_service as jobs
    from soundstage.testing.approvals import approve

    result = jobs.submit_job(ws, spec, actor=requester)
    for role in (result["decision"]["approver_roles"] if result["status"] == "escalated" else []):
        holder = APPROVERS.get(role)
        if holder and holder != requester:
            result = approve(ws, result["job"], signer=signer_for(ws, holder), role=role, actor=holder)
    return result
