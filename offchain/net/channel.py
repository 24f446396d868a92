"""A job's framed, resumable channels over authenticated streams: :class:`TlsTransport`.

Each pair of parties shares one connection (opened and authenticated by
offchain.net.tls, which then calls :meth:`TlsTransport.attach`). Messages
travel as DATA frames (offchain.net.framing) numbered per direction from 0;
the receiver acknowledges each one, and the sender keeps every frame until it
is acknowledged. When a connection drops without a BYE, the party that dialled
redials (bounded by ``reconnect_window``), each side states in its HELLO the
next frame it expects, and the other resends its buffer from there: the job
resumes where both sides agree, with no message lost, duplicated or reordered.

Every wait is bounded: a receive by ``timeout`` (PeerTimeout), a send blocked
by a peer that does not read by ``timeout`` (PeerTimeout), a dropped
connection by ``reconnect_window`` (then PeerDisconnected). A malformed frame
ends the channel for good: the reason is sent to the peer in an ABORT frame,
the connection is closed, and receives from that peer raise the error.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from offchain.errors import (
    ConfigError,
    MalformedMessage,
    PeerDisconnected,
    PeerTimeout,
    ProtocolAbort,
)
from offchain.net.framing import (
    DEFAULT_MAX_FRAME,
    HEADER_BYTES,
    Frame,
    FrameType,
    Hello,
    check_job_id,
    encode_frame,
    encode_hello,
    read_frame,
)
from offchain.net.transport import Transport

log = logging.getLogger(__name__)
Redial = Callable[[int, float], Awaitable[None]]


@dataclass(frozen=True)
class ChannelSettings:
    """Limits of a job's channels (seconds and bytes); every party should use the same."""

    timeout: float = 60.0
    connect_timeout: float = 30.0
    reconnect_window: float = 10.0
    max_frame: int = DEFAULT_MAX_FRAME
    backoff: float = 0.05
    max_backoff: float = 1.0
    linger: float = 1.0

    def __post_init__(self) -> None:
        times = (self.timeout, self.connect_timeout, self.reconnect_window, self.backoff,
                 self.max_backoff, self.linger)
        if min(times) <= 0:
            raise ConfigError(f"channel timeouts must be positive: {self}")
        if self.max_frame <= HEADER_BYTES:
            raise ConfigError(f"max_frame {self.max_frame} leaves no room for a payload")


@dataclass(eq=False)
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    def abort(self) -> None:
        self.writer.transport.abort()


class _Link:
    """The state of the channel to one peer; it outlives its connections."""

    def __init__(self, peer: int, dials: bool) -> None:
        self.peer = peer
        self.dials = dials
        self.inbox: asyncio.Queue[bytes | ProtocolAbort] = asyncio.Queue()
        self.unacked: deque[tuple[int, bytes]] = deque()
        self.next_seq = 0
        self.next_expected = 0
        self.conn: _Connection | None = None
        self.reader_task: asyncio.Task[None] | None = None
        self.recovery: asyncio.Task[None] | None = None
        self.lock = asyncio.Lock()
        self.up = asyncio.Event()
        self.acked = asyncio.Event()
        self.acked.set()
        self.ended: ProtocolAbort | None = None
        self.connected_once = False

    @property
    def first_unacked(self) -> int:
        return self.unacked[0][0] if self.unacked else self.next_seq

    def trim(self, acknowledged: int) -> None:
        """Drops the frames the peer has received (those numbered below ``acknowledged``)."""
        while self.unacked and self.unacked[0][0] < acknowledged:
            self.unacked.popleft()
        if not self.unacked:
            self.acked.set()


class TlsTransport(Transport):
    """One party's channels of job ``job_id``; built by offchain.net.tls.connect_job."""

    def __init__(self, party: int, n_parties: int, job_id: bytes,
                 settings: ChannelSettings | None = None) -> None:
        super().__init__(party, n_parties)
        self.job_id = check_job_id(job_id)
        self.settings = settings or ChannelSettings()
        # Party i dials every j < i and accepts from every j > i.
        self._links = {j: _Link(j, dials=j < party) for j in self.peers}
        self.redial: Redial | None = None
        self._on_close: list[Callable[[], Awaitable[None]]] = []
        self._closing = False
        self._closed = False

    def dials(self, peer: int) -> bool:
        """Whether this party opens (and reopens) the connection to ``peer``."""
        return self._links[peer].dials

    def expects(self, peer: int) -> int:
        """The number of the next DATA frame this party expects from ``peer`` (for the HELLO)."""
        return self._links[peer].next_expected

    def is_open(self, peer: int) -> bool:
        """Whether the channel to ``peer`` may still carry traffic (not ended, not closed)."""
        return not self._closed and self._links[peer].ended is None

    def end_peer(self, peer: int, reason: str) -> None:
        """Ends the channel to ``peer`` now: its connection is cut and its receives raise ``ProtocolAbort(reason)``.

        For a peer that must no longer be talked to (its member was suspended);
        no BYE is sent and no reconnection is tried or accepted.
        """
        link = self._links[peer]
        conn = link.conn
        self._end(link, ProtocolAbort(reason))
        if conn is not None:
            conn.abort()
        if link.recovery is not None and not link.recovery.done():
            link.recovery.cancel()

    def add_close_callback(self, callback: Callable[[], Awaitable[None]]) -> None:
        self._on_close.append(callback)

    async def wait_connected(self, peer: int, timeout: float) -> None:  # noqa: ASYNC109 - a deadline per peer
        """Returns once a connection to ``peer`` is attached; PeerTimeout after ``timeout``."""
        try:
            await asyncio.wait_for(self._links[peer].up.wait(), timeout)
        except TimeoutError:
            raise PeerTimeout(peer, timeout) from None

    async def attach(self, peer: int, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter, peer_expects: int, *, send_hello: bool) -> None:
        """Makes an authenticated stream the channel to ``peer`` and resends from ``peer_expects``.

        Replaces any previous connection; if ``send_hello``, this party's HELLO
        goes first (the accepting side; the dialling side sent it already).
        """
        link, conn = self._links[peer], _Connection(reader, writer)
        async with link.lock:
            if self._closed or link.ended is not None:
                conn.abort()
                raise ProtocolAbort(f"the channel to party {peer} of job {self.job_id.hex()} "
                                    "is closed")
            old, link.conn = link.conn, None
            link.up.clear()
            await _stop(link.reader_task, old)
            if self._closed or link.ended is not None:
                conn.abort()
                raise ProtocolAbort(f"the channel to party {peer} closed during its resumption")
            if not link.first_unacked <= peer_expects <= link.next_seq:
                err = MalformedMessage(peer, f"asks to resume from frame {peer_expects}, not in "
                                       f"{link.first_unacked}..{link.next_seq} (state lost?)")
                self._end(link, err)
                conn.abort()
                raise err
            if send_hello:
                writer.write(encode_hello(self.job_id, Hello(self.party, link.next_expected)))
            link.trim(peer_expects)
            for _, frame in link.unacked:
                writer.write(frame)
            link.conn = conn
            link.reader_task = asyncio.create_task(self._read_loop(link, conn))
            link.connected_once = True
            link.up.set()
        if old is not None or peer_expects:
            log.info("party %d resumed the channel to party %d at frame %d (%d resent)",
                     self.party, peer, peer_expects, len(link.unacked))

    async def _send(self, to: int, payload: bytes) -> None:
        if HEADER_BYTES + len(payload) > self.settings.max_frame:
            raise ConfigError(f"a message of {len(payload)} bytes exceeds the frame limit of "
                              f"{self.settings.max_frame} bytes (ChannelSettings.max_frame)")
        link = self._links[to]
        if self._closed or link.ended is not None:
            return  # The peer is gone; as over the in-memory transport, the message is dropped.
        async with link.lock:
            frame = encode_frame(FrameType.DATA, self.job_id, link.next_seq, payload)
            link.unacked.append((link.next_seq, frame))
            link.next_seq += 1
            link.acked.clear()
            conn = link.conn
            if conn is not None:
                conn.writer.write(frame)
        if conn is not None:
            await self._drain(link, conn)

    async def _recv(self, frm: int) -> bytes:
        link = self._links[frm]
        try:
            item = await asyncio.wait_for(link.inbox.get(), self.settings.timeout)
        except TimeoutError:
            raise PeerTimeout(frm, self.settings.timeout) from None
        if isinstance(item, ProtocolAbort):
            link.inbox.put_nowait(item)  # Later receives fail the same way.
            raise item
        return item

    async def close(self) -> None:
        """Waits (bounded) until the peers have every message sent, says BYE, closes."""
        if self._closing:
            return
        self._closing = True
        links = list(self._links.values())
        try:
            await self._settle(links)
        finally:
            self._closed = True
            conns = [self._say_bye(link) for link in links]
            await asyncio.gather(*(self._shut(link, conn) for link, conn in zip(links, conns, strict=True)))
            for callback in self._on_close:
                await callback()

    async def _settle(self, links: list[_Link]) -> None:
        """Waits until every peer has acknowledged everything and can be told BYE.

        Unacknowledged messages are waited for up to ``reconnect_window``. A link
        that is down with nothing unacknowledged may come back (its peer
        redials): waiting for it, up to ``linger``, lets the BYE through so that
        the peer does not wait for a party that has left. All links are checked
        at once, since any may drop meanwhile; polled, as it waits on several
        conditions, once per job.
        """
        loop = asyncio.get_running_loop()
        start = loop.time()
        while unsettled := [link for link in links if not self._settled(link)]:
            waited = loop.time() - start
            pending = any(link.unacked for link in unsettled)
            if waited > self.settings.reconnect_window or (waited > self.settings.linger
                                                           and not pending):
                for link in unsettled:
                    log.warning("party %d closes with %d message(s) to party %d unacknowledged"
                                " and no BYE sent", self.party, len(link.unacked), link.peer)
                return
            await asyncio.sleep(0.01)

    @staticmethod
    def _settled(link: _Link) -> bool:
        if link.ended is not None or not link.connected_once:
            return True
        return link.acked.is_set() and link.up.is_set()

    def _say_bye(self, link: _Link) -> _Connection | None:
        """Sends BYE on a live connection and ends the link; returns the connection to close."""
        conn = link.conn
        if conn is not None and link.ended is None:
            conn.writer.write(encode_frame(FrameType.BYE, self.job_id, 0))
        self._end(link, ProtocolAbort(f"party {self.party} closed its channels"))
        return conn

    async def _shut(self, link: _Link, conn: _Connection | None) -> None:
        await _stop(link.recovery, None)
        await _stop(link.reader_task, None)
        if conn is not None:
            await self._close_gracefully(conn)

    async def _close_gracefully(self, conn: _Connection) -> None:
        conn.writer.close()
        try:
            await asyncio.wait_for(conn.writer.wait_closed(), self.settings.linger)
        except (TimeoutError, OSError):
            conn.abort()

    async def _drain(self, link: _Link, conn: _Connection) -> None:
        try:
            await asyncio.wait_for(conn.writer.drain(), self.settings.timeout)
        except TimeoutError:
            raise PeerTimeout(link.peer, self.settings.timeout) from None
        except OSError:
            self._lost(link, conn)  # The frame stays buffered and is resent on reconnection.

    async def _read_loop(self, link: _Link, conn: _Connection) -> None:
        try:
            while True:
                frame = await read_frame(conn.reader, job_id=self.job_id, party=link.peer,
                                         max_frame=self.settings.max_frame)
                if link.conn is not conn:
                    return  # Dropped or replaced: frames still buffered would be resent anyway.
                if not self._on_frame(link, conn, frame):
                    return
        except MalformedMessage as err:
            if link.conn is not conn:
                conn.abort()  # Garbage on a connection already replaced: ignore it.
                return
            log.warning("party %d closes its channel to party %d: %s", self.party, link.peer, err)
            conn.writer.write(encode_frame(FrameType.ABORT, self.job_id, 0, str(err).encode()))
            self._end(link, err)
            await self._close_gracefully(conn)
        except asyncio.IncompleteReadError:
            self._lost(link, conn, "closed without BYE")
        except OSError as err:
            self._lost(link, conn, str(err) or type(err).__name__)

    def _on_frame(self, link: _Link, conn: _Connection, frame: Frame) -> bool:
        """Handles one frame; False once the peer has closed the channel."""
        if frame.type is FrameType.DATA:
            if frame.seq != link.next_expected:
                raise MalformedMessage(link.peer, f"DATA frame {frame.seq} out of order: expected "
                                       f"frame {link.next_expected} (a duplicate or a gap)")
            link.next_expected += 1
            link.inbox.put_nowait(frame.payload)
            conn.writer.write(encode_frame(FrameType.ACK, self.job_id, link.next_expected))
        elif frame.type is FrameType.ACK:
            if frame.seq > link.next_seq:
                raise MalformedMessage(link.peer, f"acknowledges {frame.seq} frames, but only "
                                       f"{link.next_seq} were sent")
            link.trim(frame.seq)
        elif frame.type is FrameType.BYE:
            self._end(link, PeerDisconnected(link.peer))
            conn.writer.close()
            return False
        elif frame.type is FrameType.ABORT:
            reason = frame.payload.decode("utf-8", "replace")
            self._end(link, ProtocolAbort(f"party {link.peer} closed the channel: {reason}"))
            conn.abort()
            return False
        else:
            raise MalformedMessage(link.peer, "HELLO in the middle of a connection")
        return True

    def _end(self, link: _Link, err: ProtocolAbort) -> None:
        """No more traffic with this peer: receives raise ``err`` once the inbox is empty."""
        if link.ended is None:
            link.ended = err
            link.inbox.put_nowait(err)
        link.conn = None
        link.up.clear()
        link.acked.set()

    def _lost(self, link: _Link, conn: _Connection, cause: str = "write failed") -> None:
        """The connection dropped without a BYE: start recovering unless it was replaced."""
        conn.abort()
        if link.conn is not conn or link.ended is not None or self._closed:
            return
        link.conn = None
        link.up.clear()
        log.warning("party %d lost its connection to party %d (%s); %s", self.party, link.peer,
                    cause, "redialling" if link.dials else "waiting for it")
        link.recovery = asyncio.create_task(self._recover(link))

    async def _recover(self, link: _Link) -> None:
        window = self.settings.reconnect_window
        try:
            if link.dials and self.redial is not None:
                await self.redial(link.peer, window)
            else:
                await asyncio.wait_for(link.up.wait(), window)
        except Exception as err:  # Whatever stops the recovery ends the channel.
            if link.up.is_set() or self._closed:
                return
            log.warning("party %d gives up on party %d after %g s: %s", self.party, link.peer,
                        window, str(err) or "no reconnection")
            self._end(link, PeerDisconnected(link.peer))


async def _stop(task: asyncio.Task[None] | None, conn: _Connection | None) -> None:
    """Cancels ``task`` (unless it is the caller) and aborts ``conn``."""
    if conn is not None:
        conn.abort()
    if task is not None and task is not asyncio.current_task() and not task.done():
        task.cancel()
        await asyncio.wait([task])
