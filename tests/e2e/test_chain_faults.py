"""The chain misbehaving under a running consortium: its RPC endpoint gone for a while, a reorganisation.

The peers and the service reach the Hardhat node through a forwarder that can
be cut (harness.proxy); the tests read the chain straight from the node.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest

from harness.cluster import PASSPHRASE, Cluster, check_cache_consistent, mean_stock, wait_until
from harness.nodes import rpc_call
from harness.proxy import CuttableProxy
from onchain.abi.job_manager import InputsCommitted
from onchain.abi.preprocessing_ledger import BatchCommitted
from onchain.jobs import JobState

pytestmark = pytest.mark.hardhat
MEAN = {"count": "12", "mean": "52916.666667"}
CLOSED = (JobState.FINALISED, JobState.ABORTED)
OUTAGE_S = 8  # Longer than web3's own retries of a read (about 2 s), shorter than a peer's patience.
#: Longer than the peers' patience with each other (timeout_s = 15 in the cluster): time in which nobody
#: reaches the chain must not count against it.
LONG_OUTAGE_S = 22


@pytest.fixture(scope="module")
def proxied(e2e_node: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, CuttableProxy]]:
    host, port = e2e_node.removeprefix("http://").split(":")
    proxy = CuttableProxy(host, int(port))
    made = Cluster(tmp_path_factory.mktemp("proxied"), proxy.url)
    try:
        made.form()
        made.start_service(mean_stock(2))
        for i in range(3):
            made.start_peer(i)
        wait_until("every peer to hold checked input masks", made.stocked, timeout=90)
        yield made, proxy
    finally:
        made.stop_all()
        proxy.close()


def direct(cluster: Cluster, node: str) -> object:
    """The deployment's clients on the node itself, not through the forwarder."""
    return Cluster(cluster.workdir, node).dep()


def finalised_after_outage(cluster: Cluster, proxy: CuttableProxy, dep: Any, job_id: int, outage_s: float,
                           timeout: float) -> None:
    """Cuts the peers' RPC endpoint for ``outage_s``; the job must then finalise with the right mean."""
    proxy.cut()
    try:
        time.sleep(outage_s)
    finally:
        proxy.restore()
    state = wait_until(f"job {job_id} to close", lambda: (s := dep.jobs.job(job_id).state) in CLOSED and s, timeout)
    assert state is JobState.FINALISED
    assert cluster.mpcc_json("job", "result", str(job_id))["result"] == MEAN


def test_a_job_rides_out_an_rpc_outage(proxied: tuple[Cluster, CuttableProxy], e2e_node: str) -> None:
    cluster, proxy = proxied
    dep = direct(cluster, e2e_node)
    job_id = cluster.propose_mean()
    # Before the peers accept: every one of them meets the outage on its next read.
    finalised_after_outage(cluster, proxy, dep, job_id, OUTAGE_S, 90)
    for tag in "abc":
        assert "did not answer" in cluster.log_text(f"peer-{tag}")
        assert "answered again" in cluster.log_text(f"peer-{tag}")
        assert f"job {job_id}: unexpected error" not in cluster.log_text(f"peer-{tag}")


def test_an_outage_longer_than_the_peers_patience_in_the_input_phase_is_ridden_out(
        proxied: tuple[Cluster, CuttableProxy], e2e_node: str) -> None:
    # Cut once the first participant's input commitment is mined: the others are sending theirs or
    # waiting for every commitment, and each meets the outage. Seen in the fault campaign at 2 s blocks:
    # a peer waiting on the chain gave up after timeout_s, counting time in which nobody reached it.
    cluster, proxy = proxied
    dep = direct(cluster, e2e_node)
    wait_until("stock for a job", cluster.stocked, 90)
    job_id = cluster.propose_mean()
    wait_until("a first input commitment", lambda: dep.jobs.logs(InputsCommitted, jobId=job_id), 60, every=0.05)
    finalised_after_outage(cluster, proxy, dep, job_id, LONG_OUTAGE_S, 120)


def test_peers_follow_the_chain_through_a_reorganisation(proxied: tuple[Cluster, CuttableProxy],
                                                         e2e_node: str) -> None:
    cluster, _ = proxied
    dep = direct(cluster, e2e_node)
    wait_until("stock for a job", cluster.stocked, 90)
    snapshot = rpc_call(e2e_node, "evm_snapshot", [])
    gone = cluster.propose_mean()
    wait_until(f"job {gone} to finalise", lambda: dep.jobs.job(gone).state is JobState.FINALISED, 90)
    seen = [cluster.log_text(f"peer-{t}").count(f"job {gone}: ") for t in "abc"]
    rpc_call(e2e_node, "evm_revert", [snapshot])  # Job `gone` and every block after the snapshot vanish.
    rpc_call(e2e_node, "evm_mine", [])
    assert dep.jobs.job_count() == gone - 1
    # The chain forgot job `gone`, but the peers spent its tuples: the ledger may reserve those same
    # ranges again for the next job, which every peer must then refuse. Whatever the next job gets, it is
    # seen by every peer, ends, and no tuple is handed out twice.
    after = cluster.propose_mean("--accept-s", "60", "--commit-s", "60", "--result-s", "60")
    assert after == gone  # The same number, now a different job.
    for tag, before in zip("abc", seen, strict=True):
        wait_until(f"peer {tag} to take the new job up", lambda t=tag, b=before: cluster.log_text(
            f"peer-{t}").count(f"job {after}: ") > b, 60)
    closed = lambda: (s := dep.jobs.job(after).state) in CLOSED and s  # noqa: E731
    if not wait_until_or_none(closed, 60):
        cluster.advance_chain_time(400)
    state = wait_until(f"job {after} to close", closed, 60)
    for i, tag in enumerate("abc"):
        check_cache_consistent(cluster.cache(i))
        assert "the chain was reorganised" in cluster.log_text(f"peer-{tag}")
    if state is JobState.FINALISED:
        assert cluster.mpcc_json("job", "result", str(after))["result"] == MEAN
    fresh = cluster.propose_mean()  # And the consortium goes on.
    assert wait_until(f"job {fresh} to close", lambda: (s := dep.jobs.job(fresh).state) in CLOSED and s,
                      90) is JobState.FINALISED


def test_an_attestation_a_reorganisation_dropped_is_sent_again(proxied: tuple[Cluster, CuttableProxy],
                                                                e2e_node: str) -> None:
    """Seen in the fault campaign: a reorganisation dropped a member's attestation whose receipt its
    peer already had. The peer held the batch for attested, the service dealt no more of that kind
    until it was, and no job could be proposed again. Here the peers are held (SIGSTOP) while the
    service commits new batches, the snapshot is taken after those commits, and the revert drops
    only the attestations: every member must attest again."""
    cluster, _ = proxied
    dep = direct(cluster, e2e_node)
    wait_until("stock for a job", cluster.stocked, 90)
    known = {e.batchId for e in dep.ledger.logs(BatchCommitted)}
    peers = [f"peer-{t}" for t in "abc"]
    for name in peers:
        cluster.signal(name, signal.SIGSTOP)
    try:
        cluster.kill("service")
        cluster.start_service(mean_stock(3))  # A level above the stock: the service deals at once.
        new = wait_until("new batches committed", lambda: [  # A restart and a deal: slow under a loaded suite.
            e.batchId for e in dep.ledger.logs(BatchCommitted) if e.batchId not in known], 240)
        time.sleep(2)  # The service deals one batch of each kind short, then awaits their attestation.
        new = [e.batchId for e in dep.ledger.logs(BatchCommitted) if e.batchId not in known]
        snapshot = rpc_call(e2e_node, "evm_snapshot", [])
    finally:
        for name in peers:
            cluster.signal(name, signal.SIGCONT)

    def attested() -> bool:
        return all(dep.ledger.is_attested(b, a) for b in new for a in cluster.accounts)

    wait_until("every member to attest the new batches", attested, 180)
    rpc_call(e2e_node, "evm_revert", [snapshot])
    assert not attested()  # The revert took the attestations; the commits came before the snapshot.
    rpc_call(e2e_node, "evm_mine", [])
    wait_until("every member to attest them again", attested, 120)
    for name in peers:
        assert "attested again" in cluster.log_text(name)
    fresh = cluster.propose_mean()  # The tuples of the new batches are usable again.
    assert wait_until(f"job {fresh} to close", lambda: (s := dep.jobs.job(fresh).state) in CLOSED and s,
                      90) is JobState.FINALISED


def wait_until_or_none(check: object, timeout: float) -> object:
    try:
        return wait_until("", check, timeout)  # type: ignore[arg-type]
    except AssertionError:
        return None


def test_a_malformed_spec_on_chain_breaks_nothing_for_the_others(proxied: tuple[Cluster, CuttableProxy],
                                                                 e2e_node: str) -> None:
    """The contract stores any string: a member proposes one that is not JSON. Listing jobs, their
    status and each peer's status went down with a JSONDecodeError for every job."""
    from mpcc import orgs
    from offchain.analytics import registry
    from onchain.jobs import Deadlines

    cluster, _ = proxied
    dep = direct(cluster, e2e_node)
    hostile = orgs.load(cluster.home(1), PASSPHRASE.encode()).account
    bad, _ = dep.jobs.propose(hostile, "this is {not JSON", cluster.accounts, Deadlines.from_now(dep.chain.now()))
    # A valid spec among two of the three, past the CLI's check: its tuples would fail the first MAC check.
    pair = registry.build_spec(analysis="mean", column="income", reveal=("count", "mean"),
                               participants=tuple(cluster.accounts[:2]))
    some, _ = dep.jobs.propose(hostile, pair.canonical(), cluster.accounts[:2], Deadlines.from_now(dep.chain.now()))
    wait_until("stock for a job", cluster.stocked, 90)
    good = cluster.propose_mean()
    listed = {j["job"]: j for j in cluster.mpcc_json("job", "list")}
    assert "invalid json" in (listed[bad]["malformed"] or "").lower()
    assert listed[good]["analysis"] == "mean" and listed[good]["malformed"] is None
    shown = cluster.mpcc("job", "status", str(bad))
    assert "malformed spec" in shown.stdout and "invalid json" in shown.stdout.lower()
    assert cluster.mpcc_json("job", "status", str(bad))["state"] in ("proposed", "aborted")  # Peers decline it.
    for i in range(3):
        status = cluster.mpcc_json("peer", "status", "--config", str(cluster.config(i)))
        assert any(j["job"] == bad and j["malformed"] for j in status["jobs"])
    state = wait_until(f"job {good} to close", lambda: (s := dep.jobs.job(good).state) in CLOSED and s, 90)
    assert state is JobState.FINALISED
    declined = wait_until(f"job {some} to be declined", lambda: (s := cluster.mpcc_json(
        "job", "status", str(some)))["declined"] and s, 60)
    assert declined["state"] == "aborted" and {d["reason"] for d in declined["declined"]} == {"tuples_unavailable"}
    assert cluster.mpcc_json("job", "result", str(good))["result"] == MEAN
    for tag in "abc":
        assert cluster.alive(f"peer-{tag}")


def test_a_participant_whose_result_post_failed_posts_it_again(proxied: tuple[Cluster, CuttableProxy],
                                                               e2e_node: str) -> None:
    """A's patience with the node is 2 s; the node goes away for 8 s exactly when the results are posted.
    A's post fails; before, the job then waited in InputsCommitted until it expired."""
    from web3 import Web3

    cluster, proxy = proxied
    dep = direct(cluster, e2e_node)
    cluster.signal("peer-a", signal.SIGTERM)
    cluster.processes["peer-a"].wait(timeout=30)
    settings = cluster.config(0).read_text()
    cluster.config(0).write_text("rpc_patience_s = 2\n" + settings)
    cluster.start_peer(0)
    wait_until("stock for a job", cluster.stocked, 90)
    submit = Web3.keccak(text="submitResult(uint256,bytes)")[:4].hex().removeprefix("0x").encode()
    proxy.cut_at(submit, OUTAGE_S)
    job_id = cluster.propose_mean()
    state = wait_until(f"job {job_id} to close", lambda: (s := dep.jobs.job(job_id).state) in CLOSED and s, 120)
    assert proxy.trapped
    assert state is JobState.FINALISED
    assert cluster.mpcc_json("job", "result", str(job_id))["result"] == MEAN
    assert f"job {job_id}: posting the result failed (attempt 1" in cluster.log_text("peer-a")
