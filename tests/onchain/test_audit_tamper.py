"""The audit fails on exactly the check a tampered record breaks, and its evidence names the fault.

Records are made on the in-process chain. Where the contracts refuse to make
the fault (a commitment after a result, tuples handed out twice, a participant
who was no member at the proposal), the real history is read and then altered
as data, the smallest fake that shows the check works.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import event_abi_to_log_topic

from onchain.artifacts import load
from mpcc.audit.record import (BATCHES, DEADLINES, MEMBERSHIP, ORDER, RESULTS, SOURCES, SPEC, AuditReport,
                           audit_history, audit_job)
from onchain.chain import Chain
from onchain.deploy import Deployment, deploy
from onchain.embedded import in_memory_chain
from onchain.events import EventBase
from onchain.history import JobHistory, load_history
from onchain.jobs import Deadlines
from onchain.ledger import TupleKind
from onchain.registry import MemberKeys, Role

SPEC_TEXT = '{"analysis":"mean","column":"income"}'
RESULT = b'{"mean":"1"}'


def _keys(i: int) -> MemberKeys:
    return MemberKeys(f"org{i}", f"10.0.0.{i + 1}:9443", secrets.token_bytes(32), secrets.token_bytes(1216))


def _consortium(chain: Chain, deployer: LocalAccount, members: list[str], service: LocalAccount,
                quorum: int) -> Deployment:
    dep = deploy(chain, deployer, quorum=quorum)
    for i, account in enumerate(members):
        dep.registry.bootstrap_member(deployer, account, _keys(i))
    dep.registry.bootstrap_role(deployer, Role.PREPROCESSOR, service.address)
    return dep


def _batch(dep: Deployment, service: LocalAccount, attesters: list[LocalAccount], batch_id: bytes) -> None:
    dep.ledger.commit_batch(service, batch_id, TupleKind.TRIPLE, 100, secrets.token_bytes(32))
    for m in attesters:
        dep.ledger.attest_sacrifice(m, batch_id, secrets.token_bytes(32))


def _members_and_batch(chain: Chain) -> tuple[Deployment, list[LocalAccount], bytes]:
    """Three sealed members and one batch of 100 triples they all attested."""
    operator, service = chain.test_account(0), chain.test_account(1)
    members = [Account.create() for _ in range(3)]
    for m in members:
        chain.fund(operator, m.address, 10**18)
    dep = _consortium(chain, operator, [m.address for m in members], service, quorum=2)
    dep.registry.seal_bootstrap(operator)
    batch = secrets.token_bytes(32)
    _batch(dep, service, members, batch)
    return dep, members, batch


@pytest.fixture(scope="module")
def made() -> tuple[Deployment, list[LocalAccount], bytes]:
    return _members_and_batch(in_memory_chain())


@pytest.fixture
def setup(made: tuple) -> Iterator[tuple[Deployment, list[LocalAccount], bytes]]:
    """The module's consortium, inside an eth-tester snapshot reverted after the test."""
    tester = made[0].chain.tester
    snapshot = tester.take_snapshot()
    yield made
    tester.revert_to_snapshot(snapshot)


@pytest.fixture(scope="module")
def honest(made: tuple) -> tuple[JobHistory, list[LocalAccount]]:
    """The history of one honest job, read and then undone on the chain (tests alter it as data)."""
    dep, members, batch = made
    snapshot = dep.chain.tester.take_snapshot()
    history = load_history(dep, _job(dep, members, batch))
    dep.chain.tester.revert_to_snapshot(snapshot)
    assert audit_history(history).passed
    return history, members


def _propose(dep: Deployment, members: list[LocalAccount], spec: str, batch: bytes) -> int:
    job_id, _ = dep.jobs.propose(members[0], spec, [m.address for m in members],
                                 Deadlines.from_now(dep.chain.now()), [(batch, 10)])
    for m in members[1:]:
        dep.jobs.accept(m, job_id)
    return job_id


def _finish(dep: Deployment, members: list[LocalAccount], job_id: int, result: bytes = RESULT) -> None:
    for m in members:
        dep.jobs.commit_inputs(m, job_id, secrets.token_bytes(32))
    for m in members:
        dep.jobs.submit_result(m, job_id, result)


def _job(dep: Deployment, members: list[LocalAccount], batch: bytes,
         between: Callable[[], object] = lambda: None) -> int:
    """An honest job reserving 10 tuples of ``batch``; ``between`` runs after acceptance, before commitments."""
    job_id = _propose(dep, members, SPEC_TEXT, batch)
    between()
    _finish(dep, members, job_id)
    return job_id


def failed(report: AuditReport) -> list[str]:
    return [c.name for c in report.checks if not c.passed]


def swapped(history: JobHistory, old: EventBase, new: EventBase) -> JobHistory:
    """``history`` with ``old`` replaced by ``new`` wherever it occurs."""
    def swap(events: tuple[EventBase, ...]) -> tuple[EventBase, ...]:
        return tuple(new if e == old else e for e in events)
    return replace(history, job=swap(history.job), ledger=swap(history.ledger), registry=swap(history.registry))


# ---------------------------------------------------------- 1. forged source

def _rogue_twin(chain: Chain, victim: LocalAccount, batch: bytes) -> Deployment:
    """An attacker's own deployment that emits look-alikes of the real job 1's events.

    Its job 1 has another spec and result and reserves the real batch's id from
    the same start; its registry names a real participant and suspends it.
    """
    attacker, accomplice = chain.test_account(2), Account.create()
    chain.fund(attacker, accomplice.address, 10**18)
    rogue = _consortium(chain, attacker, [attacker.address, accomplice.address, victim.address], attacker, 1)
    _batch(rogue, attacker, [attacker, accomplice], batch)
    job_id = _propose(rogue, [attacker, accomplice], '{"analysis":"sum","column":"income"}', batch)
    _finish(rogue, [attacker, accomplice], job_id, b'{"mean":"99999"}')
    rogue.registry.vote_suspend(attacker, victim.address)
    return rogue


@pytest.fixture(scope="module")
def forged() -> tuple[Deployment, Deployment, int, bytes]:
    """The real job 1, and a rogue deployment whose look-alike events fall inside its blocks."""
    dep, members, batch = _members_and_batch(in_memory_chain())
    holder: list[Deployment] = []
    job_id = _job(dep, members, batch, between=lambda: holder.append(_rogue_twin(dep.chain, members[2], batch)))
    return dep, holder[0], job_id, batch


def _logs_like(chain: Chain, contract: str, event: str, topic1: bytes) -> set[str]:
    """Emitters of ``event`` logs with first indexed argument ``topic1``, from any address."""
    abi = next(i for i in load(contract).abi if i.get("type") == "event" and i["name"] == event)
    logs = chain.w3.eth.get_logs({"fromBlock": 0, "toBlock": "latest",
                                  "topics": ["0x" + event_abi_to_log_topic(abi).hex(), "0x" + topic1.hex()]})
    return {str(log["address"]) for log in logs}


def test_look_alike_events_from_another_deployment_are_not_read(forged: tuple) -> None:
    dep, rogue, job_id, batch = forged
    assert rogue.jobs.address != dep.jobs.address and job_id == 1
    one = job_id.to_bytes(32, "big")
    assert _logs_like(dep.chain, "JobManager", "JobFinalised", one) == {dep.jobs.address, rogue.jobs.address}
    assert _logs_like(dep.chain, "JobManager", "JobProposed", one) == {dep.jobs.address, rogue.jobs.address}
    assert _logs_like(dep.chain, "PreprocessingLedger", "TuplesReserved", batch) == {
        dep.ledger.address, rogue.ledger.address}
    report = audit_job(dep, job_id)
    assert report.passed, report.as_dict()
    assert report.check(SOURCES).detail.endswith("all from the manifest's addresses")


def test_forged_events_in_a_history_are_reported_and_never_counted(forged: tuple) -> None:
    dep, rogue, job_id, _ = forged
    real, fake = load_history(dep, job_id), load_history(rogue, job_id)
    spliced = replace(real, job=real.job + fake.job, ledger=real.ledger + fake.ledger,
                      registry=real.registry + fake.registry)
    report = audit_history(spliced)
    assert failed(report) == [SOURCES]
    detail = report.check(SOURCES).detail
    final = next(e for e in fake.job if e.event_name == "JobFinalised")
    suspended = next(e for e in fake.registry if e.event_name == "MemberSuspended")
    assert (f"JobFinalised at block {final.block_number} (tx {final.tx_hash}) was emitted by "
            f"{rogue.jobs.address}, not by JobManager at {dep.jobs.address}") in detail
    assert f"MemberSuspended at block {suspended.block_number}" in detail
    assert f"was emitted by {rogue.ledger.address}, not by PreprocessingLedger" in detail
    assert detail.count("was emitted by") == len(fake.job) + len(fake.ledger) + len(fake.registry)


# ------------------------------------------------------ 2. late commitment

def test_a_commitment_after_a_result_fails_the_order_check(honest: tuple) -> None:
    """JobManager accepts no commitment once results are due; the record is altered as data."""
    history, members = honest
    first = next(e for e in history.job if e.event_name == "ResultSubmitted")
    commit = [e for e in history.job if e.event_name == "InputsCommitted"][-1]
    late = replace(commit, block_number=first.block_number,
                   log_index=1 + max(e.log_index for e in history.job if e.block_number == first.block_number))
    report = audit_history(swapped(history, commit, late))
    assert failed(report) == [ORDER]
    assert report.check(ORDER).detail == (
        f"InputsCommitted of {members[2].address} at block {first.block_number} (tx {commit.tx_hash}) "
        f"came after ResultSubmitted of {members[0].address} at block {first.block_number}")


# -------------------------------------------- the other checks, for completeness

def test_a_spec_text_that_is_not_the_hashed_one_fails_the_spec_check(honest: tuple) -> None:
    """JobManager hashes the spec it emits; the text is altered as data."""
    history, _ = honest
    proposed = history.job[0]
    report = audit_history(swapped(history, proposed, replace(proposed, spec=SPEC_TEXT.replace("mean", "sum"))))
    assert failed(report) == [SPEC]
    assert report.check(SPEC).detail.startswith(
        f"JobProposed at block {proposed.block_number} (tx {proposed.tx_hash}): the spec text hashes to 0x")
    stated = bytes(proposed.args()["specHash"]).hex()
    assert report.check(SPEC).detail.endswith(f"not 0x{stated}")


def test_a_step_after_its_deadline_fails_the_deadline_check(honest: tuple) -> None:
    """JobManager refuses late steps; the block's time is altered as data."""
    history, members = honest
    commit = [e for e in history.job if e.event_name == "InputsCommitted"][-1]
    commit_by = history.job[0].commitBy  # type: ignore[attr-defined]
    report = audit_history(replace(history, block_times={**history.block_times, commit.block_number: commit_by + 1}))
    assert failed(report) == [DEADLINES]
    assert report.check(DEADLINES).detail == (
        f"InputsCommitted at block {commit.block_number} (tx {commit.tx_hash}) of {members[2].address}: "
        f"time {commit_by + 1} > deadline {commit_by}")


def test_unequal_results_fail_the_results_check(setup: tuple) -> None:
    dep, members, batch = setup
    job_id = _propose(dep, members, SPEC_TEXT, batch)
    for m in members:
        dep.jobs.commit_inputs(m, job_id, secrets.token_bytes(32))
    dep.jobs.submit_result(members[0], job_id, RESULT)
    dep.jobs.submit_result(members[1], job_id, b'{"mean":"2"}')
    report = audit_job(dep, job_id)
    assert failed(report) == [RESULTS]
    posted = [dep.jobs.result_hash_of(job_id, m.address).hex()[:16] for m in members]
    assert report.check(RESULTS).detail == (f"2 results, 2 distinct, finalised: False; {members[0].address} "
                                            f"posted 0x{posted[0]}; {members[1].address} posted 0x{posted[1]}")


# ----------------------------------------------------------- 3. reused batch

def test_tuples_reserved_twice_fail_the_batch_check_of_both_jobs(setup: tuple) -> None:
    """PreprocessingLedger hands out each tuple once; the second reservation is moved back as data."""
    dep, members, batch = setup
    first, second = _job(dep, members, batch), _job(dep, members, batch)
    h1, h2 = load_history(dep, first), load_history(dep, second)
    earlier, honest = [e for e in h2.ledger if e.event_name == "TuplesReserved"]
    assert [(e.jobId, e.start, e.count) for e in (earlier, honest)] == [  # type: ignore[attr-defined]
        (first, 0, 10), (second, 10, 10)]
    assert audit_history(h1).passed and audit_history(h2).passed
    reused = replace(honest, start=5)
    tag = f"batch 0x{batch.hex()[:12]}"
    report = audit_history(swapped(h2, honest, reused))
    assert failed(report) == [BATCHES]
    assert report.check(BATCHES).detail == (
        f"{tag}: tuples [5,10) reserved by job {second} at block {honest.block_number} are also "
        f"reserved by job {first} at block {earlier.block_number}")
    other = audit_history(swapped(h1, honest, reused))
    assert failed(other) == [BATCHES]
    assert f"{tag}: tuples [5,10) reserved by job {first}" in other.check(BATCHES).detail
    assert f"also reserved by job {second} at block {honest.block_number}" in other.check(BATCHES).detail


# ------------------------------------------------------------ 4. non-member

def test_a_participant_suspended_during_the_job_fails_the_membership_check(setup: tuple) -> None:
    """JobManager checks membership at proposal and acceptance only; the audit checks every block."""
    dep, members, batch = setup
    suspect = members[2]

    def suspend() -> None:
        dep.registry.vote_suspend(members[0], suspect.address)
        dep.registry.vote_suspend(members[1], suspect.address)

    job_id = _job(dep, members, batch, between=suspend)
    report = audit_job(dep, job_id)
    assert failed(report) == [MEMBERSHIP]
    history = load_history(dep, job_id)
    event = next(e for e in history.registry if e.event_name == "MemberSuspended")
    assert report.check(MEMBERSHIP).detail == (
        f"{suspect.address}: MemberSuspended at block {event.block_number} (tx {event.tx_hash}) "
        f"while the job ran (blocks {history.job[0].block_number}..{history.job[-1].block_number})")


def test_keys_rotated_during_the_job_fail_the_membership_check_and_after_it_do_not(setup: tuple) -> None:
    dep, members, batch = setup
    rotator = members[1]
    keys = _keys(7)

    def rotate() -> None:
        dep.registry.rotate_keys(rotator, keys.endpoint, keys.tls_fingerprint, keys.hpke_public_key)

    job_id = _job(dep, members, batch, between=rotate)
    rotate_after = _keys(8)
    dep.registry.rotate_keys(members[0], rotate_after.endpoint, rotate_after.tls_fingerprint,
                             rotate_after.hpke_public_key)
    report = audit_job(dep, job_id)
    assert failed(report) == [MEMBERSHIP]
    rotated = [e for e in load_history(dep, job_id).registry if e.event_name == "MemberKeysRotated"]
    assert [e.args()["account"] for e in rotated] == [rotator.address, members[0].address]
    detail = report.check(MEMBERSHIP).detail
    assert detail.startswith(f"{rotator.address}: MemberKeysRotated at block {rotated[0].block_number} "
                             f"(tx {rotated[0].tx_hash}) while the job ran")
    assert members[0].address not in detail


def test_a_participant_unknown_to_the_registry_fails_the_membership_check(honest: tuple) -> None:
    """JobManager seats active members only; the member's admission is removed from the record as data."""
    history, members = honest
    admission = next(e for e in history.registry
                     if e.event_name == "MemberBootstrapped" and e.args()["account"] == members[1].address)
    report = audit_history(replace(history, registry=tuple(e for e in history.registry if e != admission)))
    assert failed(report) == [MEMBERSHIP]
    proposed = history.job[0]
    assert report.check(MEMBERSHIP).detail == (
        f"{members[1].address} was not an active member when the job was proposed: "
        f"JobProposed at block {proposed.block_number} (tx {proposed.tx_hash})")
