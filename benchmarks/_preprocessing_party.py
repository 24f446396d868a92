"""One party of ``benchmarks/preprocessing.py`` (a child process; not run by hand).

    python benchmarks/_preprocessing_party.py WORKDIR PARTY

WORKDIR/config.json (written by preprocessing.py) holds what ``_tls_party.py``'s
config holds (job id, fingerprints, passphrase, timeout, sealed batches in
delivery order) plus ``mode``. The exchange with the parent and the connection
are ``_tls_party.run``'s: print {"port": p}, read {"ports": [...]}, connect
(mutual TLS 1.3, pinned), take delivery of every sealed batch (read, open,
sacrifice over TLS, store in the party's SQLite TupleCache). Then:

- mode ``dealer``: the batches were the dealer's; this party adds the bytes
  it sent (the sacrifice's, and the barrier's 4 bytes per peer) and its peak RSS.
- mode ``dealerless`` (no sealed batches): LowGear with ``lowgear`` =
  {"small": bool, "batches": b, "ciphertexts": k}. The ring's tables are built
  (``warm_s``), a barrier, the session setup (:func:`offchain.dealerless.setup`:
  keys and encrypted MAC key shares), a barrier, then b triple batches of k
  ciphertexts, each accepted by the sacrifice and dropped before the next,
  so one batch at a time is held. Per batch and in total: wall seconds, this
  process's CPU seconds (all threads), bytes this party gave its transport,
  and checked triples.

The last line of stdout is this party's figures as JSON, with ``peak_rss_mb``
(``ru_maxrss``, the whole process's life, in MiB). Log lines go to stderr.
"""

from __future__ import annotations

import asyncio
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _tls_party import party_main, sync  # noqa: E402
from lowgear import warm  # noqa: E402

from offchain.dealerless import setup, triple_batch  # noqa: E402
from offchain.engine.sacrifice import accept_batch  # noqa: E402
from offchain.engine.session import Session  # noqa: E402
from offchain.lattice.params import RingParams, production, small  # noqa: E402
from offchain.net.transport import Transport  # noqa: E402
from offchain.preprocessing.cache import TupleCache  # noqa: E402
from offchain.shares import MacKeyShare  # noqa: E402


def peak_rss_mb() -> float:
    """The process's peak resident set so far, in MiB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass(frozen=True)
class Mark:
    """A point in this party's run: wall clock, process CPU time, bytes sent so far."""

    wall: float
    cpu: float
    sent: int

    @classmethod
    def now(cls, transport: Transport) -> Mark:
        return cls(time.perf_counter(), time.process_time(), transport.stats.bytes_sent)

    def since(self, start: Mark) -> dict[str, float]:
        return {"wall_s": self.wall - start.wall, "cpu_s": self.cpu - start.cpu,
                "bytes": self.sent - start.sent}


def ring(spec: dict[str, Any]) -> RingParams:
    """The ring the parent chose: production (N = 2^15, 13 primes) or N = 64 for a quick check."""
    return small(64, 13) if spec["small"] else production()


async def dealerless_work(transport: Transport, key: MacKeyShare, cache: TupleCache,
                          cfg: dict[str, Any], mine: Path) -> dict[str, object]:
    """LowGear setup then the triple batches, each sacrificed (see the module docstring)."""
    spec = cfg["lowgear"]
    params = ring(spec)
    start = time.perf_counter()
    await asyncio.to_thread(warm, params)
    warm_s = time.perf_counter() - start
    await sync(transport)
    ctx = Session(transport, key)
    before = Mark.now(transport)
    lowgear = await setup(ctx, params)
    setup_done = Mark.now(transport)
    await sync(transport)
    first = previous = Mark.now(transport)
    batches = []
    for _ in range(spec["batches"]):
        checked = len(await accept_batch(ctx, await triple_batch(ctx, lowgear, spec["ciphertexts"])))
        mark = Mark.now(transport)
        batches.append({**mark.since(previous), "checked": checked})
        previous = mark
    return {"mode": "dealerless", "warm_s": warm_s, "setup": setup_done.since(before),
            "total": {**previous.since(first), "checked": sum(b["checked"] for b in batches)},
            "batches": batches, "peak_rss_mb": peak_rss_mb()}


async def dealer_work(transport: Transport, key: MacKeyShare, cache: TupleCache,
                      cfg: dict[str, Any], mine: Path) -> dict[str, object]:
    """After ``_tls_party.run`` took delivery of the dealer's batches: the bytes sent and the peak RSS."""
    return {"mode": "dealer", "bytes_sent": transport.stats.bytes_sent, "peak_rss_mb": peak_rss_mb()}


async def work(transport: Transport, key: MacKeyShare, cache: TupleCache,
               cfg: dict[str, Any], mine: Path) -> dict[str, object]:
    """The work of the config's ``mode``."""
    run = dealerless_work if cfg["mode"] == "dealerless" else dealer_work
    return await run(transport, key, cache, cfg, mine)


def main() -> int:
    return party_main("preprocessing.py", work)


if __name__ == "__main__":
    sys.exit(main())
