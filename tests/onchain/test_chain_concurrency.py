"""A process's transactions at once: nonces never collide, a race for gas is re-estimated, no loop blocks."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from harness.chain import placeholder_consortium
from harness.nodes import rpc_call
import onchain.chain
from onchain.aio import AsyncChain
from onchain.chain import BlockingChainCall, Chain
from onchain.errors import ChainError
from onchain.jobs import Deadlines, JobState
from onchain.ledger import TupleKind

MARGIN = 1.02


def test_concurrent_transactions_of_one_account_get_distinct_nonces(chain: Chain) -> None:
    sender = chain.test_account(0)
    start = chain.w3.eth.get_transaction_count(sender.address)
    recipients = [chain.test_account(i).address for i in range(1, 9)] * 2

    async def send_all() -> list[str]:
        aio = AsyncChain(chain)
        try:
            sent = await asyncio.gather(*(aio.run(chain.fund, sender, to, 1) for to in recipients))
        finally:
            aio.close()
        return [s.tx_hash for s in sent]

    nonces = [int(chain.w3.eth.get_transaction(h)["nonce"]) for h in asyncio.run(send_all())]  # type: ignore[arg-type]
    assert sorted(nonces) == list(range(start, start + len(recipients)))


def test_concurrent_transactions_on_a_node_with_pending_blocks(hardhat_node: str) -> None:
    """On a JSON-RPC node, with transactions still pending, no two of one account share a nonce."""
    chain = Chain.connect(hardhat_node)
    sender = chain.test_account(0)

    async def send_all() -> int:
        aio = AsyncChain(chain)
        try:
            await asyncio.gather(*(aio.run(chain.fund, sender, "0x" + secrets.token_hex(20), 1) for _ in range(12)))
        finally:
            aio.close()
        return 12

    before = chain.w3.eth.get_transaction_count(sender.address)
    assert asyncio.run(send_all()) == chain.w3.eth.get_transaction_count(sender.address) - before


def test_a_chain_call_on_an_event_loop_thread_is_refused(chain: Chain) -> None:
    async def blocking() -> int:
        return chain.now()

    async def awaited() -> int:
        aio = AsyncChain(chain)
        try:
            return await aio.now()
        finally:
            aio.close()

    with pytest.raises(BlockingChainCall, match="await it through onchain.aio.AsyncChain"):
        asyncio.run(blocking())
    assert asyncio.run(awaited()) == chain.now()


def test_the_last_result_outrun_by_the_others_is_estimated_again(chain: Chain) -> None:
    """The result mined last must also finalise the job: estimated before the others were mined,
    it runs out of gas, and is estimated again on the new state and sent again. (The margin is
    cut to 2% here so that finalising always exceeds it; the real headroom only makes it rarer.)"""
    service = chain.test_account(1)
    dep, members = placeholder_consortium(chain, 3, preprocessor=service.address)
    batch = secrets.token_bytes(32)
    dep.ledger.commit_batch(service, batch, TupleKind.INPUT_MASK, 10, secrets.token_bytes(32))
    for m in members:
        dep.ledger.attest_sacrifice(m, batch, secrets.token_bytes(32))
    job_id, _ = dep.jobs.propose(members[0], '{"analysis":"mean"}', [m.address for m in members],
                                 Deadlines.from_now(chain.now()), [(batch, 3)])
    for m in members[1:]:
        dep.jobs.accept(m, job_id)
    for m in members:
        dep.jobs.commit_inputs(m, job_id, secrets.token_bytes(32))
    result, last = b'{"mean":"1"}', members[2]
    dep.jobs.submit_result(members[0], job_id, result)  # The first result also stores its hash: costlier.
    call = dep.jobs.contract.functions.submitResult(job_id, result)
    built: list[int] = []

    def build(nonce: int) -> dict[str, object]:
        tx = dict(call.build_transaction({"from": last.address, "nonce": nonce}))
        if not built:  # Another result is mined between this estimate and the send.
            # A tight estimate (a JSON-RPC node's is about the gas used; py-evm's has room to spare)
            # is what the other non-last result took.
            tx["gas"] = dep.jobs.submit_result(members[1], job_id, result).gas_used
        built.append(int(tx["gas"]))
        return {**tx, "gas": int(int(tx["gas"]) * MARGIN)}

    sent = chain._sign_and_send(last, build, "JobManager.submitResult")
    assert len(built) == 2 and built[1] > built[0] * MARGIN, built
    assert sent.gas_used > built[0] * MARGIN
    reverted = [chain.w3.eth.get_block(b, True) for b in range(chain.w3.eth.block_number + 1)]
    out_of_gas = [tx for block in reverted for tx in block["transactions"]
                  if tx["from"] == last.address and chain.w3.eth.get_transaction_receipt(tx["hash"])["status"] == 0]
    assert len(out_of_gas) == 1  # The first attempt, mined and reverted.
    assert dep.jobs.job(job_id).state is JobState.FINALISED


_SENDER = """
import logging, secrets, sys, time
from pathlib import Path
from onchain.chain import Chain
logging.basicConfig(level=logging.INFO)
chain = Chain.connect(sys.argv[1])
sender = chain.test_account(0)
go = Path(sys.argv[2])
while not go.exists():
    time.sleep(0.005)
for _ in range(int(sys.argv[3])):
    chain.fund(sender, "0x" + secrets.token_hex(20), 1)
"""


def test_processes_sending_from_one_account_take_turns_instead_of_taking_nonces(
        hardhat_node: str, tmp_path: Path) -> None:
    """An organisation's daemon and its commands send from one account: no process loses its nonce."""
    chain = Chain.connect(hardhat_node)
    sender = chain.test_account(0)
    before = chain.w3.eth.get_transaction_count(sender.address)
    go, processes, each = tmp_path / "go", 5, 6
    children = [subprocess.Popen([sys.executable, "-c", _SENDER, hardhat_node, str(go), str(each)],
                                 stderr=subprocess.PIPE, text=True) for _ in range(processes)]
    time.sleep(3.0)  # Every child connected and waits.
    go.touch()
    logs = [child.communicate(timeout=120)[1] for child in children]
    assert [child.returncode for child in children] == [0] * processes, logs
    assert not [line for log in logs for line in log.splitlines() if "was taken by another process" in line]
    assert chain.w3.eth.get_transaction_count(sender.address) - before == processes * each


def test_a_nonce_taken_again_and_again_is_reported_as_such_not_as_a_revert(
        hardhat_node: str, monkeypatch: pytest.MonkeyPatch) -> None:
    chain = Chain.connect(hardhat_node)
    sender = chain.test_account(0)
    chain.fund(sender, "0x" + secrets.token_hex(20), 1)
    counted = chain.w3.eth.get_transaction_count
    # Every count is one behind, as if another sender's transaction was mined each time.
    monkeypatch.setattr(chain.w3.eth, "get_transaction_count", lambda *args: counted(*args) - 1)
    monkeypatch.setattr(onchain.chain, "NONCE_RETRIES", 2)
    monkeypatch.setattr(onchain.chain, "NONCE_RETRY_PAUSE_S", (0.0, 0.0))
    with pytest.raises(ChainError, match="took its next nonce 3 times in a row") as raised:
        chain.fund(sender, "0x" + secrets.token_hex(20), 1)
    assert "revert" not in str(raised.value)


def test_a_chain_reverted_under_a_transaction_in_flight_is_counted_from_again(
        hardhat_node: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A reorganisation drops a transaction whose receipt this process still awaits: the next
    transaction must take the node's nonce, not one past the lost one (which the node refuses)."""
    chain = Chain.connect(hardhat_node)
    sender = chain.test_account(0)
    chain.fund(sender, "0x" + secrets.token_hex(20), 1)
    release, real_wait = threading.Event(), chain.wait_for_receipt

    def held_wait(*args: Any, **kwargs: Any) -> Any:
        release.wait(30)
        return real_wait(*args, **kwargs)

    snapshot = rpc_call(hardhat_node, "evm_snapshot", [])
    before = chain.w3.eth.get_transaction_count(sender.address)
    monkeypatch.setattr(chain, "wait_for_receipt", held_wait)
    lost = threading.Thread(target=chain.fund, args=(sender, "0x" + secrets.token_hex(20), 1))
    lost.start()
    deadline = time.monotonic() + 30
    while chain.w3.eth.get_transaction_count(sender.address) == before and time.monotonic() < deadline:
        time.sleep(0.01)
    rpc_call(hardhat_node, "evm_revert", [snapshot])  # Mined, then forgotten, while its receipt is awaited.
    monkeypatch.setattr(chain, "wait_for_receipt", real_wait)
    sent = chain.fund(sender, "0x" + secrets.token_hex(20), 1)
    assert int(chain.w3.eth.get_transaction(sent.tx_hash)["nonce"]) == before  # type: ignore[arg-type]
    release.set()
    lost.join(60)
    assert not lost.is_alive()
    assert chain.w3.eth.get_transaction_count(sender.address) == before + 2  # The lost one signed again.
