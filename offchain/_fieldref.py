"""Reference arithmetic on limb arrays with Python integers: the specification.

Every operation converts the (n, 4) little-endian uint64 limb arrays used by
:class:`offchain.field.FieldVec` to Python ints, computes modulo ``P`` and
converts back. It is slow and obviously right; the C kernel is tested
against it and replaces it when built.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from offchain.errors import DecodeError

P = 21888242871839275222246405745257275088548364400416034343698204186575808495617
_MASK254 = (1 << 254) - 1
NAME = "reference"


def to_ints(a: np.ndarray) -> list[int]:
    """Limb array -> list of ints."""
    raw = np.ascontiguousarray(a, dtype="<u8").tobytes()
    return [int.from_bytes(raw[i:i + 32], "little") for i in range(0, len(raw), 32)]


def from_ints(values: Sequence[int]) -> np.ndarray:
    """List of ints in [0, P) -> limb array."""
    raw = b"".join(v.to_bytes(32, "little") for v in values)
    return np.frombuffer(raw, dtype="<u8").astype(np.uint64).reshape(len(values), 4)


def _map2(f: Callable[[int, int], int], a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return from_ints([f(x, y) for x, y in zip(to_ints(a), to_ints(b), strict=True)])


def add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return _map2(lambda x, y: (x + y) % P, a, b)


def sub(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return _map2(lambda x, y: (x - y) % P, a, b)


def neg(a: np.ndarray) -> np.ndarray:
    return from_ints([-x % P for x in to_ints(a)])


def add_scalar(a: np.ndarray, s: int) -> np.ndarray:
    return from_ints([(x + s) % P for x in to_ints(a)])


def mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return _map2(lambda x, y: x * y % P, a, b)


def mul_scalar(a: np.ndarray, s: int) -> np.ndarray:
    return from_ints([x * s % P for x in to_ints(a)])


def mul_add(c: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return from_ints([(z + x * y) % P for z, x, y in zip(to_ints(c), to_ints(a), to_ints(b), strict=True)])


def dot(a: np.ndarray, b: np.ndarray) -> int:
    return sum(x * y for x, y in zip(to_ints(a), to_ints(b), strict=True)) % P


def total(a: np.ndarray) -> int:
    return sum(to_ints(a)) % P


def binary(a: np.ndarray, width: int) -> np.ndarray:
    """sum_i 2^i a[i n + j] for each j < n = len(a) / width: rows read as bits, least significant first."""
    values, n = to_ints(a), len(a) // width
    return from_ints([sum(values[i * n + j] << i for i in range(width)) % P for j in range(n)])


def horner(acc: int, a: np.ndarray, t: int) -> int:
    """acc * t^n + sum_i a_i * t^(n-1-i): Horner's rule continued from acc."""
    for v in to_ints(a):
        acc = (acc * t + v) % P
    return acc


def beaver(cs: np.ndarray, cm: np.ndarray, as_: np.ndarray, am: np.ndarray, bs: np.ndarray,
           bm: np.ndarray, d: np.ndarray, e: np.ndarray, alpha: int, first: bool
           ) -> tuple[np.ndarray, np.ndarray]:
    """One party's Beaver recombination: (c + e*a + d*b [+ d*e], MAC + alpha_i*d*e)."""
    dd, ee = to_ints(d), to_ints(e)
    de = [x * y for x, y in zip(dd, ee, strict=True)]
    share = [(c + y * a + x * b + (z if first else 0)) % P
             for c, a, b, x, y, z in zip(to_ints(cs), to_ints(as_), to_ints(bs), dd, ee, de, strict=True)]
    mac = [(c + y * a + x * b + alpha * z) % P
           for c, a, b, x, y, z in zip(to_ints(cm), to_ints(am), to_ints(bm), dd, ee, de, strict=True)]
    return from_ints(share), from_ints(mac)


def from_be(data: bytes | memoryview, n: int) -> np.ndarray:
    """Parses n 32-byte big-endian elements; raises DecodeError on a value >= P."""
    raw = bytes(data)
    values = [int.from_bytes(raw[32 * i:32 * i + 32], "big") for i in range(n)]
    for i, v in enumerate(values):
        if v >= P:
            raise DecodeError(f"element {i} is not below the field modulus")
    return from_ints(values)


def to_be(a: np.ndarray, prefix: bytes = b"") -> bytes:
    """``prefix`` followed by the elements as 32-byte big-endian strings."""
    return prefix + b"".join(v.to_bytes(32, "big") for v in to_ints(a))


def sample(n: int, randbytes: Callable[[int], bytes]) -> np.ndarray:
    """n uniform elements by rejection: 32 little-endian bytes, low 254 bits, keep if < P."""
    out: list[int] = []
    while len(out) < n:
        need = n - len(out)
        buf = randbytes(32 * (need + need // 3 + 8))
        for i in range(0, len(buf), 32):
            v = int.from_bytes(buf[i:i + 32], "little") & _MASK254
            if v < P and len(out) < n:
                out.append(v)
    return from_ints(out)


TWO_ADICITY = 28
ODD = (P - 1) >> TWO_ADICITY
"""P - 1 = 2^28 * ODD for the BN254 scalar field."""


def _non_residue() -> int:
    z = 2
    while pow(z, (P - 1) // 2, P) != P - 1:
        z += 1
    return z


def _g_powers() -> list[int]:
    g, powers = pow(_non_residue(), ODD, P), []
    for _ in range(TWO_ADICITY):
        powers.append(g)
        g = g * g % P
    return powers


G_POWERS = _g_powers()
"""g^(2^k) for k = 0..S-1, g = z^ODD for the smallest non-residue z: g has order 2^S."""


def inv_sqrt(a: np.ndarray) -> np.ndarray | None:
    """1 / v for each element s, v its square root in [0, (P - 1) / 2]; None if some s is 0 or no square.

    Tonelli-Shanks with the powers of g tabulated once: one exponentiation per
    element and on average about S^2 / 4 = 196 squarings (S = 28); the
    inverses take one inversion for the whole vector (Montgomery's trick).
    """
    roots = []
    for s in to_ints(a):
        v = _square_root(s) if s else None
        if v is None:
            return None
        roots.append(min(v, P - v))
    return from_ints(_batch_inverse(roots))


def _square_root(s: int) -> int | None:
    """A square root of s != 0 mod P, or None if there is none (Tonelli-Shanks)."""
    w = pow(s, (ODD - 1) // 2, P)
    x, t = s * w % P, s * w % P * w % P  # x^2 = s t, and t = s^odd lies in the group of order 2^S.
    m = TWO_ADICITY
    while t != 1:
        i, u = 0, t
        while u != 1:
            u, i = u * u % P, i + 1
            if i == m:
                return None  # t has order 2^m: s is not a square.
        # b = g^(2^(S - i - 1)) squared has the order 2^i of t, so t b^2 has a smaller order.
        b = G_POWERS[TWO_ADICITY - i - 1]
        x, t, m = x * b % P, t * b % P * b % P, i
    return x


def _batch_inverse(values: list[int]) -> list[int]:
    prefix, acc = [], 1
    for v in values:
        prefix.append(acc)
        acc = acc * v % P
    inv = pow(acc, -1, P) if values else 1
    out = [0] * len(values)
    for k in range(len(values) - 1, -1, -1):
        out[k] = prefix[k] * inv % P
        inv = inv * values[k] % P
    return out
