"""Pedersen commitments that stand in for shares when an auditor replays a run.

An auditor replays a job's program (offchain.engine.tape) as party 0 on
vectors of commitments C = x*G + r*H to the shared values, x being the sum
of the parties' shares and r of their randomness. Such a vector follows the
share rules: adding or subtracting commitments, scaling by public scalars,
and adding a public constant c as the commitment c*G with randomness 0. So
:class:`CommitVec` offers the part of FieldVec's interface that the engine
applies to shares, and SharedVec carries it as its ``share`` (its ``mac``
stays a field vector of zeros: a replay's MAC key is 0).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from offchain import curve
from offchain.errors import ConfigError
from offchain.field import P, FieldVec

_ONE = FieldVec.from_ints([1]).limbs[0]
_MINUS_ONE = FieldVec.from_ints([P - 1]).limbs[0]


class CommitVec:
    """An immutable vector of commitments, with the share operations of a replay."""

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
    def concat(cls, parts: Sequence[CommitVec | FieldVec]) -> CommitVec:
        """Concatenation; field vectors among the parts are public constants (zeros mostly)."""
        return cls(curve.PointVec.concat([_as_commit(p).points for p in parts]))

    def __len__(self) -> int:
        return len(self.points)

    def __getitem__(self, index: slice) -> CommitVec:
        if not isinstance(index, slice):
            raise TypeError("commitment vectors are sliced, not indexed")
        return CommitVec(self.points[index])

    def gather(self, index: np.ndarray) -> CommitVec:
        """The commitments at ``index``, in that order (indices may repeat)."""
        return CommitVec(curve.PointVec._wrap(self.points.rows()[index].tobytes()))

    def __add__(self, other: CommitVec | FieldVec | int) -> CommitVec:
        return CommitVec(self.points + _as_commit(other, len(self)).points)

    __radd__ = __add__

    def __sub__(self, other: CommitVec | FieldVec | int) -> CommitVec:
        return CommitVec(self.points - _as_commit(other, len(self)).points)

    def __rsub__(self, other: FieldVec | int) -> CommitVec:
        return CommitVec(_as_commit(other, len(self)).points - self.points)

    def __neg__(self) -> CommitVec:
        return CommitVec(-self.points)

    def __mul__(self, c: FieldVec | int) -> CommitVec:
        """c * C for a public int, or c_i * C_i for a public vector (signs are cheap)."""
        if isinstance(c, int):
            k = c % P
            if k in (0, 1, P - 1):
                return self if k == 1 else -self if k else CommitVec(curve.PointVec.infinity(len(self)))
            return CommitVec(self.points.scale(k))
        if not isinstance(c, FieldVec):
            return NotImplemented
        if len(c) != len(self):
            raise ConfigError(f"{len(c)} scalars for {len(self)} commitments")
        limbs = c.limbs
        one, minus = (limbs == _ONE).all(axis=1), (limbs == _MINUS_ONE).all(axis=1)
        if (one | minus).all():  # The sign flips of bitwise XOR: no scalar multiplication.
            flipped = np.where(minus[:, None], (-self.points).rows(), self.points.rows())
            return CommitVec(curve.PointVec._wrap(flipped.tobytes()))
        return CommitVec(self.points.scale(c))

    __rmul__ = __mul__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CommitVec):
            return NotImplemented
        return self.points == other.points

    def __hash__(self) -> int:
        return hash(self.points)

    def __repr__(self) -> str:
        return f"CommitVec({self.points!r})"


def _as_commit(x: CommitVec | FieldVec | int, n: int | None = None) -> CommitVec:
    if isinstance(x, CommitVec):
        return x
    if isinstance(x, FieldVec):
        return CommitVec.public(x)
    if isinstance(x, int) and n is not None:
        return CommitVec.public(FieldVec.full(n, x % P))
    raise TypeError(f"cannot use {type(x).__name__} as commitments")
