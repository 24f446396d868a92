"""Fixtures for the Python side of the chain: in-process chain and organisations (Hardhat: tests/conftest.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mpcc import orgs
from onchain.chain import Chain
from onchain.embedded import in_memory_chain
from mpcc.consortium import bootstrap_members, fund_from_test_account
from onchain.deploy import Deployment, deploy
from onchain_testkit import ORG_SPECS, PASSPHRASE



@pytest.fixture(scope="session")
def org_homes(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Four organisation folders, made once (scrypt keystores are slow by design)."""
    base = tmp_path_factory.mktemp("orgs")
    homes = []
    for i, (name, endpoint) in enumerate(ORG_SPECS):
        orgs.init(base / f"org{i}", name, endpoint, PASSPHRASE)
        homes.append(base / f"org{i}")
    return homes


@pytest.fixture(scope="session")
def loaded_orgs(org_homes: list[Path]) -> list[orgs.Org]:
    return [orgs.load(h, PASSPHRASE) for h in org_homes]


@pytest.fixture
def org_copies(org_homes: list[Path], tmp_path: Path) -> list[Path]:
    """Per-test copies of the organisation folders (tests may change them)."""
    return [Path(shutil.copytree(h, tmp_path / h.name)) for h in org_homes]


@pytest.fixture
def chain() -> Chain:
    return in_memory_chain()


@pytest.fixture
def deployment(chain: Chain, loaded_orgs: list[orgs.Org]) -> Deployment:
    """Contracts on a fresh chain, quorum 2; the organisations are funded, none a member yet."""
    for org in loaded_orgs:
        fund_from_test_account(chain, org.account.address)
    return deploy(chain, chain.test_account(0), quorum=2)


@pytest.fixture
def consortium(deployment: Deployment, loaded_orgs: list[orgs.Org]) -> Deployment:
    """Org A bootstrapped and sealed, test account 1 the preprocessing service."""
    operator = deployment.chain.test_account(0)
    bootstrap_members(deployment, operator, [loaded_orgs[0].public],
                      deployment.chain.test_account(1).address, seal=True)
    return deployment
