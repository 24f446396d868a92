"""Differentially private min and max: the thresholded noisy histogram, its twin, its budget."""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from harness.twins import extremes_plain, sample_plain
from offchain.analytics import registry
from offchain.analytics import common, privacy, privacy_bounds
from offchain.analytics.spec import JobSpec
from offchain.engine import estimate
from offchain.engine.context import Context
from offchain.engine.inputs import input_values
from harness.local import run_local
from offchain.errors import ConfigError
from offchain.field import FieldVec
from analytics_testkit import PARTIES, opened_noise, rng, run_analysis, spec, split_tables

CLIP: dict[str, Any] = {"clip_lower": 0, "clip_upper": 10}


def edge_of(s: JobSpec, value: float, upper: bool) -> float:
    """The lower (or upper) edge of the bin that holds ``value``, in real units."""
    f = s.fixed_point.f
    i = privacy_bounds.local_counts(s, [round(value * 2**f)]).index(1)
    return privacy_bounds.edges(s)[i + upper] / 2**f


def block(r: np.random.Generator, low: float, high: float, rows: int, dense: int) -> np.ndarray:
    """rows uniform in [low, high] and ``dense`` more within 0.05 of each end (well-populated
    extreme bins), rounded to 3 places."""
    return np.concatenate([r.uniform(low, high, rows), r.uniform(low, low + 0.05, dense),
                           r.uniform(high - 0.05, high, dense)]).round(3)


def test_dp_min_and_max_per_group_land_in_the_bins_of_the_true_extremes() -> None:
    # epsilon 9 over count, mean and the bins: 3 each, sensitivity C = 2, N = 3 x 2 x 32 bins,
    # so tau = 17. Failure chances: some empty bin passes tau, 1e-9 (SPURIOUS); an extreme bin
    # of m >= 60 rows fails to pass, q^(m - tau) / (1 + q) < e^-64; the lone outlier's bin
    # passes, q^tau / (1 + q) < 1e-10. So the answer is the bins' edges, bar a 2e-9 chance.
    r = rng(61)
    parts = {"a": (block(r, 2.0, 8.0, 100, 60), block(r, 0.4, 5.2, 100, 60)),
             "b": (block(r, 3.3, 6.6, 100, 60), block(r, 1.0, 9.6, 100, 60))}
    x = np.concatenate([parts["a"][0], [9.7], parts["b"][0], [50.0]])  # Outliers, one per group.
    y = np.concatenate([parts["a"][1], [0.0], parts["b"][1], [5.0]])
    g = np.array(["a"] * (len(parts["a"][0]) + 1) + ["b"] * (len(parts["b"][0]) + 1))
    s = spec(analysis="summary", columns=("x", "y"), group_by="g", domains={"g": ("a", "b", "c")},
             reveal=("count", "mean", "min", "max"), params={"epsilon": 9.0, **CLIP})
    assert privacy_bounds.threshold(privacy_bounds.bins_noise(s)) == 17
    got = run_analysis(s, split_tables(s, {"x": x, "y": y, "g": g}))
    width = 10 / 32
    for name, (bx, by) in parts.items():
        for column, values in (("x", bx), ("y", by)):
            low, high = float(values.min()), float(values.max())
            tag = f"{column}[g={name}]"
            dp_min, dp_max = float(got[f"min.{tag}"]), float(got[f"max.{tag}"])
            assert dp_min == edge_of(s, low, False) and low - width < dp_min <= low
            assert dp_max == edge_of(s, high, True) and high <= dp_max < high + width
    assert got["min.x[g=c]"] == got["max.y[g=c]"] == "none"  # An empty group: no bin passes.


def test_dp_min_and_max_over_all_rows_drop_a_lone_outlier() -> None:
    # 64 bins of width 1 over [-20, 44]; all of epsilon 2 on the bins (C = 1): tau = 12.
    # The extreme bins hold 40+ rows (fail chance q^28 / (1 + q), q = e^-2); the outlier's bin
    # passes with q^12 / (1 + q) < 1e-10; spurious bins 1e-9.
    r = rng(62)
    x = np.concatenate([block(r, -7.4, 30.2, 300, 40), [43.5, -1e4]])  # -1e4 is clipped to -20.
    params = {"epsilon": 2.0, "clip_lower": -20, "clip_upper": 44, "minmax_bins": 64}
    s = spec(analysis="summary", columns=("x",), reveal=("min", "max"), params=params)
    assert privacy_bounds.threshold(privacy_bounds.bins_noise(s)) == 12
    got = run_analysis(s, split_tables(s, {"x": x}))
    assert got == {"min.x": "-8.000000", "max.x": "31.000000"}
    exact = spec(analysis="summary", columns=("x",), reveal=("min", "max"))
    assert run_analysis(exact, split_tables(exact, {"x": x}))["max.x"] == "43.500000"


def test_the_threshold_and_the_budget_split_follow_the_documented_numbers() -> None:
    s = spec(analysis="summary", columns=("x", "y"), group_by="g", domains={"g": ("a", "b", "c")},
             reveal=("count", "mean", "variance", "min", "max"), params={"epsilon": 4.0, **CLIP})
    m, square = 10 * 2**20, 100 * 2**20
    # Four totals, epsilon / 4 each; one histogram of 3 x 2 x 32 bins for both min and max,
    # sensitivity C = 2 (a row falls in one bin per column).
    assert privacy.plan(s) == [privacy.Noise("count", 3, 1.0, 1),
                               privacy.Noise("sum", 6, 1.0, 2 * m),
                               privacy.Noise("squares", 6, 1.0, 2 * square),
                               privacy.Noise("bins", 192, 1.0, 2)]
    only_max = spec(analysis="summary", columns=("x",), reveal=("max",),
                    params={"epsilon": 1.0, "minmax_bins": 8, **CLIP})
    assert privacy.plan(only_max) == [privacy.Noise("bins", 8, 1.0, 1)]
    assert '"minmax_bins":8' in only_max.canonical()
    assert registry.parse_spec(only_max.canonical()) == only_max
    # tau is the least with N q^(tau+1) / (1 + q) <= 1e-9, Pr[Z > tau] = q^(tau+1) / (1 + q).
    for noise, want in ((privacy.Noise("bins", 32, 1.0, 1), 23),
                        (privacy.Noise("bins", 192, 1.0, 2), 51),
                        (privacy.Noise("bins", 1, 10.0, 1), 2)):
        tau, q = privacy_bounds.threshold(noise), math.exp(-noise.epsilon / noise.sensitivity)
        assert tau == want
        assert noise.cells * q ** (tau + 1) / (1 + q) <= privacy_bounds.SPURIOUS
        assert noise.cells * q**tau / (1 + q) > privacy_bounds.SPURIOUS
    assert privacy_bounds.edges(only_max) == [round(i * 1.25 * 2**20) for i in range(9)]


def test_the_sampler_has_the_tail_the_threshold_assumes() -> None:
    # Pr[Z >= t] = q^t / (1 + q): 40000 draws pin it within 4 standard errors (a chance of
    # about 1e-4 per t of failing by luck, and the seed fixes the draws); a tail computed
    # with the wrong sensitivity or without the 1 + q would be off by far more.
    epsilon, sens = 1.0, 2
    q = math.exp(-epsilon / sens)
    draws = np.array(sample_plain(epsilon, sens, 40000, random.Random(63)))
    for t in range(1, 8):
        want = q**t / (1 + q)
        assert abs((draws >= t).mean() - want) <= 4 * math.sqrt(want / len(draws)), t


def run_extremes(s: JobSpec, noisy: Sequence[int]) -> dict[str, list[int]]:
    """privacy_bounds.extremes on a public histogram input by party 0, opened (engine only)."""
    cells = len(noisy) // s.params.minmax_bins
    needs = estimate.input_values(0, len(noisy)) + privacy_bounds.needs(s, cells)

    async def program(ctx: Context) -> dict[str, list[int]]:
        mine = FieldVec.from_ints(noisy) if ctx.party == 0 else None
        shared = await input_values(ctx, 0, mine, len(noisy))
        out = await privacy_bounds.extremes(ctx, s, shared)
        opened = await common.reveal(ctx, list(out.values()))
        return dict(zip(out, opened))

    results = asyncio.run(run_local(3, program, needs=needs, sacrifice=False))
    assert all(not isinstance(r, BaseException) and r == results[0] for r in results), results
    return results[0]  # type: ignore[return-value]


@pytest.mark.parametrize("reveal", [("min", "max"), ("max",)])
def test_the_mpc_threshold_and_prefix_or_match_the_plaintext_twin(reveal: tuple[str, ...]) -> None:
    s = spec(analysis="summary", columns=("x", "y"), group_by="g", domains={"g": ("a", "b", "c")},
             reveal=reveal, params={"epsilon": 10.0, "minmax_bins": 8, **CLIP})
    tau = privacy_bounds.threshold(privacy_bounds.bins_noise(s))
    r = random.Random(64)
    rows = [[0] * 8, [tau] * 8, [tau + 1] * 8, [-(2**61)] * 7 + [2**61],
            [tau + 1] + [0] * 7, [0] * 7 + [tau + 1], [-3, tau, tau + 1, 0, 90, tau, -1, 2]]
    rows += [[r.randint(-5, tau + 5) for _ in range(8)] for _ in range(5)]
    noisy = [h for row in rows for h in row][:6 * 8 * 2]
    for half in (noisy[:48], noisy[48:]):  # Two jobs of 3 x 2 cells of 8 bins.
        assert run_extremes(s, half) == extremes_plain(s, half)
    assert extremes_plain(s, noisy[:48])["max"][:3] == [0, 0, 8]


def test_a_summary_reveals_the_twin_of_its_own_noise() -> None:
    # The noise is opened on the side (no tuples: the needs stay exact) so that the plaintext
    # twin can recompute the answer from the true histogram plus the very same noise. epsilon 1
    # on 2 x 2 x 16 bins (C = 2): tau = 48, near the counts of the bins of x and of the upper
    # bins of y, so the noise decides some of the answers. Seeded, the
    # 64 draws have the calibrated variance: mean(Z^2) / Var in [0.5, 1.8] (a factor 2 error in
    # epsilon / C moves it by about 4).
    r = rng(65)
    x, y = r.normal(5, 1.5, 600).round(2), (r.uniform(0, 1, 600) ** 3 * 10).round(2)
    g = r.choice(["a", "b"], 600)
    s = spec(analysis="summary", columns=("x", "y"), group_by="g", domains={"g": ("a", "b")},
             reveal=("min", "max"), params={"epsilon": 1.0, "minmax_bins": 16, **CLIP})
    with opened_noise() as drawn:
        got = run_analysis(s, split_tables(s, {"x": x, "y": y, "g": g}), seed=b"dp-minmax-twin")
    seen = [z for noises, opened in drawn for n, z in zip(noises, opened) if n.part == "bins"]
    f = s.fixed_point.f
    hist = [h for name in ("a", "b") for v in (x[g == name], y[g == name])
            for h in privacy_bounds.local_counts(s, common.encodings(v, f))]
    (z,) = seen
    want = extremes_plain(s, [h + e for h, e in zip(hist, z)])
    for stat, indices in want.items():
        texts = ["none" if abs(v) == common.sentinel(s) else common.fixed_text(v, f)
                 for v in privacy_bounds.decode(s, stat, indices)]
        assert [got[f"{stat}.{c}[g={n}]"] for n in ("a", "b") for c in ("x", "y")] == texts
    q = math.exp(-1.0 / 2)
    assert 0.5 <= np.mean(np.square(z)) / (2 * q / (1 - q) ** 2) <= 1.8


@pytest.mark.parametrize("fields, message", [
    (dict(reveal=("min",), params={"epsilon": 1.0}), "epsilon needs clip bounds"),
    (dict(reveal=("mean", "max"), params={"epsilon": 1.0, "clip_upper": 10}),
     "epsilon needs clip bounds"),
    (dict(columns=tuple(f"x{i}" for i in range(8)), reveal=("min", "max"),
          fixed_point={"k": 16, "f": 4}, params={"epsilon": 0.01, **CLIP}),
     "noise of the bins .* reaches 2\\^15 ulp, beyond fixed_point k=16"),
    (dict(reveal=("min",), params={"minmax_bins": 16}),
     "minmax_bins .* needs a summary revealing min or max with params.epsilon"),
    (dict(reveal=("mean",), params={"epsilon": 1.0, "minmax_bins": 16, **CLIP}),
     "minmax_bins .* needs a summary revealing min or max"),
    (dict(reveal=("min",), params={"epsilon": 1.0, "minmax_bins": 1, **CLIP}),
     "minmax_bins: Input should be greater than or equal to 2"),
    (dict(reveal=("min",), params={"epsilon": 1.0, "minmax_bins": 512, **CLIP}),
     "minmax_bins: Input should be less than or equal to 256"),
    (dict(analysis="histogram", reveal=("counts",), params={"bins": (0, 5), "minmax_bins": 16}),
     "minmax_bins .* needs a summary"),
])
def test_dp_min_and_max_are_refused_without_what_they_need(fields: dict[str, Any],
                                                           message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        registry.build_spec(participants=PARTIES, **{"analysis": "summary", "columns": ("x",), **fields})


def test_too_many_rows_for_the_bins_comparisons_are_refused_before_anything_is_sent() -> None:
    s = spec(analysis="summary", columns=("x",), reveal=("min", "max"),
             fixed_point={"k": 16, "f": 4}, params={"epsilon": 10.0, **CLIP})
    limit = 2**14 // 3  # Each party's rows below 2^(k-2) / parties.
    with pytest.raises(ConfigError, match=f"{limit} rows of a group at one party are too many"):
        run_analysis(s, split_tables(s, {"x": [0.0] * (3 * limit)}))
    got = run_analysis(s, split_tables(s, {"x": [0.0] * (3 * limit - 3)}))
    assert got == {"min.x": "0.000000", "max.x": "0.312500"}
