"""Differential privacy: discrete Laplace noise on revealed totals, drawn inside MPC by no one.

With ``params.epsilon`` set, every total that a result is computed from gets
its own noise Z = G1 - G2, the difference of two geometric variables with
ratio q = exp(-epsilon_i / sensitivity): Pr[Z = z] = (1 - q) / (1 + q) q^|z|
(the discrete Laplace, or two-sided geometric, mechanism of Ghosh,
Roughgarden and Sundararajan 2009), which makes a released vector of totals
epsilon_i-differentially private for neighbouring data sets that differ by
one row added or removed, the sensitivity being the L1 change one row makes
in the integers the totals are made of. Sensitivities:

    histogram, frequency,
    chi_square:                1      (a row falls in one cell)
    naive_bayes:               1 + F  (its class count and one cell per feature, F features)
    count, and counts n_g:     1
    sums S_gc:                 C M                in ulp, M = max(|round(lo 2^f)|, |round(hi 2^f)|)
    sums of squares Q_gc:      C ceil(M^2 / 2^f)  in ulp (a party rounds its Q once: one row
                                                  moves it by at most ceil(X^2 / 2^f))
    cross sums C_ab (a <= b):  P ceil(M^2 / 2^f)  in ulp, P = C (C + 1) / 2 pairs (each product
                                                  |X_a X_b| <= M^2, rounded once like Q)
    min/max bins h_gci:        C                  (a row falls in one bin per column;
                                                  offchain.analytics.privacy_bounds)
    gradient totals D_ta:      C (M + 1) + 2^f + 1  in ulp, per descent step t (a row moves each
                                                  feature's total by |g x| <= M, plus 1 for the
                                                  rounding of a truncated total, and the
                                                  intercept's by at most 1, i.e. 2^f + 1 ulp;
                                                  offchain.analytics.classifiers)

for C numeric columns and a row of one group g (Gaussian naive Bayes: the class
is the group; covariance, correlation and linear regression: one group, the
cross sums of all pairs including the squares a = b, the response of a
regression being one more column; k-means: in each iteration, the cluster the
row is assigned to, so n_j and S_ja of each iteration). Clipping makes M a bound:
each party clips its values to [clip_lower, clip_upper] (``params``, required
for sums) before it computes its local statistics, so an honest party's row
moves the totals by no more, whatever its value. The noise of a fixed-point
total is drawn in ulp (2^-f), on the very integers the total is made of: the
exact geometric mechanism, with no floating-point Laplace sampling (whose
rounding leaks, Mironov 2012). Its standard deviation is sqrt(2q) / (1 - q)
ulp, close to sqrt(2) Delta / epsilon_i in real units.

Privacy accounting (basic sequential composition, epsilon in total):

    count tables, count:   epsilon on the whole table (or the count)
    sum:                   epsilon on the sum
    mean:                  epsilon / 2 on the count, epsilon / 2 on the sum
    summary:               epsilon / k on each of the k totals its reveal needs: n if it
                           reveals count, mean, variance or std; S if sum, mean, variance
                           or std; Q if variance or std; the bins h if min or max (one
                           histogram, one share, for both)
    gaussian_naive_bayes:  epsilon / 3 on each of n_g, S_gc, Q_gc (the summary's count, mean
                           and variance per class)
    t_test:                epsilon / 3 on each of n_g, S_g, Q_g of its two groups
    chi_square:            epsilon on the whole contingency table
    covariance, correlation, linear_regression: epsilon / 3 on each of n, S_a, C_ab
    kmeans:                epsilon / (2 T) on each of n_j and S_ja in each of the T iterations
    logistic_regression, svm: epsilon / T on the C + 1 gradient totals of each of the T steps
    decision_tree:         epsilon / (D + 1) on each of the D + 1 levels' counts, sensitivity F
                           (features) per splitting level and 1 at the last
                           (offchain.analytics.tree_privacy)
    random_forest:         epsilon / (D + 1) on each level's counts of all T trees,
                           sensitivity T w F per splitting level and T w at the last
                           (w the bootstrap weight cap; offchain.analytics.forest)

Everything revealed is computed from the noised totals only (post-processing):
mean = S / max(n, 1), variance = max(n Q - S^2, 0) / (n (n - ddof)) with n
clamped to at least 1 + ddof, std = sqrt(variance); covariance and
correlation clamp n to at least 1 + ddof (covariance) or 2 (correlation) and
n C_aa - S_a^2 at 0, and correlations to [-1, 1] (offchain.analytics.linear);
a regression solves from those correlations (n clamped to 2) and, if a pivot
of the noised system is too small, aborts revealing nothing else (linear);
k-means centroids are S_j / n_j clamped to the clip box, or the previous
centroid where n_j < 1 (offchain.analytics.kmeans);
the classifiers' weights are the descent steps taken from the noised
gradient totals (offchain.analytics.classifiers);
min and max are the first and last bins whose noised count passes a public
threshold (offchain.analytics.privacy_bounds: an edge of the bin, within one
bin width of the clipped extreme when enough rows lie there). For data sets that
differ by one row replaced, double the sensitivities: use epsilon / 2.
Noised counts are revealed as drawn (they may be negative or above the true
total); clamping them is post-processing left to the reader. A spec is
refused when a noise bound 2^W exceeds 2^(k-2) ulp, and under epsilon a
party's local totals must stay below 2^(k-2) / parties, so that noised totals
fit the k-bit range.

Sampling inside MPC, from shared random bits only: the binary digits of a
geometric variable G (Pr[G = g] = (1 - q) q^g) are independent, digit i being
1 with probability p_i = q^(2^i) / (1 + q^(2^i)). Each digit is a Bernoulli
bit [U < round(p_i 2^L)] of a shared uniform L-bit U (L random bits and one
LTZ); G = sum_(i < W) 2^i B_i keeps W digits, W the least with
q^(2^W) <= 2^-SECURITY, so |Z| < 2^W always. The sampler thus differs from the
exact mechanism by a statistical distance of at most 2 (q^(2^W) + W 2^-L) per
noised value (a delta of about 2^-40 each), and no party learns anything of Z:
its bits are the dealer's authenticated random bits, opened only masked (the
LTZ), and the result opens total + Z as one value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from offchain.analytics import common, counts
from offchain.analytics.data import Table
from offchain.analytics.spec import CLASSIFIERS, JobSpec, Params, group_of, numeric_columns
from offchain.engine import estimate
from offchain.engine.arith import mul
from offchain.engine.bitwise import binary_sum, weighted_sum
from offchain.engine.compare import ltz
from offchain.engine.evaluator import Evaluator, S
from offchain.field import FieldVec
from offchain.preprocessing.tuples import Needs, TupleKind

COUNT_TABLES = ("histogram", "frequency", "naive_bayes")
GROUPED = ("summary", "gaussian_naive_bayes", "t_test")   # Per-group totals n_g, S_gc, Q_gc.
MATRICES = ("covariance", "correlation")        # Totals n, S_a, C_ab.
MODELS = ("linear_regression", "kmeans")  # The totals of MATRICES; n_j, S_ja per iteration.
GRADIENTS = CLASSIFIERS  # The C + 1 gradient totals of each descent step.
NUMERIC = ("sum", "mean", *GROUPED, *MATRICES, *MODELS, *GRADIENTS)
SUPPORTED = ("count", *COUNT_TABLES, *NUMERIC, "decision_tree", "chi_square",
             "random_forest")  # Trees and forests: tree_privacy.
UNIFORM_BITS = 48   # L: each Bernoulli probability is rounded to a multiple of 2^-L.
SECURITY = 40       # W digits: Pr[G >= 2^W] = q^(2^W) <= 2^-SECURITY.
_SECOND = {"variance", "std", "sample_variance", "sample_std"}
_NEEDS = {"count": {"count", "mean", *_SECOND},
          "sum": {"sum", "mean", *_SECOND}, "squares": _SECOND,
          "bins": {"min", "max"}}


@dataclass(frozen=True)
class Noise:
    """Noise for ``cells`` totals of one kind ("count", "sum", "squares", "cross", "bins", "gradient")."""

    part: str
    cells: int
    epsilon: float
    sensitivity: int


def sensitivity(spec: JobSpec) -> int:
    """The L1 sensitivity of the spec's count table to one row (see the module docstring)."""
    return 1 + len(spec.columns) if spec.analysis == "naive_bayes" else 1


def parts(spec: JobSpec) -> tuple[str, ...]:
    """The totals of a numeric job that get noise, in input order."""
    if spec.analysis in ("count", "sum"):
        return (spec.analysis,)
    if spec.analysis == "mean":
        return ("count", "sum")
    if spec.analysis in (*MATRICES, "linear_regression"):
        return ("count", "sum", "cross")
    if spec.analysis == "kmeans":
        return ("count", "sum")
    if spec.analysis in GRADIENTS:
        return ("gradient",)
    if spec.analysis == "t_test":
        return ("count", "sum", "squares")
    return tuple(p for p in ("count", "sum", "squares", "bins") if _NEEDS[p] & set(spec.reveal))


def clip_bound(spec: JobSpec) -> int:
    """M: the largest |encoding| of a clipped value."""
    f, p = spec.fixed_point.f, spec.params
    return max(abs(round(bound * (1 << f))) for bound in (p.clip_lower or 0.0, p.clip_upper or 0.0))


def plan(spec: JobSpec) -> list[Noise]:
    """The noise of a numeric job: one entry per noised kind of total (the module docstring)."""
    names = parts(spec)
    if spec.analysis in GRADIENTS:
        return [_gradient_noise(spec)]
    group = group_of(spec) if spec.analysis in GROUPED else None
    groups = len(spec.domains.get(group, ())) if group else 1
    rounds = spec.params.iterations if spec.analysis == "kmeans" else 1
    if spec.analysis == "kmeans":  # Every iteration's clusters, iteration-major.
        groups = len(spec.params.centroids) * rounds
    columns = len(numeric_columns(spec)) if spec.analysis in GROUPED + MATRICES + MODELS else 1
    pairs = columns * (columns + 1) // 2
    m, f = clip_bound(spec), spec.fixed_point.f
    square = -(-(m * m) >> f)  # ceil(M^2 / 2^f)
    sens = {"count": 1, "sum": columns * m, "squares": columns * square, "cross": pairs * square,
            "bins": columns}
    cells = {"count": groups, "sum": groups * columns, "squares": groups * columns,
             "cross": pairs, "bins": groups * columns * spec.params.minmax_bins}
    eps = (spec.params.epsilon or 1.0) / max(1, len(names) * rounds)
    return [Noise(p, cells[p], eps, sens[p]) for p in names]


def _gradient_noise(spec: JobSpec) -> Noise:
    """The classifiers' noise: every step's C + 1 gradient totals, step-major, epsilon / T each."""
    steps, columns = spec.params.iterations, len(spec.columns)
    sens = columns * (clip_bound(spec) + 1) + (1 << spec.fixed_point.f) + 1
    return Noise("gradient", steps * (columns + 1), (spec.params.epsilon or 1.0) / max(1, steps), sens)


def check(spec: JobSpec) -> None:
    """Rules for ``params.epsilon`` and the clip bounds (ValueError naming the problem)."""
    p = spec.params
    bounded = p.clip_lower is not None or p.clip_upper is not None
    _check_bins(spec)
    if p.epsilon is None:
        if bounded:
            raise ValueError("params.clip_lower and params.clip_upper bound the values for "
                             "differential privacy; they need params.epsilon")
        return
    if spec.analysis not in SUPPORTED:
        raise ValueError(f"params.epsilon (differential privacy) is supported for "
                         f"{list(SUPPORTED)} only, not {spec.analysis!r}")
    if not 0.01 <= p.epsilon <= 10:
        raise ValueError(f"params.epsilon must be from 0.01 to 10, got {p.epsilon}")
    summed = spec.analysis in NUMERIC and bool({"sum", "squares", "cross", "bins", "gradient"}
                                               & set(parts(spec)))
    if not summed:
        if bounded:
            raise ValueError(f"params.clip_lower and params.clip_upper bound summed values; "
                             f"analysis {spec.analysis!r} reveals counts only")
        return
    if p.clip_lower is None or p.clip_upper is None:
        raise ValueError("epsilon needs clip bounds: set params.clip_lower and params.clip_upper "
                         "(each party clips its values to them; the noise is scaled to them)")
    _check_ranges(spec)


def _check_bins(spec: JobSpec) -> None:
    """params.minmax_bins only where it is read (offchain.analytics.privacy_bounds)."""
    used = (spec.params.epsilon is not None and spec.analysis == "summary"
            and bool({"min", "max"} & set(spec.reveal)))
    if spec.params.minmax_bins != Params.model_fields["minmax_bins"].default and not used:
        raise ValueError("params.minmax_bins sets the histogram of a differentially private min "
                         "and max: it needs a summary revealing min or max with params.epsilon")


def _check_ranges(spec: JobSpec) -> None:
    k, f = spec.fixed_point.k, spec.fixed_point.f
    limit = 2 ** (k - 1 - f)
    p = spec.params
    for name, bound in (("clip_lower", p.clip_lower), ("clip_upper", p.clip_upper)):
        if abs(bound or 0.0) >= limit:
            raise ValueError(f"params.{name}={bound} is outside the fixed-point range "
                             f"(-{limit}, {limit}) of k={k}, f={f}")
    for noise in plan(spec):
        width = len(thresholds(noise.epsilon, noise.sensitivity))
        if width > k - 2:
            raise ValueError(f"the noise of the {noise.part} (epsilon {noise.epsilon:g} on "
                             f"sensitivity {noise.sensitivity} ulp) reaches 2^{width} ulp, beyond "
                             f"fixed_point k={k}; raise epsilon, narrow the clip bounds or raise k")


def clip(spec: JobSpec, values: Sequence[float] | np.ndarray) -> np.ndarray:
    """The values clipped to the spec's bounds (unchanged without epsilon)."""
    p, array = spec.params, np.asarray(values, dtype=np.float64)
    if p.epsilon is None or p.clip_lower is None or p.clip_upper is None:
        return array
    return np.clip(array, p.clip_lower, p.clip_upper)


def check_room(spec: JobSpec, values: Sequence[int], labels: Sequence[str]) -> None:
    """ConfigError naming the first local total that leaves no room for noise (under epsilon)."""
    common.check_local(spec, values, labels, spare_bits=2, purpose="to add noise in")


async def at_least(ctx: Evaluator[S], x: S, bits: int) -> S:
    """<max(x, 0)> for signed bits-bit x (post-processing of noised totals): one LTZ, one product."""
    return x - await mul(ctx, await ltz(ctx, x, bits), x)


# The sampler ------------------------------------------------------------------------------------
def thresholds(epsilon: float, sens: int) -> list[int]:
    """round(p_i 2^L) for the W binary digits of one geometric variable, lowest digit first."""
    log_q = -epsilon / sens  # ln q
    out, i = [], 0
    while (2 ** i) * log_q / math.log(2) > -SECURITY:
        qi = math.exp((2 ** i) * log_q)
        out.append(round(qi / (1 + qi) * 2 ** UNIFORM_BITS))
        i += 1
    return out


def noise_needs(count: int, epsilon: float, sens: int) -> Needs:
    return plan_needs([Noise("", count, epsilon, sens)])


def plan_needs(noises: Sequence[Noise]) -> Needs:
    """``noise_many``: L random bits and an LTZ per digit of each of 2 cells variables."""
    draws = sum(2 * n.cells * len(thresholds(n.epsilon, n.sensitivity)) for n in noises)
    return estimate.bits(draws * UNIFORM_BITS) + estimate.ltz(draws, UNIFORM_BITS + 1)


async def noise(ctx: Evaluator[S], count: int, epsilon: float, sens: int) -> S:
    """<G1 - G2> for ``count`` cells, from shared random bits (see the module docstring)."""
    return (await noise_many(ctx, [Noise("", count, epsilon, sens)]))[0]


async def noise_many(ctx: Evaluator[S], noises: Sequence[Noise]) -> list[S]:
    """Fresh <G1 - G2> for each entry's cells, every digit of every draw in one LTZ."""
    digits = [thresholds(n.epsilon, n.sensitivity) for n in noises]
    # Layout: per entry, digit-major, then the two variables, then cells.
    limits = [c for n, ds in zip(noises, digits, strict=True) for c in ds for _ in range(2 * n.cells)]
    draws = len(limits)
    (bits,) = ctx.take(TupleKind.BIT, draws * UNIFORM_BITS).columns
    uniform = binary_sum(bits, draws)
    below = await ltz(ctx, ctx.sub_public(uniform, FieldVec.from_ints(limits)),
                      UNIFORM_BITS + 1)
    out, at = [], 0
    for n, ds in zip(noises, digits, strict=True):
        size = 2 * n.cells
        both = weighted_sum([below[at + i * size:at + (i + 1) * size] for i in range(len(ds))],
                            [1 << i for i in range(len(ds))])
        out.append(both[:n.cells] - both[n.cells:])
        at += size * len(ds)
    return out


async def noise_at(ctx: Evaluator[S], spec: JobSpec, width: int, at: Mapping[str, int]) -> S:
    """A vector of ``width``: the spec's noise of part p from position at[p], zeros elsewhere."""
    noises = plan(spec)
    pieces, end = [], 0
    for n, z in sorted(zip(noises, await noise_many(ctx, noises), strict=True), key=lambda nz: at[nz[0].part]):
        pieces += [ctx.zeros(at[n.part] - end), z]
        end = at[n.part] + n.cells
    return ctx.concat([*pieces, ctx.zeros(width - end)])


# Count tables -----------------------------------------------------------------------------------
def needs(spec: JobSpec) -> Needs:
    cells = len(counts.cells(spec))
    return counts.needs(spec) + noise_needs(cells, spec.params.epsilon or 1.0, sensitivity(spec))


async def run(ctx: Evaluator[S], spec: JobSpec, table: Table,
              on_inputs: common.InputHook[S] | None = None) -> dict[str, str]:
    """The spec's count table, each count with fresh discrete Laplace noise."""
    inputs = await common.input_all(ctx, spec, counts.local(spec, table), on_inputs, counts.bounds(spec),
                                    counts.sums(spec))
    keys = counts.cells(spec)
    z = await noise(ctx, len(keys), spec.params.epsilon or 1.0, sensitivity(spec))
    (opened,) = await common.reveal(ctx, [common.total(inputs) + z])
    return {key: str(v) for key, v in zip(keys, opened, strict=True)}
