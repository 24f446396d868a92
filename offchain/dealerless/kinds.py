"""The other tuple kinds from LowGear's output: random bits from square pairs, and input masks for an owner.

Random bits (:func:`bit_batch`), the square-root trick of SPDZ ([DKLPSS13],
section on preprocessing bits; as in MP-SPDZ's bits from squares):

1. a square batch (:func:`offchain.dealerless.lowgear.square_batch`) gives
   pairs (<a>, <a^2>) and as many check pairs (<f>, <f^2>);
2. every party opens a^2 and the MAC check runs on it before the value is
   used, so every honest party holds the same s = a^2;
3. slots with s = 0 are dropped (a = 0 has no sign to turn into a bit;
   probability 1/P a slot), the same slots at every party since s is the same;
4. v is the square root of s in [0, (P - 1) / 2] (Tonelli-Shanks), so
   a / v is +1 or -1, each with probability 1/2 (a is uniform, and s hides
   its sign), and b = (a / v + 1) / 2 is a uniform bit: a linear function
   of <a>, computed on shares and MAC shares alike.

The result is a BIT batch whose checks are the square batch's check pairs
in the kept slots; :func:`offchain.engine.sacrifice.accept_batch` checks
(b, b) as a square against them, t^2 (b - b^2) + (f^2 - h) = 0 for a coin t
drawn afterwards, which catches a wrong product behind a^2 (then b is no
bit) and a wrong check pair alike. A value s that is not a square proves a
wrong product: every party sees the same s and raises SacrificeFailed.

Input masks for owner o (:func:`input_mask_batch`): o samples r and deals
an additive sharing of it, sending u_j to every other party j and keeping
r - sum_j u_j; then every party runs LowGear's MAC step on its share
(:func:`offchain.dealerless.lowgear.authenticate`). The MAC step makes
shares of alpha x for any additive sharing of x, so the result is a MAC'd
sharing of r. Only o learns r: each other party sees its uniform u_j and
masked, flooded returns; with two or more honest parties their shares are
uniform subject to the sum, as SPDZ's openings assume (shares (r, 0, ..., 0)
would give r away as soon as a sum with other inputs is opened share by
share). A malicious owner only spoils its own mask; a party that uses
another multiplier than its share, or a wrong return, makes the MACs wrong,
which the sacrifice's linear MAC check catches.
"""

from __future__ import annotations

import asyncio
import hashlib

import numpy as np

from offchain.dealerless.lowgear import LowGear, authenticate, batch_slots, square_batch
from offchain.engine.comm import decode
from offchain.engine.mac_check import check_macs
from offchain.engine.opening import open_shares
from offchain.engine.session import Session
from offchain.errors import ConfigError, MalformedMessage, SacrificeFailed
from offchain.field import FieldVec, P
from offchain.preprocessing.tuples import PartyBatch, TupleKey, TupleKind

_BIT_TAG = b"mpcc-lowgear-bits-v1"
_MASK_TAG = b"mpcc-lowgear-input-masks-v1"
_HALF = (P + 1) // 2


async def bit_batch(ctx: Session, lowgear: LowGear, ciphertexts: int = 1) -> PartyBatch:
    """About k N / 2 random bits from one square batch (the steps in the module docstring).

    k = ``ciphertexts``; every party must ask for the same. The batch id is
    derived from the square batch's, which no other batch uses.
    """
    squares = await square_batch(ctx, lowgear, ciphertexts)
    a, square = squares.columns
    (s,) = await open_shares(ctx, [square.share])
    # The roots are taken only of a value every honest party agrees on, MACs checked.
    await check_macs(ctx, [(s, square.mac)], b"lowgear-bit-squares")
    batch_id = hashlib.sha256(_BIT_TAG + squares.batch_id).digest()
    kept = np.flatnonzero(s.limbs.any(axis=1))
    inverse_roots = await asyncio.to_thread(FieldVec(s.limbs[kept]).inverse_square_roots)
    if inverse_roots is None:
        raise SacrificeFailed(batch_id, TupleKind.BIT.value, "an opened square has no square root")
    bits = a.gather(kept).scale(inverse_roots).add_public(1, ctx.key).scale(_HALF)
    checks = tuple(c.gather(kept) for c in squares.checks)
    return PartyBatch(batch_id, TupleKey(TupleKind.BIT), ctx.party, ctx.n_parties, (bits,), checks)


async def input_mask_batch(ctx: Session, lowgear: LowGear, owner: int, ciphertexts: int = 1) -> PartyBatch:
    """k N - 1 input masks for ``owner`` and one check mask (the steps in the module docstring).

    The owner's message to each peer j is u_j in the field vector wire
    format (:meth:`offchain.field.FieldVec.to_bytes`: a version byte, then
    32 bytes per element). Only the owner's batch carries the clear values:
    the masks, then the check mask, as the sacrifice reads them.
    """
    if not 0 <= owner < ctx.n_parties:
        raise ConfigError(f"no party {owner} among {ctx.n_parties} to own input masks")
    size = batch_slots(lowgear, ciphertexts)
    clear = None
    if ctx.party == owner:
        clear = FieldVec.random(size, ctx.randbytes)
        share = clear
        for j in ctx.transport.peers:
            dealt = FieldVec.random(size, ctx.randbytes)
            await ctx.transport.send(j, dealt.to_bytes())
            share = share - dealt
    else:
        share = decode(owner, FieldVec.from_bytes, await ctx.transport.recv(owner))
        if len(share) != size:
            raise MalformedMessage(owner, f"dealt {len(share)} mask shares, expected {size}")
    shared = await authenticate(ctx, lowgear, share)
    key = TupleKey(TupleKind.INPUT_MASK, owner=owner)
    return PartyBatch(_fresh_id(ctx, _MASK_TAG + owner.to_bytes(2, "big")), key, ctx.party, ctx.n_parties,
                      (shared[:size - 1],), (shared[size - 1:],), clear)


def _fresh_id(ctx: Session, tag: bytes) -> bytes:
    """A batch id from the transcript, bound into it at once: equal at every honest party, new per batch."""
    batch_id = hashlib.sha256(tag + ctx.transcript_digest()).digest()
    ctx.bind(tag + batch_id)
    return batch_id
