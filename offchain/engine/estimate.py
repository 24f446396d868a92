"""Tuple needs of each engine operation, known before a computation starts.

A job adds up the needs of the operations it will run and reserves them
(``TupleSource.reserve(needs)``) before it sends its first message, so it
never stops half way for lack of tuples. Operations built on top of the
engine (fixed point, comparison) add their functions here, composing these.
Opening and output consume no tuples.

    needs = estimate.input_values(0, 100) + estimate.input_values(1, 100) + estimate.mul(100)
"""

from __future__ import annotations

from collections.abc import Sequence

from offchain.preprocessing.tuples import Needs, TupleKey, TupleKind, pair_bits

__all__ = ["Needs", "bits", "input_values", "mul", "square", "trunc"]


def input_values(owner: int, count: int) -> Needs:
    """``input_values(ctx, owner, ..., count)``: one mask of ``owner`` per value."""
    return Needs.of(TupleKey(TupleKind.INPUT_MASK, owner=owner), count)


def mul(count: int) -> Needs:
    """``mul`` of two vectors of length ``count``: one triple per element."""
    return Needs.of(TupleKind.TRIPLE, count)


def square(count: int) -> Needs:
    """``square`` of a vector of length ``count``: one square pair per element."""
    return Needs.of(TupleKind.SQUARE, count)


def bits(count: int) -> Needs:
    """``count`` shared random bits taken with ``ctx.take(TupleKind.BIT, count)``."""
    return Needs.of(TupleKind.BIT, count)


def trunc(count: int, f: int, bits: int) -> Needs:
    """``count`` truncation pairs (<r>, <r mod 2^f>) with r < 2^bits: the bits they are built from."""
    return pairs(TupleKey(TupleKind.TRUNC, f=f, bits=bits), count)


def pairs(key: TupleKey, count: int) -> Needs:
    """``count`` truncation pairs of ``key``, taken with ``ctx.take(key, count)``: ``key.bits`` bits each
    (offchain.preprocessing.tuples.pairs_from_bits)."""
    return Needs.of(TupleKind.BIT, pair_bits(key, count))


# Fixed point, comparison, division (offchain.engine.fixedpoint, compare, divide) ------------
# Imported here, below the core functions, so that the core above stays importable on its own.
from offchain.engine.bitwise import KAPPA, bit_decompose_mults, prefix_or_mults, trunc_key  # noqa: E402
from offchain.engine.compare import tournament_sizes  # noqa: E402
from offchain.engine.divide import RCP_EPS, RSQRT_EPS, newton_steps, norm_key  # noqa: E402
from offchain.engine.fixedpoint import DEFAULT, FixedParams  # noqa: E402
from offchain.engine.logarithm import mults as _xlog2x_mults  # noqa: E402
from offchain.engine.ranges import Bound, check_sizes  # noqa: E402

__all__ += [
    "argmax",
    "argmin",
    "bit_decompose",
    "divide",
    "equal",
    "eqz",
    "fx_mul",
    "fx_mul_public",
    "fx_square",
    "fx_trunc",
    "greater_equal",
    "greater_than",
    "less_equal",
    "less_than",
    "ltz",
    "mask",
    "max_of",
    "min_max",
    "min_of",
    "normalise",
    "range_check",
    "reciprocal",
    "sqrt",
    "trunc_pr",
    "xlog2x",
]
_bits = bits


def trunc_pr(count: int, m: int, bound: int, kappa: int = KAPPA) -> Needs:
    """``fixedpoint.trunc_pr`` by m bits of values below 2^(bound-1): one pair per element."""
    return pairs(trunc_key(m, bound, kappa), count)


def fx_trunc(count: int, params: FixedParams = DEFAULT) -> Needs:
    """``fixedpoint.fx_trunc`` (also ``fx_mul_public``): one product truncation pair each."""
    return pairs(params.trunc_key, count)


fx_mul_public = fx_trunc


def fx_mul(count: int, params: FixedParams = DEFAULT) -> Needs:
    """``fixedpoint.fx_mul``: a triple and a truncation pair per element."""
    return mul(count) + fx_trunc(count, params)


def fx_square(count: int, params: FixedParams = DEFAULT) -> Needs:
    """``fixedpoint.fx_square``: a square pair and a truncation pair per element."""
    return square(count) + fx_trunc(count, params)


def mask(count: int, m: int, bound: int, kappa: int = KAPPA) -> Needs:
    """``bitwise.take_mask``: bound + kappa random bits per element (m is kept of them)."""
    return _bits((bound + kappa) * count)


def ltz(count: int, bits: int = 64, kappa: int = KAPPA) -> Needs:
    """``compare.ltz``: a mask of bits + kappa random bits, a sign bit, bits triples each."""
    return mask(count, bits - 1, bits, kappa) + _bits(count) + mul(bits * count)


def eqz(count: int, bits: int = 64, kappa: int = KAPPA) -> Needs:
    """``compare.eqz``: two masks (bits and b = bitlength(bits) wide), b - 1 triples each."""
    b = bits.bit_length()
    return mask(count, bits, bits, kappa) + mask(count, b, b, kappa) + mul((b - 1) * count)


def less_than(count: int, bits: int = 64, kappa: int = KAPPA) -> Needs:
    """``compare.less_than`` (and greater_than, less_equal, greater_equal): ltz(bits + 1)."""
    return ltz(count, bits + 1, kappa)


greater_than = less_equal = greater_equal = less_than


def range_check(bounds: Sequence[Bound], kappa: int = KAPPA) -> Needs:
    """``ranges.check``: per one-sided check of width m, the cost of ltz at m + 1 bits."""
    total = Needs()
    for width, count in check_sizes(bounds).items():
        total = total + ltz(count, width + 1, kappa)
    return total


def equal(count: int, bits: int = 64, kappa: int = KAPPA) -> Needs:
    """``compare.equal``: eqz(bits + 1)."""
    return eqz(count, bits + 1, kappa)


def min_max(count: int, bits: int = 64, kappa: int = KAPPA) -> Needs:
    """``compare.min_max``: a comparison and a triple per element."""
    return less_than(count, bits, kappa) + mul(count)


def max_of(length: int, bits: int = 64, kappa: int = KAPPA) -> Needs:
    """``compare.max_of`` (and min_of) over a vector of ``length``: length - 1 min_max."""
    return min_max(length - 1, bits, kappa)


min_of = max_of


def argmax(length: int, bits: int = 64, kappa: int = KAPPA) -> Needs:
    """``compare.argmax`` (and argmin): per match a comparison and two triples."""
    matches = sum(tournament_sizes(length))
    return less_than(matches, bits, kappa) + mul(2 * matches)


argmin = argmax


def bit_decompose(count: int, m: int, kappa: int = KAPPA) -> Needs:
    """``bitwise.bit_decompose`` of m-bit values: an m-bit mask and the adder's triples."""
    return mask(count, m, m, kappa) + mul(bit_decompose_mults(m) * count)


def normalise(count: int, params: FixedParams = DEFAULT) -> Needs:
    """``divide.normalise``: bit decomposition and a prefix-OR of k - 1 bits."""
    m = params.k - 1
    return bit_decompose(count, m, params.kappa) + mul(prefix_or_mults(m) * count)


def _normalised(count: int, params: FixedParams, signed: bool) -> Needs:
    # Signed: LTZ, |b| = (1 - 2s) b, then N = |b| V and (1 - 2s) V; unsigned: N only.
    sign = ltz(count, params.k, params.kappa) + mul(3 * count) if signed else mul(count)
    return sign + normalise(count, params) + pairs(norm_key(params), count)


def reciprocal(count: int, params: FixedParams = DEFAULT) -> Needs:
    """``divide.reciprocal``: sign, normalisation, Newton steps, scaling back."""
    steps = newton_steps(RCP_EPS, params.f)
    return (_normalised(count, params, True) + fx_mul(2 * steps * count, params)
            + mul(count) + pairs(norm_key(params), count))


def divide(count: int, params: FixedParams = DEFAULT) -> Needs:
    """``divide.divide``: a reciprocal plus one fixed-point product per element."""
    return reciprocal(count, params) + fx_mul(count, params)


def sqrt(count: int, params: FixedParams = DEFAULT) -> Needs:
    """``divide.sqrt``: normalisation, inverse-square-root Newton steps, scaling back."""
    steps = newton_steps(RSQRT_EPS, params.f, rsqrt=True)
    return (_normalised(count, params, False) + fx_trunc(2 * count, params)
            + (fx_square(count, params) + fx_mul(2 * count, params)) * steps
            + fx_mul(count, params) + mul(count) + pairs(norm_key(params), count))


def xlog2x(count: int, bits: int, kappa: int = KAPPA) -> Needs:
    """``logarithm.xlog2x`` of values below 2^bits: BitDec, prefix-OR, window, powers, product."""
    return bit_decompose(count, bits, kappa) + mul(_xlog2x_mults(bits) * count)
