"""Shared bits: random masks, bitwise circuits on Beaver products, bit decomposition.

Layout: a vector of m shared bits for each of n elements is a list of m
share vectors of length n ("blocks", least significant bit first), so that one
Beaver call processes a whole circuit level for every element at once: the
round count depends on the bit width, never on n.

Random masks a la Catrina and de Hoogh, "Improved primitives for secure
multiparty integer computation" (SCN 2010), Section 3: r = 2^m * r'' + r' with
the m bits of r' kept as shared bits; here r'' is made of further checked bits,
bound + kappa in all, so that r < 2^(bound + kappa) holds whatever a dealer
does, and a + r hides any a in [0, 2^bound) up to statistical distance
2^-kappa.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic

import numpy as np

from offchain.engine.arith import mul
from offchain.engine.evaluator import Evaluator, S
from offchain.engine.opening import open_value
from offchain.errors import ConfigError
from offchain.field import FieldVec
from offchain.preprocessing.tuples import TupleKey, TupleKind, pair_bits, pairs_from_bits

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
    return bits_vec(np.asarray(~c.limbs.any(axis=1), dtype=np.uint64))


# Linear operations on shared bits -----------------------------------------------------------
def blocks(x: S, n: int) -> list[S]:
    """Cuts a vector of m * n elements into m blocks of n."""
    return [x[i * n:(i + 1) * n] for i in range(len(x) // n)]


def block_sum(x: S, n: int) -> S:
    """The sum of the blocks of n elements of x, by halving (log2 of the block count steps)."""
    count = len(x) // n
    while count > 1:
        h = count // 2
        head = x[:h * n] + x[h * n:2 * h * n]
        x = type(x).concat([head, x[2 * h * n:]]) if count % 2 else head
        count -= h
    return x


def repeat(x: S, times: int) -> S:
    """times copies of x, one after the other (a block per copy)."""
    return type(x).concat([x] * times)


def xor_public(ctx: Evaluator[S], b: S, c: FieldVec) -> S:
    """<b XOR c> = c + (1 - 2c) b for shared bits b and public bits c (local).

    (1 - 2c) b negates b where c = 1 (:meth:`Shares.negate_where`, a selection,
    not a product: this runs on every bit of every comparison).
    """
    return ctx.add_public(b.negate_where(c), c)


def weighted_sum(parts: Sequence[S], weights: Sequence[int]) -> S:
    """sum_i weights[i] * parts[i] (local)."""
    acc = parts[0].scale(weights[0])
    for part, weight in zip(parts[1:], weights[1:], strict=True):
        acc = acc.scale_add(weight, part) if weight != 1 else acc + part
    return acc


@dataclass(frozen=True, slots=True)
class Mask(Generic[S]):
    """A random mask r whose m low bits are ``bits`` (m blocks) and r mod 2^m = ``low``."""

    r: S
    low: S
    bits: S


def take_mask(ctx: Evaluator[S], n: int, m: int, bound: int, kappa: int = KAPPA) -> Mask[S]:
    """n masks for values in [0, 2^bound): truncation pairs (r, r mod 2^m) of ``trunc_key(m,
    bound, kappa)`` built from bound + kappa random bits each, the m <= bound low bits kept."""
    if not 0 < m <= bound:
        raise ConfigError(f"a mask keeps 0 < m <= bound low bits, got m={m}, bound={bound}")
    key = trunc_key(m, bound, kappa)
    (bits,) = ctx.take(TupleKind.BIT, pair_bits(key, n)).columns
    r, low = pairs_from_bits(key, bits, n).columns
    return Mask(r, low, bits[:m * n])


def binary_sum(bits: S, n: int) -> S:
    """sum_i 2^i block_i for the blocks of n elements of ``bits`` (least significant first)."""
    return bits.binary(len(bits) // n)


# Circuits -------------------------------------------------------------------------------------
async def product(ctx: Evaluator[S], leaves: S, n: int) -> S:
    """The elementwise product of the blocks of n elements of ``leaves`` by a balanced tree.

    count - 1 products in ceil(log2 count) rounds, for count = len(leaves) / n.
    """
    count = len(leaves) // n
    while count > 1:
        h = count // 2
        prod = await mul(ctx, leaves[:h * n], leaves[h * n:2 * h * n])
        leaves = ctx.concat([prod, leaves[2 * h * n:]]) if count % 2 else prod
        count -= h
    return leaves


async def mul_many(ctx: Evaluator[S], xs: Sequence[S], ys: Sequence[S]) -> list[S]:
    """Pairwise products of equally long vectors in one round."""
    sizes = [len(x) for x in xs]
    flat = await mul(ctx, ctx.concat(xs), ctx.concat(ys))
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


async def prefix_or(ctx: Evaluator[S], xs: Sequence[S]) -> list[S]:
    """y_j = x_0 OR ... OR x_j for shared bits (a OR b = a + b - ab), log rounds."""
    y = list(xs)
    for level in sklansky(len(y)):
        prods = await mul_many(ctx, [y[j] for j, _, _ in level], [y[lo] for _, lo, _ in level])
        for (j, lo, _), prod in zip(level, prods, strict=True):
            y[j] = y[j] + y[lo] - prod
    return y


async def prefix_carries(ctx: Evaluator[S], p: Sequence[S], g: Sequence[S]) -> list[S]:
    """Carries out of positions 0..j: (P, G) o (P', G') = (PP', G + PG') over a prefix circuit."""
    p, g = list(p), list(g)
    for level in sklansky(len(g)):
        wide = [step for step in level if step[2]]
        prods = await mul_many(ctx, [p[j] for j, _, _ in level] + [p[j] for j, _, _ in wide],
                               [g[lo] for _, lo, _ in level] + [p[lo] for _, lo, _ in wide])
        for (j, _, _), prod in zip(level, prods[:len(level)], strict=True):
            g[j] = g[j] + prod
        for (j, _, _), prod in zip(wide, prods[len(level):], strict=True):
            p[j] = prod
    return g


async def bit_decompose(ctx: Evaluator[S], a: S, m: int, kappa: int = KAPPA) -> list[S]:
    """The m bits of a in [0, 2^m), least significant first: BitDec a la [CdH10].

    Opens c = a + r; then a = (c mod 2^m) + NOT(r') + 1 mod 2^m is a binary
    addition of public bits and shared bits, whose carries come from a
    Sklansky prefix circuit and whose sum bits cost one product each.
    """
    n = len(a)
    mask = take_mask(ctx, n, m, m, kappa)
    c_flat = public_bits(await open_value(ctx, a + mask.r), m)
    c = [c_flat[i * n:(i + 1) * n] for i in range(m)]
    not_r = blocks(ctx.rsub_public(mask.bits, 1), n)
    p = [xor_public(ctx, y, x) for x, y in zip(c, not_r, strict=True)]
    g = [y.scale(x) for x, y in zip(c, not_r, strict=True)]
    g[0] = g[0] + p[0]  # The carry into bit 0 is 1: generate = x_0 OR y_0.
    carries = await prefix_carries(ctx, p[:m - 1], g[:m - 1])
    if m == 1:
        return [ctx.rsub_public(p[0], 1)]
    prods = await mul_many(ctx, p[1:], carries)
    rest = [pi + ci - prod.scale(2) for pi, ci, prod in zip(p[1:], carries, prods, strict=True)]
    return [ctx.rsub_public(p[0], 1), *rest]


# Tuple counts (offchain.engine.estimate builds on these) -------------------------------------
def prefix_or_mults(length: int) -> int:
    return sum(len(level) for level in sklansky(length))


def prefix_carry_mults(length: int) -> int:
    return sum(len(level) + sum(1 for s in level if s[2]) for level in sklansky(length))


def bit_decompose_mults(m: int) -> int:
    return prefix_carry_mults(m - 1) + (m - 1)

