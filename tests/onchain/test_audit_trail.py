"""AuditTrail: Pedersen share commitments, their openings checked by the BN254 precompiles, and its refusals."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from offchain import curve
from offchain.auditable.commitments import column_sums
from offchain.field import P, FieldVec
from onchain.abi.audit_trail import DataPublished, LinearResultVerified
from onchain.audit_trail import DataKind, list_hash
from onchain.chain import Chain
from onchain.embedded import in_memory_chain
from harness.chain import placeholder_consortium
from onchain.deploy import Deployment
from onchain.errors import ContractRevert
from onchain.jobs import Deadlines, JobState

WIDTH = 2


class Party:
    """A participant's shares of every owner's inputs and the randomness of its commitments."""

    def __init__(self, account: LocalAccount, owners: int) -> None:
        self.account = account
        self.values = FieldVec.random(owners * WIDTH)
        self.rands = FieldVec.random(owners * WIDTH)
        self.points = curve.commit(self.values, self.rands).to_bytes()

    def opening(self, columns: list[int]) -> tuple[list[int], list[int]]:
        values, rands = self.values.to_ints(), self.rands.to_ints()
        owners = len(values) // WIDTH
        return ([sum(values[k * WIDTH + c] for k in range(owners)) % P for c in columns],
                [sum(rands[k * WIDTH + c] for k in range(owners)) % P for c in columns])


@pytest.fixture(scope="module")
def consortium() -> tuple[Chain, Deployment, list[LocalAccount]]:
    """Three members of one deployment, shared by the module's tests (each makes its own job)."""
    chain = in_memory_chain()
    dep, members = placeholder_consortium(chain, 3)
    return chain, dep, members


@pytest.fixture
def job(consortium: tuple) -> tuple[Deployment, list[Party], int]:
    """A fresh accepted job of the three members."""
    chain, dep, members = consortium
    job_id, _ = dep.jobs.propose(members[0], '{"analysis":"mean"}', [m.address for m in members],
                                 Deadlines.from_now(chain.now()))
    for m in members[1:]:
        dep.jobs.accept(m, job_id)
    return dep, [Party(m, len(members)) for m in members], job_id


def commit_all(dep: Deployment, parties: list[Party], job_id: int) -> None:
    for p in parties:
        dep.audit.commit_shares(p.account, job_id, WIDTH, p.points)
        dep.jobs.commit_inputs(p.account, job_id, list_hash(p.points))


def reverted(call, name: str) -> ContractRevert:  # type: ignore[no-untyped-def]
    with pytest.raises(ContractRevert) as info:
        call()
    assert info.value.error_name == name, info.value
    return info.value


def test_openings_are_checked_and_the_totals_verified(job: tuple) -> None:
    dep, parties, job_id = job
    commit_all(dep, parties, job_id)
    for p in parties:
        log = dep.audit.share_log(job_id, p.account.address)
        assert (log.list_hash, log.count, log.width, log.opened) == (list_hash(p.points), 6, WIDTH, False)
        sums = column_sums(curve.PointVec.from_bytes(p.points), WIDTH)
        assert [dep.audit.column_sum(job_id, p.account.address, c) for c in range(WIDTH)] == \
            [sums[c].to_bytes() for c in range(WIDTH)]
    receipts = [dep.audit.publish_opening(p.account, job_id, [0, 1], *p.opening([0, 1])) for p in parties]
    assert [r.named(LinearResultVerified) for r in receipts[:2]] == [[], []]
    verified = receipts[2].first(LinearResultVerified)
    expected = [sum(p.opening([0, 1])[0][c] for p in parties) % P for c in range(2)]
    assert list(verified.totals) == expected
    assert dep.audit.verified_totals(job_id) != bytes(32)


def test_an_altered_opening_is_refused_naming_the_party_and_column(job: tuple) -> None:
    dep, parties, job_id = job
    commit_all(dep, parties, job_id)
    shares, rands = parties[1].opening([0, 1])
    shares[1] = (shares[1] + 1) % P
    err = reverted(lambda: dep.audit.publish_opening(parties[1].account, job_id, [0, 1], shares, rands),
                   "OpeningMismatch")
    assert err.fields["participant"].lower() == parties[1].account.address.lower()
    assert err.fields["column"] == 1
    shares, rands = parties[1].opening([0, 1])
    rands[0] = (rands[0] + 1) % P
    reverted(lambda: dep.audit.publish_opening(parties[1].account, job_id, [0, 1], shares, rands),
             "OpeningMismatch")
    assert dep.audit.verified_totals(job_id) == bytes(32)


def test_the_list_is_closed_once_inputs_are_committed(job: tuple) -> None:
    dep, parties, job_id = job
    p = parties[0]
    dep.audit.commit_shares(p.account, job_id, WIDTH, p.points)
    dep.jobs.commit_inputs(p.account, job_id, list_hash(p.points))
    reverted(lambda: dep.audit.commit_shares(p.account, job_id, WIDTH, p.points), "SharesSealed")
    commit_all(dep, parties[1:], job_id)
    assert dep.jobs.job(job_id).state is JobState.INPUTS_COMMITTED
    reverted(lambda: dep.audit.commit_shares(parties[1].account, job_id, WIDTH, parties[1].points),
             "WrongJobState")


def test_bad_commitments_are_refused(job: tuple, consortium: tuple) -> None:
    dep, parties, job_id = job
    p = parties[0]
    chain = consortium[0]
    outsider = Account.create()
    chain.fund(chain.test_account(0), outsider.address, 10**18)
    reverted(lambda: dep.audit.commit_shares(outsider, job_id, WIDTH, p.points), "NotParticipant")
    bad = bytearray(p.points)
    bad[64 * 3 + 63] ^= 1  # Point 3's y no longer satisfies the curve equation.
    err = reverted(lambda: dep.audit.commit_shares(p.account, job_id, WIDTH, bytes(bad)), "PointNotOnCurve")
    assert err.fields["index"] == 3
    reverted(lambda: dep.audit.commit_shares(p.account, job_id, 0, p.points), "InvalidWidth")
    dep.audit.commit_shares(p.account, job_id, WIDTH, p.points[:128])
    reverted(lambda: dep.audit.commit_shares(p.account, job_id, 3, p.points[128:]), "WidthMismatch")


def test_openings_need_committed_inputs_and_agreeing_columns(job: tuple) -> None:
    dep, parties, job_id = job
    dep.audit.commit_shares(parties[0].account, job_id, WIDTH, parties[0].points)
    reverted(lambda: dep.audit.publish_opening(parties[0].account, job_id, [0], *parties[0].opening([0])),
             "WrongJobState")
    commit_all(dep, parties[1:], job_id)
    dep.jobs.commit_inputs(parties[0].account, job_id, list_hash(parties[0].points))
    reverted(lambda: dep.audit.publish_opening(parties[1].account, job_id, [2, 0], [1, 1], [1, 1]),
             "ColumnOutOfRange")
    reverted(lambda: dep.audit.publish_opening(parties[1].account, job_id, [0, 1], [P, 0], [0, 0]),
             "ScalarOutOfRange")
    dep.audit.publish_opening(parties[0].account, job_id, [0, 1], *parties[0].opening([0, 1]))
    reverted(lambda: dep.audit.publish_opening(parties[0].account, job_id, [0, 1], *parties[0].opening([0, 1])),
             "AlreadyOpened")
    reverted(lambda: dep.audit.publish_opening(parties[1].account, job_id, [1], *parties[1].opening([1])),
             "ColumnsMismatch")


def test_long_lists_go_in_chunks_and_sum_per_column(job: tuple) -> None:
    dep, parties, job_id = job
    p = parties[0]
    n = 3 * 10 + 1
    values, rands = FieldVec.random(n), FieldVec.random(n)
    points = curve.commit(values, rands).to_bytes()
    receipts = dep.audit.commit_shares(p.account, job_id, 3, points, chunk=10)
    assert len(receipts) == 4
    assert dep.audit.share_log(job_id, p.account.address).list_hash == list_hash(points, chunk=10)
    expected = [curve.PointVec.from_bytes(points)[c::3].sum().to_bytes() for c in range(3)]
    assert [dep.audit.column_sum(job_id, p.account.address, c) for c in range(3)] == expected


def test_published_data_follows_the_job_state(job: tuple) -> None:
    dep, parties, job_id = job
    p = parties[0]
    reverted(lambda: dep.audit.publish_data(p.account, job_id, DataKind.TRANSCRIPT, b"\x01"), "WrongJobState")
    receipt = dep.audit.publish_data(p.account, job_id, DataKind.TUPLES, b"tuples")
    event = receipt.first(DataPublished)
    assert (event.kind, bytes(event.dataHash)) == (DataKind.TUPLES, keccak(b"tuples"))
    assert dep.audit.published_data(receipt.tx_hash) == (job_id, DataKind.TUPLES, b"tuples")
    reverted(lambda: dep.audit.publish_data(p.account, job_id, DataKind.TUPLES, b""), "EmptyData")
    reverted(lambda: dep.audit._send(p.account, "publishData", job_id, 3, b"x"), "InvalidKind")
    commit_all(dep, parties, job_id)
    reverted(lambda: dep.audit.publish_data(p.account, job_id, DataKind.TUPLES, b"late"), "WrongJobState")
    dep.audit.publish_data(p.account, job_id, DataKind.TRANSCRIPT, b"\x01")
    dep.audit.publish_data(p.account, job_id, DataKind.TRANSCRIPT, b"\x02")  # Chunks, until the result.
    # A transcript closes with its participant's result, and every transcript with the job: nothing
    # can be appended to what an auditor replays once the job is decided.
    for party in parties:
        dep.jobs.submit_result(party.account, job_id, b'{"mean":"1"}')
        reverted(lambda party=party: dep.audit.publish_data(party.account, job_id, DataKind.TRANSCRIPT, b"late"),
                 "WrongJobState" if party is parties[-1] else "TranscriptSealed")
    assert dep.jobs.job(job_id).state is JobState.FINALISED


def test_malformed_chunks_and_openings_are_refused(job: tuple) -> None:
    dep, parties, job_id = job
    p = parties[0]
    err = reverted(lambda: dep.audit._send(p.account, "commitShares", job_id, WIDTH, [1, 2, 3]), "InvalidChunk")
    assert err.fields["coordinates"] == 3
    reverted(lambda: dep.audit._send(p.account, "commitShares", job_id, WIDTH, []), "InvalidChunk")
    commit_all(dep, parties[1:], job_id)
    dep.jobs.commit_inputs(p.account, job_id, bytes.fromhex("11" * 32))  # Inputs without a Pedersen list.
    reverted(lambda: dep.audit.publish_opening(p.account, job_id, [0], [1], [1]), "SharesNotCommitted")
    err = reverted(lambda: dep.audit.publish_opening(parties[1].account, job_id, [0, 1], [1], [1, 1]),
                   "InvalidOpening")
    assert (err.fields["columns"], err.fields["shares"], err.fields["rands"]) == (2, 1, 2)
    reverted(lambda: dep.audit.publish_opening(parties[1].account, job_id, [], [], []), "InvalidOpening")
