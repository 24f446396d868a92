"""The peer daemon (``mpcc peer run``): one asyncio loop that watches the chain and acts on it.

Every ``poll_s`` it reads the new events of the ledger and of JobManager:

* ``BatchCommitted`` by the preprocessing service for this group: the batch
  goes through intake (mpcc.peer.intake): fetched, checked against its
  commitment, sacrifice-checked with the other members, attested, stored.
* ``TuplesReserved``: the reserved ranges are marked in the cache, so its
  stock is what jobs can still reserve; ``TuplesReleased`` (a job declined
  before it ran) hands its range back.
* ``JobProposed`` naming this member: the job runs (mpcc.peer.jobs).

and it expires this member's overdue jobs. The loop never waits on the
chain or the disk itself: chain calls are awaited through
``onchain.aio.AsyncChain`` and the cache is used on one worker thread, so the
MPC channels of every batch and job keep being served while a transaction
waits for its block. Each step is logged on one line with its job id or
batch id; the live status (sessions, local states) is written to a JSON file
beside the cache for ``mpcc peer status``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from mpcc import orgs
from mpcc.loopwatch import LoopWatch
from mpcc.peer.channels import Channels
from mpcc.peer.config import PeerConfig
from mpcc.peer.intake import Intake
from mpcc.peer.jobs import Jobs
from mpcc.peer.member import MemberPeer
from offchain.errors import ConfigError, MpccError
from offchain.net.address import split_host_port
from offchain.net.tls import ChannelSettings, TlsCredentials
from offchain.preprocessing.cache import TupleCache
from offchain.preprocessing.protocol import ServiceClient
from onchain.abi.job_manager import JobProposed
from onchain.abi.preprocessing_ledger import BatchCommitted, TuplesReleased, TuplesReserved
from onchain.chain import Chain
from onchain.deploy import Deployment
from onchain.manifest import Manifest

log = logging.getLogger("mpcc.peer")
EXPIRE_CHECK_S = 2.0


@dataclass(frozen=True)
class NewEvents:
    """What the blocks not seen yet brought: committed batches, reservations, proposals."""

    last: int
    committed: list[BatchCommitted]
    reserved: list[TuplesReserved | TuplesReleased]  # In chain order.
    proposed: list[JobProposed]


def read_new_events(dep: Deployment, first: int) -> NewEvents | None:
    """The events of blocks ``first`` onward (a worker thread's call); None if there is no new block."""
    last = int(dep.chain.w3.eth.block_number)
    if last < first:
        return None
    return NewEvents(last, dep.ledger.logs(BatchCommitted, from_block=first, to_block=last),
                     dep.ledger.logs(TuplesReserved, TuplesReleased, from_block=first, to_block=last),
                     dep.jobs.logs(JobProposed, from_block=first, to_block=last))


@dataclass
class Daemon:
    """A running peer: its organisation, chain clients, cache, channels, intake and jobs."""

    config: PeerConfig
    org: orgs.Org
    dep: Deployment
    peer: MemberPeer
    channels: Channels
    intake: Intake
    work: Jobs
    next_block: int = 0
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    watch: LoopWatch = field(default_factory=LoopWatch)
    _expiry_checked: float = 0.0

    @classmethod
    def open(cls, config: PeerConfig, passphrase: bytes) -> Daemon:
        """Loads the keys, connects to the chain and checks this organisation is an active member."""
        org = orgs.load(config.home, passphrase)
        manifest = Manifest.load(config.manifest)
        dep = Deployment.attach(Chain.connect(config.rpc, manifest.chain_id), manifest)
        group = dep.registry.active_members()
        accounts = [m.account.lower() for m in group]
        if org.account.address.lower() not in accounts:
            raise ConfigError(f"{org.public.name} ({org.account.address}) is not an active member of the "
                              f"consortium at {config.manifest}; join and be approved first")
        peer = MemberPeer(org, dep, TupleCache(config.cache_path), config.bindings(), timeout_s=config.timeout_s,
                          report_liveness=False, poll_s=min(config.poll_s, 0.25))
        settings = ChannelSettings(timeout=config.timeout_s, connect_timeout=config.connect_timeout_s)
        channels = Channels(TlsCredentials.from_identity(org.identity, passphrase), settings, org.account.address)
        intake = Intake(peer, ServiceClient(config.service), channels, group,
                        accounts.index(org.account.address.lower()), config.cache_path.with_suffix(".keyshare"))
        work = Jobs(config, peer, channels, intake.loaded_key)
        return cls(config, org, dep, peer, channels, intake, work, next_block=manifest.deploy_block)

    @property
    def me(self) -> str:
        return str(self.org.account.address)

    @property
    def batches(self) -> dict[str, str]:
        return self.intake.batches

    @property
    def jobs(self) -> dict[int, str]:
        return self.work.states

    @property
    def sessions(self) -> dict[str, dict[str, Any]]:
        return self.channels.sessions

    # The loop -----------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Runs until ``stop`` is set (or the task is cancelled)."""
        stop = stop or asyncio.Event()
        host, port = split_host_port(self.config.listen or self.org.public.endpoint)
        await self.channels.listen(host, port)
        log.info("%s is party %d of %d; listening on %s:%d for MPC channels", self.org.public.name,
                 self.intake.party, len(self.intake.group), host, port)
        self._spawn(self.watch.run())
        try:
            if await self.intake.load_key(stop) is None:
                return
            await self._left_over_jobs()
            while not stop.is_set():
                await self._poll()
                self._write_status()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.config.poll_s)
        finally:
            log.info("stopping: %d tasks cancelled", len(self.tasks))
            for task in list(self.tasks):
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)
            await self.channels.close()
            self.peer.close()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _left_over_jobs(self) -> None:
        events = await self.peer.chain.run(lambda: self.dep.jobs.logs(JobProposed, from_block=self.next_block))
        await self.work.left_over([e.jobId for e in events if self.me.lower() in (p.lower() for p in e.participants)])

    async def _poll(self) -> None:
        """Dispatches the events of the blocks not seen yet; enforces deadlines. A failed look is retried."""
        try:
            new = await self.peer.chain.run(read_new_events, self.dep, self.next_block)
            if new is not None:
                await self._dispatch(new)
                self.next_block = new.last + 1
            if time.monotonic() - self._expiry_checked > EXPIRE_CHECK_S:
                self._expiry_checked = time.monotonic()
                await self.work.expire_overdue()
        except MpccError as err:
            log.warning("reading the chain failed (%s); retrying", err)

    async def _dispatch(self, new: NewEvents) -> None:
        for event in new.committed:
            batch_id = event.batchId
            if batch_id.hex() not in self.batches:
                self.batches[batch_id.hex()] = "new"
                self._spawn(self.intake.take(batch_id))
        await self.peer.disk(self._record_reservations, new.reserved)
        for proposal in new.proposed:
            job_id = proposal.jobId
            mine = self.me.lower() in (p.lower() for p in proposal.participants)
            if mine and job_id not in self.jobs:
                self.jobs[job_id] = "proposed"
                self._spawn(self.work.take_part(job_id))

    def _record_reservations(self, events: list[TuplesReserved | TuplesReleased]) -> None:
        """Marks in the cache the tuples the chain reserved for any job, in chain order (on the disk thread).

        So the cache's stock is what jobs can still reserve, and the ranges of a job
        that never ran here (expired) stay allocated and are never handed out; those
        the chain released (the job was declined before it ran) are free again.
        """
        cache = self.peer.cache
        stored = {b.batch_id for b in cache.batches()}
        for e in events:
            if e.batchId not in stored:
                continue
            try:
                if isinstance(e, TuplesReleased):
                    cache.release_for_job(e.jobId, e.batchId, e.start, e.count)
                else:
                    cache.reserve_for_job(e.jobId, [(e.batchId, e.start, e.count)])
            except MpccError as err:
                log.error("job %d: the chain's reservation conflicts with this cache: %s", e.jobId, err)

    def _chain_figures(self) -> dict[str, float]:
        """This process's transactions and the longest wait for a receipt among them."""
        sent = list(self.dep.chain.log)
        return {"transactions": len(sent), "longest_receipt_wait_s": round(max((s.waited_s for s in sent),
                                                                               default=0.0), 3)}

    def _write_status(self) -> None:
        status = {"pid": os.getpid(), "updated": time.time(), "name": self.org.public.name,
                  "account": self.me, "party": self.intake.party, "group": [m.name for m in self.intake.group],
                  "listen": self.config.listen or self.org.public.endpoint, "sessions": self.sessions,
                  "jobs": {str(k): v for k, v in sorted(self.jobs.items())}, "batches": self.batches,
                  "loop": self.watch.as_dict(), "chain": self._chain_figures()}
        path = self.config.status_path
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(status, indent=1))
        tmp.replace(path)
