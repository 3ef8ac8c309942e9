"""Video frames in, with one-line errors for files that are not (or no longer) video."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from soundstage.errors import InputError, ParseError

MAX_FRAME_PIXELS = 7680 * 4320  # 8K UHD


def iter_frames(path: Path, *, max_frames: int | None = None) -> Iterator[np.ndarray]:
    """Decode RGB frames (HxWx3 uint8) from the first video stream."""
    import av

    try:
        container = av.open(str(path))
    except FileNotFoundError:
        raise InputError(f"video not found: {path}") from None
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        raise ParseError(f"not a readable video ({exc})".splitlines()[0], source=path.name) from None
    with container:
        if not container.streams.video:
            raise ParseError("no video stream", source=path.name)
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        if stream.width * stream.height > MAX_FRAME_PIXELS:
            raise InputError(f"{path.name}: {stream.width}x{stream.height} is larger than 8K")
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
