"""The demo: a three-organisation consortium on the in-process chain.

Deploy, the first organisation is bootstrapped, the other two ask to join and
are admitted by the members' votes, and the member list is printed with the
transactions and the gas they used.
"""

from __future__ import annotations

import json
import secrets
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from onchain import orgs
from onchain.chain import Chain
from onchain.consortium import admit, bootstrap_members, fund_from_test_account
from onchain.deploy import deploy

ORGS = (("Party A", "127.0.0.1:9701"), ("Party B", "127.0.0.1:9702"), ("Party C", "127.0.0.1:9703"))
QUORUM = 2


def run_demo(console: Console, as_json: bool = False) -> dict[str, object]:
    """Run the demo; returns (and prints) its report."""
    chain = Chain.in_memory()
    operator = chain.test_account(0)
    secret = secrets.token_urlsafe(16).encode()
    with tempfile.TemporaryDirectory(prefix="mpcc-demo-") as tmp:
        members = [_make_org(Path(tmp) / f"org{i}", name, endpoint, secret)
                   for i, (name, endpoint) in enumerate(ORGS)]
        for org in members:
            fund_from_test_account(chain, org.account.address)
        dep = deploy(chain, operator, QUORUM)
        service = chain.test_account(1)
        bootstrap_members(dep, operator, [members[0].public], service.address, seal=True)
        for i in range(1, len(members)):
            admit(dep, members[i], members[:i])
        registry = dep.registry.members()
    report = {
        "chain_id": chain.chain_id,
        "contracts": {n: c.address for n, c in dep.manifest.contracts.items()},
        "members": [{"name": m.name, "account": m.account, "status": m.status.name.lower()} for m in registry],
        "transactions": [{"what": s.label, "tx": s.tx_hash, "gas": s.gas_used} for s in chain.log],
        "gas_total": sum(s.gas_used for s in chain.log),
    }
    if as_json:
        print(json.dumps(report))
    else:
        _print(console, report, registry)
    return report


def _make_org(home: Path, name: str, endpoint: str, secret: bytes) -> orgs.Org:
    orgs.init(home, name, endpoint, secret)
    return orgs.load(home, secret)


def _print(console: Console, report: dict[str, object], registry: list) -> None:  # type: ignore[type-arg]
    from onchain.cli import members_table

    console.rule("mpcc demo: a consortium on the in-process chain")
    for name, address in report["contracts"].items():  # type: ignore[attr-defined]
        console.print(f"  {name:20} {address}")
    console.print(members_table(registry))
    tx_table = Table(title="Transactions")
    for column in ("step", "tx", "gas"):
        tx_table.add_column(column, justify="right" if column == "gas" else "left")
    for tx in report["transactions"]:  # type: ignore[attr-defined]
        tx_table.add_row(tx["what"], tx["tx"][:18] + "...", f"{tx['gas']:,}")
    console.print(tx_table)
    console.print(f"total gas: {report['gas_total']:,}")
