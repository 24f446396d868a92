"""Benchmark of the analyses: 3 parties over mutual TLS on loopback, numpy and MPyC beside them.

    .venv/bin/python benchmarks/analytics.py                  # 1k, 10k and 100k rows, a table
    .venv/bin/python benchmarks/analytics.py --rows 1000      # one size (repeat --rows for more)
    .venv/bin/python benchmarks/analytics.py --json           # ... and one JSON object last

Analyses (benchmarks/_analytics_jobs.py): mean, variance, correlation of 3
columns, linear regression on 3 features, naive Bayes (categorical: the count
tables of 2 features; and Gaussian: per-class count, mean and variance of 2
features) and a depth-3 ID3 tree (Gini) on 3 categorical features. The rows
are split evenly: party i holds rows i, i + 3, ...

Ours: three processes (benchmarks/_analytics_party.py) connected by
``connect_job`` (mutual TLS 1.3, pinned certificates) on 127.0.0.1, as in
``benchmarks/engine.py --transport tls``. This process makes the identities,
writes each party's third of the rows as a CSV file, deals every tuple the
jobs need (``registry.needs`` per job, times the repeats) with one dealer and
seals each batch per party (HPKE). Each party takes delivery of every batch
(open, sacrifice over TLS, store in its SQLite TupleCache), then per job reads
its CSV with ``registry.read_table`` and runs ``registry.run`` as a peer does,
each run with its exact tuples reserved from the cache before the clock. So
preprocessing (dealing, sealing, delivery) and reading the CSV are excluded
from the analysis time and reported apart (``preprocessing``, ``load_s``).
The time of a run is the slowest party's, from a barrier to the revealed
result (local statistics, inputs, MPC, MAC-checked outputs); rounds are
party 2's; bytes are those each party sent during the run.

numpy: the same revealed values computed on the pooled rows (numbers as
float arrays, categories as index arrays, made before the clock).

MPyC (benchmarks/_mpyc_analytics.py): mean, variance, correlation and
regression as three processes with ``--ssl``, each given its rows as secret
inputs (``mpyc_rows``) and, as ours, its local sums (``mpyc_local``). MPyC's
library has no naive Bayes or decision tree; those have no MPyC figures.

Every time is the median of ``--repeats`` runs (numpy: of at least 5), and
every ratio is time over time measured in this run (below 1: ours faster).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
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

from _analytics_jobs import (  # noqa: E402
    ANALYSES,
    CSV_COLUMNS,
    data,
    deviation,
    party_rows,
    plain,
    plain_inputs,
    spec,
)
from _mpyc_analytics import FIXED_POINT, MPYC_ANALYSES, VARIANTS, bench_mpyc  # noqa: E402
from engine import (  # noqa: E402
    ChildFailure,
    deal_sealed,
    run_tls_parties,
    write_config,
    write_parties,
)

from offchain.auditable import routes  # noqa: E402
from offchain.preprocessing.tuples import Needs  # noqa: E402

PASSPHRASE = b"mpcc analytics benchmark (throwaway keys)"
SIZES = (1000, 10_000, 100_000)


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# numpy --------------------------------------------------------------------------------------
def bench_plain(names: list[str], sizes: list[int], repeats: int
                ) -> dict[tuple[str, int], dict[str, Any]]:
    out = {}
    for rows in sizes:
        columns = data(rows)
        for name in names:
            job = spec(name, rows)
            numeric, codes = plain_inputs(job, columns)
            times = []
            for _ in range(max(5, repeats)):
                start = time.perf_counter()
                reference = plain(name, job, numeric, codes)
                times.append(time.perf_counter() - start)
            out[(name, rows)] = {"plain_s": statistics.median(times), "reference": reference}
    return out


# ours over TLS ------------------------------------------------------------------------------
def prepare(workdir: Path, pairs: list[tuple[str, int]], args: argparse.Namespace,
            parties: int = 3) -> dict[str, Any]:
    """Identities, CSV files, the tuples of every (analysis, rows) job dealt and sealed per
    party, ``args.repeats`` runs each; config.json for the party processes."""
    from offchain.preprocessing.dealer import Dealer

    dealer, keys = Dealer.create(parties)
    orgs = write_parties(workdir, keys, PASSPHRASE)
    jobs, needs = [], Needs()
    for rows in sorted({rows for _, rows in pairs}):
        columns = data(rows)
        for i in range(parties):
            write_csv(workdir / f"p{i}" / f"rows_{rows}.csv", party_rows(columns, i, parties))
    for name, rows in pairs:
        job = spec(name, rows, parties)
        jobs.append({"name": name, "rows": rows, "spec": job.canonical(),
                     "csv": f"rows_{rows}.csv"})
        needs = needs + routes.needs(job) * args.repeats
    batches, times = deal_sealed(workdir, dealer, orgs, needs, args.batch_size)
    write_config(workdir, orgs, PASSPHRASE, args.tls_timeout, batches, jobs=jobs,
                 repeats=args.repeats)
    return {"tuples": sum(b["count"] for b in batches), "batches": len(batches),
            **{k: times[k] for k in ("deal_s", "seal_s", "write_s")}}


def write_csv(path: Path, columns: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(CSV_COLUMNS)
        out.writerows(zip(*(columns[c].tolist() for c in CSV_COLUMNS), strict=True))


def bench_ours(names: list[str], sizes: list[int], args: argparse.Namespace
               ) -> tuple[dict[tuple[str, int], dict[str, Any]], dict[str, Any]]:
    """Per (analysis, rows): time, rounds, bytes, result; and the preprocessing figures."""
    workdir = Path(tempfile.mkdtemp(prefix="mpcc-bench-analytics-"))
    try:
        start = time.perf_counter()
        prep = prepare(workdir, [(n, r) for r in sizes for n in names], args)
        prep["prepare_s"] = time.perf_counter() - start
        log(f"dealt and sealed {prep['tuples']} tuples in {prep['batches']} batches "
            f"({prep['prepare_s']:.1f} s); running the 3 parties over TLS")
        parties = run_tls_parties(workdir, args.tls_timeout, script="_analytics_party.py")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return summarise(parties, prep, args.repeats), prep


def summarise(parties: list[dict[str, Any]], prep: dict[str, Any], repeats: int
              ) -> dict[tuple[str, int], dict[str, Any]]:
    """The parties' figures per (analysis, rows); their delivery times are added to ``prep``."""
    for step in ("delivery_s", "fetch_s", "open_s", "sacrifice_s", "store_s", "connect_s"):
        prep[step] = max(p[step] for p in parties)
    out = {}
    for j, job in enumerate(parties[0]["jobs"]):
        runs = [p["jobs"][j]["runs"] for p in parties]
        results = [run["result"] for r in runs for run in r]
        out[(job["name"], job["rows"])] = {
            "mpc_s": statistics.median(max(r[k]["elapsed_s"] for r in runs)
                                       for k in range(repeats)),
            "mpc_runs_s": [max(r[k]["elapsed_s"] for r in runs) for k in range(repeats)],
            "rounds": runs[2][0]["rounds"],
            "bytes_per_party": [r[0]["bytes_sent"] for r in runs],
            "load_s": max(p["jobs"][j]["load_s"] for p in parties),
            "results": [run["result"] for run in runs[0]],
            "parties_agree": all(r == results[k % repeats] for k, r in enumerate(results))}
    return out


# MPyC ---------------------------------------------------------------------------------------
def bench_theirs(names: list[str], sizes: list[int], args: argparse.Namespace
                 ) -> tuple[dict[tuple[str, int, str], dict[str, Any]], dict[int, str]]:
    out: dict[tuple[str, int, str], dict[str, Any]] = {}
    transports = {}
    wanted = [n for n in names if n in MPYC_ANALYSES]
    for rows in sizes:
        if not wanted or rows > args.mpyc_max_rows:
            continue
        start = time.perf_counter()
        figures = bench_mpyc(rows, args.mpyc_repeats, wanted, args.mpyc_timeout)
        log(f"MPyC, {rows} rows: {time.perf_counter() - start:.1f} s")
        transports[rows] = figures["transport"]
        parties = figures["parties"]
        for name in wanted:
            for variant in VARIANTS:
                runs = [p["runs"][name][variant] for p in parties]
                out[(name, rows, variant)] = {
                    "s": statistics.median(max(r[k]["elapsed_s"] for r in runs)
                                           for k in range(args.mpyc_repeats)),
                    "bytes_per_party": [r[0]["bytes_sent"] for r in runs],
                    "results": [run["result"] for run in runs[0]]}
    return out, transports


# The report ---------------------------------------------------------------------------------
def worst(errors: list[float | str]) -> float | str:
    """The largest error of the runs, or the first difference of a run that differs."""
    return next((e for e in errors if isinstance(e, str)), max(errors))  # type: ignore[type-var]


def assemble(names: list[str], sizes: list[int], plain_f: dict[Any, Any], ours: dict[Any, Any],
             theirs: dict[Any, Any], args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    table: dict[str, dict[str, Any]] = {}
    for name in names:
        for rows in sizes:
            o, p = ours[(name, rows)], plain_f[(name, rows)]
            row: dict[str, Any] = {
                "mpc_s": o["mpc_s"], "mpc_runs_s": o["mpc_runs_s"], "rounds": o["rounds"],
                "bytes_per_party": o["bytes_per_party"], "load_s": o["load_s"],
                "plain_s": p["plain_s"], "ratio_mpc_vs_plain": o["mpc_s"] / p["plain_s"],
                "mpc_error": worst([deviation(r, p["reference"]) for r in o["results"]]),
                "parties_agree": o["parties_agree"]}
            for variant in VARIANTS:
                t = theirs.get((name, rows, variant))
                row[f"mpyc_{variant}_s"] = t and t["s"]
                row[f"mpyc_{variant}_bytes_per_party"] = t and t["bytes_per_party"]
                row[f"ratio_mpc_vs_mpyc_{variant}"] = t and o["mpc_s"] / t["s"]
                errors = t and [deviation(r, p["reference"]) for r in t["results"]]
                row[f"mpyc_{variant}_errors"] = errors
                row[f"mpyc_{variant}_error"] = errors and worst(errors)
            if name not in MPYC_ANALYSES:
                row["mpyc_note"] = "not in MPyC's library"
            elif rows > args.mpyc_max_rows:
                row["mpyc_note"] = f"not run (--mpyc-max-rows {args.mpyc_max_rows})"
            table.setdefault(name, {})[str(rows)] = row
    return table


def show(table: dict[str, dict[str, Any]]) -> None:
    def num(v: Any, fmt: str) -> str:
        return format(v, fmt) if isinstance(v, (int, float)) else "-"

    def err(v: Any) -> str:
        return format(v, ".1e") if isinstance(v, float) else ("-" if v is None else "DIFFERS")

    print(f"{'analysis':<24}{'rows':>7}{'ours s':>9}{'rounds':>7}{'kB/party':>9}{'numpy ms':>10}"
          f"{'x numpy':>9}{'mpyc rows s':>12}{'mpyc local s':>13}{'/rows':>7}{'/local':>7}"
          f"{'err ours':>9}{'err mpyc':>9}")
    for name, sizes in table.items():
        for rows, r in sizes.items():
            theirs = [r[f"mpyc_{v}_error"] for v in VARIANTS if r[f"mpyc_{v}_error"] is not None]
            print(f"{name:<24}{rows:>7}{r['mpc_s']:>9.3f}{r['rounds']:>7}"
                  f"{max(r['bytes_per_party']) / 1e3:>9.1f}{r['plain_s'] * 1e3:>10.3f}"
                  f"{r['ratio_mpc_vs_plain']:>9.0f}{num(r['mpyc_rows_s'], '12.3f'):>12}"
                  f"{num(r['mpyc_local_s'], '13.3f'):>13}"
                  f"{num(r['ratio_mpc_vs_mpyc_rows'], '7.2f'):>7}"
                  f"{num(r['ratio_mpc_vs_mpyc_local'], '7.2f'):>7}"
                  f"{err(r['mpc_error']):>9}"
                  f"{err(worst(theirs) if theirs else None):>9}")


NOTES = [
    "times: median of --repeats runs; ours = slowest party, barrier to revealed result, "
    "preprocessing and CSV reading excluded (see 'preprocessing', 'load_s')",
    "'x numpy' = ours / numpy; '/rows', '/local' = ours / MPyC (below 1: ours faster)",
    "errors: largest absolute difference from numpy on the pooled rows over all runs (err mpyc: "
    "both variants; counts and trees must be equal: DIFFERS if not)",
    "naive Bayes and the decision tree: not in MPyC's library (no MPyC figures)",
    "MPyC: semi-honest, honest majority (Shamir t=1), no preprocessing, row counts public, "
    f"SecFxp{FIXED_POINT} (its division needs f >= l/2); ours: active security with abort, "
    "dishonest majority (SPDZ, MAC-checked), k=64 f=20",
    "mpyc_rows: each party inputs its rows; mpyc_local: its local sums, as ours",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, action="append",
                        help="pooled row count (repeatable; default 1000, 10000, 100000)")
    parser.add_argument("--analyses", help=f"comma-separated subset of {','.join(ANALYSES)}")
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    parser.add_argument("--no-mpyc", action="store_true", help="skip MPyC")
    parser.add_argument("--mpyc-repeats", type=int, help="MPyC runs per measurement "
                        "(default: --repeats)")
    parser.add_argument("--mpyc-max-rows", type=int, default=max(SIZES),
                        help="run MPyC only up to this many rows")
    parser.add_argument("--batch-size", type=int, default=100_000, help="tuples per batch")
    parser.add_argument("--tls-timeout", type=float, default=1200.0,
                        help="seconds before our party processes are killed")
    parser.add_argument("--mpyc-timeout", type=float, default=900.0,
                        help="seconds before the MPyC processes of one size are killed")
    args = parser.parse_args()
    sizes = sorted(set(args.rows or SIZES))
    names = args.analyses.split(",") if args.analyses else list(ANALYSES)
    args.mpyc_repeats = args.mpyc_repeats or args.repeats
    unknown = sorted(set(names) - set(ANALYSES))
    if unknown or args.repeats < 1:
        parser.error(f"unknown analyses {unknown}" if unknown else "--repeats must be >= 1")
    started, load = time.perf_counter(), os.getloadavg()
    plain_f = bench_plain(names, sizes, args.repeats)
    try:
        ours, prep = bench_ours(names, sizes, args)
        theirs, transports = ({}, {}) if args.no_mpyc else bench_theirs(names, sizes, args)
    except ChildFailure as err:
        print(f"analytics benchmark: {err}", file=sys.stderr)
        return 1
    table = assemble(names, sizes, plain_f, ours, theirs, args)
    show(table)
    print(f"preprocessing (excluded above): {prep['tuples']} tuples, dealt {prep['deal_s']:.1f} s,"
          f" sealed {prep['seal_s']:.1f} s, delivered (open + sacrifice over TLS + store) "
          f"{prep['delivery_s']:.1f} s")
    for note in NOTES:
        print("note: " + note)
    elapsed = time.perf_counter() - started
    print(f"run time {elapsed:.0f} s; load average {load[0]:.2f} at start, "
          f"{os.getloadavg()[0]:.2f} at end (2-core machine shared with other work)")
    if args.json:
        print(json.dumps({
            "parties": 3, "transport": "tls", "repeats": args.repeats,
            "mpyc_repeats": args.mpyc_repeats, "rows": sizes,
            "naive_bayes": "naive_bayes_categorical: count tables (exact); "
                           "naive_bayes_gaussian: per-class count, mean, variance",
            "mpyc_transport": {str(k): v for k, v in transports.items()} if not args.no_mpyc
            else None, "mpyc_fixed_point": list(FIXED_POINT), "mpyc_max_rows": args.mpyc_max_rows,
            "preprocessing": prep, "analyses": table, "notes": NOTES, "run_s": elapsed,
            "load_average": [load[0], os.getloadavg()[0]]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
