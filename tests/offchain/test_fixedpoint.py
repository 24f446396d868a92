"""Fixed point against plaintext: encoding, probabilistic truncation, products, tuple needs."""

from __future__ import annotations

import math

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from offchain.engine import estimate
from offchain.engine.context import Context
from offchain.engine.fixedpoint import (
    DEFAULT, FixedParams, decode, encode, encode_int, fx_constant, fx_mul, fx_mul_public,
    fx_square, trunc_pr)
from offchain.engine.opening import output_many
from offchain.errors import ConfigError
from offchain.field import P, FieldVec
from fixedpoint_testkit import assert_needs_exact, share
from offchain_testkit import run, values_of

K, F = DEFAULT.k, DEFAULT.f
TOP = 2**(K - 1) - 1  # The largest encoding.
LIMIT = TOP / 2**F  # The largest encodable real (rounded to a float).
encoding = st.one_of(st.sampled_from([0, 1, -1, TOP, -TOP, 2**F, -(2**F)]),
                     st.integers(-TOP, TOP))


# Encoding -----------------------------------------------------------------------------------
@given(st.floats(-LIMIT / 2, LIMIT / 2, allow_nan=False))
@example(0.0)
@example(-0.0)
@example(2.0**-F)
@example(-(2.0**-(F + 2)))
def test_decode_inverts_encode_up_to_half_an_ulp(x: float) -> None:
    assert abs(decode(encode([x]))[0] - x) <= 2.0**-(F + 1)


@given(st.integers(-(2**(K - 1 - F)) + 1, 2**(K - 1 - F) - 1))
def test_integers_encode_exactly(x: int) -> None:
    assert encode([x]).to_signed_ints() == [x << F]
    assert decode(encode([x])) == [x]


def test_range_limits() -> None:
    # 2^43 - 2^-20 is no float; the floats nearest the limit and the integers are exact.
    assert encode_int(2.0**(K - 1 - F) - 2.0**-9) == TOP + 1 - 2**11
    assert encode_int(-(2**(K - 1 - F)) + 1) == -TOP - 1 + 2**F
    assert decode(FieldVec.from_ints([TOP, -TOP])) == [TOP / 2**F, -TOP / 2**F]
    for bad in (2**(K - 1 - F), -(2**(K - 1 - F)), 2.0**(K - 1 - F), 1e300):
        with pytest.raises(ConfigError, match="out of range"):
            encode_int(bad)


def test_the_error_names_the_offending_value_and_index() -> None:
    with pytest.raises(ConfigError, match=r"index 2: 8796093022208 is out of range"):
        encode([1.5, -3, 2**43])
    with pytest.raises(ConfigError, match="index 1.*not finite"):
        encode([0.0, math.nan])
    with pytest.raises(ConfigError, match="index 0.*not an int or a float"):
        encode(["1"])  # type: ignore[list-item]


def test_parameters_are_validated() -> None:
    assert FixedParams().product_bound == K + F + 2
    for k, f, kappa in ((213, 20, 40), (64, 63, 40), (64, 0, 40), (64, 20, 0), (180, 40, 40)):
        with pytest.raises(ConfigError):
            FixedParams(k, f, kappa)
    with pytest.raises(ConfigError):
        encode([1.0], f=70, k=64)


# Truncation and products -------------------------------------------------------------------
@settings(max_examples=8)
@given(st.lists(st.integers(-(2**79) + 1, 2**79 - 1), min_size=1, max_size=5),
       st.integers(1, 40))
@example([0, 1, -1, 2**79 - 1, -(2**79) + 1, 2**40, -(2**40) - 1], 20)
def test_trunc_pr_rounds_down_or_up(values: list[int], m: int) -> None:
    n = len(values)

    async def program(ctx: Context) -> list[int]:
        a = await share(ctx, 0, FieldVec.from_ints(values))
        (out,) = await output_many(ctx, [await trunc_pr(ctx, a, m, 80)])
        return out.to_signed_ints()

    got = values_of(run(3, program, estimate.input_values(0, n) + estimate.trunc_pr(n, m, 80)))
    assert all(0 <= d - (v >> m) <= 1 for d, v in zip(got, values)), (got, values)


@st.composite
def factor_pairs(draw: st.DrawFn) -> tuple[list[int], list[int]]:
    """Encodings whose exact product, after truncation, fits in k bits."""
    size = draw(st.integers(1, 5))
    xs = draw(st.lists(encoding, min_size=size, max_size=size))
    ys = []
    for x in xs:
        bound = min(TOP, (TOP << F) // max(abs(x), 1))
        ys.append(draw(st.one_of(st.sampled_from([0, 1, -1, 2**F, -(2**F), bound, -bound]),
                                 st.integers(-bound, bound))))
    return xs, ys


@settings(max_examples=10)
@given(factor_pairs())
@example(([TOP, -TOP, TOP, 0, 1, 2**F], [2**F, 2**F, -(2**F), TOP, 1, -1]))
@example(([-TOP, 3 << F, -(5 << F)], [-(2**F), 7 << F, -(11 << F)]))
def test_products_are_within_one_ulp(pair: tuple[list[int], list[int]]) -> None:
    xs, ys = pair
    n = len(xs)

    async def program(ctx: Context) -> list[list[int]]:
        x = await share(ctx, 0, FieldVec.from_ints(xs))
        y = await share(ctx, 2, FieldVec.from_ints(ys))
        outs = [await fx_mul(ctx, x, y), await fx_square(ctx, y),
                await fx_mul_public(ctx, x, -1.5), await fx_mul_public(ctx, y, [0.25] * n)]
        return [v.to_signed_ints() for v in await output_many(ctx, outs)]

    needs = (estimate.input_values(0, n) + estimate.input_values(2, n) + estimate.fx_mul(n)
             + estimate.fx_square(n) + estimate.fx_mul_public(2 * n))
    prod, sq, scaled, quarter = values_of(run(3, program, needs))
    assert all(0 <= z - (x * y >> F) <= 1 for z, x, y in zip(prod, xs, ys))
    assert all(0 <= z - (y * y >> F) <= 1 for z, y in zip(sq, ys) if abs(y) < 2**41)
    assert all(0 <= z - (-3 * x * 2**F >> (F + 1)) <= 1 for z, x in zip(scaled, xs)
               if abs(x) < TOP // 2)
    assert all(0 <= z - (y >> 2) <= 1 for z, y in zip(quarter, ys))


def test_decoded_products_match_floats() -> None:
    xs, ys = [1.5, -2.25, 1000.125, -0.001, 0.0], [-4.0, -8.5, 0.5, 0.001, 123.0]

    async def program(ctx: Context) -> list[float]:
        x = await share(ctx, 0, encode(xs))
        y = fx_constant(ctx, ys)
        return decode(*(await output_many(ctx, [await fx_mul(ctx, x, y)])))

    got = values_of(run(3, program, estimate.input_values(0, 5) + estimate.fx_mul(5)))
    exact = [a * b for a, b in zip(decode(encode(xs)), ys)]
    assert all(abs(g - e) < 2.0**-F for g, e in zip(got, exact)), (got, exact)


def test_a_product_takes_two_rounds_for_any_length() -> None:
    async def program(ctx: Context) -> int:
        x = fx_constant(ctx, [1.0] * 300)
        before = ctx.transport.stats.rounds
        await fx_mul(ctx, x, x)
        return ctx.transport.stats.rounds - before

    assert run(3, program, estimate.fx_mul(300)) == [2, 2, 2]


def test_fixed_point_tuple_needs_are_exact() -> None:
    async def program(ctx: Context) -> list[int]:
        x = fx_constant(ctx, [1.0, -2.0, 3.0])
        y = await fx_mul(ctx, x, x)
        y = await fx_square(ctx, y)
        y = await fx_mul_public(ctx, y, 0.5)
        y = await trunc_pr(ctx, y, 3, 70)
        return (await output_many(ctx, [y]))[0].to_ints()

    assert_needs_exact(program, estimate.fx_mul(3) + estimate.fx_square(3)
                       + estimate.fx_mul_public(3) + estimate.trunc_pr(3, 3, 70))


def test_truncation_rejects_a_bad_shift() -> None:
    async def program(ctx: Context) -> None:
        await trunc_pr(ctx, fx_constant(ctx, [1.0]), 80, 80)

    assert all(isinstance(r, ConfigError) for r in run(2, program, estimate.fx_mul(1)))
    assert P > 2**(DEFAULT.product_bound + DEFAULT.kappa + 1)
