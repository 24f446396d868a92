"""Bounded listeners: caps on open connections, and a deadline on each handshake.

Every listener of the project (a peer's MPC channels, the preprocessing
service) accepts through :func:`start_server`. A connection beyond
``max_connections`` open on the listener, or beyond ``max_per_host`` open from
one remote address, is closed as soon as it is accepted, before a byte is
read, so a client cannot starve the process of file descriptors; and a
connection that has not completed its handshake within ``handshake_timeout``
is dropped, so idle connections are not held. The legitimate peers of a
consortium each come from their own address, and a peer opens one connection
per job or batch it shares with this one: the defaults leave room for many
concurrent jobs.

Refusals over a cap are logged (logger ``offchain.net.limits``) at most once
per ``LOG_EVERY_S`` seconds per listener, with the number refused meanwhile,
so that a flood does not flood the log too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from offchain.errors import ConfigError

log = logging.getLogger(__name__)
LOG_EVERY_S = 10.0

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@dataclass(frozen=True)
class ConnectionLimits:
    """How many connections a listener keeps open, and how long a handshake may take."""

    max_connections: int = 512
    max_per_host: int = 128
    handshake_timeout: float = 5.0

    def __post_init__(self) -> None:
        if self.max_connections < 1 or self.max_per_host < 1:
            raise ConfigError(f"connection caps must be at least 1: {self}")
        if self.max_per_host > self.max_connections:
            raise ConfigError(f"max_per_host {self.max_per_host} exceeds max_connections {self.max_connections}")
        if not self.handshake_timeout > 0:
            raise ConfigError(f"the handshake timeout must be positive: {self}")


class ConnectionGate:
    """The open connections of one listener, by remote address; admits while under the caps."""

    def __init__(self, limits: ConnectionLimits, name: str) -> None:
        self.limits, self.name = limits, name
        self.open = 0
        self.by_host: Counter[str] = Counter()
        self.refused = 0
        self._unlogged = 0
        self._logged_at = -LOG_EVERY_S

    def admit(self, host: str) -> bool:
        """Counts a new connection from ``host`` in, or refuses it (False) when a cap is reached."""
        if self.open >= self.limits.max_connections:
            self._refuse(host, f"{self.open} connections open, the most this listener keeps")
            return False
        if self.by_host[host] >= self.limits.max_per_host:
            self._refuse(host, f"{self.by_host[host]} connections open from {host}, the most one address may hold")
            return False
        self.open += 1
        self.by_host[host] += 1
        return True

    def release(self, host: str) -> None:
        self.open -= 1
        self.by_host[host] -= 1
        if not self.by_host[host]:
            del self.by_host[host]

    def _refuse(self, host: str, why: str) -> None:
        self.refused += 1
        self._unlogged += 1
        now = time.monotonic()
        if now - self._logged_at >= LOG_EVERY_S:
            log.warning("%s refused %d connection(s) in the last %g s, the latest from %s: %s", self.name,
                        self._unlogged, LOG_EVERY_S, host, why)
            self._logged_at, self._unlogged = now, 0


async def start_server(handler: Handler, host: str, port: int, *, limits: ConnectionLimits,
                       name: str, context: ssl.SSLContext | None = None) -> tuple[asyncio.Server, ConnectionGate]:
    """A server on host:port whose connections pass ``limits`` before ``handler`` sees them.

    With ``context``, the TLS handshake runs after admission, within
    ``limits.handshake_timeout``; without, the handler runs its own handshake
    and bounds it by the same timeout itself.
    """
    gate = ConnectionGate(limits, name)

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peername = writer.get_extra_info("peername")
        remote = str(peername[0]) if peername else "?"
        if not gate.admit(remote):
            writer.transport.abort()
            return
        try:
            if context is not None:
                try:
                    await writer.start_tls(context, ssl_handshake_timeout=limits.handshake_timeout)
                except (OSError, TimeoutError, ssl.SSLError, asyncio.IncompleteReadError) as err:
                    log.info("%s dropped a connection from %s: TLS handshake failed: %s", name, remote,
                             str(err) or type(err).__name__)
                    writer.transport.abort()
                    return
            await handler(reader, writer)
            # A handler may hand the connection on (a peer's channel outlives the handshake):
            # it counts until it is closed.
            with contextlib.suppress(Exception):
                await writer.wait_closed()
        finally:
            gate.release(remote)

    server = await asyncio.start_server(on_connect, host, port)
    return server, gate
