// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IOrgRegistry} from "./IOrgRegistry.sol";
import {IPreprocessingLedger} from "./IPreprocessingLedger.sol";

/// @title PreprocessingLedger
/// @notice Batch commitments, sacrifice attestations and single consumption of tuples.
/// @dev See {IPreprocessingLedger}. The only loop (in `reserve`) is bounded by 32 participants.
contract PreprocessingLedger is IPreprocessingLedger {
    uint64 private constant _MAX_COUNT = 2 ** 40;
    uint256 private constant _MAX_PARTICIPANTS = 32;

    IOrgRegistry private immutable _registry;
    address private immutable _deployer;

    address private _jobManager;
    mapping(bytes32 batchId => Batch) private _batches;
    mapping(bytes32 batchId => mapping(address member => bool)) private _attested;

    /// @notice Deploys the ledger against `registry_`; the deployer later binds the JobManager.
    /// @dev Requirements: `registry_` is non-zero.
    constructor(address registry_) {
        if (registry_ == address(0)) revert ZeroAddress();
        _registry = IOrgRegistry(registry_);
        _deployer = msg.sender;
    }

    /// @inheritdoc IPreprocessingLedger
    function bindJobManager(address jobManager_) external {
        if (msg.sender != _deployer) revert NotDeployer(msg.sender);
        if (_jobManager != address(0)) revert JobManagerAlreadyBound(_jobManager);
        if (jobManager_ == address(0)) revert ZeroAddress();
        _jobManager = jobManager_;
        emit JobManagerBound(jobManager_);
    }

    /// @inheritdoc IPreprocessingLedger
    function commitBatch(bytes32 batchId, TupleKind kind, uint64 count, bytes32 commitment) external {
        // A preprocessing service (dealer mode), or a member committing a batch the members made together.
        if (!_registry.hasRole(IOrgRegistry.Role.Preprocessor, msg.sender) && !_registry.isActiveMember(msg.sender)) {
            revert NotPreprocessor(msg.sender);
        }
        if (batchId == bytes32(0)) revert InvalidBatchId();
        Batch storage batch = _batches[batchId];
        if (batch.status != BatchStatus.None) revert BatchExists(batchId);
        if (count == 0 || count > _MAX_COUNT) revert InvalidCount(count);
        if (commitment == bytes32(0)) revert InvalidCommitment();
        batch.kind = kind;
        batch.status = BatchStatus.Committed;
        batch.count = count;
        batch.commitment = commitment;
        batch.service = msg.sender;
        batch.committedAt = uint64(block.timestamp);
        emit BatchCommitted(batchId, kind, count, commitment, msg.sender);
    }

    /// @inheritdoc IPreprocessingLedger
    function attestSacrifice(bytes32 batchId, bytes32 transcriptHash) external {
        _requireActiveMember(msg.sender);
        Batch storage batch = _batches[batchId];
        _requireStatus(batchId, batch, BatchStatus.Committed);
        if (_attested[batchId][msg.sender]) revert AlreadyAttested(batchId, msg.sender);
        if (transcriptHash == bytes32(0)) revert InvalidTranscriptHash();
        _attested[batchId][msg.sender] = true;
        batch.attestations += 1;
        emit SacrificeAttested(batchId, msg.sender, transcriptHash);
    }

    /// @inheritdoc IPreprocessingLedger
    function rejectBatch(bytes32 batchId, bytes32 evidenceHash) external {
        _requireActiveMember(msg.sender);
        Batch storage batch = _batches[batchId];
        _requireStatus(batchId, batch, BatchStatus.Committed);
        if (evidenceHash == bytes32(0)) revert InvalidEvidenceHash();
        if (batch.reserved != 0) revert BatchInUse(batchId, batch.reserved);
        batch.status = BatchStatus.Rejected;
        emit BatchRejected(batchId, msg.sender, evidenceHash);
    }

    /// @inheritdoc IPreprocessingLedger
    function reserve(uint256 jobId, bytes32 batchId, uint64 count, address[] calldata participants)
        external
        returns (uint64 start)
    {
        if (msg.sender != _jobManager) revert NotJobManager(msg.sender);
        Batch storage batch = _batches[batchId];
        _requireStatus(batchId, batch, BatchStatus.Committed);
        if (participants.length > _MAX_PARTICIPANTS) revert TooManyParticipants(participants.length);
        for (uint256 i = 0; i < participants.length; ++i) {
            if (!_attested[batchId][participants[i]]) revert NotAttested(batchId, participants[i]);
        }
        if (count == 0) revert InvalidCount(count);
        start = batch.reserved;
        uint64 available = batch.count - start;
        if (count > available) revert InsufficientTuples(batchId, count, available);
        batch.reserved = start + count;
        if (batch.lastJob != jobId) {
            // A job's consecutive reservations of one batch form one range.
            batch.lastJob = uint48(jobId); // job ids count up from 1: 2**48 is never reached
            batch.lastStart = uint40(start); // start < count <= 2**40
        }
        emit TuplesReserved(batchId, jobId, start, count);
    }

    /// @inheritdoc IPreprocessingLedger
    function release(uint256 jobId, bytes32 batchId) external returns (uint64 count) {
        if (msg.sender != _jobManager) revert NotJobManager(msg.sender);
        Batch storage batch = _batches[batchId];
        if (jobId == 0 || batch.lastJob != jobId) return 0;
        uint64 start = uint64(batch.lastStart);
        count = batch.reserved - start;
        batch.reserved = start;
        batch.lastJob = 0;
        batch.lastStart = 0;
        emit TuplesReleased(batchId, jobId, start, count);
    }

    /// @inheritdoc IPreprocessingLedger
    function getBatch(bytes32 batchId) external view returns (Batch memory) {
        return _batches[batchId];
    }

    /// @inheritdoc IPreprocessingLedger
    function isAttested(bytes32 batchId, address member) external view returns (bool) {
        return _attested[batchId][member];
    }

    /// @inheritdoc IPreprocessingLedger
    function registry() external view returns (address) {
        return address(_registry);
    }

    /// @inheritdoc IPreprocessingLedger
    function jobManager() external view returns (address) {
        return _jobManager;
    }

    /// @inheritdoc IPreprocessingLedger
    function deployer() external view returns (address) {
        return _deployer;
    }

    function _requireActiveMember(address account) internal view {
        if (!_registry.isActiveMember(account)) revert NotActiveMember(account);
    }

    /// @dev The one check of the batch state machine.
    function _requireStatus(bytes32 batchId, Batch storage batch, BatchStatus expected) internal view {
        BatchStatus current = batch.status;
        if (current != expected) revert BatchUnexpectedStatus(batchId, current, expected);
    }
}
