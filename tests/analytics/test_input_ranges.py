"""Every input is range-checked under MPC before anything depends on it: a member that forges
its input (a negative or too large row count, a sum no rows of its count give, a value
outside the fixed-point encoding) makes every honest party abort with that member named,
before any result is opened; honest inputs at the edges pass."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import pytest
from analytics_testkit import K, run_analysis, spec, split_tables

from harness.local import run_local
from offchain.analytics import common, kmeans, registry, stats, summary
from offchain.analytics.data import Table
from offchain.analytics.spec import MAX_ROWS, JobSpec
from offchain.auditable import routes
from offchain.engine.context import Context
from offchain.engine.inputs import input_values
from offchain.engine.opening import output_many
from offchain.engine.ranges import Bound
from offchain.errors import InputOutOfRange
from offchain.field import FieldVec, P

CHEATER = 1
TOP = (1 << (K - 1)) - 1  # The largest k-bit encoding.


def mean_spec(max_rows: int | None = None) -> JobSpec:
    return spec(analysis="mean", column="income", reveal=("count", "mean"), max_rows=max_rows)


def run_forged_stats(s: JobSpec, tables: Sequence[Table], forged: list[int]) -> list[object]:
    """Every party runs ``s``; the cheater inputs ``forged`` as its (count, fixed-point sum)."""
    async def program(ctx: Context) -> dict[str, str]:
        if ctx.party != CHEATER:
            return await registry.run(ctx, s, tables[ctx.party])
        shares = []
        for owner in range(len(s.participants)):
            mine = FieldVec.from_ints(forged) if owner == ctx.party else None
            shares.append(await input_values(ctx, owner, mine, stats.INPUTS_PER_PARTY))
        phase = stats.InputPhase(tuple(shares))
        await stats.check(ctx, s, phase)
        return await stats.reveal(ctx, s, phase)

    return asyncio.run(run_local(3, program, needs=routes.needs(s), sacrifice=False, timeout=120))


def honest_parties(results: list[object]) -> list[object]:
    return [r for i, r in enumerate(results) if i != CHEATER]


INCOME = {"income": [52000.0, 61000.5, 47000.25, 58000.0, 39000.75, 60500.0]}
ULP = 1 << 20


@pytest.mark.parametrize("max_rows, forged", [
    (None, [-8, 100_000 * ULP]),          # a negative count (it made count 0, mean 428000)
    (None, [-1, 0]),
    (None, [MAX_ROWS + 1, 0]),            # more rows than any party may hold
    (5, [6, 6 * ULP]),                     # more rows than the spec's max_rows
    (None, [1, (TOP + 1)]),               # a sum no single k-bit row gives
    (None, [2, -(2 * TOP + 1)]),
    (None, [3, P // 2]),                   # field elements far outside any range
    (None, [P - 1, P // 3]),
])
def test_a_forged_count_or_sum_aborts_naming_its_party(max_rows: int | None, forged: list[int]) -> None:
    s = mean_spec(max_rows)
    results = run_forged_stats(s, split_tables(s, INCOME), forged)
    for r in honest_parties(results):
        assert isinstance(r, InputOutOfRange) and r.parties == [CHEATER], results


def test_counts_and_sums_at_their_edges_pass() -> None:
    """The largest sum a count of k-bit rows gives, and a count of exactly max_rows."""
    s = mean_spec(max_rows=5)
    results = run_forged_stats(s, split_tables(s, INCOME), [5, -5 * TOP])
    assert all(isinstance(r, dict) for r in results), results
    assert results[0] == results[2] and set(results[0]) == {"count", "mean"}  # type: ignore[arg-type]


def test_an_honest_mean_is_unchanged_by_the_check() -> None:
    s = mean_spec()
    got = float(run_analysis(s, split_tables(s, INCOME))["mean"])
    assert abs(got - sum(INCOME["income"]) / 6) < 1e-5


def vector_spec() -> JobSpec:
    return spec(analysis="kmeans", columns=("x",), max_rows=4, reveal=("centroids",),
                params={"centroids": [[0.0], [1.0]], "iterations": 1})


def run_forged_vector(s: JobSpec, width: int, forged_at: int, value: int,
                      bounds: list[Bound] | None = None) -> list[object]:
    """Every party inputs ``width`` values through ``common.input_all``, checked against ``bounds``
    (default: k-bit encodings) (zeros, the cheater one forged value); each opens the sum of the
    first value of every party."""
    async def program(ctx: Context) -> list[int]:
        mine = [0] * width
        if ctx.party == CHEATER:
            mine[forged_at] = value
        parts = await common.input_all(ctx, s, mine, bounds=bounds)
        (out,) = await output_many(ctx, [parts[0][0:1] + parts[1][0:1] + parts[2][0:1]])
        return out.to_signed_ints()

    needs = common.input_needs(s, width, bounds)
    return asyncio.run(run_local(3, program, needs=needs, sacrifice=False, timeout=120))


@pytest.mark.parametrize("value", [TOP + 1, -(TOP + 2), P // 2, 2**200])
def test_a_value_outside_the_encoding_aborts_naming_its_party(value: int) -> None:
    s = vector_spec()
    results = run_forged_vector(s, 3, 2, value)
    for r in honest_parties(results):
        assert isinstance(r, InputOutOfRange) and r.parties == [CHEATER] and r.count == 1, results


def test_values_at_the_edges_of_the_encoding_pass() -> None:
    s = vector_spec()
    for value in (TOP, -(TOP + 1)):
        assert run_forged_vector(s, 3, 0, value) == [[value]] * 3


@pytest.mark.parametrize("position, forge", [(0, lambda top: top + 1), (0, lambda top: -(top + 1)),
                                             (1, lambda top: 2), (1, lambda top: -1)],
                         ids=["above bound", "below -bound", "flag 2", "flag -1"])
def test_k_means_checks_its_own_tighter_ranges(position: int, forge: Callable[[int], int]) -> None:
    """A k-means value beyond +-bound (though within k bits), or a validity flag that is not a
    bit, would overflow the distances and sums sized from the bound: both abort, naming the party."""
    s = vector_spec()
    bounds = kmeans.input_bounds(s)
    top = bounds[0].hi
    results = run_forged_vector(s, len(bounds), position, forge(top), bounds)
    assert top < 2 ** (K - 1) // 1000
    for r in honest_parties(results):
        assert isinstance(r, InputOutOfRange) and r.parties == [CHEATER], results


@pytest.mark.parametrize("position, forged", [(0, -3), (0, MAX_ROWS + 1), (1, TOP + 1)],
                         ids=["negative count", "count above max_rows", "sum beyond k bits"])
def test_a_summary_checks_its_counts_as_counts(position: int, forged: int) -> None:
    s = spec(analysis="summary", columns=("income",), reveal=("count", "mean", "min", "max"))
    bounds = summary.input_bounds(s)
    assert len(bounds) == summary.layout(s).width and bounds[0].hi == MAX_ROWS
    results = run_forged_vector(s, len(bounds), position, forged, bounds)
    for r in honest_parties(results):
        assert isinstance(r, InputOutOfRange) and r.parties == [CHEATER], results


def _forging(monkeypatch: pytest.MonkeyPatch, module: object, cheater_table: Table, at: int, value: int) -> None:
    """The cheater's peer runs modified code: ``module.local`` puts ``value`` at ``at`` of its inputs."""
    honest = module.local  # type: ignore[attr-defined]

    def local(spec_: JobSpec, table: Table, *args: object) -> list[int]:
        mine = honest(spec_, table, *args)
        if table is cheater_table:
            mine[at] = value
        return mine  # type: ignore[no-any-return]

    monkeypatch.setattr(module, "local", local)


def test_a_forged_count_in_a_decision_tree_aborts_naming_its_party(monkeypatch: pytest.MonkeyPatch) -> None:
    """Before, a count of -3 silently changed the tree."""
    from offchain.analytics import tree
    from test_analytics_tree import data, tree_spec

    s = tree_spec(1, 15)
    tables = split_tables(s, {n: list(v) for n, v in data(5, 45).items()})
    _forging(monkeypatch, tree, tables[CHEATER], 0, -3)
    with pytest.raises(InputOutOfRange) as caught:
        run_analysis(s, tables)
    assert caught.value.parties == [CHEATER]


def test_a_forged_histogram_count_aborts_naming_its_party(monkeypatch: pytest.MonkeyPatch) -> None:
    from offchain.analytics import counts

    s = spec(analysis="histogram", columns=("income",), max_rows=4, reveal=("counts",),
             params={"bins": [0, 50000, 100000]})
    tables = split_tables(s, INCOME)
    _forging(monkeypatch, counts, tables[CHEATER], 1, 5)  # Above max_rows = 4.
    with pytest.raises(InputOutOfRange) as caught:
        run_analysis(s, tables)
    assert caught.value.parties == [CHEATER]


@pytest.mark.parametrize(("analysis", "fields", "data"), [
    ("histogram", {"columns": ("income",), "params": {"bins": [0, 50000, 100000]}}, INCOME),
    ("naive_bayes", {"columns": ("smoker",), "label": "risk",
                     "domains": {"smoker": ["no", "yes"], "risk": ["low", "high"]}},
     {"smoker": ["no", "yes", "yes", "no", "no", "yes"], "risk": ["low", "high", "high", "low", "high", "low"]}),
])
def test_counts_each_in_range_but_more_rows_than_max_rows_in_all_abort(
        monkeypatch: pytest.MonkeyPatch, analysis: str, fields: dict, data: dict) -> None:  # type: ignore[type-arg]
    """Each row counts in one cell of a group (a histogram's bins; naive Bayes' classes): a party
    claiming max_rows in two cells claims twice max_rows rows, though each cell is in range."""
    from offchain.analytics import counts

    s = spec(analysis=analysis, max_rows=4, reveal=("counts",), **fields)
    tables = split_tables(s, data)
    honest = counts.local

    def local(spec_: JobSpec, table: Table) -> list[int]:
        mine = honest(spec_, table)
        return [4, 4, *mine[2:]] if table is tables[CHEATER] else mine  # Both first cells at max_rows.

    monkeypatch.setattr(counts, "local", local)
    with pytest.raises(InputOutOfRange) as caught:
        run_analysis(s, tables)
    assert caught.value.parties == [CHEATER]
    monkeypatch.setattr(counts, "local", honest)
    assert run_analysis(s, tables)  # The honest tables pass the same checks.


def _classifier(analysis: str) -> JobSpec:
    return spec(analysis=analysis, columns=("u",), label="c", domains={"c": ("neg", "pos")}, max_rows=2,
                reveal=("coefficients", "intercept"), params={"iterations": 2, "learning_rate": 0.25})


@pytest.mark.parametrize(("module", "make", "data", "at", "value"), [
    # A row count of -1 in the regression's sufficient statistics, and in a t-test's first group.
    ("linear", lambda: spec(analysis="linear_regression", columns=("a",), label="y", reveal=("coefficients",)),
     {"a": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], "y": [2.0, 4.1, 5.9, 8.2, 9.8, 12.1]}, 0, -1),
    ("significance", lambda: spec(analysis="t_test", columns=("a",), group_by="g", domains={"g": ("x", "z")},
                                  reveal=("t", "df", "p_value")),
     {"a": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], "g": ["x", "z", "x", "z", "x", "z"]}, 0, -1),
    # A feature value far beyond what the classifier's fixed point allows (yet a valid k-bit encoding).
    ("classifiers", lambda: _classifier("logistic_regression"),
     {"u": [-1.0, 2.0, 1.5, 0.5, -0.5, 1.0], "c": ["neg", "pos", "pos", "neg", "neg", "pos"]}, 0, 1 << (K - 2)),
    ("classifiers", lambda: _classifier("svm"),
     {"u": [-1.0, 2.0, 1.5, 0.5, -0.5, 1.0], "c": ["neg", "pos", "pos", "neg", "neg", "pos"]}, 0, -(1 << (K - 2))),
    # A negative weighted count at the root of a forest's first tree.
    ("tree", lambda: spec(analysis="random_forest", columns=("a",), label="k", max_rows=4,
                          domains={"a": ("p", "q"), "k": ("no", "yes")}, params={"trees": 2, "max_depth": 1},
                          reveal=("forest",)),
     {"a": ["p", "q", "p", "q", "p", "q"], "k": ["no", "yes", "yes", "no", "no", "yes"]}, 0, -1),
], ids=["linear_regression", "t_test", "logistic_regression", "svm", "random_forest"])
def test_every_analysis_names_a_party_whose_input_is_out_of_range(
        monkeypatch: pytest.MonkeyPatch, module: str, make: Callable[[], JobSpec], data: dict,  # type: ignore[type-arg]
        at: int, value: int) -> None:
    """The same forgery that the range checks exist for, in each family of analyses: the job
    aborts before any result, naming the forger; the honest run of the same spec passes."""
    import importlib

    s = make()
    tables = split_tables(s, data)
    assert run_analysis(s, tables)
    _forging(monkeypatch, importlib.import_module(f"offchain.analytics.{module}"), tables[CHEATER], at, value)
    with pytest.raises(InputOutOfRange) as caught:
        run_analysis(s, tables)
    assert caught.value.parties == [CHEATER]
