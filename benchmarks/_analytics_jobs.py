"""The analytics benchmark's data, job specs and numpy references (shared by all its processes).

Every process makes the same pooled rows from the same seed (``data``); of n
parties (3 unless said), party i holds rows i, i + n, i + 2n, ... (``party_rows``). Results are compared by
key with the numpy reference on the pooled rows (``deviation``): the keys
are those ``registry.run`` reveals, e.g. ``correlation[a,b]`` or
``node[f2=r,f3=big]``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any

import numpy as np

from offchain.analytics import registry
from offchain.analytics.spec import categorical_columns, numeric_columns
from offchain.analytics.spec import JobSpec

SEED = 7
DOMAINS = {"cls": ("hi", "lo"), "f1": ("down", "up"), "f2": ("r", "s", "t"),
           "f3": ("big", "small")}
CSV_COLUMNS = ("a", "b", "c", "y", "cls", "f1", "f2", "f3")
Columns = dict[str, np.ndarray]
Result = dict[str, Any]


def data(rows: int) -> Columns:
    """The pooled rows: numeric a, b, c (scales 1, 10, 100), y linear in them, categories."""
    r = np.random.default_rng(SEED)
    x = (r.normal(0, 1, (rows, 3)) * [1, 10, 100] + [5, -3, 1000]).round(3)
    y = (x @ [2.0, -0.5, 0.03] + 7 + r.normal(0, 0.5, rows)).round(3)
    c = np.where(x[:, 0] + r.normal(0, 1, rows) > 5, "hi", "lo")
    f1 = np.where(x[:, 1] > -3, "up", "down")
    f2 = r.choice(["r", "s", "t"], rows)
    f3 = np.where(x[:, 2] > 1000, "big", "small")
    return {"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "y": y, "cls": c, "f1": f1, "f2": f2,
            "f3": f3}


def party_rows(columns: Columns, party: int, parties: int = 3) -> Columns:
    return {name: values[party::parties] for name, values in columns.items()}


def participants(parties: int) -> tuple[str, ...]:
    return tuple("0x" + f"{i + 1:040x}" for i in range(parties))


#: k-means: K = 2 public starting centroids over (a, b), Lloyd's iterations (R K m T <= 2^17).
KMEANS_CENTROIDS = ((4.0, -10.0), (6.0, 5.0))
KMEANS_ITERATIONS = 1  # Its tuples grow with rows x iterations: one keeps it measurable.


def spec(name: str, rows: int, parties: int = 3) -> JobSpec:
    """The job of analysis ``name`` over ``rows`` pooled rows (max_rows: rows / parties, rounded up)."""
    def s(**fields: Any) -> JobSpec:
        return registry.build_spec(participants=participants(parties), **fields)

    nb_domains = {k: DOMAINS[k] for k in ("f1", "f2", "cls")}
    specs: dict[str, Callable[[], JobSpec]] = {
        "mean": lambda: s(analysis="mean", column="a", reveal=("count", "mean")),
        "variance": lambda: s(analysis="summary", columns=("a",), reveal=("variance",)),
        "correlation": lambda: s(analysis="correlation", columns=("a", "b", "c"),
                                 reveal=("correlation",)),
        "linear_regression": lambda: s(analysis="linear_regression", columns=("a", "b", "c"),
                                       label="y", reveal=("coefficients", "intercept")),
        "naive_bayes_categorical": lambda: s(analysis="naive_bayes", columns=("f1", "f2"),
                                             label="cls", domains=nb_domains,
                                             reveal=("counts",)),
        "naive_bayes_gaussian": lambda: s(analysis="gaussian_naive_bayes", columns=("a", "b"),
                                          label="cls", domains={"cls": DOMAINS["cls"]},
                                          reveal=("count", "mean", "variance")),
        # The padded tree's work is sized by max_rows, the per-party bound.
        "decision_tree_d3": lambda: s(analysis="decision_tree", columns=("f1", "f2", "f3"),
                                      label="cls", max_rows=-(-rows // parties),
                                      params={"max_depth": 3}, domains=dict(DOMAINS),
                                      reveal=("tree",)),
        # Every row is an input here (padded to max_rows): its cost grows with the rows.
        "kmeans": lambda: s(analysis="kmeans", columns=("a", "b"), max_rows=-(-rows // parties),
                            params={"centroids": KMEANS_CENTROIDS,
                                    "iterations": KMEANS_ITERATIONS},
                            reveal=("centroids", "sizes")),
    }
    return specs[name]()


ANALYSES = ("mean", "variance", "correlation", "linear_regression", "naive_bayes_categorical",
            "naive_bayes_gaussian", "decision_tree_d3")


def used_columns(job: JobSpec) -> tuple[str, ...]:
    return (*numeric_columns(job), *categorical_columns(job))


# numpy on the pooled rows -----------------------------------------------------------------------
def plain_inputs(job: JobSpec, columns: Columns) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The pooled table as numpy holds it: floats, and categories as domain indices (untimed)."""
    numeric = {c: np.asarray(columns[c], dtype=np.float64) for c in numeric_columns(job)}
    codes = {c: np.searchsorted(np.array(job.domain(c)), columns[c]) for c in categorical_columns(job)}
    return numeric, codes


def plain(name: str, job: JobSpec, numeric: Mapping[str, np.ndarray],
          codes: Mapping[str, np.ndarray]) -> Result:
    """The revealed values of the job, computed by numpy on the pooled rows."""
    if name == "mean":
        return {"count": len(numeric["a"]), "mean": float(numeric["a"].mean())}
    if name == "variance":
        return {"variance.a": float(numeric["a"].var())}
    if name == "correlation":
        r = np.corrcoef(np.vstack([numeric[c] for c in "abc"]))
        return {f"correlation[{p},{q}]": float(r[i, j])
                for i, p in enumerate("abc") for j, q in enumerate("abc") if i < j}
    if name == "linear_regression":
        x = np.column_stack([numeric["a"], numeric["b"], numeric["c"], np.ones(len(numeric["y"]))])
        beta = np.linalg.lstsq(x, numeric["y"], rcond=None)[0]
        return {**{f"coefficient[{c}]": float(b) for c, b in zip("abc", beta)},
                "intercept": float(beta[3])}
    if name == "naive_bayes_categorical":
        return _nb_counts(job, codes)
    if name == "naive_bayes_gaussian":
        return _gaussian_nb(job, numeric, codes)
    if name == "kmeans":
        return _lloyd(job, numeric)
    return _id3(job, codes)


def _nb_counts(job: JobSpec, codes: Mapping[str, np.ndarray]) -> Result:
    label = job.label or ""
    classes = job.domain(label)
    k = len(classes)
    out: Result = {f"count[{label}={c}]": int(n)
                   for c, n in zip(classes, np.bincount(codes[label], minlength=k))}
    for f in job.columns:
        table = np.bincount(codes[f] * k + codes[label], minlength=len(job.domain(f)) * k)
        out.update({f"count[{f}={v},{label}={c}]": int(table[i * k + j])
                    for i, v in enumerate(job.domain(f)) for j, c in enumerate(classes)})
    return out


def _gaussian_nb(job: JobSpec, numeric: Mapping[str, np.ndarray],
                 codes: Mapping[str, np.ndarray]) -> Result:
    label = job.label or ""
    out: Result = {}
    for j, c in enumerate(job.domain(label)):
        rows = codes[label] == j
        out[f"count[{label}={c}]"] = int(rows.sum())
        for f in job.columns:
            out[f"mean.{f}[{label}={c}]"] = float(numeric[f][rows].mean())
            out[f"variance.{f}[{label}={c}]"] = float(numeric[f][rows].var())
    return out


def _lloyd(job: JobSpec, numeric: Mapping[str, np.ndarray]) -> Result:
    """Lloyd's iterations from the spec's centroids (as offchain.analytics.kmeans): nearest by
    squared distance, ties to the lowest index; a cluster without rows keeps its centroid."""
    x = np.column_stack([numeric[c] for c in job.columns])
    centroids = np.array(job.params.centroids, dtype=np.float64)
    sizes = np.zeros(len(centroids), dtype=np.int64)
    for _ in range(job.params.iterations):
        nearest = ((x[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=2).argmin(axis=1)
        sizes = np.bincount(nearest, minlength=len(centroids))
        sums = np.zeros_like(centroids)
        np.add.at(sums, nearest, x)
        moved = sizes > 0
        centroids[moved] = sums[moved] / sizes[moved, None]
    out: Result = {f"centroid[{j}].{c}": float(centroids[j, a])
                   for j in range(len(centroids)) for a, c in enumerate(job.columns)}
    return {**out, **{f"size[{j}]": int(n) for j, n in enumerate(sizes)}}


def _id3(job: JobSpec, codes: Mapping[str, np.ndarray]) -> Result:
    """ID3 with the weighted Gini impurity, exact (as offchain.analytics.tree and the tests):
    best split = largest sum_v (sum_c n_vc^2) / n_v, lowest feature index on ties; a leaf at
    max_depth or when pure, predicting the majority (first class on ties) or, when empty,
    its parent's."""
    label, features = job.label or "", job.columns
    k, depth = len(job.domain(label)), job.params.max_depth or 0
    out: Result = {}

    def grow(members: np.ndarray, path: list[str], used: set[str], inherited: str) -> None:
        key = "node[" + ",".join(path) + "]"
        counts = np.bincount(codes[label][members], minlength=k)
        if not len(members):
            out[key] = f"leaf:{inherited}"
            return
        major = job.domain(label)[int(np.argmax(counts))]
        if len(path) == depth or np.count_nonzero(counts) == 1:
            out[key] = f"leaf:{major}"
            return
        best, score = "", Fraction(-1)
        for f in (f for f in features if f not in used):
            d = len(job.domain(f))
            table = np.bincount(codes[f][members] * k + codes[label][members],
                                minlength=d * k).reshape(d, k)
            g = sum((Fraction(int((row.astype(np.int64) ** 2).sum()), max(int(row.sum()), 1))
                     for row in table), Fraction(0))
            if g > score:
                best, score = f, g
        out[key] = f"split:{best}"
        column = codes[best][members]
        for i, value in enumerate(job.domain(best)):
            grow(members[column == i], [*path, f"{best}={value}"], used | {best}, major)

    grow(np.arange(len(codes[label])), [], set(), "")
    # Breadth first, as the MPC tree reveals it.
    return dict(sorted(out.items(), key=lambda item: item[0].count("=")))


def deviation(result: Mapping[str, Any], reference: Mapping[str, Any]) -> float | str:
    """The largest absolute difference from the reference, or what differs (keys, a split)."""
    if set(result) != set(reference):
        return f"keys differ: {sorted(set(result) ^ set(reference))[:3]}"
    worst = 0.0
    for key, want in reference.items():
        if isinstance(want, str):
            if result[key] != want:
                return f"{key}: {result[key]} instead of {want}"
            continue
        worst = max(worst, abs(float(result[key]) - float(want)))
    return worst
