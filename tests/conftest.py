"""Fixtures shared by every test folder: a real `npx hardhat node` on a free loopback port."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rpc_ready(url: str) -> bool:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}).encode()
    request = urllib.request.Request(url, body, {"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=1) as response:
            return b"result" in response.read()
    except OSError:
        return False


@contextmanager
def hardhat_node_at(log_path: Path) -> Iterator[str]:
    """Run `npx hardhat node` on a free port (log to ``log_path``) until the block ends; yields its URL."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            ["npx", "--no-install", "hardhat", "node", "--hostname", "127.0.0.1", "--port", str(port)],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 60
            while not _rpc_ready(url):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"npx hardhat node did not start on port {port}; see {log_path}")
                time.sleep(0.3)
            yield url
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=20)


@pytest.fixture(scope="session")
def hardhat_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One node for the session (tests that each deploy their own contracts)."""
    with hardhat_node_at(tmp_path_factory.mktemp("hardhat") / "node.log") as url:
        yield url


@pytest.fixture(scope="module")
def e2e_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh node for each test module (a whole consortium's history per module)."""
    with hardhat_node_at(tmp_path_factory.mktemp("hardhat") / "node.log") as url:
        yield url
