// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title The ledger of preprocessing batches
/// @notice The preprocessing service commits each batch of tuples; every member
/// that ran the joint sacrifice check attests it (or rejects the batch with
/// evidence); jobs reserve disjoint ranges of committed, attested batches so
/// that no tuple is ever handed out twice.
/// @dev Batch state machine: None -> Committed -> Rejected. A Committed batch
/// is reservable by a job only if every participant of the job attested it.
interface IPreprocessingLedger {
    /// @notice The kinds of preprocessed tuple.
    enum TupleKind {
        Triple,
        Square,
        Bit,
        InputMask,
        Trunc
    }

    /// @notice Lifecycle of a batch.
    enum BatchStatus {
        None,
        Committed,
        Rejected
    }

    /// @notice A committed batch. `reserved` is the cursor: tuples [0, reserved) are handed out;
    /// tuples [lastStart, reserved) are those of job `lastJob`, the last to reserve (0: none or released).
    struct Batch {
        TupleKind kind;
        BatchStatus status;
        uint64 count;
        uint64 reserved;
        uint48 lastJob;
        uint40 lastStart;
        bytes32 commitment;
        address service;
        uint64 committedAt;
        uint32 attestations;
    }

    // ----------------------------------------------------------------- errors

    /// @notice The zero address was given where a contract is needed.
    error ZeroAddress();
    /// @notice Only the deployer may call this.
    error NotDeployer(address caller);
    /// @notice The JobManager is already bound.
    error JobManagerAlreadyBound(address jobManager);
    /// @notice Only the bound JobManager may call this.
    error NotJobManager(address caller);
    /// @notice The caller neither holds Role.Preprocessor nor is an active member of the registry.
    error NotPreprocessor(address caller);
    /// @notice The caller is not an active member of the registry.
    error NotActiveMember(address account);
    /// @notice The batch id is zero.
    error InvalidBatchId();
    /// @notice A batch with this id already exists.
    error BatchExists(bytes32 batchId);
    /// @notice The count is zero or more than 2**40.
    error InvalidCount(uint64 count);
    /// @notice The batch commitment is zero.
    error InvalidCommitment();
    /// @notice The sacrifice transcript hash is zero.
    error InvalidTranscriptHash();
    /// @notice The rejection evidence hash is zero.
    error InvalidEvidenceHash();
    /// @notice The batch is not in the status the call needs.
    error BatchUnexpectedStatus(bytes32 batchId, BatchStatus current, BatchStatus expected);
    /// @notice The member already attested the batch.
    error AlreadyAttested(bytes32 batchId, address member);
    /// @notice A participant of the job has not attested the batch.
    error NotAttested(bytes32 batchId, address participant);
    /// @notice The batch has fewer tuples left than requested.
    error InsufficientTuples(bytes32 batchId, uint64 requested, uint64 available);
    /// @notice Tuples of the batch are reserved: a batch a job may have used cannot be rejected.
    error BatchInUse(bytes32 batchId, uint64 reserved);
    /// @notice More participants than a job may have (32).
    error TooManyParticipants(uint256 count);

    // ----------------------------------------------------------------- events

    /// @notice Tuples [start, start + count) of the batch, reserved for the job, were handed back.
    event TuplesReleased(bytes32 indexed batchId, uint256 indexed jobId, uint64 start, uint64 count);

    /// @notice The ledger was bound to its JobManager.
    event JobManagerBound(address indexed jobManager);
    /// @notice The preprocessing service committed a batch.
    event BatchCommitted(
        bytes32 indexed batchId, TupleKind kind, uint64 count, bytes32 commitment, address indexed service
    );
    /// @notice A member attested that the batch passed its sacrifice check.
    event SacrificeAttested(bytes32 indexed batchId, address indexed member, bytes32 transcriptHash);
    /// @notice A member rejected the batch; it can never be reserved.
    event BatchRejected(bytes32 indexed batchId, address indexed member, bytes32 evidenceHash);
    /// @notice Tuples [start, start + count) of the batch were reserved for the job.
    event TuplesReserved(bytes32 indexed batchId, uint256 indexed jobId, uint64 start, uint64 count);

    // -------------------------------------------------------------- functions

    /// @notice Binds the JobManager allowed to reserve tuples, once.
    /// @dev Requirements:
    /// - the caller is the deployer;
    /// - no JobManager is bound yet; `jobManager_` is non-zero.
    /// Emits {JobManagerBound}.
    function bindJobManager(address jobManager_) external;

    /// @notice Commits a batch of `count` tuples of `kind` under `commitment`.
    /// @dev Requirements:
    /// - the caller holds Role.Preprocessor in the registry (a dealer), or is an active member (for a batch the
    ///   members made among themselves: `commitment` is then the hash of its transcript);
    /// - `batchId` is non-zero and new; 0 < `count` <= 2**40; `commitment` is non-zero.
    /// Emits {BatchCommitted}.
    function commitBatch(bytes32 batchId, TupleKind kind, uint64 count, bytes32 commitment) external;

    /// @notice Attests that the caller's joint sacrifice check of the batch passed.
    /// @dev Requirements:
    /// - the caller is an active member that has not attested this batch;
    /// - the batch is Committed; `transcriptHash` is non-zero.
    /// Emits {SacrificeAttested}.
    function attestSacrifice(bytes32 batchId, bytes32 transcriptHash) external;

    /// @notice Rejects the batch after a failed sacrifice check; it is never reservable again.
    /// @dev Requirements:
    /// - the caller is an active member;
    /// - the batch is Committed; `evidenceHash` is non-zero;
    /// - no tuple of it is reserved (otherwise BatchInUse): a job that reserved it had every
    ///   participant's attestation, and its audit must not change once it ran.
    /// Emits {BatchRejected}.
    function rejectBatch(bytes32 batchId, bytes32 evidenceHash) external;

    /// @notice Reserves the next `count` tuples of the batch for `jobId`.
    /// @dev Ranges are handed out from a per-batch cursor, so no tuple is reserved twice.
    /// Requirements:
    /// - the caller is the bound JobManager;
    /// - the batch is Committed and attested by every one of `participants` (at most 32);
    /// - 0 < `count` <= tuples left.
    /// Emits {TuplesReserved}.
    /// @return start The index of the first reserved tuple.
    function reserve(uint256 jobId, bytes32 batchId, uint64 count, address[] calldata participants)
        external
        returns (uint64 start);

    /// @notice Hands back the tuples the job reserved last in the batch, if nothing was reserved after them.
    /// @dev Called by JobManager for a job declined before it started. Requirements:
    /// - the caller is the bound JobManager.
    /// Emits {TuplesReleased} when the job's range was the batch's last.
    /// @return count The number of tuples released (0 if none).
    function release(uint256 jobId, bytes32 batchId) external returns (uint64 count);

    /// @notice The batch record (all zero if unknown).
    function getBatch(bytes32 batchId) external view returns (Batch memory);

    /// @notice Whether `member` attested the batch.
    function isAttested(bytes32 batchId, address member) external view returns (bool);

    /// @notice The OrgRegistry consulted for roles and membership.
    function registry() external view returns (address);

    /// @notice The bound JobManager (zero until bound).
    function jobManager() external view returns (address);

    /// @notice The deployer, who binds the JobManager.
    function deployer() external view returns (address);
}
