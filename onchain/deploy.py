"""Deploying the four contracts and attaching to a deployment.

Order: OrgRegistry, then PreprocessingLedger (reads roles from the registry),
then JobManager (reserves tuples through the ledger), then AuditTrail (reads
jobs from JobManager), then the ledger is bound to its JobManager. The
deployer is the registry's bootstrapper.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_account.signers.local import LocalAccount
from web3 import Web3

from onchain.artifacts import check_fresh, load
from onchain.audit_trail import AuditTrail
from onchain.chain import Chain, Sent
from onchain.errors import ChainIdMismatch, ConfigError, ManifestError
from onchain.jobs import JobManager
from onchain.ledger import PreprocessingLedger
from onchain.manifest import CONTRACT_NAMES, DeployedContract, Manifest
from onchain.registry import OrgRegistry

#: JobManager's caps, set at deployment: a job runs at most 30 days from its proposal to its
#: result deadline, and holds at most 2**24 tuples reserved (all kinds together), so that no
#: member can lock the stock for years or all of it with one job.
MAX_JOB_DURATION_S = 30 * 24 * 3600
MAX_TUPLES_PER_JOB = 2**24


@dataclass(frozen=True)
class Deployment:
    """Typed clients for a deployment's four contracts on one chain."""

    chain: Chain
    manifest: Manifest
    registry: OrgRegistry
    ledger: PreprocessingLedger
    jobs: JobManager
    audit: AuditTrail

    @classmethod
    def attach(cls, chain: Chain, manifest: Manifest) -> Deployment:
        """Clients for ``manifest`` on ``chain``; checks the chain id and that code is there."""
        if chain.chain_id != manifest.chain_id:
            raise ChainIdMismatch(manifest.chain_id, chain.chain_id, chain.url)
        for name in CONTRACT_NAMES:
            if not chain.w3.eth.get_code(Web3.to_checksum_address(manifest.address(name))):
                raise ManifestError(
                    f"no contract code at {manifest.address(name)} ({name}) on chain "
                    f"{chain.chain_id}; was the chain restarted? Deploy again with --force"
                )
        return cls(chain, manifest, OrgRegistry(chain, manifest.address("OrgRegistry")),
                   PreprocessingLedger(chain, manifest.address("PreprocessingLedger")),
                   JobManager(chain, manifest.address("JobManager")),
                   AuditTrail(chain, manifest.address("AuditTrail")))


def deploy(chain: Chain, deployer: LocalAccount, quorum: int, max_job_duration_s: int = MAX_JOB_DURATION_S,
           max_tuples_per_job: int = MAX_TUPLES_PER_JOB) -> Deployment:
    """Deploy and wire the contracts; returns clients and an unsaved manifest."""
    if quorum < 1:
        raise ConfigError(f"quorum must be at least 1, got {quorum}")
    if not 0 < max_job_duration_s < 2**40 or not 0 < max_tuples_per_job < 2**64:
        raise ConfigError(f"the job caps must be positive: got {max_job_duration_s} s and "
                          f"{max_tuples_per_job} tuples per job")
    check_fresh()
    registry = _deploy_one(chain, deployer, "OrgRegistry", (quorum,))
    ledger = _deploy_one(chain, deployer, "PreprocessingLedger", (registry.receipt["contractAddress"],))
    jobs = _deploy_one(chain, deployer, "JobManager", (registry.receipt["contractAddress"],
                                                        ledger.receipt["contractAddress"],
                                                        max_job_duration_s, max_tuples_per_job))
    trail = _deploy_one(chain, deployer, "AuditTrail", (jobs.receipt["contractAddress"],))
    sent = {"OrgRegistry": registry, "PreprocessingLedger": ledger, "JobManager": jobs, "AuditTrail": trail}
    manifest = Manifest(
        chain_id=chain.chain_id,
        rpc_url=chain.url,
        deployer=deployer.address,
        deploy_block=int(registry.receipt["blockNumber"]),
        quorum=quorum,
        contracts={name: DeployedContract(address=str(s.receipt["contractAddress"]),
                                          artifact_sha256=load(name).sha256, tx_hash=s.tx_hash)
                   for name, s in sent.items()},
    )
    deployment = Deployment.attach(chain, manifest)
    deployment.ledger.bind_job_manager(deployer, deployment.jobs.address)
    return deployment


def _deploy_one(chain: Chain, deployer: LocalAccount, name: str, args: tuple[object, ...]) -> Sent:
    artifact = load(name)
    factory = chain.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    return chain.deploy(deployer, factory, args, f"deploy {name}")
