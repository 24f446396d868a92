"""Reproducible dealers and sacrifice bypasses, for known-answer tests and benchmarks of other steps."""

from __future__ import annotations

import hashlib

from offchain.preprocessing.dealer import Dealer
from offchain.preprocessing.tuples import PartyBatch, TupleSet
from offchain.shares import MacKeyShare


class SeededBytes:
    """A deterministic byte stream (SHAKE-256 of seed and counter): known-answer tests only."""

    __slots__ = ("_counter", "_seed")

    def __init__(self, seed: bytes) -> None:
        self._seed = seed
        self._counter = 0

    def __call__(self, n: int) -> bytes:
        self._counter += 1
        block = self._seed + self._counter.to_bytes(8, "big")
        return hashlib.shake_256(block).digest(n)


def seeded_dealer(n_parties: int, seed: bytes) -> tuple[Dealer, list[MacKeyShare]]:
    """A reproducible dealer (its tuples are predictable) and the parties' MAC key shares."""
    return Dealer.create(n_parties, SeededBytes(seed))


def unchecked(batch: PartyBatch) -> TupleSet:
    """A batch's tuples WITHOUT the sacrifice (tests and benchmarks of other steps only)."""
    clear = batch.clear[:batch.count] if batch.clear is not None else None
    return TupleSet(batch.key, batch.columns, clear)
