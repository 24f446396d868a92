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
