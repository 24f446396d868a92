"""A connection to one chain, and transactions signed locally and mined.

Three kinds of chain: the in-process py-evm chain of eth-tester (``memory``),
a local node such as ``npx hardhat node``, or any JSON-RPC URL (a public
testnet). Every transaction is built with EIP-1559 fees, signed here with the
sender's key (no node-side accounts), pre-flighted with ``eth_estimateGas`` so
that a revert is refused before anything is sent, and waited for.

A ``Chain`` is synchronous and may be used from any thread: each account's
nonces are handed out under a lock (``NonceBook``), so that transactions a
process sends at once from one account never collide, and the in-process
chain serialises its requests. It refuses to be called on a thread that runs
an asyncio event loop (``BlockingChainCall``): a long-running process goes
through ``onchain.aio.AsyncChain``, which runs every call on a worker thread,
so a receipt awaited for a block time never stalls the loop.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import random
import re
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import HTTPProvider, Web3
from web3.exceptions import ContractCustomError, ContractLogicError, TransactionNotFound, Web3RPCError
from web3.providers.rpc.utils import ExceptionRetryConfiguration
from web3.types import RPCEndpoint, TxReceipt

try:
    import fcntl
except ImportError:  # pragma: no cover (Windows: no lock across processes; the nonce retries remain)
    fcntl = None  # type: ignore[assignment]

from onchain.errors import ChainError, ChainIdMismatch, ConfigError, RpcUnreachable, TransactionFailed

# Importing web3 imports py_ecc (and eth_tester, in onchain.embedded, imports py-evm), which raise
# the recursion limit to 100000: so deep a recursion (json.loads of deeply nested text, say)
# overflows the C stack and kills the process with SIGSEGV instead of raising RecursionError.
# Python's default is restored here and in onchain.embedded, right after those imports; the
# contracts' calls nest a few levels, far below it.
PYTHON_RECURSION_LIMIT = 1000
sys.setrecursionlimit(PYTHON_RECURSION_LIMIT)

log = logging.getLogger("onchain.chain")
MEMORY = "memory"
GAS_HEADROOM = 1.2
GAS_RETRIES = 2
NONCE_RETRIES = 24  # Sends again with the next nonce when another process of the account took it.
NONCE_RETRY_PAUSE_S = (0.05, 0.3)
#: Seconds a process waits for another process of this machine to send from the same account.
ACCOUNT_LOCK_WAIT_S = 60.0
ACCOUNT_LOCK_POLL_S = 0.005
#: The most transactions ``Chain.log`` keeps (the latest; half are dropped when it is full).
LOG_KEEP = 4096
RECEIPT_TIMEOUT_S = 300
#: Seconds a CLI command waits out an unreachable node before it gives up (daemons pass their own).
RPC_PATIENCE_S = 10.0
RPC_RETRY_PAUSE_S = (0.5, 5.0)
#: Seconds between receipt look-ups: a local node mines at once, a public chain every ~12 s.
RECEIPT_POLL_S = (0.02, 1.0)
#: Seconds a sent transaction may be unknown to the node before it is sent again: a reorganisation
#: (or a node restarted, or a local chain reverted to a snapshot) drops pending and reverted ones.
REBROADCAST_AFTER_S = 3.0
#: Seconds between asking the node whether it still knows a transaction whose receipt is not in.
KNOWN_CHECK_S = 1.0
#: Seconds a transaction may wait behind nonces of its account that the node has no transaction for
#: (a reorganisation dropped a mined one whose receipt was already in) before they are filled with
#: empty transfers: longer than its other senders take to send their own dropped transactions again.
NONCE_GAP_PATIENCE_S = 12.0

# Well-known test key of `npx hardhat node` (account #0 of its public test
# mnemonic). It holds test ether on local development chains only and must
# never be used anywhere else.
HARDHAT_TEST_KEY_0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
LOCAL_CHAIN_IDS = (31337, 131277322940537)


class InsufficientFunds(ConfigError):
    """The sender's balance cannot cover the transaction's gas and value."""


class TransactionDropped(ChainError):
    """The node dropped a sent transaction and another transaction of the account took its nonce."""


class BlockingChainCall(ChainError, RuntimeError):
    """A chain request was made on a thread that runs an event loop; it would stall the loop."""


def refuse_on_event_loop(method: str) -> None:
    """Raise ``BlockingChainCall`` if this thread runs an asyncio event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise BlockingChainCall(f"the chain request {method} would block this thread's event loop; "
                            "await it through onchain.aio.AsyncChain instead")


class NonceBook:
    """The next nonce of each account, handed out under a per-account lock.

    A nonce is taken while its holder builds, signs and sends a transaction
    (``hold``) and stays in flight until the transaction's receipt is in
    (``settled``). The next nonce is the node's count of the account's
    transactions (pending ones included), or one past the highest in flight
    if the node has not seen those yet; so two transactions of one process
    from one account never get the same nonce, a refused one leaves no gap,
    and a chain that forgot transactions (a restarted node, a reverted
    snapshot) is believed once nothing is in flight.

    With ``chain_name`` (for a node other processes use too: it names the chain,
    asked once, at the first transaction) the account is also locked across
    the processes of this machine and user (``AccountFileLock``):
    an organisation's peer daemon and its `mpcc` commands, or several of its
    commands at once, then take turns between counting and sending instead of
    taking each other's nonces.
    """

    def __init__(self, chain_name: Callable[[], str] | None = None) -> None:
        self._locks: dict[str, threading.Lock] = {}
        self._in_flight: dict[str, set[int]] = {}
        self._guard = threading.Lock()
        self._chain_name = chain_name
        self._chain: str | None = None

    @contextmanager
    def hold(self, address: str, pending: Callable[[], int]) -> Iterator[_NonceLease]:
        """The account's next nonce (at least ``pending()``, the node's count, asked under the account's
        lock); in flight once ``lease.sent``."""
        with self.locked(address):
            counted = pending()
            flying = self._in_flight.setdefault(address, set())
            lease = _NonceLease(max(counted, max(flying) + 1) if flying else counted)
            yield lease
            if lease.sent:
                flying.add(lease.nonce)

    @contextmanager
    def locked(self, address: str) -> Iterator[None]:
        """The account's lock (this process's and, for a shared node, this machine's), no nonce handed out."""
        with self._guard:
            lock = self._locks.setdefault(address, threading.Lock())
        if self._chain is None and self._chain_name is not None:
            self._chain = self._chain_name()
        with lock, AccountFileLock.held(self._chain, address):
            yield

    def forget(self, address: str) -> None:
        """The node dropped the account's transactions in flight: the next nonce is the node's count again."""
        with self._guard:
            self._in_flight.get(address, set()).clear()

    def settled(self, address: str, nonce: int) -> None:
        """The transaction with ``nonce`` was mined (or given up): it is no longer in flight."""
        with self._guard:
            self._in_flight.get(address, set()).discard(nonce)


class AccountFileLock:
    """One account's lock across processes: a file locked with ``flock`` in the user's temporary directory.

    The kernel releases it when its holder exits, however it exits. A holder
    that keeps it past ``ACCOUNT_LOCK_WAIT_S`` (stuck on an unreachable node)
    is not waited for any longer: the nonce retries still resolve a collision.
    """

    @staticmethod
    @contextmanager
    def held(chain: str | None, address: str) -> Iterator[None]:
        """Holds the lock of ``address`` on ``chain`` (a name unique to one chain); nothing if ``chain`` is None."""
        if chain is None or fcntl is None:
            yield
            return
        folder = Path(tempfile.gettempdir()) / f"mpcc-accounts-{os.getuid()}"
        folder.mkdir(mode=0o700, exist_ok=True)
        path = folder / f"{chain}-{address.lower()}.lock"
        with open(path, "a+b") as handle:
            locked = AccountFileLock._acquire(handle.fileno(), address, path)
            try:
                yield
            finally:
                if locked:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    @staticmethod
    def _acquire(fd: int, address: str, path: Path) -> bool:
        """Whether the lock was taken within ``ACCOUNT_LOCK_WAIT_S`` (else the caller sends without it)."""
        deadline = time.monotonic() + ACCOUNT_LOCK_WAIT_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() > deadline:
                    log.warning("another process has held the lock of account %s for %g s (%s); sending "
                                "without it", address, ACCOUNT_LOCK_WAIT_S, path)
                    return False
                time.sleep(ACCOUNT_LOCK_POLL_S)


@dataclass
class _NonceLease:
    nonce: int
    sent: bool = False


@dataclass(frozen=True)
class Sent:
    """A mined transaction: its receipt plus what the caller wants to report."""

    tx_hash: str
    receipt: TxReceipt
    gas_used: int
    label: str
    waited_s: float = 0.0  # From sending to the receipt: about a block time on a mining chain.


@dataclass(frozen=True)
class TxFacts:
    """What anyone can read of a mined transaction: who sent it, the gas it used, its block."""

    tx_hash: str
    sender: str
    gas_used: int
    block_number: int


class Chain:
    """One chain connection: reads, and transactions from local signers."""

    def __init__(self, w3: Web3, url: str, tester: Any = None) -> None:
        self.w3 = w3
        self.url = url
        self.tester = tester
        self.chain_id = int(w3.eth.chain_id)
        # The in-process chain serves this process only: nothing to share its accounts with.
        self.nonces = NonceBook(None if tester is not None else self._lock_name)
        self.log: list[Sent] = []
        self._log_lock = threading.Lock()

    def _lock_name(self) -> str:
        """The chain's name for account locks: its id and genesis block, so that two local nodes with
        the same chain id (and the same well-known test accounts) do not share locks."""
        genesis = bytes(self.w3.eth.get_block(0)["hash"]).hex()
        return f"{self.chain_id}-{genesis[:16]}"

    @classmethod
    def connect(cls, url: str, expected_chain_id: int | None = None, patience_s: float = RPC_PATIENCE_S) -> Chain:
        """Connect to ``url`` (or the in-process chain for ``memory``) and check the chain id.

        Requests ride out an outage of the node for up to ``patience_s`` seconds
        (the first request excepted: a node unreachable at the start is an error).
        """
        if url == MEMORY:
            raise ConfigError("the in-process chain lives only inside one process: use `mpcc demo`, "
                              "or a node's URL (e.g. `npx hardhat node`)")
        provider = GuardedHTTPProvider(
            url,
            request_kwargs={"timeout": 30},
            exception_retry_configuration=ExceptionRetryConfiguration(
                errors=(requests.ConnectionError, requests.Timeout), retries=3, backoff_factor=0.3
            ),
        )
        try:
            chain = cls(Web3(provider), url)
        except RpcUnreachable:
            raise
        except Exception as err:  # any failure of the first call means unreachable
            raise RpcUnreachable(url, _short(err)) from err
        provider.patience_s = patience_s
        if expected_chain_id is not None and chain.chain_id != expected_chain_id:
            raise ChainIdMismatch(expected_chain_id, chain.chain_id, url)
        return chain

    # Accounts -----------------------------------------------------------

    def test_account(self, index: int = 0) -> LocalAccount:
        """A pre-funded account of a local test chain (never of a public one)."""
        if self.tester is not None:
            keys = self.tester.backend.account_keys
            account: LocalAccount = Account.from_key(keys[index].to_bytes())
            return account
        if self.chain_id == 31337 and index == 0:
            hardhat: LocalAccount = Account.from_key(HARDHAT_TEST_KEY_0)
            return hardhat
        raise ChainError(
            f"chain {self.chain_id} at {self.url} has no well-known test accounts; "
            "use --keystore with a funded account"
        )

    def balance(self, address: str) -> int:
        return int(self.w3.eth.get_balance(Web3.to_checksum_address(address)))

    def fund(self, sender: LocalAccount, to: str, wei: int) -> Sent:
        """Send ``wei`` from ``sender`` to ``to`` (local test chains: pays for gas)."""
        tx = {"to": Web3.to_checksum_address(to), "value": wei, "gas": 21_000}
        return self._sign_and_send(sender, tx, f"fund {to[:10]}")

    # Transactions -------------------------------------------------------

    def transact(self, sender: LocalAccount, call: Any, label: str, closing_gas: int = 0) -> Sent:
        """Pre-flight, sign and send a contract function call; wait for its receipt.

        ``closing_gas`` is what the call costs beyond its estimate when it is the last
        of the job's participants to be mined (it then also moves the job on, or runs
        the on-chain check): peers post at the same moment, each estimates on a state
        where the others have not posted yet, and any of them may be mined last.
        """
        self._check_funds(sender.address, {"gas": 1, "maxFeePerGas": 1}, label)
        return self._sign_and_send(sender, lambda nonce: _with_headroom(
            call.build_transaction({"from": sender.address, "nonce": nonce}), closing_gas), label)

    def deploy(self, sender: LocalAccount, contract: Any, args: tuple[Any, ...], label: str) -> Sent:
        """Deploy ``contract`` (a web3 contract factory) with constructor ``args``."""
        self._check_funds(sender.address, {"gas": 1, "maxFeePerGas": 1}, label)
        return self._sign_and_send(sender, lambda nonce: _with_headroom(
            contract.constructor(*args).build_transaction({"from": sender.address, "nonce": nonce})), label)

    def _sign_and_send(self, sender: LocalAccount, build: Any, label: str) -> Sent:
        """Build (with the account's next nonce), sign and send; then wait for the receipt.

        The gas limit is the estimate plus headroom, made on the state before the
        transaction is mined. Another transaction mined first can make it cost more
        (the last participant's result finalises the job, the last opening runs the
        verification); one that runs out of gas so is estimated again on the new
        state and sent again, up to ``GAS_RETRIES`` times.
        """
        for attempt in range(GAS_RETRIES + 1):
            tx, receipt, waited = self._send_once(sender, build, label)
            if receipt["status"] == 1:
                sent = Sent("0x" + bytes(receipt["transactionHash"]).hex(), receipt, int(receipt["gasUsed"]), label,
                            waited)
                with self._log_lock:
                    self.log.append(sent)
                    if len(self.log) > LOG_KEEP:  # A daemon runs for months: keep the latest only.
                        del self.log[:LOG_KEEP // 2]
                return sent
            if not callable(build) or attempt == GAS_RETRIES or not _out_of_gas(tx, receipt):
                break
        raise TransactionFailed(f"{label}: transaction 0x{bytes(receipt['transactionHash']).hex()} reverted")

    def _send_once(self, sender: LocalAccount, build: Any, label: str) -> tuple[dict[str, Any], TxReceipt, float]:
        """Sign and send with the account's next nonce; wait for the receipt.

        A transaction the node dropped (see ``wait_for_receipt``) whose nonce another
        transaction of the account then took was never mined: it is built and signed
        again with the next nonce, like one whose nonce was taken before it was sent.
        """
        for dropped in itertools.count():
            tx, raw, tx_hash, nonce = self._sign_and_send_once(sender, build, label)
            sent_at = time.monotonic()
            try:
                receipt = self.wait_for_receipt(tx_hash, label, raw=raw, sender=sender, nonce=nonce)
                return tx, receipt, time.monotonic() - sent_at
            except TransactionDropped as err:
                if dropped >= NONCE_RETRIES:
                    raise
                log.warning("%s; sending it again with the next nonce", err)
            finally:
                self.nonces.settled(sender.address, nonce)
        raise AssertionError("unreachable")  # pragma: no cover

    def _sign_and_send_once(self, sender: LocalAccount, build: Any, label: str
                            ) -> tuple[dict[str, Any], bytes, Any, int]:
        """The transaction, its signed bytes, its hash and its nonce, once the node accepted it."""
        for attempt in itertools.count():
            with self.nonces.hold(sender.address, lambda: self._pending_count(sender.address)) as lease:
                try:
                    # The gas estimate is made with the nonce: a node refuses it too once the nonce is taken.
                    tx = dict(build(lease.nonce)) if callable(build) else dict(build)
                    tx.setdefault("from", sender.address)
                    tx["nonce"] = lease.nonce
                    tx["chainId"] = self.chain_id
                    tx.update(self._fees())
                    tx.pop("gasPrice", None)
                    self._check_funds(sender.address, tx, label)
                    signed = sender.sign_transaction(tx)
                    tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
                except (Web3RPCError, ContractLogicError, ValueError) as err:
                    if _nonce_ahead(err) and attempt < NONCE_RETRIES:
                        # The node forgot transactions this process still waits for (a reorganisation,
                        # a reverted snapshot): count from the node's nonce, not past the lost ones.
                        self.nonces.forget(sender.address)
                        log.warning("%s: the chain node no longer has the account's transactions up to nonce "
                                    "%d (a reorganisation?); counting from its own nonce again", label,
                                    lease.nonce)
                        continue
                    if not _nonce_taken(err):
                        raise
                    if attempt >= NONCE_RETRIES:
                        # Not a revert: say what happened (a node words it like a failed call).
                        raise ChainError(f"{label}: other senders from account {sender.address} took its next "
                                         f"nonce {attempt + 1} times in a row (processes on another machine, "
                                         "or a node slower than they are); send it again once they are "
                                         "done") from err
                    log.info("%s: nonce %d of %s was taken by another process sending from this account; "
                             "sending again with the next one", label, lease.nonce, sender.address)
                else:
                    lease.sent = True
                    return tx, bytes(signed.raw_transaction), tx_hash, lease.nonce
            time.sleep(random.uniform(*NONCE_RETRY_PAUSE_S))  # noqa: S311 (a jitter) Out of the lock: the other sender moves on.
        raise AssertionError("unreachable")  # pragma: no cover

    def wait_for_receipt(self, tx_hash: Any, label: str, timeout: float = RECEIPT_TIMEOUT_S,
                         raw: bytes | None = None, sender: LocalAccount | None = None,
                         nonce: int | None = None) -> TxReceipt:
        """The receipt of a sent transaction, looked up with a growing interval until ``timeout``.

        With ``raw``, the signed transaction, one the node no longer knows for
        ``REBROADCAST_AFTER_S`` (a reorganisation, a restarted node or a local chain
        reverted to a snapshot dropped it) is sent again, as signed: the same nonce
        and hash, so it cannot be mined twice. If another transaction of the account
        took its nonce meanwhile, ``TransactionDropped``: this one can no longer be mined.

        With the ``sender`` and the transaction's ``nonce`` as well, nonces below it
        that the node has no transaction for after ``NONCE_GAP_PATIENCE_S`` are filled
        (``_fill_nonce_gap``): a reorganisation that dropped a transaction whose
        receipt was already in leaves a gap nobody else sends into, and a node that
        queues transactions (one mining every few seconds) would hold this one, and
        every later one of the account, until the gap closes.
        """
        started = time.monotonic()
        deadline, interval = started + timeout, RECEIPT_POLL_S[0]
        checked, missing_since, behind_since = started, None, None
        while True:
            try:
                return self.w3.eth.get_transaction_receipt(tx_hash)
            except TransactionNotFound:
                pass
            now = time.monotonic()
            if now > deadline:
                raise ChainError(f"{label}: no receipt for 0x{bytes(tx_hash).hex()} after {timeout:g} s")
            if raw is not None and now - checked >= KNOWN_CHECK_S:
                checked = now
                if sender is not None and nonce is not None:
                    if self._pending_count(sender.address) < nonce:
                        behind_since = now if behind_since is None else behind_since
                        if now - behind_since >= NONCE_GAP_PATIENCE_S:
                            self._fill_nonce_gap(sender, nonce, label)
                            behind_since = None
                    else:
                        behind_since = None
                if self._knows(tx_hash):
                    missing_since = None
                elif missing_since is None:
                    missing_since = now
                elif now - missing_since >= REBROADCAST_AFTER_S:
                    self._send_again(raw, tx_hash, label)
                    missing_since = None
            time.sleep(interval)
            interval = min(interval * 2, RECEIPT_POLL_S[1])

    def _pending_count(self, address: str) -> int:
        """The account's next nonce as the node counts it: mined and pending transactions, not queued ones."""
        return int(self.w3.eth.get_transaction_count(Web3.to_checksum_address(address), "pending"))

    def _fill_nonce_gap(self, sender: LocalAccount, nonce: int, label: str) -> None:
        """Send an empty transfer to itself for each nonce below ``nonce`` the node has no transaction for.

        Under the account's lock, counted again there: a gap another waiter of this
        process filled meanwhile is not filled twice. A transaction of the account
        that is still awaited with one of these nonces (sent again later) finds its
        nonce taken and is signed again with the next one (``TransactionDropped``).
        """
        with self.nonces.locked(sender.address):
            first = self._pending_count(sender.address)
            if first >= nonce:
                return
            log.warning("%s: the chain node has no transaction of account %s for nonces %d to %d (a "
                        "reorganisation dropped mined ones?) and holds nonce %d behind them; filling the gap "
                        "with empty transfers", label, sender.address, first, nonce - 1, nonce)
            fees = self._fees()
            for missing in range(first, nonce):
                tx: dict[str, Any] = {"to": sender.address, "value": 0, "gas": 21_000, "nonce": missing,
                                      "chainId": self.chain_id, **fees}
                try:
                    self.w3.eth.send_raw_transaction(sender.sign_transaction(tx).raw_transaction)
                except (Web3RPCError, ValueError) as err:
                    if not (_nonce_taken(err) or _already_known(err)):
                        raise
                    log.info("%s: nonce %d of %s was sent meanwhile (%s)", label, missing, sender.address,
                             _short(err))

    def _knows(self, tx_hash: Any) -> bool:
        """Whether the node has the transaction, pending or mined."""
        try:
            self.w3.eth.get_transaction(tx_hash)
        except TransactionNotFound:
            return False
        return True

    def _send_again(self, raw: bytes, tx_hash: Any, label: str) -> None:
        """Send a dropped transaction again as signed; ``TransactionDropped`` if its nonce was taken."""
        name = f"0x{bytes(tx_hash).hex()}"
        try:
            self.w3.eth.send_raw_transaction(raw)
        except (Web3RPCError, ValueError) as err:
            if _already_known(err):
                return
            if _nonce_ahead(err):
                # A node that mines at once cannot queue it behind the account's missing nonces:
                # the gap is filled (``wait_for_receipt``), then it is sent again.
                log.info("%s: the chain node refuses transaction %s until the nonces below it are sent",
                         label, name)
                return
            if not _nonce_taken(err):
                raise
            try:
                self.w3.eth.get_transaction_receipt(tx_hash)  # Mined after all, just now.
            except TransactionNotFound:
                raise TransactionDropped(
                    f"{label}: the chain node dropped transaction {name} (a reorganisation?) and another "
                    "transaction of the account took its nonce") from err
            return
        log.warning("%s: the chain node no longer knew transaction %s (a reorganisation, a restarted node "
                    "or a reverted snapshot dropped it); sent it again", label, name)

    def _check_funds(self, address: str, tx: dict[str, Any], label: str) -> None:
        """Refuse, before sending, a transaction the sender cannot pay for.

        Called once before gas estimation (which some nodes refuse for an empty
        account) with a token cost, and once with the real upfront cost.
        """
        upfront = int(tx["gas"]) * int(tx["maxFeePerGas"]) + int(tx.get("value", 0))
        balance = self.balance(address)
        if balance < upfront:
            raise InsufficientFunds(
                f"{label}: account {address} holds {balance / 1e18:.6f} ETH but the transaction may "
                f"cost up to {upfront / 1e18:.6f} ETH; fund the account (on a local test chain: "
                "`mpcc dev fund ADDRESS`)"
            )

    def _fees(self) -> dict[str, int]:
        """EIP-1559 fees: twice the base fee plus the node's suggested tip."""
        base = int(self.w3.eth.get_block("latest").get("baseFeePerGas", 0) or 0)
        try:
            tip = int(self.w3.eth.max_priority_fee)
        except Exception:  # nodes without eth_maxPriorityFeePerGas
            tip = 10**9
        return {"maxFeePerGas": 2 * base + tip, "maxPriorityFeePerGas": tip}

    # Reads of the chain itself ----------------------------------------------

    def head(self) -> int:
        """The latest block's number."""
        return int(self.w3.eth.block_number)

    def tx_facts(self, tx_hash: str) -> TxFacts:
        """The sender, gas used and block of a mined transaction (read from its receipt)."""
        receipt = self.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
        return TxFacts(tx_hash, Web3.to_checksum_address(receipt["from"]), int(receipt["gasUsed"]),
                       int(receipt["blockNumber"]))

    # Time (local chains) --------------------------------------------------

    def now(self) -> int:
        """Timestamp of the latest block."""
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def advance_time(self, seconds: int) -> None:
        """Move a local test chain's clock forward and mine a block."""
        if self.tester is not None:
            self.tester.time_travel(self.now() + seconds)
            return
        self.w3.provider.make_request(RPCEndpoint("evm_increaseTime"), [seconds])
        self.w3.provider.make_request(RPCEndpoint("evm_mine"), [])


class GuardedHTTPProvider(HTTPProvider):
    """A JSON-RPC node's provider that refuses requests from a thread running an event loop.

    It rides out an outage of the node for up to ``patience_s`` seconds: a
    request that cannot connect, or gets no answer in time, is sent again with
    growing pauses. A transaction sent again after an outage may have reached
    the node the first time: the node's answer that it knows it (or that its
    nonce is used, as it is once that transaction is mined) is taken as its
    hash, and the receipt wait that follows tells whether it was mined.
    """

    def __init__(self, *args: Any, patience_s: float = 0.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.patience_s = patience_s

    def make_request(self, method: Any, params: Any) -> Any:
        refuse_on_event_loop(str(method))
        started, pause, retried = time.monotonic(), RPC_RETRY_PAUSE_S[0], False
        while True:
            try:
                response = super().make_request(method, params)
            except (requests.ConnectionError, requests.Timeout) as err:
                if time.monotonic() - started + pause > self.patience_s:
                    waited = f" (waited {time.monotonic() - started:.0f} s)" if retried else ""
                    raise RpcUnreachable(str(self.endpoint_uri), f"{_short(err)}; request {method}{waited}") from err
                if not retried:
                    log.warning("chain node %s did not answer %s (%s); trying again for up to %g s",
                                self.endpoint_uri, method, _short(err), self.patience_s)
                retried = True
                time.sleep(pause)
                pause = min(2 * pause, RPC_RETRY_PAUSE_S[1])
                continue
            if retried:
                log.warning("chain node %s answered again after %.1f s", self.endpoint_uri,
                            time.monotonic() - started)
                if method == "eth_sendRawTransaction" and _sent_before(response):
                    return {"jsonrpc": "2.0", "id": response.get("id"),
                            "result": Web3.to_hex(Web3.keccak(hexstr=params[0]))}
            return response


def _nonce_taken(err: Exception) -> bool:
    """Whether a node refused a transaction because another one of its account has its nonce.

    Another process sending from the same account (two `mpcc` commands of one
    organisation at once) takes the nonce this one counted: the node says the
    nonce is too low (the other was mined) or the replacement is underpriced
    (the other is pending). The transaction is then signed again with the next nonce.
    """
    message = str(err).lower()
    return any(words in message for words in ("nonce too low", "replacement transaction underpriced",
                                              "nonce has already been used"))


def _nonce_ahead(err: Exception) -> bool:
    """Whether a node refused a transaction whose nonce is past the account's next one.

    A node that mines at once (Hardhat's automining) cannot queue it; this process
    counted past transactions the node has since forgotten.
    """
    return "nonce too high" in str(err).lower()


def _already_known(err: Exception) -> bool:
    """Whether a node refused a transaction because it has it already (pending)."""
    message = str(err).lower()
    return "known transaction" in message or "already known" in message


def _sent_before(response: Any) -> bool:
    """Whether a node's error to a transaction sent again says it already has it (or mined it)."""
    error = response.get("error") if isinstance(response, dict) else None
    message = str(error.get("message", "")).lower() if isinstance(error, dict) else ""
    return any(words in message for words in ("known transaction", "already known", "nonce too low"))


def _out_of_gas(tx: dict[str, Any], receipt: TxReceipt) -> bool:
    """A reverted transaction that used (nearly) all its gas: by the 63/64 rule an inner call
    that runs out leaves its caller at most 1/64 of the limit to revert with."""
    return int(receipt["gasUsed"]) >= int(tx["gas"]) * 63 // 64


def _with_headroom(tx: dict[str, Any], closing_gas: int = 0) -> dict[str, Any]:
    """Pad web3's gas estimate (the 63/64 rule can make the exact estimate fall short), plus
    the cost of the path that closes a phase, should this transaction be mined last."""
    return {**tx, "gas": int((tx["gas"] + closing_gas) * GAS_HEADROOM)}


def _short(err: BaseException) -> str:
    """The root cause of a failed request, not the wrapping it came in (which hides it at the end)."""
    text = " ".join(str(err).split()) or type(err).__name__
    # requests wraps urllib3, which wraps the socket's error: "... [Errno 111] Connection refused'))".
    cause = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
    if cause:
        return f"{cause.group(1).strip()} ({_errno_of(text)})"
    return text if len(text) <= 300 else text[:150] + " ... " + text[-140:]


def _errno_of(text: str) -> str:
    found = re.search(r"\[Errno (-?\d+)\]", text)
    return f"errno {found.group(1)}" if found else "socket error"


__all__ = [
    "HARDHAT_TEST_KEY_0",
    "LOCAL_CHAIN_IDS",
    "MEMORY",
    "BlockingChainCall",
    "Chain",
    "ContractCustomError",
    "ContractLogicError",
    "GuardedHTTPProvider",
    "NonceBook",
    "Sent",
]
