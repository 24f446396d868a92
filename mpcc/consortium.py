"""Consortium workflows over the registry: bootstrap, join, approve by quorum."""

from __future__ import annotations

from collections.abc import Sequence

from eth_account.signers.local import LocalAccount

from mpcc.orgs import Org, PublicEntry
from onchain.chain import LOCAL_CHAIN_IDS, Chain
from onchain.contract import Receipt
from onchain.deploy import Deployment
from onchain.errors import ConfigError
from onchain.registry import MemberStatus, Role

TEST_FUNDING_WEI = 10**18


def bootstrap_members(dep: Deployment, bootstrapper: LocalAccount, founders: list[PublicEntry],
                      preprocessor: str | None, seal: bool) -> list[Receipt]:
    """Add founding members (and the preprocessing service's role), then seal for good."""
    receipts = [dep.registry.bootstrap_member(bootstrapper, f.account, f.keys()) for f in founders]
    if preprocessor is not None:
        receipts.append(dep.registry.bootstrap_role(bootstrapper, Role.PREPROCESSOR, preprocessor))
    if seal:
        receipts.append(dep.registry.seal_bootstrap(bootstrapper))
    return receipts


def fund_from_test_account(chain: Chain, address: str, wei: int = TEST_FUNDING_WEI) -> None:
    """Give a new account gas money from a local test chain's well-known account."""
    if chain.chain_id not in LOCAL_CHAIN_IDS:
        raise ConfigError(f"chain {chain.chain_id} is not a local test chain; fund {address} yourself")
    chain.fund(chain.test_account(0), address, wei)


def request_join(dep: Deployment, org: Org) -> Receipt:
    """Ask to join; refused before any transaction if the account is already registered."""
    status = dep.registry.status(org.account.address)
    if status is not MemberStatus.NONE:
        raise ConfigError(f"{org.public.name} ({org.account.address}) is already registered "
                          f"with status {status.name.lower()}; nothing to do")
    if dep.chain.balance(org.account.address) == 0:
        raise ConfigError(f"account {org.account.address} has no ether to pay for gas; fund it "
                          "(on a local chain: --fund-from-test-account)")
    return dep.registry.request_join(org.account, org.public.keys())


def admit(dep: Deployment, applicant: Org, approvers: Sequence[Org]) -> list[Receipt]:
    """Request to join and collect approvals until admitted (demo and tests)."""
    receipts = [request_join(dep, applicant)]
    for approver in approvers:
        if dep.registry.status(applicant.account.address) is MemberStatus.ACTIVE:
            break
        receipts.append(dep.registry.approve_join(approver.account, applicant.account.address))
    return receipts
