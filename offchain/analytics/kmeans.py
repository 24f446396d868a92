"""k-means clustering: Lloyd's iterations under MPC from public or k-means++ initial centroids.

Every party inputs each of its rows (the spec's numeric ``columns``) and a
validity bit, padded to ``max_rows`` rows with zeros and validity 0, so the
inputs and the work depend on the spec alone. With R = parties * max_rows
rows, K clusters (``params.centroids``, public; or ``params.clusters`` secret
rows chosen by k-means++ under MPC after the inputs, offchain.analytics.kmeans_seeding)
and m features, each of the ``params.iterations`` iterations computes

    d_ij  = TruncPr(sum_a (x_ia - c_ja)^2)           (R K squares, R K truncations)
    a_ij  = one-hot of argmin_j d_ij, ties to the lowest j (sequential, K - 1 comparisons)
    n_j   = sum_i v_i a_ij,   S_ja = sum_i v_i a_ij x_ia
    c_ja  = S_ja / n_j, or the previous c_ja if n_j = 0 (a cluster without rows stays put)

and reveals only the final centroids ("centroid[j].column") and, if the spec
asks for "sizes", the n_j of the last assignment ("size[j]").

With ``params.tolerance`` (tau), every iteration t but the last ends with a
test: s_j = sum_a (c'_ja - c_ja)^2 2^2f exactly (K m squares), moved_j =
[s_j > round(tau^2 2^2f)], and the one bit [sum_j moved_j = 0] is opened
(MAC-checked). If it is 1 the iterations stop, and the result's "iterations"
(which the spec must list in ``reveal``) is the number run; that count, the
first iteration after which no centroid moved farther than tau, is all the
test reveals. The tuples of the iterations skipped are reserved and left
unused. Explicit centroids and no tolerance give the spec text, the work
and the result of before.

With k-means++ and ``params.n_init`` = N > 1, the whole of it (seeding, then
the iterations) runs N times from one coin (run r takes the draws
U_(rK) .. U_(rK+K-1) of the same stream), like scikit-learn's n_init: each
run ends with one more assignment to its final centroids, whose truncated
distances give its inertia I_r = sum_i v_i min_j d_ij, and the centroids (and
sizes) of the run of least inertia are kept by N - 1 secret comparisons
and products: a later run replaces the kept one only if its inertia is less
by more than ``inertia_margin`` (4 R ulp; the truncations move an inertia
by less than R ulp), so runs that reach the same partition, often with the
clusters in another order, keep the earlier run, as a twin in exact
arithmetic with the same margin does. Nothing of the runs is opened but the
tolerance's stop bits, and "iterations" then lists every run's count
("4,6,5").

Error (ulp = 2^-f): the centroids of an iteration are within 8 ulp |c| + 3 ulp
of the plaintext means of the same assignment (division's bound plus the
rounding of the inputs to f bits). The assignments are the plaintext ones
unless a row lies within a few ulp of equidistance between two centroids
(the truncated distance has an error below 1 ulp); the tests use data whose
clusters are apart. Range: every value and initial centroid must satisfy
|x| <= ``bound(spec)``, so that squared distances (m (2B)^2) and the sums
(R B) fit the k-bit format; ``run`` refuses a larger local value before sending.

With ``params.epsilon`` (DP Lloyd, the SuLQ k-means of Blum, Dwork, McSherry
and Nissim 2005), each party clips its values to [clip_lower, clip_upper]
before input, and every iteration adds discrete Laplace noise inside MPC to
n_j (sensitivity 1: a row is in one cluster) and to S_ja (sensitivity m M ulp,
M the largest |encoding| of a clip bound), epsilon / (2 T) each for T
iterations (offchain.analytics.privacy; all T K (1 + m) draws are made at
once after the input). The update is post-processing of the noised totals:

    c_ja = clamp(S~_ja / n~_j, clip_lower, clip_upper),  or the previous c_ja if n~_j < 1

(a cluster whose noisy size is below 1 keeps its centroid, the rule without
epsilon too, rather than taking pure noise over max(n~_j, 1); the clamp keeps
centroids in the data's box, hence distances in range). The next assignment
uses these centroids: given the noised totals before it, iteration t is a
query of sensitivities 1 and m M, so the T iterations compose to epsilon
(adaptive sequential composition) and everything after the noise is
post-processing. Only the final centroids are revealed, and with "sizes" the noisy n~_j of the
last iteration, as drawn (they may be negative). The clip bounds must lie
within ``bound(spec)``, whose sum term is halved under epsilon to leave
room for the noise; the error bound above holds around the noised totals.
"""

from __future__ import annotations

import math

from offchain.analytics import common, kmeans_seeding, privacy
from offchain.analytics.data import Table
from offchain.analytics.spec import JobSpec
from offchain.engine import estimate
from offchain.engine.arith import mul, square
from offchain.engine.bitwise import block_sum, repeat
from offchain.engine.coin import toss_recorded
from offchain.engine.compare import less_than, ltz
from offchain.engine.divide import divide
from offchain.engine.evaluator import Evaluator, S
from offchain.engine.fixedpoint import fx_constant, fx_trunc
from offchain.engine.ranges import Bound
from offchain.errors import ConfigError
from offchain.preprocessing.tuples import Needs


def bound(spec: JobSpec) -> float:
    """The largest |value| (data and initial centroids) the fixed-point range allows."""
    top = 2.0 ** (spec.fixed_point.k - 1 - spec.fixed_point.f)
    rows = (spec.max_rows or 1) * len(spec.participants)
    room = 2 if spec.params.epsilon is not None else 1  # Noise of the sums: below 2^(k-2) ulp.
    return min(math.sqrt(top / len(spec.columns)) / 2, top / rows / room) * 0.99


def check(spec: JobSpec) -> None:
    """The spec rules of k-means (ValueError naming the problem)."""
    p, m = spec.params, len(spec.columns)
    _check_init(spec)
    if not 1 <= p.iterations <= 50:
        raise ValueError("k-means needs params.iterations from 1 to 50")
    _check_tolerance(spec)
    limit = bound(spec)
    if any(abs(v) > limit for c in p.centroids for v in c):
        raise ValueError(f"an initial centroid is outside the range +-{limit:.6g} that "
                         f"fixed_point k={spec.fixed_point.k} allows here")
    if p.epsilon is not None:
        _check_noise(spec)
    rows, k = (spec.max_rows or 0) * len(spec.participants), kmeans_seeding.clusters(spec)
    if rows * k * m * p.iterations * p.n_init > 1 << 17:
        runs = f" in {p.n_init} runs" if p.n_init > 1 else ""
        raise ValueError(f"k-means over {rows} padded rows, {k} clusters, {m} "
                         f"columns and {p.iterations} iterations{runs} is too large; lower max_rows"
                         + (" or params.n_init" if runs else ""))
    if p.init == "kmeans++":
        kmeans_seeding.check(spec)
    if p.n_init > 1 and p.init != "kmeans++":
        raise ValueError(f"params.n_init {p.n_init} repeats the k-means++ seeding, the one thing that "
                         "differs between runs; with explicit params.centroids every run would be the "
                         'same: remove params.n_init, or use params.init "kmeans++"')


def _check_init(spec: JobSpec) -> None:
    """Explicit centroids (2 to 16, one value per column), or k-means++ with params.clusters."""
    p, m = spec.params, len(spec.columns)
    if p.init == "kmeans++":
        if p.clusters is None:
            raise ValueError('k-means with params.init "kmeans++" needs params.clusters, the number '
                             "of clusters (2 to 16)")
        if p.centroids:
            raise ValueError('params.init "kmeans++" chooses the initial centroids itself; remove '
                             'params.centroids, or remove params.init to start from them')
        if p.epsilon is not None:
            raise ValueError('params.init "kmeans++" is not differentially private (its centres are '
                             "data rows); with params.epsilon give public params.centroids instead "
                             "(for example from a summary job with epsilon)")
        return
    if not 2 <= len(p.centroids) <= 16 or any(len(c) != m for c in p.centroids):
        raise ValueError(f"k-means needs 2 to 16 initial centroids in params.centroids, each "
                         f"with one value per column ({m}), or params.init \"kmeans++\" with "
                         f"params.clusters")
    if p.clusters is not None and p.clusters != len(p.centroids):
        raise ValueError(f"params.clusters is {p.clusters} but params.centroids lists "
                         f"{len(p.centroids)}; remove params.clusters (the centroids give it)")


def _check_tolerance(spec: JobSpec) -> None:
    """A positive tolerance, revealed ``iterations``, and no epsilon."""
    p, asked = spec.params, "iterations" in spec.reveal
    if p.tolerance is None:
        if asked:
            raise ValueError('reveal "iterations" needs params.tolerance; without it k-means runs '
                             "all params.iterations")
        return
    if not p.tolerance > 0:
        raise ValueError(f"params.tolerance must be above 0 (stop once no centroid moves farther); "
                         f"got {p.tolerance}; leave it out to run all params.iterations")
    if p.epsilon is not None:
        raise ValueError("params.tolerance would reveal when the centroids stop moving, which "
                         "params.epsilon does not cover; leave tolerance out under epsilon")
    if not asked:
        raise ValueError('params.tolerance reveals the number of iterations run: add "iterations" '
                         "to reveal")


def _check_noise(spec: JobSpec) -> None:
    """Under epsilon: the clip box within ``bound``, and the noisy sizes (times 2^f) in range."""
    p, limit, fp = spec.params, bound(spec), spec.fixed_point
    if any(v is not None and abs(v) > limit for v in (p.clip_lower, p.clip_upper)):
        raise ValueError(f"the clip bounds [{p.clip_lower}, {p.clip_upper}] reach beyond the "
                         f"range +-{limit:.6g} that k-means with epsilon allows with fixed_point "
                         f"k={fp.k}; narrow them, lower max_rows or raise k")
    if p.epsilon is None or not 0.01 <= p.epsilon <= 10:
        return  # privacy.check names the problem.
    width = len(privacy.thresholds(p.epsilon / (2 * p.iterations), 1))
    rows = _sizes(spec)[0]
    if (rows + (1 << width)) << fp.f >= 1 << (fp.k - 1):
        raise ValueError(f"the noise of the cluster sizes (up to 2^{width}) leaves them beyond "
                         f"fixed_point k={fp.k}, f={fp.f} in the division; raise epsilon, lower "
                         f"the iterations or raise k")


def _sizes(spec: JobSpec) -> tuple[int, int, int]:
    """(R padded rows of all parties, K clusters, m columns)."""
    rows = (spec.max_rows or 0) * len(spec.participants)
    return rows, kmeans_seeding.clusters(spec), len(spec.columns)


def needs(spec: JobSpec) -> Needs:
    rows, k, m = _sizes(spec)
    params = common.params_of(spec)
    noisy = spec.params.epsilon is not None
    bits = params.k if noisy else rows.bit_length() + 1
    step = (estimate.square(rows * k * m) + estimate.fx_trunc(rows * k, params)
            + estimate.less_than(rows * (k - 1), params.k)
            + estimate.mul(rows * sum(1 + j for j in range(1, k)))
            + estimate.mul(rows * k) + estimate.mul(rows * k * m)
            + estimate.divide(k * m, params) + estimate.ltz(k, bits) + estimate.mul(k * m))
    if noisy:  # The clamp of the means to the clip box.
        step = step + estimate.ltz(2 * k * m, params.k + 1) + estimate.mul(2 * k * m)
    run = step * spec.params.iterations
    if spec.params.init == "kmeans++":
        run = run + kmeans_seeding.needs(spec)
    if spec.params.tolerance is not None:  # The test after every iteration but the last.
        test = (estimate.square(k * m) + estimate.ltz(k, kmeans_seeding.distance_bits(spec) + 2)
                + estimate.ltz(1, k.bit_length() + 2))
        run = run + test * (spec.params.iterations - 1)
    total = common.input_needs(spec, (spec.max_rows or 0) * (m + 1), input_bounds(spec))
    if noisy:
        total = total + privacy.plan_needs(privacy.plan(spec))
    runs = spec.params.n_init
    if runs == 1:
        return total + run
    nearest = (estimate.square(rows * k * m) + estimate.fx_trunc(rows * k, params)
               + estimate.less_than(rows * (k - 1), params.k) + estimate.mul(rows * sum(1 + j for j in range(1, k)))
               + estimate.mul(rows))  # The final assignment and v_i min_j d_ij.
    keep = estimate.less_than(1, _inertia_bits(spec)) + estimate.mul(k * m + k + 1)
    return total + (run + nearest) * runs + keep * (runs - 1)


def _inertia_bits(spec: JobSpec) -> int:
    """The comparison width of two inertias: R truncated distances below 2^(k-1) each."""
    rows, _, _ = _sizes(spec)
    return spec.fixed_point.k + rows.bit_length() + 1


def inertia_margin(spec: JobSpec) -> int:
    """How much less (in ulp, scale 2^f) a later run's inertia must be to replace the kept run's: 4 R.

    Each truncated distance is off by less than 1 ulp, so an inertia by less than R ulp;
    runs that reach the same partition (often with the clusters in another order) then
    tie within 2 R ulp, and the earlier run is kept, as the exact arithmetic of a twin
    with the same margin keeps it.
    """
    rows, _, _ = _sizes(spec)
    return 4 * rows


def input_bounds(spec: JobSpec) -> list[Bound]:
    """The ranges of a party's inputs, checked under MPC: each encoding within +-``bound``, each
    row's validity flag a bit (so the sums and distances fit the ranges sized from ``bound``)."""
    top = math.ceil(bound(spec) * (1 << spec.fixed_point.f))
    return ([Bound(-top, top)] * len(spec.columns) + [Bound(0, 1)]) * (spec.max_rows or 0)


def local(spec: JobSpec, table: Table) -> list[int]:
    """This party's rows (encodings) each followed by 1, then zero rows up to max_rows."""
    f, limit = spec.fixed_point.f, bound(spec)
    columns = {c: privacy.clip(spec, table.numeric[c]) for c in spec.columns}
    for c in spec.columns:
        values = columns[c]
        if len(values) and float(abs(values).max()) > limit:
            raise ConfigError(f"column {c!r} holds {float(abs(values).max()):.6g}, outside the "
                              f"range +-{limit:.6g} k-means allows with fixed_point "
                              f"k={spec.fixed_point.k}; rescale the column or choose a larger k")
    enc = [common.encodings(columns[c], f) for c in spec.columns]
    out: list[int] = []
    for i in range(table.rows):
        out += [e[i] for e in enc] + [1]
    return out + [0] * ((spec.max_rows or 0) - table.rows) * (len(spec.columns) + 1)


async def _assign(ctx: Evaluator[S], spec: JobSpec, x: S, c: S) -> S:
    """<one-hot nearest centroid> per row, row-major (R x K); ties to the lowest index."""
    return (await _nearest(ctx, spec, x, c))[0]


async def _nearest(ctx: Evaluator[S], spec: JobSpec, x: S, c: S) -> tuple[S, S]:
    """``_assign``'s one-hot, and each row's truncated squared distance to its nearest centroid."""
    rows, k, m = _sizes(spec)
    params = common.params_of(spec)
    diffs = ctx.concat([common.gather(x, [i * m + a for i in range(rows)])
                              - common.gather(c, [j * m + a] * rows)
                              for j in range(k) for a in range(m)])
    sq = await square(ctx, diffs)
    per = m * rows  # Each cluster's m blocks of R squared differences.
    dist = await fx_trunc(ctx, ctx.concat([block_sum(sq[j * per:(j + 1) * per], rows)
                                                 for j in range(k)]), params)
    best, onehot = dist[:rows], [ctx.add_public(ctx.zeros(rows), 1)]
    for j in range(1, k):
        d = dist[j * rows:(j + 1) * rows]
        take = await less_than(ctx, d, best, params.k)
        delta = await mul(ctx, ctx.concat([take] * (1 + j)),
                          ctx.concat([d - best, *onehot]))
        best = best + delta[:rows]
        onehot = [oh - delta[(1 + i) * rows:(2 + i) * rows] for i, oh in enumerate(onehot)] + [take]
    return common.gather(ctx.concat(onehot),
                         [j * rows + i for i in range(rows) for j in range(k)]), best


async def _update(ctx: Evaluator[S], spec: JobSpec, x: S, valid: S,
                  assigned: S, c: S, noise: tuple[S, S] | None
                  ) -> tuple[S, S]:
    """(new centroids, cluster sizes) from a row-major one-hot assignment; with ``noise``
    (of n_j, of S_ja) the noisy sizes and centroids clamped to the clip box."""
    rows, k, m = _sizes(spec)
    params, f = common.params_of(spec), spec.fixed_point.f
    w = await mul(ctx, assigned, common.gather(valid, [i for i in range(rows) for _ in range(k)]))
    sizes = block_sum(w, k)
    weighted = await mul(ctx, common.gather(w, [i * k + j for i in range(rows) for j in range(k)
                                                for _ in range(m)]),
                         common.gather(x, [i * m + a for i in range(rows) for _ in range(k)
                                           for a in range(m)]))
    sums = block_sum(weighted, k * m)
    if noise is not None:
        sizes, sums = sizes + noise[0], sums + noise[1]
    means = await divide(ctx, sums, common.repeat_each(sizes, m).scale(1 << f), params)
    if noise is not None:
        means = await _clamp(ctx, spec, means)
    bits = params.k if noise is not None else rows.bit_length() + 1
    empty = await ltz(ctx, ctx.sub_public(sizes, 1), bits)
    keep = await mul(ctx, common.repeat_each(empty, m), c - means)
    return means + keep, sizes


async def _clamp(ctx: Evaluator[S], spec: JobSpec, c: S) -> S:
    """c clamped to [clip_lower, clip_upper]: c - max(c - hi, 0) + max(lo - c, 0)."""
    f, size = spec.fixed_point.f, len(c)
    lo = round((spec.params.clip_lower or 0.0) * (1 << f))
    hi = round((spec.params.clip_upper or 0.0) * (1 << f))
    both = await privacy.at_least(ctx, ctx.concat([ctx.sub_public(c, hi),
                                                         ctx.add_public(-c, lo)]),
                                  spec.fixed_point.k + 1)
    return c - both[:size] + both[size:]


async def _settled(ctx: Evaluator[S], spec: JobSpec, old: S, new: S) -> bool:
    """Whether no centroid moved farther than params.tolerance (one bit opened, MAC-checked).

    Compares each squared move, exact at scale 2^2f, with tolerance^2 2^2f rounded.
    """
    _, k, m = _sizes(spec)
    f, width = spec.fixed_point.f, kmeans_seeding.distance_bits(spec)
    limit = min(round((spec.params.tolerance or 0.0) ** 2 * (1 << (2 * f))), 1 << width)
    moves = await square(ctx, common.gather(new - old, [j * m + a for a in range(m) for j in range(k)]))
    moved = await ltz(ctx, ctx.rsub_public(block_sum(moves, k), limit), width + 2)
    still = await ltz(ctx, ctx.sub_public(block_sum(moved, 1), 1), k.bit_length() + 2)
    (opened,) = await common.reveal(ctx, [still])
    return opened[0] == 1


async def _lloyd(ctx: Evaluator[S], spec: JobSpec, x: S, valid: S, c: S, z: list[S]) -> tuple[S, S, int]:
    """(centroids, sizes, iterations run) of Lloyd's iterations from the centroids ``c``."""
    _, k, m = _sizes(spec)
    sizes, done, last = ctx.zeros(k), 0, spec.params.iterations - 1
    for t in range(spec.params.iterations):
        noise = (z[0][t * k:(t + 1) * k], z[1][t * k * m:(t + 1) * k * m]) if z else None
        new, sizes = await _update(ctx, spec, x, valid, await _assign(ctx, spec, x, c), c, noise)
        c, old, done = new, c, t + 1
        if spec.params.tolerance is not None and t < last and await _settled(ctx, spec, old, new):
            break
    return c, sizes, done


async def _best_of_runs(ctx: Evaluator[S], spec: JobSpec, x: S, valid: S) -> tuple[S, S, list[int]]:
    """k-means++ then Lloyd, ``params.n_init`` times from one coin; the run of least inertia kept."""
    k, m, runs = kmeans_seeding.clusters(spec), len(spec.columns), spec.params.n_init
    u = kmeans_seeding.draws(await toss_recorded(ctx), k * runs)

    async def one(r: int) -> tuple[S, int]:
        """Run r's centroids, sizes and (with several runs) inertia, and its iterations."""
        c = await kmeans_seeding.seed(ctx, spec, x, valid, u[r * k:(r + 1) * k])
        c, sizes, done = await _lloyd(ctx, spec, x, valid, c, [])
        if runs == 1:
            return ctx.concat([c, sizes]), done
        _, best = await _nearest(ctx, spec, x, c)
        return ctx.concat([c, sizes, block_sum(await mul(ctx, valid, best), 1)]), done

    kept, done = await one(0)
    counts = [done]
    for r in range(1, runs):
        run, done = await one(r)
        counts.append(done)
        better = await less_than(ctx, ctx.add_public(run[k * m + k:], inertia_margin(spec)), kept[k * m + k:],
                                 _inertia_bits(spec))
        kept = kept + await mul(ctx, repeat(better, len(run)), run - kept)
    return kept[:k * m], kept[k * m:k * m + k], counts


async def run(ctx: Evaluator[S], spec: JobSpec, table: Table,
              on_inputs: common.InputHook[S] | None = None) -> dict[str, str]:
    rows, k, m = _sizes(spec)
    inputs = await common.input_all(ctx, spec, local(spec, table), on_inputs, input_bounds(spec))
    data = ctx.concat(inputs)
    x = common.gather(data, [i * (m + 1) + a for i in range(rows) for a in range(m)])
    valid = common.gather(data, [i * (m + 1) + m for i in range(rows)])
    params = common.params_of(spec)
    if spec.params.init == "kmeans++":  # After the input hook: the coin follows the commitments.
        c, sizes, counts = await _best_of_runs(ctx, spec, x, valid)
    else:
        c = fx_constant(ctx, [v for centroid in spec.params.centroids for v in centroid], params)
        z = await privacy.noise_many(ctx, privacy.plan(spec)) if spec.params.epsilon is not None else []
        c, sizes, done = await _lloyd(ctx, spec, x, valid, c, z)
        counts = [done]
    items = [c] + ([sizes] if "sizes" in spec.reveal else [])
    opened = await common.reveal(ctx, items)
    f = spec.fixed_point.f
    result = {f"centroid[{j}].{name}": common.fixed_text(opened[0][j * m + a], f)
              for j in range(k) for a, name in enumerate(spec.columns)}
    if "sizes" in spec.reveal:
        result.update({f"size[{j}]": str(v) for j, v in enumerate(opened[1])})
    if "iterations" in spec.reveal:
        result["iterations"] = ",".join(str(done) for done in counts)
    return result
