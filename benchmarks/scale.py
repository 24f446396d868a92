"""Scale benchmark: 3 to 10 parties over mutual TLS, 10^3 to 10^6 rows, through a shaped link.

    .venv/bin/python benchmarks/scale.py --quick --json           # a small grid, to check it works
    .venv/bin/python benchmarks/scale.py --json --plot-dir docs/   # the issue's full grid, plotted

Per party count n, per round-trip time: n processes (benchmarks/_analytics_party.py)
connected by ``connect_job`` (mutual TLS 1.3, pinned certificates) on 127.0.0.1,
each dialling its peers through a shaping proxy (benchmarks/_shaper.py, its
own process: ``tc netem delay RTT/2 rate MBIT`` on every party's egress; tc
netem is not available here). What the parties do is analytics.py's: every
job's tuples are dealt by one dealer and sealed per party (HPKE) before the
parties start, each party takes delivery (open, sacrifice over TLS, store in
its SQLite TupleCache), reads its CSV share of the rows (party i of n holds
rows i, i + n, ...) and runs ``registry.run`` per job, each run on tuples
reserved before the clock. Dealing, delivery and reading the CSV are
excluded from the analysis time and reported apart (``preprocessing``).

The tuples of a party count are dealt and sealed once and delivered afresh
(to empty caches) in the run of each RTT: within a run no tuple is used
twice; across the RTT runs the same dealt values serve again, which changes
no time, round or byte (dealing 10 parties' tuples is the slow part).

Analyses (benchmarks/_analytics_jobs.py): mean, correlation of 3 columns,
linear regression on 3 features, a depth-3 ID3 tree (Gini) on 3 categorical
features, and k-means (2 columns, 2 public starting centroids, one Lloyd
iteration: about 0.9 million tuples at 10^3 rows). The first four input local sufficient statistics, so their
rounds and bytes do not grow with the rows (the tree's counts widen with
log2 of the rows); k-means inputs every row, so its cost grows with them,
and its spec is refused above R K m T = 2^17 (32,768 rows here).

Every figure of a row: ``time_s`` the median of ``--repeats`` runs of the
slowest party (barrier to revealed result), ``rounds`` party 2's,
``bytes_per_party_max``/``_mean`` what each party sent in the first run;
``numpy_s`` numpy on the pooled rows measured in this run (median of at
least 5), ``ratio_vs_numpy`` = time_s / numpy_s; ``error`` the largest
deviation of any run's result from numpy's. ``shaper_check`` measures the
proxy per RTT: median ping round trip and one bulk transfer's rate.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import _shaper  # noqa: E402
from _analytics_jobs import deviation  # noqa: E402
from _scale_plots import draw  # noqa: E402
from analytics import bench_plain, log, prepare, summarise, worst  # noqa: E402
from engine import ChildFailure, Children, run_tls_parties  # noqa: E402

#: Our names (the issue's) of analytics.py's jobs.
ANALYSES = {"mean": "mean", "correlation": "correlation", "regression": "linear_regression",
            "tree": "decision_tree_d3", "kmeans": "kmeans"}
#: Of the grid's row counts, k-means takes 10^4 at most: its spec is refused above
#: R K m T = 2^17 (R padded rows; K = m = 2, T = 1: 32,768 rows).
KMEANS_MAX_ROWS = 10_000
SHM = Path("/dev/shm")  # noqa: S108 (a private mkdtemp under it) The sealed deliveries of 10 parties are large: written to memory if possible.


def grid(args: argparse.Namespace) -> dict[int, list[tuple[str, int]]]:
    """Per party count, the (analysis, rows) jobs to run (``--rows-at`` and k-means' limits applied)."""
    only = dict(args.rows_at or [])
    kmeans_parties = args.kmeans_parties or args.parties
    out = {}
    for n in args.parties:
        jobs = [(name, rows) for rows in args.rows for name in args.analyses
                if rows in only.get(n, args.rows)
                and (name != "kmeans" or (rows <= min(args.kmeans_max_rows, KMEANS_MAX_ROWS)
                                          and n in kmeans_parties))]
        if jobs:
            out[n] = jobs
    return out


def run_group(n: int, jobs: list[tuple[str, int]], args: argparse.Namespace
              ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One party count: deal once, then a run of the n parties per RTT; its rows and figures."""
    internal = [(ANALYSES[name], rows) for name, rows in jobs]
    workdir = Path(tempfile.mkdtemp(prefix="mpcc-bench-scale-", dir=SHM if SHM.is_dir() else None))
    figures: dict[str, Any] = {"parties": n, "runs": {}}
    out = []
    try:
        start = time.perf_counter()
        figures.update(prepare(workdir, internal, args, parties=n))
        figures["prepare_s"] = time.perf_counter() - start
        log(f"{n} parties: dealt and sealed {figures['tuples']} tuples in "
            f"{figures['prepare_s']:.1f} s")
        for rtt in args.rtt_ms:
            start = time.perf_counter()
            parties = run_tls_parties(workdir, args.tls_timeout, script="_analytics_party.py",
                                      parties=n, route=_route(workdir, rtt, args.mbit))
            prep: dict[str, Any] = {"run_s": time.perf_counter() - start}
            measured = summarise(parties, prep, args.repeats)
            figures["runs"][str(rtt)] = prep
            log(f"{n} parties, RTT {rtt:g} ms: {prep['run_s']:.1f} s "
                f"(delivery {prep['delivery_s']:.1f} s)")
            out += [{"parties": n, "rows": rows, "rtt_ms": rtt, "mbit": args.mbit,
                     "analysis": name, **measured[(ANALYSES[name], rows)]} for name, rows in jobs]
            for path in workdir.glob("p*/tuples.db*"):
                path.unlink()  # The next run takes delivery of the same batches afresh.
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return out, figures


def _route(workdir: Path, rtt: float, mbit: float) -> Any:
    def route(children: Children, ports: list[int]) -> list[list[int]]:
        return _shaper.start(children, ports, rtt, mbit, workdir / "shaper.log")
    return route


def finish(rows: list[dict[str, Any]], plain: dict[tuple[str, int], dict[str, Any]],
           repeats: int) -> list[dict[str, Any]]:
    """The output rows: ours beside numpy's on the same pooled rows."""
    out = []
    for r in rows:
        reference = plain[(ANALYSES[r["analysis"]], r["rows"])]
        sent = r["bytes_per_party"]
        out.append({
            "parties": r["parties"], "rows": r["rows"], "rtt_ms": r["rtt_ms"], "mbit": r["mbit"],
            "analysis": r["analysis"], "time_s": r["mpc_s"], "time_runs_s": r["mpc_runs_s"],
            "rounds": r["rounds"], "bytes_per_party_max": max(sent),
            "bytes_per_party_mean": statistics.fmean(sent), "numpy_s": reference["plain_s"],
            "ratio_vs_numpy": r["mpc_s"] / reference["plain_s"], "repeats": repeats,
            "error": worst([deviation(x, reference["reference"]) for x in r["results"]]),
            "parties_agree": r["parties_agree"], "load_s": r["load_s"]})
    return out


def shaper_check(args: argparse.Namespace) -> list[dict[str, float]]:
    out = []
    log_path = Path(tempfile.gettempdir()) / f"mpcc-scale-shaper-check-{os.getpid()}.log"
    for rtt in args.rtt_ms:
        with Children(120) as children:
            out.append(_shaper.check(children, rtt, args.mbit, log_path))
    log_path.unlink(missing_ok=True)
    return out


def show(rows: list[dict[str, Any]], checks: list[dict[str, float]]) -> None:
    print(f"{'parties':>7}{'rows':>9}{'RTT ms':>7}  {'analysis':<12}{'time s':>9}{'rounds':>7}"
          f"{'kB/party':>10}{'numpy ms':>10}{'x numpy':>10}{'error':>9}")
    for r in rows:
        err = r["error"]
        print(f"{r['parties']:>7}{r['rows']:>9}{r['rtt_ms']:>7g}  {r['analysis']:<12}"
              f"{r['time_s']:>9.3f}{r['rounds']:>7}{r['bytes_per_party_max'] / 1e3:>10.1f}"
              f"{r['numpy_s'] * 1e3:>10.3f}{r['ratio_vs_numpy']:>10.0f}"
              f"{format(err, '.1e') if isinstance(err, float) else 'DIFFERS':>9}")
    for c in checks:
        print(f"shaper: set {c['set_rtt_ms']:g} ms, {c['set_mbit']:g} Mbit/s; measured RTT "
              f"{c['rtt_ms']:.2f} ms (median of pings), bulk {c['bulk_mbit_s']:.1f} Mbit/s")


def machine() -> dict[str, Any]:
    return {"platform": platform.platform(), "python": platform.python_version(),
            "cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
            "note": "cores shared with other work"}


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parties", type=int, nargs="+", default=[3, 5, 10])
    parser.add_argument("--rows", type=int, nargs="+", default=[1000, 10_000, 100_000, 1_000_000],
                        help="pooled row counts")
    parser.add_argument("--rtt-ms", type=float, nargs="+", default=[0.0, 20.0, 80.0])
    parser.add_argument("--mbit", type=float, default=100.0, help="each party's egress rate")
    parser.add_argument("--analyses", nargs="+", choices=list(ANALYSES), default=list(ANALYSES))
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument("--rows-at", type=_rows_at, action="append", metavar="PARTIES:ROWS,...",
                        help="with PARTIES parties, run only these of --rows (repeatable)")
    parser.add_argument("--kmeans-max-rows", type=int, default=KMEANS_MAX_ROWS,
                        help="run k-means up to this many rows")
    parser.add_argument("--kmeans-parties", type=int, nargs="+",
                        help="run k-means with these party counts only (default: all)")
    parser.add_argument("--quick", action="store_true",
                        help="3 and 5 parties, 1000 rows, 0 and 20 ms, 1 repeat (k-means: 3 parties)")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    parser.add_argument("--plot-dir", type=Path, help="draw the PNG plots into this folder")
    parser.add_argument("--batch-size", type=int, default=40_000,
                        help="tuples per batch (a party refuses more than 32 MiB of its shares)")
    parser.add_argument("--tls-timeout", type=float, default=3600.0,
                        help="seconds before the party processes of one run are killed")
    args = parser.parse_args(argv)
    if args.quick:
        args.parties, args.rows, args.rtt_ms, args.repeats = [3, 5], [1000], [0.0, 20.0], 1
        args.kmeans_parties = [3]
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    args.rows = sorted(set(args.rows))
    return args


def _rows_at(text: str) -> tuple[int, list[int]]:
    parties, rows = text.split(":")
    return int(parties), [int(r) for r in rows.split(",")]


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    started, load = time.perf_counter(), os.getloadavg()
    checks = shaper_check(args)
    groups = grid(args)
    plain: dict[tuple[str, int], dict[str, Any]] = {}
    for name in args.analyses:
        sizes = sorted({rows for jobs in groups.values() for n, rows in jobs if n == name})
        plain.update(bench_plain([ANALYSES[name]], sizes, args.repeats))
    measured, preprocessing, failures = [], [], []
    for n, jobs in groups.items():
        try:
            rows, figures = run_group(n, jobs, args)
        except ChildFailure as err:  # The other party counts are still worth measuring.
            print(f"scale benchmark, {n} parties: {err}", file=sys.stderr)
            failures.append({"parties": n, "reason": err.reason})
            continue
        measured += rows
        preprocessing.append(figures)
    if not measured:
        return 1
    table = finish(measured, plain, args.repeats)
    show(table, checks)
    plots = draw(table, args.plot_dir) if args.plot_dir else []
    elapsed = time.perf_counter() - started
    print(f"run time {elapsed:.0f} s; load average {load[0]:.2f} at start, "
          f"{os.getloadavg()[0]:.2f} at end")
    if args.json:
        print(json.dumps({
            "rows": table, "shaper_check": checks, "machine": machine(), "failures": failures,
            "preprocessing": preprocessing, "plots": plots, "run_s": elapsed,
            "load_average": [load[0], os.getloadavg()[0]],
            "grid": {"parties": args.parties, "rows": args.rows, "rtt_ms": args.rtt_ms,
                     "mbit": args.mbit, "analyses": args.analyses, "repeats": args.repeats,
                     "rows_at": dict(args.rows_at or []), "kmeans_max_rows": args.kmeans_max_rows,
                     "kmeans_parties": args.kmeans_parties or args.parties}}))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
