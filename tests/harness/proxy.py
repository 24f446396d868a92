"""A TCP forwarder on loopback that can be cut, for outages between processes and a node.

:class:`CuttableProxy` listens on a free loopback port and forwards every
connection to ``upstream``. :meth:`CuttableProxy.cut` drops every open
connection and, until :meth:`CuttableProxy.restore`, resets each new one at
once: to the processes behind it the node is unreachable, as during an
outage of a real RPC endpoint, while the node itself runs on.
:meth:`CuttableProxy.cut_at` sets a trap: the first request carrying given
bytes (e.g. a function selector in a raw transaction) is dropped and starts
an outage of a given length, so that the outage meets one step of a job.
"""

from __future__ import annotations

import socket
import threading
from contextlib import suppress

from harness.nodes import free_port


class CuttableProxy:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = free_port()
        self._down = threading.Event()
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._trap: tuple[bytes, float] | None = None
        self._listener = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        self._thread = threading.Thread(target=self._accept, name="proxy-accept", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cut(self) -> None:
        """From now on, every connection fails: open ones are closed, new ones reset."""
        self._down.set()
        with self._lock:
            for sock in self._open:
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._open.clear()

    def restore(self) -> None:
        self._down.clear()

    def cut_at(self, marker: bytes, outage_s: float) -> None:
        """The first request carrying ``marker`` is dropped and cuts every connection for ``outage_s``."""
        self._trap = (marker, outage_s)

    @property
    def trapped(self) -> bool:
        """Whether the trap set by :meth:`cut_at` went off."""
        return self._trap is None

    def close(self) -> None:
        self.cut()
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # Closed.
            if self._down.is_set():
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                client.close()  # A reset, as a dead endpoint gives.
                continue
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open.update((client, upstream))
            for source, sink, request in ((client, upstream, True), (upstream, client, False)):
                threading.Thread(target=self._pump, args=(source, sink, request), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, request: bool) -> None:
        try:
            while data := source.recv(65536):
                trap = self._trap
                if request and trap is not None and trap[0] in data:
                    self._trap = None
                    self.cut()
                    threading.Timer(trap[1], self.restore).start()
                    return
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                for sock in (source, sink):
                    self._open.discard(sock)
            for sock in (source, sink):
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
