"""Fixtures of the contract tests; the helpers live in contract_testkit."""

from __future__ import annotations

from dataclasses import replace

import pytest

pytest.register_assert_rewrite("contract_testkit")

from eth_tester import EthereumTester, PyEVMBackend  # noqa: E402
from web3 import Web3  # noqa: E402

from contract_testkit import MAX_DURATION, MAX_TUPLES, QUORUM, Chain, RevertDataProvider, Role, member_fields  # noqa: E402


@pytest.fixture(scope="session")
def _session_chain() -> Chain:
    tester = EthereumTester(PyEVMBackend())
    w3 = Web3(RevertDataProvider(tester))
    accounts = list(w3.eth.accounts)
    deployer, members, service, outsiders = accounts[0], accounts[1:4], accounts[4], accounts[5:]
    chain = Chain(w3=w3, tester=tester, registry=None, ledger=None, jobs=None,  # type: ignore[arg-type]
                  deployer=deployer, members=members, outsiders=outsiders, service=service,
                  accounts=accounts)
    chain.registry = chain.deploy("OrgRegistry", QUORUM)
    chain.ledger = chain.deploy("PreprocessingLedger", chain.registry.address)
    chain.jobs = chain.deploy("JobManager", chain.registry.address, chain.ledger.address, MAX_DURATION, MAX_TUPLES)
    chain.tx(chain.ledger.functions.bindJobManager(chain.jobs.address), deployer)
    for i, member in enumerate(members, start=1):
        chain.tx(chain.registry.functions.bootstrapMember(member, *member_fields(i)), deployer)
    chain.tx(chain.registry.functions.bootstrapRole(Role.PREPROCESSOR, service), deployer)
    chain.tx(chain.registry.functions.sealBootstrap(), deployer)
    return chain


@pytest.fixture
def chain(_session_chain: Chain) -> Chain:
    """The deployed world (3 active members, a preprocessing service, sealed), reverted after the test.

    The test gets its own copy of the Chain object, so it may swap in its own
    contracts or accounts (``chain.registry = chain.deploy(...)``) without
    affecting other tests.
    """
    snapshot = _session_chain.tester.take_snapshot()
    yield replace(_session_chain, members=list(_session_chain.members),
                  outsiders=list(_session_chain.outsiders), accounts=list(_session_chain.accounts))
    _session_chain.tester.revert_to_snapshot(snapshot)


@pytest.fixture
def fresh(chain: Chain) -> Chain:
    """The same chain with a brand-new unsealed registry (quorum 2) and no members."""
    chain.registry = chain.deploy("OrgRegistry", QUORUM)
    return chain
