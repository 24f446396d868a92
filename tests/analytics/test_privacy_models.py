"""Differential privacy for linear regression (perturbed sufficient statistics) and k-means
(DP Lloyd): the noise plans, plaintext twins given the same noise, accuracy, refusals."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pytest

from offchain.analytics import registry
from offchain.analytics import common, kmeans, linear, privacy
from offchain.analytics.data import Table
from offchain.analytics.spec import JobSpec
from offchain.engine import estimate
from offchain.engine.context import Context
from offchain.engine.fixedpoint import fx_constant
from harness.local import run_local
from offchain.errors import ConfigError, ProtocolAbort
from analytics_testkit import (PARTIES, Drawn, close, opened_noise, rng, run_analysis, spec,
                              split_tables)

F = 20
ULP = 2.0**-F
UNIT: dict[str, Any] = {"clip_lower": 0, "clip_upper": 1}


def tail(epsilon: float, sens: float, p: float) -> float:
    """t with Pr[|Z| >= t] <= p for discrete Laplace noise of epsilon on sensitivity sens (in
    the same units): Pr[|Z| >= t] = 2 q^t / (1 + q) <= 2 exp(-epsilon t / sens)."""
    return sens / epsilon * math.log(2 / p)


@pytest.fixture
def drawn() -> Iterator[Drawn]:
    """Each ``noise_many`` call's plan and its draws, opened for the test (analytics_testkit)."""
    with opened_noise() as calls:
        yield calls


# The plans: sensitivities and the budget split, by hand ----------------------------------------
def regression_spec(columns: tuple[str, ...], **params: Any) -> JobSpec:
    return spec(analysis="linear_regression", columns=columns, label="y",
                reveal=("coefficients", "intercept"), params=params)


def kmeans_spec(start: list[list[float]], iterations: int, max_rows: int, **params: Any
                ) -> JobSpec:
    return spec(analysis="kmeans", columns=("u", "w"), max_rows=max_rows,
                reveal=("centroids", "sizes"),
                params={"centroids": start, "iterations": iterations, **params})


def test_plans_follow_the_documented_sensitivities_and_budget_split() -> None:
    # Regression over a, b and the response y: m = 3 columns, P = 6 pairs; clip [-1, 3] makes
    # M = 3 2^f and ceil(M^2 / 2^f) = 9 2^f; epsilon 3 gives 1 to each of n, S, C.
    reg = regression_spec(("a", "b"), epsilon=3.0, clip_lower=-1, clip_upper=3)
    assert privacy.plan(reg) == [privacy.Noise("count", 1, 1.0, 1),
                                 privacy.Noise("sum", 3, 1.0, 3 * 3 * 2**F),
                                 privacy.Noise("cross", 6, 1.0, 6 * 9 * 2**F)]
    # k-means, K = 3 clusters, m = 2 columns, T = 4 iterations, epsilon 8: 8 / (2 * 4) = 1 on
    # every iteration's n_j (sensitivity 1) and S_ja (m M = 2 2^f for clip [0, 1]).
    km = kmeans_spec([[0, 0], [1, 1], [0, 1]], 4, 10, epsilon=8.0, **UNIT)
    assert privacy.plan(km) == [privacy.Noise("count", 4 * 3, 1.0, 1),
                                privacy.Noise("sum", 4 * 3 * 2, 1.0, 2 * 2**F)]
    assert registry.parse_spec(km.canonical()) == km and registry.parse_spec(reg.canonical()) == reg
    ridge = regression_spec(("a",), ridge=0.5)
    assert '"ridge":0.5' in ridge.canonical()
    assert '"ridge"' not in regression_spec(("a",)).canonical()


# Linear regression -----------------------------------------------------------------------------
def quotient(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """x / y, and 0 where y = 0 (as the MPC divide)."""
    return np.where(y != 0, x / np.where(y != 0, y, 1), 0.0)


def regression_twin(s: JobSpec, tables: Sequence[Table], noise: list[list[int]]
                    ) -> tuple[np.ndarray, float, np.ndarray]:
    """(coefficients, intercept, pivots) solved in floating point from the exact totals plus
    the given noise, with the documented clamps (offchain.analytics.linear)."""
    m, lam = len(s.columns) + 1, s.params.ridge
    tot = [sum(v) for v in zip(*(linear.local(s, t) for t in tables))]
    n = max(tot[0] + noise[0][0], 2)
    sums = [tot[1 + a] + noise[1][a] for a in range(m)]
    pairs = [(a, b) for a in range(m) for b in range(a, m)]
    t = np.zeros((m, m))
    for i, (a, b) in enumerate(pairs):  # Exact integers at scale 2^2f, then real units.
        t[a, b] = t[b, a] = (n * (tot[1 + m + i] + noise[2][i]) * 2**F - sums[a] * sums[b]) / 4**F
    roots = np.sqrt(np.maximum(np.diag(t), 0))
    r = np.clip(quotient(t, np.outer(roots, roots)), -1, 1)
    system = (r[:-1, :-1] + lam * np.eye(m - 1)) / (1 + lam)
    np.fill_diagonal(system, 1)
    gamma = np.linalg.solve(system, r[:-1, -1] / (1 + lam))
    pivots = [1 / np.linalg.inv(system[:i + 1, :i + 1])[i, i] for i in range(1, m - 1)]
    beta = quotient(gamma * roots[-1], roots[:-1])
    intercept = (sums[-1] - beta @ np.array(sums[:-1])) / 2**F / n
    return beta, intercept, np.array(pivots)


def test_dp_regression_is_the_plaintext_solve_of_the_noised_totals(drawn: Drawn) -> None:
    # Small data and epsilon 2, so that the noise moves the model a lot: the MPC result must
    # still be the documented function of the noised totals (same noise, opened by the peek).
    r = rng(61)
    x = r.uniform(0, 1, (900, 3)).round(4)
    y = np.clip(x @ [0.4, -0.3, 0.2] + 0.3 + r.normal(0, 0.05, 900), 0, 1).round(4)
    s = spec(analysis="linear_regression", columns=("a", "b", "c"), label="y",
             reveal=("coefficients", "intercept"), params={"epsilon": 2.0, "ridge": 0.25, **UNIT})
    tables = split_tables(s, {"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "y": y})
    got = run_analysis(s, tables, seed=b"dp-regression-1")  # Seeded: some noise makes a pivot too low.
    ((plan, noise),) = drawn
    assert plan == privacy.plan(s) == [privacy.Noise("count", 1, 2 / 3, 1),
                                       privacy.Noise("sum", 4, 2 / 3, 4 * 2**F),
                                       privacy.Noise("cross", 10, 2 / 3, 10 * 2**F)]
    assert any(noise[2])
    beta, intercept, pivots = regression_twin(s, tables, noise)
    assert min(pivots) >= linear.MIN_PIVOT
    for a, name in enumerate("abc"):
        assert close(got[f"coefficient[{name}]"], beta[a], 1e-4, 64), (got, beta)
    assert close(got["intercept"], intercept, 1e-4, 64), (got, intercept)


def test_dp_regression_is_close_to_least_squares_within_the_noise_bound() -> None:
    # 60000 rows in [0, 1], epsilon 10: epsilon / 3 on each of n (sensitivity 1), S (3) and
    # C (6, real units). Each of the 10 noise values stays within tail(., ., 1e-10), so all do
    # with probability 1 - 1e-9; then every T_ab = n C_ab - S_a S_b is off by at most E_ab
    # below, and least squares perturbation theory bounds the coefficients.
    r = rng(62)
    rows = 60000
    x = r.uniform(0, 1, (rows, 2)).round(4)
    y = np.clip(x @ [0.5, -0.3] + 0.4 + r.normal(0, 0.05, rows), 0, 1).round(4)
    s = regression_spec(("a", "b"), epsilon=10.0, **UNIT)
    got = run_analysis(s, split_tables(s, {"a": x[:, 0], "b": x[:, 1], "y": y}))
    v = np.c_[x, y]
    n, sums, cross = float(rows), v.sum(axis=0), v.T @ v
    eps, p = 10 / 3, 1e-10
    tn, ts, tc = tail(eps, 1, p), tail(eps, 3, p), tail(eps, 6, p)
    t = n * cross - np.outer(sums, sums)
    e = tn * np.abs(cross) + n * tc + tn * tc + ts * (sums[:, None] + sums[None, :]) + ts * ts
    # No clamp binds inside the box: the noised T_aa stay positive, every |r| below 1, and the
    # pivot 1 - r_ab^2 of the two features above MIN_PIVOT.
    low = np.diag(t) - np.diag(e)
    off = ~np.eye(3, dtype=bool)
    assert np.all(low > 0) and np.all(((np.abs(t) + e) ** 2 < np.outer(low, low))[off])
    assert (abs(t[0, 1]) + e[0, 1]) ** 2 < (1 - linear.MIN_PIVOT) * low[0] * low[1]
    a, b = t[:2, :2], t[:2, 2]
    want = np.linalg.solve(a, b)
    inv = np.linalg.norm(np.linalg.inv(a), 2)
    kappa = inv * np.linalg.norm(e[:2, :2])
    assert kappa < 0.5
    bound = inv * (np.linalg.norm(e[:2, 2]) + np.linalg.norm(e[:2, :2]) * np.linalg.norm(want))
    bound /= 1 - kappa
    assert bound < 0.05  # A meaningful test: the bound is tight enough to see the model.
    ols = np.linalg.lstsq(np.c_[x, np.ones(rows)], y, rcond=None)[0]
    assert np.allclose(ols[:2], want) and np.allclose(ols[:2], [0.5, -0.3], atol=0.01)
    for i, name in enumerate("ab"):
        assert abs(float(got[f"coefficient[{name}]"]) - ols[i]) <= bound + 1e-4
    c = ols[2]
    c_bound = (ts + bound * np.linalg.norm(sums[:2]) + (np.linalg.norm(want) + bound)
               * math.sqrt(2) * ts + tn * abs(c)) / (n - tn)
    assert abs(float(got["intercept"]) - c) <= c_bound + 1e-4


def test_a_noised_collinear_design_aborts_instead_of_revealing_garbage() -> None:
    # b = a exactly: the correlation matrix is singular and the noised one has a pivot
    # 1 - r^2 near 0 (r clamped to 1 gives exactly 0). With 300000 rows the pivot is below
    # 2^-10 for all but about 1e-3 of the draws (simulated); the dealer is seeded.
    r = rng(63)
    a = r.uniform(0, 1, 300000).round(4)
    y = np.clip(0.5 * a + 0.2 + r.normal(0, 0.05, len(a)), 0, 1).round(4)
    s = regression_spec(("a", "b"), epsilon=10.0, **UNIT)
    with pytest.raises(ProtocolAbort, match="elimination pivot 1 is below 0.000976562; nothing "
                                            "was revealed. Raise params.epsilon"):
        run_analysis(s, split_tables(s, {"a": a, "b": a, "y": y}), seed=b"dp-collinear-1")


def test_the_pivot_check_passes_a_positive_definite_system_and_aborts_otherwise() -> None:
    s = regression_spec(("a", "b", "c"), epsilon=1.0, **UNIT)
    good = [[1, 0.3, 0.2, 0.5], [0.3, 1, 0.1, 0.2], [0.2, 0.1, 1, 0.1]]
    got = solve(s, good)
    want = np.linalg.solve(np.array(good)[:, :3], np.array(good)[:, 3])
    assert np.allclose(got, want, atol=1e-4)
    # Indefinite: the second pivot is 0.19 - 1.31^2 / 0.19 < 0 (the first is 0.19).
    with pytest.raises(ProtocolAbort, match="elimination pivot 2 is below"):
        solve(s, [[1, 0.9, 0.9, 0.1], [0.9, 1, -0.5, 0.1], [0.9, -0.5, 1, 0.1]])
    two = regression_spec(("a", "b"), epsilon=1.0, **UNIT)
    with pytest.raises(ProtocolAbort, match="elimination pivot 1 is below"):
        solve(two, [[1, 1, 0.5], [1, 1, 0.5]])
    # A ridge of 0.01, divided out: 1 - (1 / 1.01)^2 = 0.0197 passes.
    ridged = solve(two, [[1, 1 / 1.01, 0.5 / 1.01], [1 / 1.01, 1, 0.5 / 1.01]])
    assert np.allclose(ridged, [0.5 / 2.01] * 2, atol=1e-3)


def solve(s: JobSpec, rows: list[list[float]]) -> list[float]:
    """gauss_jordan and check_pivots under MPC on public rows; the opened solution."""
    params, d = common.params_of(s), len(rows)
    needs = linear._gauss_jordan_needs(d, params) + estimate.ltz(d - 1, params.k)

    async def program(ctx: Context) -> list[int]:
        shared = [[fx_constant(ctx, [v], params) for v in row] for row in rows]
        solution, pivots = await linear.gauss_jordan(ctx, shared, params)
        await linear.check_pivots(ctx, s, pivots)
        (opened,) = await common.reveal(ctx, [solution])
        return opened

    results = asyncio.run(run_local(3, program, needs=needs, sacrifice=False))
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return [v * ULP for v in results[0]]  # type: ignore[union-attr]


# k-means ---------------------------------------------------------------------------------------
def squares(seed: int, per: int) -> np.ndarray:
    """Three tight clusters in [0, 1]^2 (uniform in squares of half-width 0.05), shuffled."""
    r = rng(seed)
    centres = np.array([[0.15, 0.15], [0.85, 0.2], [0.5, 0.85]])
    x = np.concatenate([r.uniform(c - 0.05, c + 0.05, (per, 2)) for c in centres]).round(4)
    return x[r.permutation(len(x))]


def nearest(x: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(nearest centroid of each row, the margin: second-nearest minus nearest distance)."""
    dist = np.sqrt(((x[:, None, :] - c[None, :, :]) ** 2).sum(axis=2))
    order = np.sort(dist, axis=1)
    return dist.argmin(axis=1), order[:, 1] - order[:, 0]


def dp_lloyd_twin(s: JobSpec, x: np.ndarray, noise: list[list[int]]
                  ) -> tuple[np.ndarray, np.ndarray]:
    """DP Lloyd in floating point from the exact integer totals plus the given noise."""
    k, m, lo, hi = len(s.params.centroids), x.shape[1], s.params.clip_lower, s.params.clip_upper
    enc = np.array([[round(float(v) * 2**F) for v in row] for row in np.clip(x, lo, hi)],
                   dtype=object)
    c = np.array(s.params.centroids, dtype=float)
    sizes = np.zeros(k, dtype=int)
    for t in range(s.params.iterations):
        near, _ = nearest(x, c)
        sizes = np.bincount(near, minlength=k) + np.array(noise[0][t * k:(t + 1) * k])
        z = np.array(noise[1][t * k * m:(t + 1) * k * m]).reshape(k, m)
        for j in range(k):
            total = [sum(enc[near == j, a]) + int(z[j, a]) for a in range(m)]
            if sizes[j] >= 1:
                c[j] = np.clip(np.array(total, dtype=float) / 2**F / sizes[j], lo, hi)
    return c, sizes


def test_dp_kmeans_is_plaintext_dp_lloyd_with_the_same_noise(drawn: Drawn) -> None:
    # epsilon 1 over 3 iterations: epsilon / 6 per total, noise of several rows in the sizes and
    # of several units in the sums. The fourth centroid starts far from the data: its cluster
    # is empty, so it is kept (noisy size below 1) or moved to S~ / n~ clamped to [0, 1]^2.
    x = squares(64, 40)
    start = [[0.2, 0.2], [0.8, 0.3], [0.4, 0.7], [3.0, -3.0]]
    s = kmeans_spec(start, 3, 40, epsilon=1.0, **UNIT)
    got = run_analysis(s, split_tables(s, {"u": x[:, 0], "w": x[:, 1]}), seed=b"dp-kmeans-8")
    ((plan, noise),) = drawn
    assert plan == [privacy.Noise("count", 12, 1 / 6, 1), privacy.Noise("sum", 24, 1 / 6, 2**21)]
    want, sizes = dp_lloyd_twin(s, x, noise)
    assert [int(got[f"size[{j}]"]) for j in range(4)] == list(sizes)
    # Seeded: this draw keeps the fourth centroid and clamps one coordinate to the box (the noise
    # follows the job's other tuples from the seeded dealer: when they change, pick the seed again).
    assert got["centroid[3].u"] == "3.000000" and "1.000000" in got.values()
    for j in range(4):
        for a, name in enumerate("uw"):
            assert close(got[f"centroid[{j}].{name}"], want[j, a], 8 * ULP, 8), (got, want)


def test_dp_kmeans_centroids_are_close_to_plaintext_lloyd() -> None:
    # 600 rows, epsilon 10 over 2 iterations: epsilon / 4 on each of the 18 noised totals, each
    # within tail(., ., 1e-9 / 18) (all of them with probability 1 - 1e-9). A cluster of n rows
    # then moves by at most delta = (t_S + |c| t_n) / (n - t_n) per coordinate (the clamp to
    # the box, which holds the true mean, only brings it closer), and no row changes cluster
    # while its margin exceeds 2 sqrt(2) delta: every iteration assigns as plaintext Lloyd.
    per, iterations, eps = 200, 2, 10 / 4
    x = squares(65, per)
    start = [[0.2, 0.2], [0.8, 0.3], [0.4, 0.7]]
    s = kmeans_spec(start, iterations, per, epsilon=10.0, **UNIT)
    got = run_analysis(s, split_tables(s, {"u": x[:, 0], "w": x[:, 1]}))
    p = 1e-9 / 18
    tn, ts = tail(eps, 1, p), tail(eps, 2, p)
    c, delta = np.array(start, dtype=float), 0.0
    for _ in range(iterations):
        near, margin = nearest(x, c)
        # The first assignment uses the public centroids (distances exact to below 1 ulp), the
        # next ones the noisy centroids of the iteration before, within delta of c.
        assert margin.min() > 2 * math.sqrt(2) * delta + 1e-4
        counts = np.bincount(near, minlength=3)
        c = np.array([x[near == j].mean(axis=0) for j in range(3)])
        delta = (ts + np.abs(c).max() * tn) / (counts.min() - tn)
    assert delta < 0.2
    for j in range(3):
        assert abs(int(got[f"size[{j}]"]) - counts[j]) <= tn
        for a, name in enumerate("uw"):
            assert abs(float(got[f"centroid[{j}].{name}"]) - c[j, a]) <= delta + 1e-5


def test_dp_kmeans_clips_each_partys_values_before_input() -> None:
    s = kmeans_spec([[0, 0], [1, 1]], 1, 3, epsilon=1.0, **UNIT)
    table = split_tables(s, {"u": [5.0, -2.0, 0.5], "w": [0.25, 1e9, 0.0]}, parties=1)[0]
    assert kmeans.local(s, table) == [2**20, 2**18, 1, 0, 2**20, 1, 2**19, 0, 1]


# Refusals --------------------------------------------------------------------------------------
KM: dict[str, Any] = dict(analysis="kmeans", columns=("u", "w"), max_rows=10,
                          reveal=("centroids",))
START: dict[str, Any] = {"centroids": ((0.0, 0.0), (1.0, 1.0)), "iterations": 2}


@pytest.mark.parametrize("fields, message", [
    (dict(analysis="linear_regression", columns=("x",), label="y", reveal=("coefficients",),
          params={"epsilon": 1.0}), "epsilon needs clip bounds"),
    (dict(KM, params={**START, "epsilon": 1.0}), "epsilon needs clip bounds"),
    (dict(KM, params={**START, "epsilon": 1.0, "clip_upper": 1}), "epsilon needs clip bounds"),
    (dict(KM, params={**START, **UNIT}), "they need params.epsilon"),
    (dict(analysis="linear_regression", columns=("x", "z"), label="y", reveal=("coefficients",),
          params={"epsilon": 0.01, "clip_lower": -1e5, "clip_upper": 1e5}),
     "noise of the cross .* reaches 2\\^\\d+ ulp, beyond fixed_point k=64"),
    # The clip box must keep distances and noisy sums in range: +-bound(spec) (halved sums).
    (dict(KM, params={**START, "epsilon": 1.0, "clip_lower": -1, "clip_upper": 2e12}),
     "clip bounds \\[-1.0, 2000000000000.0\\] reach beyond the range"),
    (dict(KM, fixed_point={"k": 32, "f": 8},
          params={**START, "iterations": 50, "epsilon": 0.01, "clip_lower": 0,
                  "clip_upper": 1000}),
     "the noise of the sum .* reaches 2\\^\\d+ ulp, beyond fixed_point k=32"),
    (dict(KM, fixed_point={"k": 32, "f": 16},
          params={**START, "iterations": 50, "epsilon": 0.01, **UNIT}),
     "noise of the cluster sizes \\(up to 2\\^19\\) leaves them beyond fixed_point k=32, f=16"),
    (dict(KM, params={**START, "epsilon": 0.0, **UNIT}), "from 0.01 to 10"),
    (dict(analysis="linear_regression", columns=("x",), label="y", reveal=("coefficients",),
          params={"ridge": -0.5}), "params.ridge: Input should be greater than or equal to 0"),
    (dict(analysis="linear_regression", columns=("x",), label="y", reveal=("coefficients",),
          params={"ridge": math.nan}), "params.ridge"),
])
def test_dp_models_are_refused_with_a_clear_error(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        registry.build_spec(participants=PARTIES, **fields)
