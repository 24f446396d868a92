"""One party of ``benchmarks/engine.py --transport tls`` (a child process; not run by hand).

    python benchmarks/_tls_party.py WORKDIR PARTY

WORKDIR/config.json (written by engine.py) describes the job: its id, the
parties' certificate fingerprints, the identities' passphrase, the workload
sizes and the sealed batches in delivery order with their chain records.
WORKDIR/p{PARTY}/ holds this party's identity (identity/), MAC key share
(mac_key.json) and deliveries (deliveries/batch_*.bin).

Exchange with the parent, one JSON line each way on stdout/stdin:

1. the party listens on 127.0.0.1 (a free port) and prints {"port": p};
2. the parent answers with {"ports": [p0, p1, p2]}: the roster's endpoints;
3. the party connects (mutual TLS 1.3, pinned), synchronises with an exchange,
   takes delivery of every batch (read, open: hashes + HPKE + parse; sacrifice
   over TLS; store in its own SQLite TupleCache), takes the job's tuples from
   the cache, runs each timed workload and prints its figures as the last line.

Log lines go to stderr.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # The test harness (n parties in one process).
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _workloads import workloads  # noqa: E402

from offchain import identity  # noqa: E402
from offchain.engine.context import Context  # noqa: E402
from offchain.engine.fixedpoint import DEFAULT  # noqa: E402
from offchain.engine.sacrifice import accept_batch  # noqa: E402
from offchain.net.limits import ConnectionLimits  # noqa: E402
from offchain.net.tls import (  # noqa: E402
    ChannelSettings,
    JobRoster,
    Listener,
    RosterEntry,
    TlsCredentials,
    connect_job,
)
from offchain.net.transport import Transport  # noqa: E402
from offchain.preprocessing.cache import TupleCache  # noqa: E402
from offchain.preprocessing.delivery import ChainBatch, PartyDelivery, open_batch  # noqa: E402
from offchain.preprocessing.source import MemoryTupleSource  # noqa: E402
from offchain.preprocessing.tuples import TupleKey, TupleKind, TupleSet, as_key  # noqa: E402
from offchain.shares import MacKeyShare  # noqa: E402

_SACRIFICE_DOMAIN = b"mpcc-bench/sacrifice/v1"


def emit(obj: object) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def sync(transport: Transport) -> None:
    """Every party sends one message to every other and waits for theirs (a barrier)."""
    for peer in transport.peers:
        await transport.send(peer, b"sync")
    for peer in transport.peers:
        if await transport.recv(peer) != b"sync":
            raise RuntimeError(f"party {peer} sent something else than the barrier")


async def take_delivery(transport: Transport, key: MacKeyShare, me: int,
                        org: identity.Identity, cfg: dict[str, Any], mine: Path,
                        cache: TupleCache) -> dict[str, Any]:
    """Fetch (read), open, sacrifice and store every batch; per-step and per-kind times.

    ``triple_batch_checked_s`` lists, per triple batch, its fetch, open and sacrifice (no store);
    ``delivery_cpu_s`` is this process's CPU time over all batches.
    """
    times: dict[str, Any] = {"fetch_s": 0.0, "open_s": 0.0, "sacrifice_s": 0.0, "store_s": 0.0}
    triple_s, triples, per_batch = 0.0, 0, []
    start, cpu = time.perf_counter(), time.process_time()
    for batch in cfg["batches"]:
        t0 = time.perf_counter()
        delivery = PartyDelivery.from_bytes((mine / "deliveries" / batch["file"]).read_bytes())
        t1 = time.perf_counter()
        record = ChainBatch(bytes.fromhex(batch["batch_id"]), TupleKind[batch["kind"]],
                            batch["count"], bytes.fromhex(batch["commitment"]))
        part = open_batch(org, me, delivery, record)
        del delivery
        t2 = time.perf_counter()
        tuples = await accept_batch(Context(transport, key, MemoryTupleSource()), part)
        t3 = time.perf_counter()
        transcript = hashlib.sha256(_SACRIFICE_DOMAIN + record.batch_id
                                    + record.commitment).digest()
        cache.store(record.batch_id, tuples, transcript_hash=transcript, attested=True)
        t4 = time.perf_counter()
        for name, dt in zip(times, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            times[name] += dt
        if record.kind is TupleKind.TRIPLE:
            triple_s += t4 - t0
            triples += record.count
            per_batch.append(t3 - t0)
    times["delivery_s"] = time.perf_counter() - start
    times["delivery_cpu_s"] = time.process_time() - cpu
    times["delivery_tuples"] = sum(b["count"] for b in cfg["batches"])
    times["triple_delivery_s"], times["triples_delivered"] = triple_s, triples
    times["triple_batch_checked_s"] = per_batch
    return times


#: What a party does once its tuples are in its cache: (transport, key, cache, config, its folder) -> figures.
Work = Callable[[Transport, MacKeyShare, TupleCache, dict[str, Any], Path], Awaitable[dict[str, object]]]


async def run(workdir: Path, me: int, work: Work) -> dict[str, object]:
    """Connect to the roster, take delivery of every batch, do ``work``; this party's figures."""
    cfg = json.loads((workdir / "config.json").read_text())
    mine = workdir / f"p{me}"
    passphrase = bytes.fromhex(cfg["passphrase"])
    org = identity.load(mine / "identity", f"party{me}", passphrase)
    creds = TlsCredentials.from_identity(org, passphrase)
    key = MacKeyShare(me, int(json.loads((mine / "mac_key.json").read_text())["alpha"]))
    settings = ChannelSettings(timeout=cfg["timeout"], connect_timeout=30.0,
                               reconnect_window=10.0)
    listener = await Listener.start("127.0.0.1", 0, limits=ConnectionLimits(handshake_timeout=10.0))
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
                out.update(await work(transport, key, cache, cfg, mine))
        finally:
            await transport.close()
        return out
    finally:
        await listener.close()


@dataclass
class PairsAhead(Context):
    """A context that hands out truncation pairs built before the clock (``engine.py --pairs-ahead``)."""

    ready: list[TupleSet] = field(default_factory=list)

    def take(self, kind: TupleKind | TupleKey, count: int) -> TupleSet:
        if as_key(kind).kind is TupleKind.TRUNC and self.ready:
            pairs = self.ready.pop(0)
            if pairs.key != as_key(kind) or len(pairs) != count:
                raise RuntimeError("the workload took other truncation pairs than were built ahead")
            return pairs
        return super().take(kind, count)


async def run_workloads(transport: Transport, key: MacKeyShare, cache: TupleCache,
                        cfg: dict[str, Any], mine: Path) -> dict[str, object]:
    """engine.py's timed workloads, each on the tuples it takes from the cache."""
    out: dict[str, object] = {}
    await sync(transport)
    work = cfg["workload"]
    for name, (program, needs) in workloads(work).items():
        t0 = time.perf_counter()
        source = cache.reserve(needs)  # The job's tuples, out of the cache.
        ctx = Context(transport, key, source)
        if name == "fxmul" and work.get("pairs_ahead"):
            ctx = PairsAhead(transport, key, source)
            ctx.ready = [Context.take(ctx, DEFAULT.trunc_key, work["fx_size"]) for _ in range(work["fx_reps"])]
        out[f"{name}_take_s"] = time.perf_counter() - t0
        await sync(transport)
        elapsed, rounds, sent = await program(ctx)
        out[name] = {"elapsed_s": elapsed, "rounds": rounds, "bytes_sent": sent}
    stats = transport.stats
    out["traffic"] = {"rounds": stats.rounds, "messages_sent": stats.messages_sent,
                      "bytes_sent": stats.bytes_sent, "bytes_received": stats.bytes_received}
    return out


def party_main(started_by: str, work: Work) -> int:
    """The child process's entry: ``python SCRIPT WORKDIR PARTY``; prints the figures last."""
    if len(sys.argv) != 3:
        print(f"usage: {Path(sys.argv[0]).name} WORKDIR PARTY (started by {started_by})", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format=f"party {sys.argv[2]}: %(levelname)s %(name)s: %(message)s")
    emit(asyncio.run(run(Path(sys.argv[1]), int(sys.argv[2]), work)))
    return 0


def main() -> int:
    return party_main("engine.py --transport tls", run_workloads)

if __name__ == "__main__":
    sys.exit(main())
