"""Which results an auditable job can verify on chain, and how a result follows from verified totals.

A linear result is a sum of input columns over the owners: every analysis
below inputs local sufficient statistics (a party's row count and row sum, or
its count per cell) and reveals column totals, or a public function of them
(mean = sum / count). Those totals are exactly what AuditTrail verifies against
the participants' Pedersen commitments, so the posted result can be re-derived
from the verified totals by anyone.

    count, sum, mean     inputs (count, fixed-point sum); reveal column 0, 1, or both
    histogram, frequency, naive_bayes
                         inputs one count per cell; reveal every column
"""

from __future__ import annotations

from collections.abc import Sequence

from offchain.analytics import counts, stats
from offchain.analytics.spec import JobSpec
from offchain.errors import ConfigError
from offchain.field import P

LINEAR_ANALYSES = ("count", "sum", "mean", "histogram", "frequency", "naive_bayes")
_STATS_COLUMNS = {"count": (0,), "sum": (1,), "mean": (0, 1)}


def revealed_columns(spec: JobSpec) -> tuple[int, ...]:
    """The input columns whose totals the job reveals, in increasing order."""
    if spec.analysis in _STATS_COLUMNS:
        return _STATS_COLUMNS[spec.analysis]
    if spec.analysis in LINEAR_ANALYSES:
        return tuple(range(len(counts.cells(spec))))
    raise ConfigError(f"analysis {spec.analysis!r} has no linear result to verify")


def width(spec: JobSpec) -> int:
    """How many values each participant inputs (the columns of its commitment list)."""
    if spec.analysis in _STATS_COLUMNS:
        return stats.INPUTS_PER_PARTY
    return len(counts.cells(spec))


def result_from_totals(spec: JobSpec, totals: Sequence[int]) -> dict[str, str]:
    """The result every participant must have posted, given the verified column totals."""
    columns = revealed_columns(spec)
    if len(totals) != len(columns):
        raise ConfigError(f"{len(totals)} totals for {len(columns)} revealed columns")
    signed = [_signed(t) for t in totals]
    if spec.analysis in _STATS_COLUMNS:
        names = {0: "count", 1: "mean" if spec.analysis == "mean" else "sum"}
        return stats._result(spec, {names[c]: v for c, v in zip(columns, signed, strict=True)})
    return {key: str(v) for key, v in zip(counts.cells(spec), signed, strict=True)}


def _signed(value: int) -> int:
    value %= P
    return value - P if value > P // 2 else value
