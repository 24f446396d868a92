"""The public record of a run (every opened vector and every broadcast, in order) and its playback.

Given the values that were opened, an online protocol is a public linear map
from its inputs and tuples to everything it computes: Beaver's step, the
truncations, the comparisons and every local operation are linear in the
shares once d, e and the other opened values are fixed. A live party
(offchain.engine.context) may write those public values on a
:class:`Recorder`; a replay (offchain.engine.replay) reads them back from a
:class:`Playback` and computes the same linear map on other vectors that
follow the share rules, without any message:

    * a party's Pedersen randomness shares (it then plays no party: a public
      constant adds nothing to randomness), so it learns its randomness share
      of every opened value (offchain.auditable.program);
    * the commitments themselves (a public c adds c*G, as party 0 adds c),
      which an auditor derives from chain data alone (Baum, Damgaard and
      Orlandi, "Publicly auditable secure multi-party computation", 2014).

Invariant: the two are different types. A live party only records, so no
tape can stand in for its messages or its MAC checks; a replay only plays
back, and one that asks for more, or for other lengths, than was recorded
raises ReplayMismatch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from offchain.errors import ProtocolAbort
from offchain.field import FieldVec


class ReplayMismatch(ProtocolAbort):
    """A replayed program asked for openings or broadcasts the tape does not hold."""


@dataclass
class Recorder:
    """Opened vectors and received broadcasts of one live run, in order.

    ``phase`` labels what follows (``phases`` maps each opened vector to its
    label), so that a failed check of the record can say which step it was.
    """

    opened: list[FieldVec] = field(default_factory=list)
    messages: list[bytes] = field(default_factory=list)
    phase: str = "analysis"
    phases: list[str] = field(default_factory=list)

    def flat(self) -> FieldVec:
        """Every recorded opened value, in order, as one vector."""
        return FieldVec.concat(self.opened)

    def record_opened(self, values: Sequence[FieldVec]) -> None:
        self.opened.extend(values)
        self.phases.extend(self.phase for _ in values)

    def record_message(self, message: bytes) -> None:
        self.messages.append(message)

    def playback(self) -> Playback:
        """A tape that plays this record back from its start."""
        return Playback(self.flat(), tuple(self.messages))


@dataclass
class Playback:
    """A record played back, in order: every opened value (flat) and every broadcast.

    ``phases`` and ``lengths`` describe each vector played so far, with the
    ``phase`` it was played in.
    """

    values: FieldVec
    messages: tuple[bytes, ...]
    phase: str = "analysis"
    phases: list[str] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    _at: int = 0
    _at_message: int = 0

    def play_opened(self, lengths: Sequence[int]) -> list[FieldVec]:
        """The recorded values of the next openings, one vector per length."""
        out = []
        for n in lengths:
            end = self._at + n
            if end > len(self.values):
                raise ReplayMismatch(f"the replay opens more than the {len(self.values)} "
                                     "recorded values")
            out.append(self.values[self._at:end])
            self._at = end
            self.lengths.append(n)
            self.phases.append(self.phase)
        return out

    def play_message(self) -> bytes:
        if self._at_message >= len(self.messages):
            raise ReplayMismatch(f"the replay expects more than the {len(self.messages)} "
                                 "recorded broadcasts")
        self._at_message += 1
        return self.messages[self._at_message - 1]

    def vector_of(self, j: int) -> int:
        """The index of the played vector that holds value ``j``."""
        at = 0
        for i, n in enumerate(self.lengths):
            at += n
            if j < at:
                return i
        return len(self.lengths) - 1

    def finished(self) -> None:
        """Raises ReplayMismatch unless the replay used the whole record."""
        if (self._at, self._at_message) != (len(self.values), len(self.messages)):
            raise ReplayMismatch(f"the replay used {self._at} of {len(self.values)} opened "
                                 f"values and {self._at_message} of {len(self.messages)} "
                                 "broadcasts")
