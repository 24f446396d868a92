"""Precision of the numeric analyses under fixed-point formats, against numpy float64.

Runs each analysis in one process with 3 parties (the in-memory transport, a
seeded dealer) on data spanning the encodings' range: large values (around
1e5), a feature of tiny variance (standard deviation 0.0126, variance
1.6e-4, on an offset of 3) and mixed scales. For every format it reports the
worst relative error of any revealed value in significant digits,
-log10(|got - want| / |want|) (values with |want| < 1e-9 are compared
absolutely), whether two runs with different dealer seeds print identical
results, and the run time against the first format.

    .venv/bin/python benchmarks/precision.py --json     # the last line is one JSON object
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # The test harness (n parties in one process).

from harness.local import run_local  # noqa: E402
from offchain.analytics import registry  # noqa: E402
from offchain.analytics.spec import JobSpec  # noqa: E402
from offchain.auditable import routes  # noqa: E402

PARTIES = tuple("0x" + f"{i + 1:040x}" for i in range(3))
FORMATS = ((64, 20), (96, 40), (104, 48))
ROWS = 30
Columns = dict[str, np.ndarray]
Reference = dict[str, float]


def data(rows: int = ROWS) -> Columns:
    """Large values, a tiny variance and mixed scales; cls splits the rows unevenly."""
    r = np.random.default_rng(11)
    big = (r.normal(0, 1, rows) * 2500 + 1.2e5).round(3)
    tiny = (3 + r.normal(0, 1, rows) * 0.0126).round(6)
    mid = (r.normal(0, 1, rows) * 10 + 654.889).round(4)
    y = (0.002 * big - 40 * tiny + 0.3 * mid + r.normal(0, 1, rows) * 0.1).round(4)
    cls = np.where(np.arange(rows) % 3 == 0, "b", "a")
    return {"big": big, "tiny": tiny, "mid": mid, "y": y, "cls": cls}


def _var(x: np.ndarray, ddof: int = 0) -> float:
    return float(np.var(x, ddof=ddof))


def ref_summary(d: Columns) -> Reference:
    out: Reference = {}
    for c in ("big", "tiny", "mid"):
        x = d[c]
        out |= {f"sum.{c}": float(x.sum()), f"mean.{c}": float(x.mean()),
                f"variance.{c}": _var(x, 1), f"std.{c}": float(np.std(x, ddof=1)),
                f"min.{c}": float(x.min()), f"max.{c}": float(x.max())}
    return out


def ref_covariance(d: Columns) -> Reference:
    cols = ("big", "tiny", "mid")
    m = np.cov(np.array([d[c] for c in cols]), ddof=0)
    return {f"covariance[{a},{b}]": float(m[i, j]) for i, a in enumerate(cols) for j, b in enumerate(cols)}


def ref_correlation(d: Columns) -> Reference:
    cols = ("big", "tiny", "mid")
    m = np.corrcoef(np.array([d[c] for c in cols]))
    return {f"correlation[{a},{b}]": float(m[i, j]) for i, a in enumerate(cols) for j, b in enumerate(cols)}


def ref_regression(d: Columns) -> Reference:
    cols = ("big", "tiny", "mid")
    x = np.column_stack([*(d[c] for c in cols), np.ones(len(d["y"]))])
    beta = np.linalg.lstsq(x, d["y"], rcond=None)[0]
    return {**{f"coefficient[{c}]": float(b) for c, b in zip(cols, beta[:-1], strict=True)},
            "intercept": float(beta[-1])}


def ref_gnb(d: Columns) -> Reference:
    out: Reference = {}
    for g in ("a", "b"):
        rows = d["cls"] == g
        out[f"count[cls={g}]"] = float(rows.sum())
        for c in ("big", "tiny", "mid"):
            out[f"mean.{c}[cls={g}]"] = float(d[c][rows].mean())
            out[f"variance.{c}[cls={g}]"] = _var(d[c][rows])
    return out


def ref_t_test(d: Columns) -> Reference:
    a, b = d["tiny"][d["cls"] == "a"], d["tiny"][d["cls"] == "b"]
    va, vb = _var(a, 1) / len(a), _var(b, 1) / len(b)
    t = (a.mean() - b.mean()) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    return {"t": float(t), "df": float(df)}


def ref_kmeans(d: Columns) -> Reference:
    x = np.column_stack([d["mid"], d["tiny"]])
    cent = np.array([[640.0, 3.0], [670.0, 3.0]])
    for _ in range(3):
        near = np.argmin(((x[:, None, :] - cent[None]) ** 2).sum(-1), axis=1)
        cent = np.array([x[near == j].mean(0) for j in range(2)])
    return {f"centroid[{j}].{c}": float(cent[j, i]) for j in range(2) for i, c in enumerate(("mid", "tiny"))}


JOBS: dict[str, tuple[dict[str, Any], Callable[[Columns], Reference]]] = {
    "summary": ({"analysis": "summary", "columns": ("big", "tiny", "mid"), "params": {"ddof": 1},
                 "reveal": ("count", "sum", "mean", "variance", "std", "min", "max")}, ref_summary),
    "covariance": ({"analysis": "covariance", "columns": ("big", "tiny", "mid"),
                    "reveal": ("covariance",)}, ref_covariance),
    "correlation": ({"analysis": "correlation", "columns": ("big", "tiny", "mid"),
                     "reveal": ("correlation",)}, ref_correlation),
    "linear_regression": ({"analysis": "linear_regression", "columns": ("big", "tiny", "mid"),
                           "label": "y", "reveal": ("coefficients", "intercept")}, ref_regression),
    "gaussian_naive_bayes": ({"analysis": "gaussian_naive_bayes", "columns": ("big", "tiny", "mid"),
                              "label": "cls", "domains": {"cls": ("a", "b")},
                              "reveal": ("count", "mean", "variance")}, ref_gnb),
    "t_test": ({"analysis": "t_test", "columns": ("tiny",), "group_by": "cls",
                "domains": {"cls": ("a", "b")}, "reveal": ("t", "df", "p_value")}, ref_t_test),
    "kmeans": ({"analysis": "kmeans", "columns": ("mid", "tiny"), "max_rows": ROWS // 3,
                "params": {"centroids": ((640.0, 3.0), (670.0, 3.0)), "iterations": 3},
                "reveal": ("centroids", "sizes")}, ref_kmeans),
}


def run(spec: JobSpec, d: Columns, seed: bytes) -> dict[str, str]:
    tables = [registry.table_from_columns(spec, {c: list(v)[p::3] for c, v in d.items()})
              for p in range(3)]
    needs = routes.needs(spec)

    async def program(ctx: Any) -> dict[str, str]:
        return await registry.run(ctx, spec, tables[ctx.party])

    results = asyncio.run(run_local(3, program, needs=needs, sacrifice=False, seed=seed, timeout=600))
    for r in results:
        if isinstance(r, BaseException):
            raise r
    return results[0]  # type: ignore[return-value]


def digits(got: dict[str, str], want: Reference) -> tuple[float, str]:
    """The fewest agreeing significant digits over the keys of ``want``, and that key."""
    worst, where = 17.0, ""
    # A symmetric matrix reveals each pair once (correlation: off the diagonal only); the reference
    # lists both orders and the diagonal. Every other key must be in the result.
    shared = {key: value for key, value in want.items() if key in got}
    missing = [key for key in set(want) - set(got) if not key.startswith(("covariance[", "correlation["))]
    if missing or not shared:
        raise KeyError(f"{sorted(missing)} not in the result {sorted(got)}")
    for key, value in shared.items():
        err = abs(float(got[key]) - value) / max(abs(value), 1e-9)
        d = 17.0 if err == 0 else min(17.0, -math.log10(err))
        if d < worst:
            worst, where = d, key
    return worst, where


def measure(name: str, k: int, f: int, d: Columns) -> dict[str, Any]:
    fields, ref = JOBS[name]
    spec = registry.build_spec(participants=PARTIES, fixed_point={"k": k, "f": f}, **fields)
    start = time.perf_counter()
    first = run(spec, d, b"precision-1")
    seconds = time.perf_counter() - start
    second = run(spec, d, b"precision-2")
    worst, where = digits(first, ref(d))
    return {"analysis": name, "k": k, "f": f, "digits": round(worst, 2), "worst": where,
            "deterministic": first == second, "seconds": round(seconds, 3)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.add_argument("--analyses", nargs="*", default=list(JOBS))
    parser.add_argument("--formats", nargs="*", default=[f"{k},{f}" for k, f in FORMATS])
    args = parser.parse_args()
    d = data()
    rows = []
    for name in args.analyses:
        base = None
        for fmt in args.formats:
            k, f = (int(v) for v in fmt.split(","))
            row = measure(name, k, f, d)
            base = base or row["seconds"]
            row["time_ratio"] = round(row["seconds"] / base, 2)
            rows.append(row)
            print(f"{name:22} k={k:3} f={f:2}  digits {row['digits']:5.2f} ({row['worst']})  "
                  f"deterministic {row['deterministic']!s:5}  {row['seconds']:7.2f} s  "
                  f"x{row['time_ratio']}", flush=True)
    if args.json:
        print(json.dumps({"rows": ROWS, "parties": 3, "results": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
