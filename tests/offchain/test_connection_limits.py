"""Listeners under a flood, and a member refused on the spot: real sockets on loopback.

The flooding client connects from 127.0.0.2 (another loopback address, as
another host would), the parties of the job from 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import ssl
from pathlib import Path

import pytest

from offchain.errors import ProtocolAbort
from offchain.net.limits import ConnectionLimits, start_server
from offchain.net.tls import (
    CERT_REFUSED, UNKNOWN_JOB, HandshakeRefused, Listener, TlsCredentials, connect_job, encode_preamble,
)
from tls_testkit import FAST, fp, job_channels, make_orgs, roster_of

ATTACKER = "127.0.0.2"


@pytest.fixture(scope="module")
def orgs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, TlsCredentials]:
    return make_orgs(tmp_path_factory.mktemp("orgs"), ["a", "b", "c"])


async def idle_sockets(port: int, n: int) -> list[socket.socket]:
    """``n`` connections from ATTACKER that never send a byte."""
    loop = asyncio.get_running_loop()
    made = []
    for _ in range(n):
        s = socket.socket()
        s.setblocking(False)
        s.bind((ATTACKER, 0))
        await asyncio.wait_for(loop.sock_connect(s, ("127.0.0.1", port)), 30)
        made.append(s)
    return made


async def closed_by_server(sockets: list[socket.socket], at_least: int, within: float) -> int:
    """How many of ``sockets`` the server closed, waiting (generously) until ``at_least`` are."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        closed = 0
        for s in sockets:
            try:
                closed += s.recv(1) == b""
            except BlockingIOError:
                pass
            except OSError:
                closed += 1
        if closed >= at_least or loop.time() > deadline:
            return closed
        await asyncio.sleep(0.2)


def test_a_flood_of_idle_connections_is_capped_and_a_legitimate_peer_gets_through(
        orgs: dict[str, TlsCredentials]) -> None:
    limits = ConnectionLimits(max_per_host=16, handshake_timeout=60.0)  # Long: the cap alone must act.

    async def go() -> None:
        started = [await Listener.start("127.0.0.1", 0, limits=limits) for _ in range(3)]
        flood = await idle_sockets(started[0].port, 200)
        try:
            # Every connection over the cap is closed at once, not held for the handshake timeout.
            assert await closed_by_server(flood, 200 - 16, within=30) == 200 - 16
            job = os.urandom(32)
            roster = roster_of(job, [orgs["a"], orgs["b"], orgs["c"]], [lst.port for lst in started])
            transports = await asyncio.gather(*(connect_job(c, roster, i, listener=started[i], settings=FAST)
                                                for i, c in enumerate([orgs["a"], orgs["b"], orgs["c"]])))
            await transports[2].send(0, b"through")
            assert await transports[0].recv(2) == b"through"
            await asyncio.gather(*(t.close() for t in transports))
            assert started[0].gate is not None and started[0].gate.by_host[ATTACKER] == 16
        finally:
            for s in flood:
                s.close()
            for lst in started:
                await lst.close()

    asyncio.run(go())


def test_idle_handshakes_are_dropped_after_the_handshake_timeout() -> None:
    async def go() -> int:
        listener = await Listener.start("127.0.0.1", 0, limits=ConnectionLimits(handshake_timeout=0.5))
        flood = await idle_sockets(listener.port, 20)
        try:
            return await closed_by_server(flood, 20, within=30)
        finally:
            for s in flood:
                s.close()
            await listener.close()

    assert asyncio.run(go()) == 20
    assert ConnectionLimits().handshake_timeout <= 10


def test_a_tls_server_caps_connections_and_times_out_handshakes_before_its_handler(tmp_path: Path) -> None:
    """The shared piece the preprocessing service listens through: TLS after admission."""
    creds = make_orgs(tmp_path, ["service"])["service"]
    context = creds.context(ssl.Purpose.CLIENT_AUTH)
    context.verify_mode = ssl.CERT_NONE
    client = ssl.create_default_context()
    client.check_hostname, client.verify_mode = False, ssl.CERT_NONE

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(await reader.readexactly(4))
        await writer.drain()
        writer.close()

    async def go() -> None:
        limits = ConnectionLimits(max_per_host=8, handshake_timeout=1.0)
        server, gate = await start_server(echo, "127.0.0.1", 0, limits=limits, name="test server", context=context)
        port = server.sockets[0].getsockname()[1]
        flood = await idle_sockets(port, 50)
        try:
            assert await closed_by_server(flood, 50, within=30) == 50  # 42 at once, 8 after 1 s.
            reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client)
            writer.write(b"ping")
            assert await asyncio.wait_for(reader.readexactly(4), 10) == b"ping"
            writer.close()
            assert gate.refused >= 42
        finally:
            for s in flood:
                s.close()
            server.close()
            await server.wait_closed()

    asyncio.run(go())


def test_a_refused_member_s_channels_are_closed_and_it_cannot_connect_again(
        orgs: dict[str, TlsCredentials], caplog: pytest.LogCaptureFixture) -> None:
    creds = [orgs["a"], orgs["b"], orgs["c"]]

    async def go() -> None:
        async with job_channels(creds) as transports:
            listeners = [t.redial.__self__.listener for t in transports]  # type: ignore[union-attr]
            reason = "Party C (0xc) is suspended in the consortium's registry"
            for listener in listeners[:2]:
                listener.refuse(fp(orgs["c"]), reason)
            for t in transports[:2]:
                with pytest.raises(ProtocolAbort, match="suspended"):
                    await asyncio.wait_for(t.recv(2), 10)
            # A new job with C in it: A and B refuse it at once, whichever side dials.
            job = os.urandom(32)
            roster = roster_of(job, creds, [lst.port for lst in listeners])
            with pytest.raises(HandshakeRefused, match="suspended"):
                await connect_job(orgs["a"], roster, 0, listener=listeners[0], settings=FAST)
            reader, writer = await asyncio.open_connection("127.0.0.1", listeners[0].port)
            writer.write(encode_preamble(os.urandom(32), orgs["c"].certificate_der))
            assert await asyncio.wait_for(reader.read(), 10) == bytes((1, CERT_REFUSED))
            writer.close()
            listeners[0].allow(fp(orgs["c"]))  # Reinstated.
            assert not listeners[0].refused

    asyncio.run(go())
    assert any("suspended" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)


def test_a_job_the_listener_learns_of_a_moment_late_connects_without_a_warning(
        orgs: dict[str, TlsCredentials], caplog: pytest.LogCaptureFixture) -> None:
    creds = [orgs["a"], orgs["b"]]
    caplog.set_level(logging.DEBUG, logger="offchain.net.tls")

    async def go() -> bytes:
        started = [await Listener.start("127.0.0.1", 0) for _ in creds]
        try:
            roster = roster_of(os.urandom(32), creds, [lst.port for lst in started])
            # B dials A before A has heard of the job (A is slower to read the chain).
            dialling = asyncio.ensure_future(connect_job(creds[1], roster, 1, listener=started[1], settings=FAST))
            await asyncio.sleep(0.5)
            a = await connect_job(creds[0], roster, 0, listener=started[0], settings=FAST)
            b = await dialling
            await asyncio.gather(a.close(), b.close())
            reader, writer = await asyncio.open_connection("127.0.0.1", started[0].port)
            writer.write(encode_preamble(os.urandom(32), creds[1].certificate_der))
            answer = await asyncio.wait_for(reader.read(), 10)
            writer.close()
            return answer
        finally:
            for lst in started:
                await lst.close()

    assert asyncio.run(go()) == bytes((1, UNKNOWN_JOB))  # A job never registered is still refused.
    refusals = [r for r in caplog.records if "refused a connection" in r.getMessage()]
    assert refusals and all(r.levelno == logging.DEBUG for r in refusals)
