"""Benchmark of preprocessing delivery and the peer cache (3 parties, one process).

    .venv/bin/python benchmarks/delivery.py                 # a table
    .venv/bin/python benchmarks/delivery.py --json          # ... and one JSON object last
    .venv/bin/python benchmarks/delivery.py --triples 200000 --db-dir /var/tmp

Measures, for one batch of triples: sealing all three parties' parts with
HPKE (serialisation included), opening one party's part (hash checks, HPKE,
parsing), storing the checked tuples in a fresh SQLite cache, and handing
them out with ``take`` (in chunks of several sizes, each a committed
transaction with synchronous=FULL), ``take_range`` and a job's source.
The sacrifice is not included (see benchmarks/engine.py).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # The test harness (n parties in one process).

from harness.dealing import unchecked
from offchain.identity import create  # noqa: E402
from offchain.preprocessing.cache import TupleCache  # noqa: E402
from offchain.preprocessing.dealer import Dealer  # noqa: E402
from offchain.preprocessing.delivery import PartyDelivery, open_batch, seal_batch  # noqa: E402
from offchain.preprocessing.tuples import TupleKey, TupleKind  # noqa: E402

TRIPLE = TupleKey(TupleKind.TRIPLE)


def timed(fn):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def bench(n: int, workdir: Path) -> dict[str, float]:
    orgs = [create(workdir / f"org{i}", f"org{i}", f"127.0.0.1:{9000 + i}", b"bench")
            for i in range(3)]
    parts = Dealer.create(3)[0].triples(n)
    sealed, t_seal = timed(lambda: seal_batch(parts, [o.hpke_public for o in orgs]))
    wire = sealed.delivery(0).to_bytes()
    record = sealed.chain_record()
    batch, t_open = timed(lambda: open_batch(orgs[0], 0, PartyDelivery.from_bytes(wire), record))
    out: dict[str, float] = {
        "triples": n, "seal_triples_per_s": n / t_seal, "open_triples_per_s": n / t_open,
        "delivery_bytes_per_triple": len(wire) / n}
    tuples = unchecked(batch)
    others = [Dealer.create(3)[0].triples(n)[0] for _ in range(3)]
    with TupleCache(workdir / "peer.db") as cache:
        _, t_store = timed(lambda: cache.store(batch.batch_id, tuples))
        out["store_triples_per_s"] = n / t_store
        for b in others:
            cache.store(b.batch_id, unchecked(b))
        out.update(bench_takes(cache, n, [b.batch_id for b in others]))
    out["db_bytes_per_triple"] = (workdir / "peer.db").stat().st_size / (4 * n)
    return out


def bench_takes(cache: TupleCache, n: int, batch_ids: list[bytes]) -> dict[str, float]:
    out: dict[str, float] = {}
    for chunk in (10, 1000, n // 4):
        calls = max(1, min(200, (n // 4) // chunk))
        _, t = timed(lambda: [cache.take(TRIPLE, chunk) for _ in range(calls)])
        out[f"take_{chunk}_triples_per_s"] = calls * chunk / t
        out[f"take_{chunk}_ms_per_call"] = 1000 * t / calls
    _, t = timed(lambda: [cache.take_range(batch_ids[1], s, 1000) for s in range(0, n, 1000)])
    out["take_range_1000_triples_per_s"] = n / t
    cache.reserve_for_job(1, [(batch_ids[2], 0, n)])
    job = cache.job_source(1)
    _, t = timed(lambda: [job.take(TRIPLE, 1000) for _ in range(n // 1000)])
    out["job_take_1000_triples_per_s"] = (n // 1000) * 1000 / t
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--triples", type=int, default=100_000)
    parser.add_argument("--db-dir", type=Path, default=None,
                        help="where the cache database lives (default: a temporary directory)")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.db_dir) as tmp:
        result = bench(args.triples, Path(tmp))
    for name, value in result.items():
        print(f"{name:34s} {value:14,.1f}")
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
