"""scikit-learn estimators equal to our models, built from their numbers (never pickled, never refitted).

``to_sklearn(model)`` imports scikit-learn only when called (it is optional:
``pip install scikit-learn``) and sets the fitted attributes of the matching
estimator, so that its ``predict`` gives the model's predictions:

- Gaussian naive Bayes: ``GaussianNB`` with ``classes_``, ``class_count_``,
  ``class_prior_``, ``theta_``, ``var_`` (the revealed variances clamped at 0
  plus the model's added variance) and ``epsilon_``. Classes without rows
  (possible under noise) are left out, as prediction skips them.
- Categorical naive Bayes: ``CategoricalNB`` with the smoothed
  ``feature_log_prob_`` and ``class_log_prior_`` of ``bayes.predict_categorical``;
  it takes each feature as its index in the feature's declared domain.
- k-means: ``KMeans`` with ``cluster_centers_`` (and ``_n_threads``, a private
  attribute its ``predict`` reads; scikit-learn 1.4 to 1.9).
- Linear regression: ``LinearRegression`` with ``coef_`` and ``intercept_``.
- Logistic regression and linear SVM: ``LogisticRegression`` and ``LinearSVC``
  with ``coef_`` (one row), ``intercept_`` and ``classes_`` (the label's domain
  in spec order, so that a positive score gives the second class as ours does);
  ``LogisticRegression.predict_proba`` is then the exact sigmoid of the score.
- Decision tree: refused. Our trees split categorical features many ways;
  ``DecisionTreeClassifier`` splits numbers in two and its fitted tree can only
  be set through private structures.
- Random forest: refused for the same reason (``RandomForestClassifier`` holds
  such trees; it also averages the trees' class probabilities where ours vote).

Estimators take X as a (rows, features) array in the model's feature order
(``Model.numeric``, or ``Model.categorical`` for categorical naive Bayes).
"""

from __future__ import annotations

import importlib
import math
from typing import Any

import numpy as np

from offchain.errors import ConfigError
from offchain.models.model import (
    CategoricalNaiveBayes,
    DecisionTree,
    GaussianNaiveBayes,
    KMeans,
    LinearClassifier,
    LinearRegression,
    LinearSVM,
    LogisticRegression,
    Model,
    RandomForest,
)


def to_sklearn(model: Model) -> Any:
    """The fitted scikit-learn estimator that predicts as ``model`` does; ``ConfigError`` if there is none."""
    if isinstance(model, DecisionTree):
        raise ConfigError("a decision tree has no scikit-learn equivalent: its splits are multiway on categorical "
                          "values, DecisionTreeClassifier's are binary on numbers; predict with model.predict "
                          "or export it as JSON")
    if isinstance(model, RandomForest):
        raise ConfigError("a random forest has no scikit-learn equivalent: its trees split multiway on categorical "
                          "values and vote, RandomForestClassifier's trees are binary on numbers and average "
                          "probabilities; predict with model.predict or export it as JSON")
    try:
        sklearn = {name: importlib.import_module(f"sklearn.{name}")
                   for name in ("naive_bayes", "cluster", "linear_model", "svm")}
    except ImportError as err:
        raise ConfigError("to_sklearn needs scikit-learn: pip install scikit-learn") from err
    if isinstance(model, GaussianNaiveBayes):
        return _gaussian(sklearn["naive_bayes"].GaussianNB, model)
    if isinstance(model, CategoricalNaiveBayes):
        return _categorical(sklearn["naive_bayes"].CategoricalNB, model)
    if isinstance(model, KMeans):
        return _kmeans(sklearn["cluster"].KMeans, model)
    if isinstance(model, LinearRegression):
        return _regression(sklearn["linear_model"].LinearRegression, model)
    if isinstance(model, LogisticRegression):
        return _classifier(sklearn["linear_model"].LogisticRegression, model)
    if isinstance(model, LinearSVM):
        return _classifier(sklearn["svm"].LinearSVC, model)
    raise ConfigError(f"no scikit-learn estimator for a {model.analysis} model")


def _gaussian(cls: Any, model: GaussianNaiveBayes) -> Any:
    keep = [i for i, n in enumerate(model.counts) if n > 0]
    if not keep:
        raise ConfigError("every class of this Gaussian naive Bayes model has count 0 or less; it cannot predict")
    est, counts = cls(), np.asarray([model.counts[i] for i in keep], dtype=float)
    est.classes_ = np.asarray([model.classes[i] for i in keep])
    est.class_count_, est.class_prior_ = counts, counts / counts.sum()
    est.theta_ = np.asarray([model.means[i] for i in keep])
    est.var_ = np.maximum(np.asarray([model.variances[i] for i in keep]), 0.0) + model.added_variance
    est.epsilon_, est.n_features_in_ = model.added_variance, len(model.numeric)
    return est


def _categorical(cls: Any, model: CategoricalNaiveBayes) -> Any:
    alpha, counts = model.spec.params.smoothing, np.asarray(model.counts, dtype=float)
    est = cls(alpha=alpha)
    est.classes_, est.class_count_ = np.asarray(model.classes), counts
    est.class_log_prior_ = np.log((counts + alpha) / (counts.sum() + alpha * len(counts)))
    est.category_count_ = [np.asarray(f, dtype=float) for f in model.category_counts]
    est.feature_log_prob_ = [np.log((c + alpha) / (counts[:, None] + alpha * c.shape[1]))
                             for c in est.category_count_]
    est.n_categories_ = np.asarray([len(d) for d in model.categorical.values()])
    est.n_features_in_ = len(model.categorical)
    return est


def _kmeans(cls: Any, model: KMeans) -> Any:
    centres = np.asarray(model.centroids)
    est = cls(n_clusters=len(centres), init=centres, n_init=1)
    est.cluster_centers_, est.n_features_in_, est._n_threads = centres, centres.shape[1], 1
    return est


def _regression(cls: Any, model: LinearRegression) -> Any:
    if model.intercept is None or not math.isfinite(model.intercept):
        raise ConfigError("this regression's spec did not reveal its intercept; a LinearRegression needs one")
    est = cls()
    est.coef_, est.intercept_ = np.asarray(model.coefficients), model.intercept
    est.n_features_in_ = len(model.coefficients)
    return est


def _classifier(cls: Any, model: LinearClassifier) -> Any:
    est = cls()
    est.coef_ = np.asarray([model.coefficients])
    est.intercept_ = np.asarray([model.intercept])
    est.classes_ = np.asarray(model.classes)
    est.n_features_in_ = len(model.coefficients)
    return est
