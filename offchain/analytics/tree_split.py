"""One level of a decision tree under MPC: its public shape and bounds, and the split rule.

``split_level`` turns the summed counts of a level's node slots into one code
per slot (the best split feature, or F + the leaf class) and ``leaf_level``
does the same for the last level's class counts; the rule, its exactness and
its bounds are described in offchain.analytics.tree. ``level_needs`` mirrors
both, from the shape alone. Every count the rule sees is a nonnegative
integer; under differential privacy they are noisy counts clamped at 0
(offchain.analytics.tree_privacy), and ``Shape.bound`` widens every bound to
them.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from offchain.analytics import common
from offchain.engine import estimate
from offchain.engine.arith import mul, square
from offchain.engine.bitwise import KAPPA
from offchain.engine.compare import ltz
from offchain.engine.evaluator import Evaluator, S
from offchain.engine.logarithm import scale_bits, xlog2x
from offchain.field import FieldVec
from offchain.preprocessing.tuples import Needs

MAX_GINI_BITS = 252 - KAPPA - 2  # ltz(bits + 1) needs bits + 1 + kappa <= 252 (both criteria).
Path = tuple[tuple[int, int], ...]  # (feature index, value index) from the root.


@dataclass(frozen=True)
class Shape:
    """The public shape of a tree job: features, domain sizes, classes, depth, row bound, noise.

    ``epsilon`` is the job's privacy budget (None: exact counts) and
    ``noise_bits`` W bounds every noise value, |Z| < 2^W (0 without noise).
    A random forest (offchain.analytics.forest) grows ``trees`` trees of this
    shape side by side, each level of all trees in one batch; a row counts
    up to ``weight`` times in one tree (``rows`` is then the weighted bound)
    and a node's candidates are ``max_features`` drawn features (0: all).
    """

    features: tuple[str, ...]
    sizes: tuple[int, ...]
    classes: int
    depth: int
    rows: int
    criterion: str = "gini"
    epsilon: float | None = None
    noise_bits: int = 0
    trees: int = 1
    weight: int = 1
    max_features: int = 0

    def slots(self, t: int) -> int:
        """Node slots of level t in one tree."""
        return math.prod(sorted(self.sizes, reverse=True)[:t])

    def choices(self, t: int) -> int:
        """Candidate features of every node of level t (the same number in every slot)."""
        free = len(self.sizes) - t
        return min(self.max_features, free) if self.max_features else free

    @property
    def width(self) -> int:
        """Inputs per slot of a splitting level: one count per (feature, value, class)."""
        return self.classes * sum(self.sizes)

    def level_width(self, t: int) -> int:
        return self.width if t < self.depth else self.classes

    def offset(self, f: int) -> int:
        return self.classes * sum(self.sizes[:f])

    @property
    def bound(self) -> int:
        """The most any sum of one feature's counts at a node may reach (rows without noise).

        Clamped noisy cells add at most 2^W - 1 each to the rows: a feature has at most
        classes * max(sizes) cells per node.
        """
        return self.rows + ((1 << self.noise_bits) - 1) * self.classes * max(self.sizes)

    @property
    def noisy_bits(self) -> int:
        """Signed bits of a noisy count before clamping: -2^W < n + Z < rows + 2^W."""
        return (self.rows + (1 << self.noise_bits)).bit_length() + 1

    @property
    def count_bits(self) -> int:
        return self.bound.bit_length() + 1

    @property
    def gini_bits(self) -> int:
        d_max: int = max(-(-(self.bound + d) ** d // d ** d) for d in self.sizes)
        return (self.bound * d_max * d_max).bit_length() + 1

    @property
    def log_bits(self) -> int:
        """b: every count 0 .. bound is below 2^b (the width XLOG works on)."""
        return max(2, self.bound.bit_length())

    @property
    def entropy_bits(self) -> int:
        """Signed bits of E_f: |E_f| < bound (b + 1) 2^G."""
        return (self.bound * (self.log_bits + 1)).bit_length() + scale_bits(self.log_bits) + 1

    @property
    def score_bits(self) -> int:
        """Signed bits of the criterion's compared values."""
        return self.gini_bits if self.criterion == "gini" else self.entropy_bits

    @property
    def inputs(self) -> int:
        """Input values per party, all trees and levels together."""
        return self.trees * sum(self.slots(t) * self.level_width(t) for t in range(self.depth + 1))


# Tuple needs (mirror split_level and leaf_level) -----------------------------------------------
def level_needs(sh: Shape, t: int) -> Needs:
    """The rule's tuples at level t of all trees (the inputs and any noise not included)."""
    s = sh.trees * sh.slots(t)
    total = estimate.argmax(sh.classes, sh.count_bits) * s
    if t == sh.depth:
        return total + estimate.ltz(s, sh.count_bits) + estimate.mul(s)
    values, matches = sum(sh.sizes), sh.choices(t) - 1
    if sh.criterion == "gini":
        return (total + estimate.square(s * sh.width)
                + estimate.ltz(s * values + 2 * s, sh.count_bits)
                + estimate.mul(3 * s * (values - len(sh.sizes)))
                + (estimate.mul(5) + estimate.less_than(1, sh.gini_bits)) * (s * matches)
                + estimate.mul(2 * s))
    return (total + estimate.xlog2x(s * (sh.width + values), sh.log_bits)
            + estimate.ltz(2 * s, sh.count_bits)
            + (estimate.mul(2) + estimate.less_than(1, sh.entropy_bits)) * (s * matches)
            + estimate.mul(2 * s))


# Tournaments and exact fractions --------------------------------------------------------------
Item = tuple[S, ...]
Better = Callable[[Item[S], Item[S]], Awaitable[S]]


async def tournament(ctx: Evaluator[S], items: Sequence[Item[S]], right_wins: Better[S]) -> Item[S]:
    """The winner of each column of ``items`` (every component a vector over groups).

    Neighbours meet level by level, as offchain.engine.compare's tournaments;
    ``right_wins`` returns <1> where the right item beats the left one, so the
    left (lower index) keeps ties. One product per component and match.
    """
    items = list(items)
    while len(items) > 1:
        h, parts = len(items) // 2, len(items[0])
        left = tuple(ctx.concat([items[2 * i][c] for i in range(h)]) for c in range(parts))
        right = tuple(ctx.concat([items[2 * i + 1][c] for i in range(h)])
                      for c in range(parts))
        take = await right_wins(left, right)
        delta = await mul(ctx, ctx.concat([take] * parts),
                          ctx.concat([r - lf for lf, r in zip(left, right, strict=True)]))
        n = len(take)
        won = [left[c] + delta[c * n:(c + 1) * n] for c in range(parts)]
        g = n // h
        items = [tuple(w[i * g:(i + 1) * g] for w in won) for i in range(h)] + items[2 * h:]
    return items[0]


async def fraction_sums(ctx: Evaluator[S], groups: list[list[Item[S]]]) -> list[Item[S]]:
    """sum of the fractions (N, D) of each group, exactly: (N1 D2 + N2 D1, D1 D2) by a tree."""
    while any(len(g) > 1 for g in groups):
        pairs = [(g[2 * i], g[2 * i + 1]) for g in groups for i in range(len(g) // 2)]
        xs = [a[0] for a, _ in pairs] + [b[0] for _, b in pairs] + [a[1] for a, _ in pairs]
        ys = [b[1] for _, b in pairs] + [a[1] for a, _ in pairs] + [b[1] for _, b in pairs]
        prod = await mul(ctx, ctx.concat(xs), ctx.concat(ys))
        n, k = len(pairs[0][0][0]), len(pairs)
        merged = [(prod[i * n:(i + 1) * n] + prod[(k + i) * n:(k + i + 1) * n],
                   prod[(2 * k + i) * n:(2 * k + i + 1) * n]) for i in range(k)]
        out, at = [], 0
        for g in groups:
            h = len(g) // 2
            out.append(merged[at:at + h] + g[2 * h:])
            at += h
        groups = out
    return [g[0] for g in groups]


def _column(x: S, width: int, slots: int, offset: int) -> S:
    return common.gather(x, [s * width + offset for s in range(slots)])


def _sum(parts: Sequence[S]) -> S:
    acc = parts[0]
    for part in parts[1:]:
        acc = acc + part
    return acc


# The rule ---------------------------------------------------------------------------------------
async def _majority(ctx: Evaluator[S], sh: Shape, class_counts: list[S]) -> Item[S]:
    """(<max count>, <index of the first class holding it>) per slot."""
    slots = len(class_counts[0])

    async def right_wins(left: Item[S], right: Item[S]) -> S:
        return await ltz(ctx, left[0] - right[0], sh.count_bits + 1)

    items = [(n, ctx.add_public(ctx.zeros(slots), c)) for c, n in enumerate(class_counts)]
    return await tournament(ctx, items, right_wins)


def free_features(sh: Shape, t: int, paths: Sequence[Path]) -> list[list[int]]:
    """Every slot's candidates at level t: the features not on its path (padding: the first)."""
    F = len(sh.features)
    free = [[f for f in range(F) if f not in {g for g, _ in path}] for path in paths]
    return free + [list(range(F - t))] * (sh.slots(t) - len(paths))


async def split_level(ctx: Evaluator[S], sh: Shape, tot: S, candidates: Sequence[Sequence[int]],
                      parent: S) -> tuple[S, S]:
    """(<code> per slot: the split feature, or F + the leaf class; <majority class> per slot).

    ``candidates`` lists each slot's candidate features in increasing order, as
    many in every slot; ties go to the first.
    """
    slots, width, C, F = len(parent), sh.width, sh.classes, len(sh.features)
    cell = [[[_column(tot, width, slots, sh.offset(f) + v * C + c) for c in range(C)]
             for v in range(sh.sizes[f])] for f in range(F)]
    gini = sh.criterion == "gini"
    class_counts = [_sum([cell[0][v][c] for v in range(sh.sizes[0])]) for c in range(C)]
    size = _sum(class_counts)
    top, own = await _majority(ctx, sh, class_counts)
    value_sizes = [_sum(cell[f][v]) for f in range(F) for v in range(sh.sizes[f])]
    probes = [ctx.sub_public(n, 1) for n in value_sizes] if gini else []
    tests = await ltz(ctx, ctx.concat([*probes, ctx.sub_public(size, 1), top - size]),
                      sh.count_bits)
    at = len(probes) * slots
    empty, pure = tests[at:at + slots], ctx.rsub_public(tests[at + slots:], 1)
    if gini:
        scores = await _gini_scores(ctx, sh, tot, value_sizes, tests[:at])
    else:
        scores = await _entropy_scores(ctx, sh, tot, value_sizes)
    best = await _best_split(ctx, sh, scores, candidates)
    leaf = own + await mul(ctx, empty, parent - own)
    code = best + await mul(ctx, pure, ctx.add_public(leaf, F) - best)
    return code, own


async def _gini_scores(ctx: Evaluator[S], sh: Shape, tot: S, value_sizes: list[S],
                       empty: S) -> list[Item[S]]:
    """(N_f, D_f) per feature with G_f = N_f / D_f = sum_v A_v / n'_v (exact fractions)."""
    slots, C = len(value_sizes[0]), sh.classes
    squares = await square(ctx, tot)
    groups: list[list[Item[S]]] = []
    i = 0
    for f in range(len(sh.features)):
        group: list[Item[S]] = []
        for v in range(sh.sizes[f]):
            a = _sum([_column(squares, sh.width, slots, sh.offset(f) + v * C + c)
                      for c in range(C)])
            group.append((a, value_sizes[i] + empty[i * slots:(i + 1) * slots]))
            i += 1
        groups.append(group)
    return await fraction_sums(ctx, groups)


async def _entropy_scores(ctx: Evaluator[S], sh: Shape, tot: S, value_sizes: list[S]
                          ) -> list[Item[S]]:
    """(E_f,) per feature: sum_v XLOG(n_v) - sum_(v,c) XLOG(n_vc), n H(Y|f) at scale 2^G."""
    slots, C = len(value_sizes[0]), sh.classes
    logs = await xlog2x(ctx, ctx.concat([tot, *value_sizes]), sh.log_bits)
    cells, sizes = logs[:len(tot)], logs[len(tot):]
    scores: list[Item[S]] = []
    i = 0
    for f in range(len(sh.features)):
        e = ctx.zeros(slots)
        for v in range(sh.sizes[f]):
            e = e + sizes[i * slots:(i + 1) * slots] - _sum(
                [_column(cells, sh.width, slots, sh.offset(f) + v * C + c) for c in range(C)])
            i += 1
        scores.append((e,))
    return scores


async def _best_split(ctx: Evaluator[S], sh: Shape, scores: list[Item[S]],
                      candidates: Sequence[Sequence[int]]) -> S:
    """<the candidate with the largest G_f or least E_f> per slot (ties: the lowest index)."""
    slots = len(candidates)
    items = []
    for j in range(len(candidates[0])):
        chosen = [row[j] for row in candidates]
        index = ctx.add_public(ctx.zeros(slots), FieldVec.from_ints(chosen))
        items.append((*[_pick(scores, chosen, p) for p in range(len(scores[0]))], index))

    async def right_wins(left: Item[S], right: Item[S]) -> S:
        if sh.criterion == "entropy":
            return await ltz(ctx, right[0] - left[0], sh.entropy_bits + 1)
        cross = await mul(ctx, ctx.concat([left[0], right[0]]),
                          ctx.concat([right[1], left[1]]))
        n = len(left[0])
        return await ltz(ctx, cross[:n] - cross[n:], sh.gini_bits + 1)

    return (await tournament(ctx, items, right_wins))[-1]


def _pick(scores: list[Item[S]], chosen: list[int], part: int) -> S:
    """Per slot s, component ``part`` of feature chosen[s]'s score."""
    stacked = type(scores[0][part]).concat([fr[part] for fr in scores])
    slots = len(chosen)
    return common.gather(stacked, [f * slots + s for s, f in enumerate(chosen)])


async def leaf_level(ctx: Evaluator[S], sh: Shape, tot: S, parent: S) -> S:
    """<leaf class> per slot of the last level."""
    slots, C = len(parent), sh.classes
    class_counts = [_column(tot, C, slots, c) for c in range(C)]
    _, own = await _majority(ctx, sh, class_counts)
    empty = await ltz(ctx, ctx.sub_public(_sum(class_counts), 1), sh.count_bits)
    return own + await mul(ctx, empty, parent - own)
