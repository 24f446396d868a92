"""Shared bits: random masks, bitwise circuits on Beaver products, bit decomposition.

Layout: a vector of m shared bits for each of n elements is a list of m
SharedVecs of length n ("blocks", least significant bit first), so that one
Beaver call processes a whole circuit level for every element at once: the
round count depends on the bit width, never on n.

Random masks a la Catrina and de Hoogh, "Improved primitives for secure
multiparty integer computation" (SCN 2010), Section 3: r = 2^m * r'' + r' with
the m bits of r' preprocessed random bits and 2^m * r'' taken from a
truncation pair (<R>, <R mod 2^m>) as <R> - <R mod 2^m>, so that
r < 2^(bound + kappa) and a + r hides any a in [0, 2^bound) up to statistical
distance 2^-kappa. (The sacrifice checks the bits, not the ranges of
truncation pairs: that the dealer drew R below 2^(bound + kappa) is trusted,
see offchain.engine.sacrifice.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from offchain.engine.arith import mul
from offchain.engine.context import Context
from offchain.engine.opening import open_value
from offchain.field import FieldVec
from offchain.preprocessing.tuples import TupleKey, TupleKind
from offchain.shares import MacKeyShare, SharedVec

KAPPA = 40
Level = list[tuple[int, int, bool]]


def trunc_key(m: int, bound: int, kappa: int = KAPPA) -> TupleKey:
    """Pairs (<R>, <R mod 2^m>) with R < 2^(bound + kappa): masks for values below 2^bound."""
    return TupleKey(TupleKind.TRUNC, f=m, bits=bound + kappa)


# Public values ------------------------------------------------------------------------------
def low_bits(c: FieldVec, m: int) -> FieldVec:
    """c mod 2^m elementwise, for canonical c (public values)."""
    limbs = c.limbs.copy()
    for i in range(4):
        keep = min(64, max(0, m - 64 * i))
        limbs[:, i] &= np.uint64((1 << keep) - 1)
    return FieldVec(limbs)


def public_bits(c: FieldVec, m: int) -> FieldVec:
    """The m low bits of each element of c as m blocks of len(c), least significant first."""
    index = np.arange(m)
    words = c.limbs[:, index // 64]
    bits = (words >> (index % 64).astype(np.uint64)) & np.uint64(1)
    return bits_vec(bits.T)


def bits_vec(bits: np.ndarray) -> FieldVec:
    """A FieldVec of 0/1 (or small nonnegative) integers given as a numpy array."""
    limbs = np.zeros((bits.size, 4), dtype=np.uint64)
    limbs[:, 0] = bits.reshape(-1)
    return FieldVec(limbs)


def is_zero(c: FieldVec) -> FieldVec:
    """1 where c is 0, else 0 (public values)."""
    return bits_vec((~c.limbs.any(axis=1)).astype(np.uint64))


# Linear operations on shared bits -----------------------------------------------------------
def blocks(x: SharedVec, n: int) -> list[SharedVec]:
    """Cuts a vector of m * n elements into m blocks of n."""
    return [x[i * n:(i + 1) * n] for i in range(len(x) // n)]


def block_sum(x: SharedVec, n: int) -> SharedVec:
    """The sum of the blocks of n elements of x, by halving (log2 of the block count steps)."""
    count = len(x) // n
    while count > 1:
        h = count // 2
        head = x[:h * n] + x[h * n:2 * h * n]
        x = SharedVec.concat([head, x[2 * h * n:]]) if count % 2 else head
        count -= h
    return x


def repeat(x: SharedVec, times: int) -> SharedVec:
    """times copies of x, one after the other (a block per copy)."""
    return SharedVec.concat([x] * times)


def xor_public(b: SharedVec, c: FieldVec, key: MacKeyShare) -> SharedVec:
    """<b XOR c> = c + (1 - 2c) b for shared bits b and public bits c (local).

    (1 - 2c) b is computed by negating b where c = 1 (a selection of limbs,
    not a product: this runs on every bit of every comparison).
    """
    if not isinstance(b.share, FieldVec):  # A replay on commitments.
        return b.scale(FieldVec.from_ints(1 - 2 * bit for bit in c)).add_public(c, key)
    flip = c.limbs[:, 0].astype(bool)[:, None]
    share = FieldVec(np.where(flip, (-b.share).limbs, b.share.limbs))
    mac = FieldVec(np.where(flip, (-b.mac).limbs, b.mac.limbs))
    return SharedVec(share, mac).add_public(c, key)


def weighted_sum(parts: Sequence[SharedVec], weights: Sequence[int]) -> SharedVec:
    """sum_i weights[i] * parts[i] (local)."""
    acc = parts[0].scale(weights[0])
    for part, weight in zip(parts[1:], weights[1:]):
        acc = acc.scale_add(weight, part) if weight != 1 else acc + part
    return acc


@dataclass(frozen=True, slots=True)
class Mask:
    """A random mask r = 2^m r'' + r', r' = ``low`` with its m bits in ``bits`` (m blocks)."""

    r: SharedVec
    low: SharedVec
    bits: SharedVec


def take_mask(ctx: Context, n: int, m: int, bound: int, kappa: int = KAPPA) -> Mask:
    """n masks for values in [0, 2^bound): m random bits and one truncation pair each."""
    (bits,) = ctx.take(TupleKind.BIT, m * n).columns
    high, high_low = ctx.take(trunc_key(m, bound, kappa), n).columns
    low = binary_sum(bits, n)
    return Mask(high - high_low + low, low, bits)


def binary_sum(bits: SharedVec, n: int) -> SharedVec:
    """sum_i 2^i block_i, by halving: block i + h joins block i with weight 2^h."""
    count = len(bits) // n
    while count > 1:
        h = (count + 1) // 2
        head = bits[:(count - h) * n] + bits[h * n:count * n].scale(1 << h)
        bits = SharedVec.concat([head, bits[(count - h) * n:h * n]]) if count % 2 else head
        count = h
    return bits


# Circuits -------------------------------------------------------------------------------------
async def product(ctx: Context, leaves: SharedVec, n: int) -> SharedVec:
    """The elementwise product of the blocks of n elements of ``leaves`` by a balanced tree.

    count - 1 products in ceil(log2 count) rounds, for count = len(leaves) / n.
    """
    count = len(leaves) // n
    while count > 1:
        h = count // 2
        prod = await mul(ctx, leaves[:h * n], leaves[h * n:2 * h * n])
        leaves = SharedVec.concat([prod, leaves[2 * h * n:]]) if count % 2 else prod
        count -= h
    return leaves


async def mul_many(ctx: Context, xs: Sequence[SharedVec], ys: Sequence[SharedVec]
                   ) -> list[SharedVec]:
    """Pairwise products of equally long vectors in one round."""
    sizes = [len(x) for x in xs]
    flat = await mul(ctx, SharedVec.concat(list(xs)), SharedVec.concat(list(ys)))
    out, start = [], 0
    for size in sizes:
        out.append(flat[start:start + size])
        start += size
    return out


def sklansky(length: int) -> list[Level]:
    """The combining steps of a Sklansky prefix circuit on ``length`` positions.

    Level d combines each position j with bit d set with lo, the last position
    of the lower half of its block of 2^(d+1); the flag says whether the new
    range [start, j] starts above 0 (only then is its propagate product needed).
    """
    levels, d = [], 0
    while (1 << d) < length:
        level = []
        for j in range(length):
            if j >> d & 1:
                start = j >> (d + 1) << (d + 1)
                level.append((j, start + (1 << d) - 1, start > 0))
        levels.append(level)
        d += 1
    return levels


async def prefix_or(ctx: Context, xs: Sequence[SharedVec]) -> list[SharedVec]:
    """y_j = x_0 OR ... OR x_j for shared bits (a OR b = a + b - ab), log rounds."""
    y = list(xs)
    for level in sklansky(len(y)):
        prods = await mul_many(ctx, [y[j] for j, _, _ in level], [y[lo] for _, lo, _ in level])
        for (j, lo, _), prod in zip(level, prods):
            y[j] = y[j] + y[lo] - prod
    return y


async def prefix_carries(ctx: Context, p: Sequence[SharedVec], g: Sequence[SharedVec]
                         ) -> list[SharedVec]:
    """Carries out of positions 0..j: (P, G) o (P', G') = (PP', G + PG') over a prefix circuit."""
    p, g = list(p), list(g)
    for level in sklansky(len(g)):
        wide = [step for step in level if step[2]]
        prods = await mul_many(ctx, [p[j] for j, _, _ in level] + [p[j] for j, _, _ in wide],
                               [g[lo] for _, lo, _ in level] + [p[lo] for _, lo, _ in wide])
        for (j, _, _), prod in zip(level, prods):
            g[j] = g[j] + prod
        for (j, _, _), prod in zip(wide, prods[len(level):]):
            p[j] = prod
    return g


async def bit_decompose(ctx: Context, a: SharedVec, m: int, kappa: int = KAPPA
                        ) -> list[SharedVec]:
    """The m bits of a in [0, 2^m), least significant first: BitDec a la [CdH10].

    Opens c = a + r; then a = (c mod 2^m) + NOT(r') + 1 mod 2^m is a binary
    addition of public bits and shared bits, whose carries come from a
    Sklansky prefix circuit and whose sum bits cost one product each.
    """
    n = len(a)
    mask = take_mask(ctx, n, m, m, kappa)
    c_flat = public_bits(await open_value(ctx, a + mask.r), m)
    c = [c_flat[i * n:(i + 1) * n] for i in range(m)]
    not_r = blocks(mask.bits.rsub_public(1, ctx.key), n)
    p = [xor_public(y, x, ctx.key) for x, y in zip(c, not_r)]
    g = [y.scale(x) for x, y in zip(c, not_r)]
    g[0] = g[0] + p[0]  # The carry into bit 0 is 1: generate = x_0 OR y_0.
    carries = await prefix_carries(ctx, p[:m - 1], g[:m - 1])
    if m == 1:
        return [p[0].rsub_public(1, ctx.key)]
    prods = await mul_many(ctx, p[1:], carries)
    rest = [pi + ci - prod.scale(2) for pi, ci, prod in zip(p[1:], carries, prods)]
    return [p[0].rsub_public(1, ctx.key)] + rest


# Tuple counts (offchain.engine.estimate builds on these) -------------------------------------
def product_mults(leaves: int) -> int:
    return leaves - 1


def prefix_or_mults(length: int) -> int:
    return sum(len(level) for level in sklansky(length))


def prefix_carry_mults(length: int) -> int:
    return sum(len(level) + sum(1 for s in level if s[2]) for level in sklansky(length))


def bit_decompose_mults(m: int) -> int:
    return prefix_carry_mults(m - 1) + (m - 1)

