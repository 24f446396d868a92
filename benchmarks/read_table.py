"""Benchmark of reading a party's table: ``read_table`` on CSV files and SQLite queries.

    .venv/bin/python benchmarks/read_table.py                     # 1k, 10k and 100k rows, a table
    .venv/bin/python benchmarks/read_table.py --rows 1000         # one size (repeat --rows for more)
    .venv/bin/python benchmarks/read_table.py --json              # ... and one JSON object last
    .venv/bin/python benchmarks/read_table.py --data-module OLD.py  # time another data.py

The table has two numeric columns (``x``, a decimal with 4 places; ``y``, an
integer) and one categorical column (``g``, 3 values), read for a ``summary``
spec grouped by ``g``, from a CSV file and from a query (``SELECT x, y, g``) on
a SQLite table holding the same rows (REAL, INTEGER, TEXT).

References measured in the same run, on the same file or database:

  - ``csv_floats``: the ``csv`` module reading the file into Python floats
    (``float`` of each numeric cell, the category kept as its string), with no
    checks at all: what any pure-Python reader pays;
  - ``loadtxt``: ``numpy.loadtxt`` of the two numeric columns (no categories);
  - ``sqlite_fetch``: ``fetchall`` of the query, no conversion.

``--data-module`` loads ``read_table`` from another copy of
``offchain/analytics/data.py`` (for instance an older version, from ``git show
REV:offchain/analytics/data.py``), so that a before and an after are measured
with the same command. Every time is CPU seconds of this process
(time.process_time), the best of ``--repeat`` runs; every ratio is
read_table's time over the reference's (above 1: read_table slower).
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import os
import platform
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from offchain.analytics import registry
from offchain.analytics import data  # noqa: E402
from offchain.analytics.spec import JobSpec  # noqa: E402

SIZES = (1_000, 10_000, 100_000)
REGIONS = ("north", "south", "east")
SPEC = registry.build_spec(participants=tuple("0x" + f"{i + 1:040x}" for i in range(3)), analysis="summary",
                     columns=("x", "y"), group_by="g", domains={"g": REGIONS},
                     reveal=("count", "mean"))


def write_sources(rows: int, folder: Path) -> tuple[Path, Path]:
    """A CSV file and a SQLite database holding the same ``rows`` random rows."""
    rnd = random.Random(rows)
    records = [(f"{rnd.uniform(-1e4, 1e4):.4f}", str(rnd.randrange(100)), rnd.choice(REGIONS))
               for _ in range(rows)]
    path, db = folder / f"rows_{rows}.csv", folder / f"rows_{rows}.db"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(("x", "y", "g"))
        writer.writerows(records)
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE t (x REAL, y INTEGER, g TEXT)")
        conn.executemany("INSERT INTO t VALUES (?, ?, ?)",
                         [(float(x), int(y), g) for x, y, g in records])
    conn.close()
    return path, db


def best_time(run: Callable[[], object], repeat: int) -> float:
    """CPU seconds of the fastest of ``repeat`` calls of ``run``."""
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        run()
        best = min(best, time.process_time() - start)
    return best


def csv_floats(path: Path) -> list[tuple[float, float, str]]:
    """The reference reader: csv rows into Python floats, nothing checked."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        next(reader)
        return [(float(x), float(y), g) for x, y, g in reader]


def sqlite_fetch(db: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db.resolve().as_uri() + "?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT x, y, g FROM t").fetchall()
    conn.close()
    return rows


def load_module(path: Path | None) -> ModuleType:
    """``offchain.analytics.data``, or the copy of it at ``path``."""
    if path is None:
        return data
    spec = importlib.util.spec_from_file_location("data_under_test", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # Dataclasses look their module up while it loads.
    spec.loader.exec_module(module)
    return module


def measure(module: ModuleType, rows: int, folder: Path, repeat: int) -> dict[str, Any]:
    """read_table on the CSV file and on the query, and the references, for one size."""
    path, db = write_sources(rows, folder)
    query = module.SqlSource(db, "SELECT x, y, g FROM t")
    from_csv = module.read_table(SPEC, {c: path for c in "xyg"})
    from_sql = module.read_table(SPEC, {c: query for c in "xyg"})
    plain = csv_floats(path)
    for table in (from_csv, from_sql):  # Both read the rows the reference reads.
        assert table.rows == rows
        assert table.numeric["x"].tolist() == [r[0] for r in plain]
        assert table.codes["g"].tolist() == [REGIONS.index(r[2]) for r in plain]
    times = {
        "read_table_csv_s": best_time(lambda: module.read_table(SPEC, {c: path for c in "xyg"}), repeat),
        "read_table_sql_s": best_time(lambda: module.read_table(SPEC, {c: query for c in "xyg"}), repeat),
        "csv_floats_s": best_time(lambda: csv_floats(path), repeat),
        "loadtxt_s": best_time(lambda: np.loadtxt(path, delimiter=",", skiprows=1, usecols=(0, 1)),
                               repeat),
        "sqlite_fetch_s": best_time(lambda: sqlite_fetch(db), repeat),
    }
    ratios = {
        "csv_vs_csv_floats": times["read_table_csv_s"] / times["csv_floats_s"],
        "csv_vs_loadtxt": times["read_table_csv_s"] / times["loadtxt_s"],
        "sql_vs_sqlite_fetch": times["read_table_sql_s"] / times["sqlite_fetch_s"],
    }
    return {"rows": rows, "csv_bytes": path.stat().st_size, **times,
            "ratios": {k: round(v, 2) for k, v in ratios.items()},
            "read_table_csv_rows_per_s": round(rows / times["read_table_csv_s"])}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, action="append",
                        help=f"rows per table (repeatable; default {', '.join(map(str, SIZES))})")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per figure (best kept)")
    parser.add_argument("--data-module", type=Path,
                        help="a copy of offchain/analytics/data.py to time instead of ours")
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = parser.parse_args()
    module = load_module(args.data_module)
    with tempfile.TemporaryDirectory() as tmp:
        results = [measure(module, n, Path(tmp), args.repeat) for n in args.rows or SIZES]
    print(f"{'rows':>8}{'read_table csv':>16}{'csv floats':>12}{'loadtxt':>10}{'ratio':>8}"
          f"{'x loadtxt':>10}{'read_table sql':>16}{'fetchall':>10}{'ratio':>8}")
    for r in results:
        q = r["ratios"]
        print(f"{r['rows']:>8,}{r['read_table_csv_s'] * 1e3:>14.1f}ms{r['csv_floats_s'] * 1e3:>10.1f}ms"
              f"{r['loadtxt_s'] * 1e3:>8.1f}ms{q['csv_vs_csv_floats']:>8}{q['csv_vs_loadtxt']:>10}"
              f"{r['read_table_sql_s'] * 1e3:>14.1f}ms{r['sqlite_fetch_s'] * 1e3:>8.1f}ms"
              f"{q['sql_vs_sqlite_fetch']:>8}")
    if args.json:
        print(json.dumps({"data_module": str(args.data_module or "offchain/analytics/data.py"),
                          "results": results, "repeat": args.repeat, "cpus": os.cpu_count(),
                          "load_average": os.getloadavg()[0], "machine": platform.machine(),
                          "python": platform.python_version(), "numpy": np.__version__}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
