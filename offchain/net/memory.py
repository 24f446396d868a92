"""An in-memory network: n parties as asyncio tasks of one process.

Every message is still a bytes object (copied on send), so measurements
include serialisation. Every message passes through
:meth:`MemoryNetwork.deliver`, one place where a test harness may play a
malicious sender.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from offchain.errors import PeerDisconnected, PeerTimeout
from offchain.net.transport import Transport

T = TypeVar("T")
_CLOSED = None


class MemoryNetwork:
    """Channels between ``n_parties`` parties; hand each party its :meth:`transport`."""

    def __init__(self, n_parties: int, *, timeout: float = 60.0) -> None:
        self.n_parties = n_parties
        self.timeout = timeout
        self._queues: dict[tuple[int, int], asyncio.Queue[bytes | None]] = {}
        self._transports = [MemoryTransport(self, i) for i in range(n_parties)]

    def transport(self, party: int) -> MemoryTransport:
        return self._transports[party]

    def queue(self, frm: int, to: int) -> asyncio.Queue[bytes | None]:
        # Created lazily so that they bind to the running event loop.
        return self._queues.setdefault((frm, to), asyncio.Queue())

    def deliver(self, frm: int, to: int, payload: bytes) -> None:
        """Queues ``payload`` from party ``frm`` for party ``to``."""
        self.queue(frm, to).put_nowait(payload)


class MemoryTransport(Transport):
    """One party's end of a :class:`MemoryNetwork`."""

    def __init__(self, network: MemoryNetwork, party: int) -> None:
        super().__init__(party, network.n_parties)
        self._net = network
        self._closed = False

    async def _send(self, to: int, payload: bytes) -> None:
        if not self._closed:
            self._net.deliver(self.party, to, bytes(payload))

    async def _recv(self, frm: int) -> bytes:
        queue = self._net.queue(frm, self.party)
        try:
            payload = await asyncio.wait_for(queue.get(), self._net.timeout)
        except TimeoutError:
            raise PeerTimeout(frm, self._net.timeout) from None
        if payload is _CLOSED:
            queue.put_nowait(_CLOSED)  # Later receives fail the same way.
            raise PeerDisconnected(frm)
        return payload

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            for to in self.peers:
                self._net.queue(self.party, to).put_nowait(_CLOSED)


async def run_parties(network: MemoryNetwork,
                      programs: Sequence[Callable[[MemoryTransport], Awaitable[T]]]
                      ) -> list[T | BaseException]:
    """Runs program i as party i; returns each result or the exception it raised.

    A party's channels close when its program ends, so a party that aborts
    makes its peers fail with PeerDisconnected instead of waiting forever.
    """
    async def one(i: int) -> T:
        transport = network.transport(i)
        try:
            return await programs[i](transport)
        finally:
            await transport.close()

    return await asyncio.gather(*(one(i) for i in range(len(programs))),
                                return_exceptions=True)
