"""The registry as it stood at any block, rebuilt from its events alone.

Every state change of OrgRegistry emits an event carrying what changed, so
replaying the logs up to a block gives each member's status and keys and each
role's holders at that block, without trusting any view function. Auditors use
this to check that a job's participants were active members with the keys
they used.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from onchain.events import EventBase
from onchain.registry import Member, MemberStatus, OrgRegistry, Role


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


def registry_at(registry: OrgRegistry, block: int, from_block: int = 0) -> RegistrySnapshot:
    """Replay ``registry``'s events from ``from_block`` through ``block``."""
    snapshot = RegistrySnapshot(block)
    for event in registry.events(from_block, block):
        _apply(snapshot, event)
    return snapshot


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
