"""Where the online phase gets its tuples: the TupleSource interface and an in-memory one.

Invariant of every source: a tuple is handed out at most once; asking for
more than it holds raises TuplesExhausted(kind, missing) and hands out
nothing. The SQLite peer cache implements the same interface.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque

from offchain.errors import ConfigError, TuplesExhausted
from offchain.field import FieldVec
from offchain.preprocessing.tuples import Needs, TupleKey, TupleSet
from offchain.shares import SharedVec


class TupleSource(ABC):
    """Hands out checked tuples, each exactly once."""

    @abstractmethod
    def take(self, key: TupleKey, count: int) -> TupleSet:
        """Removes and returns ``count`` tuples of ``key``; TuplesExhausted if fewer remain."""

    @abstractmethod
    def available(self, key: TupleKey) -> int:
        """How many tuples of ``key`` remain."""

    def ensure(self, needs: Needs) -> None:
        """Raises TuplesExhausted for the first key of ``needs`` this source cannot cover."""
        for key, count in needs:
            missing = count - self.available(key)
            if missing > 0:
                raise TuplesExhausted(str(key), missing, f"{count} needed")

    def reserve(self, needs: Needs) -> MemoryTupleSource:
        """Moves the tuples ``needs`` asks for into a new source dedicated to one job."""
        self.ensure(needs)
        reserved = MemoryTupleSource()
        for key, count in needs:
            reserved.add(self.take(key, count))
        return reserved


class MemoryTupleSource(TupleSource):
    """Checked tuples held in memory, consumed first in, first out."""

    def __init__(self) -> None:
        self._sets: dict[TupleKey, deque[TupleSet]] = {}

    def add(self, tuples: TupleSet) -> None:
        """Adds tuples that passed the sacrifice (see offchain.engine.sacrifice)."""
        if len(tuples):
            self._sets.setdefault(tuples.key, deque()).append(tuples)

    def available(self, key: TupleKey) -> int:
        return sum(len(s) for s in self._sets.get(key, ()))

    def take(self, key: TupleKey, count: int) -> TupleSet:
        if count < 0:
            raise ConfigError(f"cannot take {count} tuples")
        missing = count - self.available(key)
        if missing > 0:
            raise TuplesExhausted(str(key), missing, f"{count} requested")
        queue = self._sets.get(key, deque())
        parts: list[TupleSet] = []
        while count > 0:
            head = queue.popleft()
            if len(head) > count:
                # Slices copy nothing; the rest goes back to the front. (The memory of a
                # set is freed once all of it has been handed out.)
                queue.appendleft(head[count:])
                head = head[:count]
            parts.append(head)
            count -= len(head)
        if not parts:
            return _empty(key)
        return parts[0] if len(parts) == 1 else TupleSet.concat(parts)


def _empty(key: TupleKey) -> TupleSet:
    columns = tuple(SharedVec.zeros(0) for _ in range(key.kind.width))
    return TupleSet(key, columns, FieldVec.zeros(0) if key.owner is not None else None)
