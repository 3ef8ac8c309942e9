"""What `soundstage verify` costs on a long file: the watermark scan over its whole length
(docs/design/watermark.md "Verification reads").

    python bench/verify_long.py [--minutes 120] [--repeats 2] [--dir /tmp/verify-long] [--production-key] [--whole]

Makes, once (kept in --dir for the next run), an unmarked 1080p H.264 film of --minutes (one 60 s
segment at 24 fps encoded with x264 ultrafast, its packets remuxed --minutes times: a real file of
that length, keyframe every 250 frames, made in seconds) and an unmarked 48 kHz mono WAV of the
same length, then times `detect_watermark` (what `verify` runs) on each. Unmarked files are the
worst case: every read the bounds allow is made. --production-key reads as a workspace with its own
key does (that key, then the public default one). --whole reads every span and window (`verify
--whole`; use a few --minutes). Prints a markdown table.
"""

from __future__ import annotations

import argparse
import time
import wave
from pathlib import Path

import numpy as np


def make_film(path: Path, minutes: int) -> Path:
    import av

    from soundstage.safeguards.watermark import samples

    segment = path.with_name("segment-1080p.mp4")
    base = samples.natural_frame(1920, 1080, variant=2)
    with av.open(str(segment), "w") as out:
        video = out.add_stream("libx264", rate=24)
        video.width, video.height, video.pix_fmt = 1920, 1080, "yuv420p"
        video.options = {"preset": "ultrafast", "crf": "30"}
        for i in range(24 * 60):
            frame = av.VideoFrame.from_ndarray(np.roll(base, 2 * i, axis=1), format="rgb24")
            frame.pts = i
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
    with av.open(str(segment)) as source, av.open(str(path), "w") as out:
        stream = source.streams.video[0]
        target = out.add_stream_from_template(stream)
        packets = [p for p in source.demux(stream) if p.size]
        length = int(24 * 60 / (stream.time_base * 24))  # one segment, in the stream's time base
        for k in range(minutes):
            for p in packets:
                copy = av.Packet(bytes(p))
                copy.pts, copy.dts = p.pts + k * length, p.dts + k * length
                copy.is_keyframe, copy.time_base, copy.stream = p.is_keyframe, stream.time_base, target
                out.mux(copy)
    segment.unlink()
    return path


def make_track(path: Path, minutes: int) -> Path:
    from soundstage.safeguards.watermark.audio_samples import speech_like

    rate = 48_000
    minute = speech_like(60.0, rate, seed=3).reshape(-1) + 0.01 * np.random.default_rng(1).standard_normal(60 * rate)
    pcm = (np.clip(minute, -1, 1) * 32767).astype("<i2").tobytes()
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        for _ in range(minutes):
            out.writeframes(pcm)
    return path


def main() -> None:
    from soundstage.services.verify_service import detect_watermark

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=120)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/verify-long"))
    parser.add_argument("--production-key", action="store_true",
                        help="read with a production key and the public default one, as a production's workspace does")
    parser.add_argument("--whole", action="store_true", help="every span and window, as `verify --whole` reads")
    args = parser.parse_args()
    key = b"bench verify_long production key" if args.production_key else None
    if not 1 <= args.minutes <= 600:
        parser.error("--minutes must be 1-600")
    args.dir.mkdir(parents=True, exist_ok=True)
    film, track = args.dir / f"film-{args.minutes}min.mp4", args.dir / f"track-{args.minutes}min.wav"
    if not film.is_file():
        make_film(film, args.minutes)
    if not track.is_file():
        make_track(track, args.minutes)
    print("| file | size | reads | found | time (each run) |\n|---|---|---|---|---|")
    for path in (film, track):
        times, result = [], {}
        for _ in range(args.repeats):
            start = time.perf_counter()
            result = detect_watermark(path, key, whole=args.whole) or {}
            times.append(time.perf_counter() - start)
        print(f"| {path.name} | {path.stat().st_size / 1e6:.0f} MB | {result.get('reads')} | {result.get('found')} "
              f"| {', '.join(f'{t:.1f} s' for t in times)} |", flush=True)


if __name__ == "__main__":
    main()
