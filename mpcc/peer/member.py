"""One member's peer: takes delivered batches through the sacrifice into its cache, runs jobs.

A batch is used only after: its ciphertext matches the commitment on chain,
the committing account holds the preprocessing role, the joint sacrifice
passed, and this member's attestation is on chain. A job is run only after
its spec matches the hash on chain and this member's data for it validated;
its tuples are exactly the ranges the chain reserved for it, in chain order.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from offchain.analytics import registry
from offchain.analytics.common import input_commitment
from offchain.analytics.data import Binding, Table
from offchain.analytics.spec import JobSpec
from offchain import curve
from offchain.auditable import program as auditable_program
from offchain.auditable import summary as auditable_summary
from offchain.auditable.commitments import ShareCommitments, commit_shares
from offchain.auditable.linear import revealed_columns
from offchain.auditable.routes import Route, route
from offchain.auditable.tracked import Transcript
from offchain.engine.context import Context
from offchain.errors import (
    ConfigError, DeliveryRejected, PeerDisconnected, PeerTimeout, ProtocolAbort, SacrificeFailed,
)
from offchain.net.transport import Transport
from offchain.preprocessing.cache import TupleCache
from offchain.preprocessing.delivery import ChainBatch, PartyDelivery, open_batch
from offchain.engine.sacrifice import accept_batch
from offchain.preprocessing.source import MemoryTupleSource
from offchain.preprocessing.tuples import TupleKind
from offchain.shares import MacKeyShare, SharedVec
from onchain.abi.job_manager import InputsCommitted, JobProposed
from onchain.abi.preprocessing_ledger import TuplesReserved
from onchain.audit_trail import DataKind
from onchain.audit_trail import input_commitment as trail_commitment
from onchain.deploy import Deployment
from onchain.errors import ChainError
from onchain.jobs import JobState, spec_hash
from onchain.ledger import BatchStatus, PreprocessingLedger
from mpcc.orgs import Org
from onchain.registry import Role

log = logging.getLogger(__name__)
POLL_S = 0.02
#: Bytes of AuditTrail data per transaction (about 1.6M gas of calldata). A signed transaction
#: must stay below 128 KiB, the most geth's transaction pool accepts (txMaxSize).
DATA_CHUNK = 96 * 1024
_SACRIFICE_DOMAIN = b"mpcc/sacrifice-attestation/v1"


class ChainWaitTimeout(ProtocolAbort):
    """A job did not reach the state this peer waits for within its timeout (a liveness failure)."""


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
    data: dict[str, Binding] = field(default_factory=dict)
    timeout_s: float = 60.0
    # A peer that went silent (timeout, closed channel, stalled chain step) is not
    # evidence of cheating: with this False such aborts are not reported on chain
    # and the job is left to expire at its deadline (the daemon's policy).
    report_liveness: bool = True
    poll_s: float = POLL_S  # How often wait_for reads the job's state (a JSON-RPC node: slower).

    @property
    def address(self) -> str:
        return self.org.account.address

    # Preprocessing ----------------------------------------------------------------------

    def chain_record(self, batch_id: bytes) -> ChainBatch:
        """The ledger's record of a batch, checked to come from the preprocessing service."""
        batch = self.dep.ledger.batch(batch_id)
        if not self.dep.registry.has_role(Role.PREPROCESSOR, batch.service):
            raise DeliveryRejected(batch_id, -1, f"committed by {batch.service}, which lacks the preprocessing role")
        return ChainBatch(batch_id, list(TupleKind)[int(batch.kind)], batch.count, batch.commitment)

    async def accept_delivery(self, transport: Transport, key: MacKeyShare, delivery: PartyDelivery) -> None:
        """Open, sacrifice jointly, attest on chain, then store; reject on chain if the check fails."""
        record = self.chain_record(delivery.header.batch_id)
        part = open_batch(self.org.identity, key.party, delivery, record)
        ctx = Context(transport, key, MemoryTupleSource())
        try:
            tuples = await accept_batch(ctx, part)
        except SacrificeFailed as failure:
            evidence = hashlib.sha256(str(failure).encode()).digest()
            if self.dep.ledger.batch(record.batch_id).status is BatchStatus.COMMITTED:
                try:
                    self.dep.ledger.reject_batch(self.org.account, record.batch_id, evidence)
                except PreprocessingLedger.BatchUnexpectedStatus:  # Another member rejected it in the meantime.
                    pass
            raise
        transcript = hashlib.sha256(_SACRIFICE_DOMAIN + record.batch_id + record.commitment).digest()
        self.cache.store(record.batch_id, tuples, transcript_hash=transcript, attested=False)
        self.dep.ledger.attest_sacrifice(self.org.account, record.batch_id, transcript)
        self.cache.mark_attested(record.batch_id)

    # Jobs -------------------------------------------------------------------------------

    def job_spec(self, job_id: int) -> JobSpec:
        """The job's spec from its JobProposed event, checked against the hash stored on chain."""
        job = self.dep.jobs.job(job_id)
        events = self.dep.jobs.logs(JobProposed, from_block=self.dep.manifest.deploy_block, jobId=job_id)
        if not events:
            raise ChainError(f"job {job_id} has no JobProposed event")
        text = events[0].spec
        if spec_hash(text) != job.spec_hash:
            raise ChainError(f"job {job_id}: the spec text does not match the hash on chain")
        spec = registry.parse_spec(text)
        if [a.lower() for a in spec.participants] != [a.lower() for a in self.dep.jobs.participants(job_id)]:
            raise ChainError(f"job {job_id}: the spec's participants differ from the chain's")
        return spec

    def load_data(self, spec: JobSpec) -> Table:
        """This member's data for the spec's columns, validated before anything is sent."""
        return registry.read_table(spec, self.data)

    def reserved_ranges(self, job_id: int) -> list[tuple[bytes, int, int]]:
        """The tuple ranges the chain reserved for the job, in chain order."""
        events = self.dep.ledger.logs(TuplesReserved, from_block=self.dep.manifest.deploy_block, jobId=job_id)
        return [(e.batchId, e.start, e.count) for e in events]

    async def run_job(self, transport: Transport, key: MacKeyShare, job_id: int) -> JobOutcome:
        """Accept, input, commit to the input shares, compute and post the result.

        A protocol failure is reported on chain with an evidence hash.
        """
        spec = self.job_spec(job_id)
        table = self.load_data(spec)
        if spec.party_of(self.address) != key.party:
            raise ConfigError(f"job {job_id} makes {self.address} party {spec.party_of(self.address)}, "
                              f"but its key share is for party {key.party}")
        if not self.dep.jobs.has_accepted(job_id, self.address):
            self.dep.jobs.accept(self.org.account, job_id)
        await self.wait_for(job_id, JobState.ACCEPTED)
        self.cache.reserve_for_job(job_id, self.reserved_ranges(job_id))
        ctx = Context(transport, key, self.cache.job_source(job_id))
        salt, committed, pedersen = secrets.token_bytes(32), [], []
        transcript = Transcript()

        async def commit(shares: Sequence[SharedVec]) -> None:
            if spec.auditable:
                pedersen.append(commit_shares(shares))
                await post(pedersen[0], curve.PointVec.infinity(0))
            else:
                await post_hash(input_commitment(shares, job_id.to_bytes(32, "big"), key.party, salt))

        async def post(mine: ShareCommitments, tuples: curve.PointVec) -> None:
            points, data = mine.points.to_bytes(), tuples.to_bytes()
            self.dep.audit.commit_shares(self.org.account, job_id, mine.width, points)
            if data:
                self.dep.audit.publish_data(self.org.account, job_id, DataKind.TUPLES, data)
            await post_hash(trail_commitment(points, data))

        async def post_hash(commitment: bytes) -> None:
            self.dep.jobs.commit_inputs(self.org.account, job_id, commitment)
            committed.append(commitment)
            await self.wait_for(job_id, JobState.INPUTS_COMMITTED)

        async def challenge() -> int:
            return auditable_summary.challenge(job_id, self.input_commitments(job_id, spec))

        async def post_tuples(points: curve.PointVec) -> None:
            if key.party == 0:  # One copy of the summed list is enough (every party checks it).
                self.publish_chunks(job_id, DataKind.TUPLES, curve.compress(points))
            await post_hash(auditable_program.commitment_hash(points))

        way = route(spec)
        record = None
        try:
            if way is Route.SUMMARY:
                result = await auditable_summary.run(ctx, spec, table, post, challenge, transcript)
            elif way is Route.PROGRAM:
                result, record = await auditable_program.run_party(ctx, spec, table, post_tuples)
            else:
                result = await registry.run(ctx, spec, table, commit)
        except ProtocolAbort as abort:
            self._report(job_id, abort)
            return JobOutcome(job_id, None, committed[0] if committed else None, str(abort))
        self.post_result(job_id, result)
        if pedersen:
            self.publish_opening(job_id, spec, pedersen[0])
        if transcript.shares:
            self.dep.audit.publish_data(self.org.account, job_id, DataKind.TRANSCRIPT, transcript.to_bytes())
        if record is not None and key.party == 0:
            self.publish_chunks(job_id, DataKind.TRANSCRIPT, record.transcript())
        return JobOutcome(job_id, result, committed[0])

    def publish_chunks(self, job_id: int, kind: DataKind, data: bytes) -> None:
        """AuditTrail data in transactions of at most DATA_CHUNK bytes (the auditor joins them)."""
        for at in range(0, len(data), DATA_CHUNK):
            self.dep.audit.publish_data(self.org.account, job_id, kind, data[at:at + DATA_CHUNK])

    def input_commitments(self, job_id: int, spec: JobSpec) -> list[bytes]:
        """Every participant's JobManager input commitment, in party order."""
        found = {e.participant.lower(): e.commitment
                 for e in self.dep.jobs.logs(InputsCommitted, from_block=self.dep.manifest.deploy_block, jobId=job_id)}
        return [found[a.lower()] for a in spec.participants]

    def publish_opening(self, job_id: int, spec: JobSpec, commitments: ShareCommitments) -> None:
        """Open this party's shares of the revealed totals against its commitments, on chain."""
        columns = revealed_columns(spec)
        shares, rands = commitments.opening(columns)
        self.dep.audit.publish_opening(self.org.account, job_id, columns, shares, rands)

    def post_result(self, job_id: int, result: dict[str, str]) -> None:
        """Submit the result's canonical bytes on chain."""
        self.dep.jobs.submit_result(self.org.account, job_id, registry.result_bytes(result))

    def _report(self, job_id: int, abort: ProtocolAbort) -> None:
        if not self.report_liveness and isinstance(abort, (PeerTimeout, PeerDisconnected, ChainWaitTimeout)):
            log.warning("job %s: stopped (%s); left to expire at its deadline", job_id, abort)
            return
        evidence = hashlib.sha256(f"{type(abort).__name__}: {abort}".encode()).digest()
        log.warning("job %s: protocol failure reported on chain: %s", job_id, abort)
        if self.dep.jobs.job(job_id).state not in (JobState.ABORTED, JobState.FINALISED):
            self.dep.jobs.report_failure(self.org.account, job_id, evidence)

    async def wait_for(self, job_id: int, state: JobState) -> None:
        """Wait until the job reaches ``state`` (or beyond); raise if it aborted or timed out."""
        deadline = asyncio.get_running_loop().time() + self.timeout_s
        while True:
            current = self.dep.jobs.job(job_id).state
            if current is JobState.ABORTED:
                raise ProtocolAbort(f"job {job_id} was aborted on chain")
            if current >= state:
                return
            if asyncio.get_running_loop().time() > deadline:
                raise ChainWaitTimeout(f"job {job_id} did not reach {state.name} within {self.timeout_s}s")
            await asyncio.sleep(self.poll_s)
