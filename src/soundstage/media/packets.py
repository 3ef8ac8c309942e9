"""A stream's length from its packets, not from its header.

A container's header states a duration that anyone can edit (an MP4's ``mvhd``/``mdhd``, a FLAC's
STREAMINFO) without touching the frames or samples after it; a reader that believes it reads less
than the file holds. The packets' own times are what a player plays: seek towards the end, demux
(no decoding) to the last packet, and its end is the stream's."""

from __future__ import annotations

from typing import Any

#: a seek past any real end (seconds); the demuxer lands on the last keyframe before it
_FAR = 10 ** 9
#: at most this many packets are demuxed (a file that cannot seek is demuxed from its start)
MAX_PACKETS = 200_000


def last_packet_end(container: Any, stream: Any) -> float | None:
    """Seconds from the stream's start to the end of its last packet; None when the packets carry no
    times or the stream cannot be read that way."""
    import av

    base = stream.time_base
    if base is None:
        return None
    origin = stream.start_time or 0
    try:
        container.seek(int(_FAR / base), stream=stream, backward=True, any_frame=False)
    except (av.error.FFmpegError, ValueError, OverflowError, ZeroDivisionError, TypeError):
        pass   # demux from where the reader is (the start)
    last = None
    try:
        for count, packet in enumerate(container.demux(stream)):
            if count >= MAX_PACKETS:
                break
            if packet.pts is not None:
                end = packet.pts + (packet.duration or 0)
                last = end if last is None or end > last else last
    except (av.error.FFmpegError, ValueError):
        pass   # a damaged tail: the packets before it
    return None if last is None else max(0.0, float((last - origin) * base))
