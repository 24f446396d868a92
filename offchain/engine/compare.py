"""Secure comparison of signed integers and fixed-point values: LTZ, EQZ, min, max, argmax.

Values are signed ``bits``-bit integers (a fixed-point encoding is one, with
bits = k); comparing x with y tests x - y, a (bits + 1)-bit value, so every
pair of values in range compares correctly, the range limits included.

LTZ follows Catrina and de Hoogh (SCN 2010), Protocol 3.2 (Mod2m) with
m = L - 1: open c = a + 2^m + r with a random mask r = 2^m r'' + r', so that
(a + 2^m) mod 2^m = c' - r' + 2^m [c' < r'] with c' = c mod 2^m, and
[a < 0] = ((a + 2^m) mod 2^m - a) / 2^m. The bitwise comparison [c' < r'] of
a public and a shared m-bit number follows Toft's variant as in MPyC: with a
random sign s in {-1, 1} and, from the top bit down,

    e_i = s - (c_i - r_i) + 3 sum_{j > i} (c_j XOR r_j),   e_m = s - 1 + 3 sum_j (c_j XOR r_j),

exactly one e_i is 0 iff (c' < r' and s = -1) or (c' >= r' and s = 1), so
g = [prod_i e_i = 0] is a uniform public bit and [c' < r'] = g XOR [s = 1].
g is learnt by opening rho * prod_i e_i for a random rho. That value is not
masked by a fresh uniform mask, so every value opened before it is
MAC-checked first (a cheater cannot steer which bit is revealed).

EQZ follows the same paper (Section 4, EQZ via the bits of c XOR r): with
A = a + 2^(L-1) and an L-bit mask, a = 0 iff the bits of (c - 2^(L-1)) mod 2^L
equal those of r', i.e. iff H = sum_i (c''_i XOR r'_i) = 0. H <= L is then
tested the same way with a bitlength(L)-bit mask, and the final AND of a few
bits is a product tree. Only masked values are opened.

Costs per element (L = bits + 1 for comparisons of two values; see estimate):

    ltz(L):  L + kappa + 1 bits (a mask of L + kappa, a sign), L triples;
             1 + ceil(log2(L+1)) + 5 + 1 rounds
    eqz(L):  L + b + 2 kappa bits (masks of L + kappa and b + kappa, b = bitlength(L));
             b - 1 triples; 2 + ceil(log2 b) rounds
"""

from __future__ import annotations

from offchain.engine.arith import mul
from offchain.engine.bitwise import (
    KAPPA,
    block_sum,
    is_zero,
    low_bits,
    product,
    public_bits,
    repeat,
    take_mask,
    xor_public,
)
from offchain.engine.evaluator import Evaluator, S
from offchain.engine.mac_check import check_pending
from offchain.engine.opening import open_value, open_values
from offchain.errors import ConfigError
from offchain.field import FieldVec, P
from offchain.preprocessing.tuples import TupleKind


def _check_width(bits: int, kappa: int) -> None:
    if not bits >= 2 or bits + kappa > 252:
        raise ConfigError(f"comparisons need 2 <= bits and bits + kappa <= 252, got {bits}")


async def ltz(ctx: Evaluator[S], a: S, bits: int = 64, kappa: int = KAPPA) -> S:
    """<[a < 0]> for signed a in [-2^(bits-1), 2^(bits-1)): LTZ of [CdH10]."""
    _check_width(bits, kappa)
    n, m = len(a), bits - 1
    mask = take_mask(ctx, n, m, bits, kappa)
    (sign,) = ctx.take(TupleKind.BIT, n).columns
    c = await open_value(ctx, ctx.add_public(a + mask.r, 1 << m))
    below = await bit_lt(ctx, public_bits(c, m), mask.bits, sign)
    a_mod = ctx.add_public(below.scale(1 << m) - mask.low, low_bits(c, m))
    return (a_mod - a).scale(pow(2, -m, P))


async def bit_lt(ctx: Evaluator[S], c: FieldVec, r: S, sign: S) -> S:
    """<[c < r]> for public bits c and shared bits r (blocks, LSB first), Toft's product test.

    ``sign`` is a fresh random bit; s = 2 * sign - 1 hides which e_i vanishes.
    """
    n = len(sign)
    m = len(r) // n
    xor = xor_public(ctx, r, c)
    # e_i without its sign and public terms: r_i + 3 * sum_{j > i} xor_j, from the top.
    parts: list[S] = [ctx.zeros(0)] * (m + 1)
    above3 = ctx.zeros(n)
    for i in reversed(range(m)):
        parts[i] = r[i * n:(i + 1) * n] + above3
        x = xor[i * n:(i + 1) * n]
        above3 = above3 + x + x + x
    parts[m] = above3
    s = repeat(sign.scale(2), m + 1)  # s + 1; the -1 is folded into the public terms.
    leaves = ctx.concat(parts) + s
    public = FieldVec.concat([c + 1, FieldVec.full(n, 2)])
    masked = await _random_product(ctx, ctx.sub_public(leaves, public), n)
    await check_pending(ctx)
    g = is_zero(await open_value(ctx, masked))
    return xor_public(ctx, sign, g)


async def _random_product(ctx: Evaluator[S], leaves: S, n: int) -> S:
    """<rho * product of the blocks of leaves>, fresh uniform rho; ceil(log2(count + 1)) rounds.

    rho is the a of a triple (a, b, c): <a x> = <c> + (x - b) <a> opens only x - b.
    With an odd number of blocks the last one is multiplied by rho in the
    first level's round; otherwise the product is, after the tree.
    """
    count = len(leaves) // n
    if count % 2 == 0 or count == 1:
        x = await product(ctx, leaves, n)
        a, b, c = ctx.take(TupleKind.TRIPLE, n).columns
        return c.scale_add(await open_value(ctx, x - b), a)
    h = count // 2
    x, y, z = leaves[:h * n], leaves[h * n:2 * h * n], leaves[2 * h * n:]
    a, b, c = ctx.take(TupleKind.TRIPLE, h * n).columns
    ra, rb, rc = ctx.take(TupleKind.TRIPLE, n).columns
    d, e, e_rho = await open_values(ctx, [x - a, y - b, z - rb])
    layer = ctx.concat([ctx.beaver((a, b, c), d, e), rc.scale_add(e_rho, ra)])
    return await product(ctx, layer, n)


async def eqz(ctx: Evaluator[S], a: S, bits: int = 64, kappa: int = KAPPA) -> S:
    """<[a = 0]> for signed a in [-2^(bits-1), 2^(bits-1)): EQZ of [CdH10] in two levels."""
    _check_width(bits, kappa)
    n = len(a)
    mask = take_mask(ctx, n, bits, bits, kappa)
    c = await open_value(ctx, ctx.add_public(a + mask.r, 1 << (bits - 1)))
    # (c - 2^(L-1)) mod 2^L flips bit L-1 of c mod 2^L.
    flip = FieldVec.concat([FieldVec.zeros((bits - 1) * n), FieldVec.full(n, 1)])
    cb = public_bits(c, bits)
    cb = cb + flip - (cb * flip) * 2
    hamming = block_sum(xor_public(ctx, mask.bits, cb), n)
    return await _small_is_zero(ctx, hamming, bits.bit_length(), kappa)


async def _small_is_zero(ctx: Evaluator[S], h: S, m: int, kappa: int) -> S:
    """<[h = 0]> for h in [0, 2^m): open h + r, then AND of m bits (1 - (c_i XOR r_i))."""
    n = len(h)
    mask = take_mask(ctx, n, m, m, kappa)
    c = public_bits(await open_value(ctx, h + mask.r), m)
    same = ctx.rsub_public(xor_public(ctx, mask.bits, c), 1)
    return await product(ctx, same, n)


# Two-operand comparisons (bits is the width of the operands) --------------------------------
async def less_than(ctx: Evaluator[S], x: S, y: S, bits: int = 64,
                    kappa: int = KAPPA) -> S:
    """<[x < y]> elementwise for signed bits-bit x and y (fixed point: bits = k)."""
    return await ltz(ctx, x - y, bits + 1, kappa)


async def greater_than(ctx: Evaluator[S], x: S, y: S, bits: int = 64,
                       kappa: int = KAPPA) -> S:
    """<[x > y]>."""
    return await ltz(ctx, y - x, bits + 1, kappa)


async def less_equal(ctx: Evaluator[S], x: S, y: S, bits: int = 64,
                     kappa: int = KAPPA) -> S:
    """<[x <= y]> = 1 - [y < x]."""
    return ctx.rsub_public(await ltz(ctx, y - x, bits + 1, kappa), 1)


async def greater_equal(ctx: Evaluator[S], x: S, y: S, bits: int = 64,
                        kappa: int = KAPPA) -> S:
    """<[x >= y]> = 1 - [x < y]."""
    return ctx.rsub_public(await ltz(ctx, x - y, bits + 1, kappa), 1)


async def equal(ctx: Evaluator[S], x: S, y: S, bits: int = 64,
                kappa: int = KAPPA) -> S:
    """<[x = y]> elementwise."""
    return await eqz(ctx, x - y, bits + 1, kappa)


async def min_max(ctx: Evaluator[S], x: S, y: S, bits: int = 64,
                  kappa: int = KAPPA) -> tuple[S, S]:
    """(<min(x, y)>, <max(x, y)>) elementwise: one comparison and one product."""
    b = await less_than(ctx, x, y, bits, kappa)
    d = await mul(ctx, b, x - y)
    return y + d, x - d


# Tournaments over one vector ----------------------------------------------------------------
async def _tournament(ctx: Evaluator[S], x: S, bits: int, kappa: int, largest: bool,
                      with_index: bool) -> tuple[S, S]:
    """Winner of neighbouring pairs, level by level (ceil(log2 n) comparison rounds).

    The left operand (the lower indices) wins ties, so the index is the first
    position holding the extreme value.
    """
    if len(x) == 0:
        raise ConfigError("no extreme value of an empty vector")
    index = ctx.constant(FieldVec.from_ints(range(len(x))))
    while len(x) > 1:
        h = len(x) // 2
        left, right = x[0:2 * h:2], x[1:2 * h:2]
        ileft, iright = index[0:2 * h:2], index[1:2 * h:2]
        if largest:
            take_right = await ltz(ctx, left - right, bits + 1, kappa)
        else:
            take_right = await ltz(ctx, right - left, bits + 1, kappa)
        if with_index:
            both = await mul(ctx, ctx.concat([take_right, take_right]),
                             ctx.concat([right - left, iright - ileft]))
            dx, di = both[:h], both[h:]
            index = ctx.concat([ileft + di, index[2 * h:]])
        else:
            dx = await mul(ctx, take_right, right - left)
        x = ctx.concat([left + dx, x[2 * h:]])
    return x, index


async def max_of(ctx: Evaluator[S], x: S, bits: int = 64, kappa: int = KAPPA) -> S:
    """<max_i x_i> (a vector of length 1)."""
    return (await _tournament(ctx, x, bits, kappa, True, False))[0]


async def min_of(ctx: Evaluator[S], x: S, bits: int = 64, kappa: int = KAPPA) -> S:
    """<min_i x_i> (a vector of length 1)."""
    return (await _tournament(ctx, x, bits, kappa, False, False))[0]


async def argmax(ctx: Evaluator[S], x: S, bits: int = 64, kappa: int = KAPPA
                 ) -> tuple[S, S]:
    """(<max_i x_i>, <first i where it occurs>), both of length 1."""
    return await _tournament(ctx, x, bits, kappa, True, True)


async def argmin(ctx: Evaluator[S], x: S, bits: int = 64, kappa: int = KAPPA
                 ) -> tuple[S, S]:
    """(<min_i x_i>, <first i where it occurs>), both of length 1."""
    return await _tournament(ctx, x, bits, kappa, False, True)


def tournament_sizes(n: int) -> list[int]:
    """How many comparisons each level of a tournament over n values makes."""
    sizes = []
    while n > 1:
        sizes.append(n // 2)
        n -= n // 2
    return sizes

