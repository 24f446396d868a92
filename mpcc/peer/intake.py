"""Batch intake for the peer daemon: the MAC key share, and each batch from delivery to storage.

For every batch the preprocessing service commits for this group, the peer
fetches its delivery, checks it against the commitment, runs the joint
sacrifice with the other members over mutual TLS, attests on chain and
stores the tuples; a delivery that fails its checks is rejected on chain.
A failed sacrifice makes the peer ask the service for its MAC key share
again (:func:`key_change_advice`): a service that lost its dealer state
deals under another key, and the log says how to take it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from pathlib import Path

from cryptography.exceptions import InvalidTag

from offchain.errors import ConfigError, DeliveryRejected, MpccError, ProtocolAbort, SacrificeFailed
from offchain.identity import Identity
from offchain.net.transport import Transport
from mpcc.peer.config import PeerConfig
from offchain.preprocessing.protocol import NotServed, SealedKeyShare, ServiceClient, ServiceError
from mpcc.peer.member import MemberPeer
from offchain.preprocessing.keyshare import group_id, open_key_share
from offchain.shares import MacKeyShare
from mpcc import orgs
from onchain.deploy import Deployment
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


class BatchIntake:
    """The daemon's preprocessing side (a part of mpcc.peer.daemon.Daemon)."""

    config: PeerConfig
    org: orgs.Org
    dep: Deployment
    peer: MemberPeer
    client: ServiceClient
    group: list[Member]
    party: int
    key: MacKeyShare | None
    batches: dict[str, str]

    @property
    def me(self) -> str:
        return str(self.org.account.address)

    async def _connect(self, tag: bytes, members: list[Member], label: str) -> Transport:
        raise NotImplementedError  # The daemon's channels.

    async def _disconnect(self, transport: Transport, label: str) -> None:
        raise NotImplementedError

    @property
    def key_share_path(self) -> Path:
        """Where this party's MAC key share is kept, sealed to its HPKE key."""
        return self.config.cache_path.with_suffix(".keyshare")

    async def _key_share(self, stop: asyncio.Event) -> MacKeyShare | None:
        """This party's MAC key share: kept sealed beside the cache, else fetched from the service."""
        path = self.key_share_path
        group = group_id([m.account for m in self.group])
        while not stop.is_set():
            try:
                kept = path.exists()
                if kept:
                    sealed = SealedKeyShare.from_bytes(path.read_bytes())
                else:
                    sealed = await self.client.key_share(self.party)
                if sealed.group != group or sealed.party != self.party:
                    raise ConfigError(
                        f"the MAC key share in {path} is for another group: the registry's members changed since "
                        f"it was dealt; delete {path} and start the peer again to fetch the current group's share"
                        if kept else "the preprocessing service deals for another group than the registry's "
                        "active members; restart `mpcc preprocess serve` so that it deals for them")
                key = open_key_share(self.org.identity, sealed.sealed, self.party, group)
                if not kept:
                    path.touch(mode=0o600)
                    path.write_bytes(sealed.to_bytes())  # Sealed to this organisation's HPKE key.
                log.info("MAC key share of party %d for group %s loaded", self.party, group.hex()[:16])
                return key
            except ServiceError as err:
                log.warning("waiting for the preprocessing service: %s", err)
                await asyncio.sleep(RETRY_S)
        return None

    async def _intake(self, batch_id: bytes) -> None:
        """Fetch, check, sacrifice jointly, attest, store; retried while a member is missing."""
        name = batch_id.hex()
        attempts = unserved = 0
        while True:
            state = self._intake_state(batch_id)
            if state is not None:
                self.batches[name] = state
                return
            try:
                await self._intake_once(batch_id)
                self.batches[name] = "stored"
                log.info("batch %s: sacrifice passed, attested on chain, %d tuples stored", name,
                         self.dep.ledger.batch(batch_id).count)
                return
            except DeliveryRejected as err:
                self.batches[name] = "refused"
                log.warning("batch %s: delivery refused: %s", name, err.reason)
                self._reject(batch_id, f"delivery refused: {err.reason}")
                return
            except SacrificeFailed as err:
                self.batches[name] = "rejected"
                assert self.key is not None
                advice = await key_change_advice(self.client, self.org.identity, self.key, group_id([m.account for m in self.group]),
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
                log.log(logging.INFO if attempts in (1, 10, 100) else logging.DEBUG,
                        "batch %s: intake incomplete after %d attempts (%s); retrying", name, attempts, err)
                await asyncio.sleep(RETRY_S)

    def _intake_state(self, batch_id: bytes) -> str | None:
        """None while the batch still needs intake; else what became of it."""
        batch = self.dep.ledger.batch(batch_id)
        if batch.status is BatchStatus.REJECTED:
            return "rejected"
        if not self.dep.registry.has_role(Role.PREPROCESSOR, batch.service):
            return "ignored (not from the preprocessing service)"
        stored = any(b.batch_id == batch_id for b in self.peer.cache.batches())
        if stored:
            if not self.dep.ledger.is_attested(batch_id, self.me):
                record = next(b for b in self.peer.cache.batches() if b.batch_id == batch_id)
                self.dep.ledger.attest_sacrifice(self.org.account, batch_id, record.transcript_hash or bytes(32))
                log.info("batch %s: attestation sent after a restart", batch_id.hex())
            self.peer.cache.mark_attested(batch_id)
            return "stored"
        others = [m for i, m in enumerate(self.group) if i != self.party]
        if all(self.dep.ledger.is_attested(batch_id, m.account) for m in others):
            log.warning("batch %s: the other members checked it without this peer; it is not used", batch_id.hex())
            return "missed"
        return None

    async def _intake_once(self, batch_id: bytes) -> None:
        assert self.key is not None
        delivery = await self.client.delivery(batch_id, self.party)
        if delivery.header.n_parties != len(self.group):
            raise DeliveryRejected(batch_id, self.party, f"dealt for {delivery.header.n_parties} parties, "
                                   f"the group has {len(self.group)}")
        self.peer.chain_record(batch_id)  # Checked before connecting: the role and the commitment exist.
        transport = await self._connect(batch_id, self.group, f"batch {batch_id.hex()[:16]}")
        try:
            await self.peer.accept_delivery(transport, self.key, delivery)
        finally:
            await self._disconnect(transport, f"batch {batch_id.hex()[:16]}")

    def _reject(self, batch_id: bytes, reason: str) -> None:
        try:
            self.dep.ledger.reject_batch(self.org.account, batch_id, hashlib.sha256(reason.encode()).digest())
            log.warning("batch %s: rejected on chain", batch_id.hex())
        except ChainError as err:
            log.warning("batch %s: could not reject on chain: %s", batch_id.hex(), err)

