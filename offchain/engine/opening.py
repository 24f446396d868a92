"""Opening shared vectors: partial opening (checked later) and output (checked now).

Opening is all-to-all: each party sends its shares to every other party
(message: the FieldVec wire format of its shares of all vectors opened in
that round, concatenated) and sums what it receives. Nothing is recorded in
the broadcast transcript: a party that sends different shares to different
parties makes the honest parties' MAC-check shares inconsistent, which the
MAC check catches without knowledge of the honest alpha_i.

:func:`open_shares` is that exchange for a live party; the functions after it
are what programs call, on any evaluator (offchain.engine.evaluator): a live
party opens and MAC-checks, a replay reads the values from its tape.
"""

from __future__ import annotations

from collections.abc import Sequence

from offchain.engine.comm import decode, exchange
from offchain.engine.evaluator import Evaluator, S
from offchain.engine.session import Session
from offchain.errors import MalformedMessage
from offchain.field import FieldVec


async def open_shares(ctx: Session, shares: Sequence[FieldVec]) -> list[FieldVec]:
    """Sums every party's shares of each vector (one round, no MAC bookkeeping)."""
    mine = FieldVec.concat(list(shares))
    messages = await exchange(ctx, mine.to_bytes())
    total = mine
    for j in ctx.transport.peers:
        theirs = decode(j, FieldVec.from_bytes, messages[j])
        if len(theirs) != len(mine):
            raise MalformedMessage(j, f"opened {len(theirs)} values, expected {len(mine)}")
        total = total + theirs
    out, start = [], 0
    for s in shares:
        out.append(total[start:start + len(s)])
        start += len(s)
    return out


async def open_values(ctx: Evaluator[S], xs: Sequence[S]) -> list[FieldVec]:
    """Opens several shared vectors in one round; the values still await a MAC check.

    Use the values only for further protocol steps (like Beaver's d and e),
    never as an output: outputs go through :func:`output`.
    """
    return await ctx.open(xs)


async def open_value(ctx: Evaluator[S], x: S) -> FieldVec:
    """:func:`open_values` for one vector."""
    return (await ctx.open([x]))[0]


async def output_many(ctx: Evaluator[S], xs: Sequence[S]) -> list[FieldVec]:
    """Opens the vectors and MAC-checks them with every pending value before returning."""
    return await ctx.output(xs)


async def output(ctx: Evaluator[S], x: S) -> FieldVec:
    """The public value of x, returned only after the MAC check passed."""
    return (await ctx.output([x]))[0]
