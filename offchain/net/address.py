"""Network endpoints as ``host:port`` text: validated once, split for sockets."""

from __future__ import annotations

import re

_HOST_PORT = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$")


def check_host_port(value: str) -> str:
    """``host:port`` with a port in 1..65535 (``ValueError`` naming the value otherwise)."""
    match = _HOST_PORT.match(value.strip())
    if not match or not 0 < int(match.group(2)) < 65536:
        raise ValueError(f"{value!r} is not host:port (e.g. 127.0.0.1:9701)")
    return value.strip()


def split_host_port(value: str) -> tuple[str, int]:
    """(host, port) of a ``host:port``; an IPv6 host loses its brackets."""
    host, _, port = check_host_port(value).rpartition(":")
    return host.strip("[]"), int(port)
