"""Shares that carry the randomness of their Pedersen commitments, and a record of every opening.

Party i holds, for each value x of an auditable computation, its SPDZ share
(x_i, m_i) and the randomness r_i of the commitment C_i = x_i*G + r_i*H that
anyone can derive from chain data: for inputs and tuples, C_i is in the
party's published list; every other value is a public linear combination of
those, and the same combination of the r_i gives its randomness (adding a
public c changes x_0 and C_0 = C_0 + c*G, never r). Whenever a value is
opened, each party records (x_i, r_i) in its transcript; publishing the
transcript lets an auditor check every opening against the commitments
(Baum, Damgaard, Orlandi 2014), without learning anything the opening did not
reveal: x_i is a share of a public value and r_i is uniform.

Protocols here, with the auditor's view of each in offchain.auditable.replay:

    public sacrifice  for triples (a, b, c) and (f, g, h) and a public challenge t
                      from chain data: open rho = t a - f, sigma = b - g, then
                      z = t c - h - sigma f - rho g - sigma rho, which must be 0
    Beaver product    open d = x - a, e = y - b; xy = c + e a + d b + d e

Transcript wire format (version 1): 0x01 || n (4 bytes big-endian) || the n
shares packed || the n randomness values packed (32 bytes big-endian each),
the openings concatenated in the order they happened.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from offchain.engine.context import Context
from offchain.engine.opening import open_values, output_many
from offchain.errors import DecodeError, SacrificeFailed
from offchain.field import ELEMENT_BYTES, FieldVec
from offchain.shares import SharedVec

TRANSCRIPT_VERSION = 1


@dataclass(frozen=True)
class Tracked:
    """One party's authenticated shares of a vector and the randomness of its commitments."""

    x: SharedVec
    r: FieldVec

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, index: slice) -> Tracked:
        return Tracked(self.x[index], self.r[index])

    def __add__(self, other: Tracked) -> Tracked:
        return Tracked(self.x + other.x, self.r + other.r)

    def __sub__(self, other: Tracked) -> Tracked:
        return Tracked(self.x - other.x, self.r - other.r)

    def scale(self, c: int | FieldVec) -> Tracked:
        return Tracked(self.x.scale(c), self.r * c)

    def add_public(self, c: int | FieldVec, ctx: Context) -> Tracked:
        """<x + c>; the commitment gains c*G (party 0's), the randomness stays."""
        return Tracked(ctx.add_public(self.x, c), self.r)

    @classmethod
    def concat(cls, parts: Sequence[Tracked]) -> Tracked:
        return cls(SharedVec.concat([p.x for p in parts]), FieldVec.concat([p.r for p in parts]))


@dataclass
class Transcript:
    """This party's (share, randomness) of every value opened so far, in order."""

    shares: list[FieldVec] = field(default_factory=list)
    rands: list[FieldVec] = field(default_factory=list)

    def record(self, item: Tracked) -> None:
        self.shares.append(item.x.share)
        self.rands.append(item.r)

    def to_bytes(self) -> bytes:
        shares, rands = FieldVec.concat(self.shares), FieldVec.concat(self.rands)
        return (bytes((TRANSCRIPT_VERSION,)) + len(shares).to_bytes(4, "big")
                + shares.packed() + rands.packed())

    @staticmethod
    def parse(data: bytes) -> tuple[FieldVec, FieldVec]:
        """(shares, rands) of a published transcript; DecodeError if malformed."""
        if len(data) < 5 or data[0] != TRANSCRIPT_VERSION:
            raise DecodeError("transcript: missing or unknown version byte")
        n = int.from_bytes(data[1:5], "big")
        if len(data) != 5 + 2 * ELEMENT_BYTES * n:
            raise DecodeError(f"transcript: length does not match n={n}")
        body = memoryview(data)[5:]
        return FieldVec.from_packed(body, n), FieldVec.from_packed(body[ELEMENT_BYTES * n:], n)


async def open_tracked(ctx: Context, items: Sequence[Tracked], transcript: Transcript) -> list[FieldVec]:
    """Opens the vectors in one round (MAC-checked later) and records this party's part of each."""
    for item in items:
        transcript.record(item)
    return await open_values(ctx, [item.x for item in items])


async def output_tracked(ctx: Context, items: Sequence[Tracked], transcript: Transcript) -> list[FieldVec]:
    """Opens and MAC-checks the vectors, with everything opened before; records them."""
    for item in items:
        transcript.record(item)
    return await output_many(ctx, [item.x for item in items])


async def public_sacrifice(ctx: Context, main: Sequence[Tracked], check: Sequence[Tracked], t: int,
                           transcript: Transcript) -> None:
    """Checks c = ab for the main triples with the check triples and challenge t (raises if not)."""
    a, b, c = main
    f, g, h = check
    rho, sigma = await open_tracked(ctx, [a.scale(t) - f, b - g], transcript)
    z = c.scale(t) - h - f.scale(sigma) - g.scale(rho)
    z = z.add_public(-(sigma * rho), ctx)
    (zero,) = await open_tracked(ctx, [z], transcript)
    if zero != FieldVec.zeros(len(zero)):
        raise SacrificeFailed(b"", "triple", "the public sacrifice of the job's triples failed")


async def beaver(ctx: Context, x: Tracked, y: Tracked, triple: Sequence[Tracked],
                 transcript: Transcript) -> Tracked:
    """<x * y> elementwise with a committed triple; d and e enter the transcript."""
    a, b, c = triple
    d, e = await open_tracked(ctx, [x - a, y - b], transcript)
    return (c + a.scale(e) + b.scale(d)).add_public(d * e, ctx)
