"""BN254 (alt_bn128) G1: the group of the Pedersen commitments C = v*G + r*H.

The curve is y^2 = x^3 + 3 over F_Q, a group of prime order ``ORDER`` (cofactor
1), exactly as the EVM precompiles 0x06 (ecAdd) and 0x07 (ecMul) implement it,
so a contract can recheck linear relations between commitments. ``ORDER`` is
the MPC field's modulus :data:`offchain.field.P`: a :class:`FieldVec` holds
scalars. A commitment hides v perfectly and binds under the discrete
logarithm assumption, given that nobody knows log_G H (see :func:`derive_generator`).

A :class:`PointVec` is an immutable vector of points in the EVM encoding,
which is also its wire format (no version byte: it is the precompiles')::

    p_0 || p_1 || ... || p_{n-1}     p_i = x (32 bytes big-endian) || y (32 bytes big-endian)

with the point at infinity as 64 zero bytes (an affine encoding is unique, so
equal points have equal bytes). :func:`compress` halves it for storage and
calldata: 32 bytes a point, x big-endian with bit 255 set when y is odd, and
bit 254 alone for infinity (x < Q < 2^254 leaves both free); :func:`decompress`
recovers y as the square root of x^3 + 3 of that parity. Batches run in the C kernel
(:mod:`offchain._g1kernel`) when it is built, else in the pure-Python
reference (:mod:`offchain._g1ref`), its specification. Set the environment
variable ``MPCC_CURVE=reference`` to force the reference.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Protocol

import numpy as np

from offchain import _g1kernel, _g1ref
from offchain.errors import ConfigError, DecodeError
from offchain.field import FieldVec, P

try:
    from gmpy2 import mpz as _mpz
    from gmpy2 import powmod as _powmod
except ImportError:  # pragma: no cover - gmpy2 is a dependency
    _mpz, _powmod = int, pow

Q = _g1ref.Q
ORDER = _g1ref.ORDER
POINT_BYTES = 64
COMPRESSED_BYTES = 32
H_TAG = b"mpcc/pedersen/H/v1"
Affine = tuple[int, int]

if ORDER != P:
    raise ImportError("the MPC field must be the scalar field of BN254 G1")


class G1Ops(Protocol):
    """What a backend provides; see :class:`offchain._g1ref.ReferenceOps` for the meaning."""

    name: str

    def __hash__(self) -> int: ...
    def validate(self, data: bytes) -> int | None: ...
    def add(self, a: bytes, b: bytes) -> bytes: ...
    def sub(self, a: bytes, b: bytes) -> bytes: ...
    def neg(self, a: bytes) -> bytes: ...
    def scale(self, points: bytes, scalars: bytes) -> bytes: ...
    def scale1(self, points: bytes, scalar: bytes) -> bytes: ...
    def total(self, points: bytes) -> bytes: ...
    def msm(self, points: bytes, scalars: bytes) -> bytes: ...
    def table(self, base: bytes) -> Any: ...
    def commit(self, tables: tuple[Any, Any], values: bytes, rands: bytes) -> bytes: ...


def _select_backend() -> G1Ops:
    if os.environ.get("MPCC_CURVE", "").lower() == "reference":
        return _g1ref.ReferenceOps()
    return _g1kernel.load() or _g1ref.ReferenceOps()


_ops: G1Ops = _select_backend()
BACKEND: str = _ops.name


class PointVec:
    """An immutable vector of points of BN254 G1 in the EVM encoding (see the module docstring)."""

    __slots__ = ("_data",)
    _data: bytes

    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        """Checks every point: on the curve with coordinates < Q, or 64 zero bytes."""
        data = bytes(data)
        if len(data) % POINT_BYTES:
            raise DecodeError(f"point vector: {len(data)} bytes is not a multiple of 64")
        bad = _ops.validate(data)
        if bad is not None:
            raise DecodeError(f"point {bad} is not on BN254 G1 (or a coordinate is >= q)")
        object.__setattr__(self, "_data", data)

    @classmethod
    def _wrap(cls, data: bytes) -> PointVec:
        """A PointVec of bytes known to be valid (results of the backend); no check."""
        self = object.__new__(cls)
        object.__setattr__(self, "_data", data)
        return self

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("PointVec is immutable")

    def __reduce__(self) -> tuple[Any, tuple[bytes]]:
        return PointVec, (self._data,)

    # Construction and encoding --------------------------------------------------------
    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> PointVec:
        """Parses 64n bytes; DecodeError naming the first invalid point."""
        return cls(data)

    def to_bytes(self) -> bytes:
        return self._data

    @classmethod
    def from_ints(cls, points: Iterable[Affine | None]) -> PointVec:
        """Points from affine (x, y) pairs, None for infinity; DecodeError naming a bad one."""
        parts = []
        for i, p in enumerate(points):
            if p is None:
                parts.append(bytes(POINT_BYTES))
                continue
            x, y = p
            if not (0 <= x < Q and 0 <= y < Q) or (x, y) == (0, 0):
                raise DecodeError(f"point {i}: coordinates must be in [0, q), not both 0 "
                                  "(None is the point at infinity)")
            parts.append(x.to_bytes(32, "big") + y.to_bytes(32, "big"))
        return cls(b"".join(parts))

    @classmethod
    def infinity(cls, n: int) -> PointVec:
        return cls._wrap(bytes(POINT_BYTES * n))

    @classmethod
    def concat(cls, parts: Sequence[PointVec]) -> PointVec:
        return cls._wrap(b"".join(p._data for p in parts))

    def to_ints(self) -> list[Affine | None]:
        """Affine (x, y) pairs, None for the point at infinity."""
        d = self._data
        return [None if d[i:i + 64] == bytes(64) else
                (int.from_bytes(d[i:i + 32], "big"), int.from_bytes(d[i + 32:i + 64], "big"))
                for i in range(0, len(d), POINT_BYTES)]

    # Access -------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._data) // POINT_BYTES

    def __getitem__(self, index: int | slice) -> PointVec:
        """A 1-point PointVec for an int, a PointVec for a slice."""
        n = len(self)
        if isinstance(index, slice):
            start, stop, step = index.indices(n)
            if step == 1:
                return PointVec._wrap(self._data[64 * start:64 * max(start, stop)])
            return PointVec._wrap(b"".join(self._data[64 * i:64 * i + 64]
                                           for i in range(start, stop, step)))
        if not -n <= index < n:
            raise IndexError(f"point index {index} out of range for {n} points")
        i = index % n
        return PointVec._wrap(self._data[64 * i:64 * i + 64])

    def rows(self) -> np.ndarray:
        """The encodings as a read-only (n, 64) array of bytes (comparisons, selections)."""
        return np.frombuffer(self._data, dtype=np.uint8).reshape(-1, POINT_BYTES)

    def __iter__(self) -> Iterator[PointVec]:
        """The points one by one, each as a 1-point PointVec."""
        return (self[i] for i in range(len(self)))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PointVec):
            return NotImplemented
        return self._data == other._data

    def __hash__(self) -> int:
        return hash(self._data)

    def __repr__(self) -> str:
        shown = ", ".join("inf" if p is None else f"({p[0]:#x}, {p[1]:#x})"
                          for p in self[:2].to_ints())
        more = ", ..." if len(self) > 2 else ""
        return f"PointVec(n={len(self)}, [{shown}{more}])"

    # Group operations ---------------------------------------------------------------
    def _same(self, other: PointVec) -> bytes:
        if len(other) != len(self):
            raise ConfigError(f"point vector lengths differ: {len(self)} and {len(other)}")
        return other._data

    def __add__(self, other: PointVec) -> PointVec:
        if not isinstance(other, PointVec):
            return NotImplemented
        return PointVec._wrap(_ops.add(self._data, self._same(other)))

    def __sub__(self, other: PointVec) -> PointVec:
        if not isinstance(other, PointVec):
            return NotImplemented
        return PointVec._wrap(_ops.sub(self._data, self._same(other)))

    def __neg__(self) -> PointVec:
        return PointVec._wrap(_ops.neg(self._data))

    def scale(self, c: int | FieldVec) -> PointVec:
        """c * p_i for an int c (taken modulo ORDER), or c_i * p_i for a FieldVec c."""
        if isinstance(c, FieldVec):
            if len(c) != len(self):
                raise ConfigError(f"{len(c)} scalars for {len(self)} points")
            return PointVec._wrap(_ops.scale(self._data, c.packed()))
        if isinstance(c, int):
            k = c % ORDER
            return PointVec._wrap(_ops.scale1(self._data, k.to_bytes(32, "big")))
        raise TypeError(f"a scalar is an int or a FieldVec, not {type(c).__name__}")

    def sum(self) -> PointVec:
        """sum_i p_i as a 1-point PointVec (infinity for an empty vector)."""
        return PointVec._wrap(_ops.total(self._data))


def derive_generator(tag: bytes) -> Affine:
    """A point with unknown discrete logarithm, by try-and-increment on SHA-256.

    For counter = 0, 1, ...: x = int(SHA-256(tag || counter as 4 bytes
    big-endian)) mod Q; the first x for which x^3 + 3 is a square in F_Q
    gives the point (x, y) with y the even square root. Since x comes from a
    hash, nobody knows log_G of the result. H = derive_generator(H_TAG).
    """
    for counter in range(1 << 32):
        x = int.from_bytes(hashlib.sha256(tag + counter.to_bytes(4, "big")).digest(), "big") % Q
        rhs = (x * x * x + 3) % Q
        y = pow(rhs, (Q + 1) // 4, Q)  # a square root, as Q = 3 mod 4
        if y * y % Q == rhs:
            return x, (y if y % 2 == 0 else Q - y)
    raise ConfigError(f"no point found for tag {tag!r}")  # pragma: no cover - never happens


G = PointVec.from_ints([(1, 2)])
H = PointVec.from_ints([derive_generator(H_TAG)])


@functools.cache
def _fixed_tables(ops: G1Ops) -> tuple[Any, Any]:
    """The fixed-base tables of G and H, built once per backend (148 KiB each in C)."""
    return ops.table(G.to_bytes()), ops.table(H.to_bytes())


def commit(values: FieldVec, rands: FieldVec) -> PointVec:
    """Pedersen commitments v_i * G + r_i * H, elementwise (rands uniform and secret)."""
    if len(values) != len(rands):
        raise ConfigError(f"{len(values)} values but {len(rands)} blinding factors")
    return PointVec._wrap(_ops.commit(_fixed_tables(_ops), values.packed(), rands.packed()))


def msm(points: PointVec, scalars: FieldVec) -> PointVec:
    """sum_i k_i * p_i as a 1-point PointVec (Pippenger's method)."""
    if len(points) != len(scalars):
        raise ConfigError(f"{len(scalars)} scalars for {len(points)} points")
    return PointVec._wrap(_ops.msm(points.to_bytes(), scalars.packed()))


def compress(points: PointVec) -> bytes:
    """The 32-byte form of every point (see the module docstring)."""
    raw = points.rows()
    out = raw[:, :COMPRESSED_BYTES].copy()
    out[:, 0] |= (raw[:, -1] & 1) << 7
    out[~raw.any(axis=1), 0] = 0x40
    return out.tobytes()


def decompress(data: bytes | bytearray | memoryview) -> PointVec:
    """Points from their 32-byte form; DecodeError naming the first that is not on the curve."""
    if len(data) % COMPRESSED_BYTES:
        raise DecodeError(f"compressed points: {len(data)} bytes is not a multiple of 32")
    view, out = bytes(data), bytearray()
    root = (Q + 1) // 4  # Q = 3 mod 4: a square's root is its (Q+1)/4-th power.
    for i in range(0, len(view), COMPRESSED_BYTES):
        word = int.from_bytes(view[i:i + COMPRESSED_BYTES], "big")
        odd, infinity, x = word >> 255, (word >> 254) & 1, word & ((1 << 254) - 1)
        if infinity:
            if odd or x:
                raise DecodeError(f"compressed point {i // 32}: bad infinity encoding")
            out += bytes(POINT_BYTES)
            continue
        rhs = (_mpz(x) ** 3 + 3) % Q
        y = int(_powmod(rhs, root, Q))
        if x >= Q or (y * y - rhs) % Q:
            raise DecodeError(f"compressed point {i // 32} is not on BN254 G1")
        if y & 1 != odd:
            y = Q - y
        out += x.to_bytes(32, "big") + y.to_bytes(32, "big")
    return PointVec._wrap(bytes(out))
