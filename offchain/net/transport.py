"""The abstract, message-oriented, async transport between the n parties of a job.

Payloads are bytes; each ordered pair of parties is a FIFO channel. The same
protocol code runs over the in-memory transport (offchain.net.memory) and over
TLS sockets, so implementations provide only :meth:`Transport._send`,
:meth:`Transport._recv` and :meth:`Transport.close`; this base class counts
traffic.

A *round* is counted each time a party starts sending after it has received
(or at its first send): a maximal run of sends not interrupted by a receive.
For the symmetric exchanges of the engine this is the usual round count.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from offchain.errors import ConfigError


@dataclass(slots=True)
class TrafficStats:
    """Counters of one party's traffic (mutable: they grow as the party talks)."""

    rounds: int = 0
    messages_sent: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0


class Transport(ABC):
    """One party's end of the channels to every other party of a job."""

    def __init__(self, party: int, n_parties: int) -> None:
        if not 0 <= party < n_parties or n_parties < 2:
            raise ConfigError(f"party {party} of {n_parties}: need 0 <= party < n, n >= 2")
        self.party = party
        self.n_parties = n_parties
        self.stats = TrafficStats()
        self._sending = False

    @property
    def peers(self) -> list[int]:
        """Every party but this one, in increasing order."""
        return [j for j in range(self.n_parties) if j != self.party]

    async def send(self, to: int, payload: bytes) -> None:
        """Queues ``payload`` for party ``to``; messages to one party arrive in order."""
        self._check_peer(to)
        if not self._sending:
            self.stats.rounds += 1
            self._sending = True
        self.stats.messages_sent += 1
        self.stats.bytes_sent += len(payload)
        await self._send(to, payload)

    async def recv(self, frm: int) -> bytes:
        """The next message from party ``frm``; raises PeerTimeout or PeerDisconnected."""
        self._check_peer(frm)
        self._sending = False
        payload = await self._recv(frm)
        self.stats.bytes_received += len(payload)
        return payload

    async def broadcast(self, payload: bytes) -> None:
        """Sends the same payload to every other party (no consistency guarantee by itself)."""
        for to in self.peers:
            await self.send(to, payload)

    def is_open(self, peer: int) -> bool:
        """Whether the channel to ``peer`` may still carry traffic (a transport that cannot tell says it may)."""
        return True

    def _check_peer(self, other: int) -> None:
        if other == self.party or not 0 <= other < self.n_parties:
            raise ConfigError(f"party {self.party} has no channel to party {other}")

    @abstractmethod
    async def _send(self, to: int, payload: bytes) -> None: ...

    @abstractmethod
    async def _recv(self, frm: int) -> bytes: ...

    @abstractmethod
    async def close(self) -> None:
        """Closes every channel; peers waiting on this party get PeerDisconnected."""
