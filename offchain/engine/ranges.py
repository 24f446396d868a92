"""Range checks of shared values under MPC: x_i in [lo_i, hi_i], sound whatever x_i is.

A comparison (``compare.ltz``) gives the right bit only for values already in
range; a party that inputs a field element far outside it can make it return a
non-bit. This check holds for any field element. For y = x - lo and the width
m with hi - lo < 2^m, the parties compute y mod 2^m as in Mod2m of Catrina
and de Hoogh (SCN 2010, Protocol 3.2): open c = y + 2^m r'' + r' (r' from m
sacrifice-checked random bits), then

    a = c' - r' + 2^m [c' < r'],   c' = c mod 2^m,

which lies in [0, 2^m) for every y, because r' < 2^m and [c' < r'] is a bit
(the bitwise comparison of ``compare.bit_lt``, whose openings are MAC-checked).
So y lies in [0, 2^m) exactly when y - a = 0, and that difference is opened:
an honest value gives 0, so the opening reveals nothing. When hi - lo + 1 is
not a power of two, hi - x is checked the same way. Every opening before the
differences is MAC-checked, and the differences themselves before they are
read, so a nonzero difference is the value itself out of range, not a party
sending a wrong share. Soundness rests neither on r'' nor on the range of
the mask; the dealer's honesty matters for privacy only (c hides y by kappa
bits of r''), as in LTZ.

Cost per check of width m: that of ``compare.ltz`` at m + 1 bits (m + 1 bits:
the mask's m and the comparison's sign bit; one pair (m, m + 1 + kappa); m + 1
triples), all checks of one width in one batch.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from offchain.engine.bitwise import KAPPA, low_bits, public_bits, take_mask
from offchain.engine.compare import bit_lt
from offchain.engine.evaluator import Evaluator, S
from offchain.engine.mac_check import check_pending
from offchain.engine.opening import open_value
from offchain.errors import ConfigError, RangeCheckFailed
from offchain.field import FieldVec
from offchain.preprocessing.tuples import TupleKind


@dataclass(frozen=True, slots=True)
class Bound:
    """The closed integer interval [lo, hi] a shared value must lie in."""

    lo: int
    hi: int

    def __post_init__(self) -> None:
        if self.hi < self.lo:
            raise ConfigError(f"empty range [{self.lo}, {self.hi}]")

    @property
    def width(self) -> int:
        """m: hi - lo < 2^m (at least 1)."""
        return max(1, (self.hi - self.lo).bit_length())

    @property
    def two_sided(self) -> bool:
        """Whether hi needs its own check (hi - lo + 1 is not 2^m)."""
        return self.hi - self.lo + 1 != 1 << self.width


def signed(bits: int) -> Bound:
    """[-2^(bits-1), 2^(bits-1)): a signed ``bits``-bit integer, e.g. a fixed-point encoding."""
    return Bound(-(1 << (bits - 1)), (1 << (bits - 1)) - 1)


@dataclass(frozen=True, slots=True)
class _Check:
    """One one-sided check: sign * x_index + offset in [0, 2^width)."""

    index: int
    sign: int
    offset: int


def _checks(bounds: Sequence[Bound]) -> dict[int, list[_Check]]:
    """The one-sided checks of every bound, grouped by width."""
    groups: dict[int, list[_Check]] = defaultdict(list)
    for i, b in enumerate(bounds):
        groups[b.width].append(_Check(i, 1, -b.lo))
        if b.two_sided:
            groups[b.width].append(_Check(i, -1, b.hi))
    return groups


def check_sizes(bounds: Sequence[Bound]) -> dict[int, int]:
    """How many one-sided checks of each width ``check`` runs (for offchain.engine.estimate)."""
    return {width: len(checks) for width, checks in sorted(_checks(bounds).items())}


async def check(ctx: Evaluator[S], x: S, bounds: Sequence[Bound], kappa: int = KAPPA) -> None:
    """Raise ``RangeCheckFailed`` naming every i with x_i outside bounds[i] (see the module)."""
    if len(bounds) != len(x):
        raise ConfigError(f"{len(bounds)} bounds for {len(x)} values")
    bad: set[int] = set()
    for width, checks in sorted(_checks(bounds).items()):
        index = np.asarray([c.index for c in checks], dtype=np.int64)
        flip = FieldVec.from_ints([c.sign < 0 for c in checks])
        y = ctx.add_public(x.gather(index).negate_where(flip),
                           FieldVec.from_ints([c.offset for c in checks]))
        gaps = await _differences(ctx, y, width, kappa)
        bad.update(checks[j].index for j, gap in enumerate(gaps.to_ints()) if gap)
    if bad:
        raise RangeCheckFailed(sorted(bad))


async def _differences(ctx: Evaluator[S], y: S, m: int, kappa: int) -> FieldVec:
    """y - (y mod 2^m) opened and MAC-checked: 0 exactly where y is in [0, 2^m)."""
    n = len(y)
    if m + 1 + kappa > 252:
        raise ConfigError(f"range checks need width + kappa <= 251, got {m}")
    mask = take_mask(ctx, n, m, m + 1, kappa)
    (sign,) = ctx.take(TupleKind.BIT, n).columns
    c = await open_value(ctx, y + mask.r)
    below = await bit_lt(ctx, public_bits(c, m), mask.bits, sign)
    reduced = ctx.add_public(below.scale(1 << m) - mask.low, low_bits(c, m))
    gaps = await open_value(ctx, y - reduced)
    await check_pending(ctx)
    return gaps
