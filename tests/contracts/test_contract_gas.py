"""Gas of a whole job: it grows with the participants only, never with the chain's history.

The design goal is 200k gas per participant per job (propose + reservation +
accept + commitInputs + submitResult, divided by the participants). A 3-party
job measures about 221k, of which 77k is the 21k intrinsic cost of each of the
11 transactions and 74k the ten storage slots a job must create (job record,
one seat and one input commitment per participant, the result hash). The
budget below guards against regressions from that measured level.
"""

from __future__ import annotations

from contract_testkit import (
    SPEC,
    Chain,
    JobState,
    accept_all,
    attest,
    commit_batch,
    commitment_of,
    job_state,
    propose,
)

GAS_PER_PARTICIPANT_BUDGET = 225_000


def run_job(chain: Chain, participants: list[str], batch: bytes) -> dict[str, list[int]]:
    """Run one full job and return the gas of every transaction, by function."""
    gas: dict[str, list[int]] = {}
    job = propose(chain, participants)
    gas["propose"] = [job.receipt.gasUsed]
    jobs = chain.jobs
    gas["reserveTuples"] = [chain.tx(jobs.functions.reserveTuples(job.job_id, batch, 10), participants[0]).gasUsed]
    gas["accept"] = [chain.tx(jobs.functions.accept(job.job_id), p).gasUsed for p in participants]
    gas["commitInputs"] = [chain.tx(jobs.functions.commitInputs(job.job_id, commitment_of(p)), p).gasUsed
                           for p in participants]
    gas["submitResult"] = [chain.tx(jobs.functions.submitResult(job.job_id, b'{"mean":"52916.67"}'), p).gasUsed
                           for p in participants]
    assert job_state(chain, job.job_id) == JobState.FINALISED
    return gas


def test_gas_per_participant_of_a_three_party_job(chain: Chain) -> None:
    batch = commit_batch(chain, count=1_000)
    attest(chain, batch)
    run_job(chain, chain.members, batch)  # the first job pays for first-time storage (job counter)
    gas = run_job(chain, chain.members, batch)
    total = sum(sum(values) for values in gas.values())
    per_participant = total / len(chain.members)
    print(f"\n3-party job, spec of {len(SPEC)} bytes:")
    for name, values in gas.items():
        print(f"  {name:14s} {values}")
    print(f"  total {total}, per participant {per_participant:.0f}")
    assert per_participant < GAS_PER_PARTICIPANT_BUDGET


def test_gas_of_a_job_does_not_grow_with_history(chain: Chain) -> None:
    batch = commit_batch(chain, count=1_000)
    attest(chain, batch)
    run_job(chain, chain.members, batch)
    second = run_job(chain, chain.members, batch)
    for _ in range(3):
        run_job(chain, chain.members, batch)
    later = run_job(chain, chain.members, batch)
    assert later == second


def test_accept_costs_the_same_for_every_participant(chain: Chain) -> None:
    job = propose(chain)
    accept_all(chain, propose(chain))  # warm the job counter
    costs = [chain.tx(chain.jobs.functions.accept(job.job_id), p).gasUsed for p in job.participants]
    # The last acceptance also moves the job to Accepted.
    assert costs[0] == costs[1]
    assert costs[2] - costs[0] < 3_000
