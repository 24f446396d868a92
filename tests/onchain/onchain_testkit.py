"""Helpers shared by the on-chain tests (imported by basename, like the other testkits)."""

from __future__ import annotations

import socket
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PASSPHRASE = b"test passphrase, not a secret"
ORG_SPECS = [("Org A", "127.0.0.1:9801"), ("Org B", "127.0.0.1:9802"),
             ("Org C", "127.0.0.1:9803"), ("Org D", "127.0.0.1:9804")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
