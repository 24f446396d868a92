"""A job's history as chain data, and the registry as it stood at any point of it.

Every state change of OrgRegistry emits an event carrying what changed, so
replaying the logs up to a point gives each member's status and keys and each
role's holders there, without trusting any view function. ``load_history``
reads, for one job, the events an audit needs (each with the address that
emitted it) and the times of the job's blocks; ``mpcc.audit.record`` checks that
data and reads nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from onchain.deploy import Deployment
from onchain.events import EventBase
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

    def apply(self, event: EventBase) -> None:
        """Apply one OrgRegistry event (events that change nothing are ignored)."""
        _apply(self, event)


def replay(events: Iterable[EventBase], before: Position) -> RegistrySnapshot:
    """The registry after the OrgRegistry ``events`` that precede ``before``, applied in chain order."""
    snapshot = RegistrySnapshot(before[0])
    for event in sorted(events, key=position):
        if position(event) >= before:
            break
        snapshot.apply(event)
    return snapshot


def registry_at(registry: OrgRegistry, block: int, from_block: int = 0) -> RegistrySnapshot:
    """Replay ``registry``'s events from ``from_block`` through ``block``."""
    snapshot = replay(registry.events(from_block, block), (block + 1, 0))
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
    job: tuple[EventBase, ...]
    ledger: tuple[EventBase, ...]
    registry: tuple[EventBase, ...]
    block_times: Mapping[int, int]


def load_history(dep: Deployment, job_id: int) -> JobHistory:
    """Read ``job_id``'s history from the manifest's contracts, from the deploy block on.

    Raises ``LookupError`` when the job has no JobProposed event.
    """
    start = dep.manifest.deploy_block
    job = tuple(e for e in dep.jobs.events(start) if getattr(e, "jobId", None) == job_id)
    if not any(e.event_name == "JobProposed" for e in job):
        raise LookupError(f"job {job_id} has no JobProposed event on chain {dep.chain.chain_id}")
    ledger = dep.ledger.events(start)
    batches = {bytes(e.batchId) for e in ledger  # type: ignore[attr-defined]
               if e.event_name == "TuplesReserved" and e.jobId == job_id}  # type: ignore[attr-defined]
    times = {b: int(dep.chain.w3.eth.get_block(b)["timestamp"]) for b in {e.block_number for e in job}}
    return JobHistory(
        job_id=job_id,
        sources={name: dep.manifest.address(name) for name in CONTRACT_NAMES},
        job=job,
        ledger=tuple(e for e in ledger if bytes(getattr(e, "batchId", b"")) in batches),
        registry=tuple(dep.registry.events(start)),
        block_times=times,
    )


def _apply(snap: RegistrySnapshot, e: EventBase) -> None:
    name, args = e.event_name, e.args()
    if name in ("MemberBootstrapped", "JoinRequested"):
        status = MemberStatus.ACTIVE if name == "MemberBootstrapped" else MemberStatus.PENDING
        snap.members[args["account"]] = Member(args["name"], args["account"], args["endpoint"],
                                               bytes(args["tlsFingerprint"]), bytes(args["hpkePublicKey"]),
                                               status, 0)
    elif name in _STATUS_AFTER:
        account = args["account"]
        if _STATUS_AFTER[name] is MemberStatus.NONE:
            snap.members.pop(account, None)
        else:
            snap.members[account] = replace(snap.members[account], status=_STATUS_AFTER[name])
    elif name == "MemberKeysRotated":
        snap.members[args["account"]] = replace(
            snap.members[args["account"]], endpoint=args["endpoint"],
            tls_fingerprint=bytes(args["tlsFingerprint"]), hpke_public_key=bytes(args["hpkePublicKey"]))
    elif name == "RoleGranted":
        snap.roles[Role(args["role"])].add(args["account"])
    elif name == "RoleRevoked":
        snap.roles[Role(args["role"])].discard(args["account"])
    elif name == "BootstrapSealedForGood":
        snap.sealed = True


_STATUS_AFTER = {
    "MemberAdmitted": MemberStatus.ACTIVE,
    "MemberSuspended": MemberStatus.SUSPENDED,
    "MemberReinstated": MemberStatus.ACTIVE,
    "JoinWithdrawn": MemberStatus.NONE,
}
