"""Jobs proposed at the same moment, as members do: several `mpcc job propose` processes at once.

Each process plans its reservations from the tuples free when it looks, so
two of them plan the same batches, and two commands of one organisation
count the same nonce. Every proposal must still go through (the one that
lost the race plans again, or signs again with the next nonce), every job
must finalise with the right result, and no tuple may serve two jobs.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from harness.cluster import MPCC, Cluster, check_cache_consistent, mean_stock, wait_until
from onchain.jobs import JobState

pytestmark = pytest.mark.hardhat
JOBS = 6  # Two from each organisation.
MEAN = {"count": "12", "mean": "52916.666667"}


@pytest.fixture(scope="module")
def stocked(e2e_node: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    made = Cluster(tmp_path_factory.mktemp("concurrent"), e2e_node)
    try:
        made.form()
        made.start_service(mean_stock(JOBS))
        for i in range(3):
            made.start_peer(i)
        wait_until(f"stock for {JOBS} jobs", lambda: made.stocked(JOBS), timeout=180)
        yield made
    finally:
        made.stop_all()


def test_jobs_proposed_at_once_all_go_through_and_finalise(stocked: Cluster) -> None:
    cluster = stocked

    def propose(n: int) -> subprocess.CompletedProcess[str]:
        return subprocess.run([MPCC, "job", "propose", "--home", str(cluster.home(n % 3)), "--service",
                               f"127.0.0.1:{cluster.service_port}", "--analysis", "mean", "--column", "income",
                               "--title", f"at once {n}", "--json"], capture_output=True, text=True,
                              env=cluster.env, cwd=cluster.workdir, timeout=120)

    with ThreadPoolExecutor(JOBS) as pool:
        done = list(pool.map(propose, range(JOBS)))
    assert [d.returncode for d in done] == [0] * JOBS, [d.stderr for d in done if d.returncode]
    ids = [int(json.loads(d.stdout.strip().splitlines()[-1])["job"]) for d in done]
    assert len(set(ids)) == JOBS
    dep = cluster.dep()
    closed = (JobState.FINALISED, JobState.ABORTED)
    wait_until("every job to close", lambda: all(dep.jobs.job(j).state in closed for j in ids), 300, every=1)
    assert [dep.jobs.job(j).state for j in ids] == [JobState.FINALISED] * JOBS
    for j in ids:
        assert cluster.mpcc_json("job", "result", str(j))["result"] == MEAN
    for i in range(3):
        check_cache_consistent(cluster.cache(i))
