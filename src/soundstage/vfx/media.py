"""Plates in and out through PyAV: probe, frame-range decode, encode with audio passed through.

Decisions (documented here because callers rely on them):

* **Truncated or corrupt video**: a file that cannot be opened or has no decodable frame is a
  ``ParseError``. A file whose tail is damaged is probed honestly: ``frame_count`` is the number
  of frames that can actually be demuxed, ``declared_frames`` what the header claimed, and
  ``truncated`` is True. The VFX backend refuses truncated plates (no partial output is ever
  registered); ``probe`` still lets a person see what is there.
* **Variable frame rate**: detected from the packet timestamps and refused with ``InputError``
  and the ffmpeg command that conforms it. Silent conforming would shift frames against the
  audio and the timecode; a person should decide.
* **Size limit**: up to 8K UHD (7680x4320) is accepted; anything with more pixels, or a side
  longer than 8192, is refused before decoding (memory: one 8K RGB frame is 100 MB).
* Frame *i* is the i-th frame in presentation order; decoders identify it from its timestamp,
  which is exact because variable frame rate is refused.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from soundstage.errors import BackendError, InputError, NotFoundError, ParseError

__all__ = [
    "MAX_FRAME_PIXELS", "MAX_SIDE", "CODECS", "ColourInfo", "VideoInfo", "probe", "decode_range",
    "VideoWriter", "check_frame_size", "frame_sha256", "audio_packets",
]

MAX_FRAME_PIXELS = 7680 * 4320  # 8K UHD is the largest plate we accept
MAX_SIDE = 8192
VFR_TOLERANCE = 0.01  # relative spread of frame durations above which a stream is variable-rate


@dataclass(frozen=True)
class CodecPreset:
    """How one delivery/intermediate codec is written."""

    encoder: str
    pix_fmt: str
    options: dict[str, str]
    containers: tuple[str, ...]
    input_format: str = "rgb24"
    codec_tag: str | None = None


CODECS: dict[str, CodecPreset] = {
    "h264": CodecPreset("libx264", "yuv420p", {"crf": "16", "preset": "veryfast"}, (".mp4", ".mov")),
    "h265": CodecPreset("libx265", "yuv420p", {"crf": "18", "preset": "veryfast",
                                                "x265-params": "log-level=error"}, (".mp4", ".mov"),
                        codec_tag="hvc1"),
    "prores": CodecPreset("prores_ks", "yuv422p10le", {"profile": "2"}, (".mov",)),
    # lossless RGB intermediate for resumable chunks (measured: ~60 fps 1080p on one core, exact)
    "lossless": CodecPreset("libx264rgb", "rgb24", {"qp": "0", "preset": "ultrafast"}, (".mkv",)),
    # uncompressed intermediate (Matroska takes raw RGBA, not RGB24): measured at 1080p on 2 loaded
    # cores, write 11 + read 4 ms/frame against 43 + 61 ms for "lossless"; 8.3 MB/frame against 3.2
    "raw": CodecPreset("rawvideo", "rgba", {}, (".mkv",)),
}


@dataclass(frozen=True)
class ColourInfo:
    """FFmpeg colour enums (ints, as in the codec parameters); 2 means unspecified."""

    color_range: int = 0
    color_primaries: int = 2
    color_trc: int = 2
    colorspace: int = 2


@dataclass(frozen=True)
class VideoInfo:
    path: str
    container: str
    codec: str
    width: int
    height: int
    pix_fmt: str
    fps: Fraction
    frame_count: int
    duration: float  # seconds, frame_count / fps
    time_base: Fraction
    first_pts: int
    timecode: str | None
    colour: ColourInfo
    audio: tuple[dict[str, Any], ...] = ()
    declared_frames: int = 0
    truncated: bool = False
    variable_frame_rate: bool = False
    warnings: tuple[str, ...] = field(default=())

    def frame_index(self, pts: int) -> int:
        """Presentation index of the frame with this timestamp (exact for constant frame rate)."""
        return round((pts - self.first_pts) * self.time_base * self.fps)

    def pts_of(self, index: int) -> int:
        return self.first_pts + round(index / (self.fps * self.time_base))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["fps"] = f"{self.fps.numerator}/{self.fps.denominator}"
        data["fps_float"] = float(self.fps)
        data["time_base"] = str(self.time_base)
        return data


def check_frame_size(width: int, height: int, *, source: str = "") -> None:
    """Refuse frames above 8K UHD before any decode allocates them."""
    if width <= 0 or height <= 0:
        raise ParseError(f"invalid frame size {width}x{height}", source=source or None)
    if width * height > MAX_FRAME_PIXELS or max(width, height) > MAX_SIDE:
        raise InputError(f"{source + ': ' if source else ''}{width}x{height} is larger than 8K UHD (7680x4320)",
                         hint="downscale or crop the plate before processing")


def frame_sha256(frame: np.ndarray) -> str:
    """Hash of a frame's pixels and shape: what chunk manifests record and resumes verify."""
    digest = hashlib.sha256(f"{frame.shape}{frame.dtype}".encode())
    digest.update(np.ascontiguousarray(frame).data)
    return digest.hexdigest()


def _open(path: Path):
    import av

    if not path.exists():
        raise NotFoundError(f"video not found: {path}")
    try:
        return av.open(str(path))
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        raise ParseError(f"not a readable video ({str(exc).splitlines()[0]})", source=path.name) from None


def probe(path: Path | str, *, refuse_vfr: bool = False) -> VideoInfo:
    """Everything the executor needs to know about a plate, from its header and packet timestamps
    (demux only, no decode - cheap even for long plates)."""
    import av

    path = Path(path)
    container = _open(path)
    with container:
        if not container.streams.video:
            raise ParseError("no video stream", source=path.name)
        stream = container.streams.video[0]
        cc = stream.codec_context
        check_frame_size(cc.width, cc.height, source=path.name)
        fps = stream.average_rate or stream.guessed_rate or stream.base_rate
        if not fps:
            raise ParseError("the video has no frame rate", source=path.name)
        fps = Fraction(fps)
        audio = tuple({"index": a.index, "codec": a.codec_context.name, "sample_rate": a.codec_context.sample_rate,
                       "channels": a.codec_context.channels, "language": a.metadata.get("language")}
                      for a in container.streams.audio)
        timecode = stream.metadata.get("timecode") or container.metadata.get("timecode")
        for other in container.streams:
            timecode = timecode or other.metadata.get("timecode")
        declared = int(stream.frames or 0)
        pts_list: list[int] = []
        truncated = False
        warnings: list[str] = []
        try:
            for packet in container.demux(stream):
                if packet.pts is not None and packet.size:
                    pts_list.append(int(packet.pts))
        except (av.error.FFmpegError, ValueError, OSError) as exc:
            truncated = True
            warnings.append(f"demux stopped early: {str(exc).splitlines()[0]}")
        if not pts_list:
            raise ParseError("the video has no frames", source=path.name)
        pts_list.sort()
        if declared and len(pts_list) < declared:
            truncated = True
            warnings.append(f"only {len(pts_list)} of {declared} declared frames are present")
        vfr = _is_variable_rate(pts_list)
        info = VideoInfo(
            path=str(path), container=container.format.name, codec=cc.name, width=cc.width, height=cc.height,
            pix_fmt=cc.pix_fmt or "", fps=fps, frame_count=len(pts_list), duration=float(len(pts_list) / fps),
            time_base=Fraction(stream.time_base), first_pts=pts_list[0], timecode=timecode,
            colour=ColourInfo(int(cc.color_range or 0), int(cc.color_primaries or 2), int(cc.color_trc or 2),
                              int(cc.colorspace or 2)),
            audio=audio, declared_frames=declared or len(pts_list), truncated=truncated,
            variable_frame_rate=vfr, warnings=tuple(warnings))
    if refuse_vfr and vfr:
        raise InputError(f"{path.name} has a variable frame rate; frame-accurate VFX needs a constant rate",
                         hint=f"conform it first, e.g. ffmpeg -i {path.name} -fps_mode cfr -r {float(fps):g} "
                              "-c:a copy conformed.mov")
    return info


def _is_variable_rate(sorted_pts: list[int]) -> bool:
    if len(sorted_pts) < 3:
        return False
    steps = np.diff(np.asarray(sorted_pts, dtype=np.int64))
    if (steps <= 0).any():
        return True
    median = float(np.median(steps))
    return bool((np.abs(steps - median) > max(1.0, VFR_TOLERANCE * median)).any())


def decode_range(path: Path | str, start: int, stop: int, *, info: VideoInfo | None = None,
                 threads: str = "AUTO") -> Iterator[np.ndarray]:
    """Frames ``[start, stop)`` as HxWx3 uint8 RGB: seek to the keyframe at or before ``start``,
    decode forward, drop what precedes ``start``. Raises ParseError if a frame is missing."""
    import av

    path = Path(path)
    info = info or probe(path)
    stop = min(stop, info.frame_count)
    if start >= stop:
        return
    container = _open(path)
    with container:
        stream = container.streams.video[0]
        stream.thread_type = threads
        expected = start
        for attempt in (0, 1):
            if start > 0 and attempt == 0:
                container.seek(info.pts_of(start), stream=stream, backward=True, any_frame=False)
            elif attempt == 1:
                container.seek(info.first_pts, stream=stream, backward=True, any_frame=False)
            overshoot = False
            try:
                for frame in container.decode(stream):
                    if frame.pts is None:
                        continue
                    index = info.frame_index(frame.pts)
                    if index < expected:
                        continue
                    if index > expected:
                        if expected == start and attempt == 0:
                            overshoot = True  # the seek landed after start: retry from the beginning
                            break
                        raise ParseError(f"frame {expected} is missing (next decodable frame is {index})",
                                         source=path.name)
                    yield frame.to_ndarray(format="rgb24")
                    expected += 1
                    if expected >= stop:
                        return
            except av.error.FFmpegError as exc:
                raise ParseError(f"frame {expected} cannot be decoded ({str(exc).splitlines()[0]})",
                                 source=path.name) from None
            if not overshoot:
                break
        if expected < stop:
            raise ParseError(f"the video ends at frame {expected}, {stop} were expected (truncated?)",
                             source=path.name)


def audio_packets(path: Path | str) -> Iterator[Any]:
    """The source's audio packets, untouched, in file order (for remuxing without re-encoding)."""
    container = _open(Path(path))
    with container:
        if not container.streams.audio:
            return
        for packet in container.demux(*container.streams.audio):
            if packet.size:
                yield packet


class VideoWriter:
    """Encode RGB frames with exact rational fps, colour tags, timecode, and the audio of a source
    file remuxed packet for packet (never re-encoded).

    Use as a context manager; ``write(frame)`` in order; frame *i* gets pts *i* / fps.
    """

    def __init__(self, path: Path | str, *, codec: str, fps: Fraction, width: int, height: int,
                 colour: ColourInfo | None = None, timecode: str | None = None,
                 audio_from: Path | str | None = None, threads: int = 0) -> None:
        import av

        self.path = Path(path)
        preset = CODECS.get(codec)
        if preset is None:
            raise InputError(f"unknown codec {codec!r}", hint="one of: " + ", ".join(CODECS))
        if self.path.suffix.lower() not in preset.containers:
            raise InputError(f"{codec} cannot be written to a {self.path.suffix or 'suffix-less'} file",
                             hint="use " + " or ".join(preset.containers))
        check_frame_size(width, height, source=self.path.name)
        self.fps = Fraction(fps)
        self.count = 0
        self._av = av
        self._container = av.open(str(self.path), "w")
        try:
            stream = self._container.add_stream(preset.encoder, rate=self.fps)
            stream.width, stream.height, stream.pix_fmt = width, height, preset.pix_fmt
            stream.time_base = 1 / self.fps
            stream.codec_context.time_base = 1 / self.fps
            options = dict(preset.options)
            if threads:
                options["threads"] = str(threads)
            stream.options = options
            if preset.codec_tag:
                stream.codec_tag = preset.codec_tag
            if colour is not None:
                cc = stream.codec_context
                cc.color_range, cc.color_primaries = colour.color_range, colour.color_primaries
                cc.color_trc, cc.colorspace = colour.color_trc, colour.colorspace
            if timecode:
                stream.metadata["timecode"] = timecode
            self._stream = stream
            self._audio_out: dict[int, Any] = {}
            self._audio_iter = None
            self._pending = None
            self._audio_container = None
            if audio_from is not None:
                self._audio_container = _open(Path(audio_from))
                for a in self._audio_container.streams.audio:
                    self._audio_out[a.index] = self._container.add_stream_from_template(a)
                if self._audio_out:
                    self._audio_iter = iter(self._audio_container.demux(*self._audio_container.streams.audio))
        except Exception:
            self._container.close()
            raise
        self.width, self.height = width, height

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def _mux_audio_until(self, seconds: float | None) -> None:
        """Interleave: copy source audio packets whose start is before ``seconds`` (None: all)."""
        while self._audio_iter is not None:
            packet = self._pending
            if packet is None:
                packet = next(self._audio_iter, None)
                if packet is None:
                    self._audio_iter = None
                    return
            if not packet.size or packet.pts is None and packet.dts is None:
                self._pending = None
                continue
            ts = packet.pts if packet.pts is not None else packet.dts
            if seconds is not None and float(ts * packet.time_base) > seconds:
                self._pending = packet
                return
            self._pending = None
            packet.stream = self._audio_out[packet.stream.index]
            self._container.mux(packet)

    def write(self, frame: np.ndarray) -> None:
        if frame.shape != (self.height, self.width, 3) or frame.dtype != np.uint8:
            raise InputError(f"frame {self.count} is {frame.shape} {frame.dtype}; expected "
                             f"({self.height}, {self.width}, 3) uint8")
        video_frame = self._av.VideoFrame.from_ndarray(frame, format="rgb24")
        video_frame.pts = self.count
        video_frame.time_base = 1 / self.fps
        self._mux_audio_until(float(self.count / self.fps))
        try:
            for packet in self._stream.encode(video_frame):
                self._container.mux(packet)
        except self._av.error.FFmpegError as exc:
            raise BackendError(f"encoding frame {self.count} failed: {exc}") from None
        self.count += 1

    def close(self) -> None:
        for packet in self._stream.encode():
            self._container.mux(packet)
        self._mux_audio_until(None)
        self._container.close()
        if self._audio_container is not None:
            self._audio_container.close()

    def abort(self) -> None:
        """Close and delete a half-written file: nothing partial is left behind."""
        try:
            self._container.close()
        except Exception:  # noqa: BLE001 - best effort on an already failing path
            pass
        if self._audio_container is not None:
            self._audio_container.close()
        self.path.unlink(missing_ok=True)
