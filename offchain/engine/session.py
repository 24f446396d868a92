"""A live party's link to one computation: who it is, its peers, its MAC key share, its transcript.

The message patterns (offchain.engine.comm), coins, the MAC check and the
sacrifice run on a :class:`Session`; the online evaluator of a live party
(offchain.engine.context) is one. Invariant: the MAC key share belongs to the
transport's party; nothing without a transport and a key is a session.

The session carries the running hash of every broadcast seen
(``transcript``): every party must agree on it, which offchain.engine.mac_check
checks before any output.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any

from offchain.errors import ConfigError
from offchain.field import RandBytes
from offchain.net.transport import Transport
from offchain.shares import MacKeyShare


@dataclass(eq=False)
class Session:
    """One party's transport, MAC key share, randomness and broadcast transcript for one job."""

    transport: Transport
    key: MacKeyShare
    randbytes: RandBytes = field(default=secrets.token_bytes, kw_only=True)
    _transcript: Any = field(default_factory=hashlib.sha256, repr=False, kw_only=True)

    def __post_init__(self) -> None:
        if self.key.party != self.transport.party:
            raise ConfigError("the MAC key share belongs to another party")

    @property
    def party(self) -> int:
        return self.transport.party

    @property
    def n_parties(self) -> int:
        return self.transport.n_parties

    def record_broadcast(self, sender: int, payload: bytes) -> None:
        """Adds a broadcast message to the transcript every party must agree on."""
        self._transcript.update(sender.to_bytes(2, "big", signed=True)
                                + len(payload).to_bytes(8, "big") + payload)

    def bind(self, label: bytes) -> None:
        """Adds public context (e.g. a batch id) that every party must share to the transcript."""
        self.record_broadcast(-1, label)

    def transcript_digest(self) -> bytes:
        return self._transcript.copy().digest()  # type: ignore[no-any-return]
