"""Audio watermark benchmark: our mark (io.soundstage.audio.1) against a classical baseline, same clips, same run.

Markdown on stdout (docs/benchmarks.md "Audio mark"):

1. per attack (soundstage.testing.audio_attacks: MP3/AAC 128 kb/s, 48 -> 44.1 kHz,
   a music bed 10 dB under the line, the line 10 dB under music, +-10 % speed (resampled, pitch moves),
   tempo changes with the pitch kept, a 2-second excerpt, MP3 then a 2-second excerpt): the share of
   clips whose exact 64-bit id comes back, and the bit accuracy of the 160 coded bits (50 % is chance);
2. inaudibility: SNR, segmental SNR and PESQ (ITU-T P.862.2 wide band, the `pesq` package, offline)
   of the marked line against the original;
3. speed: embed x real time on one core (CPU time, BLAS/FFT threads pinned to 1), detect time;
4. (--null N) the false-positive study: N unmarked clips (speech-like, music, white/pink/brown noise,
   speech over music, silence, and unmarked sections of the test lines).

**No peer could run** (DR017): AudioSeal, WavMark and SilentCipher ship no weights in their wheels
(each downloads a checkpoint from Hugging Face at first use, which soundstage never does), and
audiowmark is in neither Debian 12 nor PyPI. The second column is a *baseline* implemented here, not
a peer: plain time-domain direct-sequence spread spectrum (each of the same 160 RS(20, 8) coded bits
spread over its own keyed +-1 chip sequence, the 1-second block repeated, added at a fixed 25 dB SNR),
read by correlation at the original alignment and rate - what a textbook first attempt does.

    .venv/bin/python bench/audio_watermark.py --clips 12 --null 300
    .venv/bin/python bench/audio_watermark.py --quick          # 3 clips, no null study

The PESQ column needs `.venv/bin/pip install pesq==0.0.4` (built from source: a C compiler and the
Python headers); without it the column reads n/a. It is not in the [dev] extra for that reason.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # "one core", before numpy loads
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import datetime as dt  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Callable  # noqa: E402

import numpy as np  # noqa: E402

from soundstage.safeguards.watermark import audio_ecc, audio_samples
from soundstage.testing import audio_attacks  # noqa: E402
from soundstage.safeguards.watermark.audio import AudioWatermark, false_positive_bound  # noqa: E402

RATE = 48_000
KEY = b"bench audio key, 32 bytes long!!"
ATTACKS = ["none", "mp3_128", "aac_128", "resample_44k", "resample_48k_from_44k", "music_bed_-10dB",
           "under_music_+10dB", "speed_0.90", "speed_1.10", "tempo_0.97", "tempo_0.90", "tempo_1.10",
           "excerpt_2s", "mp3_128+excerpt_2s"]


@dataclass
class Method:
    name: str
    embed: Callable[[np.ndarray, int, int], np.ndarray]
    read: Callable[[np.ndarray, int], tuple[int | None, np.ndarray | None]]  # (payload, coded bits)


def ours() -> Method:
    engine = AudioWatermark(KEY)

    def read(x: np.ndarray, rate: int) -> tuple[int | None, np.ndarray | None]:
        found = engine.detect(x, rate)
        code = found.details.get("codeword")
        bits = np.unpackbits(np.frombuffer(bytes.fromhex(code), np.uint8)) if code else None
        return (found.payload if found.found else None), bits

    return Method("ours (io.soundstage.audio.1)", engine.embed, read)


class SpreadBaseline:
    """Baseline: time-domain DSSS at a fixed SNR, read at the original alignment (no sync, no scale search)."""

    SNR_DB = 25.0

    def __init__(self, key: bytes) -> None:
        rng = np.random.default_rng(int.from_bytes(key[:8], "big"))
        self.chips_per_bit = RATE // audio_ecc.CODED_BITS  # one block of 160 bits a second at 48 kHz
        self.chips = rng.choice(np.array([-1.0, 1.0]), size=(audio_ecc.CODED_BITS, self.chips_per_bit))
        self.scramble = rng.integers(0, 2, audio_ecc.CODED_BITS).astype(np.uint8)

    def _block(self, payload: int) -> np.ndarray:
        signs = (audio_ecc.encode_payload(payload) ^ self.scramble).astype(np.float64) * 2 - 1
        return (self.chips * signs[:, None]).ravel()

    def embed(self, x: np.ndarray, rate: int, payload: int) -> np.ndarray:
        block = self._block(payload)
        wave = np.resize(block, len(x))
        rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))
        mark = wave * rms * 10 ** (-self.SNR_DB / 20)
        return np.clip(x + mark[:, None], -1, 1).astype(np.float32)

    def read(self, x: np.ndarray, rate: int) -> tuple[int | None, np.ndarray | None]:
        from scipy.signal import resample_poly

        mono = x.astype(np.float64).mean(axis=1)
        if rate != RATE:  # it knows the original rate was 48 kHz (a generous assumption)
            mono = resample_poly(mono, RATE, rate)
        n_block = self.chips.size
        blocks = len(mono) // n_block
        if blocks == 0:
            return None, None
        folded = mono[: blocks * n_block].reshape(blocks, n_block).sum(axis=0)
        soft = (folded.reshape(audio_ecc.CODED_BITS, -1) * self.chips).sum(axis=1)
        payload, *_ = audio_ecc.decode_soft(soft, self.scramble)
        return payload, (soft > 0).astype(np.uint8) ^ self.scramble


def baseline() -> Method:
    b = SpreadBaseline(KEY)
    return Method("baseline: time-domain DSSS, 25 dB", b.embed, b.read)


def attack(name: str, x: np.ndarray, rate: int, seed: int) -> tuple[np.ndarray, int]:
    if name == "resample_48k_from_44k":  # the line was delivered at 44.1 kHz (marked there), then resampled
        return audio_attacks.resample(x, rate, 48_000)
    return audio_attacks.apply(name, x, rate, seed)


def snr_db(clean: np.ndarray, marked: np.ndarray) -> float:
    noise = marked.astype(np.float64) - clean
    return float(10 * np.log10(np.sum(clean.astype(np.float64) ** 2) / max(np.sum(noise ** 2), 1e-20)))


def segmental_snr_db(clean: np.ndarray, marked: np.ndarray, rate: int) -> float:
    """Mean over 20 ms frames with speech (frames 40 dB under the loudest are skipped), each clamped to
    [-10, 35] dB (the usual definition)."""
    a = clean.astype(np.float64).mean(axis=1)
    b = marked.astype(np.float64).mean(axis=1)
    n = int(0.02 * rate)
    frames = len(a) // n
    sa = (a[: frames * n].reshape(frames, n) ** 2).sum(axis=1)
    sn = ((b - a)[: frames * n].reshape(frames, n) ** 2).sum(axis=1)
    keep = sa > sa.max() * 1e-4
    return float(np.mean(np.clip(10 * np.log10(sa[keep] / np.maximum(sn[keep], 1e-20)), -10, 35)))


def pesq_wb(clean: np.ndarray, marked: np.ndarray, rate: int) -> float | None:
    try:
        from pesq import pesq
    except ImportError:
        return None
    from scipy.signal import resample_poly

    a = resample_poly(clean.astype(np.float64).mean(axis=1), 16_000, rate)
    b = resample_poly(marked.astype(np.float64).mean(axis=1), 16_000, rate)
    return float(pesq(16_000, a, b, "wb"))


def measure(methods: list[Method], clips: list[tuple[np.ndarray, int, int]]) -> None:
    exact = {m.name: {a: 0 for a in ATTACKS} for m in methods}
    accuracy: dict[str, dict[str, list[float]]] = {m.name: {a: [] for a in ATTACKS} for m in methods}
    quality: dict[str, dict[str, list[float]]] = {m.name: {"snr": [], "segsnr": [], "pesq": []} for m in methods}
    for index, (clip, rate, payload) in enumerate(clips):
        truth = audio_ecc.encode_payload(payload)
        for m in methods:
            marked = m.embed(clip, rate, payload)
            quality[m.name]["snr"].append(snr_db(clip, marked))
            quality[m.name]["segsnr"].append(segmental_snr_db(clip, marked, rate))
            score = pesq_wb(clip, marked, rate)
            if score is not None:
                quality[m.name]["pesq"].append(score)
            for name in ATTACKS:
                source, source_rate = (marked, rate)
                if name == "resample_48k_from_44k":
                    clip44, _ = audio_attacks.resample(clip, rate, 44_100)
                    source, source_rate = m.embed(clip44, 44_100, payload), 44_100
                attacked, attacked_rate = attack(name, source, source_rate, seed=index)
                found, bits = m.read(attacked, attacked_rate)
                exact[m.name][name] += int(found == payload)
                accuracy[m.name][name].append(float(np.mean(bits == truth)) if bits is not None else 0.5)
        print(f"<!-- clip {index + 1}/{len(clips)} done -->", file=sys.stderr, flush=True)
    n = len(clips)
    print(f"| attack | {' | '.join(f'{m.name}: exact id' for m in methods)} | "
          f"{' | '.join(f'{m.name}: bit accuracy' for m in methods)} |")
    print("|---|" + "---|" * (2 * len(methods)))
    for name in ATTACKS:
        ids = " | ".join(f"{exact[m.name][name]}/{n}" for m in methods)
        acc = " | ".join(f"{100 * statistics.mean(accuracy[m.name][name]):.1f}%" for m in methods)
        print(f"| {name} | {ids} | {acc} |")
    print("\n| inaudibility (mean over the clips) | " + " | ".join(m.name for m in methods) + " |")
    print("|---|" + "---|" * len(methods))
    for key, label in (("snr", "SNR (dB)"), ("segsnr", "segmental SNR (dB)"), ("pesq", "PESQ wide band (1-4.64)")):
        cells = [f"{statistics.mean(quality[m.name][key]):.2f}" if quality[m.name][key] else "n/a" for m in methods]
        print(f"| {label} | " + " | ".join(cells) + " |")


def speed(seconds: float = 30.0, repeats: int = 5) -> None:
    engine = AudioWatermark(KEY)
    clip = audio_samples.speech_like(seconds, RATE, seed=77, channels=2)
    engine.embed(clip[:RATE * 3], RATE, 1)  # warm caches
    cpu, wall = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        marked = engine.embed(clip, RATE, 0x5EED)
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - t0)
    timings = {}
    for label, x in (("marked 10 s", marked[: 10 * RATE]), ("unmarked 10 s", clip[: 10 * RATE]),
                     ("marked 2 s excerpt", marked[3 * RATE:5 * RATE])):
        t0 = time.process_time()
        engine.detect(x, RATE)
        timings[label] = time.process_time() - t0
    print(f"\nSpeed (one core: BLAS/FFT threads pinned to 1; CPU time of this process, median of {repeats}): "
          f"embed {seconds:.0f} s of 48 kHz stereo in {1000 * statistics.median(cpu):.0f} ms = "
          f"**{seconds / statistics.median(cpu):.0f}x real time** (wall {1000 * statistics.median(wall):.0f} ms, "
          f"{seconds / statistics.median(wall):.0f}x, on a shared 2-core machine). Detect: "
          + ", ".join(f"{k} {1000 * v:.0f} ms" for k, v in timings.items()) + ".")


def null_study(n: int) -> None:
    engine = AudioWatermark(KEY)
    clips = audio_samples.clip_set(max(0, n - n // 10), 3.0, RATE, seed=40_000)
    for i in range(n // 10):  # unmarked sections of the test lines, and silence
        line = audio_samples.speech_like(8.0, RATE, seed=50_000 + i, channels=2)
        start = int(np.random.default_rng(i).integers(0, 5 * RATE))
        clips.append(("test-line section", line[start:start + 3 * RATE]))
    clips[-1] = ("silence", audio_samples.silence(3.0, RATE))
    found = 0
    kinds: dict[str, int] = {}
    for kind, clip in clips:
        kinds[kind] = kinds.get(kind, 0) + 1
        found += int(engine.detect(clip, RATE).found)
    print(f"\nNull study: {len(clips)} unmarked 3-second clips ("
          + ", ".join(f"{v} {k}" for k, v in sorted(kinds.items())) + f"): **{found} reported marked**. "
          f"Bound per detection: {false_positive_bound():.2e} (DR017).")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=12, help="speech-like lines of --seconds each")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--null", type=int, default=0, help="unmarked clips for the false-positive study")
    parser.add_argument("--quick", action="store_true", help="3 clips, no null study")
    args = parser.parse_args(argv)
    n = 3 if args.quick else args.clips
    rng = np.random.default_rng(2026)
    clips = [(audio_samples.speech_like(args.seconds, RATE, seed=1000 + i, channels=2), RATE,
              int(rng.integers(0, 2 ** 63))) for i in range(n)]
    print(f"<!-- bench/audio_watermark.py {' '.join(argv or sys.argv[1:])} - "
          f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC -->")
    print(f"{n} speech-like lines of {args.seconds:g} s, 48 kHz stereo (audio_samples.speech_like: a source-filter "
          "voice with moving formants, syllables, pauses and fricatives; synthesised, nothing downloaded).\n")
    measure([ours(), baseline()], clips)
    speed()
    if args.null and not args.quick:
        null_study(args.null)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
