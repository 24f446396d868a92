"""Tuples the members make themselves (no service), from LowGear to a finalised, audited job."""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mpcc import orgs
from mpcc.audit.record import BATCHES, audit_job
from mpcc.demo.local import MAKE_TIMEOUT_S, LocalConsortium
from mpcc.peer.making import MadeBatch, Order, make_tuples, next_order, start_session
from mpcc.peer.member import JobOutcome, MemberPeer
from offchain.analytics.data import read_column
from offchain.analytics.spec import JobSpec
from offchain.auditable import routes
from offchain.engine.session import Session
from offchain.errors import ConfigError, MalformedMessage, ProtocolAbort
from offchain.net.transport import Transport
from offchain.lattice.params import small
from offchain.preprocessing.tuples import TupleKey, TupleKind
from offchain.shares import MacKeyShare
from onchain.abi.preprocessing_ledger import BatchCommitted
from onchain.jobs import JobState

RING = small(1024, 13)
"""N = 1024 with production's thirteen primes: the protocol and its noise budget, at a test's cost (a mean
job's tuples in a few ciphertexts; a smaller ring takes more ciphertexts, each with its proofs)."""


@pytest.fixture
def made(members: list[orgs.Org], incomes: list[dict[str, Path]], tmp_path: Path) -> Iterator[LocalConsortium]:
    consortium = LocalConsortium.create(members, incomes, cache_dir=tmp_path, made_by_members=True)
    consortium.ring = RING
    yield consortium
    consortium.close()


def mean_spec(c: LocalConsortium, **extra: Any) -> JobSpec:
    return JobSpec(analysis="mean", column="income", reveal=("count", "mean"),
                   participants=tuple(p.address for p in c.peers), **extra)


def test_a_job_runs_on_tuples_the_members_made_and_its_audit_says_so(made: LocalConsortium,
                                                                       incomes: list[dict[str, Path]]) -> None:
    assert made.service is None
    spec = mean_spec(made)
    batches = made.supply(routes.needs(spec))
    kinds = {b.key.kind for b in batches}
    assert kinds == {TupleKind.TRIPLE, TupleKind.BIT, TupleKind.INPUT_MASK}
    # Each batch was committed by a member (in turn), and attested by every member.
    ledger = made.dep.ledger
    committers = {ledger.batch(b.batch_id).service for b in batches}
    assert committers <= {p.address for p in made.peers} and len(committers) > 1
    assert all(ledger.is_attested(b.batch_id, p.address) for b in batches for p in made.peers)
    job_id = made.propose(spec)
    outcomes = made.run_job(job_id)
    plain = [v for binding in incomes for v in read_column(binding["income"], "income")]
    for outcome in outcomes:
        assert isinstance(outcome, JobOutcome), outcome
        assert outcome.result["count"] == str(len(plain))
        assert abs(float(outcome.result["mean"]) - statistics.mean(plain)) <= 1e-9 * statistics.mean(plain)
    assert made.dep.jobs.job(job_id).state is JobState.FINALISED
    report = audit_job(made.dep, job_id)
    assert report.passed, report.as_dict()
    (tuples,) = [c for c in report.checks if c.name == BATCHES]
    assert "batches made by the members" in tuples.detail and "preprocessing service" not in tuples.detail


def test_members_refuse_to_attest_a_batch_committed_under_another_transcript(made: LocalConsortium,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # The member whose turn it is to commit deviates: it commits another hash than the batch's transcript.
    ledger = made.dep.ledger
    honest_commit = ledger.commit_batch

    def lying_commit(sender: Any, batch_id: bytes, kind: Any, count: int, commitment: bytes) -> Any:
        return honest_commit(sender, batch_id, kind, count, bytes(31) + b"\x01")

    monkeypatch.setattr(ledger, "commit_batch", lying_commit)
    needs = routes.needs(mean_spec(made))

    async def make(peer: MemberPeer, transport: Transport, key: MacKeyShare) -> list[MadeBatch]:
        ctx = Session(transport, key)
        return await make_tuples(peer, ctx, await start_session(ctx, RING), needs)

    liar, *honest = made.run_all(make, timeout=MAKE_TIMEOUT_S)
    for refusal in honest:
        assert isinstance(refusal, ProtocolAbort) and "another transcript hash" in str(refusal), refusal
    assert isinstance(liar, ProtocolAbort)  # Its peers closed their channels.
    # Only the liar attested what it committed: no job can reserve the batch.
    (event,) = ledger.logs(BatchCommitted)
    assert [ledger.is_attested(event.batchId, p.address) for p in made.peers] == [True, False, False]
    assert not made.offers


def test_a_consortium_that_makes_its_own_tuples_has_no_dealer_to_feed_it(made: LocalConsortium) -> None:
    with pytest.raises(ConfigError, match="makes its own tuples"):
        made.feed(routes.needs(mean_spec(made)))


def test_the_first_member_orders_what_the_stock_lacks_most_and_nothing_when_it_is_full() -> None:
    triple, bit = TupleKey(TupleKind.TRIPLE), TupleKey(TupleKind.BIT)
    levels = {triple: 1000, bit: 4000}
    assert next_order(levels, {triple: 900, bit: 1000}) == Order(bit, 3000)  # 25 % of its level left, not 90 %.
    assert next_order(levels, {bit: 4000}) == Order(triple, 1000)
    assert next_order(levels, {triple: 1000, bit: 5000}) == Order(None)
    for order in (Order(bit, 3000), Order(TupleKey(TupleKind.INPUT_MASK, owner=2), 5), Order(None)):
        assert Order.from_bytes(order.to_bytes(), 3) == order


@pytest.mark.parametrize("sent", [b"not json", b'{"kind": "trunc", "owner": null, "count": 3}',
                                  b'{"kind": "triple", "owner": null, "count": 0}',
                                  b'{"kind": "input_mask", "owner": 3, "count": 1}', b'{"kind": "dragon"}', b"[]"])
def test_an_order_that_is_not_one_is_refused_naming_the_first_member(sent: bytes) -> None:
    # A first member that deviates (or a garbled message) cannot make the others make nonsense: they stop.
    with pytest.raises(MalformedMessage, match="party 0"):
        Order.from_bytes(sent, 3)
