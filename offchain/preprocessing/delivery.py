"""Delivery of dealer batches: each party's part sealed with HPKE, one commitment for the chain.

The service seals party i's :class:`PartyBatch` to i's registered HPKE key
(suite MLKEM768X25519 / HKDF-SHA256 / AES-256-GCM, see offchain.identity) and
posts ``SealedBatch.commitment()`` on chain with
``PreprocessingLedger.commitBatch(batchId, kind, count, commitment)``. A peer
receives a :class:`PartyDelivery` (its ciphertext plus the public list of every
party's ciphertext hash) and :func:`open_batch` checks, in this order, before
any tuple is used: the served header against the chain's record, the
commitment against the chain, its ciphertext against its hash, the HPKE
decryption, and the decrypted batch's id, kind, count and party.

Byte layouts (integers big-endian; absent variants 0xFFFF as in PartyBatch)::

    header (49)  = batch_id (32) | kind (1) | owner (2) | f (2) | bits (2)
                   | count (8) | n_parties (2)
    h_i          = SHA-256(ciphertext_i)
    commitment   = SHA-256("mpcc/batch-commitment/v1" | header | h_0 | ... | h_{n-1})
    HPKE info    = "mpcc/batch-seal/v1" | header | party (2)

The commitment is the hash of the ordered list of ciphertext hashes, not a
Merkle root: the list has one entry per party (at most 32 on chain) and is
served whole, so a tree would save nothing. ``kind`` is the index of the kind
in TupleKind order, equal to the ``TupleKind`` enum of PreprocessingLedger.
Binding the header into the HPKE info means a ciphertext opens only as the
part of the party, batch, kind and size it was sealed for.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag

from offchain.errors import ConfigError, DecodeError, DeliveryRejected
from offchain.identity import Identity, hpke_open, hpke_seal
from offchain.preprocessing.tuples import (
    BATCH_ID_BYTES,
    MAX_BATCH_BYTES,
    PartyBatch,
    TupleKey,
    TupleKind,
    max_batch_count,
)

SEALED_WIRE_VERSION = 1
DELIVERY_WIRE_VERSION = 1
HEADER_BYTES = 49
HASH_BYTES = 32
_COMMIT_DOMAIN = b"mpcc/batch-commitment/v1"
_SEAL_DOMAIN = b"mpcc/batch-seal/v1"
_KINDS = list(TupleKind)
_NONE16 = 0xFFFF


def chain_kind(kind: TupleKind) -> int:
    """The value of ``kind`` in the ledger's ``TupleKind`` enum (Triple = 0 ... Trunc = 4)."""
    return _KINDS.index(kind)


@dataclass(frozen=True, slots=True)
class BatchHeader:
    """The public description of a batch that the commitment and the HPKE info bind."""

    batch_id: bytes
    key: TupleKey
    count: int
    n_parties: int

    def __post_init__(self) -> None:
        if len(self.batch_id) != BATCH_ID_BYTES:
            raise ConfigError("a batch id has 32 bytes")
        if not 0 < self.count < 2**64 or not 2 <= self.n_parties < _NONE16:
            raise ConfigError(f"bad batch size: count {self.count}, {self.n_parties} parties")

    @classmethod
    def of(cls, batch: PartyBatch) -> BatchHeader:
        return cls(batch.batch_id, batch.key, batch.count, batch.n_parties)

    def to_bytes(self) -> bytes:
        """The 49-byte header of the module docstring."""
        k = self.key
        return b"".join((self.batch_id, bytes((chain_kind(k.kind),)),
                         *(_u16(v) for v in (k.owner, k.f, k.bits)),
                         self.count.to_bytes(8, "big"), self.n_parties.to_bytes(2, "big")))

    @classmethod
    def from_bytes(cls, raw: bytes | memoryview) -> BatchHeader:
        raw = bytes(raw)
        if len(raw) != HEADER_BYTES or raw[32] >= len(_KINDS):
            raise DecodeError("batch header: wrong length or unknown kind")
        owner, f, bits = (_from_u16(raw[33 + 2 * i:35 + 2 * i]) for i in range(3))
        try:
            key = TupleKey(_KINDS[raw[32]], owner, f, bits)
            return cls(raw[:32], key, int.from_bytes(raw[39:47], "big"),
                       int.from_bytes(raw[47:49], "big"))
        except ConfigError as exc:
            raise DecodeError(f"batch header: {exc}") from exc

    def info(self, party: int) -> bytes:
        """The HPKE info of ``party``'s ciphertext."""
        return _SEAL_DOMAIN + self.to_bytes() + party.to_bytes(2, "big")

    def commitment(self, hashes: Sequence[bytes]) -> bytes:
        """The 32-byte commitment over this header and the per-party ciphertext hashes."""
        if len(hashes) != self.n_parties or any(len(h) != HASH_BYTES for h in hashes):
            raise ConfigError(f"need {self.n_parties} hashes of 32 bytes")
        return hashlib.sha256(b"".join((_COMMIT_DOMAIN, self.to_bytes(), *hashes))).digest()


@dataclass(frozen=True, slots=True)
class ChainBatch:
    """What the chain says about a batch (``BatchCommitted`` event or ``getBatch``)."""

    batch_id: bytes
    kind: TupleKind
    count: int
    commitment: bytes


@dataclass(frozen=True, slots=True)
class PartyDelivery:
    """What the service serves to one party: its ciphertext and every party's hash."""

    header: BatchHeader
    party: int
    hashes: tuple[bytes, ...]
    ciphertext: bytes

    def to_bytes(self) -> bytes:
        """Serialises the delivery, version 1::

            0x01 | header (49) | party (2) | h_0 ... h_{n-1} (32 each)
            | ciphertext length (8) | ciphertext
        """
        return b"".join((bytes((DELIVERY_WIRE_VERSION,)), self.header.to_bytes(),
                         self.party.to_bytes(2, "big"), *self.hashes,
                         len(self.ciphertext).to_bytes(8, "big"), self.ciphertext))

    @classmethod
    def from_bytes(cls, data: bytes | memoryview) -> PartyDelivery:
        """Parses :meth:`to_bytes`; DecodeError on any inconsistency."""
        view = memoryview(data)
        if len(view) < 1 + HEADER_BYTES + 2 or view[0] != DELIVERY_WIRE_VERSION:
            raise DecodeError("delivery: too short or unknown version")
        header = BatchHeader.from_bytes(view[1:1 + HEADER_BYTES])
        pos = 1 + HEADER_BYTES
        party = int.from_bytes(view[pos:pos + 2], "big")
        hashes, pos = _read_hashes(view, pos + 2, header.n_parties)
        (ciphertext,), pos = _read_blobs(view, pos, 1)
        if pos != len(view) or party >= header.n_parties:
            raise DecodeError("delivery: trailing bytes or party out of range")
        return cls(header, party, hashes, ciphertext)


@dataclass(frozen=True, slots=True)
class SealedBatch:
    """All parties' ciphertexts of one batch (what the service keeps and serves)."""

    header: BatchHeader
    ciphertexts: tuple[bytes, ...]

    def __post_init__(self) -> None:
        if len(self.ciphertexts) != self.header.n_parties:
            raise ConfigError(f"{len(self.ciphertexts)} ciphertexts for "
                              f"{self.header.n_parties} parties")

    @property
    def batch_id(self) -> bytes:
        return self.header.batch_id

    def ciphertext_hashes(self) -> tuple[bytes, ...]:
        """SHA-256 of each party's ciphertext, in party order (public, served to every party)."""
        return tuple(hashlib.sha256(c).digest() for c in self.ciphertexts)

    def commitment(self) -> bytes:
        """The bytes32 posted on chain by ``commitBatch`` (see the module docstring)."""
        return self.header.commitment(self.ciphertext_hashes())

    def chain_record(self) -> ChainBatch:
        """The record the chain will hold once the batch is committed."""
        h = self.header
        return ChainBatch(h.batch_id, h.key.kind, h.count, self.commitment())

    def delivery(self, party: int) -> PartyDelivery:
        """What to serve to ``party``."""
        if not 0 <= party < self.header.n_parties:
            raise ConfigError(f"no party {party} in a batch of {self.header.n_parties}")
        return PartyDelivery(self.header, party, self.ciphertext_hashes(),
                             self.ciphertexts[party])

    def to_bytes(self) -> bytes:
        """Serialises the sealed batch, version 1::

            0x01 | header (49) | for each party: ciphertext length (8) | ciphertext
        """
        parts = (p for c in self.ciphertexts for p in (len(c).to_bytes(8, "big"), c))
        return b"".join((bytes((SEALED_WIRE_VERSION,)), self.header.to_bytes(), *parts))

    @classmethod
    def from_bytes(cls, data: bytes | memoryview) -> SealedBatch:
        view = memoryview(data)
        if len(view) < 1 + HEADER_BYTES or view[0] != SEALED_WIRE_VERSION:
            raise DecodeError("sealed batch: too short or unknown version")
        header = BatchHeader.from_bytes(view[1:1 + HEADER_BYTES])
        ciphertexts, pos = _read_blobs(view, 1 + HEADER_BYTES, header.n_parties)
        if pos != len(view):
            raise DecodeError("sealed batch: trailing bytes")
        return cls(header, ciphertexts)


def seal_batch(parts: Sequence[PartyBatch], recipients: Sequence[bytes]) -> SealedBatch:
    """Seals ``parts[i]`` to HPKE public key ``recipients[i]`` (1216 bytes, from the registry)."""
    if not parts or len(parts) != len(recipients) or len(parts) != parts[0].n_parties:
        raise ConfigError(f"{len(parts)} parts and {len(recipients)} keys for a batch of "
                          f"{parts[0].n_parties if parts else 0} parties")
    header = BatchHeader.of(parts[0])
    for i, part in enumerate(parts):
        if part.party != i or BatchHeader.of(part) != header:
            raise ConfigError(f"part {i} is party {part.party}'s part or of another batch")
    return SealedBatch(header, tuple(hpke_seal(pk, part.to_bytes(), header.info(i))
                                     for i, (part, pk) in enumerate(zip(parts, recipients, strict=True))))


def open_batch(identity: Identity, party: int, delivery: PartyDelivery,
               expected: ChainBatch) -> PartyBatch:
    """Party ``party``'s batch, after every check of the module docstring; DeliveryRejected else.

    ``expected`` comes from the chain, never from the service.
    """
    refuse_before_download(expected, party)
    header = delivery.header

    def reject(reason: str) -> DeliveryRejected:
        return DeliveryRejected(expected.batch_id, party, reason)

    served = (header.batch_id, header.key.kind, header.count)
    if served != (expected.batch_id, expected.kind, expected.count):
        raise reject(f"served header says {header.batch_id.hex()}/{header.key.kind.value}/"
                     f"{header.count}, the chain says {expected.kind.value}/{expected.count}")
    if delivery.party != party:
        raise reject(f"the delivery is addressed to party {delivery.party}")
    if not hmac.compare_digest(header.commitment(delivery.hashes), expected.commitment):
        raise reject("the ciphertext hashes do not match the commitment on chain")
    if not hmac.compare_digest(hashlib.sha256(delivery.ciphertext).digest(),
                               delivery.hashes[party]):
        raise reject(f"the ciphertext does not match the committed hash of party {party}")
    try:
        plaintext = hpke_open(identity, delivery.ciphertext, header.info(party))
    except InvalidTag:
        raise reject("HPKE decryption failed (not sealed to this identity "
                     "for this batch and party)") from None
    return _parse(plaintext, header, party, reject)


def refuse_before_download(expected: ChainBatch, party: int) -> None:
    """Raises DeliveryRejected if the chain's batch holds more tuples than a batch may, or tuples of a kind that
    is never dealt (truncation pairs), before any download."""
    if expected.kind is TupleKind.TRUNC:
        raise DeliveryRejected(expected.batch_id, party, (
            "the batch holds truncation pairs, whose range nobody can check: the members build them from "
            "checked bits, so a preprocessing service must deal bits instead (run the same mpcc version as "
            "the members)"))
    most = max_batch_count(expected.kind)
    if expected.count > most:
        raise DeliveryRejected(expected.batch_id, party, (
            f"the batch holds {expected.count} {expected.kind.value} tuples, more than the {most} one batch may "
            f"hold ({MAX_BATCH_BYTES >> 20} MiB per member); the preprocessing service must deal smaller "
            "batches: run the same mpcc version as the members"))


def _parse(plaintext: bytes, header: BatchHeader, party: int,
           reject: Callable[[str], DeliveryRejected]) -> PartyBatch:
    try:
        batch = PartyBatch.from_bytes(plaintext)
    except DecodeError as exc:
        raise reject(f"the decrypted batch does not parse: {exc}") from exc
    if BatchHeader.of(batch) != header or batch.party != party:
        raise reject("the decrypted batch is labelled for another batch, kind, size or party")
    return batch


def _u16(value: int | None) -> bytes:
    return (_NONE16 if value is None else value).to_bytes(2, "big")


def _from_u16(raw: bytes) -> int | None:
    value = int.from_bytes(raw, "big")
    return None if value == _NONE16 else value


def _read_hashes(view: memoryview, pos: int, n: int) -> tuple[tuple[bytes, ...], int]:
    end = pos + HASH_BYTES * n
    if end > len(view):
        raise DecodeError("delivery: truncated hash list")
    return tuple(bytes(view[p:p + HASH_BYTES]) for p in range(pos, end, HASH_BYTES)), end


def _read_blobs(view: memoryview, pos: int, n: int) -> tuple[tuple[bytes, ...], int]:
    out = []
    for _ in range(n):
        if pos + 8 > len(view):
            raise DecodeError("truncated length prefix")
        size = int.from_bytes(view[pos:pos + 8], "big")
        if pos + 8 + size > len(view):
            raise DecodeError("truncated ciphertext")
        out.append(bytes(view[pos + 8:pos + 8 + size]))
        pos += 8 + size
    return tuple(out), pos
