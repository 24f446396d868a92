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
Under differential privacy N is replaced by ``Shape.bound``, which covers the
clamped noisy counts.

Differential privacy (``params.epsilon``): every level's counts get discrete
Laplace noise inside MPC and are clamped at 0 before the rule above runs on
them, epsilon / (max_depth + 1) per level (offchain.analytics.tree_privacy has
the mechanism, its sensitivities and its accounting). Without epsilon the tree
is the exact one.

The input hook (commitment on chain) runs with the first level's inputs;
later levels' inputs are the same rows counted under the revealed partial
tree, so they are not committed separately.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np

from offchain.analytics import common, privacy, tree_privacy
from offchain.analytics.data import Table
from offchain.analytics.spec import JobSpec
from offchain.analytics.tree_split import (
    MAX_GINI_BITS,
    Path,
    Shape,
    free_features,
    leaf_level,
    level_needs,
    split_level,
)
from offchain.engine.evaluator import Evaluator, S
from offchain.engine.mac_check import check_pending
from offchain.preprocessing.tuples import Needs

__all__ = ["MAX_GINI_BITS", "MAX_INPUTS", "Shape", "check", "check_bounds", "local", "needs", "node_key",
           "predict", "run", "shape_of"]

MAX_INPUTS = 1 << 15            # Padded input values per party, all levels together.


def shape_of(spec: JobSpec) -> Shape:
    label = spec.label or ""
    sh = Shape(spec.columns, tuple(len(spec.domain(c)) for c in spec.columns),
               len(spec.domain(label)), spec.params.max_depth or 0,
               (spec.max_rows or 0) * len(spec.participants), spec.params.criterion,
               spec.params.epsilon)
    return replace(sh, noise_bits=tree_privacy.noise_bits(sh))


def check(spec: JobSpec) -> None:
    """The tree's own spec rules (ValueError naming the problem)."""
    p = spec.params
    if p.max_depth is None or not 1 <= p.max_depth <= len(spec.columns):
        raise ValueError(f"a decision tree needs params.max_depth from 1 to the number of "
                         f"features ({len(spec.columns)})")
    if len(spec.domain(spec.label or "")) < 2:
        raise ValueError("the label of a decision tree needs at least two classes")
    if p.epsilon is not None:
        privacy.check(spec)  # The epsilon's range first: the noise bound below depends on it.
    check_bounds(spec, shape_of(spec))


def check_bounds(spec: JobSpec, sh: Shape) -> None:
    """The field's room for the comparisons of ``sh`` and the cap on its inputs (ValueError)."""
    p = spec.params
    if sh.score_bits > MAX_GINI_BITS:
        noise = (f" and noise below 2^{sh.noise_bits} (epsilon {p.epsilon:g} over "
                 f"{sh.depth + 1} levels)" if sh.noise_bits else "")
        weight = f", rows weighted up to {sh.weight}" if sh.weight > 1 else ""
        remedies = ["lower max_rows or merge feature values"]
        remedies += ["raise epsilon"] if noise else []
        remedies += ['use params.criterion "entropy"'] if noise and p.criterion == "gini" else []
        raise ValueError(f"{p.criterion} comparisons for max_rows={spec.max_rows}{weight} and domain "
                         f"sizes {list(sh.sizes)}{noise} need {sh.score_bits} bits, above "
                         f"{MAX_GINI_BITS}; " + ", or ".join(remedies))
    if sh.inputs > MAX_INPUTS:
        trees = f" {sh.trees} padded trees need" if sh.trees > 1 else " padded tree needs"
        raise ValueError(f"the{trees} {sh.inputs} inputs per party, above {MAX_INPUTS}; lower "
                         f"max_depth{' or trees' if sh.trees > 1 else ''} or use fewer or smaller features")


def needs(spec: JobSpec) -> Needs:
    """Every level's inputs and rule, and under epsilon its noise (mirrors ``run``)."""
    sh = shape_of(spec)
    total = tree_privacy.needs(sh)
    for t in range(sh.depth + 1):
        width = sh.slots(t) * sh.level_width(t)
        total = (total + common.input_needs(spec, width, [common.count_bound(spec)] * width)
                 + level_needs(sh, t))
    return total


def local(spec: JobSpec, table: Table, sh: Shape, paths: Sequence[Path], t: int,
          weights: np.ndarray | None = None) -> list[int]:
    """This party's counts per slot of level t (zeros for the padding slots).

    With ``weights`` (one small nonnegative integer per row) a row counts that many times.
    """
    label = table.codes[spec.label or ""]
    out: list[int] = []
    for path in paths:
        reach = np.ones(table.rows, dtype=bool)
        for f, v in path:
            reach &= table.codes[sh.features[f]] == v
        y, wy = label[reach], None if weights is None else weights[reach]
        if t == sh.depth:
            out += _weighted_counts(y, wy, sh.classes)
            continue
        for f, name in enumerate(sh.features):
            cell = table.codes[name][reach] * sh.classes + y
            out += _weighted_counts(cell, wy, sh.sizes[f] * sh.classes)
    out += [0] * ((sh.slots(t) - len(paths)) * sh.level_width(t))
    return out


def _weighted_counts(cells: np.ndarray, weights: np.ndarray | None, size: int) -> list[int]:
    """The rows (or the sum of their weights) per cell 0 .. size - 1.

    Weighted sums are float64 sums of integers below 2^53 (rows * weight <= 10^7 * 4), so exact.
    """
    counts = np.bincount(cells, weights=weights, minlength=size)
    return [int(n) for n in np.rint(counts)]


async def run(ctx: Evaluator[S], spec: JobSpec, table: Table,
              on_inputs: common.InputHook[S] | None = None) -> dict[str, str]:
    """The tree, level by level."""
    sh = shape_of(spec)
    F, classes = len(sh.features), spec.domain(spec.label or "")
    paths: list[Path] = [()]
    parent = ctx.zeros(1)
    result: dict[str, str] = {}
    noise: list[S | None] = []
    for t in range(sh.depth + 1):
        mine = local(spec, table, sh, paths, t)
        inputs = await common.input_all(ctx, spec, mine, on_inputs if t == 0 else None,
                                        [common.count_bound(spec)] * len(mine))
        if t == 0:  # After the hook: the commitment comes before any other work.
            noise = await tree_privacy.draw(ctx, sh)
        tot = await tree_privacy.noisy(ctx, sh, common.total(inputs), noise[t])
        if t < sh.depth:
            code, own = await split_level(ctx, sh, tot, free_features(sh, t, paths), parent)
        else:
            code, own = ctx.add_public(await leaf_level(ctx, sh, tot, parent), F), parent
        if not paths:
            await check_pending(ctx)  # Nothing left to reveal; the level's openings are checked.
            if t < sh.depth:  # The next level's padding slots still take a parent each.
                parent = common.gather(own, [0] * sh.slots(t + 1))
            continue
        (opened,) = await common.reveal(ctx, [common.gather(code, range(len(paths)))])
        children: list[Path] = []
        parents: list[int] = []
        for s, (path, value) in enumerate(zip(paths, opened, strict=True)):
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
