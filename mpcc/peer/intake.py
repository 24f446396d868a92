"""Batch intake: the MAC key share, and each batch from delivery to storage.

For every batch the preprocessing service commits for this group, the peer
fetches its delivery, checks it against the commitment, runs the joint
sacrifice with the other members over mutual TLS, attests on chain and
stores the tuples; a delivery that fails its checks is rejected on chain.
A failed sacrifice makes the peer ask the service for its MAC key share
again (:func:`key_change_advice`): a service that lost its dealer state
deals under another key, and the log says how to take it.

When the members make their own tuples (``make`` in the configuration;
mpcc.peer.making) there is no service: the MAC key share is drawn here and
kept sealed to the organisation's own HPKE key, and no batch needs intake.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag

from mpcc.peer.channels import Channels
from mpcc.peer.making import fresh_key
from mpcc.peer.member import MemberPeer
from offchain.errors import ConfigError, DecodeError, DeliveryRejected, MpccError, ProtocolAbort, SacrificeFailed
from offchain.identity import Identity
from offchain.preprocessing.delivery import refuse_before_download
from offchain.preprocessing.keyshare import group_id, open_key_share, seal_key_share
from offchain.preprocessing.protocol import NotServed, SealedKeyShare, ServiceClient, ServiceError
from offchain.shares import MacKeyShare
from onchain.errors import ChainError
from onchain.ledger import BatchStatus
from onchain.registry import Member, Role

log = logging.getLogger("mpcc.peer")
RETRY_S = 1.0
#: Consecutive "not found" answers (one per RETRY_S) after which a batch is given up: the
#: service may answer so for a moment right after committing a batch, but not for this long.
GIVE_UP_UNSERVED = 30


async def key_change_advice(client: ServiceClient, identity: Identity, held: MacKeyShare, group: bytes,
                            kept_in: Path) -> str:
    """Why a batch failed its sacrifice, as far as the MAC key goes, and what to do.

    A service that dealt a new MAC key (it lost its dealer state, or dealt for
    another group) makes every batch fail at a peer holding the old share; so
    the peer asks the service for its share again and compares.
    """
    try:
        sealed = await client.key_share(held.party)
        served = (open_key_share(identity, sealed.sealed, held.party, group)
                  if sealed.group == group and sealed.party == held.party else None)
    except (MpccError, InvalidTag, ValueError) as err:
        return f"could not ask the preprocessing service whether its MAC key changed ({err})"
    if served is not None and hmac.compare_digest(served.alpha.to_bytes(32, "big"), held.alpha.to_bytes(32, "big")):
        return ("the service still serves the MAC key share this peer holds, so the batch itself was bad "
                "(a faulty or dishonest dealer); no tuple of it is used")
    return (f"the preprocessing service now deals under another MAC key than the share this peer holds in "
            f"{kept_in} (it lost or replaced its dealer state, or dealt for another group), so every batch it "
            f"deals will fail here and be rejected; to take its new key, stop this peer, delete {kept_in} and "
            "start the peer again (every member must do the same)")


def _group_files(key_share: Path, cache: Path) -> list[Path]:
    """What belongs to one group: its MAC key share, the cache of its tuples (with SQLite's side files) and
    the LowGear setup its members kept."""
    return [key_share, cache, cache.with_name(cache.name + "-wal"), cache.with_name(cache.name + "-shm"),
            cache.with_suffix(".lowgear")]


def _aside(path: Path, group: bytes) -> Path:
    return path.with_name(f"{path.name}.group-{group.hex()[:16]}")


def settle_group_files(key_share: Path, cache: Path, group: bytes) -> str | None:
    """Members who make their own tuples: the key share and cache of another group are put aside, and
    this group's, if put aside before, taken back; what was done, or None (nothing to do).

    A group's tuples are authenticated under the sum of its members' MAC key
    shares, so they serve that group only; when the active members change, they
    are kept (``PATH.group-HEX``, the group id's first 8 bytes) rather than
    deleted, and serve again if the same group forms again (a member
    reinstated). A key share that does not parse is left for ``load_key`` to name.
    """
    try:
        held = SealedKeyShare.from_bytes(key_share.read_bytes()).group if key_share.exists() else None
    except (DecodeError, ValueError):
        return None
    if held == group:
        return None
    done = []
    if held is not None:
        for path in _group_files(key_share, cache):
            if path.exists():
                path.replace(_aside(path, held))
        done.append(f"the MAC key share and tuple cache of the group {held.hex()[:16]} (the members changed) were "
                    f"put aside as {_aside(key_share, held).name} and {_aside(cache, held).name}")
    if _aside(key_share, group).exists():
        for path in _group_files(key_share, cache):
            if _aside(path, group).exists():
                _aside(path, group).replace(path)
        done.append(f"those of the group {group.hex()[:16]}, put aside before, were taken back")
    return "; ".join(done) or None


@dataclass
class Intake:
    """The daemon's preprocessing side: its MAC key share and every batch's way into the cache."""

    peer: MemberPeer
    client: ServiceClient | None  # None: the members make their own tuples (mpcc.peer.making).
    channels: Channels
    group: list[Member]
    party: int
    key_share_path: Path
    key: MacKeyShare | None = None
    batches: dict[str, str] = field(default_factory=dict)

    def loaded_key(self) -> MacKeyShare:
        """The MAC key share: intake and jobs start only once ``load_key`` returned it."""
        if self.key is None:
            raise ConfigError("the MAC key share is not loaded yet")
        return self.key

    @property
    def service(self) -> ServiceClient:
        """The preprocessing service's client (``ConfigError`` when the members make their own tuples)."""
        if self.client is None:
            raise ConfigError("the members make their own tuples: this peer has no preprocessing service")
        return self.client

    @property
    def group_id(self) -> bytes:
        return group_id([m.account for m in self.group])

    async def load_key(self, stop: asyncio.Event) -> MacKeyShare | None:
        """This party's MAC key share: kept sealed beside the cache, else fetched from the service (or, when the
        members make their own tuples, drawn here and kept)."""
        path, group = self.key_share_path, self.group_id
        while not stop.is_set():
            try:
                kept = path.exists()
                sealed = (SealedKeyShare.from_bytes(path.read_bytes()) if kept
                          else self._own_key() if self.client is None
                          else await self.client.key_share(self.party))
                if self.client is None and (sealed.group != group or sealed.party != self.party):
                    raise ConfigError(
                        f"the MAC key share in {path} is for another group: the registry's members changed since "
                        f"it was drawn; start the peer again: it puts that group's key share and cache aside "
                        f"and makes tuples with the current group")
                if sealed.group != group or sealed.party != self.party:
                    raise ConfigError(
                        f"the MAC key share in {path} is for another group: the registry's members changed since "
                        f"it was dealt; delete {path} and start the peer again to fetch the current group's share"
                        if kept else "the preprocessing service deals for another group than the registry's "
                        "active members; restart `mpcc preprocess serve` so that it deals for them")
                self.key = open_key_share(self.peer.org.identity, sealed.sealed, self.party, group)
                if not kept:
                    path.touch(mode=0o600)
                    path.write_bytes(sealed.to_bytes())  # Sealed to this organisation's HPKE key.
                log.info("MAC key share of party %d for group %s loaded", self.party, group.hex()[:16])
                return self.key
            except ServiceError as err:
                log.warning("waiting for the preprocessing service: %s", err)
                await asyncio.sleep(RETRY_S)
        return None

    def _own_key(self) -> SealedKeyShare:
        """A MAC key share this member draws for itself, sealed to its own HPKE key like a dealt one."""
        share = fresh_key(self.party)
        sealed = seal_key_share(self.peer.org.identity.hpke_public, share, self.group_id)
        return SealedKeyShare(self.group_id, len(self.group), self.party, sealed)

    async def take(self, batch_id: bytes) -> None:
        """Fetch, check, sacrifice jointly, attest, store; retried while a member is missing."""
        name = batch_id.hex()
        attempts = unserved = 0
        while True:
            try:
                # In the retried part: a restarted peer's attestation, sent from here, may fail like any other.
                state = await self._state(batch_id)
                if state is not None:
                    self.batches[name] = state
                    return
                await self._once(batch_id)
                self.batches[name] = "stored"
                count = (await self.peer.chain.run(self.peer.dep.ledger.batch, batch_id)).count
                log.info("batch %s: sacrifice passed, attested on chain, %d tuples stored", name, count)
                return
            except DeliveryRejected as err:
                self.batches[name] = "refused"
                log.warning("batch %s: delivery refused: %s", name, err.reason)
                await self._reject(batch_id, f"delivery refused: {err.reason}")
                return
            except SacrificeFailed as err:
                self.batches[name] = "rejected"
                advice = await key_change_advice(self.service, self.peer.org.identity, self.loaded_key(), self.group_id,
                                                 self.key_share_path)
                log.warning("batch %s: sacrifice failed, rejected on chain: %s; %s", name, err, advice)
                return
            except (ProtocolAbort, ServiceError, MpccError, OSError) as err:
                self.batches[name] = "retrying"
                attempts += 1
                unserved = unserved + 1 if isinstance(err, NotServed) else 0
                if unserved >= GIVE_UP_UNSERVED:
                    # A batch the service dealt before it restarted: nobody will serve it again.
                    self.batches[name] = "unavailable"
                    log.warning("batch %s: the preprocessing service no longer serves it (%s); it is "
                                "not used", name, err)
                    return
                # A malformed or oversized answer is a fault of the service, not of the network: a warning.
                level = logging.WARNING if isinstance(err, DecodeError) else logging.INFO
                log.log(level if attempts in (1, 10, 100) else logging.DEBUG,
                        "batch %s: intake incomplete after %d attempts (%s); retrying", name, attempts, err)
                await asyncio.sleep(RETRY_S)

    async def _state(self, batch_id: bytes) -> str | None:
        """None while the batch still needs intake; else what became of it."""
        peer, ledger, me = self.peer, self.peer.dep.ledger, self.peer.address
        batch = await peer.chain.run(ledger.batch, batch_id)
        if batch.status is BatchStatus.REJECTED:
            return "rejected"
        if not await peer.chain.run(peer.dep.registry.has_role, Role.PREPROCESSOR, batch.service):
            return "ignored (not from the preprocessing service)"
        stored = [b for b in await peer.disk(peer.cache.batches) if b.batch_id == batch_id]
        if stored:
            if not await peer.chain.run(ledger.is_attested, batch_id, me):
                await peer.chain.run(ledger.attest_sacrifice, peer.org.account, batch_id,
                                     stored[0].transcript_hash or bytes(32))
                log.warning("batch %s: attested again: the chain did not hold this member's attestation (a "
                            "restart before it was sent, or a reorganisation that dropped it)", batch_id.hex())
            await peer.disk(peer.cache.mark_attested, batch_id)
            return "stored"
        others = [m for i, m in enumerate(self.group) if i != self.party]
        attested = [await peer.chain.run(ledger.is_attested, batch_id, m.account) for m in others]
        if all(attested):
            log.warning("batch %s: the other members checked it without this peer; it is not used", batch_id.hex())
            return "missed"
        return None

    async def attest_again(self) -> None:
        """After a reorganisation: attests again every stored batch with tuples left whose attestation
        by this member the chain no longer holds.

        A reorganisation can drop an attestation whose receipt this peer already had (a transaction
        in flight is sent again by the chain client, a mined one is not); without it the batch is
        usable by nobody, and a service waiting for it deals no more of its kind. Batches the
        members made are attested again the same way.
        """
        peer, ledger = self.peer, self.peer.dep.ledger
        left = {batch_id for batch_id, _, _ in await peer.disk(peer.cache.unallocated)}
        for info in await peer.disk(peer.cache.batches):
            if info.batch_id not in left:
                continue
            try:
                batch = await peer.chain.run(ledger.batch, info.batch_id)
                if batch.status is not BatchStatus.COMMITTED or await peer.chain.run(
                        ledger.is_attested, info.batch_id, peer.address):
                    continue
                await peer.chain.run(ledger.attest_sacrifice, peer.org.account, info.batch_id,
                                     info.transcript_hash or bytes(32))
                log.warning("batch %s: attested again: the chain no longer held this member's attestation "
                            "(a reorganisation dropped it)", info.batch_id.hex())
            except (MpccError, ChainError) as err:
                log.warning("batch %s: could not check or renew its attestation after a reorganisation (%s); "
                            "the next reorganisation or a restart tries again", info.batch_id.hex(), err)

    async def _once(self, batch_id: bytes) -> None:
        key = self.loaded_key()
        # Checked before downloading and connecting: the role, the commitment and the batch's size.
        refuse_before_download(await self.peer.chain_record(batch_id), self.party)
        delivery = await self.service.delivery(batch_id, self.party)
        if delivery.header.n_parties != len(self.group):
            raise DeliveryRejected(batch_id, self.party, f"dealt for {delivery.header.n_parties} parties, "
                                   f"the group has {len(self.group)}")
        everyone = await self.peer.chain.run(self.peer.dep.registry.members)
        label = f"batch {batch_id.hex()[:16]}"
        transport = await self.channels.connect(batch_id, self.group, everyone, label)
        try:
            await self.peer.accept_delivery(transport, key, delivery)
        finally:
            await self.channels.disconnect(transport, label)

    async def _reject(self, batch_id: bytes, reason: str) -> None:
        peer = self.peer
        try:
            await peer.chain.run(peer.dep.ledger.reject_batch, peer.org.account, batch_id,
                                 hashlib.sha256(reason.encode()).digest())
            log.warning("batch %s: rejected on chain", batch_id.hex())
        except ChainError as err:
            log.warning("batch %s: could not reject on chain: %s", batch_id.hex(), err)
