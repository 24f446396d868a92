"""The public record of a run (every opened vector and every broadcast, in order) and its replay.

Given the values that were opened, an online protocol is a public linear map
from its inputs and tuples to everything it computes: Beaver's step, the
truncations, the comparisons and every local operation are linear in the
shares once d, e and the other opened values are fixed. A :class:`Tape`
records those public values while a party runs; replaying the same program
on a context whose tape replays them computes the same linear map on other
vectors that follow the same rules as shares, without any message:

    * a party's Pedersen randomness shares (it then plays no party: a public
      constant adds nothing to randomness), so it learns its randomness share
      of every opened value (offchain.auditable.program);
    * the commitments themselves (played as party 0: a public c adds c*G),
      which an auditor derives from chain data alone (Baum, Damgaard and
      Orlandi, "Publicly auditable secure multi-party computation", 2014).

A replay ignores MAC checks and broadcast checks (it has no peers) and
collects what it would have opened in ``shadows``, one entry per value of
the tape; a program that asks for more, or for other lengths, than was
recorded raises ReplayMismatch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from offchain.errors import ConfigError, ProtocolAbort
from offchain.field import FieldVec
from offchain.net.transport import TrafficStats, Transport


class ReplayMismatch(ProtocolAbort):
    """A replayed program asked for openings or broadcasts the tape does not hold."""


@dataclass
class Tape:
    """Opened vectors and received broadcasts of one run, in order; or their replay.

    Recording (the default): the engine appends each opened vector to
    ``opened`` and each broadcast it receives to ``messages``. Replaying
    (:meth:`replay`): the engine reads the values back, in order, from one flat
    vector, and appends each vector it would have opened to ``shadows`` (a
    party's randomness shares, or commitments). ``phase`` labels what follows
    (``phases`` maps each opened vector to its label), so that a failed check
    can say which step it was.
    """

    opened: list[FieldVec] = field(default_factory=list)
    messages: list[bytes] = field(default_factory=list)
    replaying: bool = False
    shadows: list[Any] = field(default_factory=list)
    phase: str = "analysis"
    phases: list[str] = field(default_factory=list)
    _values: FieldVec = field(default_factory=lambda: FieldVec.zeros(0))
    _at: int = 0
    _at_message: int = 0

    @classmethod
    def replay(cls, values: FieldVec, messages: Sequence[bytes]) -> Tape:
        """A tape that plays back ``values`` (every opened value, flat) and ``messages``."""
        return cls(messages=list(messages), replaying=True, _values=values)

    def flat(self) -> FieldVec:
        """Every recorded opened value, in order, as one vector."""
        return FieldVec.concat(self.opened)

    def record_opened(self, values: Sequence[FieldVec]) -> None:
        self.opened.extend(values)
        self.phases.extend(self.phase for _ in values)

    def record_message(self, message: bytes) -> None:
        self.messages.append(message)

    def play_opened(self, shadows: Sequence[Any]) -> list[FieldVec]:
        """The recorded values of the next openings, one vector per shadow (same lengths)."""
        out = []
        for shadow in shadows:
            end = self._at + len(shadow)
            if end > len(self._values):
                raise ReplayMismatch(f"the replay opens more than the {len(self._values)} "
                                     "recorded values")
            out.append(self._values[self._at:end])
            self._at = end
            self.shadows.append(shadow)
            self.phases.append(self.phase)
        return out

    def play_message(self) -> bytes:
        if self._at_message >= len(self.messages):
            raise ReplayMismatch(f"the replay expects more than the {len(self.messages)} "
                                 "recorded broadcasts")
        self._at_message += 1
        return self.messages[self._at_message - 1]

    def finished(self) -> None:
        """Raises ReplayMismatch unless the replay used the whole record."""
        if (self._at, self._at_message) != (len(self._values), len(self.messages)):
            raise ReplayMismatch(f"the replay used {self._at} of {len(self._values)} opened "
                                 f"values and {self._at_message} of {len(self.messages)} "
                                 "broadcasts")


class Observer(Transport):
    """The transport of a replay: it plays party ``n_parties`` (nobody) and sends nothing."""

    def __init__(self, n_parties: int) -> None:  # pylint: disable=super-init-not-called
        if n_parties < 2:
            raise ConfigError("a replay needs the number of parties of the run, at least 2")
        self.party = n_parties
        self.n_parties = n_parties
        self.stats = TrafficStats()
        self._sending = False

    async def _send(self, to: int, payload: bytes) -> None:
        raise ReplayMismatch("a replay sends nothing")

    async def _recv(self, frm: int) -> bytes:
        raise ReplayMismatch("a replay receives nothing")

    async def close(self) -> None:
        return None
