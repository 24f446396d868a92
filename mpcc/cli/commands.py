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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount

from mpcc import analyst, orgs
from mpcc.analyst import propose_job, require_members
from mpcc.cli.watch import wait_for_job, watch_daemon
from mpcc.peer.config import PeerConfig
from mpcc.peer.daemon import Daemon
from mpcc.peer.status import peer_status as gather
from mpcc.progress import NoProgress, Reporter
from mpcc.records import existing_job, job_status
from mpcc.service.server import ServiceProcess, serve
from offchain.analytics import registry
from offchain.analytics.data import data_for
from offchain.analytics.sources import unbound_columns
from offchain.analytics.spec import REVEALS, JobSpec, categorical_columns, load_json, numeric_columns
from offchain.auditable import program, routes
from offchain.auditable.routes import Route, route
from offchain.errors import ConfigError, DeliveryRejected, TuplesExhausted
from offchain.net.address import split_host_port
from offchain.preprocessing.cache import TupleCache
from offchain.preprocessing.delivery import ChainBatch, PartyDelivery, open_batch
from offchain.preprocessing.protocol import ServiceClient
from offchain.preprocessing.tuples import Needs, TupleKey, TupleKind, at_least, parse_levels
from onchain import keystore
from onchain.abi.job_manager import JobProposed
from onchain.chain import LOCAL_CHAIN_IDS, RPC_PATIENCE_S, Chain
from onchain.deploy import Deployment
from onchain.jobs import Deadlines, Job, JobState, spec_hash
from onchain.ledger import BatchStatus
from onchain.manifest import Manifest
from onchain.registry import Role

# The public test mnemonic of `npx hardhat node`: its accounts hold test ether on
# local development chains only and must never be used anywhere else.
HARDHAT_TEST_MNEMONIC = "test test test test test test test test test test test junk"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


#: Seconds the preprocessing service waits out an unreachable chain node (as a peer's default).
SERVICE_RPC_PATIENCE_S = 300.0


def attach(rpc: str, manifest_path: Path, patience_s: float = RPC_PATIENCE_S) -> Deployment:
    manifest = Manifest.load(manifest_path)
    return Deployment.attach(Chain.connect(rpc, manifest.chain_id, patience_s), manifest)


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


#: The GIL switch interval of a long-running process (Python's default is 5 ms). Its event loop gives the GIL
#: up at every socket read and must then wait for a worker thread's computation (the LowGear work, the
#: sacrifice) to hand it back: with a busy worker, reading six 7 MB messages took 1.9-2.2 s at 5 ms and
#: 0.55 s at 1 ms (a CPU-bound thread beside an asyncio socket reader), and a peer's loop stalled 0.6 s
#: during the members' setup under the test suite's load.
SWITCH_INTERVAL_S = 0.001


def run_until_signalled(main: Any) -> None:
    """Runs ``main(stop)`` in one event loop until SIGTERM or SIGINT sets ``stop`` (see SWITCH_INTERVAL_S)."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await main(stop)

    asyncio.run(runner())


# Peer -------------------------------------------------------------------------------------

def peer_run(config_path: Path, progress: Reporter | None = None) -> None:
    """Runs the daemon until SIGTERM or SIGINT, reporting its batches and jobs to ``progress``."""
    config = PeerConfig.load(config_path)
    fields = [(spec_fields(f, None, None, None, None), str(f)) for f in config.make_for_files()]  # Checked first.
    passphrase = keystore.passphrase(f"passphrase for the keys in {config.home}: ")
    while True:  # Again after the members who make their own tuples changed (Daemon.regroup).
        daemon = Daemon.open(config, passphrase)
        daemon.make_for = specs_needs(fields, [m.account for m in daemon.intake.group])
        _run_daemon(daemon, progress)
        if daemon.regroup is None:
            return


def _run_daemon(daemon: Daemon, progress: Reporter | None) -> None:
    if progress is None or not progress.enabled:
        run_until_signalled(daemon.run)
    else:
        run_until_signalled(lambda stop: _watched(daemon.run(stop), watch_daemon(daemon, progress)))


async def _watched(main: Any, watcher: Any) -> None:
    """Awaits ``main`` with ``watcher`` running beside it (cancelled when ``main`` ends)."""
    task = asyncio.ensure_future(watcher)
    try:
        await main
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def peer_status(config_path: Path) -> dict[str, Any]:
    config = PeerConfig.load(config_path)
    return gather(config, attach(config.rpc, config.manifest))


# Preprocessing service ----------------------------------------------------------------------

def preprocess_serve(rpc: str, manifest: Path, signer: LocalAccount | None, test_index: int | None,
                     listen: str, stock: str, stock_for: Sequence[Path], poll_s: float, state: Path,
                     progress: Reporter | None = None) -> None:
    host, port = split_host_port(listen)
    files = [f for p in stock_for for f in (sorted(p.glob("*.json")) if p.is_dir() else [p])]
    fields = [(spec_fields(f, None, None, None, None), str(f)) for f in files]  # Checked before connecting.
    dep = attach(rpc, manifest, SERVICE_RPC_PATIENCE_S)
    account = signer or local_test_account(dep.chain, test_index if test_index is not None else 1)
    group = [m.account for m in dep.registry.active_members()]
    levels = at_least(parse_levels(stock, len(group)), specs_needs(fields, group))
    process = ServiceProcess.start(dep, account, levels, state, progress or NoProgress())
    logging.getLogger("mpcc.service").info("service account %s; group of %d members; stock %s",
                                           account.address, process.group_size, stock_text(Needs(levels)))
    run_until_signalled(lambda stop: _serve_until(process, host, port, poll_s, stop))


def specs_needs(fields: Sequence[tuple[dict[str, Any], str]], group: Sequence[str]) -> Needs:
    """What one job of each spec (fields and source, participants filled with ``group``) takes, added up."""
    return sum((routes.needs(complete_spec(f, lambda: group, source)) for f, source in fields), Needs())


async def _serve_until(process: Any, host: str, port: int, poll_s: float, stop: asyncio.Event) -> None:
    task = asyncio.ensure_future(serve(process, host, port, poll_s))
    await stop.wait()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def _party_of(dep: Deployment, account: str) -> int:
    accounts = [m.account.lower() for m in dep.registry.active_members()]
    if account.lower() not in accounts:
        raise ConfigError(f"{account} is not an active member")
    return accounts.index(account.lower())


def preprocess_fetch(config_path: Path, batch_id: str, out: Path,
                     progress: Reporter | None = None) -> dict[str, Any]:
    """Saves this member's delivery of a batch as served (for inspection or `preprocess check`)."""
    config = PeerConfig.load(config_path)
    if config.service is None:
        raise ConfigError(f"{config_path} names no preprocessing service: its members make their own tuples, "
                          "so there is no delivery to fetch")
    dep = attach(config.rpc, config.manifest)
    public = orgs.PublicEntry.load(config.home / orgs.PUBLIC_FILE)
    party = _party_of(dep, public.account)
    task, report = f"batch {batch_id.removeprefix('0x')[:12]}", progress or NoProgress()

    def received(done: int, total: int) -> None:
        report.update(task, f"downloading party {party}'s delivery ({done >> 10} of {total >> 10} KiB)", done, total)

    raw = asyncio.run(ServiceClient(config.service).delivery_bytes(_batch_id(batch_id), party, received))
    report.finish(task, f"downloaded {len(raw)} bytes")
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

@dataclass(frozen=True)
class CachedBatch:
    """A batch as the proposer's own tuple cache lists it (it stored every batch a job of its can use)."""

    batch_id: bytes
    key: TupleKey


def cached_catalogue(path: Path) -> list[CachedBatch]:
    """The attested batches with tuples left in the tuple cache at ``path`` (read only)."""
    if not path.exists():
        raise ConfigError(f"no tuple cache at {path}: give the proposer's cache with --cache (the `cache` of its "
                          "peer configuration), or the preprocessing service with --service")
    with TupleCache(path) as cache:
        return [CachedBatch(batch_id, TupleKey.parse(key)) for batch_id, key, _ in cache.unallocated()]


def job_propose(dep: Deployment, org: orgs.Org, service: str | None, spec: JobSpec,
                accept_s: int, commit_s: int, result_s: int, cache: Path | None = None) -> dict[str, Any]:
    """Plans the reservations from a catalogue, then proposes and reserves (analyst.propose_job).

    The catalogue is the service's, given ``service``; else the batches in the
    proposer's own tuple cache (``cache``, default ``tuples.sqlite`` in its
    home), which holds every batch a job of its can use, whoever made it.

    The tuples reserved are exactly ``routes.needs(spec)``, whatever the analysis;
    a shortfall is refused before any transaction, naming the tuple kind.
    """
    require_members(dep, spec)
    longest = dep.jobs.max_job_duration()
    if accept_s + commit_s + result_s > longest:
        raise ConfigError(f"--accept-s, --commit-s and --result-s add up to {accept_s + commit_s + result_s} s, "
                          f"more than this deployment lets a job run ({longest} s, {longest / 86400:g} days); "
                          "give shorter periods")
    needs = routes.needs(spec)
    total, cap = sum(n for _, n in needs), dep.jobs.max_tuples_per_job()
    if total > cap:
        raise ConfigError(f"a job of this spec needs {total} tuples, more than this deployment lets one job "
                          f"reserve ({cap}); make the job smaller (fewer rows, iterations or columns)")
    catalogue: Sequence[analyst.Offer] = (
        asyncio.run(ServiceClient(service).catalogue()) if service is not None
        else cached_catalogue(cache or org.home / "tuples.sqlite"))
    deadlines = Deadlines.from_now(dep.chain.now(), accept_s, commit_s, result_s)
    try:
        job_id = propose_job(dep, org.account, spec, needs, catalogue, deadlines)
    except TuplesExhausted as err:
        raise TuplesExhausted(err.kind, err.missing, (
            "the peers may still be checking the service's batches (see `mpcc peer status`), or its stock is "
            "too low for this job: start `mpcc preprocess serve` with `--stock-for SPEC` (see `mpcc job plan`)"
            if service is not None else
            "the members may still be making them (see `mpcc peer status`), or their stock is too low for this "
            "job: raise `make` in the peers' configurations to what `mpcc job plan` prints")) from err
    return {"job": job_id, "spec": spec.canonical(), "spec_hash": "0x" + spec_hash(spec.canonical()).hex(),
            "analysis": spec.analysis, "title": spec.title, "reveal": list(spec.reveal),
            "participants": list(spec.participants), "needs": {str(k): n for k, n in needs},
            "deadlines": {"accept_by": deadlines.accept_by, "commit_by": deadlines.commit_by,
                          "result_by": deadlines.result_by}}


# Two placeholder participants: a spec missing its participants (to be filled from the
# chain) is checked with them before connecting. Two is the fewest a job may have, and
# the per-analysis size bounds only tighten with more parties, so no spec that the
# real participants would pass is refused here.
_PLACEHOLDERS = ("0x" + "00" * 19 + "01", "0x" + "00" * 19 + "02")


def spec_fields(spec_file: Path | None, analysis: str | None, column: str | None,
                participants: str | None, title: str | None, dataset: str | None = None) -> dict[str, Any]:
    """A job spec's fields from a JSON file or from options, validated as far as possible offline.

    Participants may be missing (the file and ``--participants`` name none): then
    ``complete_spec`` fills them in from the registry. ``ConfigError`` names the
    source and the field of the first problem.
    """
    if spec_file is not None and (analysis or column):
        raise ConfigError("give either --spec FILE or --analysis with --column, not both")
    if spec_file is not None:
        fields, source = read_spec_file(spec_file), str(spec_file)
    elif analysis in REVEALS and column:
        fields, source = {"analysis": analysis, "column": column, "reveal": list(REVEALS[analysis])}, "options"
    else:
        raise ConfigError(f"give --spec FILE (any analysis; see examples/specs/), or --analysis "
                          f"({'|'.join(REVEALS)}) and --column")
    if title:
        fields["title"] = title
    if dataset:
        if fields.get("dataset") not in (None, dataset):
            raise ConfigError(f"{source} names dataset {fields['dataset']!r} and --dataset {dataset!r}; give it once")
        fields["dataset"] = dataset
    if participants:
        named = [orgs.check_address(a.strip()) for a in participants.split(",") if a.strip()]
        given = fields.get("participants")
        if given is not None and [str(a).lower() for a in given] != [a.lower() for a in named]:
            raise ConfigError(f"{source} names participants and --participants names others; give them once")
        fields["participants"] = named
    parse_spec({"participants": list(_PLACEHOLDERS), **fields}, source)
    return fields


def complete_spec(fields: dict[str, Any], members: Callable[[], Sequence[str]], source: str) -> JobSpec:
    """The spec, with every active member (in registry order) as participants if none are named."""
    if "participants" not in fields:
        fields = {**fields, "participants": list(members())}
        source += " (participants: every active member)"
    return parse_spec(fields, source)


def parse_spec(fields: dict[str, Any], source: str) -> JobSpec:
    try:
        return registry.parse_spec(json.dumps(fields))
    except ConfigError as err:
        raise ConfigError(f"{source}: {err}") from err


def read_spec_file(path: Path) -> dict[str, Any]:
    """A spec file's JSON object; ``ConfigError`` naming the file and what is wrong with it."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"cannot read the spec {path}: {err.strerror or err}") from err
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text ({err.reason})") from err
    data = load_json(text, str(path))  # Size and depth are checked before parsing.
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a job spec is a JSON object (with analysis, columns, reveal, ...), "
                          f"not a JSON {type(data).__name__}")
    return data


#: Where a job's tuples may come from, and what each source is trusted with (docs/trust-model.md). A plan
#: does not know the consortium's mode; `mpcc audit` says where a finalised job's tuples came from.
PREPROCESSING = {
    "members": {
        "development": False,
        "trusts": "the members make the tuples together (make or make_for in the peers' configurations): nobody "
                  "learns the MAC key or a tuple, and the first member only decides which batch comes next"},
    "dealer": {
        "development": True,
        "trusts": "the preprocessing service deals every tuple and knows the MAC key and every tuple value; its "
              "arithmetic is checked (the sacrifice, the MAC check, truncation pairs built from checked bits), "
              "but nobody can check that its tuples are random and secret: it can read every value masked by "
              "its tuples whose opening it sees, make bits non-random (all zero: no DP noise, comparison masks "
              "of 0 that show the compared values to the peers), and frame a member through its input masks"}}


def job_plan(spec: JobSpec) -> dict[str, Any]:
    """What a job of ``spec`` reads, reveals and consumes, and the service stock that feeds one."""
    needs = routes.needs(spec)
    return {"analysis": spec.analysis, "title": spec.title, "spec": spec.canonical(),
            "spec_hash": "0x" + spec_hash(spec.canonical()).hex(),
            "reads": {"numeric": list(numeric_columns(spec)), "categorical": list(categorical_columns(spec))},
            "dataset": spec.dataset, "reveal": list(spec.reveal), "participants": list(spec.participants),
            "needs": {str(k): n for k, n in needs}, "stock": stock_text(needs),
            "preprocessing": PREPROCESSING, "auditable": auditable_plan(spec)}


def auditable_plan(spec: JobSpec) -> dict[str, Any] | None:
    """How an auditable job is verified and what it publishes (None for a plain job)."""
    way = route(spec)
    if way is Route.PLAIN:
        return None
    out: dict[str, Any] = {"route": way.value, "how": {
        Route.LINEAR: "verified on chain by AuditTrail against the input commitments",
        Route.SUMMARY: "replayed by the auditor through committed Beaver triples",
        Route.PROGRAM: "replayed by the auditor on committed tuples (every opening checked)"}[way]}
    if way is Route.PROGRAM:
        commitments = program.Layout.of(registry.needs(spec)).size()
        out.update(tuple_commitments=commitments, tuple_bytes=commitments * 32)  # Compressed.
    return out


def stock_text(needs: Needs) -> str:
    """``needs`` as a ``preprocess serve --stock`` value (input masks: the most any owner needs)."""
    levels: dict[str, int] = {}
    for key, n in needs:
        name = "input_mask" if key.kind is TupleKind.INPUT_MASK else key.kind.value
        levels[name] = max(levels.get(name, 0), n)
    return ",".join(f"{name}={n}" for name, n in levels.items())


def job_wait(dep: Deployment, job_id: int, timeout: float, progress: Reporter) -> dict[str, Any]:
    """Waits (reporting progress) until the job is finalised or aborted; its detailed status."""
    wait_for_job(lambda: job_status(dep, job_id, detail=False), timeout, progress)
    return job_status(dep, job_id)


def job_accept(dep: Deployment, org: orgs.Org, job_id: int, config: PeerConfig | None) -> dict[str, Any]:
    """Accepts a job as ``org``, refused before any transaction when this member cannot serve it."""
    job, me = existing_job(dep, job_id), org.account.address
    participants = dep.jobs.participants(job_id)
    if me.lower() not in (p.lower() for p in participants):
        raise ConfigError(f"{org.public.name} ({me}) is not a participant of job {job_id}; nothing to accept")
    if job.state is not JobState.PROPOSED:
        raise ConfigError(f"job {job_id} is {_state_text(dep, job_id, job)}: only a proposed job can be accepted")
    now = dep.chain.now()
    if now > job.accept_by:
        raise ConfigError(f"job {job_id}'s acceptance deadline passed at {readable_time(job.accept_by)} "
                          f"({readable_delay(job.accept_by, now)}); it can only be expired: mpcc job expire {job_id}")
    if dep.jobs.has_accepted(job_id, me):
        raise ConfigError(f"{org.public.name} already accepted job {job_id}")
    spec_text = dep.jobs.logs(JobProposed, from_block=dep.manifest.deploy_block, jobId=job_id)[0].spec
    try:
        spec = registry.parse_spec(spec_text)
    except ConfigError as err:
        raise ConfigError(f"job {job_id} cannot be served: its spec is malformed ({err}); do not accept it "
                          "(a running peer declines it)") from err
    if config is not None:
        try:
            data = data_for(spec, config.named_data())
        except ConfigError as err:
            raise ConfigError(f"job {job_id} cannot be served by this member: {err} (or let the peer "
                              "decline it)") from err
        unbound = unbound_columns(data, [*numeric_columns(spec), *categorical_columns(spec)])
        if unbound:
            raise ConfigError(f"job {job_id} reads column {', '.join(map(repr, unbound))}, which this peer's "
                              "configuration binds no data to: this member cannot serve it; bind the column "
                              "under [data] first (or let the peer decline it)")
    receipt = dep.jobs.accept(org.account, job_id)
    return {"job": job_id, "account": me, "tx": receipt.tx_hash}


def job_expire(dep: Deployment, sender: LocalAccount, job_id: int) -> dict[str, Any]:
    """Expires a job whose current deadline passed; refused, with the deadline, before any transaction."""
    job = existing_job(dep, job_id)
    if job.state not in (JobState.PROPOSED, JobState.ACCEPTED, JobState.INPUTS_COMMITTED):
        raise ConfigError(f"job {job_id} is {_state_text(dep, job_id, job)} already; there is nothing to expire")
    deadline, now = _deadline_of(job), dep.chain.now()
    if now <= deadline:
        raise ConfigError(f"job {job_id} is {job.state.name.lower().replace('_', ' ')} and its deadline is "
                          f"{readable_time(deadline)} ({readable_delay(deadline, now)} by the chain's clock); "
                          "it can be expired only after that")
    receipt = dep.jobs.expire(sender, job_id)
    return {"job": job_id, "tx": receipt.tx_hash}


def _deadline_of(job: Job) -> int:
    d = job.deadlines
    return {JobState.PROPOSED: d.accept_by, JobState.ACCEPTED: d.commit_by}.get(job.state, d.result_by)


def _state_text(dep: Deployment, job_id: int, job: Job) -> str:
    if job.state is not JobState.ABORTED:
        return job.state.name.lower().replace("_", " ")
    declined = dep.jobs.declines(job_id, from_block=dep.manifest.deploy_block)
    if declined:
        who = dep.registry.member(declined[0].participant).name
        return f"aborted (declined by {who}: {declined[0].reason.name.lower().replace('_', ' ')})"
    return f"aborted ({job.abort_reason.name.lower().replace('_', ' ')})"


def readable_time(timestamp: int) -> str:
    """A block timestamp as UTC date and time."""
    return datetime.fromtimestamp(timestamp, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def readable_delay(deadline: int, now: int) -> str:
    """``in 59 min`` or ``3 s ago``."""
    delta = deadline - now
    amount = abs(delta)
    text = f"{amount} s" if amount < 120 else f"{amount // 60} min" if amount < 7200 else f"{amount // 3600} h"
    return f"in {text}" if delta >= 0 else f"{text} ago"
