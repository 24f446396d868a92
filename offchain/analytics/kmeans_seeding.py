"""k-means++ seeding under MPC: K secret rows, each drawn with probability D(x)^2 / sum D^2, from a joint coin.

The D^2 sampling of Arthur and Vassilvitskii ("k-means++: the advantages of
careful seeding", SODA 2007), computed on the shares of the rows of
offchain.analytics.kmeans (R = parties * max_rows padded rows x_i of m
features, validity bits v_i; party p's row r is row p * max_rows + r):

    w_i  = v_i                                   (the first centre: a uniform valid row)
    then for t = 0 .. K - 1:
        P_i  = w_0 + ... + w_i                   (prefix sums, local)
        c_i  = [U_t P_(R-1) < 2^32 P_i]          (R comparisons; c is 0 .. 0 1 .. 1)
        e_i  = c_i - c_(i-1)                     (one-hot: the first i with c_i = 1)
        C_t  = sum_i e_i x_i                     (R m products)
        d_i  = sum_a (X_ia - C_ta)^2             (exact, scale 2^2f: R m squares, no truncation)
        w_i  = v_i d_i if t = 0, else min(w_i, d_i)

so row i is centre t with probability w_i / sum w (up to 2^-32 from the
32-bit U_t), padded rows (w = 0) never. Everything stays secret: the
comparisons' bits, the chosen rows and the centres C_t, which start Lloyd's
iterations; only what the k-means spec reveals is opened at the end. A row
already chosen has w = 0, so the K centres are K distinct rows while the
data hold K distinct rows; if every row equals a chosen centre (sum w = 0),
no c_i is 1 and the centre is the origin.

The coin. U_t are public: 32-bit big-endian words of
SHAKE-256("mpcc-kmeans-seed-v1" || coin), t = 0 .. K - 1 (run r of
``params.n_init`` takes t = rK .. rK + K - 1 of the same stream), where the coin is
tossed by commit-then-reveal (offchain.engine.coin.toss_recorded) after
every party's rows are input and after the input hook (a peer's commitment
to its input shares on chain), so no party can choose its rows knowing the
draws. Public draws against secret prefix sums reveal nothing: only
comparison results, which stay shared, depend on the data. An auditable
run's record holds the coin's commitments and openings, and the replay
recomputes the same U_t.

Widths. With |x| <= kmeans.bound(spec), m (2B)^2 <= 2^(k-1-f), so
d_i < 2^(k-1+f) and U_t P_(R-1) - 2^32 P_i has fewer than
32 + (k - 1 + f) + bitlength(R) bits: the comparisons take
``compare_bits(spec)`` bits, which ``check`` keeps within the field.
"""

from __future__ import annotations

import hashlib
from typing import Final

from offchain.analytics import common
from offchain.analytics.spec import JobSpec
from offchain.engine import estimate
from offchain.engine.arith import mul, square
from offchain.engine.bitwise import KAPPA, block_sum, repeat
from offchain.engine.compare import less_than, ltz
from offchain.engine.evaluator import Evaluator, S
from offchain.preprocessing.tuples import Needs

#: Bits of each public draw U_t; a row's probability is off by less than 2^-DRAW_BITS.
DRAW_BITS: Final = 32
_TAG: Final = b"mpcc-kmeans-seed-v1"
_FIELD_BITS: Final = 252  # What a comparison's width plus KAPPA may reach (offchain.engine.compare).


def clusters(spec: JobSpec) -> int:
    """K: ``params.clusters``, or the number of explicit initial centroids."""
    return spec.params.clusters or len(spec.params.centroids)


def draws(coin: bytes, k: int) -> list[int]:
    """U_0 .. U_(k-1), each in [0, 2^DRAW_BITS), from the joint coin (public)."""
    size = DRAW_BITS // 8
    stream = hashlib.shake_256(_TAG + coin).digest(size * k)
    return [int.from_bytes(stream[t * size:(t + 1) * size], "big") for t in range(k)]


def _rows(spec: JobSpec) -> int:
    return (spec.max_rows or 0) * len(spec.participants)


def distance_bits(spec: JobSpec) -> int:
    """d_i < 2^distance_bits: squared distances at scale 2^2f of values within kmeans.bound."""
    return spec.fixed_point.k - 1 + spec.fixed_point.f


def compare_bits(spec: JobSpec) -> int:
    """The signed width of U_t P_(R-1) - 2^32 P_i when the weights are squared distances."""
    return DRAW_BITS + distance_bits(spec) + _rows(spec).bit_length() + 1


def check(spec: JobSpec) -> None:
    """The seeding's rules (ValueError naming the problem and what to do)."""
    k, rows = clusters(spec), _rows(spec)
    if k > rows:
        raise ValueError(f"params.clusters is {k}, more than the {rows} rows that max_rows "
                         f"({spec.max_rows}) times {len(spec.participants)} parties allow; k-means++ "
                         f"picks {k} distinct rows: lower params.clusters or raise max_rows")
    if compare_bits(spec) + KAPPA > _FIELD_BITS:
        raise ValueError(f"k-means++ seeding compares sums of squared distances of "
                         f"{compare_bits(spec)} bits, more than the {_FIELD_BITS - KAPPA} the field "
                         f"allows with fixed_point k={spec.fixed_point.k}, f={spec.fixed_point.f}; "
                         "lower k or f, or give params.centroids instead")


def needs(spec: JobSpec) -> Needs:
    """The tuples of ``seed`` (mirrors it step by step)."""
    k, rows, m = clusters(spec), _rows(spec), len(spec.columns)
    total = estimate.ltz(rows, DRAW_BITS + rows.bit_length() + 1)  # The first centre: weights v_i.
    total = total + estimate.ltz(rows * (k - 1), compare_bits(spec))
    total = total + estimate.mul(rows * m * k)  # Each centre from its one-hot row.
    total = total + estimate.square(rows * m * (k - 1)) + estimate.mul(rows)  # Distances; v_i d_i.
    return total + (estimate.less_than(rows * (k - 2), distance_bits(spec) + 1)
                    + estimate.mul(rows * (k - 2)) if k > 2 else Needs())


def _prefix(ctx: Evaluator[S], w: S) -> S:
    """P_i = w_0 + ... + w_i (local; log2 R shifted additions)."""
    n, shift = len(w), 1
    while shift < n:
        w = w + ctx.concat([ctx.zeros(shift), w[:n - shift]])
        shift *= 2
    return w


async def _pick(ctx: Evaluator[S], w: S, u: int, bits: int) -> S:
    """<e>, one-hot: row i with P_(i-1) <= U P_(R-1) / 2^32 < P_i (all zero if every w_i = 0)."""
    n = len(w)
    p = _prefix(ctx, w)
    below = await ltz(ctx, repeat(p[n - 1:], n).scale(u) - p.scale(1 << DRAW_BITS), bits)
    return below - ctx.concat([ctx.zeros(1), below[:n - 1]])


async def _centre(ctx: Evaluator[S], e: S, x: S, m: int) -> S:
    """sum_i e_i x_i for row-major x (m values)."""
    rows = len(e)
    chosen = await mul(ctx, common.gather(e, [i for i in range(rows) for _ in range(m)]), x)
    return block_sum(chosen, m)


async def _distances(ctx: Evaluator[S], x: S, c: S) -> S:
    """sum_a (X_ia - C_a)^2 per row, exact at scale 2^2f."""
    m = len(c)
    rows = len(x) // m
    diffs = (common.gather(x, [i * m + a for a in range(m) for i in range(rows)])
             - common.gather(c, [a for a in range(m) for _ in range(rows)]))
    return block_sum(await square(ctx, diffs), rows)


async def seed(ctx: Evaluator[S], spec: JobSpec, x: S, valid: S, u: list[int]) -> S:
    """K secret initial centroids (cluster-major, scale 2^f) by k-means++ on the input rows,
    from the K public draws ``u`` (``draws`` of a coin tossed after every input is shared and
    committed; run r of several takes the r-th K of one stream)."""
    k, m = clusters(spec), len(spec.columns)
    rows = len(valid)
    e = await _pick(ctx, valid, u[0], DRAW_BITS + rows.bit_length() + 1)
    centres = [await _centre(ctx, e, x, m)]
    w = await mul(ctx, valid, await _distances(ctx, x, centres[0]))
    for t in range(1, k):
        e = await _pick(ctx, w, u[t], compare_bits(spec))
        centres.append(await _centre(ctx, e, x, m))
        if t < k - 1:
            d = await _distances(ctx, x, centres[t])
            closer = await less_than(ctx, d, w, distance_bits(spec) + 1)
            w = w + await mul(ctx, closer, d - w)
    return ctx.concat(centres)
