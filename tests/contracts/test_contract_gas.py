"""Gas of a whole job: it grows with the participants only, never with the chain's history or data sizes.

The design goal is under 200k gas per participant per job, where a job is
propose (with the proposer's acceptance and the job's two tuple reservations,
triples and input masks) + every other participant's accept + every
participant's commitInputs and submitResult, divided by the participants.
Measured: about 180k for 3 parties and 151k for 10 (191k for 3 when the
reservations are a transaction of their own). Storage per job is three record
slots, one seat per participant and the first result's hash; commitments and
results live in events. ``benchmarks/gas.py`` prints the breakdown.
"""

from __future__ import annotations

from typing import Any

import pytest

from contract_testkit import (
    RESULT,
    Chain,
    JobState,
    accept_all,
    attest,
    commit_batch,
    commitment_of,
    enlarge,
    job_state,
    propose,
)

GAS_PER_PARTICIPANT_BUDGET = 200_000


def run_job(chain: Chain, participants: list[str], batches: list[bytes], result: bytes = RESULT,
            separate_reservation: bool = False, execution: bool = False) -> dict[str, list[int]]:
    """Run one full job and return the gas of every transaction, by function.

    With ``execution`` the proposal's entry leaves out its calldata, which holds deadlines
    from the block time whose zero bytes vary from job to job (4 or 16 gas each).
    """
    gas: dict[str, list[int]] = {}
    plan = [(batch, 10) for batch in batches]
    job = propose(chain, participants, reservations=None if separate_reservation else plan)
    gas["propose"] = [job.receipt.gasUsed - (calldata_gas(chain, job.receipt) if execution else 0)]
    jobs = chain.jobs
    if separate_reservation:
        gas["reserveTuples"] = [chain.tx(jobs.functions.reserveTuples(job.job_id, plan), participants[0]).gasUsed]
    gas["accept"] = [chain.tx(jobs.functions.accept(job.job_id), p).gasUsed for p in job.to_accept]
    gas["commitInputs"] = [chain.tx(jobs.functions.commitInputs(job.job_id, commitment_of(p)), p).gasUsed
                           for p in participants]
    gas["submitResult"] = [chain.tx(jobs.functions.submitResult(job.job_id, result), p).gasUsed
                           for p in participants]
    assert job_state(chain, job.job_id) == JobState.FINALISED
    return gas


def calldata_gas(chain: Chain, receipt: Any) -> int:
    """What a transaction's calldata costs (EIP-2028): 4 gas per zero byte, 16 per other byte."""
    data = bytes(chain.w3.eth.get_transaction(receipt.transactionHash)["input"])
    return sum(4 if b == 0 else 16 for b in data)


def two_batches(chain: Chain) -> list[bytes]:
    """A batch of triples and one of input masks, attested by every member."""
    batches = [commit_batch(chain, "triples", count=10_000), commit_batch(chain, "masks", count=10_000)]
    for batch in batches:
        attest(chain, batch)
    return batches


def per_participant(gas: dict[str, list[int]], n: int) -> float:
    return sum(sum(values) for values in gas.values()) / n


def report(title: str, gas: dict[str, list[int]], n: int) -> None:
    print(f"\n{title}:")
    for name, values in gas.items():
        print(f"  {name:14s} {values}")
    print(f"  total {sum(sum(v) for v in gas.values())}, per participant {per_participant(gas, n):.0f}")


@pytest.mark.parametrize("n", [3, 10])
def test_gas_per_participant_of_a_job(chain: Chain, n: int) -> None:
    if n != len(chain.members):
        enlarge(chain, n)
    batches = two_batches(chain)
    gas = run_job(chain, chain.members, batches)
    report(f"{n}-party job", gas, n)
    assert per_participant(gas, n) < GAS_PER_PARTICIPANT_BUDGET


def test_gas_per_participant_with_a_separate_reservation(chain: Chain) -> None:
    """Reserving after proposing costs one more transaction; the job stays under the goal."""
    gas = run_job(chain, chain.members, two_batches(chain), separate_reservation=True)
    report("3-party job, reservations apart", gas, 3)
    assert per_participant(gas, 3) < GAS_PER_PARTICIPANT_BUDGET


def test_gas_of_a_job_does_not_grow_with_history(chain: Chain) -> None:
    batches = two_batches(chain)
    run_job(chain, chain.members, batches)
    second = run_job(chain, chain.members, batches, execution=True)  # Deadlines' zero bytes vary by time.
    for _ in range(3):
        run_job(chain, chain.members, batches)
    later = run_job(chain, chain.members, batches, execution=True)
    assert later == second


def test_gas_of_a_job_does_not_grow_with_the_result(chain: Chain) -> None:
    """Commitments are fixed-size; a result costs its calldata and event bytes only (no storage per byte)."""
    batches = two_batches(chain)
    small = run_job(chain, chain.members, batches, result=b"r" * 32)
    large = run_job(chain, chain.members, batches, result=b"r" * 4096)
    extra_per_byte = (sum(large["submitResult"]) - sum(small["submitResult"])) / (3 * (4096 - 32))
    assert extra_per_byte < 40  # calldata 16 + log data 8 + hashing and copying; a storage word per 32 bytes would be ~690


def test_accept_costs_the_same_for_every_participant(chain: Chain) -> None:
    job = propose(chain)
    accept_all(chain, propose(chain))  # warm the job counter
    costs = [chain.tx(chain.jobs.functions.accept(job.job_id), p).gasUsed for p in job.to_accept]
    # The last acceptance also moves the job to Accepted.
    assert costs[1] - costs[0] < 3_000
