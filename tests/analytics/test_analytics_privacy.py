"""Differential privacy: the in-MPC discrete Laplace sampler, its plaintext twin, noised tables."""

from __future__ import annotations

import math
import random
from collections import Counter
from typing import Any

import numpy as np
import pytest

from harness.twins import sample_plain
from offchain.auditable import routes
from offchain.analytics import privacy, registry
from offchain.analytics.bayes import predict_gaussian
from offchain.analytics.spec import JobSpec
from offchain.errors import ConfigError
from offchain.preprocessing.tuples import TupleKind
from analytics_testkit import F, K, PARTIES, rng, run_analysis, spec, split_tables


@pytest.mark.parametrize("epsilon, sens", [(1.0, 1), (0.5, 3)])
def test_the_sampler_follows_the_discrete_laplace_law(epsilon: float, sens: int) -> None:
    q = math.exp(-epsilon / sens)
    draws = sample_plain(epsilon, sens, 20000, random.Random(51))
    seen = Counter(draws)
    # Pr[Z = z] = (1 - q) / (1 + q) q^|z|; variance 2q / (1 - q)^2.
    for z in range(-3, 4):
        want = (1 - q) / (1 + q) * q ** abs(z)
        assert abs(seen[z] / len(draws) - want) <= 4 * math.sqrt(want / len(draws)) + 1e-3
    var = 2 * q / (1 - q) ** 2
    assert abs(np.mean(draws)) <= 4 * math.sqrt(var / len(draws))
    assert abs(np.var(draws) / var - 1) <= 0.1


def test_digits_cover_the_tail_and_match_the_needs() -> None:
    for epsilon, sens in ((0.01, 1), (1.0, 1), (10.0, 1), (0.1, 33)):
        digits = privacy.thresholds(epsilon, sens)
        q = math.exp(-epsilon / sens)
        assert q ** (2 ** len(digits)) <= 2.0**-privacy.SECURITY < q ** (2 ** (len(digits) - 1))
        assert all(0 < c < 2 ** (privacy.UNIFORM_BITS - 1) for c in digits)
        assert privacy.noise_needs(3, epsilon, sens)[TupleKind.BIT] >= 6 * len(digits) * 48


def test_a_noised_histogram_differs_from_the_true_counts_by_discrete_laplace_noise() -> None:
    r = rng(52)
    x = r.uniform(0, 10, 30).round(2)
    edges = (0, 2, 4, 6, 8, 10)
    common: dict[str, Any] = dict(analysis="histogram", columns=("x",), params={"bins": edges},
                                  reveal=("counts",))
    exact = spec(**common)
    noised = spec(**{**common, "params": {"bins": edges, "epsilon": 0.5}})
    truth = run_analysis(exact, split_tables(exact, {"x": x}))
    runs = [run_analysis(noised, split_tables(noised, {"x": x})) for _ in range(2)]
    assert all(run.keys() == truth.keys() for run in runs)
    noise = [int(run[k]) - int(truth[k]) for run in runs for k in truth]
    # With q = e^-0.5, the chance that 10 draws are all 0 is 0.245^10 < 1e-6; |Z| > 60 is < 1e-12.
    assert any(noise) and max(map(abs, noise)) <= 60
    assert runs[0] != runs[1]


CLIP: dict[str, Any] = {"clip_lower": 0, "clip_upper": 10}


@pytest.mark.parametrize("fields, message", [
    (dict(analysis="gaussian_naive_bayes", columns=("x",), label="y", domains={"y": ("a", "b")},
          reveal=("count", "mean", "variance"), params={"epsilon": 1.0}),
     "epsilon needs clip bounds"),
    (dict(analysis="covariance", columns=("x", "z"), reveal=("covariance",),
          params={"epsilon": 1.0}), "epsilon needs clip bounds"),
    (dict(analysis="correlation", columns=("x", "z"), reveal=("correlation",),
          params={"epsilon": 1.0, "clip_lower": 0}), "epsilon needs clip bounds"),
    (dict(analysis="correlation", columns=("x", "z"), reveal=("correlation",), params=CLIP),
     "they need params.epsilon"),
    (dict(analysis="covariance", columns=("x", "z"), reveal=("covariance",),
          params={"epsilon": 0.01, "clip_lower": -1e5, "clip_upper": 1e5}, fixed_point={"k": 64, "f": 20}),
     "noise of the cross .* reaches 2\\^\\d+ ulp, beyond fixed_point k=64"),
    (dict(analysis="frequency", columns=("g",), domains={"g": ("a", "b")}, reveal=("counts",),
          params={"epsilon": 0.0}), "from 0.01 to 10"),
    (dict(analysis="frequency", columns=("g",), domains={"g": ("a", "b")}, reveal=("counts",),
          params={"epsilon": 11}), "from 0.01 to 10"),
    (dict(analysis="sum", column="x", reveal=("sum",), params={"epsilon": 1.0}),
     "epsilon needs clip bounds"),
    (dict(analysis="mean", column="x", reveal=("count", "mean"),
          params={"epsilon": 1.0, "clip_upper": 10}), "epsilon needs clip bounds"),
    (dict(analysis="summary", columns=("x",), reveal=("variance",), params={"epsilon": 1.0}),
     "epsilon needs clip bounds"),
    (dict(analysis="sum", column="x", reveal=("sum",),
          params={"epsilon": 1.0, "clip_lower": 10, "clip_upper": 10}),
     "clip_lower must be below clip_upper"),
    (dict(analysis="sum", column="x", reveal=("sum",),
          params={"epsilon": 1.0, "clip_lower": 5, "clip_upper": -5}),
     "clip_lower must be below clip_upper"),
    (dict(analysis="sum", column="x", reveal=("sum",), params=CLIP), "they need params.epsilon"),
    (dict(analysis="count", column="x", reveal=("count",), params={"epsilon": 1.0, **CLIP}),
     "'count' reveals counts only"),
    (dict(analysis="histogram", columns=("x",), reveal=("counts",),
          params={"bins": (0, 5, 10), "epsilon": 1.0, **CLIP}), "reveals counts only"),
    (dict(analysis="sum", column="x", reveal=("sum",),
          params={"epsilon": 1.0, "clip_lower": 0, "clip_upper": 2.0 ** (K - F)}),
     "clip_upper=.* outside the fixed-point range"),
    (dict(analysis="summary", columns=("x",), reveal=("variance",),
          params={"epsilon": 0.01, "clip_lower": -1e5, "clip_upper": 1e5}, fixed_point={"k": 64, "f": 20}),
     "noise of the squares .* reaches 2\\^\\d+ ulp, beyond fixed_point k=64"),
])
def test_epsilon_and_clip_bounds_are_refused_where_they_do_not_apply(fields: dict[str, Any],
                                                                     message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        registry.build_spec(participants=PARTIES, **fields)


def test_specs_without_the_new_params_keep_their_canonical_text() -> None:
    plain = spec(analysis="sum", column="x", reveal=("sum",))
    assert '"params"' not in plain.canonical()
    noised = spec(analysis="sum", column="x", reveal=("sum",), params={"epsilon": 1.0, **CLIP})
    assert '"params":{"clip_lower":0.0,"clip_upper":10.0,"epsilon":1.0}' in noised.canonical()
    assert registry.parse_spec(noised.canonical()) == noised
    # Counts only: one noised kind, all epsilon; the mean: two kinds, half each.
    assert privacy.plan(spec(analysis="count", column="x", reveal=("count",),
                             params={"epsilon": 1.0})) == [privacy.Noise("count", 1, 1.0, 1)]
    mean = spec(analysis="mean", column="x", reveal=("count", "mean"),
                params={"epsilon": 1.0, **CLIP})
    assert privacy.plan(mean) == [privacy.Noise("count", 1, 0.5, 1),
                                  privacy.Noise("sum", 1, 0.5, 10 * 2**F)]


def tail(epsilon: float, sens: float, p: float = 1e-9) -> float:
    """t with Pr[|Z| >= t] <= p for discrete Laplace noise of epsilon on sensitivity sens:
    Pr[|Z| >= t] = 2 q^t / (1 + q) <= 2 exp(-epsilon t / sens)."""
    return sens / epsilon * math.log(2 / p)


def test_noisy_sums_stay_near_the_clipped_sum_and_an_outlier_cannot_move_them() -> None:
    r = rng(53)
    x = np.concatenate([r.uniform(0, 10, 29).round(3), [1e6]])  # An outlier, clipped to 10.
    s = spec(analysis="sum", column="x", reveal=("sum",), params={"epsilon": 1.0, **CLIP})
    clipped, raw = float(np.clip(x, 0, 10).sum()), float(x.sum())
    runs = [float(run_analysis(s, split_tables(s, {"x": x}))["sum"]) for _ in range(6)]
    # Each run fails the tail bound with probability 1e-9, and has zero noise with
    # probability (1 - q) / (1 + q) < 1e-7 (q = exp(-1 / (10 2^20)), in ulp).
    assert all(abs(v - clipped) <= tail(1.0, 10) for v in runs), (runs, clipped)
    assert all(v != round(clipped, 6) for v in runs) and len(set(runs)) == len(runs)
    assert all(abs(v - raw) > 9e5 for v in runs)


def test_a_noisy_mean_is_the_noisy_sum_over_the_noisy_count() -> None:
    r = rng(54)
    x = np.concatenate([r.uniform(2, 8, 44).round(2), [-50.0]])  # -50 is clipped to 0.
    s = spec(analysis="mean", column="x", reveal=("count", "mean"),
             params={"epsilon": 2.0, **CLIP})
    got = run_analysis(s, split_tables(s, {"x": x}))
    n, total = int(got["count"]), float(np.clip(x, 0, 10).sum())
    assert abs(n - len(x)) <= tail(1.0, 1)  # epsilon / 2 on the count, sensitivity 1
    noisy_sum = float(got["mean"]) * max(n, 1)
    assert abs(noisy_sum - total) <= tail(1.0, 10) + 1e-6 * max(n, 1)


def test_a_noisy_count_needs_no_clip_bounds() -> None:
    s = spec(analysis="count", column="x", reveal=("count",), params={"epsilon": 1.0})
    got = run_analysis(s, split_tables(s, {"x": [1.0] * 12}))
    assert abs(int(got["count"]) - 12) <= tail(1.0, 1)


def test_local_totals_without_room_for_the_noise_are_refused_before_anything_is_sent() -> None:
    s = spec(analysis="sum", column="x", reveal=("sum",), fixed_point={"k": 32, "f": 8},
             params={"epsilon": 5.0, "clip_lower": 0, "clip_upper": 1e5})
    with pytest.raises(ConfigError, match="too large to add noise in fixed_point k=32"):
        run_analysis(s, split_tables(s, {"x": [9e4] * 60}))
    run_analysis(s, split_tables(s, {"x": [9e4] * 30}))


def test_summary_noise_has_the_calibrated_variance() -> None:
    # 32 groups, two runs with seeded dealers (reproducible noise): 64 draws each of the count
    # noise (epsilon / 2, sensitivity 1) and of the sum noise (epsilon / 2, sensitivity
    # M = 10 2^f ulp). For 64 draws of (discrete) Laplace noise, mean(Z^2) / Var lies in
    # [0.33, 2.73] with probability 1 - 2e-4 (simulated); [0.3, 3] still fails when the scale
    # is off by a factor 1.8 or more (a missed budget split is a factor 2, a wrong f 2^f).
    groups = tuple(f"g{i:02d}" for i in range(32))
    r = rng(55)
    x, g = r.uniform(0, 10, 96).round(2), np.array(groups * 3)
    s = spec(analysis="summary", columns=("x",), group_by="g", domains={"g": groups},
             reveal=("count", "sum"), fixed_point={"k": 64, "f": 8},
             params={"epsilon": 1.0, **CLIP})
    truth = {gr: (int((g == gr).sum()), float(x[g == gr].sum())) for gr in groups}
    count_noise, sum_noise = [], []
    for seed in (b"dp-calibration-1", b"dp-calibration-2"):
        got = run_analysis(s, split_tables(s, {"x": x, "g": g}), seed=seed)
        for gr, (n, total) in truth.items():
            count_noise.append(int(got[f"count[g={gr}]"]) - n)
            sum_noise.append(round((float(got[f"sum.x[g={gr}]"]) - total) * 2**8))
    for noise, sens in ((count_noise, 1), (sum_noise, 10 * 2**8)):
        q = math.exp(-0.5 / sens)
        ratio = np.mean(np.square(noise)) / (2 * q / (1 - q) ** 2)
        assert 0.3 <= ratio <= 3, (sens, ratio)
        assert max(map(abs, noise)) <= tail(0.5, sens)
    assert all(sum_noise)


def test_summary_variance_and_std_come_from_noised_totals_and_stay_nonnegative() -> None:
    r = rng(56)
    x = np.concatenate([r.uniform(0, 10, 89).round(2), [1e4]])
    s = spec(analysis="summary", columns=("x",), reveal=("count", "mean", "variance", "std"),
             params={"epsilon": 6.0, **CLIP})
    got = run_analysis(s, split_tables(s, {"x": x}))
    c = np.clip(x, 0, 10)
    # Each of n, S, Q gets epsilon / 3, with sensitivities 1, 10 and 100 (real units); the
    # result at every corner of the noise box bounds the noisy variance (plus the fixed-point
    # error of the summary, below 1e-4 here).
    tn, ts, tq = tail(2.0, 1), tail(2.0, 10), tail(2.0, 100)
    corners = [((c.sum() + ds) ** 2, len(c) + dn, (c * c).sum() + dq)
               for dn in (-tn, tn) for ds in (-ts, ts) for dq in (-tq, tq)]
    variances = [max(n * q - s2, 0) / (n * n) for s2, n, q in corners]
    assert min(variances) - 1e-4 <= float(got["variance.x"]) <= max(variances) + 1e-4
    assert abs(int(got["count"]) - len(x)) <= tn
    assert abs(float(got["std.x"]) ** 2 - float(got["variance.x"])) <= 1e-3
    # A zero variance plus noise: n Q - S^2 is negative about half of the time, and the
    # revealed variance is then exactly 0 (unclamped, it would be 0.000000 with probability
    # about 2^-20: the noise spreads it over thousands of ulp). Seeded: this draw is negative.
    constant = spec(analysis="summary", columns=("x",), reveal=("variance",),
                    params={"epsilon": 0.1, **CLIP})
    got = run_analysis(constant, split_tables(constant, {"x": [5.0] * 9}), seed=b"dp-clamp-1")
    assert float(got["variance.x"]) == 0.0


def test_naive_bayes_noise_is_scaled_by_its_sensitivity() -> None:
    s = spec(analysis="naive_bayes", columns=("a", "b"), label="y",
             domains={"a": ("p", "q"), "b": ("r", "s"), "y": ("n", "o")},
             params={"epsilon": 1.0}, reveal=("counts",))
    assert privacy.sensitivity(s) == 3
    assert '"epsilon":1.0' in s.canonical() and registry.parse_spec(s.canonical()) == s
    assert routes.needs(s)[TupleKind.BIT] > 0


# Covariance, correlation and Gaussian naive Bayes -------------------------------------------------
UNIT: dict[str, Any] = {"clip_lower": 0, "clip_upper": 1}


def box(center: dict[str, float], radius: dict[str, float], fn: Any) -> tuple[float, float]:
    """min and max of fn over a 3-point grid per variable of the box center +- radius (it holds
    the corners; the functions below are smooth and nearly linear on these small boxes)."""
    names = list(center)
    grids = np.meshgrid(*[center[k] + radius[k] * np.array([-1.0, 0.0, 1.0]) for k in names])
    values = fn(**{k: g.ravel() for k, g in zip(names, grids)})
    return float(np.min(values)), float(np.max(values))


def test_covariance_and_correlation_plans_follow_the_documented_sensitivities() -> None:
    cov = spec(analysis="covariance", columns=("a", "b", "c"), reveal=("covariance",),
               params={"epsilon": 3.0, **CLIP})
    m, square = 10 * 2**F, 100 * 2**F  # M = 10 2^f; ceil(M^2 / 2^f) = 100 2^f.
    assert privacy.plan(cov) == [privacy.Noise("count", 1, 1.0, 1),
                                 privacy.Noise("sum", 3, 1.0, 3 * m),
                                 privacy.Noise("cross", 6, 1.0, 6 * square)]
    assert registry.parse_spec(cov.canonical()) == cov
    gnb = spec(analysis="gaussian_naive_bayes", columns=("x1", "x2"), label="y",
               domains={"y": ("a", "b", "c")}, reveal=("count", "mean", "variance"),
               params={"epsilon": 3.0, **CLIP})
    assert privacy.plan(gnb) == [privacy.Noise("count", 3, 1.0, 1),
                                 privacy.Noise("sum", 6, 1.0, 2 * m),
                                 privacy.Noise("squares", 6, 1.0, 2 * square)]


def test_noisy_covariance_and_correlation_stay_near_the_clipped_values() -> None:
    # 600 rows in [0, 1] and one outlier (clipped to 1); epsilon 10, so epsilon / 3 on each of
    # n (sensitivity 1), S_a (2 M = 2) and C_ab (3 ceil(M^2) = 3, real units). Each of the six
    # noise values stays within tail() with probability 1 - 1e-9; the revealed value is then
    # within the range of the formula over that box (plus 1e-4 of fixed-point error).
    r = rng(57)
    a = np.concatenate([r.uniform(0, 1, 600).round(3), [50.0]])
    b = np.clip(a + r.normal(0, 0.2, len(a)), -1, 2).round(3)
    ca, cb = np.clip(a, 0, 1), np.clip(b, 0, 1)
    eps = 10 / 3
    center = {"n": float(len(a)), "sa": ca.sum(), "sb": cb.sum(), "caa": (ca * ca).sum(),
              "cbb": (cb * cb).sum(), "cab": (ca * cb).sum()}
    radius = {"n": tail(eps, 1), "sa": tail(eps, 2), "sb": tail(eps, 2), "caa": tail(eps, 3),
              "cbb": tail(eps, 3), "cab": tail(eps, 3)}

    def t(n: Any, s1: Any, s2: Any, c12: Any) -> Any:
        return np.maximum(n * c12 - s1 * s2, 0) if s1 is s2 else n * c12 - s1 * s2

    def cov(n: Any, sa: Any, sb: Any, caa: Any, cbb: Any, cab: Any) -> Any:
        return (n * cab - sa * sb) / (n * n)

    def cor(n: Any, sa: Any, sb: Any, caa: Any, cbb: Any, cab: Any) -> Any:
        return np.clip((n * cab - sa * sb) / np.sqrt((n * caa - sa * sa) * (n * cbb - sb * sb)),
                       -1, 1)

    s = spec(analysis="covariance", columns=("a", "b"), reveal=("covariance",),
             params={"epsilon": 10.0, **UNIT})
    runs = [run_analysis(s, split_tables(s, {"a": a, "b": b})) for _ in range(2)]
    low, high = box(center, radius, cov)
    assert all(low - 1e-4 <= float(run["covariance[a,b]"]) <= high + 1e-4 for run in runs)
    low, high = box(center, radius, lambda n, sa, caa, **_: (n * caa - sa * sa) / (n * n))
    assert all(max(low, 0) - 1e-4 <= float(run["covariance[a,a]"]) <= high + 1e-4 for run in runs)
    assert runs[0] != runs[1]  # Fresh noise each run (equal with probability below 1e-12).
    exact = float(np.cov(ca, cb, ddof=0)[0, 1])
    assert all(abs(float(run["covariance[a,b]"]) - exact) > 1e-6 for run in runs)
    c = spec(analysis="correlation", columns=("a", "b"), reveal=("correlation",),
             params={"epsilon": 10.0, **UNIT})
    got = float(run_analysis(c, split_tables(c, {"a": a, "b": b}))["correlation[a,b]"])
    low, high = box(center, radius, cor)
    assert low - 1e-4 <= got <= high + 1e-4, (low, got, high)
    assert abs(got - float(np.corrcoef(ca, cb)[0, 1])) > 1e-6


def test_noisy_correlation_of_a_constant_column_is_clamped_not_garbage() -> None:
    # T_aa of a constant column is 0 plus noise: clamped at 0, its correlation is 0 (divide by 0),
    # or, when the noise is positive, a quotient clamped to [-1, 1].
    c = spec(analysis="correlation", columns=("a", "b"), reveal=("correlation",),
             params={"epsilon": 1.0, **UNIT})
    got = run_analysis(c, split_tables(c, {"a": [0.5] * 9, "b": [0.1, 0.9, 0.4] * 3}))
    assert -1 <= float(got["correlation[a,b]"]) <= 1


def test_noisy_gaussian_naive_bayes_stays_near_the_clipped_model_and_predicts() -> None:
    # Two classes of 300 rows, features in [0, 1] (one outlier clipped); epsilon 9: epsilon / 3
    # on each of n_g (sensitivity 1), S_gc (2 M = 2) and Q_gc (2 ceil(M^2) = 2, real units).
    r = rng(58)
    y = np.array(["a", "b"] * 300)
    x1 = np.where(y == "a", r.uniform(0, 0.5, 600), r.uniform(0.4, 1, 600)).round(3)
    x2 = r.uniform(0, 1, 600).round(3)
    x1[0] = 1e3
    s = spec(analysis="gaussian_naive_bayes", columns=("x1", "x2"), label="y",
             domains={"y": ("a", "b")}, reveal=("count", "mean", "variance"),
             params={"epsilon": 9.0, **UNIT})
    model = run_analysis(s, split_tables(s, {"x1": x1, "x2": x2, "y": y}))
    eps = 3.0
    for k in ("a", "b"):
        assert abs(int(model[f"count[y={k}]"]) - 300) <= tail(eps, 1)
        for name, values in (("x1", x1[y == k]), ("x2", x2[y == k])):
            v = np.clip(values, 0, 1)
            center = {"n": float(len(v)), "s": v.sum(), "q": (v * v).sum()}
            radius = {"n": tail(eps, 1), "s": tail(eps, 2), "q": tail(eps, 2)}
            low, high = box(center, radius, lambda n, s, q: s / n)
            assert low - 1e-4 <= float(model[f"mean.{name}[y={k}]"]) <= high + 1e-4
            low, high = box(center, radius, lambda n, s, q: np.maximum(n * q - s * s, 0) / n**2)
            assert low - 1e-4 <= float(model[f"variance.{name}[y={k}]"]) <= high + 1e-4
            assert abs(float(model[f"variance.{name}[y={k}]"]) - v.var()) > 1e-6
    assert predict_gaussian(s, model, {"x1": 0.1, "x2": 0.5}) == "a"
    assert predict_gaussian(s, model, {"x1": 0.9, "x2": 0.5}) == "b"


def test_gaussian_prediction_accepts_negative_counts_and_zero_variances() -> None:
    s = spec(analysis="gaussian_naive_bayes", columns=("x",), label="y",
             domains={"y": ("a", "b")}, reveal=("count", "mean", "variance"),
             params={"epsilon": 1.0, **UNIT})
    model = {"count[y=a]": "-2", "count[y=b]": "3", "mean.x[y=a]": "0.1", "mean.x[y=b]": "0.9",
             "variance.x[y=a]": "0.000000", "variance.x[y=b]": "-0.010000"}
    assert predict_gaussian(s, model, {"x": 0.1}) == "b"  # Class a has no (positive) count.
    model["count[y=a]"] = "4"
    assert predict_gaussian(s, model, {"x": 0.1}) == "a"
    assert predict_gaussian(s, model, {"x": 0.8}) == "b"
