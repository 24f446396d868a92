"""Typed client of PreprocessingLedger: batch commitments, attestations, reservations.

Its enums (``TupleKind``, whose names match ``offchain`` tuple kinds, and
``BatchStatus``), the ``Batch`` struct, events and errors are generated from
the ABI (``onchain.abi.preprocessing_ledger``).
"""

from __future__ import annotations

from eth_account.signers.local import LocalAccount
from web3 import Web3

from onchain.abi import preprocessing_ledger
from onchain.abi.preprocessing_ledger import BatchStatus, TupleKind, TuplesReleased
from onchain.contract import ContractClient, Receipt

__all__ = ["Batch", "BatchStatus", "PreprocessingLedger", "TupleKind"]


class Batch(preprocessing_ledger.Batch):
    """A batch of tuples as the ledger records it (no tuple data, ever)."""

    @property
    def available(self) -> int:
        return self.count - self.reserved


class PreprocessingLedger(ContractClient, preprocessing_ledger.Errors):
    NAME = preprocessing_ledger.CONTRACT
    EVENTS = preprocessing_ledger.EVENTS
    ERRORS = preprocessing_ledger.ERRORS
    errors = preprocessing_ledger.Errors

    def batch(self, batch_id: bytes) -> Batch:
        """The batch record (all zero if unknown)."""
        return self._read(Batch, "getBatch", batch_id)

    def is_attested(self, batch_id: bytes, member: str) -> bool:
        return bool(self._call("isAttested", batch_id, Web3.to_checksum_address(member)))

    def job_manager(self) -> str:
        return str(self._call("jobManager"))

    def bind_job_manager(self, sender: LocalAccount, job_manager: str) -> Receipt:
        return self._send(sender, "bindJobManager", Web3.to_checksum_address(job_manager))

    def commit_batch(self, sender: LocalAccount, batch_id: bytes, kind: TupleKind, count: int,
                     commitment: bytes) -> Receipt:
        return self._send(sender, "commitBatch", batch_id, int(kind), count, commitment)

    def attest_sacrifice(self, sender: LocalAccount, batch_id: bytes, transcript_hash: bytes) -> Receipt:
        return self._send(sender, "attestSacrifice", batch_id, transcript_hash)

    def release_events(self, job_id: int, from_block: int = 0) -> list[TuplesReleased]:
        """The job's tuples handed back to their batches (it was declined before it started)."""
        return self.logs(TuplesReleased, from_block=from_block, jobId=job_id)

    def reject_batch(self, sender: LocalAccount, batch_id: bytes, evidence_hash: bytes) -> Receipt:
        return self._send(sender, "rejectBatch", batch_id, evidence_hash)
