"""OrgRegistry: bootstrap, joins, quorum arithmetic, suspension, keys, roles, views, log replay."""

from __future__ import annotations

import pytest

from contract_testkit import (
    QUORUM,
    ZERO32,
    ZERO_ADDRESS,
    BallotKind,
    Chain,
    MemberStatus,
    Role,
    assert_reverts,
    h,
    hpke_key,
    member_fields,
)


def join(chain: Chain, account: str, seed: int = 9):
    return chain.tx(chain.registry.functions.requestJoin(*member_fields(seed)), account)


def admit(chain: Chain, account: str, voters: list[str], seed: int = 9) -> None:
    """Apply with ``account`` and approve it with each of ``voters``."""
    join(chain, account, seed)
    for voter in voters:
        chain.tx(chain.registry.functions.approveJoin(account), voter)


def bootstrap(chain: Chain, count: int) -> list[str]:
    """Bootstrap ``count`` members on the (fresh, unsealed) registry; return their accounts."""
    accounts = chain.accounts[1 : 1 + count]
    for i, account in enumerate(accounts, start=1):
        chain.tx(chain.registry.functions.bootstrapMember(account, *member_fields(i)), chain.deployer)
    return accounts


# ------------------------------------------------------------------ deployment

def test_constructor_rejects_zero_quorum(chain: Chain) -> None:
    art_args = (0,)
    from onchain.artifacts import load

    art = load("OrgRegistry")
    factory = chain.w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
    assert_reverts(lambda: factory.constructor(*art_args).transact({"from": chain.deployer}), "InvalidQuorum", 0)


def test_deployment_records_bootstrapper_and_quorum(fresh: Chain) -> None:
    reg = fresh.registry
    assert reg.functions.quorum().call() == QUORUM
    assert reg.functions.bootstrapper().call() == fresh.deployer
    assert reg.functions.bootstrapSealed().call() is False
    assert reg.functions.memberCount().call() == 0
    assert reg.functions.activeMemberCount().call() == 0
    assert reg.functions.requiredApprovals().call() == 1
    logs = reg.events.RegistryDeployed().get_logs(from_block=0)
    assert [dict(log.args) for log in logs] == [{"bootstrapper": fresh.deployer, "quorum": QUORUM}]


# ------------------------------------------------------------------- bootstrap

def test_bootstrap_member_becomes_active(fresh: Chain) -> None:
    reg, account = fresh.registry, fresh.accounts[1]
    fields = member_fields(1)
    receipt = fresh.tx(reg.functions.bootstrapMember(account, *fields), fresh.deployer)
    assert fresh.event(receipt, reg, "MemberBootstrapped") == {
        "account": account, "name": fields[0], "endpoint": fields[1],
        "tlsFingerprint": fields[2], "hpkePublicKey": fields[3],
    }
    since = fresh.w3.eth.get_block(receipt.blockNumber)["timestamp"]
    assert tuple(reg.functions.getMember(account).call()) == (
        fields[0], account, fields[1], fields[2], fields[3], MemberStatus.ACTIVE, since)
    assert reg.functions.isActiveMember(account).call() is True
    assert reg.functions.memberStatus(account).call() == MemberStatus.ACTIVE
    assert reg.functions.activeMemberCount().call() == 1
    assert reg.functions.memberCount().call() == 1
    assert reg.functions.memberAt(0).call() == account


def test_bootstrap_member_only_by_bootstrapper(fresh: Chain) -> None:
    intruder = fresh.accounts[1]
    assert_reverts(lambda: fresh.registry.functions.bootstrapMember(intruder, *member_fields(1))
                   .transact({"from": intruder}), "NotBootstrapper", intruder)


def test_bootstrap_member_rejects_zero_address_and_duplicates(fresh: Chain) -> None:
    reg = fresh.registry
    assert_reverts(lambda: reg.functions.bootstrapMember(ZERO_ADDRESS, *member_fields(1))
                   .transact({"from": fresh.deployer}), "ZeroAddress")
    [account] = bootstrap(fresh, 1)
    assert_reverts(lambda: reg.functions.bootstrapMember(account, *member_fields(2))
                   .transact({"from": fresh.deployer}), "AlreadyRegistered", account, MemberStatus.ACTIVE)


def test_bootstrap_member_validates_fields(fresh: Chain) -> None:
    reg, account, d = fresh.registry, fresh.accounts[1], fresh.deployer
    name, endpoint, fp, key = member_fields(1)
    assert_reverts(lambda: reg.functions.bootstrapMember(account, "", endpoint, fp, key).transact({"from": d}),
                   "InvalidName")
    assert_reverts(lambda: reg.functions.bootstrapMember(account, name, "", fp, key).transact({"from": d}),
                   "InvalidEndpoint")
    assert_reverts(lambda: reg.functions.bootstrapMember(account, name, endpoint, ZERO32, key).transact({"from": d}),
                   "InvalidFingerprint")
    assert_reverts(lambda: reg.functions.bootstrapMember(account, name, endpoint, fp, key[:-1]).transact({"from": d}),
                   "InvalidHpkeKey", 1215)


def test_bootstrap_role_grants_directly(fresh: Chain) -> None:
    reg, account = fresh.registry, fresh.accounts[7]
    receipt = fresh.tx(reg.functions.bootstrapRole(Role.AUDITOR, account), fresh.deployer)
    assert fresh.event(receipt, reg, "RoleGranted") == {"role": Role.AUDITOR, "account": account}
    assert reg.functions.hasRole(Role.AUDITOR, account).call() is True
    assert reg.functions.hasRole(Role.PREPROCESSOR, account).call() is False
    assert_reverts(lambda: reg.functions.bootstrapRole(Role.AUDITOR, account).transact({"from": fresh.deployer}),
                   "RoleAlreadyGranted", Role.AUDITOR, account)
    assert_reverts(lambda: reg.functions.bootstrapRole(Role.AUDITOR, ZERO_ADDRESS).transact({"from": fresh.deployer}),
                   "ZeroAddress")
    assert_reverts(lambda: reg.functions.bootstrapRole(Role.AUDITOR, account).transact({"from": account}),
                   "NotBootstrapper", account)


def test_seal_bootstrap_needs_a_member_and_the_bootstrapper(fresh: Chain) -> None:
    reg = fresh.registry
    assert_reverts(lambda: reg.functions.sealBootstrap().transact({"from": fresh.deployer}), "NoMembers")
    [member] = bootstrap(fresh, 1)
    assert_reverts(lambda: reg.functions.sealBootstrap().transact({"from": member}), "NotBootstrapper", member)
    receipt = fresh.tx(reg.functions.sealBootstrap(), fresh.deployer)
    assert fresh.event(receipt, reg, "BootstrapSealedForGood") == {"bootstrapper": fresh.deployer}
    assert reg.functions.bootstrapSealed().call() is True


def test_sealing_is_irreversible(chain: Chain) -> None:
    reg, d = chain.registry, chain.deployer
    assert_reverts(lambda: reg.functions.sealBootstrap().transact({"from": d}), "BootstrapSealed")
    assert_reverts(lambda: reg.functions.bootstrapMember(chain.outsiders[0], *member_fields(5)).transact({"from": d}),
                   "BootstrapSealed")
    assert_reverts(lambda: reg.functions.bootstrapRole(Role.AUDITOR, chain.outsiders[0]).transact({"from": d}),
                   "BootstrapSealed")


# ----------------------------------------------------------------------- joins

def test_request_join_records_a_pending_applicant(chain: Chain) -> None:
    reg, applicant = chain.registry, chain.outsiders[0]
    fields = member_fields(9)
    receipt = join(chain, applicant)
    assert chain.event(receipt, reg, "JoinRequested") == {
        "account": applicant, "name": fields[0], "endpoint": fields[1],
        "tlsFingerprint": fields[2], "hpkePublicKey": fields[3],
    }
    member = reg.functions.getMember(applicant).call()
    assert member[5] == MemberStatus.PENDING
    assert reg.functions.isActiveMember(applicant).call() is False
    assert reg.functions.memberCount().call() == 4
    assert reg.functions.memberAt(3).call() == applicant
    assert reg.functions.activeMemberCount().call() == 3
    assert reg.functions.approvalsOf(applicant).call() == 0


def test_request_join_refuses_registered_accounts(chain: Chain) -> None:
    reg, applicant, member = chain.registry, chain.outsiders[0], chain.members[0]
    join(chain, applicant)
    assert_reverts(lambda: reg.functions.requestJoin(*member_fields(9)).transact({"from": applicant}),
                   "AlreadyRegistered", applicant, MemberStatus.PENDING)
    assert_reverts(lambda: reg.functions.requestJoin(*member_fields(1)).transact({"from": member}),
                   "AlreadyRegistered", member, MemberStatus.ACTIVE)
    suspended = chain.members[2]
    for voter in chain.members[:2]:
        chain.tx(reg.functions.voteSuspend(suspended), voter)
    assert_reverts(lambda: reg.functions.requestJoin(*member_fields(3)).transact({"from": suspended}),
                   "AlreadyRegistered", suspended, MemberStatus.SUSPENDED)


@pytest.mark.parametrize(
    ("field", "value", "error", "args"),
    [
        ("name", "", "InvalidName", ()),
        ("name", "n" * 65, "InvalidName", ()),
        ("endpoint", "", "InvalidEndpoint", ()),
        ("endpoint", "e" * 257, "InvalidEndpoint", ()),
        ("fingerprint", ZERO32, "InvalidFingerprint", ()),
        ("key", b"", "InvalidHpkeKey", (0,)),
        ("key", hpke_key()[:-1], "InvalidHpkeKey", (1215,)),
        ("key", hpke_key() + b"\x00", "InvalidHpkeKey", (1217,)),
    ],
)
def test_request_join_validates_fields(chain: Chain, field: str, value, error: str, args: tuple) -> None:
    fields = dict(zip(("name", "endpoint", "fingerprint", "key"), member_fields(9)))
    fields[field] = value
    assert_reverts(lambda: chain.registry.functions.requestJoin(*fields.values())
                   .transact({"from": chain.outsiders[0]}), error, *args)


def test_request_join_accepts_fields_at_their_limits(chain: Chain) -> None:
    reg, applicant = chain.registry, chain.outsiders[0]
    chain.tx(reg.functions.requestJoin("n" * 64, "e" * 256, h("fp"), hpke_key(3)), applicant)
    member = reg.functions.getMember(applicant).call()
    assert (member[0], member[2], member[5]) == ("n" * 64, "e" * 256, MemberStatus.PENDING)


def test_withdraw_join(chain: Chain) -> None:
    reg, applicant = chain.registry, chain.outsiders[0]
    assert_reverts(lambda: reg.functions.withdrawJoin().transact({"from": applicant}), "NotPending", applicant)
    join(chain, applicant)
    chain.tx(reg.functions.approveJoin(applicant), chain.members[0])
    receipt = chain.tx(reg.functions.withdrawJoin(), applicant)
    assert chain.event(receipt, reg, "JoinWithdrawn") == {"account": applicant}
    assert reg.functions.memberStatus(applicant).call() == MemberStatus.NONE
    assert reg.functions.approvalsOf(applicant).call() == 0
    # Re-applying starts a fresh ballot; the account is listed once.
    join(chain, applicant, seed=10)
    assert reg.functions.memberCount().call() == 4
    assert reg.functions.getMember(applicant).call()[0] == "org10"
    receipt = chain.tx(reg.functions.approveJoin(applicant), chain.members[0])
    assert chain.event(receipt, reg, "JoinApproved")["approvals"] == 1


def test_approve_join_admits_at_quorum(chain: Chain) -> None:
    reg, applicant = chain.registry, chain.outsiders[0]
    m1, m2, _ = chain.members
    join(chain, applicant)
    receipt = chain.tx(reg.functions.approveJoin(applicant), m1)
    assert chain.event(receipt, reg, "JoinApproved") == {
        "applicant": applicant, "approver": m1, "approvals": 1, "required": 2}
    assert chain.events(receipt, reg, "MemberAdmitted") == []
    assert reg.functions.approvalsOf(applicant).call() == 1
    assert reg.functions.hasVoted(BallotKind.JOIN, 0, applicant, m1).call() is True
    assert_reverts(lambda: reg.functions.approveJoin(applicant).transact({"from": m1}),
                   "AlreadyVoted", m1, BallotKind.JOIN, applicant)

    receipt = chain.tx(reg.functions.approveJoin(applicant), m2)
    assert chain.event_names(receipt) == ["JoinApproved", "MemberAdmitted"]
    assert chain.event(receipt, reg, "JoinApproved") == {
        "applicant": applicant, "approver": m2, "approvals": 2, "required": 2}
    assert chain.event(receipt, reg, "MemberAdmitted") == {"account": applicant}
    assert reg.functions.memberStatus(applicant).call() == MemberStatus.ACTIVE
    assert reg.functions.activeMemberCount().call() == 4
    assert reg.functions.approvalsOf(applicant).call() == 0
    since = chain.w3.eth.get_block(receipt.blockNumber)["timestamp"]
    assert reg.functions.getMember(applicant).call()[6] == since


def test_approve_join_checks_voter_and_applicant(chain: Chain) -> None:
    reg, applicant, other = chain.registry, chain.outsiders[0], chain.outsiders[1]
    join(chain, applicant)
    assert_reverts(lambda: reg.functions.approveJoin(applicant).transact({"from": other}), "NotActiveMember", other)
    assert_reverts(lambda: reg.functions.approveJoin(applicant).transact({"from": applicant}),
                   "NotActiveMember", applicant)
    assert_reverts(lambda: reg.functions.approveJoin(other).transact({"from": chain.members[0]}), "NotPending", other)
    assert_reverts(lambda: reg.functions.approveJoin(chain.members[1]).transact({"from": chain.members[0]}),
                   "NotPending", chain.members[1])


# ----------------------------------------------------------- quorum arithmetic

@pytest.mark.parametrize(("quorum", "active", "required", "suspension"), [
    (2, 0, 1, 1),
    (2, 1, 1, 1),
    (2, 2, 2, 1),
    (2, 3, 2, 2),
    (5, 3, 3, 2),
    (1, 3, 1, 1),
])
def test_required_approvals(chain: Chain, quorum: int, active: int, required: int, suspension: int) -> None:
    chain.registry = chain.deploy("OrgRegistry", quorum)
    bootstrap(chain, active)
    assert chain.registry.functions.requiredApprovals().call() == required
    assert chain.registry.functions.requiredSuspensionVotes().call() == suspension


@pytest.mark.parametrize(("active", "votes_needed"), [(1, 1), (2, 2), (3, 2)])
def test_join_with_quorum_two(fresh: Chain, active: int, votes_needed: int) -> None:
    voters = bootstrap(fresh, active)
    applicant = fresh.outsiders[0]
    join(fresh, applicant)
    for i, voter in enumerate(voters[:votes_needed], start=1):
        receipt = fresh.tx(fresh.registry.functions.approveJoin(applicant), voter)
        assert fresh.event(receipt, fresh.registry, "JoinApproved")["required"] == votes_needed
        admitted = fresh.events(receipt, fresh.registry, "MemberAdmitted")
        assert admitted == ([{"account": applicant}] if i == votes_needed else [])
    assert fresh.registry.functions.memberStatus(applicant).call() == MemberStatus.ACTIVE


def test_quorum_larger_than_membership_needs_every_member(chain: Chain) -> None:
    chain.registry = chain.deploy("OrgRegistry", 5)
    voters = bootstrap(chain, 3)
    applicant = chain.outsiders[0]
    join(chain, applicant)
    chain.tx(chain.registry.functions.approveJoin(applicant), voters[0])
    chain.tx(chain.registry.functions.approveJoin(applicant), voters[1])
    assert chain.registry.functions.memberStatus(applicant).call() == MemberStatus.PENDING
    receipt = chain.tx(chain.registry.functions.approveJoin(applicant), voters[2])
    assert chain.event(receipt, chain.registry, "JoinApproved")["required"] == 3
    assert chain.registry.functions.memberStatus(applicant).call() == MemberStatus.ACTIVE
    # With four members, a quorum of 5 now needs 4 votes.
    assert chain.registry.functions.requiredApprovals().call() == 4


def test_vote_of_a_member_suspended_later_still_counts(chain: Chain) -> None:
    reg, applicant = chain.registry, chain.outsiders[0]
    m1, m2, m3 = chain.members
    join(chain, applicant)
    chain.tx(reg.functions.approveJoin(applicant), m1)
    chain.tx(reg.functions.voteSuspend(m1), m2)
    chain.tx(reg.functions.voteSuspend(m1), m3)
    assert reg.functions.activeMemberCount().call() == 2
    receipt = chain.tx(reg.functions.approveJoin(applicant), m2)
    assert chain.event(receipt, reg, "JoinApproved") == {
        "applicant": applicant, "approver": m2, "approvals": 2, "required": 2}
    assert chain.event(receipt, reg, "MemberAdmitted") == {"account": applicant}


# ------------------------------------------------------------------ key rotation

def test_rotate_keys(chain: Chain) -> None:
    reg, member = chain.registry, chain.members[0]
    endpoint, fp, key = "https://new.example:9443", h("new-tls"), hpke_key(77)
    receipt = chain.tx(reg.functions.rotateKeys(endpoint, fp, key), member)
    assert chain.event(receipt, reg, "MemberKeysRotated") == {
        "account": member, "endpoint": endpoint, "tlsFingerprint": fp, "hpkePublicKey": key}
    record = reg.functions.getMember(member).call()
    assert (record[0], record[2], record[3], record[4], record[5]) == (
        "org1", endpoint, fp, key, MemberStatus.ACTIVE)


def test_rotate_keys_only_by_active_members_with_valid_keys(chain: Chain) -> None:
    reg, member, outsider = chain.registry, chain.members[0], chain.outsiders[0]
    _, endpoint, fp, key = member_fields(1)
    assert_reverts(lambda: reg.functions.rotateKeys(endpoint, fp, key).transact({"from": outsider}),
                   "NotActiveMember", outsider)
    join(chain, outsider)
    assert_reverts(lambda: reg.functions.rotateKeys(endpoint, fp, key).transact({"from": outsider}),
                   "NotActiveMember", outsider)
    assert_reverts(lambda: reg.functions.rotateKeys("", fp, key).transact({"from": member}), "InvalidEndpoint")
    assert_reverts(lambda: reg.functions.rotateKeys(endpoint, ZERO32, key).transact({"from": member}),
                   "InvalidFingerprint")
    assert_reverts(lambda: reg.functions.rotateKeys(endpoint, fp, key[:32]).transact({"from": member}),
                   "InvalidHpkeKey", 32)


# ------------------------------------------------------ suspension, reinstatement

def test_suspension_at_quorum(chain: Chain) -> None:
    reg = chain.registry
    m1, m2, m3 = chain.members
    receipt = chain.tx(reg.functions.voteSuspend(m3), m1)
    assert chain.event(receipt, reg, "SuspensionVoted") == {"member": m3, "voter": m1, "votes": 1, "required": 2}
    assert reg.functions.votesOf(BallotKind.SUSPENSION, 0, m3).call() == 1
    assert_reverts(lambda: reg.functions.voteSuspend(m3).transact({"from": m1}),
                   "AlreadyVoted", m1, BallotKind.SUSPENSION, m3)
    receipt = chain.tx(reg.functions.voteSuspend(m3), m2)
    assert chain.event_names(receipt) == ["SuspensionVoted", "MemberSuspended"]
    assert chain.event(receipt, reg, "MemberSuspended") == {"account": m3}
    assert reg.functions.memberStatus(m3).call() == MemberStatus.SUSPENDED
    assert reg.functions.isActiveMember(m3).call() is False
    assert reg.functions.activeMemberCount().call() == 2
    since = chain.w3.eth.get_block(receipt.blockNumber)["timestamp"]
    assert reg.functions.getMember(m3).call()[6] == since


def test_suspension_checks(chain: Chain) -> None:
    reg, outsider = chain.registry, chain.outsiders[0]
    m1, m2, m3 = chain.members
    assert_reverts(lambda: reg.functions.voteSuspend(m1).transact({"from": outsider}), "NotActiveMember", outsider)
    assert_reverts(lambda: reg.functions.voteSuspend(m1).transact({"from": m1}), "CannotVoteOnSelf", m1)
    assert_reverts(lambda: reg.functions.voteSuspend(outsider).transact({"from": m1}),
                   "UnexpectedMemberStatus", outsider, MemberStatus.NONE, MemberStatus.ACTIVE)
    chain.tx(reg.functions.voteSuspend(m3), m1)
    chain.tx(reg.functions.voteSuspend(m3), m2)
    assert_reverts(lambda: reg.functions.voteSuspend(m3).transact({"from": m1}),
                   "UnexpectedMemberStatus", m3, MemberStatus.SUSPENDED, MemberStatus.ACTIVE)
    # A suspended member can no longer vote on anything.
    assert_reverts(lambda: reg.functions.voteSuspend(m1).transact({"from": m3}), "NotActiveMember", m3)
    join(chain, outsider)
    assert_reverts(lambda: reg.functions.approveJoin(outsider).transact({"from": m3}), "NotActiveMember", m3)
    assert_reverts(lambda: reg.functions.voteGrantRole(Role.AUDITOR, outsider).transact({"from": m3}),
                   "NotActiveMember", m3)


def test_two_member_consortium_can_suspend_the_other_member(chain: Chain) -> None:
    """The target is not in the electorate: with 2 active members one vote suspends."""
    reg = chain.registry
    m1, m2, m3 = chain.members
    chain.tx(reg.functions.voteSuspend(m3), m1)
    chain.tx(reg.functions.voteSuspend(m3), m2)
    receipt = chain.tx(reg.functions.voteSuspend(m2), m1)
    assert chain.event(receipt, reg, "SuspensionVoted") == {"member": m2, "voter": m1, "votes": 1, "required": 1}
    assert chain.event(receipt, reg, "MemberSuspended") == {"account": m2}


def test_reinstatement_at_quorum_starts_fresh_ballots(chain: Chain) -> None:
    reg = chain.registry
    m1, m2, m3 = chain.members
    assert_reverts(lambda: reg.functions.voteReinstate(m3).transact({"from": m1}),
                   "UnexpectedMemberStatus", m3, MemberStatus.ACTIVE, MemberStatus.SUSPENDED)
    chain.tx(reg.functions.voteSuspend(m3), m1)
    chain.tx(reg.functions.voteSuspend(m3), m2)
    assert_reverts(lambda: reg.functions.voteReinstate(m3).transact({"from": m3}), "NotActiveMember", m3)
    receipt = chain.tx(reg.functions.voteReinstate(m3), m1)
    assert chain.event(receipt, reg, "ReinstatementVoted") == {"member": m3, "voter": m1, "votes": 1, "required": 2}
    assert_reverts(lambda: reg.functions.voteReinstate(m3).transact({"from": m1}),
                   "AlreadyVoted", m1, BallotKind.REINSTATEMENT, m3)
    receipt = chain.tx(reg.functions.voteReinstate(m3), m2)
    assert chain.event_names(receipt) == ["ReinstatementVoted", "MemberReinstated"]
    assert chain.event(receipt, reg, "MemberReinstated") == {"account": m3}
    assert reg.functions.isActiveMember(m3).call() is True
    assert reg.functions.activeMemberCount().call() == 3
    # A new suspension request is a new ballot: earlier voters may vote again.
    receipt = chain.tx(reg.functions.voteSuspend(m3), m1)
    assert chain.event(receipt, reg, "SuspensionVoted")["votes"] == 1
    assert reg.functions.hasVoted(BallotKind.SUSPENSION, 0, m3, m2).call() is False


# ----------------------------------------------------------------------- roles

def test_grant_and_revoke_role_by_vote(chain: Chain) -> None:
    reg, auditor = chain.registry, chain.outsiders[1]
    m1, m2, _ = chain.members
    receipt = chain.tx(reg.functions.voteGrantRole(Role.AUDITOR, auditor), m1)
    assert chain.event(receipt, reg, "RoleVoted") == {
        "role": Role.AUDITOR, "account": auditor, "grant": True, "voter": m1, "votes": 1, "required": 2}
    assert reg.functions.hasRole(Role.AUDITOR, auditor).call() is False
    assert reg.functions.votesOf(BallotKind.ROLE_GRANT, Role.AUDITOR, auditor).call() == 1
    assert reg.functions.votesOf(BallotKind.ROLE_GRANT, Role.PREPROCESSOR, auditor).call() == 0
    assert_reverts(lambda: reg.functions.voteGrantRole(Role.AUDITOR, auditor).transact({"from": m1}),
                   "AlreadyVoted", m1, BallotKind.ROLE_GRANT, auditor)
    receipt = chain.tx(reg.functions.voteGrantRole(Role.AUDITOR, auditor), m2)
    assert chain.event_names(receipt) == ["RoleVoted", "RoleGranted"]
    assert chain.event(receipt, reg, "RoleGranted") == {"role": Role.AUDITOR, "account": auditor}
    assert reg.functions.hasRole(Role.AUDITOR, auditor).call() is True

    receipt = chain.tx(reg.functions.voteRevokeRole(Role.AUDITOR, auditor), m2)
    assert chain.event(receipt, reg, "RoleVoted") == {
        "role": Role.AUDITOR, "account": auditor, "grant": False, "voter": m2, "votes": 1, "required": 2}
    assert_reverts(lambda: reg.functions.voteRevokeRole(Role.AUDITOR, auditor).transact({"from": m2}),
                   "AlreadyVoted", m2, BallotKind.ROLE_REVOKE, auditor)
    receipt = chain.tx(reg.functions.voteRevokeRole(Role.AUDITOR, auditor), m1)
    assert chain.event(receipt, reg, "RoleRevoked") == {"role": Role.AUDITOR, "account": auditor}
    assert reg.functions.hasRole(Role.AUDITOR, auditor).call() is False
    # Granting again is a fresh ballot.
    receipt = chain.tx(reg.functions.voteGrantRole(Role.AUDITOR, auditor), m1)
    assert chain.event(receipt, reg, "RoleVoted")["votes"] == 1


def test_role_vote_checks(chain: Chain) -> None:
    reg, outsider, m1 = chain.registry, chain.outsiders[0], chain.members[0]
    assert_reverts(lambda: reg.functions.voteGrantRole(Role.AUDITOR, outsider).transact({"from": outsider}),
                   "NotActiveMember", outsider)
    assert_reverts(lambda: reg.functions.voteRevokeRole(Role.PREPROCESSOR, chain.service).transact({"from": outsider}),
                   "NotActiveMember", outsider)
    assert_reverts(lambda: reg.functions.voteGrantRole(Role.AUDITOR, ZERO_ADDRESS).transact({"from": m1}),
                   "ZeroAddress")
    assert_reverts(lambda: reg.functions.voteGrantRole(Role.PREPROCESSOR, chain.service).transact({"from": m1}),
                   "RoleAlreadyGranted", Role.PREPROCESSOR, chain.service)
    assert_reverts(lambda: reg.functions.voteRevokeRole(Role.AUDITOR, outsider).transact({"from": m1}),
                   "RoleNotGranted", Role.AUDITOR, outsider)


# ----------------------------------------------------------------------- views

def test_views_of_unknown_accounts(chain: Chain) -> None:
    reg, nobody = chain.registry, chain.outsiders[2]
    assert tuple(reg.functions.getMember(nobody).call()) == ("", ZERO_ADDRESS, "", ZERO32, b"", 0, 0)
    assert reg.functions.memberStatus(nobody).call() == MemberStatus.NONE
    assert reg.functions.isActiveMember(nobody).call() is False
    assert reg.functions.approvalsOf(nobody).call() == 0
    assert reg.functions.hasRole(Role.AUDITOR, nobody).call() is False
    assert reg.functions.memberAt(2).call() == chain.members[2]
    with pytest.raises(Exception):  # a view revert surfaces from .call() as well
        reg.functions.memberAt(3).call()
    assert_reverts(lambda: reg.functions.memberAt(3).call(), "IndexOutOfRange", 3, 3)


# ------------------------------------------------------------ rebuild from logs

def test_registry_can_be_rebuilt_from_its_logs(chain: Chain) -> None:
    """Replay every registry event and compare with the contract's views."""
    reg = chain.registry
    m1, m2, m3 = chain.members
    a, b = chain.outsiders[0], chain.outsiders[1]
    admit(chain, a, [m1, m2], seed=20)
    join(chain, b, seed=21)
    chain.tx(reg.functions.withdrawJoin(), b)
    chain.tx(reg.functions.rotateKeys("https://m1.example", h("m1-new"), hpke_key(42)), m1)
    chain.tx(reg.functions.voteSuspend(m3), m1)
    chain.tx(reg.functions.voteSuspend(m3), a)
    chain.tx(reg.functions.voteGrantRole(Role.AUDITOR, b), m1)
    chain.tx(reg.functions.voteGrantRole(Role.AUDITOR, b), m2)

    members: dict[str, dict] = {}
    roles: set[tuple[int, str]] = set()
    order: list[str] = []
    logs = []
    for name in ("MemberBootstrapped", "JoinRequested", "JoinWithdrawn", "MemberAdmitted", "MemberKeysRotated",
                 "MemberSuspended", "MemberReinstated", "RoleGranted", "RoleRevoked"):
        logs += [(log.blockNumber, log.logIndex, name, log.args)
                 for log in getattr(reg.events, name)().get_logs(from_block=0)]
    for _, _, name, args in sorted(logs, key=lambda item: (item[0], item[1])):
        if name in ("MemberBootstrapped", "JoinRequested"):
            if args.account not in members:
                order.append(args.account)
            members[args.account] = {
                "name": args.name, "endpoint": args.endpoint, "fp": args.tlsFingerprint,
                "key": args.hpkePublicKey,
                "status": MemberStatus.ACTIVE if name == "MemberBootstrapped" else MemberStatus.PENDING,
            }
        elif name == "JoinWithdrawn":
            members[args.account]["status"] = MemberStatus.NONE
        elif name in ("MemberAdmitted", "MemberReinstated"):
            members[args.account]["status"] = MemberStatus.ACTIVE
        elif name == "MemberSuspended":
            members[args.account]["status"] = MemberStatus.SUSPENDED
        elif name == "MemberKeysRotated":
            members[args.account].update(endpoint=args.endpoint, fp=args.tlsFingerprint, key=args.hpkePublicKey)
        elif name == "RoleGranted":
            roles.add((args.role, args.account))
        elif name == "RoleRevoked":
            roles.discard((args.role, args.account))

    assert order == [reg.functions.memberAt(i).call() for i in range(reg.functions.memberCount().call())]
    for account, rebuilt in members.items():
        record = reg.functions.getMember(account).call()
        assert (record[0], record[2], record[3], record[4], record[5]) == (
            rebuilt["name"], rebuilt["endpoint"], rebuilt["fp"], rebuilt["key"], rebuilt["status"])
    active = sum(1 for m in members.values() if m["status"] == MemberStatus.ACTIVE)
    assert active == reg.functions.activeMemberCount().call() == 3
    assert roles == {(Role.PREPROCESSOR, chain.service), (Role.AUDITOR, b)}
    for role, account in roles:
        assert reg.functions.hasRole(role, account).call() is True
