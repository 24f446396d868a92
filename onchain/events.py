"""Contract events as typed, immutable values.

Each event of an ABI is a frozen dataclass generated into ``onchain.abi``
(see ``onchain.codegen``): the event's arguments as typed fields, under their
ABI names, plus where it happened (block, transaction, log index, emitter),
so an audit can rebuild state from logs alone and cite each piece of evidence.
This module holds their common base and the decoding of a raw log.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar, NamedTuple, Self

from onchain.abicodec import Param, Values, address, decode, from_topic

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
