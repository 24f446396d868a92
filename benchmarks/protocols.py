"""The seed paper's protocol table, re-measured on one stated workload (issue 15).

    .venv/bin/python benchmarks/protocols.py --json                       # every protocol, 3 repeats
    .venv/bin/python benchmarks/protocols.py --only spdz-dealer mpyc --repeats 5
    .venv/bin/python benchmarks/protocols.py --quick                      # smaller sizes, LowGear at N = 64
    .venv/bin/python benchmarks/protocols.py --json --plot docs/protocols.png

SPU's rows need ``spu`` (SecretFlow; CPython 3.11; about 160 MB of wheels
with jax, so not among the extras scripts/setup installs):
``.venv/bin/pip install spu==0.9.5`` or ``pip install -e ".[spu]"``. Without
it those rows say ``"available": false`` with the reason.

Workload, the same for every protocol: ``mul``, 10,000 multiplications of
secret 64-bit integers (10 chained products of two vectors of 1,000; ours in
the SPDZ field, MPyC's SecInt(64), SPU's int64 in Z/2^64); ``cmp``, 1,000
comparisons x < y of signed 64-bit integers; ``mean``, the mean of the demo's
12 incomes (examples/incomes_party_{a,b,c}.csv, 4 per party; 52,916.67) in
fixed point with 20 fractional bits. Inputs of ``mul`` and ``cmp`` are shared
before the clock; ``mean`` times its inputs too (except SPU's: its owners
share them before the run).

Protocols: ``spdz-dealer``, ``spdz-dealerless``, ``spdz-auditable`` (ours,
benchmarks/_protocols_spdz.py), ``mpyc`` (benchmarks/_protocols_mpyc.py),
``spu-aby3``, ``spu-semi2k``, ``spu-cheetah`` (benchmarks/_protocols_spu.py):
every party a process on 127.0.0.1. Each protocol's processes run the
workload ``--repeats`` times; per run the time is the slowest party's,
bytes the most any party sent, CPU the sum of the parties' CPU seconds
(process time, all threads); the row gives the medians. No RAPL here, so no
energy: CPU-seconds are its proxy. ``rounds`` counts differ by tool and
``rounds_measure`` names each. Ratios are over MPyC's median latency measured
in the same run. The last line with ``--json`` is one object with ``rows``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import _protocols_mpyc as mpyc  # noqa: E402
import _protocols_spdz as spdz  # noqa: E402
import _protocols_spu as spu  # noqa: E402
from _protocols_table import plot, show  # noqa: E402
from engine import ChildFailure  # noqa: E402

from offchain.preprocessing.tuples import TupleKind, max_batch_count  # noqa: E402

PROTOCOLS = ("spdz-dealer", "spdz-dealerless", "spdz-auditable", "mpyc", "spu-aby3", "spu-semi2k", "spu-cheetah")
WORKLOADS = ("mul", "cmp", "mean")
ENERGY = "n/a: no RAPL; cpu_s is the proxy"


def sizes_for(quick: bool) -> dict[str, int]:
    return ({"mul_size": 100, "mul_reps": 10, "cmp_size": 100} if quick
            else {"mul_size": 1_000, "mul_reps": 10, "cmp_size": 1_000})


def describe(workload: str, sizes: dict[str, int]) -> str:
    if workload == "mul":
        return (f"{sizes['mul_size'] * sizes['mul_reps']:,} multiplications of 64-bit integers "
                f"({sizes['mul_reps']} chained products of vectors of {sizes['mul_size']:,})")
    if workload == "cmp":
        return f"{sizes['cmp_size']:,} comparisons x < y of signed 64-bit integers"
    return "mean of the 12 incomes of examples/incomes_party_{a,b,c}.csv (fixed point, f = 20)"


def incomes() -> list[list[float]]:
    return [[float(line.split(",")[1]) for line in path.read_text().splitlines()[1:] if line.strip()]
            for path in spdz.INCOMES]


def row(protocol: str, implementation: str, parties: int, workload: str, sizes: dict[str, int],
        repeats: int, security: str, **figures: Any) -> dict[str, Any]:
    base = {"protocol": protocol, "implementation": implementation, "parties": parties, "workload": workload,
            "workload_description": describe(workload, sizes), "latency_s": None, "rounds": None,
            "rounds_measure": None, "bytes_per_party": None, "cpu_s": None, "energy": ENERGY,
            "security": security, "repeats": repeats, "note": ""}
    base.update(figures)
    return base


def spdz_rows(chosen: list[str], sizes: dict[str, int], args: argparse.Namespace) -> list[dict[str, Any]]:
    """Ours: one TLS run of the dealt workloads serves the dealer and dealerless rows' online phase."""
    workloads = ([*WORKLOADS] if {"spdz-dealer", "spdz-dealerless"} & set(chosen) else []) + (
        ["mean_auditable"] if "spdz-auditable" in chosen else [])
    parties, prep = spdz.run_online(sizes, workloads, args.repeats, args.timeout, args.batch_size)
    lowgear = spdz.measure_lowgear(args.quick, args.timeout) if "spdz-dealerless" in chosen else None
    rounds = "rounds: send phases of the party's transport (transport.stats.rounds, most of any party)"
    rows = []
    for w in WORKLOADS:
        if w not in workloads:
            continue
        online = spdz.online_figures(parties, w)
        online.pop("chain_bytes_per_party")  # Nothing is published outside the auditable mode.
        common = dict(implementation="mpcc (this project)", parties=3, sizes=sizes, repeats=args.repeats,
                      rounds_measure=rounds, transport=spdz.TRANSPORT, **online)
        if "spdz-dealer" in chosen:
            rows.append(row("spdz-dealer", workload=w, security=spdz.SECURITY + spdz.DEALER_TRUST,
                            **spdz.dealer_prep(parties, prep, w, args.repeats), **common,
                            note="prep_*: the dealer's deal and seal (CPU measured per workload) and the "
                            "parties' open, sacrifice and store (shared out by tuple count), per run"))
        if lowgear is not None:
            cost, note = spdz.dealerless_prep(spdz.needs_of(w, sizes), lowgear)
            rows.append(row("spdz-dealerless", workload=w, security=spdz.SECURITY + spdz.DEALERLESS_TRUST,
                            **cost, **common, note="online figures: the dealer run's (the same online "
                            f"protocol on tuples of the same kinds); {note}"))
    if "spdz-auditable" in chosen:
        rows += auditable_rows(parties, prep, sizes, args.repeats)
    return rows


def auditable_rows(parties: list[dict[str, Any]], prep: dict[str, dict[str, float]], sizes: dict[str, int],
                   repeats: int) -> list[dict[str, Any]]:
    security = spdz.SECURITY + spdz.DEALER_TRUST + spdz.AUDITABLE_TRUST
    none = ("no auditable route: auditable mode verifies jobs (offchain.auditable.routes: LINEAR, SUMMARY, "
            "PROGRAM routes of an analysis spec), not a bare vector of {}; no figures invented")
    rows = [row("spdz-auditable", "mpcc (this project)", 3, w, sizes, repeats, security,
                note=none.format("products" if w == "mul" else "comparisons")) for w in ("mul", "cmp")]
    online = spdz.online_figures(parties, "mean_auditable")
    rows.append(row("spdz-auditable", "mpcc (this project)", 3, "mean", sizes, repeats, security,
                    rounds_measure="rounds: send phases of the party's transport (most of any party)",
                    transport=spdz.TRANSPORT, **online, **spdz.dealer_prep(parties, prep, "mean_auditable", repeats),
                    note="LINEAR route, as a peer runs it: the mean job plus Pedersen commitments to the input "
                    "shares and their opening, timed; chain_bytes_per_party is what a party publishes on "
                    "AuditTrail (the on-chain check's gas: benchmarks/auditable.py); tuples from the dealer"))
    return rows


def mpyc_rows(sizes: dict[str, int], args: argparse.Namespace) -> list[dict[str, Any]]:
    specs = {"mul": {"size": sizes["mul_size"], "reps": sizes["mul_reps"]}, "cmp": {"size": sizes["cmp_size"]},
             "mean": {"incomes": incomes()}}
    rows = []
    for w in WORKLOADS:
        parties, transport = mpyc.run(w, specs[w], args.repeats, args.timeout)
        runs = zip(*(p["runs"] for p in parties), strict=True)
        rows.append(row("mpyc", "MPyC 0.11 (Shamir, BGW-style)", 3, w, sizes, args.repeats, mpyc.SECURITY,
                        transport=transport, **medians(parties, "send_phases"),
                        rounds_measure="send phases: sends after a receive, counted around MPyC's "
                        "MessageExchanger (MPyC pipelines messages, so phases can be fewer than rounds)",
                        messages_per_party=statistics.median(max(r["messages_sent"] for r in rs) for rs in runs)))
    return rows


def medians(parties: list[dict[str, Any]], rounds_key: str) -> dict[str, Any]:
    runs = list(zip(*(p["runs"] for p in parties), strict=True))
    return {"latency_s": statistics.median(max(r["elapsed_s"] for r in rs) for rs in runs),
            "rounds": statistics.median(max(r[rounds_key] for r in rs) for rs in runs),
            "bytes_per_party": statistics.median(max(r["bytes_sent"] for r in rs) for rs in runs),
            "cpu_s": statistics.median(sum(r["cpu_s"] for r in rs) for rs in runs),
            "first_run_s": max(r["elapsed_s"] for r in runs[0]),
            "result": runs[-1][0].get("result", runs[-1][0].get("sample"))}


def spu_rows(protocol: str, sizes: dict[str, int], args: argparse.Namespace) -> list[dict[str, Any]]:
    name = protocol.upper()
    n = spu.PARTIES[name]
    holders = incomes() if n == 3 else [incomes()[0] + incomes()[2], incomes()[1]]
    specs = {"mul": {"size": sizes["mul_size"], "reps": sizes["mul_reps"]}, "cmp": {"size": sizes["cmp_size"]},
             "mean": {"incomes": holders}}
    reason = spu.unavailable()
    impl = "SPU 0.9.5 (SecretFlow)"
    rows = []
    for w in WORKLOADS:
        if reason is not None:
            rows.append(row(f"spu-{protocol}", impl, n, w, sizes, args.repeats, spu.SECURITY[name],
                            available=False, note=reason))
            continue
        parties = spu.run(name, w, specs[w], args.repeats, args.timeout)
        note = "2 parties only (Cheetah is a 2PC protocol); " if n == 2 else ""
        if n == 2 and w == "mean":
            note += "party 0 holds the incomes of files a and c, party 1 those of b; "
        rows.append(row(f"spu-{protocol}", impl, n, w, sizes, args.repeats, spu.SECURITY[name], available=True,
                        transport=f"SPU brpc link over TCP on 127.0.0.1, {n} processes (no TLS)",
                        rounds_measure="send actions: the party's send calls in SPU's link counters (SPU "
                        "0.9.5 counts no rounds)", **medians(parties, "send_actions"),
                        note=note + "inputs shared by their owners before the run; first_run_s includes "
                        "any setup a protocol does on its first run (Cheetah's OT and HE keys)"))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object (with rows) last")
    parser.add_argument("--repeats", type=int, default=3, help="runs per protocol and workload (median)")
    parser.add_argument("--only", nargs="+", choices=PROTOCOLS, help="these protocols only")
    parser.add_argument("--quick", action="store_true",
                        help="1,000 multiplications, 100 comparisons, LowGear at N = 64: a quick check")
    parser.add_argument("--plot", type=Path, help="draw latency and bytes per protocol to this PNG")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds before a run's processes are killed")
    parser.add_argument("--batch-size", type=int, default=50_000,
                        help="tuples per sealed dealer batch (at most what one delivery of triples may hold)")
    args = parser.parse_args()
    if not 1 <= args.batch_size <= max_batch_count(TupleKind.TRIPLE):
        parser.error(f"--batch-size must be between 1 and {max_batch_count(TupleKind.TRIPLE):,}")
    chosen = list(args.only or PROTOCOLS)
    sizes = sizes_for(args.quick)
    started = datetime.datetime.now(datetime.UTC)
    rows: list[dict[str, Any]] = []
    try:
        if any(p.startswith("spdz-") for p in chosen):
            rows += spdz_rows(chosen, sizes, args)
        if "mpyc" in chosen:
            rows += mpyc_rows(sizes, args)
        for protocol in ("aby3", "semi2k", "cheetah"):
            if f"spu-{protocol}" in chosen:
                rows += spu_rows(protocol, sizes, args)
    except (ChildFailure, ValueError) as err:
        print(f"protocols: {err}", file=sys.stderr)
        return 1
    reference = {r["workload"]: r["latency_s"] for r in rows if r["protocol"] == "mpyc"}
    for r in rows:
        ref = reference.get(r["workload"])
        r["latency_ratio_vs_mpyc"] = r["latency_s"] / ref if ref and r["latency_s"] is not None else None
    out = {"date": started.isoformat(timespec="seconds"),
           "command": " ".join([".venv/bin/python benchmarks/protocols.py", *sys.argv[1:]]),
           "machine": f"{os.cpu_count()} CPUs (shared), {platform.machine()}, Python {platform.python_version()}",
           "load_average": list(os.getloadavg()), "sizes": sizes, "repeats": args.repeats, "rows": rows}
    show(rows)
    if args.plot:
        plot(rows, args.plot, out["date"])
    if args.json:
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
