"""JobManager: proposal, the state machine, deadlines and expiry, results, failures, views."""

from __future__ import annotations

from typing import Any

import pytest
from eth_abi import encode as abi_encode
from eth_utils import keccak

from contract_testkit import (
    MAX_DURATION,
    MAX_TUPLES,
    RESULT,
    SPEC,
    ZERO32,
    ZERO_ADDRESS,
    AbortReason,
    Chain,
    JobState,
    ProposedJob,
    accept_all,
    assert_reverts,
    attest,
    enlarge,
    commit_all,
    commit_batch,
    commitment_of,
    h,
    job_state,
    propose,
    submit_all,
)


def job_view(chain: Chain, job_id: int) -> dict:
    names = ("specHash", "proposer", "state", "abortReason", "acceptBy", "commitBy", "resultBy", "proposedAt",
             "reserved", "accepted", "committed", "submitted", "resultHash", "evidenceHash")
    return dict(zip(names, chain.jobs.functions.getJob(job_id).call()))


def to_state(chain: Chain, state: JobState) -> ProposedJob:
    """A fresh three-party job driven to ``state`` (Proposed, Accepted or InputsCommitted)."""
    job = propose(chain)
    if state >= JobState.ACCEPTED:
        accept_all(chain, job)
    if state >= JobState.INPUTS_COMMITTED:
        commit_all(chain, job)
    assert job_state(chain, job.job_id) == state
    return job


def deadline_of(job: ProposedJob, state: JobState) -> int:
    return {JobState.PROPOSED: job.accept_by, JobState.ACCEPTED: job.commit_by,
            JobState.INPUTS_COMMITTED: job.result_by}[state]


OPEN_STATES = [JobState.PROPOSED, JobState.ACCEPTED, JobState.INPUTS_COMMITTED]


# ------------------------------------------------------------------- deployment

def test_deployment(chain: Chain) -> None:
    assert chain.jobs.functions.registry().call() == chain.registry.address
    assert chain.jobs.functions.ledger().call() == chain.ledger.address
    assert chain.jobs.functions.jobCount().call() == 0


@pytest.mark.parametrize("which", ["registry", "ledger"])
def test_constructor_rejects_zero_addresses(chain: Chain, which: str) -> None:
    from onchain.artifacts import load

    art = load("JobManager")
    factory = chain.w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
    args = (ZERO_ADDRESS, chain.ledger.address) if which == "registry" else (chain.registry.address, ZERO_ADDRESS)
    args += (MAX_DURATION, MAX_TUPLES)
    assert_reverts(lambda: factory.constructor(*args).transact({"from": chain.deployer}), "ZeroAddress")


# --------------------------------------------------------------------- propose

def test_propose(chain: Chain) -> None:
    job = propose(chain)
    assert job.job_id == 1
    assert chain.jobs.functions.jobCount().call() == 1
    assert chain.event_names(job.receipt) == ["JobProposed", "JobStateChanged", "JobAccepted"]
    assert chain.event(job.receipt, chain.jobs, "JobProposed") == {
        "jobId": 1, "proposer": chain.members[0], "specHash": keccak(text=SPEC), "spec": SPEC,
        "participants": chain.members, "acceptBy": job.accept_by, "commitBy": job.commit_by,
        "resultBy": job.result_by}
    assert chain.event(job.receipt, chain.jobs, "JobStateChanged") == {
        "jobId": 1, "fromState": JobState.NONE, "toState": JobState.PROPOSED}
    proposed_at = chain.w3.eth.get_block(job.receipt.blockNumber)["timestamp"]
    assert job_view(chain, 1) == {
        "specHash": keccak(text=SPEC), "proposer": chain.members[0], "state": JobState.PROPOSED,
        "abortReason": AbortReason.NONE, "acceptBy": job.accept_by, "commitBy": job.commit_by,
        "resultBy": job.result_by, "proposedAt": proposed_at, "reserved": 0, "accepted": 1, "committed": 0, "submitted": 0,
        "resultHash": ZERO32, "evidenceHash": ZERO32}
    assert chain.jobs.functions.participantsOf(1).call() == chain.members
    for member in chain.members:
        assert chain.jobs.functions.isParticipant(1, member).call() is True
    assert chain.jobs.functions.isParticipant(1, chain.outsiders[0]).call() is False
    assert propose(chain).job_id == 2


def test_participants_keep_their_order_whoever_proposes(chain: Chain) -> None:
    m1, m2, m3 = chain.members
    for proposer, participants in [(m1, [m3, m1, m2]), (m2, [m3, m1]), (m2, [m1, m3]), (m1, [m2, m3, m1])]:
        job = propose(chain, participants, proposer=proposer)
        assert chain.jobs.functions.participantsOf(job.job_id).call() == participants
        assert chain.jobs.functions.isParticipant(job.job_id, proposer).call() is (proposer in participants)


def test_propose_stores_only_the_hash_of_a_large_spec(chain: Chain) -> None:
    spec = "x" * 16 * 1024
    job = propose(chain, spec=spec)
    assert job_view(chain, job.job_id)["specHash"] == keccak(text=spec)
    assert chain.event(job.receipt, chain.jobs, "JobProposed")["spec"] == spec
    assert_reverts(lambda: chain.jobs.functions.propose(spec + "x", chain.members, *deadlines(chain), [])
                   .transact({"from": chain.members[0]}), "InvalidSpec", 16 * 1024 + 1)
    assert_reverts(lambda: chain.jobs.functions.propose("", chain.members, *deadlines(chain), [])
                   .transact({"from": chain.members[0]}), "InvalidSpec", 0)


def deadlines(chain: Chain) -> tuple[int, int, int]:
    now = chain.now()
    return now + 100, now + 200, now + 300


def test_propose_by_a_non_member(chain: Chain) -> None:
    outsider = chain.outsiders[0]
    assert_reverts(lambda: chain.jobs.functions.propose(SPEC, chain.members, *deadlines(chain), [])
                   .transact({"from": outsider}), "NotActiveMember", outsider)


@pytest.mark.parametrize("count", [0, 1, 33])
def test_propose_needs_2_to_32_participants(chain: Chain, count: int) -> None:
    participants = (chain.members * 11)[:count]
    assert_reverts(lambda: chain.jobs.functions.propose(SPEC, participants, *deadlines(chain), [])
                   .transact({"from": chain.members[0]}), "InvalidParticipants", count)


def test_propose_checks_each_participant(chain: Chain) -> None:
    m1, m2, m3 = chain.members
    outsider = chain.outsiders[0]
    propose_with = chain.jobs.functions.propose
    assert_reverts(lambda: propose_with(SPEC, [m1, m2, m1], *deadlines(chain), []).transact({"from": m1}),
                   "DuplicateParticipant", m1)
    assert_reverts(lambda: propose_with(SPEC, [m1, outsider], *deadlines(chain), []).transact({"from": m1}),
                   "NotActiveMember", outsider)
    assert_reverts(lambda: propose_with(SPEC, [m1, ZERO_ADDRESS], *deadlines(chain), []).transact({"from": m1}),
                   "NotActiveMember", ZERO_ADDRESS)
    chain.tx(chain.registry.functions.voteSuspend(m3), m1)
    chain.tx(chain.registry.functions.voteSuspend(m3), m2)
    assert_reverts(lambda: propose_with(SPEC, [m1, m3], *deadlines(chain), []).transact({"from": m1}),
                   "NotActiveMember", m3)
    assert_reverts(lambda: propose_with(SPEC, [m1, m2], *deadlines(chain), []).transact({"from": m3}),
                   "NotActiveMember", m3)


@pytest.mark.parametrize("offsets", [
    (0, 200, 300),       # acceptBy == now
    (-5, 200, 300),      # acceptBy in the past
    (100, 100, 300),     # commitBy == acceptBy
    (100, 200, 200),     # resultBy == commitBy
    (300, 200, 100),     # decreasing
])
def test_propose_needs_increasing_future_deadlines(chain: Chain, offsets: tuple[int, int, int]) -> None:
    now = chain.now()
    values = [now + offset for offset in offsets]
    assert_reverts(lambda: chain.jobs.functions.propose(SPEC, chain.members, *values, [])
                   .transact({"from": chain.members[0]}), "InvalidDeadlines")


def test_propose_rejects_deadlines_beyond_uint40(chain: Chain) -> None:
    now = chain.now()
    assert_reverts(lambda: chain.jobs.functions.propose(SPEC, chain.members, now + 1, now + 2, 2**40, [])
                   .transact({"from": chain.members[0]}), "InvalidDeadlines")


# ---------------------------------------------------------------------- accept

def test_accept_until_everyone_accepted(chain: Chain) -> None:
    job = propose(chain)  # by m1, who accepts by proposing
    m1, m2, m3 = chain.members
    receipt = chain.tx(chain.jobs.functions.accept(job.job_id), m2)
    assert chain.event_names(receipt) == ["JobAccepted"]
    assert chain.event(receipt, chain.jobs, "JobAccepted") == {"jobId": job.job_id, "participant": m2}
    assert job_view(chain, job.job_id)["accepted"] == 2
    assert chain.jobs.functions.hasAccepted(job.job_id, m2).call() is True
    assert chain.jobs.functions.hasAccepted(job.job_id, m3).call() is False
    for again in (m1, m2):
        assert_reverts(lambda: chain.jobs.functions.accept(job.job_id).transact({"from": again}),
                       "AlreadyAccepted", job.job_id, again)
    receipt = chain.tx(chain.jobs.functions.accept(job.job_id), m3)
    assert chain.event_names(receipt) == ["JobAccepted", "JobStateChanged"]
    assert chain.event(receipt, chain.jobs, "JobStateChanged") == {
        "jobId": job.job_id, "fromState": JobState.PROPOSED, "toState": JobState.ACCEPTED}
    view = job_view(chain, job.job_id)
    assert (view["state"], view["accepted"], view["committed"]) == (JobState.ACCEPTED, 3, 0)
    assert all(chain.jobs.functions.hasAccepted(job.job_id, m).call() for m in chain.members)
    assert_reverts(lambda: chain.jobs.functions.accept(job.job_id).transact({"from": m1}),
                   "JobUnexpectedState", job.job_id, JobState.ACCEPTED, JobState.PROPOSED)


def test_accept_checks(chain: Chain) -> None:
    job = propose(chain, chain.members[:2])
    outsider, m3 = chain.outsiders[0], chain.members[2]
    for job_id in (0, 99):
        assert_reverts(lambda: chain.jobs.functions.accept(job_id).transact({"from": m3}), "UnknownJob", job_id)
    assert_reverts(lambda: chain.jobs.functions.accept(job.job_id).transact({"from": outsider}),
                   "NotParticipant", job.job_id, outsider)
    assert_reverts(lambda: chain.jobs.functions.accept(job.job_id).transact({"from": m3}),
                   "NotParticipant", job.job_id, m3)


def test_a_suspended_participant_cannot_accept(chain: Chain) -> None:
    job = propose(chain)
    m1, m2, m3 = chain.members
    chain.tx(chain.registry.functions.voteSuspend(m3), m1)
    chain.tx(chain.registry.functions.voteSuspend(m3), m2)
    assert_reverts(lambda: chain.jobs.functions.accept(job.job_id).transact({"from": m3}), "NotActiveMember", m3)


def test_a_participant_suspended_after_accepting_can_finish(chain: Chain) -> None:
    """Membership is checked at propose and accept only (see IJobManager)."""
    job = to_state(chain, JobState.ACCEPTED)
    m1, m2, m3 = chain.members
    chain.tx(chain.registry.functions.voteSuspend(m3), m1)
    chain.tx(chain.registry.functions.voteSuspend(m3), m2)
    commit_all(chain, job)
    submit_all(chain, job)
    assert job_state(chain, job.job_id) == JobState.FINALISED


def test_accept_is_allowed_at_the_deadline_and_not_after(chain: Chain) -> None:
    job = propose(chain)
    m2, m3 = chain.members[1:]
    chain.travel(job.accept_by)
    chain.tx(chain.jobs.functions.accept(job.job_id), m2)
    assert_reverts(lambda: chain.jobs.functions.accept(job.job_id).transact({"from": m3}),
                   "DeadlinePassed", job.job_id, job.accept_by)


def test_the_proposer_accepts_by_proposing(chain: Chain) -> None:
    m1, m2, m3 = chain.members
    job = propose(chain, [m3, m1, m2], proposer=m1)
    assert chain.event(job.receipt, chain.jobs, "JobAccepted") == {"jobId": job.job_id, "participant": m1}
    assert chain.jobs.functions.hasAccepted(job.job_id, m1).call() is True
    assert_reverts(lambda: chain.jobs.functions.accept(job.job_id).transact({"from": m1}),
                   "AlreadyAccepted", job.job_id, m1)
    chain.tx(chain.jobs.functions.accept(job.job_id), m3)
    receipt = chain.tx(chain.jobs.functions.accept(job.job_id), m2)
    assert chain.event_names(receipt) == ["JobAccepted", "JobStateChanged"]
    assert job_state(chain, job.job_id) == JobState.ACCEPTED


def test_a_proposer_outside_the_job_does_not_accept(chain: Chain) -> None:
    m1, m2, m3 = chain.members
    job = propose(chain, [m2, m3], proposer=m1)
    assert chain.event_names(job.receipt) == ["JobProposed", "JobStateChanged"]
    assert job_view(chain, job.job_id)["accepted"] == 0
    assert chain.jobs.functions.hasAccepted(job.job_id, m1).call() is False
    assert_reverts(lambda: chain.jobs.functions.accept(job.job_id).transact({"from": m1}),
                   "NotParticipant", job.job_id, m1)
    accept_all(chain, job)
    assert job_view(chain, job.job_id)["accepted"] == 2
    assert job_state(chain, job.job_id) == JobState.ACCEPTED


def test_the_proposer_may_withdraw_by_declining(chain: Chain) -> None:
    job = propose(chain)
    receipt = chain.tx(chain.jobs.functions.decline(job.job_id, 1, []), chain.members[0])
    assert chain.event(receipt, chain.jobs, "JobAborted")["reason"] == AbortReason.DECLINED


# --------------------------------------------------------------------- decline

def test_decline_aborts(chain: Chain) -> None:
    job = propose(chain)
    m2 = chain.members[1]  # m1 accepted by proposing
    receipt = chain.tx(chain.jobs.functions.decline(job.job_id, 1, []), m2)
    assert chain.event_names(receipt) == ["JobDeclined", "JobStateChanged", "JobAborted"]
    assert chain.event(receipt, chain.jobs, "JobDeclined") == {"jobId": job.job_id, "participant": m2, "reason": 1}
    assert chain.event(receipt, chain.jobs, "JobStateChanged") == {
        "jobId": job.job_id, "fromState": JobState.PROPOSED, "toState": JobState.ABORTED}
    assert chain.event(receipt, chain.jobs, "JobAborted") == {
        "jobId": job.job_id, "reason": AbortReason.DECLINED, "by": m2, "evidenceHash": ZERO32}
    view = job_view(chain, job.job_id)
    assert (view["state"], view["abortReason"], view["accepted"]) == (JobState.ABORTED, AbortReason.DECLINED, 1)
    assert_reverts(lambda: chain.jobs.functions.accept(job.job_id).transact({"from": m2}),
                   "JobUnexpectedState", job.job_id, JobState.ABORTED, JobState.PROPOSED)


def test_decline_checks(chain: Chain) -> None:
    job = propose(chain)
    outsider, m1 = chain.outsiders[0], chain.members[0]
    assert_reverts(lambda: chain.jobs.functions.decline(job.job_id, 1, []).transact({"from": outsider}),
                   "NotParticipant", job.job_id, outsider)
    assert_reverts(lambda: chain.jobs.functions.decline(5, 1, []).transact({"from": m1}), "UnknownJob", 5)
    chain.travel(job.accept_by + 1)
    assert_reverts(lambda: chain.jobs.functions.decline(job.job_id, 1, []).transact({"from": m1}),
                   "DeadlinePassed", job.job_id, job.accept_by)
    accepted = to_state(chain, JobState.ACCEPTED)
    assert_reverts(lambda: chain.jobs.functions.decline(accepted.job_id, 1, []).transact({"from": m1}),
                   "JobUnexpectedState", accepted.job_id, JobState.ACCEPTED, JobState.PROPOSED)


# ---------------------------------------------------------------- commitInputs

def test_commit_inputs_until_everyone_committed(chain: Chain) -> None:
    job = to_state(chain, JobState.ACCEPTED)
    m1, m2, m3 = chain.members
    receipt = chain.tx(chain.jobs.functions.commitInputs(job.job_id, commitment_of(m1)), m1)
    assert chain.event_names(receipt) == ["InputsCommitted"]
    assert chain.event(receipt, chain.jobs, "InputsCommitted") == {
        "jobId": job.job_id, "participant": m1, "commitment": commitment_of(m1)}
    assert chain.jobs.functions.hasCommitted(job.job_id, m1).call() is True
    assert chain.jobs.functions.hasCommitted(job.job_id, m2).call() is False
    assert job_view(chain, job.job_id)["committed"] == 1
    assert_reverts(lambda: chain.jobs.functions.commitInputs(job.job_id, h("other")).transact({"from": m1}),
                   "AlreadyCommitted", job.job_id, m1)
    chain.tx(chain.jobs.functions.commitInputs(job.job_id, commitment_of(m2)), m2)
    receipt = chain.tx(chain.jobs.functions.commitInputs(job.job_id, commitment_of(m3)), m3)
    assert chain.event_names(receipt) == ["InputsCommitted", "JobStateChanged"]
    assert chain.event(receipt, chain.jobs, "JobStateChanged") == {
        "jobId": job.job_id, "fromState": JobState.ACCEPTED, "toState": JobState.INPUTS_COMMITTED}
    view = job_view(chain, job.job_id)
    assert (view["state"], view["accepted"], view["committed"], view["submitted"]) == (
        JobState.INPUTS_COMMITTED, 3, 3, 0)


def test_commit_inputs_checks(chain: Chain) -> None:
    m1, outsider = chain.members[0], chain.outsiders[0]
    proposed = propose(chain)
    assert_reverts(lambda: chain.jobs.functions.commitInputs(proposed.job_id, h("c")).transact({"from": m1}),
                   "JobUnexpectedState", proposed.job_id, JobState.PROPOSED, JobState.ACCEPTED)
    job = to_state(chain, JobState.ACCEPTED)
    assert_reverts(lambda: chain.jobs.functions.commitInputs(job.job_id, ZERO32).transact({"from": m1}),
                   "InvalidCommitment")
    assert_reverts(lambda: chain.jobs.functions.commitInputs(job.job_id, h("c")).transact({"from": outsider}),
                   "NotParticipant", job.job_id, outsider)
    chain.travel(job.commit_by)
    chain.tx(chain.jobs.functions.commitInputs(job.job_id, h("c")), m1)
    assert_reverts(lambda: chain.jobs.functions.commitInputs(job.job_id, h("c")).transact({"from": chain.members[1]}),
                   "DeadlinePassed", job.job_id, job.commit_by)


# ---------------------------------------------------------------- submitResult

def test_results_only_after_every_input_commitment(chain: Chain) -> None:
    job = to_state(chain, JobState.ACCEPTED)
    m1, m2, _ = chain.members
    chain.tx(chain.jobs.functions.commitInputs(job.job_id, commitment_of(m1)), m1)
    chain.tx(chain.jobs.functions.commitInputs(job.job_id, commitment_of(m2)), m2)
    assert_reverts(lambda: chain.jobs.functions.submitResult(job.job_id, RESULT).transact({"from": m1}),
                   "JobUnexpectedState", job.job_id, JobState.ACCEPTED, JobState.INPUTS_COMMITTED)


def test_equal_results_finalise_the_job(chain: Chain) -> None:
    job = to_state(chain, JobState.INPUTS_COMMITTED)
    m1, m2, m3 = chain.members
    result_hash = keccak(RESULT)
    receipt = chain.tx(chain.jobs.functions.submitResult(job.job_id, RESULT), m2)
    assert chain.event_names(receipt) == ["ResultSubmitted"]
    assert chain.event(receipt, chain.jobs, "ResultSubmitted") == {
        "jobId": job.job_id, "participant": m2, "resultHash": result_hash, "result": RESULT}
    assert chain.jobs.functions.resultHashOf(job.job_id, m2).call() == result_hash
    assert chain.jobs.functions.resultHashOf(job.job_id, m1).call() == ZERO32
    assert job_view(chain, job.job_id)["submitted"] == 1
    assert_reverts(lambda: chain.jobs.functions.submitResult(job.job_id, RESULT).transact({"from": m2}),
                   "AlreadySubmitted", job.job_id, m2)
    chain.tx(chain.jobs.functions.submitResult(job.job_id, RESULT), m1)
    receipt = chain.tx(chain.jobs.functions.submitResult(job.job_id, RESULT), m3)
    assert chain.event_names(receipt) == ["ResultSubmitted", "JobStateChanged", "JobFinalised"]
    assert chain.event(receipt, chain.jobs, "JobStateChanged") == {
        "jobId": job.job_id, "fromState": JobState.INPUTS_COMMITTED, "toState": JobState.FINALISED}
    assert chain.event(receipt, chain.jobs, "JobFinalised") == {
        "jobId": job.job_id, "resultHash": result_hash, "result": RESULT}
    view = job_view(chain, job.job_id)
    assert (view["state"], view["accepted"], view["committed"], view["submitted"], view["resultHash"]) == (
        JobState.FINALISED, 3, 3, 3, result_hash)
    for member in chain.members:
        assert chain.jobs.functions.resultHashOf(job.job_id, member).call() == result_hash
        assert chain.jobs.functions.hasCommitted(job.job_id, member).call() is True
    assert_reverts(lambda: chain.jobs.functions.submitResult(job.job_id, RESULT).transact({"from": m1}),
                   "JobUnexpectedState", job.job_id, JobState.FINALISED, JobState.INPUTS_COMMITTED)


def test_a_different_result_aborts_the_job_once_everyone_posted(chain: Chain) -> None:
    """A liar that posts first is not the job's result: the verdict waits for every result, each
    participant's hash stays on record, and the others may then name the liar."""
    job = to_state(chain, JobState.INPUTS_COMMITTED)
    m1, m2, m3 = chain.members
    lie = b'{"mean":"1.00"}'
    first = chain.tx(chain.jobs.functions.submitResult(job.job_id, lie), m1)
    second = chain.tx(chain.jobs.functions.submitResult(job.job_id, RESULT), m2)
    assert chain.event_names(first) == chain.event_names(second) == ["ResultSubmitted"]
    assert job_view(chain, job.job_id)["state"] == JobState.INPUTS_COMMITTED
    last = chain.tx(chain.jobs.functions.submitResult(job.job_id, RESULT), m3)
    lied, honest = keccak(lie), keccak(RESULT)
    evidence = keccak(abi_encode(["bytes32", "bytes32"], [lied, honest]))
    assert chain.event_names(last) == ["ResultSubmitted", "JobStateChanged", "JobAborted"]
    assert chain.event(last, chain.jobs, "JobAborted") == {
        "jobId": job.job_id, "reason": AbortReason.RESULT_MISMATCH, "by": m3, "evidenceHash": evidence}
    view = job_view(chain, job.job_id)
    assert (view["state"], view["abortReason"], view["evidenceHash"], view["resultHash"], view["submitted"]) == (
        JobState.ABORTED, AbortReason.RESULT_MISMATCH, evidence, ZERO32, 3)
    assert [chain.jobs.functions.resultHashOf(job.job_id, m).call() for m in (m1, m2, m3)] == [lied, honest, honest]
    assert_reverts(lambda: chain.jobs.functions.submitResult(job.job_id, RESULT).transact({"from": m3}),
                   "JobUnexpectedState", job.job_id, JobState.ABORTED, JobState.INPUTS_COMMITTED)
    named = chain.tx(chain.jobs.functions.reportCheater(job.job_id, m1, evidence), m2)
    assert chain.event(named, chain.jobs, "CheaterReported") == {
        "jobId": job.job_id, "reporter": m2, "accused": m1, "evidenceHash": evidence}
    assert job_view(chain, job.job_id)["abortReason"] == AbortReason.RESULT_MISMATCH


def test_submit_result_checks(chain: Chain) -> None:
    job = to_state(chain, JobState.INPUTS_COMMITTED)
    m1, outsider = chain.members[0], chain.outsiders[0]
    assert_reverts(lambda: chain.jobs.functions.submitResult(job.job_id, b"").transact({"from": m1}),
                   "InvalidResult", 0)
    assert_reverts(lambda: chain.jobs.functions.submitResult(job.job_id, b"r" * 4097).transact({"from": m1}),
                   "InvalidResult", 4097)
    assert_reverts(lambda: chain.jobs.functions.submitResult(job.job_id, RESULT).transact({"from": outsider}),
                   "NotParticipant", job.job_id, outsider)
    chain.travel(job.result_by)
    chain.tx(chain.jobs.functions.submitResult(job.job_id, b"r" * 4096), m1)
    assert_reverts(lambda: chain.jobs.functions.submitResult(job.job_id, b"r" * 4096)
                   .transact({"from": chain.members[1]}), "DeadlinePassed", job.job_id, job.result_by)


# --------------------------------------------------------------- reportFailure

@pytest.mark.parametrize("state", OPEN_STATES)
def test_report_failure_aborts_an_open_job(chain: Chain, state: JobState) -> None:
    job = to_state(chain, state)
    m3 = chain.members[2]
    receipt = chain.tx(chain.jobs.functions.reportFailure(job.job_id, h("mac check failed")), m3)
    assert chain.event_names(receipt) == ["JobStateChanged", "JobAborted"]
    assert chain.event(receipt, chain.jobs, "JobStateChanged") == {
        "jobId": job.job_id, "fromState": state, "toState": JobState.ABORTED}
    assert chain.event(receipt, chain.jobs, "JobAborted") == {
        "jobId": job.job_id, "reason": AbortReason.PROTOCOL_FAILURE, "by": m3, "evidenceHash": h("mac check failed")}
    view = job_view(chain, job.job_id)
    assert (view["state"], view["abortReason"], view["evidenceHash"]) == (
        JobState.ABORTED, AbortReason.PROTOCOL_FAILURE, h("mac check failed"))
    # The progress made before the abort stays visible.
    expected = {JobState.PROPOSED: (1, 0), JobState.ACCEPTED: (3, 0), JobState.INPUTS_COMMITTED: (3, 3)}[state]
    assert (view["accepted"], view["committed"]) == expected


def test_report_failure_checks(chain: Chain) -> None:
    job = to_state(chain, JobState.ACCEPTED)
    m1, outsider = chain.members[0], chain.outsiders[0]
    assert_reverts(lambda: chain.jobs.functions.reportFailure(job.job_id, h("e")).transact({"from": outsider}),
                   "NotParticipant", job.job_id, outsider)
    assert_reverts(lambda: chain.jobs.functions.reportFailure(42, h("e")).transact({"from": m1}), "UnknownJob", 42)
    chain.travel(job.commit_by + 1)
    assert_reverts(lambda: chain.jobs.functions.reportFailure(job.job_id, h("e")).transact({"from": m1}),
                   "DeadlinePassed", job.job_id, job.commit_by)
    finalised = to_state(chain, JobState.INPUTS_COMMITTED)
    submit_all(chain, finalised)
    assert_reverts(lambda: chain.jobs.functions.reportFailure(finalised.job_id, h("e")).transact({"from": m1}),
                   "JobAlreadyClosed", finalised.job_id, JobState.FINALISED)
    chain.tx(chain.jobs.functions.expire(job.job_id), outsider)
    assert_reverts(lambda: chain.jobs.functions.reportFailure(job.job_id, h("e")).transact({"from": m1}),
                   "JobAlreadyClosed", job.job_id, JobState.ABORTED)


# --------------------------------------------------------------- reportCheater

@pytest.mark.parametrize("state", OPEN_STATES)
def test_report_cheater_aborts_an_open_job_naming_the_accused(chain: Chain, state: JobState) -> None:
    job = to_state(chain, state)
    m1, m3 = chain.members[0], chain.members[2]
    receipt = chain.tx(chain.jobs.functions.reportCheater(job.job_id, m1, h("input out of range")), m3)
    assert chain.event_names(receipt) == ["JobStateChanged", "JobAborted", "CheaterReported"]
    assert chain.event(receipt, chain.jobs, "JobAborted") == {
        "jobId": job.job_id, "reason": AbortReason.PROTOCOL_FAILURE, "by": m3,
        "evidenceHash": h("input out of range")}
    assert chain.event(receipt, chain.jobs, "CheaterReported") == {
        "jobId": job.job_id, "reporter": m3, "accused": m1, "evidenceHash": h("input out of range")}
    view = job_view(chain, job.job_id)
    assert (view["state"], view["abortReason"]) == (JobState.ABORTED, AbortReason.PROTOCOL_FAILURE)


def test_after_a_protocol_failure_every_participant_may_still_name_the_one_at_fault(chain: Chain) -> None:
    """A cheater that reports first, naming an honest member, does not stand alone on chain."""
    job = to_state(chain, JobState.INPUTS_COMMITTED)
    m1, m2, m3 = chain.members[:3]
    chain.tx(chain.jobs.functions.reportCheater(job.job_id, m3, h("framed")), m1)
    receipt = chain.tx(chain.jobs.functions.reportCheater(job.job_id, m1, h("range")), m2)
    assert chain.event_names(receipt) == ["CheaterReported"]  # The job stays aborted as it was.
    assert chain.event(receipt, chain.jobs, "CheaterReported") == {
        "jobId": job.job_id, "reporter": m2, "accused": m1, "evidenceHash": h("range")}
    assert job_view(chain, job.job_id)["evidenceHash"] == h("framed")


def test_report_cheater_checks(chain: Chain) -> None:
    job = to_state(chain, JobState.ACCEPTED)
    m1, m2, outsider = chain.members[0], chain.members[1], chain.outsiders[0]

    def report(job_id: int, accused: str, sender: str) -> Any:
        return lambda: chain.jobs.functions.reportCheater(job_id, accused, h("e")).transact({"from": sender})

    assert_reverts(report(job.job_id, m1, outsider), "NotParticipant", job.job_id, outsider)
    assert_reverts(report(job.job_id, outsider, m1), "NotParticipant", job.job_id, outsider)
    assert_reverts(report(job.job_id, m1, m1), "SelfAccusation", job.job_id, m1)
    assert_reverts(report(42, m2, m1), "UnknownJob", 42)
    chain.travel(job.commit_by + 1)
    assert_reverts(report(job.job_id, m2, m1), "DeadlinePassed", job.job_id, job.commit_by)
    # Closed otherwise than by a protocol failure: nothing more to report.
    finalised = to_state(chain, JobState.INPUTS_COMMITTED)
    submit_all(chain, finalised)
    assert_reverts(report(finalised.job_id, m2, m1), "JobAlreadyClosed", finalised.job_id, JobState.FINALISED)
    chain.tx(chain.jobs.functions.expire(job.job_id), outsider)
    assert_reverts(report(job.job_id, m2, m1), "JobAlreadyClosed", job.job_id, JobState.ABORTED)


# ---------------------------------------------------------------------- expire

@pytest.mark.parametrize("state", OPEN_STATES)
def test_expire_at_each_state(chain: Chain, state: JobState) -> None:
    job = to_state(chain, state)
    deadline = deadline_of(job, state)
    anyone = chain.outsiders[1]
    chain.travel(deadline)
    assert_reverts(lambda: chain.jobs.functions.expire(job.job_id).transact({"from": anyone}),
                   "DeadlineNotPassed", job.job_id, deadline, deadline)
    chain.travel(deadline + 1)
    receipt = chain.tx(chain.jobs.functions.expire(job.job_id), anyone)
    assert chain.event_names(receipt) == ["JobStateChanged", "JobAborted"]
    assert chain.event(receipt, chain.jobs, "JobStateChanged") == {
        "jobId": job.job_id, "fromState": state, "toState": JobState.ABORTED}
    assert chain.event(receipt, chain.jobs, "JobAborted") == {
        "jobId": job.job_id, "reason": AbortReason.DEADLINE_PASSED, "by": anyone, "evidenceHash": ZERO32}
    assert job_view(chain, job.job_id)["abortReason"] == AbortReason.DEADLINE_PASSED
    assert_reverts(lambda: chain.jobs.functions.expire(job.job_id).transact({"from": anyone}),
                   "JobAlreadyClosed", job.job_id, JobState.ABORTED)


def test_expire_early_in_each_state_reports_the_deadline(chain: Chain) -> None:
    job = propose(chain)
    now = chain.now()
    assert_reverts(lambda: chain.jobs.functions.expire(job.job_id).transact({"from": chain.deployer}),
                   "DeadlineNotPassed", job.job_id, job.accept_by, now)
    accept_all(chain, job)
    now = chain.now()
    assert_reverts(lambda: chain.jobs.functions.expire(job.job_id).transact({"from": chain.deployer}),
                   "DeadlineNotPassed", job.job_id, job.commit_by, now)


def test_expire_of_finalised_or_unknown_job(chain: Chain) -> None:
    job = to_state(chain, JobState.INPUTS_COMMITTED)
    submit_all(chain, job)
    chain.travel(job.result_by + 1)
    assert_reverts(lambda: chain.jobs.functions.expire(job.job_id).transact({"from": chain.deployer}),
                   "JobAlreadyClosed", job.job_id, JobState.FINALISED)
    assert_reverts(lambda: chain.jobs.functions.expire(9).transact({"from": chain.deployer}), "UnknownJob", 9)


def test_a_stalled_participant_lets_the_job_expire(chain: Chain) -> None:
    """A peer that stops mid-job leaves the job to time out; its partial progress is recorded."""
    job = to_state(chain, JobState.INPUTS_COMMITTED)
    chain.tx(chain.jobs.functions.submitResult(job.job_id, RESULT), chain.members[0])
    chain.tx(chain.jobs.functions.submitResult(job.job_id, RESULT), chain.members[1])
    chain.travel(job.result_by + 1)
    chain.tx(chain.jobs.functions.expire(job.job_id), chain.members[0])
    view = job_view(chain, job.job_id)
    assert (view["state"], view["abortReason"], view["submitted"]) == (
        JobState.ABORTED, AbortReason.DEADLINE_PASSED, 2)


# --------------------------------------------------------------- reserveTuples

def test_reserve_tuples_in_proposed_and_accepted_only(chain: Chain) -> None:
    batch_id = commit_batch(chain, count=100)
    attest(chain, batch_id)
    m1 = chain.members[0]
    job = propose(chain)
    assert chain.jobs.functions.reserveTuples(job.job_id, [(batch_id, 5)]).call({"from": m1}) == [0]
    chain.tx(chain.jobs.functions.reserveTuples(job.job_id, [(batch_id, 5)]), m1)
    accept_all(chain, job)
    receipt = chain.tx(chain.jobs.functions.reserveTuples(job.job_id, [(batch_id, 5)]), chain.members[2])
    assert chain.event(receipt, chain.ledger, "TuplesReserved") == {
        "batchId": batch_id, "jobId": job.job_id, "start": 5, "count": 5}
    commit_all(chain, job)
    assert_reverts(lambda: chain.jobs.functions.reserveTuples(job.job_id, [(batch_id, 5)]).transact({"from": m1}),
                   "JobUnexpectedState", job.job_id, JobState.INPUTS_COMMITTED, JobState.ACCEPTED)


def test_reserve_tuples_checks(chain: Chain) -> None:
    batch_id = commit_batch(chain)
    attest(chain, batch_id)
    job = propose(chain)
    outsider, m1 = chain.outsiders[0], chain.members[0]
    assert_reverts(lambda: chain.jobs.functions.reserveTuples(job.job_id, [(batch_id, 1)]).transact({"from": outsider}),
                   "NotParticipant", job.job_id, outsider)
    assert_reverts(lambda: chain.jobs.functions.reserveTuples(77, [(batch_id, 1)]).transact({"from": m1}),
                   "UnknownJob", 77)
    chain.travel(job.accept_by + 1)
    assert_reverts(lambda: chain.jobs.functions.reserveTuples(job.job_id, [(batch_id, 1)]).transact({"from": m1}),
                   "DeadlinePassed", job.job_id, job.accept_by)


def test_reserve_tuples_passes_the_participants_for_a_non_participating_proposer(chain: Chain) -> None:
    m1, m2, m3 = chain.members
    batch_id = commit_batch(chain)
    attest(chain, batch_id, [m2, m3])
    job = propose(chain, [m3, m2], proposer=m1)
    receipt = chain.tx(chain.jobs.functions.reserveTuples(job.job_id, [(batch_id, 3)]), m2)
    assert chain.event(receipt, chain.ledger, "TuplesReserved")["count"] == 3


# ----------------------------------------------------------------------- views

def test_views_of_an_unknown_job(chain: Chain) -> None:
    view = job_view(chain, 5)
    assert view["state"] == JobState.NONE and view["proposer"] == ZERO_ADDRESS and view["accepted"] == 0
    assert chain.jobs.functions.participantsOf(5).call() == []
    assert chain.jobs.functions.isParticipant(5, chain.members[0]).call() is False
    assert chain.jobs.functions.hasAccepted(5, chain.members[0]).call() is False
    assert chain.jobs.functions.hasCommitted(5, chain.members[0]).call() is False
    assert chain.jobs.functions.resultHashOf(5, chain.members[0]).call() == ZERO32


def test_jobs_are_independent(chain: Chain) -> None:
    first, second = propose(chain), propose(chain, chain.members[:2])
    accept_all(chain, second)
    assert job_state(chain, first.job_id) == JobState.PROPOSED
    assert job_state(chain, second.job_id) == JobState.ACCEPTED
    assert chain.jobs.functions.hasAccepted(first.job_id, chain.members[1]).call() is False


# ----------------------------------------------------------- a 32-party job

def test_a_job_with_32_participants_runs_to_the_end(chain: Chain) -> None:
    """The largest job: the full 32-bit progress mask, and the seat walk over 32 participants."""
    enlarge(chain, 32)
    accounts = chain.members
    job = propose(chain, accounts, proposer=accounts[5])
    assert chain.jobs.functions.participantsOf(job.job_id).call() == accounts
    accept_all(chain, job)
    commit_all(chain, job)
    receipt = submit_all(chain, job)
    assert chain.event_names(receipt)[-1] == "JobFinalised"
    view = job_view(chain, job.job_id)
    assert (view["state"], view["accepted"], view["committed"], view["submitted"]) == (JobState.FINALISED, 32, 32, 32)


# ------------------------------------------------- several batches in one call

def test_reserve_tuples_of_several_batches_in_one_call(chain: Chain) -> None:
    triples, masks = commit_batch(chain, "triples", 100), commit_batch(chain, "masks", 10)
    attest(chain, triples)
    attest(chain, masks)
    job, m2 = propose(chain), chain.members[1]
    plan = [(triples, 40), (masks, 4)]
    assert chain.jobs.functions.reserveTuples(job.job_id, plan).call({"from": m2}) == [0, 0]
    receipt = chain.tx(chain.jobs.functions.reserveTuples(job.job_id, plan), m2)
    assert chain.events(receipt, chain.ledger, "TuplesReserved") == [
        {"batchId": triples, "jobId": job.job_id, "start": 0, "count": 40},
        {"batchId": masks, "jobId": job.job_id, "start": 0, "count": 4}]
    # All or none: the second reservation fails, so the first is undone as well.
    assert_reverts(lambda: chain.jobs.functions.reserveTuples(job.job_id, [(triples, 1), (masks, 7)])
                   .transact({"from": m2}), "InsufficientTuples", masks, 7, 6)
    assert chain.ledger.functions.getBatch(triples).call()[3] == 40


def test_reserve_tuples_needs_1_to_16_reservations(chain: Chain) -> None:
    batch_id = commit_batch(chain)
    attest(chain, batch_id)
    job, m1 = propose(chain), chain.members[0]
    for plan in ([], [(batch_id, 1)] * 17):
        assert_reverts(lambda: chain.jobs.functions.reserveTuples(job.job_id, plan).transact({"from": m1}),
                       "InvalidReservationCount", len(plan))
    chain.tx(chain.jobs.functions.reserveTuples(job.job_id, [(batch_id, 1)] * 16), m1)
    assert chain.ledger.functions.getBatch(batch_id).call()[3] == 16


def test_the_proposer_may_reserve_by_proposing(chain: Chain) -> None:
    triples, masks = commit_batch(chain, "triples", 100), commit_batch(chain, "masks", 10)
    attest(chain, triples)
    attest(chain, masks)
    job = propose(chain, reservations=[(triples, 30), (masks, 3)])
    assert chain.event_names(job.receipt) == [
        "JobProposed", "JobStateChanged", "JobAccepted", "TuplesReserved", "TuplesReserved"]
    assert chain.events(job.receipt, chain.ledger, "TuplesReserved") == [
        {"batchId": triples, "jobId": job.job_id, "start": 0, "count": 30},
        {"batchId": masks, "jobId": job.job_id, "start": 0, "count": 3}]
    accept_all(chain, job)
    commit_all(chain, job)
    submit_all(chain, job)
    assert job_state(chain, job.job_id) == JobState.FINALISED


def test_propose_with_reservations_checks_them(chain: Chain) -> None:
    m1, m2, m3 = chain.members
    batch_id = commit_batch(chain, count=10)
    attest(chain, batch_id, [m1, m2])
    now = chain.now()
    times = (now + 100, now + 200, now + 300)
    next_id = chain.jobs.functions.jobCount().call() + 1

    def proposing(participants: list[str], plan: list[tuple[bytes, int]], proposer: str = m1) -> Any:
        return lambda: chain.jobs.functions.propose(SPEC, participants, *times, plan).transact({"from": proposer})

    # Reserving is for participants, by proposing as by reserveTuples.
    assert_reverts(proposing([m2, m3], [(batch_id, 1)]), "NotParticipant", next_id, m1)
    assert_reverts(proposing([m1, m2], [(batch_id, 1)] * 17), "InvalidReservationCount", 17)
    # The ledger's checks apply, and a failed reservation undoes the proposal.
    assert_reverts(proposing([m1, m3], [(batch_id, 1)]), "NotAttested", batch_id, m3)
    assert_reverts(proposing([m1, m2], [(batch_id, 11)]), "InsufficientTuples", batch_id, 11, 10)
    assert chain.jobs.functions.jobCount().call() == next_id - 1
    chain.tx(chain.jobs.functions.propose(SPEC, [m2, m1], *times, [(batch_id, 10)]), m1)
    assert chain.ledger.functions.getBatch(batch_id).call()[3] == 10
