"""Transient RPC failures are retried; a real node cannot be made to drop a request, so a loopback fake does."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest

from onchain.chain import Chain
from onchain.errors import ChainIdMismatch


class FlakyNode(BaseHTTPRequestHandler):
    """Drops the first ``drops`` requests (closes the socket unanswered), then answers eth_chainId."""

    drops = 2
    seen = 0

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen += 1
        if type(self).seen <= type(self).drops:
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        answer = json.dumps({"jsonrpc": "2.0", "id": body["id"], "result": "0x7a69"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def flaky_url() -> Iterator[str]:
    FlakyNode.seen = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), FlakyNode)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_dropped_requests_are_retried(flaky_url: str) -> None:
    chain = Chain.connect(flaky_url)
    assert chain.chain_id == 31337
    assert FlakyNode.seen == FlakyNode.drops + 1


def test_the_chain_id_is_checked_after_a_retry(flaky_url: str) -> None:
    with pytest.raises(ChainIdMismatch, match="chain id 31337"):
        Chain.connect(flaky_url, expected_chain_id=1)


def test_a_node_away_longer_than_the_patience_is_a_chain_error_naming_the_request(flaky_url: str) -> None:
    """It used to escape as a raw requests.ConnectionError, which callers did not expect from the chain."""
    from onchain.errors import ChainError, RpcUnreachable

    chain = Chain.connect(flaky_url, patience_s=1.0)
    FlakyNode.seen, FlakyNode.drops = 0, 10**6  # The node now drops everything.
    try:
        with pytest.raises(RpcUnreachable, match="eth_blockNumber") as caught:
            chain.w3.eth.block_number
    finally:
        FlakyNode.drops = 2
    assert isinstance(caught.value, ChainError)
