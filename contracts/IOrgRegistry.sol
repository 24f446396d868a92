// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title The consortium's member registry
/// @notice Members are organisations with a peer endpoint, a TLS certificate
/// fingerprint and an HPKE public key. The deployer (the bootstrapper) admits
/// the first members directly; afterwards, joins, suspensions, reinstatements
/// and role changes are decided by ballots of the active members.
/// @dev Quorum arithmetic: a ballot needs `requiredApprovals()` =
/// max(1, min(quorum, activeMemberCount)) distinct votes of active members;
/// a suspension ballot excludes its target from the electorate and needs
/// `requiredSuspensionVotes()` = max(1, min(quorum, activeMemberCount - 1)).
/// The threshold is evaluated at each vote: a ballot passes on the vote that
/// makes its count reach the threshold of that moment. Votes already cast stay
/// counted even if their voter is suspended later.
///
/// Every ballot is tied to a round: member ballots (join, suspension,
/// reinstatement) to the target's status epoch, which advances on every status
/// change of the target, and role ballots to the (role, account) epoch, which
/// advances on every grant or revoke. A new request therefore always starts a
/// fresh ballot, and stale votes never count.
///
/// Every state change emits an event carrying everything needed to rebuild
/// the registry from logs alone.
interface IOrgRegistry {
    /// @notice Lifecycle of an account in the registry.
    enum MemberStatus {
        None,
        Pending,
        Active,
        Suspended
    }

    /// @notice Roles held by accounts (members or not).
    enum Role {
        Auditor,
        Preprocessor
    }

    /// @notice The kinds of ballot the members vote on.
    enum BallotKind {
        Join,
        Suspension,
        Reinstatement,
        RoleGrant,
        RoleRevoke
    }

    /// @notice A registered organisation.
    /// @dev `since` is the block timestamp of the last status change.
    struct Member {
        string name;
        address account;
        string endpoint;
        bytes32 tlsFingerprint;
        bytes hpkePublicKey;
        MemberStatus status;
        uint64 since;
    }

    // ----------------------------------------------------------------- errors

    /// @notice The quorum given at deployment is zero.
    error InvalidQuorum(uint32 quorum);
    /// @notice The zero address was given where an account is needed.
    error ZeroAddress();
    /// @notice Only the bootstrapper may call this.
    error NotBootstrapper(address caller);
    /// @notice The bootstrap phase is over.
    error BootstrapSealed();
    /// @notice The bootstrap cannot be sealed without an active member.
    error NoMembers();
    /// @notice The account is already registered with this status.
    error AlreadyRegistered(address account, MemberStatus status);
    /// @notice The name is empty or longer than 64 bytes.
    error InvalidName();
    /// @notice The endpoint is empty or longer than 256 bytes.
    error InvalidEndpoint();
    /// @notice The TLS fingerprint is zero.
    error InvalidFingerprint();
    /// @notice The HPKE public key is not exactly 1216 bytes (ML-KEM-768 + X25519).
    error InvalidHpkeKey(uint256 length);
    /// @notice The account is not an active member.
    error NotActiveMember(address account);
    /// @notice The account has no pending join request.
    error NotPending(address account);
    /// @notice The member is not in the status this ballot applies to.
    error UnexpectedMemberStatus(address account, MemberStatus current, MemberStatus expected);
    /// @notice The voter already voted on this ballot.
    error AlreadyVoted(address voter, BallotKind kind, address target);
    /// @notice A member cannot vote on its own suspension.
    error CannotVoteOnSelf(address member);
    /// @notice The account already holds the role.
    error RoleAlreadyGranted(Role role, address account);
    /// @notice The account does not hold the role.
    error RoleNotGranted(Role role, address account);
    /// @notice `memberAt` was asked for an index past the end.
    error IndexOutOfRange(uint256 index, uint256 count);

    // ----------------------------------------------------------------- events

    /// @notice The registry was deployed with this bootstrapper and quorum.
    event RegistryDeployed(address indexed bootstrapper, uint32 quorum);
    /// @notice The bootstrapper admitted a member directly.
    event MemberBootstrapped(
        address indexed account, string name, string endpoint, bytes32 tlsFingerprint, bytes hpkePublicKey
    );
    /// @notice The bootstrap phase was closed for good.
    event BootstrapSealedForGood(address indexed bootstrapper);
    /// @notice An organisation applied to join.
    event JoinRequested(
        address indexed account, string name, string endpoint, bytes32 tlsFingerprint, bytes hpkePublicKey
    );
    /// @notice A pending applicant withdrew its request.
    event JoinWithdrawn(address indexed account);
    /// @notice An active member approved a pending applicant.
    event JoinApproved(address indexed applicant, address indexed approver, uint256 approvals, uint256 required);
    /// @notice The applicant's join ballot passed; it is now active.
    event MemberAdmitted(address indexed account);
    /// @notice An active member replaced its endpoint and keys.
    event MemberKeysRotated(address indexed account, string endpoint, bytes32 tlsFingerprint, bytes hpkePublicKey);
    /// @notice An active member voted to suspend another.
    event SuspensionVoted(address indexed member, address indexed voter, uint256 votes, uint256 required);
    /// @notice The suspension ballot passed; the member is suspended.
    event MemberSuspended(address indexed account);
    /// @notice An active member voted to reinstate a suspended member.
    event ReinstatementVoted(address indexed member, address indexed voter, uint256 votes, uint256 required);
    /// @notice The reinstatement ballot passed; the member is active again.
    event MemberReinstated(address indexed account);
    /// @notice An active member voted to grant (`grant`) or revoke a role.
    event RoleVoted(
        Role indexed role, address indexed account, bool grant, address indexed voter, uint256 votes, uint256 required
    );
    /// @notice The account now holds the role.
    event RoleGranted(Role indexed role, address indexed account);
    /// @notice The account no longer holds the role.
    event RoleRevoked(Role indexed role, address indexed account);

    // -------------------------------------------------------------- bootstrap

    /// @notice Admits `account` as an active member without a vote.
    /// @dev Requirements:
    /// - the caller is the bootstrapper and the bootstrap is not sealed;
    /// - `account` is non-zero and not registered;
    /// - name 1..64 bytes, endpoint 1..256 bytes, non-zero fingerprint, 1216-byte HPKE key.
    /// Emits {MemberBootstrapped}.
    function bootstrapMember(
        address account,
        string calldata name,
        string calldata endpoint,
        bytes32 tlsFingerprint,
        bytes calldata hpkePublicKey
    ) external;

    /// @notice Grants `role` to `account` without a vote.
    /// @dev Requirements:
    /// - the caller is the bootstrapper and the bootstrap is not sealed;
    /// - `account` is non-zero and does not hold `role`.
    /// Emits {RoleGranted}.
    function bootstrapRole(Role role, address account) external;

    /// @notice Ends the bootstrap phase, irreversibly.
    /// @dev Requirements:
    /// - the caller is the bootstrapper and the bootstrap is not sealed;
    /// - at least one member is active.
    /// Emits {BootstrapSealedForGood}.
    function sealBootstrap() external;

    // ------------------------------------------------------------------ joins

    /// @notice Applies for membership with the caller's account.
    /// @dev Starts a fresh join ballot. Requirements:
    /// - the caller is not registered (None; a withdrawn applicant may re-apply);
    /// - name 1..64 bytes, endpoint 1..256 bytes, non-zero fingerprint, 1216-byte HPKE key.
    /// Emits {JoinRequested}.
    function requestJoin(
        string calldata name,
        string calldata endpoint,
        bytes32 tlsFingerprint,
        bytes calldata hpkePublicKey
    ) external;

    /// @notice Withdraws the caller's pending join request.
    /// @dev Requirements:
    /// - the caller is Pending.
    /// Emits {JoinWithdrawn}.
    function withdrawJoin() external;

    /// @notice Votes to admit a pending applicant; admits it at quorum.
    /// @dev Requirements:
    /// - the caller is an active member that has not voted on this ballot;
    /// - `applicant` is Pending.
    /// Emits {JoinApproved}, and {MemberAdmitted} when the ballot passes.
    function approveJoin(address applicant) external;

    // ---------------------------------------------------------- member admin

    /// @notice Replaces the caller's endpoint, TLS fingerprint and HPKE key.
    /// @dev Requirements:
    /// - the caller is an active member;
    /// - endpoint 1..256 bytes, non-zero fingerprint, 1216-byte HPKE key.
    /// Emits {MemberKeysRotated}.
    function rotateKeys(string calldata endpoint, bytes32 tlsFingerprint, bytes calldata hpkePublicKey) external;

    /// @notice Votes to suspend an active member; suspends it at quorum.
    /// @dev Requirements:
    /// - the caller is an active member other than `member`, and has not voted on this ballot;
    /// - `member` is Active.
    /// Emits {SuspensionVoted}, and {MemberSuspended} when the ballot passes.
    function voteSuspend(address member) external;

    /// @notice Votes to reinstate a suspended member; reinstates it at quorum.
    /// @dev Requirements:
    /// - the caller is an active member that has not voted on this ballot;
    /// - `member` is Suspended.
    /// Emits {ReinstatementVoted}, and {MemberReinstated} when the ballot passes.
    function voteReinstate(address member) external;

    /// @notice Votes to grant `role` to `account`; grants it at quorum.
    /// @dev Requirements:
    /// - the caller is an active member that has not voted on this ballot;
    /// - `account` is non-zero and does not hold `role`.
    /// Emits {RoleVoted}, and {RoleGranted} when the ballot passes.
    function voteGrantRole(Role role, address account) external;

    /// @notice Votes to revoke `role` from `account`; revokes it at quorum.
    /// @dev Requirements:
    /// - the caller is an active member that has not voted on this ballot;
    /// - `account` holds `role`.
    /// Emits {RoleVoted}, and {RoleRevoked} when the ballot passes.
    function voteRevokeRole(Role role, address account) external;

    // ------------------------------------------------------------------ views

    /// @notice The registry record of `account` (all zero if never registered).
    function getMember(address account) external view returns (Member memory);

    /// @notice Whether `account` is an active member.
    function isActiveMember(address account) external view returns (bool);

    /// @notice The status of `account`.
    function memberStatus(address account) external view returns (MemberStatus);

    /// @notice The number of active members.
    function activeMemberCount() external view returns (uint256);

    /// @notice The number of accounts ever registered (bootstrapped or applied).
    function memberCount() external view returns (uint256);

    /// @notice The `index`-th account ever registered, in registration order.
    /// @dev Requirements: `index` < `memberCount()`.
    function memberAt(uint256 index) external view returns (address);

    /// @notice Whether `account` holds `role`.
    function hasRole(Role role, address account) external view returns (bool);

    /// @notice The configured quorum.
    function quorum() external view returns (uint32);

    /// @notice Votes a join, reinstatement or role ballot needs now: max(1, min(quorum, active)).
    function requiredApprovals() external view returns (uint256);

    /// @notice Votes a suspension ballot needs now: max(1, min(quorum, active - 1)).
    function requiredSuspensionVotes() external view returns (uint256);

    /// @notice The deployer, who may bootstrap members until sealing.
    function bootstrapper() external view returns (address);

    /// @notice Whether the bootstrap phase is over.
    function bootstrapSealed() external view returns (bool);

    /// @notice Approvals of `applicant`'s current join ballot (0 unless Pending).
    function approvalsOf(address applicant) external view returns (uint256);

    /// @notice Votes on the current ballot of `kind` about `target`.
    /// @dev `role` is only read for RoleGrant and RoleRevoke ballots.
    function votesOf(BallotKind kind, Role role, address target) external view returns (uint256);

    /// @notice Whether `voter` voted on the current ballot of `kind` about `target`.
    /// @dev `role` is only read for RoleGrant and RoleRevoke ballots.
    function hasVoted(BallotKind kind, Role role, address target, address voter) external view returns (bool);
}
