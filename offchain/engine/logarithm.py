"""a log2 a of shared integers, as an integer that every party and a plaintext twin agree on.

For 0 <= a < 2^b (b = ``bits``) write a = 2^e (1 + t) with 0 <= t < 1, and let
h = min(b - 1, WINDOW), u = floor(t 2^h) (exact whenever e <= h) and G = h DEGREE + COEF_BITS.
The result is the integer

    XLOG_b(a) = a (e 2^G + P(u)),   P(u) = sum_(i=1..DEGREE) A_i 2^(h (DEGREE - i)) u^i,

with A_i = ``LOG2_POLY`` (p(t) = sum_i A_i 2^-COEF_BITS t^i, a minimax fit of log2(1 + t)
on [0, 1] with p(0) = 0), so that P(u) / 2^G = p(u / 2^h) and XLOG_b(a) / 2^G ~ a log2 a.
XLOG(0) = XLOG(1) = 0 and XLOG(2^e) = e 2^e 2^G exactly.

Under MPC every step is exact integer arithmetic in the field (no probabilistic
truncation), so the shared result equals its plaintext twin (tests/harness/twins.py) to the last bit:

1. the b bits of a (BitDec [CdH10]), their prefix-OR from the top, and the one-hot
   z_j of the leading position e (as ``offchain.engine.divide.normalise``);
2. the window W = floor(a 2^(h - e)) = sum_j z_j T_j, with T_j = a 2^(h - j) for j <= h
   (one product of a with sum_(j <= h) z_j 2^(h - j)) and T_j = floor(a / 2^(j - h)),
   linear in the bits, for j > h (one product each); u = W - 2^h [a >= 1];
3. u^2 .. u^DEGREE by DEGREE - 1 products in ceil(log2 DEGREE) rounds; P(u) is local;
4. one product a (e 2^G + P(u)), with e = sum_j j z_j.

Error bound, asserted by tests/offchain/test_logarithm.py:

    |XLOG_b(a) / 2^G - a log2 a| <= a (LOG2_ERR + [a >= 2^(h+1)] 2^-h / ln 2)

LOG2_ERR bounds |p(u / 2^WINDOW) - log2(1 + u / 2^WINDOW)| over all 2^WINDOW values of u
(coarser windows evaluate p on a subset of them); the second term is the
truncation of t to h bits, which happens only for a >= 2^(h+1). Magnitude:
0 <= XLOG_b(a) < 2^(G + b) (b + 1), so ``b + G + bitlength(b + 1)`` bits hold it.
"""

from __future__ import annotations

from offchain.engine.arith import mul
from offchain.engine.bitwise import KAPPA, bit_decompose, block_sum, prefix_or, prefix_or_mults, weighted_sum
from offchain.engine.evaluator import Evaluator, S
from offchain.errors import ConfigError

DEGREE = 8
COEF_BITS = 26
WINDOW = 18
#: A_1 .. A_8: sum_i A_i 2^-26 t^i fits log2(1 + t) on [0, 1] within LOG2_ERR (Remez).
LOG2_POLY = (96817279, -48396618, 32123919, -23306982, 16231271, -9228902, 3493621, -624727)
LOG2_ERR = 5e-8
MAX_BITS = 40


def window(bits: int) -> int:
    """h: how many bits of t the polynomial sees for values below 2^bits."""
    return min(bits - 1, WINDOW)


def scale_bits(bits: int) -> int:
    """G: XLOG_b(a) / 2^G approximates a log2 a."""
    return window(bits) * DEGREE + COEF_BITS


def result_bits(bits: int) -> int:
    """Bits that hold XLOG_b(a) for every 0 <= a < 2^bits (it is nonnegative)."""
    return bits + scale_bits(bits) + (bits + 1).bit_length()


def error_bound(a: int, bits: int) -> float:
    """The documented bound on |XLOG_b(a) / 2^G - a log2 a|."""
    h = window(bits)
    return a * (LOG2_ERR + (2.0**-h / 0.6931471805599453 if a >= 1 << (h + 1) else 0.0))


def _weights(h: int) -> list[int]:
    """A_i 2^(h (DEGREE - i)) for i = 1 .. DEGREE."""
    return [c << (h * (DEGREE - i)) for i, c in enumerate(LOG2_POLY, start=1)]


def _check(bits: int) -> None:
    if not 2 <= bits <= MAX_BITS:
        raise ConfigError(f"xlog2x takes values of 2 to {MAX_BITS} bits, got {bits}")


async def xlog2x(ctx: Evaluator[S], a: S, bits: int, kappa: int = KAPPA) -> S:
    """<XLOG_b(a)> elementwise for integers 0 <= a < 2^bits (see the module docstring)."""
    _check(bits)
    n, h = len(a), window(bits)
    digits = await bit_decompose(ctx, a, bits, kappa)
    y = (await prefix_or(ctx, digits[::-1]))[::-1]  # y_j = [a >= 2^j]
    z = [y[j] - y[j + 1] for j in range(bits - 1)] + [y[-1]]
    low = weighted_sum(z[:h + 1], [1 << (h - j) for j in range(h + 1)])
    high = [weighted_sum(digits[j - h:], [1 << i for i in range(bits - j + h)])
            for j in range(h + 1, bits)]
    terms = await mul(ctx, ctx.concat([a, *z[h + 1:]]), ctx.concat([low, *high]))
    u = block_sum(terms, n) - y[0].scale(1 << h)
    powers = await _powers(ctx, u, DEGREE)
    g = scale_bits(bits)
    lam = weighted_sum([*z, *powers], [j << g for j in range(bits)] + _weights(h))
    return await mul(ctx, a, lam)


async def _powers(ctx: Evaluator[S], u: S, degree: int) -> list[S]:
    """[u, u^2, .., u^degree]: each round multiplies the highest power so far by the lower ones."""
    n, powers = len(u), [u]
    while len(powers) < degree:
        take = min(len(powers), degree - len(powers))
        prods = await mul(ctx, ctx.concat([powers[-1]] * take),
                          ctx.concat(powers[:take]))
        powers += [prods[i * n:(i + 1) * n] for i in range(take)]
    return powers


def mults(bits: int) -> int:
    """Beaver products per element after the bit decomposition (``estimate.xlog2x``)."""
    return prefix_or_mults(bits) + bits - window(bits) + DEGREE
