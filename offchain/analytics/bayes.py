"""Naive Bayes: Gaussian training under MPC, and predictions from a revealed model.

Gaussian naive Bayes is the per-class summary (count, mean, population
variance of each feature; offchain.analytics.summary with the label as the
group), so its error bounds are the summary's. Categorical naive Bayes is
the count table of offchain.analytics.counts (exact). Both models are
revealed whole; prediction is public arithmetic on the revealed result, the
same function the plaintext reference model uses, so equal models predict
equally.

With ``params.epsilon`` both models are noised: Gaussian naive Bayes takes the
summary's noise (epsilon / 3 on each of the class counts, sums and sums of
squares; clip bounds required) and categorical naive Bayes the count table's
(offchain.analytics.privacy). Prediction accepts noisy models: a class count
below 1 is skipped (its prior would be undefined), a negative variance counts
as 0, and the variance added to every feature is VAR_SMOOTHING times the
largest variance, at least one ulp (2^-f) so that a model whose variances are
all 0 still scores finitely.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from offchain.analytics import summary
from offchain.analytics.common import InputHook
from offchain.analytics.data import Table
from offchain.analytics.spec import JobSpec
from offchain.engine.evaluator import Evaluator, S
from offchain.preprocessing.tuples import Needs

VAR_SMOOTHING = 1e-9  # As scikit-learn: added variance, times the largest variance.


def needs(spec: JobSpec) -> Needs:
    return summary.needs(spec)


async def run(ctx: Evaluator[S], spec: JobSpec, table: Table,
              on_inputs: InputHook[S] | None = None) -> dict[str, str]:
    return await summary.run(ctx, spec, table, on_inputs)


def predict_categorical(spec: JobSpec, result: Mapping[str, str], record: Mapping[str, str]
                        ) -> str:
    """The most probable class of a record (feature -> value) under Laplace smoothing."""
    label, alpha = spec.label or "", spec.params.smoothing
    classes = spec.domain(label)
    n_class = [int(result[f"count[{label}={c}]"]) for c in classes]
    total = sum(n_class)
    best, best_score = classes[0], -math.inf
    for ci, c in enumerate(classes):
        score = math.log((n_class[ci] + alpha) / (total + alpha * len(classes)))
        for feature in spec.columns:
            n_vc = int(result[f"count[{feature}={record[feature]},{label}={c}]"])
            score += math.log((n_vc + alpha) / (n_class[ci] + alpha * len(spec.domain(feature))))
        if score > best_score:
            best, best_score = c, score
    return best


def predict_gaussian(spec: JobSpec, result: Mapping[str, str], record: Mapping[str, float]
                     ) -> str:
    """The most probable class of a record (feature -> value): Gaussian likelihoods, class priors."""
    label = spec.label or ""
    classes = spec.domain(label)
    counts = [max(int(result[f"count[{label}={c}]"]), 0) for c in classes]
    variances = {(f, c): max(float(result[f"variance.{f}[{label}={c}]"]), 0.0)
                 for f in spec.columns for c in classes}
    eps = added_variance(variances.values(), spec.fixed_point.f)
    best, best_score = classes[0], -math.inf
    for ci, c in enumerate(classes):
        if counts[ci] == 0:
            continue
        score = math.log(counts[ci] / sum(counts))
        for f in spec.columns:
            mean, var = float(result[f"mean.{f}[{label}={c}]"]), variances[(f, c)] + eps
            score -= 0.5 * math.log(2 * math.pi * var) + (record[f] - mean) ** 2 / (2 * var)
        if score > best_score:
            best, best_score = c, score
    return best


def added_variance(variances: Iterable[float], f: int) -> float:
    """What prediction adds to every variance: VAR_SMOOTHING times the largest (clamped at 0), at least 2^-f."""
    return max(VAR_SMOOTHING * max(variances), 2.0**-f)
