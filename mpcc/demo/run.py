"""The demo: the seed example's "mean income" job, end to end on the in-process chain.

Deploy; three organisations make their keys and join (the first is
bootstrapped, the others admitted by the members' votes); the organisations
make their own tuples, with no dealer (LowGear: each its own BGV keys and MAC
key share, every broadcast ciphertext proven), sacrifice-check them jointly,
commit each batch's transcript hash, attest on chain and store them in their
SQLite caches; the analyst proposes "mean income" and reserves tuples; the peers accept, input,
commit to their input shares, compute under MPC and all post the same result;
the job is finalised and the record is audited from chain data alone. The job
runs in auditable mode: each peer commits to its input shares with Pedersen
commitments on chain, opens its share of the revealed totals, and AuditTrail
verifies them with the BN254 precompiles (offchain.auditable).
"""

from __future__ import annotations

import json
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from mpcc import orgs
from mpcc.audit.record import PUBLIC, audit_job
from mpcc.demo.local import LocalConsortium
from mpcc.peer.member import JobOutcome
from offchain.analytics.spec import JobSpec
from offchain.auditable import routes
from onchain.deploy import Deployment
from onchain.jobs import JobState

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ORGS = (("Party A", "127.0.0.1:9701", "a"), ("Party B", "127.0.0.1:9702", "b"), ("Party C", "127.0.0.1:9703", "c"))
QUORUM = 2


def run_demo(console: Console, as_json: bool = False, workdir: Path | None = None) -> dict[str, Any]:
    """Run the demo in ``workdir`` (a temporary folder by default); print and return the report."""
    started = time.monotonic()
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="mpcc-demo-") as tmp:
            report = _run(console, Path(tmp), as_json)
    else:
        report = _run(console, workdir, as_json)
    report["seconds"] = round(time.monotonic() - started, 1)
    if as_json:
        print(json.dumps(report))
    else:
        _print(console, report)
    return report


def _run(console: Console, workdir: Path, quiet: bool) -> dict[str, Any]:
    def say(msg: str) -> None:
        if not quiet:
            console.print(f"[dim]-[/] {msg}", highlight=False)

    secret = secrets.token_urlsafe(16).encode()
    members = [_make_org(workdir / f"org-{tag}", name, endpoint, secret) for name, endpoint, tag in ORGS]
    data = [{"income": EXAMPLES / f"incomes_party_{tag}.csv"} for _, _, tag in ORGS]
    consortium = LocalConsortium.create(members, data, QUORUM, made_by_members=True)
    dep = consortium.dep
    say(f"deployed the contracts to the in-process chain {dep.chain.chain_id}; "
        "three organisations joined: " + ", ".join(m.public.name for m in members))
    spec = JobSpec(analysis="mean", column="income", participants=tuple(m.account.address for m in members),
                   reveal=("count", "mean"), title="mean income", auditable=True)
    say("the organisations make their own tuples (no dealer): BGV keys checked, MAC key shares proven, "
        "then batches made, sacrifice-checked, committed, attested and cached")
    offers = consortium.supply(routes.needs(spec))
    say(f"{len(offers)} batches made by the members, checked, attested and cached")
    job_id = consortium.propose(spec)
    say(f"job {job_id} proposed: {spec.title}")
    outcomes = consortium.run_job(job_id)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    job = dep.jobs.job(job_id)
    say(f"job {job_id} {job.state.name.lower()}")
    audit_started = time.monotonic()
    audit = audit_job(dep, job_id)
    audit_seconds = round(time.monotonic() - audit_started, 1)
    consortium.close()
    report = _report(dep, spec, job_id, job.state, outcomes, audit)  # type: ignore[arg-type]
    report["audit_seconds"] = audit_seconds
    public = [c for c in audit.checks if c.name.startswith(f"{PUBLIC}: ")]
    report["public_verification"] = {"passed": bool(public) and all(c.passed for c in public),
                                     "steps": [{"step": c.name, "passed": c.passed, "detail": c.detail}
                                               for c in public]}
    return report


def _make_org(home: Path, name: str, endpoint: str, secret: bytes) -> orgs.Org:
    orgs.init(home, name, endpoint, secret)
    return orgs.load(home, secret)


def _report(dep: Deployment, spec: JobSpec, job_id: int, state: JobState,
            outcomes: list[JobOutcome], audit: Any) -> dict[str, Any]:
    log = dep.chain.log
    return {
        "job_id": job_id,
        "analysis": spec.title,
        "state": state.name.lower(),
        "result": outcomes[0].result,
        "results_agree": len({json.dumps(o.result, sort_keys=True) for o in outcomes}) == 1,
        "audit_passed": audit.passed,
        "audit": [{"check": c.name, "passed": c.passed, "detail": c.detail} for c in audit.checks],
        "members": [m.name for m in dep.registry.active_members()],
        "transactions": [{"what": s.label, "tx": s.tx_hash, "gas": s.gas_used} for s in log],
        "gas_total": sum(s.gas_used for s in log),
    }


def _print(console: Console, report: dict[str, Any]) -> None:
    console.rule("mpcc demo: mean income of three organisations, on the in-process chain")
    tx_table = Table(title="Transactions", show_lines=False)
    for column in ("step", "transactions", "gas"):
        tx_table.add_column(column, justify="right" if column != "step" else "left")
    by_step: dict[str, list[int]] = {}
    for tx in report["transactions"]:
        by_step.setdefault(tx["what"], []).append(tx["gas"])
    for step, gases in by_step.items():
        tx_table.add_row(step, str(len(gases)), f"{sum(gases):,}")
    console.print(tx_table)
    audit_table = Table(title=f"Audit of job {report['job_id']} from chain data")
    audit_table.add_column("check")
    audit_table.add_column("result")
    for check in report["audit"]:
        audit_table.add_row(check["check"], "passed" if check["passed"] else f"FAILED: {check['detail']}")
    console.print(audit_table)
    result = report["result"] or {}
    console.print(f"members: {', '.join(report['members'])}")
    console.print(f"job {report['job_id']} ({report['analysis']}): {report['state']}; "
                  f"{len(report['transactions'])} transactions, {report['gas_total']:,} gas")
    console.print(f"[bold]result: mean income = {float(result.get('mean', 'nan')):.2f} "
                  f"over {result.get('count', '?')} rows[/] (all participants posted the same result: "
                  f"{'yes' if report['results_agree'] else 'NO'})")
    public = report["public_verification"]
    console.print(f"on-chain verification of the result: {'passed' if public['passed'] else 'FAILED'} "
                  f"(Pedersen commitments on BN254, checked by the ecAdd/ecMul precompiles)")
    if not public["passed"]:
        for step in public["steps"]:
            if not step["passed"]:
                console.print(f"  {step['step']}: {step['detail']}")
    console.print(f"audit: {'passed' if report['audit_passed'] else 'FAILED'} in {report['audit_seconds']} s "
                  f"(the whole demo took {report['seconds']} s)")
