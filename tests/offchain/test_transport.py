"""The in-memory transport: ordering, accounting, timeouts, disconnection, tampering."""

from __future__ import annotations

import asyncio

import pytest

from harness.faults import TamperingNetwork
from offchain.errors import ConfigError, PeerDisconnected, PeerTimeout
from offchain.net.memory import MemoryNetwork, MemoryTransport, run_parties


def test_messages_arrive_in_order_and_are_counted() -> None:
    async def sender(t: MemoryTransport) -> None:
        await t.send(1, b"one")
        await t.send(1, b"two!")
        assert await t.recv(1) == b"ack"
        await t.broadcast(b"x")

    async def receiver(t: MemoryTransport) -> list[bytes]:
        got = [await t.recv(0), await t.recv(0)]
        await t.send(0, b"ack")
        return got + [await t.recv(0)]

    async def bystander(t: MemoryTransport) -> bytes:
        return await t.recv(0)

    net = MemoryNetwork(3)
    results = asyncio.run(run_parties(net, [sender, receiver, bystander]))
    assert results[1:] == [[b"one", b"two!", b"x"], b"x"]
    stats = net.transport(0).stats
    assert (stats.rounds, stats.messages_sent, stats.bytes_sent, stats.bytes_received) == (
        2, 4, 9, 3)
    assert net.transport(1).stats.rounds == 1


def test_silence_times_out_and_closing_disconnects() -> None:
    async def waits(t: MemoryTransport) -> bytes:
        return await t.recv(1)

    async def quits(t: MemoryTransport) -> None:
        return None

    results = asyncio.run(run_parties(MemoryNetwork(2), [waits, quits]))
    assert isinstance(results[0], PeerDisconnected) and results[0].party == 1

    async def idle(t: MemoryTransport) -> None:
        await asyncio.sleep(0.2)

    results = asyncio.run(run_parties(MemoryNetwork(2, timeout=0.05), [waits, idle]))
    assert isinstance(results[0], PeerTimeout)


def test_tamper_hook_sees_and_replaces_messages() -> None:
    seen = []

    def tamper(frm: int, to: int, index: int, payload: bytes) -> bytes:
        seen.append((frm, to, index))
        return payload.upper() if index == 1 else payload

    async def talk(t: MemoryTransport) -> list[bytes]:
        await t.send(1 - t.party, b"a")
        await t.send(1 - t.party, b"b")
        return [await t.recv(1 - t.party), await t.recv(1 - t.party)]

    results = asyncio.run(run_parties(TamperingNetwork(2, tamper), [talk, talk]))
    assert results == [[b"a", b"B"], [b"a", b"B"]]
    assert sorted(seen) == [(0, 1, 0), (0, 1, 1), (1, 0, 0), (1, 0, 1)]


def test_no_channel_to_self() -> None:
    async def bad(t: MemoryTransport) -> None:
        await t.send(t.party, b"x")

    async def fine(t: MemoryTransport) -> None:
        return None

    results = asyncio.run(run_parties(MemoryNetwork(2), [bad, fine]))
    assert isinstance(results[0], ConfigError)
    with pytest.raises(ConfigError):
        MemoryNetwork(1).transport(0)
