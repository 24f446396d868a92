"""The peer daemon (``mpcc peer run``): one asyncio loop that watches the chain and acts on it.

Every ``poll_s`` it reads the new events of the ledger and of JobManager:

* ``BatchCommitted`` by the preprocessing service for this group: the batch
  goes through intake (mpcc.peer.intake): fetched, checked against its
  commitment, sacrifice-checked with the other members, attested, stored.
  With ``make`` in the configuration there is no service: the members make
  their own tuples (mpcc.peer.making.Maker, beside the loop) and this peer
  takes part in every batch, so the events need no intake.
* ``TuplesReserved``: the reserved ranges are marked in the cache, so its
  stock is what jobs can still reserve; ``TuplesReleased`` (a job declined
  before it ran) hands its range back.
* ``JobProposed`` naming this member: the job runs (mpcc.peer.jobs).

* ``MemberSuspended``, ``MemberReinstated``, ``MemberKeysRotated``, ``MemberAdmitted``: the
  registry is read again; only active members' certificates pass the listener, those of members that are not active are
  refused by the listener and their open channels closed (mpcc.peer.channels).
  When this member itself is suspended, the daemon does not stop: it logs an
  error saying so, stops taking jobs and batches (the running ones are
  cancelled), keeps its status file for ``mpcc peer status`` (``suspended``),
  and takes part again if it is reinstated. A suspended member's daemon that
  is started anew refuses to start (exit code 2), saying so. With ``make``,
  the other members' daemons follow the new group: a group's tuples need
  every member of it, so each finishes its running jobs, ``run`` returns
  with ``regroup`` set, and ``mpcc peer run`` opens the daemon again, which
  puts the old group's key share and cache aside (``settle_group_files``).

and it expires this member's overdue jobs. The loop never waits on the
chain or the disk itself: chain calls are awaited through
``onchain.aio.AsyncChain`` and the cache is used on one worker thread, so the
MPC channels of every batch and job keep being served while a transaction
waits for its block. Each step is logged on one line with its job id or
batch id; the live status (sessions, local states) is written to a JSON file
beside the cache for ``mpcc peer status``.

One daemon runs per organisation home: it holds an exclusive ``flock`` on
``HOME/peer.lock`` (which holds its pid) while it runs, and a second daemon
for the same home refuses to start, naming the pid of the first.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from web3.exceptions import BlockNotFound

from mpcc import orgs
from mpcc.loopwatch import LoopWatch
from mpcc.peer.channels import Channels
from mpcc.peer.config import PeerConfig
from mpcc.peer.intake import Intake, settle_group_files
from mpcc.peer.jobs import Jobs
from mpcc.peer.making import Maker
from mpcc.peer.member import MemberPeer
from mpcc.peer.pace import Pace
from offchain.errors import ConfigError, MpccError
from offchain.net.address import split_host_port
from offchain.net.tls import ChannelSettings, TlsCredentials
from offchain.preprocessing.cache import TupleCache
from offchain.preprocessing.keyshare import group_id
from offchain.preprocessing.protocol import ServiceClient
from offchain.preprocessing.tuples import Needs, at_least
from onchain.abi.job_manager import JobProposed
from onchain.abi.org_registry import (
    MemberAdmitted,
    MemberBootstrapped,
    MemberKeysRotated,
    MemberReinstated,
    MemberSuspended,
)
from onchain.abi.preprocessing_ledger import BatchCommitted, TuplesReleased, TuplesReserved
from onchain.chain import Chain
from onchain.deploy import Deployment
from onchain.manifest import Manifest
from onchain.registry import Member

log = logging.getLogger("mpcc.peer")
#: Blocks read again below the last agreed one when the chain is reorganised (or a local chain reverted).
REORG_REWIND = 64
EXPIRE_CHECK_S = 2.0
LOCK_FILE = "peer.lock"


@dataclass(frozen=True)
class NewEvents:
    """What the blocks not seen yet brought: committed batches, reservations, proposals."""

    last: int
    last_hash: bytes
    committed: list[BatchCommitted]
    reserved: list[TuplesReserved | TuplesReleased]  # In chain order.
    proposed: list[JobProposed]
    members: list[Member] | None = None  # Read again when a member's status or keys changed.


MEMBERSHIP_EVENTS = (MemberSuspended, MemberReinstated, MemberKeysRotated, MemberAdmitted, MemberBootstrapped)


@dataclass(frozen=True)
class Reorganised:
    """The block last read is no longer on the chain: reorganised, or a local chain reverted."""

    head: int


def read_new_events(dep: Deployment, first: int, anchor: bytes | None) -> NewEvents | Reorganised | None:
    """The events of blocks ``first`` onward (a worker thread's call); None if there is no new block.

    ``anchor`` is the hash of block ``first - 1`` as last read; if the chain no
    longer has it there, nothing is read and the answer is ``Reorganised``.
    """
    w3 = dep.chain.w3
    last = int(w3.eth.block_number)
    try:
        if anchor is not None and (last < first - 1 or bytes(w3.eth.get_block(first - 1)["hash"]) != anchor):
            return Reorganised(last)
        if last < first:
            return None
        last_hash = bytes(w3.eth.get_block(last)["hash"])
    except BlockNotFound:  # The chain was cut back between two of these reads.
        return Reorganised(int(w3.eth.block_number))
    changed = any(dep.registry.logs(kind, from_block=first, to_block=last) for kind in MEMBERSHIP_EVENTS)
    return NewEvents(last, last_hash, dep.ledger.logs(BatchCommitted, from_block=first, to_block=last),
                     dep.ledger.logs(TuplesReserved, TuplesReleased, from_block=first, to_block=last),
                     dep.jobs.logs(JobProposed, from_block=first, to_block=last),
                     dep.registry.members() if changed else None)


def lock_home(home: Path) -> int:
    """An exclusive lock on the organisation's home for this process (its file descriptor).

    ``ConfigError`` naming the pid that holds it when another daemon runs for this home.
    """
    path = home / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as err:
        raise ConfigError(f"cannot open the lock file {path}: {err.strerror or err}") from err
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise ConfigError(f"another peer daemon runs for {home} (pid {holder}, holding {path}); two daemons for "
                          "one organisation would share its tuple cache and keys: stop it first "
                          "(`mpcc peer status` shows it)") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


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
    lock: int = -1
    next_block: int = 0
    anchor: bytes | None = None  # The hash of block next_block - 1 as read.
    proposals: dict[int, str] = field(default_factory=dict)  # The transaction that proposed each job seen.
    suspended: bool = False
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    work_tasks: set[asyncio.Task[None]] = field(default_factory=set)
    watch: LoopWatch = field(default_factory=LoopWatch)
    make_for: Needs = field(default_factory=Needs)  # One job of each spec of ``make_for`` (mpcc peer run).
    #: With ``make``: the registry's active members once they differ from the group this daemon makes
    #: tuples with; it then finishes its running jobs and ``run`` returns, to be opened again for them.
    regroup: list[str] | None = None
    _expiry_checked: float = 0.0

    @classmethod
    def open(cls, config: PeerConfig, passphrase: bytes) -> Daemon:
        """Locks the home, loads the keys, connects to the chain and checks this organisation is an active member."""
        lock = lock_home(config.home)
        try:
            return cls._open(config, passphrase, lock)
        except BaseException:
            os.close(lock)
            raise

    @classmethod
    def _open(cls, config: PeerConfig, passphrase: bytes, lock: int) -> Daemon:
        org = orgs.load(config.home, passphrase)
        manifest = Manifest.load(config.manifest)
        chain = Chain.connect(config.rpc, manifest.chain_id, patience_s=config.rpc_patience_s)
        dep = Deployment.attach(chain, manifest)
        group = dep.registry.active_members()
        accounts = [m.account.lower() for m in group]
        if org.account.address.lower() not in accounts:
            status = dep.registry.status(org.account.address).name.lower()
            raise ConfigError(f"{org.public.name} ({org.account.address}) is not an active member of the "
                              f"consortium at {config.manifest} (its status: {status}); "
                              + ("the members may reinstate it (`mpcc org vote reinstate`)" if status == "suspended"
                                 else "join and be approved first"))
        if config.made_by_members:
            moved = settle_group_files(config.key_share_path, config.cache_path, group_id(accounts))
            if moved:
                log.warning("%s", moved)
        peer = MemberPeer(org, dep, TupleCache(config.cache_path), config.named_data(), timeout_s=config.timeout_s,
                          report_liveness=False, poll_s=config.poll_s)
        settings = ChannelSettings(timeout=config.timeout_s, connect_timeout=config.connect_timeout_s)
        channels = Channels(TlsCredentials.from_identity(org.identity, passphrase), settings, org.account.address,
                            config.limits())
        client = ServiceClient(config.service) if config.service is not None else None
        intake = Intake(peer, client, channels, group, accounts.index(org.account.address.lower()),
                        config.key_share_path)
        work = Jobs(config, peer, channels, intake.loaded_key, accounts)
        return cls(config, org, dep, peer, channels, intake, work, lock, next_block=manifest.deploy_block)

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
        try:
            await self.channels.listen(host, port)
            log.info("%s is party %d of %d; listening on %s:%d for MPC channels", self.org.public.name,
                     self.intake.party, len(self.intake.group), host, port)
            self._spawn(self.watch.run())
            self._follow(await self.peer.chain.run(self.dep.registry.members))
            key = await self.intake.load_key(stop)
            if key is None:
                return
            if self.config.made_by_members:
                levels = at_least(self.config.make_levels(len(self.intake.group)), self.make_for)
                self._spawn(Maker(self.peer, self.channels, self.intake.group, key, levels, self.batches,
                                  self.config.kept_setup_path).run(stop))
            await self._left_over_jobs()
            pace = Pace(self.config.poll_s)
            while not stop.is_set():
                if await self._poll():
                    pace.moved()
                self._write_status()
                if self.regroup is not None and not self.work_tasks:
                    log.warning("%s's running jobs are done: it starts again with the group of %d members",
                                self.org.public.name, len(self.regroup))
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), pace.wait_s())
        finally:
            log.info("stopping: %d tasks cancelled", len(self.tasks))
            for task in list(self.tasks):
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)
            await self.channels.close()
            self.peer.close()
            if self.lock >= 0:
                os.close(self.lock)
                self.lock = -1

    def _spawn(self, coro: Coroutine[Any, Any, None], *, work: bool = False) -> None:
        """Runs ``coro`` beside the loop; ``work`` (a batch or a job) is cancelled on suspension."""
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self._done)
        if work:
            self.work_tasks.add(task)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        self.work_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("a task of the daemon stopped on an unexpected error", exc_info=task.exception())

    def _follow(self, members: list[Member]) -> None:
        """Applies the registry's statuses: channels of members not active refused; this member idle if so."""
        self.channels.follow(members)
        mine = next((m for m in members if m.account.lower() == self.me.lower()), None)
        active = mine is not None and mine.active
        name = self.org.public.name
        if not active and not self.suspended:
            self.suspended = True
            status = mine.status.name.lower() if mine is not None else "not registered"
            log.error("%s is %s in the consortium's registry: this peer takes no more jobs or batches (%d running "
                      "are stopped) and the other members refuse its channels; it keeps running so that `mpcc peer "
                      "status` shows it, and takes part again if the members reinstate it "
                      "(`mpcc org vote reinstate`); stop it with Ctrl-C or SIGTERM", name, status,
                      len(self.work_tasks))
            for task in list(self.work_tasks):
                task.cancel()
        elif active and self.suspended:
            self.suspended = False
            log.warning("%s is active again in the consortium's registry: this peer takes jobs and batches again",
                        name)
        group = [m.account.lower() for m in members if m.active]
        if (active and self.config.made_by_members and self.regroup is None
                and group != [m.account.lower() for m in self.intake.group]):
            self.regroup = group
            log.warning("the consortium's active members changed (%d -> %d): the tuples %s made with the group "
                        "of %d need every member of it, so it takes no new job, finishes the %d running, puts "
                        "that group's MAC key share and cache aside, and makes tuples with the new group",
                        len(self.intake.group), len(group), name, len(self.intake.group), len(self.work_tasks))

    async def _left_over_jobs(self) -> None:
        events = await self.peer.chain.run(lambda: self.dep.jobs.logs(JobProposed, from_block=self.next_block))
        await self.work.left_over([e.jobId for e in events if self.me.lower() in (p.lower() for p in e.participants)])

    async def _poll(self) -> bool:
        """Dispatches the events of the blocks not seen yet; enforces deadlines. A failed look is retried.

        True if there were new blocks (or the chain was reorganised).
        """
        moved = False
        try:
            new = await self.peer.chain.run(read_new_events, self.dep, self.next_block, self.anchor)
            if isinstance(new, Reorganised):
                self._rewind(new.head)
                if not self.suspended:
                    self._spawn(self.intake.attest_again(), work=True)
                moved = True
            elif new is not None:
                await self._dispatch(new)
                self.next_block, self.anchor = new.last + 1, new.last_hash
                moved = True
            if not self.suspended and time.monotonic() - self._expiry_checked > EXPIRE_CHECK_S:
                self._expiry_checked = time.monotonic()
                await self.work.expire_overdue()
        except MpccError as err:
            log.warning("reading the chain failed (%s); retrying", err)
        except Exception:  # A poll's surprise must not end the daemon: the next poll tries again.
            log.exception("reading the chain failed unexpectedly; retrying at the next poll")
        return moved

    def _rewind(self, head: int) -> None:
        """Reads again from REORG_REWIND blocks below where the chain and this peer still agree, at most.

        Events read again are dispatched again: jobs already known are skipped, batches already
        stored have their attestation checked (``Intake.take``), and ``Intake.attest_again`` renews
        every attestation of a stored batch the chain no longer holds.
        """
        start = max(self.dep.manifest.deploy_block, min(self.next_block, head + 1) - REORG_REWIND)
        log.warning("the chain was reorganised (block %d is no longer the one read); reading again from block %d",
                    self.next_block - 1, start)
        self.next_block, self.anchor = start, None

    async def _dispatch(self, new: NewEvents) -> None:
        if new.members is not None:
            self._follow(new.members)
        if self.suspended:
            return  # Nothing is taken while suspended (the chain refuses a suspended member anyway).
        for event in new.committed:
            batch_id = event.batchId
            # Batches the members make are followed by the Maker, which takes part in making them.
            if self.intake.client is None:
                continue
            seen = self.batches.get(batch_id.hex())
            if seen is None:
                self.batches[batch_id.hex()] = "new"
                self._spawn(self.intake.take(batch_id), work=True)
            elif seen == "stored":
                # Read again after a reorganisation, or committed again after one dropped the first
                # commit (and this member's attestation with it): take() attests again if need be.
                self._spawn(self.intake.take(batch_id), work=True)
        await self.peer.disk(self._record_reservations, new.reserved)
        for proposal in new.proposed:
            job_id = proposal.jobId
            mine = self.me.lower() in (p.lower() for p in proposal.participants)
            # A number seen before belongs to a new job if a reorganisation dropped the first proposal.
            if mine and self.regroup is not None:
                log.info("job %d: left to this peer once it joined the new group", job_id)
            elif mine and self.proposals.get(job_id) != proposal.tx_hash:
                self.proposals[job_id] = proposal.tx_hash
                self.jobs[job_id] = "proposed"
                self._spawn(self.work.take_part(job_id), work=True)

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
        status = {"pid": os.getpid(), "updated": time.time(), "name": self.org.public.name, "suspended": self.suspended,
                  "account": self.me, "party": self.intake.party, "group": [m.name for m in self.intake.group],
                  "listen": self.config.listen or self.org.public.endpoint, "sessions": self.sessions,
                  "jobs": {str(k): v for k, v in sorted(self.jobs.items())}, "batches": self.batches,
                  "loop": self.watch.as_dict(), "chain": self._chain_figures()}
        path = self.config.status_path
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(status, indent=1))
        tmp.replace(path)
