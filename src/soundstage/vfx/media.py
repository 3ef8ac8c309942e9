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
    "VideoWriter", "concat_segments", "check_frame_size", "frame_sha256", "audio_packets",
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
        raise NotFoundError(f"video not found: {path.name}")
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


def _yuv_matrix(colour: ColourInfo | None) -> tuple[str, str]:
    """(swscale colorspace, range) for RGB -> YUV, from the FFmpeg colour tags of the output.

    Unspecified tags get BT.601 and limited range, which is what decoders assume for them."""
    matrix = {1: "ITU709", 4: "FCC", 5: "ITU601", 6: "SMPTE170M", 7: "SMPTE240M", 9: "BT2020",
              10: "BT2020"}.get(colour.colorspace if colour else 2, "ITU601")
    return matrix, ("JPEG" if colour is not None and colour.color_range == 2 else "MPEG")


class _AudioCopy:
    """The audio streams of a source file, remuxed packet for packet into an output container and
    interleaved with its video (never re-encoded: the sound stays byte-identical)."""

    def __init__(self, output, source: Path | str | None) -> None:
        self._source = _open(Path(source)) if source is not None else None
        self._streams: dict[int, Any] = {}
        self._packets = None
        self._pending = None
        if self._source is not None:
            for a in self._source.streams.audio:
                self._streams[a.index] = output.add_stream_from_template(a)
            if self._streams:
                self._packets = iter(self._source.demux(*self._source.streams.audio))
        self._output = output

    def until(self, seconds: float | None) -> None:
        """Copy the packets that start before ``seconds`` (None: all that are left)."""
        while self._packets is not None:
            packet = self._pending
            if packet is None:
                packet = next(self._packets, None)
                if packet is None:
                    self._packets = None
                    return
            if not packet.size or packet.pts is None and packet.dts is None:
                self._pending = None
                continue
            ts = packet.pts if packet.pts is not None else packet.dts
            if seconds is not None and float(ts * packet.time_base) > seconds:
                self._pending = packet
                return
            self._pending = None
            packet.stream = self._streams[packet.stream.index]
            self._output.mux(packet)

    def close(self) -> None:
        if self._source is not None:
            self._source.close()
            self._source = None


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
            self._audio = _AudioCopy(self._container, audio_from)
        except Exception:
            self._container.close()
            raise
        self.width, self.height = width, height
        self._pix_fmt = preset.pix_fmt
        self._last_dts: int | None = None
        self._threads = threads or None
        self._matrix, self._range = _yuv_matrix(colour)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def write(self, frame: np.ndarray) -> None:
        if frame.shape != (self.height, self.width, 3) or frame.dtype != np.uint8:
            raise InputError(f"frame {self.count} is {frame.shape} {frame.dtype}; expected "
                             f"({self.height}, {self.width}, 3) uint8")
        video_frame = self._av.VideoFrame.from_ndarray(frame, format="rgb24")
        # convert with the matrix the stream is tagged with (left to the encoder, RGB would go
        # through BT.601 whatever the tag says, and a BT.709 plate would come back with shifted hues)
        video_frame = video_frame.reformat(format=self._pix_fmt, dst_colorspace=self._matrix,
                                           dst_color_range=self._range, threads=self._threads)
        video_frame.pts = self.count
        video_frame.time_base = 1 / self.fps
        self._audio.until(float(self.count / self.fps))
        try:
            for packet in self._stream.encode(video_frame):
                self._mux_video(packet)
        except self._av.error.FFmpegError as exc:
            raise BackendError(f"encoding frame {self.count} failed: {exc}") from None
        self.count += 1

    def _mux_video(self, packet) -> None:
        """Mux an encoded packet, repairing an impossible decode timestamp first.

        libx265 reports uninitialised decode timestamps for streams of fewer than three frames
        (seen as +-1e15 ticks; the MP4 muxer then fails), which short chunks and stills produce.
        A dts must not follow the pts or go backwards; the stream's time base is one frame."""
        dts, pts = packet.dts, packet.pts
        if pts is not None and (dts is None or dts > pts or dts < pts - 64 or
                                (self._last_dts is not None and dts <= self._last_dts)):
            packet.dts = pts if self._last_dts is None else min(pts, self._last_dts + 1)
        self._last_dts = packet.dts
        self._container.mux(packet)

    def close(self) -> None:
        try:
            for packet in self._stream.encode():
                self._mux_video(packet)
        except self._av.error.FFmpegError as exc:
            raise BackendError(f"finishing the encode failed: {exc}") from None
        self._audio.until(None)
        self._container.close()
        self._audio.close()

    def abort(self) -> None:
        """Close and delete a half-written file: nothing partial is left behind."""
        try:
            self._container.close()
        except Exception:  # noqa: BLE001 - best effort on an already failing path
            pass
        self._audio.close()
        self.path.unlink(missing_ok=True)


def _segment_delay(path: Path, fps: Fraction) -> tuple[int, Any]:
    """(decoder delay in frames, codec extradata) of a segment: how far its first decode
    timestamp runs ahead of its first picture (B-frames), read from its first packet."""
    with _open(path) as segment:
        if not segment.streams.video:
            raise BackendError(f"segment {path.name} has no video stream")
        source = segment.streams.video[0]
        extradata = source.codec_context.extradata
        for packet in segment.demux(source):
            if packet.size and packet.dts is not None:
                return max(0, round(-packet.dts * source.time_base * fps)), extradata
    raise BackendError(f"segment {path.name} has no video packets")


def concat_segments(output: Path | str, segments: list[tuple[int, Path]], *, fps: Fraction,
                    timecode: str | None = None, audio_from: Path | str | None = None) -> int:
    """Join encoded segments into one clip by remuxing their packets (no re-encode); returns frames.

    ``segments`` are (first frame index, file) in order, each written by ``VideoWriter`` with the
    same codec settings and starting on a keyframe, so their streams share one decoder
    configuration; that is checked, and a mismatch refused rather than written as a clip that
    decodes wrongly. Presentation times are shifted to each segment's first frame; decode times
    are renumbered with one decoder delay for the whole clip (the largest of the segments': a
    short last segment may have no B-frames), so every frame keeps one frame's duration. Audio is
    copied from ``audio_from`` as ``VideoWriter`` does. Used by chunked jobs: each worker encodes
    its own chunk, so the parent only copies bytes."""
    import av

    fps = Fraction(fps)
    probed = [_segment_delay(Path(path), fps) for _, path in segments]
    if any(extradata != probed[0][1] for _, extradata in probed):
        bad = next(Path(p).name for (_, p), (_, e) in zip(segments, probed) if e != probed[0][1])
        raise BackendError(f"segment {bad} was encoded with other settings than the first; it cannot be "
                           "joined without re-encoding")
    delay = max((d for d, _ in probed), default=0)
    with av.open(str(output), "w") as out:
        stream = None
        audio = None
        frames = 0
        try:
            for first_frame, path in segments:
                if first_frame != frames:
                    raise BackendError(f"segment {Path(path).name} starts at frame {first_frame}; "
                                       f"{frames} frames precede it")
                with _open(Path(path)) as segment:
                    source = segment.streams.video[0]
                    if stream is None:
                        stream = out.add_stream_from_template(source, rate=fps)
                        if timecode:
                            stream.metadata["timecode"] = timecode
                        audio = _AudioCopy(out, audio_from)
                    tick = Fraction(1) / fps / source.time_base  # one frame in the segment's time base
                    for packet in segment.demux(source):
                        if not packet.size:
                            continue
                        if packet.pts is not None:
                            packet.pts += round(first_frame * tick)
                        packet.dts = round((frames - delay) * tick)
                        audio.until(float(Fraction(frames) / fps))
                        packet.stream = stream
                        out.mux(packet)
                        frames += 1
            if audio is not None:
                audio.until(None)
        finally:
            if audio is not None:
                audio.close()
    return frames
