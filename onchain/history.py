"""A job's history as chain data, and the registry as it stood at any point of it.

Every state change of OrgRegistry emits an event carrying what changed, so
replaying the logs up to a point gives each member's status and keys and each
role's holders there, without trusting any view function. ``load_history``
reads, for one job, the events an audit needs (each with the address that
emitted it) and the times of the job's blocks; ``mpcc.audit.record`` checks that
data and reads nothing else. It asks the node for that job's events only: the
JobManager events indexed by its ``jobId``, the ledger events indexed by the
``batchId`` of the batches it reserved, and the registry's events.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from onchain.abi import job_manager, org_registry
from onchain.abi.job_manager import JobManagerEvent, JobProposed
from onchain.abi.org_registry import (
    BootstrapSealedForGood,
    JoinRequested,
    JoinWithdrawn,
    MemberAdmitted,
    MemberBootstrapped,
    MemberKeysRotated,
    MemberReinstated,
    MemberSuspended,
    OrgRegistryEvent,
    RoleGranted,
    RoleRevoked,
)
from onchain.abi.preprocessing_ledger import (
    BatchCommitted,
    BatchRejected,
    PreprocessingLedgerEvent,
    SacrificeAttested,
    TuplesReserved,
)
from onchain.deploy import Deployment
from onchain.events import EventBase
from onchain.logcache import cache_of
from onchain.manifest import CONTRACT_NAMES
from onchain.registry import Member, MemberStatus, OrgRegistry, Role

Position = tuple[int, int]
"""Where an event stands in chain order: its block, then its log index in that block."""


def position(event: EventBase) -> Position:
    return (event.block_number, event.log_index)


@dataclass
class RegistrySnapshot:
    """Members and role holders after replaying the events up to ``block``."""

    block: int
    members: dict[str, Member] = field(default_factory=dict)
    roles: dict[Role, set[str]] = field(default_factory=lambda: {r: set() for r in Role})
    sealed: bool = False

    def is_active(self, account: str) -> bool:
        member = self.members.get(account)
        return member is not None and member.status is MemberStatus.ACTIVE

    def has_role(self, role: Role, account: str) -> bool:
        return account in self.roles[role]

    def apply(self, event: OrgRegistryEvent) -> None:
        """Apply one OrgRegistry event (events that change nothing are ignored)."""
        _apply(self, event)


def replay(events: Iterable[OrgRegistryEvent], before: Position) -> RegistrySnapshot:
    """The registry after the OrgRegistry ``events`` that precede ``before``, applied in chain order."""
    snapshot = RegistrySnapshot(before[0])
    for event in sorted(events, key=position):
        if position(event) >= before:
            break
        snapshot.apply(event)
    return snapshot


def registry_at(registry: OrgRegistry, block: int, from_block: int = 0) -> RegistrySnapshot:
    """Replay ``registry``'s events from ``from_block`` through ``block``."""
    snapshot = replay(registry.logs(*org_registry.EVENTS, from_block=from_block, to_block=block), (block + 1, 0))
    snapshot.block = block
    return snapshot


@dataclass(frozen=True)
class JobHistory:
    """One job's record as chain data: everything an audit reads, and nothing it must trust.

    ``sources`` maps each contract name to the address the manifest gives it;
    every event keeps the address that emitted it, so the audit can refuse
    look-alikes. ``job`` holds the job's JobManager events, ``ledger`` the
    PreprocessingLedger events of the batches it reserved (other jobs'
    reservations of them included), ``registry`` every OrgRegistry event, each
    in chain order; ``block_times`` the timestamp of every block with an event
    of the job.
    """

    job_id: int
    sources: Mapping[str, str]
    job: tuple[JobManagerEvent, ...]
    ledger: tuple[PreprocessingLedgerEvent, ...]
    registry: tuple[OrgRegistryEvent, ...]
    block_times: Mapping[int, int]


def load_history(dep: Deployment, job_id: int) -> JobHistory:
    """Read ``job_id``'s history from the manifest's contracts, from the deploy block on.

    Raises ``LookupError`` when the job has no JobProposed event.
    """
    start = dep.manifest.deploy_block
    job = tuple(dep.jobs.logs(*job_manager.EVENTS, from_block=start, jobId=job_id))
    if not any(isinstance(e, JobProposed) for e in job):
        raise LookupError(f"job {job_id} has no JobProposed event on chain {dep.chain.chain_id}")
    batches = sorted({e.batchId for e in dep.ledger.logs(TuplesReserved, from_block=start, jobId=job_id)})
    ledger: tuple[PreprocessingLedgerEvent, ...] = ()
    if batches:
        ledger = tuple(dep.ledger.logs(BatchCommitted, SacrificeAttested, BatchRejected, TuplesReserved,
                                       from_block=start, batchId=batches))
    times = cache_of(dep.chain).block_times(e.block_number for e in job)
    return JobHistory(
        job_id=job_id,
        sources={name: dep.manifest.address(name) for name in CONTRACT_NAMES},
        job=job,
        ledger=ledger,
        registry=tuple(dep.registry.logs(*org_registry.EVENTS, from_block=start)),
        block_times=times,
    )


def _apply(snap: RegistrySnapshot, e: OrgRegistryEvent) -> None:
    match e:
        case MemberBootstrapped() | JoinRequested():
            status = MemberStatus.ACTIVE if isinstance(e, MemberBootstrapped) else MemberStatus.PENDING
            snap.members[e.account] = Member(name=e.name, account=e.account, endpoint=e.endpoint,
                                             tls_fingerprint=e.tlsFingerprint, hpke_public_key=e.hpkePublicKey,
                                             status=status, since=0)
        case MemberAdmitted() | MemberReinstated():
            snap.members[e.account] = replace(snap.members[e.account], status=MemberStatus.ACTIVE)
        case MemberSuspended():
            snap.members[e.account] = replace(snap.members[e.account], status=MemberStatus.SUSPENDED)
        case JoinWithdrawn():
            snap.members.pop(e.account, None)
        case MemberKeysRotated():
            snap.members[e.account] = replace(snap.members[e.account], endpoint=e.endpoint,
                                              tls_fingerprint=e.tlsFingerprint, hpke_public_key=e.hpkePublicKey)
        case RoleGranted():
            snap.roles[e.role].add(e.account)
        case RoleRevoked():
            snap.roles[e.role].discard(e.account)
        case BootstrapSealedForGood():
            snap.sealed = True
