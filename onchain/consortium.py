"""Consortium workflows over the registry: bootstrap, join, approve by quorum."""

from __future__ import annotations

import secrets

from eth_account import Account
from eth_account.signers.local import LocalAccount

from onchain.chain import LOCAL_CHAIN_IDS, Chain
from onchain.contract import Receipt
from onchain.deploy import Deployment, deploy
from onchain.errors import ConfigError
from onchain.orgs import Org, PublicEntry
from onchain.registry import MemberKeys, MemberStatus, Role

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


def placeholder_consortium(chain: Chain, n: int, preprocessor: str | None = None, quorum: int = 2,
                           wei: int = TEST_FUNDING_WEI) -> tuple[Deployment, list[LocalAccount]]:
    """A fresh deployment on a local test chain with ``n`` new funded member accounts, bootstrapped and sealed.

    The members' registered keys are random placeholders (no organisation folder,
    no TLS or HPKE key behind them): for contract benchmarks and tests only.
    """
    if chain.chain_id not in LOCAL_CHAIN_IDS:
        raise ConfigError(f"chain {chain.chain_id} is not a local test chain")
    operator = chain.test_account(0)
    members = [Account.create() for _ in range(n)]
    for m in members:
        chain.fund(operator, m.address, wei)
    dep = deploy(chain, operator, quorum=quorum)
    for i, m in enumerate(members):
        keys = MemberKeys(f"org{i}", f"10.0.0.{i + 1}:9443", secrets.token_bytes(32), secrets.token_bytes(1216))
        dep.registry.bootstrap_member(operator, m.address, keys)
    if preprocessor is not None:
        dep.registry.bootstrap_role(operator, Role.PREPROCESSOR, preprocessor)
    dep.registry.seal_bootstrap(operator)
    return dep, members


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


def admit(dep: Deployment, applicant: Org, approvers: list[Org]) -> list[Receipt]:
    """Request to join and collect approvals until admitted (demo and tests)."""
    receipts = [request_join(dep, applicant)]
    for approver in approvers:
        if dep.registry.status(applicant.account.address) is MemberStatus.ACTIVE:
            break
        receipts.append(dep.registry.approve_join(approver.account, applicant.account.address))
    return receipts
