"""Peers posting at the same moment on a Hardhat node: whichever is mined last also moves the job on,
and its gas limit covers that from the first attempt (no out-of-gas revert, no retry)."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable

from eth_account.signers.local import LocalAccount

from harness.chain import placeholder_consortium
from harness.cluster import wait_until
from harness.nodes import rpc_call
from onchain.chain import Chain
from onchain.deploy import Deployment
from onchain.jobs import Deadlines, JobState
from onchain.ledger import TupleKind

RESULT = b'{"mean":"' + b"7" * 2000 + b'"}'  # A large result: the finalising event repeats it.


def _at_once(url: str, chain: Chain, posts: list[Callable[[], object]]) -> list[object]:
    """Sends every post from its own thread with mining off, then mines them all in one block."""
    rpc_call(url, "evm_setAutomine", [False])
    done: list[object] = []
    threads = [threading.Thread(target=lambda post=post: done.append(post())) for post in posts]
    try:
        for t in threads:
            t.start()
        wait_until("every post in the node's pool",
                   lambda: len(chain.w3.eth.get_block("pending")["transactions"]) >= len(posts), 60, 0.05)
        rpc_call(url, "evm_mine", [])
    finally:
        rpc_call(url, "evm_setAutomine", [True])  # A retry, if any, is mined at once.
        for t in threads:
            t.join(120)
    return done


def _reverted(chain: Chain, accounts: list[LocalAccount], first_block: int) -> int:
    senders = {a.address for a in accounts}
    return sum(1 for n in range(first_block, chain.w3.eth.block_number + 1)
               for tx in chain.w3.eth.get_block(n, True)["transactions"]
               if tx["from"] in senders and chain.w3.eth.get_transaction_receipt(tx["hash"])["status"] == 0)


def _job(chain: Chain) -> tuple[Deployment, list[LocalAccount], int]:
    service = chain.test_account(0)
    dep, members = placeholder_consortium(chain, 3, preprocessor=service.address)
    batch = secrets.token_bytes(32)
    dep.ledger.commit_batch(service, batch, TupleKind.INPUT_MASK, 10, secrets.token_bytes(32))
    for m in members:
        dep.ledger.attest_sacrifice(m, batch, secrets.token_bytes(32))
    job_id, _ = dep.jobs.propose(members[0], '{"analysis":"mean"}', [m.address for m in members],
                                 Deadlines.from_now(chain.now()), [(batch, 3)])
    return dep, members, job_id


def test_posts_mined_in_one_block_all_succeed_the_first_time(hardhat_node: str) -> None:
    chain = Chain.connect(hardhat_node)
    dep, members, job_id = _job(chain)
    start = chain.w3.eth.block_number + 1
    _at_once(hardhat_node, chain, [lambda m=m: dep.jobs.accept(m, job_id) for m in members[1:]])
    _at_once(hardhat_node, chain, [lambda m=m: dep.jobs.commit_inputs(m, job_id, secrets.token_bytes(32))
                                   for m in members])
    assert dep.jobs.job(job_id).state is JobState.INPUTS_COMMITTED
    dep.jobs.submit_result(members[0], job_id, RESULT)  # The first result stores its hash: the costliest.
    _at_once(hardhat_node, chain, [lambda m=m: dep.jobs.submit_result(m, job_id, RESULT) for m in members[1:]])
    assert dep.jobs.job(job_id).state is JobState.FINALISED
    assert _reverted(chain, members, start) == 0
