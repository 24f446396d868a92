"""Differential privacy: the in-MPC discrete Laplace sampler, its plaintext twin, noised tables."""

from __future__ import annotations

import math
import random
from collections import Counter
from typing import Any

import numpy as np
import pytest

from offchain.analytics import privacy, registry
from offchain.analytics.spec import JobSpec
from offchain.errors import ConfigError
from offchain.preprocessing.tuples import TupleKind
from analytics_testkit import PARTIES, rng, run_analysis, spec, split_tables


@pytest.mark.parametrize("epsilon, sens", [(1.0, 1), (0.5, 3)])
def test_the_sampler_follows_the_discrete_laplace_law(epsilon: float, sens: int) -> None:
    q = math.exp(-epsilon / sens)
    draws = privacy.sample_plain(epsilon, sens, 20000, random.Random(51))
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
    (dict(analysis="linear_regression", columns=("x",), label="y", reveal=("coefficients",),
          params={"epsilon": 1.0}), "only, not 'linear_regression'"),
    (dict(analysis="gaussian_naive_bayes", columns=("x",), label="y", domains={"y": ("a", "b")},
          reveal=("count", "mean", "variance"), params={"epsilon": 1.0, **CLIP}),
     "not 'gaussian_naive_bayes'"),
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
    (dict(analysis="summary", columns=("x",), reveal=("mean", "max"),
          params={"epsilon": 1.0, **CLIP}), "does not cover min and max"),
    (dict(analysis="sum", column="x", reveal=("sum",),
          params={"epsilon": 1.0, "clip_lower": 0, "clip_upper": 2.0**44}),
     "clip_upper=.* outside the fixed-point range"),
    (dict(analysis="summary", columns=("x",), reveal=("variance",),
          params={"epsilon": 0.01, "clip_lower": -1e5, "clip_upper": 1e5}),
     "noise of the squares .* reaches 2\\^\\d+ ulp, beyond fixed_point k=64"),
])
def test_epsilon_and_clip_bounds_are_refused_where_they_do_not_apply(fields: dict[str, Any],
                                                                     message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        JobSpec.build(participants=PARTIES, **fields)


def test_specs_without_the_new_params_keep_their_canonical_text() -> None:
    plain = spec(analysis="sum", column="x", reveal=("sum",))
    assert '"params"' not in plain.canonical()
    noised = spec(analysis="sum", column="x", reveal=("sum",), params={"epsilon": 1.0, **CLIP})
    assert '"params":{"clip_lower":0.0,"clip_upper":10.0,"epsilon":1.0}' in noised.canonical()
    assert JobSpec.parse(noised.canonical()) == noised
    # Counts only: one noised kind, all epsilon; the mean: two kinds, half each.
    assert privacy.plan(spec(analysis="count", column="x", reveal=("count",),
                             params={"epsilon": 1.0})) == [privacy.Noise("count", 1, 1.0, 1)]
    mean = spec(analysis="mean", column="x", reveal=("count", "mean"),
                params={"epsilon": 1.0, **CLIP})
    assert privacy.plan(mean) == [privacy.Noise("count", 1, 0.5, 1),
                                  privacy.Noise("sum", 1, 0.5, 10 * 2**20)]


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
    assert got["variance.x"] == "0.000000"


def test_naive_bayes_noise_is_scaled_by_its_sensitivity() -> None:
    s = spec(analysis="naive_bayes", columns=("a", "b"), label="y",
             domains={"a": ("p", "q"), "b": ("r", "s"), "y": ("n", "o")},
             params={"epsilon": 1.0}, reveal=("counts",))
    assert privacy.sensitivity(s) == 3
    assert '"epsilon":1.0' in s.canonical() and JobSpec.parse(s.canonical()) == s
    assert registry.needs(s)[TupleKind.BIT] > 0
