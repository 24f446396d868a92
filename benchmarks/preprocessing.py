"""Benchmark of preprocessing between processes over mutual TLS: LowGear triples for 2, 3 and 5 parties, and the dealer.

    .venv/bin/python benchmarks/preprocessing.py --json      # 2, 3, 5 parties and the dealer
    .venv/bin/python benchmarks/preprocessing.py --parties 3 --batches 4
    .venv/bin/python benchmarks/preprocessing.py --parties 2 --batches 1 --json
    .venv/bin/python benchmarks/preprocessing.py --small --no-dealer   # N = 64: a quick check

Dealerless (issue 13): for each party count, one process per party
(benchmarks/_preprocessing_party.py) connected by ``connect_job`` (mutual TLS 1.3,
pinned certificates, one identity per organisation made here in a temporary
directory) on 127.0.0.1. Each party builds the ring's tables (``warm_s``, off
the clock), runs LowGear's setup once at N = 2^15 with 13 primes
(``offchain.lattice.params.production()``), then ``--batches`` triple batches of
``--ciphertexts`` ciphertexts per party (k N / 2 checked triples each), each
accepted by the engine's sacrifice and dropped before the next. Figures:

- ``checked_triples_per_s``: checked triples over the slowest party's wall time
  from a barrier after the setup to after its last sacrifice;
  ``checked_triples_per_s_median_batch``: the median over batches of a batch's
  triples over its slowest party's time;
- ``bytes_per_triple_per_party``: the most any party gave its transport
  (``transport.stats.bytes_sent``: message payloads, without TLS records and
  framing) over the batches, per checked triple; ``..._incl_setup`` adds the
  one-off setup bytes (``setup_bytes_per_party``);
- ``cpu_s_per_triple``: the most CPU time (process_time, all threads) any
  party's process spent over the batches, per checked triple;
  ``cpu_s_per_triple_all_parties`` sums the parties;
- ``peak_rss_mb``: the largest ``ru_maxrss`` of the party processes, in MiB;
- ``noise_margin_bits``: ``offchain.lattice.noise.lowgear_noise(params, n).margin_bits``;
- ``proofs``: whether ``offchain.dealerless`` imports ``offchain.lattice.zk``
  (read from its modules' import statements); ``load_average``: os.getloadavg()
  right after the run (``load_average_before``: right before).

Dealer (3 parties, ``--batches`` batches of k N / 2 triples, or the most one
delivery may hold if fewer, unless ``--dealer-batch-size``): this process deals each batch and seals it with HPKE
per party (engine.py's ``deal_sealed``); then each party process takes
delivery (``_tls_party.take_delivery``: read, open, sacrifice over TLS, store).
``triples_per_s`` is triples over deal + seal + the slowest party's read, open
and sacrifice (store excluded); ``delivery_tuples_per_s`` is engine.py's
(read, open, sacrifice and store, slowest party). ``bytes_per_triple_per_party``
is what the dealer sends a party (its sealed delivery) plus what that party
sends for the sacrifice, per triple.

The box is shared: every figure depends on the load, printed beside it. The
goals of issue 13 are printed beside the figures and not checked. The setup
(``setup_s``) includes the keys' proofs and the MAC key's proof; every batch includes its TopGear proofs, one per 6
ciphertexts of a party, so batches of 6 ciphertexts pay no padding. The last line with ``--json`` is one JSON object:
{"dealerless": {"2": {...}, ...}, "dealer": {...}, "noise_margin_bits": {...}}.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from engine import ChildFailure, deal_sealed, run_tls_parties, write_config, write_parties  # noqa: E402

import offchain.dealerless  # noqa: E402
from offchain.field import FieldVec  # noqa: E402
from offchain.lattice.bgv import return_levels  # noqa: E402
from offchain.lattice.noise import lowgear_noise  # noqa: E402
from offchain.lattice.params import RingParams, production, small  # noqa: E402
from offchain.lattice.wire import ciphertext_size  # noqa: E402
from offchain.net.framing import DEFAULT_MAX_FRAME, HEADER_BYTES  # noqa: E402
from offchain.preprocessing.dealer import Dealer  # noqa: E402
from offchain.preprocessing.tuples import Needs, TupleKind, max_batch_count  # noqa: E402
from offchain.shares import split_key  # noqa: E402

PASSPHRASE = b"mpcc preprocessing benchmark (throwaway keys)"
PARTY_SCRIPT = "_preprocessing_party.py"
GOALS: dict[int, dict[str, float]] = {
    3: {"checked_triples_per_s": 2120, "bytes_per_triple_per_party": 10_000},
    5: {"checked_triples_per_s": 700},
}
"""Issue 13's goals (10 KB taken as 10,000 bytes): printed beside the figures, never asserted."""


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def proofs_plugged() -> tuple[bool, str]:
    """Whether a module of offchain.dealerless imports offchain.lattice.zk, and which says so."""
    folder = Path(offchain.dealerless.__file__).parent
    for path in sorted(folder.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [f"{node.module}.{a.name}" for a in node.names]
                     if isinstance(node, ast.ImportFrom) and node.module else [])
            if any(n == "offchain.lattice.zk" or n.startswith("offchain.lattice.zk.") for n in names):
                return True, f"offchain/dealerless/{path.name} imports offchain.lattice.zk"
    return False, ("no module of offchain.dealerless imports offchain.lattice.zk: "
                   "announced keys and ciphertexts are unproven")


def frame_problem(params: RingParams, ciphertexts: int) -> str | None:
    """Why a batch of ``ciphertexts`` cannot travel: its largest message exceeds a TLS frame (None if it fits).

    The largest message is a party's returns to one peer (3 k ciphertexts at
    the return level) or its announcement (k fresh ciphertexts), each item
    with a 4-byte length after a 4-byte head (offchain.dealerless.messages).
    """
    announcement = ciphertexts * (4 + ciphertext_size(params))
    returns = 3 * ciphertexts * (4 + ciphertext_size(params, return_levels(params)))
    largest = 4 + max(announcement, returns)
    if largest > DEFAULT_MAX_FRAME - HEADER_BYTES:
        return f"a message of {largest:,} bytes exceeds the channel's {DEFAULT_MAX_FRAME:,}-byte frames"
    return None


def in_workdir(prefix: str, parties: int, timeout: float, build: Callable[[Path], None]) -> list[dict[str, Any]]:
    """Makes a temporary folder, ``build(workdir)`` writes it, runs the parties there, removes it."""
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        build(workdir)
        return run_tls_parties(workdir, timeout, script=PARTY_SCRIPT, parties=parties)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def run_dealerless(n: int, args: argparse.Namespace, params: RingParams) -> dict[str, Any]:
    """n party processes over TLS: setup, then the batches; their figures combined."""
    def build(workdir: Path) -> None:
        orgs = write_parties(workdir, split_key(FieldVec.random(1)[0], n), PASSPHRASE)
        write_config(workdir, orgs, PASSPHRASE, args.timeout, [], mode="dealerless",
                     lowgear={"small": args.small, "batches": args.batches, "ciphertexts": args.ciphertexts})

    load_before = os.getloadavg()
    start = time.perf_counter()
    parties = in_workdir(f"mpcc-bench-lowgear{n}-", n, args.timeout, build)
    out = dealerless_figures(parties, params, args)
    out["run_s"] = time.perf_counter() - start
    out["load_average_before"], out["load_average"] = list(load_before), list(os.getloadavg())
    return out


def dealerless_figures(parties: list[dict[str, Any]], params: RingParams, args: argparse.Namespace) -> dict[str, Any]:
    """The issue's figures from every party's report (slowest party's time, largest bytes, CPU, RSS)."""
    n = len(parties)
    checked = parties[0]["total"]["checked"]
    if any(p["total"]["checked"] != checked for p in parties):
        raise ChildFailure("the parties checked different numbers of triples", "parties disagree")
    totals = [p["total"] for p in parties]
    setups = [p["setup"] for p in parties]
    per_batch = list(zip(*(p["batches"] for p in parties), strict=True))
    batch_rates = [b[0]["checked"] / max(x["wall_s"] for x in b) for b in per_batch]
    batch_bytes = [max(x["bytes"] for x in b) / b[0]["checked"] for b in per_batch]
    batch_cpu = [max(x["cpu_s"] for x in b) / b[0]["checked"] for b in per_batch]
    proofs, proofs_note = proofs_plugged()
    sent = max(t["bytes"] for t in totals)
    return {
        "parties": n, "n": params.n, "primes": params.levels, "ciphertexts_per_batch": args.ciphertexts,
        "batches": args.batches, "checked_triples": checked,
        "checked_triples_per_s": checked / max(t["wall_s"] for t in totals),
        "checked_triples_per_s_median_batch": statistics.median(batch_rates),
        "bytes_per_triple_per_party": sent / checked,
        "bytes_per_triple_per_party_median_batch": statistics.median(batch_bytes),
        "bytes_per_triple_per_party_incl_setup": max(
            t["bytes"] + s["bytes"] for t, s in zip(totals, setups, strict=True)) / checked,
        "setup_bytes_per_party": max(s["bytes"] for s in setups),
        "cpu_s_per_triple": max(t["cpu_s"] for t in totals) / checked,
        "cpu_s_per_triple_median_batch": statistics.median(batch_cpu),
        "cpu_s_per_triple_all_parties": sum(t["cpu_s"] for t in totals) / checked,
        "peak_rss_mb": max(p["peak_rss_mb"] for p in parties),
        "peak_rss_mb_per_party": [p["peak_rss_mb"] for p in parties],
        "setup_s": max(s["wall_s"] for s in setups), "setup_cpu_s": max(s["cpu_s"] for s in setups),
        "warm_s": max(p["warm_s"] for p in parties), "tls_connect_s": max(p["connect_s"] for p in parties),
        "batch_wall_s": [max(x["wall_s"] for x in b) for b in per_batch],
        "noise_margin_bits": lowgear_noise(params, parties=n).margin_bits,
        "proofs": proofs, "proofs_note": proofs_note, "goals": GOALS.get(n, {}),
    }


def run_dealer(args: argparse.Namespace, batch_size: int) -> dict[str, Any]:
    """3 party processes take delivery of the dealer's sealed triple batches; the dealer mode's figures."""
    total = args.batches * batch_size
    prep: dict[str, Any] = {}

    def build(workdir: Path) -> None:
        dealer, keys = Dealer.create(3)
        orgs = write_parties(workdir, keys, PASSPHRASE)
        needs = Needs.of(TupleKind.TRIPLE, total)
        batches, times = deal_sealed(workdir, dealer, orgs, needs, batch_size)
        prep.update(times)
        prep["delivery_bytes"] = [sum(f.stat().st_size for f in (workdir / f"p{i}" / "deliveries").iterdir())
                                  for i in range(3)]
        write_config(workdir, orgs, PASSPHRASE, args.timeout, batches, mode="dealer")

    load_before = os.getloadavg()
    parties = in_workdir("mpcc-bench-dealer-", 3, args.timeout, build)
    load_after = os.getloadavg()
    checked_s = max(p["fetch_s"] + p["open_s"] + p["sacrifice_s"] for p in parties)
    per_batch = [prep["triple_batch_prep_s"][b] + max(p["triple_batch_checked_s"][b] for p in parties)
                 for b in range(args.batches)]
    delivered = max(prep["delivery_bytes"]) / total
    sacrificed = max(p["bytes_sent"] for p in parties) / total
    return {
        "parties": 3, "triples": total, "batches": args.batches, "batch_size": batch_size,
        "triples_per_s": total / (prep["triple_prep_s"] + checked_s),
        "triples_per_s_median_batch": statistics.median(batch_size / s for s in per_batch),
        "parties_triples_per_s": total / checked_s,
        "delivery_tuples_per_s": total / max(p["delivery_s"] for p in parties),
        "deal_s": prep["deal_s"], "seal_s": prep["seal_s"],
        "fetch_s": max(p["fetch_s"] for p in parties), "open_s": max(p["open_s"] for p in parties),
        "sacrifice_s": max(p["sacrifice_s"] for p in parties), "store_s": max(p["store_s"] for p in parties),
        "bytes_per_triple_per_party": delivered + sacrificed,
        "delivery_bytes_per_triple_per_party": delivered, "sacrifice_bytes_per_triple_per_party": sacrificed,
        "cpu_s_per_triple": max(p["delivery_cpu_s"] for p in parties) / total,
        "peak_rss_mb": max(p["peak_rss_mb"] for p in parties),
        "load_average_before": list(load_before), "load_average": list(load_after),
    }


def show(dealerless: dict[str, dict[str, Any]], dealer: dict[str, Any] | None) -> None:
    """A short table: the figures with the issue's goals beside them."""
    print(f"{'parties':>7} {'triples/s':>10} {'goal':>6} {'B/triple':>9} {'goal':>7} {'+setup':>8} "
          f"{'CPU ms/triple':>13} {'RSS MiB':>8} {'setup s':>8} {'margin':>7} {'load 1m':>8}")
    for n, f in dealerless.items():
        goal = f["goals"]
        print(f"{n:>7} {f['checked_triples_per_s']:>10,.0f} {goal.get('checked_triples_per_s', ''):>6} "
              f"{f['bytes_per_triple_per_party']:>9,.0f} {goal.get('bytes_per_triple_per_party', ''):>7} "
              f"{f['bytes_per_triple_per_party_incl_setup']:>8,.0f} {1000 * f['cpu_s_per_triple']:>13.3f} "
              f"{f['peak_rss_mb']:>8,.0f} {f['setup_s']:>8.1f} {f['noise_margin_bits']:>7.1f} "
              f"{f['load_average'][0]:>8.2f}")
    if dealerless:
        first = next(iter(dealerless.values()))
        print(f"LowGear, N = {first['n']}, {first['primes']} primes, {first['batches']} batches of "
              f"{first['ciphertexts_per_batch']} ciphertext(s) per party; proofs: {first['proofs']} "
              f"({first['proofs_note']})")
    if dealer is not None:
        print(f"dealer, 3 parties: {dealer['triples_per_s']:,.0f} triples/s (deal + seal + open + sacrifice), "
              f"{dealer['bytes_per_triple_per_party']:,.0f} B/triple/party "
              f"({dealer['delivery_bytes_per_triple_per_party']:,.0f} delivered + "
              f"{dealer['sacrifice_bytes_per_triple_per_party']:,.0f} sacrifice), "
              f"{1000 * dealer['cpu_s_per_triple']:.3f} CPU ms/triple per party, "
              f"RSS {dealer['peak_rss_mb']:,.0f} MiB, load {dealer['load_average'][0]:.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--parties", type=int, nargs="+", default=[2, 3, 5],
                        help="party counts to run, each as that many processes (default: 2 3 5)")
    parser.add_argument("--batches", type=int, default=3, help="triple batches per party count (and for the dealer)")
    parser.add_argument("--ciphertexts", type=int, default=6,
                        help="ciphertexts per party in each batch (6 = one TopGear proof's worth)")
    parser.add_argument("--dealer-batch-size", type=int, default=None,
                        help="triples per dealer batch (default: those of a LowGear batch, k N / 2, "
                        "at most what one delivery may hold)")
    parser.add_argument("--no-dealer", action="store_true", help="skip the dealer mode (its key is then null)")
    parser.add_argument("--small", action="store_true", help="N = 64 with thirteen primes instead of production")
    parser.add_argument("--timeout", type=float, default=900.0,
                        help="seconds before one run's processes are killed (also the channels' timeout)")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    args = parser.parse_args()
    if args.batches < 1 or args.ciphertexts < 1 or any(n < 2 for n in args.parties):
        parser.error("--batches and --ciphertexts must be positive, --parties at least 2")
    params = small(64, 13) if args.small else production()
    problem = frame_problem(params, args.ciphertexts)
    if problem:
        parser.error(f"--ciphertexts {args.ciphertexts}: {problem}")
    most = max_batch_count(TupleKind.TRIPLE)
    dealer_batch = args.dealer_batch_size or min(args.ciphertexts * params.n // 2, most)
    if not 1 <= dealer_batch <= most:
        parser.error(f"--dealer-batch-size must be between 1 and {most:,} (a delivery's limit)")
    dealerless: dict[str, dict[str, Any]] = {}
    try:
        for n in args.parties:
            log(f"LowGear: {n} parties over TLS, {args.batches} batches ...")
            dealerless[str(n)] = run_dealerless(n, args, params)
        dealer = None
        if not args.no_dealer:
            log("dealer: 3 parties over TLS ...")
            dealer = run_dealer(args, dealer_batch)
    except ChildFailure as err:
        log(f"preprocessing over TLS: {err}")
        return 1
    show(dealerless, dealer)
    if args.json:
        margins = {str(n): lowgear_noise(params, parties=n).margin_bits for n in sorted({2, 3, 5, *args.parties})}
        print(json.dumps({"dealerless": dealerless, "dealer": dealer, "noise_margin_bits": margins}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
