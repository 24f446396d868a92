"""Contract reverts decoded into the exception classes generated from the ABI.

Every custom error of a contract is a subclass of
:class:`~onchain.errors.ContractRevert` generated into ``onchain.abi`` (as ape
turns ABI errors into exceptions), and each generated module has a table from
the error's 4-byte selector to its class. A revert is looked up in the called
contract's table first, then in the others' (a JobManager call can revert
with an error of the PreprocessingLedger it calls).
"""

from __future__ import annotations

from collections.abc import Mapping

from eth_abi.exceptions import DecodingError

from onchain.abicodec import decode
from onchain.errors import ContractRevert

ErrorTable = Mapping[bytes, type[ContractRevert]]
"""The custom errors of one contract by selector."""


def decode_revert(data: bytes | str, *tables: ErrorTable) -> ContractRevert | None:
    """The exception for revert ``data`` (selector + ABI-encoded arguments) from the first table knowing it."""
    raw = bytes.fromhex(data.removeprefix("0x")) if isinstance(data, str) else bytes(data)
    for table in tables:
        cls = table.get(raw[:4])
        if cls is not None:
            try:
                return cls.from_abi(decode(cls.INPUTS, raw[4:]))
            except DecodingError:
                return None
    return None


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
