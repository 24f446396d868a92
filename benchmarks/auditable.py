"""Auditable mode: commitments/s, public audit time and gas per verified linear result.

For each size N (default 1,000 and 10,000 input values), three participants of
one job on the in-process chain each commit to their shares of N values
(Pedersen on BN254 G1, offchain.curve), post the list to AuditTrail in chunks
of 1,024 points, commit its hash on JobManager, and open their share of the
total; the last opening records the verified total. Then the public audit
reads every list back from calldata and re-checks hashes and openings.

Reported per N: commitments/s (one party's list), gas of the commitment chunks
(all parties), of the openings (with the on-chain ecMul/ecAdd check), in all and
per input value, and the audit's time (reading calldata and checking), with
the same figures for pure-Python curve arithmetic (py_ecc) estimated from a
sample, as the reference measured in the same run.

    .venv/bin/python benchmarks/auditable.py [--sizes 1000 10000] [--json]
"""

from __future__ import annotations

import sys
from pathlib import Path

import argparse
import json
import time

from offchain import curve
from offchain.field import P, FieldVec
from onchain.abi import job_manager
from onchain.audit_trail import list_hash
from onchain.embedded import in_memory_chain
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # The test harness.

from harness.chain import placeholder_consortium
from onchain.jobs import Deadlines
from mpcc.audit.public import load_trail, verify_openings

PARTIES = 3
SAMPLE = 200


def measure(n: int) -> dict[str, float]:
    chain = in_memory_chain()
    dep, members = placeholder_consortium(chain, PARTIES, wei=10**20)
    job_id, _ = dep.jobs.propose(members[0], '{"analysis":"sum"}', [m.address for m in members],
                                 Deadlines.from_now(chain.now()))
    for m in members[1:]:
        dep.jobs.accept(m, job_id)
    commit_s, commit_gas, opening_gas, inputs_gas = 0.0, 0, 0, 0
    lists = []
    for m in members:
        values, rands = FieldVec.random(n), FieldVec.random(n)
        started = time.perf_counter()
        points = curve.commit(values, rands).to_bytes()
        commit_s += time.perf_counter() - started
        commit_gas += sum(r.gas_used for r in dep.audit.commit_shares(m, job_id, 1, points))
        inputs_gas += dep.jobs.commit_inputs(m, job_id, list_hash(points)).gas_used
        lists.append((values, rands))
    for m, (values, rands) in zip(members, lists):
        share, rand = sum(values.to_ints()) % P, sum(rands.to_ints()) % P
        opening_gas += dep.audit.publish_opening(m, job_id, [0], [share], [rand]).gas_used
    started = time.perf_counter()
    job_events = dep.jobs.logs(*job_manager.EVENTS, from_block=dep.manifest.deploy_block, jobId=job_id)
    trail = load_trail(dep, job_id, [m.address for m in members], job_events)
    read_s = time.perf_counter() - started
    totals, steps = verify_openings(trail, 1, (0,), n)
    audit_s = time.perf_counter() - started
    if totals is None or not all(s.passed for s in steps):
        raise SystemExit(f"the audit failed: {[s.detail for s in steps if not s.passed]}")
    total_gas = commit_gas + opening_gas
    return {
        "inputs": n,
        "commitments_per_s": round(PARTIES * n / commit_s),
        "commit_chunks_gas": commit_gas,
        "commit_inputs_gas": inputs_gas,
        "openings_gas": opening_gas,
        "gas_per_verified_result": total_gas,
        "gas_per_input_value": round(total_gas / (PARTIES * n)),
        "audit_s": round(audit_s, 3),
        "audit_read_calldata_s": round(read_s, 3),
    }


def py_ecc_commitments_per_s() -> float:
    """Pure-Python reference: v*G + r*H with py_ecc's optimized_bn128, on a sample."""
    from py_ecc import optimized_bn128 as bn

    h_xy = curve.H.to_ints()[0]
    h = (bn.FQ(h_xy[0]), bn.FQ(h_xy[1]), bn.FQ.one())
    values, rands = FieldVec.random(SAMPLE).to_ints(), FieldVec.random(SAMPLE).to_ints()
    started = time.perf_counter()
    for v, r in zip(values, rands):
        bn.normalize(bn.add(bn.multiply(bn.G1, v), bn.multiply(h, r)))
    return SAMPLE / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = parser.parse_args()
    rows = [measure(n) for n in args.sizes]
    reference = py_ecc_commitments_per_s()
    for row in rows:
        row["commitments_speedup_vs_py_ecc"] = round(row["commitments_per_s"] / reference, 1)
    print(f"{'inputs':>8} {'commit/s':>10} {'vs py_ecc':>9} {'gas (chunks)':>13} {'gas (openings)':>15} "
          f"{'gas/input':>9} {'audit s':>8}")
    for r in rows:
        print(f"{r['inputs']:>8,} {r['commitments_per_s']:>10,} {r['commitments_speedup_vs_py_ecc']:>8}x "
              f"{r['commit_chunks_gas']:>13,} {r['openings_gas']:>15,} {r['gas_per_input_value']:>9,} "
              f"{r['audit_s']:>8}")
    print(f"py_ecc reference: {reference:,.0f} commitments/s; {PARTIES} parties, chunks of 1,024 points; "
          f"the commitInputs transactions ({rows[0]['commit_inputs_gas']:,} gas for {PARTIES}) are a job's anyway")
    if args.json:
        print(json.dumps({"parties": PARTIES, "py_ecc_commitments_per_s": round(reference), "sizes": rows}))


if __name__ == "__main__":
    main()
