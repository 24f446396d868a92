"""A latency and bandwidth shaping TCP proxy on loopback, in its own process (tc netem is not here).

    python benchmarks/_shaper.py --rtt-ms 20 --mbit 100     # started by scale.py; not by hand

Exchange with the parent, one JSON line each way: the parent writes
{"ports": [p0, ..., p(n-1)]}, the parties' real listening ports; the proxy
listens on one port per directed link i -> j and answers {"routes": R},
where R[i][j] is the port party i dials to reach party j (R[i][i] = p_i).
Each party is given its own row R[i] as its roster's ports, so the proxy
knows which party sends every byte. It serves until its stdin closes.

The model is ``tc netem delay RTT/2 rate MBIT`` on every party's egress:
every byte party i sends, to any peer, is serialised at MBIT through one
queue per sender (``Egress``, shared by all of i's connections), then
delivered RTT/2 after it left that queue. The delay is a pipeline: each
chunk carries its own arrival time and a writer task per direction waits
for it, so a long stream is not slowed by the delay, only shifted; order is
kept per connection. The reader waits for the queue to drain before reading
more, which pushes back on the sender as a full link would. A round trip
crosses two egresses (RTT/2 each). TLS passes through end to end: the proxy
forwards ciphertext and paces TLS records, not the TCP/IP headers.

``check`` measures what the proxy does: the median round trip of one-byte
pings and the rate of a bulk transfer, through the proxy process itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import statistics
import struct
import sys
import time
from typing import Any, Protocol

CHUNK = 65536
#: A sender may run this far ahead of its link before its reads wait (so small writes never sleep).
BACKLOG_S = 0.010


class Egress:
    """One party's outgoing link: a FIFO serialised at ``mbit`` (0: unlimited), then ``delay_s``."""

    def __init__(self, delay_s: float, mbit: float) -> None:
        self.delay_s = delay_s
        self.byte_s = 8 / (mbit * 1e6) if mbit else 0.0
        self.free_at = 0.0  # When the link has sent everything queued so far.

    def schedule(self, size: int, now: float) -> tuple[float, float]:
        """When a chunk of ``size`` bytes leaves the link, and when it arrives."""
        self.free_at = max(now, self.free_at) + size * self.byte_s
        return self.free_at, self.free_at + self.delay_s


async def _deliver(queue: asyncio.Queue[tuple[float, bytes]], writer: asyncio.StreamWriter) -> None:
    """Writes each chunk at its arrival time, in order; an empty chunk ends the direction."""
    loop = asyncio.get_running_loop()
    while True:
        at, chunk = await queue.get()
        if not chunk:
            break
        wait = at - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        writer.write(chunk)
        await writer.drain()
    if writer.can_write_eof():
        writer.write_eof()  # Raises OSError if the receiver has gone already (caught by _pump).


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, egress: Egress) -> None:
    """One direction of a connection, shaped by the sender's ``egress``."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
    sender = asyncio.ensure_future(_deliver(queue, writer))
    try:
        while chunk := await reader.read(CHUNK):
            leave, arrive = egress.schedule(len(chunk), loop.time())
            queue.put_nowait((arrive, chunk))
            ahead = leave - loop.time()
            if ahead > BACKLOG_S:
                await asyncio.sleep(ahead - BACKLOG_S)
    except OSError:
        pass  # A party closed or reset its end: the connection is over.
    finally:
        queue.put_nowait((0.0, b""))
        with contextlib.suppress(OSError):
            await sender


def _no_delay(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


async def _link(port: int, out: Egress, back: Egress) -> asyncio.Server:
    """A listener forwarding to 127.0.0.1:``port``: outbound bytes through ``out``, replies ``back``."""
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            writer.close()
            return
        for w in (writer, up_writer):
            _no_delay(w)
        try:
            await asyncio.gather(_pump(reader, up_writer, out), _pump(up_reader, writer, back))
        finally:
            for w in (writer, up_writer):
                w.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


async def serve(ports: list[int], rtt_ms: float, mbit: float) -> tuple[list[list[int]], list[asyncio.Server]]:
    """A link per ordered pair of parties; the routes (R[i][j]: i's port for j) and the servers."""
    egress = [Egress(rtt_ms / 2000, mbit) for _ in ports]
    routes = [list(ports) for _ in ports]
    servers = []
    for i in range(len(ports)):
        for j, port in enumerate(ports):
            if i != j:
                server = await _link(port, egress[i], egress[j])
                servers.append(server)
                routes[i][j] = server.sockets[0].getsockname()[1]
    return routes, servers


async def _main(rtt_ms: float, mbit: float) -> None:
    loop = asyncio.get_running_loop()
    line = await loop.run_in_executor(None, sys.stdin.readline)
    routes, servers = await serve(json.loads(line)["ports"], rtt_ms, mbit)
    sys.stdout.write(json.dumps({"routes": routes}) + "\n")
    sys.stdout.flush()
    await loop.run_in_executor(None, sys.stdin.read)  # Until the parent closes stdin (or kills us).
    for server in servers:
        server.close()


# Starting it and checking it (in the parent) ---------------------------------------------------
class Starter(Protocol):
    """What starts a child process (benchmarks/engine.py's ``Children``)."""

    def start(self, cmd: list[str], log: Any, cwd: Any = None, stdin: bool = False) -> Any: ...


def start(children: Starter, ports: list[int], rtt_ms: float, mbit: float, log: Any
          ) -> list[list[int]]:
    """Starts the proxy process in front of ``ports``; its routes (see the module docstring)."""
    proc = children.start([sys.executable, __file__, "--rtt-ms", str(rtt_ms), "--mbit", str(mbit)],
                          log, stdin=True)
    proc.stdin.write(json.dumps({"ports": ports}) + "\n")
    proc.stdin.flush()
    line = proc.stdout.readline()
    if not line:
        raise ValueError(f"the shaping proxy exited (see {log})")
    return json.loads(line)["routes"]  # type: ignore[no-any-return]


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """b"p": answer b"p"; b"b" + 8-byte length + that many bytes: answer b"k" once all arrived."""
    _no_delay(writer)
    while kind := await reader.read(1):
        if kind == b"b":
            (size,) = struct.unpack(">Q", await reader.readexactly(8))
            await reader.readexactly(size)
        writer.write(b"p" if kind == b"p" else b"k")
        await writer.drain()
    writer.close()


async def measure(port: int, pings: int, bulk_bytes: int) -> dict[str, float]:
    """Round trips and one bulk transfer to an echo server behind ``port``."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    _no_delay(writer)
    rtts = []
    for _ in range(pings):
        start = time.perf_counter()
        writer.write(b"p")
        await writer.drain()
        await reader.readexactly(1)
        rtts.append(time.perf_counter() - start)
    rtt = statistics.median(rtts)
    start = time.perf_counter()
    writer.write(b"b" + struct.pack(">Q", bulk_bytes) + bytes(bulk_bytes))
    await writer.drain()
    await reader.readexactly(1)
    bulk_s = time.perf_counter() - start
    writer.close()
    await writer.wait_closed()
    # The acknowledgement's round trip is not transfer time.
    return {"rtt_ms": rtt * 1e3, "rtt_min_ms": min(rtts) * 1e3, "rtt_max_ms": max(rtts) * 1e3,
            "bulk_bytes": bulk_bytes, "bulk_s": bulk_s,
            "bulk_mbit_s": bulk_bytes * 8 / max(bulk_s - rtt, 1e-9) / 1e6}


async def _check(children: Starter, rtt_ms: float, mbit: float, log: Any, pings: int,
                 bulk_bytes: int) -> dict[str, float]:
    echoes: list[asyncio.Future[None]] = []

    def serve_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        echoes.append(asyncio.ensure_future(_echo(reader, writer)))

    server = await asyncio.start_server(serve_echo, "127.0.0.1", 0)
    echo_port = server.sockets[0].getsockname()[1]
    loop = asyncio.get_running_loop()
    # Party 0 (this client, not listening: port 0 is never dialled) reaches party 1, the echo.
    routes = await loop.run_in_executor(None, start, children, [0, echo_port], rtt_ms, mbit, log)
    try:
        return await measure(routes[0][1], pings, bulk_bytes)
    finally:
        server.close()
        await asyncio.wait(echoes, timeout=5)  # The proxy passes the client's EOF on.


def check(children: Starter, rtt_ms: float, mbit: float, log: Any, pings: int = 20,
          bulk_bytes: int = 8_000_000) -> dict[str, float]:
    """The shaping measured through a proxy process of its own: set and measured RTT and rate."""
    figures = asyncio.run(_check(children, rtt_ms, mbit, log, pings, bulk_bytes))
    return {"set_rtt_ms": rtt_ms, "set_mbit": mbit, **figures}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rtt-ms", type=float, required=True)
    parser.add_argument("--mbit", type=float, required=True, help="0: no rate limit")
    args = parser.parse_args()
    asyncio.run(_main(args.rtt_ms, args.mbit))
    return 0


if __name__ == "__main__":
    sys.exit(main())
