"""Opening shared vectors: partial opening (checked later) and output (checked now).

Opening is all-to-all: each party sends its shares to every other party
(message: the FieldVec wire format of its shares of all vectors opened in
that round, concatenated) and sums what it receives. Nothing is recorded in
the broadcast transcript: a party that sends different shares to different
parties makes the honest parties' MAC-check shares inconsistent, which the
MAC check catches without knowledge of the honest alpha_i.
"""

from __future__ import annotations

from collections.abc import Sequence

from offchain.engine.comm import decode, exchange
from offchain.engine.context import Context
from offchain.engine.mac_check import check_pending
from offchain.errors import MalformedMessage
from offchain.field import FieldVec
from offchain.shares import SharedVec


async def open_shares(ctx: Context, shares: Sequence[FieldVec]) -> list[FieldVec]:
    """Sums every party's shares of each vector (one round, no MAC bookkeeping).

    With a tape, the sums are recorded; a replay takes them from its tape instead.
    """
    if ctx.tape is not None and ctx.tape.replaying:
        return ctx.tape.play_opened(shares)
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
    if ctx.tape is not None:
        ctx.tape.record_opened(out)
    return out


async def open_values(ctx: Context, xs: Sequence[SharedVec]) -> list[FieldVec]:
    """Opens several shared vectors in one round; the values still await a MAC check.

    Use the values only for further protocol steps (like Beaver's d and e),
    never as an output: outputs go through :func:`output`.
    """
    values = await open_shares(ctx, [x.share for x in xs])
    for v, x in zip(values, xs):
        ctx.record_opened(v, x.mac)
    return values


async def open_value(ctx: Context, x: SharedVec) -> FieldVec:
    """:func:`open_values` for one vector."""
    return (await open_values(ctx, [x]))[0]


async def output_many(ctx: Context, xs: Sequence[SharedVec]) -> list[FieldVec]:
    """Opens the vectors and MAC-checks them with every pending value before returning."""
    values = await open_values(ctx, xs)
    await check_pending(ctx)
    return values


async def output(ctx: Context, x: SharedVec) -> FieldVec:
    """The public value of x, returned only after the MAC check passed."""
    return (await output_many(ctx, [x]))[0]
