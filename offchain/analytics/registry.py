"""One interface for every analysis: its tuple needs, its run, and the reading of its data.

    spec = JobSpec.parse(text)                      # every party, from the chain
    table = read_table(spec, {"income": Path("incomes.csv")})   # validated, nothing sent yet
    source = cache.reserve(needs(spec))             # exact tuple counts, known in advance
    result = await run(ctx, spec, table)            # the same dict on every party

``run`` computes the party's local statistics (and refuses values that would
overflow, with ``ConfigError``) before its first message; the result holds
exactly the values the spec's ``reveal`` names, as canonical strings
(``result_bytes`` gives the bytes posted on chain).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from types import ModuleType

from offchain.analytics import bayes, counts, kmeans, linear, privacy, stats, summary, tree
from offchain.analytics.common import InputHook
from offchain.analytics.data import Table, read_table, table_from_columns
from offchain.analytics.spec import JobSpec
from offchain.engine.context import Context
from offchain.preprocessing.tuples import Needs

__all__ = ["Table", "needs", "read_table", "result_bytes", "run", "table_from_columns"]

_MODULES: dict[str, ModuleType] = {
    "summary": summary, "histogram": counts, "frequency": counts, "naive_bayes": counts,
    "covariance": linear, "correlation": linear, "linear_regression": linear,
    "gaussian_naive_bayes": bayes, "decision_tree": tree, "kmeans": kmeans,
}
result_bytes = stats.result_bytes


def needs(spec: JobSpec, shape: Mapping[str, int] | None = None) -> Needs:
    """The exact tuples a job of ``spec`` consumes (its shape is all in the spec; ``shape`` is unused)."""
    if spec.auditable:
        from offchain.auditable import linear as auditable  # It builds on this package.

        route = auditable.route(spec)
        if route == "summary":
            from offchain.auditable import summary as auditable_summary

            return auditable_summary.needs(spec)
        if route == "program":
            from offchain.auditable import program

            return program.needs(spec)
    return plain_needs(spec)


def plain_needs(spec: JobSpec) -> Needs:
    """The tuples of the analysis itself, as it runs without ``auditable``."""
    if spec.analysis in stats_analyses():
        return stats.needs(spec)
    if spec.params.epsilon is not None and spec.analysis in privacy.COUNT_TABLES:
        return privacy.needs(spec)
    return _MODULES[spec.analysis].needs(spec)  # type: ignore[no-any-return]


def stats_analyses() -> tuple[str, ...]:
    return ("count", "sum", "mean")


async def run(ctx: Context, spec: JobSpec, table: Table,
              on_inputs: InputHook | None = None) -> dict[str, str]:
    """Runs the analysis as this party; returns the revealed result (equal on every party).

    ``on_inputs`` is awaited with every party's input shares after the input
    step and before anything else (a peer commits to its shares on chain there).
    An auditable spec that offchain.auditable.linear routes to "program" runs
    through offchain.auditable.program (its record is dropped here; a peer
    keeps it, see offchain.peer.member).
    """
    if spec.auditable:
        from offchain.auditable import linear as auditable, program

        if auditable.route(spec) == "program":
            return (await program.run_party(ctx, spec, table))[0]
    return await plain_run(ctx, spec, table, on_inputs)


async def plain_run(ctx: Context, spec: JobSpec, table: Table,
                    on_inputs: InputHook | None = None) -> dict[str, str]:
    """The analysis itself, as it runs without ``auditable``."""
    if spec.analysis in stats_analyses():
        phase = await stats.input_phase(ctx, spec, table.numeric[spec.column].tolist())
        if on_inputs is not None:
            await on_inputs(phase.shares)
        return await stats.reveal(ctx, spec, phase)
    runner: Callable[[Context, JobSpec, Table, InputHook | None], Awaitable[dict[str, str]]]
    noised_table = spec.params.epsilon is not None and spec.analysis in privacy.COUNT_TABLES
    runner = privacy.run if noised_table else _MODULES[spec.analysis].run
    return await runner(ctx, spec, table, on_inputs)


def load(spec: JobSpec, bindings: Mapping[str, Path]) -> Table:
    """``read_table``: an alias that reads well at the call site."""
    return read_table(spec, bindings)
