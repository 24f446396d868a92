"""Frame format, its refusals, and the plain objects around it (roster, channel settings)."""

from __future__ import annotations

import asyncio

import pytest

from offchain.errors import ConfigError, MalformedMessage
from offchain.net.channel import ChannelSettings
from offchain.net.framing import (
    HEADER, HEADER_BYTES, Frame, FrameType, Hello, decode_hello, encode_frame, encode_hello,
    read_frame,
)
from offchain.net.roster import JobRoster, RosterEntry

JOB = bytes(range(32))
OTHER_JOB = bytes(32)


def read(data: bytes, *, max_frame: int = 1 << 20, eof: bool = True) -> Frame:
    async def go() -> Frame:
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        if eof:
            reader.feed_eof()
        return await read_frame(reader, job_id=JOB, max_frame=max_frame, party=3)
    return asyncio.run(go())


def test_header_layout_is_the_documented_one() -> None:
    raw = encode_frame(FrameType.DATA, JOB, 7, b"payload")
    assert HEADER_BYTES == 46 and len(raw) == 46 + 7
    assert raw[0] == 1 and raw[1] == FrameType.DATA and raw[2:34] == JOB
    assert raw[34:42] == (7).to_bytes(8, "big") and raw[42:46] == (7).to_bytes(4, "big")
    assert read(raw) == Frame(FrameType.DATA, 7, b"payload")
    assert read(encode_frame(FrameType.BYE, JOB, 0)) == Frame(FrameType.BYE, 0, b"")


@pytest.mark.parametrize(("raw", "message"), [
    (HEADER.pack(2, FrameType.DATA, JOB, 0, 1) + b"x", "unknown version 2"),
    (HEADER.pack(1, FrameType.DATA, JOB, 0, 4096), "exceeds the limit of 1024 bytes"),
    (HEADER.pack(1, FrameType.DATA, OTHER_JOB, 0, 1) + b"x", f"for job {OTHER_JOB.hex()}"),
    (HEADER.pack(1, 9, JOB, 0, 0), "unknown type 9"),
])
def test_bad_frames_are_refused_with_a_clear_error(raw: bytes, message: str) -> None:
    # No EOF: an oversized frame is refused from its header, before its payload arrives.
    with pytest.raises(MalformedMessage, match=message) as caught:
        read(raw, max_frame=1024, eof=False)
    assert caught.value.party == 3 and "closing" in str(caught.value)


def test_a_truncated_frame_is_an_end_of_stream() -> None:
    with pytest.raises(asyncio.IncompleteReadError):
        read(encode_frame(FrameType.DATA, JOB, 0, b"abcdef")[:-2])


def test_hello_round_trip_and_refusal() -> None:
    frame = read(encode_hello(JOB, Hello(2, 2**40)))
    assert frame.type is FrameType.HELLO and decode_hello(frame.payload, 2) == Hello(2, 2**40)
    with pytest.raises(MalformedMessage, match="hello of 3 bytes"):
        decode_hello(b"\x01\x00\x02", 2)
    with pytest.raises(MalformedMessage, match="version 07"):
        decode_hello(b"\x07" + bytes(10), 2)


def test_encoding_refuses_bad_arguments() -> None:
    with pytest.raises(ConfigError, match="64 bits"):
        encode_frame(FrameType.DATA, JOB, 2**64)
    with pytest.raises(ConfigError, match="32 bytes"):
        JobRoster(b"short", ())


def entry(i: int, port: int = 7000) -> RosterEntry:
    return RosterEntry(i, f"127.0.0.1:{port}", bytes([i]) * 32)


def test_roster_checks_and_lookup() -> None:
    roster = JobRoster(JOB, (entry(0), entry(1), entry(2)), {b"\x09" * 32: "suspended member X"})
    assert roster.n_parties == 3 and roster.by_fingerprint(b"\x01" * 32) == entry(1)
    assert roster.by_fingerprint(b"\x05" * 32) is None
    assert "suspended member X" in roster.why_refused(b"\x09" * 32)
    assert "unknown certificate" in roster.why_refused(b"\x05" * 32)
    assert RosterEntry(0, "[::1]:7443", bytes(32)).address == ("::1", 7443)
    with pytest.raises(ConfigError, match="party order"):
        JobRoster(JOB, (entry(1), entry(0)))
    with pytest.raises(ConfigError, match="same certificate"):
        JobRoster(JOB, (entry(0), RosterEntry(1, "h:1", bytes([0]) * 32)))
    with pytest.raises(ConfigError, match="at least 2"):
        JobRoster(JOB, (entry(0),))
    with pytest.raises(ConfigError, match="host:port"):
        RosterEntry(0, "no-port", bytes(32))
    with pytest.raises(ConfigError, match="32 bytes"):
        RosterEntry(0, "h:1", bytes(20))


def test_channel_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="positive"):
        ChannelSettings(timeout=0)
    with pytest.raises(ConfigError, match="no room"):
        ChannelSettings(max_frame=HEADER_BYTES)
