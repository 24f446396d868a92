"""Private inputs: the owner masks its values with preprocessed masks and broadcasts.

Owner o has mask shares <r> with r known to o alone (an input_mask tuple for
owner o). It broadcasts eps = x - r; every party sets <x> = <r> + eps
(a public addition). The broadcast enters the transcript, so an owner that
sends different eps to different parties is caught (BroadcastMismatch)
before any output. Message: the FieldVec wire format of eps.
"""

from __future__ import annotations

from offchain.engine.comm import decode
from offchain.engine.evaluator import Evaluator, S
from offchain.errors import ConfigError, MalformedMessage
from offchain.field import FieldVec
from offchain.preprocessing.tuples import TupleKey, TupleKind


async def input_values(ctx: Evaluator[S], owner: int, values: FieldVec | None, count: int) -> S:
    """Shares of ``count`` values held by party ``owner`` (who passes them; others pass None)."""
    if not 0 <= owner < ctx.n_parties:
        raise ConfigError(f"no party {owner}")
    if (ctx.party == owner) != (values is not None):
        raise ConfigError("the owner, and only the owner, passes the values")
    if values is not None and len(values) != count:
        raise ConfigError(f"owner passed {len(values)} values, count is {count}")
    masks = ctx.take(TupleKey(TupleKind.INPUT_MASK, owner=owner), count)
    payload = None
    if values is not None:
        if masks.clear is None:
            raise ConfigError(f"the input masks of owner {owner} came without their clear values")
        payload = (values - masks.clear).to_bytes()
    message = await ctx.broadcast_from(owner, payload)
    eps = decode(owner, FieldVec.from_bytes, message)
    if len(eps) != count:
        raise MalformedMessage(owner, f"{len(eps)} masked inputs, expected {count}")
    return ctx.add_public(masks.columns[0], eps)
