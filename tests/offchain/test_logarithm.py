"""a log2 a under MPC: the same integer as the plaintext twin, within the documented bound."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from fractions import Fraction

import numpy as np
import pytest

from harness.twins import xlog2x_plain
from offchain.engine import estimate, logarithm
from offchain.engine.context import Context
from offchain.engine.opening import output_many
from offchain.errors import ConfigError
from offchain.field import FieldVec
from fixedpoint_testkit import (
    assert_fault_never_yields_wrong_output, assert_needs_exact, message_count, share)
from offchain_testkit import run, values_of


def test_the_polynomial_fits_log2_within_log2_err_on_every_window_value() -> None:
    t = np.arange(2**logarithm.WINDOW, dtype=np.float64) / 2**logarithm.WINDOW
    p = sum(c / 2**logarithm.COEF_BITS * t**i for i, c in enumerate(logarithm.LOG2_POLY, 1))
    assert np.abs(p - np.log2(1 + t)).max() <= logarithm.LOG2_ERR
    assert (np.diff(p) > 0).all() and p[0] == 0  # Increasing, and exact at powers of two.


@pytest.mark.parametrize("bits", [2, 5, 19, 20, 30])
def test_the_plaintext_twin_is_within_the_documented_bound(bits: int) -> None:
    g = logarithm.scale_bits(bits)
    top = 2**bits - 1
    values = set(range(min(top, 5000) + 1)) | {top, top - 1, 2**(bits - 1), 2**(bits - 1) + 1}
    values |= {int(v) for v in np.random.default_rng(bits).integers(0, top + 1, 3000)}
    for a in sorted(values):
        x = xlog2x_plain(a, bits)
        assert 0 <= x < 2**logarithm.result_bits(bits)
        exact = a * math.log2(a) if a else 0.0
        assert abs(float(Fraction(x, 2**g)) - exact) <= logarithm.error_bound(a, bits) + 1e-9, a
    assert xlog2x_plain(1, bits) == 0
    for e in range(bits):
        assert xlog2x_plain(2**e, bits) == e * 2**e * 2**g


def test_the_truncation_term_is_needed_only_above_the_window() -> None:
    bits, h = 30, logarithm.WINDOW
    worst = max(abs(xlog2x_plain(a, bits) / 2**logarithm.scale_bits(bits)
                    - a * math.log2(a)) / a for a in range(2**(h + 1) - 300, 2**(h + 1)))
    assert worst <= logarithm.LOG2_ERR
    above = [2**(h + 1) + 7919 * a for a in range(40)] + [2**29 + 12345, 2**30 - 1]
    assert all(abs(xlog2x_plain(a, bits) / 2**logarithm.scale_bits(bits)
                   - a * math.log2(a)) <= logarithm.error_bound(a, bits) for a in above)


def program_for(values: list[int], bits: int) -> Callable[[Context], Awaitable[FieldVec]]:
    async def program(ctx: Context) -> FieldVec:
        a = await share(ctx, 0, FieldVec.from_ints(values))
        (out,) = await output_many(ctx, [await logarithm.xlog2x(ctx, a, bits)])
        return out
    return program


@pytest.mark.parametrize("bits, values", [
    (5, list(range(32))),
    (24, [0, 1, 2, 3, 2**19 - 1, 2**19, 2**19 + 1, 2**23, 2**24 - 1, 12345678, 999999]),
])
def test_mpc_equals_the_plaintext_twin_to_the_bit_with_exact_needs(bits: int,
                                                                   values: list[int]) -> None:
    program = program_for(values, bits)
    base = estimate.input_values(0, len(values))
    needs = estimate.xlog2x(len(values), bits)
    got = values_of(run(3, program, base + needs)).to_ints()
    assert got == [xlog2x_plain(a, bits) for a in values]
    if bits == 5:
        assert_needs_exact(program, needs, base)


def test_a_corrupted_message_never_yields_a_wrong_logarithm() -> None:
    values, bits = [0, 7, 100], 8
    program = program_for(values, bits)
    needs = estimate.input_values(0, 3) + estimate.xlog2x(3, bits)
    want = [xlog2x_plain(a, bits) for a in values]
    k = message_count(program, needs) // 2
    assert_fault_never_yields_wrong_output(program, needs, k, lambda r: r.to_ints() == want,
                                           to_everyone=False)


@pytest.mark.parametrize("bits", [1, logarithm.MAX_BITS + 1])
def test_widths_outside_the_supported_range_are_refused(bits: int) -> None:
    with pytest.raises(ConfigError, match="xlog2x takes values of 2 to"):
        xlog2x_plain(0, bits)
    with pytest.raises(ConfigError, match="0 <= a < 2"):
        xlog2x_plain(32, 5)
