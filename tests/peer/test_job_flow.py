"""Jobs end to end on the in-process chain: honest, cheating, lying, bad data, no tuples."""

from __future__ import annotations

import asyncio
import dataclasses
import statistics
from pathlib import Path

import pytest

from offchain.auditable import routes
from offchain.analytics import common, registry, stats
from offchain.analytics.data import read_column
from offchain.analytics.spec import JobSpec
from offchain.engine import estimate
from offchain.errors import ConfigError, ProtocolAbort, SacrificeFailed, TuplesExhausted
from offchain.field import FieldVec
from harness.faults import TamperingNetwork
from mpcc.analyst import plan_reservations
from mpcc.demo.local import LocalConsortium
from mpcc.peer.member import JobOutcome, MemberPeer
from mpcc.audit.record import audit_job
from onchain.abi.job_manager import InputsCommitted
from onchain.abi.preprocessing_ledger import BatchRejected
from offchain.net.transport import Transport
from offchain.shares import MacKeyShare, SharedVec
from onchain.jobs import AbortReason, Deadlines, JobState
from onchain.ledger import BatchStatus

AUDIT_RESULTS = "all results equal and the job finalised"


def mean_spec(c: LocalConsortium) -> JobSpec:
    return JobSpec(analysis="mean", column="income", reveal=("count", "mean"),
                   participants=tuple(p.address for p in c.peers))


def test_mean_income_is_computed_finalised_and_audited(consortium: LocalConsortium,
                                                       incomes: list[dict[str, Path]]) -> None:
    spec = mean_spec(consortium)
    consortium.feed(stats.needs(spec))
    job_id = consortium.propose(spec)
    outcomes = consortium.run_job(job_id)
    plain = [v for binding in incomes for v in read_column(binding["income"], "income")]
    for outcome in outcomes:
        assert isinstance(outcome, JobOutcome)
        # The mean is exact; printing keeps text_bits(f) significant bits (ten digits at f=48).
        assert set(outcome.result) == {"count", "mean"} and outcome.result["count"] == str(len(plain))
        assert abs(float(outcome.result["mean"]) - statistics.mean(plain)) <= 1e-9 * statistics.mean(plain)
    job = consortium.dep.jobs.job(job_id)
    assert job.state is JobState.FINALISED
    on_chain = {e.participant: bytes(e.commitment) for e in consortium.dep.jobs.logs(InputsCommitted)}
    assert sorted(on_chain.values()) == sorted(o.input_commitment for o in outcomes)  # type: ignore[union-attr]
    report = audit_job(consortium.dep, job_id)
    assert report.passed, report.as_dict()


def test_tuples_are_never_reused_across_jobs(consortium: LocalConsortium) -> None:
    spec = mean_spec(consortium)
    consortium.feed(stats.needs(spec) * 2)
    first, second = consortium.propose(spec), consortium.propose(spec)
    ranges = [asyncio.run(consortium.peers[0].reserved_ranges(j)) for j in (first, second)]
    used = {(b, i) for job in ranges for b, start, n in job for i in range(start, start + n)}
    assert len(used) == sum(n for job in ranges for _, _, n in job)
    for job_id in (first, second):
        assert all(isinstance(o, JobOutcome) for o in consortium.run_job(job_id))
        assert audit_job(consortium.dep, job_id).passed


def test_peers_wait_for_reservations_mined_after_everyone_accepted(consortium: LocalConsortium) -> None:
    """A proposal carries at most 16 reservations and the proposer sends the rest in further
    transactions, which can be mined after the last acceptance. A peer that read the reservations
    then would start with fewer tuples than the others; every peer waits until they cover the job."""
    spec, dep = mean_spec(consortium), consortium.dep
    consortium.feed(stats.needs(spec))
    plan = plan_reservations(dep, routes.needs(spec), consortium.offers, spec.participants)
    early, late = plan[:-1], plan[-1:]
    job_id, _ = dep.jobs.propose(consortium.peers[0].org.account, spec.canonical(), list(spec.participants),
                                 Deadlines.from_now(dep.chain.now()), early)

    async def step(peer: MemberPeer, transport: Transport, key: MacKeyShare) -> JobOutcome:
        if key.party != 0:
            return await peer.run_job(transport, key, job_id)

        async def reserve_late() -> None:
            await peer.wait_for(job_id, JobState.ACCEPTED)
            await asyncio.sleep(1.0)  # The others read the reservations as soon as the job is accepted.
            await peer.chain.run(dep.jobs.reserve_batches, peer.org.account, job_id, late)

        outcome, _ = await asyncio.gather(peer.run_job(transport, key, job_id), reserve_late())
        return outcome

    outcomes = consortium.run_all(step)
    assert all(isinstance(o, JobOutcome) and o.result == outcomes[0].result for o in outcomes), outcomes
    assert dep.jobs.job(job_id).state is JobState.FINALISED


def test_a_cheating_peer_never_makes_an_honest_peer_output(consortium: LocalConsortium) -> None:
    spec = mean_spec(consortium)
    consortium.feed(stats.needs(spec))
    job_id = consortium.propose(spec)

    def cheat(frm: int, to: int, index: int, payload: bytes) -> bytes:
        return payload[:-1] + bytes([payload[-1] ^ 1]) if frm == 2 and to == 0 and len(payload) > 40 else payload

    outcomes = consortium.run_job(job_id, TamperingNetwork(3, cheat))
    honest = outcomes[0]
    assert isinstance(honest, JobOutcome) and honest.result is None and honest.error
    assert all(not isinstance(o, JobOutcome) or o.result is None for o in outcomes)
    job = consortium.dep.jobs.job(job_id)
    assert job.state is JobState.ABORTED and job.abort_reason is AbortReason.PROTOCOL_FAILURE
    report = audit_job(consortium.dep, job_id)
    assert not report.passed
    assert [c.name for c in report.checks if not c.passed] == [AUDIT_RESULTS]


class LyingPeer(MemberPeer):
    async def post_result(self, job_id: int, result: dict[str, str]) -> None:
        await super().post_result(job_id, {**result, "mean": "99999.000000"})


def test_a_lying_result_aborts_the_job_and_fails_the_audit(consortium: LocalConsortium) -> None:
    honest = consortium.peers[1]
    consortium.peers[1] = LyingPeer(honest.org, honest.dep, honest.cache, honest.datasets)
    spec = mean_spec(consortium)
    consortium.feed(stats.needs(spec))
    job_id = consortium.propose(spec)
    consortium.run_job(job_id)
    job = consortium.dep.jobs.job(job_id)
    assert (job.state, job.abort_reason) == (JobState.ABORTED, AbortReason.RESULT_MISMATCH)
    failed = [c for c in audit_job(consortium.dep, job_id).checks if not c.passed]
    assert [c.name for c in failed] == [AUDIT_RESULTS]
    # Who posted which is on record; the honest peers, who computed the true result, name the liar.
    lied = consortium.dep.jobs.result_hash_of(job_id, honest.address).hex()[:16]
    assert f"{honest.address} posted 0x{lied}" in failed[0].detail
    named = {(e.reporter, e.accused) for e in consortium.dep.jobs.cheater_reports(job_id)}
    assert named == {(consortium.peers[i].address, honest.address) for i in (0, 2)}


def test_bad_data_is_refused_before_any_transaction_and_the_job_expires(
        consortium: LocalConsortium, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("name,income\nHet,40000\nShrey,lots\n")
    consortium.peers[1].datasets["default"] = {**consortium.peers[1].datasets["default"], "income": bad}
    for peer in consortium.peers:
        peer.timeout_s = 2.0
    spec = mean_spec(consortium)
    consortium.feed(stats.needs(spec))
    job_id = consortium.propose(spec)
    w3, who = consortium.dep.chain.w3, consortium.peers[1].address
    nonce = w3.eth.get_transaction_count(who)
    outcomes = consortium.run_job(job_id)
    assert isinstance(outcomes[1], ConfigError)
    assert f"{bad}, row 3, column 'income': 'lots' is not a number" in str(outcomes[1])
    assert w3.eth.get_transaction_count(who) == nonce
    assert all(isinstance(o, ProtocolAbort) for o in (outcomes[0], outcomes[2]))
    assert consortium.dep.jobs.job(job_id).state is JobState.PROPOSED
    consortium.dep.chain.advance_time(2 * 3600)
    consortium.dep.jobs.expire(consortium.dep.chain.test_account(5), job_id)
    job = consortium.dep.jobs.job(job_id)
    assert (job.state, job.abort_reason) == (JobState.ABORTED, AbortReason.DEADLINE_PASSED)


def test_a_job_without_tuples_is_refused_before_proposing(consortium: LocalConsortium) -> None:
    with pytest.raises(TuplesExhausted, match=r"not enough '\w+' tuples: \d+ missing"):
        consortium.propose(mean_spec(consortium))
    assert consortium.dep.jobs.job_count() == 0


def test_a_summary_job_reveals_variance_min_and_max_through_the_chain(
        consortium: LocalConsortium, incomes: list[dict[str, Path]]) -> None:
    spec = JobSpec(analysis="summary", columns=("income",), reveal=("count", "mean", "std", "min", "max"),
                   participants=tuple(p.address for p in consortium.peers))
    consortium.feed(routes.needs(spec))
    job_id = consortium.propose(spec)
    outcomes = consortium.run_job(job_id)
    plain = [v for binding in incomes for v in read_column(binding["income"], "income")]
    result = outcomes[0].result  # type: ignore[union-attr]
    assert all(isinstance(o, JobOutcome) and o.result == result for o in outcomes)
    assert (result["count"], float(result["min.income"]), float(result["max.income"])) == (
        str(len(plain)), min(plain), max(plain))
    ulp, std, mean = 2.0 ** -spec.fixed_point.f, statistics.pstdev(plain), statistics.mean(plain)
    # The documented bounds, plus printing's rounding to text_bits(f) significant bits.
    printed = 2.0 ** -(common.text_bits(spec.fixed_point.f) or spec.fixed_point.f)
    assert abs(float(result["std.income"]) - std) <= (12 * std + 3) * ulp + 2 * std * printed
    assert abs(float(result["mean.income"]) - mean) <= (8 * mean + 2) * ulp + 2 * mean * printed
    assert consortium.dep.jobs.job(job_id).state is JobState.FINALISED
    assert audit_job(consortium.dep, job_id).passed


def test_a_bad_batch_is_rejected_on_chain_once_and_refused_by_every_peer(
        consortium: LocalConsortium, monkeypatch: pytest.MonkeyPatch) -> None:
    dealer = consortium.service._dealer
    deal = dealer.batch

    def bad(key, count):  # type: ignore[no-untyped-def]
        """A dealer that authenticates c = ab + 1 for the first triple (its MACs agree)."""
        parts = deal(key, count)
        a, b, c = parts[0].columns
        bump = FieldVec.from_ints([1] + [0] * (len(c) - 1))
        c = SharedVec(c.share + bump, c.mac + bump * dealer._alpha)
        parts[0] = dataclasses.replace(parts[0], columns=(a, b, c))
        return parts

    monkeypatch.setattr(consortium.service._dealer, "batch", bad)
    (offer,) = consortium.service.produce(estimate.mul(8))
    outcomes = consortium.run_all(lambda peer, t, k: peer.accept_delivery(t, k, offer.sealed.delivery(k.party)))
    assert all(isinstance(o, SacrificeFailed) for o in outcomes), outcomes
    batch = consortium.dep.ledger.batch(offer.sealed.batch_id)
    assert batch.status is BatchStatus.REJECTED
    rejections = [e for e in consortium.dep.ledger.logs(BatchRejected)
                  if bytes(e.batchId) == offer.sealed.batch_id]
    assert len(rejections) == 1
