"""A member whose peer inputs a forged row count, between processes on a Hardhat node.

Every input is range-checked under MPC before anything depends on it: the job aborts
before any result is opened, the honest peers name the forger on chain (each of them,
even after the first report closed the job), `job status` shows who was named by whom,
and nothing of the forged input reaches a result.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from harness.cluster import MPCC, Cluster, wait_until
from onchain.jobs import AbortReason, JobState

pytestmark = pytest.mark.hardhat
CHEATING_PEER = Path(__file__).with_name("cheating_peer.py")
FORGER = 1  # Party B's peer inputs a row count of -8 (before, it gave count 0 and mean 428000).


@pytest.fixture(scope="module")
def forged(e2e_node: str, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    made = Cluster(tmp_path_factory.mktemp("cheating"), e2e_node)
    try:
        made.form()
        made.start_service()
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
