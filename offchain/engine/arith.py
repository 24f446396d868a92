"""Secure multiplication with preprocessed tuples (one round per call, any vector length).

Beaver [Bea91]: with a triple (<a>, <b>, <c = ab>), open d = x - a and
e = y - b (both in the same round); then <xy> = <c> + e<a> + d<b> + de.
Squaring with a square pair (<a>, <a^2>): open d = x - a; then
<x^2> = <a^2> + 2d<a> + d^2. Opened d, e join the pending MAC check.
"""

from __future__ import annotations

from offchain.engine.context import Context
from offchain.engine.opening import open_values
from offchain.errors import ConfigError
from offchain.field import FieldVec, beaver_combine
from offchain.preprocessing.tuples import TupleKind
from offchain.shares import SharedVec


async def mul(ctx: Context, x: SharedVec, y: SharedVec) -> SharedVec:
    """<x * y> elementwise."""
    if len(x) != len(y):
        raise ConfigError(f"cannot multiply vectors of lengths {len(x)} and {len(y)}")
    a, b, c = ctx.take(TupleKind.TRIPLE, len(x)).columns
    d, e = await open_values(ctx, [x - a, y - b])
    return beaver_step(ctx, (a, b, c), d, e)


def beaver_step(ctx: Context, triple: tuple[SharedVec, SharedVec, SharedVec], d: FieldVec,
                e: FieldVec) -> SharedVec:
    """<c + e a + d b + d e>: Beaver's output from the opened d, e (fused for field shares)."""
    a, b, c = triple
    if not all(isinstance(v.share, FieldVec) for v in triple):  # A replay on commitments.
        return c.scale_add(e, a).scale_add(d, b).add_public(d * e, ctx.key)
    share, mac = beaver_combine((c.share, c.mac), (a.share, a.mac), (b.share, b.mac), d, e,
                                ctx.key.alpha, ctx.key.party == 0)
    return SharedVec(share, mac)


async def square(ctx: Context, x: SharedVec) -> SharedVec:
    """<x * x> elementwise, with a square pair instead of a triple (one value opened, not two)."""
    a, a2 = ctx.take(TupleKind.SQUARE, len(x)).columns
    (d,) = await open_values(ctx, [x - a])
    return a2.scale_add(d * 2, a).add_public(d * d, ctx.key)
