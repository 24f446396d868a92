"""One analysis job run by 3 parties in this process: in-memory network, tuples dealt and checked first.

    run = asyncio.run(run_job(spec, tables, record=False))   # tables[i]: party i's Table
    run.result, run.mpc_s, run.preprocessing_s, run.coin

A dealer deals exactly ``routes.needs(spec)``; each party takes delivery of its
batches through the sacrifice (``accept_batch``, as a peer does) on its own
Context, then runs ``registry.run``. ``mpc_s`` runs from the first party
starting the analysis to the last one holding the revealed result;
``preprocessing_s`` is the dealing and the sacrifice before it. The parties
must reveal the same result. With ``record``, party 0 keeps the public record
of its run (offchain.engine.tape's Recorder, as an auditable run does), and
``coin`` is the analysis's first joint coin (a random forest's, tossed before
any input; k-means++'s, tossed after the ``coin_after`` input broadcasts),
recomputed by replaying ``toss_recorded`` on that record.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from offchain.analytics import registry
from offchain.analytics.data import Table
from offchain.analytics.spec import JobSpec
from offchain.auditable import routes
from offchain.auditable.shadows import RandVec
from offchain.engine.coin import toss_recorded
from offchain.engine.context import Context
from offchain.engine.replay import ReplayContext
from offchain.engine.sacrifice import accept_batch
from offchain.engine.tape import Recorder
from offchain.net.memory import MemoryNetwork, MemoryTransport, run_parties
from offchain.preprocessing.dealer import Dealer
from offchain.preprocessing.source import MemoryTupleSource
from offchain.preprocessing.tuples import PartyBatch

Party = tuple[dict[str, str], float, float]  # (result, started, ended)


@dataclass(frozen=True)
class Run:
    """A job's revealed result, its MPC and preprocessing seconds, and its coin if recorded."""

    result: dict[str, str]
    mpc_s: float
    preprocessing_s: float
    coin: bytes | None


async def run_job(spec: JobSpec, tables: Sequence[Table], record: bool = False, coin_after: int = 0) -> Run:
    n = len(tables)
    started = time.perf_counter()
    dealer, keys = Dealer.create(n)
    batches: list[list[PartyBatch]] = [[] for _ in range(n)]
    for key, count in routes.needs(spec):
        for i, batch in enumerate(dealer.batch(key, count)):
            batches[i].append(batch)
    recorder = Recorder() if record else None

    def party(i: int) -> Callable[[MemoryTransport], Awaitable[Party]]:
        async def run(transport: MemoryTransport) -> Party:
            source = MemoryTupleSource()
            ctx = Context(transport, keys[i], source)
            for batch in batches[i]:
                source.add(await accept_batch(ctx, batch))
            if i == 0:
                ctx.recorder = recorder  # After the sacrifice: the record is the analysis's.
            begun = time.perf_counter()
            result = await registry.run(ctx, spec, tables[i])
            return result, begun, time.perf_counter()
        return run

    runs: list[Party] = []
    for out in await run_parties(MemoryNetwork(n, timeout=600), [party(i) for i in range(n)]):
        if isinstance(out, BaseException):
            raise out
        runs.append(out)
    if any(r[0] != runs[0][0] for r in runs):
        raise RuntimeError(f"the parties revealed different {spec.analysis} results")
    begun, ended = min(r[1] for r in runs), max(r[2] for r in runs)
    coin = None
    if recorder is not None:  # The coin from the public record, as an auditor's replay recomputes it.
        playback = recorder.playback()
        for _ in range(coin_after):
            playback.play_message()
        coin = await toss_recorded(ReplayContext(playback, n, RandVec))
    return Run(runs[0][0], ended - begun, begun - started, coin)
