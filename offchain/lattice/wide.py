"""Integer polynomials of Z[X]/(X^N + 1) with wide coefficients: the masks and responses of a TopGear proof.

A proof's response z = y + sum_k X^(j_k) m_k has coefficients of about 2^315
in production: they fit neither an int64 nor a residue modulo one prime, and
the verifier must bound them as integers, not modulo Q. A :class:`WidePoly`
holds them as a (D, N) int64 array of digits in base 2^32, coefficient j being
sum_i digits[i, j] 2^(32 i). Digits are signed and additions carry lazily;
:meth:`WidePoly.normalised` propagates the carries, after which digits
0..D-2 lie in [0, 2^32) and the top digit carries the sign. Every operation
is vectorised over the N coefficients, so a secret value never chooses a
branch or a memory index.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from offchain.errors import ConfigError, DecodeError
from offchain.field import FieldVec
from offchain.lattice.params import PLAINTEXT_MODULUS, RingParams
from offchain.lattice.ring import CoeffPoly
from offchain.lattice.sampling import RandBytes

DIGIT_BITS = 32
_MASK = (1 << DIGIT_BITS) - 1
_LAZY_LIMIT = 1 << 60
"""Digits stay below 2^60 in absolute value; a sum past it is normalised, so the next sums cannot overflow."""
_HALF_T = (PLAINTEXT_MODULUS - 1) // 2


def _digit_count(value: int) -> int:
    """Base-2^32 digits that hold |value| with room for a sign in the top digit."""
    return abs(value).bit_length() // DIGIT_BITS + 1


def _constant(value: int, count: int) -> np.ndarray:
    """The digits of a non-negative integer, as a (count, 1) column to broadcast over coefficients."""
    if value < 0 or value >> (DIGIT_BITS * count):
        raise ConfigError(f"{value} does not fit {count} digits")
    return np.array([(value >> (DIGIT_BITS * i)) & _MASK for i in range(count)], dtype=np.int64).reshape(-1, 1)


def _carry(digits: np.ndarray) -> np.ndarray:
    """Carries propagated upwards: digits 0..D-2 in [0, 2^32), the top one signed; the same integers."""
    out = digits.copy()
    for i in range(out.shape[0] - 1):
        carry = out[i] >> DIGIT_BITS  # An arithmetic shift: floor division by 2^32, negative carries too.
        out[i] -= carry << DIGIT_BITS
        out[i + 1] += carry
    return out


def _negative(digits: np.ndarray) -> np.ndarray:
    """Per coefficient, whether the integer is negative: the sign of the top digit once carried."""
    result: np.ndarray = _carry(digits)[-1] < 0
    return result


def _int64_pairs(digits: np.ndarray) -> np.ndarray:
    """The same integers in base 2^64 with int64 chunks: chunk j = d_2j + d_(2j+1) 2^32.

    Carried so that even digits lie in [0, 2^32) and odd ones in [-2^31, 2^31),
    a pair then spans exactly [-2^63, 2^63); the top chunk takes what remains.
    """
    count = (digits.shape[0] + 2) // 2 * 2  # Even, with a spare digit for the last carry.
    out = _padded(digits, count).copy()
    for i in range(count - 1):
        carry = (out[i] + (i % 2 << 31)) >> DIGIT_BITS
        out[i] -= carry << DIGIT_BITS
        out[i + 1] += carry
    result: np.ndarray = out[0::2] + (out[1::2] << DIGIT_BITS)
    return result


def _padded(digits: np.ndarray, count: int) -> np.ndarray:
    if digits.shape[0] >= count:
        return digits
    return np.concatenate([digits, np.zeros((count - digits.shape[0], digits.shape[1]), dtype=np.int64)])


@dataclass(frozen=True, eq=False)
class WidePoly:
    """An integer polynomial of Z[X]/(X^N + 1) as base-2^32 digits (see the module docstring).

    Invariant: ``digits`` is a read-only (D, N) int64 array with D >= 1 and
    every digit below 2^60 in absolute value.
    """

    digits: np.ndarray

    def __post_init__(self) -> None:
        d = self.digits
        if d.ndim != 2 or d.shape[0] < 1 or d.dtype != np.int64:
            raise ConfigError(f"a wide polynomial is a (D, N) int64 digit array, not {d.shape} {d.dtype}")
        if int(np.abs(d).max(initial=0)) >= _LAZY_LIMIT:
            raise ConfigError("a wide polynomial's digits stay below 2^60")
        d = np.ascontiguousarray(d)
        d.flags.writeable = False
        object.__setattr__(self, "digits", d)

    @property
    def n(self) -> int:
        return int(self.digits.shape[1])

    # Construction -------------------------------------------------------------------------------
    @classmethod
    def from_small(cls, values: np.ndarray) -> WidePoly:
        """Coefficients given as int64 (noise and ternary values): two digits, the top one signed."""
        v = np.asarray(values, dtype=np.int64)
        return cls(np.stack([v & _MASK, v >> DIGIT_BITS]))

    @classmethod
    def from_ints(cls, values: Sequence[int]) -> WidePoly:
        """Coefficients given as Python ints of any sign and size (slow: for statements built by hand)."""
        count = max((_digit_count(v) for v in values), default=1)
        rows = [[(v >> (DIGIT_BITS * i)) & _MASK for v in values] for i in range(count)]
        top = [v >> (DIGIT_BITS * (count - 1)) for v in values]  # Floor shift: the signed top digit.
        return cls(np.array([*rows[:-1], top], dtype=np.int64).reshape(count, len(values)))

    @classmethod
    def from_field(cls, coeffs: FieldVec) -> WidePoly:
        """A plaintext's coefficients in Z_r lifted to (-r/2, r/2], the integers that encryption adds.

        c is centred as c - r [c > (r-1)/2]; the comparison is the sign of
        (r-1)/2 - c, computed on digits without a branch per coefficient.
        """
        words = coeffs.limbs.view(np.uint32).astype(np.int64).T  # (8, N): little-endian 32-bit words.
        c = _padded(words, words.shape[0] + 1)
        count = c.shape[0]
        above = _negative(_constant(_HALF_T, count) - c).astype(np.int64)
        return cls(_carry(c - _constant(PLAINTEXT_MODULUS, count) * above))

    @classmethod
    def uniform(cls, n: int, bits: int, randbytes: RandBytes) -> WidePoly:
        """n integers uniform on [-2^bits, 2^bits): (bits + 1) uniform bits minus 2^bits.

        A TopGear mask: shifting it by s moves its distribution by statistical
        distance |s| / 2^(bits+1), which is what the proof's hiding counts.
        """
        if not 1 <= bits <= 4096:
            raise ConfigError(f"mask bits must lie in 1..4096, not {bits}")
        count = (bits + 1 + DIGIT_BITS - 1) // DIGIT_BITS
        data = randbytes(4 * count * n)
        if len(data) != 4 * count * n:
            raise ConfigError(f"the byte source returned {len(data)} bytes instead of {4 * count * n}")
        words = np.frombuffer(data, dtype="<u4").reshape(n, count).T.astype(np.int64)
        words[-1] &= (1 << (bits + 1 - DIGIT_BITS * (count - 1))) - 1
        return cls(_carry(_padded(words, count + 1) - _constant(1 << bits, count + 1)))

    # Arithmetic ---------------------------------------------------------------------------------
    def __add__(self, other: WidePoly) -> WidePoly:
        """The sum, with carries left lazy until a digit nears 2^60."""
        if not isinstance(other, WidePoly):
            return NotImplemented
        if other.n != self.n:
            raise ConfigError("cannot add wide polynomials of different dimensions")
        count = max(self.digits.shape[0], other.digits.shape[0])
        total = _padded(self.digits, count) + _padded(other.digits, count)
        if int(np.abs(total).max()) >= _LAZY_LIMIT // 2:
            total = _carry(_padded(total, count + 1))
        return WidePoly(total)

    def times_monomial(self, power: int) -> WidePoly:
        """The polynomial times X^power, 0 <= power < 2N: coefficients rotate and change sign as they wrap past N."""
        n = self.n
        if not 0 <= power < 2 * n:
            raise ConfigError(f"X^{power} is not a power below 2N = {2 * n}")
        shift = power % n
        out = np.empty_like(self.digits)
        out[:, shift:] = self.digits[:, :n - shift]
        out[:, :shift] = self.digits[:, n - shift:]
        wrapped = out[:, :shift] if power < n else out[:, shift:]
        np.negative(wrapped, out=wrapped)
        return WidePoly(out)

    def times_small(self, factor: int) -> WidePoly:
        """The polynomial times an integer with |factor| < 2^16 (a diagonal proof's challenge), carried."""
        if not -(1 << 16) < factor < 1 << 16:
            raise ConfigError(f"{factor} is not a small factor")
        carried = _carry(_padded(self.digits, self.digits.shape[0] + 1))
        # Carried digits lie in [0, 2^32) below a small signed top digit: times 2^16 they stay far below 2^60.
        return WidePoly(_carry(carried * factor))

    def normalised(self) -> WidePoly:
        """The same integers with digits 0..D-2 in [0, 2^32) and the sign in the top digit."""
        return WidePoly(_carry(self.digits))

    def exceeds(self, bound: int) -> bool:
        """Whether some coefficient has absolute value above ``bound`` (a non-negative integer)."""
        count = max(self.digits.shape[0], _digit_count(bound)) + 1
        x, b = _padded(self.digits, count), _constant(bound, count)
        return bool(np.any(_negative(b - x)) or np.any(_negative(b + x)))

    # Conversion ---------------------------------------------------------------------------------
    def to_ints(self) -> list[int]:
        """The coefficients as Python ints (slow)."""
        total = [0] * self.n
        for i, row in enumerate(self.digits):
            total = [t + (int(d) << (DIGIT_BITS * i)) for t, d in zip(total, row, strict=True)]
        return total

    def to_rns(self, params: RingParams) -> CoeffPoly:
        """The polynomial modulo each prime of ``params``: sum_j chunk_j 2^(64 j), one kernel pass per int64 chunk."""
        if params.n != self.n:
            raise ConfigError(f"a polynomial of {self.n} coefficients does not fit a ring of dimension {params.n}")
        chunks = _int64_pairs(self.digits)
        total = CoeffPoly.from_small(chunks[0], params)
        for j in range(1, chunks.shape[0]):
            total = total + CoeffPoly.from_small(chunks[j], params).scale(1 << (2 * DIGIT_BITS * j))
        return total

    def to_bytes(self, width: int) -> bytes:
        """Each coefficient as ``width`` bytes, little-endian two's complement (see :meth:`from_bytes`).

        Raises ConfigError if a coefficient does not fit: the writer chooses a
        width from the bound it guarantees.
        """
        limit = 1 << (8 * width - 1)
        if self.exceeds(limit - 1):
            raise ConfigError(f"a coefficient does not fit {width} signed bytes")
        count = max(self.digits.shape[0], (width + 3) // 4)
        words = (_carry(_padded(self.digits, count)) & _MASK).astype("<u4")
        return np.ascontiguousarray(words.T).view(np.uint8)[:, :width].tobytes()

    @classmethod
    def from_bytes(cls, data: bytes | memoryview, n: int, width: int) -> WidePoly:
        """n coefficients of ``width`` bytes each, little-endian two's complement: every string is canonical."""
        if len(data) != n * width or width < 1:
            raise DecodeError(f"{n} coefficients of {width} bytes take {n * width} bytes, not {len(data)}")
        raw = np.frombuffer(data, dtype=np.uint8).reshape(n, width)
        count = (width + 3) // 4
        fill = np.where(raw[:, -1:] >= 0x80, np.uint8(0xFF), np.uint8(0))
        padded = np.concatenate([raw, np.broadcast_to(fill, (n, 4 * count - width))], axis=1)
        words = np.ascontiguousarray(padded).view("<u4").T.astype(np.int64)
        words[-1] = np.where(words[-1] >= 1 << 31, words[-1] - (1 << 32), words[-1])
        return cls(words)
