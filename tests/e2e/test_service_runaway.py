"""The preprocessing service as a process on a Hardhat node: bounded batches, backpressure, signals, suspension.

Its own consortium, in order: a stock level larger than one batch may hold is
dealt as several bounded batches, each only once every member attested the
one before, in bounded memory; a batch over the limit (as an older service
would commit it) is refused by every peer with a warning and rejected on
chain; the service stops at once on SIGTERM and on
SIGINT, even while a transaction waits for its receipt; and once a member is
suspended the service deals nothing more to it.
"""

from __future__ import annotations

import json
import secrets
import signal
import time
from collections.abc import Iterator

import pytest

from harness.cluster import Cluster, peak_memory_bytes, set_automine, wait_until
from mpcc.cli.commands import local_test_account
from offchain.preprocessing.tuples import MAX_BATCH_BYTES, TupleKind, max_batch_count
from onchain.abi.preprocessing_ledger import BatchCommitted, SacrificeAttested
from onchain.ledger import BatchStatus
from onchain.ledger import TupleKind as ChainKind

pytestmark = pytest.mark.hardhat
MOST = max_batch_count(TupleKind.TRIPLE)
LEVEL = 3 * MOST + 5000  # Four batches (three full, one small): more than one 64 MiB answer may carry.


@pytest.fixture(scope="module")
def cluster(e2e_node: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    made = Cluster(tmp_path_factory.mktemp("service"), e2e_node)
    try:
        made.form()
        for i in range(3):
            made.start_peer(i)
        made.start_service(f"input_mask=2,triple={LEVEL}")
        yield made
    finally:
        set_automine(e2e_node, True)
        made.stop_all()
        for name in ("service", "peer-a"):
            print(f"----- {name}.log (last lines) -----\n" + "\n".join(made.log_text(name).splitlines()[-40:]))


def triples(cluster: Cluster, i: int) -> int:
    return cluster.stock(i).get("triple", 0)


def test_a_level_over_one_batch_is_dealt_in_bounded_batches_one_at_a_time(cluster: Cluster) -> None:
    wait_until(f"every peer to hold {LEVEL} checked triples",
               lambda: all(triples(cluster, i) >= LEVEL for i in range(3)), timeout=400, every=1)
    peak = peak_memory_bytes(cluster.processes["service"].pid)
    dep = cluster.dep()
    committed = [e for e in dep.ledger.logs(BatchCommitted) if e.kind == list(TupleKind).index(TupleKind.TRIPLE)]
    assert sorted(e.count for e in committed) == [5000, MOST, MOST, MOST]
    attested = dep.ledger.logs(SacrificeAttested)
    for earlier, later in zip(committed, committed[1:]):
        done = [a.block_number for a in attested if bytes(a.batchId) == bytes(earlier.batchId)]
        assert len(done) == 3 and max(done) <= later.block_number, "a batch was dealt before the last was attested"
    # The service holds at most one batch of a key at a time: its members' parts dealt, then sealed.
    assert peak < 400 * 2**20 + 3 * 4 * MAX_BATCH_BYTES, f"peak memory {peak >> 20} MiB"
    for name in ("peer-a", "peer-b", "peer-c"):
        assert "refused" not in cluster.log_text(name)


def test_a_batch_over_the_limit_is_refused_by_every_peer_with_a_warning(cluster: Cluster) -> None:
    dep = cluster.dep()  # A batch as an older or faulty service commits it: more than a peer accepts.
    batch_id = secrets.token_bytes(32)
    service = local_test_account(dep.chain, 1)
    dep.ledger.commit_batch(service, batch_id, ChainKind.TRIPLE, MOST + 1, secrets.token_bytes(32))
    reason = f"delivery refused: the batch holds {MOST + 1} triple tuples, more than the {MOST} one batch may hold"
    warning = f"WARNING mpcc.peer: batch {batch_id.hex()}: {reason}"
    wait_until("a peer to refuse the batch with a warning",
               lambda: any(warning in cluster.log_text(f"peer-{t}") for t in "abc"), 60)
    wait_until("the batch to be rejected on chain",
               lambda: dep.ledger.batch(batch_id).status is BatchStatus.REJECTED, timeout=30)

    def settled(tag: str) -> bool:  # A peer that comes to it after the first rejected it only notes that.
        status = json.loads((cluster.workdir / f"{tag}-tuples.status.json").read_text())
        return warning in cluster.log_text(f"peer-{tag}") or status["batches"].get(batch_id.hex()) == "rejected"

    wait_until("every peer to refuse it or see it rejected", lambda: all(settled(t) for t in "abc"), 30)
    for tag in "abc":  # Refused from the chain record: nobody downloaded it.
        assert f"batch {batch_id.hex()}: intake incomplete" not in cluster.log_text(f"peer-{tag}")


def test_the_service_stops_at_once_on_sigterm_and_sigint_even_waiting_for_a_receipt(cluster: Cluster) -> None:
    cluster.signal("service", signal.SIGTERM)
    assert cluster.processes["service"].wait(timeout=30) == 0
    set_automine(cluster.rpc, False)  # Every transaction now waits for its receipt.
    try:
        before = len(cluster.log_text("service"))
        cluster.start_service(f"input_mask=2,triple={LEVEL + MOST}")
        wait_until("the service to deal a batch and wait for its receipt",
                   lambda: "dealing a batch" in cluster.log_text("service")[before:], timeout=60)
        cluster.signal("service", signal.SIGINT)
        assert cluster.processes["service"].wait(timeout=30) in (0, 130)
        before = len(cluster.log_text("service"))
        cluster.start_service(f"input_mask=2,triple={LEVEL + MOST}")
        wait_until("the service to deal a batch and wait for its receipt",
                   lambda: "dealing a batch" in cluster.log_text("service")[before:], timeout=60)
        cluster.signal("service", signal.SIGTERM)
        assert cluster.processes["service"].wait(timeout=30) == 0
    finally:
        set_automine(cluster.rpc, True)
    assert "Traceback" not in cluster.log_text("service")


def test_a_suspended_member_is_dealt_nothing_more(cluster: Cluster) -> None:
    if cluster.alive("service"):
        cluster.signal("service", signal.SIGTERM)
        cluster.processes["service"].wait(timeout=60)
    before = len(cluster.log_text("service"))
    cluster.start_service(f"input_mask=2,triple={LEVEL + 6 * MOST}")
    wait_until("the service to deal again", lambda: "committed" in cluster.log_text("service")[before:], timeout=60)
    for voter in (0, 1):
        cluster.mpcc("org", "vote", "suspend", cluster.accounts[2], "--home", str(cluster.home(voter)))
    dep = cluster.dep()
    suspended_at = dep.chain.w3.eth.block_number
    wait_until("the service to say it deals no more to the suspended member",
               lambda: "deals nothing more" in cluster.log_text("service")[before:], timeout=30)
    paused_at = dep.chain.w3.eth.block_number
    time.sleep(5)  # Ten polls of the service, in which one that ran away would deal again.
    late = dep.ledger.logs(BatchCommitted, from_block=suspended_at + 1)
    assert len(late) <= 1, f"{len(late)} batches committed after the suspension"
    assert not dep.ledger.logs(BatchCommitted, from_block=paused_at + 1)
    assert cluster.alive("service")
    assert f"no longer active: {cluster.accounts[2]}" in cluster.log_text("service")
