"""Logistic regression and linear SVM under MPC against a float64 twin of the same descent."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest
from harness.local import run_local

from offchain.analytics import classifiers, registry
from offchain.auditable import program, program_audit, routes
from offchain.engine.context import Context
from offchain.analytics.spec import JobSpec
from offchain.errors import ConfigError
from analytics_testkit import PARTIES, opened_noise, rng, run_analysis, spec, split_tables

from analytics_testkit import F  # noqa: E402
ULP = 2.0**-F
#: The sigmoid approximation as the docs state it: linear between these points, 0 and 1 outside.
SIGMOID_POINTS = ([-63 / 16, -13 / 8, 13 / 8, 63 / 16], [0.0, 37 / 256, 219 / 256, 1.0])


def descent(analysis: str, x: np.ndarray, y: np.ndarray, steps: int, rate: float, penalty: float
            ) -> np.ndarray:
    """The documented descent in float64, on inputs and constants rounded to f bits: (w, b)."""
    fixed = np.round(x * 2**F) / 2**F
    rows = np.hstack([fixed, np.ones((len(x), 1))])
    eta = round(rate * 2**F) / 2**F
    shrink = np.array([round((1 - rate * penalty) * 2**F) / 2**F] * x.shape[1] + [1.0])
    w = np.zeros(rows.shape[1])
    for _ in range(steps):
        if analysis == "logistic_regression":
            d = (np.interp(rows @ w, *SIGMOID_POINTS) - y) @ rows
        else:
            s = 2 * y - 1
            d = -((s * (rows @ w) < 1) * s) @ rows
        w = shrink * w - eta * d
    return w


def blobs(seed: int, per: int, gap: float = 1.5) -> tuple[np.ndarray, np.ndarray]:
    r = rng(seed)
    x = np.concatenate([r.normal((-gap, -gap / 2), 0.6, (per, 2)), r.normal((gap, gap / 2), 0.6, (per, 2))])
    y = np.array([0] * per + [1] * per)
    order = r.permutation(2 * per)
    return x[order].round(3), y[order]


def classifier_spec(analysis: str, max_rows: int, **params: Any) -> JobSpec:
    return spec(analysis=analysis, columns=("u", "w"), label="c", domains={"c": ("neg", "pos")},
                max_rows=max_rows, reveal=("coefficients", "intercept"),
                params={"iterations": 8, "learning_rate": 0.05, **params})


def train(s: JobSpec, x: np.ndarray, y: np.ndarray, seed: bytes | None = None) -> np.ndarray:
    columns = {"u": x[:, 0], "w": x[:, 1], "c": [("neg", "pos")[v] for v in y]}
    got = run_analysis(s, split_tables(s, columns), seed=seed)
    assert sorted(got) == ["coefficient[u]", "coefficient[w]", "intercept"]
    return np.array([float(got["coefficient[u]"]), float(got["coefficient[w]"]), float(got["intercept"])])


def predictions(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    return (x @ w[:-1] + w[-1] > 0).astype(int)


@pytest.mark.parametrize("analysis", ["logistic_regression", "svm"])
def test_weights_are_the_plaintext_descents_within_the_bound_and_predict_alike(analysis: str) -> None:
    x, y = blobs(7, 9)  # 18 rows, 6 per party.
    s = classifier_spec(analysis, 6, regularization=0.5)
    got = train(s, x, y)
    want = descent(analysis, x, y, 8, 0.05, 0.5)
    rows, big = len(x), max(1.0, float(np.abs(x).max()))
    if analysis == "logistic_regression":
        # The docstring's bound holds where the step is stable: eta (7/32 sum |x~|^2 + lambda) <= 2.
        assert 0.05 * (7 / 32 * float((x**2).sum() + rows) + 0.5) <= 2
        error = float(np.linalg.norm(got - want))
        bound = 8 * np.sqrt(3) * (1 + 0.05 * (1 + 39 / 32 * rows * big)) * ULP
    else:
        margins = [(2 * y - 1) * (np.hstack([x, np.ones((rows, 1))]) @ descent(analysis, x, y, t, 0.05, 0.5))
                   for t in range(8)]
        assert min(float(np.abs(m - 1).min()) for m in margins) > 1e-3  # No indicator near its edge.
        error, bound = float(np.abs(got - want).max()), 8 * ULP
    assert error <= bound + 2e-6  # Plus the six decimal places of the text.
    assert np.abs(want).min() > 0.05  # A model that moved: the comparison can fail.
    test_x, test_y = blobs(8, 50)
    assert np.array_equal(predictions(got, test_x), predictions(want, test_x))
    assert np.mean(predictions(got, test_x) == test_y) > 0.95


@pytest.mark.parametrize("analysis", ["logistic_regression", "svm"])
def test_differential_privacy_noises_every_steps_gradient_and_still_separates(analysis: str) -> None:
    x, y = blobs(9, 15, gap=2.0)  # 30 rows, 5 steps: enough for the noise of epsilon 10.
    s = classifier_spec(analysis, 10, iterations=5, epsilon=10.0, clip_lower=-4.0, clip_upper=4.0)
    with opened_noise() as drawn:
        got = train(s, x, y, seed=b"\x01" * 4)  # Reproducible noise; 6 to 10 seeds gave 97 to 100 %.
    (noises, opened), = drawn
    assert [(n.part, n.cells, n.epsilon) for n in noises] == [("gradient", 5 * 3, 10.0 / 5)]
    assert noises[0].sensitivity == 2 * (4 * 2**F + 1) + 2**F + 1
    assert len(set(opened[0])) > 1 and any(opened[0])  # Noise was drawn for every total.
    test_x, test_y = blobs(10, 50, gap=2.0)
    assert np.mean(predictions(got, test_x) == test_y) > 0.9


def test_values_outside_the_range_are_refused_before_sending() -> None:
    s = classifier_spec("logistic_regression", 2)
    limit = classifiers.bound(s)
    table = registry.table_from_columns(s, {"u": [1.0, 2 * limit], "w": [0.0, 0.0], "c": ["neg", "pos"]})
    with pytest.raises(ConfigError, match="column 'u' holds .*, outside the range"):
        classifiers.local(s, table)


@pytest.mark.parametrize("fields, message", [
    (dict(domains={"c": ("a", "b", "c")}), "must list exactly 2 values"),
    (dict(label=None), "needs a label"),
    (dict(columns=()), "reads 1 to 32 columns"),
    (dict(max_rows=None), "needs max_rows"),
    (dict(params={"iterations": 4}), "needs params.learning_rate"),
    (dict(params={"learning_rate": 0.1}), "iterations \\(descent steps\\) from 1 to 50"),
    (dict(params={"iterations": 4, "learning_rate": 0.5, "regularization": 4}), "shrink factor"),
    (dict(params={"iterations": 50, "learning_rate": 10}, max_rows=10**5), "too large"),
    (dict(params={"iterations": 50, "learning_rate": 10}, fixed_point={"k": 32, "f": 20}), "could leave"),
    (dict(reveal=("coefficients",)), "including \\['intercept'\\]"),
    (dict(params={"iterations": 4, "learning_rate": 0.1, "epsilon": 1.0}), "needs clip bounds"),
])
def test_bad_classifier_specs_are_refused(fields: dict[str, Any], message: str) -> None:
    base: dict[str, Any] = dict(analysis="svm", columns=("u", "w"), label="c", domains={"c": ("neg", "pos")},
                                max_rows=10, params={"iterations": 4, "learning_rate": 0.1},
                                reveal=("coefficients", "intercept"))
    with pytest.raises(ConfigError, match=message):
        registry.build_spec(participants=PARTIES, **{**base, **fields})
    with pytest.raises(ConfigError, match="for logistic_regression and svm only"):
        registry.build_spec(participants=PARTIES, analysis="kmeans", columns=("u",), max_rows=4,
                            reveal=("centroids",), params={"centroids": [[0], [1]], "iterations": 2,
                                                           "learning_rate": 0.1})


def test_an_auditable_svm_takes_the_program_route_and_its_record_passes_the_audit() -> None:
    s = spec(analysis="svm", columns=("u",), label="c", domains={"c": ("neg", "pos")}, max_rows=1,
             reveal=("coefficients", "intercept"), params={"iterations": 2, "learning_rate": 0.25},
             auditable=True)
    assert routes.route(s) is routes.Route.PROGRAM
    tables = split_tables(s, {"u": [-1.0, 2.0, 1.5], "c": ["neg", "pos", "pos"]})

    async def party(ctx: Context) -> tuple[dict[str, str], program.Record]:
        return await program.run_party(ctx, s, tables[ctx.party])

    results = asyncio.run(run_local(3, party, needs=routes.needs(s), sacrifice=False, timeout=120))
    result, record = results[0]
    want = descent("svm", np.array([[-1.0], [2.0], [1.5]]), np.array([0, 1, 1]), 2, 0.25, 0.0)
    assert np.abs(np.array([float(result["coefficient[u]"]), float(result["intercept"])]) - want).max() <= 3e-6
    derived, steps = program_audit.audit(s, 3, record, result)
    assert derived == result and all(step.passed for step in steps)


def test_the_documented_sigmoid_error_is_the_approximations_largest() -> None:
    z = np.linspace(-30, 30, 1_200_001)
    error = np.abs(np.interp(z, *SIGMOID_POINTS) - 1 / (1 + np.exp(-z)))
    assert classifiers.SIGMOID_ERROR - 1e-4 <= error.max() <= classifiers.SIGMOID_ERROR
    # The slopes and knots of the module are those points' (the MPC run uses the module's).
    points = np.array(SIGMOID_POINTS[0])
    relu = np.maximum(points[:, None] - np.array(classifiers.KNOTS)[None, :], 0)
    assert np.allclose(relu @ np.array(classifiers.SLOPES), SIGMOID_POINTS[1], rtol=0, atol=1e-15)
