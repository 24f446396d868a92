"""Histograms, frequency tables and categorical naive Bayes: counts per cell, summed under MPC.

Each party counts its rows per cell locally and inputs the counts; the totals
are linear, so nothing but the input is computed, and only the totals are
opened. Counts are exact.

    histogram:    cells = bins of ``params.bins`` (numpy's rule: [e_i, e_i+1), the
                  last bin closed), per group of ``group_by`` if given
    frequency:    cells = values of one categorical column, or pairs of two
                  (chi_square's contingency table too: offchain.analytics.significance)
    naive_bayes:  cells = classes of ``label``, then (feature, value, class) for each
                  feature: the whole categorical model; predictions are made from
                  the revealed counts with Laplace smoothing (see offchain.analytics.bayes)
"""

from __future__ import annotations

import itertools

import numpy as np

from offchain.analytics import common
from offchain.analytics.data import Table
from offchain.analytics.spec import JobSpec
from offchain.engine.evaluator import Evaluator, S
from offchain.engine.ranges import Bound
from offchain.preprocessing.tuples import Needs


def cells(spec: JobSpec) -> list[str]:
    """The result key of every cell, in input order."""
    if spec.analysis == "histogram":
        edges = [_num(e) for e in spec.params.bins]
        column = spec.columns[0]
        last = len(edges) - 2
        bins = [f"{column}=[{lo},{hi}{']' if i == last else ')'}"
                for i, (lo, hi) in enumerate(itertools.pairwise(edges))]
        if spec.group_by:
            return [f"count[{spec.group_by}={g},{b}]" for g in spec.domain(spec.group_by) for b in bins]
        return [f"count[{b}]" for b in bins]
    if spec.analysis in ("frequency", "chi_square"):  # A contingency table.
        domains = [[f"{c}={v}" for v in spec.domain(c)] for c in spec.columns]
        return [f"count[{','.join(combo)}]" for combo in itertools.product(*domains)]
    label = spec.label or ""
    keys = [f"count[{label}={c}]" for c in spec.domain(label)]
    for feature in spec.columns:
        keys += [f"count[{feature}={v},{label}={c}]" for v in spec.domain(feature)
                 for c in spec.domain(label)]
    return keys


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


def local(spec: JobSpec, table: Table) -> list[int]:
    """This party's count per cell."""
    if spec.analysis == "histogram":
        values = table.numeric[spec.columns[0]]
        edges = np.asarray(spec.params.bins, dtype=np.float64)
        # numpy's histogram rule; the reading step refused values outside the edges.
        index = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)
        if spec.group_by:
            nb = len(edges) - 1
            index = table.codes[spec.group_by] * nb + index
            size = nb * len(spec.domain(spec.group_by))
        else:
            size = len(edges) - 1
        counts: list[int] = np.bincount(index, minlength=size).tolist()
        return counts
    if spec.analysis in ("frequency", "chi_square"):  # A contingency table.
        index = np.zeros(table.rows, dtype=np.int64)
        size = 1
        for c in spec.columns:
            d = len(spec.domain(c))
            index, size = index * d + table.codes[c], size * d
        counts = np.bincount(index, minlength=size).tolist()
        return counts
    label = spec.label or ""
    classes = table.codes[label]
    nc = len(spec.domain(label))
    out: list[int] = np.bincount(classes, minlength=nc).tolist()
    for feature in spec.columns:
        size = len(spec.domain(feature)) * nc
        out += np.bincount(table.codes[feature] * nc + classes, minlength=size).tolist()
    return out


def bounds(spec: JobSpec) -> list[Bound]:
    """Each of a party's counts lies in [0, max_rows] (checked under MPC by ``common.input_all``)."""
    return [common.count_bound(spec)] * len(cells(spec))


def sums(spec: JobSpec) -> list[tuple[range, Bound]]:
    """The groups of cells that partition a party's rows, each summing to at most max_rows: all
    cells of a histogram or contingency table; for naive Bayes the class counts, then each
    feature's (value, class) counts. A party cannot claim more rows in total than max_rows."""
    bound, n = common.count_bound(spec), len(cells(spec))
    if spec.analysis != "naive_bayes":
        return [(range(n), bound)]
    nc = len(spec.domain(spec.label or ""))
    groups, at = [range(nc)], nc
    for feature in spec.columns:
        size = len(spec.domain(feature)) * nc
        groups.append(range(at, at + size))
        at += size
    return [(g, bound) for g in groups]


def needs(spec: JobSpec) -> Needs:
    return common.input_needs(spec, len(cells(spec)), bounds(spec), sums(spec))


async def run(ctx: Evaluator[S], spec: JobSpec, table: Table,
              on_inputs: common.InputHook[S] | None = None) -> dict[str, str]:
    mine = local(spec, table)
    inputs = await common.input_all(ctx, spec, mine, on_inputs, bounds(spec), sums(spec))
    (opened,) = await common.reveal(ctx, [common.total(inputs)])
    return {key: str(v) for key, v in zip(cells(spec), opened, strict=True)}
