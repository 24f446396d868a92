"""The ``mpcc`` command line: deploy, organisations, and the demo.

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
app.add_typer(org_app, name="org")
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
        err_console.print(f"[bold red]error:[/] {err}", highlight=False)
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


@app.command("demo")
def demo_cmd(as_json: bool = JSON_OUT) -> None:
    """Run the whole story on the in-process chain and print a short report."""
    from offchain.peer.demo import run_demo

    run_demo(console, as_json=as_json)


__all__ = ["app", "main", "ContractRevert"]
