"""Benchmark of the SPDZ engine core: 3 parties in one process, in-memory transport.

    .venv/bin/python benchmarks/engine.py            # a table
    .venv/bin/python benchmarks/engine.py --json     # ... and one JSON object as last line

Measures multiplications per second (Beaver, vectors, MAC check included),
comparisons per second (x < y on signed 64-bit values: LTZ with preprocessed
bits, MAC checks included), fixed-point multiplications per second (k=64,
f=20: Beaver product and probabilistic truncation), triples generated and
sacrifice-checked per second (dealer, per-party batch serialisation, joint
sacrifice), rounds and bytes per operation, the memory of one million checked
triples held by one party, and the same workloads in MPyC (3 local parties,
secure numpy arrays of SecInt(64) and SecFxp(64, 20), started as ``-M3``
subprocesses by MPyC itself). Preprocessing is dealt before the clock starts
(without the sacrifice, which ``triples_per_s`` measures on its own).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def bench_mul(size: int, reps: int) -> dict[str, float]:
    """``reps`` chained products of vectors of ``size`` elements, then the MAC check."""
    from offchain.engine import estimate
    from offchain.engine.arith import mul
    from offchain.engine.context import Context
    from offchain.engine.inputs import input_values
    from offchain.engine.local import run_local
    from offchain.engine.mac_check import check_pending
    from offchain.field import FieldVec

    async def program(ctx: Context) -> tuple[float, int, int]:
        x = await input_values(ctx, 0, FieldVec.random(size) if ctx.party == 0 else None, size)
        y = await input_values(ctx, 1, FieldVec.random(size) if ctx.party == 1 else None, size)
        stats = ctx.transport.stats
        rounds, sent = stats.rounds, stats.bytes_sent
        start = time.perf_counter()
        for _ in range(reps):
            x = await mul(ctx, x, y)
        mul_rounds = stats.rounds - rounds
        await check_pending(ctx)
        return time.perf_counter() - start, mul_rounds, stats.bytes_sent - sent

    needs = estimate.input_values(0, size) + estimate.input_values(1, size) + estimate.mul(
        size * reps)
    results = asyncio.run(run_local(3, program, needs=needs, sacrifice=False))
    elapsed = max(r[0] for r in results)  # type: ignore[index]
    _, mul_rounds, sent = results[2]  # type: ignore[misc]  # party 2 owns no input
    return {"mul_per_s": size * reps / elapsed, "rounds_per_mul_call": mul_rounds / reps,
            "bytes_per_mul": sent / (size * reps)}


def bench_cmp(size: int) -> dict[str, float]:
    """x < y elementwise on ``size`` signed 64-bit values, then the MAC check."""
    from offchain.engine import estimate
    from offchain.engine.compare import less_than
    from offchain.engine.context import Context
    from offchain.engine.inputs import input_values
    from offchain.engine.local import run_local
    from offchain.engine.mac_check import check_pending
    from offchain.field import FieldVec

    values = FieldVec.from_ints(v - 2**62 for v in range(0, 2**63, 2**63 // size))[:size]

    async def program(ctx: Context) -> tuple[float, int, int]:
        x = await input_values(ctx, 0, values if ctx.party == 0 else None, size)
        y = await input_values(ctx, 1, -values if ctx.party == 1 else None, size)
        stats = ctx.transport.stats
        rounds, sent = stats.rounds, stats.bytes_sent
        start = time.perf_counter()
        await less_than(ctx, x, y)
        calls = stats.rounds - rounds
        await check_pending(ctx)
        return time.perf_counter() - start, calls, stats.bytes_sent - sent

    needs = (estimate.input_values(0, size) + estimate.input_values(1, size)
             + estimate.less_than(size))
    results = asyncio.run(run_local(3, program, needs=needs, sacrifice=False))
    elapsed = max(r[0] for r in results)  # type: ignore[index]
    _, rounds, sent = results[2]  # type: ignore[misc]
    return {"cmp_vector": size, "cmp_per_s": size / elapsed, "rounds_per_cmp_call": rounds,
            "bytes_per_cmp": sent / size}


def bench_fxmul(size: int, reps: int) -> dict[str, float]:
    """``reps`` chained fixed-point products (k=64, f=20) of ``size`` elements, MAC check."""
    from offchain.engine import estimate
    from offchain.engine.context import Context
    from offchain.engine.fixedpoint import encode, fx_mul
    from offchain.engine.inputs import input_values
    from offchain.engine.local import run_local
    from offchain.engine.mac_check import check_pending

    xs = encode([(i % 2000 - 1000) / 7 for i in range(size)])
    ys = encode([(-1.0) ** i for i in range(size)])

    async def program(ctx: Context) -> tuple[float, int, int]:
        x = await input_values(ctx, 0, xs if ctx.party == 0 else None, size)
        y = await input_values(ctx, 1, ys if ctx.party == 1 else None, size)
        stats = ctx.transport.stats
        rounds, sent = stats.rounds, stats.bytes_sent
        start = time.perf_counter()
        for _ in range(reps):
            x = await fx_mul(ctx, x, y)
        calls = stats.rounds - rounds
        await check_pending(ctx)
        return time.perf_counter() - start, calls, stats.bytes_sent - sent

    needs = (estimate.input_values(0, size) + estimate.input_values(1, size)
             + estimate.fx_mul(size * reps))
    results = asyncio.run(run_local(3, program, needs=needs, sacrifice=False))
    elapsed = max(r[0] for r in results)  # type: ignore[index]
    _, rounds, sent = results[2]  # type: ignore[misc]
    return {"fxmul_vector": size, "fxmul_per_s": size * reps / elapsed,
            "rounds_per_fxmul_call": rounds / reps, "bytes_per_fxmul": sent / (size * reps)}


def bench_triples(count: int) -> dict[str, float]:
    """Dealer -> bytes -> parse -> joint sacrifice for ``count`` triples, 3 parties."""
    from offchain.engine.context import Context
    from offchain.net.memory import MemoryNetwork, run_parties
    from offchain.preprocessing.dealer import Dealer
    from offchain.preprocessing.sacrifice import accept_batch
    from offchain.preprocessing.source import MemoryTupleSource
    from offchain.preprocessing.tuples import PartyBatch

    dealer, keys = Dealer.create(3)
    start = time.perf_counter()
    wire = [b.to_bytes() for b in dealer.triples(count)]
    dealt = time.perf_counter()

    def party(i: int):  # type: ignore[no-untyped-def]
        async def run(t):  # type: ignore[no-untyped-def]
            batch = PartyBatch.from_bytes(wire[i])
            return await accept_batch(Context(t, keys[i], MemoryTupleSource()), batch)
        return run

    results = asyncio.run(run_parties(MemoryNetwork(3), [party(i) for i in range(3)]))
    for r in results:
        if isinstance(r, BaseException):
            raise r
    end = time.perf_counter()
    return {"triples_per_s": count / (end - start), "dealer_s": dealt - start,
            "sacrifice_s": end - dealt}


def bench_memory(total: int, chunk: int) -> dict[str, float]:
    """Memory held by ``total`` checked triples of one party (tracemalloc sees numpy)."""
    from offchain.preprocessing.dealer import Dealer
    from offchain.preprocessing.source import MemoryTupleSource

    dealer, _ = Dealer.create(3)
    gc.collect()
    tracemalloc.start()
    source = MemoryTupleSource()
    for _ in range(total // chunk):
        source.add(dealer.triples(chunk)[0].unchecked())
        gc.collect()
    held, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    scale = 1e6 / total / 2**20
    return {"mb_per_million_triples": held * scale, "peak_mb_while_loading": peak / 2**20}


def bench_mpyc(args: argparse.Namespace) -> dict[str, float]:
    """Runs this script as an MPyC worker with -M3 (MPyC spawns parties 1 and 2)."""
    port = 20000 + os.getpid() % 20000
    cmd = [sys.executable, __file__, "--mpyc-worker", "--size", str(args.size), "--reps",
           str(args.reps), "--cmp-size", str(args.cmp_size), "--fx-size", str(args.fx_size),
           "--fx-reps", str(args.fx_reps), "-M3", "-B", str(port), "--no-log"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def mpyc_worker(args: argparse.Namespace) -> None:
    """One MPyC party; party 0 prints its timings as JSON."""
    import numpy as np
    from mpyc.runtime import mpc

    async def main() -> None:
        secint, secfxp = mpc.SecInt(64), mpc.SecFxp(64, 20)
        await mpc.start()
        size, reps = args.size, args.reps
        values = np.arange(size, dtype=object) % 1000
        x = mpc.input(secint.array(values), senders=0)
        y = mpc.input(secint.array(values), senders=1)
        await mpc.barrier()
        start = time.perf_counter()
        for _ in range(reps):
            x = x * y
        await mpc.output(x[0])
        mul_s = time.perf_counter() - start

        n = args.cmp_size
        ints = np.array([v - 2**62 for v in range(0, 2**63, 2**63 // n)][:n], dtype=object)
        a = mpc.input(secint.array(ints), senders=0)
        b = mpc.input(secint.array(-ints), senders=1)
        await mpc.barrier()
        start = time.perf_counter()
        await mpc.output((a < b)[0])
        cmp_s = time.perf_counter() - start

        m, fx_reps = args.fx_size, args.fx_reps
        u = mpc.input(secfxp.array(np.array([(i % 2000 - 1000) / 7 for i in range(m)])),
                      senders=0)
        v = mpc.input(secfxp.array(np.array([(-1.0) ** i for i in range(m)])), senders=1)
        await mpc.barrier()
        start = time.perf_counter()
        for _ in range(fx_reps):
            u = u * v
        await mpc.output(u[0])
        fx_s = time.perf_counter() - start
        await mpc.shutdown()
        if mpc.pid == 0:
            print(json.dumps({"mpyc_mul_per_s": size * reps / mul_s, "mpyc_cmp_per_s": n / cmp_s,
                              "mpyc_fxmul_per_s": m * fx_reps / fx_s}))

    mpc.run(main())


def main() -> int:
    parser = argparse.ArgumentParser(description="engine benchmark (3 parties)")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    parser.add_argument("--size", type=int, default=100_000, help="vector length per mul")
    parser.add_argument("--reps", type=int, default=5, help="chained multiplications")
    parser.add_argument("--triples", type=int, default=200_000, help="triples to generate")
    parser.add_argument("--memory-triples", type=int, default=1_000_000)
    parser.add_argument("--cmp-size", type=int, default=5_000, help="comparisons")
    parser.add_argument("--fx-size", type=int, default=10_000, help="vector length per fx mul")
    parser.add_argument("--fx-reps", type=int, default=2, help="chained fixed-point muls")
    parser.add_argument("--no-mpyc", action="store_true", help="skip the MPyC comparison")
    parser.add_argument("--mpyc-worker", action="store_true", help=argparse.SUPPRESS)
    args, _ = parser.parse_known_args()
    if args.mpyc_worker:
        mpyc_worker(args)
        return 0
    from offchain.field import BACKEND

    figures: dict[str, object] = {"parties": 3, "field_backend": BACKEND,
                                  "mul_vector": args.size, "mul_reps": args.reps}
    figures.update(bench_mul(args.size, args.reps))
    figures.update(bench_cmp(args.cmp_size))
    figures.update(bench_fxmul(args.fx_size, args.fx_reps))
    figures.update(bench_triples(args.triples))
    figures.update(bench_memory(args.memory_triples, min(args.memory_triples, 250_000)))
    ratios = (("mul", "mul"), ("cmp", "cmp"), ("fxmul", "fxmul"))
    if args.no_mpyc:
        for ours, _ in ratios:
            figures[f"mpyc_{ours}_per_s"] = figures[f"{ours}_ratio_vs_mpyc"] = None
    else:
        figures.update(bench_mpyc(args))
        for ours, theirs in ratios:
            figures[f"{ours}_ratio_vs_mpyc"] = (figures[f"{ours}_per_s"]  # type: ignore[operator]
                                                / figures[f"mpyc_{theirs}_per_s"])
    for key, value in figures.items():
        shown = f"{value:,.2f}" if isinstance(value, float) else str(value)
        print(f"{key:<26} {shown:>16}")
    if args.json:
        print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
