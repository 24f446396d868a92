"""ABI values by name: what the classes generated from the ABI (``onchain.abi``) are built from.

The generated classes never index a decoded tuple. Decoding here turns every
ABI tuple (a struct, an event's or error's arguments, a view's outputs) into a
dict keyed by the ABI's own component names, and each generated class reads
the names it declares. Topics of indexed arguments are encoded and decoded
here too, for log filters and for the events themselves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

Values = Mapping[str, Any]
"""Decoded ABI values by component name; nested tuples are such mappings too, arrays lists."""


@dataclass(frozen=True)
class Param:
    """One ABI parameter: name, type as the ABI spells it (``tuple[]`` for structs), components."""

    name: str
    type: str
    components: tuple[Param, ...] = ()
    indexed: bool = False

    @property
    def canonical(self) -> str:
        """The type in a signature or for eth_abi: tuples spelled out, ``(bytes32,uint64)[]``."""
        if self.type.startswith("tuple"):
            inner = ",".join(c.canonical for c in self.components)
            return f"({inner}){self.type.removeprefix('tuple')}"
        return self.type

    @property
    def dynamic(self) -> bool:
        """True for types whose topic, when indexed, is a hash of the value."""
        return self.type in ("string", "bytes") or self.type.endswith("]") or self.type.startswith("tuple")


def signature(name: str, params: Sequence[Param]) -> str:
    """``name(type,..)``, whose keccak gives an event's topic0 or an error's selector."""
    return f"{name}({','.join(p.canonical for p in params)})"


def named(param: Param, value: Any) -> Any:
    """``value`` of type ``param`` with each tuple turned into a dict by component name."""
    if param.type.endswith("]"):
        element = Param(param.name, param.type[:param.type.rindex("[")], param.components)
        return [named(element, v) for v in value]
    if param.type == "tuple":
        return by_name(param.components, value)
    return value


def by_name(params: Sequence[Param], values: Sequence[Any]) -> dict[str, Any]:
    """Positional ABI ``values`` (a decoded tuple) keyed by the names of ``params``."""
    return {p.name: named(p, v) for p, v in zip(params, values, strict=True)}


def decode(params: Sequence[Param], data: bytes) -> dict[str, Any]:
    """ABI-encoded ``data`` of ``params``, by name."""
    return by_name(params, abi_decode([p.canonical for p in params], data))


def topic(param: Param, value: Any) -> str:
    """The topic of an indexed argument equal to ``value``, as a 0x-prefixed hex string.

    A dynamic value (string, bytes) is indexed as its keccak; arrays and structs
    are refused, since their topic hashes an encoding this module does not build.
    """
    if param.type in ("string", "bytes"):
        raw = value.encode() if isinstance(value, str) else bytes(value)
        return "0x" + keccak(raw).hex()
    if param.dynamic:
        raise ValueError(f"cannot filter on indexed {param.canonical} argument {param.name}")
    if param.type == "address":
        value = to_checksum_address(value)
    elif param.type.startswith(("uint", "int")):
        value = int(value)
    return "0x" + abi_encode([param.canonical], [value]).hex()


def from_topic(param: Param, raw: bytes) -> Any:
    """The value of an indexed argument from its topic (for a dynamic type: the 32-byte hash)."""
    if param.dynamic:
        return bytes(raw)
    return abi_decode([param.canonical], bytes(raw))[0]


def address(value: Any) -> str:
    """An address as a checksummed string."""
    return str(to_checksum_address(value))


class Struct:
    """A value built from a decoded ABI tuple by component name (a struct, or a view's outputs).

    Subclasses are frozen dataclasses generated from the ABI; ``COMPONENTS`` are
    the tuple's parameters and ``from_abi`` reads them by name.
    """

    COMPONENTS: ClassVar[tuple[Param, ...]] = ()

    @classmethod
    def from_abi(cls, values: Values) -> Self:
        raise NotImplementedError(f"{cls.__name__} is not generated from an ABI tuple")

    @classmethod
    def decoded(cls, raw: Sequence[Any]) -> Self:
        """From the positional tuple a web3 call returns, named by ``COMPONENTS`` first."""
        return cls.from_abi(by_name(cls.COMPONENTS, raw))
