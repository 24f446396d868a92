"""Decision trees: ID3 over categorical features, split by Gini or information gain under MPC.

The tree grows level by level, depth t = 0 .. max_depth. At level t every party
inputs, for each node slot of the level, the counts of its own rows that reach
the node per (feature, value, class); it routes its rows down the part of the
tree revealed so far itself. The slots are padded to P_t, the product of the
t largest domain sizes (the most nodes a level can have, since a path splits
on distinct features); unused slots input zeros. So the inputs and the tuple
needs follow from the spec alone and say nothing of the data. At the last
level (t = max_depth) the parties input class counts only.

For a node with counts n_vc of feature f (n_v = sum_c n_vc, n its size):

    weighted Gini(f) = sum_v (n_v / n) (1 - sum_c (n_vc / n_v)^2) = 1 - G_f / n,
    G_f = sum_v A_v / n'_v,   A_v = sum_c n_vc^2,   n'_v = max(n_v, 1)

so the best split maximises G_f. G_f is summed exactly as a fraction N_f / D_f
by a tree of (N1 D2 + N2 D1, D1 D2), and the candidates (the features not yet
on the node's path) are compared by cross-multiplication, N_a D_b < N_b D_a,
in a tournament where ties go to the lowest feature index. Every step is exact
integer arithmetic, so the MPC tree is the plaintext tree of the same rule.

Information gain (``params.criterion`` "entropy"): the gain of f is H(Y) - H(Y|f),
H(Y) is the same for every candidate, and

    n H(Y|f) = sum_v (n_v log2 n_v - sum_c n_vc log2 n_vc) ~ E_f / 2^G,
    E_f = sum_v XLOG(n_v) - sum_(v,c) XLOG(n_vc)

with XLOG = XLOG_b of offchain.engine.logarithm (b = N.bit_length()): an integer
a log2 a at scale 2^G that MPC computes exactly, bit for bit as its plaintext
twin. The best split minimises the integer E_f, in the same tournament (ties:
the lowest feature index), so the MPC tree is again exactly the plaintext tree
of the same rule. Error against exact information gain: XLOG(a) / 2^G is within
a delta of a log2 a, delta = LOG2_ERR = 5e-8 for a < 2^19 (plus 2^-18 / ln 2
above), so |E_f / 2^G - n H(Y|f)| <= delta (sum_v n_v + sum_vc n_vc) = 2 n delta:
every candidate's H(Y|f) is off by at most 2 delta bits, and the split is the
exact ID3 choice whenever its gain beats every other candidate's by more than
4 delta (2e-7 bits for counts below 2^19). Nearer gains (exact ties between
different count tables included) may go either way, identically for MPC and
plaintext. Cost: one XLOG per count (b random bits and 51, 125 or 215 products
for b = 10, 20 or 29, ``estimate.xlog2x``) where Gini takes one square.

A node is a leaf when it is at max_depth or pure (one class only, or empty).
A leaf predicts its majority class (ties: the first in the label's domain);
an empty leaf predicts its parent's. Per node exactly one value is opened:
the split feature, or the leaf's class. The result, breadth first:

    {"node[]": "split:outlook", "node[outlook=rain]": "split:wind",
     "node[outlook=rain,wind=weak]": "leaf:yes", ...}

Bounds: with N = parties * max_rows, counts use N.bit_length() + 1 bits, the
Gini comparisons ``Shape.gini_bits`` bits (N D_max^2, D_max the largest
possible product (N/d + 1)^d) and the entropy comparisons ``Shape.entropy_bits``
(|E_f| < N (b + 1) 2^G); the spec is refused when the criterion's bits exceed
what the field allows (``MAX_GINI_BITS``) or the padded slots exceed ``MAX_INPUTS``.

The input hook (commitment on chain) runs with the first level's inputs;
later levels' inputs are the same rows counted under the revealed partial
tree, so they are not committed separately.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from offchain.analytics import common
from offchain.analytics.data import Table
from offchain.analytics.spec import JobSpec
from offchain.engine import estimate
from offchain.engine.arith import mul, square
from offchain.engine.bitwise import KAPPA
from offchain.engine.compare import ltz
from offchain.engine.context import Context
from offchain.engine.logarithm import scale_bits, xlog2x
from offchain.engine.mac_check import check_pending
from offchain.field import FieldVec
from offchain.preprocessing.tuples import Needs
from offchain.shares import SharedVec

MAX_GINI_BITS = 252 - KAPPA - 2  # ltz(bits + 1) needs bits + 1 + kappa <= 252 (both criteria).
MAX_INPUTS = 1 << 15            # Padded input values per party, all levels together.
Path = tuple[tuple[int, int], ...]  # (feature index, value index) from the root.


@dataclass(frozen=True)
class Shape:
    """The public shape of a tree job: features, domain sizes, classes, depth, row bound."""

    features: tuple[str, ...]
    sizes: tuple[int, ...]
    classes: int
    depth: int
    rows: int
    criterion: str = "gini"

    def slots(self, t: int) -> int:
        return math.prod(sorted(self.sizes, reverse=True)[:t])

    @property
    def width(self) -> int:
        """Inputs per slot of a splitting level: one count per (feature, value, class)."""
        return self.classes * sum(self.sizes)

    def level_width(self, t: int) -> int:
        return self.width if t < self.depth else self.classes

    def offset(self, f: int) -> int:
        return self.classes * sum(self.sizes[:f])

    @property
    def count_bits(self) -> int:
        return self.rows.bit_length() + 1

    @property
    def gini_bits(self) -> int:
        d_max = max(-(-(self.rows + d) ** d // d ** d) for d in self.sizes)
        return (self.rows * d_max * d_max).bit_length() + 1

    @property
    def log_bits(self) -> int:
        """b: every count 0 .. rows is below 2^b (the width XLOG works on)."""
        return max(2, self.rows.bit_length())

    @property
    def entropy_bits(self) -> int:
        """Signed bits of E_f: |E_f| < rows (b + 1) 2^G."""
        return (self.rows * (self.log_bits + 1)).bit_length() + scale_bits(self.log_bits) + 1

    @property
    def score_bits(self) -> int:
        """Signed bits of the criterion's compared values."""
        return self.gini_bits if self.criterion == "gini" else self.entropy_bits

    @property
    def inputs(self) -> int:
        return sum(self.slots(t) * self.level_width(t) for t in range(self.depth + 1))


def shape_of(spec: JobSpec) -> Shape:
    label = spec.label or ""
    return Shape(spec.columns, tuple(len(spec.domain(c)) for c in spec.columns),
                 len(spec.domain(label)), spec.params.max_depth or 0,
                 (spec.max_rows or 0) * len(spec.participants), spec.params.criterion)


def check(spec: JobSpec) -> None:
    """The tree's own spec rules (ValueError naming the problem)."""
    p = spec.params
    if p.max_depth is None or not 1 <= p.max_depth <= len(spec.columns):
        raise ValueError(f"a decision tree needs params.max_depth from 1 to the number of "
                         f"features ({len(spec.columns)})")
    if len(spec.domain(spec.label or "")) < 2:
        raise ValueError("the label of a decision tree needs at least two classes")
    sh = shape_of(spec)
    if sh.score_bits > MAX_GINI_BITS:
        raise ValueError(f"{p.criterion} comparisons for max_rows={spec.max_rows} and domain sizes "
                         f"{list(sh.sizes)} need {sh.score_bits} bits, above {MAX_GINI_BITS}; "
                         "lower max_rows or merge feature values")
    if sh.inputs > MAX_INPUTS:
        raise ValueError(f"the padded tree needs {sh.inputs} inputs per party, above "
                         f"{MAX_INPUTS}; lower max_depth or use fewer or smaller features")


# Tuple needs (mirrors _split_level and _leaf_level) ------------------------------------------
def needs(spec: JobSpec) -> Needs:
    sh = shape_of(spec)
    total = Needs()
    for t in range(sh.depth + 1):
        s = sh.slots(t)
        total = (total + common.input_needs(spec, s * sh.level_width(t))
                 + estimate.argmax(sh.classes, sh.count_bits) * s)
        if t == sh.depth:
            total = total + estimate.ltz(s, sh.count_bits) + estimate.mul(s)
        else:
            total = total + _split_needs(sh, t)
    return total


def _split_needs(sh: Shape, t: int) -> Needs:
    s, values, matches = sh.slots(t), sum(sh.sizes), len(sh.sizes) - t - 1
    if sh.criterion == "gini":
        return (estimate.square(s * sh.width) + estimate.ltz(s * values + 2 * s, sh.count_bits)
                + estimate.mul(3 * s * (values - len(sh.sizes)))
                + (estimate.mul(5) + estimate.less_than(1, sh.gini_bits)) * (s * matches)
                + estimate.mul(2 * s))
    return (estimate.xlog2x(s * (sh.width + values), sh.log_bits)
            + estimate.ltz(2 * s, sh.count_bits)
            + (estimate.mul(2) + estimate.less_than(1, sh.entropy_bits)) * (s * matches)
            + estimate.mul(2 * s))


# Local counts ---------------------------------------------------------------------------------
def local(spec: JobSpec, table: Table, sh: Shape, paths: Sequence[Path], t: int) -> list[int]:
    """This party's counts per slot of level t (zeros for the padding slots)."""
    label = table.codes[spec.label or ""]
    out: list[int] = []
    for path in paths:
        reach = np.ones(table.rows, dtype=bool)
        for f, v in path:
            reach &= table.codes[sh.features[f]] == v
        y = label[reach]
        if t == sh.depth:
            out += np.bincount(y, minlength=sh.classes).tolist()
            continue
        for f, name in enumerate(sh.features):
            cell = table.codes[name][reach] * sh.classes + y
            out += np.bincount(cell, minlength=sh.sizes[f] * sh.classes).tolist()
    out += [0] * ((sh.slots(t) - len(paths)) * sh.level_width(t))
    return out


# Under MPC ------------------------------------------------------------------------------------
Item = tuple[SharedVec, ...]
Better = Callable[[Item, Item], Awaitable[SharedVec]]


async def tournament(ctx: Context, items: Sequence[Item], right_wins: Better) -> Item:
    """The winner of each column of ``items`` (every component a vector over groups).

    Neighbours meet level by level, as offchain.engine.compare's tournaments;
    ``right_wins`` returns <1> where the right item beats the left one, so the
    left (lower index) keeps ties. One product per component and match.
    """
    items = list(items)
    while len(items) > 1:
        h, parts = len(items) // 2, len(items[0])
        left = tuple(SharedVec.concat([items[2 * i][c] for i in range(h)]) for c in range(parts))
        right = tuple(SharedVec.concat([items[2 * i + 1][c] for i in range(h)])
                      for c in range(parts))
        take = await right_wins(left, right)
        delta = await mul(ctx, SharedVec.concat([take] * parts),
                          SharedVec.concat([r - lf for lf, r in zip(left, right)]))
        n = len(take)
        won = [left[c] + delta[c * n:(c + 1) * n] for c in range(parts)]
        g = n // h
        items = [tuple(w[i * g:(i + 1) * g] for w in won) for i in range(h)] + items[2 * h:]
    return items[0]


async def fraction_sums(ctx: Context, groups: list[list[Item]]) -> list[Item]:
    """sum of the fractions (N, D) of each group, exactly: (N1 D2 + N2 D1, D1 D2) by a tree."""
    while any(len(g) > 1 for g in groups):
        pairs = [(g[2 * i], g[2 * i + 1]) for g in groups for i in range(len(g) // 2)]
        xs = [a[0] for a, _ in pairs] + [b[0] for _, b in pairs] + [a[1] for a, _ in pairs]
        ys = [b[1] for _, b in pairs] + [a[1] for a, _ in pairs] + [b[1] for _, b in pairs]
        prod = await mul(ctx, SharedVec.concat(xs), SharedVec.concat(ys))
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


def _column(x: SharedVec, width: int, slots: int, offset: int) -> SharedVec:
    return common.gather(x, [s * width + offset for s in range(slots)])


async def _majority(ctx: Context, sh: Shape, class_counts: list[SharedVec]) -> Item:
    """(<max count>, <index of the first class holding it>) per slot."""
    slots = len(class_counts[0])

    async def right_wins(left: Item, right: Item) -> SharedVec:
        return await ltz(ctx, left[0] - right[0], sh.count_bits + 1)

    items = [(n, SharedVec.zeros(slots).add_public(c, ctx.key)) for c, n in enumerate(class_counts)]
    return await tournament(ctx, items, right_wins)


async def _split_level(ctx: Context, sh: Shape, t: int, tot: SharedVec, paths: Sequence[Path],
                       parent: SharedVec) -> tuple[SharedVec, SharedVec]:
    """(<code> per slot: the split feature, or F + the leaf class; <majority class> per slot)."""
    slots, width, C, F = len(parent), sh.width, sh.classes, len(sh.features)
    cell = [[[_column(tot, width, slots, sh.offset(f) + v * C + c) for c in range(C)]
             for v in range(sh.sizes[f])] for f in range(F)]
    gini = sh.criterion == "gini"
    class_counts = [_sum([cell[0][v][c] for v in range(sh.sizes[0])]) for c in range(C)]
    size = _sum(class_counts)
    top, own = await _majority(ctx, sh, class_counts)
    value_sizes = [_sum(cell[f][v]) for f in range(F) for v in range(sh.sizes[f])]
    probes = [n.sub_public(1, ctx.key) for n in value_sizes] if gini else []
    tests = await ltz(ctx, SharedVec.concat(probes + [size.sub_public(1, ctx.key), top - size]),
                      sh.count_bits)
    at = len(probes) * slots
    empty, pure = tests[at:at + slots], tests[at + slots:].rsub_public(1, ctx.key)
    if gini:
        scores = await _gini_scores(ctx, sh, tot, value_sizes, tests[:at])
    else:
        scores = await _entropy_scores(ctx, sh, tot, value_sizes)
    best = await _best_split(ctx, sh, t, scores, paths, slots)
    leaf = own + await mul(ctx, empty, parent - own)
    code = best + await mul(ctx, pure, leaf.add_public(F, ctx.key) - best)
    return code, own


async def _gini_scores(ctx: Context, sh: Shape, tot: SharedVec, value_sizes: list[SharedVec],
                       empty: SharedVec) -> list[Item]:
    """(N_f, D_f) per feature with G_f = N_f / D_f = sum_v A_v / n'_v (exact fractions)."""
    slots, C = len(value_sizes[0]), sh.classes
    squares = await square(ctx, tot)
    groups, i = [], 0
    for f in range(len(sh.features)):
        group = []
        for v in range(sh.sizes[f]):
            a = _sum([_column(squares, sh.width, slots, sh.offset(f) + v * C + c)
                      for c in range(C)])
            group.append((a, value_sizes[i] + empty[i * slots:(i + 1) * slots]))
            i += 1
        groups.append(group)
    return await fraction_sums(ctx, groups)


async def _entropy_scores(ctx: Context, sh: Shape, tot: SharedVec, value_sizes: list[SharedVec]
                          ) -> list[Item]:
    """(E_f,) per feature: sum_v XLOG(n_v) - sum_(v,c) XLOG(n_vc), n H(Y|f) at scale 2^G."""
    slots, C = len(value_sizes[0]), sh.classes
    logs = await xlog2x(ctx, SharedVec.concat([tot, *value_sizes]), sh.log_bits)
    cells, sizes = logs[:len(tot)], logs[len(tot):]
    scores, i = [], 0
    for f in range(len(sh.features)):
        e = SharedVec.zeros(slots)
        for v in range(sh.sizes[f]):
            e = e + sizes[i * slots:(i + 1) * slots] - _sum(
                [_column(cells, sh.width, slots, sh.offset(f) + v * C + c) for c in range(C)])
            i += 1
        scores.append((e,))
    return scores


def _sum(parts: Sequence[SharedVec]) -> SharedVec:
    acc = parts[0]
    for part in parts[1:]:
        acc = acc + part
    return acc


async def _best_split(ctx: Context, sh: Shape, t: int, scores: list[Item],
                      paths: Sequence[Path], slots: int) -> SharedVec:
    """<the candidate with the largest G_f or least E_f> per slot (ties: the lowest index)."""
    F = len(sh.features)
    candidates = [[f for f in range(F) if f not in {g for g, _ in path}] for path in paths]
    candidates += [list(range(F - t))] * (slots - len(paths))
    items = []
    for j in range(F - t):
        chosen = [row[j] for row in candidates]
        index = SharedVec.zeros(slots).add_public(FieldVec.from_ints(chosen), ctx.key)
        items.append((*[_pick(scores, chosen, p) for p in range(len(scores[0]))], index))

    async def right_wins(left: Item, right: Item) -> SharedVec:
        if sh.criterion == "entropy":
            return await ltz(ctx, right[0] - left[0], sh.entropy_bits + 1)
        cross = await mul(ctx, SharedVec.concat([left[0], right[0]]),
                          SharedVec.concat([right[1], left[1]]))
        n = len(left[0])
        return await ltz(ctx, cross[:n] - cross[n:], sh.gini_bits + 1)

    return (await tournament(ctx, items, right_wins))[-1]


def _pick(scores: list[Item], chosen: list[int], part: int) -> SharedVec:
    """Per slot s, component ``part`` of feature chosen[s]'s score."""
    stacked = SharedVec.concat([fr[part] for fr in scores])
    slots = len(chosen)
    return common.gather(stacked, [f * slots + s for s, f in enumerate(chosen)])


async def _leaf_level(ctx: Context, sh: Shape, tot: SharedVec, parent: SharedVec) -> SharedVec:
    """<leaf class> per slot of the last level."""
    slots, C = len(parent), sh.classes
    class_counts = [_column(tot, C, slots, c) for c in range(C)]
    _, own = await _majority(ctx, sh, class_counts)
    empty = await ltz(ctx, _sum(class_counts).sub_public(1, ctx.key), sh.count_bits)
    return own + await mul(ctx, empty, parent - own)


async def run(ctx: Context, spec: JobSpec, table: Table,
              on_inputs: common.InputHook | None = None) -> dict[str, str]:
    sh = shape_of(spec)
    F, classes = len(sh.features), spec.domain(spec.label or "")
    paths: list[Path] = [()]
    parent = SharedVec.zeros(1)
    result: dict[str, str] = {}
    for t in range(sh.depth + 1):
        inputs = await common.input_all(ctx, spec, local(spec, table, sh, paths, t),
                                        on_inputs if t == 0 else None)
        tot = common.total(inputs)
        if t < sh.depth:
            code, own = await _split_level(ctx, sh, t, tot, paths, parent)
        else:
            code, own = (await _leaf_level(ctx, sh, tot, parent)).add_public(F, ctx.key), parent
        if not paths:
            await check_pending(ctx)  # Nothing left to reveal; the level's openings are checked.
            continue
        (opened,) = await common.reveal(ctx, [common.gather(code, range(len(paths)))])
        children: list[Path] = []
        parents: list[int] = []
        for s, (path, value) in enumerate(zip(paths, opened)):
            if value >= F:
                result[node_key(spec, path)] = f"leaf:{classes[value - F]}"
                continue
            result[node_key(spec, path)] = f"split:{sh.features[value]}"
            for v in range(sh.sizes[value]):
                children.append((*path, (value, v)))
                parents.append(s)
        if t < sh.depth:
            parent = common.gather(own, parents + [0] * (sh.slots(t + 1) - len(parents)))
        paths = children
    return result


def node_key(spec: JobSpec, path: Path) -> str:
    """The result key of the node at ``path``: node[feature=value,...]."""
    return "node[" + ",".join(f"{spec.columns[f]}={spec.domain(spec.columns[f])[v]}"
                              for f, v in path) + "]"


def predict(spec: JobSpec, result: Mapping[str, str], record: Mapping[str, str]) -> str:
    """The class the revealed tree gives a record (feature -> value)."""
    path: list[str] = []
    while True:
        kind, _, name = result["node[" + ",".join(path) + "]"].partition(":")
        if kind == "leaf":
            return name
        path.append(f"{name}={record[name]}")
