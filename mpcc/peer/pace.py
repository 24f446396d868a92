"""How often a peer looks at the chain: fast right after something moved, slower while nothing does.

A chain that mines a block per transaction (a local node) moves the moment a
peer's transaction is mined, and a job's next step waits on it; a public
chain moves every ~12 s. A fixed interval is either slow on the first or
wasteful on the second. ``Pace`` starts at ``FAST_S`` after each change and
grows by ``GROWTH`` per look that saw none, up to the configured ``poll_s``:
a step is seen within about FAST_S of the block that made it, and a quiet
chain is asked about every ``poll_s``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")
FAST_S = 0.05
GROWTH = 1.5


class Pace:
    """Intervals between looks at the chain (see the module docstring)."""

    def __init__(self, ceiling_s: float, fast_s: float = FAST_S) -> None:
        self.ceiling_s = ceiling_s
        self.fast_s = min(fast_s, ceiling_s)
        self._next = self.fast_s

    def moved(self) -> None:
        """Something changed: look again soon."""
        self._next = self.fast_s

    def wait_s(self) -> float:
        """The interval before the next look (each call after no change is longer, up to the ceiling)."""
        now = self._next
        self._next = min(self._next * GROWTH, self.ceiling_s)
        return now


#: A chain read that took longer than this was the chain client waiting out an unreachable or frozen
#: node (reads take milliseconds; only transactions wait for blocks).
SLOW_READ_S = 2.0


class Deadline:
    """How long a peer waits for the others through the chain, not counting outages of its node.

    Every party of a job meets an outage of the chain node (or of the RPC
    endpoint) at once: the one that was sending a transaction resends it only
    once the node answers again, so a peer waiting for that transaction must
    not give up for time in which nobody could reach the chain. ``read`` runs
    one chain read and moves the deadline by its duration when it took over
    ``SLOW_READ_S``.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._loop = asyncio.get_running_loop()
        self._at = self._loop.time() + seconds

    async def read(self, call: Awaitable[T]) -> T:
        """``call``'s result; a slow one (the node was away) moves the deadline on by its duration."""
        started = self._loop.time()
        result = await call
        took = self._loop.time() - started
        if took > SLOW_READ_S:
            self._at += took
        return result

    def passed(self) -> bool:
        return self._loop.time() > self._at
