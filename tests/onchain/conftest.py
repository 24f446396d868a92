"""Fixtures for the Python side of the chain: in-process chain, organisations, Hardhat node."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

from onchain import orgs
from onchain.chain import Chain
from onchain.consortium import bootstrap_members, fund_from_test_account
from onchain.deploy import Deployment, deploy
from onchain_testkit import ORG_SPECS, PASSPHRASE, ROOT, free_port



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
    return Chain.in_memory()


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


def _rpc_ready(url: str) -> bool:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}).encode()
    request = urllib.request.Request(url, body, {"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=1) as response:
            return b"result" in response.read()
    except OSError:
        return False


@pytest.fixture(scope="session")
def hardhat_node() -> Iterator[str]:
    """`npx hardhat node` on a free loopback port for the session; yields its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(ROOT / "cache" / "hardhat-node.log" if (ROOT / "cache").is_dir() else os.devnull, "w")
    process = subprocess.Popen(
        ["npx", "--no-install", "hardhat", "node", "--hostname", "127.0.0.1", "--port", str(port)],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not _rpc_ready(url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"npx hardhat node did not start on port {port}")
            time.sleep(0.3)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
        log.close()
