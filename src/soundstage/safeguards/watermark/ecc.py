"""Reed–Solomon over the 64-bit payload: 8 data bytes + 8 parity bytes = 128 coded bits.

RS(16, 8) over GF(256) corrects any 4 wrong bytes. It doubles as a check: a random
16-byte word lands within 4 byte-errors of some codeword with probability
`random_decode_probability()` (about 4.2e-7), which is one of the two factors of the
detector's false-positive bound.
"""

from __future__ import annotations

from math import comb

import numpy as np
from reedsolo import ReedSolomonError, RSCodec

DATA_BYTES = 8
PARITY_BYTES = 8
CODED_BITS = 8 * (DATA_BYTES + PARITY_BYTES)

_CODEC = RSCodec(PARITY_BYTES)


def encode_payload(payload: int) -> np.ndarray:
    """64-bit int -> 128 bits (0/1, uint8), data bytes first (systematic code)."""
    codeword = bytes(_CODEC.encode(int(payload).to_bytes(DATA_BYTES, "big")))
    return np.unpackbits(np.frombuffer(codeword, dtype=np.uint8))


def decode_bits(bits: np.ndarray) -> tuple[int | None, int]:
    """128 hard bits -> (payload or None, number of corrected byte errors)."""
    codeword = np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes()
    try:
        data, _, errata = _CODEC.decode(codeword)
    except ReedSolomonError:
        return None, -1
    return int.from_bytes(bytes(data), "big"), len(errata)


def raw_payload(bits: np.ndarray) -> int:
    """The data bits as read, without correction (for bit-accuracy measurements)."""
    return int.from_bytes(np.packbits(np.asarray(bits[: 8 * DATA_BYTES], dtype=np.uint8)).tobytes(), "big")


def random_decode_probability() -> float:
    """P(a uniformly random 16-byte word decodes) = #codewords * ball volume / #words."""
    t = PARITY_BYTES // 2
    n = DATA_BYTES + PARITY_BYTES
    ball = sum(comb(n, i) * 255**i for i in range(t + 1))
    return float(ball) / float(256**PARITY_BYTES)
