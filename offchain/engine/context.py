"""A live party's evaluator: the state the online protocols run on; no global runtime.

A :class:`Context` is a :class:`~offchain.engine.session.Session` (transport,
MAC key share, randomness, broadcast transcript) with a tuple source and the
opened-but-unchecked values (``pending``: each public vector with this party's
MAC shares of it), settled by offchain.engine.mac_check before every output.
It may write the run's public values on a :class:`~offchain.engine.tape.Recorder`
(an auditable run, offchain.auditable.program); it never plays a tape back.

Invariant: every value a Context opens travels over its transport and enters
its MAC check, and :meth:`Context.output` returns nothing the check has not
passed; a replay is another type (offchain.engine.replay).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

from offchain.engine.comm import broadcast_from
from offchain.engine.evaluator import Evaluator
from offchain.engine.mac_check import check_macs
from offchain.engine.opening import open_shares
from offchain.engine.session import Session
from offchain.engine.tape import Recorder
from offchain.errors import ConfigError
from offchain.field import FieldVec, beaver_combine
from offchain.preprocessing.source import MemoryTupleSource, TupleSource
from offchain.preprocessing.tuples import TupleKey, TupleSet
from offchain.shares import Public, SharedVec


@dataclass(eq=False)
class Context(Session, Evaluator[SharedVec]):
    """One party's handle for one computation (job), computing on its authenticated shares."""

    source: TupleSource
    recorder: Recorder | None = None
    pending: list[tuple[FieldVec, FieldVec]] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__post_init__()
        # Checked at run time too: a tape that plays values back would replace messages and checks.
        if self.recorder is not None and not isinstance(self.recorder, Recorder):
            raise ConfigError("a live context records its run; it cannot play a tape back")

    # Tuples -------------------------------------------------------------------------------------
    def take_stored(self, key: TupleKey, count: int) -> TupleSet:
        """``count`` fresh tuples from the source (TuplesExhausted if it runs dry)."""
        return self.source.take(key, count)

    def with_tuples(self, sets: Sequence[TupleSet]) -> Context:
        """This context on a source of exactly ``sets``; openings, checks and tape are shared."""
        source = MemoryTupleSource()
        for tuples in sets:
            source.add(tuples)
        return dataclasses.replace(self, source=source)

    # Local operations ---------------------------------------------------------------------------
    def zeros(self, n: int) -> SharedVec:
        return SharedVec.zeros(n)

    def concat(self, parts: Sequence[SharedVec]) -> SharedVec:
        return SharedVec.concat(parts)

    def add_public(self, x: SharedVec, c: Public) -> SharedVec:
        """<x + c>: party 0 adds c to its share, every party alpha_i * c to its MAC share."""
        return x.add_public(c, self.key)

    def beaver(self, triple: tuple[SharedVec, SharedVec, SharedVec], d: FieldVec, e: FieldVec
               ) -> SharedVec:
        """Beaver's output, fused into one pass over shares and MAC shares."""
        a, b, c = triple
        share, mac = beaver_combine((c.share, c.mac), (a.share, a.mac), (b.share, b.mac), d, e,
                                    self.key.alpha, self.key.party == 0)
        return SharedVec(share, mac)

    # Public values ------------------------------------------------------------------------------
    async def open(self, xs: Sequence[SharedVec]) -> list[FieldVec]:
        """Opens over the transport; the values join ``pending`` (and the tape, if recording)."""
        values = await open_shares(self, [x.share for x in xs])
        if self.recorder is not None:
            self.recorder.record_opened(values)
        for v, x in zip(values, xs, strict=True):
            self.record_opened(v, x.mac)
        return values

    async def check_pending(self) -> None:
        """The MAC check of every pending value (offchain.engine.mac_check), which it clears."""
        opened = list(self.pending)
        self.pending.clear()
        await check_macs(self, opened)

    async def broadcast_from(self, sender: int, payload: bytes | None) -> bytes:
        message = await broadcast_from(self, sender, payload)
        if self.recorder is not None:
            self.recorder.record_message(message)
        return message

    def enter_phase(self, label: str) -> None:
        if self.recorder is not None:
            self.recorder.phase = label

    def record_opened(self, values: FieldVec, macs: FieldVec) -> None:
        """Remembers opened values and this party's MAC shares for the next MAC check."""
        self.pending.append((values, macs))
