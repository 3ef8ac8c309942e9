"""RS(20, 8) of the audio mark: corrects 6 wrong bytes, 7 when 2 unreliable ones are erased; noise rarely
decodes."""

from __future__ import annotations

import numpy as np
import pytest

from soundstage.safeguards.watermark import audio_ecc

PAYLOAD = 0x0123_4567_89AB_CDEF


def _soft(bits: np.ndarray, scramble: np.ndarray) -> np.ndarray:
    return ((bits ^ scramble).astype(np.float64) * 2 - 1) * 1.0


def _flip_bytes(soft: np.ndarray, which: list[int], reliability: float = 1.0) -> np.ndarray:
    out = soft.copy()
    for b in which:
        out[8 * b:8 * b + 8] *= -reliability
    return out


def test_round_trip_and_shape():
    bits = audio_ecc.encode_payload(PAYLOAD)
    assert bits.shape == (audio_ecc.CODED_BITS,) == (160,)
    scramble = np.random.default_rng(1).integers(0, 2, 160).astype(np.uint8)
    assert audio_ecc.decode_soft(_soft(bits, scramble), scramble)[:3] == (PAYLOAD, 0, 0)


def test_six_wrong_bytes_are_corrected_seven_are_not_without_erasures():
    scramble = np.zeros(160, np.uint8)
    soft = _soft(audio_ecc.encode_payload(PAYLOAD), scramble)
    payload, corrected, erased, _ = audio_ecc.decode_soft(_flip_bytes(soft, [0, 3, 5, 9, 12, 19]), scramble)
    assert (payload, corrected, erased) == (PAYLOAD, 6, 0)
    # 7 confident errors: beyond the code, and erasing the 2 least reliable (correct) bytes cannot help
    assert audio_ecc.decode_soft(_flip_bytes(soft, [5, 6, 7, 8, 9, 10, 11]), scramble)[0] != PAYLOAD


def test_unreliable_bytes_are_erased_so_seven_errors_can_be_fixed():
    scramble = np.zeros(160, np.uint8)
    soft = _soft(audio_ecc.encode_payload(PAYLOAD), scramble)
    bad = _flip_bytes(soft, [1, 4, 7, 10, 13])            # five confident errors
    bad = _flip_bytes(bad, [2, 18], reliability=0.01)     # and two barely-read, wrong bytes
    assert audio_ecc.decode_soft(_flip_bytes(bad, [16]), scramble)[0] is None  # 8 wrong: too many
    payload, _, erased, spent = audio_ecc.decode_soft(bad, scramble)
    assert payload == PAYLOAD and erased == 2
    assert spent == pytest.approx(audio_ecc.attempt_probability(0) + audio_ecc.attempt_probability(2))


def test_random_words_decode_as_rarely_as_the_bound_says():
    assert audio_ecc.attempt_probability(0) == pytest.approx(1.347e-10, rel=1e-3)
    assert audio_ecc.attempt_probability(2) == pytest.approx(7.65e-9, rel=1e-3)
    rng = np.random.default_rng(7)
    scramble = np.zeros(160, np.uint8)
    hits = sum(audio_ecc.decode_soft(rng.standard_normal(160), scramble)[0] is not None for _ in range(300))
    assert hits == 0
