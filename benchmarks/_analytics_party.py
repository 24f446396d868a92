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
(``reserve(registry.needs(spec))``, before the clock), a barrier, and
``registry.run`` timed with the rounds and bytes this party sent during it.
The last line of stdout is this party's figures, with every run's result,
as JSON. Log lines go to stderr.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _tls_party import emit, sync, take_delivery  # noqa: E402

from offchain import identity  # noqa: E402
from offchain.analytics import registry  # noqa: E402
from offchain.analytics.shape import categorical_columns, numeric_columns  # noqa: E402
from offchain.analytics.spec import JobSpec  # noqa: E402
from offchain.engine.context import Context  # noqa: E402
from offchain.net.tls import (  # noqa: E402
    ChannelSettings, JobRoster, Listener, RosterEntry, TlsCredentials, connect_job,
)
from offchain.net.transport import Transport  # noqa: E402
from offchain.preprocessing.cache import TupleCache  # noqa: E402
from offchain.shares import MacKeyShare  # noqa: E402


async def run_jobs(transport: Transport, key: MacKeyShare, cache: TupleCache,
                   cfg: dict[str, Any], mine: Path) -> list[dict[str, Any]]:
    """Every job of the config, ``repeats`` times each; their timings and results."""
    out = []
    for job in cfg["jobs"]:
        spec = JobSpec.parse(job["spec"])
        t0 = time.perf_counter()
        path = mine / job["csv"]
        table = registry.read_table(spec, {c: path for c in (*numeric_columns(spec),
                                                             *categorical_columns(spec))})
        figures: dict[str, Any] = {"name": job["name"], "rows": job["rows"],
                                   "load_s": time.perf_counter() - t0, "runs": []}
        for _ in range(cfg["repeats"]):
            t1 = time.perf_counter()
            source = cache.reserve(registry.needs(spec))  # The job's tuples, off the clock.
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


async def run(workdir: Path, me: int) -> dict[str, object]:
    cfg = json.loads((workdir / "config.json").read_text())
    mine = workdir / f"p{me}"
    passphrase = bytes.fromhex(cfg["passphrase"])
    org = identity.load(mine / "identity", f"party{me}", passphrase)
    creds = TlsCredentials.from_identity(org, passphrase)
    key = MacKeyShare(me, int(json.loads((mine / "mac_key.json").read_text())["alpha"]))
    settings = ChannelSettings(timeout=cfg["timeout"], connect_timeout=30.0,
                               reconnect_window=10.0)
    listener = await Listener.start("127.0.0.1", 0, handshake_timeout=10.0)
    loop = asyncio.get_running_loop()
    try:
        emit({"port": listener.port})
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            raise RuntimeError("the parent closed stdin before sending the roster")
        ports = json.loads(line)["ports"]
        roster = JobRoster(bytes.fromhex(cfg["job_id"]), tuple(
            RosterEntry(i, f"127.0.0.1:{port}", bytes.fromhex(fp))
            for i, (port, fp) in enumerate(zip(ports, cfg["fingerprints"]))))
        start = time.perf_counter()
        transport = await connect_job(creds, roster, me, listener=listener, settings=settings)
        out: dict[str, object] = {"party": me, "connect_s": time.perf_counter() - start}
        try:
            await sync(transport)
            with TupleCache(mine / "tuples.db") as cache:
                out.update(await take_delivery(transport, key, me, org, cfg, mine, cache))
                out["jobs"] = await run_jobs(transport, key, cache, cfg, mine)
        finally:
            await transport.close()
        return out
    finally:
        await listener.close()


def main() -> int:
    if len(sys.argv) != 3:
        print("usage: _analytics_party.py WORKDIR PARTY (started by analytics.py)",
              file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format=f"party {sys.argv[2]}: %(levelname)s %(name)s: %(message)s")
    emit(asyncio.run(run(Path(sys.argv[1]), int(sys.argv[2]))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
