"""What the online protocols and the analyses compute on: a live party, or a replay of its run.

An :class:`Evaluator` over shares S does for a program everything that is not
a local linear operation of S (those are S's methods, offchain.shares.Shares):
it hands out tuples, adds public constants, opens values, relays input
broadcasts and takes Beaver's step. The engine's protocols and the analyses
are written once, generic in S, and run on either kind:

    Context        a live party (offchain.engine.context): SharedVec shares, messages
                   to its peers, and a MAC check of every opened value before an output
    ReplayContext  a replay (offchain.engine.replay): no transport and no MAC key;
                   the opened values and broadcasts come from a recorded tape

Invariant: which kind runs is fixed by the type of the evaluator, never by a
flag, so a live party cannot skip its MAC check, and mypy sees which shares
a function computes on.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Generic, Self, TypeVar

from offchain.field import FieldVec
from offchain.preprocessing.tuples import TupleKey, TupleKind, TupleSet, as_key, pair_bits, pairs_from_bits
from offchain.shares import Public, Shares

#: The share type a program computes on.
S = TypeVar("S", bound=Shares)


class Evaluator(ABC, Generic[S]):
    """One run of a program on shares of type S (see the module docstring)."""

    @property
    @abstractmethod
    def n_parties(self) -> int:
        """How many parties the run has."""

    @property
    @abstractmethod
    def party(self) -> int | None:
        """The party this evaluator plays; None for a replay, which plays no party."""

    # Tuples -------------------------------------------------------------------------------------
    def take(self, kind: TupleKind | TupleKey, count: int) -> TupleSet[S]:
        """``count`` fresh tuples (TuplesExhausted if there are fewer).

        Truncation pairs are built here from the next checked bits
        (offchain.preprocessing.tuples.pairs_from_bits), the same way in a live
        run and in its replay; every other kind comes from ``take_stored``.
        """
        key = as_key(kind)
        if key.kind is not TupleKind.TRUNC:
            return self.take_stored(key, count)
        (bits,) = self.take_stored(TupleKey(TupleKind.BIT), pair_bits(key, count)).columns
        return pairs_from_bits(key, bits, count)

    @abstractmethod
    def take_stored(self, key: TupleKey, count: int) -> TupleSet[S]:
        """``count`` fresh tuples of a kind that is stored (every kind but truncation pairs)."""

    @abstractmethod
    def with_tuples(self, sets: Sequence[TupleSet[S]]) -> Self:
        """The same run continued with exactly these tuples (one set per key)."""

    # Local operations with public values ---------------------------------------------------------
    @abstractmethod
    def zeros(self, n: int) -> S:
        """The shares of n zeros."""

    @abstractmethod
    def concat(self, parts: Sequence[S]) -> S:
        """The parts one after the other (so that one call, one round, processes them all)."""

    @abstractmethod
    def add_public(self, x: S, c: Public) -> S:
        """<x + c> for a public scalar or vector c."""

    def sub_public(self, x: S, c: Public) -> S:
        """<x - c>."""
        return self.add_public(x, -c)

    def rsub_public(self, x: S, c: Public) -> S:
        """<c - x>."""
        return self.add_public(-x, c)

    def constant(self, c: FieldVec) -> S:
        """A sharing of the public vector c (no communication)."""
        return self.add_public(self.zeros(len(c)), c)

    @abstractmethod
    def beaver(self, triple: tuple[S, S, S], d: FieldVec, e: FieldVec) -> S:
        """<c + e a + d b + d e>: Beaver's product from a triple and the opened d, e."""

    # Public values ------------------------------------------------------------------------------
    @abstractmethod
    async def open(self, xs: Sequence[S]) -> list[FieldVec]:
        """The public values of several vectors in one round; not yet MAC-checked."""

    @abstractmethod
    async def check_pending(self) -> None:
        """MAC-checks every value opened since the last check (raises if one was altered)."""

    async def output(self, xs: Sequence[S]) -> list[FieldVec]:
        """The public values of several vectors, returned only once they are MAC-checked."""
        values = await self.open(xs)
        await self.check_pending()
        return values

    @abstractmethod
    async def broadcast_from(self, sender: int, payload: bytes | None) -> bytes:
        """Party ``sender``'s broadcast (its ``payload``; None elsewhere), as every party sees it."""

    @abstractmethod
    def enter_phase(self, label: str) -> None:
        """Labels the openings that follow on the run's tape, if it has one."""
