"""The consortium as organisations run it: a JSON-RPC chain, the service and three peers, each a process.

The tests of this module share one consortium (fixture ``cluster``) and run
in order: a job end to end, a non-member refused, a tampered delivery
refused, then a peer that stops mid-job (the job expires at its deadline,
nobody's data or tuples are harmed) and comes back after a crash, and last
the service, killed and started again with its dealer state.
"""

from __future__ import annotations

import asyncio
import json
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest

from harness.cluster import (
    PASSPHRASE, ROOT, TAGS, Cluster, check_cache_consistent, cache_ranges, file_digest, free_port, mean_needs,
    mean_stock, set_automine, wait_until,
)
from harness.nodes import rpc_call
from mpcc import orgs
from offchain import identity
from offchain.errors import PeerTimeout
from offchain.net.tls import ChannelSettings, HandshakeRefused, JobRoster, RosterEntry, TlsCredentials, connect_job
from onchain.abi.preprocessing_ledger import BatchCommitted, BatchRejected, TuplesReserved
from onchain.jobs import AbortReason, JobState
from onchain.ledger import BatchStatus

pytestmark = pytest.mark.hardhat
MEAN = {"count": "12", "mean": "52916.666667"}
CSVS = [ROOT / "examples" / f"incomes_party_{tag}.csv" for tag in TAGS]


def wait_for_state(cluster: Cluster, job_id: int, timeout: float = 60) -> JobState:
    dep = cluster.dep()
    closed = (JobState.FINALISED, JobState.ABORTED)
    return wait_until(f"job {job_id} to close", lambda: (s := dep.jobs.job(job_id).state) in closed and s, timeout)


def test_mean_income_between_processes_is_finalised_and_audited(cluster: Cluster) -> None:
    job_id = cluster.propose_mean()
    assert wait_for_state(cluster, job_id) is JobState.FINALISED
    assert cluster.mpcc_json("job", "result", str(job_id))["result"] == MEAN
    audit = cluster.mpcc("audit", str(job_id), check=False)
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert f"audit of job {job_id}: passed" in audit.stdout
    script = subprocess.run([str(ROOT / "scripts" / "audit.py"), str(job_id), "--json"], capture_output=True,
                            text=True, env=cluster.env, cwd=cluster.workdir, timeout=120)
    assert script.returncode == 0, script.stderr
    assert json.loads(script.stdout.strip().splitlines()[-1])["passed"] is True
    status = cluster.mpcc_json("peer", "status", "--config", str(cluster.config(1)))
    assert status["daemon"]["running"] and status["daemon"]["party"] == 1
    assert status["tuples"] == {"made_by": "service", "service": f"127.0.0.1:{cluster.service_port}"}
    assert {"job": job_id, "state": "finalised"}.items() <= status["jobs"][-1].items()
    assert set(status["stock"]) == set(mean_needs())  # Input masks, and the range checks' tuples.
    for name in ("peer-a", "peer-b", "peer-c"):
        assert f"job {job_id}: result posted" in cluster.log_text(name)


def impostor_dials(cluster: Cluster, tmp_path: Path, target: int, tag: bytes, window: float) -> BaseException:
    """A fresh identity (never registered) dials ``target`` for job ``tag``; returns how it failed."""
    secret = b"impostor passphrase"
    ident = identity.create(tmp_path / "impostor", "Mallory", "127.0.0.1:1", secret)
    member = cluster.dep().registry.member(cluster.accounts[target])
    roster = JobRoster(tag, (RosterEntry(0, member.endpoint, member.tls_fingerprint),
                             RosterEntry(1, f"127.0.0.1:{free_port()}", ident.tls_fingerprint)))
    settings = ChannelSettings(connect_timeout=window, timeout=5)

    async def dial() -> BaseException:
        try:
            transport = await connect_job(TlsCredentials.from_identity(ident, secret), roster, 1, settings=settings)
        except (HandshakeRefused, PeerTimeout) as err:
            return err
        await transport.close()
        raise AssertionError("a non-member was let in")

    return asyncio.run(dial()), ident.tls_fingerprint.hex()  # type: ignore[return-value]


def test_a_non_member_is_refused_and_the_refusal_logged(cluster: Cluster, tmp_path: Path) -> None:
    refusal, fingerprint = impostor_dials(cluster, tmp_path, 0, bytes(31) + b"\x63", window=2)
    assert isinstance(refusal, (HandshakeRefused, PeerTimeout))
    wait_until("peer A to log the refusal", lambda: fingerprint in cluster.log_text("peer-a"), 10)
    assert "refused a connection" in cluster.log_text("peer-a")


def test_a_tampered_ciphertext_is_refused(cluster: Cluster, tmp_path: Path) -> None:
    dep = cluster.dep()
    batch_id = next(bytes(e.batchId).hex() for e in dep.ledger.logs(BatchCommitted)
                    if dep.ledger.batch(bytes(e.batchId)).available > 0)  # Used-up batches are no longer served.
    saved = tmp_path / "delivery.bin"
    fetched = cluster.mpcc("preprocess", "fetch", batch_id, "--config", str(cluster.config(1)), "--out", str(saved),
                           check=False)
    assert fetched.returncode == 0, (fetched.stderr, dep.ledger.batch(bytes.fromhex(batch_id)))
    assert cluster.mpcc_json("preprocess", "check", str(saved), "--config", str(cluster.config(1)))["checks"] == "passed"
    raw = bytearray(saved.read_bytes())
    raw[-1] ^= 0x01
    saved.write_bytes(bytes(raw))
    refused = cluster.mpcc("preprocess", "check", str(saved), "--config", str(cluster.config(1)), check=False)
    assert refused.returncode == 1
    assert "does not match the committed hash" in refused.stderr
    raw[60] ^= 0x01  # In the served hash list: the commitment on chain no longer matches.
    saved.write_bytes(bytes(raw))
    refused = cluster.mpcc("preprocess", "check", str(saved), "--config", str(cluster.config(1)), check=False)
    assert refused.returncode == 1 and "rejected batch" in refused.stderr


def test_a_peer_stopping_mid_job_lets_it_expire_and_harms_no_one(cluster: Cluster, tmp_path: Path) -> None:
    digests = [file_digest(p) for p in CSVS]
    wait_until("stock for a job", cluster.stocked, 60)
    dep = cluster.dep()
    cluster.signal("peer-b", signal.SIGSTOP)  # B cannot accept yet: the job waits in Proposed.
    job_id = cluster.propose_mean("--accept-s", "120", "--commit-s", "120", "--result-s", "120")
    wait_until("C to accept", lambda: dep.jobs.has_accepted(job_id, cluster.accounts[2]), 30)
    cluster.kill("peer-c")  # Mid-job (accepted) and mid-intake of the batches refilled for the job.
    cluster.signal("peer-b", signal.SIGCONT)
    wait_until("every acceptance", lambda: dep.jobs.job(job_id).state is JobState.ACCEPTED, 30)
    refusal, fingerprint = impostor_dials(cluster, tmp_path, 0, job_id.to_bytes(32, "big"), window=10)
    assert isinstance(refusal, HandshakeRefused) and "certificate refused" in str(refusal)
    wait_until("the refusal in A's log", lambda: f"unknown certificate" in cluster.log_text("peer-a")
               and fingerprint in cluster.log_text("peer-a"), 10)
    for name in ("peer-a", "peer-b"):
        wait_until(f"{name} to give the job up", lambda n=name: f"job {job_id}: could not connect"
                   in cluster.log_text(n), 30)
    assert dep.jobs.job(job_id).state is JobState.ACCEPTED  # Nobody cheated: nothing is reported.
    cluster.advance_chain_time(250)
    assert wait_for_state(cluster, job_id, 30) is JobState.ABORTED
    assert dep.jobs.job(job_id).abort_reason is AbortReason.DEADLINE_PASSED
    audited = cluster.mpcc("audit", str(job_id), check=False)  # No result: the audit fails, and says so.
    assert audited.returncode == 1 and f"audit of job {job_id}: FAILED" in audited.stdout, audited
    for i in (0, 1):
        check_cache_consistent(cluster.cache(i))
        ranges = [r for r in cache_ranges(cluster.cache(i)) if r[3] == str(job_id)]
        assert ranges and all(taken == 0 for *_, taken in ranges)  # Set aside, never handed out.
    cluster.start_peer(2)  # Restarted after the crash: its cache and key share survive.
    wait_until("stock after the restart", cluster.stocked, 90)
    later = cluster.propose_mean()
    assert wait_for_state(cluster, later) is JobState.FINALISED
    assert cluster.mpcc_json("job", "result", str(later))["result"] == MEAN
    assert cluster.mpcc("audit", str(later), check=False).returncode == 0
    for i in range(3):
        check_cache_consistent(cluster.cache(i))
    reserved = [(bytes(e.batchId), e.start, e.count) for e in dep.ledger.logs(TuplesReserved)]
    handed = {(b, t) for b, start, n in reserved for t in range(start, start + n)}
    assert len(handed) == sum(n for _, _, n in reserved)  # No tuple reserved for two jobs.
    assert [file_digest(p) for p in CSVS] == digests


LOADED = "dealer state .mpcc/dealer-state.json: dealing under the MAC key dealt"


def test_a_restarted_service_keeps_its_mac_key_and_completes_what_it_dealt_before(cluster: Cluster) -> None:
    state = cluster.workdir / ".mpcc" / "dealer-state.json"  # `preprocess serve`'s default --state.
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    kept, peers = state.read_bytes(), ("peer-a", "peer-b", "peer-c")
    dep = cluster.dep()
    wait_until("stock for a job", cluster.stocked, 60)
    logged = {n: len(cluster.log_text(n)) for n in peers}
    cluster.signal("peer-b", signal.SIGSTOP)  # No joint sacrifice without B: a new batch stays in intake.
    cluster.kill("service")
    since = dep.chain.w3.eth.block_number + 1
    cluster.start_service(mean_stock(1, "triple=5"))  # A new level: one batch of triples is dealt.

    def triples() -> list[bytes]:
        return [bytes(e.batchId) for e in dep.ledger.logs(BatchCommitted, from_block=since) if e.kind == 0]

    ledger = dep.manifest.address("PreprocessingLedger").lower()

    def commitment_pending() -> bool:
        block = rpc_call(cluster.rpc, "eth_getBlockByNumber", ["pending", True])
        return any((tx.get("to") or "").lower() == ledger for tx in block["transactions"])  # type: ignore[index]

    set_automine(cluster.rpc, False)  # As on a chain mining every few seconds: the commitment waits for a block.
    try:
        wait_until("a batch of triples sent for commitment", commitment_pending, 60)
        cluster.kill("service")  # kill -9 with its batch kept but its commitment not mined yet.
        loaded = cluster.log_text("service").count(LOADED)
        cluster.start_service(mean_stock(1, "triple=5"))
        wait_until("the restarted service to load its state",
                   lambda: cluster.log_text("service").count(LOADED) > loaded, 60)
        time.sleep(2)  # It takes over the kept batches while the commitment is still pending.
    finally:
        set_automine(cluster.rpc, True)
        rpc_call(cluster.rpc, "evm_mine", [])
    wait_until("a batch of triples committed", lambda: len(triples()) == 1, 60)
    wait_until("the restarted service to take over", lambda: "took over" in cluster.log_text("service"), 60)
    cluster.signal("peer-b", signal.SIGCONT)
    wait_until("B to attest the earlier instance's batch", lambda: dep.ledger.batch(triples()[0]).attestations == 3,
               60)
    assert len(triples()) == 1  # Not dealt again: the restarted service served the one it had dealt.
    assert "waiting for 1 pending transactions of the earlier service" in cluster.log_text("service")
    assert state.read_bytes() == kept
    assert dep.ledger.logs(BatchRejected, from_block=since) == []
    for name in peers:
        assert "sacrifice failed" not in cluster.log_text(name)[logged[name]:]
    level = mean_needs()["triple"] + 5
    wait_until("every peer to count the triples", lambda: all(cluster.stock(i).get("triple", 0) == level
                                                              for i in range(3)), 30)

def test_peer_status_counts_only_usable_tuples(cluster: Cluster) -> None:
    dep = cluster.dep()
    wait_until("every peer to count the triples", lambda: all(cluster.stock(i).get("triple", 0) >= 5
                                                              for i in range(3)), 60)
    status = cluster.mpcc_json("peer", "status", "--config", str(cluster.config(0)))
    assert status["stock"]["triple"] == status["held"]["triple"] >= 5
    batch = next(bytes(e.batchId) for e in dep.ledger.logs(BatchCommitted) if e.kind == 0
                 and dep.ledger.batch(bytes(e.batchId)).status is BatchStatus.COMMITTED
                 and dep.ledger.batch(bytes(e.batchId)).reserved == 0)  # Unused: it may be rejected.
    count = dep.ledger.batch(batch).count
    cluster.signal("service", signal.SIGTERM)  # Else it deals a batch in place of the rejected one.
    assert cluster.processes["service"].wait(timeout=30) == 0
    member = orgs.load(cluster.home(2), PASSPHRASE.encode()).account  # C rejects it after all attested it.
    dep.ledger.reject_batch(member, batch, bytes(31) + b"\x01")
    after = cluster.mpcc_json("peer", "status", "--config", str(cluster.config(0)))
    assert after["held"]["triple"] == status["held"]["triple"]  # Still in A's cache ...
    assert after["stock"].get("triple", 0) == status["stock"]["triple"] - count  # ... but no job can take it.
