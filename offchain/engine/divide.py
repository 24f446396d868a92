"""Reciprocal, division and square root in fixed point, by normalisation and Newton iteration.

After Catrina and Saxena (FC 2010), Section 4 (AppRcr, Norm): for an
encoding 0 < B < 2^(k-1) with its most significant bit at position i,

1. Norm: the bits of B (BitDec), their prefix-OR from the top (y_j = [B >= 2^j]),
   the one-hot z_j = y_j - y_(j+1) of position i, and V = sum_j z_j 2^(m-1-j)
   with m = k - 1, so that N = B * V lies in [2^(m-1), 2^m);
2. b^ = TruncPr(N, m - f), the normalised value in [1/2, 1] with f bits;
3. Newton for 1/b^ from w0 = 2.9142 - 2 b^ (relative error <= 3 - 2 sqrt 2 < 0.0858),
   w <- w (2 - b^ w), until the error is below 2^-(f+2) (3 steps for f = 20);
4. 1/b = w * V * 2^(f - m): one product and TruncPr(., m - f).

Signs: s = LTZ(b), |b| = (1 - 2s) b, and V is multiplied by (1 - 2s).
Division x / y multiplies x by w before scaling with V, which keeps the
relative precision of w for large quotients. Square root: 1/sqrt(b^) by
Newton, y <- y (3/2 - (b^/2) y^2), from y0 = 1.787 - 0.809 b^ (relative error
< 0.0225), then sqrt(b^) = b^ y, scaled by the public sqrt(2^(i+1-f)) selected
by the one-hot z (kept with m - f extra bits).

Error bounds (inputs and results exact encodings, ulp = 2^-f), asserted by
the tests (tests/offchain/test_divide.py):

    reciprocal(b), 2^-f <= |b|:    |r - 1/b|     <= 8 ulp / |b| + 1 ulp
    divide(x, y), 2^-f <= |y|:     |q - x/y|     <= (8 |x| + 1) ulp / |y| + 1 ulp
    sqrt(x), 0 <= x:               |s - sqrt(x)| <= 8 ulp * sqrt(x) + 2 ulp

Sources of the reciprocal's 8: rounding b^ (<= 1 ulp on a value >= 1/2,
relative 2 ulp, times 1/b^ <= 2), the last Newton step (2 ulp from b^ w,
1 ulp from w (2 - b^ w)) and the Newton residual (< 2^-(f+1)); the final
truncation adds 1 ulp. The square root's relative 8: rounding b^ (1 ulp),
rounding b^/2 (2 ulp: Newton converges to 1/sqrt(2 * (b^/2))), the last
Newton step (3.1 ulp), the product b^ y (1.5 ulp). Zero is a defined
input: reciprocal(0) = divide(x, 0) = 0 and sqrt(0) = 0. A negative input to
sqrt gives a meaningless result. Results must fit the k-bit range.
"""

from __future__ import annotations

import math

from offchain.engine.arith import mul
from offchain.engine.bitwise import bit_decompose, mul_many, prefix_or, trunc_key, weighted_sum
from offchain.engine.compare import ltz
from offchain.engine.evaluator import Evaluator, S
from offchain.engine.fixedpoint import (
    DEFAULT,
    FixedParams,
    concat,
    encode_int,
    fx_mul,
    fx_square,
    fx_trunc,
    split,
    trunc_pr,
)
from offchain.errors import ConfigError
from offchain.preprocessing.tuples import TupleKey

RCP_A, RCP_B, RCP_EPS = 2.9142, 2, 0.0858
RSQRT_A, RSQRT_B, RSQRT_EPS = 1.787, 0.809, 0.0225


def norm_key(params: FixedParams = DEFAULT) -> TupleKey:
    """The truncation pairs of the normalisation steps: shift m - f, bound 2k."""
    return trunc_key(params.k - 1 - params.f, 2 * params.k, params.kappa)


def newton_steps(eps: float, f: int, *, rsqrt: bool = False) -> int:
    """Newton steps that bring a relative error eps below 2^-(f+2)."""
    steps = 0
    while eps > 2.0 ** -(f + 2):
        eps = 1.5 * eps * eps * (1 + eps / 3) if rsqrt else eps * eps
        steps += 1
    return steps


def _check(params: FixedParams) -> None:
    if 2 * params.k + params.kappa > 252:
        raise ConfigError(f"division needs 2k + kappa <= 252, got k={params.k}, "
                          f"kappa={params.kappa}")


async def normalise(ctx: Evaluator[S], a: S, params: FixedParams = DEFAULT
                    ) -> list[S]:
    """One-hot z_j = [2^j <= a < 2^(j+1)], j < k - 1, for 0 <= a < 2^(k-1) (all 0 if a = 0)."""
    bits = await bit_decompose(ctx, a, params.k - 1, params.kappa)
    y = (await prefix_or(ctx, bits[::-1]))[::-1]
    return [y[j] - y[j + 1] for j in range(len(y) - 1)] + [y[-1]]


async def _normalised(ctx: Evaluator[S], b: S, params: FixedParams, signed: bool
                      ) -> tuple[S, S, list[S]]:
    """(b^ in [1/2, 1], (1 - 2 [b < 0]) V, z) for the encoding b; steps 1-2 of the module."""
    _check(params)
    m = params.k - 1
    if signed:
        sign = ctx.add_public((await ltz(ctx, b, params.k, params.kappa)).scale(-2), 1)
        b = await mul(ctx, sign, b)
    z = await normalise(ctx, b, params)
    v = weighted_sum(z, [1 << (m - 1 - j) for j in range(m)])
    if signed:
        n, v = await mul_many(ctx, [b, v], [v, sign])
    else:
        n = await mul(ctx, b, v)
    shift = m - params.f
    return await trunc_pr(ctx, n, shift, 2 * params.k, params.kappa), v, z


async def _reciprocal_normalised(ctx: Evaluator[S], b: S, params: FixedParams
                                 ) -> S:
    """w ~ 1/b for b in [1/2, 1]: Newton from the linear approximation (step 3)."""
    w = ctx.add_public(b.scale(-RCP_B), encode_int(RCP_A, params.f, params.k))
    for _ in range(newton_steps(RCP_EPS, params.f)):
        t = await fx_mul(ctx, b, w, params)
        w = await fx_mul(ctx, w, ctx.rsub_public(t, 2 << params.f), params)
    return w


async def reciprocal(ctx: Evaluator[S], b: S, params: FixedParams = DEFAULT) -> S:
    """<1/b> for a fixed-point b != 0; |error| <= 8 ulp/|b| + 1 ulp (0 for b = 0)."""
    bh, v, _ = await _normalised(ctx, b, params, True)
    w = await _reciprocal_normalised(ctx, bh, params)
    return await _scale_back(ctx, await mul(ctx, w, v), params)


async def divide(ctx: Evaluator[S], x: S, y: S, params: FixedParams = DEFAULT
                 ) -> S:
    """<x / y> in fixed point; |error| <= (8|x| + 1) ulp/|y| + 1 ulp (0 where y = 0)."""
    if len(x) != len(y):
        raise ConfigError(f"cannot divide vectors of lengths {len(x)} and {len(y)}")
    yh, v, _ = await _normalised(ctx, y, params, True)
    w = await _reciprocal_normalised(ctx, yh, params)
    xw = await fx_mul(ctx, x, w, params)
    return await _scale_back(ctx, await mul(ctx, xw, v), params)


async def _scale_back(ctx: Evaluator[S], a: S, params: FixedParams) -> S:
    """TruncPr by m - f of a product with V (step 4)."""
    return await trunc_pr(ctx, a, params.k - 1 - params.f, 2 * params.k, params.kappa)


async def sqrt(ctx: Evaluator[S], x: S, params: FixedParams = DEFAULT) -> S:
    """<sqrt(x)> for fixed-point x >= 0; |error| <= 8 ulp sqrt(x) + 2 ulp."""
    f, m = params.f, params.k - 1
    xh, _, z = await _normalised(ctx, x, params, False)
    # Step 3': y0 and xh / 2 in one truncation round.
    n = len(x)
    both = await fx_trunc(ctx, concat([xh.scale(encode_int(RSQRT_B, f, params.k)),
                                       xh.scale(1 << (f - 1))]), params)
    slope, half = split(both, [n, n])
    y = ctx.rsub_public(slope, encode_int(RSQRT_A, f, params.k))
    for _ in range(newton_steps(RSQRT_EPS, f, rsqrt=True)):
        t = await fx_mul(ctx, half, await fx_square(ctx, y, params), params)
        y = await fx_mul(ctx, y, ctx.rsub_public(t, 3 << (f - 1)), params)
    root = await fx_mul(ctx, xh, y, params)
    # sqrt(x) = sqrt(xh) * 2^((i + 1 - f) / 2), the factor encoded with m - f extra bits.
    scale = weighted_sum(z, [round(math.ldexp(2.0 ** ((j + 1 - f) / 2), m - f))
                             for j in range(m)])
    return await _scale_back(ctx, await mul(ctx, root, scale), params)
