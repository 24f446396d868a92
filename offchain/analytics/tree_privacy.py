"""Differential privacy for decision trees: noisy counts at every level, a la Friedman & Schuster.

With ``params.epsilon`` set, the counts of each level of the tree (offchain.analytics.tree)
get fresh discrete Laplace noise inside MPC before the split rule sees them, in the
style of DiffP-ID3 (Friedman and Schuster, "Data mining with differential privacy",
KDD 2010): the splits, the stops and the leaf classes are all chosen on noisy counts.
Level t of a tree of depth D = max_depth releases its node codes from the summed
count vector of its P_t node slots; that vector gets noise

    Z ~ discrete Laplace of epsilon_t = epsilon / (D + 1) on sensitivity Delta_t,
    Delta_t = F (t < D: one count per (slot, feature, value, class)),  Delta_D = 1,

drawn by ``privacy.noise_many`` from the dealer's random bits, so no party knows it,
and each noisy count is clamped, m = max(n + Z, 0) (``privacy.at_least``), before
the unchanged rule of offchain.analytics.tree_split runs on the m.

Sensitivity. Neighbouring data sets differ by one row added or removed (for one row
replaced, double it: use epsilon / 2). Given the part of the tree revealed before
level t, which fixes how rows are routed, a row reaches exactly one node slot of
level t and adds 1 to exactly one (value, class) count of each of the F features
there (its own value and class), or to one class count at the last level; every
other count of the level is unchanged. So the level's whole vector, all slots
together, moves by F (or 1) in L1, and one draw per count of epsilon_t on that
sensitivity makes the level's release epsilon_t-DP: this is parallel composition
over the level's disjoint nodes (a row is in one node only).

Budget. Level t's codes are computed from its noisy counts and from the codes of
the levels before it (post-processing; the clamping and every comparison
included), so the D + 1 levels compose sequentially (adaptively): epsilon in total
(with privacy's sampler, whose truncated digits add a delta of about 2^-39 per count).
The codes of padding slots and of slots below a leaf are never opened, yet they
are noised alike, so that the tuple needs follow from the spec alone.

The rule on noisy counts is the exact rule applied to the clamped m: class counts
are the sums of feature 0's counts (as without noise), a node is a leaf when at
most one of its noisy class counts is above 0, and each feature's value sizes
n_v = sum_c m_vc come from its own counts, so they may differ between features.
Gini keeps maximising G_f = sum_v A_v / max(n_v, 1) (equivalent to the least
weighted Gini for exact counts); entropy minimises E_f = n_f H(Y|f) 2^G, the
negated InfoGain score of Friedman and Schuster (up to scale). With no noise
(Z = 0) the rule is exact ID3, and without epsilon nothing here runs: the tree
is the exact one.

Forests. A random forest (offchain.analytics.forest) noises level t's counts of its
T trees as one vector: a row reaches one slot per tree and adds its bootstrap weight,
at most w = ``Shape.weight``, to F counts there (one at the last level), so the level's
sensitivity is T w F (T w at the last level), at the same epsilon / (D + 1) per level.

Bounds. Every |Z| < 2^W, W = max_t len(privacy.thresholds(epsilon_t, Delta_t)),
so a noisy count before clamping lies in (-2^W, rows + 2^W) (``Shape.noisy_bits``)
and any sum of one feature's clamped counts at a node is at most ``Shape.bound``
= rows + (2^W - 1) C max_f |dom f|, which replaces the rows in every bound of the
rule (count, Gini and entropy bits); ``tree.check`` refuses specs whose bits then
exceed the field's. Cost per level: 2 W_t Bernoulli draws per count (each L = 48
random bits and an LTZ of L + 1 bits) and one LTZ and one product to clamp it.
Accuracy: a count's noise has standard deviation about sqrt(2) Delta_t / epsilon_t,
that is sqrt(2) F (D + 1) / epsilon below the last level: deep trees over many
features need many rows per node or a large epsilon.
"""

from __future__ import annotations

from offchain.analytics import privacy
from offchain.analytics.privacy import Noise
from offchain.analytics.tree_split import Shape
from offchain.engine import estimate
from offchain.engine.evaluator import Evaluator, S
from offchain.preprocessing.tuples import Needs


def plan(sh: Shape) -> list[Noise]:
    """One entry per level t: its P_t * width_t counts, epsilon / (D + 1), on sensitivity
    F below the last level and 1 at it (none without epsilon); for a forest, the counts
    of all T trees with the sensitivity times T w (a row weighs up to w in each tree)."""
    if sh.epsilon is None:
        return []
    if not sh.epsilon > 0:  # privacy.check refuses it first; the digits would never end.
        raise ValueError(f"params.epsilon must be positive, got {sh.epsilon}")
    eps = sh.epsilon / (sh.depth + 1)
    scale = sh.trees * sh.weight
    return [Noise(f"level {t}", sh.trees * sh.slots(t) * sh.level_width(t), eps,
                  scale * (len(sh.features) if t < sh.depth else 1)) for t in range(sh.depth + 1)]


def noise_bits(sh: Shape) -> int:
    """W: every noise value of the plan is below 2^W in absolute value (0 without noise)."""
    return max((len(privacy.thresholds(n.epsilon, n.sensitivity)) for n in plan(sh)), default=0)


def needs(sh: Shape) -> Needs:
    """The draws of every level's noise and the clamping of every noisy count."""
    noises = plan(sh)
    total = privacy.plan_needs(noises) if noises else Needs()
    for n in noises:
        total = total + estimate.ltz(n.cells, sh.noisy_bits) + estimate.mul(n.cells)
    return total


async def draw(ctx: Evaluator[S], sh: Shape) -> list[S | None]:
    """<Z> per level, all levels in one batch (None per level without epsilon)."""
    noises = plan(sh)
    if not noises:
        return [None] * (sh.depth + 1)
    return list(await privacy.noise_many(ctx, noises))


async def noisy(ctx: Evaluator[S], sh: Shape, tot: S, z: S | None) -> S:
    """<max(tot + z, 0)> elementwise; tot itself without noise."""
    if z is None:
        return tot
    return await privacy.at_least(ctx, tot + z, sh.noisy_bits)
