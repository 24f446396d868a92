"""Local chains for tests: `npx hardhat node` on a free loopback port, and its mining modes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rpc_ready(url: str) -> bool:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}).encode()
    request = urllib.request.Request(url, body, {"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=1) as response:
            return b"result" in response.read()
    except OSError:
        return False


def rpc_call(url: str, method: str, params: list[object]) -> object:
    """One JSON-RPC request to a node; AssertionError if it answers with an error."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    request = urllib.request.Request(url, body, {"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        answer = json.loads(response.read())
    assert "error" not in answer, answer
    return answer.get("result")


def mine_every(url: str, seconds: float) -> None:
    """Makes a Hardhat node mine a block every ``seconds`` instead of one per transaction."""
    rpc_call(url, "evm_setAutomine", [False])
    rpc_call(url, "evm_setIntervalMining", [int(seconds * 1000)])


@dataclass
class Node:
    """A running `npx hardhat node`: its URL and the process group to signal (SIGSTOP freezes it)."""

    url: str
    process: subprocess.Popen[bytes]

    def signal(self, sig: signal.Signals) -> None:
        os.killpg(self.process.pid, sig)


@contextmanager
def hardhat_node(log_path: Path) -> Iterator[Node]:
    """Run `npx hardhat node` on a free port (log to ``log_path``) until the block ends."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            ["npx", "--no-install", "hardhat", "node", "--hostname", "127.0.0.1", "--port", str(port)],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 60
            while not rpc_ready(url):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"npx hardhat node did not start on port {port}; see {log_path}")
                time.sleep(0.3)
            yield Node(url, process)
        finally:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGCONT)
                os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=20)


@contextmanager
def hardhat_node_at(log_path: Path) -> Iterator[str]:
    """Run `npx hardhat node` on a free port (log to ``log_path``) until the block ends; yields its URL."""
    with hardhat_node(log_path) as node:
        yield node.url
