"""One party of ``benchmarks/analytics.py`` over TLS (a child process; not run by hand).

    python benchmarks/_analytics_party.py WORKDIR PARTY

WORKDIR/config.json (written by analytics.py) holds what ``_tls_party.py``'s
config holds (job id, fingerprints, passphrase, timeout, sealed batches in
delivery order) plus ``jobs``: per job its name, row count, spec (canonical
JSON) and the CSV file under WORKDIR/p{PARTY}/ that holds this party's third
of the rows, and ``repeats``. The exchange with the parent is
``_tls_party.py``'s: print {"port": p}, read {"ports": [...]}, connect (mutual
TLS 1.3, pinned), take delivery of every batch (read, open, sacrifice over
TLS, store in the party's SQLite TupleCache).

Then, per job: ``read_table`` (the party's CSV file, validated; timed apart as
``load_s``), and ``repeats`` times: the job's exact tuples out of the cache
(``reserve(routes.needs(spec))``, before the clock), a barrier, and
``registry.run`` timed with the rounds and bytes this party sent during it.
The last line of stdout is this party's figures, with every run's result,
as JSON. Log lines go to stderr.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # The test harness (n parties in one process).
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _tls_party import party_main, sync  # noqa: E402

from offchain.auditable import routes
from offchain.analytics import registry  # noqa: E402
from offchain.analytics.spec import categorical_columns, numeric_columns  # noqa: E402
from offchain.analytics.spec import JobSpec  # noqa: E402
from offchain.engine.context import Context  # noqa: E402
from offchain.net.transport import Transport  # noqa: E402
from offchain.preprocessing.cache import TupleCache  # noqa: E402
from offchain.shares import MacKeyShare  # noqa: E402


async def run_jobs(transport: Transport, key: MacKeyShare, cache: TupleCache,
                   cfg: dict[str, Any], mine: Path) -> list[dict[str, Any]]:
    """Every job of the config, ``repeats`` times each; their timings and results."""
    out = []
    for job in cfg["jobs"]:
        spec = registry.parse_spec(job["spec"])
        t0 = time.perf_counter()
        path = mine / job["csv"]
        table = registry.read_table(spec, {c: path for c in (*numeric_columns(spec),
                                                             *categorical_columns(spec))})
        figures: dict[str, Any] = {"name": job["name"], "rows": job["rows"],
                                   "load_s": time.perf_counter() - t0, "runs": []}
        for _ in range(cfg["repeats"]):
            t1 = time.perf_counter()
            source = cache.reserve(routes.needs(spec))  # The job's tuples, off the clock.
            take_s = time.perf_counter() - t1
            await sync(transport)
            stats = transport.stats
            rounds, sent = stats.rounds, stats.bytes_sent
            start = time.perf_counter()
            result = await registry.run(Context(transport, key, source), spec, table)
            figures["runs"].append({"elapsed_s": time.perf_counter() - start,
                                    "rounds": stats.rounds - rounds,
                                    "bytes_sent": stats.bytes_sent - sent, "take_s": take_s,
                                    "result": result})
        out.append(figures)
    return out


async def analytics_work(transport: Transport, key: MacKeyShare, cache: TupleCache,
                         cfg: dict[str, Any], mine: Path) -> dict[str, object]:
    """The analyses, after the common connection and delivery of ``_tls_party.run``."""
    return {"jobs": await run_jobs(transport, key, cache, cfg, mine)}


def main() -> int:
    return party_main("analytics.py", analytics_work)

if __name__ == "__main__":
    sys.exit(main())
