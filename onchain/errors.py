"""Errors of the on-chain side, rooted in the project's error tree.

Contract reverts are decoded into subclasses of :class:`ContractRevert`, one
class per custom error of the ABI, generated from it at compile time into
``onchain.abi`` (see ``onchain.codegen``), so that callers can
``except OrgRegistry.NotActiveMember as err: err.account``.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

from offchain.errors import ConfigError, MpccError
from onchain.abicodec import Param, Values

__all__ = [
    "ArtifactError",
    "ChainError",
    "ChainIdMismatch",
    "ConfigError",
    "ContractRevert",
    "ManifestError",
    "MpccError",
    "RpcUnreachable",
    "TransactionFailed",
]


class ChainError(MpccError):
    """Something about the chain connection or a transaction went wrong."""


class RpcUnreachable(ChainError, ConnectionError):
    """The JSON-RPC endpoint could not be reached."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(
            f"cannot reach the JSON-RPC endpoint {url}: {reason}. "
            "Check that the node is running and the URL (scheme, host, port) is right."
        )
        self.url = url


class ChainIdMismatch(ChainError, ValueError):
    """The chain answering at the URL is not the chain the manifest was made for."""

    def __init__(self, expected: int, actual: int, url: str) -> None:
        super().__init__(
            f"the node at {url} serves chain id {actual}, but the deployment manifest "
            f"is for chain id {expected}. Point --rpc at the chain the contracts were "
            "deployed to, or use that chain's manifest."
        )
        self.expected = expected
        self.actual = actual


class ArtifactError(MpccError):
    """A compiled contract artifact is missing, stale or malformed."""


class ManifestError(ConfigError):
    """The deployment manifest is missing, malformed or would be overwritten."""


class TransactionFailed(ChainError):
    """A transaction was mined but reverted without a decodable reason."""


class ContractRevert(ChainError):
    """A contract call reverted with a custom error.

    Subclasses are generated per custom error (``onchain.abi``): each has its
    arguments as typed attributes under their ABI names, and also by name in
    ``fields``; ``SELECTOR`` is the first four bytes of the keccak of ``SIGNATURE``.
    """

    error_name: str = ""
    contract_name: str = ""
    SIGNATURE: ClassVar[str] = ""
    SELECTOR: ClassVar[bytes] = b""
    INPUTS: ClassVar[tuple[Param, ...]] = ()

    @classmethod
    def from_abi(cls, args: Values) -> Self:
        """The error from its decoded arguments, by name."""
        return cls(dict(args))

    def __init__(self, fields: dict[str, Any] | None = None) -> None:
        self.fields = dict(fields or {})
        rendered = ", ".join(f"{k}={_render(v)}" for k, v in self.fields.items())
        super().__init__(f"{self.contract_name}: reverted with {self.error_name}({rendered})")


def _render(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    return repr(value) if isinstance(value, str) else str(value)
