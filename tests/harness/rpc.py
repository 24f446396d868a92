"""Counting the JSON-RPC requests a piece of code makes: a web3 middleware for tests."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from web3 import Web3
from web3.middleware import Web3Middleware


@dataclass
class RpcLog:
    """Requests by method, and the parameters of each ``eth_getLogs``."""

    methods: Counter[str] = field(default_factory=Counter)
    get_logs: list[dict[str, Any]] = field(default_factory=list)

    def clear(self) -> None:
        self.methods.clear()
        self.get_logs.clear()


@contextmanager
def counting(w3: Web3) -> Iterator[RpcLog]:
    """Record every request ``w3`` sends while the block runs."""
    seen = RpcLog()

    class Counting(Web3Middleware):
        def wrap_make_request(self, make_request: Callable[..., Any]) -> Callable[..., Any]:
            def request(method: str, params: Any) -> Any:
                seen.methods[str(method)] += 1
                if method == "eth_getLogs":
                    seen.get_logs.append(dict(params[0]))
                return make_request(method, params)
            return request

    w3.middleware_onion.add(Counting, "rpc-counter")
    try:
        yield seen
    finally:
        w3.middleware_onion.remove("rpc-counter")
