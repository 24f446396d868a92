"""A transaction the node drops while its receipt is awaited (a reorganisation) is sent again, mined once.

A Hardhat node that mines only when told to, so the transaction is pending when
the chain is reverted to a snapshot taken before it: the node forgets it, as a
node forgets the transactions of blocks a reorganisation removed. Before the
chain client sent such a transaction again, its sender waited 300 s for a
receipt that could never come, and every later transaction of the account
queued behind the gap in its nonces.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account

from harness.nodes import hardhat_node_at, rpc_call
from onchain.chain import Chain, Sent


@pytest.fixture
def manual_node(tmp_path: Path) -> Iterator[str]:
    """A node of its own (mining off would stall the shared one's other tests)."""
    with hardhat_node_at(tmp_path / "node.log") as url:
        rpc_call(url, "evm_setAutomine", [False])
        yield url


def pending_count(chain: Chain, address: str) -> int:
    return int(chain.w3.eth.get_transaction_count(address, "pending"))


def send_in_background(chain: Chain, to: str, wei: int) -> tuple[threading.Thread, list[Sent | BaseException]]:
    sender = chain.test_account(0)
    outcome: list[Sent | BaseException] = []

    def send() -> None:
        try:
            outcome.append(chain.fund(sender, to, wei))
        except BaseException as err:  # noqa: BLE001 - handed to the test's thread
            outcome.append(err)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread, outcome


def mine_until_done(url: str, thread: threading.Thread, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while thread.is_alive() and time.monotonic() < deadline:
        rpc_call(url, "evm_mine", [])
        thread.join(0.5)


def wait_pending(chain: Chain, address: str, count: int) -> None:
    deadline = time.monotonic() + 20
    while pending_count(chain, address) < count:
        assert time.monotonic() < deadline, "the transaction never reached the node"
        time.sleep(0.05)


def test_a_transaction_dropped_by_a_revert_is_sent_again_and_mined_once(
        manual_node: str, caplog: pytest.LogCaptureFixture) -> None:
    chain = Chain.connect(manual_node)
    sender, payee = chain.test_account(0), Account.create().address
    before = pending_count(chain, sender.address)
    snapshot = rpc_call(manual_node, "evm_snapshot", [])
    with caplog.at_level(logging.WARNING, logger="onchain.chain"):
        thread, outcome = send_in_background(chain, payee, 12345)
        wait_pending(chain, sender.address, before + 1)
        rpc_call(manual_node, "evm_revert", [snapshot])  # The pending transaction is forgotten.
        assert pending_count(chain, sender.address) == before
        mine_until_done(manual_node, thread, 30)
    assert not thread.is_alive(), "the sender still waits for a receipt of a transaction the node forgot"
    assert isinstance(outcome[0], Sent) and outcome[0].receipt["status"] == 1
    assert chain.balance(payee) == 12345  # Mined exactly once.
    assert pending_count(chain, sender.address) == before + 1
    assert "no longer knew transaction" in caplog.text


def test_a_dropped_transaction_whose_nonce_was_taken_is_signed_again_with_the_next(
        manual_node: str, caplog: pytest.LogCaptureFixture) -> None:
    chain = Chain.connect(manual_node)
    sender, payee, other = chain.test_account(0), Account.create().address, Account.create().address
    before = pending_count(chain, sender.address)
    snapshot = rpc_call(manual_node, "evm_snapshot", [])
    with caplog.at_level(logging.WARNING, logger="onchain.chain"):
        thread, outcome = send_in_background(chain, payee, 777)
        wait_pending(chain, sender.address, before + 1)
        rpc_call(manual_node, "evm_revert", [snapshot])
        # Another process of the organisation sends from the account and takes the nonce.
        rival = sender.sign_transaction({"to": other, "value": 5, "gas": 21000, "nonce": before,
                                         "chainId": chain.chain_id, **chain._fees()})
        chain.w3.eth.send_raw_transaction(rival.raw_transaction)
        rpc_call(manual_node, "evm_mine", [])
        mine_until_done(manual_node, thread, 30)
    assert not thread.is_alive()
    assert isinstance(outcome[0], Sent) and outcome[0].receipt["status"] == 1
    assert (chain.balance(payee), chain.balance(other)) == (777, 5)
    assert pending_count(chain, sender.address) == before + 2
    assert "took its nonce; sending it again with the next nonce" in caplog.text


def test_a_gap_left_by_a_dropped_mined_transaction_is_filled_and_the_next_one_mined(
        manual_node: str, caplog: pytest.LogCaptureFixture) -> None:
    """The campaign's stuck account: a reorganisation drops a transaction whose receipt was in, and
    the one after it, still awaited, is sent again; the node queues it behind the missing nonce, and
    nobody sends that nonce again (its sender has moved on). Before the gap was filled, the account's
    transactions sat queued until their 300 s receipt timeout."""
    chain = Chain.connect(manual_node)
    sender, first, second = chain.test_account(0), Account.create().address, Account.create().address
    before = pending_count(chain, sender.address)
    snapshot = rpc_call(manual_node, "evm_snapshot", [])
    thread, outcome = send_in_background(chain, first, 111)
    wait_pending(chain, sender.address, before + 1)
    mine_until_done(manual_node, thread, 30)
    assert isinstance(outcome[0], Sent)  # Its receipt is in: nobody waits for it any longer.
    with caplog.at_level(logging.WARNING, logger="onchain.chain"):
        thread, outcome = send_in_background(chain, second, 222)
        wait_pending(chain, sender.address, before + 2)
        rpc_call(manual_node, "evm_revert", [snapshot])  # Both forgotten: the mined one and the pending one.
        assert pending_count(chain, sender.address) == before
        mine_until_done(manual_node, thread, 60)
    assert not thread.is_alive(), "the transaction still waits behind the dropped one's nonce"
    assert isinstance(outcome[0], Sent) and outcome[0].receipt["status"] == 1
    assert int(chain.w3.eth.get_transaction(outcome[0].tx_hash)["nonce"]) == before + 1  # type: ignore[arg-type]
    assert (chain.balance(first), chain.balance(second)) == (0, 222)  # The dropped one is not sent again.
    assert "filling the gap with empty transfers" in caplog.text
    third = Account.create().address
    thread, outcome = send_in_background(chain, third, 333)
    mine_until_done(manual_node, thread, 30)
    assert isinstance(outcome[0], Sent) and chain.balance(third) == 333
    assert pending_count(chain, sender.address) == before + 3
