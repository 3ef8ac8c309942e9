"""Error correction for the 64-bit payload: 128 coded bits, two codes.

**spread.2 (current): extended binary BCH(128, 64).** The narrow-sense BCH code of length
127 over GF(2^7) with the designed distance 21 has exactly 64 data bits (its generator,
the product of nine degree-7 minimal polynomials, has degree 63) and corrects any 10 wrong
bits; an overall parity bit makes 128. The detector's bit errors are independent bits, not
bursts, so a bit code corrects far more of them than a byte code (RS(16, 8) fails at 5 bits
in 5 bytes). Decoding: Berlekamp–Massey and a Chien search, only codewords within 10 bits
(parity bit included) accepted; then, if the sync validation is strong, Chase decoding
(the least reliable bits flipped in every combination, each pattern decoded).

**spread.1 (read only): RS(16, 8) over GF(256)**, the code of the marks made before; tried
once, errors only, so old marks still read.

Each code doubles as a check: a uniformly random 128-bit word lies within D bits of some
codeword with probability `ball_probability(D)` (D = 10: 1.3e-5; D = 4: 6e-13). A decoded word
is accepted only if the detector's validation p-value times that probability, at the distance
D between the codeword and the bits as read, is at most `EVIDENCE` (whichever decoder found
it), so the false-positive bound is `soft_false_positive_bound()` = EVIDENCE x the number of
distances that can be accepted: a clean read needs no validation, a damaged one a strong
sync, and Chase decoding (the least reliable bits flipped in every combination) runs only
when the validation is strong enough to accept a codeword beyond hard decoding's 10 bits.
"""

from __future__ import annotations

from itertools import combinations
from math import comb

import numpy as np
from reedsolo import ReedSolomonError, RSCodec

DATA_BITS = 64
CODED_BITS = 128
BCH_N, BCH_T, BCH_M = 127, 10, 7
_PRIMITIVE = 0x89                      # x^7 + x^3 + 1

#: accept a decoded word when (validation p-value) x (probability that a random word lies that
#: close to some codeword) <= EVIDENCE; MAX_DISTANCE caps the distances (BCH bits) considered
EVIDENCE = 2e-9
MAX_DISTANCE = 16
RS_MAX_BYTES = 4
#: Chase flips tried once the validation allows a codeword beyond hard decoding's radius:
#: (smallest acceptable distance that makes the tier worth it, least reliable bits flipped)
CHASE_TIERS: tuple[tuple[int, int], ...] = ((BCH_T + 1, 8), (BCH_T + 3, 10))

# ---------------------------------------------------------------- GF(2^7)
_EXP = np.zeros(2 * BCH_N, dtype=np.int64)
_LOG = np.zeros(BCH_N + 1, dtype=np.int64)
_x = 1
for _i in range(BCH_N):
    _EXP[_i] = _x
    _LOG[_x] = _i
    _x <<= 1
    if _x & 0x80:
        _x ^= _PRIMITIVE
_EXP[BCH_N:] = _EXP[:BCH_N]


def _gf_mul(a: int, b: int) -> int:
    if a == 0 or b == 0:
        return 0
    return int(_EXP[(_LOG[a] + _LOG[b]) % BCH_N])


def _gf_inv(a: int) -> int:
    return int(_EXP[(BCH_N - _LOG[a]) % BCH_N])


def _poly_mul_gf2(a: list[int], b: list[int]) -> list[int]:
    """Product of two polynomials with GF(2) coefficients (lists, lowest degree first)."""
    out = [0] * (len(a) + len(b) - 1)
    for i, x in enumerate(a):
        if x:
            for j, y in enumerate(b):
                out[i + j] ^= y
    return out


def _minimal_polynomial(i: int) -> list[int]:
    """Minimal polynomial of alpha^i: the product of (x - alpha^j) over its cyclotomic coset."""
    coset, j = [], i % BCH_N
    while j not in coset:
        coset.append(j)
        j = (2 * j) % BCH_N
    poly = [1]                                      # GF(128) coefficients, lowest degree first
    for j in coset:
        root = int(_EXP[j])
        nxt = [0] * (len(poly) + 1)
        for k, c in enumerate(poly):
            nxt[k + 1] ^= c                         # x * c
            nxt[k] ^= _gf_mul(c, root)              # root * c  (minus = plus in characteristic 2)
        poly = nxt
    assert all(c in (0, 1) for c in poly)
    return poly


def _generator() -> list[int]:
    gen, seen = [1], set()
    for i in range(1, 2 * BCH_T, 2):
        coset_min = min((i * 2 ** k) % BCH_N for k in range(BCH_M))
        if coset_min not in seen:
            seen.add(coset_min)
            gen = _poly_mul_gf2(gen, _minimal_polynomial(i))
    return gen


_GEN = np.array(_generator(), dtype=np.uint8)                 # degree 63
_PARITY_BITS = len(_GEN) - 1
assert BCH_N - _PARITY_BITS == DATA_BITS
# syndrome table: alpha^(i * j) for bit position i (power of x) and syndrome j = 1 .. 2t
_SYN = _EXP[(np.arange(BCH_N)[:, None] * np.arange(1, 2 * BCH_T + 1)[None, :]) % BCH_N]
# bit k of the 127-bit block (k = 0: highest power) is the coefficient of x^(126 - k)
_POWER_OF_BIT = BCH_N - 1 - np.arange(BCH_N)


def _bch_encode(data_bits: np.ndarray) -> np.ndarray:
    """64 data bits -> 127-bit systematic codeword: data (x^126 .. x^63), then the remainder."""
    reg = np.zeros(BCH_N, dtype=np.uint8)               # coefficients, index = power
    reg[_PARITY_BITS:] = data_bits[::-1]                # m(x) * x^63 (data bit 0 is x^126)
    rem = reg.copy()
    for power in range(BCH_N - 1, _PARITY_BITS - 1, -1):
        if rem[power]:
            rem[power - _PARITY_BITS:power + 1] ^= _GEN
    code = reg.copy()
    code[:_PARITY_BITS] = rem[:_PARITY_BITS]
    return code[_POWER_OF_BIT]


def _syndromes(block: np.ndarray) -> np.ndarray:
    rows = _SYN[_POWER_OF_BIT[block.astype(bool)]]
    return np.bitwise_xor.reduce(rows, axis=0) if len(rows) else np.zeros(2 * BCH_T, dtype=np.int64)


def _berlekamp_massey(synd: np.ndarray) -> list[int]:
    """Error locator polynomial (GF(128) coefficients, lowest degree first)."""
    c, b = [1], [1]
    length, m, last = 0, 1, 1
    for n in range(2 * BCH_T):
        d = int(synd[n])
        for i in range(1, length + 1):
            if i < len(c) and c[i]:
                d ^= _gf_mul(c[i], int(synd[n - i]))
        if d == 0:
            m += 1
            continue
        coef = _gf_mul(d, _gf_inv(last))
        t = c[:]
        shifted = [0] * m + [_gf_mul(coef, x) for x in b]
        c = [(c[i] if i < len(c) else 0) ^ (shifted[i] if i < len(shifted) else 0)
             for i in range(max(len(c), len(shifted)))]
        if 2 * length <= n:
            length, b, last, m = n + 1 - length, t, d, 1
        else:
            m += 1
    while len(c) > 1 and c[-1] == 0:
        c.pop()
    return c


_CHIEN = (np.arange(BCH_N)[:, None] * np.arange(BCH_T + 1)[None, :]) % BCH_N   # power i, coefficient k


def _bch_decode_block(block: np.ndarray) -> tuple[np.ndarray | None, int]:
    """127 hard bits -> (corrected 127 bits, errors corrected) or (None, -1)."""
    synd = _syndromes(block)
    if not synd.any():
        return block.copy(), 0
    loc = _berlekamp_massey(synd)
    degree = len(loc) - 1
    if degree > BCH_T:
        return None, -1
    # Chien search: sigma(alpha^-i) == 0 marks an error at power i
    coefs = np.array(loc, dtype=np.int64)
    nz = coefs != 0
    logs = np.where(nz, _LOG[np.where(nz, coefs, 1)], 0)
    terms = np.where(nz[None, :], _EXP[(logs[None, :] - _CHIEN[:, :degree + 1] + BCH_T * BCH_N) % BCH_N], 0)
    values = np.bitwise_xor.reduce(terms, axis=1)
    powers = np.flatnonzero(values == 0)
    if len(powers) != degree:
        return None, -1
    out = block.copy()
    out[BCH_N - 1 - powers] ^= 1
    if _syndromes(out).any():
        return None, -1
    return out, degree


# ---------------------------------------------------------------- public: encode / decode

_RS = RSCodec(8)


def encode_payload(payload: int) -> np.ndarray:
    """64-bit int -> 128 coded bits (0/1, uint8): BCH(127, 64) data first, then the overall parity."""
    data = np.unpackbits(np.frombuffer(int(payload).to_bytes(8, "big"), dtype=np.uint8))
    block = _bch_encode(data)
    return np.concatenate([block, [int(block.sum()) & 1]]).astype(np.uint8)


def encode_payload_v1(payload: int) -> np.ndarray:
    """The spread.1 coding (RS(16, 8), data bytes first), kept to test reading old marks."""
    codeword = bytes(_RS.encode(int(payload).to_bytes(8, "big")))
    return np.unpackbits(np.frombuffer(codeword, dtype=np.uint8))


def decode_bits(bits: np.ndarray) -> tuple[int | None, int]:
    """128 hard bits -> (payload or None, bits corrected), BCH with the parity bit: accepted
    only within 10 bits of a codeword of the extended code."""
    bits = np.asarray(bits, dtype=np.uint8)
    block, corrected = _bch_decode_block(bits[:BCH_N])
    if block is None:
        return None, -1
    parity_ok = (int(block.sum()) & 1) == int(bits[BCH_N])
    distance = corrected + (0 if parity_ok else 1)
    if distance > BCH_T:
        return None, -1
    return int.from_bytes(np.packbits(block[:DATA_BITS]).tobytes(), "big"), distance


def decode_bits_v1(bits: np.ndarray) -> tuple[int | None, int]:
    """128 hard bits as spread.1's RS(16, 8) -> (payload or None, bytes corrected), within radius 4."""
    word = np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes()
    try:
        data, full, _ = _RS.decode(word)
    except ReedSolomonError:
        return None, -1
    full = bytes(full)
    if bytes(_RS.encode(bytes(data))) != full:
        return None, -1
    errors = sum(1 for a, b in zip(full, word) if a != b)
    if errors > 4:                      # reedsolo sometimes answers beyond the guaranteed radius
        return None, -1
    return int.from_bytes(bytes(data), "big"), errors


def _chase(soft: np.ndarray, bits: np.ndarray, flips: int, max_distance: int) -> tuple[int | None, int]:
    """Chase-II: flip every combination of the `flips` least reliable bits, decode each, and keep
    the codeword within `max_distance` of the bits as read that agrees best with the soft values."""
    order = np.argsort(np.abs(soft), kind="stable")[:flips]
    weight = np.abs(soft)
    best: tuple[float, int, int] | None = None
    seen: set[int] = set()
    for r in range(1, flips + 1):
        for combo in combinations(order, r):
            trial = bits.copy()
            trial[list(combo)] ^= 1
            payload, _ = decode_bits(trial)
            if payload is None or payload in seen:
                continue
            seen.add(payload)
            code = encode_payload(payload)
            wrong = code != bits
            distance = int(np.count_nonzero(wrong))
            if distance > max_distance:
                continue
            agreement = float(np.sum(weight[~wrong]) - np.sum(weight[wrong]))
            if best is None or agreement > best[0]:
                best = (agreement, payload, distance)
    return (best[1], best[2]) if best else (None, -1)


def ball_probability(distance: int, code: str = "bch") -> float:
    """P(a uniformly random 128-bit word lies within `distance` of some codeword) <= number of
    codewords x ball volume / number of words. BCH: distance in bits; RS: in bytes (of 16)."""
    if code == "rs":
        ball = sum(comb(16, i) * 255**i for i in range(distance + 1))
        return min(1.0, float(ball) / float(256**8))
    ball = sum(comb(CODED_BITS, i) for i in range(distance + 1))
    return min(1.0, float(ball) / float(2**DATA_BITS))


def max_accepted_distance(p_valid: float, code: str = "bch") -> int:
    """The largest distance a decoded word may have at this validation p-value (-1: none).

    `p_valid` is the union-bounded p-value of the validation (points validated x tail bound),
    deliberately not clipped at 1: with V points each class then costs at most EVIDENCE / V per
    point, so the rule's bound does not grow with the number of points."""
    cap = RS_MAX_BYTES if code == "rs" else MAX_DISTANCE
    best = -1
    for d in range(cap + 1):
        if p_valid * ball_probability(d, code) <= EVIDENCE:
            best = d
    return best


def decode_soft(soft: np.ndarray, scramble: np.ndarray, p_valid: float) -> tuple[int | None, int, str, float]:
    """Soft values (sign = bit before descrambling, size = reliability) -> (payload or None,
    bits (BCH) or bytes (RS) corrected, which decoder found it, the evidence against chance:
    number of acceptance classes x p_valid x ball_probability(distance)).

    Under no mark, the signs are uniform and independent of the sizes and of the validation
    (the keyed chips are symmetric and the bins disjoint), so the bits as read are a uniformly
    random word: whatever decoder proposes a codeword, it is that close with probability at most
    ball_probability(distance), and the acceptance rule bounds the rest."""
    soft = np.asarray(soft, dtype=np.float64)
    bits = (soft > 0).astype(np.uint8) ^ scramble
    if int(np.count_nonzero(np.abs(soft) < 1e-9)) > 4:        # degenerate (e.g. a flat picture)
        return None, -1, "", 0.0
    p = float(p_valid)
    classes = _acceptance_classes()

    def evidence(distance: int, code: str = "bch") -> float:
        return max(classes * p * ball_probability(distance, code), 1e-300)

    reach = max_accepted_distance(p)
    payload, corrected = decode_bits(bits)
    if payload is not None and corrected <= reach:
        return payload, corrected, "bch", evidence(corrected)
    rs_reach = max_accepted_distance(p, "rs")
    if rs_reach >= 0:
        payload, corrected = decode_bits_v1(bits)
        if payload is not None and corrected <= rs_reach:
            return payload, corrected, "rs", evidence(corrected, "rs")
    for worth, flips in CHASE_TIERS:
        if reach < worth:
            break
        payload, corrected = _chase(soft, bits, flips, reach)
        if payload is not None:
            return payload, corrected, f"bch+chase{flips}", evidence(corrected)
    return None, -1, "", 0.0


def _acceptance_classes() -> int:
    """Distances that can be accepted: BCH 0..MAX_DISTANCE bits, RS 0..RS_MAX_BYTES bytes."""
    return (MAX_DISTANCE + 1) + (RS_MAX_BYTES + 1)


def raw_payload(bits: np.ndarray) -> int:
    """The data bits as read, without correction (for bit-accuracy measurements)."""
    return int.from_bytes(np.packbits(np.asarray(bits[:DATA_BITS], dtype=np.uint8)).tobytes(), "big")


def random_decode_probability(code: str = "bch") -> float:
    """P(a uniformly random 128-bit word decodes) at the codes' full radius (BCH 10 bits, RS 4 bytes)."""
    return ball_probability(BCH_T if code == "bch" else RS_MAX_BYTES, code)


def soft_false_positive_bound() -> float:
    """P(an unmarked picture yields an id), for the whole rule: under no mark the validation
    p-value P satisfies P(P <= x) <= x, so for each distance class
    P(within D and P x ball(D) <= EVIDENCE) <= ball(D) x EVIDENCE / ball(D); summed over classes."""
    return _acceptance_classes() * EVIDENCE
