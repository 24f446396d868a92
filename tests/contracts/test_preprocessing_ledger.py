"""PreprocessingLedger: binding, batch commitments, sacrifice attestations, rejection, single consumption."""

from __future__ import annotations

from contract_testkit import (
    ZERO32,
    ZERO_ADDRESS,
    BatchStatus,
    Chain,
    Role,
    TupleKind,
    assert_reverts,
    attest,
    commit_batch,
    h,
    propose,
)

MAX_COUNT = 2**40


# --------------------------------------------------------------------- binding

def test_deployment_and_views(chain: Chain) -> None:
    ledger = chain.ledger
    assert ledger.functions.registry().call() == chain.registry.address
    assert ledger.functions.jobManager().call() == chain.jobs.address
    assert ledger.functions.deployer().call() == chain.deployer


def test_constructor_rejects_zero_registry(chain: Chain) -> None:
    from onchain.artifacts import load

    art = load("PreprocessingLedger")
    factory = chain.w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
    assert_reverts(lambda: factory.constructor(ZERO_ADDRESS).transact({"from": chain.deployer}), "ZeroAddress")


def test_bind_job_manager_once_by_the_deployer(chain: Chain) -> None:
    ledger = chain.deploy("PreprocessingLedger", chain.registry.address)
    assert ledger.functions.jobManager().call() == ZERO_ADDRESS
    other = chain.outsiders[0]
    assert_reverts(lambda: ledger.functions.bindJobManager(other).transact({"from": other}), "NotDeployer", other)
    assert_reverts(lambda: ledger.functions.bindJobManager(ZERO_ADDRESS).transact({"from": chain.deployer}),
                   "ZeroAddress")
    receipt = chain.tx(ledger.functions.bindJobManager(chain.jobs.address), chain.deployer)
    assert chain.event(receipt, ledger, "JobManagerBound") == {"jobManager": chain.jobs.address}
    assert ledger.functions.jobManager().call() == chain.jobs.address
    assert_reverts(lambda: ledger.functions.bindJobManager(other).transact({"from": chain.deployer}),
                   "JobManagerAlreadyBound", chain.jobs.address)


# ------------------------------------------------------------------ commitments

def test_commit_batch(chain: Chain) -> None:
    ledger, batch_id, commitment = chain.ledger, h("b1"), h("root")
    receipt = chain.tx(ledger.functions.commitBatch(batch_id, TupleKind.SQUARE, 500, commitment), chain.service)
    assert chain.event(receipt, ledger, "BatchCommitted") == {
        "batchId": batch_id, "kind": TupleKind.SQUARE, "count": 500, "commitment": commitment,
        "service": chain.service}
    now = chain.w3.eth.get_block(receipt.blockNumber)["timestamp"]
    assert tuple(ledger.functions.getBatch(batch_id).call()) == (
        TupleKind.SQUARE, BatchStatus.COMMITTED, 500, 0, 0, 0, commitment, chain.service, now, 0)


def test_commit_batch_checks(chain: Chain) -> None:
    ledger, service, outsider = chain.ledger, chain.service, chain.outsiders[0]
    commit = ledger.functions.commitBatch
    assert_reverts(lambda: commit(h("b"), 0, 1, h("c")).transact({"from": outsider}), "NotPreprocessor", outsider)
    assert_reverts(lambda: commit(ZERO32, 0, 1, h("c")).transact({"from": service}), "InvalidBatchId")
    assert_reverts(lambda: commit(h("b"), 0, 0, h("c")).transact({"from": service}), "InvalidCount", 0)
    assert_reverts(lambda: commit(h("b"), 0, MAX_COUNT + 1, h("c")).transact({"from": service}),
                   "InvalidCount", MAX_COUNT + 1)
    assert_reverts(lambda: commit(h("b"), 0, 1, ZERO32).transact({"from": service}), "InvalidCommitment")
    chain.tx(commit(h("b"), TupleKind.TRUNC, MAX_COUNT, h("c")), service)
    assert_reverts(lambda: commit(h("b"), 0, 1, h("c")).transact({"from": service}), "BatchExists", h("b"))


def test_revoked_service_can_no_longer_commit(chain: Chain) -> None:
    m1, m2, _ = chain.members
    chain.tx(chain.registry.functions.voteRevokeRole(Role.PREPROCESSOR, chain.service), m1)
    chain.tx(chain.registry.functions.voteRevokeRole(Role.PREPROCESSOR, chain.service), m2)
    assert_reverts(lambda: chain.ledger.functions.commitBatch(h("b"), 0, 1, h("c")).transact({"from": chain.service}),
                   "NotPreprocessor", chain.service)


def test_an_active_member_commits_a_batch_the_members_made(chain: Chain) -> None:
    # Dealerless: the members make a batch together and one of them commits its transcript hash.
    member = chain.members[1]
    receipt = chain.tx(chain.ledger.functions.commitBatch(h("made"), TupleKind.TRIPLE, 8192, h("transcript")), member)
    assert chain.event(receipt, chain.ledger, "BatchCommitted")["service"] == member
    m1, m2, m3 = chain.members
    chain.tx(chain.registry.functions.voteSuspend(m3), m1)
    chain.tx(chain.registry.functions.voteSuspend(m3), m2)
    assert_reverts(lambda: chain.ledger.functions.commitBatch(h("late"), 0, 1, h("c")).transact({"from": m3}),
                   "NotPreprocessor", m3)


# ----------------------------------------------------------------- attestations

def test_attest_sacrifice(chain: Chain) -> None:
    ledger, member = chain.ledger, chain.members[1]
    batch_id = commit_batch(chain)
    receipt = chain.tx(ledger.functions.attestSacrifice(batch_id, h("transcript")), member)
    assert chain.event(receipt, ledger, "SacrificeAttested") == {
        "batchId": batch_id, "member": member, "transcriptHash": h("transcript")}
    assert ledger.functions.isAttested(batch_id, member).call() is True
    assert ledger.functions.isAttested(batch_id, chain.members[0]).call() is False
    assert ledger.functions.getBatch(batch_id).call()[9] == 1
    assert_reverts(lambda: ledger.functions.attestSacrifice(batch_id, h("again")).transact({"from": member}),
                   "AlreadyAttested", batch_id, member)


def test_attest_sacrifice_checks(chain: Chain) -> None:
    ledger, member, outsider = chain.ledger, chain.members[0], chain.outsiders[0]
    batch_id = commit_batch(chain)
    assert_reverts(lambda: ledger.functions.attestSacrifice(batch_id, h("t")).transact({"from": outsider}),
                   "NotActiveMember", outsider)
    assert_reverts(lambda: ledger.functions.attestSacrifice(batch_id, h("t")).transact({"from": chain.service}),
                   "NotActiveMember", chain.service)
    assert_reverts(lambda: ledger.functions.attestSacrifice(h("unknown"), h("t")).transact({"from": member}),
                   "BatchUnexpectedStatus", h("unknown"), BatchStatus.NONE, BatchStatus.COMMITTED)
    assert_reverts(lambda: ledger.functions.attestSacrifice(batch_id, ZERO32).transact({"from": member}),
                   "InvalidTranscriptHash")


# -------------------------------------------------------------------- rejection

def test_reject_batch(chain: Chain) -> None:
    ledger, member = chain.ledger, chain.members[2]
    batch_id = commit_batch(chain)
    receipt = chain.tx(ledger.functions.rejectBatch(batch_id, h("evidence")), member)
    assert chain.event(receipt, ledger, "BatchRejected") == {
        "batchId": batch_id, "member": member, "evidenceHash": h("evidence")}
    assert ledger.functions.getBatch(batch_id).call()[1] == BatchStatus.REJECTED
    assert_reverts(lambda: ledger.functions.rejectBatch(batch_id, h("e")).transact({"from": member}),
                   "BatchUnexpectedStatus", batch_id, BatchStatus.REJECTED, BatchStatus.COMMITTED)
    assert_reverts(lambda: ledger.functions.attestSacrifice(batch_id, h("t")).transact({"from": member}),
                   "BatchUnexpectedStatus", batch_id, BatchStatus.REJECTED, BatchStatus.COMMITTED)


def test_reject_batch_checks(chain: Chain) -> None:
    ledger, member, outsider = chain.ledger, chain.members[0], chain.outsiders[0]
    batch_id = commit_batch(chain)
    assert_reverts(lambda: ledger.functions.rejectBatch(batch_id, h("e")).transact({"from": outsider}),
                   "NotActiveMember", outsider)
    assert_reverts(lambda: ledger.functions.rejectBatch(batch_id, ZERO32).transact({"from": member}),
                   "InvalidEvidenceHash")
    assert_reverts(lambda: ledger.functions.rejectBatch(h("unknown"), h("e")).transact({"from": member}),
                   "BatchUnexpectedStatus", h("unknown"), BatchStatus.NONE, BatchStatus.COMMITTED)


# ------------------------------------------------------------------ reservations

def test_reserve_only_by_the_job_manager(chain: Chain) -> None:
    batch_id = commit_batch(chain)
    attest(chain, batch_id)
    for caller in (chain.members[0], chain.deployer, chain.service):
        assert_reverts(lambda: chain.ledger.functions.reserve(1, batch_id, 1, chain.members)
                       .transact({"from": caller}), "NotJobManager", caller)


def test_reservations_are_disjoint_and_sequential(chain: Chain) -> None:
    batch_id = commit_batch(chain, count=100)
    attest(chain, batch_id)
    first, second = propose(chain), propose(chain)
    jobs, ledger, m1 = chain.jobs, chain.ledger, chain.members[0]

    assert jobs.functions.reserveTuples(first.job_id, [(batch_id, 30)]).call({"from": m1}) == [0]
    receipt = chain.tx(jobs.functions.reserveTuples(first.job_id, [(batch_id, 30)]), m1)
    assert chain.event(receipt, ledger, "TuplesReserved") == {
        "batchId": batch_id, "jobId": first.job_id, "start": 0, "count": 30}
    receipt = chain.tx(jobs.functions.reserveTuples(second.job_id, [(batch_id, 50)]), chain.members[1])
    assert chain.event(receipt, ledger, "TuplesReserved") == {
        "batchId": batch_id, "jobId": second.job_id, "start": 30, "count": 50}
    receipt = chain.tx(jobs.functions.reserveTuples(first.job_id, [(batch_id, 20)]), m1)
    assert chain.event(receipt, ledger, "TuplesReserved") == {
        "batchId": batch_id, "jobId": first.job_id, "start": 80, "count": 20}
    assert ledger.functions.getBatch(batch_id).call()[3] == 100
    assert_reverts(lambda: jobs.functions.reserveTuples(second.job_id, [(batch_id, 1)]).transact({"from": m1}),
                   "InsufficientTuples", batch_id, 1, 0)


def test_over_reservation_reverts(chain: Chain) -> None:
    batch_id = commit_batch(chain, count=10)
    attest(chain, batch_id)
    job = propose(chain)
    m1 = chain.members[0]
    assert_reverts(lambda: chain.jobs.functions.reserveTuples(job.job_id, [(batch_id, 11)]).transact({"from": m1}),
                   "InsufficientTuples", batch_id, 11, 10)
    chain.tx(chain.jobs.functions.reserveTuples(job.job_id, [(batch_id, 4)]), m1)
    assert_reverts(lambda: chain.jobs.functions.reserveTuples(job.job_id, [(batch_id, 7)]).transact({"from": m1}),
                   "InsufficientTuples", batch_id, 7, 6)
    assert_reverts(lambda: chain.jobs.functions.reserveTuples(job.job_id, [(batch_id, 0)]).transact({"from": m1}),
                   "InvalidCount", 0)


def test_unattested_batch_cannot_be_reserved(chain: Chain) -> None:
    m1, m2, m3 = chain.members
    batch_id = commit_batch(chain)
    attest(chain, batch_id, [m1, m3])
    job = propose(chain)
    assert_reverts(lambda: chain.jobs.functions.reserveTuples(job.job_id, [(batch_id, 1)]).transact({"from": m1}),
                   "NotAttested", batch_id, m2)
    # A job whose participants all attested may use it.
    pair = propose(chain, [m3, m1])
    chain.tx(chain.jobs.functions.reserveTuples(pair.job_id, [(batch_id, 1)]), m3)


def test_rejected_or_unknown_batch_cannot_be_reserved(chain: Chain) -> None:
    batch_id = commit_batch(chain)
    attest(chain, batch_id)
    chain.tx(chain.ledger.functions.rejectBatch(batch_id, h("bad sacrifice")), chain.members[0])
    job = propose(chain)
    m1 = chain.members[0]
    assert_reverts(lambda: chain.jobs.functions.reserveTuples(job.job_id, [(batch_id, 1)]).transact({"from": m1}),
                   "BatchUnexpectedStatus", batch_id, BatchStatus.REJECTED, BatchStatus.COMMITTED)
    assert_reverts(lambda: chain.jobs.functions.reserveTuples(job.job_id, [(h("nope"), 1)]).transact({"from": m1}),
                   "BatchUnexpectedStatus", h("nope"), BatchStatus.NONE, BatchStatus.COMMITTED)


def test_reserve_limits_participants(chain: Chain) -> None:
    """A ledger bound to a plain account lets the test call `reserve` directly."""
    manager = chain.outsiders[0]
    chain.ledger = chain.deploy("PreprocessingLedger", chain.registry.address)
    chain.tx(chain.ledger.functions.bindJobManager(manager), chain.deployer)
    batch_id = commit_batch(chain, count=10)
    attest(chain, batch_id)
    too_many = [chain.members[0]] * 33
    assert_reverts(lambda: chain.ledger.functions.reserve(7, batch_id, 1, too_many).transact({"from": manager}),
                   "TooManyParticipants", 33)
    receipt = chain.tx(chain.ledger.functions.reserve(7, batch_id, 10, chain.members), manager)
    assert chain.event(receipt, chain.ledger, "TuplesReserved") == {
        "batchId": batch_id, "jobId": 7, "start": 0, "count": 10}


def test_unknown_batch_view_is_empty(chain: Chain) -> None:
    assert tuple(chain.ledger.functions.getBatch(h("none")).call()) == (0, 0, 0, 0, 0, 0, ZERO32, ZERO_ADDRESS, 0, 0)
