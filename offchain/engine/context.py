"""The per-party state the online protocols run on; no global runtime.

A :class:`Context` bundles a party's transport, MAC key share, tuple source
and randomness with the two pieces of state SPDZ carries between steps:
the opened-but-unchecked values (``pending``: each public vector with this
party's MAC shares of it) and the running hash of every broadcast seen
(``transcript``), both settled by offchain.engine.mac_check before output.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any

from offchain.engine.tape import Tape
from offchain.errors import ConfigError
from offchain.field import FieldVec, RandBytes
from offchain.net.transport import Transport
from offchain.preprocessing.source import TupleSource
from offchain.preprocessing.tuples import TupleKey, TupleKind, TupleSet
from offchain.shares import MacKeyShare


@dataclass(eq=False)
class Context:
    """One party's handle for one computation (job)."""

    transport: Transport
    key: MacKeyShare
    source: TupleSource
    randbytes: RandBytes = secrets.token_bytes
    tape: Tape | None = None
    pending: list[tuple[FieldVec, FieldVec]] = field(default_factory=list)
    _transcript: Any = field(default_factory=hashlib.sha256, repr=False)

    def __post_init__(self) -> None:
        # A replay plays nobody (offchain.engine.tape); its key says how public constants enter.
        if self.key.party != self.transport.party and not self.replaying:
            raise ConfigError("the MAC key share belongs to another party")

    @property
    def replaying(self) -> bool:
        """True when the public values come from a recorded tape (no messages, no checks)."""
        return self.tape is not None and self.tape.replaying

    @property
    def party(self) -> int:
        return self.transport.party

    @property
    def n_parties(self) -> int:
        return self.transport.n_parties

    def take(self, kind: TupleKind | TupleKey, count: int) -> TupleSet:
        """``count`` fresh tuples from the source (TuplesExhausted if it runs dry)."""
        key = kind if isinstance(kind, TupleKey) else TupleKey(kind)
        return self.source.take(key, count)

    def record_broadcast(self, sender: int, payload: bytes) -> None:
        """Adds a broadcast message to the transcript every party must agree on."""
        self._transcript.update(sender.to_bytes(2, "big", signed=True)
                                + len(payload).to_bytes(8, "big") + payload)

    def bind(self, label: bytes) -> None:
        """Adds public context (e.g. a batch id) that every party must share to the transcript."""
        self.record_broadcast(-1, label)

    def transcript_digest(self) -> bytes:
        return self._transcript.copy().digest()  # type: ignore[no-any-return]

    def record_opened(self, values: FieldVec, macs: FieldVec) -> None:
        """Remembers opened values and this party's MAC shares for the next MAC check."""
        self.pending.append((values, macs))
