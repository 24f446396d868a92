"""Typed client of OrgRegistry: members, join requests, votes and roles.

Its enums, the ``Member`` struct, events and errors are generated from the
ABI (``onchain.abi.org_registry``).
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_account.signers.local import LocalAccount
from web3 import Web3

from onchain.abi import org_registry
from onchain.abi.org_registry import BallotKind, MemberStatus, Role
from onchain.contract import ContractClient, Receipt

__all__ = ["HPKE_PUBLIC_KEY_LEN", "BallotKind", "Member", "MemberKeys", "MemberStatus", "OrgRegistry", "Role"]

HPKE_PUBLIC_KEY_LEN = 1216  # ML-KEM-768 (1184 bytes) followed by X25519 (32 bytes)


class Member(org_registry.Member):
    """A registered organisation as the registry holds it."""

    @property
    def active(self) -> bool:
        return self.status is MemberStatus.ACTIVE


@dataclass(frozen=True)
class MemberKeys:
    """What an organisation publishes about itself: endpoint and public keys."""

    name: str
    endpoint: str
    tls_fingerprint: bytes
    hpke_public_key: bytes


class OrgRegistry(ContractClient, org_registry.Errors):
    NAME = org_registry.CONTRACT
    EVENTS = org_registry.EVENTS
    ERRORS = org_registry.ERRORS
    errors = org_registry.Errors

    # Reads --------------------------------------------------------------

    def member(self, account: str) -> Member:
        """The registry record of ``account`` (all zero if never registered)."""
        return self._read(Member, "getMember", Web3.to_checksum_address(account))

    def status(self, account: str) -> MemberStatus:
        return MemberStatus(self._call("memberStatus", Web3.to_checksum_address(account)))

    def is_active(self, account: str) -> bool:
        return bool(self._call("isActiveMember", Web3.to_checksum_address(account)))

    def members(self) -> list[Member]:
        """Everyone ever registered, in registration order."""
        count = int(self._call("memberCount"))
        return [self.member(self._call("memberAt", i)) for i in range(count)]

    def active_members(self) -> list[Member]:
        return [m for m in self.members() if m.active]

    def has_role(self, role: Role, account: str) -> bool:
        return bool(self._call("hasRole", int(role), Web3.to_checksum_address(account)))

    def quorum(self) -> int:
        return int(self._call("quorum"))

    def required_approvals(self) -> int:
        return int(self._call("requiredApprovals"))

    def approvals_of(self, applicant: str) -> int:
        return int(self._call("approvalsOf", Web3.to_checksum_address(applicant)))

    def bootstrap_sealed(self) -> bool:
        return bool(self._call("bootstrapSealed"))

    # Transactions ---------------------------------------------------------

    def bootstrap_member(self, sender: LocalAccount, account: str, keys: MemberKeys) -> Receipt:
        return self._send(sender, "bootstrapMember", Web3.to_checksum_address(account), keys.name,
                          keys.endpoint, keys.tls_fingerprint, keys.hpke_public_key)

    def bootstrap_role(self, sender: LocalAccount, role: Role, account: str) -> Receipt:
        return self._send(sender, "bootstrapRole", int(role), Web3.to_checksum_address(account))

    def seal_bootstrap(self, sender: LocalAccount) -> Receipt:
        return self._send(sender, "sealBootstrap")

    def request_join(self, sender: LocalAccount, keys: MemberKeys) -> Receipt:
        return self._send(sender, "requestJoin", keys.name, keys.endpoint, keys.tls_fingerprint,
                          keys.hpke_public_key)

    def withdraw_join(self, sender: LocalAccount) -> Receipt:
        return self._send(sender, "withdrawJoin")

    def approve_join(self, sender: LocalAccount, applicant: str) -> Receipt:
        return self._send(sender, "approveJoin", Web3.to_checksum_address(applicant))

    def rotate_keys(self, sender: LocalAccount, endpoint: str, tls_fingerprint: bytes,
                    hpke_public_key: bytes) -> Receipt:
        return self._send(sender, "rotateKeys", endpoint, tls_fingerprint, hpke_public_key)

    def vote_suspend(self, sender: LocalAccount, member: str) -> Receipt:
        return self._send(sender, "voteSuspend", Web3.to_checksum_address(member))

    def vote_reinstate(self, sender: LocalAccount, member: str) -> Receipt:
        return self._send(sender, "voteReinstate", Web3.to_checksum_address(member))

    def vote_grant_role(self, sender: LocalAccount, role: Role, account: str) -> Receipt:
        return self._send(sender, "voteGrantRole", int(role), Web3.to_checksum_address(account))

    def vote_revoke_role(self, sender: LocalAccount, role: Role, account: str) -> Receipt:
        return self._send(sender, "voteRevokeRole", int(role), Web3.to_checksum_address(account))
