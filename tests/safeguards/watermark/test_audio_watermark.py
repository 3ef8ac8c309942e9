"""The audio mark (io.soundstage.audio.1): round trip, the fast attack subset, null clips, a forged
mark, bad input. The whole attack suite over many clips is bench/audio_watermark.py."""

from __future__ import annotations

import numpy as np
import pytest

from soundstage.errors import InputError
from soundstage.safeguards.watermark import audio_ecc, audio_samples
from soundstage.testing import audio_attacks
from soundstage.safeguards.watermark.audio import (
    ALG, DECODE_CANDIDATES, MIN_DETECT_SECONDS, AudioWatermark, default_audio_engine, false_positive_bound,
)
from soundstage.safeguards.watermark.protocol import Detection

KEY = bytes(range(32))
PAYLOAD = 0xD1CE_5EED_0BAD_F00D
RATE = 48_000


@pytest.fixture(scope="module")
def engine() -> AudioWatermark:
    return default_audio_engine(KEY)


@pytest.fixture(scope="module")
def line() -> np.ndarray:
    return audio_samples.speech_like(6.0, RATE, seed=21, channels=2)


@pytest.fixture(scope="module")
def marked(engine: AudioWatermark, line: np.ndarray) -> np.ndarray:
    return engine.embed(line, RATE, PAYLOAD)


def _snr_db(clean: np.ndarray, marked: np.ndarray) -> float:
    noise = marked.astype(np.float64) - clean
    return float(10 * np.log10(np.sum(clean.astype(np.float64) ** 2) / np.sum(noise ** 2)))


def test_interface_the_voice_jobs_code_against(engine: AudioWatermark, line: np.ndarray, marked: np.ndarray):
    assert ALG == "io.soundstage.audio.1" and engine.name == ALG
    assert marked.shape == line.shape and marked.dtype == np.float32
    assert np.max(np.abs(marked)) <= 1.0
    assert not np.array_equal(marked, line)
    found = engine.detect(marked, RATE)
    assert isinstance(found, Detection) and found.found and found.payload == PAYLOAD
    assert found.engine == ALG and found.false_positive_rate == false_positive_bound() <= 1e-6
    read = np.unpackbits(np.frombuffer(bytes.fromhex(found.details["codeword"]), np.uint8))
    assert np.mean(read == audio_ecc.encode_payload(PAYLOAD)) > 0.97  # raw bits, before Reed-Solomon
    assert _snr_db(line, marked) > 9.0  # the mark follows the line's own spectrum (PESQ in bench/)
    assert default_audio_engine(KEY) is engine  # cached per key


def test_mono_and_44k1_lines_carry_it_too():
    engine = default_audio_engine(KEY)
    mono = audio_samples.speech_like(4.0, 44_100, seed=5)
    found = engine.detect(engine.embed(mono, 44_100, 7), 44_100)
    assert found.found and found.payload == 7


@pytest.mark.parametrize("attack", ["mp3_128", "aac_128", "resample_44k", "music_bed_-10dB", "speed_0.90",
                                    "speed_1.10", "excerpt_2s", "mp3_128+excerpt_2s"])
def test_the_mark_survives(engine: AudioWatermark, marked: np.ndarray, attack: str):
    attacked, rate = audio_attacks.apply(attack, marked, RATE, seed=3)
    found = engine.detect(attacked, rate)
    assert found.found and found.payload == PAYLOAD, (attack, found.details)
    if attack.startswith("speed"):
        assert found.details["speed"] == pytest.approx(float(attack.split("_")[1]), abs=0.015)


def test_a_2s_window_anywhere(engine: AudioWatermark, marked: np.ndarray):
    for start in (0.0, 1.37, 3.9):
        window = marked[int(start * RATE):int((start + 2.0) * RATE)]
        assert engine.detect(window, RATE).payload == PAYLOAD, start


def test_unmarked_audio_is_not_marked(engine: AudioWatermark, line: np.ndarray):
    for name, clip in [("line", line)] + audio_samples.clip_set(4, 2.0, RATE, seed=900):
        found = engine.detect(clip, RATE)
        assert not found.found and found.payload is None and found.false_positive_rate == 1.0, name
    assert engine.detect(audio_samples.silence(3.0, RATE), RATE).details["reason"] == "silence"
    assert not engine.detect(np.zeros((RATE, 1), np.float32) + 0.1, RATE).found  # DC


def test_too_short_to_read_says_so(engine: AudioWatermark, marked: np.ndarray):
    found = engine.detect(marked[: RATE], RATE)
    assert not found.found and "shorter" in found.details["reason"]


@pytest.mark.parametrize("seconds", [MIN_DETECT_SECONDS, 1.3])
def test_a_short_clip_marked_whole_reads(engine: AudioWatermark, seconds: float):
    """One period (1.024 s) and a window is enough: the minimum a short line is marked in."""
    for seed in (31, 32, 33):
        clip = engine.embed(audio_samples.speech_like(seconds, RATE, seed=seed), RATE, PAYLOAD + seed)
        found = engine.detect(clip, RATE)
        assert found.found and found.payload == PAYLOAD + seed, (seconds, seed)


def test_adversary_a_mark_forged_with_another_key_is_not_accepted(engine: AudioWatermark, line: np.ndarray):
    """Someone without the production's key marks a line with one of our asset ids: nothing reads."""
    forged = AudioWatermark(b"not the production's key, guessed").embed(line, RATE, PAYLOAD)
    assert not engine.detect(forged, RATE).found
    assert not default_audio_engine(None).detect(forged, RATE).found  # nor with the public default key
    # ... and our own mark does not read under another key either
    assert not AudioWatermark(b"another production's key").detect(engine.embed(line, RATE, PAYLOAD), RATE).found


def test_adversary_a_second_mark_on_top_does_not_yield_a_chosen_id(engine: AudioWatermark, marked: np.ndarray):
    """Re-marking with the public default key (which anyone has) does not change what our key reads."""
    overwritten = default_audio_engine(None).embed(marked, RATE, 0x1234)
    assert engine.detect(overwritten, RATE).payload in (PAYLOAD, None)


def test_the_false_positive_bound_is_what_the_decoder_can_spend():
    per_candidate = audio_ecc.attempt_probability(0) + audio_ecc.attempt_probability(2)
    assert false_positive_bound() == pytest.approx(DECODE_CANDIDATES * per_candidate)
    assert false_positive_bound() <= 1e-6


@pytest.mark.parametrize(("samples", "rate", "payload", "message"), [
    (np.zeros((48_000, 1), np.int16), RATE, 1, "float32"),
    (np.zeros(48_000, np.float32), RATE, 1, "shaped"),
    (np.zeros((48_000, 17), np.float32), RATE, 1, "shaped"),
    (np.full((48_000, 1), np.nan, np.float32), RATE, 1, "NaN"),
    (np.zeros((48_000, 1), np.float32), 4_000, 1, "outside"),
    (np.zeros((48_000, 1), np.float32), 48_000.0, 1, "int"),
    (np.zeros((48_000, 1), np.float32), RATE, 1 << 64, "64 bits"),
    (np.zeros((48_000, 1), np.float32), RATE, -1, "64 bits"),
    ([[0.0]], RATE, 1, "numpy"),
])
def test_bad_input_is_one_clear_error(engine: AudioWatermark, samples, rate, payload, message):
    with pytest.raises(InputError, match=message):
        engine.embed(samples, rate, payload)


def test_empty_key_and_bad_strength_are_refused():
    with pytest.raises(InputError):
        AudioWatermark(b"")
    with pytest.raises(InputError):
        AudioWatermark(KEY, strength=0.0)


@pytest.mark.slow
def test_no_false_positive_on_unmarked_clips(engine: AudioWatermark):
    """A sample of the null study (bench/audio_watermark.py --null 300 runs 300 clips)."""
    clips = audio_samples.clip_set(24, 2.5, RATE, seed=5000)
    assert not any(engine.detect(clip, RATE).found for _, clip in clips)
