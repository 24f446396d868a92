"""Secure multiplication with preprocessed tuples (one round per call, any vector length).

Beaver [Bea91]: with a triple (<a>, <b>, <c = ab>), open d = x - a and
e = y - b (both in the same round); then <xy> = <c> + e<a> + d<b> + de
(:meth:`Evaluator.beaver`, fused for a live party's shares). Squaring with a
square pair (<a>, <a^2>): open d = x - a; then <x^2> = <a^2> + 2d<a> + d^2.
Opened d, e join the pending MAC check.
"""

from __future__ import annotations

from offchain.engine.evaluator import Evaluator, S
from offchain.engine.opening import open_values
from offchain.errors import ConfigError
from offchain.preprocessing.tuples import TupleKind


async def mul(ctx: Evaluator[S], x: S, y: S) -> S:
    """<x * y> elementwise."""
    if len(x) != len(y):
        raise ConfigError(f"cannot multiply vectors of lengths {len(x)} and {len(y)}")
    a, b, c = ctx.take(TupleKind.TRIPLE, len(x)).columns
    d, e = await open_values(ctx, [x - a, y - b])
    return ctx.beaver((a, b, c), d, e)


async def square(ctx: Evaluator[S], x: S) -> S:
    """<x * x> elementwise, with a square pair instead of a triple (one value opened, not two)."""
    a, a2 = ctx.take(TupleKind.SQUARE, len(x)).columns
    (d,) = await open_values(ctx, [x - a])
    return ctx.add_public(a2.scale_add(d * 2, a), d * d)
