"""One member's peer: takes delivered batches through the sacrifice into its cache, runs jobs.

A batch is used only after: its ciphertext matches the commitment on chain,
the committing account holds the preprocessing role, the joint sacrifice
passed, and this member's attestation is on chain. A job is run only after
its spec matches the hash on chain and this member's data for it validated;
its tuples are exactly the ranges the chain reserved for it, in chain order.

Everything here runs in the peer's event loop and waits for nothing there:
chain calls go through ``onchain.aio.AsyncChain`` and the tuple cache and the
data files are read and written on one worker thread (``Disk``).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import secrets
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar

from mpcc.orgs import Org
from mpcc.peer.pace import Deadline, Pace
from offchain import curve
from offchain.analytics import registry
from offchain.analytics.common import input_commitment
from offchain.analytics.data import Data, Table, data_for
from offchain.analytics.sources import unbound_columns
from offchain.analytics.spec import JobSpec, categorical_columns, numeric_columns
from offchain.auditable import program as auditable_program
from offchain.auditable import routes
from offchain.auditable import summary as auditable_summary
from offchain.auditable.commitments import ShareCommitments, commit_shares
from offchain.auditable.linear import revealed_columns
from offchain.auditable.routes import Route, route
from offchain.auditable.tracked import Transcript
from offchain.engine.context import Context
from offchain.engine.sacrifice import accept_batch
from offchain.engine.session import Session
from offchain.errors import (
    ConfigError,
    DeliveryRejected,
    PeerDisconnected,
    PeerTimeout,
    ProtocolAbort,
    SacrificeFailed,
)
from offchain.net.transport import Transport
from offchain.preprocessing.cache import TupleCache
from offchain.preprocessing.delivery import ChainBatch, PartyDelivery, open_batch
from offchain.preprocessing.tuples import TupleKind
from offchain.shares import MacKeyShare, SharedVec
from onchain.abi.job_manager import InputsCommitted, JobProposed
from onchain.abi.preprocessing_ledger import TuplesReserved
from onchain.aio import AsyncChain
from onchain.audit_trail import DataKind
from onchain.audit_trail import input_commitment as trail_commitment
from onchain.deploy import Deployment
from onchain.errors import ChainError, ContractRevert
from onchain.jobs import AbortReason, JobState, result_hash, spec_hash
from onchain.ledger import BatchStatus
from onchain.registry import Role

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")
POLL_S = 0.02
#: Bytes of AuditTrail data per transaction (about 1.6M gas of calldata). A signed transaction
#: must stay below 128 KiB, the most geth's transaction pool accepts (txMaxSize).
DATA_CHUNK = 96 * 1024
POST_RETRY_S = (2.0, 60.0)  # First and longest pause between attempts to post a result.
POST_ATTEMPTS = 36
_SACRIFICE_DOMAIN = b"mpcc/sacrifice-attestation/v1"


def attestation_hash(batch_id: bytes, commitment: bytes) -> bytes:
    """What a member attests for a batch whose sacrifice passed: bound to the batch and its commitment."""
    return hashlib.sha256(_SACRIFICE_DOMAIN + batch_id + commitment).digest()


class ChainWaitTimeout(ProtocolAbort):
    """A job did not reach the state this peer waits for within its timeout (a liveness failure)."""


class Disk:
    """One worker thread for a peer's disk: the tuple cache and the data files, one call at a time."""

    def __init__(self) -> None:
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="disk")

    async def __call__(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, functools.partial(fn, *args, **kwargs))

    def close(self) -> None:
        self._thread.shutdown(wait=True)


@dataclass(frozen=True)
class JobOutcome:
    """What a member did in a job: its result, or why it stopped."""

    job_id: int
    result: dict[str, str] | None
    input_commitment: bytes | None
    error: str | None = None


@dataclass
class MemberPeer:
    """A member organisation's peer, bound to one deployment."""

    org: Org
    dep: Deployment
    cache: TupleCache
    datasets: dict[str, Data] = field(default_factory=dict)  # by name; [data] is "default"
    timeout_s: float = 60.0
    # A peer that went silent (timeout, closed channel, stalled chain step) is not
    # evidence of cheating: with this False such aborts are not reported on chain
    # and the job is left to expire at its deadline (the daemon's policy).
    report_liveness: bool = True
    poll_s: float = POLL_S  # How often wait_for reads the job's state (a JSON-RPC node: slower).
    chain: AsyncChain = field(init=False)
    disk: Disk = field(default_factory=Disk)

    def __post_init__(self) -> None:
        self.chain = AsyncChain(self.dep.chain)

    @property
    def address(self) -> str:
        return self.org.account.address

    def close(self) -> None:
        """Stops the worker threads and closes the cache."""
        self.chain.close()
        self.disk.close()
        self.cache.close()

    # Preprocessing ----------------------------------------------------------------------

    async def chain_record(self, batch_id: bytes) -> ChainBatch:
        """The ledger's record of a batch, checked to come from the preprocessing service."""
        batch = await self.chain.run(self.dep.ledger.batch, batch_id)
        if not await self.chain.run(self.dep.registry.has_role, Role.PREPROCESSOR, batch.service):
            raise DeliveryRejected(batch_id, -1, f"committed by {batch.service}, which lacks the preprocessing role")
        return ChainBatch(batch_id, list(TupleKind)[int(batch.kind)], batch.count, batch.commitment)

    async def accept_delivery(self, transport: Transport, key: MacKeyShare, delivery: PartyDelivery) -> None:
        """Open, sacrifice jointly, attest on chain, then store; reject on chain if the check fails."""
        record = await self.chain_record(delivery.header.batch_id)
        part = await asyncio.to_thread(open_batch, self.org.identity, key.party, delivery, record)
        try:
            tuples = await accept_batch(Session(transport, key), part)
        except SacrificeFailed as failure:
            await self._reject(record.batch_id, hashlib.sha256(str(failure).encode()).digest())
            raise
        transcript = attestation_hash(record.batch_id, record.commitment)
        await self.disk(self.cache.store, record.batch_id, tuples, transcript_hash=transcript, attested=False)
        await self.chain.run(self.dep.ledger.attest_sacrifice, self.org.account, record.batch_id, transcript)
        await self.disk(self.cache.mark_attested, record.batch_id)

    async def _reject(self, batch_id: bytes, evidence: bytes) -> None:
        """Rejects a batch on chain unless another member did so first (or does so meanwhile)."""
        if (await self.chain.run(self.dep.ledger.batch, batch_id)).status is not BatchStatus.COMMITTED:
            return
        try:
            await self.chain.run(self.dep.ledger.reject_batch, self.org.account, batch_id, evidence)
        except ChainError:
            # Refused before sending, or reverted once mined: another member's rejection came first.
            if (await self.chain.run(self.dep.ledger.batch, batch_id)).status is BatchStatus.COMMITTED:
                raise

    # Jobs -------------------------------------------------------------------------------

    async def job_spec(self, job_id: int) -> JobSpec:
        """The job's spec from its JobProposed event, checked against the hash stored on chain."""
        job = await self.chain.run(self.dep.jobs.job, job_id)
        events = await self.chain.run(lambda: self.dep.jobs.logs(
            JobProposed, from_block=self.dep.manifest.deploy_block, jobId=job_id))
        if not events:
            raise ChainError(f"job {job_id} has no JobProposed event")
        text = events[0].spec
        if spec_hash(text) != job.spec_hash:
            raise ChainError(f"job {job_id}: the spec text does not match the hash on chain")
        spec = registry.parse_spec(text)
        participants = await self.chain.run(self.dep.jobs.participants, job_id)
        if [a.lower() for a in spec.participants] != [a.lower() for a in participants]:
            raise ChainError(f"job {job_id}: the spec's participants differ from the chain's")
        return spec

    def missing_data(self, spec: JobSpec) -> str | None:
        """Why this member has no data for the spec (no such dataset, an unbound column); None if it has."""
        try:
            data = data_for(spec, self.datasets)
        except ConfigError as err:
            return str(err)
        unbound = unbound_columns(data, [*numeric_columns(spec), *categorical_columns(spec)])
        return f"no data is bound to column {', '.join(map(repr, unbound))} here" if unbound else None

    async def load_data(self, spec: JobSpec) -> Table:
        """This member's data for the spec's columns, from the dataset it names, validated before anything is sent."""
        return await self.disk(registry.read_table, spec, data_for(spec, self.datasets))

    async def reserved_ranges(self, job_id: int) -> list[tuple[bytes, int, int]]:
        """The tuple ranges the chain reserved for the job, in chain order."""
        events = await self.chain.run(lambda: self.dep.ledger.logs(
            TuplesReserved, from_block=self.dep.manifest.deploy_block, jobId=job_id))
        return [(e.batchId, e.start, e.count) for e in events]

    async def covering_ranges(self, job_id: int, spec: JobSpec) -> list[tuple[bytes, int, int]]:
        """The job's reserved ranges once they cover what its spec consumes.

        A proposer reserves at most 16 ranges with its proposal and the rest in
        further transactions, which may be mined after the others accepted: a
        peer that read the reservations at that moment would start with fewer
        tuples than the others. So every peer waits until the chain's
        reservations cover ``routes.needs(spec)``, key by key, and then all of
        them hold the same ranges for every tuple the job takes.
        """
        needs = {str(key): n for key, n in routes.needs(spec)}
        deadline = Deadline(self.timeout_s)
        pace = Pace(self.poll_s)
        while True:
            ranges = await deadline.read(self.reserved_ranges(job_id))
            keys = {bytes(b.batch_id): b.key for b in await self.disk(self.cache.batches)}
            if any(bytes(batch) not in keys for batch, _, _ in ranges):
                return ranges  # TupleCache.reserve_for_job names the batch this peer has not stored.
            held: dict[str, int] = {}
            for batch, _, count in ranges:
                held[keys[bytes(batch)]] = held.get(keys[bytes(batch)], 0) + count
            short = {key: n - held.get(key, 0) for key, n in needs.items() if held.get(key, 0) < n}
            if not short:
                return ranges
            if deadline.passed():
                key, n = next(iter(short.items()))
                raise ChainWaitTimeout(f"job {job_id} reserved {n} fewer {key} tuples than it consumes, "
                                       f"{self.timeout_s}s after every participant accepted")
            await asyncio.sleep(pace.wait_s())

    async def run_job(self, transport: Transport, key: MacKeyShare, job_id: int) -> JobOutcome:
        """Accept, input, commit to the input shares, compute and post the result.

        A protocol failure is reported on chain with an evidence hash.
        """
        spec = await self.job_spec(job_id)
        table = await self.load_data(spec)
        if spec.party_of(self.address) != key.party:
            raise ConfigError(f"job {job_id} makes {self.address} party {spec.party_of(self.address)}, "
                              f"but its key share is for party {key.party}")
        if not await self.chain.run(self.dep.jobs.has_accepted, job_id, self.address):
            await self.chain.run(self.dep.jobs.accept, self.org.account, job_id)
        await self.wait_for(job_id, JobState.ACCEPTED)
        ranges = await self.covering_ranges(job_id, spec)
        await self.disk(self.cache.reserve_for_job, job_id, ranges)
        source = await self.disk(self.cache.job_source(job_id).take_all)
        run = _JobRun(self, spec, job_id, key)
        return await run.run(Context(transport, key, source), table)

    async def publish_chunks(self, job_id: int, kind: DataKind, data: bytes) -> None:
        """AuditTrail data in transactions of at most DATA_CHUNK bytes (the auditor joins them)."""
        for at in range(0, len(data), DATA_CHUNK):
            await self.chain.run(self.dep.audit.publish_data, self.org.account, job_id, kind,
                                 data[at:at + DATA_CHUNK])

    async def input_commitments(self, job_id: int, spec: JobSpec) -> list[bytes]:
        """Every participant's JobManager input commitment, in party order."""
        events = await self.chain.run(lambda: self.dep.jobs.logs(
            InputsCommitted, from_block=self.dep.manifest.deploy_block, jobId=job_id))
        found = {e.participant.lower(): e.commitment for e in events}
        return [found[a.lower()] for a in spec.participants]

    async def publish_opening(self, job_id: int, spec: JobSpec, commitments: ShareCommitments) -> None:
        """Open this party's shares of the revealed totals against its commitments, on chain."""
        columns = revealed_columns(spec)
        shares, rands = commitments.opening(columns)
        await self.chain.run(self.dep.audit.publish_opening, self.org.account, job_id, columns, shares, rands)

    async def post_result(self, job_id: int, result: dict[str, str]) -> None:
        """Submit the result's canonical bytes on chain; again after a failure that may pass.

        The chain client already rides out a node outage of ``rpc_patience_s``
        and retries running out of gas. A submission that still fails (a
        longer outage, no receipt in time, out of gas again) is sent again with
        growing pauses while the job awaits results and its result deadline
        has not passed (at most ``POST_ATTEMPTS`` times, about half an hour if
        the node stays away): the result is only in this process's memory, and a
        job with a participant's result missing can only expire. An
        AlreadySubmitted revert means an earlier attempt was mined after all.
        """
        pause, attempt = POST_RETRY_S[0], 1
        while True:
            try:
                await self.chain.run(self.dep.jobs.submit_result, self.org.account, job_id,
                                     registry.result_bytes(result))
                return
            except self.dep.jobs.errors.AlreadySubmitted:
                log.info("job %s: result found on chain from an earlier attempt", job_id)
                return
            except ContractRevert:
                raise
            except ChainError as err:
                if attempt == POST_ATTEMPTS or not await self._may_still_post(job_id):
                    raise
                log.warning("job %s: posting the result failed (attempt %d: %s); trying again in %.0f s, "
                            "until the job's result deadline", job_id, attempt, err, pause)
            await asyncio.sleep(pause)
            pause, attempt = min(2 * pause, POST_RETRY_S[1]), attempt + 1

    async def _may_still_post(self, job_id: int) -> bool:
        """Whether the job still awaits results before its deadline (True if the chain cannot say yet)."""
        try:
            job, now = await self.chain.run(self.dep.jobs.job, job_id), await self.chain.now()
        except ContractRevert:
            return False
        except ChainError:
            return True  # The node is still away: its answer decides on the next attempt.
        return job.state is JobState.INPUTS_COMMITTED and now <= job.deadlines.result_by

    async def report(self, job_id: int, abort: ProtocolAbort, participants: Sequence[str] = ()) -> None:
        """Reports a protocol failure on chain with its evidence hash (not a liveness failure, by
        policy), naming the participant the protocol proves at fault where there is one
        (``abort.culprits``, indices into ``participants``): then also after another
        participant's report aborted the job, so that a cheater that reports first cannot
        stand alone on chain naming an honest member."""
        if not self.report_liveness and isinstance(abort, (PeerTimeout, PeerDisconnected, ChainWaitTimeout)):
            log.warning("job %s: stopped (%s); left to expire at its deadline", job_id, abort)
            return
        accused = [participants[i] for i in abort.culprits if i < len(participants)]
        accused = [a for a in accused if a.lower() != self.org.account.address.lower()]
        named = f" (at fault: {', '.join(accused)})" if accused else ""
        evidence = hashlib.sha256(f"{type(abort).__name__}: {abort}{named}".encode()).digest()
        log.warning("job %s: protocol failure reported on chain: %s%s", job_id, abort, named)
        job = await self.chain.run(self.dep.jobs.job, job_id)
        open_ = job.state not in (JobState.ABORTED, JobState.FINALISED)
        failed = job.state is JobState.ABORTED and job.abort_reason is AbortReason.PROTOCOL_FAILURE
        for who in accused if open_ or failed else ():
            await self.chain.run(self.dep.jobs.report_cheater, self.org.account, job_id, who, evidence)
        if open_ and not accused:
            await self.chain.run(self.dep.jobs.report_failure, self.org.account, job_id, evidence)

    async def name_divergent(self, job_id: int, result: dict[str, str], participants: Sequence[str]) -> list[str]:
        """Once every result is posted, names on chain each participant whose result differs from this one.

        This peer's result was opened after the MAC checks passed, so it is the
        protocol's output: a participant that posted anything else lied about it
        (the contract cannot tell who, so each honest peer says so, as after a
        failed range check). Returns the participants named. Waits at most
        ``timeout_s`` for the others' results; a job that is not decided by then
        is left to its deadline.
        """
        jobs, me = self.dep.jobs, self.address.lower()
        deadline = Deadline(self.timeout_s)
        pace = Pace(self.poll_s)
        while (job := await deadline.read(self.chain.run(jobs.job, job_id))).state is JobState.INPUTS_COMMITTED:
            if deadline.passed():
                return []
            await asyncio.sleep(pace.wait_s())
        if job.abort_reason is not AbortReason.RESULT_MISMATCH:
            return []
        mine = result_hash(registry.result_bytes(result))
        named = []
        for account in (p for p in participants if p.lower() != me):
            posted = await self.chain.run(jobs.result_hash_of, job_id, account)
            if any(posted) and posted != mine:
                evidence = hashlib.sha256(b"result differs: " + mine + posted).digest()
                try:
                    await self.chain.run(jobs.report_cheater, self.org.account, job_id, account, evidence)
                except ChainError as err:  # The result stands on chain either way.
                    log.warning("job %s: could not name %s on chain: %s", job_id, account, err)
                    continue
                named.append(account)
                log.warning("job %s: %s posted a result other than the one computed here; named on chain",
                            job_id, account)
        return named

    async def wait_for(self, job_id: int, state: JobState) -> None:
        """Wait until the job reaches ``state`` (or beyond); raise if it aborted or timed out.

        Time in which the chain node could not be reached does not count (``Deadline``).
        """
        deadline = Deadline(self.timeout_s)
        pace = Pace(self.poll_s)
        while True:
            current = (await deadline.read(self.chain.run(self.dep.jobs.job, job_id))).state
            if current is JobState.ABORTED:
                raise ProtocolAbort(f"job {job_id} was aborted on chain")
            if current >= state:
                return
            if deadline.passed():
                raise ChainWaitTimeout(f"job {job_id} did not reach {state.name} within {self.timeout_s}s")
            await asyncio.sleep(pace.wait_s())


@dataclass
class _JobRun:
    """One job as this member computes it: the commitments it posts on chain, and its result."""

    peer: MemberPeer
    spec: JobSpec
    job_id: int
    key: MacKeyShare
    salt: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    committed: list[bytes] = field(default_factory=list)
    pedersen: list[ShareCommitments] = field(default_factory=list)
    transcript: Transcript = field(default_factory=Transcript)

    async def run(self, ctx: Context, table: Table) -> JobOutcome:
        peer, spec, job_id = self.peer, self.spec, self.job_id
        way = route(spec)
        record = None
        try:
            if way is Route.SUMMARY:
                result = await auditable_summary.run(ctx, spec, table, self.post, self.challenge,
                                                     self.transcript)
            elif way is Route.PROGRAM:
                result, record = await auditable_program.run_party(ctx, spec, table, self.post_tuples)
            else:
                result = await registry.run(ctx, spec, table, self.commit)
        except ProtocolAbort as abort:
            await peer.report(job_id, abort, spec.participants)
            return JobOutcome(job_id, None, self.committed[0] if self.committed else None, str(abort))
        # Transcripts first: AuditTrail seals a participant's transcript once it posted its result,
        # so nothing can be added to the record after the job is decided.
        if self.transcript.shares:
            await peer.chain.run(peer.dep.audit.publish_data, peer.org.account, job_id, DataKind.TRANSCRIPT,
                                 self.transcript.to_bytes())
        if record is not None and self.key.party == 0:
            await peer.publish_chunks(job_id, DataKind.TRANSCRIPT, record.transcript())
        await peer.post_result(job_id, result)
        if self.pedersen:
            await peer.publish_opening(job_id, spec, self.pedersen[0])
        await peer.name_divergent(job_id, result, spec.participants)
        return JobOutcome(job_id, result, self.committed[0])

    async def commit(self, shares: Sequence[SharedVec]) -> None:
        """Plain and linear jobs: commit to the input shares (a hash, or Pedersen commitments)."""
        if self.spec.auditable:
            self.pedersen.append(commit_shares(shares))
            await self.post(self.pedersen[0], curve.PointVec.infinity(0))
        else:
            await self.post_hash(input_commitment(shares, self.job_id.to_bytes(32, "big"), self.key.party,
                                                  self.salt))

    async def post(self, mine: ShareCommitments, tuples: curve.PointVec) -> None:
        """Pedersen commitments (and tuple commitments) to AuditTrail, their hash to JobManager."""
        peer = self.peer
        points, data = mine.points.to_bytes(), tuples.to_bytes()
        await peer.chain.run(peer.dep.audit.commit_shares, peer.org.account, self.job_id, mine.width, points)
        if data:
            await peer.chain.run(peer.dep.audit.publish_data, peer.org.account, self.job_id, DataKind.TUPLES, data)
        await self.post_hash(trail_commitment(points, data))

    async def post_hash(self, commitment: bytes) -> None:
        peer = self.peer
        await peer.chain.run(peer.dep.jobs.commit_inputs, peer.org.account, self.job_id, commitment)
        self.committed.append(commitment)
        await peer.wait_for(self.job_id, JobState.INPUTS_COMMITTED)

    async def challenge(self) -> int:
        return auditable_summary.challenge(self.job_id, await self.peer.input_commitments(self.job_id, self.spec))

    async def post_tuples(self, points: curve.PointVec) -> None:
        if self.key.party == 0:  # One copy of the summed list is enough (every party checks it).
            await self.peer.publish_chunks(self.job_id, DataKind.TUPLES, curve.compress(points))
        await self.post_hash(auditable_program.commitment_hash(points))
