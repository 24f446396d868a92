"""One party of ``benchmarks/protocols.py``'s SPDZ rows over TLS (a child process; not run by hand).

    python benchmarks/_protocols_spdz_party.py WORKDIR PARTY

WORKDIR/config.json (written by benchmarks/_protocols_spdz.py) holds what
``_tls_party.py``'s config holds (job id, fingerprints, passphrase, timeout,
sealed batches in delivery order) plus ``workloads`` (names), ``sizes``,
``repeats`` and ``incomes`` (this party's CSV: WORKDIR/p{PARTY}/incomes.csv).
The connection and the delivery of every batch (read, open, sacrifice over
TLS, store in the party's SQLite TupleCache) are ``_tls_party.run``'s. Then,
per workload and repeat: the run's exact tuples out of the cache (before the
clock), a barrier, and the run:

- ``mul``, ``cmp``: engine.py's programs (benchmarks/_workloads.py): inputs
  by parties 0 and 1 before the clock, then the operation and the MAC check
  timed; rounds of the operation, bytes of the operation and the MAC check;
- ``mean``: ``registry.run`` of the mean-income job on the party's CSV rows
  (local sums, inputs, division, MAC-checked outputs), all timed;
- ``mean_auditable``: the same job with ``auditable`` set (the LINEAR route,
  as a peer runs it): the party also commits to its input shares with
  Pedersen commitments (``commit_shares``) and computes its opening of the
  revealed totals; ``chain_bytes`` is what it would publish (the points'
  64-byte encodings, and a share and a randomness of 32 bytes per column).

Each run reports its wall time, this process's CPU time (all threads), the
rounds and bytes it gave its transport. ``delivery_bytes_sent`` is what the
party sent while taking delivery (the sacrifice). Log lines go to stderr.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _tls_party import party_main, sync  # noqa: E402
from _workloads import cmp_workload, mul_workload  # noqa: E402

from offchain.analytics import registry  # noqa: E402
from offchain.analytics.spec import JobSpec  # noqa: E402
from offchain.auditable import routes  # noqa: E402
from offchain.auditable.commitments import commit_shares  # noqa: E402
from offchain.auditable.linear import revealed_columns  # noqa: E402
from offchain.engine.context import Context  # noqa: E402
from offchain.net.transport import Transport  # noqa: E402
from offchain.preprocessing.cache import TupleCache  # noqa: E402
from offchain.preprocessing.tuples import Needs  # noqa: E402
from offchain.shares import MacKeyShare, SharedVec  # noqa: E402

PARTICIPANTS = tuple("0x" + f"{i + 1:040x}" for i in range(3))
#: One run on a context: (seconds timed, rounds, bytes sent, bytes published on chain, revealed mean or None).
Run = Callable[[Context], Awaitable[tuple[float, int, int, int, str | None]]]


def mean_spec(auditable: bool) -> JobSpec:
    """The demo's job: the mean income over the members' rows (examples/specs/mean.json)."""
    return registry.build_spec(participants=PARTICIPANTS, analysis="mean", column="income",
                               reveal=("count", "mean"), auditable=auditable)


def engine_run(name: str, sizes: dict[str, int]) -> tuple[Run, Needs]:
    """engine.py's program for ``mul`` or ``cmp``, timed by the program itself."""
    program, needs = (mul_workload(sizes["mul_size"], sizes["mul_reps"]) if name == "mul"
                      else cmp_workload(sizes["cmp_size"]))

    async def run(ctx: Context) -> tuple[float, int, int, int, str | None]:
        elapsed, rounds, sent = await program(ctx)
        return elapsed, rounds, sent, 0, None
    return run, needs


def mean_run(auditable: bool, path: Path) -> tuple[Run, Needs]:
    """The mean job on this party's CSV (auditable: with its Pedersen commitments and opening)."""
    spec = mean_spec(auditable)
    table = registry.read_table(spec, {"income": path})

    async def run(ctx: Context) -> tuple[float, int, int, int, str | None]:
        published: list[int] = []

        async def commit(shares: Sequence[SharedVec]) -> None:
            mine = commit_shares(shares)
            columns = revealed_columns(spec)
            mine.opening(columns)
            published.append(len(mine.points.to_bytes()) + 64 * len(columns))

        stats = ctx.transport.stats
        rounds, sent, start = stats.rounds, stats.bytes_sent, time.perf_counter()
        result = await registry.run(ctx, spec, table, commit if auditable else None)
        return (time.perf_counter() - start, stats.rounds - rounds, stats.bytes_sent - sent, sum(published),
                result["mean"])
    return run, routes.needs(spec)


async def protocols_work(transport: Transport, key: MacKeyShare, cache: TupleCache,
                         cfg: dict[str, Any], mine: Path) -> dict[str, object]:
    """Every workload ``repeats`` times on its tuples from the cache (see the module docstring)."""
    out: dict[str, Any] = {"delivery_bytes_sent": transport.stats.bytes_sent}
    for name in cfg["workloads"]:
        runs = []
        for _ in range(cfg["repeats"]):
            run, needs = (engine_run(name, cfg["sizes"]) if name in ("mul", "cmp")
                          else mean_run(name == "mean_auditable", mine / "incomes.csv"))
            source = cache.reserve(needs)  # This run's tuples, off the clock.
            await sync(transport)
            cpu = time.process_time()
            elapsed, rounds, sent, chain, result = await run(Context(transport, key, source))
            runs.append({"elapsed_s": elapsed, "cpu_s": time.process_time() - cpu, "rounds": rounds,
                         "bytes_sent": sent, "chain_bytes": chain, "result": result})
        out[name] = runs
    return out


def main() -> int:
    return party_main("protocols.py", protocols_work)


if __name__ == "__main__":
    sys.exit(main())
