"""TLS channels on loopback: the engine, pinning refusals, bad frames, timeouts, resumption."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path
from typing import Any

import pytest

from harness.faults import kill_connection
from offchain.engine import estimate
from offchain.engine.arith import mul
from offchain.engine.context import Context
from offchain.engine.inputs import input_values
from harness.local import run_local
from offchain.engine.opening import output
from offchain.errors import (
    ConfigError, MalformedMessage, PeerDisconnected, PeerTimeout, ProtocolAbort,
)
from offchain.field import P, FieldVec
from offchain.net.framing import HEADER, FrameType, encode_frame
from offchain.net.tls import (
    MALFORMED, UNKNOWN_JOB, WRONG_DIRECTION, ChannelSettings, HandshakeRefused, JobRoster,
    RosterEntry, TlsCredentials, TlsTransport, connect_job, encode_preamble,
)
from tls_testkit import FAST, fp, job_channels, listeners, make_orgs, roster_of, run_engine

X, Y = [3, -4, 2**40, 0, 12345], [7, 8, -9, 5, 2**20]
NEEDS = estimate.input_values(0, 5) + estimate.input_values(2, 5) + estimate.mul(5)


@pytest.fixture(scope="module")
def orgs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, TlsCredentials]:
    """a, b, c take part in the jobs; d is a member left out; e is no member at all."""
    return make_orgs(tmp_path_factory.mktemp("orgs"), ["a", "b", "c", "d", "e"])


async def product(ctx: Context) -> list[int]:
    x = await input_values(ctx, 0, FieldVec.from_ints(X) if ctx.party == 0 else None, 5)
    y = await input_values(ctx, 2, FieldVec.from_ints(Y) if ctx.party == 2 else None, 5)
    return (await output(ctx, await mul(ctx, x, y))).to_ints()


def expected_product() -> list[int]:
    results = asyncio.run(run_local(3, product, needs=NEEDS, seed=b"tls tests", timeout=5.0))
    assert all(r == results[0] for r in results)
    return results[0]  # type: ignore[return-value]


def test_engine_over_tls_gives_the_in_memory_result(orgs: dict[str, TlsCredentials]) -> None:
    async def go() -> list[Any]:
        async with job_channels([orgs["a"], orgs["b"], orgs["c"]]) as transports:
            return await run_engine(transports, product, NEEDS)

    results = asyncio.run(go())
    assert results == [expected_product()] * 3
    assert results[0] == [x * y % P for x, y in zip(X, Y)]


async def attempt(creds: TlsCredentials, roster: JobRoster, index: int,
                  settings: ChannelSettings = FAST) -> BaseException | None:
    """Connects as ``index`` of ``roster`` (possibly forged) with its own listener."""
    async with listeners(1) as (own,):
        try:
            transport = await connect_job(creds, roster, index, listener=own, settings=settings)
        except (ProtocolAbort, ConfigError) as err:
            return err
        await transport.close()
        return None


async def victim_and_intruder(orgs: dict[str, TlsCredentials], intruder: str,
                              forge: Any, excluded: dict[bytes, str] | None = None
                              ) -> BaseException | None:
    """Party 0 (a) of job [a, b, c] waits while ``intruder`` connects with a forged roster."""
    job = os.urandom(32)
    async with listeners(1) as (l0,):
        real = roster_of(job, [orgs["a"], orgs["b"], orgs["c"]], [l0.port, 1, 1], excluded)
        victim = asyncio.ensure_future(connect_job(orgs["a"], real, 0, listener=l0, settings=FAST))
        forged_roster, index = forge(real)
        err = await attempt(orgs[intruder], forged_roster, index)
        assert not victim.done()  # The victim still waits for its real peers.
        victim.cancel()
        await asyncio.wait([victim])
        return err


def refusal_logged(caplog: pytest.LogCaptureFixture) -> str:
    messages = [r.getMessage() for r in caplog.records]
    return next(m for m in messages if "refused a connection" in m)


def claiming(index: int, creds: TlsCredentials) -> Any:
    def forge(real: JobRoster) -> tuple[JobRoster, int]:
        parties = list(real.parties)
        parties[index] = RosterEntry(index, parties[index].endpoint, fp(creds))
        return JobRoster(real.job_id, tuple(parties), real.excluded), index
    return forge


def test_a_non_member_is_refused_and_logged(orgs: dict[str, TlsCredentials],
                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "offchain.net.tls")
    err = asyncio.run(victim_and_intruder(orgs, "e", claiming(1, orgs["e"])))
    assert isinstance(err, HandshakeRefused) and "certificate refused" in str(err)
    refusal = refusal_logged(caplog)
    assert "unknown certificate: not an active member taking part in this job" in refusal
    assert fp(orgs["e"]).hex() in refusal


def test_a_member_outside_the_job_is_refused_with_its_reason(
        orgs: dict[str, TlsCredentials], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "offchain.net.tls")
    excluded = {fp(orgs["d"]): "organisation d is suspended"}
    err = asyncio.run(victim_and_intruder(orgs, "d", claiming(2, orgs["d"]), excluded))
    assert isinstance(err, HandshakeRefused)
    refusal = refusal_logged(caplog)
    assert "not a participant of this job: organisation d is suspended" in refusal
    assert fp(orgs["d"]).hex() in refusal


def test_a_participant_claiming_another_index_is_refused(
        orgs: dict[str, TlsCredentials], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "offchain.net.tls")

    def b_as_party_2(real: JobRoster) -> tuple[JobRoster, int]:
        a, b, c = real.parties
        return JobRoster(real.job_id, (a, RosterEntry(1, c.endpoint, c.fingerprint),
                                       RosterEntry(2, b.endpoint, b.fingerprint))), 2

    err = asyncio.run(victim_and_intruder(orgs, "b", b_as_party_2))
    assert isinstance(err, HandshakeRefused)
    assert "claims to be party 2" in str(err) and "party 1's" in str(err)
    refusal = refusal_logged(caplog)
    assert "claims to be party 2" in refusal and fp(orgs["b"]).hex() in refusal


def test_the_dialler_refuses_a_server_with_another_certificate(
        orgs: dict[str, TlsCredentials], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "offchain.net.tls")

    def server_is_c(real: JobRoster) -> tuple[JobRoster, int]:
        a, b, c = real.parties
        # b believes party 0 is c: the listener of a presents a's certificate instead.
        return JobRoster(real.job_id, (RosterEntry(0, a.endpoint, c.fingerprint),
                                       RosterEntry(1, b.endpoint, b.fingerprint))), 1

    err = asyncio.run(victim_and_intruder(orgs, "b", server_is_c))
    assert isinstance(err, HandshakeRefused) and "not the registered one" in str(err)
    assert any(fp(orgs["a"]).hex() in r.getMessage() and "refused party 0" in r.getMessage()
               for r in caplog.records)


def test_credentials_must_match_the_roster(orgs: dict[str, TlsCredentials], tmp_path: Path) -> None:
    roster = roster_of(os.urandom(32), [orgs["a"], orgs["b"]], [1, 2])
    with pytest.raises(ConfigError, match="not the one registered for party 1"):
        asyncio.run(connect_job(orgs["a"], roster, 1))
    wrong = TlsCredentials(orgs["a"].cert_path, orgs["a"].key_path, b"wrong passphrase")
    with pytest.raises(ConfigError, match="wrong passphrase"):
        asyncio.run(connect_job(wrong, roster, 0, listen_port=0))


def test_a_silent_peer_times_out(orgs: dict[str, TlsCredentials]) -> None:
    settings = ChannelSettings(timeout=0.3, connect_timeout=5.0, reconnect_window=1.0)

    async def go() -> float:
        async with job_channels([orgs["a"], orgs["b"]], settings) as (t0, t1):
            start = time.monotonic()
            with pytest.raises(PeerTimeout) as caught:
                await t0.recv(1)
            assert caught.value.party == 1
            return time.monotonic() - start

    assert 0.3 <= asyncio.run(go()) < 1.0


def test_a_silent_dialler_is_dropped_by_the_listener(caplog: pytest.LogCaptureFixture) -> None:
    async def go() -> bytes:
        async with listeners(1) as (listener,):
            listener.handshake_timeout = 0.2
            reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
            got = await asyncio.wait_for(reader.read(), 2.0)
            writer.close()
            return got

    assert asyncio.run(go()) == b""
    assert any("handshake failed" in r.getMessage() for r in caplog.records)


def test_a_closed_peer_is_a_disconnection_after_its_last_message(
        orgs: dict[str, TlsCredentials]) -> None:
    async def go() -> None:
        async with job_channels([orgs["a"], orgs["b"], orgs["c"]]) as (t0, t1, t2):
            await t1.send(0, b"last words")
            await t1.close()
            assert await t0.recv(1) == b"last words"
            with pytest.raises(PeerDisconnected):
                await t0.recv(1)
            await t2.send(0, b"still here")
            assert await t0.recv(2) == b"still here"

    asyncio.run(go())


BAD_FRAMES = {
    "oversize": (HEADER.pack(1, FrameType.DATA, b"J" * 32, 0, 4096), "exceeds the limit of 2048"),
    "unknown version": (HEADER.pack(9, FrameType.DATA, b"J" * 32, 0, 0), "unknown version 9"),
    "other job": (encode_frame(FrameType.DATA, b"K" * 32, 0, b"x"), "for job " + (b"K" * 32).hex()),
}


@pytest.mark.parametrize("case", list(BAD_FRAMES))
def test_a_bad_frame_closes_the_connection_with_a_clear_error(
        orgs: dict[str, TlsCredentials], case: str) -> None:
    raw, message = BAD_FRAMES[case]
    settings = ChannelSettings(timeout=2.0, connect_timeout=5.0, reconnect_window=1.0,
                               max_frame=2048)

    async def go() -> None:
        async with job_channels([orgs["a"], orgs["b"]], settings, job_id=b"J" * 32) as (t0, t1):
            link = t1._links[0]
            assert link.conn is not None
            link.conn.writer.write(raw)  # Party 1 misbehaves below the transport.
            with pytest.raises(MalformedMessage, match=message) as caught:
                await t0.recv(1)
            assert caught.value.party == 1 and t0._links[1].conn is None
            with pytest.raises(ProtocolAbort, match="party 0 closed the channel: .*" + message):
                await t1.recv(0)
            with pytest.raises(ConfigError, match="exceeds the frame limit"):
                await t0.send(1, bytes(4096))

    asyncio.run(go())


def killing(victim: int, peer: int, *, when: asyncio.Event) -> Any:
    """Wraps a transport's send: the first send after ``when`` drops its connection first."""
    def wrap(transport: TlsTransport) -> TlsTransport:
        original = transport.send
        done = False

        async def send(to: int, payload: bytes) -> None:
            nonlocal done
            if when.is_set() and not done and to == peer:
                done = True
                kill_connection(transport, peer)  # This frame is lost and must be resent.
            await original(to, payload)
        transport.send = send  # type: ignore[method-assign]
        return transport
    return wrap


@pytest.mark.parametrize(("victim", "peer"), [(2, 0), (0, 1)], ids=["dialler", "listener"])
def test_a_dropped_connection_resumes_mid_multiplication(
        orgs: dict[str, TlsCredentials], caplog: pytest.LogCaptureFixture,
        victim: int, peer: int) -> None:
    caplog.set_level(logging.INFO, "offchain.net")
    in_mul = asyncio.Event()

    async def program(ctx: Context) -> list[int]:
        x = await input_values(ctx, 0, FieldVec.from_ints(X) if ctx.party == 0 else None, 5)
        y = await input_values(ctx, 2, FieldVec.from_ints(Y) if ctx.party == 2 else None, 5)
        if ctx.party == victim:
            in_mul.set()
        return (await output(ctx, await mul(ctx, x, y))).to_ints()

    async def go() -> list[Any]:
        async with job_channels([orgs["a"], orgs["b"], orgs["c"]]) as transports:
            killing(victim, peer, when=in_mul)(transports[victim])
            return await run_engine(transports, program, NEEDS)

    results = asyncio.run(go())
    assert results == [expected_product()] * 3
    messages = [r.getMessage() for r in caplog.records]
    assert any("lost its connection" in m for m in messages)
    assert any("resumed the channel" in m and "resent" in m for m in messages)


def test_a_connection_that_cannot_be_restored_ends_in_disconnection(
        orgs: dict[str, TlsCredentials]) -> None:
    settings = ChannelSettings(timeout=5.0, connect_timeout=5.0, reconnect_window=0.3)

    async def go() -> float:
        async with listeners(2) as (l0, l1):
            roster = roster_of(os.urandom(32), [orgs["a"], orgs["b"]], [l0.port, l1.port])
            t0, t1 = await asyncio.gather(*(
                connect_job(c, roster, i, listener=l, settings=settings)
                for i, (c, l) in enumerate([(orgs["a"], l0), (orgs["b"], l1)])))
            await l0.close()  # Party 1 can no longer redial party 0.
            start = time.monotonic()
            kill_connection(t1, 0)
            for transport, peer in ((t0, 1), (t1, 0)):
                with pytest.raises(PeerDisconnected):
                    await transport.recv(peer)
            elapsed = time.monotonic() - start
            await asyncio.gather(t0.close(), t1.close())
            return elapsed

    assert 0.3 <= asyncio.run(go()) < 2.0


def test_the_listener_answers_bad_preambles(orgs: dict[str, TlsCredentials]) -> None:
    async def answer(port: int, preamble: bytes) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(preamble)
        got = await asyncio.wait_for(reader.read(), 10.0)  # An unknown job is waited for 2 s.
        writer.close()
        return got

    async def go() -> list[bytes]:
        job = os.urandom(32)
        async with listeners(1) as (l1,):
            roster = roster_of(job, [orgs["a"], orgs["b"], orgs["c"]], [1, l1.port, 1])
            waiting = asyncio.ensure_future(connect_job(orgs["b"], roster, 1, listener=l1,
                                                        settings=FAST))
            await asyncio.sleep(0.05)
            a_cert = orgs["a"].certificate_der
            answers = [await answer(l1.port, encode_preamble(os.urandom(32), a_cert)),
                       await answer(l1.port, encode_preamble(job, a_cert)),
                       await answer(l1.port, b"\x02" + bytes(34))]
            waiting.cancel()
            await asyncio.wait([waiting])
            return answers

    assert asyncio.run(go()) == [bytes((1, UNKNOWN_JOB)), bytes((1, WRONG_DIRECTION)),
                                 bytes((1, MALFORMED))]


def test_a_peer_that_lost_its_state_cannot_resume(orgs: dict[str, TlsCredentials]) -> None:
    settings = ChannelSettings(timeout=5.0, connect_timeout=5.0, reconnect_window=0.3)

    async def go() -> None:
        async with job_channels([orgs["a"], orgs["b"]], settings) as (t0, t1):
            for word in (b"one", b"two"):
                await t0.send(1, word)
                assert await t1.recv(0) == word
            await asyncio.sleep(0.05)  # Let the acknowledgements arrive: party 0 trims its buffer.
            t1._links[0].next_expected = 0  # Party 1 forgets what it received, then redials.
            kill_connection(t1, 0)
            with pytest.raises(MalformedMessage, match="resume from frame 0"):
                await t0.recv(1)
            with pytest.raises(PeerDisconnected):
                await t1.recv(0)

    asyncio.run(go())
