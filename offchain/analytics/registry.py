"""One interface for every analysis: its rules, its tuple needs, its run, and the reading of its data.

    spec = parse_spec(text)                         # every party, from the chain: every rule checked
    table = read_table(spec, {"income": Path("incomes.csv")})   # validated, nothing sent yet
    source = cache.reserve(needs(spec))             # exact tuple counts, known in advance
    result = await run(ctx, spec, table)            # the same dict on every party

``run`` computes the party's local statistics (and refuses values that would
overflow, with ``ConfigError``) before its first message; the result holds
exactly the values the spec's ``reveal`` names, as canonical strings
(``result_bytes`` gives the bytes posted on chain). This is the analysis as
it runs in plain mode; offchain.auditable runs it on committed tuples.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import ModuleType
from typing import Any

from offchain.analytics import (
    bayes,
    classifiers,
    counts,
    forest,
    kmeans,
    linear,
    privacy,
    significance,
    stats,
    summary,
    tree,
)
from offchain.analytics.common import InputHook
from offchain.analytics.data import Table, read_table, table_from_columns
from offchain.analytics.spec import JobSpec
from offchain.engine.evaluator import Evaluator, S
from offchain.errors import ConfigError
from offchain.preprocessing.tuples import Needs

__all__ = ["Table", "build_spec", "check", "needs", "parse_spec", "read_table", "result_bytes", "run",
           "table_from_columns"]

_MODULES: dict[str, ModuleType] = {
    "summary": summary, "histogram": counts, "frequency": counts, "naive_bayes": counts,
    "covariance": linear, "correlation": linear, "linear_regression": linear,
    "gaussian_naive_bayes": bayes, "decision_tree": tree, "kmeans": kmeans,
    "t_test": significance, "chi_square": significance, "random_forest": forest,
    "logistic_regression": classifiers, "svm": classifiers,
}
#: The analyses with rules of their own beyond the spec's (bounds that follow from their protocol).
_RULES: dict[str, Callable[[JobSpec], None]] = {"decision_tree": tree.check, "kmeans": kmeans.check,
                                                "random_forest": forest.check,
                                                "logistic_regression": classifiers.check,
                                                "svm": classifiers.check}
STATS_ANALYSES = ("count", "sum", "mean")
result_bytes = stats.result_bytes


def check(spec: JobSpec) -> None:
    """The rules of the spec's analysis and of its noise; ``ConfigError`` naming the first broken one."""
    try:
        rule = _RULES.get(spec.analysis)
        if rule is not None:
            rule(spec)
        privacy.check(spec)  # Last: its noise plan reads the groups' domains checked before.
    except ValueError as err:
        raise ConfigError(f"invalid job spec: spec: {err}") from err


def parse_spec(text: str) -> JobSpec:
    """A spec from its JSON text, checked by every rule; ``ConfigError`` naming the first problem."""
    spec = JobSpec.parse(text)
    check(spec)
    return spec


def described(text: str) -> dict[str, Any]:
    """What readers show of a spec as proposed on chain; never raises.

    The contract stores any string a member proposes: a spec that is not a
    JobSpec (not JSON, too deep, a wrong field) is shown as ``malformed`` with
    the reason, so one member's bad proposal never breaks listing the others.
    """
    try:
        spec = JobSpec.parse(text)
    except ConfigError as err:
        return {"analysis": None, "title": "", "reveal": [], "participants": [], "column": None, "columns": [],
                "malformed": str(err)}
    columns = [spec.column] if spec.column else list(spec.columns)
    columns += [c for c in (spec.label, spec.group_by) if c]
    return {"analysis": spec.analysis, "title": spec.title, "reveal": list(spec.reveal),
            "participants": list(spec.participants), "column": spec.column or None, "columns": columns,
            "malformed": None}


def build_spec(**fields: Any) -> JobSpec:
    """A spec from keyword fields, checked by every rule; ``ConfigError`` naming the first problem."""
    spec = JobSpec.build(**fields)
    check(spec)
    return spec


def needs(spec: JobSpec) -> Needs:
    """The exact tuples the analysis consumes as it runs in plain mode (its shape is all in the spec)."""
    check(spec)
    if spec.analysis in STATS_ANALYSES:
        return stats.needs(spec)
    if spec.params.epsilon is not None and spec.analysis in privacy.COUNT_TABLES:
        return privacy.needs(spec)
    return _MODULES[spec.analysis].needs(spec)  # type: ignore[no-any-return]


async def run(ctx: Evaluator[S], spec: JobSpec, table: Table, on_inputs: InputHook[S] | None = None) -> dict[str, str]:
    """Runs the analysis as this party; returns the revealed result (equal on every party).

    ``on_inputs`` is awaited with every party's input shares after the input
    step and before anything else (a peer commits to its shares on chain there).
    """
    check(spec)
    if spec.analysis in STATS_ANALYSES:
        phase = await stats.input_phase(ctx, spec, table.numeric[spec.column].tolist())
        if on_inputs is not None:
            await on_inputs(phase.shares)
        await stats.check(ctx, spec, phase)
        return await stats.reveal(ctx, spec, phase)
    runner: Callable[[Evaluator[S], JobSpec, Table, InputHook[S] | None], Awaitable[dict[str, str]]]
    noised_table = spec.params.epsilon is not None and spec.analysis in privacy.COUNT_TABLES
    runner = privacy.run if noised_table else _MODULES[spec.analysis].run
    return await runner(ctx, spec, table, on_inputs)
