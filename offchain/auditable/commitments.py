"""A participant's Pedersen commitments to its input shares, and its opening of revealed totals.

Party i commits to each of its shares x_i of every input value with
randomness r_i it alone knows: C_i = x_i*G + r_i*H (BN254 G1, offchain.curve).
The sum over the parties, sum_i C_i = x*G + (sum_i r_i)*H, is a Pedersen
commitment to x whose randomness is additively shared like x itself
(Baum-Damgaard-Orlandi 2014). A revealed total y = sum_k x_k (over the owners
k) is opened by each party publishing y_i = sum_k x_k,i and R_i = sum_k r_k,i;
anyone checks y_i*G + R_i*H = sum_k C_k,i. Neither y_i nor R_i says anything
about one owner's input: y_i is a share of the total, R_i is uniform.

Layout of the list: owner-major, the point of owner k's value j at index
k*width + j; wire format: the points' 64-byte encodings, concatenated (what
AuditTrail takes in calldata, see onchain.audit_trail).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from offchain import curve
from offchain.errors import ConfigError
from offchain.field import FieldVec, P, RandBytes
from offchain.shares import SharedVec


@dataclass(frozen=True)
class ShareCommitments:
    """One party's commitments to its shares of every input, with the randomness it keeps."""

    points: curve.PointVec
    values: FieldVec
    rands: FieldVec
    width: int

    def opening(self, columns: Sequence[int]) -> tuple[list[int], list[int]]:
        """(y_i, R_i) for each column: this party's share of the column total and its randomness."""
        owners = len(self.values) // self.width
        values, rands = self.values.to_ints(), self.rands.to_ints()
        out_shares, out_rands = [], []
        for column in columns:
            if not 0 <= column < self.width:
                raise ConfigError(f"column {column} is outside the width {self.width}")
            index = [k * self.width + column for k in range(owners)]
            out_shares.append(sum(values[i] for i in index) % P)
            out_rands.append(sum(rands[i] for i in index) % P)
        return out_shares, out_rands

def commit_shares(inputs: Sequence[SharedVec], randbytes: RandBytes = secrets.token_bytes
                  ) -> ShareCommitments:
    """Commitments to this party's shares of every owner's inputs (all of equal width)."""
    widths = {len(x) for x in inputs}
    if len(widths) != 1:
        raise ConfigError(f"every owner must input the same number of values, got {sorted(widths)}")
    values = FieldVec.concat([x.share for x in inputs])
    rands = FieldVec.random(len(values), randbytes)
    return ShareCommitments(curve.commit(values, rands), values, rands, widths.pop())


def check_opening(sums: curve.PointVec, shares: Sequence[int], rands: Sequence[int]) -> list[int]:
    """Indices j where shares[j]*G + rands[j]*H differs from sums[j] (empty: all open)."""
    bad: list[int] = mismatches(sums, FieldVec.from_ints(list(shares)), FieldVec.from_ints(list(rands))).tolist()
    return bad


def mismatches(expected: curve.PointVec, values: FieldVec, rands: FieldVec) -> np.ndarray:
    """Indices j where values[j]*G + rands[j]*H is not expected[j], in increasing order."""
    if not len(expected) == len(values) == len(rands):
        raise ConfigError(f"{len(values)} values and {len(rands)} randomness values for "
                          f"{len(expected)} commitments")
    opened = curve.commit(values, rands)
    return np.flatnonzero((opened.rows() != expected.rows()).any(axis=1))


def column_sums(points: curve.PointVec, width: int) -> curve.PointVec:
    """The sum of each column of an owner-major list (what the contract accumulates)."""
    if len(points) % width:
        raise ConfigError(f"{len(points)} commitments do not fill columns of width {width}")
    return curve.PointVec.concat([points[j::width].sum() for j in range(width)])
