"""Plaintext twins of the analyses benchmarks/accuracy.py trains under MPC: the same algorithms in numpy.

Each twin takes the pooled training rows (party 0's rows, then party 1's,
then party 2's) and returns a result map with the keys and the text format
(six decimal places) of the MPC job's revealed result, so that
``offchain.models.model_of`` builds the same model class from either and
the two predict through the same code: any differing prediction comes from
training alone.

- ID3 tree (``tree``): the rule of offchain.analytics.tree, exactly: a node
  is a leaf at max_depth or when pure (one class, or empty); a leaf takes its
  majority class (ties: the first), an empty one its parent's majority; a
  split maximises G_f = sum_v A_v / max(n_v, 1) (A_v = sum_c n_vc^2), compared
  as exact fractions, ties to the lowest feature index. Rows may carry
  integer weights (the forest's bootstrap).
- forest (``forest``): the tree above per bootstrap, with the weights and the
  per-node candidate features of offchain.analytics.forest_bagging computed
  from the MPC run's joint coin (the caller recovers it from the run's record).
- Gaussian naive Bayes: per class n, S and Q of the fixed-point encodings,
  mean S / n, variance (n Q - S^2) / n^2, exact where MPC divides with a few ulp error.
- categorical naive Bayes: the count table (MPC's is exact too).
- k-means: Lloyd's iterations on the encodings from the same initial centroids:
  argmin distance (ties to the lowest cluster), a cluster without rows keeps its centroid;
  with params.init "kmeans++", the initial centroids are the rows that
  harness.twins.kmeanspp_plain draws from the MPC run's joint coin (the very
  rows the MPC seeding picks: its sums are exact); with params.tolerance, it
  stops after the first iteration in which no centroid moved farther,
  compared as the MPC job does, on squared moves at scale 2^2f.
- logistic regression and SVM: the full-batch descent of
  offchain.analytics.classifiers in float64 on inputs rounded to f bits, with
  its piecewise-linear sigmoid and eta, 1 - eta lambda rounded to f bits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fractions import Fraction

import numpy as np

from harness.twins import kmeanspp_plain

from offchain.analytics import forest, tree
from offchain.analytics.kmeans import inertia_margin
from offchain.analytics.classifiers import KNOTS, SLOPES
from offchain.analytics.forest_bagging import features, weights
from offchain.analytics.spec import JobSpec
from offchain.analytics.tree_split import Path

Candidates = Callable[[Path, list[int]], list[int]]


def text(value: float) -> str:
    """A number as the MPC result writes it: six decimal places."""
    return f"{value:.6f}"


def _majority(counts: np.ndarray) -> int:
    return int(np.argmax(counts))  # argmax: the first class on a tie, as the MPC tournament


def _gini_score(codes: np.ndarray, y: np.ndarray, w: np.ndarray, size: int, classes: int) -> Fraction:
    """G_f = sum_v A_v / max(n_v, 1) of one feature at a node, exactly."""
    cell = np.rint(np.bincount(codes * classes + y, weights=w, minlength=size * classes)).astype(np.int64)
    table = cell.reshape(size, classes)
    return sum((Fraction(int((row * row).sum()), max(int(row.sum()), 1)) for row in table), Fraction(0))


def grow(spec: JobSpec, x: np.ndarray, y: np.ndarray, w: np.ndarray, candidates: Candidates,
         prefix: str = "") -> dict[str, str]:
    """The ID3 tree of offchain.analytics.tree on codes ``x`` (rows x features), classes ``y``, weights ``w``."""
    sh = tree.shape_of(spec)
    classes = spec.domain(spec.label or "")
    result: dict[str, str] = {}

    def node(path: Path, reach: np.ndarray, parent: int) -> None:
        counts = np.rint(np.bincount(y[reach], weights=w[reach], minlength=sh.classes)).astype(np.int64)
        size, own = int(counts.sum()), _majority(counts)
        key = prefix + tree.node_key(spec, path)
        if len(path) == sh.depth or int(counts.max()) == size:  # The last level, or pure (or empty).
            result[key] = f"leaf:{classes[parent if size == 0 else own]}"
            return
        on_path = {f for f, _ in path}
        free = [f for f in range(len(sh.features)) if f not in on_path]
        best, best_score = -1, Fraction(-1)
        for f in candidates(path, free):  # Increasing index: a strict > keeps the lowest on a tie.
            score = _gini_score(x[reach, f], y[reach], w[reach], sh.sizes[f], sh.classes)
            if score > best_score:
                best, best_score = f, score
        result[key] = f"split:{sh.features[best]}"
        for v in range(sh.sizes[best]):
            node((*path, (best, v)), reach & (x[:, best] == v), own)

    node((), np.ones(len(y), dtype=bool), 0)  # The root's parent class is the first (MPC: zeros).
    return result


def decision_tree(spec: JobSpec, x: np.ndarray, y: np.ndarray) -> dict[str, str]:
    return grow(spec, x, y, np.ones(len(y)), lambda path, free: free)


def random_forest(spec: JobSpec, seed: bytes, parts: Sequence[tuple[np.ndarray, np.ndarray]]
                  ) -> dict[str, str]:
    """The forest grown from the joint coin ``seed`` over each party's (codes, classes), in party order."""
    sh = forest.shape_of(spec)
    x = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    result: dict[str, str] = {}
    for j in range(sh.trees):
        w = np.concatenate([weights(seed, j, i, len(p[1])) for i, p in enumerate(parts)]).astype(np.float64)

        def draw(path: Path, free: list[int], j: int = j) -> list[int]:
            return features(seed, j, path, free, sh.choices(len(path)))

        result.update(grow(spec, x, y, w, draw, prefix=f"tree[{j}]."))
    return result


def _encoded(x: np.ndarray, f: int) -> np.ndarray:
    """Values rounded to f fractional bits, as the parties input them."""
    return np.round(x * (1 << f)) / (1 << f)


def gaussian_nb(spec: JobSpec, x: np.ndarray, y: np.ndarray) -> dict[str, str]:
    f, label = spec.fixed_point.f, spec.label or ""
    enc = np.round(x * (1 << f)).astype(np.int64)
    result: dict[str, str] = {}
    for c, name in enumerate(spec.domain(label)):
        rows = enc[y == c].T.tolist()  # Python ints: n Q - S^2 exactly.
        n = int((y == c).sum())
        result[f"count[{label}={name}]"] = str(n)
        for a, column in enumerate(spec.columns):
            s, q = sum(rows[a]), sum(v * v for v in rows[a])
            mean = Fraction(s, n << f) if n else Fraction(0)
            var = Fraction(n * q - s * s, (n * n) << (2 * f)) if n else Fraction(0)
            result[f"mean.{column}[{label}={name}]"] = text(float(mean))
            result[f"variance.{column}[{label}={name}]"] = text(float(var))
    return result


def categorical_nb(spec: JobSpec, x: np.ndarray, y: np.ndarray) -> dict[str, str]:
    label = spec.label or ""
    classes = spec.domain(label)
    result = {f"count[{label}={c}]": str(int((y == i).sum())) for i, c in enumerate(classes)}
    for a, column in enumerate(spec.columns):
        for v, value in enumerate(spec.domain(column)):
            for i, c in enumerate(classes):
                result[f"count[{column}={value},{label}={c}]"] = str(int(((x[:, a] == v) & (y == i)).sum()))
    return result


def kmeans(spec: JobSpec, parts: Sequence[np.ndarray], coin: bytes | None) -> dict[str, str]:
    """Lloyd from the spec's centroids or the k-means++ rows of ``coin``, over each party's rows;
    with params.n_init, every run from its draws of the coin and the one of least inertia kept."""
    f, p = spec.fixed_point.f, spec.params
    points = _encoded(np.concatenate(parts), f)
    if p.init == "kmeans++":
        if coin is None:
            raise RuntimeError("the k-means++ twin needs the coin of the MPC run")
        runs = [_lloyd(spec, points, np.asarray(kmeanspp_plain(spec, [q.tolist() for q in parts], coin, r),
                                                dtype=np.float64) / (1 << f)) for r in range(p.n_init)]
        inertia = [float(((points[:, None, :] - c[None]) ** 2).sum(axis=2).min(axis=1).sum()) for c, _, _ in runs]
        c, sizes, _ = runs[kept_run(spec, inertia)]
        counts = [done for _, _, done in runs]
    else:
        c, sizes, done = _lloyd(spec, points, np.asarray(p.centroids, dtype=np.float64))
        counts = [done]
    result = {f"centroid[{j}].{a}": text(c[j, i]) for j in range(len(c)) for i, a in enumerate(spec.columns)}
    if "sizes" in spec.reveal:
        result.update({f"size[{j}]": str(int(n)) for j, n in enumerate(sizes)})
    if "iterations" in spec.reveal:
        result["iterations"] = ",".join(str(done) for done in counts)
    return result


def kept_run(spec: JobSpec, inertia: Sequence[float]) -> int:
    """The run the k-means job keeps: a later one only if its inertia is less by the job's margin."""
    margin, kept = inertia_margin(spec) / (1 << spec.fixed_point.f), 0
    for r in range(1, len(inertia)):
        if inertia[r] + margin < inertia[kept]:
            kept = r
    return kept


def _lloyd(spec: JobSpec, points: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """(centroids, sizes, iterations run) of Lloyd's iterations from ``c``, stopping as the job does."""
    f, p = spec.fixed_point.f, spec.params
    sizes, done = np.zeros(len(c), dtype=np.int64), 0
    limit = round((p.tolerance or 0.0) ** 2 * (1 << (2 * f)))
    for t in range(p.iterations):
        assign = np.argmin(((points[:, None, :] - c[None, :, :]) ** 2).sum(axis=2), axis=1)
        sizes = np.bincount(assign, minlength=len(c))
        old = c.copy()
        for j in range(len(c)):
            if sizes[j]:
                c[j] = points[assign == j].mean(axis=0)
        done = t + 1
        moved = (((c - old) * (1 << f)) ** 2).sum(axis=1) > limit
        if p.tolerance is not None and t < p.iterations - 1 and not moved.any():
            break
    return c, sizes, done


def sigmoid(z: np.ndarray) -> np.ndarray:
    """The piecewise-linear sigmoid of offchain.analytics.classifiers."""
    return sum((d * np.maximum(z - b, 0.0) for b, d in zip(KNOTS, SLOPES, strict=True)), np.zeros_like(z))


def linear_classifier(spec: JobSpec, x: np.ndarray, y: np.ndarray) -> dict[str, str]:
    """Full-batch descent from w = 0 (logistic: log loss; svm: hinge), as the MPC job."""
    p, f = spec.params, spec.fixed_point.f
    scale = float(1 << f)
    eta = round((p.learning_rate or 0.0) * scale) / scale
    shrink = round((1 - (p.learning_rate or 0.0) * p.regularization) * scale) / scale
    xt = np.hstack([_encoded(x, f), np.ones((len(x), 1))])
    s = 2.0 * y - 1.0
    w = np.zeros(xt.shape[1])
    for _ in range(p.iterations):
        # SVM: the hinge's subgradient over the rows of margin below 1; logistic: the log loss's gradient.
        d = -((s * (xt @ w) < 1) * s) @ xt if spec.analysis == "svm" else (sigmoid(xt @ w) - y) @ xt
        w = np.append(shrink * w[:-1], w[-1]) - eta * d
    result = {f"coefficient[{c}]": text(w[a]) for a, c in enumerate(spec.columns)}
    result["intercept"] = text(w[-1])
    return result
