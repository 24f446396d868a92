"""The base of the typed contract clients: calls, transactions, reverts, events.

A client wraps one deployed contract. Its calls and transactions decode a
custom-error revert into the contract's named exception (see
``onchain.reverts``) before anything is sent, and its transactions return the
typed events they emitted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Iterator

from eth_account.signers.local import LocalAccount
from eth_utils import event_abi_to_log_topic
from web3 import Web3
from web3.exceptions import ContractCustomError, ContractLogicError, Web3RPCError

from onchain.artifacts import load
from onchain.chain import Chain, Sent
from onchain.errors import ContractRevert, TransactionFailed
from onchain.events import EventBase, to_event
from onchain.reverts import ErrorSet, errors_of, revert_data

LOG_CHUNK = 5_000


@dataclass(frozen=True)
class Receipt:
    """A mined transaction with the events it emitted, decoded."""

    sent: Sent
    events: tuple[EventBase, ...]

    @property
    def gas_used(self) -> int:
        return self.sent.gas_used

    @property
    def tx_hash(self) -> str:
        return self.sent.tx_hash

    def first(self, name: str) -> EventBase:
        """The first event called ``name``; ``LookupError`` if none was emitted."""
        for event in self.events:
            if event.event_name == name:
                return event
        raise LookupError(f"{self.sent.label}: no {name} event in transaction {self.tx_hash}")

    def named(self, name: str) -> list[EventBase]:
        return [e for e in self.events if e.event_name == name]


class ContractClient:
    """A deployed contract: ``NAME`` is its artifact name."""

    NAME: ClassVar[str] = ""

    def __init__(self, chain: Chain, address: str) -> None:
        self.chain = chain
        self.address = Web3.to_checksum_address(address)
        self.contract = chain.w3.eth.contract(address=self.address, abi=load(self.NAME).abi)
        self.errors: ErrorSet = errors_of(self.NAME)
        self._topics = {
            event_abi_to_log_topic(item): item["name"]
            for item in self.contract.abi if item.get("type") == "event"
        }

    def _call(self, function: str, *args: Any) -> Any:
        try:
            return self.contract.functions[function](*args).call()
        except (ContractCustomError, ContractLogicError) as err:
            raise self._decoded(err) from err

    def _send(self, sender: LocalAccount, function: str, *args: Any) -> Receipt:
        label = f"{self.NAME}.{function}"
        call = self.contract.functions[function](*args)
        try:
            sent = self.chain.transact(sender, call, label)
        except (ContractCustomError, ContractLogicError, Web3RPCError) as err:
            # Web3RPCError: a node refused to send a transaction that reverts by now (e.g.
            # another peer expired the job first); it carries the revert data too.
            raise self._decoded(err) from err
        return Receipt(sent, tuple(self.decode_logs(sent.receipt["logs"])))

    def _decoded(self, err: Exception) -> Exception:
        data = revert_data(err)
        decoded = self.errors.decode(data) if data else None
        if decoded is not None:
            return decoded
        return TransactionFailed(f"{self.NAME}: reverted: {err}")

    def decode_logs(self, logs: list[Any]) -> Iterator[EventBase]:
        """The typed events among raw ``logs`` that this contract emitted."""
        for log in logs:
            if Web3.to_checksum_address(log["address"]) != self.address or not log["topics"]:
                continue
            name = self._topics.get(bytes(log["topics"][0]))
            if name is not None:
                yield to_event(self.NAME, self.contract.events[name]().process_log(log))

    def events(self, from_block: int = 0, to_block: int | str = "latest",
               names: tuple[str, ...] = ()) -> list[EventBase]:
        """Every event of this contract in a block range, in chain order."""
        last = self.chain.w3.eth.block_number if to_block == "latest" else int(to_block)
        found: list[EventBase] = []
        for start in range(from_block, last + 1, LOG_CHUNK):
            logs = self.chain.w3.eth.get_logs({
                "address": self.address, "fromBlock": start, "toBlock": min(start + LOG_CHUNK - 1, last),
            })
            found.extend(e for e in self.decode_logs(list(logs)) if not names or e.event_name in names)
        return sorted(found, key=lambda e: (e.block_number, e.log_index))


def is_revert(err: BaseException, name: str) -> bool:
    """True when ``err`` is the decoded custom error ``name``."""
    return isinstance(err, ContractRevert) and err.error_name == name
