"""The distributions of BGV, drawn from a byte source: uniform residues, ternary, binomial and flooding noise.

Every sampler takes ``randbytes: Callable[[int], bytes]``: production passes
:func:`secrets.token_bytes`, known-answer tests a seeded stream. Draws are
vectorised over numpy arrays of bytes and bits, so a coefficient's value never
chooses a branch or a memory index. The only data-dependent step is rejection,
and it looks only at candidates it throws away: whether a candidate is kept
says nothing about the values that are kept.

Distributions, with the bound each guarantees (the noise analysis in
:mod:`offchain.lattice.noise` relies on these bounds):

- :func:`uniform_residues` / :func:`uniform_poly`: uniform modulo each prime,
  hence uniform modulo Q by the CRT; exact, without modulo bias.
- :func:`ternary`: uniform on {-1, 0, 1}; infinity norm 1.
- :func:`cbd`: the centred binomial distribution with parameter k, the sum
  of k fair bits minus the sum of k more; variance k/2, so k = 21 (variance
  10.5, sigma 3.24) stands in for the homomorphic-encryption standard's
  Gaussian of sigma 3.2; infinity norm k.
- :func:`symmetric_poly`: uniform integers in (-2^bits, 2^bits), the
  flooding noise; infinity norm 2^bits - 1.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from offchain.errors import ConfigError
from offchain.lattice.params import RingParams
from offchain.lattice.ring import CoeffPoly, EvalPoly

RandBytes = Callable[[int], bytes]
CBD_K = 21
"""The binomial parameter of every noise term (keys and encryptions): |e| <= 21, variance 10.5."""
_DIGIT_BITS = 31
"""Flooding values are built from signed base-2^31 digits, each of which fits an int64 with its sign."""


def _bytes(count: int, randbytes: RandBytes) -> np.ndarray:
    data = randbytes(count)
    if len(data) != count:
        raise ConfigError(f"the byte source returned {len(data)} bytes instead of {count}")
    return np.frombuffer(data, dtype=np.uint8)


def uniform_residues(q: int, count: int, randbytes: RandBytes) -> np.ndarray:
    """``count`` independent uniform values in [0, q) for a prime q < 2^63, as uint64.

    Each candidate is 8 random bytes cut to the bit length of q and kept when
    below q, so every value in [0, q) has the same probability (no modulo
    bias). At least half the candidates are kept, since q >= 2^(bits - 1).
    """
    if not 2 <= q < 2**63:
        raise ConfigError(f"cannot sample residues modulo {q}")
    mask = np.uint64((1 << q.bit_length()) - 1)
    kept: list[np.ndarray] = []
    missing = count
    while missing > 0:
        draw = missing * (1 << q.bit_length()) // q + 16
        candidates = _bytes(8 * draw, randbytes).view("<u8").astype(np.uint64) & mask
        accepted = candidates[candidates < np.uint64(q)][:missing]
        kept.append(accepted)
        missing -= len(accepted)
    return np.concatenate(kept) if kept else np.zeros(0, dtype=np.uint64)


def uniform_poly(params: RingParams, randbytes: RandBytes) -> EvalPoly:
    """A uniform element of R_Q, produced directly in evaluation form.

    The NTT is a bijection of each R_q, so uniform evaluations are the
    evaluations of a uniform polynomial: sampling them spares a transform.
    """
    rows = [uniform_residues(q, params.n, randbytes) for q in params.primes]
    return EvalPoly(np.stack(rows), params)


def ternary(n: int, randbytes: RandBytes) -> np.ndarray:
    """n values uniform on {-1, 0, 1}, as int64: a byte b below 255 = 3 * 85 gives (b mod 3) - 1.

    b mod 3 is b - 3 floor(b/3) with floor(b/3) = (171 b) >> 9, exact for
    b < 256: a multiply and a shift, the same time for every byte.
    """
    kept: list[np.ndarray] = []
    missing = n
    while missing > 0:
        candidates = _bytes(missing + missing // 64 + 8, randbytes)
        accepted = candidates[candidates < 255][:missing]
        kept.append(accepted)
        missing -= len(accepted)
    b = np.concatenate(kept).astype(np.int64) if kept else np.zeros(0, dtype=np.int64)
    result: np.ndarray = b - 3 * ((171 * b) >> 9) - 1
    return result


def _bits(rows: int, width: int, randbytes: RandBytes) -> np.ndarray:
    """A (rows, width) uint8 array of independent fair bits."""
    per_row = (width + 7) // 8
    raw = _bytes(rows * per_row, randbytes).reshape(rows, per_row)
    return np.unpackbits(raw, axis=1, bitorder="little")[:, :width]


def cbd(n: int, randbytes: RandBytes, k: int = CBD_K) -> np.ndarray:
    """n values of the centred binomial distribution: k fair bits minus k fair bits, as int64 in [-k, k]."""
    if k < 1:
        raise ConfigError(f"the binomial parameter must be positive, not {k}")
    bits = _bits(n, 2 * k, randbytes).astype(np.int64)
    result: np.ndarray = bits[:, :k].sum(axis=1) - bits[:, k:].sum(axis=1)
    return result


def symmetric_digits(n: int, bits: int, randbytes: RandBytes) -> list[np.ndarray]:
    """n uniform integers u in (-2^bits, 2^bits), as signed base-2^31 digits: u = sum_j d_j 2^(31 j).

    u = w - (2^bits - 1) for w uniform on [0, 2^(bits+1) - 1): a (bits+1)-bit
    string is redrawn in the one case it is all ones, so each of the 2^(bits+1) - 1
    values of u is equally likely. The digits d_j are those of w minus those
    of 2^bits - 1, digit by digit, so each lies in (-2^31, 2^31) and fits int64.
    """
    if not 1 <= bits <= 1000:
        raise ConfigError(f"flooding bits must lie in 1..1000, not {bits}")
    width = bits + 1
    w = _bits(n, width, randbytes)
    while True:
        redraw = np.flatnonzero(w.all(axis=1))
        if len(redraw) == 0:
            break
        w[redraw] = _bits(len(redraw), width, randbytes)
    offset = (1 << bits) - 1
    digits = []
    for start in range(0, width, _DIGIT_BITS):
        chunk = w[:, start:start + _DIGIT_BITS].astype(np.int64)
        weights = np.left_shift(np.int64(1), np.arange(chunk.shape[1], dtype=np.int64))
        digit = (offset >> start) & ((1 << _DIGIT_BITS) - 1)
        digits.append(chunk @ weights - np.int64(digit))
    return digits


def symmetric_poly(params: RingParams, bits: int, randbytes: RandBytes) -> CoeffPoly:
    """A polynomial with coefficients uniform in (-2^bits, 2^bits) (see :func:`symmetric_digits`)."""
    total = CoeffPoly.zeros(params)
    for j, digit in enumerate(symmetric_digits(params.n, bits, randbytes)):
        total = total + CoeffPoly.from_small(digit, params).scale(1 << (_DIGIT_BITS * j))
    return total
