"""Covariance, correlation, regression and naive Bayes against numpy on the pooled rows."""

from __future__ import annotations

import math

import numpy as np

from offchain.analytics.bayes import predict_categorical, predict_gaussian
from analytics_testkit import close, rng, run_analysis, spec, split_tables

from analytics_testkit import ULP  # noqa: E402


def features(seed: int, rows: int) -> tuple[np.ndarray, np.ndarray]:
    r = rng(seed)
    x = (r.normal(0, 1, (rows, 3)) * [1, 10, 100] + [5, -3, 1000]).round(4)
    y = (x @ [2.0, -0.5, 0.03] + 7 + r.normal(0, 0.5, rows)).round(4)
    return x, y


def test_covariance_and_correlation_match_numpy() -> None:
    x, _ = features(21, 27)
    columns = {"a": x[:, 0], "b": x[:, 1], "c": x[:, 2]}
    cov = spec(analysis="covariance", columns=("a", "b", "c"), reveal=("covariance",))
    got = run_analysis(cov, split_tables(cov, columns))
    want = np.cov(x.T, ddof=0)
    names = "abc"
    for i in range(3):
        for j in range(i, 3):
            assert close(got[f"covariance[{names[i]},{names[j]}]"], want[i, j], 8 * ULP, 6)
    cor = spec(analysis="correlation", columns=("a", "b", "c"), reveal=("correlation",))
    got = run_analysis(cor, split_tables(cor, columns))
    want = np.corrcoef(x.T)
    assert len(got) == 3
    for i in range(3):
        for j in range(i + 1, 3):
            assert close(got[f"correlation[{names[i]},{names[j]}]"], want[i, j], 0, 40)


def test_population_and_sample_covariance_in_one_job() -> None:
    """covariance divides by n - ddof (population by default), sample_covariance by n - 1; with
    epsilon too (both from the same noised totals, n clamped to at least 2)."""
    x, _ = features(23, 25)
    columns = {"a": x[:, 0], "b": x[:, 1]}
    for ddof in (0, 1):
        s = spec(analysis="covariance", columns=("a", "b"), params={"ddof": ddof},
                 reveal=("covariance", "sample_covariance"))
        got = run_analysis(s, split_tables(s, columns))
        assert len(got) == 6
        for name, want in (("covariance", np.cov(x[:, :2].T, ddof=ddof)),
                           ("sample_covariance", np.cov(x[:, :2].T, ddof=1))):
            for i, j in ((0, 0), (0, 1), (1, 1)):
                assert close(got[f"{name}[{'ab'[i]},{'ab'[j]}]"], want[i, j], 8 * ULP, 6), (name, got)
    noisy = spec(analysis="covariance", columns=("a", "b"), reveal=("sample_covariance",),
                 params={"epsilon": 5.0, "clip_lower": -2000, "clip_upper": 2000})
    got = run_analysis(noisy, split_tables(noisy, columns))
    assert sorted(got) == ["sample_covariance[a,a]", "sample_covariance[a,b]", "sample_covariance[b,b]"]


def test_linear_regression_matches_least_squares() -> None:
    x, y = features(22, 30)
    s = spec(analysis="linear_regression", columns=("a", "b", "c"), label="y",
             reveal=("coefficients", "intercept"))
    got = run_analysis(s, split_tables(s, {"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "y": y}))
    coef = np.linalg.lstsq(np.c_[x, np.ones(len(y))], y, rcond=None)[0]
    for name, want in zip("abc", coef):
        assert abs(float(got[f"coefficient[{name}]"]) - want) <= 1e-3 * (abs(want) + 1)
    # The intercept carries the coefficients' error times the features' means (up to 1000).
    assert abs(float(got["intercept"]) - coef[3]) <= 1e-3 * (abs(coef[3]) + 1)


def test_regression_may_keep_the_intercept_secret() -> None:
    x, y = features(23, 12)
    s = spec(analysis="linear_regression", columns=("a",), label="y", reveal=("coefficients",))
    got = run_analysis(s, split_tables(s, {"a": x[:, 0], "y": y}))
    slope = np.polyfit(x[:, 0], y, 1)[0]
    assert list(got) == ["coefficient[a]"]
    assert abs(float(got["coefficient[a]"]) - slope) <= 1e-3 * (abs(slope) + 1)


def plain_categorical_counts(f1: np.ndarray, f2: np.ndarray, c: np.ndarray) -> dict[str, str]:
    model = {f"count[c={k}]": str((c == k).sum()) for k in ("n", "y")}
    for name, values, domain in (("f1", f1, ("p", "q")), ("f2", f2, ("r", "s", "t"))):
        for v in domain:
            for k in ("n", "y"):
                model[f"count[{name}={v},c={k}]"] = str(((values == v) & (c == k)).sum())
    return model


def test_categorical_naive_bayes_model_and_predictions_equal_plaintext() -> None:
    r = rng(24)
    f1, f2 = r.choice(["p", "q"], 30), r.choice(["r", "s", "t"], 30)
    c = np.where((f1 == "p") ^ (r.random(30) < 0.2), "y", "n")
    s = spec(analysis="naive_bayes", columns=("f1", "f2"), label="c",
             domains={"f1": ("p", "q"), "f2": ("r", "s", "t"), "c": ("n", "y")}, reveal=("counts",))
    model = run_analysis(s, split_tables(s, {"f1": f1, "f2": f2, "c": c}))
    plain = plain_categorical_counts(f1, f2, c)
    assert model == plain
    for a in ("p", "q"):
        for b in ("r", "s", "t"):
            record = {"f1": a, "f2": b}
            assert predict_categorical(s, model, record) == predict_categorical(s, plain, record)


def test_gaussian_naive_bayes_model_and_predictions_match_plaintext() -> None:
    r = rng(25)
    c = r.choice(["a", "b"], 30)
    x1 = np.where(c == "a", r.normal(0, 1, 30), r.normal(3, 2, 30)).round(3)
    x2 = np.where(c == "a", r.normal(10, 3, 30), r.normal(5, 1, 30)).round(3)
    s = spec(analysis="gaussian_naive_bayes", columns=("x1", "x2"), label="c",
             domains={"c": ("a", "b")}, reveal=("count", "mean", "variance"))
    model = run_analysis(s, split_tables(s, {"x1": x1, "x2": x2, "c": c}))
    plain = {}
    for k in ("a", "b"):
        plain[f"count[c={k}]"] = str((c == k).sum())
        for name, values in (("x1", x1[c == k]), ("x2", x2[c == k])):
            plain[f"mean.{name}[c={k}]"] = f"{values.mean():.6f}"
            plain[f"variance.{name}[c={k}]"] = f"{values.var():.6f}"
            assert close(model[f"mean.{name}[c={k}]"], values.mean(), 8 * ULP, 2)
            assert close(model[f"variance.{name}[c={k}]"], values.var(), 8 * ULP, 5)
    assert model.keys() == plain.keys()
    grid = [(u, v) for u in np.linspace(-3, 6, 10) for v in np.linspace(0, 16, 10)]
    for u, v in grid:
        record = {"x1": float(u), "x2": float(v)}
        assert predict_gaussian(s, model, record) == predict_gaussian(s, plain, record)
    assert not math.isnan(float(model["variance.x1[c=a]"]))
