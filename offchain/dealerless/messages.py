"""The messages of LowGear: a public key, an announcement of ciphertexts, and a party's returns.

Version 1, integers big-endian::

    message:  0x01 | kind (1) | count (2) | count times: length (4) | item

with kind 1 (public key: one item, :func:`offchain.lattice.wire.public_key_to_bytes`),
2 (announcement: ciphertexts a party encrypted under its own key and
broadcasts) or 3 (returns: ciphertexts one party sends another, encrypted
under the receiver's key), the items of kinds 2 and 3 being
:func:`offchain.lattice.wire.ciphertext_to_bytes`. The kind byte keeps a
message of one step from being read as another's. When zero-knowledge
proofs arrive, an announcement will carry its proof after the ciphertexts,
in a new version.

Readers take the ring of the session and the count and level they expect,
and raise DecodeError on anything else; :func:`offchain.engine.comm.decode`
turns that into MalformedMessage naming the sender.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

from offchain.errors import DecodeError
from offchain.lattice.bgv import Ciphertext, PublicKey
from offchain.lattice.params import RingParams
from offchain.lattice.wire import ciphertext_from_bytes, ciphertext_to_bytes, public_key_from_bytes, public_key_to_bytes

MESSAGE_VERSION = 1
_HEAD = 4
_LENGTH = 4


class MessageKind(enum.IntEnum):
    """The kind byte of a LowGear message."""

    PUBLIC_KEY = 1
    ANNOUNCEMENT = 2
    RETURNS = 3


def pack(kind: MessageKind, items: Sequence[bytes]) -> bytes:
    """The items framed as one message of ``kind`` (see the module docstring)."""
    head = bytes((MESSAGE_VERSION, kind)) + len(items).to_bytes(2, "big")
    return head + b"".join(len(item).to_bytes(_LENGTH, "big") + item for item in items)


def unpack(data: bytes | memoryview, kind: MessageKind, count: int) -> list[memoryview]:
    """The ``count`` items of a message of ``kind``; DecodeError on any other framing."""
    view = memoryview(data)
    if len(view) < _HEAD or view[0] != MESSAGE_VERSION or view[1] != kind:
        raise DecodeError(f"LowGear message: too short, unknown version or not a {kind.name.lower()}")
    if int.from_bytes(view[2:4], "big") != count:
        raise DecodeError(f"LowGear {kind.name.lower()}: {int.from_bytes(view[2:4], 'big')} items, not {count}")
    items, pos = [], _HEAD
    for _ in range(count):
        if pos + _LENGTH > len(view):
            raise DecodeError("LowGear message: truncated")
        size = int.from_bytes(view[pos:pos + _LENGTH], "big")
        pos += _LENGTH
        if pos + size > len(view):
            raise DecodeError("LowGear message: truncated")
        items.append(view[pos:pos + size])
        pos += size
    if pos != len(view):
        raise DecodeError("LowGear message: trailing bytes")
    return items


def public_key_message(pk: PublicKey) -> bytes:
    return pack(MessageKind.PUBLIC_KEY, [public_key_to_bytes(pk)])


def read_public_key(data: bytes, params: RingParams) -> PublicKey:
    (item,) = unpack(data, MessageKind.PUBLIC_KEY, 1)
    return public_key_from_bytes(item, params)


def ciphertext_message(kind: MessageKind, cts: Sequence[Ciphertext]) -> bytes:
    return pack(kind, [ciphertext_to_bytes(ct) for ct in cts])


def read_ciphertexts(data: bytes, kind: MessageKind, params: RingParams, count: int, levels: int,
                     scale: int) -> list[Ciphertext]:
    """``count`` ciphertexts of the ring ``params``, each at ``levels`` primes with plaintext scale ``scale``.

    The level and scale are fixed by the protocol step (fresh: all primes and
    1; returned: the return level and its switching factor), so anything
    else is malformed rather than a ciphertext to add up.
    """
    cts = [ciphertext_from_bytes(item, params) for item in unpack(data, kind, count)]
    for ct in cts:
        if ct.levels != levels or ct.scale != scale:
            raise DecodeError(f"LowGear {kind.name.lower()}: a ciphertext at {ct.levels} primes or of another "
                              f"plaintext scale than this step's ({levels} primes)")
    return cts
