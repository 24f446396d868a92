"""Helpers of the contract tests: an in-process chain with the three contracts.

The session fixture deploys OrgRegistry (quorum 2), PreprocessingLedger and
JobManager once, bootstraps three members and a preprocessing service, and
seals the bootstrap. Each test runs inside an eth-tester snapshot that is
reverted afterwards, so tests are independent and fast.

Reverts: the chain uses ``onchain.embedded.TesterProvider``, which answers like a
JSON-RPC node (error code 3 with the revert data), so web3 raises
``ContractCustomError`` whose ``.data`` is the 4-byte selector and the
ABI-encoded arguments, as it does against a real node.
``assert_reverts`` decodes that against the ABIs of all three contracts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Callable

import pytest
from eth_abi import decode as abi_decode
from eth_account import Account
from eth_tester import EthereumTester
from eth_utils import keccak
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError

from onchain.artifacts import load
from onchain.embedded import TesterProvider

CONTRACTS = ("OrgRegistry", "PreprocessingLedger", "JobManager")
QUORUM = 2
MAX_DURATION = 30 * 24 * 3600  # JobManager caps of the test deployment
MAX_TUPLES = 100_000
HPKE_KEY_LENGTH = 1216
TX_GAS = 8_000_000


# ------------------------------------------------------------ mirrored enums

class MemberStatus(IntEnum):
    NONE = 0
    PENDING = 1
    ACTIVE = 2
    SUSPENDED = 3


class Role(IntEnum):
    AUDITOR = 0
    PREPROCESSOR = 1


class BallotKind(IntEnum):
    JOIN = 0
    SUSPENSION = 1
    REINSTATEMENT = 2
    ROLE_GRANT = 3
    ROLE_REVOKE = 4


class TupleKind(IntEnum):
    TRIPLE = 0
    SQUARE = 1
    BIT = 2
    INPUT_MASK = 3
    TRUNC = 4


class BatchStatus(IntEnum):
    NONE = 0
    COMMITTED = 1
    REJECTED = 2


class JobState(IntEnum):
    NONE = 0
    PROPOSED = 1
    ACCEPTED = 2
    INPUTS_COMMITTED = 3
    FINALISED = 4
    ABORTED = 5


class AbortReason(IntEnum):
    NONE = 0
    DECLINED = 1
    RESULT_MISMATCH = 2
    PROTOCOL_FAILURE = 3
    DEADLINE_PASSED = 4


ZERO_ADDRESS = "0x" + "00" * 20
ZERO32 = b"\x00" * 32


def h(label: str | bytes) -> bytes:
    """A deterministic non-zero 32-byte value for test data."""
    return keccak(label.encode() if isinstance(label, str) else label)


def hpke_key(seed: int = 1) -> bytes:
    return bytes([seed % 256]) * HPKE_KEY_LENGTH


# ---------------------------------------------------------------- provider

# The product's in-process chain answers reverts like a node; the tests use the same provider.
RevertDataProvider = TesterProvider


# ----------------------------------------------------------- error decoding

def _error_table() -> dict[bytes, tuple[str, list[str]]]:
    table: dict[bytes, tuple[str, list[str]]] = {}
    for name in CONTRACTS:
        for item in load(name).abi:
            if item["type"] != "error":
                continue
            types = [inp["type"] for inp in item["inputs"]]
            selector = keccak(f"{item['name']}({','.join(types)})".encode())[:4]
            table[selector] = (item["name"], types)
    return table


ERRORS = _error_table()


def decode_revert(data: str | bytes) -> tuple[str, tuple[Any, ...]]:
    """(error name, decoded arguments) of custom-error revert data."""
    raw = bytes.fromhex(data[2:]) if isinstance(data, str) else bytes(data)
    name, types = ERRORS[raw[:4]]
    return name, tuple(_normalise(value) for value in abi_decode(types, raw[4:]))


def assert_reverts(action: Callable[[], Any], error: str, *args: Any) -> None:
    """Run ``action`` and check it reverts with custom error ``error(*args)`` exactly."""
    with pytest.raises(ContractCustomError) as info:
        action()
    name, decoded = decode_revert(info.value.data)
    expected = (error, tuple(_normalise(a) for a in args))
    assert (name, decoded) == expected, f"reverted with {name}{decoded}, expected {expected[0]}{expected[1]}"


def _normalise(value: Any) -> Any:
    if isinstance(value, IntEnum):
        return int(value)
    if isinstance(value, str) and Web3.is_address(value):
        return Web3.to_checksum_address(value)
    return value


# -------------------------------------------------------------------- chain

@dataclass
class Chain:
    """The deployed world of one test: contracts, named accounts and helpers."""

    w3: Web3
    tester: EthereumTester
    registry: Contract
    ledger: Contract
    jobs: Contract
    deployer: str
    members: list[str]
    outsiders: list[str]
    service: str
    accounts: list[str] = field(default_factory=list)

    # transactions -----------------------------------------------------------
    def tx(self, fn: Any, sender: str) -> Any:
        """Send ``fn`` from ``sender`` and return its receipt, which must be successful.

        A fixed gas limit skips gas estimation (twice as fast on py-evm); reverts are
        tested through ``assert_reverts``, which lets web3 estimate and so raise.
        """
        receipt = self.w3.eth.wait_for_transaction_receipt(fn.transact({"from": sender, "gas": TX_GAS}))
        if receipt.status != 1:
            fn.call({"from": sender}, block_identifier=receipt.blockNumber - 1)  # raises the decoded error
            raise AssertionError(f"transaction reverted: {receipt}")
        return receipt

    def deploy(self, name: str, *args: Any, sender: str | None = None) -> Contract:
        art = load(name)
        factory = self.w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
        receipt = self.tx(factory.constructor(*args), sender or self.deployer)
        return self.w3.eth.contract(address=receipt.contractAddress, abi=art.abi)

    # time ---------------------------------------------------------------------
    def now(self) -> int:
        """The timestamp the next transaction will be mined with."""
        return int(self.tester.get_block_by_number("pending")["timestamp"])

    def travel(self, timestamp: int) -> None:
        """Make the next transaction be mined at exactly ``timestamp``."""
        self.tester.time_travel(timestamp)

    # events -------------------------------------------------------------------
    def events(self, receipt: Any, contract: Contract, name: str) -> list[dict[str, Any]]:
        """Decoded arguments of every ``name`` event that ``contract`` emitted in the receipt."""
        event = getattr(contract.events, name)()
        out = []
        for log in receipt.logs:
            if log.address == contract.address and EVENT_TOPICS.get(bytes(log.topics[0])) == name:
                out.append(dict(event.process_log(log).args))
        return out

    def event(self, receipt: Any, contract: Contract, name: str) -> dict[str, Any]:
        """The single ``name`` event of ``contract`` in the receipt."""
        found = self.events(receipt, contract, name)
        assert len(found) == 1, f"expected one {name}, got {found}"
        return found[0]

    def event_names(self, receipt: Any) -> list[str]:
        """Names of all events in the receipt, in order, across the three contracts."""
        names = []
        for log in receipt.logs:
            names.append(EVENT_TOPICS.get(bytes(log.topics[0]), "?"))
        return names


def _event_topics() -> dict[bytes, str]:
    topics: dict[bytes, str] = {}
    for name in CONTRACTS:
        for item in load(name).abi:
            if item["type"] == "event":
                types = ",".join(_canonical_type(inp) for inp in item["inputs"])
                topics[keccak(f"{item['name']}({types})".encode())] = item["name"]
    return topics


def _canonical_type(inp: dict[str, Any]) -> str:
    return inp["type"]


EVENT_TOPICS = _event_topics()


def member_fields(seed: int) -> tuple[str, str, bytes, bytes]:
    """(name, endpoint, tlsFingerprint, hpkePublicKey) of test organisation ``seed``."""
    return (f"org{seed}", f"https://org{seed}.example:8443", h(f"tls{seed}"), hpke_key(seed))




# --------------------------------------------------------------------- jobs

SPEC = '{"analysis":"mean","column":"income","version":1}'
ACCEPT_IN, COMMIT_IN, RESULT_IN = 1_000, 2_000, 3_000
RESULT = b'{"mean":"52916.67"}'


@dataclass
class ProposedJob:
    """A proposed job and what it was proposed with."""

    job_id: int
    participants: list[str]
    accept_by: int
    commit_by: int
    result_by: int
    receipt: Any
    proposer: str

    @property
    def to_accept(self) -> list[str]:
        """The participants that still have to accept: all but the proposer, who accepted by proposing."""
        return [p for p in self.participants if p != self.proposer]


def propose(chain: Chain, participants: list[str] | None = None, spec: str = SPEC,
            proposer: str | None = None, reservations: list[tuple[bytes, int]] | None = None) -> ProposedJob:
    """Propose a job over ``participants`` (default: the three members) with deadlines 1000/2000/3000 s ahead."""
    participants = list(chain.members if participants is None else participants)
    proposer = proposer or chain.members[0]
    now = chain.now()
    deadlines = (now + ACCEPT_IN, now + COMMIT_IN, now + RESULT_IN)
    receipt = chain.tx(chain.jobs.functions.propose(spec, participants, *deadlines, reservations or []), proposer)
    job_id = chain.event(receipt, chain.jobs, "JobProposed")["jobId"]
    return ProposedJob(job_id, participants, *deadlines, receipt, proposer)


def accept_all(chain: Chain, job: ProposedJob) -> Any:
    """Every participant but the proposer accepts (the proposer accepted by proposing)."""
    receipt = None
    for participant in job.to_accept:
        receipt = chain.tx(chain.jobs.functions.accept(job.job_id), participant)
    return receipt


def commitment_of(participant: str) -> bytes:
    return h("inputs of " + participant)


def commit_all(chain: Chain, job: ProposedJob) -> Any:
    receipt = None
    for participant in job.participants:
        receipt = chain.tx(chain.jobs.functions.commitInputs(job.job_id, commitment_of(participant)), participant)
    return receipt


def submit_all(chain: Chain, job: ProposedJob, result: bytes = RESULT) -> Any:
    receipt = None
    for participant in job.participants:
        receipt = chain.tx(chain.jobs.functions.submitResult(job.job_id, result), participant)
    return receipt


def job_state(chain: Chain, job_id: int) -> int:
    return chain.jobs.functions.getJob(job_id).call()[2]


# ------------------------------------------------------------------ batches

def commit_batch(chain: Chain, label: str = "batch", count: int = 100,
                 kind: TupleKind = TupleKind.TRIPLE) -> bytes:
    """Commit a batch from the preprocessing service and return its id."""
    batch_id = h(label)
    chain.tx(chain.ledger.functions.commitBatch(batch_id, kind, count, h("commitment of " + label)), chain.service)
    return batch_id


def attest(chain: Chain, batch_id: bytes, members: list[str] | None = None) -> None:
    for member in chain.members if members is None else members:
        chain.tx(chain.ledger.functions.attestSacrifice(batch_id, h(b"transcript" + batch_id + bytes.fromhex(member[2:]))),
                 member)


def enlarge(chain: Chain, n: int) -> None:
    """Make ``chain.members`` ``n`` active members (fresh contracts, registry quorum 1)."""
    registry = chain.deploy("OrgRegistry", 1)
    ledger = chain.deploy("PreprocessingLedger", registry.address)
    jobs = chain.deploy("JobManager", registry.address, ledger.address, MAX_DURATION, MAX_TUPLES)
    chain.tx(ledger.functions.bindJobManager(jobs.address), chain.deployer)
    chain.registry, chain.ledger, chain.jobs = registry, ledger, jobs
    accounts = list(chain.members)
    for i in range(n - len(accounts)):
        key = keccak(text=f"gas party {i}")
        address = Account.from_key(key).address
        if address not in chain.tester.get_accounts():  # accounts outlive snapshots
            chain.tester.add_account("0x" + key.hex())
        chain.w3.eth.wait_for_transaction_receipt(
            chain.w3.eth.send_transaction({"from": chain.deployer, "to": address, "value": 10**18}))
        accounts.append(address)
    for i, account in enumerate(accounts):
        chain.tx(registry.functions.bootstrapMember(account, *member_fields(i)), chain.deployer)
    chain.tx(registry.functions.bootstrapRole(1, chain.service), chain.deployer)  # Role.Preprocessor
    chain.members = accounts
