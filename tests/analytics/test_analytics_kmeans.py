"""k-means under MPC against plaintext Lloyd iterations from the same initial centroids."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from offchain.analytics.spec import JobSpec
from offchain.analytics import registry
from offchain.errors import ConfigError
from analytics_testkit import PARTIES, close, rng, run_analysis, spec, split_tables

from analytics_testkit import ULP  # noqa: E402


def lloyd(x: np.ndarray, centroids: np.ndarray, iterations: int) -> tuple[np.ndarray, np.ndarray]:
    """Plain Lloyd: nearest centroid (first on ties), means; a cluster without rows stays put."""
    c = centroids.astype(float).copy()
    sizes = np.zeros(len(c), dtype=int)
    for _ in range(iterations):
        nearest = ((x[:, None, :] - c[None, :, :]) ** 2).sum(axis=2).argmin(axis=1)
        sizes = np.bincount(nearest, minlength=len(c))
        c = np.array([x[nearest == j].mean(axis=0) if sizes[j] else c[j] for j in range(len(c))])
    return c, sizes


def blobs(seed: int, per: int) -> np.ndarray:
    r = rng(seed)
    centres = np.array([[0.0, 0.0], [6.0, 1.0], [2.0, 7.0]])
    x = np.concatenate([r.normal(c, 0.8, (per, 2)) for c in centres]).round(3)
    return x[r.permutation(3 * per)]


def kmeans_spec(centroids: list[list[float]], iterations: int, max_rows: int,
                reveal: tuple[str, ...] = ("centroids", "sizes")) -> JobSpec:
    return spec(analysis="kmeans", columns=("u", "w"), max_rows=max_rows, reveal=reveal,
                params={"centroids": centroids, "iterations": iterations})


def test_centroids_and_sizes_equal_plaintext_lloyd_within_the_division_error() -> None:
    x = blobs(41, 8)
    # The fourth centroid is far from every row: its cluster stays empty and it stays put.
    start = [[1.0, 1.0], [4.0, 0.0], [3.0, 4.0], [40.0, -40.0]]
    s = kmeans_spec(start, 3, max_rows=10)
    got = run_analysis(s, split_tables(s, {"u": x[:, 0], "w": x[:, 1]}))
    want, sizes = lloyd(x, np.array(start), 3)
    assert len(got) == 4 * 2 + 4
    for j in range(4):
        assert got[f"size[{j}]"] == str(sizes[j])
        for a, name in enumerate("uw"):
            assert close(got[f"centroid[{j}].{name}"], want[j, a], 8 * ULP, 4)
    assert float(got["centroid[3].u"]) == 40.0 and got["size[3]"] == "0"


def test_one_iteration_with_ties_reveals_the_centroids_only() -> None:
    # Rows at equal distance from both centroids go to the first one, as argmin does.
    x = np.array([[0.0, 0.0], [2.0, 0.0], [1.0, 0.0], [1.0, 5.0], [3.0, 1.0], [-1.0, 2.0]])
    start = [[0.0, 1.0], [2.0, 1.0]]
    s = kmeans_spec(start, 1, max_rows=2, reveal=("centroids",))
    got = run_analysis(s, split_tables(s, {"u": x[:, 0], "w": x[:, 1]}))
    want, _ = lloyd(x, np.array(start), 1)
    assert sorted(got) == [f"centroid[{j}].{n}" for j in range(2) for n in "uw"]
    for j in range(2):
        for a, name in enumerate("uw"):
            assert close(got[f"centroid[{j}].{name}"], want[j, a], 8 * ULP, 4)


def test_values_outside_the_kmeans_range_are_refused_before_sending() -> None:
    from offchain.analytics import kmeans
    s = kmeans_spec([[0.0, 0.0], [1.0, 1.0]], 1, max_rows=2)
    far = 3 * kmeans.bound(s)  # Beyond the range the spec's fixed point allows (8e7 at k=104, f=48).
    table = registry.table_from_columns(s, {"u": [1.0, far], "w": [0.0, 0.0]})
    with pytest.raises(ConfigError, match=f"column 'u' holds {far:.6g}, outside the range".replace("+", "\\+")):
        kmeans.local(s, table)


@pytest.mark.parametrize("fields, message", [
    (dict(max_rows=None), "needs max_rows"),
    (dict(params={"centroids": [[0.0, 0.0]], "iterations": 2}), "2 to 16 initial centroids"),
    (dict(params={"centroids": [[0.0], [1.0]], "iterations": 2}), "one value per column"),
    (dict(params={"centroids": [[0.0, 0.0], [1.0, 1.0]]}), "iterations from 1 to 50"),
    (dict(params={"centroids": [[0.0, 0.0], [1e9, 1.0]], "iterations": 1}), "outside the range"),
    (dict(reveal=("sizes",)), "including \\['centroids'\\]"),
    (dict(reveal=("centroids", "assignments")), "may reveal only"),
    (dict(max_rows=10**6), "too large; lower max_rows"),
    (dict(label="y"), "takes no"),
])
def test_bad_kmeans_specs_are_refused(fields: dict[str, Any], message: str) -> None:
    base: dict[str, Any] = dict(analysis="kmeans", columns=("u", "w"), max_rows=10,
                                params={"centroids": [[0.0, 0.0], [1.0, 1.0]], "iterations": 2},
                                reveal=("centroids",))
    with pytest.raises(ConfigError, match=message):
        registry.build_spec(participants=PARTIES, **{**base, **fields})
    with pytest.raises(ConfigError, match="params.iterations is for k-means and the classifiers"):
        registry.build_spec(participants=PARTIES, analysis="summary", columns=("x",), reveal=("mean",),
                      params={"iterations": 2})


def test_ridge_is_for_regression_only() -> None:
    with pytest.raises(ConfigError, match="params.ridge is for linear regression only"):
        registry.build_spec(participants=PARTIES, analysis="correlation", columns=("x", "y"),
                      reveal=("correlation",), params={"ridge": 0.5})
