"""Verify a job's record from chain data alone: events, their blocks and their order.

Each check reports passed or failed with its evidence. Nothing is taken from
view functions or from any organisation: the registry, the ledger and the job
are rebuilt from their events (``onchain.history`` for the registry).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from eth_utils import keccak

from onchain.deploy import Deployment
from onchain.events import EventBase
from onchain.history import registry_at
from onchain.registry import Role


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


@dataclass
class AuditReport:
    job_id: int
    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    def add(self, name: str, passed: bool, detail: str) -> None:
        self.checks.append(Check(name, passed, detail))

    def as_dict(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "passed": self.passed,
                "checks": [{"check": c.name, "passed": c.passed, "detail": c.detail} for c in self.checks]}


@dataclass(frozen=True)
class JobRecord:
    """A job's events, in chain order, and the ledger events it touched."""

    proposed: EventBase
    events: list[EventBase]
    reservations: list[EventBase]
    ledger_events: list[EventBase]
    timestamp: Callable[[int], int]

    def named(self, name: str) -> list[EventBase]:
        return [e for e in self.events if e.event_name == name]


def load_record(dep: Deployment, job_id: int) -> JobRecord:
    """Every event of ``job_id`` and of the batches it reserved, from the deploy block on."""
    start = dep.manifest.deploy_block
    job_events = [e for e in dep.jobs.events(start) if getattr(e, "jobId", None) == job_id]
    proposed = [e for e in job_events if e.event_name == "JobProposed"]
    if not proposed:
        raise LookupError(f"job {job_id} has no JobProposed event on chain {dep.chain.chain_id}")
    ledger_events = dep.ledger.events(start)
    reservations = [e for e in ledger_events if e.event_name == "TuplesReserved" and e.jobId == job_id]  # type: ignore[attr-defined]
    blocks: dict[int, int] = {}

    def timestamp(block: int) -> int:
        if block not in blocks:
            blocks[block] = int(dep.chain.w3.eth.get_block(block)["timestamp"])
        return blocks[block]

    return JobRecord(proposed[0], job_events, reservations, ledger_events, timestamp)


def audit_job(dep: Deployment, job_id: int) -> AuditReport:
    """Run every check on the job's record."""
    record = load_record(dep, job_id)
    report = AuditReport(job_id)
    for check in (_spec, _membership, _order_and_deadlines, _results, _batches):
        check(dep, record, report)
    return report


def _spec(dep: Deployment, rec: JobRecord, report: AuditReport) -> None:
    p = rec.proposed
    ok = keccak(text=p.spec) == bytes(p.specHash)  # type: ignore[attr-defined]
    report.add("spec text matches its hash", ok, "0x" + bytes(p.specHash).hex())  # type: ignore[attr-defined]


def _membership(dep: Deployment, rec: JobRecord, report: AuditReport) -> None:
    participants = list(rec.proposed.participants)  # type: ignore[attr-defined]
    accepted = rec.named("JobAccepted")
    last = max([e.block_number for e in accepted] + [rec.proposed.block_number])
    bad = []
    for block in sorted({rec.proposed.block_number, last}):
        snapshot = registry_at(dep.registry, block, dep.manifest.deploy_block)
        bad += [f"{a} not active at block {block}" for a in participants if not snapshot.is_active(a)]
    report.add("participants were active members", not bad,
               "; ".join(bad) or f"{len(participants)} participants active at blocks "
                                  f"{rec.proposed.block_number}..{last}")


def _order_and_deadlines(dep: Deployment, rec: JobRecord, report: AuditReport) -> None:
    commits, results = rec.named("InputsCommitted"), rec.named("ResultSubmitted")
    participants = {a.lower() for a in rec.proposed.participants}  # type: ignore[attr-defined]
    committed = {e.participant.lower() for e in commits}  # type: ignore[attr-defined]
    key = lambda e: (e.block_number, e.log_index)  # noqa: E731
    before = not results or (committed == participants and max(map(key, commits)) < min(map(key, results)))
    report.add("every input commitment came before any result", before,
               f"{len(commits)} commitments, {len(results)} results")
    p = rec.proposed
    late = [f"{e.event_name} at {rec.timestamp(e.block_number)} > {limit}"
            for events, limit in ((rec.named("JobAccepted"), p.acceptBy),  # type: ignore[attr-defined]
                                  (commits, p.commitBy), (results, p.resultBy))  # type: ignore[attr-defined]
            for e in events if rec.timestamp(e.block_number) > limit]
    report.add("deadlines held", not late, "; ".join(late) or "all steps within their deadlines")


def _results(dep: Deployment, rec: JobRecord, report: AuditReport) -> None:
    results = rec.named("ResultSubmitted")
    finals = rec.named("JobFinalised")
    hashes = {bytes(e.resultHash) for e in results}  # type: ignore[attr-defined]
    honest = all(keccak(bytes(e.result)) == bytes(e.resultHash) for e in results)  # type: ignore[attr-defined]
    submitters = {e.participant.lower() for e in results}  # type: ignore[attr-defined]
    everyone = submitters == {a.lower() for a in rec.proposed.participants}  # type: ignore[attr-defined]
    final_ok = len(finals) == 1 and hashes == {bytes(finals[0].resultHash)}  # type: ignore[attr-defined]
    report.add("all results equal and the job finalised", honest and everyone and len(hashes) == 1 and final_ok,
               f"{len(results)} results, {len(hashes)} distinct, finalised: {bool(finals)}")


def _batches(dep: Deployment, rec: JobRecord, report: AuditReport) -> None:
    participants = {a.lower() for a in rec.proposed.participants}  # type: ignore[attr-defined]
    problems = []
    for res in rec.reservations:
        batch_id = bytes(res.batchId)  # type: ignore[attr-defined]
        of_batch = [e for e in rec.ledger_events if bytes(getattr(e, "batchId", b"")) == batch_id]
        committed = [e for e in of_batch if e.event_name == "BatchCommitted"]
        if len(committed) != 1:
            problems.append(f"batch {batch_id.hex()[:12]} has {len(committed)} commitments")
            continue
        service_ok = registry_at(dep.registry, committed[0].block_number, dep.manifest.deploy_block).has_role(
            Role.PREPROCESSOR, committed[0].service)  # type: ignore[attr-defined]
        attested = {e.member.lower() for e in of_batch  # type: ignore[attr-defined]
                    if e.event_name == "SacrificeAttested" and e.block_number <= res.block_number}
        rejected = [e for e in of_batch if e.event_name == "BatchRejected"]
        if not service_ok:
            problems.append(f"batch {batch_id.hex()[:12]} committed by a non-preprocessor")
        if not participants <= attested:
            problems.append(f"batch {batch_id.hex()[:12]} not attested by {sorted(participants - attested)}")
        if rejected:
            problems.append(f"batch {batch_id.hex()[:12]} was rejected")
        problems += _overlaps(res, [e for e in of_batch if e.event_name == "TuplesReserved"], committed[0])
    report.add("tuples: committed by the service, attested by all, consumed once", not problems,
               "; ".join(problems) or f"{len(rec.reservations)} reservations checked")


def _overlaps(res: EventBase, all_res: list[EventBase], committed: EventBase) -> list[str]:
    start, stop = res.start, res.start + res.count  # type: ignore[attr-defined]
    found = []
    if stop > committed.count:  # type: ignore[attr-defined]
        found.append(f"range [{start},{stop}) beyond the batch's {committed.count} tuples")  # type: ignore[attr-defined]
    for other in all_res:
        if other is res or (other.block_number, other.log_index) == (res.block_number, res.log_index):
            continue
        if other.start < stop and start < other.start + other.count:  # type: ignore[attr-defined]
            found.append(f"range [{start},{stop}) overlaps job {other.jobId}'s")  # type: ignore[attr-defined]
    return found
