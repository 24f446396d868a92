"""Reciprocal, division and square root against plaintext, with the documented error bounds."""

from __future__ import annotations

from fractions import Fraction
from math import isqrt

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from offchain.engine import divide, estimate
from offchain.engine.context import Context
from offchain.engine.fixedpoint import DEFAULT, FixedParams, decode, encode, fx_constant
from offchain.engine.opening import output_many
from offchain.errors import ConfigError
from offchain.field import FieldVec
from fixedpoint_testkit import (
    assert_fault_never_yields_wrong_output, assert_needs_exact, message_count, share)
from offchain_testkit import run, values_of

F = DEFAULT.f
ULP = Fraction(1, 2**F)
TOP = 2**(DEFAULT.k - 1) - 1


@st.composite
def encoding(draw: st.DrawFn, low: int = 0) -> int:
    """A nonzero encoding of any magnitude (bit length uniform), or a range limit."""
    bits = draw(st.integers(1, DEFAULT.k - 1))
    value = draw(st.sampled_from([1, TOP, 2**F]) | st.integers(2**(bits - 1), 2**bits - 1))
    return value if low >= 0 and draw(st.booleans()) else -value


def real(encoded: int) -> Fraction:
    return Fraction(encoded, 2**F)


def check_reciprocal(b: int, r: int) -> None:
    assert abs(real(r) - 1 / real(b)) <= 8 * ULP / abs(real(b)) + ULP, (b, r)


def check_quotient(x: int, y: int, q: int) -> None:
    bound = (8 * abs(real(x)) + 1) * ULP / abs(real(y)) + ULP
    assert abs(real(q) - real(x) / real(y)) <= bound, (x, y, q)


def check_root(x: int, s: int) -> None:
    # sqrt(x) lies in [isqrt(x 2^f), isqrt(x 2^f) + 1) ulp; widen the bound by that ulp.
    low = Fraction(isqrt(x << F), 2**F)
    slack = 8 * ULP * (low + ULP) + 2 * ULP
    assert low - slack <= real(s) <= low + ULP + slack, (x, s)


@st.composite
def division_case(draw: st.DrawFn) -> tuple[list[int], list[int]]:
    size = draw(st.integers(1, 3))
    ys = [draw(encoding()) for _ in range(size)]
    # Quotients stay in range: |x| < 2^(k-2-f) |y| (and a k-bit encoding).
    xs = [draw(st.integers(-min(TOP, abs(y) << (DEFAULT.k - 2 - F)) + 1,
                           min(TOP, abs(y) << (DEFAULT.k - 2 - F)) - 1)) for y in ys]
    return xs, ys


@settings(max_examples=3)
@given(division_case(), st.lists(encoding(low=0), min_size=1, max_size=3))
@example(([1 << F, -(1 << F), TOP, 3 << F, 0], [1, -1, TOP, -(7 << F), 5]), [1, TOP, 1 << F])
@example(([TOP, -TOP, 1], [1 << F, 1 << F, TOP]), [2 << F, 4, 123456789])
def test_reciprocal_division_and_root_are_within_their_bounds(
        case: tuple[list[int], list[int]], roots: list[int]) -> None:
    xs, ys = case
    n, nr = len(xs), len(roots)

    async def program(ctx: Context) -> list[list[int]]:
        x = await share(ctx, 0, FieldVec.from_ints(xs))
        y = await share(ctx, 1, FieldVec.from_ints(ys))
        z = await share(ctx, 2, FieldVec.from_ints([abs(v) for v in roots]))
        outs = [await divide.reciprocal(ctx, y), await divide.divide(ctx, x, y),
                await divide.sqrt(ctx, z)]
        return [v.to_signed_ints() for v in await output_many(ctx, outs)]

    needs = (estimate.input_values(0, n) + estimate.input_values(1, n)
             + estimate.input_values(2, nr) + estimate.reciprocal(n) + estimate.divide(n)
             + estimate.sqrt(nr))
    rec, quo, root = values_of(run(3, program, needs))
    for b, r in zip(ys, rec):
        check_reciprocal(b, r)
    for x, y, q in zip(xs, ys, quo):
        check_quotient(x, y, q)
    for x, s in zip(roots, root):
        check_root(abs(x), s)


def test_zero_is_a_defined_input() -> None:
    async def program(ctx: Context) -> list[list[float]]:
        zero, one = fx_constant(ctx, [0.0, 0.0]), fx_constant(ctx, [1.0, -2.5])
        outs = [await divide.reciprocal(ctx, zero), await divide.divide(ctx, one, zero),
                await divide.sqrt(ctx, zero), await divide.divide(ctx, zero, one)]
        return [decode(v) for v in await output_many(ctx, outs)]

    needs = estimate.reciprocal(2) + 2 * estimate.divide(2) + estimate.sqrt(2)
    assert values_of(run(3, program, needs)) == [[0.0, 0.0]] * 4


def test_decoded_results_match_floats() -> None:
    xs, ys = [10.0, -1.0, 2.0, 1e6], [4.0, 3.0, -0.125, 1e-3]

    async def program(ctx: Context) -> list[list[float]]:
        x, y = await share(ctx, 0, encode(xs)), await share(ctx, 1, encode(ys))
        z = fx_constant(ctx, [16.0, 2.0, 1e-4, 1e6])
        outs = [await divide.divide(ctx, x, y), await divide.sqrt(ctx, z)]
        return [decode(v) for v in await output_many(ctx, outs)]

    needs = (estimate.input_values(0, 4) + estimate.input_values(1, 4) + estimate.divide(4)
             + estimate.sqrt(4))
    quotient, root = values_of(run(3, program, needs))
    exact = [a / b for a, b in zip(decode(encode(xs)), decode(encode(ys)))]
    assert all(abs(q - e) <= 1e-5 * abs(e) + 1e-6 for q, e in zip(quotient, exact)), quotient
    roots = [v ** 0.5 for v in decode(encode([16.0, 2.0, 1e-4, 1e6]))]
    assert all(abs(r - e) <= 1e-5 * e + 1e-6 for r, e in zip(root, roots)), root


@pytest.mark.parametrize("name", ["reciprocal", "divide", "sqrt"])
def test_tuple_needs_are_exact(name: str) -> None:
    async def program(ctx: Context) -> list[int]:
        x = fx_constant(ctx, [3.0])
        out = await (divide.divide(ctx, x, x) if name == "divide"
                     else getattr(divide, name)(ctx, x))
        return (await output_many(ctx, [out]))[0].to_ints()

    assert_needs_exact(program, getattr(estimate, name)(1))


def test_parameters_too_wide_for_division_are_refused() -> None:
    params = FixedParams(k=110, f=40)

    async def program(ctx: Context) -> None:
        await divide.reciprocal(ctx, fx_constant(ctx, [1.0], params), params)

    assert all(isinstance(r, ConfigError) for r in run(2, program, estimate.mul(1)))
    assert divide.newton_steps(divide.RCP_EPS, 20) == 3
    assert divide.newton_steps(divide.RSQRT_EPS, 20, rsqrt=True) == 3


# A cheater never makes an honest party output a wrong quotient ------------------------------
X, Y = [7.0, -1.5], [2.0, 0.25]


def right(quotients: list[int]) -> bool:
    return all(abs(real(q) - Fraction(x / y)) <= 8 * ULP * abs(Fraction(x / y)) + 2 * ULP
               for q, x, y in zip(quotients, X, Y))


NEEDS = estimate.input_values(0, 2) + estimate.input_values(1, 2) + estimate.divide(2)


async def division(ctx: Context) -> list[int]:
    x = await share(ctx, 0, encode(X))
    y = await share(ctx, 1, encode(Y))
    return (await output_many(ctx, [await divide.divide(ctx, x, y)]))[0].to_signed_ints()


MESSAGES = message_count(division, NEEDS)


def test_the_division_program_is_right_and_long() -> None:
    assert right(values_of(run(3, division, NEEDS)))
    assert MESSAGES >= 40


def test_a_corrupted_message_never_yields_a_wrong_quotient() -> None:
    for k in range(MESSAGES):
        assert_fault_never_yields_wrong_output(division, NEEDS, k, right,
                                               to_everyone=k % 2 == 1)
