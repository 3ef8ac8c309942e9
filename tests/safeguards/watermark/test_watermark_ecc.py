"""The payload codes: BCH(128, 64) for spread.2 marks, RS(16, 8) for reading spread.1 marks, soft
decoding, and the random-decode probabilities the false-positive bound is built from."""

from __future__ import annotations

from math import comb

import numpy as np
import pytest

from soundstage.safeguards.watermark import ecc


def test_bch_round_trip_corrects_any_ten_bit_errors() -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        payload = int(rng.integers(0, 2**63)) * 2 + int(rng.integers(0, 2))
        coded = ecc.encode_payload(payload)
        assert coded.shape == (128,) and set(np.unique(coded)) <= {0, 1}
        errors = int(rng.integers(0, 11))
        damaged = coded.copy()
        damaged[rng.choice(128, errors, replace=False)] ^= 1
        assert ecc.decode_bits(damaged) == (payload, errors)


def test_bch_never_answers_beyond_ten_bits() -> None:
    """Twelve errors: refused, or (rarely) another codeword, but never one further than 10 bits."""
    rng = np.random.default_rng(1)
    for _ in range(200):
        coded = ecc.encode_payload(int(rng.integers(0, 2**63)))
        damaged = coded.copy()
        damaged[rng.choice(128, 12, replace=False)] ^= 1
        payload, _ = ecc.decode_bits(damaged)
        if payload is not None:
            assert np.count_nonzero(ecc.encode_payload(payload) != damaged) <= 10


def test_random_words_rarely_decode() -> None:
    rng = np.random.default_rng(2)
    assert sum(ecc.decode_bits(rng.integers(0, 2, 128))[0] is not None for _ in range(2000)) == 0
    assert 1e-5 < ecc.random_decode_probability("bch") < 2e-5
    assert 1e-7 < ecc.random_decode_probability("rs") < 1e-6


def test_spread_1_marks_still_decode_with_reed_solomon() -> None:
    coded = ecc.encode_payload_v1(0x0123456789ABCDEF)
    damaged = coded.copy()
    for byte in (0, 5, 9, 15):
        damaged[byte * 8 + 3] ^= 1
    assert ecc.decode_bits_v1(damaged) == (0x0123456789ABCDEF, 4)
    damaged[11 * 8] ^= 1                                    # a fifth wrong byte: beyond the radius
    assert ecc.decode_bits_v1(damaged) == (None, -1)
    assert ecc.decode_bits(coded)[0] is None                # an RS word is no BCH codeword


def _soft(coded: np.ndarray, scramble: np.ndarray, flips: list[int], rng: np.random.Generator) -> np.ndarray:
    """Soft values for `coded` (before descrambling): confident bits, and weak wrong ones at `flips`."""
    sign = ((coded ^ scramble).astype(float) * 2 - 1)
    size = rng.uniform(2.0, 4.0, coded.size)
    size[flips] = rng.uniform(0.05, 0.3, len(flips))
    sign[flips] *= -1
    return sign * size


def test_chase_decoding_corrects_weak_bits_hard_decoding_cannot() -> None:
    rng = np.random.default_rng(3)
    scramble = rng.integers(0, 2, 128).astype(np.uint8)
    payload = 0xFEEDFACECAFEBEEF
    coded = ecc.encode_payload(payload)
    wrong = [int(i) for i in rng.choice(128, 13, replace=False)]  # 13 > 10: hard decoding fails
    soft = _soft(coded, scramble, wrong, rng)
    bits = (soft > 0).astype(np.uint8) ^ scramble
    assert ecc.decode_bits(bits)[0] is None
    # the weakest bits are the wrong ones: flipping 4 of them leaves 9, within reach
    got, corrected, how, bound = ecc.decode_soft(soft, scramble, p_valid=1e-9)
    assert got == payload and how.startswith("bch+chase")
    assert 0 < bound < 1e-9
    # without a strong validation a codeword 13 bits away is not accepted, and nothing decodes
    assert ecc.decode_soft(soft, scramble, p_valid=1e-3)[0] is None


def test_the_validation_needed_grows_with_the_distance_to_the_codeword() -> None:
    """A clean read is its own evidence (a random word lies that close to a codeword with
    probability 5e-20); a read 9 bits away needs a strong sync, 16 bits away is never enough."""
    rng = np.random.default_rng(4)
    scramble = rng.integers(0, 2, 128).astype(np.uint8)
    coded = ecc.encode_payload(77)
    clean = _soft(coded, scramble, [], rng)
    assert ecc.decode_soft(clean, scramble, p_valid=12.0)[:3] == (77, 0, "bch")
    nine = _soft(coded, scramble, [int(i) for i in rng.choice(128, 9, replace=False)], rng)
    assert ecc.decode_soft(nine, scramble, p_valid=0.5) == (None, -1, "", 0.0)
    got, corrected, how, evidence = ecc.decode_soft(nine, scramble, p_valid=1e-4)
    assert (got, corrected, how) == (77, 9, "bch")
    assert evidence <= ecc.soft_false_positive_bound()
    assert ecc.max_accepted_distance(12.0) == 5 and ecc.max_accepted_distance(1e-3) == 9
    assert ecc.max_accepted_distance(1e-30) == ecc.MAX_DISTANCE


def test_the_acceptance_rule_holds_on_random_words() -> None:
    """The adversary's check of the rule itself: random soft values at the validation levels an
    unmarked picture reaches decode nothing, even with Chase decoding allowed."""
    rng = np.random.default_rng(5)
    scramble = rng.integers(0, 2, 128).astype(np.uint8)
    for p in (12.0, 1e-2, 1e-4):
        assert all(ecc.decode_soft(rng.normal(0, 1, 128), scramble, p_valid=p)[0] is None for _ in range(300))
    chased = [ecc.decode_soft(rng.normal(0, 1, 128), scramble, p_valid=1e-6)[0] for _ in range(20)]
    assert all(c is None for c in chased)


def test_degenerate_soft_values_decode_nothing() -> None:
    """A flat picture gives all-zero soft values; they must not read as any codeword."""
    scramble = np.zeros(128, np.uint8)
    assert ecc.decode_soft(np.zeros(128), scramble, p_valid=1e-30)[0] is None


@pytest.mark.parametrize("code", ["bch", "rs"])
def test_probability_formula_is_the_ball_volume(code: str) -> None:
    """codewords x words within the decoding radius of one / all words."""
    p = ecc.random_decode_probability(code)
    if code == "bch":
        assert p == pytest.approx(sum(comb(128, i) for i in range(11)) / 2**64)
    else:
        assert p == pytest.approx(sum(comb(16, i) * 255**i for i in range(5)) / 256**8)


def test_the_whole_rule_stays_far_below_one_in_a_million() -> None:
    assert ecc.soft_false_positive_bound() < 1e-7
    assert ecc.soft_false_positive_bound() == pytest.approx(
        ecc.EVIDENCE * (ecc.MAX_DISTANCE + 1 + ecc.RS_MAX_BYTES + 1))
