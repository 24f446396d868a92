"""Typed client of PreprocessingLedger: batch commitments, attestations, reservations."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from eth_account.signers.local import LocalAccount
from web3 import Web3

from onchain.contract import ContractClient, Receipt


class TupleKind(enum.IntEnum):
    """Mirrors the contract's enum; names match ``offchain`` tuple kinds."""

    TRIPLE = 0
    SQUARE = 1
    BIT = 2
    INPUT_MASK = 3
    TRUNC = 4

    @property
    def label(self) -> str:
        return self.name.lower()


class BatchStatus(enum.IntEnum):
    NONE = 0
    COMMITTED = 1
    REJECTED = 2


@dataclass(frozen=True)
class Batch:
    """A batch of tuples as the ledger records it (no tuple data, ever)."""

    batch_id: bytes
    kind: TupleKind
    status: BatchStatus
    count: int
    reserved: int
    commitment: bytes
    service: str
    committed_at: int
    attestations: int

    @property
    def available(self) -> int:
        return self.count - self.reserved


class PreprocessingLedger(ContractClient):
    NAME = "PreprocessingLedger"

    def batch(self, batch_id: bytes) -> Batch:
        raw = self._call("getBatch", batch_id)
        return Batch(batch_id, TupleKind(raw[0]), BatchStatus(raw[1]), int(raw[2]), int(raw[3]),
                     bytes(raw[4]), raw[5], int(raw[6]), int(raw[7]))

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

    def reject_batch(self, sender: LocalAccount, batch_id: bytes, evidence_hash: bytes) -> Receipt:
        return self._send(sender, "rejectBatch", batch_id, evidence_hash)
