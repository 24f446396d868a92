"""Count, sum, mean, variance, standard deviation, min and max, overall or per group.

Each party inputs, per group g and column c (groups from the declared domain
of ``group_by``; one group without it): its row count n_g, the sum S of the
encodings and, when a variance is asked for, the sum of squares Q (scale 2^f),
and for min/max its local minimum and maximum (the largest encoding, or its
negation, when it has no row in the group). Under MPC, with totals n, S, Q:

    mean     = S / n                                  (division, spec format)
    variance = T / D,  T = n Q - S^2,  D = n (n - ddof)   (T exact at scale 2^2f, one
               truncation to 2^f, division in the wide format: no cancellation)
    std      = sqrt(variance)
    sample_variance, sample_std: the same with D = n (n - 1) whatever ddof says,
               so that a job reveals both the population (ddof 0, the default) and
               the sample statistics, named (T and the divisions shared)
    min, max = pairwise min/max of the parties' extremes (ceil(log2 parties) rounds)

Error bounds of this computation under MPC (ulp = 2^-f, relative to the exact
value on the pooled rows; the rounding of Q adds at most parties/2 ulp to Q;
a spec that reveals the count without noise is exact to half an ulp instead,
see below):

    mean:     |e| <= 8 ulp |mean| + 2 ulp          (divide's bound with |x| / |y| = |mean|)
    variance: |e| <= 8 ulp var + (parties + 2) ulp
    std:      |e| <= 12 ulp std + 3 ulp
    count, sum, min, max: exact (the sum of encodings; the encodings are the inputs)

An empty group reveals count 0, sum/mean/variance/std 0 and min/max "none".
Gaussian naive Bayes reuses this with the class label as the group.

When the spec reveals the count and takes no noise (``finishes_in_public``),
no division or square root is computed under MPC: one product round gives
T = n Q 2^f - S^2 exactly (scale 2^2f), and the totals n, T and, when the sum
or the mean is revealed, S are opened (one MAC-checked output, with min and
max) and the statistics derived in public from the integers (``derive``):
mean = S / n, variance = T / (n (n - ddof)) / 2^f, std its square root, each
rounded once to the nearest multiple of 2^-f. They are then exact to half an
ulp whatever the size of n^2 var (no wide format, no range to check), and the
same job prints the same digits every run. The participants learn these
totals, which the revealed count, mean and variance determine up to their
printed digits; the chain gets only the statistics the spec reveals. (This
is what the auditable summary does, offchain.auditable.summary.)

With ``params.epsilon`` (offchain.analytics.privacy has the sensitivities and
the budget split), each party clips its values to the clip bounds, and the
totals n, S, Q that the reveal needs get discrete Laplace noise inside MPC
right after the input; everything else is computed from the noised totals,
with n clamped to at least 1 for the mean (1 + ddof when a variance is
computed, so that n (n - ddof) > 0) and n Q - S^2 clamped at 0 (noise can make
it negative), each by one LTZ and one product. The bounds above then hold
around the noised totals. Min and max are then not the parties' extremes:
each party inputs its counts in ``params.minmax_bins`` bins of the clip range
instead, and the revealed min and max are edges of the first and last bins
whose noised count passes a public threshold (offchain.analytics.privacy_bounds
has the mechanism and its accuracy: within one bin width of the clipped
extremes when enough rows lie there; "none" when no bin passes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from offchain.analytics import common, privacy, privacy_bounds
from offchain.analytics.data import Table
from offchain.analytics.spec import MAX_ROWS, JobSpec, group_of
from offchain.engine import estimate, ranges
from offchain.engine.arith import mul
from offchain.engine.divide import divide, sqrt
from offchain.engine.evaluator import Evaluator, S
from offchain.engine.fixedpoint import fx_trunc
from offchain.engine.ranges import Bound
from offchain.field import P
from offchain.preprocessing.tuples import Needs

STATS = ("count", "sum", "mean", "variance", "std", "sample_variance", "sample_std", "min", "max")
#: Second-moment statistics and the divisor n - ddof of each (None: the spec's params.ddof).
SECOND: dict[str, int | None] = {"variance": None, "std": None, "sample_variance": 1, "sample_std": 1}


@dataclass(frozen=True)
class Layout:
    """The public shape of a summary: groups, columns and which parts are input."""

    groups: tuple[str, ...]
    columns: tuple[str, ...]
    second: bool
    extremes: bool
    bins: int  # Per cell, bins of the noised min/max histogram (epsilon), else 0.

    @property
    def cells(self) -> int:
        return len(self.groups) * len(self.columns)

    @property
    def width(self) -> int:
        g, gc = len(self.groups), self.cells
        extremes = gc * self.bins if self.bins else 2 * gc * self.extremes
        return g + gc + gc * self.second + extremes


def layout(spec: JobSpec) -> Layout:
    group = group_of(spec)
    wanted = set(spec.reveal)
    extremes = bool(wanted & {"min", "max"})
    bins = spec.params.minmax_bins if extremes and spec.params.epsilon is not None else 0
    return Layout(spec.domain(group) if group else ("",), spec.columns,
                  bool(wanted & set(SECOND)), extremes, bins)


def ddofs(spec: JobSpec) -> tuple[int, ...]:
    """The distinct divisors n - ddof the revealed second moments use, in a fixed order."""
    wanted = [spec.params.ddof if d is None else d for name, d in SECOND.items() if name in spec.reveal]
    return tuple(sorted(set(wanted)))


def _roots(spec: JobSpec) -> tuple[int, ...]:
    """The divisors whose variance gets a square root (std, sample_std)."""
    return tuple(sorted({spec.params.ddof if SECOND[name] is None else 1
                         for name in ("std", "sample_std") if name in spec.reveal}))


def finishes_in_public(spec: JobSpec) -> bool:
    """Whether the totals are opened and the statistics derived in public (module docstring):
    the count is revealed, no noise is taken, and T = n Q 2^f - S^2 fits the field's signed
    range for every input the ranges allow (Q < parties 2^(k-1), n <= parties max_rows)."""
    parties, k, f = len(spec.participants), spec.fixed_point.k, spec.fixed_point.f
    t_bits = k - 1 + f + (parties * parties * (spec.max_rows or MAX_ROWS)).bit_length() + 1
    return "count" in spec.reveal and spec.params.epsilon is None and t_bits < P.bit_length() - 2


def derive(spec: JobSpec, n: list[int], s: list[int] | None, t: list[int] | None) -> dict[str, list[int]]:
    """The statistics at scale 2^f from opened totals: n per group, S (scale 2^f) and T
    (scale 2^2f) per cell; each rounded once, half-even (std: to nearest). An empty group,
    or n <= ddof, gives 0."""
    per, f = len(spec.columns), spec.fixed_point.f
    cells = [n[i // per] for i in range(len(n) * per)]
    out: dict[str, list[int]] = {"count": n}
    if s is not None:
        out["sum"] = s
        out["mean"] = [_round_div(si, ni) if ni > 0 else 0 for si, ni in zip(s, cells, strict=True)]
    if t is not None:
        for prefix, ddof in (("", spec.params.ddof), ("sample_", 1)):
            d = [ni * (ni - ddof) for ni in cells]
            out[prefix + "variance"] = [_round_div(ti, di << f) if di > 0 else 0 for ti, di in zip(t, d, strict=True)]
            out[prefix + "std"] = [_round_sqrt(ti, di) if di > 0 else 0 for ti, di in zip(t, d, strict=True)]
    return out


def _round_div(a: int, b: int) -> int:
    """a / b rounded half-even, for b > 0."""
    q, r = divmod(a, b)
    if 2 * r > b or (2 * r == b and q % 2):
        q += 1
    return q


def _round_sqrt(t: int, d: int) -> int:
    """sqrt(t / d) rounded to nearest, t / d >= 0 at scale 2^2f giving scale 2^f."""
    if t <= 0:
        return 0
    y = math.isqrt(t // d)
    return y + 1 if (2 * y + 1) ** 2 * d <= 4 * t else y


def local(spec: JobSpec, table: Table) -> list[int]:
    """This party's counts, sums, sums of squares and extremes or bin counts (module docstring)."""
    lay, f = layout(spec), spec.fixed_point.f
    group = group_of(spec)
    member = table.codes[group] if group else np.zeros(table.rows, dtype=np.int64)
    counts, sums, squares, lows, highs, binned = [], [], [], [], [], []
    big = common.sentinel(spec)
    for g in range(len(lay.groups)):
        rows = member == g
        counts.append(int(rows.sum()))
        for c in lay.columns:
            enc = common.encodings(privacy.clip(spec, table.numeric[c][rows]), f)
            sums.append(sum(enc))
            squares.append(common.product_sum(enc, enc, f))
            lows.append(min(enc, default=big))
            highs.append(max(enc, default=-big))
            binned += privacy_bounds.local_counts(spec, enc) if lay.bins else []
    names = [f"{c!r}" for _ in lay.groups for c in lay.columns]
    common.check_local(spec, sums, [f"sum of {c}" for c in names])
    out = counts + sums
    if lay.second:
        common.check_local(spec, squares, [f"sum of squares of {c}" for c in names])
        out += squares
    if spec.params.epsilon is not None:
        squared = [f"sum of squares of {c}" for c in names] if lay.second else []
        privacy.check_room(spec, out[len(lay.groups):], [f"sum of {c}" for c in names] + squared)
    if lay.bins:
        privacy_bounds.check_room(spec, counts)
        out += binned
    elif lay.extremes:
        out += lows + highs
    return out


def input_bounds(spec: JobSpec) -> list[Bound]:
    """The ranges of a party's inputs (in ``local``'s order), checked under MPC: each count
    (of a group's rows, or of a min/max bin) in [0, max_rows], every other value a k-bit encoding."""
    lay, count, value = layout(spec), common.count_bound(spec), ranges.signed(spec.fixed_point.k)
    moments = lay.cells * (1 + lay.second)
    extremes = [count] * (lay.cells * lay.bins) if lay.bins else [value] * (2 * lay.cells * lay.extremes)
    return [count] * len(lay.groups) + [value] * moments + extremes


def needs(spec: JobSpec) -> Needs:
    lay, params, wide = layout(spec), common.params_of(spec), common.wide_of(spec)
    total = common.input_needs(spec, lay.width, input_bounds(spec))
    gc = lay.cells
    if finishes_in_public(spec):
        total = total + (estimate.mul(2 * gc) if lay.second else Needs())
        return total + (common.party_extremes_needs(spec, gc) if lay.extremes else Needs())
    if "mean" in spec.reveal:
        total = total + estimate.divide(gc, params)
    if lay.second:
        nd, nr = len(ddofs(spec)), len(_roots(spec))
        total = total + estimate.mul(2 * gc + nd * len(lay.groups)) + estimate.fx_trunc(gc, wide)
        total = total + common.wide_check_needs(spec, gc)
        total = total + estimate.divide(nd * gc, wide)
        if nr:
            total = total + estimate.sqrt(nr * gc, wide)
    if lay.bins:
        total = total + privacy_bounds.needs(spec, gc)
    elif lay.extremes:
        total = total + common.party_extremes_needs(spec, gc)
    if spec.params.epsilon is not None:
        total = total + _noise_needs(spec, lay)
    return total


def _noise_needs(spec: JobSpec, lay: Layout) -> Needs:
    """The noise (min/max bins included), and the clamps of n (mean, variance) and n Q - S^2."""
    total = privacy.plan_needs(privacy.plan(spec))
    g, gc = len(lay.groups), lay.cells
    if "mean" in spec.reveal or lay.second:
        total = total + estimate.ltz(g, spec.fixed_point.k) + estimate.mul(g)
    if lay.second:
        total = total + estimate.ltz(gc, common.wide_of(spec).k) + estimate.mul(gc)
    return total


async def run(ctx: Evaluator[S], spec: JobSpec, table: Table,
              on_inputs: common.InputHook[S] | None = None) -> dict[str, str]:
    mine = local(spec, table)
    inputs = await common.input_all(ctx, spec, mine, on_inputs, input_bounds(spec))
    return await compute(ctx, spec, inputs)


async def compute(ctx: Evaluator[S], spec: JobSpec, inputs: list[S]) -> dict[str, str]:
    """The statistics the spec reveals from every party's input vector."""
    lay, params = layout(spec), common.params_of(spec)
    f, g, gc = params.f, len(lay.groups), lay.cells
    base = g + gc + gc * lay.second  # Where the extremes or the min/max bins start.
    tot = common.total(inputs)
    if finishes_in_public(spec):
        return await _finish_in_public(ctx, spec, inputs, tot)
    noisy = spec.params.epsilon is not None
    if noisy:
        tot = tot + await privacy.noise_at(ctx, spec, len(tot),
                                           {"count": 0, "sum": g, "squares": g + gc, "bins": base})
    n, s = tot[0:g], tot[g:g + gc]
    out: dict[str, S] = {"count": n, "sum": s}
    if noisy and ("mean" in spec.reveal or lay.second):
        floor = 1 + max(ddofs(spec)) if lay.second else 1
        n = await privacy.at_least(ctx, ctx.sub_public(n, floor), spec.fixed_point.k)
        n = ctx.add_public(n, floor)
    n_cells = common.repeat_each(n, len(lay.columns))
    if "mean" in spec.reveal:
        out["mean"] = await divide(ctx, s, n_cells.scale(1 << f), params)
    if lay.second:
        out.update(await _second(ctx, spec, tot[g + gc:g + 2 * gc], s, n, n_cells))
    if lay.bins:
        out.update(await privacy_bounds.extremes(ctx, spec, tot[base:base + gc * lay.bins]))
    elif lay.extremes:
        out["min"], out["max"] = await common.party_extremes(
            ctx, spec, [x[base:base + gc] for x in inputs], [x[base + gc:base + 2 * gc] for x in inputs])
    names = [name for name in STATS if name in spec.reveal]
    opened = dict(zip(names, await common.reveal(ctx, [out[name] for name in names]), strict=True))
    if lay.bins:
        opened.update({name: privacy_bounds.decode(spec, name, opened[name])
                       for name in privacy_bounds.wanted(spec)})
    return format_result(spec, opened)


async def _finish_in_public(ctx: Evaluator[S], spec: JobSpec, inputs: list[S], tot: S) -> dict[str, str]:
    """n, T and (for the sum or the mean) S opened with min and max; the rest derived in public."""
    lay, f = layout(spec), spec.fixed_point.f
    g, gc = len(lay.groups), lay.cells
    n, s = tot[0:g], tot[g:g + gc]
    sums = bool({"sum", "mean"} & set(spec.reveal))
    parts = [n] + ([s] if sums else [])
    if lay.second:
        xy = await mul(ctx, ctx.concat([common.repeat_each(n, len(lay.columns)), s]),
                       ctx.concat([tot[g + gc:g + 2 * gc].scale(1 << f), s]))
        parts.append(xy[0:gc] - xy[gc:2 * gc])
    if lay.extremes:
        base = g + gc + gc * lay.second
        parts += await common.party_extremes(
            ctx, spec, [x[base:base + gc] for x in inputs], [x[base + gc:base + 2 * gc] for x in inputs])
    opened = await common.reveal(ctx, parts)
    stats = derive(spec, opened[0], opened[1] if sums else None, opened[1 + sums] if lay.second else None)
    if lay.extremes:
        stats["min"], stats["max"] = opened[-2], opened[-1]
    return format_result(spec, {name: stats[name] for name in STATS if name in spec.reveal})


async def _second(ctx: Evaluator[S], spec: JobSpec, q: S, s: S, n: S, n_cells: S) -> dict[str, S]:
    """Variances T / (n (n - ddof)) for each divisor of ``ddofs`` and their square roots.

    T = n Q - S^2 is computed once; the divisors share one product round, one
    division and one square root call.
    """
    lay, f, wide = layout(spec), spec.fixed_point.f, common.wide_of(spec)
    gc, divs = lay.cells, ddofs(spec)
    prods = await mul(ctx, ctx.concat([n_cells, s, *(n for _ in divs)]),
                      ctx.concat([q, s, *(ctx.sub_public(n, d) for d in divs)]))
    nq, ss = prods[0:gc], prods[gc:2 * gc]
    await common.check_wide(ctx, spec, nq.scale(1 << f) - ss, cell_labels(spec))
    t = await fx_trunc(ctx, nq.scale(1 << f) - ss, wide)
    if spec.params.epsilon is not None:
        t = await privacy.at_least(ctx, t, wide.k)
    g = len(lay.groups)
    d_cells = [common.repeat_each(prods[2 * gc + i * g:2 * gc + (i + 1) * g], len(lay.columns)).scale(1 << f)
               for i in range(len(divs))]
    variances = await divide(ctx, ctx.concat([t for _ in divs]), ctx.concat(d_cells), wide)
    by_ddof = {d: variances[i * gc:(i + 1) * gc] for i, d in enumerate(divs)}
    roots = _roots(spec)
    out = {name: by_ddof[spec.params.ddof if d is None else d] for name, d in SECOND.items()
           if name in spec.reveal and not name.endswith("std")}
    if roots:
        rooted = await sqrt(ctx, ctx.concat([by_ddof[d] for d in roots]), wide)
        for name in ("std", "sample_std"):
            if name in spec.reveal:
                d = spec.params.ddof if SECOND[name] is None else 1
                i = roots.index(d)
                out[name] = rooted[i * gc:(i + 1) * gc]
    return out


def cell_labels(spec: JobSpec) -> list[str]:
    """Each cell's name in messages: ``column`` or ``column[group=v]``, in cell order."""
    lay, group = layout(spec), group_of(spec)
    return [f"{column}[{group}={gname}]" if group else column for gname in lay.groups for column in lay.columns]


def format_result(spec: JobSpec, opened: dict[str, list[int]]) -> dict[str, str]:
    """Keys ``count[group=v]`` and ``stat.column[group=v]`` (no brackets without a group)."""
    lay, f = layout(spec), spec.fixed_point.f
    group = group_of(spec)
    big = common.sentinel(spec)
    result = {}
    for gi, gname in enumerate(lay.groups):
        tag = f"[{group}={gname}]" if group else ""
        if "count" in opened:
            result[f"count{tag}"] = str(opened["count"][gi])
        for ci, column in enumerate(lay.columns):
            for name, values in opened.items():
                if name == "count":
                    continue
                v = values[gi * len(lay.columns) + ci]
                text = "none" if name in ("min", "max") and abs(v) == big else common.fixed_text(v, f)
                result[f"{name}.{column}{tag}"] = text
    return result
