"""Video frames in, with one-line errors for files that are not (or no longer) video."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from soundstage.errors import InputError, ParseError
from soundstage.media.packets import last_packet_end

MAX_FRAME_PIXELS = 7680 * 4320  # 8K UHD


def _av_reason(exc: BaseException) -> str:
    """What FFmpeg said, in one line and without the file's path (PyAV appends it to the message:
    an uploaded file's server-side path must not reach the client)."""
    reason = getattr(exc, "strerror", None) or str(exc)
    filename = getattr(exc, "filename", None)
    if filename:
        reason = reason.replace(f": '{filename}'", "").replace(str(filename), "")
    return (reason.splitlines() or [type(exc).__name__])[0].strip() or type(exc).__name__


def _open_video(path: Path):
    """(container, first video stream) of a file, refused with one line when it is missing, not a
    video, or larger than 8K (checked from the header, before any frame is decoded)."""
    import av

    path = Path(path)
    try:
        container = av.open(str(path))
    except FileNotFoundError:
        raise InputError(f"video not found: {path.name}") from None
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        raise ParseError(f"not a readable video ({_av_reason(exc)})", source=path.name) from None
    if not container.streams.video:
        container.close()
        raise ParseError("no video stream", source=path.name)
    stream = container.streams.video[0]
    if stream.width * stream.height > MAX_FRAME_PIXELS:
        container.close()
        raise InputError(f"{path.name}: {stream.width}x{stream.height} is larger than 8K")
    return container, stream


def iter_frames(path: Path, *, max_frames: int | None = None) -> Iterator[np.ndarray]:
    """Decode RGB frames (HxWx3 uint8) from the first video stream."""
    import av

    container, stream = _open_video(path)
    with container:
        stream.thread_type = "AUTO"
        count = 0
        try:
            for frame in container.decode(stream):
                yield frame.to_ndarray(format="rgb24")
                count += 1
                if max_frames is not None and count >= max_frames:
                    return
        except (av.error.FFmpegError, ValueError) as exc:
            if count == 0:
                raise ParseError(f"video cannot be decoded ({_av_reason(exc)})", source=path.name) from None
            return  # a truncated tail: the frames before it are still evidence
        if count == 0:
            raise ParseError("the video has no frames", source=path.name)


def sample_frame_groups(path: Path, *, groups: int = 4, per_group: int = 2,
                        within_gop: bool = False) -> list[list[np.ndarray]]:
    """Short runs of frames from across a clip: the run after each of ``groups`` evenly spaced seeks.

    Why: a check of the first frames only vouches for the first chunk of a clip that workers encoded
    chunk by chunk. Each seek lands on the keyframe before its target (every chunk starts with one)
    and decodes ``per_group`` frames from there, so the cost stays that of ``groups * per_group``
    frames. ``within_gop``: a run ends early at the next keyframe, so it never reaches into the next
    chunk. Runs that land on the same keyframe are returned once."""
    import av

    container, stream = _open_video(path)
    runs: list[list[np.ndarray]] = []
    seen: set[int] = set()
    with container:
        start = stream.start_time or 0
        span = stream.duration or 0
        for k in range(groups if span > 0 else 1):
            try:
                container.seek(start + span * k // groups, stream=stream, backward=True, any_frame=False)
                run: list[np.ndarray] = []
                for frame in container.decode(stream):
                    if not run and frame.pts in seen:
                        break  # the same keyframe as an earlier run
                    if within_gop and run and frame.key_frame:
                        break  # the next chunk (or scene) starts: it has a run of its own
                    if not run:
                        seen.add(frame.pts)
                    run.append(frame.to_ndarray(format="rgb24"))
                    if len(run) >= per_group:
                        break
            except (av.error.FFmpegError, ValueError) as exc:
                raise ParseError(f"video cannot be decoded ({_av_reason(exc)})", source=Path(path).name) \
                    from None
            if run:
                runs.append(run)
    if not runs:
        raise ParseError("the video has no frames", source=Path(path).name)
    return runs


#: frames a seek may decode before the span it was made for starts: a keyframe interval of up to
#: 300 frames (x264's and x265's default is 250) is walked; past it (an all-intra-less stream whose
#: keyframes are minutes apart: the file's choice, not ours), the span starts where the walk stopped
MAX_SEEK_LEAD_FRAMES = 300


@dataclass(frozen=True)
class Span:
    """Consecutive frames of a clip, and where they sit in it (seconds from its first frame)."""

    start: float
    end: float
    frames: list[np.ndarray]


def _header_timing(container, stream) -> tuple[float | None, float]:
    rate = float(stream.average_rate or stream.guessed_rate or 24) or 24.0
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base), rate
    if container.duration is not None:
        return container.duration / 1_000_000, rate
    return None, rate


def video_timing(path: Path) -> tuple[float | None, float]:
    """(duration in seconds as the header states it, or None when it does not say; frame rate, 24
    when it does not say)."""
    container, stream = _open_video(path)
    with container:
        return _header_timing(container, stream)


def video_length(path: Path) -> tuple[float | None, float]:
    """`video_timing`, with the length from the clip's packets (`media.packets`: what plays,
    whatever the header's duration says) when they carry times."""
    container, stream = _open_video(path)
    with container:
        stated, rate = _header_timing(container, stream)
        probed = last_packet_end(container, stream)
    return (probed if probed is not None else stated), rate


@dataclass
class StreamedSpan:
    """A span whose frames are decoded as they are read (`stream_spans`): one RGB frame in memory at a
    time, however large the frames. Read its frames before asking for the next span; ``end`` is
    known once they are read."""

    start: float
    end: float
    frames: Iterator[np.ndarray] = field(default_factory=lambda: iter(()))


def read_spans(path: Path, starts: list[float], *, max_frames: int) -> Iterator[Span]:
    """`stream_spans`, each span's frames in a list: up to ``max_frames`` RGB frames from each of
    ``starts`` (seconds from the first frame, in increasing order)."""
    for span in stream_spans(path, starts, max_frames=max_frames):
        frames = list(span.frames)
        yield Span(span.start, span.end, frames)


def consecutive_spans(path: Path, rate: float, *, frames_per_span: int) -> Iterator[StreamedSpan]:
    """Every span of a clip, one after the other, decoded from its first frame to its last (no seek:
    a header's duration is not trusted to say where the end is; the decoder stops there), each
    span's frames decoded only as they are read, as `stream_spans` reads them."""
    frames = iter_frames(path)
    position = 0
    while (first := next(frames, None)) is not None:
        span = StreamedSpan(round(position / rate, 3), round((position + 1) / rate, 3))
        count = [1]

        def run(first=first, span=span, count=count, start=position) -> Iterator[np.ndarray]:
            yield first
            for frame in itertools.islice(frames, frames_per_span - 1):
                count[0] += 1
                span.end = round((start + count[0]) / rate, 3)
                yield frame

        span.frames = run()
        yield span
        for _ in span.frames:   # what the reader left unread: the next span starts after it
            pass
        position += count[0]


def stream_spans(path: Path, starts: list[float], *, max_frames: int) -> Iterator[StreamedSpan]:
    """Up to ``max_frames`` RGB frames from each of ``starts`` (seconds from the first frame, in
    increasing order), opening the file once, each span's frames decoded only as they are read (a
    48-frame span of 8K frames held at once is 4.8 GB; streamed, one frame). A start at or just after
    where the last span ended is read on without a seek; any other seeks to the keyframe before it
    and decodes forward to it (at most MAX_SEEK_LEAD_FRAMES frames). A span that would begin on the
    same frame as an earlier one is not read twice; a start past the end reads nothing. The head is
    decoded as `iter_frames` decodes it, so a file whose first frame cannot be decoded is refused with
    one line; a tail that cannot be decoded ends the span it is in, and the reading."""
    import av

    container, stream = _open_video(path)
    with container:
        stream.thread_type = "AUTO"
        base = stream.time_base
        rate = float(stream.average_rate or stream.guessed_rate or 24) or 24.0
        origin = float(stream.start_time * base) if stream.start_time is not None and base is not None else 0.0
        decoder = container.decode(stream)
        last: float | None = None  # the time of the last frame decoded (None: nothing decoded yet)
        broken = False             # a frame could not be decoded: nothing after it is read
        seen: set[float] = set()

        def time_of(frame) -> float:
            return (float(frame.pts * base) - origin) if frame.pts is not None and base is not None \
                else (0.0 if last is None else last + 1.0 / rate)

        def rest(span: StreamedSpan, first) -> Iterator[np.ndarray]:
            nonlocal last, broken
            yield first.to_ndarray(format="rgb24")
            count = 1
            try:
                while count < max_frames:
                    frame = next(decoder, None)
                    if frame is None:
                        return
                    t = last = time_of(frame)
                    span.end = round(t + 1.0 / rate, 3)
                    yield frame.to_ndarray(format="rgb24")
                    count += 1
            except (av.error.FFmpegError, ValueError):
                broken = True   # a truncated tail: the frames before it are still evidence

        for index, start in enumerate(starts):
            if broken:
                return
            position = 0.0 if last is None else last
            if index > 0 and not (position - 0.5 / rate <= start <= position + MAX_SEEK_LEAD_FRAMES / rate):
                try:
                    container.seek(int((origin + start) / base), stream=stream, backward=True, any_frame=False)
                except (av.error.FFmpegError, ValueError, OverflowError, ZeroDivisionError, TypeError):
                    return  # a stream that cannot seek: the spans read so far are what there is
                decoder = container.decode(stream)
            first_frame, first, lead = None, 0.0, 0
            try:
                for frame in decoder:
                    t = last = time_of(frame)
                    if t < start - 0.5 / rate and lead < MAX_SEEK_LEAD_FRAMES:
                        lead += 1
                        continue
                    first_frame, first = frame, t
                    break
            except (av.error.FFmpegError, ValueError) as exc:
                if index == 0:
                    raise ParseError(f"video cannot be decoded ({_av_reason(exc)})", source=Path(path).name) \
                        from None
                return
            if first_frame is None:
                if index == 0:
                    raise ParseError("the video has no frames", source=Path(path).name)
                continue
            if round(first, 6) in seen:
                continue
            seen.add(round(first, 6))
            span = StreamedSpan(round(first, 3), round(first + 1.0 / rate, 3))
            span.frames = rest(span, first_frame)
            yield span
            for _ in span.frames:   # what the reader left unread: the next span starts after it
                pass
