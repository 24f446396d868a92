// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title Pedersen commitments of auditable jobs, and the on-chain check of linear results
/// @notice In an auditable job every participant commits, before any result
/// exists, to each of its input shares with a Pedersen commitment on BN254 G1,
/// C = x*G + r*H, where r is randomness the participant alone knows (the joint
/// commitment of a value, the sum of all participants' commitments to their
/// shares, has randomness shared the same way as the value: Baum, Damgaard,
/// Orlandi 2014). A linear result (a sum of input columns over the owners) is
/// then verified here: each participant publishes its share of each revealed
/// total and the sum of its randomness for it, and this contract checks them
/// against the sum of that participant's commitments with the EVM precompiles
/// 0x06 (ecAdd) and 0x07 (ecMul). When every participant's opening checked out,
/// the totals are recorded as verified.
/// @dev Commitments are laid out owner-major: point t of a participant's list
/// belongs to column t mod width. The list itself lives in calldata (the
/// auditor reads it from the transactions); storage keeps a hash chain over the
/// chunks (listHash = keccak256(previous listHash, chunk)) and one running sum
/// per column. A participant's final listHash is what it posts to
/// JobManager.commitInputs, after which it can add no more commitments.
interface IAuditTrail {
    // ----------------------------------------------------------------- errors

    /// @notice The JobManager address given to the constructor is zero.
    error ZeroAddress();
    /// @notice `account` is not a participant of job `jobId`.
    error NotParticipant(uint256 jobId, address account);
    /// @notice Job `jobId` is in `state`, which does not allow this step.
    error WrongJobState(uint256 jobId, uint8 state);
    /// @notice `participant` already committed its inputs on JobManager; its list is closed.
    error SharesSealed(uint256 jobId, address participant);
    /// @notice `participant` already posted its result on JobManager; its transcript is closed.
    error TranscriptSealed(uint256 jobId, address participant);
    /// @notice A width of zero or above the limit.
    error InvalidWidth(uint256 width);
    /// @notice This chunk's width differs from the width of the participant's first chunk.
    error WidthMismatch(uint256 jobId, uint256 width, uint256 expected);
    /// @notice A chunk with no points, an odd number of coordinates, or more points than allowed.
    error InvalidChunk(uint256 coordinates);
    /// @notice Point `index` of the chunk is not on the curve (or a coordinate is not below q).
    error PointNotOnCurve(uint256 index);
    /// @notice `participant` has no commitments for job `jobId`.
    error SharesNotCommitted(uint256 jobId, address participant);
    /// @notice `participant` already published its opening for job `jobId`.
    error AlreadyOpened(uint256 jobId, address participant);
    /// @notice An opening whose arrays differ in length, are empty, or are too long.
    error InvalidOpening(uint256 columns, uint256 shares, uint256 rands);
    /// @notice Column `column` is not below the participant's width.
    error ColumnOutOfRange(uint256 column, uint256 width);
    /// @notice A share or randomness that is not below the group order.
    error ScalarOutOfRange(uint256 value);
    /// @notice `participant` opens other columns than the first participant who opened.
    error ColumnsMismatch(uint256 jobId, address participant);
    /// @notice `kind` is not a kind of published data (1: tuple commitments, 2: opening transcript).
    error InvalidKind(uint8 kind);
    /// @notice Published data must not be empty.
    error EmptyData();
    /// @notice The BN254 precompile at `precompile` failed (only possible on a chain without it).
    error PrecompileFailed(uint256 precompile);
    /// @notice `participant`'s share and randomness for `column` do not open its commitments.
    error OpeningMismatch(uint256 jobId, address participant, uint256 column);

    // ----------------------------------------------------------------- events

    /// @notice `participant` added `count` commitments (points `first`..) to its list for job `jobId`.
    event SharesCommitted(
        uint256 indexed jobId, address indexed participant, uint16 width, uint256 first, uint256 count,
        bytes32 listHash
    );
    /// @notice `participant`'s shares and randomness of the revealed totals, checked against its commitments.
    event OpeningPublished(
        uint256 indexed jobId, address indexed participant, uint16[] columns, uint256[] shares, uint256[] rands
    );
    /// @notice `participant` published `kind` data for job `jobId`; the data itself is the call's calldata.
    event DataPublished(uint256 indexed jobId, address indexed participant, uint8 kind, bytes32 dataHash);
    /// @notice Every participant's opening checked out: `totals` are the job's verified linear results.
    event LinearResultVerified(uint256 indexed jobId, uint16[] columns, uint256[] totals);

    // ------------------------------------------------------------- functions

    /// @notice Adds a chunk of Pedersen commitments to the caller's list for job `jobId`.
    /// @dev `xy` holds the points as (x, y) pairs, the precompiles' encoding.
    /// Requirements: the job is Accepted; the caller is a participant that has
    /// not yet committed its inputs on JobManager; 1 <= width <= 4096, equal to
    /// the caller's first chunk's; 1 to 2048 points, each on the curve.
    /// Emits {SharesCommitted}.
    function commitShares(uint256 jobId, uint16 width, uint256[] calldata xy) external;

    /// @notice Publishes the caller's shares and randomness of the revealed totals and checks them.
    /// @dev For each column j: shares[j]*G + rands[j]*H must equal the sum of the
    /// caller's commitments in column j. The last participant to open records the totals.
    /// Requirements: the job is InputsCommitted or Finalised (or Aborted for ResultMismatch,
    /// so that an auditor can tell whose result does not verify); the caller is a
    /// participant with commitments, not yet opened; the columns are below its
    /// width and equal to those of the first opener; every scalar is below the order.
    /// Emits {OpeningPublished}, and {LinearResultVerified} from the last participant.
    function publishOpening(
        uint256 jobId, uint16[] calldata columns, uint256[] calldata shares, uint256[] calldata rands
    ) external;

    /// @notice Publishes data an auditor replays from calldata: kind 1, the caller's commitments to
    /// its tuples (bound by its JobManager input commitment, keccak256(listHash || keccak256(data)));
    /// kind 2, the transcript of its shares and randomness of every opened value.
    /// @dev Requirements: the caller is a participant; data is not empty; kind 1 while the job is
    /// Accepted and before the caller committed its inputs; kind 2 while the job is InputsCommitted
    /// and before the caller posted its result (otherwise TranscriptSealed), so that no chunk can be
    /// added once the job is decided. Emits {DataPublished}.
    function publishData(uint256 jobId, uint8 kind, bytes calldata data) external;

    /// @notice The caller-independent record of `participant`'s commitments for job `jobId`.
    function shareLog(uint256 jobId, address participant)
        external
        view
        returns (bytes32 listHash, uint64 count, uint16 width, bool opened);

    /// @notice The sum of `participant`'s commitments in `column` (the point at infinity is (0, 0)).
    function columnSum(uint256 jobId, address participant, uint256 column)
        external
        view
        returns (uint256 x, uint256 y);

    /// @notice keccak256(abi.encode(columns, totals)) of the verified totals, or zero.
    function verifiedTotals(uint256 jobId) external view returns (bytes32);

    /// @notice The Pedersen generators G and H (H derived by hashing; see offchain.curve).
    function generators() external pure returns (uint256 gx, uint256 gy, uint256 hx, uint256 hy);

    /// @notice The JobManager whose jobs this trail serves.
    function jobManager() external view returns (address);
}
