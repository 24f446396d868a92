"""Precomputed constants of the negacyclic NTTs and of modulus switching, built once per ring.

Evaluation form, for a prime q and for the plaintext modulus r alike: entry k
of the transform of a(X) is a(psi^(2*brv(k) + 1)), where psi is the primitive
2N-th root of unity g^((q-1)/2N) for g the smallest quadratic non-residue,
and brv reverses the log2(N) bits of k. This is the order in which the
in-place Cooley-Tukey transform of Longa-Naehrig 2016 (Algorithm 1) leaves its
output when fed psi^brv(k) as twiddle k; its Gentleman-Sande inverse
(Algorithm 2) takes psi^-brv(k). Products in evaluation form are pointwise,
so any fixed order serves; this one is pinned by a test against the
definition.

Shoup companions w' = floor(w * 2^64 / q) let the kernel multiply by a
known constant w with two 64-bit products and no division (Shoup's trick as
used by Harvey 2014); Barrett constants floor(2^128 / q) serve products of two
variables.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from offchain import _fieldref
from offchain.errors import ConfigError
from offchain.lattice.params import PLAINTEXT_MODULUS, RingParams

# Columns of NttTables.scalars, one row per prime (the kernel reads them by these indices).
Q, NINV, NINV_S, ONE_S, BARRETT_LO, BARRETT_HI, TWO64, T_MOD = range(8)
# Columns of NttTables.switch: rows i < L-1 serve the primes kept, row L-1 the prime dropped.
SW_QLINV, SW_QLINV_S, SW_TQ, SW_TQ_S, SW_QL = range(5)
MONTGOMERY_R = 1 << 256
"""The field kernel's Montgomery radix; the r-NTT twiddles are stored multiplied by it."""


def shoup(w: int, q: int) -> int:
    """floor(w * 2^64 / q): the companion of the constant w < q for Shoup multiplication."""
    return (w << 64) // q


def bit_reverse(n: int) -> np.ndarray:
    """The permutation k -> brv(k) on log2(n) bits, as an int64 index array."""
    bits = n.bit_length() - 1
    k = np.arange(n, dtype=np.int64)
    out = np.zeros(n, dtype=np.int64)
    for b in range(bits):
        out |= ((k >> b) & 1) << (bits - 1 - b)
    return out


def root_of_unity(n: int, q: int) -> int:
    """psi = g^((q-1)/2n), g the smallest non-residue: psi^n = g^((q-1)/2) = -1, so psi has order 2n."""
    if (q - 1) % (2 * n):
        raise ConfigError(f"{q} is not 1 mod {2 * n}")
    g = 2
    while pow(g, (q - 1) // 2, q) != q - 1:
        g += 1
    return pow(g, (q - 1) // (2 * n), q)


def twiddles(n: int, q: int) -> tuple[list[int], list[int]]:
    """(psi^brv(k), psi^-brv(k)) for k < n, as Python ints below q."""
    psi = root_of_unity(n, q)
    powers = [1] * n
    for k in range(1, n):
        powers[k] = powers[k - 1] * psi % q
    # psi^-k = -psi^(n-k) because psi^n = -1, which spares n modular inversions.
    inverse = [1] + [q - powers[n - k] for k in range(1, n)]
    order = bit_reverse(n).tolist()
    return [powers[j] for j in order], [inverse[j] for j in order]


@cache
def _prime_rows(n: int, q: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Twiddles and their Shoup companions for one prime, shared by every ring that uses it."""
    fwd, inv = twiddles(n, q)
    rows = (fwd, [shoup(w, q) for w in fwd], inv, [shoup(w, q) for w in inv])
    return tuple(np.array(r, dtype=np.uint64) for r in rows)  # type: ignore[return-value]


@dataclass(frozen=True, eq=False)
class NttTables:
    """Everything the RNS operations of one ring need, as contiguous uint64 arrays.

    ``fwd``/``fwd_s`` and ``inv``/``inv_s`` are (L, N): the twiddles of the
    forward and inverse transforms and their Shoup companions. ``scalars`` is
    (L, 8) with the columns named at the top of this module. ``lift`` is (L, 8):
    2^(64k) mod q and its companion for k = 0..3, to reduce a 4-limb field
    element. ``switch`` is (L, 8): for kept prime i, q_L^-1 mod q_i, t*q_L^-1
    mod q_i (with companions) and q_L mod q_i; row L-1 holds t^-1 mod q_L and
    its companion. Python ints of the same values serve the reference.
    """

    params: RingParams
    fwd: np.ndarray
    fwd_s: np.ndarray
    inv: np.ndarray
    inv_s: np.ndarray
    scalars: np.ndarray
    lift: np.ndarray
    switch: np.ndarray


def _scalar_row(n: int, q: int) -> list[int]:
    ninv = pow(n, -1, q)
    barrett = (1 << 128) // q
    return [q, ninv, shoup(ninv, q), (1 << 64) // q, barrett & (2**64 - 1), barrett >> 64,
            (1 << 64) % q, PLAINTEXT_MODULUS % q]


def _lift_row(q: int) -> list[int]:
    row = []
    for k in range(4):
        w = pow(2, 64 * k, q)
        row += [w, shoup(w, q)]
    return row


def _switch_rows(primes: tuple[int, ...]) -> list[list[int]]:
    t, ql = PLAINTEXT_MODULUS, primes[-1]
    rows = []
    for q in primes[:-1]:
        qlinv = pow(ql, -1, q)
        tq = t * qlinv % q
        rows.append([qlinv, shoup(qlinv, q), tq, shoup(tq, q), ql % q, 0, 0, 0])
    tinv = pow(t, -1, ql)
    rows.append([tinv, shoup(tinv, ql), 0, 0, 0, 0, 0, 0])
    return rows


@cache
def ntt_tables(params: RingParams) -> NttTables:
    """The tables of ``params``, computed on first use and kept for the process."""
    rows = [_prime_rows(params.n, q) for q in params.primes]

    def stack(i: int) -> np.ndarray:
        return _frozen(np.stack([r[i] for r in rows]))

    return NttTables(
        params, stack(0), stack(1), stack(2), stack(3),
        _frozen(np.array([_scalar_row(params.n, q) for q in params.primes], dtype=np.uint64)),
        _frozen(np.array([_lift_row(q) for q in params.primes], dtype=np.uint64)),
        _frozen(np.array(_switch_rows(params.primes), dtype=np.uint64)))


@dataclass(frozen=True, eq=False)
class SlotTables:
    """Twiddles of the negacyclic NTT of length n over Z_r, the plaintext slots.

    ``fwd_ints``/``inv_ints`` are the twiddles as ints (for the reference);
    ``fwd``/``inv`` are the same values times 2^256 mod r as (n, 4) limb
    arrays, and ``ninv`` is n^-1 * 2^256 mod r as a (1, 4) array: a
    Montgomery product with such a constant gives the plain product.
    """

    n: int
    fwd_ints: tuple[int, ...]
    inv_ints: tuple[int, ...]
    ninv_int: int
    fwd: np.ndarray
    inv: np.ndarray
    ninv: np.ndarray


def _montgomery(values: list[int]) -> np.ndarray:
    return _frozen(_fieldref.from_ints([v * MONTGOMERY_R % PLAINTEXT_MODULUS for v in values]))


@cache
def slot_tables(n: int) -> SlotTables:
    """The r-NTT tables for n slots (r - 1 is divisible by 2^28, so n <= 2^27)."""
    if n < 2 or n & (n - 1) or (PLAINTEXT_MODULUS - 1) % (2 * n):
        raise ConfigError(f"{n} slots: need a power of two with 2n dividing r - 1")
    fwd, inv = twiddles(n, PLAINTEXT_MODULUS)
    ninv = pow(n, -1, PLAINTEXT_MODULUS)
    return SlotTables(n, tuple(fwd), tuple(inv), ninv, _montgomery(fwd), _montgomery(inv), _montgomery([ninv]))


def _frozen(a: np.ndarray) -> np.ndarray:
    """A contiguous read-only copy: tables are shared by every caller and must never change."""
    a = np.ascontiguousarray(a, dtype=np.uint64)
    a.flags.writeable = False
    return a


@dataclass(frozen=True, eq=False)
class CrtTables:
    """Constants of the centred CRT reconstruction modulo r that ends decryption, for one ring.

    With Q = prod q_i and Q_i = Q / q_i: ``crt`` is (L, 2), Q_i^-1 mod q_i and
    its Shoup companion; ``qhat`` is (L, L), Q_i as L little-endian limbs;
    ``half`` is (L, L), m Q + (Q - 1)/2 for m = 0..L-1 as L limbs (the
    thresholds that find the multiple of Q to subtract); ``qhat_r`` is (L, 4),
    Q_i mod r times 2^256 mod r (Montgomery form); ``kq_r`` is (L + 1, 4),
    k Q mod r for k = 0..L. L limbs hold every sum sum_i y_i Q_i with y_i < q_i,
    because it is below L Q < 2^(62 L) L <= 2^(64 L).
    """

    params: RingParams
    crt: np.ndarray
    qhat: np.ndarray
    half: np.ndarray
    qhat_r: np.ndarray
    kq_r: np.ndarray


def limbs(value: int, count: int) -> list[int]:
    """The non-negative ``value`` < 2^(64 count) as ``count`` little-endian 64-bit limbs."""
    if not 0 <= value < 1 << (64 * count):
        raise ConfigError(f"{value.bit_length()}-bit value does not fit {count} limbs")
    return [(value >> (64 * k)) & (2**64 - 1) for k in range(count)]


@cache
def crt_tables(params: RingParams) -> CrtTables:
    """The CRT tables of ``params``, computed on first use and kept for the process."""
    modulus, levels, r = params.modulus, params.levels, PLAINTEXT_MODULUS
    cofactors = [modulus // q for q in params.primes]
    inverses = [pow(m, -1, q) for m, q in zip(cofactors, params.primes, strict=True)]
    return CrtTables(
        params,
        _frozen(np.array([[w, shoup(w, q)] for w, q in zip(inverses, params.primes, strict=True)], dtype=np.uint64)),
        _frozen(np.array([limbs(m, levels) for m in cofactors], dtype=np.uint64)),
        _frozen(np.array([limbs(k * modulus + (modulus - 1) // 2, levels) for k in range(levels)], dtype=np.uint64)),
        _frozen(_fieldref.from_ints([m % r * MONTGOMERY_R % r for m in cofactors])),
        _frozen(_fieldref.from_ints([k * modulus % r for k in range(levels + 1)])))
