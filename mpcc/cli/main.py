"""The ``mpcc`` command line: deploy, organisations, peers, preprocessing, jobs, audit, the demo.

Exit codes: 0 success; 1 a check or transaction failed (decoded revert shown);
2 bad input or usage; 3 the chain could not be reached or is the wrong chain.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.console import Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from mpcc import orgs
from mpcc.audit.record import audit_job
from mpcc.cli.base import (
    HOME,
    JOB,
    JSON_OUT,
    MANIFEST,
    RPC,
    account_of,
    connect,
    console,
    emit,
    err_console,
    signer,
)
from mpcc.cli.jobs import job_app, peer_app, preprocess_app
from mpcc.cli.models import model_app
from mpcc.cli.views import gas_text
from mpcc.consortium import bootstrap_members, fund_from_test_account, request_join
from mpcc.explorer.app import serve as serve_explorer
from mpcc.records import member_json
from onchain import compiler, keystore
from onchain.abi.org_registry import MemberAdmitted
from onchain.chain import MEMORY, Chain
from onchain.deploy import deploy
from onchain.errors import ChainError, ConfigError, ContractRevert, MpccError, RpcUnreachable
from onchain.manifest import Manifest
from onchain.registry import Member, Role

HELP = """mpcc: secure multi-party computation coordinated by an Ethereum chain.

Organisations compute statistics and models over their combined data without
pooling it: their peers compute under MPC, and the chain records the members,
the jobs, the preprocessing and the results, so that anyone can audit them.

The life of a consortium, in order (every command has --help):

 1. mpcc org init           each organisation makes its keys (public.json)
 2. mpcc deploy             the operator deploys, bootstrapping founders
 3. mpcc org join           another organisation asks to join, and
 4. mpcc org approve        the members admit it (mpcc org members)
 5. mpcc preprocess serve   the service deals authenticated tuples
 6. mpcc peer run           each member runs its peer (ORG.toml: its data)
 7. mpcc job plan --spec F  what a job reads, reveals and consumes
 8. mpcc job propose        a member proposes it (see examples/specs/)
 9. mpcc job status --wait  follow it, then: mpcc job result JOB
10. mpcc audit JOB          anyone verifies it from chain data alone

A model job (naive Bayes, decision tree, k-means, linear or logistic
regression, linear SVM) then
predicts with `mpcc model predict JOB --data FILE` and exports as JSON with
`mpcc model export JOB`.

mpcc demo runs the whole story at once on an in-process chain.

Set MPCC_RPC, MPCC_MANIFEST and MPCC_PASSPHRASE once per terminal instead of
repeating --rpc, --manifest and the passphrase.

Exit codes: 0 success; 1 a check or transaction failed; 2 bad input or usage;
3 the chain could not be reached or is not the manifest's chain.
"""
app = typer.Typer(help=HELP, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
org_app = typer.Typer(help="An organisation's keys and membership: init, join, approve, members, vote.",
                      no_args_is_help=True)
dev_app = typer.Typer(help="Developer tools: compile the contracts, fund a test account.", no_args_is_help=True)
app.add_typer(org_app, name="org")
app.add_typer(peer_app, name="peer")
app.add_typer(preprocess_app, name="preprocess")
app.add_typer(job_app, name="job")
app.add_typer(model_app, name="model")
app.add_typer(dev_app, name="dev")


def main() -> None:
    """Entry point: run the app, mapping project errors to clear messages and exit codes."""
    try:
        # Without standalone mode click returns the code of a typer.Exit instead of raising it.
        code = app(standalone_mode=False)
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
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


def _exit_code(err: MpccError) -> int:
    if isinstance(err, (RpcUnreachable,)) or (isinstance(err, ChainError) and isinstance(err, ValueError)):
        return 3
    if isinstance(err, ConfigError):
        return 2
    return 1


@app.command("deploy")
def deploy_cmd(
    rpc: str = RPC, manifest: Path = MANIFEST,
    keystore_path: Path | None = typer.Option(None, "--keystore", help="Deployer's encrypted keystore."),
    test_account: bool = typer.Option(False, "--test-account", help="Use the local chain's well-known test key."),
    quorum: int = typer.Option(2, "--quorum", min=1, help="Approvals needed to admit, suspend or grant a role."),
    bootstrap: list[Path] = typer.Option([], "--bootstrap", help="public.json of a founding member (repeatable)."),
    preprocessor: str | None = typer.Option(None, "--preprocessor", help="Address of the preprocessing service."),
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
    sender = signer(chain, keystore_path, test_account)
    dep = deploy(chain, sender, quorum)
    dep.manifest.save(manifest, force=force)

    bootstrap_members(dep, sender, founders, pre, seal=seal and bool(founders))
    data = {"manifest": str(manifest), "chain_id": chain.chain_id, **{
        n: c.address for n, c in dep.manifest.contracts.items()}, "gas_used": sum(s.gas_used for s in chain.log)}
    emit(as_json, data, [f"deployed to chain {chain.chain_id}; manifest {manifest}"] +
          [f"  {n:20} {c.address}" for n, c in dep.manifest.contracts.items()])


@org_app.command("init")
def org_init(home: Path = typer.Option(..., "--home", help="The folder to make the organisation's keys in."),
             name: str = typer.Option(..., "--name", help="The organisation's name, as members will see it."),
             endpoint: str = typer.Option(..., "--endpoint", help="host:port where this peer listens."),
             as_json: bool = JSON_OUT) -> None:
    """Create the organisation's keys: Ethereum keystore, TLS certificate, HPKE key pair."""
    entry = orgs.init(home, name, endpoint, keystore.passphrase("new passphrase for the keys: "))
    emit(as_json, entry.model_dump(), [f"created {home}", f"  account     {entry.account}",
                                        f"  fingerprint {entry.tls_fingerprint}",
                                        f"  give {home / orgs.PUBLIC_FILE} to the consortium"])


@org_app.command("show")
def org_show(home: Path = HOME, as_json: bool = JSON_OUT) -> None:
    """Show what the organisation publishes (no secrets)."""
    entry = orgs.PublicEntry.load(home / orgs.PUBLIC_FILE)
    emit(as_json, entry.model_dump(), [f"{k:16} {v if k != 'hpke_public_key' else v[:18] + '...'}"
                                        for k, v in entry.model_dump().items()])


@org_app.command("join")
def org_join(home: Path = HOME, rpc: str = RPC, manifest: Path = MANIFEST,
             fund: bool = typer.Option(False, "--fund-from-test-account",
                                       help="On a local test chain, pay the gas from its test account."),
             as_json: bool = JSON_OUT) -> None:
    """Ask to join the consortium; members then approve with `mpcc org approve`."""
    dep = connect(rpc, manifest)
    org = orgs.load(home, keystore.passphrase())

    if fund:
        fund_from_test_account(dep.chain, org.account.address)
    receipt = request_join(dep, org)
    emit(as_json, {"account": org.account.address, "tx": receipt.tx_hash},
          [f"{org.public.name} asked to join ({org.account.address}); tx {receipt.tx_hash}",
           f"  approvals needed: {dep.registry.required_approvals()}"])


@org_app.command("approve")
def org_approve(applicant: str = typer.Argument(..., help="The applicant's address, public.json or folder."),
                home: Path = HOME, rpc: str = RPC, manifest: Path = MANIFEST, as_json: bool = JSON_OUT) -> None:
    """Approve a pending applicant as this (active) organisation."""
    applicant = account_of(applicant)
    dep = connect(rpc, manifest)
    org = orgs.load(home, keystore.passphrase())
    receipt = dep.registry.approve_join(org.account, applicant)
    admitted = bool(receipt.named(MemberAdmitted))
    emit(as_json, {"applicant": applicant, "admitted": admitted, "tx": receipt.tx_hash},
          [f"approved {applicant}" + (" - admitted" if admitted else
                                      f" - {dep.registry.approvals_of(applicant)} approvals so far")])


@org_app.command("rotate")
def org_rotate(home: Path = HOME, rpc: str = RPC, manifest: Path = MANIFEST,
               endpoint: str | None = typer.Option(None, "--endpoint", help="New host:port (default: keep)."),
               as_json: bool = JSON_OUT) -> None:
    """Publish this organisation's current TLS fingerprint, HPKE key and endpoint."""
    org = orgs.load(home, keystore.passphrase())
    new_endpoint = orgs.check_endpoint(endpoint) if endpoint else org.public.endpoint
    dep = connect(rpc, manifest)
    receipt = dep.registry.rotate_keys(org.account, new_endpoint, org.identity.tls_fingerprint,
                                       org.identity.hpke_public)
    emit(as_json, {"account": org.account.address, "endpoint": new_endpoint, "tx": receipt.tx_hash},
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
    dep = connect(rpc, manifest)
    org = orgs.load(home, keystore.passphrase())
    receipt = _VOTES[action](dep, org.account, target)
    done = [e.event_name for e in receipt.events if not e.event_name.endswith("Voted")]
    emit(as_json, {"action": action, "target": target, "tx": receipt.tx_hash, "effects": done},
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
    dep = connect(rpc, manifest)
    members = dep.registry.members()
    if as_json:
        print(json.dumps([member_json(m) for m in members]))
        return
    console.print(members_table(members))


def members_table(members: list[Member]) -> Group:
    table = Table()
    for column in ("party", "name", "account", "endpoint", "TLS fingerprint", "status"):
        table.add_column(column, overflow="fold", no_wrap=column in ("party", "status"))
    party = 0
    for m in members:
        active = m.active
        table.add_row(str(party) if active else "-", Text(m.name), m.account, Text(m.endpoint),
                      m.tls_fingerprint.hex()[:16] + "...", m.status.name.lower())
        party += active
    return Group(Text("Consortium members", style="bold"), table)


@dev_app.command("compile")
def dev_compile() -> None:
    """Compile contracts/ into onchain/artifacts/ (commit the result)."""
    compiler.main([])


@dev_app.command("fund")
def dev_fund(address: str = typer.Argument(..., help="Account to fund: an address, or an organisation's "
                                                     "public.json or folder."), rpc: str = RPC,
             eth: float = typer.Option(1.0, "--eth", min=0.0, help="How much test ether to send."),
             as_json: bool = JSON_OUT) -> None:
    """Send test ether from a local test chain's well-known account (local chains only)."""
    address = account_of(address)
    chain = Chain.connect(rpc)
    fund_from_test_account(chain, address, int(eth * 10**18))
    emit(as_json, {"address": address, "eth": eth, "chain_id": chain.chain_id},
          [f"funded {address} with {eth} test ETH on chain {chain.chain_id}"])


@app.command("audit")
def audit_cmd(job: int = JOB, rpc: str = RPC, manifest: Path = MANIFEST,
              as_json: bool = JSON_OUT) -> None:
    """Verify a job's whole record from chain data alone; exit 1 if any check fails."""
    dep = connect(rpc, manifest)
    try:
        report = audit_job(dep, job)
    except LookupError as err:
        raise ConfigError(str(err)) from err
    emit(as_json, report.as_dict(), [f"{'passed' if c.passed else 'FAILED'}  {c.name}: {c.detail}"
                                      for c in report.checks]
          + [f"gas of job {job}: {gas_text(report.gas)}",
             f"audit of job {job}: {'passed' if report.passed else 'FAILED'}"])
    if not report.passed:
        raise typer.Exit(1)


@app.command("explorer")
def explorer_cmd(rpc: str = RPC, manifest: Path = MANIFEST,
                 host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (loopback by default)."),
                 port: int = typer.Option(8600, "--port", min=1, max=65535, help="Port to listen on."),
                 poll_s: float = typer.Option(1.0, "--poll-s", min=0.2, help="Seconds between reads of the chain's "
                                              "head for live updates (logs are read only on a new block).")) -> None:
    """Serve a read-only web view of the chain's record: consortium, jobs, audits, preprocessing, plots."""
    if rpc == MEMORY:
        raise ConfigError("the in-process chain lives only inside one process: use --rpc with a node's URL")
    dep = connect(rpc, manifest)
    err_console.print(f"mpcc explorer: http://{host}:{port}/ (chain {dep.chain.chain_id}; Ctrl-C stops it)",
                      highlight=False)
    serve_explorer(dep, host, port, poll_s)


@app.command("demo")
def demo_cmd(as_json: bool = JSON_OUT) -> None:
    """Run the whole story on the in-process chain and print a short report; exit 1 if its audit failed."""
    # Imported here, not at the top: the in-process chain (py-evm) costs every other command's
    # start about 0.2 s, and only the demo runs it.
    from mpcc.demo.run import run_demo

    if not run_demo(console, as_json=as_json)["audit_passed"]:
        raise typer.Exit(1)


__all__ = ["ContractRevert", "app", "main"]
