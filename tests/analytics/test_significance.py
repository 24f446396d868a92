"""Welch's t-test and the chi-square test of independence (offchain.analytics.significance).

Each test runs under MPC between 3 parties in one process, on the example
patient tables (examples/patients_party_{a,b,c}.csv) and on drawn data, and is
compared with scipy.stats on the pooled rows. Tolerance: 1e-6 relative on t,
df, the statistic and the p-value, which are printed to 10 significant
digits. The inputs are rounded once to 2^-(f+1); at f=20 that moves the t of
the example bmi by about 1e-7 relative (integer columns are exact).
"""

from __future__ import annotations

import asyncio
import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

from harness.local import run_local
from offchain.analytics import registry
from offchain.analytics.spec import JobSpec
from offchain.auditable import program, program_audit, routes
from offchain.errors import ConfigError
from analytics_testkit import PARTIES, run_analysis, split_tables, spec as make_spec

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
COLUMNS = ("age", "bmi", "systolic", "smoker", "activity", "risk")
REL = 1e-6


def example_spec(name: str, **changes: Any) -> JobSpec:
    fields = json.loads((EXAMPLES / "specs" / f"{name}.json").read_text())
    return registry.build_spec(**{**fields, **changes, "participants": PARTIES})


def example_tables(spec: JobSpec) -> list[registry.Table]:
    return [registry.read_table(spec, {c: EXAMPLES / f"patients_party_{t}.csv" for c in COLUMNS}) for t in "abc"]


def pooled_rows() -> list[dict[str, str]]:
    rows = []
    for tag in "abc":
        with (EXAMPLES / f"patients_party_{tag}.csv").open() as handle:
            rows += list(csv.DictReader(handle))
    return rows


def near(got: str, want: float, rel: float = REL, places: bool = False) -> bool:
    """|got - want| <= rel |want| (+ half the last printed place of a six-decimal mean or variance)."""
    return abs(float(got) - want) <= rel * abs(want) + (5e-7 if places else 0.0)


# Welch's t-test ---------------------------------------------------------------------------------

@pytest.mark.parametrize("column", ["systolic", "bmi", "age"])
def test_t_test_of_the_examples_agrees_with_scipy(column: str) -> None:
    spec = example_spec("t_test", columns=[column], reveal=["t", "df", "p_value", "count", "mean", "variance"])
    result = run_analysis(spec, example_tables(spec))
    rows = pooled_rows()
    a = np.array([float(r[column]) for r in rows if r["smoker"] == "no"])
    b = np.array([float(r[column]) for r in rows if r["smoker"] == "yes"])
    want = stats.ttest_ind(a, b, equal_var=False)
    assert near(result["t"], want.statistic), (result, want)
    assert near(result["df"], want.df), (result, want)
    assert near(result["p_value"], want.pvalue), (result, want)
    assert result["count[smoker=no]"] == str(len(a)) and result["count[smoker=yes]"] == str(len(b))
    assert near(result[f"mean.{column}[smoker=yes]"], b.mean(), places=True)
    assert near(result[f"variance.{column}[smoker=no]"], a.var(ddof=1), places=True)


def test_t_test_reveals_only_what_the_spec_names() -> None:
    spec = example_spec("t_test", reveal=["p_value", "t", "df"])
    result = run_analysis(spec, example_tables(spec))
    assert set(result) == {"t", "df", "p_value"}


@pytest.mark.parametrize(("fixed_point", "rel"), [({"k": 64, "f": 20}, 1e-4), ({"k": 96, "f": 40}, REL)])
def test_t_test_on_drawn_data_with_a_tiny_p_value_and_a_small_variance(fixed_point: dict[str, int],
                                                                        rel: float) -> None:
    """Standard deviations of 0.01 and 0.03 around 10: at f=20 the encodings' rounding (2^-21 per
    value) alone moves t, df and p by up to 5e-5 relative (measured); at f=40, by about 2e-10."""
    rng = np.random.default_rng(7)
    a, b = rng.normal(10.0, 0.01, 40), rng.normal(10.02, 0.03, 25)  # Variances about 1e-4 and 9e-4.
    spec = make_spec(analysis="t_test", columns=["x"], group_by="g", domains={"g": ["a", "b"]},
                     reveal=["t", "df", "p_value"], fixed_point=fixed_point)
    values = np.concatenate([a, b])
    groups = ["a"] * len(a) + ["b"] * len(b)
    order = rng.permutation(len(values))
    tables = split_tables(spec, {"x": values[order].tolist(), "g": [groups[i] for i in order]})
    result = run_analysis(spec, tables)
    want = stats.ttest_ind(a, b, equal_var=False)
    assert want.pvalue < 1e-3
    assert near(result["t"], want.statistic, rel), (result, want)
    assert near(result["df"], want.df, rel), (result, want)
    assert near(result["p_value"], want.pvalue, rel), (result, want)


def test_t_test_with_a_group_of_one_row_is_undefined() -> None:
    spec = make_spec(analysis="t_test", columns=["x"], group_by="g", domains={"g": ["a", "b"]},
                     reveal=["t", "df", "p_value", "count"])
    tables = split_tables(spec, {"x": [1.0, 2.0, 3.0, 4.0], "g": ["a", "a", "a", "b"]})
    result = run_analysis(spec, tables)
    assert result == {"t": "undefined", "df": "undefined", "p_value": "undefined",
                      "count[g=a]": "3", "count[g=b]": "1"}


def test_t_test_with_epsilon_is_noisy_and_still_a_test() -> None:
    spec = example_spec("t_test", reveal=["t", "df", "p_value", "count"],
                        params={"epsilon": 5.0, "clip_lower": 90, "clip_upper": 200})
    result = run_analysis(spec, example_tables(spec), seed=b"t-test noise")
    assert 0 <= float(result["p_value"]) <= 1 and float(result["df"]) > 0
    plain = run_analysis(example_spec("t_test"), example_tables(spec))
    assert result["t"] != plain["t"]  # The totals were noised.


# Chi-square test of independence ----------------------------------------------------------------

def _table(rows: list[dict[str, str]], a: str, b: str, da: list[str], db: list[str]) -> np.ndarray:
    return np.array([[sum(r[a] == x and r[b] == y for r in rows) for y in db] for x in da])


@pytest.mark.parametrize(("a", "b"), [("smoker", "activity"), ("activity", "risk"), ("smoker", "risk")])
def test_chi_square_of_the_examples_agrees_with_scipy(a: str, b: str) -> None:
    domains = {"smoker": ["no", "yes"], "activity": ["low", "medium", "high"], "risk": ["low", "high"]}
    spec = example_spec("chi_square", columns=[a, b], domains={a: domains[a], b: domains[b]})
    result = run_analysis(spec, example_tables(spec))
    observed = _table(pooled_rows(), a, b, domains[a], domains[b])
    want = stats.chi2_contingency(observed, correction=False)
    assert near(result["statistic"], want.statistic), (result, want)
    assert result["dof"] == str(want.dof)
    assert near(result["p_value"], want.pvalue), (result, want)
    assert result[f"count[{a}={domains[a][0]},{b}={domains[b][0]}]"] == str(observed[0, 0])
    assert ("warning" in result) == bool((want.expected_freq < 5).any())


def test_chi_square_warns_of_small_expected_counts_and_drops_empty_values() -> None:
    spec = make_spec(analysis="chi_square", columns=["u", "v"],
                     domains={"u": ["a", "b", "c"], "v": ["x", "y"]}, reveal=["statistic", "dof", "p_value"])
    u = ["a"] * 30 + ["b"] * 30
    v = ["x"] * 25 + ["y"] * 5 + ["x"] * 3 + ["y"] * 27
    result = run_analysis(spec, split_tables(spec, {"u": u, "v": v}))
    want = stats.chi2_contingency(np.array([[25, 5], [3, 27]]), correction=False)
    assert result["dof"] == "1" and near(result["statistic"], want.statistic)
    assert near(result["p_value"], want.pvalue), (result, want)
    assert "u=c" in result["warning"] and "expected" not in result["warning"]
    assert set(result) == {"statistic", "dof", "p_value", "warning"}


def test_chi_square_with_epsilon_noises_the_counts() -> None:
    spec = example_spec("chi_square", params={"epsilon": 1.0})
    result = run_analysis(spec, example_tables(spec), seed=b"chi noise")
    plain = run_analysis(example_spec("chi_square"), example_tables(spec))
    assert 0 <= float(result["p_value"]) <= 1
    assert any(result[k] != plain[k] for k in plain if k.startswith("count["))


# Bad specs --------------------------------------------------------------------------------------

BAD = [
    ({"analysis": "t_test", "columns": ["systolic"], "reveal": ["t", "df", "p_value"]},
     "analysis 't_test' needs group_by"),
    ({"analysis": "t_test", "columns": ["systolic"], "group_by": "activity",
      "domains": {"activity": ["low", "medium", "high"]}, "reveal": ["t", "df", "p_value"]},
     "must list exactly 2 values, it lists 3"),
    ({"analysis": "t_test", "columns": ["systolic", "age"], "group_by": "smoker",
      "domains": {"smoker": ["no", "yes"]}, "reveal": ["t", "df", "p_value"]},
     "reads 1 to 1 columns, got 2"),
    ({"analysis": "t_test", "columns": ["systolic"], "group_by": "smoker",
      "domains": {"smoker": ["no", "yes"]}, "reveal": ["t", "p_value"]},
     "including ['df']"),
    ({"analysis": "t_test", "columns": ["smoker"], "group_by": "smoker",
      "domains": {"smoker": ["no", "yes"]}, "reveal": ["t", "df", "p_value"]},
     "a column is used twice"),
    ({"analysis": "t_test", "columns": ["systolic"], "group_by": "smoker", "domains": {"smoker": ["no", "yes"]},
      "reveal": ["t", "df", "p_value"], "params": {"epsilon": 1.0}}, "epsilon needs clip bounds"),
    ({"analysis": "chi_square", "columns": ["smoker"], "domains": {"smoker": ["no", "yes"]},
      "reveal": ["statistic", "dof", "p_value"]}, "reads 2 to 2 columns, got 1"),
    ({"analysis": "chi_square", "columns": ["smoker", "age"], "domains": {"smoker": ["no", "yes"]},
      "reveal": ["statistic", "dof", "p_value"]}, "categorical column 'age' needs a domain"),
    ({"analysis": "chi_square", "columns": ["smoker", "risk"], "domains": {"smoker": ["no", "yes"],
      "risk": ["high"]}, "reveal": ["statistic", "dof", "p_value"]}, "at least 2 values in the domain of 'risk'"),
    ({"analysis": "chi_square", "columns": ["smoker", "risk"], "group_by": "age",
      "domains": {"smoker": ["no", "yes"], "risk": ["low", "high"]}, "reveal": ["statistic", "dof", "p_value"]},
     "takes no group_by"),
    ({"analysis": "chi_square", "columns": ["smoker", "risk"], "domains": {"smoker": ["no", "yes"],
      "risk": ["low", "high"]}, "reveal": ["statistic", "dof", "p_value", "mean"]}, "also asks for ['mean']"),
    ({"analysis": "chi_square", "columns": ["smoker", "risk"], "domains": {"smoker": ["no", "yes"],
      "risk": ["low", "high"]}, "reveal": ["statistic", "dof", "p_value"],
      "params": {"epsilon": 1.0, "clip_lower": 0, "clip_upper": 1}}, "reveals counts only"),
]


@pytest.mark.parametrize(("fields", "message"), BAD)
def test_bad_specs_are_refused_with_a_clear_error(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=None) as err:
        registry.build_spec(**fields, participants=PARTIES)
    assert message in str(err.value)


def test_a_categorical_column_as_the_t_test_value_is_refused_on_reading() -> None:
    spec = example_spec("t_test", columns=["activity"])
    with pytest.raises(ConfigError, match="activity"):
        example_tables(spec)


# Auditable ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["t_test", "chi_square"])
def test_auditable_tests_take_the_program_route_and_pass_the_audit(name: str) -> None:
    spec = example_spec(name, auditable=True)
    assert routes.route(spec) is routes.Route.PROGRAM
    tables = example_tables(spec)

    async def party(ctx: Any) -> tuple[dict[str, str], program.Record]:
        return await program.run_party(ctx, spec, tables[ctx.party])

    results = asyncio.run(run_local(3, party, needs=routes.needs(spec), sacrifice=False, timeout=120))
    for r in results:
        if isinstance(r, BaseException):
            raise r
    result, record = results[0]
    assert result == run_analysis(example_spec(name), tables)
    derived, steps = program_audit.audit(spec, 3, record, result)
    assert derived == result and all(step.passed for step in steps), steps
    _, steps = program_audit.audit(spec, 3, record, {**result, "p_value": "0.5"})
    assert not all(step.passed for step in steps)


def test_job_result_shows_the_outcome_of_a_test_first() -> None:
    from rich.console import Console

    from mpcc.cli.views import job_result_view

    spec = example_spec("chi_square")
    result = dict(sorted(run_analysis(spec, example_tables(spec)).items()))  # As read from the chain.
    console = Console(width=200, record=True)
    console.print(job_result_view({"job": 1, "title": spec.title, "analysis": "chi_square", "result": result}))
    text = console.export_text()
    lines = [line for line in text.splitlines() if "│" in line]
    assert [line.split("│")[1].strip() for line in lines[:4]] == ["statistic", "dof", "p_value", "warning"]
    assert "0.8751733190" in lines[2] and "count[smoker=no,activity=low]" in text
