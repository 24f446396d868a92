"""The ``mpcc peer``, ``mpcc preprocess`` and ``mpcc job`` commands (the work is in mpcc.cli.commands).

Long steps report progress on stderr (mpcc.progress); results print as
tables (mpcc.cli.views) or, with ``--json``, as one JSON object.
"""

from __future__ import annotations

from pathlib import Path

import typer

from mpcc import orgs, records
from mpcc.cli import commands
from mpcc.cli.base import (
    HOME,
    JOB,
    JSON_OUT,
    MANIFEST,
    PROGRESS,
    RPC,
    active_accounts,
    connect,
    emit,
    progress_to_stderr,
    show,
    signer,
)
from mpcc.cli.views import job_list_view, job_result_view, job_status_view, peer_status_view, plan_view
from mpcc.peer.config import PeerConfig
from mpcc.progress import log_through
from onchain import keystore
from onchain.errors import ConfigError

peer_app = typer.Typer(help="A member's peer daemon (run) and what it holds and does (status).",
                       no_args_is_help=True)
preprocess_app = typer.Typer(help="The preprocessing service (serve) and checks of its deliveries.",
                             no_args_is_help=True)
job_app = typer.Typer(help="Plan, propose, accept and follow jobs; read their results.", no_args_is_help=True)

CONFIG = typer.Option(..., "--config", help="The peer's ORG.toml (no secrets in it).")
LOG_FILE = typer.Option(None, "--log", help="Append the log to this file instead of stderr.")
SPEC = typer.Option(None, "--spec", help="A job spec: a JSON file with the fields of a JobSpec "
                                         "(see examples/specs/); participants may be left out.")
ANALYSIS = typer.Option(None, "--analysis", help="Without --spec: count | sum | mean of --column.")
COLUMN = typer.Option(None, "--column", help="Without --spec: the column the analysis reads.")
DATASET = typer.Option(None, "--dataset", help="The dataset each participant reads the columns from "
                                               "(its \\[datasets.NAME]; default: its \\[data]).")
PARTICIPANTS = typer.Option(None, "--participants", help="addr,addr,... in party order "
                                                         "(default: the spec's, else every active member).")
WAIT_S = typer.Option(3600.0, "--timeout", min=0.0, help="With --wait: give up (exit 1) after this many seconds.")


@peer_app.command("run")
def peer_run(config: Path = CONFIG, log_file: Path | None = LOG_FILE,
             verbose: bool = typer.Option(False, "--verbose", help="Log debug messages too."),
             progress: bool | None = PROGRESS) -> None:
    """Run the peer daemon until stopped: take batches through the sacrifice, accept and run jobs."""
    commands.setup_logging(log_file, verbose)
    with progress_to_stderr(progress) as report:
        if log_file is None:
            log_through(report, verbose)
        commands.peer_run(config, report)


@peer_app.command("status")
def peer_status(config: Path = CONFIG, as_json: bool = JSON_OUT) -> None:
    """Show this member's jobs (from the chain), its tuple stock per kind and its connections."""
    status = commands.peer_status(config)
    show(as_json, status, peer_status_view(status))


@preprocess_app.command("serve")
def preprocess_serve(
    rpc: str = RPC, manifest: Path = MANIFEST,
    keystore_path: Path | None = typer.Option(None, "--keystore", help="The service's encrypted keystore."),
    test_account_index: int | None = typer.Option(None, "--test-account-index", min=0,
                                                     help="Use a local test chain's account N (local chains)."),
    listen: str = typer.Option("127.0.0.1:9700", "--listen", help="host:port to serve deliveries on."),
    stock: str = typer.Option("input_mask=16,triple=256", "--stock",
                              help="Levels to keep: KIND=N,... (input_mask: N per member; trunc:F:BITS=N)."),
    stock_for: list[Path] = typer.Option([], "--stock-for", help="Also keep enough for one job of this spec "
                                         "file, or of each spec in this folder (repeatable; see `mpcc job plan`)."),
    poll_s: float = typer.Option(1.0, "--poll-s", min=0.05, help="Seconds between stock checks."),
    state: Path = typer.Option(Path(".mpcc/dealer-state.json"), "--state",
                               help="The MAC key dealt to the members, kept (mode 0600) so a restart deals "
                                    "under the same key; made on first start."),
    log_file: Path | None = LOG_FILE, progress: bool | None = PROGRESS,
) -> None:
    """Run the preprocessing service: deal, seal with HPKE, commit on chain, serve over TLS."""
    if keystore_path is None and test_account_index is None:
        raise ConfigError("say who signs: --keystore FILE or --test-account-index N (local chains)")
    commands.setup_logging(log_file, False)
    signer = keystore.load(keystore_path, keystore.passphrase(f"passphrase for {keystore_path}: ")) \
        if keystore_path else None
    with progress_to_stderr(progress) as report:
        if log_file is None:
            log_through(report)
        commands.preprocess_serve(rpc, manifest, signer, test_account_index, listen, stock, stock_for, poll_s,
                                  state, report)


@preprocess_app.command("fetch")
def preprocess_fetch(batch: str = typer.Argument(..., help="Batch id (hex)."), config: Path = CONFIG,
                     out: Path = typer.Option(..., "--out", help="Where to save the delivery."),
                     as_json: bool = JSON_OUT, progress: bool | None = PROGRESS) -> None:
    """Save this member's delivery of a batch, as the service serves it."""
    with progress_to_stderr(progress, as_json) as report:
        done = commands.preprocess_fetch(config, batch, out, report)
    emit(as_json, done, [f"saved party {done['party']}'s delivery of batch {batch} ({done['bytes']} bytes) "
                          f"to {out}"])


@preprocess_app.command("check")
def preprocess_check(delivery: Path = typer.Argument(..., help="A delivery saved by `preprocess fetch`."),
                     config: Path = CONFIG, as_json: bool = JSON_OUT) -> None:
    """Run a delivery through the peer's checks (chain commitment, hash, HPKE); exit 1 if refused."""
    done = commands.preprocess_check(config, delivery)
    emit(as_json, done, [f"batch {done['batch']}: checks passed; {done['tuples']} {done['key']} tuples"])


@job_app.command("plan")
def job_plan(spec: Path | None = SPEC, analysis: str | None = ANALYSIS, column: str | None = COLUMN,
             dataset: str | None = DATASET, participants: str | None = PARTICIPANTS, rpc: str = RPC,
             manifest: Path = MANIFEST,
             as_json: bool = JSON_OUT) -> None:
    """Check a spec and show what a job of it reads, reveals and consumes; sends nothing.

    Reads the chain only when the participants are not named (every active member).
    Prints the --stock that lets `mpcc preprocess serve` feed one such job.
    """

    fields = commands.spec_fields(spec, analysis, column, participants, None, dataset)
    plan = commands.job_plan(commands.complete_spec(fields, active_accounts(rpc, manifest), str(spec or "options")))
    show(as_json, plan, plan_view(plan))


@job_app.command("propose")
def job_propose(
    home: Path = HOME, rpc: str = RPC, manifest: Path = MANIFEST,
    service: str | None = typer.Option(None, "--service", help="host:port of a preprocessing service whose "
                                       "catalogue lists the batches; by default the proposer's tuple cache does."),
    cache: Path | None = typer.Option(None, "--cache", help="The proposer's tuple cache (the `cache` of its peer "
                                      "configuration; default: tuples.sqlite in --home)."),
    spec: Path | None = SPEC, analysis: str | None = ANALYSIS, column: str | None = COLUMN,
    dataset: str | None = DATASET, participants: str | None = PARTICIPANTS,
    title: str | None = typer.Option(None, "--title", help="A title for people (with --spec: replaces "
                                                              "the file's)."),
    accept_s: int = typer.Option(3600, "--accept-s", min=1, help="Seconds to accept."),
    commit_s: int = typer.Option(3600, "--commit-s", min=1, help="Then seconds to commit inputs."),
    result_s: int = typer.Option(3600, "--result-s", min=1, help="Then seconds to post results."),
    as_json: bool = JSON_OUT,
) -> None:
    """Propose a job and reserve its tuples in one transaction (the proposer must take part).

    The spec is checked before anything is sent (exit 2 naming the field); the
    tuples reserved are exactly what the analysis consumes, from batches every
    participant attested.
    """

    fields = commands.spec_fields(spec, analysis, column, participants, title, dataset)
    dep = connect(rpc, manifest)
    job_spec = commands.complete_spec(fields, active_accounts(rpc, manifest), str(spec or "options"))
    org = orgs.load(home, keystore.passphrase())
    done = commands.job_propose(dep, org, service, job_spec, accept_s, commit_s, result_s, cache)
    emit(as_json, done, [f"job {done['job']} proposed: {done['analysis']}"
                          + (f" ({done['title']})" if done["title"] else "")
                          + f" by {len(done['participants'])} participants; reveals {', '.join(done['reveal'])}",
                          f"  {sum(done['needs'].values())} tuples reserved; spec hash {done['spec_hash']}",
                          f"  follow it with: mpcc job status {done['job']} --wait"])


@job_app.command("accept")
def job_accept(job: int = JOB, home: Path = HOME, rpc: str = RPC, manifest: Path = MANIFEST,
               config: Path | None = typer.Option(None, "--config", help="The peer's ORG.toml: also check "
                                                  "that it binds data to every column the job reads."),
               as_json: bool = JSON_OUT) -> None:
    """Accept a job as this organisation (for peers whose accept policy is "manual").

    Refused before any transaction if this member cannot serve the job: not a
    participant, the job no longer proposed, its spec malformed, or (with
    --config) a column the peer binds no data to.
    """
    dep = connect(rpc, manifest)
    peer_config = PeerConfig.load(config) if config is not None else None
    org = orgs.load(home, keystore.passphrase())
    done = commands.job_accept(dep, org, job, peer_config)
    emit(as_json, done, [f"{org.public.name} accepted job {job}; tx {done['tx']}"])


@job_app.command("status")
def job_status(job: int = JOB, rpc: str = RPC, manifest: Path = MANIFEST,
               wait: bool = typer.Option(False, "--wait", help="Wait until the job is finalised or aborted."),
               timeout: float = WAIT_S, progress: bool | None = PROGRESS, as_json: bool = JSON_OUT) -> None:
    """A job's state, spec, participants' steps and deadlines."""
    dep = connect(rpc, manifest)
    with progress_to_stderr(progress if wait else False, as_json) as report:
        status = commands.job_wait(dep, job, timeout, report) if wait else records.job_status(dep, job)
    show(as_json, status, job_status_view(status))


@job_app.command("list")
def job_list(rpc: str = RPC, manifest: Path = MANIFEST, as_json: bool = JSON_OUT) -> None:
    """Every job on chain with its analysis, title and state."""
    jobs = records.job_list(connect(rpc, manifest))
    show(as_json, jobs, [job_list_view(jobs)])


@job_app.command("result")
def job_result(job: int = JOB, rpc: str = RPC, manifest: Path = MANIFEST,
               wait: bool = typer.Option(False, "--wait", help="Wait for the job to close first."),
               timeout: float = WAIT_S, progress: bool | None = PROGRESS, as_json: bool = JSON_OUT) -> None:
    """The finalised result of a job: exactly what its spec reveals (exit 2 if it has none)."""
    dep = connect(rpc, manifest)
    if wait:
        with progress_to_stderr(progress, as_json) as report:
            commands.job_wait(dep, job, timeout, report)
    done = records.job_result(dep, job)
    show(as_json, done, [job_result_view(done)])


@job_app.command("expire")
def job_expire(job: int = JOB, rpc: str = RPC, manifest: Path = MANIFEST,
               home: Path | None = typer.Option(None, "--home", help="Sign as this organisation."),
               test_account: bool = typer.Option(False, "--test-account", help="Sign with the local test key."),
               as_json: bool = JSON_OUT) -> None:
    """Abort a job whose current deadline has passed (anyone may)."""
    if home is None and not test_account:
        raise ConfigError("say who signs: --home DIR (an organisation's keys) or --test-account (local chains)")
    dep = connect(rpc, manifest)
    sender = orgs.load(home, keystore.passphrase()).account if home else signer(dep.chain, None, test_account)
    done = commands.job_expire(dep, sender, job)
    emit(as_json, done, [f"job {job} expired; tx {done['tx']}"])
