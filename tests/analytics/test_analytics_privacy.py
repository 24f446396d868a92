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


@pytest.mark.parametrize("fields, message", [
    (dict(analysis="summary", columns=("x",), reveal=("mean",), params={"epsilon": 1.0}),
     "supported for \\['histogram', 'frequency', 'naive_bayes'\\] only, not 'summary'"),
    (dict(analysis="mean", column="x", reveal=("count", "mean"), params={"epsilon": 1.0}),
     "not 'mean'"),
    (dict(analysis="frequency", columns=("g",), domains={"g": ("a", "b")}, reveal=("counts",),
          params={"epsilon": 0.0}), "from 0.01 to 10"),
    (dict(analysis="frequency", columns=("g",), domains={"g": ("a", "b")}, reveal=("counts",),
          params={"epsilon": 11}), "from 0.01 to 10"),
])
def test_epsilon_is_refused_where_it_is_not_supported(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        JobSpec.build(participants=PARTIES, **fields)


def test_naive_bayes_noise_is_scaled_by_its_sensitivity() -> None:
    s = spec(analysis="naive_bayes", columns=("a", "b"), label="y",
             domains={"a": ("p", "q"), "b": ("r", "s"), "y": ("n", "o")},
             params={"epsilon": 1.0}, reveal=("counts",))
    assert privacy.sensitivity(s) == 3
    assert '"epsilon":1.0' in s.canonical() and JobSpec.parse(s.canonical()) == s
    assert registry.needs(s)[TupleKind.BIT] > 0
