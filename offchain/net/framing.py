"""Frames of a job's channels: a fixed header bound to the job, then the payload.

Wire format, version 1 (all integers big-endian)::

    offset  size  field
         0     1  version = 1
         1     1  type: 1 HELLO, 2 DATA, 3 ACK, 4 BYE, 5 ABORT
         2    32  job id
        34     8  sequence number (u64)
        42     4  payload length n (u32)
        46     n  payload

    HELLO  first frame each way on a new connection; seq = 0; payload =
           version (1 byte, = 1), sender's party index (u16), then the
           sequence number it expects next from the receiver (u64): the
           receiver resends every unacknowledged frame from there (resume).
    DATA   one transport message; seq counts the DATA frames of one direction
           of one pair of parties from 0 and must arrive without a gap.
    ACK    seq = the number of DATA frames received so far (cumulative); the
           sender drops them from its resend buffer. Empty payload.
    BYE    the sender closed its end after all its DATA was acknowledged.
    ABORT  the sender closes the connection because of an error; payload =
           the reason, UTF-8.

A frame of another version, larger than the configured limit, of an unknown
type or for another job raises :class:`MalformedMessage` before its payload is
read; the caller then closes the connection.
"""

from __future__ import annotations

import asyncio
import enum
import struct
from dataclasses import dataclass

from offchain.errors import ConfigError, MalformedMessage

FRAME_VERSION = 1
HELLO_VERSION = 1
JOB_ID_BYTES = 32
HEADER = struct.Struct(">BB32sQI")
HEADER_BYTES = HEADER.size
DEFAULT_MAX_FRAME = 64 * 1024 * 1024
_HELLO = struct.Struct(">BHQ")
_U64_MAX = 2**64 - 1


class FrameType(enum.IntEnum):
    """The ``type`` byte of a frame."""

    HELLO = 1
    DATA = 2
    ACK = 3
    BYE = 4
    ABORT = 5


_TYPES = frozenset(t.value for t in FrameType)


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded frame (the job id is checked on reading, so it is not kept)."""

    type: FrameType
    seq: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class Hello:
    """The payload of a HELLO frame: who speaks, and where the peer should resume."""

    party: int
    next_expected: int


def check_job_id(job_id: bytes) -> bytes:
    """``job_id`` itself if it is 32 bytes; ``ConfigError`` otherwise."""
    if not isinstance(job_id, bytes) or len(job_id) != JOB_ID_BYTES:
        raise ConfigError(f"a job id is {JOB_ID_BYTES} bytes (the on-chain job id), "
                          f"got {job_id!r:.80}")
    return job_id


def encode_frame(kind: FrameType, job_id: bytes, seq: int, payload: bytes = b"") -> bytes:
    """The bytes of one frame (see the module docstring)."""
    if not 0 <= seq <= _U64_MAX:
        raise ConfigError(f"sequence number {seq} does not fit in 64 bits")
    return HEADER.pack(FRAME_VERSION, kind, job_id, seq, len(payload)) + payload


def encode_hello(job_id: bytes, hello: Hello) -> bytes:
    """A HELLO frame carrying ``hello``."""
    body = _HELLO.pack(HELLO_VERSION, hello.party, hello.next_expected)
    return encode_frame(FrameType.HELLO, job_id, 0, body)


def decode_hello(payload: bytes, party: int) -> Hello:
    """The HELLO payload received from ``party``; ``MalformedMessage`` if it does not parse."""
    if len(payload) != _HELLO.size or payload[0] != HELLO_VERSION:
        raise MalformedMessage(party, f"hello of {len(payload)} bytes, version "
                               f"{payload[:1].hex() or 'none'}: expected {_HELLO.size} "
                               f"bytes of version {HELLO_VERSION}")
    _, index, next_expected = _HELLO.unpack(payload)
    return Hello(index, next_expected)


def parse_header(header: bytes, *, job_id: bytes, max_frame: int, party: int
                 ) -> tuple[FrameType, int, int]:
    """(type, seq, payload length) of a 46-byte header; raises MalformedMessage.

    The version is checked first (it fixes the layout of the rest), then the
    size, so that an oversized frame is refused before its payload is read.
    """
    version, kind, frame_job, seq, length = HEADER.unpack(header)
    if version != FRAME_VERSION:
        raise MalformedMessage(party, f"frame of unknown version {version} "
                               f"(this peer speaks version {FRAME_VERSION}); closing")
    if HEADER_BYTES + length > max_frame:
        raise MalformedMessage(party, f"frame of {HEADER_BYTES + length} bytes exceeds the "
                               f"limit of {max_frame} bytes; closing")
    if kind not in _TYPES:
        raise MalformedMessage(party, f"frame of unknown type {kind}; closing")
    if frame_job != job_id:
        raise MalformedMessage(party, f"frame for job {frame_job.hex()} on the channel of job "
                               f"{job_id.hex()}; closing")
    return FrameType(kind), seq, length


async def read_frame(reader: asyncio.StreamReader, *, job_id: bytes, max_frame: int,
                     party: int) -> Frame:
    """The next frame from ``party``; MalformedMessage, or IncompleteReadError at EOF."""
    header = await reader.readexactly(HEADER_BYTES)
    kind, seq, length = parse_header(header, job_id=job_id, max_frame=max_frame, party=party)
    payload = await reader.readexactly(length) if length else b""
    return Frame(kind, seq, payload)
