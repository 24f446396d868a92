"""Typed models of finalised jobs: a model analysis's revealed result, read with its spec, ready to predict.

A model job's result is a flat map of strings (what ``mpcc job result --json``
shows; each analysis's keys are in docs/reference/analyses.md). ``model_of``
reads it, with the job's spec, into one frozen dataclass per analysis. The
spec and the result stay in the model: they are the source of every
parameter, and what an export carries so that a loaded file is rebuilt
exactly (offchain.models.export).

Prediction is public arithmetic on the revealed values, outside MPC:

- naive Bayes (Gaussian and categorical) calls ``offchain.analytics.bayes``,
  the same functions the plaintext reference uses, so equal models predict
  equally;
- a decision tree walks its revealed nodes. Every split has a branch for
  each value of the feature's declared domain, so any declared value
  routes. A value outside the domain is refused (``ConfigError`` naming the
  row, the feature and the domain): the result reveals no class at a split
  node to fall back on;
- a random forest walks each of its trees so and predicts the class most
  trees vote for, ties to the first class of the label's domain (as
  ``offchain.analytics.forest.predict``);
- k-means assigns the nearest centroid in squared Euclidean distance, ties to
  the lowest index as under MPC;
- a linear regression computes intercept + sum_a beta_a x_a; a job that kept
  its intercept secret exports but does not predict;
- a logistic regression and a linear SVM compute the score intercept +
  sum_a w_a x_a and predict the label's second (positive) class where it is
  above 0, the first otherwise, as scikit-learn's linear classifiers do; a
  logistic regression's probability of the positive class is the exact
  sigmoid 1 / (1 + e^-score) (training used an approximation, see
  offchain.analytics.classifiers).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from offchain.analytics import bayes, kmeans_seeding
from offchain.analytics.data import Table
from offchain.analytics.spec import JobSpec
from offchain.errors import ConfigError

#: The analyses whose result is a model, in the order the docs list them.
MODEL_ANALYSES: Final = ("gaussian_naive_bayes", "naive_bayes", "decision_tree", "random_forest", "kmeans",
                         "linear_regression", "logistic_regression", "svm")

#: One row to predict: feature name -> a number (numeric features) or a domain value (categorical ones).
Row = Mapping[str, object]
Prediction = str | int | float


@dataclass(frozen=True)
class Model:
    """What every model holds: its job's spec and revealed result."""

    spec: JobSpec
    result: Mapping[str, str]

    @property
    def analysis(self) -> str:
        return self.spec.analysis

    @property
    def numeric(self) -> tuple[str, ...]:
        """The numeric features prediction reads, in spec order."""
        return ()

    @property
    def categorical(self) -> dict[str, tuple[str, ...]]:
        """The categorical features prediction reads, each with its declared domain."""
        return {}

    def target(self) -> dict[str, Any]:
        """What a prediction is: a class of the label, a number, or a cluster index."""
        label = self.spec.label or ""
        return {"name": label, "kind": "categorical", "values": list(self.spec.domain(label))}

    def parameters(self) -> dict[str, Any]:
        """The model's numbers as JSON values (the ``parameters`` of the export schema)."""
        raise NotImplementedError

    def predict(self, rows: Sequence[Row]) -> list[Prediction]:
        """One prediction per row."""
        raise NotImplementedError

    def _numbers(self, rows: Sequence[Row]) -> np.ndarray:
        """The numeric features of every row as a (rows, features) float array."""
        out = np.empty((len(rows), len(self.numeric)))
        for i, row in enumerate(rows):
            for a, name in enumerate(self.numeric):
                out[i, a] = _number(row, name, i)
        return out

    def _categories(self, row: Row, i: int) -> dict[str, str]:
        """The categorical features of a row, each checked against its domain."""
        record = {}
        for name, domain in self.categorical.items():
            value = str(_cell(row, name, i)).strip()
            if value not in domain:
                raise ConfigError(f"row {i + 1}: {name}={value!r} is not in the model's domain {list(domain)}; "
                                  "the model has no branch or count for it")
            record[name] = value
        return record


@dataclass(frozen=True)
class GaussianNaiveBayes(Model):
    """Per class: the count, and each feature's mean and (population) variance."""

    classes: tuple[str, ...]
    counts: tuple[int, ...]
    means: tuple[tuple[float, ...], ...]      # [class][feature]
    variances: tuple[tuple[float, ...], ...]  # [class][feature], as revealed (noise may make one negative)

    @property
    def numeric(self) -> tuple[str, ...]:
        return self.spec.columns

    @property
    def added_variance(self) -> float:
        """What prediction adds to every variance (``bayes.added_variance``)."""
        return bayes.added_variance((max(v, 0.0) for vs in self.variances for v in vs), self.spec.fixed_point.f)

    def parameters(self) -> dict[str, Any]:
        return {"classes": list(self.classes), "class_count": list(self.counts),
                "mean": [list(m) for m in self.means], "variance": [list(v) for v in self.variances],
                "added_variance": self.added_variance}

    def predict(self, rows: Sequence[Row]) -> list[Prediction]:
        x = self._numbers(rows)
        return [bayes.predict_gaussian(self.spec, self.result, dict(zip(self.numeric, map(float, r), strict=True)))
                for r in x]


@dataclass(frozen=True)
class CategoricalNaiveBayes(Model):
    """The count table: class counts, and per feature the (value, class) counts."""

    classes: tuple[str, ...]
    counts: tuple[int, ...]
    category_counts: tuple[tuple[tuple[int, ...], ...], ...]  # [feature][class][value]

    @property
    def categorical(self) -> dict[str, tuple[str, ...]]:
        return {c: self.spec.domain(c) for c in self.spec.columns}

    def parameters(self) -> dict[str, Any]:
        return {"classes": list(self.classes), "smoothing": self.spec.params.smoothing,
                "class_count": list(self.counts),
                "category_count": [[list(per_class) for per_class in f] for f in self.category_counts]}

    def predict(self, rows: Sequence[Row]) -> list[Prediction]:
        out: list[Prediction] = []
        for i, row in enumerate(rows):
            record = self._categories(row, i)
            try:
                out.append(bayes.predict_categorical(self.spec, self.result, record))
            except ValueError:  # math.log of a smoothed count that is 0 or negative
                raise ConfigError(f"row {i + 1}: a count of the model plus the smoothing "
                                  f"({self.spec.params.smoothing:g}) is 0 or negative (a noisy count, or smoothing "
                                  "0), so it gives no probability for this row") from None
        return out


@dataclass(frozen=True)
class Node:
    """A node of a revealed tree: a leaf's class, or a split's feature and a child per domain value."""

    leaf: str | None = None
    split: str | None = None
    children: Mapping[str, Node] | None = None

    def as_json(self) -> dict[str, Any]:
        if self.leaf is not None:
            return {"leaf": self.leaf}
        return {"split": self.split, "children": {v: c.as_json() for v, c in (self.children or {}).items()}}


@dataclass(frozen=True)
class DecisionTree(Model):
    """An ID3 tree over categorical features (multiway splits: one branch per declared value)."""

    root: Node

    @property
    def categorical(self) -> dict[str, tuple[str, ...]]:
        used = _split_features(self.root)
        return {c: self.spec.domain(c) for c in self.spec.columns if c in used}

    def parameters(self) -> dict[str, Any]:
        return {"classes": list(self.spec.domain(self.spec.label or "")), "root": self.root.as_json()}

    def predict(self, rows: Sequence[Row]) -> list[Prediction]:
        out: list[Prediction] = []
        for i, row in enumerate(rows):
            record, node = self._categories(row, i), self.root
            while node.leaf is None:
                node = (node.children or {})[record[node.split or ""]]
            out.append(node.leaf)
        return out


@dataclass(frozen=True)
class RandomForest(Model):
    """Bagged ID3 trees over categorical features; the forest predicts their majority vote."""

    roots: tuple[Node, ...]

    @property
    def categorical(self) -> dict[str, tuple[str, ...]]:
        used = set().union(*(_split_features(r) for r in self.roots))
        return {c: self.spec.domain(c) for c in self.spec.columns if c in used}

    def parameters(self) -> dict[str, Any]:
        return {"classes": list(self.spec.domain(self.spec.label or "")),
                "trees": [r.as_json() for r in self.roots]}

    def predict(self, rows: Sequence[Row]) -> list[Prediction]:
        classes = self.spec.domain(self.spec.label or "")
        out: list[Prediction] = []
        for i, row in enumerate(rows):
            record, tally = self._categories(row, i), [0] * len(classes)
            for node in self.roots:
                while node.leaf is None:
                    node = (node.children or {})[record[node.split or ""]]
                tally[classes.index(node.leaf)] += 1
            out.append(classes[tally.index(max(tally))])  # index(): the first class on a tie
        return out


@dataclass(frozen=True)
class KMeans(Model):
    """The final centroids (and, if revealed, the cluster sizes of the last assignment)."""

    centroids: tuple[tuple[float, ...], ...]  # [cluster][feature]
    sizes: tuple[int, ...] | None

    @property
    def numeric(self) -> tuple[str, ...]:
        return self.spec.columns

    def target(self) -> dict[str, Any]:
        return {"name": "cluster", "kind": "index", "values": list(range(len(self.centroids)))}

    def parameters(self) -> dict[str, Any]:
        return {"centroids": [list(c) for c in self.centroids],
                "sizes": list(self.sizes) if self.sizes is not None else None}

    def predict(self, rows: Sequence[Row]) -> list[Prediction]:
        x, c = self._numbers(rows), np.asarray(self.centroids)
        distances = ((x[:, None, :] - c[None, :, :]) ** 2).sum(axis=2)
        return [int(j) for j in np.argmin(distances, axis=1)]  # argmin: the first (lowest) index on a tie


@dataclass(frozen=True)
class LinearRegression(Model):
    """Least-squares coefficients, one per feature, and the intercept if the job revealed it."""

    coefficients: tuple[float, ...]
    intercept: float | None

    @property
    def numeric(self) -> tuple[str, ...]:
        return self.spec.columns

    def target(self) -> dict[str, Any]:
        return {"name": self.spec.label or "", "kind": "numeric"}

    def parameters(self) -> dict[str, Any]:
        return {"coefficients": list(self.coefficients), "intercept": self.intercept}

    def predict(self, rows: Sequence[Row]) -> list[Prediction]:
        if self.intercept is None:
            raise ConfigError("this regression's spec did not reveal its intercept, so it cannot predict "
                              '(only the slopes are known); propose it again with "intercept" in reveal')
        x = self._numbers(rows)
        return [float(y) for y in x @ np.asarray(self.coefficients) + self.intercept]


@dataclass(frozen=True)
class LinearClassifier(Model):
    """A binary linear classifier: a weight per feature and an intercept, the label's two classes."""

    coefficients: tuple[float, ...]
    intercept: float

    @property
    def numeric(self) -> tuple[str, ...]:
        return self.spec.columns

    @property
    def classes(self) -> tuple[str, ...]:
        """The label's domain: the first class below a score of 0, the second (positive) above."""
        return self.spec.domain(self.spec.label or "")

    def parameters(self) -> dict[str, Any]:
        return {"classes": list(self.classes), "coefficients": list(self.coefficients),
                "intercept": self.intercept}

    def scores(self, rows: Sequence[Row]) -> np.ndarray:
        """intercept + sum_a w_a x_a for every row."""
        scores: np.ndarray = self._numbers(rows) @ np.asarray(self.coefficients) + self.intercept
        return scores

    def predict(self, rows: Sequence[Row]) -> list[Prediction]:
        return [self.classes[1] if score > 0 else self.classes[0] for score in self.scores(rows)]


@dataclass(frozen=True)
class LogisticRegression(LinearClassifier):
    """Logistic regression trained by gradient descent under MPC."""

    def predict_proba(self, rows: Sequence[Row]) -> list[float]:
        """The probability of the positive class (the label's second value) for every row."""
        return [float(p) for p in 1.0 / (1.0 + np.exp(-self.scores(rows)))]


@dataclass(frozen=True)
class LinearSVM(LinearClassifier):
    """A linear support vector machine (hinge loss, L2 penalty) trained by subgradient descent under MPC."""


def model_of(spec: JobSpec, result: Mapping[str, str]) -> Model:
    """The typed model of a finalised job; ``ConfigError`` if its analysis has none or the result does not fit."""
    build = _BUILDERS.get(spec.analysis)
    if build is None:
        raise ConfigError(f"a {spec.analysis} job's result is not a model; models come from "
                          f"{', '.join(MODEL_ANALYSES)} jobs")
    try:
        return build(spec, dict(result))
    except KeyError as err:
        raise ConfigError(f"the result has no {err.args[0]!r}: it is not the result of this "
                          f"{spec.analysis} spec") from None
    except ValueError as err:
        raise ConfigError(f"the result does not hold a {spec.analysis} model: {err}") from None


def records(model: Model, table: Table) -> list[dict[str, object]]:
    """A validated table's rows (``data.read_features``) as the rows ``predict`` takes."""
    rows: list[dict[str, object]] = [{} for _ in range(table.rows)]
    for name in model.numeric:
        for row, value in zip(rows, table.numeric[name].tolist(), strict=True):
            row[name] = value
    for name, domain in model.categorical.items():
        for row, code in zip(rows, table.codes[name].tolist(), strict=True):
            row[name] = domain[code]
    return rows


def _gaussian(spec: JobSpec, result: dict[str, str]) -> Model:
    label, classes = spec.label or "", spec.domain(spec.label or "")
    return GaussianNaiveBayes(
        spec, result, classes, tuple(int(result[f"count[{label}={c}]"]) for c in classes),
        tuple(tuple(float(result[f"mean.{f}[{label}={c}]"]) for f in spec.columns) for c in classes),
        tuple(tuple(float(result[f"variance.{f}[{label}={c}]"]) for f in spec.columns) for c in classes))


def _categorical(spec: JobSpec, result: dict[str, str]) -> Model:
    label, classes = spec.label or "", spec.domain(spec.label or "")
    table = tuple(tuple(tuple(int(result[f"count[{f}={v},{label}={c}]"]) for v in spec.domain(f)) for c in classes)
                  for f in spec.columns)
    return CategoricalNaiveBayes(spec, result, classes, tuple(int(result[f"count[{label}={c}]"]) for c in classes),
                                 table)


def _tree(spec: JobSpec, result: dict[str, str]) -> Model:
    return DecisionTree(spec, result, _root(spec, result, ""))


def _forest(spec: JobSpec, result: dict[str, str]) -> Model:
    trees = spec.params.trees or 0
    roots = tuple(_root(spec, result, f"tree[{j}].") for j in range(trees))
    extra = sorted(k for k in result if not k.startswith(tuple(f"tree[{j}].node[" for j in range(trees))))
    if extra:
        raise ValueError(f"{extra[0]!r} is no node of the spec's {trees} trees")
    return RandomForest(spec, result, roots)


def _root(spec: JobSpec, result: dict[str, str], prefix: str) -> Node:
    """The tree whose nodes are the result's ``prefix``node[...] keys."""
    def node(path: tuple[str, ...]) -> Node:
        kind, _, name = result[prefix + "node[" + ",".join(path) + "]"].partition(":")
        if kind == "leaf" and name in spec.domain(spec.label or ""):
            return Node(leaf=name)
        if kind == "split" and name in spec.columns:
            return Node(split=name, children={v: node((*path, f"{name}={v}")) for v in spec.domain(name)})
        raise ValueError(f"{prefix}node[{','.join(path)}] is {kind}:{name}, neither a leaf of a class nor a "
                         "split on a feature")

    return node(())


def _kmeans(spec: JobSpec, result: dict[str, str]) -> Model:
    k = kmeans_seeding.clusters(spec)
    centroids = tuple(tuple(float(result[f"centroid[{j}].{a}"]) for a in spec.columns) for j in range(k))
    sizes = tuple(int(result[f"size[{j}]"]) for j in range(k)) if "sizes" in spec.reveal else None
    return KMeans(spec, result, centroids, sizes)


def _regression(spec: JobSpec, result: dict[str, str]) -> Model:
    intercept = float(result["intercept"]) if "intercept" in spec.reveal else None
    return LinearRegression(spec, result, tuple(float(result[f"coefficient[{a}]"]) for a in spec.columns), intercept)


def _classifier(spec: JobSpec, result: dict[str, str]) -> Model:
    cls = LogisticRegression if spec.analysis == "logistic_regression" else LinearSVM
    return cls(spec, result, tuple(float(result[f"coefficient[{a}]"]) for a in spec.columns),
               float(result["intercept"]))


_BUILDERS = {"gaussian_naive_bayes": _gaussian, "naive_bayes": _categorical, "decision_tree": _tree,
             "random_forest": _forest, "kmeans": _kmeans, "linear_regression": _regression,
             "logistic_regression": _classifier, "svm": _classifier}


def _split_features(node: Node) -> set[str]:
    if node.leaf is not None:
        return set()
    return {node.split or ""}.union(*(_split_features(c) for c in (node.children or {}).values()))


def _cell(row: Row, name: str, i: int) -> object:
    if name not in row:
        raise ConfigError(f"row {i + 1} has no {name!r}, a feature the model reads")
    return row[name]


def _number(row: Row, name: str, i: int) -> float:
    value = _cell(row, name, i)
    try:
        number = float(value) if isinstance(value, (int, float, str)) and not isinstance(value, bool) else None
    except ValueError:
        number = None
    if number is None or not np.isfinite(number):
        raise ConfigError(f"row {i + 1}: {name}={value!r} is not a number; the model reads {name!r} as numeric")
    return number
