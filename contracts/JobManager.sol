// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IJobManager} from "./IJobManager.sol";
import {IOrgRegistry} from "./IOrgRegistry.sol";
import {IPreprocessingLedger} from "./IPreprocessingLedger.sol";

/// @title JobManager
/// @notice Proposals, acceptance, input commitments and results of MPC jobs.
/// @dev See {IJobManager}. Storage per job: three slots of job record (every
/// participant action reads and writes only the second one), one seat slot per
/// participant and one commitment slot per participant; the first result's
/// hash takes one more slot. A seat holds the participant's position and the
/// next participant: the seats form a circular list entered at the proposer's
/// seat (the proposer's own seat if it participates, else an entry seat of
/// position 0 pointing at the first participant), which replaces an array.
/// The participants' progress in the current phase (accepted, committed,
/// submitted) is one 32-bit mask, reset at each transition. Loops run only
/// over the participants (at most 32).
contract JobManager is IJobManager {
    uint256 private constant _MIN_PARTICIPANTS = 2;
    uint256 private constant _MAX_PARTICIPANTS = 32;
    uint256 private constant _MAX_SPEC = 16 * 1024;
    uint256 private constant _MAX_RESULT = 4 * 1024;
    uint256 private constant _MAX_TIME = type(uint40).max;

    /// @dev The stored form of a job. Slot 1 is the only one participant actions touch.
    struct JobRecord {
        bytes32 specHash;
        // slot 1
        JobState state;
        AbortReason abortReason;
        JobState abortedIn; // the state the job was in when it was aborted
        uint8 participantCount;
        uint32 progress; // participants done in the current phase: bit (position - 1)
        uint40 acceptBy;
        uint40 commitBy;
        uint40 resultBy;
        uint40 proposedAt;
        // slot 2
        address proposer;
        bytes32 resultHash; // of the first submitted result
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

    uint256 private _jobCount;
    mapping(uint256 jobId => JobRecord) private _jobs;
    mapping(uint256 jobId => mapping(address account => Seat)) private _seats;
    mapping(uint256 jobId => mapping(address account => bytes32)) private _commitments;
    /// @dev A result hash differing from the first one (the job aborted on it).
    mapping(uint256 jobId => mapping(address account => bytes32)) private _divergentResults;

    /// @notice Deploys the manager against the registry and the ledger.
    /// @dev Requirements: both addresses are non-zero. The ledger's deployer must
    /// then call `bindJobManager` with this contract's address.
    constructor(address registry_, address ledger_) {
        if (registry_ == address(0) || ledger_ == address(0)) revert ZeroAddress();
        _registry = IOrgRegistry(registry_);
        _ledger = IPreprocessingLedger(ledger_);
    }

    // -------------------------------------------------------------- functions

    /// @inheritdoc IJobManager
    function propose(
        string calldata spec,
        address[] calldata participants,
        uint64 acceptBy,
        uint64 commitBy,
        uint64 resultBy
    ) external returns (uint256 jobId) {
        _requireActiveMember(msg.sender);
        if (bytes(spec).length == 0 || bytes(spec).length > _MAX_SPEC) revert InvalidSpec(bytes(spec).length);
        if (participants.length < _MIN_PARTICIPANTS || participants.length > _MAX_PARTICIPANTS) {
            revert InvalidParticipants(participants.length);
        }
        if (!(block.timestamp < acceptBy && acceptBy < commitBy && commitBy < resultBy && resultBy <= _MAX_TIME)) {
            revert InvalidDeadlines();
        }

        jobId = ++_jobCount;
        _seatParticipants(jobId, participants);
        JobRecord storage job = _jobs[jobId];
        job.specHash = keccak256(bytes(spec));
        job.state = JobState.Proposed;
        job.participantCount = uint8(participants.length);
        job.acceptBy = uint40(acceptBy);
        job.commitBy = uint40(commitBy);
        job.resultBy = uint40(resultBy);
        job.proposedAt = uint40(block.timestamp);
        job.proposer = msg.sender;
        emit JobProposed(jobId, msg.sender, job.specHash, spec, participants, acceptBy, commitBy, resultBy);
        emit JobStateChanged(jobId, JobState.None, JobState.Proposed);
    }

    /// @inheritdoc IJobManager
    function reserveTuples(uint256 jobId, bytes32 batchId, uint64 count) external returns (uint64 start) {
        JobRecord storage job = _load(jobId);
        JobState state = job.state;
        if (state != JobState.Proposed && state != JobState.Accepted) {
            revert JobUnexpectedState(jobId, state, JobState.Accepted);
        }
        _requireBeforeDeadline(jobId, job);
        _participantBit(jobId, msg.sender);
        start = _ledger.reserve(jobId, batchId, count, _participants(jobId, job));
    }

    /// @inheritdoc IJobManager
    function accept(uint256 jobId) external {
        JobRecord storage job = _load(jobId);
        _requireState(jobId, job, JobState.Proposed);
        _requireBeforeDeadline(jobId, job);
        uint32 bit = _participantBit(jobId, msg.sender);
        _requireActiveMember(msg.sender);
        uint32 progress = job.progress;
        if (progress & bit != 0) revert AlreadyAccepted(jobId, msg.sender);
        progress |= bit;
        job.progress = progress;
        emit JobAccepted(jobId, msg.sender);
        if (progress == _everyone(job)) _transition(jobId, job, JobState.Accepted);
    }

    /// @inheritdoc IJobManager
    function decline(uint256 jobId) external {
        JobRecord storage job = _load(jobId);
        _requireState(jobId, job, JobState.Proposed);
        _requireBeforeDeadline(jobId, job);
        _participantBit(jobId, msg.sender);
        _abort(jobId, job, AbortReason.Declined, bytes32(0));
    }

    /// @inheritdoc IJobManager
    function commitInputs(uint256 jobId, bytes32 commitment) external {
        JobRecord storage job = _load(jobId);
        _requireState(jobId, job, JobState.Accepted);
        _requireBeforeDeadline(jobId, job);
        uint32 bit = _participantBit(jobId, msg.sender);
        uint32 progress = job.progress;
        if (progress & bit != 0) revert AlreadyCommitted(jobId, msg.sender);
        if (commitment == bytes32(0)) revert InvalidCommitment();
        progress |= bit;
        job.progress = progress;
        _commitments[jobId][msg.sender] = commitment;
        emit InputsCommitted(jobId, msg.sender, commitment);
        if (progress == _everyone(job)) _transition(jobId, job, JobState.InputsCommitted);
    }

    /// @inheritdoc IJobManager
    function submitResult(uint256 jobId, bytes calldata result) external {
        JobRecord storage job = _load(jobId);
        _requireState(jobId, job, JobState.InputsCommitted);
        _requireBeforeDeadline(jobId, job);
        uint32 bit = _participantBit(jobId, msg.sender);
        uint32 progress = job.progress;
        if (progress & bit != 0) revert AlreadySubmitted(jobId, msg.sender);
        if (result.length == 0 || result.length > _MAX_RESULT) revert InvalidResult(result.length);

        bytes32 resultHash = keccak256(result);
        bytes32 firstHash = job.resultHash;
        bool mismatch = firstHash != bytes32(0) && resultHash != firstHash;
        progress |= bit;
        job.progress = progress;
        if (firstHash == bytes32(0)) job.resultHash = resultHash;
        if (mismatch) _divergentResults[jobId][msg.sender] = resultHash;
        emit ResultSubmitted(jobId, msg.sender, resultHash, result);

        if (mismatch) {
            _abort(jobId, job, AbortReason.ResultMismatch, keccak256(abi.encode(firstHash, resultHash)));
        } else if (progress == _everyone(job)) {
            _transition(jobId, job, JobState.Finalised);
            emit JobFinalised(jobId, resultHash, result);
        }
    }

    /// @inheritdoc IJobManager
    function reportFailure(uint256 jobId, bytes32 evidenceHash) external {
        JobRecord storage job = _load(jobId);
        _requireOpen(jobId, job);
        _requireBeforeDeadline(jobId, job);
        _participantBit(jobId, msg.sender);
        _abort(jobId, job, AbortReason.ProtocolFailure, evidenceHash);
    }

    /// @inheritdoc IJobManager
    function expire(uint256 jobId) external {
        JobRecord storage job = _load(jobId);
        _requireOpen(jobId, job);
        uint64 deadline = _deadlineOf(job);
        if (block.timestamp <= deadline) revert DeadlineNotPassed(jobId, deadline, uint64(block.timestamp));
        _abort(jobId, job, AbortReason.DeadlinePassed, bytes32(0));
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IJobManager
    function getJob(uint256 jobId) external view returns (Job memory) {
        JobRecord storage job = _jobs[jobId];
        return Job({
            specHash: job.specHash,
            proposer: job.proposer,
            state: job.state,
            abortReason: job.abortReason,
            acceptBy: job.acceptBy,
            commitBy: job.commitBy,
            resultBy: job.resultBy,
            proposedAt: job.proposedAt,
            accepted: _doneCount(job, JobState.Proposed),
            committed: _doneCount(job, JobState.Accepted),
            submitted: _doneCount(job, JobState.InputsCommitted),
            resultHash: job.resultHash,
            evidenceHash: job.evidenceHash
        });
    }

    /// @inheritdoc IJobManager
    function participantsOf(uint256 jobId) external view returns (address[] memory) {
        return _participants(jobId, _jobs[jobId]);
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
    function inputCommitment(uint256 jobId, address account) external view returns (bytes32) {
        return _commitments[jobId][account];
    }

    /// @inheritdoc IJobManager
    function resultHashOf(uint256 jobId, address account) external view returns (bytes32) {
        if (!_isDone(jobId, account, JobState.InputsCommitted)) return bytes32(0);
        bytes32 divergent = _divergentResults[jobId][account];
        return divergent != bytes32(0) ? divergent : _jobs[jobId].resultHash;
    }

    /// @inheritdoc IJobManager
    function jobCount() external view returns (uint256) {
        return _jobCount;
    }

    /// @inheritdoc IJobManager
    function registry() external view returns (address) {
        return address(_registry);
    }

    /// @inheritdoc IJobManager
    function ledger() external view returns (address) {
        return address(_ledger);
    }

    // ------------------------------------------------------ internal: checks

    function _load(uint256 jobId) internal view returns (JobRecord storage job) {
        job = _jobs[jobId];
        if (job.state == JobState.None) revert UnknownJob(jobId);
    }

    /// @dev The one check of the job state machine.
    function _requireState(uint256 jobId, JobRecord storage job, JobState expected) internal view {
        JobState current = job.state;
        if (current != expected) revert JobUnexpectedState(jobId, current, expected);
    }

    function _requireOpen(uint256 jobId, JobRecord storage job) internal view {
        JobState current = job.state;
        if (current == JobState.Finalised || current == JobState.Aborted) revert JobAlreadyClosed(jobId, current);
    }

    /// @dev The deadline of the job's current (open) state.
    function _deadlineOf(JobRecord storage job) internal view returns (uint64) {
        JobState state = job.state;
        if (state == JobState.Proposed) return job.acceptBy;
        if (state == JobState.Accepted) return job.commitBy;
        return job.resultBy;
    }

    function _requireBeforeDeadline(uint256 jobId, JobRecord storage job) internal view {
        uint64 deadline = _deadlineOf(job);
        if (block.timestamp > deadline) revert DeadlinePassed(jobId, deadline);
    }

    function _requireActiveMember(address account) internal view {
        if (!_registry.isActiveMember(account)) revert NotActiveMember(account);
    }

    /// @dev The account's bit in the progress mask; reverts for non-participants.
    function _participantBit(uint256 jobId, address account) internal view returns (uint32) {
        uint8 position = _seats[jobId][account].position;
        if (position == 0) revert NotParticipant(jobId, account);
        return uint32(1) << (position - 1);
    }

    // --------------------------------------------------- internal: progress

    /// @dev The progress mask of a phase every participant completed.
    function _everyone(JobRecord storage job) internal view returns (uint32) {
        return uint32((uint256(1) << job.participantCount) - 1);
    }

    /// @dev The phase the progress mask belongs to: the state, or the state an aborted job was aborted in.
    function _phase(JobRecord storage job) internal view returns (JobState) {
        JobState state = job.state;
        return state == JobState.Aborted ? job.abortedIn : state;
    }

    /// @dev How many participants completed the action of `phase` (accept in Proposed, and so on).
    function _doneCount(JobRecord storage job, JobState phase) internal view returns (uint32) {
        JobState current = _phase(job);
        if (current > phase) return job.participantCount;
        if (current == phase) return _popcount(job.progress);
        return 0;
    }

    /// @dev Whether `account` completed the action of `phase`.
    function _isDone(uint256 jobId, address account, JobState phase) internal view returns (bool) {
        uint8 position = _seats[jobId][account].position;
        if (position == 0) return false;
        JobRecord storage job = _jobs[jobId];
        JobState current = _phase(job);
        if (current > phase) return true;
        return current == phase && job.progress & (uint32(1) << (position - 1)) != 0;
    }

    /// @dev Number of set bits; at most 32 iterations.
    function _popcount(uint32 mask) internal pure returns (uint32 bits) {
        while (mask != 0) {
            mask &= mask - 1;
            ++bits;
        }
    }

    // ---------------------------------------------- internal: participants

    /// @dev Checks each participant and writes its seat; at most 32 iterations.
    /// A proposer that does not participate gets the entry seat (position 0)
    /// pointing at the first participant.
    function _seatParticipants(uint256 jobId, address[] calldata participants) internal {
        mapping(address => Seat) storage seats = _seats[jobId];
        uint256 count = participants.length;
        for (uint256 i = 0; i < count; ++i) {
            address account = participants[i];
            _requireActiveMember(account);
            if (seats[account].position != 0) revert DuplicateParticipant(account);
            seats[account] = Seat({position: uint8(i + 1), next: participants[(i + 1) % count]});
        }
        if (seats[msg.sender].position == 0) seats[msg.sender] = Seat({position: 0, next: participants[0]});
    }

    /// @dev The participants in proposal order, walking the circular list of
    /// seats from the proposer's seat; at most 33 steps.
    function _participants(uint256 jobId, JobRecord storage job) internal view returns (address[] memory list) {
        uint256 count = job.participantCount;
        list = new address[](count);
        if (count == 0) return list;
        mapping(address => Seat) storage seats = _seats[jobId];
        address account = job.proposer;
        if (seats[account].position == 0) account = seats[account].next;
        for (uint256 i = 0; i < count; ++i) {
            Seat storage seat = seats[account];
            list[seat.position - 1] = account;
            account = seat.next;
        }
    }

    // --------------------------------------------------- internal: changes

    /// @dev Moves an open job to `to`; the progress mask starts afresh unless the job is Finalised.
    function _transition(uint256 jobId, JobRecord storage job, JobState to) internal {
        JobState from = job.state;
        job.state = to;
        if (to != JobState.Finalised) job.progress = 0;
        emit JobStateChanged(jobId, from, to);
    }

    function _abort(uint256 jobId, JobRecord storage job, AbortReason reason, bytes32 evidenceHash) internal {
        JobState from = job.state;
        job.state = JobState.Aborted;
        job.abortReason = reason;
        job.abortedIn = from;
        if (evidenceHash != bytes32(0)) job.evidenceHash = evidenceHash;
        emit JobStateChanged(jobId, from, JobState.Aborted);
        emit JobAborted(jobId, reason, msg.sender, evidenceHash);
    }
}
