// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IAuditTrail} from "./IAuditTrail.sol";
import {IJobManager} from "./IJobManager.sol";

/// @title AuditTrail
/// @notice Pedersen commitments of auditable jobs and the check of their linear results.
/// @dev See {IAuditTrail}. Loops are bounded by the chunk size (2048 points),
/// the number of revealed columns (4096) and nothing else.
contract AuditTrail is IAuditTrail {
    /// @dev BN254's base field modulus q and group order r (the MPC field).
    uint256 private constant _Q = 21888242871839275222246405745257275088696311157297823662689037894645226208583;
    uint256 private constant _R = 21888242871839275222246405745257275088548364400416034343698204186575808495617;
    /// @dev H = the first point found by try-and-increment from sha256("mpcc/pedersen/H/v1" || counter).
    uint256 private constant _HX = 0x15f8defc452fd8f70020fd5a6b4580078a4abac6e44602d13c9918963da60437;
    uint256 private constant _HY = 0x0f3f661b6615db066040d7410903e3263b968ebfffec7e9dfc9539b838c44fe6;
    uint256 private constant _MAX_WIDTH = 4096;
    uint256 private constant _MAX_CHUNK = 2048;
    uint8 private constant _TUPLES = 1;
    uint8 private constant _TRANSCRIPT = 2;

    struct Log {
        bytes32 listHash;
        uint64 count;
        uint16 width;
        bool opened;
    }

    struct Opening {
        bytes32 columnsHash;
        uint32 opened;
        uint256[] totals;
    }

    IJobManager private immutable _jobs;
    mapping(uint256 jobId => mapping(address participant => Log)) private _logs;
    mapping(uint256 jobId => mapping(address participant => mapping(uint256 column => uint256[2]))) private _sums;
    mapping(uint256 jobId => Opening) private _openings;
    mapping(uint256 jobId => bytes32) private _verified;

    /// @notice Serves the jobs of `jobManager_`.
    /// @dev Requirements: `jobManager_` is non-zero.
    constructor(address jobManager_) {
        if (jobManager_ == address(0)) revert ZeroAddress();
        _jobs = IJobManager(jobManager_);
    }

    /// @inheritdoc IAuditTrail
    function commitShares(uint256 jobId, uint16 width, uint256[] calldata xy) external {
        _requireState(jobId, IJobManager.JobState.Accepted, IJobManager.JobState.Accepted);
        if (!_jobs.isParticipant(jobId, msg.sender)) revert NotParticipant(jobId, msg.sender);
        if (_jobs.hasCommitted(jobId, msg.sender)) revert SharesSealed(jobId, msg.sender);
        if (width == 0 || width > _MAX_WIDTH) revert InvalidWidth(width);
        uint256 n = xy.length / 2;
        if (n == 0 || xy.length % 2 != 0 || n > _MAX_CHUNK) revert InvalidChunk(xy.length);
        Log storage log = _logs[jobId][msg.sender];
        uint64 first = log.count;
        if (first == 0) log.width = width;
        else if (log.width != width) revert WidthMismatch(jobId, width, log.width);
        _accumulate(_sums[jobId][msg.sender], first, width, xy);
        bytes32 listHash = keccak256(abi.encodePacked(log.listHash, xy));
        log.listHash = listHash;
        log.count = first + uint64(n);
        emit SharesCommitted(jobId, msg.sender, width, first, n, listHash);
    }

    /// @inheritdoc IAuditTrail
    function publishOpening(
        uint256 jobId, uint16[] calldata columns, uint256[] calldata shares, uint256[] calldata rands
    ) external {
        _requireResultsPosted(jobId);
        if (!_jobs.isParticipant(jobId, msg.sender)) revert NotParticipant(jobId, msg.sender);
        Log storage log = _logs[jobId][msg.sender];
        if (log.count == 0) revert SharesNotCommitted(jobId, msg.sender);
        if (log.opened) revert AlreadyOpened(jobId, msg.sender);
        uint256 m = columns.length;
        if (m == 0 || m > _MAX_WIDTH || shares.length != m || rands.length != m) {
            revert InvalidOpening(m, shares.length, rands.length);
        }
        Opening storage opening = _openings[jobId];
        bytes32 columnsHash = keccak256(abi.encodePacked(columns));
        if (opening.opened == 0) {
            opening.columnsHash = columnsHash;
            opening.totals = new uint256[](m);
        } else if (opening.columnsHash != columnsHash) {
            revert ColumnsMismatch(jobId, msg.sender);
        }
        for (uint256 j = 0; j < m; ++j) {
            _checkOpening(jobId, log.width, columns[j], shares[j], rands[j]);
            opening.totals[j] = addmod(opening.totals[j], shares[j], _R);
        }
        log.opened = true;
        opening.opened += 1;
        emit OpeningPublished(jobId, msg.sender, columns, shares, rands);
        if (opening.opened == _jobs.participantsOf(jobId).length) {
            uint256[] memory totals = opening.totals;
            _verified[jobId] = keccak256(abi.encode(columns, totals));
            emit LinearResultVerified(jobId, columns, totals);
        }
    }

    /// @inheritdoc IAuditTrail
    function publishData(uint256 jobId, uint8 kind, bytes calldata data) external {
        if (kind == _TUPLES) {
            _requireState(jobId, IJobManager.JobState.Accepted, IJobManager.JobState.Accepted);
            if (_jobs.hasCommitted(jobId, msg.sender)) revert SharesSealed(jobId, msg.sender);
        } else if (kind == _TRANSCRIPT) {
            // Published before the caller's result, so that nothing can be appended once the job
            // is decided: the audit reads exactly what the participants published while computing.
            _requireState(jobId, IJobManager.JobState.InputsCommitted, IJobManager.JobState.InputsCommitted);
            if (_jobs.resultHashOf(jobId, msg.sender) != bytes32(0)) revert TranscriptSealed(jobId, msg.sender);
        } else {
            revert InvalidKind(kind);
        }
        if (!_jobs.isParticipant(jobId, msg.sender)) revert NotParticipant(jobId, msg.sender);
        if (data.length == 0) revert EmptyData();
        emit DataPublished(jobId, msg.sender, kind, keccak256(data));
    }

    /// @inheritdoc IAuditTrail
    function shareLog(uint256 jobId, address participant)
        external
        view
        returns (bytes32 listHash, uint64 count, uint16 width, bool opened)
    {
        Log storage log = _logs[jobId][participant];
        return (log.listHash, log.count, log.width, log.opened);
    }

    /// @inheritdoc IAuditTrail
    function columnSum(uint256 jobId, address participant, uint256 column)
        external
        view
        returns (uint256 x, uint256 y)
    {
        uint256[2] storage acc = _sums[jobId][participant][column];
        return (acc[0], acc[1]);
    }

    /// @inheritdoc IAuditTrail
    function verifiedTotals(uint256 jobId) external view returns (bytes32) {
        return _verified[jobId];
    }

    /// @inheritdoc IAuditTrail
    function generators() external pure returns (uint256 gx, uint256 gy, uint256 hx, uint256 hy) {
        return (1, 2, _HX, _HY);
    }

    /// @inheritdoc IAuditTrail
    function jobManager() external view returns (address) {
        return address(_jobs);
    }

    /// @dev Adds point t of the chunk to column (first + t) mod width. The touched
    /// columns' sums are read once into memory (slot s holds column (first + s)
    /// mod width, and point t lands in slot t mod m) and written back once.
    function _accumulate(
        mapping(uint256 => uint256[2]) storage sums, uint256 first, uint256 width, uint256[] calldata xy
    ) private {
        uint256 n = xy.length / 2;
        uint256 m = n < width ? n : width;
        uint256[] memory xs = new uint256[](m);
        uint256[] memory ys = new uint256[](m);
        for (uint256 s = 0; s < m; ++s) {
            uint256[2] storage acc = sums[(first + s) % width];
            (xs[s], ys[s]) = (acc[0], acc[1]);
        }
        for (uint256 t = 0; t < n; ++t) {
            uint256 x = xy[2 * t];
            uint256 y = xy[2 * t + 1];
            if (!_onCurve(x, y)) revert PointNotOnCurve(t);
            uint256 s = t % m;
            (xs[s], ys[s]) = _add(xs[s], ys[s], x, y);
        }
        for (uint256 s = 0; s < m; ++s) {
            uint256[2] storage acc = sums[(first + s) % width];
            (acc[0], acc[1]) = (xs[s], ys[s]);
        }
    }

    /// @dev Reverts unless share*G + rand*H equals the caller's sum in `column`.
    function _checkOpening(uint256 jobId, uint16 width, uint256 column, uint256 share, uint256 rand) private view {
        if (column >= width) revert ColumnOutOfRange(column, width);
        if (share >= _R) revert ScalarOutOfRange(share);
        if (rand >= _R) revert ScalarOutOfRange(rand);
        (uint256 gx, uint256 gy) = _mul(1, 2, share);
        (uint256 hx, uint256 hy) = _mul(_HX, _HY, rand);
        (uint256 x, uint256 y) = _add(gx, gy, hx, hy);
        uint256[2] storage acc = _sums[jobId][msg.sender][column];
        if (x != acc[0] || y != acc[1]) revert OpeningMismatch(jobId, msg.sender, column);
    }

    /// @dev InputsCommitted or Finalised, or Aborted because the posted results differ: then the
    /// openings still tell an auditor which participant's result does not verify.
    function _requireResultsPosted(uint256 jobId) private view {
        IJobManager.Job memory job = _jobs.getJob(jobId);
        IJobManager.JobState state = job.state;
        bool mismatch = state == IJobManager.JobState.Aborted && job.abortReason == IJobManager.AbortReason.ResultMismatch;
        if (!mismatch && (state < IJobManager.JobState.InputsCommitted || state > IJobManager.JobState.Finalised)) {
            revert WrongJobState(jobId, uint8(state));
        }
    }

    function _requireState(uint256 jobId, IJobManager.JobState low, IJobManager.JobState high) private view {
        IJobManager.JobState state = _jobs.getJob(jobId).state;
        if (state < low || state > high) revert WrongJobState(jobId, uint8(state));
    }

    /// @dev y^2 = x^3 + 3 over Fq, coordinates below q; (0, 0) is the point at infinity.
    function _onCurve(uint256 x, uint256 y) private pure returns (bool) {
        if (x >= _Q || y >= _Q) return false;
        if (x == 0 && y == 0) return true;
        return mulmod(y, y, _Q) == addmod(mulmod(mulmod(x, x, _Q), x, _Q), 3, _Q);
    }

    /// @dev The ecAdd precompile (0x06); inputs are on the curve, so it cannot fail.
    function _add(uint256 ax, uint256 ay, uint256 bx, uint256 by) private view returns (uint256, uint256) {
        uint256[4] memory input = [ax, ay, bx, by];
        uint256[2] memory out;
        bool ok;
        assembly ("memory-safe") {
            ok := staticcall(gas(), 0x06, input, 0x80, out, 0x40)
        }
        if (!ok) revert PrecompileFailed(0x06);
        return (out[0], out[1]);
    }

    /// @dev The ecMul precompile (0x07).
    function _mul(uint256 px, uint256 py, uint256 s) private view returns (uint256, uint256) {
        uint256[3] memory input = [px, py, s];
        uint256[2] memory out;
        bool ok;
        assembly ("memory-safe") {
            ok := staticcall(gas(), 0x07, input, 0x60, out, 0x40)
        }
        if (!ok) revert PrecompileFailed(0x07);
        return (out[0], out[1]);
    }
}
