"""Watermark benchmark: our spread engine vs invisible-watermark's dwtDct, dwtDctSvd, rivaGan.

Same frames, same run, one markdown table on stdout: embed/detect time per 1080p frame,
PSNR, and bit accuracy after each attack of the suite (soundstage.safeguards.watermark.attacks).

    .venv/bin/python bench/watermark.py --quick          # 1 frame for rivaGan, short clip
    .venv/bin/python bench/watermark.py --frames 3

Needs scikit-image (test photos) and, for the imwatermark rows, `pip install torch==2.13.0`
plus `pip install --no-deps invisible-watermark PyWavelets` (imwatermark imports torch).
Bit accuracy: share of payload bits read correctly (ours: 64 bits after RS decoding, or
the raw data bits when RS fails; imwatermark: 32 bits, no ECC). 50% is chance.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from soundstage.safeguards.watermark import SpreadSpectrumWatermark, attacks, samples

ATTACKS = ["none", "jpeg50", "jpeg75", "h264_crf28", "resize50", "crop10", "brightness+20", "contrast1.2"]


@dataclass
class Method:
    """Adapter: embed(rgb, bits) -> rgb, decode(rgb) -> bits, decode_clip(frames) -> bits."""

    name: str
    bits: int
    embed: Callable[[np.ndarray, np.ndarray], np.ndarray]
    decode: Callable[[np.ndarray], np.ndarray]
    decode_clip: Callable[[list[np.ndarray]], np.ndarray]
    max_frames: int = 99
    clip_frames: int = 12


@dataclass
class Result:
    embed_ms: list[float] = field(default_factory=list)
    detect_ms: list[float] = field(default_factory=list)
    psnr: list[float] = field(default_factory=list)
    acc: dict[str, list[float]] = field(default_factory=dict)
    clip_embed_ms: float = 0.0


def bits_of(value: int, n: int) -> np.ndarray:
    return np.array([(value >> (n - 1 - i)) & 1 for i in range(n)], dtype=np.uint8)


def value_of(bits: np.ndarray) -> int:
    return int("".join(str(int(b)) for b in bits), 2)


def ours() -> Method:
    engine = SpreadSpectrumWatermark()

    def read(det) -> np.ndarray:
        value = det.payload if det.payload is not None else det.details.get("raw_payload", 0)
        return bits_of(int(value), 64)

    return Method(
        name="soundstage spread (64 bit + RS)", bits=64,
        embed=lambda rgb, bits: engine.embed(rgb, value_of(bits)),
        decode=lambda rgb: read(engine.detect(rgb)),
        decode_clip=lambda frames: read(engine.detect_frames(frames)),
    )


def imwatermark_methods(quick: bool) -> list[Method]:
    try:
        from imwatermark import WatermarkDecoder, WatermarkEncoder
    except ImportError as exc:
        print(f"<!-- imwatermark unavailable ({exc}); only our engine is measured -->", file=sys.stderr)
        return []
    methods = []
    for method in ("dwtDct", "dwtDctSvd", "rivaGan"):
        if method == "rivaGan":
            WatermarkEncoder.loadModel()

        def embed(rgb: np.ndarray, bits: np.ndarray, method: str = method) -> np.ndarray:
            enc = WatermarkEncoder()
            enc.set_watermark("bits", [int(b) for b in bits])
            out = enc.encode(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), method)
            return cv2.cvtColor(out, cv2.COLOR_BGR2RGB)

        def decode(rgb: np.ndarray, method: str = method) -> np.ndarray:
            dec = WatermarkDecoder("bits", 32)
            return np.array(dec.decode(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), method), dtype=np.uint8)[:32]

        def decode_clip(frames: list[np.ndarray], decode=decode) -> np.ndarray:
            votes = np.mean([decode(f) for f in frames], axis=0)   # per-frame decode, majority vote
            return (votes > 0.5).astype(np.uint8)

        slow = method == "rivaGan"
        methods.append(Method(f"imwatermark {method} (32 bit)", 32, embed, decode, decode_clip,
                              max_frames=1 if (slow and quick) else 99,
                              clip_frames=3 if slow else 12))
    return methods


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255.0**2 / max(mse, 1e-12))


def run(method: Method, frames: list[np.ndarray], clip: list[np.ndarray], rng: np.random.Generator) -> Result:
    res = Result()
    for frame in frames[: method.max_frames]:
        truth = rng.integers(0, 2, method.bits).astype(np.uint8)
        t0 = time.perf_counter()
        marked = method.embed(frame, truth)
        res.embed_ms.append((time.perf_counter() - t0) * 1000)
        res.psnr.append(psnr(frame, marked))
        for name in ATTACKS:
            attacked = attacks.STILL_ATTACKS[name](marked)
            t0 = time.perf_counter()
            got = method.decode(attacked)
            if name == "none":
                res.detect_ms.append((time.perf_counter() - t0) * 1000)
            res.acc.setdefault(name, []).append(float(np.mean(got == truth)))
    truth = rng.integers(0, 2, method.bits).astype(np.uint8)
    sub = clip[: method.clip_frames]
    t0 = time.perf_counter()
    marked_clip = [method.embed(f, truth) for f in sub]
    res.clip_embed_ms = (time.perf_counter() - t0) * 1000 / len(sub)
    decoded = attacks.h264_roundtrip(marked_clip, crf=28)
    kept = attacks.drop_frames(decoded, keep_every=3)
    res.acc.setdefault("video_h264_dropped", []).append(float(np.mean(method.decode_clip(kept) == truth)))
    return res


def null_study(n: int, seed: int = 11) -> None:
    """Empirical null: sync z and RS decodes of our detector on unmarked pictures
    (random crops/rescales of the photos, plus synthetic ones), against the model
    P(max z > t) <= 16384 * n_tests * Q(t) used for the FPR bound."""
    import math

    engine = SpreadSpectrumWatermark()
    rng = np.random.default_rng(seed)
    photos = list(samples.natural_images().values())
    synth = list(samples.synthetic_frames(960, 540, seed=seed).values())
    zs, decodes, found = [], 0, 0
    for i in range(n):
        if i % 5 == 4:
            img = synth[i % len(synth)]
        else:
            base = cv2.resize(photos[rng.integers(len(photos))], None, fx=rng.uniform(1.0, 3.0),
                              fy=rng.uniform(1.0, 3.0), interpolation=cv2.INTER_CUBIC)
            h, w = base.shape[:2]
            ch, cw = int(rng.integers(min(h, 256), h + 1)), int(rng.integers(min(w, 256), w + 1))
            y0, x0 = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
            img = np.ascontiguousarray(base[y0:y0 + ch, x0:x0 + cw])
            if rng.random() < 0.5:
                img = attacks.jpeg(img, int(rng.integers(40, 95)))
        det = engine.detect(img)
        zs.append(det.details["sync_z"])
        decodes += det.details["rs_corrected_bytes"] >= 0
        found += det.found
    zs_arr = np.array(zs)
    print(f"\nNull study: {n} unmarked pictures. found={found}, RS decodes={decodes}, "
          f"sync z (max over 16384 shifts): mean {zs_arr.mean():.2f}, sd {zs_arr.std():.2f}, max {zs_arr.max():.2f}")
    print("| z threshold | empirical P(max z > t) | model bound 16384*2*Q(t) |")
    print("|---|---|---|")
    for t in (4.0, 4.5, 5.0, 5.5, 6.0):
        model = min(1.0, 16384 * 2 * 0.5 * math.erfc(t / math.sqrt(2)))
        print(f"| {t} | {np.mean(zs_arr > t):.3f} | {model:.3g} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer frames (rivaGan: 1 frame, 3-frame clip)")
    parser.add_argument("--frames", type=int, default=None, help="number of 1080p test frames")
    parser.add_argument("--only-ours", action="store_true", help="skip the imwatermark rows")
    parser.add_argument("--null", type=int, default=0, metavar="N", help="also run the null study on N unmarked pictures")
    args = parser.parse_args(argv)
    n_frames = args.frames or (2 if args.quick else 4)
    frames = [samples.natural_frame(1920, 1080, variant=i) for i in range(n_frames)]
    clip = samples.panning_clip(n_frames=12, width=1920, height=1080)
    methods = [ours()] + ([] if args.only_ours else imwatermark_methods(args.quick))
    rng = np.random.default_rng(2026)
    header = ["method", "embed ms (still)", "embed ms/frame (clip)", "detect ms", "PSNR dB", *ATTACKS, "video H.264+drop"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for method in methods:
        res = run(method, frames, clip, rng)
        cells = [method.name, f"{statistics.median(res.embed_ms):.0f}", f"{res.clip_embed_ms:.0f}",
                 f"{statistics.median(res.detect_ms):.0f}",
                 f"{min(res.psnr):.1f}"]
        cells += [f"{100 * np.mean(res.acc[a]):.0f}" for a in ATTACKS]
        cells.append(f"{100 * np.mean(res.acc['video_h264_dropped']):.0f}")
        print("| " + " | ".join(cells) + " |", flush=True)
    print(f"\nFrames: {n_frames} natural 1920x1080 (scikit-image photos; rivaGan: "
          f"{1 if args.quick else n_frames}), clip: 12-frame 1080p pan (rivaGan: 3), H.264 libx264 CRF 28 medium, "
          "2 of every 3 frames dropped. Bit accuracy in %, 50 = chance. PSNR: worst frame.")
    if args.null:
        null_study(args.null)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
