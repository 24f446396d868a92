"""k-means clustering: Lloyd's iterations under MPC from public initial centroids.

Every party inputs each of its rows (the spec's numeric ``columns``) and a
validity bit, padded to ``max_rows`` rows with zeros and validity 0, so the
inputs and the work depend on the spec alone. With R = parties * max_rows
rows, K clusters (``params.centroids``, public) and m features, each of the
``params.iterations`` iterations computes

    d_ij  = TruncPr(sum_a (x_ia - c_ja)^2)           (R K squares, R K truncations)
    a_ij  = one-hot of argmin_j d_ij, ties to the lowest j (sequential, K - 1 comparisons)
    n_j   = sum_i v_i a_ij,   S_ja = sum_i v_i a_ij x_ia
    c_ja  = S_ja / n_j, or the previous c_ja if n_j = 0 (a cluster without rows stays put)

and reveals only the final centroids ("centroids[j].column") and, if the spec
asks for "sizes", the n_j of the last assignment ("size[j]").

Error (ulp = 2^-f): the centroids of an iteration are within 8 ulp |c| + 3 ulp
of the plaintext means of the same assignment (division's bound plus the
rounding of the inputs to f bits). The assignments are the plaintext ones
unless a row lies within a few ulp of equidistance between two centroids
(the truncated distance has an error below 1 ulp); the tests use data whose
clusters are apart. Range: every value and initial centroid must satisfy
|x| <= ``bound(spec)``, so that squared distances (m (2B)^2) and the sums
(R B) fit the k-bit format; ``run`` refuses a larger local value before sending.
"""

from __future__ import annotations

import math

from offchain.analytics import common
from offchain.analytics.data import Table
from offchain.analytics.spec import JobSpec
from offchain.engine import estimate
from offchain.engine.arith import mul, square
from offchain.engine.bitwise import block_sum
from offchain.engine.compare import less_than, ltz
from offchain.engine.context import Context
from offchain.engine.divide import divide
from offchain.engine.fixedpoint import fx_constant, fx_trunc
from offchain.errors import ConfigError
from offchain.preprocessing.tuples import Needs
from offchain.shares import SharedVec


def bound(spec: JobSpec) -> float:
    """The largest |value| (data and initial centroids) the fixed-point range allows."""
    top = 2.0 ** (spec.fixed_point.k - 1 - spec.fixed_point.f)
    rows = (spec.max_rows or 1) * len(spec.participants)
    return min(math.sqrt(top / len(spec.columns)) / 2, top / rows) * 0.99


def check(spec: JobSpec) -> None:
    """The spec rules of k-means (ValueError naming the problem)."""
    p, m = spec.params, len(spec.columns)
    if not 2 <= len(p.centroids) <= 16 or any(len(c) != m for c in p.centroids):
        raise ValueError(f"k-means needs 2 to 16 initial centroids in params.centroids, each "
                         f"with one value per column ({m})")
    if not 1 <= p.iterations <= 50:
        raise ValueError("k-means needs params.iterations from 1 to 50")
    limit = bound(spec)
    if any(abs(v) > limit for c in p.centroids for v in c):
        raise ValueError(f"an initial centroid is outside the range +-{limit:.6g} that "
                         f"fixed_point k={spec.fixed_point.k} allows here")
    rows = (spec.max_rows or 0) * len(spec.participants)
    if rows * len(p.centroids) * m * p.iterations > 1 << 17:
        raise ValueError(f"k-means over {rows} padded rows, {len(p.centroids)} clusters, {m} "
                         f"columns and {p.iterations} iterations is too large; lower max_rows")


def _sizes(spec: JobSpec) -> tuple[int, int, int]:
    """(R padded rows of all parties, K clusters, m columns)."""
    rows = (spec.max_rows or 0) * len(spec.participants)
    return rows, len(spec.params.centroids), len(spec.columns)


def needs(spec: JobSpec) -> Needs:
    rows, k, m = _sizes(spec)
    params = common.params_of(spec)
    bits = rows.bit_length() + 1
    step = (estimate.square(rows * k * m) + estimate.fx_trunc(rows * k, params)
            + estimate.less_than(rows * (k - 1), params.k)
            + estimate.mul(rows * sum(1 + j for j in range(1, k)))
            + estimate.mul(rows * k) + estimate.mul(rows * k * m)
            + estimate.divide(k * m, params) + estimate.ltz(k, bits) + estimate.mul(k * m))
    return common.input_needs(spec, (spec.max_rows or 0) * (m + 1)) + step * spec.params.iterations


def local(spec: JobSpec, table: Table) -> list[int]:
    """This party's rows (encodings) each followed by 1, then zero rows up to max_rows."""
    f, limit = spec.fixed_point.f, bound(spec)
    for c in spec.columns:
        values = table.numeric[c]
        if len(values) and float(abs(values).max()) > limit:
            raise ConfigError(f"column {c!r} holds {float(abs(values).max()):.6g}, outside the "
                              f"range +-{limit:.6g} k-means allows with fixed_point "
                              f"k={spec.fixed_point.k}; rescale the column or choose a larger k")
    enc = [common.encodings(table.numeric[c], f) for c in spec.columns]
    out: list[int] = []
    for i in range(table.rows):
        out += [e[i] for e in enc] + [1]
    return out + [0] * ((spec.max_rows or 0) - table.rows) * (len(spec.columns) + 1)


async def _assign(ctx: Context, spec: JobSpec, x: SharedVec, c: SharedVec) -> SharedVec:
    """<one-hot nearest centroid> per row, row-major (R x K); ties to the lowest index."""
    rows, k, m = _sizes(spec)
    params = common.params_of(spec)
    diffs = SharedVec.concat([common.gather(x, [i * m + a for i in range(rows)])
                              - common.gather(c, [j * m + a] * rows)
                              for j in range(k) for a in range(m)])
    sq = await square(ctx, diffs)
    per = m * rows  # Each cluster's m blocks of R squared differences.
    dist = await fx_trunc(ctx, SharedVec.concat([block_sum(sq[j * per:(j + 1) * per], rows)
                                                 for j in range(k)]), params)
    best, onehot = dist[:rows], [SharedVec.zeros(rows).add_public(1, ctx.key)]
    for j in range(1, k):
        d = dist[j * rows:(j + 1) * rows]
        take = await less_than(ctx, d, best, params.k)
        delta = await mul(ctx, SharedVec.concat([take] * (1 + j)),
                          SharedVec.concat([d - best] + onehot))
        best = best + delta[:rows]
        onehot = [oh - delta[(1 + i) * rows:(2 + i) * rows] for i, oh in enumerate(onehot)] + [take]
    return common.gather(SharedVec.concat(onehot),
                         [j * rows + i for i in range(rows) for j in range(k)])


async def _update(ctx: Context, spec: JobSpec, x: SharedVec, valid: SharedVec,
                  assigned: SharedVec, c: SharedVec) -> tuple[SharedVec, SharedVec]:
    """(new centroids, cluster sizes) from a row-major one-hot assignment."""
    rows, k, m = _sizes(spec)
    params, f = common.params_of(spec), spec.fixed_point.f
    w = await mul(ctx, assigned, common.gather(valid, [i for i in range(rows) for _ in range(k)]))
    sizes = block_sum(w, k)
    weighted = await mul(ctx, common.gather(w, [i * k + j for i in range(rows) for j in range(k)
                                                for _ in range(m)]),
                         common.gather(x, [i * m + a for i in range(rows) for _ in range(k)
                                           for a in range(m)]))
    sums = block_sum(weighted, k * m)
    means = await divide(ctx, sums, common.repeat_each(sizes, m).scale(1 << f), params)
    empty = await ltz(ctx, sizes.sub_public(1, ctx.key), rows.bit_length() + 1)
    keep = await mul(ctx, common.repeat_each(empty, m), c - means)
    return means + keep, sizes


async def run(ctx: Context, spec: JobSpec, table: Table,
              on_inputs: common.InputHook | None = None) -> dict[str, str]:
    rows, k, m = _sizes(spec)
    inputs = await common.input_all(ctx, spec, local(spec, table), on_inputs)
    data = SharedVec.concat(inputs)
    x = common.gather(data, [i * (m + 1) + a for i in range(rows) for a in range(m)])
    valid = common.gather(data, [i * (m + 1) + m for i in range(rows)])
    params = common.params_of(spec)
    c = fx_constant(ctx, [v for centroid in spec.params.centroids for v in centroid], params)
    sizes = SharedVec.zeros(k)
    for _ in range(spec.params.iterations):
        c, sizes = await _update(ctx, spec, x, valid, await _assign(ctx, spec, x, c), c)
    items = [c] + ([sizes] if "sizes" in spec.reveal else [])
    opened = await common.reveal(ctx, items)
    f = spec.fixed_point.f
    result = {f"centroid[{j}].{name}": common.fixed_text(opened[0][j * m + a], f)
              for j in range(k) for a, name in enumerate(spec.columns)}
    if "sizes" in spec.reveal:
        result.update({f"size[{j}]": str(v) for j, v in enumerate(opened[1])})
    return result
