"""Contract events as typed, immutable values.

Each event of an ABI is a frozen dataclass generated into ``onchain.abi``
(see ``onchain.codegen``): the event's arguments as typed fields, under their
ABI names, plus where it happened (block, transaction, log index, emitter),
so an audit can rebuild state from logs alone and cite each piece of evidence.
This module holds their common base and the decoding of a raw log.
"""

from __future__ import annotations

import dataclasses
import keyword
from collections.abc import Mapping
from functools import cache
from typing import Any, ClassVar, NamedTuple, Self

from onchain.abicodec import Param, Values, address, decode, from_topic
from onchain.artifacts import load

LOCATION_FIELDS = ("block_number", "tx_hash", "log_index", "address")


class Location(NamedTuple):
    """Where a log was emitted: block, transaction, index in the block, emitting contract."""

    block_number: int
    tx_hash: str
    log_index: int
    address: str


@dataclasses.dataclass(frozen=True)
class EventBase:
    """Fields every event carries; each generated subclass adds the event's arguments.

    ``TOPIC0`` is the keccak of ``SIGNATURE``; ``INDEXED`` names the indexed
    arguments in topic order (topics 1..3), which log queries may filter on.
    """

    block_number: int
    tx_hash: str
    log_index: int
    address: str

    CONTRACT: ClassVar[str] = ""
    SIGNATURE: ClassVar[str] = ""
    TOPIC0: ClassVar[bytes] = b""
    INPUTS: ClassVar[tuple[Param, ...]] = ()
    INDEXED: ClassVar[tuple[str, ...]] = ()

    @property
    def event_name(self) -> str:
        return type(self).__name__

    @property
    def location(self) -> Location:
        return Location(self.block_number, self.tx_hash, self.log_index, self.address)

    def args(self) -> dict[str, Any]:
        """The event's own arguments, by name."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in LOCATION_FIELDS}

    @classmethod
    def from_abi(cls, at: Location, args: Values) -> Self:
        raise NotImplementedError(f"{cls.__name__} is not generated from an ABI event")

    @classmethod
    def decode(cls, log: Mapping[str, Any]) -> Self:
        """A raw log (as ``eth_getLogs`` or a receipt gives it) of this event."""
        topics = [bytes(t) for t in log["topics"]]
        if not topics or topics[0] != cls.TOPIC0:
            raise ValueError(f"log {log.get('logIndex')} of tx {_hex(log.get('transactionHash'))} "
                             f"is not a {cls.SIGNATURE} event")
        indexed = [p for p in cls.INPUTS if p.indexed]
        if len(topics) != len(indexed) + 1:
            raise ValueError(f"a {cls.SIGNATURE} log has {len(topics) - 1} indexed topics, not {len(indexed)}")
        args = decode([p for p in cls.INPUTS if not p.indexed], bytes(log["data"]))
        args.update({p.name: from_topic(p, t) for p, t in zip(indexed, topics[1:], strict=True)})
        at = Location(int(log["blockNumber"]), _hex(log["transactionHash"]), int(log["logIndex"]),
                      address(log["address"]))
        return cls.from_abi(at, args)


def _hex(value: Any) -> str:
    return "0x" + bytes(value).hex() if value is not None else "?"


# The untyped decoding the clients use until they switch to the generated classes.


@cache
def event_types(contract_name: str) -> dict[str, type[EventBase]]:
    """A dataclass per event of ``contract_name``'s ABI, with untyped fields."""
    types: dict[str, type[EventBase]] = {}
    for item in load(contract_name).abi:
        if item.get("type") != "event":
            continue
        fields = [(_field_name(i["name"]), Any) for i in item["inputs"]]
        types[item["name"]] = dataclasses.make_dataclass(
            item["name"], fields, bases=(EventBase,), frozen=True, namespace={"__module__": __name__}
        )
    return types


def to_event(contract_name: str, log: Any) -> EventBase:
    """A decoded web3 log (``AttributeDict`` with ``event`` and ``args``) as a value."""
    cls = event_types(contract_name)[log["event"]]
    args = {_field_name(k): _plain(v) for k, v in dict(log["args"]).items()}
    return cls(
        block_number=int(log["blockNumber"]),
        tx_hash="0x" + bytes(log["transactionHash"]).hex(),
        log_index=int(log["logIndex"]),
        address=str(log["address"]),
        **args,
    )


def _field_name(name: str) -> str:
    return f"{name}_" if keyword.iskeyword(name) else name


def _plain(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_plain(v) for v in value)
    if isinstance(value, bytearray):
        return bytes(value)
    return value
