// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IJobManager} from "./IJobManager.sol";
import {IOrgRegistry} from "./IOrgRegistry.sol";
import {IPreprocessingLedger} from "./IPreprocessingLedger.sol";

/// @title JobManager
/// @notice Proposals, acceptance, input commitments and results of MPC jobs.
/// @dev See {IJobManager}. Storage per job: three slots of job record (every
/// participant action reads and writes only the status slot) and one seat
/// slot per participant; the first result's hash takes one more slot. Input
/// commitments and results live in events only: storage keeps one bit per
/// participant and phase, and the first result's hash to compare the others
/// with. A seat holds the participant's position and the next participant:
/// the seats form a circular list, which replaces an array. A proposer that
/// does not participate gets an entry seat of position 0 pointing at the
/// first participant, so that the list can be entered from the proposer.
/// The participants' progress in the current phase (accepted, committed,
/// submitted) is one 32-bit mask, reset at each transition. Loops run only
/// over the participants (at most 32).
contract JobManager is IJobManager {
    uint256 private constant _MIN_PARTICIPANTS = 2;
    uint256 private constant _MAX_PARTICIPANTS = 32;
    uint256 private constant _MAX_SPEC = 16 * 1024;
    uint256 private constant _MAX_RESULT = 4 * 1024;
    uint256 private constant _MAX_RESERVATIONS = 16;
    uint256 private constant _MAX_TIME = type(uint40).max;

    /// @dev Bit offsets of the fields of a job's status word, the one slot that
    /// participant actions read and write (each reads it once and writes it at
    /// most once). Low to high: state (8 bits), abort reason (8), the state an
    /// aborted job was aborted in (8), participant count (8), progress (32: bit
    /// position - 1 is set when that participant is done in the current phase),
    /// then acceptBy, commitBy, resultBy and proposedAt (40 each); 224 bits in all.
    uint256 private constant _STATE = 0;
    uint256 private constant _ABORT_REASON = 8;
    uint256 private constant _ABORTED_IN = 16;
    uint256 private constant _COUNT = 24;
    uint256 private constant _PROGRESS = 32;
    uint256 private constant _ACCEPT_BY = 64;
    uint256 private constant _COMMIT_BY = 104;
    uint256 private constant _RESULT_BY = 144;
    uint256 private constant _PROPOSED_AT = 184;
    uint256 private constant _BYTE = 0xff;
    uint256 private constant _MASK32 = 0xffffffff;

    /// @dev The stored form of a job.
    struct JobRecord {
        bytes32 specHash;
        uint256 status; // see the layout above
        address proposer;
        uint64 reserved; // tuples reserved for the job, all kinds (in the proposer's slot)
        bytes32 resultHash; // of the first submitted result (the others are compared with it)
        bytes32 evidenceHash;
    }

    /// @dev A participant's place in the job: `position` is its index plus one
    /// (zero for non-participants and for the entry seat), `next` the following
    /// participant (the last one points back to the first).
    struct Seat {
        uint8 position;
        address next;
    }

    IOrgRegistry private immutable _registry;
    IPreprocessingLedger private immutable _ledger;
    uint64 private immutable _maxJobDuration;
    uint64 private immutable _maxTuplesPerJob;

    /// @dev The id of the next job; 1 from deployment on, so no proposal pays for a fresh slot.
    uint256 private _nextJobId;
    mapping(uint256 jobId => JobRecord) private _jobs;
    mapping(uint256 jobId => mapping(address account => Seat)) private _seats;
    /// @dev A result hash differing from the first one (the job aborts once every participant posted).
    mapping(uint256 jobId => mapping(address account => bytes32)) private _divergentResults;

    /// @notice Deploys the manager against the registry and the ledger, with the caps every job obeys.
    /// @dev Requirements: both addresses are non-zero; `maxJobDuration_` (seconds from proposal
    /// to `resultBy`) and `maxTuplesPerJob_` are non-zero (otherwise InvalidLimit). The
    /// ledger's deployer must then call `bindJobManager` with this contract's address.
    constructor(address registry_, address ledger_, uint64 maxJobDuration_, uint64 maxTuplesPerJob_) {
        if (registry_ == address(0) || ledger_ == address(0)) revert ZeroAddress();
        if (maxJobDuration_ == 0 || maxTuplesPerJob_ == 0) revert InvalidLimit();
        _registry = IOrgRegistry(registry_);
        _ledger = IPreprocessingLedger(ledger_);
        _maxJobDuration = maxJobDuration_;
        _maxTuplesPerJob = maxTuplesPerJob_;
        _nextJobId = 1;
    }

    // -------------------------------------------------------------- functions

    /// @inheritdoc IJobManager
    function propose(
        string calldata spec,
        address[] calldata participants,
        uint64 acceptBy,
        uint64 commitBy,
        uint64 resultBy,
        Reservation[] calldata reservations
    ) external returns (uint256 jobId) {
        _requireActiveMember(msg.sender);
        if (bytes(spec).length == 0 || bytes(spec).length > _MAX_SPEC) revert InvalidSpec(bytes(spec).length);
        if (participants.length < _MIN_PARTICIPANTS || participants.length > _MAX_PARTICIPANTS) {
            revert InvalidParticipants(participants.length);
        }
        if (!(block.timestamp < acceptBy && acceptBy < commitBy && commitBy < resultBy && resultBy <= _MAX_TIME)) {
            revert InvalidDeadlines();
        }
        uint64 latest = uint64(block.timestamp) + _maxJobDuration;
        if (resultBy > latest) revert DeadlineTooFar(resultBy, latest);
        jobId = _nextJobId;
        unchecked {
            _nextJobId = jobId + 1; // 2**256 proposals cannot happen
        }
        bool proposerParticipates = _create(jobId, spec, participants, acceptBy, commitBy, resultBy);
        if (reservations.length != 0) {
            if (!proposerParticipates) revert NotParticipant(jobId, msg.sender);
            _reserve(jobId, reservations, participants);
        }
    }

    /// @inheritdoc IJobManager
    function reserveTuples(uint256 jobId, Reservation[] calldata reservations)
        external
        returns (uint64[] memory starts)
    {
        uint256 status = _load(jobId);
        JobState state = _state(status);
        if (state != JobState.Proposed && state != JobState.Accepted) {
            revert JobUnexpectedState(jobId, state, JobState.Accepted);
        }
        _requireBeforeDeadline(jobId, status);
        _participantBit(jobId, msg.sender);
        if (reservations.length == 0) revert InvalidReservationCount(0);
        // The walk starts at the caller's seat, which the check above has just read.
        starts = _reserve(jobId, reservations, _participants(jobId, _count(status), msg.sender));
    }

    /// @inheritdoc IJobManager
    function accept(uint256 jobId) external {
        uint256 status = _loadIn(jobId, JobState.Proposed);
        uint32 bit = _participantBit(jobId, msg.sender);
        _requireActiveMember(msg.sender);
        if (_progress(status) & bit != 0) revert AlreadyAccepted(jobId, msg.sender);
        bool last = _record(jobId, status, bit, JobState.Accepted);
        emit JobAccepted(jobId, msg.sender);
        if (last) emit JobStateChanged(jobId, JobState.Proposed, JobState.Accepted);
    }

    /// @inheritdoc IJobManager
    function decline(uint256 jobId, DeclineReason reason, bytes32[] calldata batchIds) external {
        uint256 status = _loadIn(jobId, JobState.Proposed);
        _participantBit(jobId, msg.sender);
        uint256 batches = batchIds.length;
        if (batches > _MAX_RESERVATIONS) revert InvalidReservationCount(batches);
        emit JobDeclined(jobId, msg.sender, reason);
        _abort(jobId, status, AbortReason.Declined, bytes32(0));
        uint64 released = 0;
        for (uint256 i = 0; i < batches;) {
            released += _ledger.release(jobId, batchIds[i]);
            unchecked {
                ++i;
            }
        }
        if (released != 0) _jobs[jobId].reserved -= released;
    }

    /// @inheritdoc IJobManager
    function commitInputs(uint256 jobId, bytes32 commitment) external {
        uint256 status = _loadIn(jobId, JobState.Accepted);
        uint32 bit = _participantBit(jobId, msg.sender);
        if (_progress(status) & bit != 0) revert AlreadyCommitted(jobId, msg.sender);
        if (commitment == bytes32(0)) revert InvalidCommitment();
        bool last = _record(jobId, status, bit, JobState.InputsCommitted);
        emit InputsCommitted(jobId, msg.sender, commitment);
        if (last) emit JobStateChanged(jobId, JobState.Accepted, JobState.InputsCommitted);
    }

    /// @inheritdoc IJobManager
    function submitResult(uint256 jobId, bytes calldata result) external {
        uint256 status = _loadIn(jobId, JobState.InputsCommitted);
        uint32 bit = _participantBit(jobId, msg.sender);
        if (_progress(status) & bit != 0) revert AlreadySubmitted(jobId, msg.sender);
        if (result.length == 0 || result.length > _MAX_RESULT) revert InvalidResult(result.length);

        bytes32 resultHash = keccak256(result);
        JobRecord storage job = _jobs[jobId];
        bytes32 firstHash = job.resultHash;
        if (firstHash == bytes32(0)) {
            job.resultHash = resultHash;
        } else if (resultHash != firstHash) {
            // Every participant still posts: the verdict waits for all results, so that the
            // record holds each one and no result counts for being first.
            _divergentResults[jobId][msg.sender] = resultHash;
            if (job.evidenceHash == bytes32(0)) job.evidenceHash = keccak256(abi.encode(firstHash, resultHash));
        }
        emit ResultSubmitted(jobId, msg.sender, resultHash, result);
        bytes32 mismatch = job.evidenceHash;
        if (mismatch != bytes32(0) && (_progress(status) | bit) == uint32((uint256(1) << _count(status)) - 1)) {
            _abort(jobId, status | uint256(bit) << _PROGRESS, AbortReason.ResultMismatch, mismatch);
            return;
        }
        bool last = _record(jobId, status, bit, JobState.Finalised);
        if (last) {
            emit JobStateChanged(jobId, JobState.InputsCommitted, JobState.Finalised);
            emit JobFinalised(jobId, resultHash, result);
        }
    }

    /// @inheritdoc IJobManager
    function reportFailure(uint256 jobId, bytes32 evidenceHash) external {
        uint256 status = _load(jobId);
        _requireOpen(jobId, status);
        _requireBeforeDeadline(jobId, status);
        _participantBit(jobId, msg.sender);
        _abort(jobId, status, AbortReason.ProtocolFailure, evidenceHash);
    }

    /// @inheritdoc IJobManager
    function reportCheater(uint256 jobId, address accused, bytes32 evidenceHash) external {
        uint256 status = _load(jobId);
        _participantBit(jobId, msg.sender);
        _participantBit(jobId, accused);
        if (accused == msg.sender) revert SelfAccusation(jobId, accused);
        AbortReason reason = AbortReason(uint8(status >> _ABORT_REASON));
        bool failed = _state(status) == JobState.Aborted
            && (reason == AbortReason.ProtocolFailure || reason == AbortReason.ResultMismatch);
        if (!failed) {
            _requireOpen(jobId, status);
            _requireBeforeDeadline(jobId, status);
            _abort(jobId, status, AbortReason.ProtocolFailure, evidenceHash);
        }
        emit CheaterReported(jobId, msg.sender, accused, evidenceHash);
    }

    /// @inheritdoc IJobManager
    function expire(uint256 jobId) external {
        uint256 status = _load(jobId);
        _requireOpen(jobId, status);
        uint64 deadline = _deadlineOf(status);
        if (block.timestamp <= deadline) revert DeadlineNotPassed(jobId, deadline, uint64(block.timestamp));
        _abort(jobId, status, AbortReason.DeadlinePassed, bytes32(0));
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IJobManager
    function getJob(uint256 jobId) external view returns (Job memory) {
        JobRecord storage job = _jobs[jobId];
        uint256 status = job.status;
        return Job({
            specHash: job.specHash,
            proposer: job.proposer,
            state: _state(status),
            abortReason: AbortReason(uint8(status >> _ABORT_REASON)),
            acceptBy: uint40(status >> _ACCEPT_BY),
            commitBy: uint40(status >> _COMMIT_BY),
            resultBy: uint40(status >> _RESULT_BY),
            proposedAt: uint40(status >> _PROPOSED_AT),
            reserved: job.reserved,
            accepted: _doneCount(status, JobState.Proposed),
            committed: _doneCount(status, JobState.Accepted),
            submitted: _doneCount(status, JobState.InputsCommitted),
            resultHash: _state(status) == JobState.Aborted ? bytes32(0) : job.resultHash,
            evidenceHash: job.evidenceHash
        });
    }

    /// @inheritdoc IJobManager
    function participantsOf(uint256 jobId) external view returns (address[] memory) {
        JobRecord storage job = _jobs[jobId];
        address entry = job.proposer;
        Seat storage seat = _seats[jobId][entry];
        if (seat.position == 0) entry = seat.next;
        return _participants(jobId, _count(job.status), entry);
    }

    /// @inheritdoc IJobManager
    function isParticipant(uint256 jobId, address account) external view returns (bool) {
        return _seats[jobId][account].position != 0;
    }

    /// @inheritdoc IJobManager
    function hasAccepted(uint256 jobId, address account) external view returns (bool) {
        return _isDone(jobId, account, JobState.Proposed);
    }

    /// @inheritdoc IJobManager
    function hasCommitted(uint256 jobId, address account) external view returns (bool) {
        return _isDone(jobId, account, JobState.Accepted);
    }

    /// @inheritdoc IJobManager
    function resultHashOf(uint256 jobId, address account) external view returns (bytes32) {
        if (!_isDone(jobId, account, JobState.InputsCommitted)) return bytes32(0);
        bytes32 divergent = _divergentResults[jobId][account];
        return divergent != bytes32(0) ? divergent : _jobs[jobId].resultHash;
    }

    /// @inheritdoc IJobManager
    function jobCount() external view returns (uint256) {
        return _nextJobId - 1;
    }

    /// @inheritdoc IJobManager
    function registry() external view returns (address) {
        return address(_registry);
    }

    /// @inheritdoc IJobManager
    function ledger() external view returns (address) {
        return address(_ledger);
    }

    /// @inheritdoc IJobManager
    function maxJobDuration() external view returns (uint64) {
        return _maxJobDuration;
    }

    /// @inheritdoc IJobManager
    function maxTuplesPerJob() external view returns (uint64) {
        return _maxTuplesPerJob;
    }

    // ------------------------------------------------------ internal: checks

    /// @dev The job's status word, read once; reverts for unknown jobs.
    function _load(uint256 jobId) internal view returns (uint256 status) {
        status = _jobs[jobId].status;
        if (status == 0) revert UnknownJob(jobId); // a known job's state is never None
    }

    /// @dev The status of a job that is in state `expected`, before that state's deadline.
    function _loadIn(uint256 jobId, JobState expected) internal view returns (uint256 status) {
        status = _load(jobId);
        _requireState(jobId, status, expected);
        _requireBeforeDeadline(jobId, status);
    }

    /// @dev The one check of the job state machine.
    function _requireState(uint256 jobId, uint256 status, JobState expected) internal pure {
        JobState current = _state(status);
        if (current != expected) revert JobUnexpectedState(jobId, current, expected);
    }

    function _requireOpen(uint256 jobId, uint256 status) internal pure {
        JobState current = _state(status);
        if (current == JobState.Finalised || current == JobState.Aborted) revert JobAlreadyClosed(jobId, current);
    }

    /// @dev The deadline of the job's current (open) state.
    function _deadlineOf(uint256 status) internal pure returns (uint64) {
        JobState state = _state(status);
        if (state == JobState.Proposed) return uint40(status >> _ACCEPT_BY);
        if (state == JobState.Accepted) return uint40(status >> _COMMIT_BY);
        return uint40(status >> _RESULT_BY);
    }

    function _requireBeforeDeadline(uint256 jobId, uint256 status) internal view {
        uint64 deadline = _deadlineOf(status);
        if (block.timestamp > deadline) revert DeadlinePassed(jobId, deadline);
    }

    function _requireActiveMember(address account) internal view {
        if (!_registry.isActiveMember(account)) revert NotActiveMember(account);
    }

    /// @dev The account's bit in the progress mask; reverts for non-participants.
    function _participantBit(uint256 jobId, address account) internal view returns (uint32) {
        uint8 position = _seats[jobId][account].position;
        if (position == 0) revert NotParticipant(jobId, account);
        unchecked {
            return uint32(1) << (position - 1);
        }
    }

    // ------------------------------------------------- internal: status word

    function _state(uint256 status) internal pure returns (JobState) {
        return JobState(uint8(status >> _STATE));
    }

    function _count(uint256 status) internal pure returns (uint8) {
        return uint8(status >> _COUNT);
    }

    function _progress(uint256 status) internal pure returns (uint32) {
        return uint32(status >> _PROGRESS);
    }

    /// @dev The phase the progress mask belongs to: the state, or the state an aborted job was aborted in.
    function _phase(uint256 status) internal pure returns (JobState) {
        JobState state = _state(status);
        return state == JobState.Aborted ? JobState(uint8(status >> _ABORTED_IN)) : state;
    }

    /// @dev How many participants completed the action of `phase` (accept in Proposed, and so on).
    function _doneCount(uint256 status, JobState phase) internal pure returns (uint32) {
        JobState current = _phase(status);
        if (current > phase) return _count(status);
        if (current == phase) return _popcount(_progress(status));
        return 0;
    }

    /// @dev Whether `account` completed the action of `phase`.
    function _isDone(uint256 jobId, address account, JobState phase) internal view returns (bool) {
        uint8 position = _seats[jobId][account].position;
        if (position == 0) return false;
        uint256 status = _jobs[jobId].status;
        JobState current = _phase(status);
        if (current > phase) return true;
        return current == phase && _progress(status) & (uint32(1) << (position - 1)) != 0;
    }

    /// @dev Number of set bits; at most 32 iterations.
    function _popcount(uint32 mask) internal pure returns (uint32 bits) {
        while (mask != 0) {
            unchecked {
                mask &= mask - 1;
                ++bits;
            }
        }
    }

    // ---------------------------------------------- internal: participants

    /// @dev Checks each participant and writes its seat; at most 32 iterations.
    /// A proposer that does not participate gets the entry seat (position 0)
    /// pointing at the first participant. Returns the proposer's bit in the
    /// progress mask, zero if it does not participate.
    function _seatParticipants(uint256 jobId, address[] calldata participants)
        internal
        returns (uint32 proposerBit)
    {
        mapping(address => Seat) storage seats = _seats[jobId];
        uint256 count = participants.length;
        for (uint256 i = 0; i < count;) {
            address account = participants[i];
            _requireActiveMember(account);
            if (seats[account].position != 0) revert DuplicateParticipant(account);
            unchecked {
                uint256 following = i + 1; // at most 32
                seats[account] = Seat({position: uint8(following), next: participants[following % count]});
                if (account == msg.sender) proposerBit = uint32(1) << i;
                i = following;
            }
        }
        if (proposerBit == 0) seats[msg.sender] = Seat({position: 0, next: participants[0]});
    }

    /// @dev The `count` participants in proposal order, walking the circular
    /// list of seats from the seat of `entry`, a participant; at most 32 steps.
    function _participants(uint256 jobId, uint256 count, address entry) internal view returns (address[] memory list) {
        list = new address[](count);
        mapping(address => Seat) storage seats = _seats[jobId];
        address account = entry;
        for (uint256 i = 0; i < count;) {
            Seat storage seat = seats[account];
            list[seat.position - 1] = account;
            account = seat.next;
            unchecked {
                ++i;
            }
        }
    }

    // --------------------------------------------------- internal: changes

    /// @dev Seats the participants and stores the job record of a proposal whose
    /// checks passed; a participating proposer accepts by proposing. Returns
    /// whether the proposer participates.
    function _create(
        uint256 jobId,
        string calldata spec,
        address[] calldata participants,
        uint64 acceptBy,
        uint64 commitBy,
        uint64 resultBy
    ) internal returns (bool proposerParticipates) {
        uint32 proposerBit = _seatParticipants(jobId, participants);
        bytes32 specHash = keccak256(bytes(spec));
        JobRecord storage job = _jobs[jobId];
        job.specHash = specHash;
        job.status = uint256(JobState.Proposed) << _STATE | participants.length << _COUNT
            | uint256(proposerBit) << _PROGRESS | uint256(acceptBy) << _ACCEPT_BY | uint256(commitBy) << _COMMIT_BY
            | uint256(resultBy) << _RESULT_BY | block.timestamp << _PROPOSED_AT;
        job.proposer = msg.sender;
        emit JobProposed(jobId, msg.sender, specHash, spec, participants, acceptBy, commitBy, resultBy);
        emit JobStateChanged(jobId, JobState.None, JobState.Proposed);
        proposerParticipates = proposerBit != 0;
        if (proposerParticipates) emit JobAccepted(jobId, msg.sender);
    }

    /// @dev Reserves each of `reservations` (at most 16) in the ledger, which checks
    /// every batch against `participants`, within the job's cap of tuples.
    function _reserve(uint256 jobId, Reservation[] calldata reservations, address[] memory participants)
        internal
        returns (uint64[] memory starts)
    {
        uint256 batches = reservations.length;
        if (batches > _MAX_RESERVATIONS) revert InvalidReservationCount(batches);
        JobRecord storage job = _jobs[jobId];
        uint256 total = job.reserved;
        starts = new uint64[](batches);
        for (uint256 i = 0; i < batches;) {
            total += reservations[i].count; // 16 counts of 64 bits cannot overflow 256
            starts[i] = _ledger.reserve(jobId, reservations[i].batchId, reservations[i].count, participants);
            unchecked {
                ++i;
            }
        }
        if (total > _maxTuplesPerJob) revert ReservationTooLarge(jobId, uint64(total), _maxTuplesPerJob);
        job.reserved = uint64(total);
    }

    /// @dev Sets the caller's `bit` in the progress of the job's current phase
    /// and stores the status with one write. When every participant is done,
    /// the same write moves the job to `next` and, unless the job is Finalised,
    /// clears the mask for the next phase; the caller then emits {JobStateChanged}.
    function _record(uint256 jobId, uint256 status, uint32 bit, JobState next) internal returns (bool last) {
        uint32 progress = _progress(status) | bit;
        last = progress == uint32((uint256(1) << _count(status)) - 1);
        if (last) {
            if (next != JobState.Finalised) progress = 0;
            status = (status & ~(_BYTE << _STATE)) | uint256(next) << _STATE;
        }
        _jobs[jobId].status = (status & ~(_MASK32 << _PROGRESS)) | uint256(progress) << _PROGRESS;
    }

    /// @dev Aborts an open job with one write of its status (whose progress the caller may have updated).
    function _abort(uint256 jobId, uint256 status, AbortReason reason, bytes32 evidenceHash) internal {
        JobState from = _state(status);
        status &= ~(_BYTE << _STATE | _BYTE << _ABORT_REASON | _BYTE << _ABORTED_IN);
        status |= uint256(JobState.Aborted) << _STATE | uint256(reason) << _ABORT_REASON
            | uint256(from) << _ABORTED_IN;
        JobRecord storage job = _jobs[jobId];
        job.status = status;
        if (evidenceHash != bytes32(0)) job.evidenceHash = evidenceHash;
        emit JobStateChanged(jobId, from, JobState.Aborted);
        emit JobAborted(jobId, reason, msg.sender, evidenceHash);
    }
}
