"""Reference ring arithmetic with Python integers: the specification the C kernel is tested against.

Arrays are converted to numpy object arrays of Python ints, computed on
exactly and converted back, so every reduction is the mathematical one. The
transforms run the same stage order as the kernel, vectorised one stage at a
time; modulus switching and the lifts follow their defining formulas directly,
from the ring parameters rather than from the kernel's precomputed constants.
All functions return fresh arrays and never modify their arguments.
"""

from __future__ import annotations

import numpy as np

from offchain import _fieldref
from offchain.lattice.params import PLAINTEXT_MODULUS
from offchain.lattice.tables import CrtTables, NttTables, SlotTables

NAME = "reference"
name = NAME  # The attribute LatticeOps asks of a backend.


def _ints(a: np.ndarray) -> np.ndarray:
    return a.astype(object)


def _moduli(t: NttTables) -> np.ndarray:
    """The primes as an (L, 1) object column, to broadcast along each row."""
    return np.array(t.params.primes, dtype=object).reshape(-1, 1)


def _u64(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x.astype(np.uint64))


def _cooley_tukey(x: np.ndarray, w: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Forward negacyclic NTT of each row of x (Longa-Naehrig Alg. 1), one stage per loop."""
    rows, n = x.shape
    q3 = q.reshape(rows, 1, 1)
    m, half = 1, n
    while m < n:
        half //= 2
        # Stage m pairs index 2*i*half + k with the one half further on, for twiddle m + i.
        x = x.reshape(rows, m, 2, half)
        s = w[:, m:2 * m].reshape(rows, m, 1)
        u, v = x[:, :, 0, :], x[:, :, 1, :] * s % q3
        x = np.stack([(u + v) % q3, (u - v) % q3], axis=2).reshape(rows, n)
        m *= 2
    return x


def _gentleman_sande(x: np.ndarray, w: np.ndarray, q: np.ndarray, ninv: np.ndarray) -> np.ndarray:
    """Inverse negacyclic NTT of each row (Longa-Naehrig Alg. 2), scaled by n^-1 at the end."""
    rows, n = x.shape
    q3 = q.reshape(rows, 1, 1)
    m, half = n, 1
    while m > 1:
        h = m // 2
        x = x.reshape(rows, h, 2, half)
        s = w[:, h:2 * h].reshape(rows, h, 1)
        u, v = x[:, :, 0, :], x[:, :, 1, :]
        x = np.stack([(u + v) % q3, (u - v) * s % q3], axis=2).reshape(rows, n)
        half *= 2
        m = h
    scaled: np.ndarray = x * ninv % q
    return scaled


def ntt(a: np.ndarray, t: NttTables) -> np.ndarray:
    """Coefficient form -> evaluation form, per prime."""
    return _u64(_cooley_tukey(_ints(a), _ints(t.fwd), _moduli(t)))


def intt(a: np.ndarray, t: NttTables) -> np.ndarray:
    """Evaluation form -> coefficient form, per prime."""
    q = _moduli(t)
    ninv = np.array([pow(t.params.n, -1, int(p)) for p in t.params.primes], dtype=object).reshape(-1, 1)
    return _u64(_gentleman_sande(_ints(a), _ints(t.inv), q, ninv))


def add(a: np.ndarray, b: np.ndarray, t: NttTables) -> np.ndarray:
    return _u64((_ints(a) + _ints(b)) % _moduli(t))


def sub(a: np.ndarray, b: np.ndarray, t: NttTables) -> np.ndarray:
    return _u64((_ints(a) - _ints(b)) % _moduli(t))


def neg(a: np.ndarray, t: NttTables) -> np.ndarray:
    return _u64(-_ints(a) % _moduli(t))


def mul(a: np.ndarray, b: np.ndarray, t: NttTables) -> np.ndarray:
    """Pointwise product: in evaluation form, the product in the ring."""
    return _u64(_ints(a) * _ints(b) % _moduli(t))


def mul_const(a: np.ndarray, c: np.ndarray, t: NttTables) -> np.ndarray:
    """Row i times the constant c[i] < q_i: multiplication by an RNS constant."""
    return _u64(_ints(a) * _ints(c).reshape(-1, 1) % _moduli(t))


def from_i64(v: np.ndarray, t: NttTables) -> np.ndarray:
    """Signed int64 coefficients -> residues v mod q_i (numpy int64 to Python ints first)."""
    return _u64(np.array([int(x) for x in v], dtype=object).reshape(1, -1) % _moduli(t))


def from_field(limbs: np.ndarray, t: NttTables) -> np.ndarray:
    """Elements of Z_r lifted to (-r/2, r/2], then reduced modulo each prime."""
    r = PLAINTEXT_MODULUS
    lifted = [x - r if x > r // 2 else x for x in _fieldref.to_ints(limbs)]
    return _u64(np.array(lifted, dtype=object).reshape(1, -1) % _moduli(t))


def mod_switch(a: np.ndarray, t: NttTables) -> np.ndarray:
    """Drops the last prime q_L: c' = (c - delta) / q_L with delta = t * [t^-1 * c]_{q_L}.

    [x]_q is the representative in [-(q-1)/2, (q-1)/2]; delta = c (mod q_L)
    and delta = 0 (mod t), so c - delta is divisible by q_L and keeps c mod t.
    """
    primes, tmod = t.params.primes, PLAINTEXT_MODULUS
    ql = primes[-1]
    v = _ints(a[-1]) * pow(tmod, -1, ql) % ql
    v = np.where(v > ql // 2, v - ql, v)
    delta = v * tmod
    rows = [(_ints(a[i]) - delta) * pow(ql, -1, q) % q for i, q in enumerate(primes[:-1])]
    return _u64(np.stack(rows))


def crt_to_field(a: np.ndarray, t: NttTables, c: CrtTables) -> np.ndarray:
    """Each column's residues -> its representative x in (-Q/2, Q/2] by the CRT -> x mod r, as limbs.

    x = sum_i [a_i (Q/q_i)^-1]_{q_i} (Q/q_i) mod Q, then centred, straight from the ring's primes.
    """
    primes, modulus = c.params.primes, c.params.modulus
    total = np.zeros(a.shape[1], dtype=object)
    for row, q in zip(a, primes, strict=True):
        cofactor = modulus // q
        total = total + _ints(row) * pow(cofactor, -1, q) % q * cofactor
    centred = [x - modulus if x > modulus // 2 else x for x in (int(v) % modulus for v in total)]
    return _fieldref.from_ints([x % PLAINTEXT_MODULUS for x in centred])


def slot_ntt(limbs: np.ndarray, s: SlotTables) -> np.ndarray:
    """Plaintext coefficients -> slots: the negacyclic NTT over Z_r (decoding)."""
    x = np.array(_fieldref.to_ints(limbs), dtype=object).reshape(1, -1)
    w = np.array(s.fwd_ints, dtype=object).reshape(1, -1)
    y = _cooley_tukey(x, w, np.array([[PLAINTEXT_MODULUS]], dtype=object))
    return _fieldref.from_ints([int(v) for v in y[0]])


def slot_intt(limbs: np.ndarray, s: SlotTables) -> np.ndarray:
    """Slots -> plaintext coefficients: the inverse negacyclic NTT over Z_r (encoding)."""
    x = np.array(_fieldref.to_ints(limbs), dtype=object).reshape(1, -1)
    w = np.array(s.inv_ints, dtype=object).reshape(1, -1)
    r = np.array([[PLAINTEXT_MODULUS]], dtype=object)
    y = _gentleman_sande(x, w, r, np.array([[s.ninv_int]], dtype=object))
    return _fieldref.from_ints([int(v) for v in y[0]])
