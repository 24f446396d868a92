"""Contract reverts decoded into named Python exceptions.

For each contract, every custom error of its ABI becomes a subclass of
:class:`~onchain.errors.ContractRevert` (as ape does), created once and cached,
so callers write ``except registry.errors.NotActiveMember as e: e.fields``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from eth_abi import decode
from eth_utils import keccak, to_checksum_address

from onchain.artifacts import load
from onchain.errors import ContractRevert


def _signature(item: dict[str, Any]) -> str:
    return f"{item['name']}({','.join(_abi_type(i) for i in item['inputs'])})"


def _abi_type(param: dict[str, Any]) -> str:
    """The canonical type of an ABI parameter, tuples spelled out."""
    kind = param["type"]
    if kind.startswith("tuple"):
        inner = ",".join(_abi_type(c) for c in param["components"])
        return f"({inner}){kind[len('tuple'):]}"
    return kind


class ErrorSet:
    """The exception classes of one contract's custom errors, by name and selector."""

    def __init__(self, contract_name: str, abi: list[dict[str, Any]]) -> None:
        self.contract_name = contract_name
        self._by_name: dict[str, type[ContractRevert]] = {}
        self._by_selector: dict[bytes, tuple[type[ContractRevert], dict[str, Any]]] = {}
        for item in abi:
            if item.get("type") != "error":
                continue
            cls = type(item["name"], (ContractRevert,), {
                "error_name": item["name"], "contract_name": contract_name, "__module__": __name__,
            })
            self._by_name[item["name"]] = cls
            self._by_selector[keccak(text=_signature(item))[:4]] = (cls, item)

    def __getattr__(self, name: str) -> type[ContractRevert]:
        try:
            return self.__dict__["_by_name"][name]
        except KeyError:
            raise AttributeError(f"{self.__dict__.get('contract_name')} has no custom error {name}") from None

    def names(self) -> list[str]:
        return sorted(self._by_name)

    def decode(self, data: bytes | str) -> ContractRevert | None:
        """The exception for revert ``data`` (selector + ABI-encoded arguments), if known."""
        raw = bytes.fromhex(data.removeprefix("0x")) if isinstance(data, str) else bytes(data)
        found = self._by_selector.get(raw[:4])
        if found is None:
            return None
        cls, item = found
        types = [_abi_type(i) for i in item["inputs"]]
        values = [to_checksum_address(v) if t == "address" else v for t, v in zip(types, decode(types, raw[4:]))]
        return cls(dict(zip([i["name"] or f"arg{n}" for n, i in enumerate(item["inputs"])], values)))


@lru_cache(maxsize=None)
def errors_of(contract_name: str) -> ErrorSet:
    """The (cached) error classes of a compiled contract."""
    return ErrorSet(contract_name, load(contract_name).abi)


def revert_data(err: BaseException) -> str | None:
    """The hex revert data carried by a web3 exception, if any.

    Contract errors carry it as ``data``; a node that refuses to send a
    reverting transaction (hardhat in automine) answers with a JSON-RPC error,
    which web3 raises as Web3RPCError with the data in ``rpc_response``.
    """
    data = getattr(err, "data", None)
    if data is None:
        response = getattr(err, "rpc_response", None)
        error = response.get("error") if isinstance(response, dict) else None
        data = error.get("data") if isinstance(error, dict) else None
    if isinstance(data, dict):
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x") and len(data) >= 10:
        return data
    return None
