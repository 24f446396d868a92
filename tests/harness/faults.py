"""Fault injection: a network that lets a test play a malicious sender, and a cut TLS connection."""

from __future__ import annotations

from collections.abc import Callable

from offchain.net.channel import TlsTransport
from offchain.net.memory import MemoryNetwork

#: Sees every message (sender, receiver, index of the message on that channel, payload)
#: and returns the payload to deliver instead.
Tamper = Callable[[int, int, int, bytes], bytes]


class TamperingNetwork(MemoryNetwork):
    """A MemoryNetwork whose messages pass through ``tamper`` before delivery."""

    def __init__(self, n_parties: int, tamper: Tamper, *, timeout: float = 60.0) -> None:
        super().__init__(n_parties, timeout=timeout)
        self.tamper = tamper
        self._sent: dict[tuple[int, int], int] = {}

    def deliver(self, frm: int, to: int, payload: bytes) -> None:
        index = self._sent.get((frm, to), 0)
        self._sent[(frm, to)] = index + 1
        super().deliver(frm, to, self.tamper(frm, to, index, payload))


def network(n_parties: int, tamper: Tamper | None = None, timeout: float = 60.0) -> MemoryNetwork:
    """A plain MemoryNetwork, or a TamperingNetwork when ``tamper`` is given."""
    if tamper is None:
        return MemoryNetwork(n_parties, timeout=timeout)
    return TamperingNetwork(n_parties, tamper, timeout=timeout)


def kill_connection(transport: TlsTransport, peer: int) -> None:
    """Aborts the current connection to ``peer`` as a network failure would (the channel resumes)."""
    conn = transport._links[peer].conn
    if conn is not None:
        conn.abort()
