"""Models of finalised jobs (offchain.models) against scikit-learn and numpy trained on the same rows.

Each model analysis runs under MPC between 3 parties on the example patient
tables (examples/patients_party_{a,b,c}.csv); its result is read into a model
whose predictions on the pooled rows are compared with the plaintext
equivalent's, then exported, loaded back and turned into a scikit-learn
estimator, which must predict the same.
"""

from __future__ import annotations

import asyncio
import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.svm import LinearSVC
from sklearn.naive_bayes import CategoricalNB, GaussianNB

from harness.local import run_local
from offchain import models
from offchain.analytics import registry
from offchain.analytics.data import SqlSource, read_features
from offchain.analytics.spec import JobSpec
from offchain.auditable import routes
from offchain.errors import ConfigError
from analytics_testkit import PARTIES
from test_analytics_classifiers import descent
from test_analytics_tree import plain_id3

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
COLUMNS = ("age", "bmi", "systolic", "smoker", "activity", "risk")
#: Regression predictions: the coefficients are within 1e-3 (|beta| + 1) of least squares (the
#: analysis's documented test bound), and printed to 6 places; on these rows (age <= 80, bmi <= 32)
#: that allows about 0.1 mmHg, and the measured difference is far below it.
REGRESSION_TOLERANCE = 0.01


def example_spec(name: str, **changes: Any) -> JobSpec:
    fields = json.loads((EXAMPLES / "specs" / f"{name}.json").read_text())
    return registry.build_spec(**{**fields, **changes, "participants": PARTIES})


def run_job(spec: JobSpec) -> dict[str, str]:
    """The spec's analysis under MPC, each party reading its own example table."""
    tables = [registry.read_table(spec, {c: EXAMPLES / f"patients_party_{t}.csv" for c in COLUMNS}) for t in "abc"]

    async def program(ctx: Any) -> dict[str, str]:
        return await registry.run(ctx, spec, tables[ctx.party])

    results = asyncio.run(run_local(3, program, needs=routes.needs(spec), sacrifice=False, timeout=120))
    assert all(r == results[0] for r in results)
    return results[0]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def pooled() -> list[dict[str, str]]:
    rows = []
    for tag in "abc":
        with (EXAMPLES / f"patients_party_{tag}.csv").open() as handle:
            rows += list(csv.DictReader(handle))
    return rows


@pytest.fixture(scope="module")
def trained() -> dict[str, models.Model]:
    """Every model analysis of the examples, run once under MPC."""
    out = {}
    for name in models.MODEL_ANALYSES:
        spec = example_spec(name)
        out[name] = models.model_of(spec, run_job(spec))
    return out


def numbers(rows: list[dict[str, str]], *columns: str) -> np.ndarray:
    return np.array([[float(r[c]) for c in columns] for r in rows])


def codes(model: models.Model, rows: list[dict[str, str]]) -> np.ndarray:
    return np.array([[domain.index(r[c]) for c, domain in model.categorical.items()] for r in rows])


# Against the plaintext model ------------------------------------------------------------------

def test_gaussian_naive_bayes_predicts_as_sklearn(trained: dict[str, models.Model],
                                                  pooled: list[dict[str, str]]) -> None:
    model = trained["gaussian_naive_bayes"]
    assert isinstance(model, models.GaussianNaiveBayes)
    x, y = numbers(pooled, "age", "bmi"), [r["risk"] for r in pooled]
    plain = GaussianNB().fit(x, y)
    order = [list(plain.classes_).index(c) for c in model.classes]  # sklearn sorts the classes
    assert model.counts == tuple(int(n) for n in plain.class_count_[order])
    assert np.allclose(model.means, plain.theta_[order], rtol=1e-5)
    assert np.allclose(model.variances, plain.var_[order] - plain.epsilon_, rtol=1e-4)
    predicted = model.predict(pooled)
    assert predicted == list(plain.predict(x))
    assert len(set(predicted)) == 2  # Both classes occur: the comparison can fail.


def test_categorical_naive_bayes_predicts_as_sklearn(trained: dict[str, models.Model],
                                                     pooled: list[dict[str, str]]) -> None:
    model = trained["naive_bayes"]
    assert isinstance(model, models.CategoricalNaiveBayes)
    x, y = codes(model, pooled), np.array([r["risk"] for r in pooled])
    classes = ["low", "high"]
    # bayes.predict_categorical smooths the prior too: (n_c + 1) / (n + 2); sklearn's own prior does not.
    prior = [((y == c).sum() + 1) / (len(y) + 2) for c in sorted(classes)]
    plain = CategoricalNB(alpha=1.0, class_prior=prior).fit(x, y)
    for f, counts in enumerate(model.category_counts):
        order = [list(plain.classes_).index(c) for c in classes]
        assert np.array_equal(np.array(counts), plain.category_count_[f][order])
    predicted = model.predict(pooled)
    assert predicted == list(plain.predict(x)) and len(set(predicted)) == 2


def test_decision_tree_predicts_as_the_plaintext_id3_tree(trained: dict[str, models.Model],
                                                          pooled: list[dict[str, str]]) -> None:
    model = trained["decision_tree"]
    assert isinstance(model, models.DecisionTree)
    spec = model.spec
    columns = {c: [r[c] for r in pooled] for c in (*spec.columns, "risk")}
    plain = plain_id3(columns, spec.columns, "risk", spec.domains, spec.params.max_depth or 0)
    assert dict(model.result) == plain
    walked = []
    for row in pooled:
        path: list[str] = []
        while not plain["node[" + ",".join(path) + "]"].startswith("leaf:"):
            feature = plain["node[" + ",".join(path) + "]"][6:]
            path.append(f"{feature}={row[feature]}")
        walked.append(plain["node[" + ",".join(path) + "]"][5:])
    predicted = model.predict(pooled)
    assert predicted == walked and len(set(predicted)) == 2
    accuracy = np.mean([p == r["risk"] for p, r in zip(predicted, pooled, strict=True)])
    assert accuracy > 0.7  # The tree learned something from the rows it predicts.


def test_kmeans_assigns_as_sklearn_lloyd_from_the_same_start(trained: dict[str, models.Model],
                                                             pooled: list[dict[str, str]]) -> None:
    model = trained["kmeans"]
    assert isinstance(model, models.KMeans)
    x = numbers(pooled, "age", "bmi")
    start = np.array(model.spec.params.centroids)
    plain = KMeans(n_clusters=2, init=start, n_init=1, max_iter=model.spec.params.iterations, tol=0,
                   algorithm="lloyd").fit(x)
    assert np.allclose(model.centroids, plain.cluster_centers_, atol=1e-4)
    predicted = model.predict(pooled)
    assert predicted == [int(j) for j in plain.predict(x)] and set(predicted) == {0, 1}
    assert model.sizes is not None and list(model.sizes) == list(np.bincount(plain.labels_))


def test_linear_regression_predicts_as_least_squares_within_the_stated_tolerance(
        trained: dict[str, models.Model], pooled: list[dict[str, str]]) -> None:
    model = trained["linear_regression"]
    assert isinstance(model, models.LinearRegression)
    x, y = numbers(pooled, "age", "bmi"), numbers(pooled, "systolic")[:, 0]
    plain = LinearRegression().fit(x, y)
    got, want = np.array(model.predict(pooled)), plain.predict(x)
    assert np.max(np.abs(got - want)) <= REGRESSION_TOLERANCE
    assert np.max(np.abs(got - y)) > 1  # Real residuals: equal predictions are not the data echoed.


@pytest.mark.parametrize("name", ["logistic_regression", "svm"])
def test_linear_classifiers_predict_as_the_plaintext_descent(name: str, trained: dict[str, models.Model],
                                                             pooled: list[dict[str, str]]) -> None:
    model = trained[name]
    assert isinstance(model, models.LinearClassifier)
    p = model.spec.params
    x, y = numbers(pooled, "age", "bmi"), np.array([r["risk"] == "high" for r in pooled], dtype=int)
    want = descent(name, x, y, p.iterations, p.learning_rate or 0.0, p.regularization)
    got = np.array([*model.coefficients, model.intercept])
    assert np.abs(got - want).max() <= 1e-5  # The documented bounds are far below this on these rows.
    scores = x @ want[:-1] + want[-1]
    assert np.abs(scores).min() > 1e-3  # No row on the boundary: equal predictions are expected.
    predicted = model.predict(pooled)
    assert predicted == [("low", "high")[int(s > 0)] for s in scores] and len(set(predicted)) == 2
    if isinstance(model, models.LogisticRegression):
        assert np.allclose(model.predict_proba(pooled), 1 / (1 + np.exp(-(x @ got[:-1] + got[-1]))))


# Export, load, scikit-learn ------------------------------------------------------------------

@pytest.mark.parametrize("name", models.MODEL_ANALYSES)
def test_export_round_trips_and_sklearn_predicts_the_same(name: str, trained: dict[str, models.Model],
                                                           pooled: list[dict[str, str]]) -> None:
    model = trained[name]
    text = models.dumps(model, job=7, result_hash="0x" + "ab" * 32)
    data = json.loads(text)
    assert (data["format"], data["version"], data["type"], data["job"]) == ("mpcc-model", 1, name, 7)
    assert data["result"] == dict(model.result) and JobSpec.parse(json.dumps(data["spec"])) == model.spec
    loaded = models.loads(text)
    assert loaded == model and loaded.predict(pooled) == model.predict(pooled)
    if name in ("decision_tree", "random_forest"):
        with pytest.raises(ConfigError, match="no scikit-learn equivalent"):
            models.to_sklearn(model)
        return
    estimator = models.to_sklearn(loaded)
    x = codes(model, pooled) if model.categorical else numbers(pooled, *model.numeric)
    got = estimator.predict(x).tolist()
    if name == "linear_regression":
        assert np.allclose(got, model.predict(pooled), rtol=0, atol=1e-9)
    else:
        assert got == model.predict(pooled)
    if isinstance(model, models.LogisticRegression):
        assert isinstance(estimator, LogisticRegression)
        assert np.allclose(estimator.predict_proba(x)[:, 1], model.predict_proba(pooled), rtol=0, atol=1e-12)
    if isinstance(model, models.LinearSVM):
        assert isinstance(estimator, LinearSVC)


def test_an_edited_or_foreign_export_is_refused(trained: dict[str, models.Model]) -> None:
    data = models.export(trained["kmeans"])
    data["parameters"]["centroids"][0][0] += 1
    with pytest.raises(ConfigError, match="'parameters' differs .* edited"):
        models.load(data)
    for bad, message in (({**models.export(trained["kmeans"]), "version": 2}, "version 2"),
                         ({"format": "other"}, "not an mpcc model export"),
                         ({**models.export(trained["kmeans"]), "type": "decision_tree"}, "analysis is kmeans")):
        with pytest.raises(ConfigError, match=message):
            models.load(bad)
    with pytest.raises(ConfigError, match="not valid JSON"):
        models.loads('{"format": ')


# Bad input -----------------------------------------------------------------------------------

def test_a_job_without_a_model_and_a_result_of_another_spec_are_refused(trained: dict[str, models.Model]) -> None:
    mean = registry.build_spec(analysis="mean", column="age", reveal=("count", "mean"), participants=PARTIES)
    with pytest.raises(ConfigError, match="a mean job's result is not a model"):
        models.model_of(mean, {"count": "24", "mean": "50.0"})
    tree = trained["decision_tree"]
    with pytest.raises(ConfigError, match="no 'node\\[\\]'"):
        models.model_of(tree.spec, {"count": "24"})
    with pytest.raises(ConfigError, match="neither a leaf of a class nor a split"):
        models.model_of(tree.spec, {"node[]": "leaf:maybe"})


def test_rows_the_model_cannot_read_are_refused_naming_row_and_feature(trained: dict[str, models.Model]) -> None:
    with pytest.raises(ConfigError, match="row 2 has no 'bmi'"):
        trained["kmeans"].predict([{"age": 30, "bmi": 20}, {"age": 40}])
    with pytest.raises(ConfigError, match="row 1: age='old' is not a number"):
        trained["linear_regression"].predict([{"age": "old", "bmi": 20}])
    # A tree has a branch per declared value only: an unseen value is refused, never guessed.
    with pytest.raises(ConfigError, match=r"row 1: smoker='sometimes' is not in the model's domain \['no', 'yes'\]"):
        trained["decision_tree"].predict([{"smoker": "sometimes", "activity": "low"}])
    noisy = trained["naive_bayes"]
    counts = {k: ("-3" if k == "count[smoker=no,risk=high]" else v) for k, v in noisy.result.items()}
    noisy_model = models.model_of(noisy.spec, counts)  # As noise can make a count.
    assert noisy_model.predict([{"smoker": "yes", "activity": "low"}]) == ["high"]
    with pytest.raises(ConfigError, match="row 2: a count of the model plus the smoothing .1. is 0 or negative"):
        noisy_model.predict([{"smoker": "yes", "activity": "low"}, {"smoker": "no", "activity": "low"}])
    secret = example_spec("linear_regression", reveal=["coefficients"])
    slopes = models.model_of(secret, {k: v for k, v in trained["linear_regression"].result.items() if k != "intercept"})
    assert models.export(slopes)["parameters"]["intercept"] is None
    with pytest.raises(ConfigError, match="did not reveal its intercept"):
        slopes.predict([{"age": 30, "bmi": 20}])


def test_read_features_reads_csv_and_sqlite_and_names_what_is_missing(tmp_path: Path,
                                                                      trained: dict[str, models.Model]) -> None:
    import sqlite3

    tree = trained["decision_tree"]
    database = tmp_path / "patients.db"
    with sqlite3.connect(database) as db:
        db.execute("CREATE TABLE p (smokes TEXT, activity TEXT)")
        db.executemany("INSERT INTO p VALUES (?, ?)", [("yes", "low"), ("no", "high")])
    source = SqlSource(database, "SELECT smokes AS smoker, activity FROM p")
    table, lines = read_features(source, (), tree.categorical, 1 << 43, "")
    assert list(lines) == [1, 2] and tree.predict(models.records(tree, table)) == ["high", "low"]
    with pytest.raises(ConfigError, match="no column 'smoker'.*name it with AS smoker.*; do this"):
        read_features(SqlSource(database, "SELECT * FROM p"), (), tree.categorical, 1 << 43, "; do this")
    bad = tmp_path / "bad.csv"
    bad.write_text("age,bmi\n30,20\n41,heavy\n")
    with pytest.raises(ConfigError, match="bad.csv, row 3, column 'bmi': 'heavy' is not a number"):
        read_features(bad, ("age", "bmi"), {}, 1 << 43, "")
