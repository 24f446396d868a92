"""Tuple kinds, checked tuple sets, one party's dealer batch and its wire format.

Kinds and the relation each tuple satisfies (all shares MAC'd under alpha):

    triple      (<a>, <b>, <c>)        c = a*b
    square      (<a>, <b>)             b = a^2
    bit         (<b>,)                 b in {0, 1}
    input_mask  (<r>,) + r in clear    the owner alone learns r
    trunc       (<r>, <r_low>)         r uniform in [0, 2^bits), r_low = r mod 2^f
                                       (so r_high = (r - r_low) / 2^f; Catrina-Saxena 2010)

Truncation pairs are never dealt nor stored: :func:`pairs_from_bits` builds
each from ``bits`` checked random bits when a computation takes it, so that
its range and its low part hold whoever made the bits (a dealt pair's range
could not be checked). Their needs count those bits (:func:`pair_bits`).

A :class:`PartyBatch` is what the dealer sends one party before the sacrifice:
``count`` tuples in ``columns`` plus the auxiliary ``checks`` the sacrifice
consumes (see offchain.engine.sacrifice for their layout per kind).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic

from typing_extensions import TypeVar

from offchain.errors import ConfigError, DecodeError
from offchain.field import ELEMENT_BYTES, FieldVec
from offchain.shares import SharedVec, Shares

#: The share type of a tuple set: authenticated shares unless a replay says otherwise.
S = TypeVar("S", bound=Shares, default=SharedVec)

BATCH_WIRE_VERSION = 1
BATCH_ID_BYTES = 32
_NONE16 = 0xFFFF
_KEY_TEXT = re.compile(r"([a-z_]+)(?:\[owner=(\d{1,5})\]|\[f=(\d{1,3}),bits=(\d{1,3})\])?")


class TupleKind(enum.Enum):
    """The kinds of preprocessed tuples (values are the names used on the wire and chain)."""

    TRIPLE = "triple"
    SQUARE = "square"
    BIT = "bit"
    INPUT_MASK = "input_mask"
    TRUNC = "trunc"

    @property
    def width(self) -> int:
        """How many shared values make one tuple."""
        return _WIDTH[self][0]

    @property
    def check_width(self) -> int:
        """How many shared values make the auxiliary part a batch carries for its sacrifice."""
        return _WIDTH[self][1]


_WIDTH = {TupleKind.TRIPLE: (3, 3), TupleKind.SQUARE: (2, 2), TupleKind.BIT: (1, 2),
          TupleKind.INPUT_MASK: (1, 1), TupleKind.TRUNC: (2, 2)}
_KIND_CODES = list(TupleKind)

#: The most bytes one party's part of a batch may take. The preprocessing service splits a
#: stock level into batches under it, a peer refuses a batch over it before fetching it, and
#: the service's answers (offchain.preprocessing.protocol.MAX_BODY) are sized from it: so
#: every batch dealt is one every peer accepts, and the service's memory is bounded by it.
MAX_BATCH_BYTES = 32 << 20
_PART_HEAD_BYTES = 1024  # The part's header (54 bytes) and the per-batch checks, generously.


def max_batch_count(kind: TupleKind) -> int:
    """The most tuples of ``kind`` one batch may hold: every party's part stays under MAX_BATCH_BYTES.

    Counted for the largest part (the owner's of input masks, with the clear
    values) and as if every kind carried one check per tuple.
    """
    per_tuple = 2 * ELEMENT_BYTES * (kind.width + kind.check_width) + ELEMENT_BYTES
    return (MAX_BATCH_BYTES - _PART_HEAD_BYTES) // per_tuple


def batch_counts(kind: TupleKind, count: int) -> list[int]:
    """``count`` tuples of ``kind`` as the sizes of the batches to deal, none over max_batch_count."""
    most = max_batch_count(kind)
    full, rest = divmod(count, most)
    return [most] * full + ([rest] if rest else [])


@dataclass(frozen=True, slots=True)
class TupleKey:
    """A kind plus its variant: the owner of input masks, (f, bits) of truncation pairs."""

    kind: TupleKind
    owner: int | None = None
    f: int | None = None
    bits: int | None = None

    def __post_init__(self) -> None:
        is_mask, is_trunc = self.kind is TupleKind.INPUT_MASK, self.kind is TupleKind.TRUNC
        if is_mask != (self.owner is not None):
            raise ConfigError("an owner is given for input masks and only for them")
        if is_trunc != (self.f is not None and self.bits is not None):
            raise ConfigError("f and bits are given for truncation pairs and only for them")
        if is_trunc and not 0 < self.f < self.bits <= 252:  # type: ignore[operator]
            raise ConfigError(f"truncation pairs need 0 < f < bits <= 252, got f={self.f}, "
                              f"bits={self.bits}")
        if self.owner is not None and not 0 <= self.owner < _NONE16:
            raise ConfigError(f"owner {self.owner} out of range")

    @classmethod
    def parse(cls, text: str) -> TupleKey:
        """The key ``str(key)`` printed (``triple``, ``input_mask[owner=0]``, ``trunc[f=20,bits=64]``)."""
        match = _KEY_TEXT.fullmatch(text)
        try:
            if match is None:
                raise ValueError(text)
            kind, owner, f, bits = match.groups()
            return cls(TupleKind(kind), owner=None if owner is None else int(owner),
                       f=None if f is None else int(f), bits=None if bits is None else int(bits))
        except ValueError:
            raise DecodeError(f"{text[:80]!r} is not a tuple key (e.g. triple, input_mask[owner=0])") from None

    def __str__(self) -> str:
        if self.owner is not None:
            return f"{self.kind.value}[owner={self.owner}]"
        if self.f is not None:
            return f"{self.kind.value}[f={self.f},bits={self.bits}]"
        return self.kind.value


def as_key(kind: TupleKind | TupleKey) -> TupleKey:
    return kind if isinstance(kind, TupleKey) else TupleKey(kind)


def parse_levels(text: str, n_parties: int, option: str = "--stock") -> dict[TupleKey, int]:
    """``triple=N,input_mask=M,...`` as levels per tuple key; input_mask means M per owner.

    ``option`` names the setting in error messages. Truncation pairs are
    refused: every party builds them from bits.
    """
    levels: dict[TupleKey, int] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        name, sep, count = item.partition("=")
        if not sep or not count.strip().isdigit() or int(count) < 1:
            raise ConfigError(f"{option}: {item!r} is not KIND=COUNT with COUNT >= 1")
        n = int(count)
        kind = name.strip().partition(":")[0]
        try:
            tuple_kind = TupleKind(kind)
        except ValueError:
            raise ConfigError(f"{option}: unknown tuple kind {kind!r}; choose from "
                              f"{', '.join(k.value for k in TupleKind if k is not TupleKind.TRUNC)}") from None
        if tuple_kind is TupleKind.INPUT_MASK:
            levels.update({TupleKey(tuple_kind, owner=i): n for i in range(n_parties)})
        elif tuple_kind is TupleKind.TRUNC:
            raise ConfigError(f"{option}: truncation pairs are not stocked: the members build each from checked "
                              "bits (trunc:F:BITS takes BITS bits), so stock bits instead (`mpcc job plan` "
                              "prints the stock a job needs)")
        else:
            levels[TupleKey(tuple_kind)] = n
    if not levels:
        raise ConfigError(f"{option} names no tuple kind (e.g. input_mask=64,triple=1000)")
    return levels


def at_least(levels: dict[TupleKey, int], needs: Needs) -> dict[TupleKey, int]:
    """``levels`` raised, key by key, to what ``needs`` takes (a stock that covers both)."""
    raised = dict(levels)
    for key, n in needs:
        raised[key] = max(raised.get(key, 0), n)
    return raised


def pair_bits(key: TupleKey, count: int) -> int:
    """How many random bits ``count`` truncation pairs of ``key`` are built from."""
    if key.kind is not TupleKind.TRUNC or key.bits is None:
        raise ConfigError(f"{key} is not a kind of truncation pair")
    return count * key.bits


def pairs_from_bits(key: TupleKey, bits: S, count: int) -> TupleSet[S]:
    """``count`` truncation pairs of ``key`` from ``pair_bits(key, count)`` shared bits.

    Bit i of pair j is ``bits[i * count + j]``: r = sum_i 2^i b_i and r_low =
    sum_{i < f} 2^i b_i (local linear maps, on any kind of shares). With checked
    bits, 0 <= r < 2^bits and r_low = r mod 2^f hold.
    """
    width, f = key.bits or 0, key.f or 0
    if len(bits) != pair_bits(key, count):
        raise ConfigError(f"{count} pairs of {key} are built from {pair_bits(key, count)} bits, got {len(bits)}")
    low = bits[:f * count].binary(f)
    return TupleSet(key, (bits[f * count:].binary(width - f).scale(1 << f) + low, low))


@dataclass(frozen=True, slots=True)
class TupleSet(Generic[S]):
    """Checked tuples of one key held by one party, ready to be consumed.

    ``columns`` has ``key.kind.width`` share vectors of equal length; ``clear``
    holds the mask values for the owner of input masks, else None. A live
    party's are authenticated shares (SharedVec, the default); a replay's are
    the same tuples as commitments or randomness shares.
    """

    key: TupleKey
    columns: tuple[S, ...]
    clear: FieldVec | None = None

    def __post_init__(self) -> None:
        if len(self.columns) != self.key.kind.width:
            raise ConfigError(f"{self.key} needs {self.key.kind.width} columns")
        if len({len(c) for c in self.columns}) != 1:
            raise ConfigError("columns differ in length")

    def __len__(self) -> int:
        return len(self.columns[0])

    def __getitem__(self, index: slice) -> TupleSet[S]:
        clear = self.clear[index] if self.clear is not None else None
        return TupleSet(self.key, tuple(c[index] for c in self.columns), clear)

    @staticmethod
    def concat(parts: Sequence[TupleSet[S]]) -> TupleSet[S]:
        first = parts[0]
        shares = type(first.columns[0])
        columns = tuple(shares.concat([p.columns[i] for p in parts])
                        for i in range(len(first.columns)))
        clear = (FieldVec.concat([p.clear for p in parts if p.clear is not None])
                 if first.clear is not None else None)
        return TupleSet(first.key, columns, clear)


@dataclass(frozen=True)
class Needs:
    """How many tuples of each key a computation consumes (an estimate made before it runs).

    Needs add up (``a + b``) and scale (``3 * a``); ``Needs.of(TupleKind.TRIPLE, 10)``.
    """

    counts: Mapping[TupleKey, int] = field(default_factory=dict)

    @classmethod
    def of(cls, key: TupleKind | TupleKey, count: int) -> Needs:
        return cls({as_key(key): count}) if count else cls()

    def __add__(self, other: Needs) -> Needs:
        merged = dict(self.counts)
        for key, n in other.counts.items():
            merged[key] = merged.get(key, 0) + n
        return Needs(merged)

    def __mul__(self, factor: int) -> Needs:
        return Needs({k: n * factor for k, n in self.counts.items() if n * factor})

    __rmul__ = __mul__

    def __getitem__(self, key: TupleKind | TupleKey) -> int:
        return self.counts.get(as_key(key), 0)

    def __iter__(self) -> Iterator[tuple[TupleKey, int]]:
        return iter(sorted(self.counts.items(), key=lambda kv: str(kv[0])))

    def as_dict(self) -> dict[str, int]:
        """A JSON-friendly view: {"triple": 10, "input_mask[owner=0]": 3, ...}."""
        return {str(k): n for k, n in self}


@dataclass(frozen=True, slots=True)
class PartyBatch:
    """One party's share of a dealer batch, before the sacrifice.

    ``clear`` (owner of input masks only) holds the clear values of the mask
    column followed by those of the check column.
    """

    batch_id: bytes
    key: TupleKey
    party: int
    n_parties: int
    columns: tuple[SharedVec, ...]
    checks: tuple[SharedVec, ...]
    clear: FieldVec | None = None

    def __post_init__(self) -> None:
        kind = self.key.kind
        if (len(self.columns), len(self.checks)) != (kind.width, kind.check_width):
            raise ConfigError(f"a {kind.value} batch has {kind.width} columns and "
                              f"{kind.check_width} check columns")
        if len(self.batch_id) != BATCH_ID_BYTES:
            raise ConfigError("a batch id has 32 bytes")
        if not 0 <= self.party < self.n_parties < _NONE16:
            raise ConfigError(f"party {self.party} of {self.n_parties} is out of range")

    @property
    def count(self) -> int:
        """How many tuples this batch yields once checked."""
        return len(self.columns[0])

    def to_bytes(self) -> bytes:
        """Serialises the batch, version 1 (all integers big-endian)::

            0x01 | kind (1: index in TupleKind order) | batch_id (32) | party (2)
            | n_parties (2) | owner (2) | f (2) | bits (2)    (0xFFFF = absent)
            | count (4) | check_count (4) | has_clear (1)
            | for each column then each check: shares packed | MAC shares packed
            | clear packed (count + check_count elements) if has_clear

        where "packed" is 32 bytes big-endian per element.
        """
        k = self.key
        head = b"".join((
            bytes((BATCH_WIRE_VERSION, _KIND_CODES.index(k.kind))), self.batch_id,
            *(_u16(v) for v in (self.party, self.n_parties, k.owner, k.f, k.bits)),
            self.count.to_bytes(4, "big"), len(self.checks[0]).to_bytes(4, "big"),
            bytes((self.clear is not None,))))
        body = [p for c in self.columns + self.checks for p in (c.share.packed(), c.mac.packed())]
        tail = [self.clear.packed()] if self.clear is not None else []
        return b"".join([head, *body, *tail])

    @classmethod
    def from_bytes(cls, data: bytes | memoryview) -> PartyBatch:
        """Parses :meth:`to_bytes`; raises DecodeError on any inconsistency."""
        view = memoryview(data)
        if len(view) < 54 or view[0] != BATCH_WIRE_VERSION or view[1] >= len(_KIND_CODES):
            raise DecodeError("batch: too short, unknown version or unknown kind")
        kind = _KIND_CODES[view[1]]
        batch_id = bytes(view[2:34])
        party, n_parties, owner, f, bits = (_from_u16(view[34 + 2 * i:36 + 2 * i])
                                            for i in range(5))
        count, n_check = (int.from_bytes(view[44 + 4 * i:48 + 4 * i], "big") for i in range(2))
        has_clear = view[52]
        sizes = [count] * kind.width + [n_check] * kind.check_width
        expected = 53 + 2 * ELEMENT_BYTES * sum(sizes) + (
            ELEMENT_BYTES * (count + n_check) if has_clear else 0)
        if len(view) != expected or party is None or n_parties is None:
            raise DecodeError(f"batch: {len(view)} bytes where {expected} were expected")
        try:
            key = TupleKey(kind, owner, f, bits)
        except ConfigError as exc:
            raise DecodeError(f"batch: {exc}") from exc
        vecs, pos = _read_shared(view, 53, sizes)
        clear = FieldVec.from_packed(view[pos:], count + n_check) if has_clear else None
        return cls(batch_id, key, party, n_parties, tuple(vecs[:kind.width]),
                   tuple(vecs[kind.width:]), clear)


def _u16(value: int | None) -> bytes:
    return (_NONE16 if value is None else value).to_bytes(2, "big")


def _from_u16(raw: memoryview) -> int | None:
    value = int.from_bytes(raw, "big")
    return None if value == _NONE16 else value


def _read_shared(view: memoryview, pos: int, sizes: list[int]) -> tuple[list[SharedVec], int]:
    out = []
    for n in sizes:
        share = FieldVec.from_packed(view[pos:], n)
        pos += ELEMENT_BYTES * n
        mac = FieldVec.from_packed(view[pos:], n)
        pos += ELEMENT_BYTES * n
        out.append(SharedVec(share, mac))
    return out, pos
