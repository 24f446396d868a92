"""The JobManager client: proposal with reservations, acceptance by proposing, commitments read from events."""

from __future__ import annotations

import secrets

import pytest
from eth_account.signers.local import LocalAccount

from onchain.abi.job_manager import JobStateChanged
from onchain.abi.preprocessing_ledger import TuplesReserved
from onchain.chain import Chain
from harness.chain import placeholder_consortium
from onchain.deploy import Deployment
from onchain.errors import ContractRevert
from onchain.jobs import Deadlines, JobState
from onchain.ledger import TupleKind

SPEC = '{"analysis":"mean","column":"income"}'


@pytest.fixture
def members_and_batches(chain: Chain) -> tuple[Deployment, list[LocalAccount], list[bytes]]:
    """Three bootstrapped members and two batches (triples, input masks) they all attested."""
    service = chain.test_account(1)
    dep, members = placeholder_consortium(chain, 3, preprocessor=service.address)
    batches = []
    for kind in (TupleKind.TRIPLE, TupleKind.INPUT_MASK):
        batch_id = secrets.token_bytes(32)
        dep.ledger.commit_batch(service, batch_id, kind, 100, secrets.token_bytes(32))
        for m in members:
            dep.ledger.attest_sacrifice(m, batch_id, secrets.token_bytes(32))
        batches.append(batch_id)
    return dep, members, batches


def test_a_job_through_the_client(chain: Chain, members_and_batches: tuple) -> None:
    dep, members, (triples, masks) = members_and_batches
    proposer, *others = members
    job_id, receipt = dep.jobs.propose(proposer, SPEC, [m.address for m in members],
                                       Deadlines.from_now(chain.now()), [(triples, 10), (masks, 2)])
    assert [e.event_name for e in receipt.events] == ["JobProposed", "JobStateChanged", "JobAccepted"]
    assert receipt.first(JobStateChanged).toState == JobState.PROPOSED
    assert [(e.batchId, e.start, e.count) for e in dep.ledger.logs(TuplesReserved)] == [
        (triples, 0, 10), (masks, 0, 2)]
    assert dep.jobs.has_accepted(job_id, proposer.address)
    assert not dep.jobs.has_accepted(job_id, others[0].address)
    dep.jobs.reserve_tuples(others[0], job_id, triples, 5)
    assert dep.ledger.batch(triples).reserved == 15
    for m in others:
        dep.jobs.accept(m, job_id)
    commitments = {m.address: secrets.token_bytes(32) for m in members}
    dep.jobs.commit_inputs(members[0], job_id, commitments[members[0].address])
    assert dep.jobs.has_committed(job_id, members[0].address)
    assert dep.jobs.input_commitment(job_id, members[0].address) == commitments[members[0].address]
    assert dep.jobs.input_commitment(job_id, members[1].address) is None
    for m in members[1:]:
        dep.jobs.commit_inputs(m, job_id, commitments[m.address])
    for m in members:
        dep.jobs.submit_result(m, job_id, b'{"mean":"1"}')
    job = dep.jobs.job(job_id)
    assert (job.state, job.accepted, job.committed, job.submitted) == (JobState.FINALISED, 3, 3, 3)
    assert {m.address: dep.jobs.input_commitment(job_id, m.address) for m in members} == commitments


def test_the_proposer_cannot_accept_twice(chain: Chain, members_and_batches: tuple) -> None:
    dep, members, _ = members_and_batches
    job_id, _ = dep.jobs.propose(members[0], SPEC, [m.address for m in members], Deadlines.from_now(chain.now()))
    with pytest.raises(ContractRevert) as info:
        dep.jobs.accept(members[0], job_id)
    assert info.value.error_name == "AlreadyAccepted"
