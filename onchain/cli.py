"""The ``mpcc`` command line: deploy, organisations, peers, preprocessing, jobs, audit, the demo.

Exit codes: 0 success; 1 a check or transaction failed (decoded revert shown);
2 bad input or usage; 3 the chain could not be reached or is the wrong chain.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from onchain import keystore, orgs
from onchain.chain import LOCAL_CHAIN_IDS, MEMORY, Chain
from onchain.deploy import Deployment, deploy
from onchain.errors import ChainError, ConfigError, ContractRevert, MpccError, RpcUnreachable
from onchain.manifest import DEFAULT_PATH, Manifest
from onchain.registry import Member, Role

app = typer.Typer(help="mpcc: secure multi-party computation coordinated by an Ethereum chain.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
org_app = typer.Typer(help="An organisation's keys and membership.", no_args_is_help=True)
dev_app = typer.Typer(help="Developer tools (compile the contracts).", no_args_is_help=True)
peer_app = typer.Typer(help="A member's peer daemon and its status.", no_args_is_help=True)
preprocess_app = typer.Typer(help="The preprocessing service and its deliveries.", no_args_is_help=True)
job_app = typer.Typer(help="Propose, accept and follow jobs.", no_args_is_help=True)
app.add_typer(org_app, name="org")
app.add_typer(peer_app, name="peer")
app.add_typer(preprocess_app, name="preprocess")
app.add_typer(job_app, name="job")
app.add_typer(dev_app, name="dev")
console = Console()
err_console = Console(stderr=True, soft_wrap=True)

RPC = typer.Option("http://127.0.0.1:8545", "--rpc", envvar="MPCC_RPC",
                   help="JSON-RPC URL of the chain (a local node or a public testnet).")
MANIFEST = typer.Option(DEFAULT_PATH, "--manifest", envvar="MPCC_MANIFEST", help="Deployment manifest.")
HOME = typer.Option(..., "--home", help="The organisation's folder (made by `mpcc org init`).")
JSON_OUT = typer.Option(False, "--json", help="Print one JSON object instead of tables.")


def main() -> None:
    """Entry point: run the app, mapping project errors to clear messages and exit codes."""
    try:
        app(standalone_mode=False)
    except MpccError as err:
        err_console.print(f"[bold red]error:[/] {escape(str(err))}", highlight=False)
        sys.exit(_exit_code(err))
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except typer.Abort:
        sys.exit(130)
    except typer.TyperException as err:  # usage errors: the message says what was wrong
        show = getattr(err, "show", None)
        if callable(show):
            show()
        else:
            err_console.print(f"error: {err}", highlight=False)
        sys.exit(2)


def _exit_code(err: MpccError) -> int:
    if isinstance(err, (RpcUnreachable,)) or (isinstance(err, ChainError) and isinstance(err, ValueError)):
        return 3
    if isinstance(err, ConfigError):
        return 2
    return 1


def _emit(as_json: bool, data: dict[str, Any], lines: list[str]) -> None:
    if as_json:
        print(json.dumps(data, default=str))
    else:
        for line in lines:
            console.print(line, highlight=False)


def _connect(rpc: str, manifest_path: Path) -> Deployment:
    manifest = Manifest.load(manifest_path)
    return Deployment.attach(Chain.connect(rpc, manifest.chain_id), manifest)


def _signer(chain: Chain, keystore_path: Optional[Path], test_account: bool):  # type: ignore[no-untyped-def]
    if keystore_path is not None:
        return keystore.load(keystore_path, keystore.passphrase(f"passphrase for {keystore_path}: "))
    if test_account:
        if chain.chain_id not in LOCAL_CHAIN_IDS:
            raise ConfigError(f"--test-account works on local test chains only, not chain {chain.chain_id}")
        return chain.test_account(0)
    raise ConfigError("say who signs: --keystore FILE (an encrypted account) or --test-account (local chains)")


@app.command("deploy")
def deploy_cmd(
    rpc: str = RPC, manifest: Path = MANIFEST,
    keystore_path: Optional[Path] = typer.Option(None, "--keystore", help="Deployer's encrypted keystore."),
    test_account: bool = typer.Option(False, "--test-account", help="Use the local chain's well-known test key."),
    quorum: int = typer.Option(2, "--quorum", min=1, help="Approvals needed to admit, suspend or grant a role."),
    bootstrap: list[Path] = typer.Option([], "--bootstrap", help="public.json of a founding member (repeatable)."),
    preprocessor: Optional[str] = typer.Option(None, "--preprocessor", help="Address of the preprocessing service."),
    seal: bool = typer.Option(True, "--seal/--no-seal", help="Seal the bootstrap after adding founding members."),
    force: bool = typer.Option(False, "--force", help="Replace an existing manifest."),
    as_json: bool = JSON_OUT,
) -> None:
    """Deploy OrgRegistry, PreprocessingLedger and JobManager and write the manifest."""
    if rpc == MEMORY:
        raise ConfigError("the in-process chain lives only inside one process: use `mpcc demo`, "
                          "or --rpc with a node's URL (e.g. `npx hardhat node`)")
    if manifest.exists() and not force:
        Manifest.load(manifest).save(manifest)  # raises the clear "exists already" error
    founders = [orgs.PublicEntry.load(p) for p in bootstrap]
    pre = orgs.check_address(preprocessor) if preprocessor else None
    chain = Chain.connect(rpc)
    sender = _signer(chain, keystore_path, test_account)
    dep = deploy(chain, sender, quorum)
    dep.manifest.save(manifest, force=force)
    from onchain.consortium import bootstrap_members

    bootstrap_members(dep, sender, founders, pre, seal=seal and bool(founders))
    data = {"manifest": str(manifest), "chain_id": chain.chain_id, **{
        n: c.address for n, c in dep.manifest.contracts.items()}, "gas_used": sum(s.gas_used for s in chain.log)}
    _emit(as_json, data, [f"deployed to chain {chain.chain_id}; manifest {manifest}"] +
          [f"  {n:20} {c.address}" for n, c in dep.manifest.contracts.items()])


@org_app.command("init")
def org_init(home: Path = HOME, name: str = typer.Option(..., "--name"),
             endpoint: str = typer.Option(..., "--endpoint", help="host:port where this peer listens."),
             as_json: bool = JSON_OUT) -> None:
    """Create the organisation's keys: Ethereum keystore, TLS certificate, HPKE key pair."""
    entry = orgs.init(home, name, endpoint, keystore.passphrase("new passphrase for the keys: "))
    _emit(as_json, entry.model_dump(), [f"created {home}", f"  account     {entry.account}",
                                        f"  fingerprint {entry.tls_fingerprint}",
                                        f"  give {home / orgs.PUBLIC_FILE} to the consortium"])


@org_app.command("show")
def org_show(home: Path = HOME, as_json: bool = JSON_OUT) -> None:
    """Show what the organisation publishes (no secrets)."""
    entry = orgs.PublicEntry.load(home / orgs.PUBLIC_FILE)
    _emit(as_json, entry.model_dump(), [f"{k:16} {v if k != 'hpke_public_key' else v[:18] + '...'}"
                                        for k, v in entry.model_dump().items()])


@org_app.command("join")
def org_join(home: Path = HOME, rpc: str = RPC, manifest: Path = MANIFEST,
             fund: bool = typer.Option(False, "--fund-from-test-account",
                                       help="On a local test chain, pay the gas from its test account."),
             as_json: bool = JSON_OUT) -> None:
    """Ask to join the consortium; members then approve with `mpcc org approve`."""
    dep = _connect(rpc, manifest)
    org = orgs.load(home, keystore.passphrase())
    from onchain.consortium import fund_from_test_account, request_join

    if fund:
        fund_from_test_account(dep.chain, org.account.address)
    receipt = request_join(dep, org)
    _emit(as_json, {"account": org.account.address, "tx": receipt.tx_hash},
          [f"{org.public.name} asked to join ({org.account.address}); tx {receipt.tx_hash}",
           f"  approvals needed: {dep.registry.required_approvals()}"])


@org_app.command("approve")
def org_approve(applicant: str = typer.Argument(..., help="Address of the applicant."),
                home: Path = HOME, rpc: str = RPC, manifest: Path = MANIFEST, as_json: bool = JSON_OUT) -> None:
    """Approve a pending applicant as this (active) organisation."""
    applicant = orgs.check_address(applicant)
    dep = _connect(rpc, manifest)
    org = orgs.load(home, keystore.passphrase())
    receipt = dep.registry.approve_join(org.account, applicant)
    admitted = bool(receipt.named("MemberAdmitted"))
    _emit(as_json, {"applicant": applicant, "admitted": admitted, "tx": receipt.tx_hash},
          [f"approved {applicant}" + (" - admitted" if admitted else
                                      f" - {dep.registry.approvals_of(applicant)} approvals so far")])


@org_app.command("rotate")
def org_rotate(home: Path = HOME, rpc: str = RPC, manifest: Path = MANIFEST,
               endpoint: Optional[str] = typer.Option(None, "--endpoint", help="New host:port (default: keep)."),
               as_json: bool = JSON_OUT) -> None:
    """Publish this organisation's current TLS fingerprint, HPKE key and endpoint."""
    org = orgs.load(home, keystore.passphrase())
    new_endpoint = orgs.check_endpoint(endpoint) if endpoint else org.public.endpoint
    dep = _connect(rpc, manifest)
    receipt = dep.registry.rotate_keys(org.account, new_endpoint, org.identity.tls_fingerprint,
                                       org.identity.hpke_public)
    _emit(as_json, {"account": org.account.address, "endpoint": new_endpoint, "tx": receipt.tx_hash},
          [f"{org.public.name}: keys and endpoint {new_endpoint} published; tx {receipt.tx_hash}"])


@org_app.command("vote")
def org_vote(
    action: str = typer.Argument(..., help="suspend | reinstate | grant-auditor | grant-preprocessor | "
                                           "revoke-auditor | revoke-preprocessor"),
    target: str = typer.Argument(..., help="Address of the member or account concerned."),
    home: Path = HOME, rpc: str = RPC, manifest: Path = MANIFEST, as_json: bool = JSON_OUT,
) -> None:
    """Vote, as an active member, to suspend or reinstate a member or to grant or revoke a role."""
    if action not in _VOTES:
        raise ConfigError(f"unknown vote {action!r}; choose one of: {', '.join(_VOTES)}")
    target = orgs.check_address(target)
    dep = _connect(rpc, manifest)
    org = orgs.load(home, keystore.passphrase())
    receipt = _VOTES[action](dep, org.account, target)
    done = [e.event_name for e in receipt.events if not e.event_name.endswith("Voted")]
    _emit(as_json, {"action": action, "target": target, "tx": receipt.tx_hash, "effects": done},
          [f"voted {action} {target}" + (f" - {', '.join(done)}" if done else " - quorum not reached yet")])


_VOTES = {
    "suspend": lambda dep, who, target: dep.registry.vote_suspend(who, target),
    "reinstate": lambda dep, who, target: dep.registry.vote_reinstate(who, target),
    "grant-auditor": lambda dep, who, target: dep.registry.vote_grant_role(who, Role.AUDITOR, target),
    "grant-preprocessor": lambda dep, who, target: dep.registry.vote_grant_role(who, Role.PREPROCESSOR, target),
    "revoke-auditor": lambda dep, who, target: dep.registry.vote_revoke_role(who, Role.AUDITOR, target),
    "revoke-preprocessor": lambda dep, who, target: dep.registry.vote_revoke_role(who, Role.PREPROCESSOR, target),
}


@org_app.command("members")
def org_members(rpc: str = RPC, manifest: Path = MANIFEST, as_json: bool = JSON_OUT) -> None:
    """List the registry's members and their status."""
    dep = _connect(rpc, manifest)
    members = dep.registry.members()
    if as_json:
        print(json.dumps([_member_json(m) for m in members]))
        return
    console.print(members_table(members))


def members_table(members: list[Member]) -> Table:
    table = Table(title="Consortium members")
    for column in ("name", "account", "endpoint", "TLS fingerprint", "status"):
        table.add_column(column)
    for m in members:
        table.add_row(m.name, m.account, m.endpoint, m.tls_fingerprint.hex()[:16] + "...", m.status.name.lower())
    return table


def _member_json(m: Member) -> dict[str, Any]:
    return {"name": m.name, "account": m.account, "endpoint": m.endpoint,
            "tls_fingerprint": "0x" + m.tls_fingerprint.hex(), "status": m.status.name.lower()}


@dev_app.command("compile")
def dev_compile() -> None:
    """Compile contracts/ into onchain/artifacts/ (commit the result)."""
    from onchain import compiler

    compiler.main([])


@dev_app.command("fund")
def dev_fund(address: str = typer.Argument(..., help="Account to fund."), rpc: str = RPC,
             eth: float = typer.Option(1.0, "--eth", min=0.0, help="How much test ether to send.")) -> None:
    """Send test ether from a local test chain's well-known account (local chains only)."""
    from onchain.consortium import fund_from_test_account

    address = orgs.check_address(address)
    chain = Chain.connect(rpc)
    fund_from_test_account(chain, address, int(eth * 10**18))
    console.print(f"funded {address} with {eth} test ETH on chain {chain.chain_id}")


# Peers, preprocessing and jobs (the work is in offchain.peer.commands) -----------------------

CONFIG = typer.Option(..., "--config", help="The peer's ORG.toml (no secrets in it).")
LOG_FILE = typer.Option(None, "--log", help="Append the log to this file instead of stderr.")


@peer_app.command("run")
def peer_run(config: Path = CONFIG, log_file: Optional[Path] = LOG_FILE,
             verbose: bool = typer.Option(False, "--verbose", help="Log debug messages too.")) -> None:
    """Run the peer daemon: take batches through the sacrifice, accept and run jobs, until stopped."""
    from offchain.peer import commands

    commands.setup_logging(log_file, verbose)
    commands.peer_run(config)


@peer_app.command("status")
def peer_status(config: Path = CONFIG, as_json: bool = JSON_OUT) -> None:
    """Show this member's jobs (from the chain), its tuple stock per kind and its connections."""
    from offchain.peer import commands

    status = commands.peer_status(config)
    daemon = status["daemon"]
    lines = [f"{status['name']} ({status['account']}): daemon "
             + (f"running, pid {daemon['pid']}, party {daemon['party']}, listening on {daemon['listen']}"
                if daemon["running"] else "not running"),
             "tuple stock: " + (", ".join(f"{k} {n}" for k, n in status["stock"].items()) or "none"),
             "connections: " + (", ".join(f"{k} with {', '.join(v['parties'])}"
                                          for k, v in status["connections"].items()) or "none")]
    lines += [f"job {j['job']}: {j['analysis']} of {j['column']}, {j['state']}"
              + (f" ({j['abort_reason']})" if j["state"] == "aborted" else "")
              + (f"; here: {j['local']}" if j["local"] else "") for j in status["jobs"]]
    _emit(as_json, status, [escape(line) for line in lines])


@preprocess_app.command("serve")
def preprocess_serve(
    rpc: str = RPC, manifest: Path = MANIFEST,
    keystore_path: Optional[Path] = typer.Option(None, "--keystore", help="The service's encrypted keystore."),
    test_account_index: Optional[int] = typer.Option(None, "--test-account-index", min=0,
                                                     help="Use a local test chain's account N (local chains)."),
    listen: str = typer.Option("127.0.0.1:9700", "--listen", help="host:port to serve deliveries on."),
    stock: str = typer.Option("input_mask=16,triple=256", "--stock",
                              help="Levels to keep: KIND=N,... (input_mask: N per member; trunc:F:BITS=N)."),
    poll_s: float = typer.Option(1.0, "--poll-s", min=0.05, help="Seconds between stock checks."),
    log_file: Optional[Path] = LOG_FILE,
) -> None:
    """Run the preprocessing service: deal, seal with HPKE, commit on chain, serve over TLS."""
    from offchain.peer import commands

    if keystore_path is None and test_account_index is None:
        raise ConfigError("say who signs: --keystore FILE or --test-account-index N (local chains)")
    commands.setup_logging(log_file, False)
    signer = keystore.load(keystore_path, keystore.passphrase(f"passphrase for {keystore_path}: ")) \
        if keystore_path else None
    commands.preprocess_serve(rpc, manifest, signer, test_account_index, listen, stock, poll_s)


@preprocess_app.command("fetch")
def preprocess_fetch(batch: str = typer.Argument(..., help="Batch id (hex)."), config: Path = CONFIG,
                     out: Path = typer.Option(..., "--out", help="Where to save the delivery."),
                     as_json: bool = JSON_OUT) -> None:
    """Save this member's delivery of a batch, as the service serves it."""
    from offchain.peer import commands

    done = commands.preprocess_fetch(config, batch, out)
    _emit(as_json, done, [f"saved party {done['party']}'s delivery of batch {batch} ({done['bytes']} bytes) "
                          f"to {out}"])


@preprocess_app.command("check")
def preprocess_check(delivery: Path = typer.Argument(..., help="A delivery saved by `preprocess fetch`."),
                     config: Path = CONFIG, as_json: bool = JSON_OUT) -> None:
    """Run a delivery through the peer's checks (chain commitment, hash, HPKE); exit 1 if refused."""
    from offchain.peer import commands

    done = commands.preprocess_check(config, delivery)
    _emit(as_json, done, [f"batch {done['batch']}: checks passed; {done['tuples']} {done['key']} tuples"])


@job_app.command("propose")
def job_propose(
    home: Path = HOME, rpc: str = RPC, manifest: Path = MANIFEST,
    service: str = typer.Option("127.0.0.1:9700", "--service", help="host:port of the preprocessing service."),
    spec: Optional[Path] = typer.Option(None, "--spec", help="A job spec (JSON)."),
    analysis: Optional[str] = typer.Option(None, "--analysis", help="count | sum | mean"),
    column: Optional[str] = typer.Option(None, "--column"),
    participants: Optional[str] = typer.Option(None, "--participants",
                                               help="addr,addr,... in party order (default: every active member)."),
    title: str = typer.Option("", "--title"),
    accept_s: int = typer.Option(3600, "--accept-s", min=1, help="Seconds to accept."),
    commit_s: int = typer.Option(3600, "--commit-s", min=1, help="Then seconds to commit inputs."),
    result_s: int = typer.Option(3600, "--result-s", min=1, help="Then seconds to post results."),
    as_json: bool = JSON_OUT,
) -> None:
    """Propose a job and reserve its tuples (planned from the service's catalogue) in one transaction."""
    from offchain.peer import commands

    dep = _connect(rpc, manifest)
    job_spec = commands.make_spec(dep, spec, analysis, column, participants, title)
    org = orgs.load(home, keystore.passphrase())
    done = commands.job_propose(dep, org, service, job_spec, accept_s, commit_s, result_s)
    _emit(as_json, done, [f"job {done['job']} proposed and its tuples reserved"])


@job_app.command("accept")
def job_accept(job: int = typer.Argument(..., min=1), home: Path = HOME, rpc: str = RPC, manifest: Path = MANIFEST,
               as_json: bool = JSON_OUT) -> None:
    """Accept a job as this organisation (for peers whose accept policy is "manual")."""
    dep = _connect(rpc, manifest)
    org = orgs.load(home, keystore.passphrase())
    receipt = dep.jobs.accept(org.account, job)
    _emit(as_json, {"job": job, "account": org.account.address, "tx": receipt.tx_hash},
          [f"{org.public.name} accepted job {job}; tx {receipt.tx_hash}"])


@job_app.command("expire")
def job_expire(job: int = typer.Argument(..., min=1), rpc: str = RPC, manifest: Path = MANIFEST,
               home: Optional[Path] = typer.Option(None, "--home", help="Sign as this organisation."),
               test_account: bool = typer.Option(False, "--test-account", help="Sign with the local test key."),
               as_json: bool = JSON_OUT) -> None:
    """Abort a job whose current deadline has passed (anyone may)."""
    dep = _connect(rpc, manifest)
    sender = orgs.load(home, keystore.passphrase()).account if home else _signer(dep.chain, None, test_account)
    receipt = dep.jobs.expire(sender, job)
    _emit(as_json, {"job": job, "tx": receipt.tx_hash}, [f"job {job} expired; tx {receipt.tx_hash}"])


@job_app.command("status")
def job_status(job: int = typer.Argument(..., min=1), rpc: str = RPC, manifest: Path = MANIFEST,
               as_json: bool = JSON_OUT) -> None:
    """A job's state, acceptances, commitments, results and deadlines."""
    from offchain.peer import commands

    status = commands.job_status(_connect(rpc, manifest), job)
    _emit(as_json, status, [f"job {job}: {status['state']}"
                            + (f" ({status['abort_reason']})" if status["state"] == "aborted" else ""),
                            f"  accepted {status['accepted']}, committed {status['committed']}, "
                            f"results {status['submitted']} of {len(status['participants'])}"])


@job_app.command("result")
def job_result(job: int = typer.Argument(..., min=1), rpc: str = RPC, manifest: Path = MANIFEST,
               as_json: bool = JSON_OUT) -> None:
    """The finalised result of a job (exit 2 if it has none)."""
    from offchain.peer import commands

    done = commands.job_result(_connect(rpc, manifest), job)
    _emit(as_json, done, [f"job {job}: " + ", ".join(f"{k} = {v}" for k, v in done["result"].items())])


@app.command("audit")
def audit_cmd(job: int = typer.Argument(..., min=1), rpc: str = RPC, manifest: Path = MANIFEST,
              as_json: bool = JSON_OUT) -> None:
    """Verify a job's whole record from chain data alone; exit 1 if any check fails."""
    from onchain.audit import audit_job

    dep = _connect(rpc, manifest)
    try:
        report = audit_job(dep, job)
    except LookupError as err:
        raise ConfigError(str(err)) from err
    _emit(as_json, report.as_dict(), [f"{'passed' if c.passed else 'FAILED'}  {c.name}: {c.detail}"
                                      for c in report.checks]
          + [f"audit of job {job}: {'passed' if report.passed else 'FAILED'}"])
    if not report.passed:
        raise typer.Exit(1)


@app.command("demo")
def demo_cmd(as_json: bool = JSON_OUT) -> None:
    """Run the whole story on the in-process chain and print a short report."""
    from offchain.peer.demo import run_demo

    run_demo(console, as_json=as_json)


__all__ = ["app", "main", "ContractRevert"]
