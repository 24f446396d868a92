"""Peers on a chain with real block times: the MPC goes on while a transaction waits for its block.

The node mines a block every 2 seconds (interval mining, as a public chain
does every ~12), so every transaction of the peers waits for its receipt:
the members make their own tuples (each batch committed by one of them,
then attested by all, a block each) and run a job. Each daemon awaits its
chain calls on worker threads (onchain.aio), and its lattice arithmetic runs
on worker threads too: its event loop, which serves the MPC channels of the
making session and of every job, never waits with them. Each peer's status
shows both figures: the longest wait for a receipt (about a block) and the
longest time its loop went without running (a blocked loop would show it).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from harness.nodes import mine_every
from harness.cluster import Cluster, mean_stock, wait_until
from onchain.jobs import JobState

BLOCK_S = 2.0
MEAN = {"count": "12", "mean": "52916.666667"}


@pytest.fixture(scope="module")
def mining(e2e_node: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """The consortium formed at once (automine), then the node mines every BLOCK_S seconds."""
    made = Cluster(tmp_path_factory.mktemp("mining"), e2e_node, made_by_members=True,
                   settings="timeout_s = 60\nconnect_timeout_s = 20\npoll_s = 0.3\n")
    try:
        made.form()
        mine_every(e2e_node, BLOCK_S)
        for i in range(3):
            made.start_peer(i)
        wait_until("the members to make the tuples of a mean-income job", made.stocked, timeout=300)
        yield made
    finally:
        made.stop_all()


def test_a_job_finalises_and_no_peer_loop_waits_for_a_block(mining: Cluster) -> None:
    job_id = mining.propose_mean()
    dep = mining.dep()
    closed = (JobState.FINALISED, JobState.ABORTED)
    state = wait_until(f"job {job_id} to close", lambda: (s := dep.jobs.job(job_id).state) in closed and s, 120)
    assert state is JobState.FINALISED
    assert mining.mpcc_json("job", "result", str(job_id))["result"] == MEAN
    for i in range(3):
        daemon = json.loads(mining.mpcc("peer", "status", "--config", str(mining.config(i)), "--json")
                            .stdout.strip().splitlines()[-1])["daemon"]
        waited, stalled = daemon["chain"]["longest_receipt_wait_s"], daemon["loop"]["longest_stall_s"]
        # Its own transactions (batch commitments in turn, attestations, acceptance, input commitment,
        # result) waited for blocks...
        assert daemon["chain"]["transactions"] >= 8 and waited >= 0.4 * BLOCK_S, daemon
        # ...while its loop, which served the making session's and the job's channels, never stalled for one.
        assert stalled < 0.25 * BLOCK_S < waited, daemon
    assert not mining.log("service").exists()


def test_restarted_members_resume_the_kept_setup_and_the_members_make_tuples_on_it(mining: Cluster) -> None:
    """kill -9 of B, then of A (the first member, restarted with a higher stock level): each time every
    member's making session ends and, once the member is back, the members offer the LowGear setup they
    kept (each one's decryption key sealed beside its cache) and resume it instead of new keys and proofs;
    the batch A then orders, made on the resumed keys, passes the sacrifice at every member."""
    kept = [mining.cache(i).with_suffix(".lowgear") for i in range(3)]
    assert all(path.exists() and path.stat().st_mode & 0o077 == 0 for path in kept)
    before = [path.read_bytes()[1:33] for path in kept]  # The setup id: the same at every member.
    assert len(set(before)) == 1
    resumed = "resumed the LowGear setup they kept"
    # B is not the first member: while nothing is ordered, A only sends, and must notice B's channel ended.
    mining.kill("peer-b")
    mining.start_peer(1)
    wait_until("every member to resume the kept setup with B", lambda: all(
        resumed in mining.log_text(f"peer-{t}") for t in "abc"), 180)
    mining.kill("peer-a")
    config = mining.config(0).read_text()
    mining.config(0).write_text(config.replace(f'make = "{mean_stock()}"', f'make = "{mean_stock(20)}"'))
    mining.start_peer(0)
    wait_until("A, restarted, to resume the kept setup", lambda: resumed in mining.log_text("peer-a").split(
        "MAC key share of party")[-1], 180)
    made = "made by the members, checked, attested and stored"
    wait_until("a batch made on the resumed setup at every member", lambda: all(
        made in mining.log_text(f"peer-{t}").split(resumed)[-1] for t in "abc"), 180)
    assert [path.read_bytes()[1:33] for path in kept] == before  # No new setup was made, none kept.
    assert all("dealerless session set up" not in mining.log_text(f"peer-{t}").split("MAC key share of party")[-1]
               for t in "ab")
