"""The protocol table's SPDZ rows: our engine as 3 processes over mutual TLS, dealer, dealerless and auditable.

Online phase (benchmarks/_protocols_spdz_party.py): this process makes three
identities, deals every tuple the workloads need for every repeat with one
dealer (engine.py's ``deal_sealed``: each workload's batches dealt and sealed
with HPKE apart, so their cost is measured apart), writes each party's third
of the demo's incomes, and starts the parties (engine.py's
``run_tls_parties``). The dealer's CPU time (deal, seal, write) is measured
here per workload; the parties' delivery (open, sacrifice over TLS, store)
is measured in total and shared out by tuple count.

Dealerless: the online phase is the same protocol on tuples of the same
kinds whoever made them, so its figures are the dealer rows' online figures;
the cost of making the tuples comes from a measured LowGear run
(benchmarks/preprocessing.py's ``run_dealerless``: 3 processes over TLS, the
session setup, then one batch of ``ciphertexts`` per party) and is scaled by
the workload's tuples: bits and squares priced as triples (a square batch
gives as many tuples per ciphertext as a triple batch, slots / 2), input
masks at half (slots - 1 per ciphertext), truncation pairs never made (built
from bits, which the needs count). The setup's one-off cost is in the note.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from _protocols_spdz_party import mean_spec
from _workloads import cmp_workload, mul_workload
from engine import deal_sealed, run_tls_parties, write_config, write_parties
from preprocessing import run_dealerless

from offchain.auditable import routes
from offchain.lattice.params import production, small
from offchain.preprocessing.dealer import Dealer
from offchain.preprocessing.tuples import Needs, TupleKind

ROOT = Path(__file__).resolve().parents[1]
PASSPHRASE = b"mpcc protocols benchmark (throwaway keys)"
INCOMES = [ROOT / "examples" / f"incomes_party_{tag}.csv" for tag in "abc"]
SECURITY = ("malicious (active) security with abort, dishonest majority: SPDZ, every opening MAC-checked, "
            "every tuple sacrificed")
DEALER_TRUST = "; the dealer sees every tuple, so privacy also trusts the dealer"
DEALERLESS_TRUST = "; tuples made by the members (LowGear, BGV, ZK proofs): no one else is trusted"
AUDITABLE_TRUST = ("; and publicly verifiable: Pedersen commitments to the input shares, the revealed totals "
                   "opened against them and checked on chain (AuditTrail), even if every party colludes")
TRANSPORT = "mutual TLS 1.3 (pinned certificates), 3 processes on 127.0.0.1"


def needs_of(name: str, sizes: dict[str, int]) -> Needs:
    """The tuples one run of workload ``name`` consumes."""
    if name == "mul":
        return mul_workload(sizes["mul_size"], sizes["mul_reps"])[1]
    if name == "cmp":
        return cmp_workload(sizes["cmp_size"])[1]
    return routes.needs(mean_spec(name == "mean_auditable"))


def run_online(sizes: dict[str, int], workloads: list[str], repeats: int, timeout: float,
               batch_size: int) -> tuple[list[dict[str, Any]], dict[str, dict[str, float]]]:
    """The parties' figures and, per workload, the dealer's preprocessing cost for all its repeats."""
    workdir = Path(tempfile.mkdtemp(prefix="mpcc-bench-protocols-"))
    try:
        dealer, keys = Dealer.create(3)
        orgs = write_parties(workdir, keys, PASSPHRASE)
        for i, path in enumerate(INCOMES):
            shutil.copy(path, workdir / f"p{i}" / "incomes.csv")
        batches: list[dict[str, Any]] = []
        prep: dict[str, dict[str, float]] = {}
        for name in workloads:
            needs = needs_of(name, sizes) * repeats
            cpu = time.process_time()
            dealt, _ = deal_sealed(workdir, dealer, orgs, needs, batch_size)
            prep[name] = {"dealer_cpu_s": time.process_time() - cpu, "tuples": sum(n for _, n in needs),
                          "sealed_bytes": _rename(workdir, dealt, name)}
            batches += dealt
        write_config(workdir, orgs, PASSPHRASE, timeout, batches, workloads=workloads, sizes=sizes,
                     repeats=repeats)
        return run_tls_parties(workdir, timeout, script="_protocols_spdz_party.py"), prep
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _rename(workdir: Path, batches: list[dict[str, Any]], prefix: str) -> float:
    """Gives the batches of one ``deal_sealed`` call names of their own; the sealed bytes one party gets."""
    sizes = []
    for batch in batches:
        new = f"{prefix}_{batch['file']}"
        for i in range(3):
            folder = workdir / f"p{i}" / "deliveries"
            (folder / batch["file"]).rename(folder / new)
        sizes.append((workdir / "p0" / "deliveries" / new).stat().st_size)
        batch["file"] = new
    return float(sum(sizes))


def online_figures(parties: list[dict[str, Any]], name: str) -> dict[str, Any]:
    """Medians over the repeats: slowest party's time, all parties' CPU, the most any party sent."""
    runs = list(zip(*(p[name] for p in parties), strict=True))
    return {
        "latency_s": statistics.median(max(r["elapsed_s"] for r in rs) for rs in runs),
        "rounds": statistics.median(max(r["rounds"] for r in rs) for rs in runs),
        "bytes_per_party": statistics.median(max(r["bytes_sent"] for r in rs) for rs in runs),
        "cpu_s": statistics.median(sum(r["cpu_s"] for r in rs) for rs in runs),
        "chain_bytes_per_party": statistics.median(max(r["chain_bytes"] for r in rs) for rs in runs),
        "first_run_s": max(r["elapsed_s"] for r in runs[0]),
        "result": runs[-1][0]["result"],
    }


def dealer_prep(parties: list[dict[str, Any]], prep: dict[str, dict[str, float]], name: str,
                repeats: int) -> dict[str, float]:
    """One run's preprocessing by the dealer: its CPU and sealed bytes, plus the parties' delivery
    (CPU and sacrifice bytes) shared out by this workload's part of all tuples."""
    share = prep[name]["tuples"] / sum(p["tuples"] for p in prep.values())
    delivery_cpu = sum(p["delivery_cpu_s"] for p in parties) * share
    sacrifice = max(p["delivery_bytes_sent"] for p in parties) * share
    return {"prep_cpu_s": (prep[name]["dealer_cpu_s"] + delivery_cpu) / repeats,
            "prep_bytes_per_party": (prep[name]["sealed_bytes"] + sacrifice) / repeats}


def measure_lowgear(quick: bool, timeout: float) -> dict[str, Any]:
    """A LowGear run, 3 parties over TLS: setup and one batch of 6 ciphertexts per party (quick: N = 64)."""
    args = argparse.Namespace(small=quick, batches=1, ciphertexts=6, timeout=timeout)
    return run_dealerless(3, args, small(64, 13) if quick else production())


def dealerless_prep(needs: Needs, lowgear: dict[str, Any]) -> tuple[dict[str, float], str]:
    """The workload's tuples priced at LowGear's measured cost per checked triple (see the docstring)."""
    weight = {TupleKind.TRIPLE: 1.0, TupleKind.SQUARE: 1.0, TupleKind.BIT: 1.0, TupleKind.INPUT_MASK: 0.5,
              TupleKind.TRUNC: 0.0}
    priced = sum(weight[key.kind] * count for key, count in needs)
    note = (f"preprocessing scaled from a measured LowGear run (N = {lowgear['n']}, {lowgear['primes']} primes, "
            f"{lowgear['checked_triples']:,} checked triples in {lowgear['batch_wall_s'][0]:.0f} s, "
            f"{1e3 * lowgear['cpu_s_per_triple_all_parties']:.3f} CPU ms and "
            f"{lowgear['bytes_per_triple_per_party']:,.0f} B per party per triple) to this run's "
            f"{sum(n for _, n in needs):,} tuples (bits and squares as triples, input masks at half): "
            f"{priced:,.0f} triple-equivalents; a one-off session setup adds {lowgear['setup_cpu_s']:.1f} CPU s "
            f"per party and {lowgear['setup_bytes_per_party'] / 1e6:.1f} MB per party")
    return {"prep_cpu_s": priced * lowgear["cpu_s_per_triple_all_parties"],
            "prep_bytes_per_party": priced * lowgear["bytes_per_triple_per_party"]}, note
