"""The timed engine workloads of benchmarks/engine.py, shared by its in-memory and TLS modes.

Each factory returns ``(program, needs)``: ``program(ctx)`` provides the inputs
(party 0 and party 1), then times the operation and the MAC check and returns
``(elapsed_s, rounds, bytes_sent)`` measured on ``ctx.transport.stats``
(rounds of the operation only, bytes including the MAC check); ``needs`` is
the preprocessing the program consumes.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from offchain.engine import estimate
from offchain.engine.arith import mul
from offchain.engine.compare import less_than
from offchain.engine.context import Context
from offchain.engine.fixedpoint import encode, fx_mul
from offchain.engine.inputs import input_values
from offchain.engine.mac_check import check_pending
from offchain.field import FieldVec
from offchain.preprocessing.tuples import Needs

Timing = tuple[float, int, int]
Program = Callable[[Context], Awaitable[Timing]]


def mul_workload(size: int, reps: int) -> tuple[Program, Needs]:
    """``reps`` chained products of vectors of ``size`` elements, then the MAC check."""
    async def program(ctx: Context) -> Timing:
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
    return program, needs


def cmp_workload(size: int) -> tuple[Program, Needs]:
    """x < y elementwise on ``size`` signed 64-bit values, then the MAC check."""
    values = FieldVec.from_ints(v - 2**62 for v in range(0, 2**63, 2**63 // size))[:size]

    async def program(ctx: Context) -> Timing:
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
    return program, needs


def fxmul_workload(size: int, reps: int) -> tuple[Program, Needs]:
    """``reps`` chained fixed-point products (k=64, f=20) of ``size`` elements, MAC check."""
    xs = encode([(i % 2000 - 1000) / 7 for i in range(size)])
    ys = encode([(-1.0) ** i for i in range(size)])

    async def program(ctx: Context) -> Timing:
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
    return program, needs


def workloads(cfg: dict[str, int]) -> dict[str, tuple[Program, Needs]]:
    """The three timed workloads for the sizes of ``cfg`` (keys as engine.py's options)."""
    return {"mul": mul_workload(cfg["size"], cfg["reps"]),
            "cmp": cmp_workload(cfg["cmp_size"]),
            "fxmul": fxmul_workload(cfg["fx_size"], cfg["fx_reps"])}
