"""Helpers shared by the dealerless tests: the small ring, seeded streams, key shares and the oracle."""
# ruff: noqa: S311 - seeded `random` makes reproducible test data (never secrets).

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable

from offchain.dealerless import LowGear, setup
from offchain.engine.session import Session
from offchain.field import FieldVec, P
from offchain.lattice.params import small
from offchain.lattice.sampling import RandBytes
from offchain.net.memory import MemoryNetwork, MemoryTransport, run_parties
from offchain.shares import MacKeyShare, SharedVec, reconstruct, split_key

PARAMS = small(64, 13)
"""N = 64 with thirteen 61-bit primes: the levels, switching and noise margin of production, at a test's cost."""


def stream(seed: int) -> RandBytes:
    return random.Random(seed).randbytes


def keys_for(n: int) -> list[MacKeyShare]:
    """The same MAC key shares on every call, so a test can rebuild the global key its parties used."""
    return split_key(FieldVec.random(1, stream(99))[0], n, stream(98))


def opened(parts: list[SharedVec], keys: list[MacKeyShare]) -> FieldVec:
    """The shared values, after checking every MAC against alpha times the value (MacCheckFailed if not)."""
    return reconstruct(parts, sum(k.alpha for k in keys) % P)


Program = Callable[[Session, LowGear], Awaitable[object]]
"""What a party runs after the session's LowGear setup."""


def run_after_setup(n: int, program: Program, network: MemoryNetwork | None = None) -> list[object]:
    """n parties over the in-memory network: setup on the small ring, then ``program``; results or exceptions."""
    keys = keys_for(n)

    def party(i: int) -> Callable[[MemoryTransport], Awaitable[object]]:
        async def run(t: MemoryTransport) -> object:
            ctx = Session(t, keys[i], randbytes=stream(10 + i))
            return await program(ctx, await setup(ctx, PARAMS))
        return run

    return asyncio.run(run_parties(network or MemoryNetwork(n, timeout=120), [party(i) for i in range(n)]))
