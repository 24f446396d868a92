"""Chain fixtures: a deployment with bare member accounts (contract tests and benchmarks)."""

from __future__ import annotations

import secrets

from eth_account import Account
from eth_account.signers.local import LocalAccount

from mpcc.consortium import TEST_FUNDING_WEI
from onchain.chain import LOCAL_CHAIN_IDS, Chain
from onchain.deploy import Deployment, deploy
from onchain.errors import ConfigError
from onchain.registry import MemberKeys, Role


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
