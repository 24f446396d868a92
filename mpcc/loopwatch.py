"""How long a process's event loop went without running: what a blocking call would show.

A long-running process (peer daemon, preprocessing service) serves MPC
channels and requests from one asyncio loop; anything that blocks the loop
delays every one of them. ``LoopWatch`` wakes every ``every`` seconds and
records by how much each wake-up came late: its longest stall is the longest
time the loop could not answer anyone. ``mpcc peer status`` shows it beside
the longest wait for a transaction's receipt, which should be far longer.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass


@dataclass
class LoopWatch:
    """The longest stall of the running loop since ``run`` started (see the module docstring)."""

    every: float = 0.05
    longest_s: float = 0.0
    longest_at: float = 0.0
    wakeups: int = 0

    async def run(self) -> None:
        """Watches until cancelled."""
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(self.every)
            late = loop.time() - start - self.every
            self.wakeups += 1
            if late > self.longest_s:
                self.longest_s, self.longest_at = late, time.time()

    def as_dict(self) -> dict[str, float]:
        return {"longest_stall_s": round(self.longest_s, 3), "longest_stall_at": self.longest_at,
                "wakeups": self.wakeups}
