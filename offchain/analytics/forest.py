"""Random forests: T bagged ID3 trees over categorical features, grown side by side under MPC.

Each tree is the exact ID3 tree of offchain.analytics.tree (Gini or
information gain, the same integer rule, the same ties, the same leaves) on
weighted rows, with two changes, both drawn from one joint coin
(offchain.analytics.forest_bagging has the rules):

- bagging: a row counts w times in tree j, w a capped Poisson(1) weight that
  is a public function of the coin, the tree, the party and the row's index;
  each party applies its rows' weights to its own counts;
- feature sampling per node: a node's candidates are ``params.max_features``
  of its free features (default floor(sqrt(F)), at least 1), drawn from the
  coin and the node's public path; the best of them splits (ties: the lowest
  feature index).

Protocol. The parties toss the coin first (``coin.toss_recorded``: every
party's commitment, then every opening, as broadcasts; no tuples), then grow
all trees level by level together: at level t every party inputs, for
every tree, the weighted counts of its rows per node slot (padded to P_t
slots per tree as for the tree), and one ``split_level`` (or ``leaf_level``
at t = max_depth) runs on the T P_t slots of all trees at once, so the
rounds are those of one tree (and the coin's), whatever T. One value is opened
per real node of every tree, all trees' level t in one opening.

Result: each tree's nodes as the tree's, prefixed by the tree's index,

    {"tree[0].node[]": "split:outlook", "tree[0].node[outlook=rain]": "leaf:yes", ...,
     "tree[4].node[]": "leaf:no"}

Prediction (``predict``): every tree votes the class of the leaf the record
reaches; the forest predicts the class of most votes, ties to the first in
the label's domain.

Cost: T times a tree's tuples at each level (every slot's scores are
computed for all F features; the draw only restricts which of them compete,
so a level's comparisons shrink from F - t - 1 to m - 1 per slot). Bounds:
the counts of a node reach at most N = parties * max_rows * MAX_WEIGHT, which
replaces the rows of the tree's bounds (``Shape.rows``, the count, Gini and
entropy bits); ``check`` refuses specs whose bits exceed MAX_GINI_BITS or
whose T padded trees exceed MAX_INPUTS inputs per party.

Differential privacy (``params.epsilon``): each level's counts of all T trees
get discrete Laplace noise of epsilon / (D + 1) (offchain.analytics.tree_privacy)
on sensitivity T * MAX_WEIGHT * F below the last level and T * MAX_WEIGHT at
it: one row reaches one node per tree and adds its weight, at most
MAX_WEIGHT, to F counts there (one at the last level), in each of the T trees.
The D + 1 levels compose sequentially to epsilon. Neighbours differ by one row
added or removed at the end of a party's table, so that every other row keeps
its index and so its weights (which do not depend on the data); for a row
replaced in place, use epsilon / 2. A row removed from the middle shifts the
indices, and the weights, of the rows after it: that is not covered. The
bootstrap's weights above 1 and the T trees multiply the noise a tree would
need by T * MAX_WEIGHT.

Auditable jobs take the PROGRAM route (offchain.auditable.program): the coin's
commitments and openings are broadcasts, so the published record holds them and
the auditor's replay recomputes the same coin, weights and draws. The input hook
runs with the first level's inputs, after the coin: a party sees the weights
before it inputs (it could pick its rows to suit them, as it could pick any rows).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np

from offchain.analytics import common, privacy, tree, tree_privacy
from offchain.analytics.data import Table
from offchain.analytics.forest_bagging import MAX_WEIGHT, features, weights
from offchain.analytics.spec import JobSpec
from offchain.analytics.tree_split import Path, Shape, leaf_level, level_needs, split_level
from offchain.engine.coin import toss_recorded
from offchain.engine.evaluator import Evaluator, S
from offchain.engine.mac_check import check_pending
from offchain.engine.ranges import Bound
from offchain.preprocessing.tuples import Needs

__all__ = ["MAX_WEIGHT", "candidates", "check", "max_features", "needs", "predict", "run", "shape_of"]


def max_features(spec: JobSpec) -> int:
    """``params.max_features``, or floor(sqrt(F)) (at least 1) when unset."""
    return spec.params.max_features or max(1, math.isqrt(len(spec.columns)))


def shape_of(spec: JobSpec) -> Shape:
    sh = replace(tree.shape_of(spec), rows=(spec.max_rows or 0) * len(spec.participants) * MAX_WEIGHT,
                 trees=spec.params.trees or 1, weight=MAX_WEIGHT, max_features=max_features(spec),
                 noise_bits=0)
    return replace(sh, noise_bits=tree_privacy.noise_bits(sh))


def check(spec: JobSpec) -> None:
    """The forest's own spec rules (ValueError naming the problem and the remedy)."""
    p, F = spec.params, len(spec.columns)
    if p.trees is None:
        raise ValueError("a random forest needs params.trees, the number of trees (1 to 64)")
    if p.max_depth is None or not 1 <= p.max_depth <= F:
        raise ValueError(f"a random forest needs params.max_depth from 1 to the number of features ({F})")
    if p.max_features is not None and p.max_features > F:
        raise ValueError(f"params.max_features is {p.max_features}, above the number of features ({F})")
    if len(spec.domain(spec.label or "")) < 2:
        raise ValueError("the label of a random forest needs at least two classes")
    if p.epsilon is not None:
        privacy.check(spec)  # The epsilon's range first: the noise bound below depends on it.
    tree.check_bounds(spec, shape_of(spec))


def weighted_count_bound(spec: JobSpec) -> Bound:
    """A party's weighted count of rows lies in [0, max_rows MAX_WEIGHT] (checked under MPC)."""
    return Bound(0, common.count_bound(spec).hi * MAX_WEIGHT)


def needs(spec: JobSpec) -> Needs:
    """Every level's inputs and rule for all trees, and under epsilon its noise (mirrors ``run``)."""
    sh = shape_of(spec)
    total = tree_privacy.needs(sh)
    for t in range(sh.depth + 1):
        width = sh.trees * sh.slots(t) * sh.level_width(t)
        total = (total + common.input_needs(spec, width, [weighted_count_bound(spec)] * width)
                 + level_needs(sh, t))
    return total


def candidates(seed: bytes, sh: Shape, j: int, t: int, paths: Sequence[Path]) -> list[list[int]]:
    """Tree j's candidates per slot of level t (padding slots: the first features)."""
    F, m = len(sh.features), sh.choices(t)
    out = [features(seed, j, path, [f for f in range(F) if f not in {g for g, _ in path}], m)
           for path in paths]
    return out + [list(range(m))] * (sh.slots(t) - len(paths))


async def run(ctx: Evaluator[S], spec: JobSpec, table: Table,
              on_inputs: common.InputHook[S] | None = None) -> dict[str, str]:
    """The forest: the coin, then every level of all trees in one batch."""
    sh = shape_of(spec)
    seed = await toss_recorded(ctx)
    party = ctx.party if ctx.party is not None else 0  # A replay holds no rows: its bags are empty.
    bags = [weights(seed, j, party, table.rows) for j in range(sh.trees)]
    paths: list[list[Path]] = [[()] for _ in range(sh.trees)]
    parent = ctx.zeros(sh.trees)
    result: dict[str, str] = {}
    noise: list[S | None] = []
    for t in range(sh.depth + 1):
        mine = [n for j in range(sh.trees) for n in tree.local(spec, table, sh, paths[j], t, bags[j])]
        inputs = await common.input_all(ctx, spec, mine, on_inputs if t == 0 else None,
                                        [weighted_count_bound(spec)] * len(mine))
        if t == 0:  # After the hook: the commitment comes before any other work.
            noise = await tree_privacy.draw(ctx, sh)
        tot = await tree_privacy.noisy(ctx, sh, common.total(inputs), noise[t])
        if t < sh.depth:
            choice = [c for j in range(sh.trees) for c in candidates(seed, sh, j, t, paths[j])]
            code, own = await split_level(ctx, sh, tot, choice, parent)
        else:
            code, own = ctx.add_public(await leaf_level(ctx, sh, tot, parent), len(sh.features)), parent
        real = [j * sh.slots(t) + s for j in range(sh.trees) for s in range(len(paths[j]))]
        if real:
            (opened,) = await common.reveal(ctx, [common.gather(code, real)])
        else:  # Every tree is complete: nothing to reveal, the level's openings are checked.
            opened = []
            await check_pending(ctx)
        paths, parents = _grow(spec, sh, t, paths, opened, result)
        if t < sh.depth:
            parent = common.gather(own, parents)
    return result


def _grow(spec: JobSpec, sh: Shape, t: int, paths: list[list[Path]], opened: Sequence[int],
          result: dict[str, str]) -> tuple[list[list[Path]], list[int]]:
    """Records level t's opened codes; (each tree's next paths, each next slot's parent slot)."""
    F, classes = len(sh.features), spec.domain(spec.label or "")
    codes = iter(opened)
    children: list[list[Path]] = []
    parents: list[int] = []
    for j, tree_paths in enumerate(paths):
        kids: list[Path] = []
        for s, path in enumerate(tree_paths):
            value = next(codes)
            key = f"tree[{j}]." + tree.node_key(spec, path)
            if value >= F:
                result[key] = f"leaf:{classes[value - F]}"
                continue
            result[key] = f"split:{sh.features[value]}"
            for v in range(sh.sizes[value]):
                kids.append((*path, (value, v)))
                parents.append(j * sh.slots(t) + s)
        if t < sh.depth:
            parents += [j * sh.slots(t)] * (sh.slots(t + 1) - len(kids))
        children.append(kids)
    return children, parents


def votes(spec: JobSpec, result: Mapping[str, str], record: Mapping[str, str]) -> list[str]:
    """Each tree's class for a record (feature -> value), in tree order."""
    out = []
    for j in range(spec.params.trees or 0):
        prefix = f"tree[{j}]."
        nodes = {k[len(prefix):]: v for k, v in result.items() if k.startswith(prefix)}
        out.append(tree.predict(spec, nodes, record))
    return out


def predict(spec: JobSpec, result: Mapping[str, str], record: Mapping[str, str]) -> str:
    """The forest's majority vote for a record (ties: the first class of the label's domain)."""
    classes = spec.domain(spec.label or "")
    tally = np.zeros(len(classes), dtype=np.int64)
    for vote in votes(spec, result, record):
        tally[classes.index(vote)] += 1
    return classes[int(np.argmax(tally))]  # argmax: the first class on a tie
