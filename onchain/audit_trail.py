"""Typed client of AuditTrail: Pedersen commitments of auditable jobs and their verified openings.

Points travel as the precompiles' encoding, 64 bytes each (x || y, big-endian;
the point at infinity is 64 zero bytes), which is also ``offchain.curve``'s
``PointVec`` wire format; the contract takes them as uint256 pairs. A
participant's list is sent in chunks of at most ``CHUNK`` points; the list's
hash is the chain keccak256(previous hash || chunk), starting from 32 zero
bytes, and is what the participant posts to JobManager.commitInputs.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from web3 import Web3

from onchain.abi import audit_trail
from onchain.abi.audit_trail import ColumnSum, Generators, ShareLog
from onchain.contract import ContractClient, Receipt
from onchain.errors import ChainError

__all__ = ["CHUNK", "POINT_BYTES", "ZERO_HASH", "AuditTrail", "DataKind", "ShareLog", "coordinates",
           "from_coordinates", "input_commitment", "list_hash"]

CHUNK = 1024
POINT_BYTES = 64
ZERO_HASH = bytes(32)


class DataKind(enum.IntEnum):
    """What ``publishData`` carries (see IAuditTrail)."""

    TUPLES = 1
    TRANSCRIPT = 2


def input_commitment(points: bytes, tuples: bytes = b"") -> bytes:
    """What an auditable participant posts to JobManager.commitInputs.

    The hash of its Pedersen list alone, or with tuple commitments
    keccak256(listHash || keccak256(tuples)), so that both are fixed before any result.
    """
    digest = list_hash(points)
    return keccak(digest + keccak(tuples)) if tuples else digest


def list_hash(points: bytes, chunk: int = CHUNK) -> bytes:
    """The hash chain the contract computes over ``points`` sent in chunks of ``chunk`` points."""
    digest = ZERO_HASH
    step = chunk * POINT_BYTES
    for start in range(0, len(points), step):
        digest = keccak(digest + points[start:start + step])
    return digest


def coordinates(points: bytes) -> list[int]:
    """The uint256 (x, y, x, y, ..) the contract takes, from 64-byte encoded points."""
    if len(points) % POINT_BYTES:
        raise ChainError(f"{len(points)} bytes is not a whole number of 64-byte points")
    return [int.from_bytes(points[i:i + 32], "big") for i in range(0, len(points), 32)]


def from_coordinates(values: Sequence[int]) -> bytes:
    """The inverse of :func:`coordinates`."""
    return b"".join(int(v).to_bytes(32, "big") for v in values)


class AuditTrail(ContractClient, audit_trail.Errors):
    NAME = audit_trail.CONTRACT
    EVENTS = audit_trail.EVENTS
    ERRORS = audit_trail.ERRORS
    errors = audit_trail.Errors

    def commit_shares(self, sender: LocalAccount, job_id: int, width: int, points: bytes,
                      chunk: int = CHUNK) -> list[Receipt]:
        """Sends the whole list in chunks; returns one receipt per chunk."""
        xy = coordinates(points)
        per = 2 * chunk
        return [self._send(sender, "commitShares", job_id, width, xy[i:i + per])
                for i in range(0, len(xy), per)]

    def publish_opening(self, sender: LocalAccount, job_id: int, columns: Sequence[int],
                        shares: Sequence[int], rands: Sequence[int], participants: int = 32) -> Receipt:
        """Open the sender's shares of ``columns``; the last of the job's ``participants`` to be
        mined also runs the on-chain check, which its gas limit covers whatever the order."""
        # The check: the participants read from JobManager (a cold seat each), the verified
        # hash stored, and LinearResultVerified with the columns and their totals.
        closing = 30_000 + 2_700 * participants + 1_200 * len(columns)
        return self._send(sender, "publishOpening", job_id, list(columns), list(shares), list(rands),
                          closing_gas=closing)

    def publish_data(self, sender: LocalAccount, job_id: int, kind: DataKind, data: bytes) -> Receipt:
        return self._send(sender, "publishData", job_id, int(kind), data)

    def share_log(self, job_id: int, participant: str) -> ShareLog:
        """What the trail keeps of one participant's commitments."""
        return self._read(ShareLog, "shareLog", job_id, Web3.to_checksum_address(participant))

    def column_sum(self, job_id: int, participant: str, column: int) -> bytes:
        point = self._read(ColumnSum, "columnSum", job_id, Web3.to_checksum_address(participant), column)
        return from_coordinates([point.x, point.y])

    def verified_totals(self, job_id: int) -> bytes:
        return bytes(self._call("verifiedTotals", job_id))

    def generators(self) -> bytes:
        """G || H in the 64-byte encoding."""
        g = self._read(Generators, "generators")
        return from_coordinates([g.gx, g.gy, g.hx, g.hy])

    def job_manager(self) -> str:
        return str(self._call("jobManager"))

    def committed_points(self, tx_hash: str) -> tuple[int, int, bytes]:
        """(job id, width, points) of a commitShares transaction, read from its calldata.

        The auditor's way to the lists themselves: storage keeps only their hash.
        """
        args = self._calldata(tx_hash, "commitShares")
        return int(args["jobId"]), int(args["width"]), from_coordinates(args["xy"])

    def published_data(self, tx_hash: str) -> tuple[int, DataKind, bytes]:
        """(job id, kind, data) of a publishData transaction, read from its calldata."""
        args = self._calldata(tx_hash, "publishData")
        return int(args["jobId"]), DataKind(int(args["kind"])), bytes(args["data"])

    def _calldata(self, tx_hash: str, name: str) -> dict[str, Any]:
        tx = self.chain.w3.eth.get_transaction(HexBytes(tx_hash))
        if tx["to"] is None or Web3.to_checksum_address(tx["to"]) != self.address:
            raise ChainError(f"transaction {tx_hash} does not call AuditTrail directly; "
                             "its data cannot be read from calldata")
        function, args = self.contract.decode_function_input(tx["input"])
        if function.fn_name != name:
            raise ChainError(f"transaction {tx_hash} calls {function.fn_name}, not {name}")
        return dict(args)
