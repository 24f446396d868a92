"""Descriptive statistics, histograms and frequency tables against numpy on the pooled rows."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from offchain.auditable import routes
from offchain.analytics import common, registry, summary
from offchain.errors import ConfigError, ResultOutOfRange
from offchain.preprocessing.tuples import Needs, TupleKind
from analytics_testkit import close, rng, run_analysis, spec, split_tables, text_error

from analytics_testkit import ULP  # noqa: E402
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
#: The format that keeps six digits of tiny variances (benchmarks/precision.py); not yet the default.
EXACT = {"k": 104, "f": 48}


def test_grouped_summary_matches_numpy() -> None:
    r = rng(11)
    x = r.normal(50, 20, 24).round(3)
    y = r.uniform(-5, 5, 24).round(3)
    g = r.choice(["a", "b", "c"], 24)
    g[:3] = ["a", "b", "a"]  # Group "c" may be empty; "a" and "b" are not.
    s = spec(analysis="summary", columns=("x", "y"), group_by="g", params={"ddof": 1},
             domains={"g": ("a", "b", "c")},
             reveal=("count", "sum", "mean", "variance", "std", "min", "max"))
    result = run_analysis(s, split_tables(s, {"x": x, "y": y, "g": g}))
    for name in ("a", "b", "c"):
        rows = g == name
        assert result[f"count[g={name}]"] == str(rows.sum())
        for column, values in (("x", x[rows]), ("y", y[rows])):
            tag = f".{column}[g={name}]"
            if not rows.any():
                assert result["min" + tag] == "none" and float(result["mean" + tag]) == 0.0
                continue
            assert close(result["sum" + tag], values.sum(), 0, 2)
            assert close(result["mean" + tag], values.mean(), 8 * ULP, 2)
            var = values.var(ddof=1) if len(values) > 1 else 0.0
            assert close(result["variance" + tag], var, 8 * ULP, 5)
            assert close(result["std" + tag], np.sqrt(var), 12 * ULP, 3)
            assert close(result["min" + tag], values.min(), 0, 1)
            assert close(result["max" + tag], values.max(), 0, 1)


def test_summary_of_the_example_incomes() -> None:
    s = spec(analysis="summary", columns=("income",), reveal=("count", "mean", "std", "min", "max"))
    tables = [registry.read_table(s, {"income": EXAMPLES / f"incomes_party_{p}.csv"}) for p in "abc"]
    incomes = np.concatenate([t.numeric["income"] for t in tables])
    result = run_analysis(s, tables)
    assert result["count"] == "12" and result["min.income"] == "40000.000000"
    assert result["max.income"] == "65000.000000"
    assert close(result["mean.income"], 635000 / 12, 8 * ULP, 2)
    assert close(result["std.income"], incomes.std(), 12 * ULP, 3)


def test_legacy_mean_through_the_registry() -> None:
    s = spec(analysis="mean", column="income", reveal=("count", "mean"))
    tables = [registry.read_table(s, {"income": EXAMPLES / f"incomes_party_{p}.csv"}) for p in "abc"]
    assert run_analysis(s, tables) == {"count": "12", "mean": "52916.666667"}


def test_histogram_and_frequency_tables_match_numpy() -> None:
    r = rng(12)
    x = r.uniform(0, 10, 30).round(2)
    x[0], x[1] = 0.0, 10.0  # The edges: the first and the last (closed) bin.
    g = r.choice(["u", "v"], 30)
    h = r.choice(["p", "q", "r"], 30)
    edges = (0, 2.5, 5, 10)
    s = spec(analysis="histogram", columns=("x",), group_by="g", domains={"g": ("u", "v")},
             params={"bins": edges}, reveal=("counts",))
    result = run_analysis(s, split_tables(s, {"x": x, "g": g}))
    for name in ("u", "v"):
        counts, _ = np.histogram(x[g == name], bins=edges)
        keys = [f"count[g={name},x=[0,2.5)]", f"count[g={name},x=[2.5,5)]",
                f"count[g={name},x=[5,10]]"]
        assert [int(result[k]) for k in keys] == counts.tolist()
    f = spec(analysis="frequency", columns=("g", "h"), domains={"g": ("u", "v"), "h": ("p", "q", "r")},
             reveal=("counts",))
    table = run_analysis(f, split_tables(f, {"g": g, "h": h}))
    assert len(table) == 6
    for a in ("u", "v"):
        for b in ("p", "q", "r"):
            assert table[f"count[g={a},h={b}]"] == str(((g == a) & (h == b)).sum())


def test_the_input_hook_runs_once_inputs_exist_and_before_any_opening() -> None:
    import asyncio
    from pathlib import Path

    from offchain.analytics import registry
    from offchain.analytics.spec import JobSpec
    from harness.local import run_local

    examples = Path(__file__).resolve().parents[2] / "examples"
    spec = JobSpec(analysis="mean", column="income", reveal=("count", "mean"),
                   participants=tuple(f"0x{i:040x}" for i in range(1, 4)))
    tables = [registry.read_table(spec, {"income": examples / f"incomes_party_{t}.csv"}) for t in "abc"]
    seen: list[tuple[int, list[int], int]] = []

    async def program(ctx):  # type: ignore[no-untyped-def]
        async def hook(shares):  # type: ignore[no-untyped-def]
            seen.append((ctx.party, [len(s) for s in shares], len(ctx.pending)))
        return await registry.run(ctx, spec, tables[ctx.party], hook)

    results = asyncio.run(run_local(3, program, needs=routes.needs(spec)))
    assert all(r == {"count": "12", "mean": "52916.666667"} for r in results)
    assert sorted(seen) == [(p, [2, 2, 2], 0) for p in range(3)]


def test_the_same_summary_job_prints_the_same_text_under_different_dealer_seeds() -> None:
    """The random truncations differ between the runs; printing keeps the bits the error bounds
    guarantee (common.text_bits), so the texts are equal. Large values, a variance of 1.6e-4 and a
    mean that is a midpoint of its ten decimal digits (the case that changed between runs when
    printing rounded on a decimal grid), grouped so that divisions run per group."""
    r = rng(11)
    big = (r.normal(0, 1, 30) * 2500 + 1.2e5).round(3)
    tiny = (3 + r.normal(0, 1, 30) * 0.0126).round(6)
    mid = np.array([663.5279, 663.528] * 8 + [655.4641] * 14)  # Group a: 16 rows, mean 663.52795.
    g = np.array(["a"] * 16 + ["b"] * 14)
    s = spec(analysis="summary", columns=("big", "tiny", "mid"), group_by="g", fixed_point=EXACT,
             domains={"g": ("a", "b")}, reveal=("count", "mean", "variance", "std", "min", "max"))
    tables = split_tables(s, {"big": big, "tiny": tiny, "mid": mid, "g": g})
    first = run_analysis(s, tables, seed=b"summary-run-1")
    assert run_analysis(s, tables, seed=b"summary-run-2") == first
    assert run_analysis(s, tables, seed=b"summary-run-3") == first
    for name in ("big", "tiny", "mid"):
        for group in ("a", "b"):
            values = {"big": big, "tiny": tiny, "mid": mid}[name][g == group]
            tag = f".{name}[g={group}]"
            # Six significant digits at least against float64, for every statistic.
            for stat, want in (("mean", values.mean()), ("variance", values.var()),
                               ("std", values.std())):
                if want:
                    assert abs(float(first[stat + tag]) - want) <= 1e-6 * abs(want), (stat + tag, first)


@pytest.mark.parametrize("ddof", [0, 1])
def test_population_and_sample_variance_and_std_in_one_job(ddof: int) -> None:
    """variance and std divide by n - ddof (population by default), sample_variance and sample_std
    by n - 1 whatever ddof says; numpy's var/std with the same ddof within the bounds."""
    r = rng(5)
    x = (r.normal(0, 1, 20) * 0.0126 + 3).round(6)
    g = np.array(["a", "b"] * 10)
    s = spec(analysis="summary", columns=("x",), group_by="g", domains={"g": ("a", "b")}, fixed_point=EXACT,
             params={"ddof": ddof}, reveal=("variance", "std", "sample_variance", "sample_std"))
    ulp = 2.0 ** -EXACT["f"]
    got = run_analysis(s, split_tables(s, {"x": x, "g": g}))
    for name in ("a", "b"):
        values, tag = x[g == name], f".x[g={name}]"
        for stat, want in (("variance", values.var(ddof=ddof)), ("sample_variance", values.var(ddof=1))):
            assert close(got[stat + tag], want, 8 * ulp, 5, f=EXACT["f"]), (stat, got)
        for stat, want in (("std", values.std(ddof=ddof)), ("sample_std", values.std(ddof=1))):
            assert close(got[stat + tag], want, 12 * ulp, 3, f=EXACT["f"]), (stat, got)
    assert (got["variance.x[g=a]"] == got["sample_variance.x[g=a]"]) == (ddof == 1)


def _beyond_the_exact_format() -> tuple[np.ndarray, np.ndarray]:
    """30 rows: ``big`` with n^2 var about 3.6e17, past the 1.4e17 that k=104, f=48 holds; ``small`` within."""
    r = rng(17)
    return (r.normal(0, 2e7, 30).round(3), r.normal(10, 2, 30).round(3))


def test_a_variance_beyond_the_format_fails_the_job_naming_the_column() -> None:
    """Every party raises ResultOutOfRange for ``big`` alone, found under MPC before any division."""
    big, small = _beyond_the_exact_format()
    s = spec(analysis="summary", columns=("small", "big"), fixed_point=EXACT, reveal=("mean", "variance"))
    with pytest.raises(ResultOutOfRange, match=r"variance of big is at least 1\.44e\+17.*choose a smaller f"):
        run_analysis(s, split_tables(s, {"big": big, "small": small}))


def test_without_the_check_such_data_would_publish_a_wrong_correlation(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the check prevents: with it skipped, the square roots of n^2 var (bit-decomposed in the
    wide format) wrap, and the job finishes with a "correlation" far outside [-1, 1]."""
    big, small = _beyond_the_exact_format()
    s = spec(analysis="correlation", columns=("small", "big"), fixed_point=EXACT, reveal=("correlation",))

    async def unchecked(*args: object) -> None:
        return None

    monkeypatch.setattr(common, "check_wide", unchecked)
    monkeypatch.setattr(common, "wide_check_needs", lambda spec, count: Needs())
    got = run_analysis(s, split_tables(s, {"big": big, "small": small}))
    assert abs(float(got["correlation[small,big]"])) > 1, got


def test_a_smaller_f_holds_that_variance() -> None:
    """k=96, f=40 holds n^2 var below 3.7e19: the same data gives numpy's variance there."""
    big, small = _beyond_the_exact_format()
    s = spec(analysis="summary", columns=("small", "big"), fixed_point={"k": 96, "f": 40},
             reveal=("mean", "variance"))
    got = run_analysis(s, split_tables(s, {"big": big, "small": small}))
    assert abs(float(got["variance.big"]) - big.var()) <= 1e-6 * big.var(), got


def _exact(values: np.ndarray, f: int, ddof: int) -> tuple[Fraction, Fraction]:
    """The mean and variance of the encodings round(x 2^f) / 2^f, as exact fractions."""
    enc = [Fraction(round(float(v) * (1 << f)), 1 << f) for v in values]
    n, mean = len(enc), sum(enc) / len(enc)
    return mean, sum((e - mean) ** 2 for e in enc) / (n - ddof)


def test_with_the_count_revealed_that_variance_is_exact_and_nothing_is_divided_under_mpc() -> None:
    """The count revealed: n, S and T = n Q 2^f - S^2 are opened and divided in public, so the
    variance past the wide format's limit (which fails the job above) is exact to half an ulp,
    and the job takes no division: fewer tuples than the same job without the count."""
    big, small = _beyond_the_exact_format()
    reveal = ("count", "mean", "variance", "std", "sample_variance")
    s = spec(analysis="summary", columns=("small", "big"), fixed_point=EXACT, reveal=reveal)
    assert summary.finishes_in_public(s)
    got = run_analysis(s, split_tables(s, {"big": big, "small": small}))
    f, half = EXACT["f"], Fraction(1, 2 ** (EXACT["f"] + 1))
    for column, values in (("big", big), ("small", small)):
        mean, var = _exact(values, f, 0)
        assert abs(Fraction(got[f"mean.{column}"]) - mean) <= half + Fraction(text_error(float(mean), f))
        assert abs(Fraction(got[f"variance.{column}"]) - var) <= half + Fraction(text_error(float(var), f))
        assert abs(float(got[f"std.{column}"]) - math.sqrt(var)) <= 2.0 ** -f + text_error(math.sqrt(var), f)
        assert close(got[f"sample_variance.{column}"], float(_exact(values, f, 1)[1]), 0, 1, f=f)
    without = spec(analysis="summary", columns=("small", "big"), fixed_point=EXACT, reveal=reveal[1:])
    assert not summary.finishes_in_public(without)
    assert routes.needs(s)[TupleKind.TRIPLE] < routes.needs(without)[TupleKind.TRIPLE] / 5


def test_at_the_default_format_a_tiny_variance_is_within_half_an_ulp() -> None:
    """Gaussian naive Bayes variances around 1.6e-4 at k=64, f=20: with the class counts revealed
    they are derived in public, so each prints as the exact variance of the encodings rounded
    once to 2^-20 (a division under MPC is off by a few ulp, which shows in the sixth decimal)."""
    r = rng(23)
    x = (r.normal(0, 1, 30) * 0.0126 + 3).round(6)
    label = np.array(["p", "q", "r"] * 10)
    s = spec(analysis="gaussian_naive_bayes", columns=("x",), label="y", domains={"y": ("p", "q", "r")},
             reveal=("count", "mean", "variance"))
    got = run_analysis(s, split_tables(s, {"x": x, "y": label}))
    for name in ("p", "q", "r"):
        _, var = _exact(x[label == name], 20, 0)
        assert got[f"variance.x[y={name}]"] == common.fixed_text(round(var * 2**20), 20), (name, got)


def test_correlation_checks_the_same_range() -> None:
    big, small = _beyond_the_exact_format()
    s = spec(analysis="correlation", columns=("small", "big"), fixed_point=EXACT, reveal=("correlation",))
    with pytest.raises(ResultOutOfRange, match="variance of big is"):
        run_analysis(s, split_tables(s, {"big": big, "small": small}))


def test_the_default_format_needs_no_such_check() -> None:
    """k=64, f=20 holds n^2 var of any data its ranges accept: no comparison is planned for it."""
    s = spec(analysis="summary", columns=("x",), reveal=("variance",))
    assert common.wide_check_bits(s) is None
    assert common.wide_check_bits(spec(analysis="summary", columns=("x",), reveal=("variance",),
                                       fixed_point=EXACT)) == 104 + 27 + 48 + 2


def test_a_format_too_wide_to_check_is_refused_when_planned() -> None:
    """k=128, f=60 would need comparisons wider than the field allows: refused with advice, before any run."""
    s = spec(analysis="summary", columns=("x",), reveal=("variance",), fixed_point={"k": 128, "f": 60})
    with pytest.raises(ConfigError, match="cannot be range-checked under MPC.*choose a smaller f or k, or set max_rows"):
        routes.needs(s)
    assert routes.needs(spec(analysis="summary", columns=("x",), reveal=("variance",), max_rows=1000,
                             fixed_point={"k": 128, "f": 50}))
