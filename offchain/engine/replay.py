"""A replay of a recorded run: the same program on other vectors, its public values from a tape.

A :class:`ReplayContext` has no transport and no MAC key. It reads every
opened value and broadcast from a :class:`~offchain.engine.tape.Playback`,
in order, and keeps what it computed for each opening (``shadows``): a
party's randomness share of the opened value, or the auditor's commitment to
it (offchain.engine.tape says why both follow the share rules). Its shares
are a :class:`ReplayShares` type, which also fixes how a public constant
enters: a commitment gains c*G (as party 0's share gains c), a randomness
share nothing (as no party's randomness does).

Invariant: a replay has no MAC check and needs none, because every value it
returns is one its tape recorded in a live, MAC-checked run; without a tape
it returns nothing (a ReplayContext cannot be built without one).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, Self, TypeVar

from offchain.engine.evaluator import Evaluator
from offchain.engine.tape import Playback
from offchain.errors import ConfigError, TuplesExhausted
from offchain.field import FieldVec
from offchain.preprocessing.tuples import TupleKey, TupleSet
from offchain.shares import Public, Shares


class ReplayShares(Shares, Protocol):
    """Shares a replay computes on: the share operations and how a public constant enters."""

    def add_public(self, c: Public) -> Self:
        """x + c for a public scalar or vector c, by this share type's rule."""
        ...


R = TypeVar("R", bound=ReplayShares)


@dataclass(eq=False)
class ReplayContext(Evaluator[R]):
    """A replay of a run of ``n_parties`` parties on shares of type ``shares``, from ``tape``."""

    tape: Playback
    parties: int
    shares: type[R]
    tuples: dict[TupleKey, TupleSet[R]] = field(default_factory=dict)
    shadows: list[R] = field(default_factory=list)
    _taken: dict[TupleKey, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.parties < 2:
            raise ConfigError("a replay needs the number of parties of the run, at least 2")

    @property
    def n_parties(self) -> int:
        return self.parties

    @property
    def party(self) -> None:
        """None: a replay plays no party (it holds no input and sends nothing)."""
        return None

    # Tuples -------------------------------------------------------------------------------------
    def take_stored(self, key: TupleKey, count: int) -> TupleSet[R]:
        """The next ``count`` tuples of the key, in the order the run consumed them."""
        at = self._taken.get(key, 0)
        if key not in self.tuples:
            if count:
                raise TuplesExhausted(str(key), count, "the replay holds none")
            return TupleSet(key, tuple(self.shares.zeros(0) for _ in range(key.kind.width)))
        tuples = self.tuples[key]
        if at + count > len(tuples):
            raise TuplesExhausted(str(key), at + count - len(tuples), f"{count} requested")
        self._taken[key] = at + count
        return tuples[at:at + count]

    def with_tuples(self, sets: Sequence[TupleSet[R]]) -> Self:
        """The replay continued on ``sets`` (one per key); its tape and shadows are shared."""
        tuples = {s.key: s for s in sets}
        if len(tuples) != len(sets):
            raise ConfigError("a replay takes one tuple set per key")
        return dataclasses.replace(self, tuples=tuples, _taken={})

    # Local operations ---------------------------------------------------------------------------
    def zeros(self, n: int) -> R:
        return self.shares.zeros(n)

    def concat(self, parts: Sequence[R]) -> R:
        return self.shares.concat(parts)

    def add_public(self, x: R, c: Public) -> R:
        return x.add_public(c)

    def beaver(self, triple: tuple[R, R, R], d: FieldVec, e: FieldVec) -> R:
        a, b, c = triple
        return c.scale_add(e, a).scale_add(d, b).add_public(d * e)

    # Public values ------------------------------------------------------------------------------
    async def open(self, xs: Sequence[R]) -> list[FieldVec]:
        """The recorded values of the next openings; ``xs`` join the shadows."""
        values = self.tape.play_opened([len(x) for x in xs])
        self.shadows.extend(xs)
        return values

    async def check_pending(self) -> None:
        """Nothing to check: the recorded values passed the live run's MAC checks."""

    async def broadcast_from(self, sender: int, payload: bytes | None) -> bytes:
        """The recorded broadcast (a replay sends nothing)."""
        return self.tape.play_message()

    def enter_phase(self, label: str) -> None:
        self.tape.phase = label

    def opened(self) -> R:
        """What the replay computed for every value it opened, in order, as one vector."""
        return self.shares.concat(self.shadows)
