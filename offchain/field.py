"""Vectors over F_P, P the BN254 group order: the only arithmetic type of mpcc.

A :class:`FieldVec` is an immutable vector of canonical field elements stored
as an (n, 4) array of little-endian uint64 limbs (32 bytes per element, which
is also what one million of them cost in memory). Every operation takes and
returns whole vectors; a Python ``int`` operand is a public scalar applied to
every element. The arithmetic runs in the C kernel (:mod:`offchain._fieldkernel`)
when it is built, else in the pure-Python reference (:mod:`offchain._fieldref`),
which is the specification the kernel is tested against. Set the environment
variable ``MPCC_FIELD=reference`` to force the reference.

Wire format of :meth:`FieldVec.to_bytes`, version 1::

    0x01 || e_0 || e_1 || ... || e_{n-1}      each e_i 32 bytes big-endian, < P
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol

import numpy as np

from offchain import _fieldkernel, _fieldref
from offchain.errors import ConfigError, DecodeError

P = _fieldref.P
ELEMENT_BYTES = 32
WIRE_VERSION = 1
RandBytes = Callable[[int], bytes]


class FieldOps(Protocol):
    """What a backend provides; see :mod:`offchain._fieldref` for the meaning."""

    def add(self, a: np.ndarray, b: np.ndarray) -> np.ndarray: ...
    def sub(self, a: np.ndarray, b: np.ndarray) -> np.ndarray: ...
    def neg(self, a: np.ndarray) -> np.ndarray: ...
    def add_scalar(self, a: np.ndarray, s: int) -> np.ndarray: ...
    def mul(self, a: np.ndarray, b: np.ndarray) -> np.ndarray: ...
    def mul_scalar(self, a: np.ndarray, s: int) -> np.ndarray: ...
    def mul_add(self, c: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray: ...
    def dot(self, a: np.ndarray, b: np.ndarray) -> int: ...
    def total(self, a: np.ndarray) -> int: ...
    def from_be(self, data: bytes | memoryview, n: int) -> np.ndarray: ...
    def to_be(self, a: np.ndarray, prefix: bytes = b"") -> bytes: ...
    def sample(self, n: int, randbytes: RandBytes) -> np.ndarray: ...
    def horner(self, acc: int, a: np.ndarray, t: int) -> int: ...
    def binary(self, a: np.ndarray, width: int) -> np.ndarray: ...
    def inv_sqrt(self, a: np.ndarray) -> np.ndarray | None: ...
    def beaver(self, cs: np.ndarray, cm: np.ndarray, as_: np.ndarray, am: np.ndarray,
               bs: np.ndarray, bm: np.ndarray, d: np.ndarray, e: np.ndarray, alpha: int,
               first: bool) -> tuple[np.ndarray, np.ndarray]: ...


def _select_backend() -> Any:
    if os.environ.get("MPCC_FIELD", "").lower() == "reference":
        return _fieldref
    return _fieldkernel.load() or _fieldref


_ops: FieldOps = _select_backend()
BACKEND: str = _ops.name if hasattr(_ops, "name") else _fieldref.NAME


class FieldVec:
    """An immutable vector of elements of F_P (canonical representatives in [0, P))."""

    __slots__ = ("_a",)
    _a: np.ndarray

    def __init__(self, limbs: np.ndarray) -> None:
        """Wraps an (n, 4) uint64 limb array of canonical values; takes ownership."""
        if limbs.ndim != 2 or limbs.shape[1] != 4 or limbs.dtype != np.uint64:
            raise ConfigError("FieldVec needs an (n, 4) uint64 limb array")
        limbs = np.ascontiguousarray(limbs)
        limbs.flags.writeable = False
        object.__setattr__(self, "_a", limbs)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("FieldVec is immutable")

    # Construction -------------------------------------------------------------------
    @classmethod
    def from_ints(cls, values: Iterable[int]) -> FieldVec:
        """Elements from Python ints, reduced modulo P (so -x becomes P - x)."""
        return cls(_fieldref.from_ints([int(v) % P for v in values]))

    @classmethod
    def zeros(cls, n: int) -> FieldVec:
        return cls(np.zeros((n, 4), dtype=np.uint64))

    @classmethod
    def full(cls, n: int, value: int) -> FieldVec:
        return cls(np.tile(_fieldref.from_ints([value % P]), (n, 1)))

    @classmethod
    def random(cls, n: int, randbytes: RandBytes = secrets.token_bytes) -> FieldVec:
        """n independent uniform elements (rejection sampling on 254-bit strings)."""
        return cls(_ops.sample(n, randbytes))

    @classmethod
    def concat(cls, parts: Sequence[FieldVec]) -> FieldVec:
        if not parts:
            return cls.zeros(0)
        return cls(np.concatenate([p._a for p in parts]))

    # Encoding -----------------------------------------------------------------------
    @classmethod
    def from_packed(cls, data: bytes | memoryview, n: int) -> FieldVec:
        """n elements of 32 bytes big-endian, without a header; DecodeError if one is >= P."""
        if len(data) < ELEMENT_BYTES * n:
            raise DecodeError(f"need {ELEMENT_BYTES * n} bytes for {n} elements, got {len(data)}")
        return cls(_ops.from_be(data, n))

    def packed(self) -> bytes:
        """The elements as 32-byte big-endian strings, concatenated, without a header."""
        return _ops.to_be(self._a)

    @classmethod
    def from_bytes(cls, data: bytes | memoryview) -> FieldVec:
        """Parses the versioned wire format (see the module docstring)."""
        if len(data) < 1 or data[0] != WIRE_VERSION:
            raise DecodeError("field vector: missing or unknown version byte")
        if (len(data) - 1) % ELEMENT_BYTES:
            raise DecodeError("field vector: length is not 1 + 32*n bytes")
        return cls.from_packed(memoryview(data)[1:], (len(data) - 1) // ELEMENT_BYTES)

    def to_bytes(self) -> bytes:
        """The versioned wire format (see the module docstring)."""
        return _ops.to_be(self._a, bytes((WIRE_VERSION,)))

    # Access -------------------------------------------------------------------------
    @property
    def limbs(self) -> np.ndarray:
        """The read-only (n, 4) uint64 limb array (for kernels and storage)."""
        return self._a

    def to_ints(self) -> list[int]:
        return _fieldref.to_ints(self._a)

    def to_signed_ints(self) -> list[int]:
        """Elements as ints in (-P/2, P/2]: the usual embedding of signed integers."""
        half = P // 2
        return [v - P if v > half else v for v in self.to_ints()]

    def __len__(self) -> int:
        return int(self._a.shape[0])

    def __getitem__(self, index: int | slice) -> Any:
        """An int for an integer index, a FieldVec for a slice."""
        if isinstance(index, slice):
            return FieldVec(self._a[index])
        return _fieldref.to_ints(self._a[index].reshape(1, 4))[0]

    def __iter__(self) -> Iterator[int]:
        return iter(self.to_ints())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FieldVec):
            return NotImplemented
        return bool(np.array_equal(self._a, other._a))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        shown = self[:4].to_ints()
        more = ", ..." if len(self) > 4 else ""
        return f"FieldVec(n={len(self)}, [{', '.join(map(str, shown))}{more}])"

    # Arithmetic ---------------------------------------------------------------------
    def _same(self, other: FieldVec) -> np.ndarray:
        if len(other) != len(self):
            raise ConfigError(f"vector lengths differ: {len(self)} and {len(other)}")
        return other._a

    def __add__(self, other: FieldVec | int) -> FieldVec:
        if isinstance(other, int):
            return FieldVec(_ops.add_scalar(self._a, other % P))
        if not isinstance(other, FieldVec):
            return NotImplemented
        return FieldVec(_ops.add(self._a, self._same(other)))

    __radd__ = __add__

    def __sub__(self, other: FieldVec | int) -> FieldVec:
        if isinstance(other, int):
            return FieldVec(_ops.add_scalar(self._a, -other % P))
        if not isinstance(other, FieldVec):
            return NotImplemented
        return FieldVec(_ops.sub(self._a, self._same(other)))

    def __rsub__(self, other: int) -> FieldVec:
        return (-self) + other

    def __neg__(self) -> FieldVec:
        return FieldVec(_ops.neg(self._a))

    def __mul__(self, other: FieldVec | int) -> FieldVec:
        if isinstance(other, int):
            return FieldVec(_ops.mul_scalar(self._a, other % P))
        return FieldVec(_ops.mul(self._a, self._same(other)))

    __rmul__ = __mul__

    def mul_add(self, a: FieldVec, b: FieldVec) -> FieldVec:
        """self + a*b elementwise, in one pass."""
        return FieldVec(_ops.mul_add(self._a, self._same(a), self._same(b)))

    def dot(self, other: FieldVec) -> int:
        """sum_j self_j * other_j."""
        return _ops.dot(self._a, self._same(other))

    def sum(self) -> int:
        return _ops.total(self._a)

    def horner(self, t: int, acc: int = 0) -> int:
        """acc * t^n + sum_j self_j * t^(n-1-j): the vector as a polynomial evaluated at t.

        Continuing from ``acc`` evaluates a concatenation without building it.
        """
        return _ops.horner(acc % P, self._a, t % P)

    def binary(self, width: int) -> FieldVec:
        """sum_i 2^i self[i n:(i + 1) n] for n = len(self) / width: ``width`` rows read as the bits
        (least significant row first) of n numbers, in one pass per row."""
        if width < 1 or len(self) % width:
            raise ConfigError(f"{len(self)} elements are not {width} rows of equal length")
        return FieldVec(_ops.binary(self._a, width))

    def inverse_square_roots(self) -> FieldVec | None:
        """1 / v for each element s, v its square root in [0, (P - 1) / 2]; None if some s is 0 or not a square.

        (Random bits from square pairs need these: offchain.dealerless.kinds.) About
        0.4 s for 16,384 elements in the C kernel, 3.3 s in the reference.
        """
        out = _ops.inv_sqrt(self._a)
        return None if out is None else FieldVec(out)


def beaver_combine(c: tuple[FieldVec, FieldVec], a: tuple[FieldVec, FieldVec],
                   b: tuple[FieldVec, FieldVec], d: FieldVec, e: FieldVec, alpha: int,
                   first: bool) -> tuple[FieldVec, FieldVec]:
    """One party's Beaver step on (share, MAC) pairs, fused: see offchain.engine.arith.

    Returns (c_s + e*a_s + d*b_s + [first] d*e, c_m + e*a_m + d*b_m + alpha*d*e).
    """
    n = len(d)
    if any(len(v) != n for v in (*c, *a, *b, e)):
        raise ConfigError("Beaver operands differ in length")
    zs, zm = _ops.beaver(c[0]._a, c[1]._a, a[0]._a, a[1]._a, b[0]._a, b[1]._a, d._a, e._a,
                         alpha % P, first)
    return FieldVec(zs), FieldVec(zm)
