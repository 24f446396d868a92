"""The preprocessing service's request protocol: its wire format and the members' client.

The service serves, over TLS with its own throwaway self-signed certificate
(integrity comes from the on-chain commitment, confidentiality from HPKE; a
reader who is not the addressee learns nothing), a small request protocol.
One request per connection. Request, version 1 (integers big-endian)::

    offset  size  field
         0     1  version = 1
         1     1  op: 1 key-share, 2 list-batches, 3 batch
         2     2  party (key-share, batch; else 0)
         4    32  batch id (batch; else zero)

Response, version 1::

         0     1  version = 1
         1     1  status: 0 ok, 1 not found, 2 bad request
         2     8  n = body length (at most MAX_BODY, 64 MiB)
        10     n  body

Bodies: key-share = group id (32) | n_parties (2) | party (2) | the HPKE-sealed
MAC key share (offchain.preprocessing.keyshare wire format); list-batches = count (4) |
count batch headers of 49 bytes (offchain.preprocessing.delivery, which carry
the tuple key: kind, owner, f, bits); batch = ``PartyDelivery.to_bytes()``.
On error the body is a UTF-8 reason.

The client does not check the service's certificate: nothing it serves is
trusted as served. A delivery is checked against the batch commitment on
chain and decrypted with the member's own HPKE key (``open_batch``); a MAC
key share opens only as this party's share for this group.
"""

from __future__ import annotations

import asyncio
import ssl
import struct
from collections.abc import Callable
from dataclasses import dataclass

from offchain.errors import DecodeError, MpccError
from offchain.net.address import split_host_port
from offchain.preprocessing.delivery import HEADER_BYTES, BatchHeader, PartyDelivery
from offchain.preprocessing.tuples import MAX_BATCH_BYTES, TupleKey

WIRE_VERSION = 1
OP_KEY_SHARE, OP_LIST, OP_BATCH = 1, 2, 3
OK, NOT_FOUND, BAD_REQUEST = 0, 1, 2
REQUEST = struct.Struct(">BBH32s")
RESPONSE_HEAD = struct.Struct(">BBQ")
#: Twice the largest part of a batch (with its hash list and HPKE overhead), so every batch dealt fits.
MAX_BODY = 2 * MAX_BATCH_BYTES
TIMEOUT_S = 20.0
CHUNK = 1 << 20
Received = Callable[[int, int], None]


class ServiceError(MpccError, ConnectionError):
    """The preprocessing service could not be reached or answered with an error."""


class NotServed(ServiceError):
    """The service answered that it does not hold what was asked (e.g. a batch it dealt
    before a restart: it serves only the batches it dealt since it started)."""


@dataclass(frozen=True)
class CatalogueEntry:
    """A batch the service committed: what an analyst needs to plan reservations."""

    batch_id: bytes
    key: TupleKey
    count: int


@dataclass(frozen=True)
class SealedKeyShare:
    group: bytes
    n_parties: int
    party: int
    sealed: bytes

    def to_bytes(self) -> bytes:
        return self.group + self.n_parties.to_bytes(2, "big") + self.party.to_bytes(2, "big") + self.sealed

    @classmethod
    def from_bytes(cls, body: bytes) -> SealedKeyShare:
        if len(body) < 37:
            raise DecodeError("key-share answer too short")
        return cls(body[:32], int.from_bytes(body[32:34], "big"), int.from_bytes(body[34:36], "big"), body[36:])


class ServiceClient:
    """Requests to the service at ``host:port``."""

    def __init__(self, endpoint: str, timeout: float = TIMEOUT_S) -> None:
        self.endpoint = endpoint
        self.host, self.port = split_host_port(endpoint)
        self.timeout = timeout

    async def key_share(self, party: int) -> SealedKeyShare:
        return SealedKeyShare.from_bytes(await self._request(OP_KEY_SHARE, party))

    async def catalogue(self) -> list[CatalogueEntry]:
        body = await self._request(OP_LIST)
        count = int.from_bytes(body[:4], "big")
        if len(body) != 4 + count * HEADER_BYTES:
            raise DecodeError("list-batches answer of the wrong length")
        headers = [BatchHeader.from_bytes(body[4 + i * HEADER_BYTES:4 + (i + 1) * HEADER_BYTES])
                   for i in range(count)]
        return [CatalogueEntry(h.batch_id, h.key, h.count) for h in headers]

    async def delivery_bytes(self, batch_id: bytes, party: int, received: Received | None = None) -> bytes:
        """This party's delivery of a batch as served; ``received(done, total)`` follows the download."""
        return await self._request(OP_BATCH, party, batch_id, received)

    async def delivery(self, batch_id: bytes, party: int) -> PartyDelivery:
        return PartyDelivery.from_bytes(await self.delivery_bytes(batch_id, party))

    async def _request(self, op: int, party: int = 0, batch_id: bytes = bytes(32),
                       received: Received | None = None) -> bytes:
        try:
            return await asyncio.wait_for(
                self._exchange(REQUEST.pack(WIRE_VERSION, op, party, batch_id), received), self.timeout)
        except ServiceError:
            raise  # An answer (a ConnectionError, hence an OSError, by its base class).
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ssl.SSLError) as err:
            raise ServiceError(f"the preprocessing service at {self.endpoint} did not answer: "
                               f"{str(err) or type(err).__name__}; is `mpcc preprocess serve` running?") from err

    async def _exchange(self, request: bytes, received: Received | None = None) -> bytes:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.minimum_version = ssl.TLSVersion.TLSv1_3
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # See the module docstring.
        reader, writer = await asyncio.open_connection(self.host, self.port, ssl=context)
        try:
            writer.write(request)
            await writer.drain()
            version, status, length = RESPONSE_HEAD.unpack(await reader.readexactly(RESPONSE_HEAD.size))
            if version != WIRE_VERSION:
                raise DecodeError(f"service answer of version {version}; this peer speaks {WIRE_VERSION}")
            if length > MAX_BODY:
                raise DecodeError(f"the service answered with {length} bytes, more than the {MAX_BODY} this peer "
                                  "accepts (a batch holds at most MAX_BATCH_BYTES per member); the service "
                                  "must deal smaller batches: run the same mpcc version as the members")
            body = await _read_body(reader, length, received)
        finally:
            writer.close()
        if status != OK:
            kind = NotServed if status == NOT_FOUND else ServiceError
            raise kind(f"the preprocessing service refused: {body.decode('utf-8', 'replace')}")
        return body


async def _read_body(reader: asyncio.StreamReader, length: int, received: Received | None) -> bytes:
    """``length`` bytes, in chunks when someone follows the download."""
    if received is None:
        return await reader.readexactly(length)
    parts, done = [], 0
    while done < length:
        parts.append(await reader.readexactly(min(CHUNK, length - done)))
        done += len(parts[-1])
        received(done, length)
    return b"".join(parts)
