"""The share types of the two replays of a run: commitments (the auditor's) and randomness shares.

A replay (offchain.engine.replay) runs a job's program again on vectors that
follow the share rules instead of the parties' shares (offchain.engine.tape):

    CommitVec   the commitments C = x*G + r*H to the shared values, x being the
                sum of the parties' shares and r of their randomness; what an
                auditor derives from chain data. A public c enters as c*G, the
                commitment to c with randomness 0 (as party 0's share gains c).
    RandVec     one party's shares r_i of that randomness. A public c enters as
                nothing: a constant has randomness 0 (as no party's r_i moves).

Both offer the local linear operations of offchain.shares.Shares, so the
engine's protocols and the analyses run on them unchanged; neither is a
field vector in disguise, and neither has MAC shares.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from offchain import curve
from offchain.errors import ConfigError
from offchain.field import FieldVec, P
from offchain.shares import Public

_ONE = FieldVec.from_ints([1]).limbs[0]
_MINUS_ONE = FieldVec.from_ints([P - 1]).limbs[0]


class CommitVec:
    """An immutable vector of Pedersen commitments, with the share operations of a replay."""

    __slots__ = ("points",)
    points: curve.PointVec

    def __init__(self, points: curve.PointVec) -> None:
        object.__setattr__(self, "points", points)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("CommitVec is immutable")

    @staticmethod
    def public(c: FieldVec) -> CommitVec:
        """The commitments c_i*G with randomness 0 (public constants)."""
        return CommitVec(curve.commit(c, FieldVec.zeros(len(c))))

    @classmethod
    def concat(cls, parts: Sequence[CommitVec]) -> CommitVec:
        return cls(curve.PointVec.concat([p.points for p in parts]))

    @classmethod
    def zeros(cls, n: int) -> CommitVec:
        """Commitments to 0 with randomness 0: points at infinity."""
        return cls(curve.PointVec.infinity(n))

    def __len__(self) -> int:
        return len(self.points)

    def __getitem__(self, index: slice) -> CommitVec:
        if not isinstance(index, slice):
            raise TypeError("commitment vectors are sliced, not indexed")
        return CommitVec(self.points[index])

    def gather(self, index: np.ndarray) -> CommitVec:
        """The commitments at ``index``, in that order (indices may repeat)."""
        return CommitVec(curve.PointVec._wrap(self.points.rows()[index].tobytes()))

    def __add__(self, other: CommitVec) -> CommitVec:
        return CommitVec(self.points + other.points)

    def __sub__(self, other: CommitVec) -> CommitVec:
        return CommitVec(self.points - other.points)

    def __neg__(self) -> CommitVec:
        return CommitVec(-self.points)

    def scale(self, c: Public) -> CommitVec:
        """c * C for a public int, or c_i * C_i for a public vector (signs are cheap)."""
        if isinstance(c, int):
            k = c % P
            if k in (0, 1, P - 1):
                return self if k == 1 else -self if k else CommitVec.zeros(len(self))
            return CommitVec(self.points.scale(k))
        if len(c) != len(self):
            raise ConfigError(f"{len(c)} scalars for {len(self)} commitments")
        limbs = c.limbs
        one, minus = (limbs == _ONE).all(axis=1), (limbs == _MINUS_ONE).all(axis=1)
        if (one | minus).all():  # Signs only: no scalar multiplication.
            return self._negated(minus)
        return CommitVec(self.points.scale(c))

    def scale_add(self, c: Public, other: CommitVec) -> CommitVec:
        """C + c * D with D = other."""
        return self + other.scale(c)

    def negate_where(self, bits: FieldVec) -> CommitVec:
        """C where the public bit is 0, -C where it is 1 (a selection of encodings)."""
        return self._negated(bits.limbs[:, 0].astype(bool))

    def _negated(self, where: np.ndarray) -> CommitVec:
        flipped = np.where(where[:, None], (-self.points).rows(), self.points.rows())
        return CommitVec(curve.PointVec._wrap(flipped.tobytes()))

    def combine(self, weights: FieldVec) -> CommitVec:
        """sum_j weights_j C_j as one commitment (a multi-scalar multiplication)."""
        if not len(self):
            return CommitVec.zeros(1)
        return CommitVec(curve.msm(self.points, weights))

    def binary(self, width: int) -> CommitVec:
        """sum_i 2^i C[i n:(i + 1) n], n = len(C) / width, by doubling from the top row."""
        if width < 1 or len(self) % width:
            raise ConfigError(f"{len(self)} commitments are not {width} rows of equal length")
        n = len(self) // width
        acc = self[(width - 1) * n:]
        for i in range(width - 2, -1, -1):
            acc = acc + acc + self[i * n:(i + 1) * n]
        return acc

    def add_public(self, c: Public) -> CommitVec:
        """C + c*G: the commitment to x + c with the same randomness."""
        return self + CommitVec.public(c if isinstance(c, FieldVec) else FieldVec.full(len(self), c))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CommitVec):
            return NotImplemented
        return self.points == other.points

    def __hash__(self) -> int:
        return hash(self.points)

    def __repr__(self) -> str:
        return f"CommitVec({self.points!r})"


class RandVec:
    """One party's randomness shares r_i of a vector of commitments, with the share operations."""

    __slots__ = ("rands",)
    rands: FieldVec

    def __init__(self, rands: FieldVec) -> None:
        object.__setattr__(self, "rands", rands)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("RandVec is immutable")

    @classmethod
    def concat(cls, parts: Sequence[RandVec]) -> RandVec:
        return cls(FieldVec.concat([p.rands for p in parts]))

    @classmethod
    def zeros(cls, n: int) -> RandVec:
        return cls(FieldVec.zeros(n))

    def __len__(self) -> int:
        return len(self.rands)

    def __getitem__(self, index: slice) -> RandVec:
        return RandVec(self.rands[index])

    def gather(self, index: np.ndarray) -> RandVec:
        return RandVec(FieldVec(self.rands.limbs[index]))

    def __add__(self, other: RandVec) -> RandVec:
        return RandVec(self.rands + other.rands)

    def __sub__(self, other: RandVec) -> RandVec:
        return RandVec(self.rands - other.rands)

    def __neg__(self) -> RandVec:
        return RandVec(-self.rands)

    def scale(self, c: Public) -> RandVec:
        return RandVec(self.rands * c)

    def scale_add(self, c: Public, other: RandVec) -> RandVec:
        if isinstance(c, int):
            return self + other.scale(c)
        return RandVec(self.rands.mul_add(other.rands, c))

    def negate_where(self, bits: FieldVec) -> RandVec:
        flip = bits.limbs[:, 0].astype(bool)[:, None]
        return RandVec(FieldVec(np.where(flip, (-self.rands).limbs, self.rands.limbs)))

    def combine(self, weights: FieldVec) -> RandVec:
        return RandVec(FieldVec.from_ints([self.rands.dot(weights) if len(self) else 0]))

    def binary(self, width: int) -> RandVec:
        return RandVec(self.rands.binary(width))

    def add_public(self, c: Public) -> RandVec:
        """r_i unchanged: a public constant has randomness 0."""
        return self

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RandVec):
            return NotImplemented
        return self.rands == other.rands

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"RandVec({self.rands!r})"
