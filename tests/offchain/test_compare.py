"""Comparisons against plaintext (LTZ, EQZ, <, <=, >, >=, ==, min/max, argmax), needs, faults."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from offchain.engine import compare, estimate
from offchain.engine.context import Context
from offchain.engine.fixedpoint import decode, encode, fx_constant
from offchain.engine.opening import output_many
from offchain.field import FieldVec
from offchain.preprocessing.tuples import Needs
from fixedpoint_testkit import (
    assert_fault_never_yields_wrong_output, assert_needs_exact, message_count, share)
from offchain_testkit import run, values_of

LO, HI = -(2**63), 2**63 - 1
EDGES = [0, 1, -1, HI, LO, HI - 1, LO + 1, 2**62, -(2**62)]
int64 = st.one_of(st.sampled_from(EDGES), st.integers(LO, HI), st.integers(-3, 3))


@st.composite
def int_pairs(draw: st.DrawFn) -> tuple[list[int], list[int]]:
    size = draw(st.integers(1, 5))
    xs = draw(st.lists(int64, min_size=size, max_size=size))
    # Half of the pairs equal, so that equality and ties are exercised.
    ys = [x if draw(st.booleans()) else draw(int64) for x in xs]
    return xs, ys


def pair_needs(n: int) -> Needs:
    return (estimate.input_values(0, n) + estimate.input_values(2, n) + estimate.ltz(n)
            + estimate.eqz(n) + 4 * estimate.less_than(n) + estimate.equal(n)
            + estimate.min_max(n))


@settings(max_examples=6)
@given(int_pairs())
@example(([LO, HI, LO, HI, 0, -1, 1], [HI, LO, LO, HI, -1, 0, 1]))
def test_comparisons_match_plaintext(pair: tuple[list[int], list[int]]) -> None:
    xs, ys = pair
    n = len(xs)

    async def program(ctx: Context) -> list[list[int]]:
        x = await share(ctx, 0, FieldVec.from_ints(xs))
        y = await share(ctx, 2, FieldVec.from_ints(ys))
        outs = [await compare.ltz(ctx, x), await compare.eqz(ctx, x),
                await compare.less_than(ctx, x, y), await compare.less_equal(ctx, x, y),
                await compare.greater_than(ctx, x, y), await compare.greater_equal(ctx, x, y),
                await compare.equal(ctx, x, y), *await compare.min_max(ctx, x, y)]
        return [v.to_signed_ints() for v in await output_many(ctx, outs)]

    got = values_of(run(3, program, pair_needs(n)))
    assert got == [[int(x < 0) for x in xs], [int(x == 0) for x in xs],
                   [int(x < y) for x, y in zip(xs, ys)], [int(x <= y) for x, y in zip(xs, ys)],
                   [int(x > y) for x, y in zip(xs, ys)], [int(x >= y) for x, y in zip(xs, ys)],
                   [int(x == y) for x, y in zip(xs, ys)], [min(p) for p in zip(xs, ys)],
                   [max(p) for p in zip(xs, ys)]]


@settings(max_examples=5)
@given(st.lists(st.integers(-3, 3) | int64, min_size=1, max_size=7))
@example([5])
@example([2, 7, 7, 1, 7])
@example([LO, LO, HI, HI, 0])
def test_tournaments_find_the_first_extreme(xs: list[int]) -> None:
    n = len(xs)

    async def program(ctx: Context) -> list[int]:
        x = await share(ctx, 1, FieldVec.from_ints(xs))
        outs = [*await compare.argmax(ctx, x), *await compare.argmin(ctx, x),
                await compare.max_of(ctx, x), await compare.min_of(ctx, x)]
        return [v.to_signed_ints()[0] for v in await output_many(ctx, outs)]

    needs = (estimate.input_values(1, n) + estimate.argmax(n) + estimate.argmin(n)
             + estimate.max_of(n) + estimate.min_of(n))
    assert values_of(run(3, program, needs)) == [max(xs), xs.index(max(xs)), min(xs),
                                                 xs.index(min(xs)), max(xs), min(xs)]


def test_fixed_point_values_compare_like_reals() -> None:
    xs = [-1.5, 0.0, 2.0**-20, 1e6, -8796093022207.0]
    ys = [-1.25, -0.0, 0.0, 1e6, 8796093022207.0]

    async def program(ctx: Context) -> list[list[int] | list[float]]:
        x = await share(ctx, 0, encode(xs))
        y = fx_constant(ctx, ys)
        lt, eq = await compare.less_than(ctx, x, y), await compare.equal(ctx, x, y)
        value, index = await compare.argmax(ctx, x)
        lt_v, eq_v, max_v, index_v = await output_many(ctx, [lt, eq, value, index])
        return [lt_v.to_ints(), eq_v.to_ints(), decode(max_v), index_v.to_ints()]

    needs = (estimate.input_values(0, 5) + estimate.less_than(5) + estimate.equal(5)
             + estimate.argmax(5))
    assert values_of(run(3, program, needs)) == [[1, 0, 0, 0, 1], [0, 1, 0, 1, 0], [1e6], [3]]


def test_narrow_widths_work_too() -> None:
    xs = list(range(-8, 8))

    async def program(ctx: Context) -> list[list[int]]:
        x = await share(ctx, 0, FieldVec.from_ints(xs))
        outs = [await compare.ltz(ctx, x, 4), await compare.eqz(ctx, x, 4),
                await compare.less_than(ctx, x, x.scale(-1), 4)]
        return [v.to_ints() for v in await output_many(ctx, outs)]

    needs = (estimate.input_values(0, 16) + estimate.ltz(16, 4) + estimate.eqz(16, 4)
             + estimate.less_than(16, 4))
    assert values_of(run(3, program, needs)) == [
        [int(x < 0) for x in xs], [int(x == 0) for x in xs], [int(x < -x) for x in xs]]


def test_rounds_do_not_grow_with_the_vector_length() -> None:
    def rounds(n: int) -> list[int]:
        async def program(ctx: Context) -> int:
            x = fx_constant(ctx, [float(i - n // 2) for i in range(n)])
            before = ctx.transport.stats.rounds
            await compare.less_than(ctx, x, x.scale(2))
            await compare.equal(ctx, x, x)
            return ctx.transport.stats.rounds - before
        return run(3, program, estimate.less_than(n) + estimate.equal(n))

    # LTZ: open c, 7 levels for rho and 65 leaves, the MAC check (5), open; EQZ: 2 + 3.
    assert rounds(1) == rounds(200) == [14 + 5] * 3


@pytest.mark.parametrize("name", ["ltz", "eqz", "less_than", "equal", "min_max", "max_of",
                                  "argmax", "argmin"])
def test_tuple_needs_are_exact(name: str) -> None:
    n = 3
    operation = getattr(compare, name)

    async def program(ctx: Context) -> list[int]:
        x = fx_constant(ctx, [3.0, -1.0, 3.0])
        args = (x,) if name in ("ltz", "eqz", "max_of", "argmax", "argmin") else (x, x)
        out = await operation(ctx, *args)
        out = out if isinstance(out, tuple) else (out,)
        return [v.to_ints() for v in await output_many(ctx, list(out))]

    assert_needs_exact(program, getattr(estimate, name)(n))


# A cheater never makes an honest party output a wrong comparison -----------------------------
X, Y = [5, -7, 0, 2**40], [5, 3, -1, -(2**40)]
EXPECTED = [[int(x < y) for x, y in zip(X, Y)], [int(x == y) for x, y in zip(X, Y)]]
NEEDS = (estimate.input_values(0, 4) + estimate.input_values(1, 4) + estimate.less_than(4)
         + estimate.equal(4))


async def comparison(ctx: Context) -> list[list[int]]:
    x = await share(ctx, 0, FieldVec.from_ints(X))
    y = await share(ctx, 1, FieldVec.from_ints(Y))
    lt = await compare.less_than(ctx, x, y)
    eq = await compare.equal(ctx, x, y)
    return [v.to_ints() for v in await output_many(ctx, [lt, eq])]


MESSAGES = message_count(comparison, NEEDS)


def test_the_comparison_program_is_right_and_long() -> None:
    assert values_of(run(3, comparison, NEEDS)) == EXPECTED
    assert MESSAGES >= 25


@pytest.mark.parametrize("to_everyone", [False, True])
def test_a_corrupted_message_never_yields_a_wrong_comparison(to_everyone: bool) -> None:
    for k in range(MESSAGES):
        assert_fault_never_yields_wrong_output(comparison, NEEDS, k, EXPECTED.__eq__,
                                               to_everyone=to_everyone)



def test_a_mask_keeps_no_more_low_bits_than_its_bound() -> None:
    from offchain.engine.bitwise import take_mask
    from offchain.errors import ConfigError

    for m, bound in ((9, 8), (0, 8)):
        with pytest.raises(ConfigError, match=f"a mask keeps 0 < m <= bound low bits, got m={m}, bound={bound}"):
            take_mask(None, 4, m, bound)  # type: ignore[arg-type]  # Refused before any tuple is taken.
