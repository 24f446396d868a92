"""What the ``mpcc peer``, ``mpcc preprocess`` and ``mpcc job`` commands do, apart from typer.

Each function takes parsed arguments, does its work and returns a JSON-friendly
dict (the CLI prints it as lines or as JSON); errors are project errors, which
the CLI maps to its exit codes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from pathlib import Path
from typing import Any, Sequence

from eth_account import Account
from eth_account.signers.local import LocalAccount

from offchain.analytics import registry
from offchain.analytics.spec import REVEALS, JobSpec
from offchain.errors import ConfigError, DeliveryRejected
from offchain.peer.analyst import propose_job
from offchain.peer.config import PeerConfig, split_host_port
from offchain.peer.fetch import ServiceClient
from offchain.preprocessing.delivery import ChainBatch, PartyDelivery, open_batch
from offchain.preprocessing.tuples import TupleKind
from onchain import keystore, orgs
from onchain.chain import LOCAL_CHAIN_IDS, Chain
from onchain.deploy import Deployment
from onchain.jobs import Deadlines, JobState
from onchain.ledger import BatchStatus
from onchain.manifest import Manifest
from onchain.registry import Role

# The public test mnemonic of `npx hardhat node`: its accounts hold test ether on
# local development chains only and must never be used anywhere else.
HARDHAT_TEST_MNEMONIC = "test test test test test test test test test test test junk"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def attach(rpc: str, manifest_path: Path) -> Deployment:
    manifest = Manifest.load(manifest_path)
    return Deployment.attach(Chain.connect(rpc, manifest.chain_id), manifest)


def local_test_account(chain: Chain, index: int) -> LocalAccount:
    """Account ``index`` of a local test chain (refused on any other chain)."""
    if chain.chain_id not in LOCAL_CHAIN_IDS:
        raise ConfigError(f"test accounts exist on local test chains only, not chain {chain.chain_id}")
    if chain.tester is not None or index == 0:
        return chain.test_account(index)
    Account.enable_unaudited_hdwallet_features()
    account: LocalAccount = Account.from_mnemonic(HARDHAT_TEST_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")
    return account


def setup_logging(log_file: Path | None, verbose: bool) -> None:
    handler: logging.Handler = logging.FileHandler(log_file) if log_file else logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in ("web3", "urllib3", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def run_until_signalled(main: Any) -> None:
    """Runs ``main(stop)`` in one event loop until SIGTERM or SIGINT sets ``stop``."""
    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await main(stop)

    asyncio.run(runner())


# Peer -------------------------------------------------------------------------------------

def peer_run(config_path: Path) -> None:
    from offchain.peer.daemon import Daemon

    config = PeerConfig.load(config_path)
    daemon = Daemon.open(config, keystore.passphrase(f"passphrase for the keys in {config.home}: "))
    run_until_signalled(daemon.run)


def peer_status(config_path: Path) -> dict[str, Any]:
    from offchain.peer.status import peer_status as gather

    config = PeerConfig.load(config_path)
    return gather(config, attach(config.rpc, config.manifest))


# Preprocessing service ----------------------------------------------------------------------

def preprocess_serve(rpc: str, manifest: Path, signer: LocalAccount | None, test_index: int | None,
                     listen: str, stock: str, poll_s: float) -> None:
    from offchain.peer.serve import ServiceProcess, parse_stock

    host, port = split_host_port(listen)
    dep = attach(rpc, manifest)
    account = signer or local_test_account(dep.chain, test_index if test_index is not None else 1)
    levels = parse_stock(stock, len(dep.registry.active_members()))
    process = ServiceProcess.start(dep, account, levels)
    logging.getLogger("mpcc.service").info("service account %s; group of %d members", account.address,
                                           process.group_size)
    run_until_signalled(lambda stop: _serve_until(process, host, port, poll_s, stop))


async def _serve_until(process: Any, host: str, port: int, poll_s: float, stop: asyncio.Event) -> None:
    from offchain.peer.serve import serve

    task = asyncio.ensure_future(serve(process, host, port, poll_s))
    await stop.wait()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def _party_of(dep: Deployment, account: str) -> int:
    accounts = [m.account.lower() for m in dep.registry.active_members()]
    if account.lower() not in accounts:
        raise ConfigError(f"{account} is not an active member")
    return accounts.index(account.lower())


def preprocess_fetch(config_path: Path, batch_id: str, out: Path) -> dict[str, Any]:
    """Saves this member's delivery of a batch as served (for inspection or `preprocess check`)."""
    config = PeerConfig.load(config_path)
    dep = attach(config.rpc, config.manifest)
    public = orgs.PublicEntry.load(config.home / orgs.PUBLIC_FILE)
    party = _party_of(dep, public.account)
    raw = asyncio.run(ServiceClient(config.service).delivery_bytes(_batch_id(batch_id), party))
    out.write_bytes(raw)
    return {"batch": batch_id, "party": party, "bytes": len(raw), "file": str(out)}


def preprocess_check(config_path: Path, delivery_file: Path) -> dict[str, Any]:
    """Runs a saved delivery through the peer's opening checks; DeliveryRejected if any fails."""
    config = PeerConfig.load(config_path)
    dep = attach(config.rpc, config.manifest)
    org = orgs.load(config.home, keystore.passphrase())
    delivery = PartyDelivery.from_bytes(delivery_file.read_bytes())
    party = _party_of(dep, org.account.address)
    batch = open_batch(org.identity, party, delivery, _chain_record(dep, delivery.header.batch_id))
    return {"batch": delivery.header.batch_id.hex(), "party": party, "tuples": batch.count,
            "key": str(batch.key), "checks": "passed"}


def _chain_record(dep: Deployment, batch_id: bytes) -> ChainBatch:
    """The chain's record of a batch, as ``MemberPeer.chain_record`` checks it."""
    batch = dep.ledger.batch(batch_id)
    if batch.status is BatchStatus.NONE:
        raise DeliveryRejected(batch_id, -1, "no such batch is committed on chain")
    if not dep.registry.has_role(Role.PREPROCESSOR, batch.service):
        raise DeliveryRejected(batch_id, -1, f"committed by {batch.service}, which lacks the preprocessing role")
    return ChainBatch(batch_id, list(TupleKind)[int(batch.kind)], batch.count, batch.commitment)


def _batch_id(text: str) -> bytes:
    try:
        raw = bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise ConfigError(f"batch id {text!r} is not 32 bytes of hex")
    return raw


# Jobs -------------------------------------------------------------------------------------

def job_propose(dep: Deployment, org: orgs.Org, service: str, spec: JobSpec,
                accept_s: int, commit_s: int, result_s: int) -> dict[str, Any]:
    """Plans the reservations from the service's catalogue, then proposes and reserves (analyst.propose_job)."""
    catalogue = asyncio.run(ServiceClient(service).catalogue())
    deadlines = Deadlines.from_now(dep.chain.now(), accept_s, commit_s, result_s)
    job_id = propose_job(dep, org.account, spec, registry.needs(spec), catalogue, deadlines)  # type: ignore[arg-type]
    return {"job": job_id, "spec": spec.canonical(),
            "deadlines": {"accept_by": deadlines.accept_by, "commit_by": deadlines.commit_by,
                          "result_by": deadlines.result_by}}


def make_spec(dep: Deployment, spec_file: Path | None, analysis: str | None, column: str | None,
              participants: str | None, title: str) -> JobSpec:
    """A spec from a JSON file, or from options (participants default to every active member)."""
    if spec_file is not None:
        try:
            return JobSpec.parse(spec_file.read_text())
        except OSError as err:
            raise ConfigError(f"cannot read the spec {spec_file}: {err}") from err
    if analysis not in REVEALS or not column:
        raise ConfigError(f"give --spec FILE, or --analysis ({'|'.join(REVEALS)}) and --column")
    addresses: Sequence[str] = ([orgs.check_address(a) for a in participants.split(",") if a.strip()]
                                if participants else [m.account for m in dep.registry.active_members()])
    return JobSpec.parse(json.dumps({"analysis": analysis, "column": column, "participants": list(addresses),
                                     "reveal": list(REVEALS[analysis]), "title": title}))


def job_status(dep: Deployment, job_id: int) -> dict[str, Any]:
    if not 0 < job_id <= dep.jobs.job_count():
        raise ConfigError(f"there is no job {job_id} (jobs 1..{dep.jobs.job_count()} exist)")
    job = dep.jobs.job(job_id)
    participants = dep.jobs.participants(job_id)
    return {"job": job_id, "state": job.state.name.lower(), "abort_reason": job.abort_reason.name.lower(),
            "proposer": job.proposer, "participants": participants,
            "accepted": job.accepted, "committed": job.committed, "submitted": job.submitted,
            "deadlines": {"accept_by": job.deadlines.accept_by, "commit_by": job.deadlines.commit_by,
                          "result_by": job.deadlines.result_by}, "chain_time": dep.chain.now()}


def job_result(dep: Deployment, job_id: int) -> dict[str, Any]:
    """The finalised result (from the JobFinalised event); ConfigError if not finalised."""
    status = job_status(dep, job_id)
    if status["state"] != JobState.FINALISED.name.lower():
        raise ConfigError(f"job {job_id} is {status['state']}, not finalised: it has no result")
    final = [e for e in dep.jobs.events(dep.manifest.deploy_block, names=("JobFinalised",))
             if e.jobId == job_id]  # type: ignore[attr-defined]
    result = json.loads(bytes(final[0].result))  # type: ignore[attr-defined]
    return {"job": job_id, "result": result, "result_hash": "0x" + bytes(final[0].resultHash).hex()}  # type: ignore[attr-defined]
