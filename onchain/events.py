"""Contract events decoded into typed, immutable values.

Each event of an ABI becomes a frozen dataclass with the event's arguments as
fields plus where it happened (block, transaction, log index, emitter), so an
audit can rebuild state from logs alone and cite each piece of evidence.
"""

from __future__ import annotations

import dataclasses
import keyword
from functools import lru_cache
from typing import Any

from onchain.artifacts import load

_LOCATION_FIELDS = ("block_number", "tx_hash", "log_index", "address")


@dataclasses.dataclass(frozen=True)
class EventBase:
    """Fields every decoded event carries; subclasses add the event's arguments."""

    block_number: int
    tx_hash: str
    log_index: int
    address: str

    @property
    def event_name(self) -> str:
        return type(self).__name__

    def args(self) -> dict[str, Any]:
        """The event's own arguments, by name."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if f.name not in _LOCATION_FIELDS}


@lru_cache(maxsize=None)
def event_types(contract_name: str) -> dict[str, type[EventBase]]:
    """A dataclass per event of ``contract_name``'s ABI."""
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
    """A decoded web3 log (``AttributeDict`` with ``event`` and ``args``) as a typed value."""
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
    """An ABI argument name usable as a Python field (``from`` becomes ``from_``)."""
    return f"{name}_" if keyword.iskeyword(name) else name


def _plain(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_plain(v) for v in value)
    if isinstance(value, bytearray):
        return bytes(value)
    return value
