"""A member whose peer runs modified code, between processes on a Hardhat node.

It inputs a forged row count: every input is range-checked under MPC before anything
depends on it, so the job aborts before any result is opened, the honest peers name the
forger on chain (each of them, even after the first report closed the job), `job status`
shows who was named by whom, and nothing of the forged input reaches a result.

It posts a result other than the one computed: the job aborts once every result is in,
whoever posted first; the honest peers, whose result was opened after the MAC checks,
name it; the audit lists who posted which.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from harness.cluster import MPCC, Cluster, mean_stock, wait_until
from mpcc.cli.commands import stock_text
from offchain.analytics.spec import JobSpec
from offchain.auditable import routes
from onchain.jobs import AbortReason, JobState

pytestmark = pytest.mark.hardhat
CHEATING_PEER = Path(__file__).with_name("cheating_peer.py")
FORGER = 1  # Party B's peer inputs a row count of -8 (before, it gave count 0 and mean 428000).
HISTOGRAM = JobSpec(title="incomes", analysis="histogram", columns=("income",), max_rows=10,
                    params={"bins": [0, 50000, 100000]}, reveal=("counts",),
                    participants=tuple(f"0x{i:040x}" for i in (1, 2, 3)))


@pytest.fixture(scope="module")
def forged(e2e_node: str, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    made = Cluster(tmp_path_factory.mktemp("cheating"), e2e_node)
    try:
        made.form()
        made.start_service(mean_stock(extra=stock_text(routes.needs(HISTOGRAM))))
        for i in range(3):
            made.start_peer(i, (sys.executable, str(CHEATING_PEER), "-8") if i == FORGER else (MPCC,))
        wait_until("every peer to hold checked input masks", made.stocked, timeout=90)
        yield made
    finally:
        made.stop_all()
        made.print_log_tails()


def test_a_forged_row_count_aborts_the_job_naming_the_forger(forged: Cluster) -> None:
    job_id = forged.propose_mean()
    dep = forged.dep()
    wait_until(f"job {job_id} to abort", lambda: dep.jobs.job(job_id).state is JobState.ABORTED, timeout=120)
    job = dep.jobs.job(job_id)
    assert job.abort_reason is AbortReason.PROTOCOL_FAILURE and job.submitted == 0
    forger = forged.accounts[FORGER].lower()
    honest = {forged.accounts[0].lower(), forged.accounts[2].lower()}

    def reports() -> list[tuple[str, str]]:
        return [(e.reporter.lower(), e.accused.lower()) for e in dep.jobs.cheater_reports(job_id)]

    # Both honest peers name the forger, the second after the first report closed the job.
    wait_until("both honest peers to name the forger", lambda: {r for r, _ in reports()} >= honest, timeout=60)
    assert {accused for reporter, accused in reports() if reporter in honest} == {forger}
    status = forged.mpcc_json("job", "status", str(job_id))
    assert status["state"] == "aborted"
    assert [n["account"].lower() for n in status["named"]] == [forger]
    assert set(status["named"][0]["by"]) >= {"Party A", "Party C"}
    shown = forged.mpcc("job", "status", str(job_id)).stdout
    assert "at fault" in shown and "Party B" in shown
    assert f"mpcc org vote suspend {status['named'][0]['account']}" in shown
    for name in ("peer-a", "peer-c"):
        assert "party 1: input outside the range the job declares" in forged.log_text(name)


def test_a_result_other_than_the_computed_one_is_named_by_the_honest_peers(forged: Cluster, tmp_path: Path) -> None:
    needs = routes.needs(HISTOGRAM)
    wait_until("the histogram's tuples at every peer", lambda: all(
        all(forged.stock(i).get(str(k), 0) >= n for k, n in needs) for i in range(3)), timeout=90)
    spec = tmp_path / "histogram.json"
    spec.write_text(json.dumps({k: v for k, v in json.loads(HISTOGRAM.canonical()).items() if k != "participants"}))
    job_id = int(forged.mpcc_json("job", "propose", "--home", str(forged.home(0)), "--service",
                                  f"127.0.0.1:{forged.service_port}", "--spec", str(spec))["job"])
    dep = forged.dep()
    wait_until(f"job {job_id} to be decided", lambda: dep.jobs.job(job_id).state is JobState.ABORTED, timeout=120)
    job = dep.jobs.job(job_id)
    assert (job.abort_reason, job.submitted) == (AbortReason.RESULT_MISMATCH, 3)
    liar = forged.accounts[FORGER].lower()
    honest = {forged.accounts[0].lower(), forged.accounts[2].lower()}
    hashes = {a.lower(): dep.jobs.result_hash_of(job_id, a) for a in forged.accounts}
    assert hashes[liar] not in {hashes[a] for a in honest} and len({hashes[a] for a in honest}) == 1

    def reports() -> set[tuple[str, str]]:
        return {(e.reporter.lower(), e.accused.lower()) for e in dep.jobs.cheater_reports(job_id)}

    wait_until("both honest peers to name the liar", lambda: {r for r, _ in reports()} >= honest, timeout=60)
    assert reports() == {(a, liar) for a in honest}
    status = forged.mpcc_json("job", "status", str(job_id))
    assert [n["account"].lower() for n in status["named"]] == [liar]
    audit = forged.mpcc("audit", str(job_id), "--json", check=False)
    assert audit.returncode == 1
    results = next(c for c in json.loads(audit.stdout)["checks"] if c["check"].startswith("all results equal"))
    assert not results["passed"] and f"posted 0x{hashes[liar].hex()[:16]}" in results["detail"]
