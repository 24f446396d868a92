"""Tuples the members make themselves (dealerless preprocessing), from the LowGear session to the cache.

All members of the group run :func:`make_tuples` at once over their MPC
channels, with the same needs. For each tuple key, batch after batch:

1. the members make the batch together (offchain.dealerless.produce: LowGear
   over BGV, every broadcast ciphertext proven, each member's own keys);
2. they run the engine's sacrifice on it, as on a dealer's batch;
3. one member (in turn, batch by batch) commits the batch on chain: its id,
   kind, count and the hash of the session's transcript
   (:func:`~offchain.dealerless.produce.batch_commitment`); the others wait
   for that record and check the hash against their own;
4. each member stores the tuples, attests on chain, and marks them attested,
   as for a dealer's batch; jobs reserve them the same way.

No service takes part: each member's MAC key share is its own random choice
(:func:`fresh_key`), and nobody learns the MAC key or a tuple.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass

from mpcc.peer.member import MemberPeer, attestation_hash
from mpcc.peer.pace import Pace
from offchain.dealerless import LowGear, setup
from offchain.dealerless.produce import batch_commitment, make_batch
from offchain.engine.sacrifice import accept_batch
from offchain.engine.session import Session
from offchain.errors import ProtocolAbort
from offchain.field import P
from offchain.lattice.params import RingParams, production
from offchain.preprocessing.delivery import chain_kind
from offchain.preprocessing.tuples import Needs, TupleKey
from offchain.shares import MacKeyShare
from onchain.ledger import BatchStatus
from onchain.ledger import TupleKind as ChainKind

log = logging.getLogger("mpcc.peer")


@dataclass(frozen=True)
class MadeBatch:
    """A batch the members made, committed and attested: what a proposer reserves from."""

    batch_id: bytes
    key: TupleKey
    count: int


def fresh_key(party: int) -> MacKeyShare:
    """This member's MAC key share, drawn by itself: the MAC key is the sum of every member's."""
    return MacKeyShare(party, secrets.randbelow(P))


async def start_session(ctx: Session, params: RingParams | None = None) -> LowGear:
    """The session's LowGear setup (keys checked by cut and choose, each MAC key share encrypted and proven)."""
    lowgear = await setup(ctx, params or production())
    log.info("dealerless session set up among %d members", ctx.n_parties)
    return lowgear


async def make_tuples(peer: MemberPeer, ctx: Session, lowgear: LowGear, needs: Needs,
                      first_committer: int = 0) -> list[MadeBatch]:
    """At least ``needs`` of each key, made, checked, committed, attested and stored (see the module docstring).

    Every member calls it with the same needs; member ``first_committer``
    commits the first batch, the next member the next one, and so on.
    """
    made: list[MadeBatch] = []
    for key, count in needs:
        left = count
        while left > 0:
            committer = (first_committer + len(made)) % ctx.n_parties
            batch = await make_one(peer, ctx, lowgear, key, left, committer)
            made.append(batch)
            left -= batch.count
    return made


async def make_one(peer: MemberPeer, ctx: Session, lowgear: LowGear, key: TupleKey, count: int,
                   committer: int) -> MadeBatch:
    """One batch of ``key``: made, sacrificed, committed by member ``committer``, attested and stored."""
    part = await make_batch(ctx, lowgear, key, count)
    commitment = batch_commitment(ctx, part)
    tuples = await accept_batch(ctx, part)  # SacrificeFailed: nothing was committed, nothing is kept.
    name = part.batch_id.hex()[:16]
    if ctx.party == committer:
        await peer.chain.run(peer.dep.ledger.commit_batch, peer.org.account, part.batch_id,
                             ChainKind(chain_kind(key.kind)), part.count, commitment)
    else:
        await _committed(peer, part.batch_id, commitment, part.count)
    transcript = attestation_hash(part.batch_id, commitment)
    await peer.disk(peer.cache.store, part.batch_id, tuples, transcript_hash=transcript, attested=False)
    await peer.chain.run(peer.dep.ledger.attest_sacrifice, peer.org.account, part.batch_id, transcript)
    await peer.disk(peer.cache.mark_attested, part.batch_id)
    log.info("batch %s: %d %s made by the members, checked, attested and stored", name, part.count, key)
    return MadeBatch(part.batch_id, key, part.count)


async def _committed(peer: MemberPeer, batch_id: bytes, commitment: bytes, count: int) -> None:
    """Waits for the committing member's record of the batch and checks it is the one made here."""
    deadline = asyncio.get_running_loop().time() + peer.timeout_s
    pace = Pace(peer.poll_s)
    while True:
        batch = await peer.chain.run(peer.dep.ledger.batch, batch_id)
        if batch.status is not BatchStatus.NONE:
            break
        if asyncio.get_running_loop().time() > deadline:
            raise ProtocolAbort(f"batch {batch_id.hex()[:16]} was not committed on chain within {peer.timeout_s}s "
                                "by the member whose turn it was")
        await asyncio.sleep(pace.wait_s())
    if batch.commitment != commitment or batch.count != count:
        raise ProtocolAbort(f"batch {batch_id.hex()[:16]} was committed by {batch.service} with another "
                            "transcript hash or count than the batch made here: not attested, not used")
