"""Benchmark of the analyses: 3 parties in one process, in-memory transport, numpy beside it.

    .venv/bin/python benchmarks/analytics.py                 # a table (1k and 10k rows)
    .venv/bin/python benchmarks/analytics.py --rows 1000     # one size
    .venv/bin/python benchmarks/analytics.py --json          # ... and one JSON object as last line

For each analysis and size: wall time of the whole job as seen by the slowest
party (local statistics, inputs, the MPC part, MAC-checked output; the
preprocessing is dealt before the clock starts, without the sacrifice),
rounds and bytes sent by party 2, and the time numpy takes for the same
result on the pooled rows. The rows are split evenly over the parties.
Local sufficient statistics make the MPC part independent of the row count.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from offchain.analytics import registry  # noqa: E402
from offchain.analytics.spec import JobSpec  # noqa: E402
from offchain.engine.context import Context  # noqa: E402
from offchain.engine.local import run_local  # noqa: E402

PARTIES = tuple("0x" + f"{i + 1:040x}" for i in range(3))


def data(rows: int) -> dict[str, np.ndarray]:
    r = np.random.default_rng(7)
    x = (r.normal(0, 1, (rows, 3)) * [1, 10, 100] + [5, -3, 1000]).round(3)
    y = (x @ [2.0, -0.5, 0.03] + 7 + r.normal(0, 0.5, rows)).round(3)
    c = np.where(x[:, 0] + r.normal(0, 1, rows) > 5, "hi", "lo")
    f1 = np.where(x[:, 1] > -3, "up", "down")
    f2 = r.choice(["r", "s", "t"], rows)
    f3 = np.where(x[:, 2] > 1000, "big", "small")
    return {"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "y": y, "cls": c, "f1": f1, "f2": f2,
            "f3": f3}


def specs() -> dict[str, tuple[JobSpec, Callable[[dict[str, np.ndarray]], Any]]]:
    def s(**fields: Any) -> JobSpec:
        return JobSpec(participants=PARTIES, **fields)

    def nb_plain(d: dict[str, np.ndarray]) -> Any:
        return [[((d[f] == v) & (d["cls"] == k)).sum() for v in set(d[f]) for k in ("hi", "lo")]
                for f in ("f1", "f2")]

    def tree_plain(d: dict[str, np.ndarray]) -> Any:
        # The root's Gini of each feature: the plaintext work of one level.
        return [sum(((d[f] == v).sum() - ((d[f] == v) & (d["cls"] == k)).sum() ** 2
                     / max((d[f] == v).sum(), 1)) for v in set(d[f]) for k in ("hi", "lo"))
                for f in ("f1", "f2", "f3")]

    def lstsq(d: dict[str, np.ndarray]) -> Any:
        return np.linalg.lstsq(np.c_[d["a"], d["b"], d["c"], np.ones(len(d["y"]))], d["y"],
                               rcond=None)

    return {
        "mean": (s(analysis="mean", column="a", reveal=("count", "mean")), lambda d: d["a"].mean()),
        "variance": (s(analysis="summary", columns=("a",), reveal=("variance",)),
                     lambda d: d["a"].var()),
        "correlation": (s(analysis="correlation", columns=("a", "b", "c"), reveal=("correlation",)),
                        lambda d: np.corrcoef(np.c_[d["a"], d["b"], d["c"]].T)),
        "linear_regression": (s(analysis="linear_regression", columns=("a", "b", "c"), label="y",
                                reveal=("coefficients", "intercept")), lstsq),
        "naive_bayes": (s(analysis="naive_bayes", columns=("f1", "f2"), label="cls",
                          domains={"f1": ("down", "up"), "f2": ("r", "s", "t"),
                                   "cls": ("hi", "lo")}, reveal=("counts",)), nb_plain),
        # max_rows is set per size in bench(): the padded tree's work is sized by it.
        "decision_tree_d3": (s(analysis="decision_tree", columns=("f1", "f2", "f3"), label="cls",
                               max_rows=1, params={"max_depth": 3},
                               domains={"f1": ("down", "up"), "f2": ("r", "s", "t"),
                                        "f3": ("big", "small"), "cls": ("hi", "lo")},
                               reveal=("tree",)), tree_plain),
    }


def bench(spec: JobSpec, columns: dict[str, np.ndarray], plain: Callable[[Any], Any]
          ) -> dict[str, float]:
    used = {c: v for c, v in columns.items()
            if c in spec.columns or c in (spec.column, spec.label)}
    if spec.max_rows is not None:  # Per-row analyses: the bound is each party's share of rows.
        spec = spec.model_copy(update={"max_rows": -(-len(columns["a"]) // 3)})
    tables = [registry.table_from_columns(spec, {c: v[p::3] for c, v in used.items()})
              for p in range(3)]

    async def program(ctx: Context) -> tuple[float, int, int]:
        stats = ctx.transport.stats
        rounds, sent = stats.rounds, stats.bytes_sent
        start = time.perf_counter()
        await registry.run(ctx, spec, tables[ctx.party])
        return time.perf_counter() - start, stats.rounds - rounds, stats.bytes_sent - sent

    results = asyncio.run(run_local(3, program, needs=registry.needs(spec), sacrifice=False,
                                    timeout=600))
    for r in results:
        if isinstance(r, BaseException):
            raise r
    start = time.perf_counter()
    plain(columns)
    numpy_s = time.perf_counter() - start
    _, rounds, sent = results[2]  # type: ignore[misc]
    return {"mpc_s": round(max(r[0] for r in results), 4), "rounds": rounds,  # type: ignore[index]
            "bytes": sent, "numpy_s": round(numpy_s, 6)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, action="append", help="row counts (default 1000, 10000)")
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = parser.parse_args()
    out: dict[str, dict[str, dict[str, float]]] = {}
    for rows in args.rows or [1000, 10000]:
        columns = data(rows)
        for name, (spec, plain) in specs().items():
            figures = bench(spec, columns, plain)
            out.setdefault(name, {})[str(rows)] = figures
            print(f"{name:18} {rows:>7} rows  mpc {figures['mpc_s']:8.3f} s  "
                  f"{figures['rounds']:5d} rounds  {figures['bytes'] / 1e3:9.1f} kB  "
                  f"numpy {figures['numpy_s'] * 1e3:8.3f} ms", flush=True)
    if args.json:
        print(json.dumps({"parties": 3, "transport": "memory", "analyses": out}))


if __name__ == "__main__":
    main()
