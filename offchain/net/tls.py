"""Mutually authenticated TLS 1.3 channels between the parties of a job, pinned by fingerprint.

Every organisation's certificate is self-signed; what the chain vouches for
is its SHA-256 fingerprint (over the DER), handed to this module in a
:class:`~offchain.net.roster.JobRoster` (the net package never reads the chain).

How pinning works with Python's ``ssl`` (which has no verify callback):

* The *dialling* side uses ``CERT_NONE`` and ``check_hostname = False``: the
  server's certificate is not chain-validated, but TLS 1.3 still makes the
  server prove possession of its key (CertificateVerify), and the certificate
  it presented is read with ``getpeercert(binary_form=True)``. Its fingerprint
  must equal the roster's for the party dialled; otherwise the connection is
  closed before any application byte is written.
* The *accepting* side must request the client's certificate, which ``ssl``
  does only with ``CERT_OPTIONAL``/``CERT_REQUIRED``; then OpenSSL validates it
  against the context's trust store. A self-signed certificate placed in the
  store is its own trust anchor, so the store holds exactly the certificates
  whose fingerprints are in the roster. Certificates are public but the roster
  holds only fingerprints, so the dialler first announces its certificate in
  clear (the preamble below); the listener adds it to the job's store only if
  its fingerprint is a participant's, and otherwise refuses and logs why.
  ``CERT_REQUIRED`` then makes the TLS handshake itself refuse any other
  certificate, and after it the presented certificate is checked once more
  to be the announced one.
* Session tickets are off (no resumption without a certificate), TLS 1.3 only.

After TLS each side sends a HELLO frame (offchain.net.framing) with its party
index; the listener refuses a peer whose index is not the one registered for
its certificate. Party i dials every party j < i and accepts the others.
Every refusal is logged (logger ``offchain.net.tls``) with its reason and the
certificate's fingerprint.

Preamble, version 1, sent in clear by the dialling side before TLS::

    offset  size  field
         0     1  version = 1
         1    32  job id
        33     2  n = length of the certificate (u16, at most 16384)
        35     n  the dialler's certificate, DER

answered by the listener with 2 bytes: version = 1, then a status: 0 accepted
(the TLS handshake follows at once), 1 unknown job (not started yet or already
finished: the dialler retries), 2 certificate refused, 3 wrong direction (the
listener dials that party), 4 malformed preamble. A refusal closes the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import ssl
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from offchain.errors import ConfigError, MalformedMessage, PeerTimeout, ProtocolAbort
from offchain.identity import Identity
from offchain.net.channel import ChannelSettings, TlsTransport
from offchain.net.framing import (
    FrameType,
    Hello,
    decode_hello,
    encode_frame,
    encode_hello,
    read_frame,
)
from offchain.net.limits import ConnectionGate, ConnectionLimits, start_server
from offchain.net.roster import JobRoster, RosterEntry

__all__ = ["ChannelSettings", "ConnectionLimits", "HandshakeRefused", "JobRoster", "Listener", "RosterEntry",
           "TlsCredentials", "TlsTransport", "connect_job"]

log = logging.getLogger(__name__)
PREAMBLE_VERSION = 1
_PREAMBLE = struct.Struct(">B32sH")
MAX_CERTIFICATE = 16384
ACCEPTED, UNKNOWN_JOB, CERT_REFUSED, WRONG_DIRECTION, MALFORMED = range(5)
_STATUS_TEXT = {UNKNOWN_JOB: "unknown job", CERT_REFUSED: "certificate refused",
                WRONG_DIRECTION: "wrong direction", MALFORMED: "malformed preamble"}


class HandshakeRefused(ProtocolAbort):
    """A peer refused this party's connection (or the reverse); ``retry`` if it may pass later."""

    def __init__(self, party: int, reason: str, *, retry: bool = False) -> None:
        self.party = party
        self.retry = retry
        super().__init__(f"connection with party {party} refused: {reason}")


@dataclass(frozen=True)
class TlsCredentials:
    """An organisation's TLS certificate and encrypted key (PKCS#8 PEM) with its passphrase."""

    cert_path: Path
    key_path: Path
    passphrase: bytes = field(repr=False)

    @classmethod
    def from_identity(cls, identity: Identity, passphrase: bytes) -> TlsCredentials:
        return cls(identity.tls_cert_path, identity.tls_key_pem_path, passphrase)

    @property
    def certificate_der(self) -> bytes:
        try:
            return ssl.PEM_cert_to_DER_cert(self.cert_path.read_text())
        except (OSError, ValueError) as err:
            raise ConfigError(f"cannot read the TLS certificate {self.cert_path}: {err}") from err

    def context(self, purpose: ssl.Purpose) -> ssl.SSLContext:
        """A TLS 1.3 context presenting these credentials (see the module docstring)."""
        server = purpose is ssl.Purpose.CLIENT_AUTH
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_3
        try:
            ctx.load_cert_chain(self.cert_path, self.key_path, password=self.passphrase)
        except (OSError, ssl.SSLError) as err:
            raise ConfigError(f"cannot load the TLS key {self.key_path} with its certificate: "
                              f"wrong passphrase or damaged files ({err})") from err
        if server:
            ctx.verify_mode = ssl.CERT_REQUIRED  # The store starts empty: see _Job.check_dialler.
            ctx.num_tickets = 0
        else:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE  # Pinned after the handshake: see _Job.dial_once.
        return ctx


def fingerprint(der: bytes) -> bytes:
    return hashlib.sha256(der).digest()


def encode_preamble(job_id: bytes, certificate_der: bytes) -> bytes:
    """The dialler's preamble (see the module docstring)."""
    return _PREAMBLE.pack(PREAMBLE_VERSION, job_id, len(certificate_der)) + certificate_der


async def read_preamble(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """(job id, certificate DER) of a preamble; raises _Refusal(MALFORMED)."""
    version, job_id, length = _PREAMBLE.unpack(await reader.readexactly(_PREAMBLE.size))
    if version != PREAMBLE_VERSION or length > MAX_CERTIFICATE:
        raise _Refusal(MALFORMED, f"preamble of version {version} with a certificate of "
                       f"{length} bytes (expected version {PREAMBLE_VERSION}, at most "
                       f"{MAX_CERTIFICATE} bytes)", b"")
    return job_id, await reader.readexactly(length)


class _Refusal(Exception):
    """Internal: the listener refuses a connection (logged, then answered and closed)."""

    def __init__(self, status: int, reason: str, cert_fingerprint: bytes, *,
                 job_id: bytes | None = None, unknown_job: bytes | None = None) -> None:
        super().__init__(reason)
        self.status, self.reason, self.fingerprint = status, reason, cert_fingerprint
        self.job_id = job_id or unknown_job or bytes(32)
        self.after_tls = job_id is not None  # Then the refusal goes in an ABORT frame.


UNKNOWN_JOB_WAIT_S = 2.0
#: A job still unknown this long after its first connection is worth a warning (once).
UNKNOWN_WARN_S = 60.0
_UNKNOWN_KEPT = 1024


class _UnknownJobs:
    """Connections for jobs this listener does not serve (yet): a short wait, and a quiet log.

    A peer often learns of a job (and dials) before this one has: that is
    normal, so such refusals are logged at DEBUG; only a job still unknown
    ``UNKNOWN_WARN_S`` after its first connection is warned about, once.
    """

    def __init__(self) -> None:
        self._first: dict[bytes, float] = {}
        self._warned: set[bytes] = set()
        self._arrival = asyncio.Event()

    def arrived(self, job_id: bytes) -> None:
        self._first.pop(job_id, None)
        self._warned.discard(job_id)
        self._arrival.set()
        self._arrival = asyncio.Event()

    async def wait(self, job_id: bytes, find: Callable[[], _Job | None], seconds: float) -> _Job | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while (job := find()) is None and (left := deadline - loop.time()) > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrival.wait(), left)
        return job

    def level(self, job_id: bytes) -> int:
        now = time.monotonic()
        if len(self._first) >= _UNKNOWN_KEPT and job_id not in self._first:
            self._first.clear()  # Bounded: a flood of made-up job ids costs no memory.
            self._warned.clear()
        first = self._first.setdefault(job_id, now)
        if now - first >= UNKNOWN_WARN_S and job_id not in self._warned:
            self._warned.add(job_id)
            return logging.WARNING
        return logging.DEBUG


class Listener:
    """A TCP listener for the TLS channels of any number of jobs, dispatched on the job id.

    Its connections are bounded by :class:`ConnectionLimits` (offchain.net.limits):
    the preamble, the TLS handshake and the HELLO must all arrive within
    ``handshake_timeout``. Certificates it was told to :meth:`refuse` (a
    suspended member's) are refused whatever the job, and their open channels closed.
    """

    def __init__(self, limits: ConnectionLimits) -> None:
        self._server: asyncio.Server | None = None
        self._jobs: dict[bytes, _Job] = {}
        self.limits = limits
        self.handshake_timeout = limits.handshake_timeout
        self.gate: ConnectionGate | None = None
        self.refused: dict[bytes, str] = {}
        #: When set, the only certificates let past the preamble (the consortium's active members).
        self.members: frozenset[bytes] | None = None
        self._unknown = _UnknownJobs()

    @classmethod
    async def start(cls, host: str = "127.0.0.1", port: int = 0, *,
                    limits: ConnectionLimits | None = None) -> Listener:
        """Listens on host:port (port 0 picks a free port: read it from :attr:`port`)."""
        listener = cls(limits or ConnectionLimits())
        listener._server, listener.gate = await start_server(
            listener._on_connect, host, port, limits=listener.limits, name=f"the MPC listener on {host}:{port}")
        return listener

    @property
    def port(self) -> int:
        if self._server is None:
            raise ConfigError("the listener is not started: use Listener.start")
        return int(self._server.sockets[0].getsockname()[1])

    def register(self, job: _Job) -> None:
        if job.job_id in self._jobs:
            raise ConfigError(f"job {job.job_id.hex()} is already served by this listener")
        self._jobs[job.job_id] = job
        self._unknown.arrived(job.job_id)

    def refuse(self, cert_fingerprint: bytes, reason: str) -> None:
        """From now on refuses this certificate (``reason`` says why), and closes its open channels."""
        self.refused[cert_fingerprint] = reason
        for job in list(self._jobs.values()):
            entry = job.roster.by_fingerprint(cert_fingerprint)
            if entry is not None and entry.index != job.my_index and job.transport.is_open(entry.index):
                log.warning("party %d closes its channel of job %s to party %d: %s", job.my_index,
                            job.job_id.hex(), entry.index, reason)
                job.transport.end_peer(entry.index, f"the channel to party {entry.index} was closed: {reason}")

    def allow(self, cert_fingerprint: bytes) -> None:
        """Lifts :meth:`refuse` (a reinstated member)."""
        self.refused.pop(cert_fingerprint, None)

    def unregister(self, job: _Job) -> None:
        if self._jobs.get(job.job_id) is job:
            del self._jobs[job.job_id]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host, port = writer.get_extra_info("peername")[:2]
        peer = f"{host}:{port}"
        try:
            await asyncio.wait_for(self._accept(reader, writer, peer), self.handshake_timeout)
        except _Refusal as refusal:
            level = self._unknown.level(refusal.job_id) if refusal.status == UNKNOWN_JOB else logging.WARNING
            log.log(level, "refused a connection from %s: %s (certificate fingerprint %s)",
                    peer, refusal.reason, refusal.fingerprint.hex() or "unknown")
            if refusal.after_tls:
                writer.write(encode_frame(FrameType.ABORT, refusal.job_id, 0,
                                          refusal.reason.encode()))
            else:
                writer.write(bytes((PREAMBLE_VERSION, refusal.status)))
            await _close(writer)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ProtocolAbort) as err:
            log.warning("refused a connection from %s: handshake failed: %s", peer,
                        self._why(err))
            writer.transport.abort()
        except Exception:  # A listener outlives any one bad connection.
            log.exception("refused a connection from %s: unexpected error", peer)
            writer.transport.abort()

    def _why(self, err: BaseException) -> str:
        if isinstance(err, TimeoutError):
            return f"not completed within {self.handshake_timeout:g} s"
        if isinstance(err, asyncio.IncompleteReadError):
            return "the dialler closed the connection"
        return str(err) or type(err).__name__

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      peer: str) -> None:
        job_id, cert_der = await read_preamble(reader)
        announced = fingerprint(cert_der)
        if announced in self.refused:
            raise _Refusal(CERT_REFUSED, self.refused[announced], announced)
        if self.members is not None and announced not in self.members:
            raise _Refusal(CERT_REFUSED, "unknown certificate: not an active member of the consortium", announced)
        job = self._jobs.get(job_id)
        if job is None:
            # Often the dialler only learned of the job first: wait for it a moment.
            job = await self._unknown.wait(job_id, lambda: self._jobs.get(job_id),
                                           min(UNKNOWN_JOB_WAIT_S, self.handshake_timeout / 2))
        if job is None:
            raise _Refusal(UNKNOWN_JOB, f"no job {job_id.hex()} here", announced, unknown_job=job_id)
        entry = job.check_dialler(cert_der)
        writer.write(bytes((PREAMBLE_VERSION, ACCEPTED)))
        await writer.start_tls(job.server_context, ssl_handshake_timeout=self.handshake_timeout)
        if fingerprint(_peer_certificate(writer)) != announced:
            raise _Refusal(CERT_REFUSED, "presented another certificate than it announced",
                           announced, job_id=job_id)
        frame = await read_frame(reader, job_id=job_id, max_frame=job.settings.max_frame,
                                 party=entry.index)
        if frame.type is not FrameType.HELLO:
            raise MalformedMessage(entry.index, f"first frame is {frame.type.name}, not HELLO")
        hello = decode_hello(frame.payload, entry.index)
        if hello.party != entry.index:
            raise _Refusal(CERT_REFUSED, f"claims to be party {hello.party} of job "
                           f"{job_id.hex()}, but its certificate is party {entry.index}'s",
                           announced, job_id=job_id)
        await job.transport.attach(entry.index, reader, writer, hello.next_expected,
                                   send_hello=True)
        log.info("party %d accepted party %d from %s", job.my_index, entry.index, peer)


class _Job:
    """Both sides of one job's connections: the listener's checks and the dialler."""

    def __init__(self, credentials: TlsCredentials, contexts: tuple[ssl.SSLContext, ssl.SSLContext],
                 roster: JobRoster, transport: TlsTransport, listener: Listener,
                 owns_listener: bool) -> None:
        self.roster, self.transport, self.listener = roster, transport, listener
        self.job_id, self.my_index = roster.job_id, transport.party
        self.settings = transport.settings
        self.certificate_der = credentials.certificate_der
        self.server_context, self.client_context = contexts
        self._trusted: set[bytes] = set()
        self._owns_listener = owns_listener

    def check_dialler(self, cert_der: bytes) -> RosterEntry:
        """The roster entry of a dialler's announced certificate, now trusted; or _Refusal."""
        announced = fingerprint(cert_der)
        entry = self.roster.by_fingerprint(announced)
        if entry is None:
            raise _Refusal(CERT_REFUSED, f"job {self.job_id.hex()}: "
                           f"{self.roster.why_refused(announced)}", announced)
        if not entry.index > self.my_index:
            raise _Refusal(WRONG_DIRECTION, f"party {entry.index} dialled party {self.my_index} "
                           "of the same job, but the higher index dials", announced)
        if not self.transport.is_open(entry.index):
            raise _Refusal(UNKNOWN_JOB, f"the channel to party {entry.index} is closed", announced)
        if announced not in self._trusted:
            # A self-signed certificate in the store is its own trust anchor.
            self.server_context.load_verify_locations(cadata=cert_der)
            self._trusted.add(announced)
        return entry

    async def dial(self, peer: int, window: float) -> None:
        """Connects to ``peer`` (retrying with backoff for ``window`` s), attaches the channel."""
        loop = asyncio.get_running_loop()
        deadline, delay = loop.time() + window, self.settings.backoff
        last: BaseException | None = None
        while (remaining := deadline - loop.time()) > 0:
            refused = self.listener.refused.get(self.roster.parties[peer].fingerprint)
            if refused is not None:
                raise HandshakeRefused(peer, refused)
            try:
                await asyncio.wait_for(self.dial_once(peer), remaining)
                return
            except HandshakeRefused as err:
                if not err.retry:
                    raise
                last = err
            except (OSError, TimeoutError, asyncio.IncompleteReadError) as err:
                last = err
            log.debug("party %d failed to dial party %d: %r", self.my_index, peer, last)
            await asyncio.sleep(min(delay, max(deadline - loop.time(), 0)))
            delay = min(2 * delay, self.settings.max_backoff)
        log.warning("party %d could not connect to party %d at %s within %g s: %s",
                    self.my_index, peer, self.roster.parties[peer].endpoint, window, last)
        raise PeerTimeout(peer, window) from last

    async def dial_once(self, peer: int) -> None:
        entry = self.roster.parties[peer]
        reader, writer = await asyncio.open_connection(*entry.address)
        try:
            writer.write(encode_preamble(self.job_id, self.certificate_der))
            answer = await reader.readexactly(2)
            if answer[1] != ACCEPTED:
                text = _STATUS_TEXT.get(answer[1], f"status {answer[1]}")
                raise HandshakeRefused(peer, f"{entry.endpoint} answered: {text}",
                                       retry=answer[1] == UNKNOWN_JOB)
            await writer.start_tls(self.client_context, ssl_handshake_timeout=self.settings.timeout)
            presented = fingerprint(_peer_certificate(writer))
            if presented != entry.fingerprint:
                log.warning("party %d refused party %d at %s: its certificate is not the one "
                            "registered for that party (certificate fingerprint %s, expected %s)",
                            self.my_index, peer, entry.endpoint, presented.hex(),
                            entry.fingerprint.hex())
                raise HandshakeRefused(peer, f"{entry.endpoint} presented certificate "
                                       f"{presented.hex()}, not the registered one")
            hello = Hello(self.my_index, self.transport.expects(peer))
            writer.write(encode_hello(self.job_id, hello))
            await self._attach_answer(peer, reader, writer)
        except BaseException:
            writer.transport.abort()
            raise

    async def _attach_answer(self, peer: int, reader: asyncio.StreamReader,
                             writer: asyncio.StreamWriter) -> None:
        """Reads the listener's HELLO (or its refusal) and attaches the channel."""
        try:
            frame = await read_frame(reader, job_id=self.job_id, party=peer,
                                     max_frame=self.settings.max_frame)
        except MalformedMessage as err:
            raise HandshakeRefused(peer, str(err)) from err
        if frame.type is FrameType.ABORT:
            raise HandshakeRefused(peer, frame.payload.decode("utf-8", "replace"))
        if frame.type is not FrameType.HELLO:
            raise MalformedMessage(peer, f"first frame is {frame.type.name}, not HELLO")
        answer = decode_hello(frame.payload, peer)
        if answer.party != peer:
            raise MalformedMessage(peer, f"answers as party {answer.party}")
        await self.transport.attach(peer, reader, writer, answer.next_expected, send_hello=False)

    async def close(self) -> None:
        self.listener.unregister(self)
        if self._owns_listener:
            await self.listener.close()


def _peer_certificate(writer: asyncio.StreamWriter) -> bytes:
    ssl_object = writer.get_extra_info("ssl_object")
    der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    if not der:
        raise ssl.SSLError("the peer presented no certificate")
    return bytes(der)


async def _close(writer: asyncio.StreamWriter, linger: float = 1.0) -> None:
    writer.close()
    try:
        await asyncio.wait_for(writer.wait_closed(), linger)
    except (TimeoutError, OSError):
        writer.transport.abort()


async def connect_job(credentials: TlsCredentials, roster: JobRoster, my_index: int, *,
                      listener: Listener | None = None, listen_host: str | None = None,
                      listen_port: int | None = None, settings: ChannelSettings | None = None
                      ) -> TlsTransport:
    """Brings up this party's channels of ``roster``'s job; returns once every peer is connected.

    Without ``listener``, one is started on listen_host:listen_port (by default
    the roster's endpoint for ``my_index``) and closed with the transport; a
    daemon serving several jobs passes one shared :class:`Listener`. Raises
    ConfigError for credentials that are not ``my_index``'s, PeerTimeout for a
    peer not connected within ``settings.connect_timeout``, HandshakeRefused.
    """
    settings = settings or ChannelSettings()
    if not 0 <= my_index < roster.n_parties:
        raise ConfigError(f"party {my_index} is not in the roster of {roster.n_parties} parties")
    mine = fingerprint(credentials.certificate_der)
    if mine != roster.parties[my_index].fingerprint:
        raise ConfigError(f"the certificate {credentials.cert_path} (fingerprint {mine.hex()}) "
                          f"is not the one registered for party {my_index}")
    transport = TlsTransport(my_index, roster.n_parties, roster.job_id, settings)
    contexts = credentials.context(ssl.Purpose.CLIENT_AUTH), credentials.context(
        ssl.Purpose.SERVER_AUTH)
    owns = listener is None
    if listener is None:
        host, port = roster.parties[my_index].address
        listener = await Listener.start(listen_host or host, port if listen_port is None else listen_port)
    refused = [(e.index, listener.refused[e.fingerprint]) for e in roster.parties if e.fingerprint in listener.refused]
    if refused:
        if owns:
            await listener.close()
        raise HandshakeRefused(*refused[0])
    job = _Job(credentials, contexts, roster, transport, listener, owns)
    listener.register(job)
    transport.redial = job.dial
    transport.add_close_callback(job.close)
    window = settings.connect_timeout
    tasks = [asyncio.ensure_future(job.dial(j, window) if transport.dials(j)
                                   else transport.wait_connected(j, window))
             for j in transport.peers]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await transport.close()
        raise
    return transport
