#!/usr/bin/env python3
"""Gas per call and per job for 3, 5 and 10 participants on the in-process chain.

A job here is what JobManager sees of one computation: propose, one tuple
reservation per tuple kind used (triples and input masks), every participant's
accept, input commitment and result. The proposer is a participant: it accepts
by proposing and reserves the tuples with the proposal; ``--separate`` measures
the reservations as a reserveTuples transaction of their own instead. Batch
commitments and sacrifice attestations are per batch, shared by many jobs, and
reported apart. Goal: under 200k gas per participant per job.

    python benchmarks/gas.py [--json] [--separate] [--sizes 3,5,10]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from collections import defaultdict

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))  # The test harness.

from onchain.embedded import in_memory_chain  # noqa: E402
from harness.chain import placeholder_consortium  # noqa: E402
from onchain.jobs import Deadlines  # noqa: E402
from onchain.ledger import TupleKind  # noqa: E402

GOAL_PER_PARTICIPANT = 200_000
SPEC = json.dumps({"analysis": "mean", "column": "income", "reveal": ["mean"]}, sort_keys=True)


def measure(n: int, separate: bool = False) -> dict[str, object]:
    chain = in_memory_chain()
    service = chain.test_account(1)
    dep, members = placeholder_consortium(chain, n, preprocessor=service.address)
    gas: dict[str, list[int]] = defaultdict(list)
    batches = {}
    for kind in (TupleKind.TRIPLE, TupleKind.INPUT_MASK):
        batches[kind] = secrets.token_bytes(32)
        gas["commitBatch"].append(dep.ledger.commit_batch(service, batches[kind], kind, 100_000,
                                                           secrets.token_bytes(32)).gas_used)
        for m in members:
            gas["attestSacrifice"].append(dep.ledger.attest_sacrifice(m, batches[kind], secrets.token_bytes(32)).gas_used)
    plan = [(batch_id, 1000) for batch_id in batches.values()]
    deadlines = Deadlines.from_now(chain.now())
    # The proposer, members[0], accepts by proposing; it reserves the tuples with the
    # proposal, or (separate=True) in a reserveTuples transaction of its own.
    job_id, receipt = dep.jobs.propose(members[0], SPEC, [m.address for m in members], deadlines,
                                       () if separate else plan)
    gas["propose"].append(receipt.gas_used)
    if separate:
        gas["reserveTuples"].append(dep.jobs.reserve_batches(members[0], job_id, plan).gas_used)
    for m in members[1:]:
        gas["accept"].append(dep.jobs.accept(m, job_id).gas_used)
    for m in members:
        gas["commitInputs"].append(dep.jobs.commit_inputs(m, job_id, secrets.token_bytes(32)).gas_used)
    for m in members:
        gas["submitResult"].append(dep.jobs.submit_result(m, job_id, b"\x00" * 32).gas_used)
    per_job = sum(sum(gas.get(k, ())) for k in ("propose", "reserveTuples", "accept", "commitInputs", "submitResult"))
    return {
        "participants": n,
        "gas_per_call_avg": {k: round(sum(v) / len(v)) for k, v in gas.items()},
        "gas_per_job": per_job,
        "gas_per_participant_per_job": round(per_job / n),
        "gas_per_batch_with_attestations": round((sum(gas["commitBatch"]) + sum(gas["attestSacrifice"])) / len(batches)),
        "job_state": dep.jobs.job(job_id).state.name,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    parser.add_argument("--separate", action="store_true", help="reserve tuples in a transaction of their own")
    parser.add_argument("--sizes", default="3,5,10")
    args = parser.parse_args()
    results = [measure(int(n), args.separate) for n in args.sizes.split(",")]
    for r in results:
        print(f"{r['participants']:>3} participants: {r['gas_per_job']:>9,} gas per job, "
              f"{r['gas_per_participant_per_job']:>7,} per participant "
              f"(goal < {GOAL_PER_PARTICIPANT:,}); per batch incl. attestations "
              f"{r['gas_per_batch_with_attestations']:,}; final state {r['job_state']}")
        print("     per call: " + ", ".join(f"{k} {v:,}" for k, v in r["gas_per_call_avg"].items()))
    worst = max(r["gas_per_participant_per_job"] for r in results)
    summary = {"results": results, "max_gas_per_participant_per_job": worst,
               "goal_per_participant": GOAL_PER_PARTICIPANT, "goal_met": worst < GOAL_PER_PARTICIPANT}
    if args.json:
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
