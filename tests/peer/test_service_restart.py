"""A restarted preprocessing service: with its dealer state the members notice nothing; without, they are told.

On the in-process chain, with real state files and the service's real TLS
request protocol on loopback. The peers keep the MAC key shares they opened
from the first service throughout, as the daemons keep theirs on disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from pathlib import Path
from typing import AsyncIterator, Iterator

import pytest

from offchain.analytics import stats
from offchain.analytics.spec import JobSpec
from offchain.engine import estimate
from offchain.errors import SacrificeFailed
from mpcc.peer.intake import key_change_advice
from offchain.preprocessing.protocol import ServiceClient
from mpcc.demo.local import LocalConsortium
from mpcc.peer.member import JobOutcome
from mpcc.peer import intake
from mpcc.service.server import ServiceProcess, serve
from mpcc.service.dealing import PreprocessingService
from offchain.preprocessing.keyshare import open_key_share
from offchain.shares import MacKeyShare
from mpcc import orgs
from mpcc.audit.record import audit_job
from onchain.abi.preprocessing_ledger import BatchRejected
from onchain.jobs import JobState
from onchain.ledger import BatchStatus


@pytest.fixture
def kept(members: list[orgs.Org], incomes: list[dict[str, Path]],
         tmp_path: Path) -> Iterator[tuple[LocalConsortium, Path]]:
    """A consortium whose service keeps its dealer state in a file; the peers hold its key shares."""
    state = tmp_path / "service" / "dealer-state.json"
    made = LocalConsortium.create(members, incomes, cache_dir=tmp_path, state=state)
    assert made.service.loaded is not None and made.service.loaded.outcome == "created"
    yield made, state
    made.close()


def restart(c: LocalConsortium, state: Path, caplog: pytest.LogCaptureFixture) -> ServiceProcess:
    """The service started again as `mpcc preprocess serve` starts it; it replaces the old one."""
    with caplog.at_level(logging.INFO, logger="mpcc.service.server"):
        process = ServiceProcess.start(c.dep, c.dep.chain.test_account(1), {}, state)
    c.service = process.service
    return process


def mean_spec(c: LocalConsortium) -> JobSpec:
    return JobSpec(analysis="mean", column="income", reveal=("count", "mean"),
                   participants=tuple(p.address for p in c.peers))


def shares_served(c: LocalConsortium, service: PreprocessingService) -> list[MacKeyShare]:
    return [open_key_share(p.org.identity, service.sealed_keys[i], i, service.group) for i, p in enumerate(c.peers)]


def test_a_restarted_service_with_its_state_deals_batches_that_pass_and_a_job_runs(
        kept: tuple[LocalConsortium, Path], caplog: pytest.LogCaptureFixture) -> None:
    c, state = kept
    first = c.service
    process = restart(c, state, caplog)
    assert process.service is not first and process.service.loaded.outcome == "reused"  # type: ignore[union-attr]
    assert f"dealer state {state}: dealing under the MAC key dealt" in caplog.text
    assert shares_served(c, process.service) == c.keys
    spec = mean_spec(c)
    c.feed(stats.needs(spec))  # Raises if any peer's sacrifice fails.
    job_id = c.propose(spec)
    outcomes = c.run_job(job_id)
    assert all(isinstance(o, JobOutcome) and o.result is not None for o in outcomes), outcomes
    assert outcomes[0].result == {"count": "12", "mean": "52916.666667"}  # type: ignore[union-attr]
    assert c.dep.jobs.job(job_id).state is JobState.FINALISED
    assert audit_job(c.dep, job_id).passed


def test_a_service_that_lost_its_state_is_rejected_once_and_the_peers_are_told_what_to_do(
        kept: tuple[LocalConsortium, Path], caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    c, state = kept
    c.feed(estimate.mul(4))  # The members hold the first key's share and used it.
    state.unlink()
    process = restart(c, state, caplog)
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and f"no dealer state at {state}: dealt a new MAC key" in warned[0]
    assert "already holds committed batches (1), dealt under a MAC key this state does not hold: every " \
           "member that holds a share of the old key must delete its key share" in warned[0]
    (offer,) = process.service.produce(estimate.mul(8))
    outcomes = c.run_all(lambda peer, t, k: peer.accept_delivery(t, k, offer.sealed.delivery(k.party)))
    assert all(isinstance(o, SacrificeFailed) for o in outcomes), outcomes
    assert c.dep.ledger.batch(offer.batch_id).status is BatchStatus.REJECTED
    rejections = [e for e in c.dep.ledger.logs(BatchRejected)
                  if bytes(e.batchId) == offer.batch_id]
    assert len(rejections) == 1
    kept_in, new_keys = tmp_path / "peer-0.keyshare", shares_served(c, process.service)
    held, fresh = asyncio.run(_advice(process, c, [c.keys[0], new_keys[0]], kept_in))
    assert "the preprocessing service now deals under another MAC key than the share this peer holds in " \
           f"{kept_in}" in held
    assert f"stop this peer, delete {kept_in} and start the peer again (every member must do the same)" in held
    assert "still serves the MAC key share this peer holds, so the batch itself was bad" in fresh
    c.keys = new_keys  # What the members get by following the advice: the new key works.
    c.feed(estimate.mul(4))


@contextlib.asynccontextmanager
async def served(process: ServiceProcess) -> AsyncIterator[ServiceClient]:
    """The service's request protocol on a free loopback port, and a client of it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ready = asyncio.Event()
    task = asyncio.ensure_future(serve(process, "127.0.0.1", port, poll_s=0.2, ready=ready))
    try:
        await asyncio.wait_for(ready.wait(), 10)
        yield ServiceClient(f"127.0.0.1:{port}")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _advice(process: ServiceProcess, c: LocalConsortium, shares: list[MacKeyShare], kept_in: Path) -> list[str]:
    """What party 0's daemon would log after a failed sacrifice, holding each of ``shares``."""
    async with served(process) as client:
        return [await key_change_advice(client, c.peers[0].org.identity, share, process.service.group, kept_in)
                for share in shares]


def test_a_batch_dealt_before_the_restart_is_given_up_not_retried_forever(
        kept: tuple[LocalConsortium, Path], caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The service serves only what it dealt since it started; a peer that had not fetched an
    older batch yet stops asking once the service keeps answering "not found"."""
    c, state = kept
    (old,) = c.service.produce(estimate.mul(4))
    process = restart(c, state, caplog)
    monkeypatch.setattr(intake, "GIVE_UP_UNSERVED", 3)
    monkeypatch.setattr(intake, "RETRY_S", 0.01)

    class Peer0(intake.Intake):
        async def _state(self, batch_id: bytes) -> str | None:
            return None  # Still to take in, as the chain says of a batch nobody attested yet.

    async def run() -> Peer0:
        async with served(process) as client:
            peer = Peer0(c.peers[0], client, None, [], 0, state.with_suffix(".keyshare"),  # type: ignore[arg-type]
                         key=c.keys[0])
            await asyncio.wait_for(peer.take(old.batch_id), 20)
            return peer

    with caplog.at_level(logging.WARNING, logger="mpcc.peer"):
        peer = asyncio.run(run())
    assert peer.batches[old.batch_id.hex()] == "unavailable"
    assert any("no longer serves it" in r.getMessage() for r in caplog.records)
