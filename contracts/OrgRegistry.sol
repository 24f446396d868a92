// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IOrgRegistry} from "./IOrgRegistry.sol";

/// @title OrgRegistry
/// @notice Members of the consortium, their keys, roles and the ballots that change them.
/// @dev See {IOrgRegistry} for the quorum arithmetic and ballot rounds. No loops.
contract OrgRegistry is IOrgRegistry {
    /// @dev Limits of the registered fields, in bytes.
    uint256 private constant _MAX_NAME = 64;
    uint256 private constant _MAX_ENDPOINT = 256;
    uint256 private constant _HPKE_KEY_LENGTH = 1216; // ML-KEM-768 (1184) + X25519 (32)

    address private immutable _bootstrapper;
    uint32 private immutable _quorum;

    bool private _bootstrapSealed;
    uint256 private _activeCount;
    address[] private _accounts;
    mapping(address account => Member) private _members;
    mapping(Role role => mapping(address account => bool)) private _roles;

    /// @dev Round of member ballots about an account; advances on each status change.
    mapping(address account => uint256) private _memberEpoch;
    /// @dev Round of role ballots about (role, account); advances on each grant or revoke.
    mapping(Role role => mapping(address account => uint256)) private _roleEpoch;
    mapping(bytes32 ballot => uint256) private _votes;
    mapping(bytes32 ballot => mapping(address voter => bool)) private _voted;

    /// @notice Deploys the registry; the deployer becomes the bootstrapper.
    /// @dev Requirements: `quorum_` > 0. Emits {RegistryDeployed}.
    constructor(uint32 quorum_) {
        if (quorum_ == 0) revert InvalidQuorum(quorum_);
        _bootstrapper = msg.sender;
        _quorum = quorum_;
        emit RegistryDeployed(msg.sender, quorum_);
    }

    // -------------------------------------------------------------- bootstrap

    /// @inheritdoc IOrgRegistry
    function bootstrapMember(
        address account,
        string calldata name,
        string calldata endpoint,
        bytes32 tlsFingerprint,
        bytes calldata hpkePublicKey
    ) external {
        _requireBootstrapPhase();
        if (account == address(0)) revert ZeroAddress();
        _register(account, name, endpoint, tlsFingerprint, hpkePublicKey, MemberStatus.Active);
        _activeCount += 1;
        emit MemberBootstrapped(account, name, endpoint, tlsFingerprint, hpkePublicKey);
    }

    /// @inheritdoc IOrgRegistry
    function bootstrapRole(Role role, address account) external {
        _requireBootstrapPhase();
        if (account == address(0)) revert ZeroAddress();
        if (_roles[role][account]) revert RoleAlreadyGranted(role, account);
        _setRole(role, account, true);
    }

    /// @inheritdoc IOrgRegistry
    function sealBootstrap() external {
        _requireBootstrapPhase();
        if (_activeCount == 0) revert NoMembers();
        _bootstrapSealed = true;
        emit BootstrapSealedForGood(msg.sender);
    }

    // ------------------------------------------------------------------ joins

    /// @inheritdoc IOrgRegistry
    function requestJoin(
        string calldata name,
        string calldata endpoint,
        bytes32 tlsFingerprint,
        bytes calldata hpkePublicKey
    ) external {
        _register(msg.sender, name, endpoint, tlsFingerprint, hpkePublicKey, MemberStatus.Pending);
        emit JoinRequested(msg.sender, name, endpoint, tlsFingerprint, hpkePublicKey);
    }

    /// @inheritdoc IOrgRegistry
    function withdrawJoin() external {
        if (_members[msg.sender].status != MemberStatus.Pending) revert NotPending(msg.sender);
        _setStatus(msg.sender, MemberStatus.None);
        emit JoinWithdrawn(msg.sender);
    }

    /// @inheritdoc IOrgRegistry
    function approveJoin(address applicant) external {
        _requireActiveMember(msg.sender);
        if (_members[applicant].status != MemberStatus.Pending) revert NotPending(applicant);
        uint256 required = _requiredApprovals();
        uint256 votes = _castVote(BallotKind.Join, Role.Auditor, applicant);
        emit JoinApproved(applicant, msg.sender, votes, required);
        if (votes >= required) {
            _setStatus(applicant, MemberStatus.Active);
            _activeCount += 1;
            emit MemberAdmitted(applicant);
        }
    }

    // ---------------------------------------------------------- member admin

    /// @inheritdoc IOrgRegistry
    function rotateKeys(string calldata endpoint, bytes32 tlsFingerprint, bytes calldata hpkePublicKey) external {
        _requireActiveMember(msg.sender);
        _validateKeys(endpoint, tlsFingerprint, hpkePublicKey);
        Member storage member = _members[msg.sender];
        member.endpoint = endpoint;
        member.tlsFingerprint = tlsFingerprint;
        member.hpkePublicKey = hpkePublicKey;
        emit MemberKeysRotated(msg.sender, endpoint, tlsFingerprint, hpkePublicKey);
    }

    /// @inheritdoc IOrgRegistry
    function voteSuspend(address member) external {
        _requireActiveMember(msg.sender);
        if (member == msg.sender) revert CannotVoteOnSelf(member);
        _requireStatus(member, MemberStatus.Active);
        uint256 required = _requiredSuspensionVotes();
        uint256 votes = _castVote(BallotKind.Suspension, Role.Auditor, member);
        emit SuspensionVoted(member, msg.sender, votes, required);
        if (votes >= required) {
            _setStatus(member, MemberStatus.Suspended);
            _activeCount -= 1;
            emit MemberSuspended(member);
        }
    }

    /// @inheritdoc IOrgRegistry
    function voteReinstate(address member) external {
        _requireActiveMember(msg.sender);
        _requireStatus(member, MemberStatus.Suspended);
        uint256 required = _requiredApprovals();
        uint256 votes = _castVote(BallotKind.Reinstatement, Role.Auditor, member);
        emit ReinstatementVoted(member, msg.sender, votes, required);
        if (votes >= required) {
            _setStatus(member, MemberStatus.Active);
            _activeCount += 1;
            emit MemberReinstated(member);
        }
    }

    /// @inheritdoc IOrgRegistry
    function voteGrantRole(Role role, address account) external {
        _requireActiveMember(msg.sender);
        if (account == address(0)) revert ZeroAddress();
        if (_roles[role][account]) revert RoleAlreadyGranted(role, account);
        _voteRole(role, account, true);
    }

    /// @inheritdoc IOrgRegistry
    function voteRevokeRole(Role role, address account) external {
        _requireActiveMember(msg.sender);
        if (!_roles[role][account]) revert RoleNotGranted(role, account);
        _voteRole(role, account, false);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IOrgRegistry
    function getMember(address account) external view returns (Member memory) {
        return _members[account];
    }

    /// @inheritdoc IOrgRegistry
    function isActiveMember(address account) external view returns (bool) {
        return _members[account].status == MemberStatus.Active;
    }

    /// @inheritdoc IOrgRegistry
    function memberStatus(address account) external view returns (MemberStatus) {
        return _members[account].status;
    }

    /// @inheritdoc IOrgRegistry
    function activeMemberCount() external view returns (uint256) {
        return _activeCount;
    }

    /// @inheritdoc IOrgRegistry
    function memberCount() external view returns (uint256) {
        return _accounts.length;
    }

    /// @inheritdoc IOrgRegistry
    function memberAt(uint256 index) external view returns (address) {
        if (index >= _accounts.length) revert IndexOutOfRange(index, _accounts.length);
        return _accounts[index];
    }

    /// @inheritdoc IOrgRegistry
    function hasRole(Role role, address account) external view returns (bool) {
        return _roles[role][account];
    }

    /// @inheritdoc IOrgRegistry
    function quorum() external view returns (uint32) {
        return _quorum;
    }

    /// @inheritdoc IOrgRegistry
    function requiredApprovals() external view returns (uint256) {
        return _requiredApprovals();
    }

    /// @inheritdoc IOrgRegistry
    function requiredSuspensionVotes() external view returns (uint256) {
        return _requiredSuspensionVotes();
    }

    /// @inheritdoc IOrgRegistry
    function bootstrapper() external view returns (address) {
        return _bootstrapper;
    }

    /// @inheritdoc IOrgRegistry
    function bootstrapSealed() external view returns (bool) {
        return _bootstrapSealed;
    }

    /// @inheritdoc IOrgRegistry
    function approvalsOf(address applicant) external view returns (uint256) {
        if (_members[applicant].status != MemberStatus.Pending) return 0;
        return _votes[_ballotId(BallotKind.Join, Role.Auditor, applicant)];
    }

    /// @inheritdoc IOrgRegistry
    function votesOf(BallotKind kind, Role role, address target) external view returns (uint256) {
        return _votes[_ballotId(kind, role, target)];
    }

    /// @inheritdoc IOrgRegistry
    function hasVoted(BallotKind kind, Role role, address target, address voter) external view returns (bool) {
        return _voted[_ballotId(kind, role, target)][voter];
    }

    // --------------------------------------------------------------- internal

    function _requireBootstrapPhase() internal view {
        if (msg.sender != _bootstrapper) revert NotBootstrapper(msg.sender);
        if (_bootstrapSealed) revert BootstrapSealed();
    }

    function _requireActiveMember(address account) internal view {
        if (_members[account].status != MemberStatus.Active) revert NotActiveMember(account);
    }

    /// @dev The one check of the member state machine for ballot targets.
    function _requireStatus(address account, MemberStatus expected) internal view {
        MemberStatus current = _members[account].status;
        if (current != expected) revert UnexpectedMemberStatus(account, current, expected);
    }

    function _requiredApprovals() internal view returns (uint256) {
        return _threshold(_activeCount);
    }

    /// @dev The target of a suspension is active but cannot vote, so it is not counted.
    function _requiredSuspensionVotes() internal view returns (uint256) {
        return _threshold(_activeCount == 0 ? 0 : _activeCount - 1);
    }

    /// @dev max(1, min(quorum, electorate)).
    function _threshold(uint256 electorate) internal view returns (uint256) {
        uint256 required = _quorum < electorate ? _quorum : electorate;
        return required == 0 ? 1 : required;
    }

    /// @dev Validates and stores a new record for `account` (first registration or re-application).
    function _register(
        address account,
        string calldata name,
        string calldata endpoint,
        bytes32 tlsFingerprint,
        bytes calldata hpkePublicKey,
        MemberStatus status
    ) internal {
        Member storage member = _members[account];
        if (member.status != MemberStatus.None) revert AlreadyRegistered(account, member.status);
        uint256 nameLength = bytes(name).length;
        if (nameLength == 0 || nameLength > _MAX_NAME) revert InvalidName();
        _validateKeys(endpoint, tlsFingerprint, hpkePublicKey);
        if (member.account == address(0)) {
            _accounts.push(account);
            member.account = account;
        }
        member.name = name;
        member.endpoint = endpoint;
        member.tlsFingerprint = tlsFingerprint;
        member.hpkePublicKey = hpkePublicKey;
        _setStatus(account, status);
    }

    function _validateKeys(string calldata endpoint, bytes32 tlsFingerprint, bytes calldata hpkePublicKey)
        internal
        pure
    {
        uint256 endpointLength = bytes(endpoint).length;
        if (endpointLength == 0 || endpointLength > _MAX_ENDPOINT) revert InvalidEndpoint();
        if (tlsFingerprint == bytes32(0)) revert InvalidFingerprint();
        if (hpkePublicKey.length != _HPKE_KEY_LENGTH) revert InvalidHpkeKey(hpkePublicKey.length);
    }

    /// @dev Every status change starts a new round of the member ballots about `account`.
    function _setStatus(address account, MemberStatus status) internal {
        Member storage member = _members[account];
        member.status = status;
        member.since = uint64(block.timestamp);
        _memberEpoch[account] += 1;
    }

    function _voteRole(Role role, address account, bool grant) internal {
        uint256 required = _requiredApprovals();
        uint256 votes = _castVote(grant ? BallotKind.RoleGrant : BallotKind.RoleRevoke, role, account);
        emit RoleVoted(role, account, grant, msg.sender, votes, required);
        if (votes >= required) _setRole(role, account, grant);
    }

    function _setRole(Role role, address account, bool granted) internal {
        _roles[role][account] = granted;
        _roleEpoch[role][account] += 1;
        if (granted) emit RoleGranted(role, account);
        else emit RoleRevoked(role, account);
    }

    /// @dev Records the caller's vote on the current ballot and returns its new count.
    function _castVote(BallotKind kind, Role role, address target) internal returns (uint256 votes) {
        bytes32 ballot = _ballotId(kind, role, target);
        if (_voted[ballot][msg.sender]) revert AlreadyVoted(msg.sender, kind, target);
        _voted[ballot][msg.sender] = true;
        votes = _votes[ballot] + 1;
        _votes[ballot] = votes;
    }

    function _ballotId(BallotKind kind, Role role, address target) internal view returns (bytes32) {
        if (kind == BallotKind.RoleGrant || kind == BallotKind.RoleRevoke) {
            return keccak256(abi.encode(kind, role, target, _roleEpoch[role][target]));
        }
        return keccak256(abi.encode(kind, Role.Auditor, target, _memberEpoch[target]));
    }
}
