"""Which columns an analysis reads, of which type, and the spec rules each analysis adds.

Numeric columns hold fixed-point values; categorical columns hold one of the
values their spec domain declares (compared as stripped strings). Rules here
raise ``ValueError`` (the spec validator turns them into ``ConfigError``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from offchain.analytics.spec import JobSpec


#: Analyses whose work is sized by max_rows (they need it in the spec).
PER_ROW = ("decision_tree", "kmeans")


def numeric_columns(spec: JobSpec) -> tuple[str, ...]:
    """The numeric columns ``spec`` reads, in spec order."""
    if spec.analysis in ("count", "sum", "mean"):
        return (spec.column,)
    if spec.analysis in ("summary", "histogram", "covariance", "correlation",
                         "gaussian_naive_bayes", "kmeans"):
        return spec.columns
    if spec.analysis == "linear_regression":
        return (*spec.columns, spec.label or "")
    return ()


def categorical_columns(spec: JobSpec) -> tuple[str, ...]:
    """The categorical columns ``spec`` reads (features first, then the label or group)."""
    if spec.analysis in ("frequency",):
        return spec.columns
    if spec.analysis in ("naive_bayes", "decision_tree"):
        return (*spec.columns, spec.label or "")
    if spec.analysis == "gaussian_naive_bayes":
        return (spec.label or "",)
    if spec.analysis in ("summary", "histogram") and spec.group_by:
        return (spec.group_by,)
    return ()


def group_of(spec: JobSpec) -> str | None:
    """The categorical column statistics are grouped by (the class for Gaussian naive Bayes)."""
    return spec.label if spec.analysis == "gaussian_naive_bayes" else spec.group_by


def check_spec(spec: JobSpec) -> None:
    """The per-analysis rules of a spec (after the reveal rules); ValueError names the problem."""
    name = spec.analysis
    from offchain.analytics import privacy  # Which analyses take params.epsilon.
    if name in ("count", "sum", "mean"):
        privacy.check(spec)
        return
    if spec.column:
        raise ValueError(f"analysis {name!r} reads 'columns', not 'column'")
    if name in PER_ROW and spec.max_rows is None:
        raise ValueError(f"analysis {name!r} needs max_rows, the most rows a party may hold: "
                         "its work is sized by it")
    _expect(spec, group=name in ("summary", "histogram"),
            label=name in ("linear_regression", "naive_bayes", "gaussian_naive_bayes",
                           "decision_tree"))
    low = {"covariance": 2, "correlation": 2, "frequency": 1, "histogram": 1}.get(name, 1)
    high = {"histogram": 1, "frequency": 2}.get(name, 32)
    if name == "summary" and set(spec.reveal) == {"count"}:
        low = 0
    if not low <= len(spec.columns) <= high:
        raise ValueError(f"analysis {name!r} reads {low} to {high} columns, got {len(spec.columns)}")
    used = set(numeric_columns(spec)) | set(categorical_columns(spec))
    if len(used) != len(numeric_columns(spec)) + len(categorical_columns(spec)):
        raise ValueError("a column is used twice (a feature is also the label or group)")
    for column in categorical_columns(spec):
        if column not in spec.domains:
            raise ValueError(f"categorical column {column!r} needs a domain in 'domains'")
    _check_params(spec)
    privacy.check(spec)  # Last: its noise plan reads the groups' domains checked above.


def _expect(spec: JobSpec, *, group: bool, label: bool) -> None:
    if spec.group_by and not group:
        raise ValueError(f"analysis {spec.analysis!r} takes no group_by")
    if label != bool(spec.label):
        raise ValueError(f"analysis {spec.analysis!r} {'needs' if label else 'takes no'} a label")


def _check_params(spec: JobSpec) -> None:
    p = spec.params
    if spec.analysis == "histogram":
        if len(p.bins) < 2 or any(b <= a for a, b in zip(p.bins, p.bins[1:])):
            raise ValueError("a histogram needs at least two increasing bin edges in params.bins")
    elif p.bins:
        raise ValueError("params.bins is for histograms only")
    if spec.analysis == "decision_tree":
        from offchain.analytics import tree  # The tree's bounds live with its protocol.
        tree.check(spec)
    elif p.max_depth is not None or p.criterion != "gini":
        raise ValueError("params.max_depth and params.criterion are for decision trees only")
    if spec.analysis == "kmeans":
        from offchain.analytics import kmeans
        kmeans.check(spec)
    elif p.centroids or p.iterations:
        raise ValueError("params.centroids and params.iterations are for k-means only")
    if p.ridge and spec.analysis != "linear_regression":
        raise ValueError("params.ridge is for linear regression only")
