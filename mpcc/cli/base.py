"""What every ``mpcc`` command shares: the common options, the chain connection and the output.

Output goes to stdout as readable lines and tables, or with ``--json`` as one
JSON object; errors and progress go to stderr (mpcc.progress).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from eth_account.signers.local import LocalAccount
from rich.console import Console, RenderableType

from mpcc import orgs
from mpcc.progress import Reporter, reporter
from onchain import keystore
from onchain.chain import LOCAL_CHAIN_IDS, RPC_PATIENCE_S, Chain
from onchain.deploy import Deployment
from onchain.errors import ConfigError
from onchain.manifest import DEFAULT_PATH, Manifest

# Piped or redirected output is not cut to 80 columns: tables keep whole addresses and hashes.
console = Console(width=None if sys.stdout.isatty() else 200)
err_console = Console(stderr=True, soft_wrap=True)

RPC = typer.Option("http://127.0.0.1:8545", "--rpc", envvar="MPCC_RPC",
                   help="JSON-RPC URL of the chain (a local node or a public testnet).")
MANIFEST = typer.Option(DEFAULT_PATH, "--manifest", envvar="MPCC_MANIFEST", help="Deployment manifest.")
HOME = typer.Option(..., "--home", help="The organisation's folder (made by `mpcc org init`).")
JSON_OUT = typer.Option(False, "--json", help="Print one JSON object instead of tables.")
PROGRESS = typer.Option(None, "--progress/--no-progress",
                        help="Show progress on stderr (default: when stderr is a terminal and --json is not given).")
JOB = typer.Argument(..., min=1, help="The job's number (from `mpcc job propose` or `mpcc job list`).")


def emit(as_json: bool, data: dict[str, Any], lines: list[str]) -> None:
    """One JSON object on stdout, or the lines, as they are (brackets in names and labels are text, not markup)."""
    if as_json:
        print(json.dumps(data, default=str))
    else:
        for line in lines:
            console.print(line, highlight=False, markup=False, soft_wrap=True)


def show(as_json: bool, data: Any, views: list[RenderableType]) -> None:
    """One JSON object on stdout, or the readable views (plain strings: no markup, no wrapping)."""
    if as_json:
        print(json.dumps(data, default=str))
    else:
        for view in views:
            console.print(view, highlight=False, markup=False, soft_wrap=isinstance(view, str))


def connect(rpc: str, manifest_path: Path, patience_s: float = RPC_PATIENCE_S) -> Deployment:
    """The deployment of the manifest, on the chain at ``rpc`` (refused if its chain id differs).

    Once connected, an outage of the node is waited out for ``patience_s`` seconds.
    """
    manifest = Manifest.load(manifest_path)
    return Deployment.attach(Chain.connect(rpc, manifest.chain_id, patience_s), manifest)


def active_accounts(rpc: str, manifest: Path) -> Callable[[], list[str]]:
    """Every active member's account, read from the chain only when asked for."""
    return lambda: [m.account for m in connect(rpc, manifest).registry.active_members()]


def account_of(text: str) -> str:
    """An account given as an address, or as an organisation's public.json or folder."""
    if text.startswith("0x") or not Path(text).exists():
        return orgs.check_address(text)
    path = Path(text) / orgs.PUBLIC_FILE if Path(text).is_dir() else Path(text)
    return orgs.check_address(orgs.PublicEntry.load(path).account)


def signer(chain: Chain, keystore_path: Path | None, test_account: bool) -> LocalAccount:
    """The account that signs: an encrypted keystore, or a local test chain's test key."""
    if keystore_path is not None:
        return keystore.load(keystore_path, keystore.passphrase(f"passphrase for {keystore_path}: "))
    if test_account:
        if chain.chain_id not in LOCAL_CHAIN_IDS:
            raise ConfigError(f"--test-account works on local test chains only, not chain {chain.chain_id}")
        return chain.test_account(0)
    raise ConfigError("say who signs: --keystore FILE (an encrypted account) or --test-account (local chains)")


@contextmanager
def progress_to_stderr(requested: bool | None, as_json: bool = False) -> Iterator[Reporter]:
    """The progress reporter for ``--progress/--no-progress``, closed on the way out."""
    progress = reporter(requested, as_json)
    try:
        yield progress
    finally:
        progress.close()
