"""Helpers for the analytics tests: parties, tables split across parties, one MPC run."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from offchain.auditable import routes
from offchain.analytics import common, privacy, registry
from offchain.analytics.data import Table
from offchain.analytics.spec import FixedPoint, JobSpec
from offchain.engine.context import Context
from harness.local import run_local
from offchain.shares import SharedVec

PARTIES = tuple("0x" + f"{i + 1:040x}" for i in range(3))


def spec(**fields: Any) -> JobSpec:
    return JobSpec(participants=fields.pop("participants", PARTIES), **fields)


def split_tables(spec: JobSpec, columns: Mapping[str, Sequence[Any]], parties: int = 3
                 ) -> list[Table]:
    """Row i goes to party i mod parties (every party gets at least one row)."""
    return [registry.table_from_columns(spec, {c: list(v)[p::parties] for c, v in columns.items()})
            for p in range(parties)]


def run_analysis(spec: JobSpec, tables: Sequence[Table], seed: bytes | None = None
                 ) -> dict[str, str]:
    """Runs the analysis as every party with exactly ``routes.needs(spec)``; checks that all
    parties agree and that no tuple is left over (the needs are exact). ``seed`` makes the
    dealer, hence any noise drawn from its random bits, reproducible."""
    needs = routes.needs(spec)

    async def program(ctx: Context) -> tuple[dict[str, str], dict[str, int]]:
        result = await registry.run(ctx, spec, tables[ctx.party])
        left = {str(k): ctx.source.available(k) for k, _ in needs}
        return result, {k: v for k, v in left.items() if v}

    results = asyncio.run(run_local(len(tables), program, needs=needs, sacrifice=False,
                                    seed=seed, timeout=120))
    for r in results:
        if isinstance(r, BaseException):
            raise r
    first = results[0][0]
    assert all(r[0] == first for r in results), results
    assert all(not r[1] for r in results), f"tuples left over: {results[0][1]}"
    return first


#: The default fixed-point format's fractional bits, its ulp and its width.
F = FixedPoint().f
ULP = 2.0**-F
K = FixedPoint().k


def text_error(want: float, f: int = F) -> float:
    """The most that printing adds to a value near ``want`` (common.decimal_text): half the binary
    grid of text_bits(f), then half the last decimal digit; or half the sixth decimal place."""
    bits = common.text_bits(f)
    if bits is None:
        return 5e-7
    digits = bits * 30103 // 100000
    grid = max(2.0 ** -(bits + 1), abs(want) * 2.0**-bits)
    return grid + 0.5 * max(10.0**-digits, abs(want) * 10.0 ** (1 - digits))


def close(got: str, want: float, rel: float, ulps: float = 4, f: int = F) -> bool:
    """|got - want| <= rel |want| + ulps 2^-f, plus what printing the text adds (``text_error``)."""
    return abs(float(got) - want) <= rel * abs(want) + ulps * 2.0**-f + text_error(want, f)


def rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


class Drawn(list):  # type: ignore[type-arg]
    """Party 0's noise draws, one (plan, opened noise per entry) per ``noise_many`` call;
    ``by_party`` holds every party's (the same values, opened)."""

    by_party: dict[int, list[tuple[list[privacy.Noise], list[list[int]]]]]


@contextlib.contextmanager
def opened_noise() -> Iterator[Drawn]:
    """Every ``privacy.noise_many`` draw, also opened for the test while the block runs: a peek
    no real run makes (opening consumes no tuples, so the needs stay exact)."""
    drawn = Drawn()
    drawn.by_party = {}
    sampler = privacy.noise_many

    async def peek(ctx: Context, noises: Sequence[privacy.Noise]) -> list[SharedVec]:
        out = await sampler(ctx, noises)
        opened = await common.reveal(ctx, out)
        drawn.by_party.setdefault(ctx.party, []).append((list(noises), opened))
        if ctx.party == 0:
            drawn.append((list(noises), opened))
        return out

    privacy.noise_many = peek  # type: ignore[assignment]
    try:
        yield drawn
    finally:
        privacy.noise_many = sampler  # type: ignore[assignment]
