// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title The coordinator of MPC jobs
/// @notice A job is proposed with a spec (its hash stored, its text in the
/// event), 2..32 participants and three deadlines; it moves
/// Proposed -> Accepted -> InputsCommitted -> Finalised, or to Aborted from any
/// open state (declined, mismatching results, a reported failure, or a passed
/// deadline).
/// @dev Deadline semantics: an action of the current state is allowed while
/// block.timestamp <= that state's deadline (Proposed: acceptBy, Accepted:
/// commitBy, InputsCommitted: resultBy); afterwards only `expire` applies.
/// Membership is checked when the job is formed: at `propose` (the proposer and
/// every participant) and at `accept` (each participant as it consents). A
/// participant suspended after that can still complete the job; the others may
/// abort it with `reportFailure` (or let it expire), and peers authenticate
/// each other against the registry anyway. Gas per job grows with the number
/// of participants only, never with the number of jobs or records, nor with the
/// size of the spec, commitments or results beyond their calldata and event data:
/// those live in events (the chain data an auditor reads), and storage keeps only
/// their hashes where a later check needs them (the spec's, the first result's)
/// and one bit per participant and phase. A proposer among the participants
/// accepts by proposing, and may reserve the job's tuples in the same transaction.
interface IJobManager {
    /// @notice Lifecycle of a job.
    enum JobState {
        None,
        Proposed,
        Accepted,
        InputsCommitted,
        Finalised,
        Aborted
    }

    /// @notice Why a job was aborted.
    enum AbortReason {
        None,
        Declined,
        ResultMismatch,
        ProtocolFailure,
        DeadlinePassed
    }

    /// @notice Why a participant declined a job (`JobDeclined`); the peer daemon picks the code.
    enum DeclineReason {
        Unspecified,
        Policy,
        DataMissing,
        DataInvalid,
        SpecMalformed,
        TuplesUnavailable,
        Withdrawn
    }

    /// @notice A job as returned by `getJob`.
    /// @dev `resultHash` is the hash of the first submitted result (zero once the job is
    /// Aborted: each participant's is in {resultHashOf}); the job's result is authoritative
    /// only when `state` is Finalised.
    struct Job {
        bytes32 specHash;
        address proposer;
        JobState state;
        AbortReason abortReason;
        uint64 acceptBy;
        uint64 commitBy;
        uint64 resultBy;
        uint64 proposedAt;
        uint64 reserved;
        uint32 accepted;
        uint32 committed;
        uint32 submitted;
        bytes32 resultHash;
        bytes32 evidenceHash;
    }

    /// @notice `count` tuples of batch `batchId`, as asked of {reserveTuples}.
    struct Reservation {
        bytes32 batchId;
        uint64 count;
    }

    // ----------------------------------------------------------------- errors

    /// @notice The zero address was given where a contract is needed.
    error ZeroAddress();
    /// @notice The account is not an active member of the registry.
    error NotActiveMember(address account);
    /// @notice A job needs 2..32 participants.
    error InvalidParticipants(uint256 count);
    /// @notice The account appears twice among the participants.
    error DuplicateParticipant(address account);
    /// @notice Deadlines must satisfy now < acceptBy < commitBy < resultBy < 2**40.
    error InvalidDeadlines();
    /// @notice `resultBy` lies beyond `latest`, the proposal time plus the deployment's `maxJobDuration`.
    error DeadlineTooFar(uint64 resultBy, uint64 latest);
    /// @notice The job would hold `total` reserved tuples, more than the deployment's `maxTuplesPerJob`.
    error ReservationTooLarge(uint256 jobId, uint64 total, uint64 limit);
    /// @notice A parameter of the deployment is zero.
    error InvalidLimit();
    /// @notice The spec is empty or longer than 16 KiB.
    error InvalidSpec(uint256 length);
    /// @notice The result is empty or longer than 4 KiB.
    error InvalidResult(uint256 length);
    /// @notice A reservation call needs 1..16 reservations.
    error InvalidReservationCount(uint256 count);
    /// @notice The commitment is zero.
    error InvalidCommitment();
    /// @notice No job has this id.
    error UnknownJob(uint256 jobId);
    /// @notice The job is not in the state the call needs.
    error JobUnexpectedState(uint256 jobId, JobState current, JobState expected);
    /// @notice The job is already Finalised or Aborted.
    error JobAlreadyClosed(uint256 jobId, JobState current);
    /// @notice The account is not a participant of the job.
    error NotParticipant(uint256 jobId, address account);
    /// @notice The deadline of the job's current state has passed.
    error DeadlinePassed(uint256 jobId, uint64 deadline);
    /// @notice The deadline of the job's current state has not passed yet.
    error DeadlineNotPassed(uint256 jobId, uint64 deadline, uint64 currentTime);
    /// @notice The participant already accepted.
    error AlreadyAccepted(uint256 jobId, address participant);
    /// @notice The participant already committed its inputs.
    error AlreadyCommitted(uint256 jobId, address participant);
    /// @notice The participant already submitted a result.
    error AlreadySubmitted(uint256 jobId, address participant);
    /// @notice A participant may not name itself as the one at fault.
    error SelfAccusation(uint256 jobId, address participant);

    // ----------------------------------------------------------------- events

    /// @notice A job was proposed; `spec` is the canonical JSON whose keccak256 is `specHash`.
    event JobProposed(
        uint256 indexed jobId,
        address indexed proposer,
        bytes32 specHash,
        string spec,
        address[] participants,
        uint64 acceptBy,
        uint64 commitBy,
        uint64 resultBy
    );
    /// @notice The job moved from state `from` to state `to` (emitted on every transition).
    event JobStateChanged(uint256 indexed jobId, JobState fromState, JobState toState);
    /// @notice A participant accepted the job (emitted by `propose` for a participating proposer).
    event JobAccepted(uint256 indexed jobId, address indexed participant);
    /// @notice A participant committed to its input shares. The commitment is kept
    /// only here: the contract stores that the participant committed, not what.
    event InputsCommitted(uint256 indexed jobId, address indexed participant, bytes32 commitment);
    /// @notice A participant posted its result.
    event ResultSubmitted(uint256 indexed jobId, address indexed participant, bytes32 resultHash, bytes result);
    /// @notice Every participant posted the same result.
    event JobFinalised(uint256 indexed jobId, bytes32 resultHash, bytes result);
    /// @notice A participant declined the job for `reason` (the job is aborted in the same transaction).
    event JobDeclined(uint256 indexed jobId, address indexed participant, DeclineReason reason);
    /// @notice The job was aborted by `by` for `reason`.
    event JobAborted(uint256 indexed jobId, AbortReason reason, address indexed by, bytes32 evidenceHash);
    /// @notice `reporter` named `accused` as the participant at fault in the job (see {reportCheater}).
    event CheaterReported(uint256 indexed jobId, address indexed reporter, address indexed accused, bytes32 evidenceHash);

    // -------------------------------------------------------------- functions

    /// @notice Proposes a job over `participants` with the given deadlines. A proposer
    /// that is one of the participants accepts the job by proposing it, and may reserve
    /// the job's tuples with it (`reservations`, as in {reserveTuples}; may be empty).
    /// @dev Job ids start at 1. Only keccak256(spec) is stored. Requirements:
    /// - the caller is an active member;
    /// - 1 <= spec length <= 16 KiB;
    /// - 2..32 distinct participants, each an active member;
    /// - block.timestamp < acceptBy < commitBy < resultBy < 2**40, and
    ///   resultBy <= block.timestamp + maxJobDuration (otherwise DeadlineTooFar);
    /// - at most 16 reservations (otherwise InvalidReservationCount), and none unless
    ///   the caller is a participant (otherwise NotParticipant, as {reserveTuples});
    /// - for each reservation, the ledger's checks as in {reserveTuples}, and the job's
    ///   tuples in all at most maxTuplesPerJob (otherwise ReservationTooLarge).
    /// Emits {JobProposed}, {JobStateChanged} (None -> Proposed), {JobAccepted} for a
    /// participating proposer, and {IPreprocessingLedger-TuplesReserved} per reservation.
    /// @return jobId The new job's id.
    function propose(
        string calldata spec,
        address[] calldata participants,
        uint64 acceptBy,
        uint64 commitBy,
        uint64 resultBy,
        Reservation[] calldata reservations
    ) external returns (uint256 jobId);

    /// @notice Reserves tuples for the job in the PreprocessingLedger: `count` tuples
    /// of `batchId` for each of `reservations`, in order, in one transaction.
    /// @dev A job needs several kinds of tuple (triples, input masks, ...), each from
    /// its own batches; reserving them together costs one transaction and one walk
    /// over the participants, and either all reservations happen or none. Requirements:
    /// - the job is Proposed or Accepted (otherwise JobUnexpectedState with
    ///   expected = Accepted) and its current deadline has not passed;
    /// - the caller is a participant;
    /// - 1..16 reservations (otherwise InvalidReservationCount);
    /// - for each reservation, the ledger's own checks (batch Committed, attested by
    ///   every participant, 0 < count <= tuples left); their errors are those of
    ///   {IPreprocessingLedger};
    /// - the job's reserved tuples, these included, at most maxTuplesPerJob (otherwise
    ///   ReservationTooLarge).
    /// Emits {IPreprocessingLedger-TuplesReserved} (from the ledger) once per reservation.
    /// @return starts The index of the first reserved tuple of each reservation.
    function reserveTuples(uint256 jobId, Reservation[] calldata reservations)
        external
        returns (uint64[] memory starts);

    /// @notice Accepts the job; when every participant accepted, the job is Accepted.
    /// @dev Requirements:
    /// - the job is Proposed and block.timestamp <= acceptBy;
    /// - the caller is a participant, an active member, and has not accepted yet
    ///   (a participating proposer accepted by proposing).
    /// Emits {JobAccepted}, and {JobStateChanged} (Proposed -> Accepted) on the last acceptance.
    function accept(uint256 jobId) external;

    /// @notice Declines the job for `reason`, which aborts it (also after accepting, e.g. by a
    /// proposer withdrawing), and releases the job's tuples in `batchIds` where nothing was
    /// reserved after them.
    /// @dev Tuples of a job that never left Proposed were used by no honest peer (peers start
    /// only once the job is Accepted), so handing them out again reuses nothing. The ledger
    /// releases a batch's range only while it is the batch's last (see
    /// {IPreprocessingLedger-release}); other ids are skipped. Requirements:
    /// - the job is Proposed and block.timestamp <= acceptBy;
    /// - the caller is a participant;
    /// - at most 16 batch ids (otherwise InvalidReservationCount).
    /// Emits {JobDeclined}, {JobStateChanged} (Proposed -> Aborted), {JobAborted} (Declined),
    /// and {IPreprocessingLedger-TuplesReleased} per released range.
    function decline(uint256 jobId, DeclineReason reason, bytes32[] calldata batchIds) external;

    /// @notice Commits to the caller's input shares; when all committed, the job is InputsCommitted.
    /// @dev Requirements:
    /// - the job is Accepted and block.timestamp <= commitBy;
    /// - the caller is a participant and has not committed yet;
    /// - `commitment` is non-zero.
    /// Emits {InputsCommitted}, and {JobStateChanged} (Accepted -> InputsCommitted) on the last one.
    function commitInputs(uint256 jobId, bytes32 commitment) external;

    /// @notice Posts the caller's result. The job is decided when every participant posted:
    /// Finalised if all results are equal, else Aborted for ResultMismatch. No result counts
    /// for being first: each participant's stays on record ({resultHashOf}, {ResultSubmitted}).
    /// @dev Requirements:
    /// - the job is InputsCommitted (so every input commitment precedes every result)
    ///   and block.timestamp <= resultBy;
    /// - the caller is a participant and has not submitted yet;
    /// - 1 <= result length <= 4 KiB.
    /// Emits {ResultSubmitted}; on the last result either {JobStateChanged} and {JobAborted}
    /// (ResultMismatch, evidence keccak256(abi.encode(firstHash, firstDifferingHash))) if any
    /// result differed, or {JobStateChanged} (InputsCommitted -> Finalised) and {JobFinalised}.
    function submitResult(uint256 jobId, bytes calldata result) external;

    /// @notice Reports a protocol failure (e.g. a failed MAC check), which aborts the job.
    /// @dev Requirements:
    /// - the job is Proposed, Accepted or InputsCommitted (otherwise JobAlreadyClosed)
    ///   and its current deadline has not passed;
    /// - the caller is a participant.
    /// Emits {JobStateChanged} and {JobAborted} (ProtocolFailure, `evidenceHash`).
    function reportFailure(uint256 jobId, bytes32 evidenceHash) external;

    /// @notice Reports a protocol failure that the protocol attributes to one participant,
    /// `accused` (e.g. an input proven outside its declared range under MPC), which aborts the job.
    /// The contract cannot verify the attribution: it records who named whom. So that one
    /// participant cannot frame another by reporting first, every participant may still report
    /// once the job was aborted for a protocol failure: the other participants' reports (or
    /// their silence) stand beside the first on chain. After a ResultMismatch abort, a participant
    /// names those whose posted result differs from the one it computed.
    /// @dev Requirements: the caller and `accused` are different participants of the job; the job
    /// is aborted for ProtocolFailure or ResultMismatch, or else as {reportFailure} (open, before
    /// its deadline).
    /// Emits {CheaterReported}; on an open job first {JobStateChanged} and {JobAborted}
    /// (ProtocolFailure, `evidenceHash`).
    function reportCheater(uint256 jobId, address accused, bytes32 evidenceHash) external;

    /// @notice Aborts a job whose current deadline has passed; anyone may call it.
    /// @dev Requirements:
    /// - the job is Proposed, Accepted or InputsCommitted (otherwise JobAlreadyClosed);
    /// - block.timestamp > the deadline of that state (otherwise DeadlineNotPassed).
    /// Emits {JobStateChanged} and {JobAborted} (DeadlinePassed).
    function expire(uint256 jobId) external;

    /// @notice The job record (all zero if unknown).
    function getJob(uint256 jobId) external view returns (Job memory);

    /// @notice The job's participants, in proposal order (empty if unknown).
    function participantsOf(uint256 jobId) external view returns (address[] memory);

    /// @notice Whether `account` is a participant of the job.
    function isParticipant(uint256 jobId, address account) external view returns (bool);

    /// @notice Whether `account` accepted the job.
    function hasAccepted(uint256 jobId, address account) external view returns (bool);

    /// @notice Whether `account` committed its inputs to the job; the commitment is in its {InputsCommitted} event.
    function hasCommitted(uint256 jobId, address account) external view returns (bool);

    /// @notice The hash of the participant's result (zero if none).
    function resultHashOf(uint256 jobId, address account) external view returns (bytes32);

    /// @notice The number of jobs proposed so far (also the last job id).
    function jobCount() external view returns (uint256);

    /// @notice The OrgRegistry consulted for membership.
    function registry() external view returns (address);

    /// @notice The PreprocessingLedger in which jobs reserve tuples.
    function ledger() external view returns (address);

    /// @notice The longest a job may run, in seconds from its proposal to its `resultBy` (set at deployment).
    function maxJobDuration() external view returns (uint64);

    /// @notice The most tuples one job may hold reserved, all kinds together (set at deployment).
    function maxTuplesPerJob() external view returns (uint64);
}
