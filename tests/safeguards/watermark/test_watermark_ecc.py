"""Reed–Solomon layer: corrects 4 byte errors, refuses garbage, and its null rate."""

from __future__ import annotations

import numpy as np

from soundstage.safeguards.watermark import ecc


def test_round_trip_and_four_byte_errors_corrected() -> None:
    bits = ecc.encode_payload(0x0123456789ABCDEF)
    assert bits.shape == (128,)
    damaged = bits.copy()
    for byte in (0, 5, 9, 15):
        damaged[byte * 8 + 3] ^= 1
    assert ecc.decode_bits(damaged) == (0x0123456789ABCDEF, 4)


def test_random_words_rarely_decode() -> None:
    rng = np.random.default_rng(0)
    decoded = sum(ecc.decode_bits(rng.integers(0, 2, 128))[0] is not None for _ in range(2000))
    assert decoded == 0
    assert 1e-7 < ecc.random_decode_probability() < 1e-6
