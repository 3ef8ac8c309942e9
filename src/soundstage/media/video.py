"""Video frames in, with one-line errors for files that are not (or no longer) video."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from soundstage.errors import InputError, ParseError

MAX_FRAME_PIXELS = 7680 * 4320  # 8K UHD


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
        raise ParseError(f"not a readable video ({exc})".splitlines()[0], source=path.name) from None
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
                raise ParseError(f"video cannot be decoded ({exc})".splitlines()[0], source=path.name) from None
            return  # a truncated tail: the frames before it are still evidence
        if count == 0:
            raise ParseError("the video has no frames", source=path.name)


def sample_frame_groups(path: Path, *, groups: int = 4, per_group: int = 2) -> list[list[np.ndarray]]:
    """Short runs of frames from across a clip: the run after each of ``groups`` evenly spaced seeks.

    Why: a check of the first frames only vouches for the first chunk of a clip that workers encoded
    chunk by chunk. Each seek lands on the keyframe before its target (every chunk starts with one)
    and decodes ``per_group`` frames from there, so the cost stays that of ``groups * per_group``
    frames. Runs that land on the same keyframe are returned once."""
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
                    if not run:
                        seen.add(frame.pts)
                    run.append(frame.to_ndarray(format="rgb24"))
                    if len(run) >= per_group:
                        break
            except (av.error.FFmpegError, ValueError) as exc:
                raise ParseError(f"video cannot be decoded ({exc})".splitlines()[0], source=Path(path).name) \
                    from None
            if run:
                runs.append(run)
    if not runs:
        raise ParseError("the video has no frames", source=Path(path).name)
    return runs
