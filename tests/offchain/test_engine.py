"""Online protocols against plaintext: input, linear operations, mul, square, open, output."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offchain.engine import estimate
from offchain.engine.arith import mul, square
from offchain.engine.context import Context
from offchain.engine.inputs import input_values
from harness.local import run_local
from offchain.engine.opening import open_value, output, output_many
from offchain.errors import ConfigError, TuplesExhausted
from offchain.field import P, FieldVec
from offchain.preprocessing.tuples import TupleKey, TupleKind
from offchain_testkit import run, values_of

EDGES = [0, 1, -1, 2**63 - 1, -(2**63), P - 1, P // 2, (P + 1) // 2, 2**64]
element = st.one_of(st.sampled_from(EDGES), st.integers(-(2**64), 2**64),
                    st.integers(0, P - 1))


@st.composite
def case(draw: st.DrawFn) -> tuple[int, list[int], list[int], int]:
    n_parties = draw(st.sampled_from([2, 3, 4]))
    size = draw(st.integers(1, 6))
    x = draw(st.lists(element, min_size=size, max_size=size))
    y = draw(st.lists(element, min_size=size, max_size=size))
    return n_parties, x, y, draw(element)


@given(case())
def test_every_operation_matches_plaintext(c: tuple[int, list[int], list[int], int]) -> None:
    n, x, y, k = c
    size = len(x)
    owner_y = n - 1

    async def program(ctx: Context) -> list[FieldVec]:
        sx = await input_values(ctx, 0, FieldVec.from_ints(x) if ctx.party == 0 else None, size)
        sy = await input_values(ctx, owner_y, FieldVec.from_ints(y) if ctx.party == owner_y
                                else None, size)
        prod = await mul(ctx, sx, sy)
        sq = await square(ctx, sx)
        lin = (sx + sy).scale(k).add_public(k, ctx.key) - sy.rsub_public(3, ctx.key)
        return await output_many(ctx, [sx, prod, sq, lin, sx - sy])

    needs = (estimate.input_values(0, size) + estimate.input_values(owner_y, size)
             + estimate.mul(size) + estimate.square(size))
    got = [v.to_ints() for v in values_of(run(n, program, needs))]
    assert got[0] == [u % P for u in x]
    assert got[1] == [u * v % P for u, v in zip(x, y)]
    assert got[2] == [u * u % P for u in x]
    assert got[3] == [((u + v) * k + k - (3 - v)) % P for u, v in zip(x, y)]
    assert got[4] == [(u - v) % P for u, v in zip(x, y)]


@settings(max_examples=5)
@given(st.lists(element, min_size=1, max_size=4))
def test_chained_products_with_sacrificed_tuples(x: list[int]) -> None:
    size = len(x)

    async def program(ctx: Context) -> FieldVec:
        s = await input_values(ctx, 1, FieldVec.from_ints(x) if ctx.party == 1 else None, size)
        cube = await mul(ctx, await square(ctx, s), s)
        return await output(ctx, await mul(ctx, cube, cube))

    needs = estimate.input_values(1, size) + estimate.mul(2 * size) + estimate.square(size)
    got = values_of(run(3, program, needs, sacrifice=True))
    assert got.to_ints() == [pow(u, 6, P) for u in x]


def test_random_bits_and_trunc_pairs_are_available_to_later_protocols() -> None:
    async def program(ctx: Context) -> list[list[int]]:
        (b,) = ctx.take(TupleKind.BIT, 20).columns
        r, r_low = ctx.take(TupleKey(TupleKind.TRUNC, f=16, bits=80), 5).columns
        values = await output_many(ctx, [b, r, r_low])
        return [v.to_ints() for v in values]

    needs = estimate.bits(20) + estimate.trunc(5, 16, 80)
    assert needs == estimate.bits(20 + 5 * 80), "truncation pairs are built from bits"
    bits, r, r_low = values_of(run(3, program, needs, sacrifice=True))
    assert set(bits) <= {0, 1}
    assert all(v < 2**80 for v in r) and r_low == [v % 2**16 for v in r]
    assert len(set(r)) == 5 and max(r) > 2**70


def test_a_whole_vector_multiplies_in_one_round() -> None:
    async def program(ctx: Context) -> int:
        x = await input_values(ctx, 0, FieldVec.from_ints(range(500)) if ctx.party == 0
                               else None, 500)
        before = ctx.transport.stats.rounds
        await mul(ctx, x, x)
        return ctx.transport.stats.rounds - before

    # Party 0 sends its input and then its Beaver shares without waiting in between,
    # so by the transport's definition both fall into one round for it.
    results = run(3, program, estimate.input_values(0, 500) + estimate.mul(500))
    assert results[1:] == [1, 1] and results[0] <= 1


def test_partial_openings_wait_for_the_check() -> None:
    async def program(ctx: Context) -> int:
        x = await input_values(ctx, 0, FieldVec.from_ints([7]) if ctx.party == 0 else None, 1)
        await open_value(ctx, x)
        return len(ctx.pending)

    assert run(2, program, estimate.input_values(0, 1)) == [1, 1]


def test_running_out_of_tuples_is_reported() -> None:
    async def program(ctx: Context) -> None:
        x = await input_values(ctx, 0, FieldVec.from_ints([1, 2]) if ctx.party == 0 else None, 2)
        await mul(ctx, x, x)

    results = run(2, program, estimate.input_values(0, 2) + estimate.mul(1))
    assert all(isinstance(r, TuplesExhausted) and r.missing == 1 for r in results)


def test_input_arguments_are_validated_before_sending() -> None:
    async def program(ctx: Context) -> None:
        await input_values(ctx, 0, FieldVec.from_ints([1]), 1)  # Everyone claims to own it.

    results = run(2, program, estimate.input_values(0, 1))
    assert isinstance(results[1], ConfigError)


def test_run_local_from_the_docstring() -> None:
    async def program(ctx: Context) -> FieldVec:
        x = await input_values(ctx, 0, FieldVec.from_ints([3, -4]) if ctx.party == 0 else None, 2)
        return await output(ctx, await mul(ctx, x, x))

    needs = estimate.input_values(0, 2) + estimate.mul(2)
    results = asyncio.run(run_local(3, program, needs=needs))
    assert [r.to_signed_ints() for r in results] == [[9, 16]] * 3


@pytest.mark.parametrize("n", [2, 5])
def test_party_counts(n: int) -> None:
    async def program(ctx: Context) -> FieldVec:
        xs = [await input_values(ctx, i, FieldVec.from_ints([i + 2]) if ctx.party == i
                                 else None, 1) for i in range(n)]
        acc = xs[0]
        for x in xs[1:]:
            acc = await mul(ctx, acc, x)
        return await output(ctx, acc)

    needs = estimate.mul(n - 1)
    for i in range(n):
        needs = needs + estimate.input_values(i, 1)
    product = 1
    for i in range(n):
        product *= i + 2
    assert values_of(run(n, program, needs, sacrifice=True)).to_ints() == [product]


def test_the_engine_runs_on_the_pure_python_reference() -> None:
    code = (
        "import asyncio\n"
        "from offchain import field\n"
        "from offchain.engine import estimate\n"
        "from offchain.engine.arith import mul\n"
        "from offchain.engine.inputs import input_values\n"
        "from harness.local import run_local\n"
        "from offchain.engine.opening import output\n"
        "assert field.BACKEND == 'reference'\n"
        "async def program(ctx):\n"
        "    x = await input_values(ctx, 0, field.FieldVec.from_ints([6, -2]) "
        "if ctx.party == 0 else None, 2)\n"
        "    return (await output(ctx, await mul(ctx, x, x))).to_ints()\n"
        "needs = estimate.input_values(0, 2) + estimate.mul(2)\n"
        "print(asyncio.run(run_local(3, program, needs=needs)))\n")
    tests = str(Path(__file__).resolve().parents[1])  # The harness package lives there.
    env = dict(os.environ, MPCC_FIELD="reference", PYTHONPATH=tests)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=120, check=True)
    assert done.stdout.strip() == "[[36, 4], [36, 4], [36, 4]]"
