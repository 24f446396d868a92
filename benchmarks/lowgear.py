"""Benchmark of LowGear triple generation: n parties in one process over the in-memory transport.

    .venv/bin/python benchmarks/lowgear.py                  # N = 2^15, 13 primes, 3 parties
    .venv/bin/python benchmarks/lowgear.py --parties 2 --batches 2 --json

Each party runs the session setup (keys, encrypted MAC key shares), then
``--batches`` triple batches of ``--ciphertexts`` ciphertexts per party,
each accepted by the engine's sacrifice (N/2 checked triples per ciphertext). All parties share this process and its
cores, so the wall time is that of the whole consortium on this machine;
CPU seconds are the process's, over all threads. Bytes are those each party
gave its transport (``transport.stats.bytes_sent``), the same for every party.
The ring's transform tables are built before the clock starts (a one-off cost
per process). The setup includes the key check and the MAC key's proof;
each batch includes its TopGear proofs (one per 6 ciphertexts of a party:
``--ciphertexts 6`` pays no padding).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from offchain.dealerless import setup, triple_batch
from offchain.engine.sacrifice import accept_batch
from offchain.engine.session import Session
from offchain.field import FieldVec
from offchain.lattice.bgv import encrypt, keygen
from offchain.lattice.params import RingParams, production, small
from offchain.lattice.slots import decode, encode
from offchain.net.memory import MemoryNetwork, MemoryTransport, run_parties
from offchain.shares import MacKeyShare, split_key


@dataclass
class PartyFigures:
    setup_bytes: int = 0
    batch_bytes: int = 0
    checked: int = 0


def warm(params: RingParams) -> None:
    """Builds the cached transform, switching and CRT tables of the ring (and its return level)."""
    sk, pk = keygen(params)
    ct = encrypt(pk, encode(FieldVec.zeros(params.n)))
    sk.decrypt(ct.switch_to(params.levels // 2))
    decode(FieldVec.zeros(params.n))


def party(key_shares: list[MacKeyShare], i: int, params: RingParams, batches: int, ciphertexts: int,
          figures: list[PartyFigures], marks: dict[str, float]) -> Callable[[MemoryTransport], Awaitable[None]]:
    async def run(t: MemoryTransport) -> None:
        ctx = Session(t, key_shares[i])
        lowgear = await setup(ctx, params)
        marks.setdefault("setup", time.perf_counter())
        figures[i].setup_bytes = t.stats.bytes_sent
        for _ in range(batches):
            checked = await accept_batch(ctx, await triple_batch(ctx, lowgear, ciphertexts))
            figures[i].checked += len(checked)
        figures[i].batch_bytes = t.stats.bytes_sent - figures[i].setup_bytes
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parties", type=int, default=3)
    parser.add_argument("--batches", type=int, default=1)
    parser.add_argument("--ciphertexts", type=int, default=1, help="ciphertexts per party in each batch")
    parser.add_argument("--small", action="store_true", help="N = 64 with thirteen primes instead of production")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    params = small(64, 13) if args.small else production()
    warm(params)
    key_shares = split_key(FieldVec.random(1)[0], args.parties)
    figures = [PartyFigures() for _ in range(args.parties)]
    marks: dict[str, float] = {}
    start, cpu = time.perf_counter(), time.process_time()
    results = asyncio.run(run_parties(MemoryNetwork(args.parties, timeout=600), [
        party(key_shares, i, params, args.batches, args.ciphertexts, figures, marks) for i in range(args.parties)]))
    end, cpu_end = time.perf_counter(), time.process_time()
    for r in results:
        if isinstance(r, BaseException):
            raise r
    # The setup ends on a broadcast round that every party completes at about the same time,
    # so the first party to finish it marks the start of the batches.
    checked = figures[0].checked
    batch_s = end - marks["setup"]
    out = {
        "parties": args.parties, "n": params.n, "primes": params.levels, "batches": args.batches,
        "ciphertexts_per_batch": args.ciphertexts,
        "checked_triples": checked, "wall_s": round(end - start, 2), "cpu_s": round(cpu_end - cpu, 2),
        "setup_s": round(marks["setup"] - start, 2), "batches_s": round(batch_s, 2),
        "checked_triples_per_s": round(checked / batch_s), "checked_triples_per_s_incl_setup": round(
            checked / (end - start)),
        "setup_bytes_per_party": figures[0].setup_bytes,
        "bytes_per_party_per_checked_triple": round(figures[0].batch_bytes / checked),
        "bytes_per_party_per_checked_triple_incl_setup": round(
            (figures[0].setup_bytes + figures[0].batch_bytes) / checked),
    }
    for k, v in out.items():
        print(f"{k:48s} {v}")
    if args.json:
        print(json.dumps(out))


if __name__ == "__main__":
    main()
