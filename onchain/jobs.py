"""Typed client of JobManager: the life of a job from proposal to result.

Its enums, the ``Job`` struct, events and errors are generated from the ABI
(``onchain.abi.job_manager``); ``Job`` adds the deadlines as one value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from web3 import Web3

from onchain.abi import job_manager
from onchain.abi.job_manager import (
    AbortReason,
    CheaterReported,
    DeclineReason,
    InputsCommitted,
    JobDeclined,
    JobProposed,
    JobState,
)
from onchain.contract import ContractClient, Receipt

__all__ = ["AbortReason", "Deadlines", "DeclineReason", "Job", "JobManager", "JobState", "closing_gas",
           "spec_hash"]

#: Gas the last participant's step costs beyond the others' (the state change and its event).
CLOSING_STEP_GAS = 4_000
#: Per byte of result, the last result's extra cost: JobFinalised repeats it (8 gas a byte of
#: log data) after copying it to memory (3 a word, and memory growth).
CLOSING_RESULT_GAS_PER_BYTE = 12


def closing_gas(result: bytes = b"") -> int:
    """What a participant's step costs beyond its estimate when it is mined last (finalising the job)."""
    return CLOSING_STEP_GAS + CLOSING_RESULT_GAS_PER_BYTE * len(result)


@dataclass(frozen=True)
class Deadlines:
    """Block timestamps by which each step must happen (inclusive)."""

    accept_by: int
    commit_by: int
    result_by: int

    @classmethod
    def from_now(cls, now: int, accept_s: int = 3600, commit_s: int = 3600, result_s: int = 3600) -> Deadlines:
        return cls(now + accept_s, now + accept_s + commit_s, now + accept_s + commit_s + result_s)


class Job(job_manager.Job):
    """A job as JobManager holds it (the spec text lives in the JobProposed event)."""

    @property
    def deadlines(self) -> Deadlines:
        return Deadlines(self.accept_by, self.commit_by, self.result_by)


def result_hash(result: bytes) -> bytes:
    """The keccak-256 of a posted result, as the contract records it."""
    return keccak(result)


def spec_hash(spec_text: str) -> bytes:
    """The keccak-256 of a canonical spec, as the contract stores it."""
    return keccak(spec_text.encode())


def _reservations(reservations: Sequence[tuple[bytes, int]]) -> list[tuple[bytes, int]]:
    return [(bytes(batch_id), int(count)) for batch_id, count in reservations]


class JobManager(ContractClient, job_manager.Errors):
    NAME = job_manager.CONTRACT
    EVENTS = job_manager.EVENTS
    ERRORS = job_manager.ERRORS
    errors = job_manager.Errors

    def job(self, job_id: int) -> Job:
        """The job record (all zero if unknown)."""
        return self._read(Job, "getJob", job_id)

    def participants(self, job_id: int) -> list[str]:
        return [str(a) for a in self._call("participantsOf", job_id)]

    def has_accepted(self, job_id: int, account: str) -> bool:
        return bool(self._call("hasAccepted", job_id, Web3.to_checksum_address(account)))

    def has_committed(self, job_id: int, account: str) -> bool:
        return bool(self._call("hasCommitted", job_id, Web3.to_checksum_address(account)))

    def result_hash_of(self, job_id: int, account: str) -> bytes:
        """The keccak-256 of the result ``account`` posted (32 zero bytes if none)."""
        return bytes(self._call("resultHashOf", job_id, Web3.to_checksum_address(account)))

    def input_commitment(self, job_id: int, account: str, from_block: int = 0) -> bytes | None:
        """The account's input commitment from its InputsCommitted event (None if it has not committed).

        The contract keeps only a bit per participant; the commitment itself is chain data in the event.
        """
        found = self.logs(InputsCommitted, from_block=from_block, jobId=job_id, participant=account)
        return found[0].commitment if found else None

    def job_count(self) -> int:
        return int(self._call("jobCount"))

    def max_job_duration(self) -> int:
        """The longest a job may run, seconds from its proposal to its result deadline (a deployment parameter)."""
        return int(self._call("maxJobDuration"))

    def max_tuples_per_job(self) -> int:
        """The most tuples one job may hold reserved (a deployment parameter)."""
        return int(self._call("maxTuplesPerJob"))

    def declines(self, job_id: int, from_block: int = 0) -> list[JobDeclined]:
        """Who declined the job, and why (at most one: a decline aborts the job)."""
        return self.logs(JobDeclined, from_block=from_block, jobId=job_id)

    def cheater_reports(self, job_id: int, from_block: int = 0) -> list[CheaterReported]:
        """Who named whom as the participant at fault in the job (``report_cheater``)."""
        return self.logs(CheaterReported, from_block=from_block, jobId=job_id)

    def propose(self, sender: LocalAccount, spec_text: str, participants: list[str], deadlines: Deadlines,
                reservations: Sequence[tuple[bytes, int]] = ()) -> tuple[int, Receipt]:
        """Propose a job; a proposer among the participants accepts by proposing and may reserve
        ``(batch_id, count)`` tuples in the same transaction."""
        receipt = self._send(sender, "propose", spec_text,
                             [Web3.to_checksum_address(p) for p in participants],
                             deadlines.accept_by, deadlines.commit_by, deadlines.result_by,
                             _reservations(reservations))
        return receipt.first(JobProposed).jobId, receipt

    def reserve_tuples(self, sender: LocalAccount, job_id: int, batch_id: bytes, count: int) -> Receipt:
        """Reserve ``count`` tuples of one batch (see ``reserve_batches`` for several in one transaction)."""
        return self.reserve_batches(sender, job_id, [(batch_id, count)])

    def reserve_batches(self, sender: LocalAccount, job_id: int,
                        reservations: Sequence[tuple[bytes, int]]) -> Receipt:
        """Reserve ``count`` tuples of each ``(batch_id, count)``, all or none, in one transaction."""
        return self._send(sender, "reserveTuples", job_id, _reservations(reservations))

    def accept(self, sender: LocalAccount, job_id: int) -> Receipt:
        return self._send(sender, "accept", job_id, closing_gas=closing_gas())

    def decline(self, sender: LocalAccount, job_id: int, reason: DeclineReason,
                batch_ids: Sequence[bytes] = ()) -> Receipt:
        """Decline (and so abort) the job for ``reason``, releasing its tuples in ``batch_ids`` where
        nothing was reserved after them (the ids of its TuplesReserved events)."""
        return self._send(sender, "decline", job_id, int(reason), [bytes(b) for b in batch_ids])

    def commit_inputs(self, sender: LocalAccount, job_id: int, commitment: bytes) -> Receipt:
        return self._send(sender, "commitInputs", job_id, commitment, closing_gas=closing_gas())

    def submit_result(self, sender: LocalAccount, job_id: int, result: bytes) -> Receipt:
        return self._send(sender, "submitResult", job_id, result, closing_gas=closing_gas(result))

    def report_failure(self, sender: LocalAccount, job_id: int, evidence_hash: bytes) -> Receipt:
        return self._send(sender, "reportFailure", job_id, evidence_hash)

    def report_cheater(self, sender: LocalAccount, job_id: int, accused: str, evidence_hash: bytes) -> Receipt:
        """Abort the job naming ``accused``, the participant the protocol found at fault."""
        return self._send(sender, "reportCheater", job_id, Web3.to_checksum_address(accused), evidence_hash)

    def expire(self, sender: LocalAccount, job_id: int) -> Receipt:
        return self._send(sender, "expire", job_id)
