"""Chain data typed from the ABI: filtered log queries and their cache, structs by name, reverts as classes."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount

from harness.chain import placeholder_consortium
from harness.rpc import counting
from onchain.abi import job_manager
from onchain.abi.job_manager import JobAccepted, JobProposed, JobStateChanged
from onchain.abi.preprocessing_ledger import BatchCommitted, JobManagerBound, TuplesReserved
from onchain.abicodec import by_name
from onchain.artifacts import load
from onchain.chain import Chain
from onchain.deploy import Deployment
from onchain.jobs import Deadlines, Job, JobManager, JobState
from onchain.ledger import PreprocessingLedger, TupleKind
from onchain.logcache import LogCache, LogFilter

SPEC = '{"analysis":"mean","column":"income"}'
Setup = tuple[Deployment, list[LocalAccount], list[int], bytes]


@pytest.fixture
def two_jobs(chain: Chain) -> Setup:
    """Three members, a batch all attested, and two proposed jobs reserving from it."""
    service = chain.test_account(1)
    dep, members = placeholder_consortium(chain, 3, preprocessor=service.address)
    batch = secrets.token_bytes(32)
    dep.ledger.commit_batch(service, batch, TupleKind.TRIPLE, 100, secrets.token_bytes(32))
    for m in members:
        dep.ledger.attest_sacrifice(m, batch, secrets.token_bytes(32))
    jobs = [_propose(dep, members, [(batch, 5)]) for _ in range(2)]
    return dep, members, jobs, batch


def _propose(dep: Deployment, members: list[LocalAccount], reservations: list[tuple[bytes, int]]) -> int:
    job_id, _ = dep.jobs.propose(members[0], SPEC, [m.address for m in members],
                                 Deadlines.from_now(dep.chain.now()), reservations)
    return job_id


def _block(value: Any) -> int:
    return int(value, 16) if isinstance(value, str) else int(value)


def test_a_query_by_job_id_returns_that_jobs_events_only(two_jobs: Setup) -> None:
    dep, members, (first, second), batch = two_jobs
    events = dep.jobs.logs(*job_manager.EVENTS, jobId=first)
    assert [type(e) for e in events] == [JobProposed, JobStateChanged, JobAccepted]
    assert {e.jobId for e in events} == {first}
    proposed = events[0]
    assert isinstance(proposed, JobProposed)
    assert proposed.participants == tuple(m.address for m in members) and proposed.spec == SPEC
    assert dep.jobs.logs(JobAccepted, jobId=second, participant=members[0].address)[0].participant == members[0].address
    assert dep.jobs.logs(JobAccepted, jobId=second, participant=members[1].address) == []
    assert [e.jobId for e in dep.jobs.logs(JobProposed, jobId=[second, first])] == [first, second]
    reserved = dep.ledger.logs(TuplesReserved, batchId=batch, jobId=second)
    assert [(e.batchId, e.jobId, e.start, e.count) for e in reserved] == [(batch, second, 5, 5)]


def test_the_node_filters_by_topic0_and_the_indexed_arguments(two_jobs: Setup) -> None:
    dep, _, (first, _), _ = two_jobs
    with counting(dep.chain.w3) as rpc:
        dep.jobs.logs(JobProposed, jobId=first)
    [params] = rpc.get_logs
    assert params["topics"] == ["0x" + JobProposed.TOPIC0.hex(), "0x" + first.to_bytes(32, "big").hex()]
    assert params["address"] in (dep.jobs.address, [dep.jobs.address])  # The in-process provider makes it a list.


def test_a_second_query_asks_the_node_only_for_new_blocks(two_jobs: Setup) -> None:
    dep, members, (first, _), _ = two_jobs
    w3 = dep.chain.w3
    with counting(w3) as rpc:
        before = dep.jobs.logs(*job_manager.EVENTS, jobId=first)
        assert rpc.methods["eth_getLogs"] == 1
        rpc.clear()
        assert dep.jobs.logs(*job_manager.EVENTS, jobId=first) == before
        assert rpc.methods["eth_getLogs"] == 0 and sum(rpc.methods.values()) == 1  # The tip, to check the cache.
        tip = w3.eth.block_number
        dep.jobs.accept(members[1], first)
        rpc.clear()
        after = dep.jobs.logs(*job_manager.EVENTS, jobId=first)
    assert [(_block(p["fromBlock"]), _block(p["toBlock"])) for p in rpc.get_logs] == [(tip + 1, w3.eth.block_number)]
    assert after[:len(before)] == before
    assert [(type(e), e.participant) for e in after[len(before):]] == [(JobAccepted, members[1].address)]


def test_a_chain_reverted_to_a_snapshot_empties_the_cache(two_jobs: Setup) -> None:
    dep, members, _, _ = two_jobs
    tester = dep.chain.tester
    snapshot = tester.take_snapshot()
    third = _propose(dep, members, [])
    assert [e.spec for e in dep.jobs.logs(JobProposed, jobId=third)] == [SPEC]
    tester.revert_to_snapshot(snapshot)
    assert dep.jobs.logs(JobProposed, jobId=third) == []
    other = '{"analysis":"sum","column":"income"}'
    again, _ = dep.jobs.propose(members[1], other, [m.address for m in members], Deadlines.from_now(dep.chain.now()))
    assert again == third
    assert [e.spec for e in dep.jobs.logs(JobProposed, jobId=third)] == [other]


def test_the_young_blocks_of_a_public_chain_are_asked_for_every_time(two_jobs: Setup) -> None:
    dep, _, _, _ = two_jobs
    w3 = dep.chain.w3
    cache = LogCache(w3, confirmations=2)
    flt = LogFilter(dep.jobs.address, (("0x" + JobProposed.TOPIC0.hex(),),))
    with counting(w3) as rpc:
        first = cache.logs(flt)
        rpc.clear()
        assert cache.logs(flt) == first
    tip = w3.eth.block_number
    assert [(_block(p["fromBlock"]), _block(p["toBlock"])) for p in rpc.get_logs] == [(tip - 1, tip)]


def test_filters_name_indexed_arguments_only(two_jobs: Setup) -> None:
    dep, _, _, batch = two_jobs
    with pytest.raises(TypeError, match="JobProposed has no indexed argument spec"):
        dep.jobs.logs(JobProposed, spec=SPEC)
    with pytest.raises(TypeError, match="JobManagerBound has no indexed argument batchId"):
        dep.ledger.logs(BatchCommitted, JobManagerBound, batchId=batch)


def test_get_job_returns_the_struct_built_by_component_name(two_jobs: Setup) -> None:
    dep, members, (first, _), _ = two_jobs
    job = dep.jobs.job(first)
    proposed = dep.jobs.logs(JobProposed, jobId=first)[0]
    assert isinstance(job, Job) and isinstance(job, job_manager.Job)
    assert (job.spec_hash, job.proposer, job.state, job.accepted) == (
        proposed.specHash, members[0].address, JobState.PROPOSED, 1)
    assert job.deadlines == Deadlines(proposed.acceptBy, proposed.commitBy, proposed.resultBy)
    outputs = next(i for i in load("JobManager").abi if i.get("name") == "getJob")["outputs"][0]["components"]
    assert [p.name for p in Job.COMPONENTS] == [c["name"] for c in outputs]
    named = by_name(Job.COMPONENTS, dep.jobs.contract.functions.getJob(first).call())
    assert Job.from_abi(dict(reversed(named.items()))) == job


def test_reverts_decode_to_their_generated_classes_with_typed_fields(two_jobs: Setup) -> None:
    dep, members, (first, _), _ = two_jobs
    with pytest.raises(JobManager.AlreadyAccepted) as accepted:
        dep.jobs.accept(members[0], first)
    assert (accepted.value.jobId, accepted.value.participant) == (first, members[0].address)
    assert isinstance(accepted.value, job_manager.AlreadyAccepted)
    with pytest.raises(JobManager.JobUnexpectedState) as state:
        dep.jobs.commit_inputs(members[0], first, secrets.token_bytes(32))
    assert (state.value.current, state.value.expected) == (JobState.PROPOSED, JobState.ACCEPTED)
    assert type(state.value.current) is JobState
    fresh = secrets.token_bytes(32)
    dep.ledger.commit_batch(dep.chain.test_account(1), fresh, TupleKind.BIT, 10, secrets.token_bytes(32))
    # A JobManager call reverts with the error of the PreprocessingLedger it called.
    with pytest.raises(PreprocessingLedger.NotAttested) as unattested:
        _propose(dep, members, [(fresh, 1)])
    assert (unattested.value.batchId, unattested.value.participant) == (fresh, members[0].address)
