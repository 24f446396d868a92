"""A peer's deadline for the others, which does not count the time its chain node was away."""

from __future__ import annotations

import asyncio

import pytest

from mpcc.peer import pace
from mpcc.peer.pace import Deadline


async def _read(seconds: float) -> str:
    await asyncio.sleep(seconds)
    return "state"


def test_a_slow_read_moves_the_deadline_and_a_quick_one_does_not(monkeypatch: pytest.MonkeyPatch) -> None:
    async def run() -> tuple[bool, bool, bool]:
        deadline = Deadline(0.3)
        assert await deadline.read(_read(0.05)) == "state"
        quick = deadline.passed()
        slow_read = await deadline.read(_read(0.5))  # Over SLOW_READ_S here: the node was away.
        after_slow = deadline.passed()  # 0.55 s have gone by, but 0.5 s of them did not count.
        await asyncio.sleep(0.3)
        return quick, after_slow or slow_read != "state", deadline.passed()

    monkeypatch.setattr(pace, "SLOW_READ_S", 0.2)  # The threshold scaled down to a test's times.
    quick, after_slow, at_last = asyncio.run(run())
    assert not quick and not after_slow and at_last


def test_without_slow_reads_the_deadline_is_plain_time() -> None:
    async def run() -> bool:
        deadline = Deadline(0.2)
        await deadline.read(_read(0.1))
        await asyncio.sleep(0.15)
        return deadline.passed()

    assert asyncio.run(run())
