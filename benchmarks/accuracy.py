"""Accuracy of the models trained under MPC, beside the same algorithm in plaintext and scikit-learn's.

    .venv/bin/python benchmarks/accuracy.py                        # every model, a table
    .venv/bin/python benchmarks/accuracy.py --quick                # fewer steps, trees and levels
    .venv/bin/python benchmarks/accuracy.py --json --plot docs/accuracy.png

Models and data (scikit-learn's bundled datasets; docs/accuracy.md has the figures):

    decision_tree, random_forest   breast_cancer, 10 features binned into 4 quantile bins
    gaussian_nb                    wine, 13 numeric features
    categorical_nb                 digits, the 32 pixels of most training variance (a spec reads at
                                   most 32 columns), values 0 .. 16 as categories
    kmeans                         iris, 4 numeric features, 3 clusters, k-means++ seeding, a tolerance
    logistic_regression, svm       breast_cancer, 10 features standardised

Every dataset is split once into training and test rows (75/25, stratified,
seed 7). The bin edges (quartiles) and the standardisation (mean, std) come
from the training rows only: they are public parameters the parties would
agree on from a ``summary`` job. The training rows are dealt round-robin to
3 parties (party i holds rows i, i + 3, ...).

MPC (benchmarks/_local_job.py): the 3 parties run in this process over the
in-memory network (offchain.net.memory), each on a Context whose tuples were dealt for exactly
``routes.needs(spec)`` and checked by the sacrifice (offchain.engine.sacrifice)
before the clock; ``mpc_s`` is from the first party starting ``registry.run``
to the last one holding the revealed result (``preprocessing_s``: dealing and
sacrifice). The result becomes a model by ``offchain.models.model_of``.

Plaintext: the same algorithm, seeds and parameters in numpy
(benchmarks/_accuracy_twins.py says how each twin matches its MPC
analysis), its numbers written into a result map of the MPC keys, so that
both models predict through the same ``offchain.models`` class. The
forest's bootstrap weights and feature draws are functions of the joint coin
tossed in the run; party 0 records its broadcasts (an offchain.engine.tape
Recorder, as an auditable run does) and the coin is recomputed from that
record by replaying ``toss_recorded``, so the twin draws exactly the MPC
forest's bags. k-means++ tosses its coin after the inputs; its twin
(harness.twins.kmeanspp_plain) draws the same rows from the coin recomputed
the same way, past the parties' input broadcasts.

scikit-learn: its own estimator on the same split (trees and forests on the
same bin codes as ordinal features; CategoricalNB with alpha 1 and the
declared 17 categories; KMeans with Lloyd and its own k-means++ (greedy,
seeded by SEED), one init, the same maximum of iterations and its default
tolerance; LinearSVC and LogisticRegression with their defaults on the
standardised features).

k-means "accuracy": each model's clusters are matched one-to-one to the
classes by the permutation that agrees with most training labels; the
accuracy is the share of test rows whose matched cluster is their class.
``differing_predictions`` counts test rows whose cluster index differs
between the plaintext and the MPC model. For every other model it counts
test rows whose predicted class differs.

With --json the last line is {"quick": bool, "models": {name: {...}}}, each
model with dataset, rows, train_rows, test_rows, features, classes, setting,
plain_accuracy, mpc_accuracy, sklearn_accuracy (trees and forests also
sklearn_raw_accuracy: the same estimator on the unbinned features), differing_predictions,
identical_result (the revealed result map equals the twin's, text for text),
iterations (k-means: the iterations run, as revealed, and the twin's),
largest_value_gap (the largest |MPC - plaintext| over the result's numbers:
fixed-point rounding), plain_s, mpc_s, preprocessing_s, sklearn_s and tuples
(the tuples the job consumes).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tests"))  # The test harness's plaintext twins (harness.twins).

import _accuracy_twins as twins  # noqa: E402
from _local_job import run_job  # noqa: E402

from offchain.analytics import registry  # noqa: E402
from offchain.analytics.spec import JobSpec  # noqa: E402
from offchain.auditable import routes  # noqa: E402
from offchain.models import model_of  # noqa: E402

PARTIES = tuple("0x" + f"{i + 1:040x}" for i in range(3))
SEED = 7
BINS = 4
MODELS = ("decision_tree", "random_forest", "gaussian_nb", "categorical_nb", "kmeans", "svm",
          "logistic_regression")


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# Data ---------------------------------------------------------------------------------------------
@dataclass
class Split:
    """A dataset's training and test rows (features x, class indices y) and its class names."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: tuple[str, ...]
    columns: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        self.columns = tuple(f"x{i}" for i in range(self.x_train.shape[1]))


def load(name: str, features: int | None = None) -> Split:
    from sklearn import datasets
    from sklearn.model_selection import train_test_split

    bunch = getattr(datasets, f"load_{name}")()
    x = np.asarray(bunch.data, dtype=np.float64)[:, :features]
    y = np.asarray(bunch.target)
    classes = tuple(str(c).replace(" ", "_") for c in bunch.target_names)
    xa, xb, ya, yb = train_test_split(x, y, test_size=0.25, random_state=SEED, stratify=y)
    return Split(name, xa, ya, xb, yb, classes)


def binned(s: Split) -> tuple[np.ndarray, np.ndarray]:
    """Bin codes 0 .. BINS - 1 of the training and test rows, edges the training quantiles."""
    edges = np.quantile(s.x_train, np.arange(1, BINS) / BINS, axis=0)  # (BINS - 1) x features
    def codes(x: np.ndarray) -> np.ndarray:
        return np.stack([np.searchsorted(edges[:, a], x[:, a], side="right") for a in range(x.shape[1])], axis=1)
    return codes(s.x_train), codes(s.x_test)


def standardised(s: Split) -> Split:
    mean, std = s.x_train.mean(axis=0), s.x_train.std(axis=0)
    std[std == 0] = 1.0
    return Split(s.name, (s.x_train - mean) / std, s.y_train, (s.x_test - mean) / std, s.y_test, s.classes)


def parts(n: int) -> list[np.ndarray]:
    """Each party's row indices: round-robin."""
    return [np.arange(p, n, 3) for p in range(3)]


def max_rows(n: int) -> int:
    return -(-n // 3)


# MPC ----------------------------------------------------------------------------------------------
def mpc(spec: JobSpec, columns: dict[str, list[Any]], record: bool = False, coin_after: int = 0
        ) -> tuple[dict[str, str], float, float, bytes | None]:
    """(revealed result, MPC seconds, preprocessing seconds, the joint coin if recorded) of one job."""
    n = len(next(iter(columns.values())))
    tables = [registry.table_from_columns(spec, {c: [v[r] for r in rows] for c, v in columns.items()})
              for rows in parts(n)]
    run = asyncio.run(run_job(spec, tables, record, coin_after))
    return run.result, run.mpc_s, run.preprocessing_s, run.coin


def pooled(a: np.ndarray) -> np.ndarray:
    """Rows in party order (party 0's, then 1's, then 2's), as the twins read them."""
    return np.concatenate([a[rows] for rows in parts(len(a))])


# Models -------------------------------------------------------------------------------------------
@dataclass
class Job:
    """One model's MPC spec, training columns, twin and scikit-learn estimator, on one split."""

    spec: JobSpec
    split: Split
    train: dict[str, list[Any]]         # MPC columns (party split made by ``mpc``)
    rows_train: list[dict[str, Any]]    # rows as model.predict takes them
    rows_test: list[dict[str, Any]]
    twin: Callable[[bytes | None], dict[str, str]]
    sklearn: Callable[[], Any]          # a fitted estimator
    sk_train: np.ndarray
    sk_test: np.ndarray
    note: str
    raw: Callable[[], float] | None = None  # scikit-learn's accuracy on the raw (unbinned) features


def _spec(analysis: str, s: Split, reveal: tuple[str, ...], domains: dict[str, tuple[str, ...]],
          label: bool = True, **params: Any) -> JobSpec:
    fields: dict[str, Any] = {"analysis": analysis, "participants": PARTIES, "reveal": reveal,
                              "columns": s.columns, "domains": domains, "params": params}
    if label:
        fields["label"] = "y"
        fields["domains"] = {**domains, "y": s.classes}
    if analysis in ("decision_tree", "random_forest", "kmeans", "svm", "logistic_regression"):
        fields["max_rows"] = max_rows(len(s.y_train))
    return registry.build_spec(**fields)


def _categorical_rows(s: Split, codes: np.ndarray, names: tuple[str, ...]) -> list[dict[str, Any]]:
    return [{c: names[v] for c, v in zip(s.columns, row, strict=True)} for row in codes.tolist()]


def _numeric_rows(s: Split, x: np.ndarray) -> list[dict[str, Any]]:
    return [dict(zip(s.columns, row, strict=True)) for row in x.tolist()]


def tree_job(quick: bool, forest: bool) -> Job:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.tree import DecisionTreeClassifier

    s = load("breast_cancer", 10)
    a, b = binned(s)
    names = tuple(f"q{i}" for i in range(BINS))
    domains = {c: names for c in s.columns}
    train = {c: [names[v] for v in a[:, i]] for i, c in enumerate(s.columns)} | {
        "y": [s.classes[v] for v in s.y_train]}
    if forest:
        trees, depth = (4, 2) if quick else (16, 3)
        spec = _spec("random_forest", s, ("forest",), domains, max_depth=depth, trees=trees)
        groups = [(a[r], s.y_train[r]) for r in parts(len(a))]

        def twin(coin: bytes | None) -> dict[str, str]:
            if coin is None:
                raise RuntimeError("the forest's twin needs the coin of the MPC run")
            return twins.random_forest(spec, coin, groups)

        def fit() -> Any:
            return RandomForestClassifier(n_estimators=trees, max_depth=depth, random_state=SEED).fit(a, s.y_train)

        note = f"{trees} trees, depth {depth}, {spec.params.max_features or 3} features per node"
    else:
        depth = 3 if quick else 4
        spec = _spec("decision_tree", s, ("tree",), domains, max_depth=depth)

        def twin(coin: bytes | None) -> dict[str, str]:
            return twins.decision_tree(spec, pooled(a), pooled(s.y_train))

        def fit() -> Any:
            return DecisionTreeClassifier(max_depth=depth, random_state=SEED).fit(a, s.y_train)

        note = f"depth {depth}, Gini"
    def raw() -> float:
        model = RandomForestClassifier(n_estimators=trees, max_depth=depth, random_state=SEED) if forest else (
            DecisionTreeClassifier(max_depth=depth, random_state=SEED))
        return float(model.fit(s.x_train, s.y_train).score(s.x_test, s.y_test))

    return Job(spec, s, train, _categorical_rows(s, a, names), _categorical_rows(s, b, names), twin, fit,
               a, b, note + f"; {BINS} quantile bins per feature", raw)


def gaussian_job(quick: bool) -> Job:
    from sklearn.naive_bayes import GaussianNB

    s = load("wine")
    spec = _spec("gaussian_naive_bayes", s, ("count", "mean", "variance"), {})
    train = {c: s.x_train[:, i].tolist() for i, c in enumerate(s.columns)} | {"y": [s.classes[v] for v in s.y_train]}
    return Job(spec, s, train, _numeric_rows(s, s.x_train), _numeric_rows(s, s.x_test),
               lambda _: twins.gaussian_nb(spec, pooled(s.x_train), pooled(s.y_train)),
               lambda: GaussianNB().fit(s.x_train, s.y_train), s.x_train, s.x_test, "raw features")


def categorical_job(quick: bool) -> Job:
    from sklearn.naive_bayes import CategoricalNB

    full = load("digits")
    keep = np.sort(np.argsort(-full.x_train.var(axis=0), kind="stable")[:32])  # A spec reads 32 columns at most.
    s = Split(full.name, full.x_train[:, keep], full.y_train, full.x_test[:, keep], full.y_test, full.classes)
    names = tuple(str(v) for v in range(17))
    a, b = s.x_train.astype(np.int64), s.x_test.astype(np.int64)
    spec = _spec("naive_bayes", s, ("counts",), {c: names for c in s.columns})
    train = {c: [names[v] for v in a[:, i]] for i, c in enumerate(s.columns)} | {"y": [s.classes[v] for v in s.y_train]}
    return Job(spec, s, train, _categorical_rows(s, a, names), _categorical_rows(s, b, names),
               lambda _: twins.categorical_nb(spec, a, s.y_train),
               lambda: CategoricalNB(alpha=1.0, min_categories=17).fit(a, s.y_train), a, b,
               "32 pixels of most training variance, values 0..16 as categories, Laplace smoothing 1")


def kmeans_job(quick: bool) -> Job:
    from sklearn.cluster import KMeans

    s = load("iris")
    k, iterations, tolerance, runs = len(s.classes), 5 if quick else 10, 1e-4, 1 if quick else 3
    spec = _spec("kmeans", s, ("centroids", "sizes", "iterations"), {}, label=False, init="kmeans++",
                 clusters=k, iterations=iterations, tolerance=tolerance, n_init=runs)
    train = {c: s.x_train[:, i].tolist() for i, c in enumerate(s.columns)}

    def fit() -> Any:
        return KMeans(k, init="k-means++", n_init=runs, max_iter=iterations, random_state=SEED,
                      algorithm="lloyd").fit(s.x_train)

    return Job(spec, s, train, _numeric_rows(s, s.x_train), _numeric_rows(s, s.x_test),
               lambda coin: twins.kmeans(spec, [s.x_train[r] for r in parts(len(s.x_train))], coin), fit,
               s.x_train, s.x_test,
               f"{k} clusters, k-means++ seeding from the joint coin, at most {iterations} iterations, "
               f"tolerance {tolerance:g}, best of {runs} runs by inertia")


def linear_job(quick: bool, analysis: str) -> Job:
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

    s = standardised(load("breast_cancer", 10))
    steps, n = (8 if quick else 20), len(s.y_train)
    rate = round(1.0 / n, 6) if analysis == "svm" else round(4.0 / n, 6)
    spec = _spec(analysis, s, ("coefficients", "intercept"), {}, iterations=steps, learning_rate=rate,
                 regularization=0.01 if analysis == "svm" else 0.0)
    train = {c: s.x_train[:, i].tolist() for i, c in enumerate(s.columns)} | {"y": [s.classes[v] for v in s.y_train]}
    est = (lambda: LinearSVC(random_state=SEED).fit(s.x_train, s.y_train)) if analysis == "svm" else (
        lambda: LogisticRegression().fit(s.x_train, s.y_train))
    return Job(spec, s, train, _numeric_rows(s, s.x_train), _numeric_rows(s, s.x_test),
               lambda _: twins.linear_classifier(spec, pooled(s.x_train), pooled(s.y_train).astype(np.float64)),
               est, s.x_train, s.x_test,
               f"{steps} steps, learning rate {rate:g} on the summed gradient, standardised features")


JOBS: dict[str, Callable[[bool], Job]] = {
    "decision_tree": lambda q: tree_job(q, forest=False), "random_forest": lambda q: tree_job(q, forest=True),
    "gaussian_nb": gaussian_job, "categorical_nb": categorical_job, "kmeans": kmeans_job,
    "svm": lambda q: linear_job(q, "svm"), "logistic_regression": lambda q: linear_job(q, "logistic_regression"),
}


# Scoring ------------------------------------------------------------------------------------------
def matched_accuracy(train_pred: list[int], y_train: np.ndarray, test_pred: list[int], y_test: np.ndarray,
                     k: int) -> float:
    """Test accuracy under the cluster -> class permutation that agrees with most training labels."""
    best = max(itertools.permutations(range(k)),
               key=lambda m: sum(m[c] == y for c, y in zip(train_pred, y_train.tolist(), strict=True)))
    return float(np.mean([best[c] == y for c, y in zip(test_pred, y_test.tolist(), strict=True)]))


def measure(name: str, quick: bool) -> dict[str, Any]:
    job = JOBS[name](quick)
    s, spec = job.split, job.spec
    log(f"{name}: {s.name}, {len(s.y_train)} training rows, MPC ...")
    seeded = spec.analysis == "kmeans" and spec.params.init == "kmeans++"
    # The forest tosses its coin before any input; k-means++ after the parties' input broadcasts.
    result, mpc_s, pre_s, coin = mpc(spec, job.train, record=spec.analysis == "random_forest" or seeded,
                                     coin_after=len(spec.participants) if seeded else 0)
    started = time.perf_counter()
    plain_result = job.twin(coin)
    plain_s = time.perf_counter() - started
    started = time.perf_counter()
    estimator = job.sklearn()
    sklearn_s = time.perf_counter() - started
    mpc_model, plain_model = model_of(spec, result), model_of(spec, plain_result)
    mpc_pred, plain_pred = mpc_model.predict(job.rows_test), plain_model.predict(job.rows_test)
    sk_pred = estimator.predict(job.sk_test).tolist()
    if spec.analysis == "kmeans":
        k = len(s.classes)
        def score(model: Any, test: list[Any]) -> float:
            return matched_accuracy(model.predict(job.rows_train), s.y_train, test, s.y_test, k)
        mpc_acc, plain_acc = score(mpc_model, mpc_pred), score(plain_model, plain_pred)
        sk_acc = matched_accuracy(estimator.predict(job.sk_train).tolist(), s.y_train, sk_pred, s.y_test, k)
    else:
        truth = [s.classes[v] for v in s.y_test]
        mpc_acc = float(np.mean([p == t for p, t in zip(mpc_pred, truth, strict=True)]))
        plain_acc = float(np.mean([p == t for p, t in zip(plain_pred, truth, strict=True)]))
        sk_acc = float(np.mean(np.asarray(sk_pred) == s.y_test))
    differ = sum(a != b for a, b in zip(mpc_pred, plain_pred, strict=True))
    same_model = result == plain_result
    gaps = [abs(float(v) - float(plain_result[k])) for k, v in result.items()
            if k in plain_result and _number(v) and _number(plain_result[k])]
    return {"dataset": s.name, "rows": len(s.y_train) + len(s.y_test), "train_rows": len(s.y_train),
            "test_rows": len(s.y_test), "features": len(s.columns), "classes": len(s.classes),
            "analysis": spec.analysis, "setting": job.note,
            "plain_accuracy": round(plain_acc, 4), "mpc_accuracy": round(mpc_acc, 4),
            "sklearn_accuracy": round(sk_acc, 4),
            **({"sklearn_raw_accuracy": round(job.raw(), 4)} if job.raw else {}), "differing_predictions": int(differ),
            "identical_result": same_model, "largest_value_gap": round(max(gaps, default=0.0), 6),
            "plain_s": round(plain_s, 4), "mpc_s": round(mpc_s, 3),
            "preprocessing_s": round(pre_s, 3), "sklearn_s": round(sklearn_s, 4),
            "tuples": sum(c for _, c in routes.needs(spec)),
            **({"iterations": result["iterations"], "plain_iterations": plain_result["iterations"]}
               if "iterations" in result else {})}


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# Output -------------------------------------------------------------------------------------------
def table(models: dict[str, dict[str, Any]]) -> str:
    head = (f"{'model':<20} {'dataset':<14} {'train':>5} {'test':>4} {'plain':>6} {'MPC':>6} {'sklearn':>7} "
            f"{'differ':>6} {'plain s':>8} {'MPC s':>8}")
    lines = [head, "-" * len(head)]
    for name, m in models.items():
        lines.append(f"{name:<20} {m['dataset']:<14} {m['train_rows']:>5} {m['test_rows']:>4} "
                     f"{m['plain_accuracy']:>6.3f} {m['mpc_accuracy']:>6.3f} {m['sklearn_accuracy']:>7.3f} "
                     f"{m['differing_predictions']:>6} {m['plain_s']:>8.3f} {m['mpc_s']:>8.2f}")
    return "\n".join(lines)


def plot(models: dict[str, dict[str, Any]], path: Path, quick: bool) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(models)
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(10, 4.8))
    bars = (("plaintext", "plain_accuracy", "#4c72b0"), ("MPC (3 parties)", "mpc_accuracy", "#dd8452"),
            ("scikit-learn", "sklearn_accuracy", "#8c8c8c"))
    for i, (label, key, colour) in enumerate(bars):
        values = [models[n][key] for n in names]
        drawn = ax.bar(x + (i - 1) * 0.27, values, 0.27, label=label, color=colour)
        ax.bar_label(drawn, labels=[f"{v:.2f}" for v in values], fontsize=7, padding=1)
    ax.set_xticks(x, [f"{n}\n({models[n]['dataset']})" for n in names], fontsize=8)
    ax.set_ylim(0, 1.15)
    ax.set_ylabel("test accuracy")
    ax.set_title("mpcc: test accuracy, plaintext vs MPC vs scikit-learn" + (" (--quick)" if quick else ""))
    ax.legend(loc="upper center", ncol=3, fontsize=8, frameon=False)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer descent steps, iterations, trees and levels")
    ap.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    ap.add_argument("--plot", type=Path, help="write a PNG bar chart of the accuracies here")
    ap.add_argument("--model", action="append", choices=MODELS, help="only this model (repeat for more)")
    args = ap.parse_args()
    started = time.perf_counter()
    models = {name: measure(name, args.quick) for name in (args.model or MODELS)}
    print(table(models))
    log(f"total {time.perf_counter() - started:.1f} s")
    if args.plot:
        plot(models, args.plot, args.quick)
        log(f"wrote {args.plot}")
    if args.json:
        print(json.dumps({"quick": args.quick, "models": models}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
