"""Helpers for the TLS channel tests: organisations' credentials, a job's channels on loopback."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from harness.dealing import seeded_dealer
from offchain import identity
from offchain.engine.context import Context
from harness.local import deal_needs
from offchain.net.tls import (
    ChannelSettings, JobRoster, Listener, RosterEntry, TlsCredentials, TlsTransport, connect_job,
    fingerprint,
)
from offchain.preprocessing.dealer import Dealer
from offchain.engine.sacrifice import accept_batch
from offchain.preprocessing.source import MemoryTupleSource
from offchain.preprocessing.tuples import Needs

T = TypeVar("T")
PASSPHRASE = b"correct horse battery staple"
FAST = ChannelSettings(timeout=5.0, connect_timeout=5.0, reconnect_window=5.0)


def make_orgs(directory: Path, names: Sequence[str]) -> dict[str, TlsCredentials]:
    """A fresh identity (encrypted key, self-signed certificate) per organisation name."""
    return {name: TlsCredentials.from_identity(
        identity.create(directory / name, name, "127.0.0.1:7000", PASSPHRASE), PASSPHRASE)
        for name in names}


def fp(credentials: TlsCredentials) -> bytes:
    return fingerprint(credentials.certificate_der)


def roster_of(job_id: bytes, creds: Sequence[TlsCredentials], ports: Sequence[int],
              excluded: dict[bytes, str] | None = None) -> JobRoster:
    entries = tuple(RosterEntry(i, f"127.0.0.1:{port}", fp(c))
                    for i, (c, port) in enumerate(zip(creds, ports)))
    return JobRoster(job_id, entries, excluded or {})


@asynccontextmanager
async def listeners(n: int) -> AsyncIterator[list[Listener]]:
    started = [await Listener.start("127.0.0.1", 0) for _ in range(n)]
    try:
        yield started
    finally:
        for listener in started:
            await listener.close()


@asynccontextmanager
async def job_channels(creds: Sequence[TlsCredentials], settings: ChannelSettings = FAST,
                       job_id: bytes | None = None) -> AsyncIterator[list[TlsTransport]]:
    """Every party's connected transport of a fresh job; all closed on exit."""
    job_id = job_id or os.urandom(32)
    async with listeners(len(creds)) as started:
        roster = roster_of(job_id, creds, [listener.port for listener in started])
        transports = await asyncio.gather(*(
            connect_job(c, roster, i, listener=started[i], settings=settings)
            for i, c in enumerate(creds)))
        try:
            yield list(transports)
        finally:
            await asyncio.gather(*(t.close() for t in transports))


async def run_engine(transports: Sequence[Any], program: Callable[[Context], Awaitable[T]],
                     needs: Needs, *, seed: bytes = b"tls tests") -> list[T | BaseException]:
    """Deals ``needs`` (seeded), checks the batches by sacrifice, runs ``program`` everywhere."""
    dealer, keys = seeded_dealer(len(transports), seed)
    batches = deal_needs(dealer, needs)

    async def party(i: int) -> T:
        source = MemoryTupleSource()
        ctx = Context(transports[i], keys[i], source)
        for batch in batches[i]:
            source.add(await accept_batch(ctx, batch))
        return await program(ctx)

    return await asyncio.gather(*(party(i) for i in range(len(transports))),
                                return_exceptions=True)
