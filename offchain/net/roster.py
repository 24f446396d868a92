"""Who may take part in a job's channels: a plain object, so the net package never reads the chain.

The peer daemon builds a :class:`JobRoster` from the on-chain registry: one
entry per participant of the job (an active member), in party order, with the
endpoint it listens on and the SHA-256 fingerprint of its certificate (DER).
A certificate whose fingerprint is not in the roster is refused; ``excluded``
optionally names fingerprints the daemon knows but must refuse (a suspended
member, a member not taking part) so that the refusal log says why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from offchain.errors import ConfigError
from offchain.net.framing import check_job_id

FINGERPRINT_BYTES = 32


@dataclass(frozen=True)
class RosterEntry:
    """Party ``index`` listens on ``endpoint`` ("host:port") and presents ``fingerprint``."""

    index: int
    endpoint: str
    fingerprint: bytes

    def __post_init__(self) -> None:
        if len(self.fingerprint) != FINGERPRINT_BYTES:
            raise ConfigError(f"party {self.index}: a TLS fingerprint is the SHA-256 of the "
                              f"certificate ({FINGERPRINT_BYTES} bytes), got "
                              f"{len(self.fingerprint)} bytes")
        self.address  # noqa: B018  (validates the endpoint early)

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) of the endpoint; IPv6 hosts may be bracketed ("[::1]:7000")."""
        host, sep, port = self.endpoint.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"party {self.index}: endpoint {self.endpoint!r} is not "
                              "host:port (e.g. peer.example.org:7443)")
        return host.strip("[]"), int(port)


@dataclass(frozen=True)
class JobRoster:
    """The participants of job ``job_id`` (32 bytes), entry i being party i."""

    job_id: bytes
    parties: tuple[RosterEntry, ...]
    excluded: Mapping[bytes, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_job_id(self.job_id)
        if len(self.parties) < 2:
            raise ConfigError(f"a job needs at least 2 parties, the roster has {len(self.parties)}")
        for i, entry in enumerate(self.parties):
            if entry.index != i:
                raise ConfigError(f"roster entry {i} is for party {entry.index}: "
                                  "entries must be in party order")
        if len({e.fingerprint for e in self.parties}) != len(self.parties):
            raise ConfigError("two parties of the roster present the same certificate")

    @property
    def n_parties(self) -> int:
        return len(self.parties)

    def by_fingerprint(self, fingerprint: bytes) -> RosterEntry | None:
        """The participant presenting ``fingerprint``, or None."""
        for entry in self.parties:
            if entry.fingerprint == fingerprint:
                return entry
        return None

    def why_refused(self, fingerprint: bytes) -> str:
        """The reason a certificate that is not in the roster is refused (for the log)."""
        known = self.excluded.get(fingerprint)
        if known:
            return f"not a participant of this job: {known}"
        return "unknown certificate: not an active member taking part in this job"
