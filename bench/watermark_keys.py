"""Reading with two keys: each key's own read against one shared read (DR015, twelfth pass; DR017).

`soundstage verify` reads a still, every span of a clip and every excerpt of a sound file with the
production's key and then the public default one. What a read works out without the key (whitening,
the key-independent geometries and their folds, the rotation search's folds, the perspective
search's first lattices; for sound, the resampling and the whitened band log-magnitudes at every
speed) is shared (`spread.Picture`, `spread.detect_frames_with`, `audio.Sound`). Same inputs, same
run, alternating:

    .venv/bin/python -P bench/watermark_keys.py [--pictures 30] [--rounds 2] [--threads 1]

Stills: the bench's 30 unmarked speed pictures (`samples.unmarked_pictures(30, seed=3)`, where both
keys read everything the bounds allow). Clip: one unmarked 48-frame 1080p span (a slow pan), what
`verify` reads per span. Sound: unmarked speech-like sound at 48 kHz, a 20 s head and a 2 s window
(every speed of the grid is tried). CPU seconds (process time), so the figures do not depend on the
second core.
"""

from __future__ import annotations

import argparse
import time

import cv2
import numpy as np

from soundstage.safeguards.watermark import audio_samples, samples, spread
from soundstage.safeguards.watermark.audio import AudioWatermark, Sound


def _cpu(work) -> float:
    start = time.process_time()
    work()
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pictures", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="OpenCV threads (1: CPU as the budget counts it)")
    args = parser.parse_args()
    if not 1 <= args.pictures <= 300 or not 1 <= args.rounds <= 10 or not 1 <= args.threads <= 64:
        parser.error("--pictures 1-300, --rounds 1-10, --threads 1-64")
    cv2.setNumThreads(args.threads)
    production, public = spread.SpreadSpectrumWatermark(b"bench production key"), spread.SpreadSpectrumWatermark()
    pictures = [p for _, p in samples.unmarked_pictures(args.pictures, seed=3)]
    base = samples.natural_frame(1920 + 200, 1080, variant=2)
    span = [np.ascontiguousarray(base[:, 4 * k:4 * k + 1920]) for k in range(48)]
    production.detect(pictures[0])
    public.detect(pictures[0])
    heard, unheard = AudioWatermark(b"bench production key"), AudioWatermark()
    rate = 48_000
    sounds = {"20 s head": audio_samples.speech_like(20.0, rate, seed=3),
              "2 s window": audio_samples.speech_like(2.0, rate, seed=4)}

    def shared_sound(x: np.ndarray) -> None:
        sound = Sound(x, rate)
        heard.read(sound)
        unheard.read(sound)

    def separate_stills() -> None:
        for p in pictures:
            production.detect(p)
            public.detect(p)

    def shared_stills() -> None:
        for p in pictures:
            picture = spread.Picture(p)
            production.read(picture)
            public.read(picture)

    rows: dict[str, list[float]] = {k: [] for k in ("stills: one key", "stills: two keys, each alone",
                                                   "stills: two keys, shared", "span: one key",
                                                   "span: two keys, each alone", "span: two keys, shared")}
    for name in sounds:
        rows.update({f"sound, {name}: one key": [], f"sound, {name}: two keys, each alone": [],
                     f"sound, {name}: two keys, shared": []})
    for _ in range(args.rounds):
        rows["stills: one key"].append(_cpu(lambda: [production.detect(p) for p in pictures]))
        rows["stills: two keys, each alone"].append(_cpu(separate_stills))
        rows["stills: two keys, shared"].append(_cpu(shared_stills))
        rows["span: one key"].append(_cpu(lambda: production.detect_frames(span)))
        rows["span: two keys, each alone"].append(_cpu(lambda: (production.detect_frames(span),
                                                                public.detect_frames(span))))
        rows["span: two keys, shared"].append(_cpu(lambda: spread.detect_frames_with([production, public], span)))
        for name, x in sounds.items():
            rows[f"sound, {name}: one key"].append(_cpu(lambda x=x: heard.detect(x, rate)))
            rows[f"sound, {name}: two keys, each alone"].append(_cpu(lambda x=x: (heard.detect(x, rate),
                                                                                 unheard.detect(x, rate))))
            rows[f"sound, {name}: two keys, shared"].append(_cpu(lambda x=x: shared_sound(x)))
    print(f"| read ({len(pictures)} unmarked pictures; one 48-frame 1080p span; sound) | CPU per round | "
          "against one key |\n|---|---|---|")
    for name, times in rows.items():
        one = rows[name.split(":")[0] + ": one key"]
        ratio = min(times) / min(one)
        print(f"| {name} | {', '.join(f'{t:.2f} s' for t in times)} | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
