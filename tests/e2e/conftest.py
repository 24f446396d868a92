"""Fixtures of the end-to-end tests: `npx hardhat node` and a consortium of separate processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

pytest.register_assert_rewrite("e2e_testkit")

from e2e_testkit import ROOT, Cluster, free_port, wait_until  # noqa: E402


def _rpc_ready(url: str) -> bool:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}).encode()
    request = urllib.request.Request(url, body, {"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=1) as response:
            return b"result" in response.read()
    except OSError:
        return False


@pytest.fixture(scope="module")
def e2e_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh `npx hardhat node` on a free loopback port for each test module; yields its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path_factory.mktemp("hardhat") / "node.log").open("w")
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


@pytest.fixture(scope="module")
def cluster(e2e_node: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Three organisations formed through the CLI; the service and three peers running and stocked."""
    made = Cluster(tmp_path_factory.mktemp("cluster"), e2e_node)
    try:
        made.form()
        made.start_service()
        for i in range(3):
            made.start_peer(i)
        wait_until("every peer to hold checked input masks", made.stocked, timeout=90)
        yield made
    finally:
        made.stop_all()
        for name in ("service", "peer-a", "peer-b", "peer-c"):
            text = made.log_text(name)
            if text:
                print(f"----- {name}.log (last lines) -----\n" + "\n".join(text.splitlines()[-40:]))
