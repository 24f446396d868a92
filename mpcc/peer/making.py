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

In the peer daemon (``make`` in the peer's configuration) a :class:`Maker`
keeps the stock: the members open one channel session for making (its tag
from the group), set LowGear up (or resume the setup every member kept from
an earlier session: :mod:`offchain.dealerless.kept`, the member's decryption
key sealed beside its tuple cache), and then the first member of the group
orders, every few seconds, the batch the stock lacks most (or nothing), by
its own cache; every member follows the order. A failure ends the session
at every member; they open a new one after a pause.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mpcc.peer.channels import Channels
from mpcc.peer.member import MemberPeer, attestation_hash
from mpcc.peer.pace import Deadline, Pace
from offchain.dealerless import LowGear, setup
from offchain.dealerless.kept import KeptSetup, keep, restore, resume
from offchain.dealerless.produce import batch_commitment, make_batch
from offchain.engine.comm import broadcast_from
from offchain.engine.sacrifice import accept_batch
from offchain.engine.session import Session
from offchain.errors import (
    ConfigError,
    DecodeError,
    MacCheckFailed,
    MalformedMessage,
    MpccError,
    PeerDisconnected,
    ProtocolAbort,
    SacrificeFailed,
)
from offchain.field import P
from offchain.lattice.params import RingParams, production
from offchain.preprocessing.delivery import chain_kind
from offchain.preprocessing.keyshare import group_id
from offchain.preprocessing.tuples import Needs, TupleKey, TupleKind
from offchain.shares import MacKeyShare
from onchain.ledger import BatchStatus
from onchain.ledger import TupleKind as ChainKind
from onchain.registry import Member

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
    """The session's LowGear setup (every key proven well formed, each MAC key share encrypted and proven)."""
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
                   committer: int, note: Callable[[bytes, str], None] = lambda batch_id, state: None) -> MadeBatch:
    """One batch of ``key``: made, sacrificed, committed by member ``committer``, attested and stored.

    ``note(batch_id, state)`` hears of the batch as soon as it is made ("made"), before anything
    about it is on chain, and once it is stored ("stored").
    """
    part = await make_batch(ctx, lowgear, key, count)
    note(part.batch_id, "made")
    commitment = batch_commitment(ctx, part)
    tuples = await accept_batch(ctx, part)  # SacrificeFailed: nothing was committed, nothing is kept.
    name, kind = part.batch_id.hex()[:16], ChainKind(chain_kind(key.kind))
    if ctx.party == committer:
        await peer.chain.run(peer.dep.ledger.commit_batch, peer.org.account, part.batch_id, kind, part.count,
                             commitment)
    else:
        await _committed(peer, part.batch_id, commitment, kind, part.count)
    transcript = attestation_hash(part.batch_id, commitment)
    await peer.disk(peer.cache.store, part.batch_id, tuples, transcript_hash=transcript, attested=False)
    await peer.chain.run(peer.dep.ledger.attest_sacrifice, peer.org.account, part.batch_id, transcript)
    await peer.disk(peer.cache.mark_attested, part.batch_id)
    note(part.batch_id, "stored")
    log.info("batch %s: %d %s made by the members, checked, attested and stored", name, part.count, key)
    return MadeBatch(part.batch_id, key, part.count)


async def _committed(peer: MemberPeer, batch_id: bytes, commitment: bytes, kind: ChainKind, count: int) -> None:
    """Waits for the committing member's record of the batch and checks it is the one made here."""
    deadline = Deadline(peer.timeout_s)
    pace = Pace(peer.poll_s)
    while True:
        batch = await deadline.read(peer.chain.run(peer.dep.ledger.batch, batch_id))
        if batch.status is not BatchStatus.NONE:
            break
        if deadline.passed():
            raise ProtocolAbort(f"batch {batch_id.hex()[:16]} was not committed on chain within {peer.timeout_s}s "
                                "by the member whose turn it was")
        await asyncio.sleep(pace.wait_s())
    if batch.commitment != commitment or batch.count != count or batch.kind != kind:
        raise ProtocolAbort(f"batch {batch_id.hex()[:16]} was committed by {batch.service} with another "
                            "transcript hash, kind or count than the batch made here: not attested, not used")


#: Seconds the first member waits before saying again that nothing is needed: a heartbeat that
#: keeps the others' channels well inside their timeout.
IDLE_ORDER_S = 2.0
#: Seconds between attempts to open a making session (a member is away, or the last one failed).
RETRY_S = 5.0
_SESSION_TAG = b"mpcc/making-session/v1"


@dataclass(frozen=True)
class Order:
    """What the first member asks the group to make next: ``count`` tuples of ``key``, or nothing (None)."""

    key: TupleKey | None
    count: int = 0

    def to_bytes(self) -> bytes:
        if self.key is None:
            return b"{}"
        return json.dumps({"kind": self.key.kind.value, "owner": self.key.owner, "count": self.count}).encode()

    @classmethod
    def from_bytes(cls, data: bytes, n_parties: int) -> Order:
        """The order as sent; ``MalformedMessage`` from the first member (party 0) if it is not one."""
        try:
            raw = json.loads(data)
            if raw == {}:
                return cls(None)
            kind, owner, count = TupleKind(raw["kind"]), raw["owner"], raw["count"]
            if (kind is TupleKind.TRUNC or not isinstance(count, int) or count < 1
                    or (owner is not None and not (isinstance(owner, int) and 0 <= owner < n_parties))):
                raise ValueError(data[:80])
            return cls(TupleKey(kind, owner=owner), count)
        except (ValueError, KeyError, TypeError, ConfigError) as err:
            raise MalformedMessage(0, f"not an order to make tuples: {err}") from err


def next_order(levels: dict[TupleKey, int], available: dict[TupleKey, int]) -> Order:
    """The key whose stock is furthest below its level, relatively, and how many it lacks; else nothing."""
    short = [(available.get(key, 0) / level, key, level - available.get(key, 0))
             for key, level in levels.items() if available.get(key, 0) < level]
    if not short:
        return Order(None)
    _, key, lacking = min(short, key=lambda s: (s[0], str(s[1])))
    return Order(key, lacking)


@dataclass
class Maker:
    """A peer daemon's part in making the group's tuples (see the module docstring)."""

    peer: MemberPeer
    channels: Channels
    group: list[Member]
    key: MacKeyShare
    levels: dict[TupleKey, int]
    batches: dict[str, str]  # The daemon's batch states, by batch id in hex.
    kept_path: Path | None = None  # Where this member keeps its LowGear setup between sessions (None: nowhere).
    ring: RingParams | None = None

    @property
    def tag(self) -> bytes:
        """The making session's channel tag: the same at every member of the group."""
        return hashlib.sha256(_SESSION_TAG + group_id([m.account for m in self.group])).digest()

    async def run(self, stop: asyncio.Event) -> None:
        """Makes tuples with the other members until ``stop`` is set, session after session."""
        while not stop.is_set():
            resumed = False
            try:
                everyone = await self.peer.chain.run(self.peer.dep.registry.members)
                transport = await self.channels.connect(self.tag, self.group, everyone, "making")
                try:
                    ctx = Session(transport, self.key)
                    lowgear, resumed = await self._setup(ctx)
                    await self._session(ctx, lowgear, stop)
                finally:
                    await self.channels.disconnect(transport, "making")
            except (MpccError, OSError) as err:
                if isinstance(err, (MacCheckFailed, SacrificeFailed)) and resumed and self.kept_path is not None:
                    # A kept setup that garbles tuples (a peer's file doctored or damaged) is not offered again.
                    self.kept_path.unlink(missing_ok=True)
                    log.warning("making tuples on the kept LowGear setup failed (%s); it is dropped, the next "
                                "session sets up afresh", err)
                log.warning("making tuples with the other members stopped (%s); a new session in %.0f s", err,
                            RETRY_S)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), RETRY_S)

    async def _setup(self, ctx: Session) -> tuple[LowGear, bool]:
        """The session's LowGear state, and whether it is the setup every member kept (else a fresh one, kept)."""
        params, group = self.ring or production(), group_id([m.account for m in self.group])
        kept = await asyncio.to_thread(self._kept, ctx, params, group)
        lowgear, mac = await resume(ctx, params, kept)
        if mac is None:
            log.info("dealerless session among %d members resumed the LowGear setup they kept", ctx.n_parties)
            return lowgear, True
        log.info("dealerless session set up among %d members", ctx.n_parties)
        if self.kept_path is not None:
            fresh = keep(ctx, lowgear, mac, group, self.peer.org.identity.hpke_public)
            await asyncio.to_thread(_write_private, self.kept_path, fresh.to_bytes())
        return lowgear, False

    def _kept(self, ctx: Session, params: RingParams, group: bytes) -> tuple[KeptSetup, LowGear] | None:
        """This member's kept setup, restored, or None (none kept, or one that cannot serve: said why)."""
        if self.kept_path is None or not self.kept_path.exists():
            return None
        try:
            kept = KeptSetup.from_bytes(self.kept_path.read_bytes())
            return kept, restore(kept, self.peer.org.identity, params, ctx, group)
        except (OSError, DecodeError, ConfigError) as err:
            log.warning("the LowGear setup kept in %s cannot serve (%s): the members set up afresh",
                        self.kept_path, err)
            return None

    async def _session(self, ctx: Session, lowgear: LowGear, stop: asyncio.Event) -> None:
        made = 0
        while not stop.is_set():
            payload = None
            if ctx.party == 0:
                # The first member only sends while nothing is made: a member that went away (and may be back,
                # waiting for a new session) would not be noticed before the next order that needs it.
                gone = [j for j in ctx.transport.peers if not ctx.transport.is_open(j)]
                if gone:
                    raise PeerDisconnected(gone[0])
                available = {key: await self.peer.disk(self.peer.cache.available, key) for key in self.levels}
                order = next_order(self.levels, available)
                if order.key is None:
                    await asyncio.sleep(IDLE_ORDER_S)
                payload = order.to_bytes()
            order = Order.from_bytes(await broadcast_from(ctx, 0, payload), ctx.n_parties)
            if order.key is not None:
                await make_one(self.peer, ctx, lowgear, order.key, order.count, made % ctx.n_parties, self._note)
                made += 1

    def _note(self, batch_id: bytes, state: str) -> None:
        self.batches[batch_id.hex()] = state


def _write_private(path: Path, data: bytes) -> None:
    """Writes ``data`` to ``path`` readable by this user only, replacing it whole (never half written)."""
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    partial.touch(mode=0o600)
    partial.write_bytes(data)
    partial.replace(path)
