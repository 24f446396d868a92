"""JobManager's caps (job duration, tuples per job), declining with a reason and releasing the tuples,
and a batch that a job reserved no longer rejectable: each with a member deviating on purpose."""

from __future__ import annotations

from onchain.artifacts import load

from contract_testkit import (
    MAX_DURATION,
    MAX_TUPLES,
    SPEC,
    AbortReason,
    BatchStatus,
    Chain,
    JobState,
    accept_all,
    assert_reverts,
    attest,
    commit_all,
    commit_batch,
    h,
    job_state,
    propose,
    submit_all,
)

DATA_MISSING = 2  # IJobManager.DeclineReason.DataMissing
YEAR_36812 = 1_099_511_627_775  # 2**40 - 1: the deadline a member once used to lock the stock


def test_the_caps_are_set_at_deployment(chain: Chain) -> None:
    assert chain.jobs.functions.maxJobDuration().call() == MAX_DURATION
    assert chain.jobs.functions.maxTuplesPerJob().call() == MAX_TUPLES
    art = load("JobManager")
    factory = chain.w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
    for caps in ((0, 1), (1, 0)):
        assert_reverts(lambda: factory.constructor(chain.registry.address, chain.ledger.address, *caps)
                       .transact({"from": chain.deployer}), "InvalidLimit")


def test_a_deadline_beyond_the_cap_is_refused(chain: Chain) -> None:
    now, m1 = chain.now() + 5, chain.members[0]
    chain.travel(now)  # The block's time, pinned: the cap the revert names is that time plus the duration.
    assert_reverts(lambda: chain.jobs.functions.propose(SPEC, chain.members, now + 10, now + 20, YEAR_36812, [])
                   .transact({"from": m1}), "DeadlineTooFar", YEAR_36812, now + MAX_DURATION)
    chain.tx(chain.jobs.functions.propose(SPEC, chain.members, now + 10, now + 20, now + MAX_DURATION - 60, []), m1)


def test_a_job_cannot_hold_more_tuples_than_the_cap(chain: Chain) -> None:
    big = commit_batch(chain, "big", count=3 * MAX_TUPLES)
    attest(chain, big)
    m1, m2 = chain.members[:2]
    now = chain.now()
    times = (now + 100, now + 200, now + 300)
    next_id = chain.jobs.functions.jobCount().call() + 1
    assert_reverts(lambda: chain.jobs.functions.propose(SPEC, chain.members, *times, [(big, MAX_TUPLES + 1)])
                   .transact({"from": m1}), "ReservationTooLarge", next_id, MAX_TUPLES + 1, MAX_TUPLES)
    # Deviating: reserving the rest in later calls, by another participant, is refused just the same.
    job = propose(chain, reservations=[(big, MAX_TUPLES - 5)])
    assert_reverts(lambda: chain.jobs.functions.reserveTuples(job.job_id, [(big, 3), (big, 3)])
                   .transact({"from": m2}), "ReservationTooLarge", job.job_id, MAX_TUPLES + 1, MAX_TUPLES)
    chain.tx(chain.jobs.functions.reserveTuples(job.job_id, [(big, 5)]), m2)
    assert chain.jobs.functions.getJob(job.job_id).call()[8] == MAX_TUPLES


def test_declining_names_the_reason_and_releases_the_tuples(chain: Chain) -> None:
    triples, masks = commit_batch(chain, "triples", 100), commit_batch(chain, "masks", 10)
    attest(chain, triples)
    attest(chain, masks)
    job = propose(chain, reservations=[(triples, 30), (masks, 3)])
    m2 = chain.members[1]
    receipt = chain.tx(chain.jobs.functions.decline(job.job_id, DATA_MISSING, [triples, masks]), m2)
    assert chain.event(receipt, chain.jobs, "JobDeclined") == {
        "jobId": job.job_id, "participant": m2, "reason": DATA_MISSING}
    assert chain.event(receipt, chain.jobs, "JobAborted")["reason"] == AbortReason.DECLINED
    assert chain.events(receipt, chain.ledger, "TuplesReleased") == [
        {"batchId": triples, "jobId": job.job_id, "start": 0, "count": 30},
        {"batchId": masks, "jobId": job.job_id, "start": 0, "count": 3}]
    assert chain.ledger.functions.getBatch(triples).call()[3] == 0
    assert chain.jobs.functions.getJob(job.job_id).call()[8] == 0
    # The next job gets the same tuples, and runs.
    again = propose(chain, reservations=[(triples, 30)])
    assert chain.event(again.receipt, chain.ledger, "TuplesReserved")["start"] == 0
    accept_all(chain, again)
    commit_all(chain, again)
    submit_all(chain, again)
    assert job_state(chain, again.job_id) == JobState.FINALISED


def test_a_decline_releases_nothing_reserved_after_it_nor_another_jobs_tuples(chain: Chain) -> None:
    batch = commit_batch(chain, "triples", 100)
    attest(chain, batch)
    first = propose(chain, reservations=[(batch, 10)])
    second = propose(chain, reservations=[(batch, 20)])
    third = propose(chain)
    m3 = chain.members[2]
    # Deviating: declining its own job while naming the batch whose last range is another job's.
    receipt = chain.tx(chain.jobs.functions.decline(third.job_id, DATA_MISSING, [batch]), m3)
    assert chain.events(receipt, chain.ledger, "TuplesReleased") == []
    # The first job's range has the second's after it: it stays reserved (never handed out twice).
    receipt = chain.tx(chain.jobs.functions.decline(first.job_id, DATA_MISSING, [batch]), m3)
    assert chain.events(receipt, chain.ledger, "TuplesReleased") == []
    assert chain.ledger.functions.getBatch(batch).call()[3] == 30
    receipt = chain.tx(chain.jobs.functions.decline(second.job_id, DATA_MISSING, [batch]), m3)
    assert chain.events(receipt, chain.ledger, "TuplesReleased") == [
        {"batchId": batch, "jobId": second.job_id, "start": 10, "count": 20}]
    # Only JobManager releases.
    assert_reverts(lambda: chain.ledger.functions.release(first.job_id, batch).transact({"from": m3}),
                   "NotJobManager", m3)
    assert_reverts(lambda: chain.jobs.functions.decline(first.job_id, DATA_MISSING, [batch] * 17)
                   .transact({"from": m3}), "JobUnexpectedState", first.job_id, JobState.ABORTED, JobState.PROPOSED)


def test_a_batch_a_job_reserved_cannot_be_rejected(chain: Chain) -> None:
    batch = commit_batch(chain, "triples", 100)
    attest(chain, batch)
    job = propose(chain, reservations=[(batch, 10)])
    accept_all(chain, job)
    commit_all(chain, job)
    submit_all(chain, job)
    # Deviating: a member rejects the batch after a job used it, which would flip that job's audit.
    m3 = chain.members[2]
    assert_reverts(lambda: chain.ledger.functions.rejectBatch(batch, h("evidence")).transact({"from": m3}),
                   "BatchInUse", batch, 10)
    assert chain.ledger.functions.getBatch(batch).call()[1] == BatchStatus.COMMITTED
