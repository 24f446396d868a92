"""The messages of LowGear: public keys, announcements with their proofs, and returns.

Version 3, integers big-endian::

    message:  0x02 | kind (1) | count (2) | count times: length (4) | item

with kinds

1. key: the party's public key (:func:`offchain.lattice.wire.public_key_to_bytes`),
   proven next by an announcement (:mod:`offchain.dealerless.keys`);
2. announcement: the k ciphertexts a party encrypted under its own key and
   broadcasts (:func:`offchain.lattice.wire.ciphertext_to_bytes`), then the
   digests of its ceil(k / U) proof commitments
   (:meth:`offchain.lattice.zk.Commitment.digest`, 32 bytes each);
3. returns: ciphertexts one party sends another, encrypted under the receiver's key;
5. proof: the responses (:meth:`offchain.lattice.zk.Response.to_bytes`) to the
   proofs of the party's last announcement, one per commitment.

The kind byte keeps a message of one step from being read as another's.
Version 1 had kinds 1 to 3 only: a bare public key and announcements
without proofs; version 2 checked keys by cut and choose (kind 1 then
carried the seeds of the candidates not chosen, kind 4 the candidates'
digests).

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
from offchain.lattice.zk import Response
from offchain.lattice.zkparams import ProofParams

MESSAGE_VERSION = 3
DIGEST_BYTES = 32
"""A commitment digest (of a proof's masks) is 32 bytes."""
_HEAD = 4
_LENGTH = 4


class MessageKind(enum.IntEnum):
    """The kind byte of a LowGear message."""

    KEY = 1
    ANNOUNCEMENT = 2
    RETURNS = 3
    PROOF = 5


def pack(kind: MessageKind, items: Sequence[bytes]) -> bytes:
    """The items framed as one message of ``kind`` (see the module docstring)."""
    return bytes((MESSAGE_VERSION, kind)) + len(items).to_bytes(2, "big") + frame(items)


def frame(items: Sequence[bytes]) -> bytes:
    """Each item after its length (4 bytes, big-endian): the body of a message, or of a kept setup."""
    return b"".join(len(item).to_bytes(_LENGTH, "big") + item for item in items)


def unpack(data: bytes | memoryview, kind: MessageKind, count: int) -> list[memoryview]:
    """The ``count`` items of a message of ``kind``; DecodeError on any other framing."""
    view = memoryview(data)
    if len(view) < _HEAD or view[0] != MESSAGE_VERSION or view[1] != kind:
        raise DecodeError(f"LowGear message: too short, unknown version or not a {kind.name.lower()}")
    if int.from_bytes(view[2:4], "big") != count:
        raise DecodeError(f"LowGear {kind.name.lower()}: {int.from_bytes(view[2:4], 'big')} items, not {count}")
    return read_framed(view, _HEAD, count, "LowGear message")


def read_framed(view: memoryview, pos: int, count: int, what: str) -> list[memoryview]:
    """The ``count`` items :func:`frame` wrote from ``pos`` to the end of ``view``; DecodeError naming
    ``what`` if it is cut short or has bytes left over."""
    items = []
    for _ in range(count):
        if pos + _LENGTH > len(view):
            raise DecodeError(f"{what}: truncated")
        size = int.from_bytes(view[pos:pos + _LENGTH], "big")
        pos += _LENGTH
        if pos + size > len(view):
            raise DecodeError(f"{what}: truncated")
        items.append(view[pos:pos + size])
        pos += size
    if pos != len(view):
        raise DecodeError(f"{what}: trailing bytes")
    return items


def _digests(items: Sequence[memoryview], what: str) -> list[bytes]:
    if any(len(item) != DIGEST_BYTES for item in items):
        raise DecodeError(f"LowGear {what}: an item of other than {DIGEST_BYTES} bytes")
    return [bytes(item) for item in items]


def key_message(pk: PublicKey) -> bytes:
    return pack(MessageKind.KEY, [public_key_to_bytes(pk)])


def read_key(data: bytes, params: RingParams) -> PublicKey:
    """A party's public key in the ring ``params``."""
    (key,) = unpack(data, MessageKind.KEY, 1)
    return public_key_from_bytes(key, params)


def ciphertext_message(kind: MessageKind, cts: Sequence[Ciphertext]) -> bytes:
    return pack(kind, [ciphertext_to_bytes(ct) for ct in cts])


def announcement_message(cts: Sequence[Ciphertext], digests: Sequence[bytes]) -> bytes:
    return pack(MessageKind.ANNOUNCEMENT, [*(ciphertext_to_bytes(ct) for ct in cts), *digests])


def read_announcement(data: bytes, params: RingParams, count: int, proofs: int) -> tuple[list[Ciphertext], list[bytes]]:
    """``count`` fresh ciphertexts of the ring ``params`` and the digests of ``proofs`` commitments."""
    items = unpack(data, MessageKind.ANNOUNCEMENT, count + proofs)
    return _fresh([ciphertext_from_bytes(item, params) for item in items[:count]], params), \
        _digests(items[count:], "announcement")


def proof_message(responses: Sequence[Response], proof: ProofParams) -> bytes:
    return pack(MessageKind.PROOF, [r.to_bytes(proof) for r in responses])


def read_proof(data: bytes, proof: ProofParams, count: int) -> list[Response]:
    """The ``count`` responses of a party's proofs."""
    return [Response.from_bytes(bytes(item), proof) for item in unpack(data, MessageKind.PROOF, count)]


def _fresh(cts: list[Ciphertext], params: RingParams) -> list[Ciphertext]:
    if any(ct.levels != params.levels or ct.scale != 1 for ct in cts):
        raise DecodeError("LowGear announcement: a ciphertext that is not fresh (all primes, plaintext scale 1)")
    return cts


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
