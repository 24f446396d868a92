"""Reference BN254 G1 arithmetic with Python integers: the specification of the C kernel.

The curve is y^2 = x^3 + 3 over F_Q with a group of prime order ``ORDER``
(cofactor 1). :class:`ReferenceOps` has the interface of
:class:`offchain._g1kernel.KernelOps`: points go in and out in the EVM
encoding (64 bytes each, x || y big-endian, infinity as 64 zero bytes),
scalars as 32-byte big-endian strings reduced modulo ``ORDER``.

Inside, points are Jacobian triples (X, Y, Z) with x = X/Z^2, y = Y/Z^3 and
Z = 0 for infinity; results are made affine with one inversion per batch
(Montgomery's trick). The integer type is a parameter: ``gmpy2.mpz`` (about
three times faster on 254-bit numbers) when installed, else ``int``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

Q = 21888242871839275222246405745257275088696311157297823662689037894645226208583
ORDER = 21888242871839275222246405745257275088548364400416034343698204186575808495617
NAME = "reference"
INFINITY_BYTES = bytes(64)
FIXED_WINDOW = 8  # fixed-base tables: 32 windows of 128 multiples
VAR_WINDOW = 5

Jac = tuple[Any, Any, Any]
Aff = tuple[Any, Any]
INF: Jac = (1, 1, 0)

try:
    from gmpy2 import mpz as _default_num
except ImportError:  # pragma: no cover - gmpy2 is a dependency, int is the fallback
    _default_num = int


def _dbl(p: Jac) -> Jac:
    """dbl-2009-l for a = 0."""
    x, y, z = p
    if not z:
        return p
    a, b = x * x % Q, y * y % Q
    c = b * b % Q
    d = 2 * ((x + b) * (x + b) - a - c) % Q
    e = 3 * a
    x3 = (e * e - 2 * d) % Q
    return x3, (e * (d - x3) - 8 * c) % Q, 2 * y * z % Q


def _finish(p: Jac, u1: Any, s1: Any, u2: Any, s2: Any, z1z2: Any) -> Jac:
    """The common tail of an addition: X3 = R^2 - H^3 - 2 U1 H^2, Y3 = R(U1 H^2 - X3) - S1 H^3."""
    h, r = (u2 - u1) % Q, (s2 - s1) % Q
    if not h:
        return _dbl(p) if not r else INF
    hh = h * h % Q
    hhh, v = h * hh % Q, u1 * hh % Q
    x3 = (r * r - hhh - 2 * v) % Q
    return x3, (r * (v - x3) - s1 * hhh) % Q, z1z2 * h % Q


def _add(p: Jac, q: Jac) -> Jac:
    if not p[2]:
        return q
    if not q[2]:
        return p
    (x1, y1, z1), (x2, y2, z2) = p, q
    z1z1, z2z2 = z1 * z1 % Q, z2 * z2 % Q
    return _finish(p, x1 * z2z2 % Q, y1 * z2 * z2z2 % Q, x2 * z1z1 % Q, y2 * z1 * z1z1 % Q,
                   z1 * z2)


def _madd(p: Jac, q: Aff) -> Jac:
    """p + q with q affine and not infinity."""
    if not p[2]:
        return q[0], q[1], 1
    x1, y1, z1 = p
    z1z1 = z1 * z1 % Q
    return _finish(p, x1, y1, q[0] * z1z1 % Q, q[1] * z1 * z1z1 % Q, z1)


def _neg(p: Jac) -> Jac:
    return p[0], -p[1] % Q, p[2]


def _affine(points: Sequence[Jac]) -> list[Aff | None]:
    """Affine forms with one inversion (Montgomery's trick); None for infinity."""
    prefix, run = [], 1
    for _, _, z in points:
        prefix.append(run)
        if z:
            run = run * z % Q
    inv = pow(run, Q - 2, Q)
    out: list[Aff | None] = [None] * len(points)
    for i in range(len(points) - 1, -1, -1):
        x, y, z = points[i]
        if not z:
            continue
        zi = inv * prefix[i] % Q
        inv = inv * z % Q
        zi2 = zi * zi % Q
        out[i] = (x * zi2 % Q, y * zi2 * zi % Q)
    return out


def _finite(points: list[Aff | None]) -> list[Aff]:
    """The points, known not to be infinity (small multiples of a point of prime order)."""
    finite = [p for p in points if p is not None]
    if len(finite) != len(points):
        raise ValueError("a small multiple of a point of prime order is at infinity")
    return finite


def _digits(k: int, w: int) -> list[int]:
    """Signed base-2^w digits of k < 2^254, least significant first, in (-2^(w-1), 2^(w-1)]."""
    out, carry, half = [], 0, 1 << (w - 1)
    for i in range(-(-255 // w)):
        d = ((k >> (w * i)) & ((1 << w) - 1)) + carry
        carry = int(d > half)
        out.append(d - (carry << w))
    return out


def _mul(p: Aff, k: int) -> Jac:
    """k * p by signed windows of VAR_WINDOW bits over a table of p, 2p, ..., 16p."""
    table = [(p[0], p[1], 1)]
    for _ in range((1 << (VAR_WINDOW - 1)) - 1):
        table.append(_madd(table[-1], p))
    acc = INF
    for d in reversed(_digits(k, VAR_WINDOW)):
        for _ in range(VAR_WINDOW):
            acc = _dbl(acc)
        if d:
            acc = _add(acc, table[d - 1] if d > 0 else _neg(table[-d - 1]))
    return acc


def _window_size(n: int) -> int:
    return min(range(2, 17), key=lambda c: -(-255 // c) * (n + (1 << c)))


def _pippenger(points: Sequence[Aff | None], scalars: Sequence[int]) -> Jac:
    """sum_i k_i p_i by Pippenger's bucket method on signed digits."""
    c = _window_size(len(points))
    pairs = [(p, _digits(k, c)) for p, k in zip(points, scalars, strict=True) if p is not None and k]
    acc = INF
    for w in range(-(-255 // c) - 1, -1, -1):
        for _ in range(c):
            acc = _dbl(acc)
        buckets = [INF] * (1 << (c - 1))
        for p, ds in pairs:
            d = ds[w]
            if d:
                buckets[abs(d) - 1] = _madd(buckets[abs(d) - 1], p if d > 0 else (p[0], -p[1] % Q))
        run = total = INF
        for b in reversed(buckets):
            run = _add(run, b)
            total = _add(total, run)
        acc = _add(acc, total)
    return acc


class ReferenceOps:
    """Batched G1 operations on EVM-encoded bytes, in Python integers of type ``num``."""

    name = NAME

    def __init__(self, num: Callable[[int], Any] = _default_num) -> None:
        self._num = num

    # Encoding ------------------------------------------------------------------------
    def _decode(self, data: bytes) -> list[Aff | None]:
        out: list[Aff | None] = []
        for i in range(0, len(data), 64):
            chunk = data[i:i + 64]
            out.append(None if chunk == INFINITY_BYTES else
                       (self._num(int.from_bytes(chunk[:32], "big")),
                        self._num(int.from_bytes(chunk[32:], "big"))))
        return out

    @staticmethod
    def _encode(points: Sequence[Aff | None]) -> bytes:
        return b"".join(INFINITY_BYTES if p is None else
                        int(p[0]).to_bytes(32, "big") + int(p[1]).to_bytes(32, "big")
                        for p in points)

    @staticmethod
    def _scalars(data: bytes) -> list[int]:
        return [int.from_bytes(data[i:i + 32], "big") % ORDER for i in range(0, len(data), 32)]

    def validate(self, data: bytes) -> int | None:
        """None if every point is infinity or on the curve with coordinates < Q, else
        the index of the first that is not."""
        for i in range(0, len(data), 64):
            x, y = int.from_bytes(data[i:i + 32], "big"), int.from_bytes(data[i + 32:i + 64], "big")
            if (x or y) and (x >= Q or y >= Q or (y * y - x * x * x - 3) % Q):
                return i // 64
        return None

    # Operations ----------------------------------------------------------------------
    def add(self, a: bytes, b: bytes) -> bytes:
        return self._encode(_affine([q if p is None else _madd(q, p) for q, p in
                                     zip(self._jac(a), self._decode(b), strict=True)]))

    def sub(self, a: bytes, b: bytes) -> bytes:
        return self.add(a, self.neg(b))

    def neg(self, a: bytes) -> bytes:
        return self._encode([None if p is None else (p[0], -p[1] % Q) for p in self._decode(a)])

    def scale(self, points: bytes, scalars: bytes) -> bytes:
        """k_i * p_i elementwise."""
        return self._encode(_affine([INF if p is None else _mul(p, k) for p, k in
                                     zip(self._decode(points), self._scalars(scalars), strict=True)]))

    def scale1(self, points: bytes, scalar: bytes) -> bytes:
        """k * p_i for one scalar k."""
        return self.scale(points, scalar * (len(points) // 64))

    def total(self, points: bytes) -> bytes:
        acc = INF
        for p in self._decode(points):
            if p is not None:
                acc = _madd(acc, p)
        return self._encode(_affine([acc]))

    def msm(self, points: bytes, scalars: bytes) -> bytes:
        """sum_i k_i p_i as one point."""
        return self._encode(_affine([_pippenger(self._decode(points), self._scalars(scalars))]))

    def table(self, base: bytes) -> list[list[Aff]]:
        """table[i][d-1] = d * 2^(8i) * base for i < 32 and d = 1..128 (base not infinity)."""
        (b,) = self._decode(base)
        if b is None:
            raise ValueError("a fixed base cannot be the point at infinity")
        rows: list[list[Aff]] = []
        for _ in range(-(-255 // FIXED_WINDOW)):
            row = [(b[0], b[1], 1)]
            for _ in range((1 << (FIXED_WINDOW - 1)) - 1):
                row.append(_madd(row[-1], b))
            rows.append(_finite(_affine(row)))
            (b,) = _finite(_affine([_dbl(row[-1])]))
        return rows

    def commit(self, tables: tuple[Any, Any], values: bytes, rands: bytes) -> bytes:
        """v_i * G + r_i * H elementwise, by 64 mixed additions from the two tables."""
        out = []
        for v, r in zip(self._scalars(values), self._scalars(rands), strict=True):
            acc = INF
            for table, k in zip(tables, (v, r), strict=True):
                for row, d in zip(table, _digits(k, FIXED_WINDOW), strict=True):
                    if d:
                        e = row[abs(d) - 1]
                        acc = _madd(acc, e if d > 0 else (e[0], -e[1] % Q))
            out.append(acc)
        return self._encode(_affine(out))

    def _jac(self, data: bytes) -> list[Jac]:
        return [INF if p is None else (p[0], p[1], 1) for p in self._decode(data)]
