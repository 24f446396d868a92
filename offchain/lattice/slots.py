"""Plaintext slots: Z_r[X]/(X^N + 1) is isomorphic to Z_r^N, one field element per slot.

Because r = 1 (mod 2N) for every N <= 2^27, X^N + 1 splits into N linear
factors X - psi^(2k+1) modulo r, and the CRT turns a plaintext polynomial into
its N evaluations (SIMD packing, Smart-Vercauteren 2014). :func:`decode` is the
negacyclic NTT over Z_r and :func:`encode` its inverse, so slot k is the value
at psi^(2 brv(k) + 1) (see :mod:`offchain.lattice.tables`). Sums and products
of plaintexts modulo (X^N + 1, r) act slot by slot: one BGV product makes N
products of field elements, which is what LowGear's triples need.
"""

from __future__ import annotations

from dataclasses import dataclass

from offchain.errors import ConfigError
from offchain.field import FieldVec
from offchain.lattice.params import RingParams
from offchain.lattice.ring import CoeffPoly, ops
from offchain.lattice.tables import slot_tables


@dataclass(frozen=True, slots=True, eq=False)
class Plaintext:
    """A plaintext of BGV: its N coefficients in [0, r), as a field vector.

    Invariant: len(coeffs) is a power of two N with 2N dividing r - 1.
    """

    coeffs: FieldVec

    def __post_init__(self) -> None:
        slot_tables(len(self.coeffs))  # Checks the length (and warms the cache).

    @property
    def n(self) -> int:
        return len(self.coeffs)

    def decode(self) -> FieldVec:
        """The slots: the evaluations of the plaintext at the N roots of X^N + 1."""
        return decode(self.coeffs)

    def lift(self, params: RingParams) -> CoeffPoly:
        """The coefficients lifted to (-r/2, r/2] and put into RNS, ready to encrypt."""
        if params.n != self.n:
            raise ConfigError(f"a plaintext of {self.n} coefficients does not fit a ring of dimension {params.n}")
        return CoeffPoly.from_field(self.coeffs, params)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Plaintext):
            return NotImplemented
        return self.coeffs == other.coeffs

    __hash__ = None  # type: ignore[assignment]


def encode(slots: FieldVec) -> Plaintext:
    """The plaintext whose slots are ``slots``: an inverse negacyclic NTT over Z_r."""
    return Plaintext(FieldVec(ops.slot_intt(slots.limbs, slot_tables(len(slots)))))


def decode(coeffs: FieldVec) -> FieldVec:
    """The slots of the plaintext with coefficients ``coeffs``: a forward negacyclic NTT over Z_r."""
    return FieldVec(ops.slot_ntt(coeffs.limbs, slot_tables(len(coeffs))))
