"""The in-process py-evm chain (eth-tester): the demo's and the tests' chain, in this process only.

Its own module so that a command talking to a node never imports py-evm
(about 0.2 s of every ``mpcc`` command's start).
"""

from __future__ import annotations

import ast
import sys
import threading
from typing import Any

from eth_tester import EthereumTester, PyEVMBackend
from eth_tester.exceptions import TransactionFailed as TesterTransactionFailed
from web3 import EthereumTesterProvider, Web3

from onchain.chain import MEMORY, PYTHON_RECURSION_LIMIT, Chain, refuse_on_event_loop

# py-evm raises the recursion limit to 100000 when imported (see onchain.chain): restored here,
# right after the only import of it.
sys.setrecursionlimit(PYTHON_RECURSION_LIMIT)


def in_memory_chain() -> Chain:
    """A fresh in-process py-evm chain (eth-tester) with funded test accounts."""
    tester = EthereumTester(PyEVMBackend())
    return Chain(Web3(TesterProvider(tester)), MEMORY, tester=tester)


class TesterProvider(EthereumTesterProvider):
    """The in-process chain, reporting reverts as a JSON-RPC node does, one request at a time.

    eth-tester raises its own exception with the revert data in its text; a
    node answers with an error whose ``data`` is the hex revert data, which web3
    turns into ``ContractCustomError``. Answering like a node lets one decoding
    path serve every kind of chain. py-evm is not thread-safe: requests from
    worker threads are serialised by a lock.
    """

    _lock = threading.RLock()

    def make_request(self, method: Any, params: Any) -> Any:
        refuse_on_event_loop(str(method))
        with self._lock:
            try:
                return super().make_request(method, params)
            except TesterTransactionFailed as exc:
                data = tester_revert_data(exc)
                if data is None:
                    raise
                return {"id": getattr(self, "_current_request_id", 0), "jsonrpc": "2.0",
                        "error": {"code": 3, "message": "execution reverted", "data": "0x" + data.hex()}}


def tester_revert_data(exc: BaseException | None) -> bytes | None:
    """The raw revert data inside an eth-tester failure (its args or its text)."""
    while exc is not None:
        if isinstance(exc, TesterTransactionFailed) and exc.args:
            arg = exc.args[0]
            if isinstance(arg, Exception) and arg.args:
                arg = arg.args[0]
            if isinstance(arg, (bytes, bytearray)):
                return bytes(arg)
            if isinstance(arg, str):
                literal = arg[arg.find("b'"):] if "b'" in arg else arg[arg.find('b"'):] if 'b"' in arg else ""
                if literal:
                    try:
                        value = ast.literal_eval(literal)
                    except (ValueError, SyntaxError):
                        value = None
                    if isinstance(value, bytes):
                        return value
        exc = exc.__context__
    return None
