"""The chain as a long-running process's event loop uses it: every call awaited, none blocking.

A peer daemon or the preprocessing service runs one asyncio loop that also
serves MPC channels, batch deliveries and jobs. A chain request, and above all
a transaction waiting for its receipt (a block time: 12 s on a public chain),
must never hold that loop. ``AsyncChain.run`` runs a call of the typed
clients (``onchain.jobs``, ``onchain.ledger``, ...) on a worker thread and
awaits it:

    job = await chain.run(dep.jobs.job, job_id)
    receipt = await chain.run(dep.jobs.accept, account, job_id)

The synchronous clients stay the one API; the ``Chain`` under them hands out
each account's nonces under a lock, so transactions awaited at once never
collide, and refuses any request made on the loop's own thread
(``BlockingChainCall``). A transaction holds its worker thread until its
receipt arrives, so the pool is sized for many waits at once.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from onchain.chain import Chain

P = ParamSpec("P")
T = TypeVar("T")
#: Worker threads: each transaction holds one until its receipt is in, reads hold one briefly.
WORKERS = 32


class AsyncChain:
    """Runs chain calls on worker threads and awaits them (see the module docstring)."""

    def __init__(self, chain: Chain, workers: int = WORKERS) -> None:
        self.chain = chain
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="chain")

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(*args, **kwargs)`` on a worker thread, awaited."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    async def now(self) -> int:
        """The latest block's timestamp."""
        return await self.run(self.chain.now)

    async def block_number(self) -> int:
        """The latest block's number."""
        return await self.run(lambda: int(self.chain.w3.eth.block_number))

    def close(self) -> None:
        """Stops the worker threads once the calls under way are done."""
        self._pool.shutdown(wait=False, cancel_futures=True)
