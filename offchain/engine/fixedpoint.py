"""Fixed-point numbers on shared field elements: encoding, probabilistic truncation, products.

A real x is represented by the integer X = round(x * 2^f), a signed k-bit value
(|X| < 2^(k-1)), embedded in F_P as usual (a negative X as P - |X|). Sums are
exact; a product of two encodings carries 2f fractional bits and is brought
back to f by probabilistic truncation, TruncPr of Catrina and Saxena,
"Secure computation with fixed-point numbers" (FC 2010), Protocol 3.1:

    given <a> with |a| < 2^(K-1) and a pair (<r>, <r mod 2^m>), r uniform in [0, 2^(K+kappa)):
    c = open(a + 2^(K-1) + r);   <a'> = (c mod 2^m) - <r mod 2^m>;   <d> = (<a> - <a'>) * 2^-m

so that d = floor(a / 2^m) + u with u in {0, 1} and Pr[u = 1] = (a mod 2^m) / 2^m:
the error |d - a / 2^m| is below 1 (one unit in the last place, "ulp", 2^-f
in real terms) and the rounding is unbiased. One round; c hides a up to
statistical distance 2^-kappa. Products use the bound K = k + f + 2 (the
exact product of two k-bit encodings whose rounded result fits in k bits,
with two bits of slack for intermediate values of division), so one tuple
key serves every fixed-point product: (f, k + f + 2 + kappa).

Results outside the k-bit range are not detected (as in every fixed-point
MPC scheme): the caller keeps values in range, and :func:`encode` checks
inputs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from offchain.engine.arith import mul, square
from offchain.engine.bitwise import KAPPA, low_bits, trunc_key
from offchain.engine.evaluator import Evaluator, S
from offchain.engine.opening import open_value
from offchain.errors import ConfigError
from offchain.field import FieldVec, P
from offchain.preprocessing.tuples import TupleKey

MAX_MASK_BITS = 252  # A dealer's truncation pairs have r < 2^bits <= 2^252 < P.


@dataclass(frozen=True, slots=True)
class FixedParams:
    """Signed k-bit fixed point with f fractional bits and statistical security kappa."""

    k: int = 64
    f: int = 20
    kappa: int = KAPPA

    def __post_init__(self) -> None:
        if not 0 < self.f < self.k - 1:
            raise ConfigError(f"fixed point needs 0 < f < k - 1, got k={self.k}, f={self.f}")
        if self.kappa < 1 or self.k + self.kappa >= 253:
            raise ConfigError(f"need k + kappa < 253 and kappa >= 1, got k={self.k}, "
                              f"kappa={self.kappa}")
        if self.product_bound + self.kappa > MAX_MASK_BITS:
            raise ConfigError(f"products need k + f + 2 + kappa <= {MAX_MASK_BITS}, got "
                              f"{self.product_bound + self.kappa}")

    @property
    def product_bound(self) -> int:
        """K of TruncPr for products: |x * y| < 2^(K-1) whenever x * y / 2^f is in range."""
        return self.k + self.f + 2

    @property
    def trunc_key(self) -> TupleKey:
        """The truncation pairs every fixed-point product consumes (one per element)."""
        return trunc_key(self.f, self.product_bound, self.kappa)


DEFAULT = FixedParams()


# Encoding ----------------------------------------------------------------------------------
def encode_int(value: float | int, f: int = DEFAULT.f, k: int = DEFAULT.k) -> int:
    """round(value * 2^f) as a Python int; ConfigError if it is not a signed k-bit value."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"cannot encode {value!r}: not an int or a float")
    if isinstance(value, int):
        scaled = value << f
    elif math.isfinite(value):
        scaled = round(value * 2.0 ** f)
    else:
        raise ConfigError(f"cannot encode {value!r}: not finite")
    if abs(scaled) >= 1 << (k - 1):
        raise ConfigError(f"{value!r} is out of range: |x| * 2^{f} must be below 2^{k - 1}")
    return scaled


def encode(values: Sequence[float | int], f: int = DEFAULT.f, k: int = DEFAULT.k) -> FieldVec:
    """Field encodings of reals; ConfigError naming the first value out of range."""
    FixedParams(k, f)  # Validates k and f.
    out = []
    for i, value in enumerate(values):
        try:
            out.append(encode_int(value, f, k))
        except ConfigError as exc:
            raise ConfigError(f"value at index {i}: {exc}") from None
    return FieldVec.from_ints(out)


def decode(values: FieldVec, f: int = DEFAULT.f) -> list[float]:
    """The reals a vector of encodings stands for (signed representatives / 2^f)."""
    scale = 1 << f
    return [v / scale for v in values.to_signed_ints()]


# Truncation and products -------------------------------------------------------------------
async def trunc_pr(ctx: Evaluator[S], a: S, m: int, bound: int, kappa: int = KAPPA) -> S:
    """<floor(a / 2^m) + u>, u in {0,1} with Pr[u=1] = (a mod 2^m)/2^m: TruncPr [CS10, Prot. 3.1].

    Requires |a| < 2^(bound-1) (signed). Consumes one pair of
    ``trunc_key(m, bound, kappa)`` per element; one round.
    """
    if not 0 < m < bound:
        raise ConfigError(f"truncation needs 0 < m < bound, got m={m}, bound={bound}")
    r, r_low = ctx.take(trunc_key(m, bound, kappa), len(a)).columns
    # Step 1: c = 2^(K-1) + a + r, nonnegative and below 2^(K + kappa + 1) < P.
    c = await open_value(ctx, ctx.add_public(a + r, 1 << (bound - 1)))
    # Step 2: a' = (c mod 2^m) - (r mod 2^m) = a mod 2^m - 2^m * [c mod 2^m < r mod 2^m];
    # 2^(K-1) vanishes modulo 2^m since m < K.
    a_low = ctx.rsub_public(r_low, low_bits(c, m))
    # Step 3: d = (a - a') / 2^m, exact in the field.
    return (a - a_low).scale(pow(2, -m, P))


async def fx_trunc(ctx: Evaluator[S], a: S, params: FixedParams = DEFAULT) -> S:
    """A product of two encodings brought back to f fractional bits (error below 1 ulp)."""
    return await trunc_pr(ctx, a, params.f, params.product_bound, params.kappa)


async def fx_mul(ctx: Evaluator[S], x: S, y: S, params: FixedParams = DEFAULT
                 ) -> S:
    """<x * y> in fixed point: Beaver product, then TruncPr; |error| < 2^-f. Two rounds."""
    return await fx_trunc(ctx, await mul(ctx, x, y), params)


async def fx_square(ctx: Evaluator[S], x: S, params: FixedParams = DEFAULT) -> S:
    """<x * x> in fixed point with a square pair; |error| < 2^-f. Two rounds."""
    return await fx_trunc(ctx, await square(ctx, x), params)


async def fx_mul_public(ctx: Evaluator[S], x: S, c: float | Sequence[float],
                        params: FixedParams = DEFAULT) -> S:
    """<x * c> for a public real c (or one per element); |error| < 2^-f + |x| 2^-(f+1).

    The second term is the rounding of c to f fractional bits. One round.
    """
    if isinstance(c, (int, float)):
        scaled: FieldVec | int = encode_int(c, params.f, params.k)
    else:
        scaled = encode(c, params.f, params.k)
    return await fx_trunc(ctx, x.scale(scaled), params)


def fx_constant(ctx: Evaluator[S], values: Sequence[float], params: FixedParams = DEFAULT) -> S:
    """A sharing of public reals (no communication): party 0 holds the encodings."""
    return ctx.constant(encode(values, params.f, params.k))


def concat(parts: Sequence[S]) -> S:
    """Several shared vectors as one (at least one), so that one call (one round) processes them all."""
    return type(parts[0]).concat(parts)


def split(x: S, sizes: Sequence[int]) -> list[S]:
    """The inverse of :func:`concat` for parts of the given lengths."""
    out, start = [], 0
    for size in sizes:
        out.append(x[start:start + size])
        start += size
    if start != len(x):
        raise ConfigError(f"cannot split {len(x)} elements into parts of {list(sizes)}")
    return out
