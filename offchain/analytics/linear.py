"""Covariance and correlation matrices, and least-squares linear regression, under MPC.

Each party inputs its row count n, the sums S_a and the cross products C_ab
(a <= b, scale 2^f) of the variables (the features, then the response for a
regression). With T_ab = n C_ab - S_a S_b, exact at scale 2^2f and truncated
once to 2^f in the wide format (T = n^2 cov):

    covariance_ab  = T_ab / (n (n - ddof))         (population by default, ddof 0)
    sample_covariance_ab = T_ab / (n (n - 1))     (whatever ddof says; both in one job share T)
    correlation_ab = T_ab / (sqrt(T_aa) sqrt(T_bb))
    regression     solve R g = r_y, R the features' correlation matrix (unit diagonal,
                   symmetric positive definite, so Gauss-Jordan needs no pivoting and its
                   pivots are public-shape), r_y their correlations with y; then
                   beta_a = g_a sqrt(T_yy) / sqrt(T_aa),  intercept = (S_y - sum_a beta_a S_a) / n

Working on the correlation scale keeps every eliminated value in [-1, 1]
whatever the units of the columns. Error bounds (ulp = 2^-f):

    covariance:  |e| <= 8 ulp |cov| + (parties + 2) ulp
    correlation: |e| <= 40 ulp                    (two roots, one product, one quotient)
    regression:  relative error of beta about 40 ulp * d * cond(R); the tests assert
                 |e| <= 1e-3 (|beta| + 1) for well-conditioned features (f = 20)

Ridge: with ``params.ridge`` = lambda > 0 (public, regression only) the solve is
(R + lambda I) g = r_y instead, the ridge regression of the centred columns
scaled to unit norm (penalty lambda |g|^2). Elimination runs on the same system
divided by 1 + lambda (the correlations times the public 1 / (1 + lambda): one
truncation each), which keeps a unit diagonal; every pivot is then at least
lambda / (1 + lambda) when R is positive semidefinite. lambda = 0 (the
default) is least squares.

With ``params.epsilon`` (offchain.analytics.privacy has the sensitivities and
the budget split: epsilon / 3 on each of n, S_a, C_ab, the response counted
as one more column for a regression: sufficient-statistics perturbation),
each party clips its values to the clip bounds, and n, S and C get discrete
Laplace noise inside MPC right after the input. Everything else is
post-processing of the noised totals: n is clamped to at least 1 + ddof
(covariance) or 2 (correlation, regression), the diagonal T_aa at 0 (a
variance; the root of the correlation needs it), and each correlation to
[-1, 1] (noise can break |T_ab| <= sqrt(T_aa T_bb)); a clamped T_aa = 0 gives
correlation 0 (divide(x, 0) = 0), and for a regression coefficient 0. The
bounds above then hold around the noised totals, before the clamp of the
correlation.

A noised correlation matrix of the features may be singular (two features,
|r| = 1) or indefinite (three or more), where elimination without pivoting
divides by a pivot near 0 and returns garbage. So a regression under epsilon
checks every pivot p_i (i >= 1) against MIN_PIVOT = 2^-10 (at lambda = 0, p_i
is 1 - R^2 of feature i on the features before it: MIN_PIVOT refuses a
variance inflation above 1024; with a ridge, p_i (1 + lambda) is the pivot of
R + lambda I) and opens only the bits [p_i < MIN_PIVOT]. If any is set, every
party raises ProtocolAbort naming the step and nothing else is revealed; the
check and its bits are post-processing of the noised totals, so the abort
costs no privacy beyond the job's epsilon (but the epsilon is spent). Raise
epsilon, add rows or set ``params.ridge`` and run again. With all pivots at
least MIN_PIVOT the system is positive definite and the solve stays in range
(its error grows with cond(R + lambda I) as above). Without epsilon the pivots
are not checked: exact data whose features are collinear gives meaningless
coefficients, as before.
"""

from __future__ import annotations

from offchain.analytics import common, privacy
from offchain.analytics.data import Table
from offchain.analytics.spec import JobSpec, numeric_columns
from offchain.engine import estimate, ranges
from offchain.engine.arith import mul
from offchain.engine.compare import ltz
from offchain.engine.divide import divide, reciprocal, sqrt
from offchain.engine.evaluator import Evaluator, S
from offchain.engine.fixedpoint import FixedParams, encode_int, fx_mul, fx_mul_public, fx_trunc
from offchain.engine.ranges import Bound
from offchain.errors import ProtocolAbort
from offchain.preprocessing.tuples import Needs

MIN_PIVOT = 2.0**-10  # Under epsilon, a regression's smaller elimination pivot aborts the job.


def _pairs(m: int) -> list[tuple[int, int]]:
    return [(a, b) for a in range(m) for b in range(a, m)]


def input_bounds(spec: JobSpec) -> list[Bound]:
    """The ranges of a party's inputs (``local``), checked under MPC: its row count in
    [0, max_rows], its sums and sums of products k-bit encodings."""
    m = len(numeric_columns(spec))
    return [common.count_bound(spec)] + [ranges.signed(spec.fixed_point.k)] * (m + len(_pairs(m)))


def local(spec: JobSpec, table: Table) -> list[int]:
    names = numeric_columns(spec)
    f = spec.fixed_point.f
    enc = [common.encodings(privacy.clip(spec, table.numeric[c]), f) for c in names]
    sums = [sum(e) for e in enc]
    cross = [common.product_sum(enc[a], enc[b], f) for a, b in _pairs(len(names))]
    labels = [f"sum of {c!r}" for c in names]
    labels_cross = [f"sum of {names[a]!r} * {names[b]!r}" for a, b in _pairs(len(names))]
    common.check_local(spec, sums, labels)
    common.check_local(spec, cross, labels_cross)
    if spec.params.epsilon is not None:
        privacy.check_room(spec, sums + cross, labels + labels_cross)
    return [table.rows, *sums, *cross]


def _gauss_jordan_needs(d: int, params: FixedParams) -> Needs:
    total = Needs()
    for i in range(d):
        if i:
            total = total + estimate.reciprocal(1, params) + estimate.fx_mul(d - i, params)
        total = total + estimate.fx_mul((d - 1) * (d - i), params)
    return total


def needs(spec: JobSpec) -> Needs:
    m = len(numeric_columns(spec))
    pairs = len(_pairs(m))
    params, wide = common.params_of(spec), common.wide_of(spec)
    total = (common.input_needs(spec, 1 + m + pairs, input_bounds(spec)) + estimate.fx_trunc(pairs, wide)
             + common.wide_check_needs(spec, m))
    if spec.params.epsilon is not None:
        total = total + _noise_needs(spec, m, pairs - m)
    if spec.analysis == "covariance":
        nd = len(_cov_ddofs(spec))
        return total + estimate.mul(pairs + pairs + nd) + estimate.divide(nd * pairs, wide)
    off = pairs - m
    total = (total + estimate.mul(2 * pairs) + estimate.sqrt(m, wide)
             + estimate.fx_mul(off, wide) + estimate.divide(off, wide))
    if spec.analysis == "correlation":
        return total
    d = m - 1
    if spec.params.epsilon is not None:
        total = total + estimate.ltz(d - 1, params.k)  # The pivot check.
    if spec.params.ridge:
        total = total + estimate.fx_trunc(off, params)
    return (total + _gauss_jordan_needs(d, params) + estimate.fx_mul(d, wide)
            + estimate.divide(d, wide) + estimate.fx_mul(d, wide) + estimate.divide(1, wide))


#: The covariances a spec may reveal and the ddof of each (None: the spec's params.ddof).
COVARIANCES: dict[str, int | None] = {"covariance": None, "sample_covariance": 1}


def _cov_ddofs(spec: JobSpec) -> tuple[int, ...]:
    """The distinct divisors n - ddof of the covariances revealed, in a fixed order."""
    return tuple(sorted({spec.params.ddof if d is None else d
                         for name, d in COVARIANCES.items() if name in spec.reveal}))


def _noise_needs(spec: JobSpec, m: int, off: int) -> Needs:
    """The noise, the clamps of n and of the T_aa, and (not covariance) of the correlations."""
    wide_k = common.wide_of(spec).k
    total = (privacy.plan_needs(privacy.plan(spec)) + estimate.ltz(1, spec.fixed_point.k)
             + estimate.mul(1) + estimate.ltz(m, wide_k) + estimate.mul(m))
    if spec.analysis != "covariance":
        total = total + estimate.ltz(2 * off, wide_k) + estimate.mul(2 * off)
    return total


async def _noised(ctx: Evaluator[S], spec: JobSpec, tot: S, m: int) -> S:
    """The totals n, S, C plus noise, n clamped to at least 1 + ddof (covariance) or 2."""
    tot = tot + await privacy.noise_at(ctx, spec, len(tot), {"count": 0, "sum": 1, "cross": 1 + m})
    floor = 1 + max(_cov_ddofs(spec)) if spec.analysis == "covariance" else 2
    n = await privacy.at_least(ctx, ctx.sub_public(tot[0:1], floor), spec.fixed_point.k)
    return ctx.concat([ctx.add_public(n, floor), tot[1:]])


async def _clamp_diagonal(ctx: Evaluator[S], spec: JobSpec, t: S,
                          pairs: list[tuple[int, int]]) -> S:
    """T with each T_aa clamped at 0 (noise can make a variance negative)."""
    diag = [i for i, (a, b) in enumerate(pairs) if a == b]
    low = await privacy.at_least(ctx, ctx.concat([t[i:i + 1] for i in diag]),
                                 common.wide_of(spec).k)
    at = {i: k for k, i in enumerate(diag)}
    return ctx.concat([low[at[i]:at[i] + 1] if i in at else t[i:i + 1]
                             for i in range(len(pairs))])


async def _unit_interval(ctx: Evaluator[S], spec: JobSpec, r: S) -> S:
    """r clamped to [-1, 1]: r - max(r - 1, 0) + max(-1 - r, 0)."""
    one, size = 1 << spec.fixed_point.f, len(r)
    both = await privacy.at_least(ctx, ctx.concat([ctx.sub_public(r, one),
                                                         ctx.sub_public(-r, one)]),
                                  common.wide_of(spec).k)
    return r - both[0:size] + both[size:]


async def run(ctx: Evaluator[S], spec: JobSpec, table: Table,
              on_inputs: common.InputHook[S] | None = None) -> dict[str, str]:
    inputs = await common.input_all(ctx, spec, local(spec, table), on_inputs, input_bounds(spec))
    names = numeric_columns(spec)
    m, f = len(names), spec.fixed_point.f
    wide = common.wide_of(spec)
    tot = common.total(inputs)
    noisy = spec.params.epsilon is not None
    if noisy:
        tot = await _noised(ctx, spec, tot, m)
    pairs = _pairs(m)
    n, s, c = tot[0:1], tot[1:1 + m], tot[1 + m:]
    left = ctx.concat([common.repeat_each(n, len(pairs))] + [s[a:a + 1] for a, _ in pairs])
    right = ctx.concat([c] + [s[b:b + 1] for _, b in pairs])
    extra = spec.analysis == "covariance"
    divs = _cov_ddofs(spec) if extra else ()
    if extra:
        left = ctx.concat([left, *(n for _ in divs)])
        right = ctx.concat([right, *(ctx.sub_public(n, d) for d in divs)])
    prods = await mul(ctx, left, right)
    p = len(pairs)
    diag = [i for i, (a, b) in enumerate(pairs) if a == b]  # |T_ab| <= sqrt(T_aa T_bb): these bound the rest.
    x = prods[0:p].scale(1 << f) - prods[p:2 * p]
    await common.check_wide(ctx, spec, ctx.concat([x[i:i + 1] for i in diag]), list(names))
    t = await fx_trunc(ctx, x, wide)
    if noisy:
        t = await _clamp_diagonal(ctx, spec, t, pairs)
    if extra:
        den = ctx.concat([common.repeat_each(prods[2 * p + i:2 * p + i + 1], p) for i in range(len(divs))])
        cov = await divide(ctx, ctx.concat([t for _ in divs]), den.scale(1 << f), wide)
        (opened,) = await common.reveal(ctx, [cov])
        result = {}
        for name, d in COVARIANCES.items():
            if name in spec.reveal:
                at = divs.index(spec.params.ddof if d is None else d) * p
                result.update({f"{name}[{names[a]},{names[b]}]": common.fixed_text(v, f)
                               for (a, b), v in zip(pairs, opened[at:at + p], strict=True)})
        return result
    r, roots = await _correlations(ctx, spec, t, pairs, m)
    if noisy:
        r = await _unit_interval(ctx, spec, r)
    if spec.analysis == "correlation":
        off = [(a, b) for a, b in pairs if a != b]
        (opened,) = await common.reveal(ctx, [r])
        return {f"correlation[{names[a]},{names[b]}]": common.fixed_text(v, f)
                for (a, b), v in zip(off, opened, strict=True)}
    return await _regression(ctx, spec, r, roots, s, n, names)


async def _correlations(ctx: Evaluator[S], spec: JobSpec, t: S, pairs: list[tuple[int, int]],
                        m: int) -> tuple[S, S]:
    """(correlations of the pairs a < b in order, sqrt(T_aa) for each a)."""
    wide = common.wide_of(spec)
    diag = ctx.concat([t[i:i + 1] for i, (a, b) in enumerate(pairs) if a == b])
    roots = await sqrt(ctx, diag, wide)
    off = [(i, a, b) for i, (a, b) in enumerate(pairs) if a != b]
    if not off:
        return ctx.zeros(0), roots
    den = await fx_mul(ctx, ctx.concat([roots[a:a + 1] for _, a, _ in off]),
                       ctx.concat([roots[b:b + 1] for _, _, b in off]), wide)
    num = ctx.concat([t[i:i + 1] for i, _, _ in off])
    return await divide(ctx, num, den, wide), roots


async def _regression(ctx: Evaluator[S], spec: JobSpec, r: S, roots: S,
                      s: S, n: S, names: tuple[str, ...]) -> dict[str, str]:
    m, d = len(names), len(names) - 1
    params, wide, f = common.params_of(spec), common.wide_of(spec), spec.fixed_point.f
    index = {ab: i for i, ab in enumerate((a, b) for a in range(m) for b in range(a + 1, m))}
    if spec.params.ridge:  # (R + lambda I) / (1 + lambda): a unit diagonal again.
        r = await fx_mul_public(ctx, r, 1 / (1 + spec.params.ridge), params)
    one = ctx.add_public(ctx.zeros(1), 1 << f)

    def entry(a: int, b: int) -> S:
        if a == b:
            return one
        i = index[(min(a, b), max(a, b))]
        return r[i:i + 1]

    rows = [[entry(a, b) for b in range(d)] + [entry(a, d)] for a in range(d)]
    gamma, pivots = await gauss_jordan(ctx, rows, params)
    if spec.params.epsilon is not None and d > 1:
        await check_pivots(ctx, spec, pivots)
    y_root = common.repeat_each(roots[d:d + 1], d)
    beta = await divide(ctx, await fx_mul(ctx, gamma, y_root, wide), roots[0:d], wide)
    fitted = await fx_mul(ctx, beta, s[0:d], wide)
    acc = s[d:d + 1]
    for i in range(d):
        acc = acc - fitted[i:i + 1]
    intercept = await divide(ctx, acc, n.scale(1 << f), wide)
    items = [beta] + ([intercept] if "intercept" in spec.reveal else [])
    opened = await common.reveal(ctx, items)
    result = {f"coefficient[{names[a]}]": common.fixed_text(v, f) for a, v in enumerate(opened[0])}
    if "intercept" in spec.reveal:
        result["intercept"] = common.fixed_text(opened[1][0], f)
    return result


async def check_pivots(ctx: Evaluator[S], spec: JobSpec, pivots: S) -> None:
    """ProtocolAbort unless every pivot is at least MIN_PIVOT (opens only the bits)."""
    params = common.params_of(spec)
    low = await ltz(ctx, ctx.sub_public(pivots, encode_int(MIN_PIVOT, params.f, params.k)),
                    params.k)
    (bits,) = await common.reveal(ctx, [low])
    # Only the first low pivot is sure to be computed in range; any nonzero value aborts.
    if any(bits):
        step = 1 + next(i for i, b in enumerate(bits) if b)
        raise ProtocolAbort(f"the noised correlation matrix of the features is not safely "
                            f"positive definite: elimination pivot {step} is below "
                            f"{MIN_PIVOT:g}; nothing was revealed. Raise params.epsilon, add "
                            f"rows or set params.ridge, and run again")


async def gauss_jordan(ctx: Evaluator[S], rows: list[list[S]], params: FixedParams
                       ) -> tuple[S, S]:
    """(the solution, the pivots 1..d-1) of a d x d system (rows augmented by the right-hand
    side), no pivoting.

    For symmetric positive definite matrices with a unit first pivot (correlation
    matrices): every pivot is positive, so elimination in order is stable.
    """
    d = len(rows)
    rows = [list(row) for row in rows]
    pivots = []
    for i in range(d):
        if i:
            pivots.append(rows[i][i])
            inv = await reciprocal(ctx, rows[i][i], params)
            tail = ctx.concat(rows[i][i + 1:])
            scaled = await fx_mul(ctx, tail, common.repeat_each(inv, len(tail)), params)
            rows[i] = rows[i][:i + 1] + [scaled[j:j + 1] for j in range(len(tail))]
        others = [o for o in range(d) if o != i]
        width = d - i
        if not others:
            continue
        factors = ctx.concat([common.repeat_each(rows[o][i], width) for o in others])
        pivot_row = ctx.concat(rows[i][i + 1:] * len(others))
        updates = await fx_mul(ctx, factors, pivot_row, params)
        for k, o in enumerate(others):
            rows[o] = rows[o][:i + 1] + [rows[o][i + 1 + j] - updates[k * width + j:k * width + j + 1]
                                         for j in range(width)]
    solution = ctx.concat([row[d] for row in rows])
    return solution, ctx.concat(pivots) if pivots else ctx.zeros(0)
