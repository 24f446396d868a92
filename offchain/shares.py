"""Authenticated additive share vectors and MAC key shares, a la SPDZ [DPSZ12].

:class:`Shares` is what every vector that follows the share rules offers: the
local linear operations a program applies to shares. :class:`SharedVec` (a
party's authenticated shares) is the one a live party computes on; a replay of
a run computes on commitments or randomness shares instead
(offchain.auditable.shadows), which are other types with the same operations.

Party i holds, for a secret vector x, the pair (x_i, m_i) with
sum_i x_i = x and sum_i m_i = alpha * x, where alpha = sum_i alpha_i is the
global MAC key and party i knows only alpha_i. Linear operations are local:
adding two shared vectors or multiplying by a public value needs no
communication; adding a public c changes x_0 only but every MAC share
(m_i += alpha_i * c).

Wire format of :meth:`SharedVec.to_bytes`, version 1::

    0x01 || n (4 bytes big-endian) || x_i packed || m_i packed

with "packed" being n elements of 32 bytes big-endian each (see offchain.field).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, Self

import numpy as np

from offchain.errors import ConfigError, DecodeError, MacCheckFailed
from offchain.field import ELEMENT_BYTES, FieldVec, P, RandBytes

SHARE_WIRE_VERSION = 1
Public = FieldVec | int


class Shares(Protocol):
    """The local linear operations of a vector that follows the share rules.

    Invariant: each is a public linear map applied the same way by every
    party, so it commutes with summing the parties' vectors (and with
    committing to them). Public constants are not among them: how a constant
    enters depends on who computes (offchain.engine.evaluator).
    """

    def __len__(self) -> int: ...

    def __getitem__(self, index: slice) -> Self: ...

    def __add__(self, other: Self) -> Self: ...

    def __sub__(self, other: Self) -> Self: ...

    def __neg__(self) -> Self: ...

    def gather(self, index: np.ndarray) -> Self:
        """The elements at ``index``, in that order (indices may repeat)."""
        ...

    def scale(self, c: Public) -> Self:
        """c * x for a public scalar, or elementwise for a public vector."""
        ...

    def scale_add(self, c: Public, other: Self) -> Self:
        """x + c * y with y = other."""
        ...

    def negate_where(self, bits: FieldVec) -> Self:
        """(1 - 2c) x for public bits c: x where c is 0, -x where c is 1 (no products)."""
        ...

    def combine(self, weights: FieldVec) -> Self:
        """sum_j weights_j x_j, as a vector of one element."""
        ...

    def binary(self, width: int) -> Self:
        """sum_i 2^i x[i n:(i + 1) n] for n = len(x) / width: ``width`` rows of shared bits (least
        significant row first) combined into n shared numbers."""
        ...

    @classmethod
    def concat(cls, parts: Sequence[Self]) -> Self: ...

    @classmethod
    def zeros(cls, n: int) -> Self:
        """The shares of the zero vector (the same for every party)."""
        ...


@dataclass(frozen=True, slots=True)
class MacKeyShare:
    """Party ``party``'s share ``alpha`` of the global MAC key; never leaves the party."""

    party: int
    alpha: int

    def __repr__(self) -> str:
        return f"MacKeyShare(party={self.party}, alpha=<hidden>)"


@dataclass(frozen=True, slots=True)
class SharedVec:
    """One party's authenticated shares of a secret vector: values and MAC shares."""

    share: FieldVec
    mac: FieldVec

    def __post_init__(self) -> None:
        if len(self.share) != len(self.mac):
            raise ConfigError("share and MAC vectors differ in length")

    def __len__(self) -> int:
        return len(self.share)

    def __getitem__(self, index: slice) -> SharedVec:
        return SharedVec(self.share[index], self.mac[index])

    def gather(self, index: np.ndarray) -> SharedVec:
        """The elements at ``index``, in that order (indices may repeat)."""
        return SharedVec(FieldVec(self.share.limbs[index]), FieldVec(self.mac.limbs[index]))

    @classmethod
    def concat(cls, parts: Sequence[SharedVec]) -> SharedVec:
        return cls(FieldVec.concat([p.share for p in parts]), FieldVec.concat([p.mac for p in parts]))

    @classmethod
    def zeros(cls, n: int) -> SharedVec:
        """A sharing of the zero vector (valid for every party)."""
        return cls(FieldVec.zeros(n), FieldVec.zeros(n))

    def __add__(self, other: SharedVec) -> SharedVec:
        return SharedVec(self.share + other.share, self.mac + other.mac)

    def __sub__(self, other: SharedVec) -> SharedVec:
        return SharedVec(self.share - other.share, self.mac - other.mac)

    def __neg__(self) -> SharedVec:
        return SharedVec(-self.share, -self.mac)

    def scale(self, c: Public) -> SharedVec:
        """<c * x> for a public scalar or a public vector c (elementwise)."""
        return SharedVec(self.share * c, self.mac * c)

    def scale_add(self, c: Public, other: SharedVec) -> SharedVec:
        """<x + c * y> with y = other; for a public vector c in one pass per component."""
        if isinstance(c, int):
            return self + other.scale(c)
        return SharedVec(self.share.mul_add(other.share, c), self.mac.mul_add(other.mac, c))

    def negate_where(self, bits: FieldVec) -> SharedVec:
        """<(1 - 2c) x> for public bits c, by selecting limbs (this runs on every bit of a
        comparison: a selection is much cheaper than a product)."""
        flip = bits.limbs[:, 0].astype(bool)[:, None]
        share = FieldVec(np.where(flip, (-self.share).limbs, self.share.limbs))
        mac = FieldVec(np.where(flip, (-self.mac).limbs, self.mac.limbs))
        return SharedVec(share, mac)

    def combine(self, weights: FieldVec) -> SharedVec:
        """<sum_j weights_j x_j> as a shared vector of one element."""
        if not len(self):
            return SharedVec.zeros(1)
        return SharedVec(FieldVec.from_ints([self.share.dot(weights)]),
                         FieldVec.from_ints([self.mac.dot(weights)]))

    def binary(self, width: int) -> SharedVec:
        """<sum_i 2^i x[i n:(i + 1) n]>, n = len(x) / width, in one pass per row and component."""
        return SharedVec(self.share.binary(width), self.mac.binary(width))

    def add_public(self, c: Public, key: MacKeyShare) -> SharedVec:
        """<x + c>: party 0 adds c to its share, every party adds alpha_i * c to its MAC."""
        share = self.share + c if key.party == 0 else self.share
        mac = self.mac + (key.alpha * c % P if isinstance(c, int) else c * key.alpha)
        return SharedVec(share, mac)

    def sub_public(self, c: Public, key: MacKeyShare) -> SharedVec:
        """<x - c>."""
        return self.add_public(-c, key)

    def rsub_public(self, c: Public, key: MacKeyShare) -> SharedVec:
        """<c - x>."""
        return (-self).add_public(c, key)

    def to_bytes(self) -> bytes:
        """Serialises one party's shares (see the module docstring)."""
        header = bytes((SHARE_WIRE_VERSION,)) + len(self).to_bytes(4, "big")
        return header + self.share.packed() + self.mac.packed()

    @classmethod
    def from_bytes(cls, data: bytes | memoryview) -> SharedVec:
        view = memoryview(data)
        if len(view) < 5 or view[0] != SHARE_WIRE_VERSION:
            raise DecodeError("shared vector: missing or unknown version byte")
        n = int.from_bytes(view[1:5], "big")
        if len(view) != 5 + 2 * ELEMENT_BYTES * n:
            raise DecodeError(f"shared vector: length does not match n={n}")
        body = view[5:]
        return cls(FieldVec.from_packed(body, n),
                   FieldVec.from_packed(body[ELEMENT_BYTES * n:], n))


def split(values: FieldVec, n_parties: int, randbytes: RandBytes = secrets.token_bytes
          ) -> list[FieldVec]:
    """Additive shares of ``values``: n-1 uniform vectors and the difference."""
    if n_parties < 1:
        raise ConfigError("need at least one party")
    parts = [FieldVec.random(len(values), randbytes) for _ in range(n_parties - 1)]
    last = values
    for part in parts:
        last = last - part
    return [*parts, last]


def deal(values: FieldVec, alpha: int, n_parties: int,
         randbytes: RandBytes = secrets.token_bytes) -> list[SharedVec]:
    """Authenticated sharings of ``values`` under the global key ``alpha`` (dealer side)."""
    shares = split(values, n_parties, randbytes)
    macs = split(values * alpha, n_parties, randbytes)
    return [SharedVec(s, m) for s, m in zip(shares, macs, strict=True)]


def split_key(alpha: int, n_parties: int, randbytes: RandBytes = secrets.token_bytes
              ) -> list[MacKeyShare]:
    """Additive shares of the global MAC key alpha, one per party."""
    parts = split(FieldVec.from_ints([alpha]), n_parties, randbytes)
    return [MacKeyShare(i, part[0]) for i, part in enumerate(parts)]


def reconstruct(shares: Sequence[SharedVec], alpha: int) -> FieldVec:
    """Sum of all parties' shares, checking the MAC relation (tests and dealers only).

    Raises MacCheckFailed if sum m_i != alpha * sum x_i for some element.
    """
    value = shares[0].share
    mac = shares[0].mac
    for s in shares[1:]:
        value, mac = value + s.share, mac + s.mac
    if mac != value * alpha:
        raise MacCheckFailed("MAC relation does not hold")
    return value
