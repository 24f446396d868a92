"""The peer daemon (``mpcc peer run``): one asyncio loop that watches the chain and acts on it.

Every ``poll_s`` it reads the new events of the ledger and of JobManager:

* ``BatchCommitted`` by the preprocessing service for this group: fetch this
  party's delivery from the service, check it against the commitment and
  decrypt it (``open_batch``), run the joint sacrifice with the other group
  members over mutual TLS (the roster's "job id" is the batch id), attest on
  chain, store. A delivery that fails its checks is rejected on chain with
  the hash of the reason; a sacrifice that cannot start (a member offline) is
  retried until every member has attested or the batch is rejected. After a
  failed sacrifice the peer asks the service for its MAC key share again: if
  the service now deals under another key (it lost its dealer state), the log
  says so and how to take the new key (``key_change_advice``).
* ``JobProposed`` naming this member: accept by the configured policy (or
  wait for ``mpcc job accept``), validate the data first, wait until every
  participant accepted, connect to the participants (roster: job id as 32
  bytes big-endian) and run ``MemberPeer.run_job``: input, commit to the input
  shares on chain, compute, post the result. A protocol failure is reported
  on chain with its evidence hash; a participant that goes silent is not
  evidence of cheating, so the job is left to expire at its deadline, which
  this daemon enforces with ``expire`` for the jobs it takes part in.

A job found in progress at start-up (this peer restarted mid-job) cannot be
resumed, since the protocol state was in memory: it is left to expire. Tuples
are never reused across a crash: the cache marks them consumed in the
transaction that hands them out. Each step is logged on one line with its
job id or batch id; the live status (sessions, local states) is written to a
JSON file beside the cache for ``mpcc peer status``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any

from offchain.errors import ConfigError, MpccError, ProtocolAbort
from offchain.net.tls import ChannelSettings, JobRoster, Listener, RosterEntry, TlsCredentials, connect_job
from offchain.net.transport import Transport
from mpcc.peer.config import PeerConfig
from offchain.net.address import split_host_port
from offchain.preprocessing.protocol import ServiceClient
from mpcc.peer.intake import BatchIntake
from mpcc.peer.member import MemberPeer
from offchain.preprocessing.cache import TupleCache
from offchain.shares import MacKeyShare
from mpcc import orgs
from onchain.chain import Chain
from onchain.deploy import Deployment
from onchain.abi.job_manager import JobProposed
from onchain.abi.preprocessing_ledger import BatchCommitted, TuplesReserved
from onchain.errors import ChainError
from onchain.jobs import JobState
from onchain.manifest import Manifest
from onchain.registry import Member

log = logging.getLogger("mpcc.peer")
EXPIRE_CHECK_S = 2.0
OPEN_STATES = (JobState.PROPOSED, JobState.ACCEPTED, JobState.INPUTS_COMMITTED)


def job_tag(job_id: int) -> bytes:
    """A job's id as the 32-byte roster id of its channels."""
    return job_id.to_bytes(32, "big")


def roster_of(tag: bytes, members: list[Member], everyone: list[Member]) -> JobRoster:
    """Party i = members[i] at its registered endpoint and fingerprint; others excluded with a reason."""
    entries = tuple(RosterEntry(i, m.endpoint, m.tls_fingerprint) for i, m in enumerate(members))
    taking_part = {m.account.lower() for m in members}
    excluded = {m.tls_fingerprint: f"{m.name} ({m.status.name.lower()}) does not take part"
                for m in everyone if m.account.lower() not in taking_part}
    return JobRoster(tag, entries, excluded)


@dataclass
class Daemon(BatchIntake):
    """A running peer: its organisation, chain clients, cache, MAC key share and listener."""

    config: PeerConfig
    org: orgs.Org
    dep: Deployment
    peer: MemberPeer
    client: ServiceClient
    credentials: TlsCredentials
    group: list[Member]
    party: int
    key: MacKeyShare | None = None
    listener: Listener | None = None
    settings: ChannelSettings = field(default_factory=ChannelSettings)
    next_block: int = 0
    batches: dict[str, str] = field(default_factory=dict)
    jobs: dict[int, str] = field(default_factory=dict)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
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
        cache = TupleCache(config.cache_path)
        data = config.bindings()
        peer = MemberPeer(org, dep, cache, data, timeout_s=config.timeout_s, report_liveness=False,
                          poll_s=min(config.poll_s, 0.25))
        settings = ChannelSettings(timeout=config.timeout_s, connect_timeout=config.connect_timeout_s)
        return cls(config, org, dep, peer, ServiceClient(config.service), TlsCredentials.from_identity(
            org.identity, passphrase), group, accounts.index(org.account.address.lower()),
            settings=settings, next_block=manifest.deploy_block)

    # The loop -----------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Runs until ``stop`` is set (or the task is cancelled)."""
        stop = stop or asyncio.Event()
        host, port = split_host_port(self.config.listen or self.org.public.endpoint)
        try:
            self.listener = await Listener.start(host, port, handshake_timeout=self.settings.timeout)
        except OSError as err:
            raise ConfigError(f"cannot listen on {host}:{port} for MPC channels: {err}; set `listen` in "
                              "the peer's configuration or free the port") from err
        log.info("%s is party %d of %d; listening on %s:%d for MPC channels", self.org.public.name,
                 self.party, len(self.group), host, port)
        try:
            self.key = await self._key_share(stop)
            if self.key is None:
                return
            self._startup_jobs()
            while not stop.is_set():
                self._poll()
                self._write_status()
                try:
                    await asyncio.wait_for(stop.wait(), self.config.poll_s)
                except TimeoutError:
                    pass
        finally:
            log.info("stopping: %d tasks cancelled", len(self.tasks))
            for task in list(self.tasks):
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)
            await self.listener.close()
            self.peer.cache.close()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _poll(self) -> None:
        """Dispatches the events of the blocks not seen yet; enforces deadlines."""
        last = self.dep.chain.w3.eth.block_number
        if last >= self.next_block:
            for committed in self.dep.ledger.logs(BatchCommitted, from_block=self.next_block, to_block=last):
                batch_id = committed.batchId
                if batch_id.hex() not in self.batches:
                    self.batches[batch_id.hex()] = "new"
                    self._spawn(self._intake(batch_id))
            self._record_reservations(self.dep.ledger.logs(TuplesReserved, from_block=self.next_block, to_block=last))
            for event in self.dep.jobs.logs(JobProposed, from_block=self.next_block, to_block=last):
                job_id = event.jobId
                mine = self.me.lower() in (p.lower() for p in event.participants)
                if mine and job_id not in self.jobs:
                    self.jobs[job_id] = "proposed"
                    self._spawn(self._job(job_id))
            self.next_block = last + 1
        if time.monotonic() - self._expiry_checked > EXPIRE_CHECK_S:
            self._expiry_checked = time.monotonic()
            self._expire_overdue()

    def _record_reservations(self, events: list[TuplesReserved]) -> None:
        """Marks in the cache the tuples the chain reserved for any job (in chain order).

        So the cache's stock is what jobs can still reserve, and the ranges of a job
        that never ran here (declined, expired) stay allocated and are never handed out.
        """
        stored = {b.batch_id for b in self.peer.cache.batches()}
        by_job: dict[int, list[tuple[bytes, int, int]]] = {}
        for e in events:
            if bytes(e.batchId) in stored:
                by_job.setdefault(int(e.jobId), []).append((bytes(e.batchId), int(e.start), int(e.count)))
        for job_id, ranges in by_job.items():
            try:
                self.peer.cache.reserve_for_job(job_id, ranges)
            except MpccError as err:
                log.error("job %d: the chain's reservation conflicts with this cache: %s", job_id, err)

    def _startup_jobs(self) -> None:
        """Jobs already past proposal when this peer starts cannot be joined: left to expire."""
        for event in self.dep.jobs.logs(JobProposed, from_block=self.next_block):
            job_id = event.jobId
            if self.me.lower() not in (p.lower() for p in event.participants):
                continue
            state = self.dep.jobs.job(job_id).state
            if state in (JobState.ACCEPTED, JobState.INPUTS_COMMITTED):
                self.jobs[job_id] = "left to expire"
                log.warning("job %d: in progress (%s) when this peer started; it cannot be resumed "
                            "and is left to expire at its deadline", job_id, state.name.lower())
            elif state is not JobState.PROPOSED:
                self.jobs[job_id] = state.name.lower()

    def _expire_overdue(self) -> None:
        now = self.dep.chain.now()
        for job_id, local in list(self.jobs.items()):
            if local in ("finalised", "aborted"):
                continue
            job = self.dep.jobs.job(job_id)
            if job.state not in OPEN_STATES:
                self.jobs[job_id] = job.state.name.lower()
                continue
            d = job.deadlines
            deadline = {JobState.PROPOSED: d.accept_by, JobState.ACCEPTED: d.commit_by}.get(job.state, d.result_by)
            if now > deadline:
                try:
                    self.dep.jobs.expire(self.org.account, job_id)
                    log.warning("job %d: deadline %d passed in state %s; expired on chain", job_id, deadline,
                                job.state.name.lower())
                except ChainError as err:
                    log.info("job %d: expire not sent (%s)", job_id, err)

    # Jobs ---------------------------------------------------------------------------------

    async def _job(self, job_id: int) -> None:
        try:
            await self._run_job(job_id)
        except MpccError as err:
            self.jobs[job_id] = f"failed: {err}"
            log.warning("job %d: stopped: %s", job_id, err)
        except Exception:  # noqa: BLE001 - one job's bug must not stop the daemon
            self.jobs[job_id] = "failed"
            log.exception("job %d: unexpected error", job_id)

    async def _run_job(self, job_id: int) -> None:
        assert self.key is not None
        spec = self.peer.job_spec(job_id)
        job = self.dep.jobs.job(job_id)
        if job.state is not JobState.PROPOSED and not self.dep.jobs.has_accepted(job_id, self.me):
            self.jobs[job_id] = job.state.name.lower()
            return
        if not self.dep.jobs.has_accepted(job_id, self.me) and not await self._accept(job_id, spec, job.proposer):
            return
        log.info("job %d: waiting for every participant to accept", job_id)
        self.jobs[job_id] = "accepted"
        while (state := self.dep.jobs.job(job_id).state) is JobState.PROPOSED:
            await asyncio.sleep(self.config.poll_s)
        if state is not JobState.ACCEPTED:
            self.jobs[job_id] = state.name.lower()
            log.info("job %d: %s before it started", job_id, state.name.lower())
            return
        participants = self.dep.jobs.participants(job_id)
        members = [self.dep.registry.member(a) for a in participants]
        self.jobs[job_id] = "connecting"
        try:
            transport = await self._connect(job_tag(job_id), members, f"job {job_id}")
        except ProtocolAbort as err:
            self.jobs[job_id] = "left to expire"
            log.warning("job %d: could not connect to every participant (%s); left to expire at its deadline",
                        job_id, err)
            return
        self.jobs[job_id] = "running"
        log.info("job %d: connected to %d participants; computing %s", job_id, len(members) - 1, spec.title
                 or f"{spec.analysis} of {spec.column}")
        try:
            outcome = await self.peer.run_job(transport, self.key, job_id)
        finally:
            await self._disconnect(transport, f"job {job_id}")
        if outcome.result is not None:
            self.jobs[job_id] = "result posted"
            log.info("job %d: result posted: %s", job_id, json.dumps(outcome.result, sort_keys=True))
        else:
            self.jobs[job_id] = f"stopped: {outcome.error}"

    async def _accept(self, job_id: int, spec: Any, proposer: str) -> bool:
        """Accept by policy (after validating the data), or wait for a manual acceptance."""
        decision = self.config.accepts(spec.analysis, proposer)
        if decision is False:
            self.jobs[job_id] = "not accepted (policy)"
            log.info("job %d: %s by %s is outside the accept policy; not accepted", job_id, spec.analysis, proposer)
            return False
        try:
            self.peer.load_data(spec)
        except ConfigError as err:
            self.jobs[job_id] = "not accepted (bad data)"
            log.error("job %d: this organisation's data is not usable, job not accepted: %s", job_id, err)
            return False
        if decision:
            self.dep.jobs.accept(self.org.account, job_id)
            columns = ", ".join(spec.columns or (spec.column,))
            log.info("job %d: accepted by policy (%s of %s)", job_id, spec.analysis, columns)
            return True
        self.jobs[job_id] = "awaiting manual acceptance"
        log.info("job %d: waiting for `mpcc job accept %d`", job_id, job_id)
        while not self.dep.jobs.has_accepted(job_id, self.me):
            if self.dep.jobs.job(job_id).state is not JobState.PROPOSED:
                return False
            await asyncio.sleep(self.config.poll_s)
        log.info("job %d: accepted manually", job_id)
        return True

    # Channels and status ------------------------------------------------------------------

    async def _connect(self, tag: bytes, members: list[Member], label: str) -> Transport:
        accounts = [m.account.lower() for m in members]
        index = accounts.index(self.me.lower())
        roster = roster_of(tag, members, self.dep.registry.members())
        transport = await connect_job(self.credentials, roster, index, listener=self.listener,
                                      settings=self.settings)
        self.sessions[label] = {"parties": [m.name for m in members], "since": time.time()}
        return transport

    async def _disconnect(self, transport: Transport, label: str) -> None:
        self.sessions.pop(label, None)
        await transport.close()

    def _write_status(self) -> None:
        status = {"pid": os.getpid(), "updated": time.time(), "name": self.org.public.name,
                  "account": self.me, "party": self.party, "group": [m.name for m in self.group],
                  "listen": self.config.listen or self.org.public.endpoint, "sessions": self.sessions,
                  "jobs": {str(k): v for k, v in sorted(self.jobs.items())}, "batches": self.batches}
        path = self.config.status_path
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(status, indent=1))
        tmp.replace(path)
