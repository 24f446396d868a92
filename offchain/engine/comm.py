"""Message patterns of the engine: all-to-all exchange and checked broadcast.

Broadcast here is "echo later": a broadcast message goes to every party
and into every receiver's transcript; before any output the parties compare
transcript digests (inside offchain.engine.mac_check) and abort with BroadcastMismatch if a sender told
different parties different things.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import TypeVar

from offchain.engine.session import Session
from offchain.errors import BroadcastMismatch, ConfigError, DecodeError, MalformedMessage, ProtocolAbort

T = TypeVar("T")


async def exchange(ctx: Session, payload: bytes) -> list[bytes]:
    """Sends ``payload`` to every party and receives one message from each (one round).

    Returns the messages indexed by party, this party's own payload included.
    """
    transport = ctx.transport
    await transport.broadcast(payload)
    received = [payload] * ctx.n_parties
    for j in transport.peers:
        received[j] = await transport.recv(j)
    return received


async def broadcast_all(ctx: Session, payload: bytes) -> list[bytes]:
    """Every party broadcasts one message; all are recorded in the transcript, in party order."""
    messages = await exchange(ctx, payload)
    for sender, message in enumerate(messages):
        ctx.record_broadcast(sender, message)
    return messages


async def broadcast_from(ctx: Session, sender: int, payload: bytes | None) -> bytes:
    """Party ``sender`` broadcasts ``payload`` (None elsewhere); everyone returns it."""
    if ctx.party == sender:
        if payload is None:
            raise ConfigError("the sender must provide the payload")
        await ctx.transport.broadcast(payload)
        message = payload
    else:
        message = await ctx.transport.recv(sender)
    ctx.record_broadcast(sender, message)
    return message


def compare_digests(ctx: Session, digests: list[bytes]) -> None:
    mine = digests[ctx.party]
    for j, theirs in enumerate(digests):
        if not hmac.compare_digest(mine, theirs):
            raise BroadcastMismatch(f"party {ctx.party} and party {j} saw different broadcasts")


def decode(sender: int, parse: Callable[[bytes], T], payload: bytes) -> T:
    """Parses a peer's message, turning a DecodeError into MalformedMessage (an abort)."""
    try:
        return parse(payload)
    except DecodeError as exc:
        raise MalformedMessage(sender, str(exc)) from exc


def expect(sender: int, payload: bytes, expected: bytes, what: str) -> None:
    """Aborts unless a peer's message equals ``expected`` (e.g. a confirmation)."""
    if not hmac.compare_digest(payload, expected):
        raise ProtocolAbort(f"party {sender} sent an unexpected {what}")
