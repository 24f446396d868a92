"""Batches of any stored tuple kind, made by the members themselves: what a consortium asks of LowGear.

:func:`make_batch` turns a tuple key and a count into one
:class:`~offchain.preprocessing.tuples.PartyBatch` of at least that many
tuples (a whole number of ciphertexts, never more than
:func:`~offchain.preprocessing.tuples.max_batch_count` allows), ready for
the engine's sacrifice like a dealer's batch. Every party must call it with
the same key and count, in the same order. Truncation pairs are never made:
every party builds them from checked bits when a job takes them.

:func:`batch_commitment` is what a member commits on chain for such a
batch: a hash of the session's transcript when the batch was made, the same
at every honest party, so that the attestations of all members vouch for
the same run.
"""

from __future__ import annotations

import hashlib

from offchain.dealerless.kinds import bit_batch, input_mask_batch
from offchain.dealerless.lowgear import LowGear, batch_slots, square_batch, triple_batch
from offchain.engine.session import Session
from offchain.errors import ConfigError
from offchain.preprocessing.tuples import PartyBatch, TupleKey, TupleKind, max_batch_count

_COMMITMENT_TAG = b"mpcc-dealerless-batch-v1"


def per_ciphertext(lowgear: LowGear, kind: TupleKind) -> int:
    """How many tuples of ``kind`` one ciphertext per party makes (bits: about that many, half the roots kept)."""
    slots = batch_slots(lowgear, 1)
    return slots - 1 if kind is TupleKind.INPUT_MASK else slots // 2


def ciphertexts_for(lowgear: LowGear, kind: TupleKind, count: int) -> int:
    """The ciphertexts per party one batch of at least ``count`` tuples takes, within the batch size limit.

    Bits come from square pairs whose opened square is not 0 (all but about
    one in 2^254), so as many as the squares are asked for.
    """
    if kind is TupleKind.TRUNC:
        raise ConfigError("truncation pairs are never made: every party builds them from checked bits")
    each = per_ciphertext(lowgear, kind)
    most = max(1, max_batch_count(kind) // each)
    return min(most, max(1, -(-count // each)))


async def make_batch(ctx: Session, lowgear: LowGear, key: TupleKey, count: int) -> PartyBatch:
    """This party's part of one new batch of ``key`` holding at least min(count, one batch's most) tuples."""
    k = ciphertexts_for(lowgear, key.kind, count)
    if key.kind is TupleKind.TRIPLE:
        return await triple_batch(ctx, lowgear, k)
    if key.kind is TupleKind.SQUARE:
        return await square_batch(ctx, lowgear, k)
    if key.kind is TupleKind.BIT:
        return await bit_batch(ctx, lowgear, k)
    if key.owner is None:  # pragma: no cover - a TupleKey of input masks always has its owner
        raise ConfigError(f"{key} names no owner")
    return await input_mask_batch(ctx, lowgear, key.owner, k)


def batch_commitment(ctx: Session, batch: PartyBatch) -> bytes:
    """The hash a member commits on chain for ``batch``: its id, key, count and the session's transcript."""
    return hashlib.sha256(_COMMITMENT_TAG + batch.batch_id + str(batch.key).encode() + batch.count.to_bytes(8, "big")
                          + ctx.transcript_digest()).digest()
