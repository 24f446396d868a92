"""The randomness of a random forest: bootstrap row weights and per-node feature draws from a joint coin.

Both are public functions of the job's joint coin (a 32-byte seed tossed by
commit-then-reveal, offchain.engine.coin.toss_recorded, after the spec is
fixed and before any input), so no party chooses them and every party can recompute
them; they depend on no data.

Bootstrap (Poisson, capped). Row r of party i (its r-th row, from 0, in the
order the party's table holds them) weighs w = min(X, MAX_WEIGHT) in tree j,
X ~ Poisson(1), drawn by inversion of a 64-bit uniform u:

    stream = SHAKE-256("mpcc-forest-weight-v1" || seed || j (2 bytes) || i (2 bytes)),
    u = bytes 8r .. 8r + 7 of the stream, big-endian,
    w = #{k in 1 .. MAX_WEIGHT : u >= T_k},   T_k = floor(2^64 P(X <= k - 1)).

A Poisson bootstrap needs no party to know another's row count (a
multinomial draw of n rows out of n would): each party weighs its own rows,
and the weighted counts are what it inputs. Capping at MAX_WEIGHT = 4
changes P(w = 4) to P(X >= 4) ~ 0.019 and bounds what one row adds to a
count; every bound of the tree rule (offchain.analytics.tree_split.Shape)
uses rows * MAX_WEIGHT, and a row's differential-privacy sensitivity is
MAX_WEIGHT per tree. What the weights reveal: nothing of the data; a party
learns the weights of any row index of any party, not how many rows it has.

Features (per node, as scikit-learn's ``max_features``). A node of tree j at
``path`` (its (feature, value) indices from the root) takes as candidates
the m = min(max_features, free) free features (not on its path) of the
smallest keys

    key(f) = SHAKE-256("mpcc-forest-feature-v1" || seed || j (2 bytes) ||
                       len(path) (1 byte) || f_1 v_1 ... (1 byte each) || f (1 byte)), 8 bytes,

in increasing feature index (ties of the split rule go to the lowest index,
as in the tree). The path is public once its parent's split is opened, so
the draw adds nothing to what the tree reveals.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal, localcontext
from typing import Final

import numpy as np

from offchain.analytics.tree_split import Path

MAX_WEIGHT: Final = 4
_WEIGHT_TAG: Final = b"mpcc-forest-weight-v1"
_FEATURE_TAG: Final = b"mpcc-forest-feature-v1"


def _poisson_thresholds(cap: int) -> tuple[int, ...]:
    """T_k = floor(2^64 P(Poisson(1) <= k - 1)), k = 1 .. cap, in 60-digit decimal arithmetic."""
    with localcontext() as dc:
        dc.prec = 60
        e_inv, term, cdf, out = Decimal(-1).exp(), Decimal(1), Decimal(0), []
        for k in range(cap):
            cdf += term
            term /= k + 1
            out.append(int(cdf * e_inv * (1 << 64)))  # int() of a positive value: the floor
    return tuple(out)


THRESHOLDS: Final = _poisson_thresholds(MAX_WEIGHT)


def weights(seed: bytes, tree: int, party: int, rows: int) -> np.ndarray:
    """The bootstrap weight of each of a party's rows in one tree (uint8, 0 .. MAX_WEIGHT).

    One byte per row and tree: a party holds T * rows bytes of weights while the forest grows.
    """
    stream = hashlib.shake_256(_WEIGHT_TAG + seed + tree.to_bytes(2, "big")
                               + party.to_bytes(2, "big")).digest(8 * rows)
    u = np.frombuffer(stream, dtype=">u8").astype(np.uint64)
    bounds = np.asarray(THRESHOLDS, dtype=np.uint64)
    out: np.ndarray = (u[:, None] >= bounds[None, :]).sum(axis=1, dtype=np.uint8)
    return out


def features(seed: bytes, tree: int, path: Path, free: list[int], m: int) -> list[int]:
    """The node's candidates: the m free features of least key, in increasing index."""
    if m >= len(free):
        return list(free)
    head = (_FEATURE_TAG + seed + tree.to_bytes(2, "big") + bytes([len(path)])
            + bytes(x for pair in path for x in pair))

    def key(f: int) -> bytes:
        return hashlib.shake_256(head + bytes([f])).digest(8)

    return sorted(sorted(free, key=key)[:m])
