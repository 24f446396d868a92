"""Verify a job's record from chain data alone: events, their emitters, blocks and order.

Reading and checking are apart: ``onchain.history.load_history`` reads the
chain into a ``JobHistory``, and ``audit_history`` checks that data and
nothing else, so every check can also be shown a record a real chain could
not produce. Only events emitted at the manifest's addresses count; any other
is reported by the first check. Each check reports passed or failed with its
evidence (which address, which event, which block).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from eth_utils.crypto import keccak

from mpcc import records
from mpcc.audit.public import audit_public
from offchain.analytics import registry
from offchain.analytics.spec import JobSpec
from offchain.auditable.replay import Step
from offchain.errors import ConfigError
from onchain.abi.job_manager import (
    InputsCommitted,
    JobAccepted,
    JobFinalised,
    JobManagerEvent,
    JobProposed,
    ResultSubmitted,
)
from onchain.abi.org_registry import OrgRegistryEvent
from onchain.abi.preprocessing_ledger import (
    BatchCommitted,
    BatchRejected,
    PreprocessingLedgerEvent,
    SacrificeAttested,
    TuplesReserved,
)
from onchain.deploy import Deployment
from onchain.events import EventBase
from onchain.history import JobHistory, Position, load_history, position, replay
from onchain.registry import Role

E = TypeVar("E", bound=EventBase)
BATCH_EVENTS = (BatchCommitted, SacrificeAttested, BatchRejected, TuplesReserved)

SOURCES = "events came from the deployment's contracts"
SPEC = "spec text matches its hash"
MEMBERSHIP = "participants were active members with unchanged keys"
ORDER = "every input commitment came before any result"
DEADLINES = "deadlines held"
RESULTS = "all results equal and the job finalised"
BATCHES = "tuples: made by the members or dealt by the service, attested by all, consumed once"
PUBLIC = "public"


#: One check's outcome and evidence: the same record as a step of the public verification.
Check = Step


@dataclass
class AuditReport:
    job_id: int
    checks: list[Check] = field(default_factory=list)
    #: The gas of the job's transactions (``records.job_gas``): what the job cost on this chain.
    gas: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    def add(self, name: str, passed: bool, detail: str) -> None:
        self.checks.append(Check(name, passed, detail))

    def check(self, name: str) -> Check:
        """The check called ``name``; ``LookupError`` if it was not run."""
        for c in self.checks:
            if c.name == name:
                return c
        raise LookupError(f"the audit of job {self.job_id} ran no check {name!r}")

    def as_dict(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "passed": self.passed, "gas": self.gas,
                "checks": [{"check": c.name, "passed": c.passed, "detail": c.detail} for c in self.checks]}


@dataclass(frozen=True)
class JobRecord:
    """The events of a history that came from their contracts' addresses, in chain order.

    ``foreign`` holds the others with the contract they claimed to come from;
    no check but the first ever reads them.
    """

    history: JobHistory
    proposed: JobProposed
    job: list[JobManagerEvent]
    ledger: list[PreprocessingLedgerEvent]
    registry: list[OrgRegistryEvent]
    foreign: list[tuple[str, EventBase]]

    @classmethod
    def of(cls, history: JobHistory) -> JobRecord:
        """Split ``history`` into trusted and foreign events; ``LookupError`` without a real proposal."""
        foreign: list[tuple[str, EventBase]] = []
        job = _trusted(history, "JobManager", history.job, foreign)
        ledger = _trusted(history, "PreprocessingLedger", history.ledger, foreign)
        members = _trusted(history, "OrgRegistry", history.registry, foreign)
        job = [e for e in job if getattr(e, "jobId", None) == history.job_id]
        proposed = [e for e in job if isinstance(e, JobProposed)]
        if not proposed:
            raise LookupError(f"job {history.job_id} has no JobProposed event from JobManager at "
                              f"{history.sources['JobManager']}")
        return cls(history, proposed[0], job, ledger, members, foreign)

    @property
    def job_id(self) -> int:
        return self.history.job_id

    @property
    def participants(self) -> list[str]:
        return list(self.proposed.participants)

    @property
    def end(self) -> Position:
        """The position of the job's last event: where its record, and its need for members, ends."""
        return position(self.job[-1])

    def named(self, event: type[E]) -> list[E]:
        return [e for e in self.job if isinstance(e, event)]


def _trusted(history: JobHistory, name: str, events: Sequence[E], foreign: list[tuple[str, EventBase]]) -> list[E]:
    """The ``events`` emitted at the manifest's address of contract ``name``, in chain order; the rest go
    to ``foreign``."""
    source = history.sources[name].lower()
    foreign += [(name, e) for e in events if e.address.lower() != source]
    return sorted((e for e in events if e.address.lower() == source), key=position)


CheckFn = Callable[[JobRecord, AuditReport], None]


def audit_job(dep: Deployment, job_id: int) -> AuditReport:
    """Read the job's history from the chain and run every check on it.

    For an auditable job (its spec sets ``auditable``) the steps of the public
    verification (mpcc.audit.public) follow, each as a check "public: <step>".
    """
    history = load_history(dep, job_id)
    record = JobRecord.of(history)
    report = _run_checks(record, CHECKS)
    spec = _auditable_spec(record)
    if spec is not None:
        for step in audit_public(dep, job_id, spec, record.job):
            report.add(f"{PUBLIC}: {step.name}", step.passed, step.detail)
    report.gas = records.job_gas(records.job_transactions(dep, job_id))
    return report


def _auditable_spec(record: JobRecord) -> JobSpec | None:
    """The job's spec if it is a valid auditable one (the SPEC check judges the text itself)."""
    try:
        spec = registry.parse_spec(record.proposed.spec)
    except ConfigError:
        return None
    return spec if spec.auditable else None


def audit_history(history: JobHistory, checks: Sequence[CheckFn] | None = None) -> AuditReport:
    """Run ``checks`` (every check by default, in ``CHECKS`` order) on a job's history data."""
    return _run_checks(JobRecord.of(history), CHECKS if checks is None else checks)


def _run_checks(record: JobRecord, checks: Sequence[CheckFn]) -> AuditReport:
    report = AuditReport(record.job_id)
    for check in checks:
        check(record, report)
    return report


def _at(event: EventBase) -> str:
    """Where ``event`` happened, as evidence."""
    return f"{event.event_name} at block {event.block_number} (tx {event.tx_hash})"


def _party(event: JobAccepted | InputsCommitted | ResultSubmitted) -> str:
    """The participant a JobManager event names."""
    return event.participant


def _sources(rec: JobRecord, report: AuditReport) -> None:
    bad = [f"{_at(e)} was emitted by {e.address}, not by {name} at {rec.history.sources[name]}"
           for name, e in rec.foreign]
    total = len(rec.job) + len(rec.ledger) + len(rec.registry)
    report.add(SOURCES, not bad, "; ".join(bad) or f"{total} events, all from the manifest's addresses")


def _spec(rec: JobRecord, report: AuditReport) -> None:
    stated, actual = "0x" + rec.proposed.specHash.hex(), "0x" + keccak(text=rec.proposed.spec).hex()
    report.add(SPEC, stated == actual,
               stated if stated == actual else f"{_at(rec.proposed)}: the spec text hashes to {actual}, not {stated}")


def _membership(rec: JobRecord, report: AuditReport) -> None:
    """Active at the proposal, and neither status nor keys changed until the job's last event."""
    start, end = position(rec.proposed), rec.end
    snapshot = replay(rec.registry, start)
    before = {a: snapshot.members.get(a) for a in rec.participants}
    bad = [f"{a} was not an active member when the job was proposed: {_at(rec.proposed)}"
           for a, m in before.items() if m is None or not m.active]
    changed = {a for a, m in before.items() if m is None or not m.active}
    for event in rec.registry:
        if not start < position(event) <= end:
            continue
        snapshot.apply(event)
        for a in rec.participants:
            if a not in changed and snapshot.members.get(a) != before[a]:
                changed.add(a)
                bad.append(f"{a}: {_at(event)} while the job ran (blocks {start[0]}..{end[0]})")
    report.add(MEMBERSHIP, not bad, "; ".join(bad) or f"{len(before)} participants active with the same "
                                                      f"registered keys over blocks {start[0]}..{end[0]}")


def _order(rec: JobRecord, report: AuditReport) -> None:
    commits, results = rec.named(InputsCommitted), rec.named(ResultSubmitted)
    bad = []
    if results:
        first = results[0]
        bad = [f"InputsCommitted of {_party(c)} at block {c.block_number} (tx {c.tx_hash}) came after "
               f"ResultSubmitted of {_party(first)} at block {first.block_number}"
               for c in commits if position(c) > position(first)]
        committed = {_party(c).lower() for c in commits}
        bad += [f"{a} posted no InputsCommitted, yet {_at(first)} was posted"
                for a in rec.participants if a.lower() not in committed]
    report.add(ORDER, not bad, "; ".join(bad) or f"{len(commits)} commitments, {len(results)} results")


def _deadlines(rec: JobRecord, report: AuditReport) -> None:
    p = rec.proposed
    late = []
    for e in rec.job:
        if isinstance(e, JobAccepted):
            limit = p.acceptBy
        elif isinstance(e, InputsCommitted):
            limit = p.commitBy
        elif isinstance(e, ResultSubmitted):
            limit = p.resultBy
        else:
            continue
        when = rec.history.block_times.get(e.block_number)
        if when is None:
            late.append(f"{_at(e)}: the history holds no time for its block")
        elif when > limit:
            late.append(f"{_at(e)} of {_party(e)}: time {when} > deadline {limit}")
    report.add(DEADLINES, not late, "; ".join(late) or "all steps within their deadlines")


def _results(rec: JobRecord, report: AuditReport) -> None:
    results = rec.named(ResultSubmitted)
    finals = rec.named(JobFinalised)
    hashes = {e.resultHash for e in results}
    honest = all(keccak(e.result) == e.resultHash for e in results)
    submitters = {e.participant.lower() for e in results}
    everyone = submitters == {a.lower() for a in rec.participants}
    final_ok = len(finals) == 1 and hashes == {finals[0].resultHash}
    detail = f"{len(results)} results, {len(hashes)} distinct, finalised: {bool(finals)}"
    if len(hashes) > 1:  # Who posted which: the chain cannot tell which is true (the public audit can).
        groups: dict[bytes, list[str]] = {}
        for e in results:
            groups.setdefault(e.resultHash, []).append(_party(e))
        detail += "; " + "; ".join(f"{', '.join(who)} posted 0x{h.hex()[:16]}" for h, who in groups.items())
    report.add(RESULTS, honest and everyone and len(hashes) == 1 and final_ok, detail)


def _batches(rec: JobRecord, report: AuditReport) -> None:
    reservations = [e for e in rec.ledger if isinstance(e, TuplesReserved) and e.jobId == rec.job_id]
    problems = [p for res in reservations for p in _reservation_problems(rec, res)]
    used = {r.batchId for r in reservations}
    committed = [e for e in rec.ledger if isinstance(e, BatchCommitted) and e.batchId in used]
    services = sorted({e.service for e in committed
                       if replay(rec.registry, position(e)).has_role(Role.PREPROCESSOR, e.service)})
    made = len(committed) - sum(e.service in services for e in committed)
    source = (f"; {made} batches made by the members" if made else "") + (
        f"; dealt by the preprocessing service {', '.join(services)} (dealer mode, for development: it knows "
        "every tuple and the MAC key)" if services else "")
    report.add(BATCHES, not problems, "; ".join(problems) or f"{len(reservations)} reservations checked{source}")


def _reservation_problems(rec: JobRecord, res: TuplesReserved) -> list[str]:
    """What is wrong with one reservation's batch: its service, its attestations, its tuples' use."""
    tag = f"batch 0x{res.batchId.hex()[:12]}"
    of_batch = [e for e in rec.ledger if isinstance(e, BATCH_EVENTS) and e.batchId == res.batchId]
    committed = [e for e in of_batch if isinstance(e, BatchCommitted)]
    if len(committed) != 1:
        return [f"{tag} has {len(committed)} BatchCommitted events"]
    found = []
    service = committed[0].service
    then = replay(rec.registry, position(committed[0]))
    if not then.has_role(Role.PREPROCESSOR, service) and not then.is_active(service):
        found.append(f"{tag}: {_at(committed[0])} by {service}, neither a registered preprocessing service "
                     "nor an active member")
    attested = {e.member.lower() for e in of_batch
                if isinstance(e, SacrificeAttested) and position(e) < position(res)}
    missing = sorted(a for a in rec.participants if a.lower() not in attested)
    if missing:
        found.append(f"{tag} not attested by {missing} before {_at(res)}")
    found += [f"{tag} was rejected by {e.member}: {_at(e)}" for e in of_batch if isinstance(e, BatchRejected)]
    others = [e for e in of_batch if isinstance(e, TuplesReserved)]
    return found + _overlaps(tag, res, others, committed[0])


def _overlaps(tag: str, res: TuplesReserved, reservations: list[TuplesReserved],
              committed: BatchCommitted) -> list[str]:
    """Tuples of ``res`` outside the batch or reserved by any other reservation (consumed once)."""
    start, stop, rec_job = res.start, res.start + res.count, res.jobId
    found = []
    if stop > committed.count:
        found.append(f"{tag}: range [{start},{stop}) reserved at block {res.block_number} is beyond "
                     f"the batch's {committed.count} tuples")
    for other in reservations:
        if position(other) == position(res):
            continue
        low, high = max(start, other.start), min(stop, other.start + other.count)
        if low < high:
            found.append(f"{tag}: tuples [{low},{high}) reserved by job {rec_job} at block {res.block_number} "
                         f"are also reserved by job {other.jobId} at block {other.block_number}")
    return found


CHECKS: tuple[CheckFn, ...] = (_sources, _spec, _membership, _order, _deadlines, _results, _batches)
"""Every check, in report order; a check appends one or more ``Check`` lines."""
