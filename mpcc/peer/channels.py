"""A peer's MPC channels: its listener, and mutual-TLS transports pinned to the registry's keys."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from offchain.errors import ConfigError
from offchain.net.tls import (
    ChannelSettings,
    ConnectionLimits,
    JobRoster,
    Listener,
    RosterEntry,
    TlsCredentials,
    connect_job,
)
from offchain.net.transport import Transport
from onchain.registry import Member


def job_tag(job_id: int) -> bytes:
    """A job's id as the 32-byte roster id of its channels."""
    return job_id.to_bytes(32, "big")


def roster_of(tag: bytes, members: list[Member], everyone: list[Member]) -> JobRoster:
    """Party i = members[i] at its registered endpoint and fingerprint; others excluded with a reason."""
    entries = tuple(RosterEntry(i, m.endpoint, m.tls_fingerprint) for i, m in enumerate(members))
    taking_part = {m.account.lower() for m in members}
    excluded = {m.tls_fingerprint: f"{m.name} ({m.status.name.lower()}) does not take part"
                for m in everyone if m.account.lower() not in taking_part}
    return JobRoster(tag, entries, excluded)


@dataclass
class Channels:
    """The listener every job and batch shares, and the sessions open on it (for ``peer status``)."""

    credentials: TlsCredentials
    settings: ChannelSettings
    me: str
    limits: ConnectionLimits = field(default_factory=ConnectionLimits)
    listener: Listener | None = None
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)

    async def listen(self, host: str, port: int) -> None:
        """Starts the listener; ``ConfigError`` naming the address if it cannot bind."""
        try:
            self.listener = await Listener.start(host, port, limits=self.limits)
        except OSError as err:
            raise ConfigError(f"cannot listen on {host}:{port} for MPC channels: {err}; set `listen` in "
                              "the peer's configuration or free the port") from err

    def follow(self, everyone: list[Member]) -> None:
        """Applies the registry's statuses: a member not active is refused and its open channels closed."""
        if self.listener is None:
            raise ConfigError("the MPC listener is not started")
        self.listener.members = frozenset(m.tls_fingerprint for m in everyone if m.active)
        for m in everyone:
            if m.active:
                self.listener.allow(m.tls_fingerprint)
            elif m.tls_fingerprint not in self.listener.refused and m.account.lower() != self.me.lower():
                self.listener.refuse(m.tls_fingerprint, f"{m.name} ({m.account}) is {m.status.name.lower()} "
                                     "in the consortium's registry")

    async def connect(self, tag: bytes, members: list[Member], everyone: list[Member], label: str) -> Transport:
        """Channels to the other ``members`` (this peer among them) for the job or batch ``tag``."""
        index = [m.account.lower() for m in members].index(self.me.lower())
        transport = await connect_job(self.credentials, roster_of(tag, members, everyone), index,
                                      listener=self.listener, settings=self.settings)
        self.sessions[label] = {"parties": [m.name for m in members], "since": time.time()}
        return transport

    async def disconnect(self, transport: Transport, label: str) -> None:
        self.sessions.pop(label, None)
        await transport.close()

    async def close(self) -> None:
        if self.listener is not None:
            await self.listener.close()
