"""The one exception tree of mpcc's off-chain code, rooted in :class:`MpccError`.

Other packages add leaves here; keep the existing names and constructor
arguments stable because callers match on them.

    MpccError
    +-- ConfigError (ValueError)        bad parameters, caught before any message
    |   +-- DealerStateError            the preprocessing service's key file is unusable
    +-- DecodeError (ValueError)        bytes that do not parse (wire or storage)
    +-- TuplesExhausted                 a tuple source ran dry
    +-- TupleReused                     a tuple was asked for a second time (never handed out)
    +-- DeliveryRejected                a served preprocessing batch failed its checks
    +-- ProtocolAbort                   the protocol must stop; nothing is output
        +-- MacCheckFailed              an opened value or MAC share was wrong
        +-- SacrificeFailed             a preprocessing batch failed its check
        +-- BroadcastMismatch           parties saw different broadcasts
        +-- CommitmentMismatch          an opening did not match its commitment
        +-- ProofFailed                 a zero-knowledge proof did not verify
        +-- MalformedMessage            a peer sent bytes that do not parse
        +-- RangeCheckFailed            shared values proven outside their ranges
        +-- InputOutOfRange             a party's input proven outside its declared range
        +-- PeerTimeout                 a peer stayed silent too long
        +-- PeerDisconnected            a peer closed its channel (or aborted)
"""

from __future__ import annotations


class MpccError(Exception):
    """Root of every error raised by mpcc."""


class ConfigError(MpccError, ValueError):
    """A parameter or an argument is invalid; raised before any protocol message."""


class DealerStateError(ConfigError):
    """The preprocessing service's dealer state file cannot be used; the message names it and the fix."""


class DecodeError(MpccError, ValueError):
    """Bytes do not follow the documented format (bad version, length or range)."""


class TuplesExhausted(MpccError):
    """A tuple source holds fewer tuples of ``kind`` than requested.

    ``missing`` is how many more would have been needed.
    """

    def __init__(self, kind: str, missing: int, detail: str = "") -> None:
        self.kind = kind
        self.missing = missing
        msg = f"not enough {kind!r} tuples: {missing} missing"
        super().__init__(f"{msg} ({detail})" if detail else msg)


class TupleReused(MpccError):
    """Tuple ``index`` of batch ``batch_id`` was handed out or reserved before; none is given."""

    def __init__(self, batch_id: bytes, index: int, detail: str = "") -> None:
        self.batch_id = batch_id
        self.index = index
        msg = f"tuple {index} of batch {batch_id.hex()} was handed out or reserved before"
        super().__init__(f"{msg} ({detail})" if detail else msg)


class DeliveryRejected(MpccError):
    """Party ``party`` refused its part of batch ``batch_id`` before using any of it.

    Raised for a ciphertext whose hash is not the committed one, a commitment
    that differs from the chain's, a failed decryption or a mislabelled batch.
    """

    def __init__(self, batch_id: bytes, party: int, reason: str) -> None:
        self.batch_id = batch_id
        self.party = party
        self.reason = reason
        super().__init__(f"party {party} rejected batch {batch_id.hex()}: {reason}")


class ProtocolAbort(MpccError):
    """The protocol cannot continue safely; the party stops and outputs nothing.

    ``culprits`` are the parties (indices into the job's participants) the protocol
    itself proves at fault; empty when the failure cannot be attributed (a failed MAC
    check shows that some party cheated, not which).
    """

    culprits: tuple[int, ...] = ()


class MacCheckFailed(ProtocolAbort):
    """The batched MAC check did not sum to zero: some opened value or MAC was forged."""


class SacrificeFailed(ProtocolAbort):
    """Batch ``batch_id`` failed its sacrifice check and must be discarded whole."""

    def __init__(self, batch_id: bytes, kind: str, reason: str = "") -> None:
        self.batch_id = batch_id
        self.kind = kind
        self.reason = reason
        text = f"{kind} batch {batch_id.hex()} failed the sacrifice check"
        super().__init__(f"{text}: {reason}" if reason else text)


class BroadcastMismatch(ProtocolAbort):
    """Parties hold different transcripts of what was broadcast (equivocation)."""


class CommitmentMismatch(ProtocolAbort):
    """Party ``party`` opened a value that does not match its commitment."""

    def __init__(self, party: int, what: str) -> None:
        self.party = party
        super().__init__(f"party {party} opened a {what} that does not match its commitment")


class ProofFailed(ProtocolAbort):
    """A zero-knowledge proof did not verify; ``check`` names the check that failed (offchain.lattice.zk).

    ``parties`` are the provers whose proofs failed, when the protocol knows
    them (offchain.dealerless names every peer whose proof it refused); they
    are the culprits. A bare proof check (``zk.verify``) names none.
    """

    def __init__(self, check: str, detail: str = "", parties: tuple[int, ...] = ()) -> None:
        self.check = check
        self.detail = detail
        self.parties = tuple(parties)
        self.culprits = self.parties
        who = f"party {', '.join(map(str, self.parties))}: " if self.parties else ""
        text = f"{who}proof failed its {check} check"
        super().__init__(f"{text}: {detail}" if detail else text)


class RangeCheckFailed(ProtocolAbort):
    """The shared values at ``indices`` lie outside their declared ranges (offchain.engine.ranges)."""

    def __init__(self, indices: list[int]) -> None:
        self.indices = indices
        shown = ", ".join(map(str, indices[:8])) + (", ..." if len(indices) > 8 else "")
        super().__init__(f"{len(indices)} value(s) outside their declared range, at {shown}")


class InputOutOfRange(ProtocolAbort):
    """The parties ``parties`` input values outside the ranges the job declares (``count`` checks failed)."""

    def __init__(self, parties: list[int], count: int) -> None:
        self.parties = parties
        self.count = count
        self.culprits = tuple(parties)
        who = ", ".join(map(str, parties))
        super().__init__(f"party {who}: input outside the range the job declares ({count} range "
                         "check(s) failed under MPC; the values were not opened)")


class ResultOutOfRange(ProtocolAbort):
    """A value the analysis computes left its fixed-point format: the data is too large for the spec's
    ``fixed_point``, not an attack (no party is blamed). Found under MPC; nothing but that was opened."""

    def __init__(self, what: str, advice: str) -> None:
        super().__init__(f"{what}; {advice}")


class MalformedMessage(ProtocolAbort):
    """Party ``party`` sent a message that does not parse."""

    def __init__(self, party: int, detail: str) -> None:
        self.party = party
        super().__init__(f"malformed message from party {party}: {detail}")


class PeerTimeout(ProtocolAbort):
    """Party ``party`` sent nothing within the timeout."""

    def __init__(self, party: int, seconds: float) -> None:
        self.party = party
        super().__init__(f"no message from party {party} within {seconds:g} s")


class PeerDisconnected(ProtocolAbort):
    """Party ``party`` closed its channel before sending the expected message."""

    def __init__(self, party: int) -> None:
        self.party = party
        super().__init__(f"party {party} closed its channel (it aborted or finished early)")
