"""Reed-Solomon for the audio mark: 8 data bytes + 12 parity bytes = 160 coded bits, RS(20, 8).

Why not the image mark's RS(16, 8) (`ecc.py`): a two-second excerpt gives each bit only a few
dozen time-frequency cells, so the audio decoder must (a) try several candidate alignments and
(b) use the bits' reliabilities, marking the least reliable bytes as erasures. Every such attempt
is another chance for noise to decode, so the code must be much harder to hit by chance: a random
20-byte word decodes with RS(20, 8) with probability 1.3e-10 (RS(16, 8): 4.2e-7), and with 2 bytes
erased 7.6e-9. `attempt_probability` gives the exact figure for each attempt, and the detector adds
them up into its false-positive bound.
"""

from __future__ import annotations

from math import comb

import numpy as np
from reedsolo import ReedSolomonError, RSCodec

__all__ = ["DATA_BYTES", "PARITY_BYTES", "CODED_BITS", "encode_payload", "decode_soft", "attempt_probability",
           "ERASURE_STEPS"]

DATA_BYTES = 8
PARITY_BYTES = 12
N_BYTES = DATA_BYTES + PARITY_BYTES
CODED_BITS = 8 * N_BYTES
#: erasure counts tried per candidate, in order (0 = plain errors-only decoding)
ERASURE_STEPS = (0, 2)

_CODEC = RSCodec(PARITY_BYTES)


def encode_payload(payload: int) -> np.ndarray:
    """64-bit int -> 160 bits (0/1, uint8), data bytes first (systematic)."""
    codeword = bytes(_CODEC.encode(int(payload).to_bytes(DATA_BYTES, "big")))
    return np.unpackbits(np.frombuffer(codeword, dtype=np.uint8))


def attempt_probability(erasures: int) -> float:
    """P(a uniformly random word decodes) when `erasures` bytes are erased: the erased code is
    RS(20 - e, 8), correcting t = (12 - e) // 2 errors, so #codewords * ball(t) / #words."""
    n = N_BYTES - erasures
    parity = PARITY_BYTES - erasures
    t = parity // 2
    ball = sum(comb(n, i) * 255 ** i for i in range(t + 1))
    return float(ball) / float(256 ** parity)


def decode_soft(soft: np.ndarray, scramble: np.ndarray) -> tuple[int | None, int, int, float]:
    """Soft bits (> 0 means 1, before unscrambling) -> (payload or None, corrected bytes, erasures
    used, the summed random-decode probability of the attempts made)."""
    soft = np.asarray(soft, dtype=np.float64)
    bits = (soft > 0).astype(np.uint8) ^ scramble
    word = np.packbits(bits).tobytes()
    reliability = np.abs(soft).reshape(N_BYTES, 8).min(axis=1)
    order = [int(i) for i in np.argsort(reliability)]
    spent = 0.0
    for erasures in ERASURE_STEPS:
        spent += attempt_probability(erasures)
        try:
            data, _, errata = _CODEC.decode(word, erase_pos=order[:erasures] if erasures else None)
        except ReedSolomonError:
            continue
        return int.from_bytes(bytes(data), "big"), len(errata), erasures, spent
    return None, -1, 0, spent


def worst_case_probability() -> float:
    """What one candidate can cost at most (all ERASURE_STEPS tried)."""
    return sum(attempt_probability(e) for e in ERASURE_STEPS)
