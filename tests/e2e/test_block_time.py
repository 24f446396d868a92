"""Peers on a chain with real block times: the MPC goes on while a transaction waits for its block.

The node mines a block every 2 seconds (interval mining, as a public chain
does every ~12), so every transaction of the service and the peers waits for
its receipt. Each long-running process awaits its chain calls on worker
threads (onchain.aio): its event loop, which serves the MPC channels of
every batch and job, never waits with them. Each peer's status shows both
figures: the longest wait for a receipt (about a block) and the longest time
its loop went without running (a blocked loop would show the receipt wait).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from harness.nodes import mine_every
from harness.cluster import Cluster, wait_until
from onchain.jobs import JobState

BLOCK_S = 2.0
MEAN = {"count": "12", "mean": "52916.666667"}


@pytest.fixture(scope="module")
def mining(e2e_node: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """The consortium formed at once (automine), then the node mines every BLOCK_S seconds."""
    made = Cluster(tmp_path_factory.mktemp("mining"), e2e_node)
    try:
        made.form()
        mine_every(e2e_node, BLOCK_S)
        made.start_service()
        for i in range(3):
            made.start_peer(i)
        wait_until("every peer to hold checked input masks", made.stocked, timeout=180)
        yield made
    finally:
        made.stop_all()


def test_a_job_finalises_and_no_peer_loop_waits_for_a_block(mining: Cluster) -> None:
    job_id = int(mining.mpcc_json("job", "propose", "--home", str(mining.home(0)), "--service",
                                  f"127.0.0.1:{mining.service_port}", "--analysis", "mean", "--column",
                                  "income")["job"])
    dep = mining.dep()
    closed = (JobState.FINALISED, JobState.ABORTED)
    state = wait_until(f"job {job_id} to close", lambda: (s := dep.jobs.job(job_id).state) in closed and s, 120)
    assert state is JobState.FINALISED
    assert mining.mpcc_json("job", "result", str(job_id))["result"] == MEAN
    for i in range(3):
        daemon = json.loads(mining.mpcc("peer", "status", "--config", str(mining.config(i)), "--json")
                            .stdout.strip().splitlines()[-1])["daemon"]
        waited, stalled = daemon["chain"]["longest_receipt_wait_s"], daemon["loop"]["longest_stall_s"]
        # Its own transactions (attestations, acceptance, commitment, result) waited for blocks...
        assert daemon["chain"]["transactions"] >= 4 and waited >= 0.4 * BLOCK_S, daemon
        # ...while its loop, which served the batches' and the job's channels, never stalled for one.
        assert stalled < 0.25 * BLOCK_S < waited, daemon
    mining.stop_all()
    line = re.search(r"longest stall ([0-9.]+) s; (\d+) transactions, longest receipt wait ([0-9.]+) s",
                     mining.log_text("service"))
    assert line is not None, mining.log_text("service")[-2000:]
    assert int(line[2]) >= 3 and float(line[1]) < 0.25 * BLOCK_S < float(line[3])
