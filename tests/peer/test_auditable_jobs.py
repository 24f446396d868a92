"""Auditable jobs end to end: Pedersen-committed shares, the on-chain check, and public verification.

Each attack on the public verification is made by the participants together
(the case the mode exists for: every organisation colludes) and must fail
exactly the step it attacks.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Iterator
from pathlib import Path

import pytest

from offchain.auditable import routes
from offchain.analytics import registry
from offchain.analytics.data import read_column
from offchain.analytics.spec import JobSpec
from offchain.field import P
from mpcc.demo.local import LocalConsortium
from mpcc.peer.member import JobOutcome, MemberPeer
from onchain.abi import job_manager
from onchain.abi.audit_trail import LinearResultVerified
from onchain.errors import ContractRevert
from onchain.jobs import AbortReason, JobState
from mpcc.audit.public import STEPS, TrailRecord, audit_public, load_trail, verify

ROOT = Path(__file__).resolve().parents[2]


def auditable(c: LocalConsortium, **fields: object) -> JobSpec:
    base: dict[str, object] = {"analysis": "mean", "column": "income", "reveal": ("count", "mean")}
    base.update(fields)
    return registry.build_spec(participants=tuple(p.address for p in c.peers), auditable=True, **base)


def job_events(c: LocalConsortium, job_id: int) -> list:  # type: ignore[type-arg]
    return c.dep.jobs.logs(*job_manager.EVENTS, from_block=c.dep.manifest.deploy_block, jobId=job_id)


def run(c: LocalConsortium, spec: JobSpec) -> tuple[int, list[JobOutcome | BaseException]]:
    c.feed(routes.needs(spec))
    job_id = c.propose(spec)
    return job_id, c.run_job(job_id)


def trail_of(c: LocalConsortium, job_id: int) -> TrailRecord:
    return load_trail(c.dep, job_id, [p.address for p in c.peers], job_events(c, job_id))


def failed_steps(spec: JobSpec, trail: TrailRecord) -> list[str]:
    return [s.name for s in verify(spec, trail) if not s.passed]


@pytest.fixture(scope="module")
def shared(members: list, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalConsortium]:
    """One consortium for the module: every test runs its own job on it."""
    incomes = [{"income": ROOT / "examples" / f"incomes_party_{tag}.csv"} for tag in "abc"]
    made = LocalConsortium.create(members, incomes, cache_dir=tmp_path_factory.mktemp("auditable"))
    yield made
    made.close()


@pytest.fixture(scope="module")
def honest(shared: LocalConsortium) -> tuple[LocalConsortium, JobSpec, int, list[JobOutcome | BaseException]]:
    """An honest auditable mean job, run once."""
    spec = auditable(shared)
    job_id, outcomes = run(shared, spec)
    return shared, spec, job_id, outcomes


def test_an_auditable_mean_is_verified_on_chain_and_by_anyone(honest: tuple,
                                                             incomes: list[dict[str, Path]]) -> None:
    consortium, spec, job_id, outcomes = honest
    plain = [v for binding in incomes for v in read_column(binding["income"], "income")]
    assert all(isinstance(o, JobOutcome) and o.result == {"count": str(len(plain)),
                                                           "mean": f"{statistics.mean(plain):.6f}"}
               for o in outcomes)
    assert consortium.dep.jobs.job(job_id).state is JobState.FINALISED
    steps = audit_public(consortium.dep, job_id, spec, job_events(consortium, job_id))
    assert [s.name for s in steps] == list(STEPS)
    assert all(s.passed for s in steps), steps
    verified = consortium.dep.audit.logs(LinearResultVerified, jobId=job_id)
    count = len(plain)
    assert [t - P if t > P // 2 else t for t in verified[0].totals][0] == count


def test_an_auditable_histogram_is_verified(shared: LocalConsortium) -> None:
    consortium = shared
    spec = auditable(consortium, analysis="histogram", column="", columns=("income",), reveal=("counts",),
                     params={"bins": (0, 40000, 60000, 200000)})
    job_id, outcomes = run(consortium, spec)
    assert all(isinstance(o, JobOutcome) and o.result for o in outcomes)
    assert all(s.passed for s in audit_public(consortium.dep, job_id, spec, job_events(consortium, job_id)))


def test_results_that_all_participants_alter_fail_exactly_the_result_step(shared: LocalConsortium) -> None:
    class Colluder(MemberPeer):
        async def post_result(self, job_id: int, result: dict[str, str]) -> None:
            await super().post_result(job_id, {**result, "mean": "99999.000000"})

    consortium, honest_peers = shared, shared.peers
    consortium.peers = [Colluder(p.org, p.dep, p.cache, p.datasets) for p in honest_peers]
    try:
        spec = auditable(consortium)
        job_id, _ = run(consortium, spec)
    finally:
        consortium.peers = honest_peers
    assert consortium.dep.jobs.job(job_id).state is JobState.FINALISED  # The record of the chain alone agrees.
    steps = verify(spec, trail_of(consortium, job_id))
    assert [s.name for s in steps if not s.passed] == ["result"]
    assert "99999" in steps[-1].detail


def test_one_lying_result_is_named_by_the_honest_peers_and_by_the_public_audit(shared: LocalConsortium) -> None:
    """Party 1 posts a result other than the one computed: the job aborts once every result is in,
    whoever posted first; the honest peers name it on chain, and the openings, still published after
    the abort, let anyone verify the true result and name the liar."""
    class Liar(MemberPeer):
        async def post_result(self, job_id: int, result: dict[str, str]) -> None:
            await super().post_result(job_id, {**result, "mean": "99999.000000"})

    consortium, honest_peers = shared, list(shared.peers)
    liar = honest_peers[1]
    consortium.peers[1] = Liar(liar.org, liar.dep, liar.cache, liar.datasets)
    try:
        spec = auditable(consortium)
        job_id, outcomes = run(consortium, spec)
    finally:
        consortium.peers = honest_peers
    jobs = consortium.dep.jobs
    job = jobs.job(job_id)
    assert (job.state, job.abort_reason, job.result_hash) == (JobState.ABORTED, AbortReason.RESULT_MISMATCH, bytes(32))
    named = {(e.reporter.lower(), e.accused.lower()) for e in jobs.cheater_reports(job_id)}
    assert named == {(honest_peers[i].address.lower(), liar.address.lower()) for i in (0, 2)}
    steps = verify(spec, trail_of(consortium, job_id))
    assert [s.name for s in steps if not s.passed] == ["result"]
    true_result = registry.result_bytes(outcomes[0].result).decode()  # type: ignore[union-attr]
    assert steps[-1].detail == (f"the job has no finalised result; at fault: {liar.address.lower()} posted a "
                                f"result the verified values do not give. Verified result: {true_result}")


def test_an_altered_opening_is_refused_on_chain_and_fails_the_openings_step(honest: tuple) -> None:
    consortium, spec, job_id, _ = honest
    trail = trail_of(consortium, job_id)
    assert failed_steps(spec, trail) == []
    # On chain: the contract refuses a wrong share outright, naming the party and column.
    peer = consortium.peers[2]
    with pytest.raises(ContractRevert) as info:
        consortium.dep.audit.publish_opening(peer.org.account, job_id, [0, 1], [1, 2], [3, 4])
    assert info.value.error_name in ("AlreadyOpened", "OpeningMismatch")
    # Off chain: an opening altered in the record is caught by the auditor's own check.
    who = peer.address.lower()
    event = trail.openings[who]
    altered = dataclasses.replace(event, shares=(event.shares[0], (event.shares[1] + 1) % P))
    forged = dataclasses.replace(trail, openings={**trail.openings, who: altered})
    steps = verify(spec, forged)
    failing = [s for s in steps if not s.passed]
    assert failing[0].name == "openings" and who in failing[0].detail and "column 1" in failing[0].detail


def test_an_altered_commitment_list_fails_the_lists_step(honest: tuple) -> None:
    consortium, spec, job_id, _ = honest
    trail = trail_of(consortium, job_id)
    who = consortium.peers[1].address.lower()
    (event, chunk), = trail.lists[who]
    swapped = chunk[64:128] + chunk[:64] + chunk[128:]  # Two commitments exchanged.
    forged = dataclasses.replace(trail, lists={**trail.lists, who: [(event, swapped)]})
    steps = verify(spec, forged)
    assert [s.name for s in steps if not s.passed][0] == "commitment lists"
    assert who in steps[0].detail


def test_an_opening_before_the_inputs_are_committed_is_refused(shared: LocalConsortium) -> None:
    consortium = shared
    spec = auditable(consortium)
    consortium.feed(routes.needs(spec))
    job_id = consortium.propose(spec)
    with pytest.raises(ContractRevert) as info:
        consortium.dep.audit.publish_opening(consortium.peers[0].org.account, job_id, [0, 1], [1, 2], [3, 4])
    assert info.value.error_name in ("WrongJobState", "NotParticipant", "SharesNotCommitted")


def test_any_analysis_is_replayed_from_chain_data(shared: LocalConsortium,
                                                  incomes: list[dict[str, Path]]) -> None:
    """Min and max need comparisons: the job runs on committed tuples and anyone replays it."""
    spec = auditable(shared, analysis="summary", column="", columns=("income",),
                     reveal=("count", "min", "max"))
    job_id, outcomes = run(shared, spec)
    plain = [v for binding in incomes for v in read_column(binding["income"], "income")]
    result = outcomes[0].result  # type: ignore[union-attr]
    assert result == {"count": str(len(plain)), "min.income": f"{min(plain):.6f}",
                      "max.income": f"{max(plain):.6f}"}
    steps = audit_public(shared.dep, job_id, spec, job_events(shared, job_id))
    assert [s.name for s in steps] == ["tuple commitments", "tuple checks", "openings", "result"]
    assert all(s.passed for s in steps), steps
    trail = trail_of(shared, job_id)
    first = shared.peers[0].address.lower()
    # One opened value altered in the published transcript: the openings step names it.
    data = bytearray(trail.transcripts[first])
    data[5 + 31] ^= 1
    forged = dataclasses.replace(trail, transcripts={**trail.transcripts, first: bytes(data)})
    failing = [s for s in verify(spec, forged) if not s.passed]
    assert failing[0].name == "openings" and "opened value 0 (tuple checks" in failing[0].detail
    # Other tuple commitments than the participants committed to on JobManager.
    points = bytearray(trail.tuples[first])  # Compressed: 32 bytes a point.
    points[:64] = points[32:64] + points[:32]
    forged = dataclasses.replace(trail, tuples={**trail.tuples, first: bytes(points)})
    assert failed_steps(spec, forged) == ["tuple commitments", "result"]
    # The first participant published no transcript: the audit says who and what is missing.
    forged = dataclasses.replace(trail, transcripts={w: t for w, t in trail.transcripts.items() if w != first})
    failing = [s for s in verify(spec, forged) if not s.passed]
    assert [s.name for s in failing] == ["tuple commitments", "result"]
    assert f"the first participant {first}" in failing[0].detail and "no transcript" in failing[0].detail


def test_an_auditable_summary_is_replayed_from_chain_data(shared: LocalConsortium,
                                                          incomes: list[dict[str, Path]]) -> None:
    spec = auditable(shared, analysis="summary", column="", columns=("income",),
                     reveal=("count", "mean", "variance", "std"), params={"ddof": 1})
    job_id, outcomes = run(shared, spec)
    plain = [v for binding in incomes for v in read_column(binding["income"], "income")]
    result = outcomes[0].result  # type: ignore[union-attr]
    assert result["count"] == str(len(plain))
    assert abs(float(result["variance.income"]) - statistics.variance(plain)) <= 1e-6 * statistics.variance(plain)
    steps = audit_public(shared.dep, job_id, spec, job_events(shared, job_id))
    assert [s.name for s in steps] == ["commitment lists", "sacrifice openings", "sacrifice check",
                                       "Beaver openings", "outputs", "result"]
    assert all(s.passed for s in steps), steps
    # A transcript altered in the record fails the step it belongs to, naming the party.
    trail = trail_of(shared, job_id)
    who = shared.peers[0].address.lower()
    data = bytearray(trail.transcripts[who])
    data[5 + 31] ^= 1  # The first share: rho of the first triple.
    forged = dataclasses.replace(trail, transcripts={**trail.transcripts, who: bytes(data)})
    failing = [s for s in verify(spec, forged) if not s.passed]
    assert failing[0].name == "sacrifice openings" and "party 0" in failing[0].detail
