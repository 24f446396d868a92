"""The base of the typed contract clients: calls, transactions, reverts, events.

A client wraps one deployed contract and the classes generated from its ABI
(``onchain.abi``): its reads return generated structs, its transactions
return the typed events they emitted, and a custom-error revert, refused
before anything is sent, is raised as its generated exception class. Its log
queries ask the node for one event's topic and indexed arguments only, through
the process's log cache (``onchain.logcache``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.exceptions import ContractCustomError, ContractLogicError, Web3RPCError

from onchain.abi import ERROR_TABLES
from onchain.abicodec import Param, Struct, topic
from onchain.artifacts import load
from onchain.chain import Chain, Sent
from onchain.errors import TransactionFailed
from onchain.events import EventBase
from onchain.logcache import LogFilter, Topics, cache_of
from onchain.reverts import ErrorTable, decode_revert, revert_data

E = TypeVar("E", bound=EventBase)
S = TypeVar("S", bound=Struct)


@dataclass(frozen=True)
class Receipt:
    """A mined transaction with the events the called contract emitted, typed."""

    sent: Sent
    events: tuple[EventBase, ...]

    @property
    def gas_used(self) -> int:
        return self.sent.gas_used

    @property
    def tx_hash(self) -> str:
        return self.sent.tx_hash

    def first(self, event: type[E]) -> E:
        """The first ``event`` emitted; ``LookupError`` if none was."""
        for found in self.named(event):
            return found
        raise LookupError(f"{self.sent.label}: no {event.__name__} event in transaction {self.tx_hash}")

    def named(self, event: type[E]) -> list[E]:
        """Every ``event`` emitted, in order."""
        return [e for e in self.events if isinstance(e, event)]


class ContractClient:
    """A deployed contract: ``NAME`` is its artifact, ``EVENTS`` and ``ERRORS`` its generated classes."""

    NAME: ClassVar[str] = ""
    EVENTS: ClassVar[Sequence[type[EventBase]]] = ()
    ERRORS: ClassVar[ErrorTable] = {}

    def __init__(self, chain: Chain, address: str) -> None:
        self.chain = chain
        self.address = Web3.to_checksum_address(address)
        self.contract = chain.w3.eth.contract(address=self.address, abi=load(self.NAME).abi)
        self._by_topic = {event.TOPIC0: event for event in self.EVENTS}
        self._logs = cache_of(chain)

    # Reads ---------------------------------------------------------------

    def _call(self, function: str, *args: Any) -> Any:
        try:
            return self.contract.functions[function](*args).call()
        except (ContractCustomError, ContractLogicError) as err:
            raise self._decoded(err) from err

    def _read(self, struct: type[S], function: str, *args: Any) -> S:
        """A view's result as ``struct``: its one struct output, or its several outputs, by name."""
        raw = self._call(function, *args)
        return struct.decoded(raw)

    # Transactions --------------------------------------------------------

    def _send(self, sender: LocalAccount, function: str, *args: Any, closing_gas: int = 0) -> Receipt:
        """Send ``function(*args)``; ``closing_gas`` as in ``Chain.transact``."""
        label = f"{self.NAME}.{function}"
        call = self.contract.functions[function](*args)
        try:
            sent = self.chain.transact(sender, call, label, closing_gas)
        except (ContractCustomError, ContractLogicError, Web3RPCError) as err:
            # Web3RPCError: a node refused to send a transaction that reverts by now (e.g.
            # another peer expired the job first); it carries the revert data too.
            raise self._decoded(err) from err
        return Receipt(sent, tuple(self.decode_logs(sent.receipt["logs"])))

    def _decoded(self, err: Exception) -> Exception:
        """The generated exception of a revert: this contract's errors first, then those of the
        contracts it calls (a JobManager call reverts with the ledger's errors, too)."""
        data = revert_data(err)
        decoded = decode_revert(data, self.ERRORS, *ERROR_TABLES) if data else None
        if decoded is not None:
            return decoded
        return TransactionFailed(f"{self.NAME}: reverted: {err}")

    # Events --------------------------------------------------------------

    def decode_logs(self, logs: Iterable[Mapping[str, Any]]) -> Iterator[EventBase]:
        """The typed events among raw ``logs`` that this contract emitted (others are skipped)."""
        for log in logs:
            if Web3.to_checksum_address(log["address"]) != self.address or not log["topics"]:
                continue
            event = self._by_topic.get(bytes(log["topics"][0]))
            if event is not None:
                yield event.decode(log)

    def logs(self, *events: type[E], from_block: int = 0, to_block: int | None = None,
             **where: Any) -> list[E]:
        """This contract's ``events`` in blocks [from_block, to_block] (to the tip by default), in chain order.

        The node filters them: by topic0 and by the indexed arguments named in
        ``where`` (ABI names, e.g. ``jobId=3``; a list matches any of its values).
        Blocks already read are answered from the process's log cache.
        """
        if not events:
            raise TypeError("logs() needs at least one event class")
        flt = LogFilter(self.address, _topics(events, where))
        by_topic: dict[bytes, type[E]] = {event.TOPIC0: event for event in events}
        return [by_topic[bytes(log["topics"][0])].decode(log)
                for log in self._logs.logs(flt, from_block, to_block)]


def _topics(events: Sequence[type[EventBase]], where: Mapping[str, Any]) -> Topics:
    """The filter's topics: topic0 of any of ``events``, then each indexed argument in ``where``.

    An argument must be indexed at the same position, with the same type, in every event.
    """
    slots: list[tuple[str, ...] | None] = [tuple(sorted({"0x" + e.TOPIC0.hex() for e in events}))]
    for name, wanted in where.items():
        if wanted is None:
            continue
        position, param = _indexed(events, name)
        values = wanted if isinstance(wanted, (list, tuple, set, frozenset)) else [wanted]
        if not values:
            raise ValueError(f"no value of {name} to filter on")
        slots += [None] * (position + 1 - len(slots))
        slots[position] = tuple(sorted({topic(param, v) for v in values}))
    return tuple(slots)


def _indexed(events: Sequence[type[EventBase]], name: str) -> tuple[int, Param]:
    """The topic position and parameter of indexed argument ``name``, the same in every event."""
    found = {_position(event, name) for event in events}
    if len(found) > 1:
        raise TypeError(f"{name} is indexed at different positions or types in {[e.__name__ for e in events]}")
    return found.pop()


def _position(event: type[EventBase], name: str) -> tuple[int, Param]:
    indexed = [p for p in event.INPUTS if p.indexed]
    for i, param in enumerate(indexed):
        if name in (param.name, f"{param.name}_"):
            return i + 1, param
    raise TypeError(f"{event.__name__} has no indexed argument {name}; it has {', '.join(event.INDEXED) or 'none'}")
