"""Typed client of JobManager: the life of a job from proposal to result."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3 import Web3

from onchain.contract import ContractClient, Receipt


class JobState(enum.IntEnum):
    NONE = 0
    PROPOSED = 1
    ACCEPTED = 2
    INPUTS_COMMITTED = 3
    FINALISED = 4
    ABORTED = 5


class AbortReason(enum.IntEnum):
    NONE = 0
    DECLINED = 1
    RESULT_MISMATCH = 2
    PROTOCOL_FAILURE = 3
    DEADLINE_PASSED = 4


@dataclass(frozen=True)
class Deadlines:
    """Block timestamps by which each step must happen (inclusive)."""

    accept_by: int
    commit_by: int
    result_by: int

    @classmethod
    def from_now(cls, now: int, accept_s: int = 3600, commit_s: int = 3600, result_s: int = 3600) -> Deadlines:
        return cls(now + accept_s, now + accept_s + commit_s, now + accept_s + commit_s + result_s)


@dataclass(frozen=True)
class Job:
    """A job as JobManager holds it (the spec text lives in the JobProposed event)."""

    job_id: int
    spec_hash: bytes
    proposer: str
    state: JobState
    abort_reason: AbortReason
    deadlines: Deadlines
    proposed_at: int
    accepted: int
    committed: int
    submitted: int
    result_hash: bytes
    evidence_hash: bytes


def spec_hash(spec_text: str) -> bytes:
    """The keccak-256 of a canonical spec, as the contract stores it."""
    return keccak(spec_text.encode())


def _reservations(reservations: Sequence[tuple[bytes, int]]) -> list[tuple[bytes, int]]:
    return [(bytes(batch_id), int(count)) for batch_id, count in reservations]


class JobManager(ContractClient):
    NAME = "JobManager"

    def job(self, job_id: int) -> Job:
        raw = self._call("getJob", job_id)
        return Job(job_id, bytes(raw[0]), raw[1], JobState(raw[2]), AbortReason(raw[3]),
                   Deadlines(int(raw[4]), int(raw[5]), int(raw[6])), int(raw[7]), int(raw[8]),
                   int(raw[9]), int(raw[10]), bytes(raw[11]), bytes(raw[12]))

    def participants(self, job_id: int) -> list[str]:
        return [str(a) for a in self._call("participantsOf", job_id)]

    def has_accepted(self, job_id: int, account: str) -> bool:
        return bool(self._call("hasAccepted", job_id, Web3.to_checksum_address(account)))

    def has_committed(self, job_id: int, account: str) -> bool:
        return bool(self._call("hasCommitted", job_id, Web3.to_checksum_address(account)))

    def input_commitment(self, job_id: int, account: str, from_block: int = 0) -> bytes | None:
        """The account's input commitment from its InputsCommitted event (None if it has not committed).

        The contract keeps only a bit per participant; the commitment itself is chain data in the event.
        """
        wanted = Web3.to_checksum_address(account)
        for event in self.events(from_block, names=("InputsCommitted",)):
            if event.jobId == job_id and event.participant == wanted:  # type: ignore[attr-defined]
                return bytes(event.commitment)  # type: ignore[attr-defined]
        return None

    def job_count(self) -> int:
        return int(self._call("jobCount"))

    def propose(self, sender: LocalAccount, spec_text: str, participants: list[str], deadlines: Deadlines,
                reservations: Sequence[tuple[bytes, int]] = ()) -> tuple[int, Receipt]:
        """Propose a job; a proposer among the participants accepts by proposing and may reserve
        ``(batch_id, count)`` tuples in the same transaction."""
        receipt = self._send(sender, "propose", spec_text,
                             [Web3.to_checksum_address(p) for p in participants],
                             deadlines.accept_by, deadlines.commit_by, deadlines.result_by,
                             _reservations(reservations))
        return int(receipt.first("JobProposed").jobId), receipt  # type: ignore[attr-defined]

    def reserve_tuples(self, sender: LocalAccount, job_id: int, batch_id: bytes, count: int) -> Receipt:
        """Reserve ``count`` tuples of one batch (see ``reserve_batches`` for several in one transaction)."""
        return self.reserve_batches(sender, job_id, [(batch_id, count)])

    def reserve_batches(self, sender: LocalAccount, job_id: int,
                        reservations: Sequence[tuple[bytes, int]]) -> Receipt:
        """Reserve ``count`` tuples of each ``(batch_id, count)``, all or none, in one transaction."""
        return self._send(sender, "reserveTuples", job_id, _reservations(reservations))

    def accept(self, sender: LocalAccount, job_id: int) -> Receipt:
        return self._send(sender, "accept", job_id)

    def decline(self, sender: LocalAccount, job_id: int) -> Receipt:
        return self._send(sender, "decline", job_id)

    def commit_inputs(self, sender: LocalAccount, job_id: int, commitment: bytes) -> Receipt:
        return self._send(sender, "commitInputs", job_id, commitment)

    def submit_result(self, sender: LocalAccount, job_id: int, result: bytes) -> Receipt:
        return self._send(sender, "submitResult", job_id, result)

    def report_failure(self, sender: LocalAccount, job_id: int, evidence_hash: bytes) -> Receipt:
        return self._send(sender, "reportFailure", job_id, evidence_hash)

    def expire(self, sender: LocalAccount, job_id: int) -> Receipt:
        return self._send(sender, "expire", job_id)
