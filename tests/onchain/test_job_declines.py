"""A job nobody can serve, a malformed spec, and the job commands' messages, as a user runs the CLI
on `npx hardhat node`: a member deviating (a non-JSON spec, a decline) never breaks the others' view."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from mpcc import orgs
from onchain.chain import Chain
from onchain.deploy import Deployment
from onchain.jobs import Deadlines, DeclineReason
from onchain.manifest import Manifest
from onchain_testkit import PASSPHRASE, ROOT

MPCC = str(Path(sys.executable).parent / "mpcc")


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "MPCC_PASSPHRASE": PASSPHRASE.decode(), **env}
    return subprocess.run([MPCC, *args], capture_output=True, text=True, env=full_env, cwd=ROOT, timeout=300)


def test_malformed_and_declined_jobs_as_the_cli_shows_them(hardhat_node: str, org_homes: list[Path],
                                                           tmp_path: Path) -> None:
    manifest = tmp_path / "deployment.json"
    env = {"MPCC_RPC": hardhat_node, "MPCC_MANIFEST": str(manifest)}
    for home in org_homes[:2]:
        assert run("dev", "fund", str(home), env=env).returncode == 0
    deployed = run("deploy", "--test-account", "--bootstrap", str(org_homes[0] / "public.json"),
                   "--bootstrap", str(org_homes[1] / "public.json"), env=env)
    assert deployed.returncode == 0, deployed.stderr
    dep = Deployment.attach(Chain.connect(hardhat_node), Manifest.load(manifest))
    a, b = (orgs.load(home, PASSPHRASE) for home in org_homes[:2])
    both = [a.account.address, b.account.address]
    deadlines = Deadlines.from_now(dep.chain.now())
    # Deviating: a member proposes a spec that is not JSON (the contract takes any string).
    bad, _ = dep.jobs.propose(a.account, "this is {not json", both, deadlines)
    fine, _ = dep.jobs.propose(a.account, json.dumps({"analysis": "mean", "column": "income",
                                                      "reveal": ["count", "mean"], "participants": both}),
                               both, deadlines)
    listed = run("job", "list", env=env)
    assert listed.returncode == 0 and "malformed" in listed.stdout and "mean" in listed.stdout, listed.stderr
    status = run("job", "status", str(bad), env=env)
    assert status.returncode == 0 and "malformed spec" in status.stdout, status.stderr
    refused = run("job", "accept", str(bad), "--home", str(org_homes[1]), env=env)
    assert refused.returncode == 2 and "its spec is malformed" in refused.stderr, refused.stderr
    assert not dep.jobs.has_accepted(bad, b.account.address)
    # job expire: who signs, and a deadline in readable time, before any transaction.
    unsigned = run("job", "expire", str(fine), env=env)
    assert unsigned.returncode == 2 and "--home DIR" in unsigned.stderr and "--keystore" not in unsigned.stderr
    early = run("job", "expire", str(fine), "--test-account", env=env)
    assert early.returncode == 2 and "UTC (in 59 min by the chain's clock)" in early.stderr, early.stderr
    assert "DeadlineNotPassed" not in early.stderr
    # A participant that cannot serve the job declines it with a reason; the status says who and why.
    dep.jobs.decline(b.account, fine, DeclineReason.DATA_MISSING)
    declined = run("job", "status", str(fine), "--json", env=env)
    status = json.loads(declined.stdout)
    assert status["declined"] == [{"account": b.account.address, "name": b.public.name, "reason": "data_missing"}]
    # Its gas: the proposal and the decline, each as the chain's receipt says.
    gas = status["gas"]
    assert list(gas["by_step"]) == ["JobProposed", "JobDeclined"] and gas["transactions"] == 2
    assert gas["total"] == sum(gas["by_step"].values()) > 0
    shown = run("job", "status", str(fine), env=env).stdout
    assert f"declined by {b.public.name}: data missing" in shown
    assert f"{gas['total']:,} in 2 transactions (JobProposed {gas['by_step']['JobProposed']:,}" in shown
    again = run("job", "accept", str(fine), "--home", str(org_homes[1]), env=env)
    assert again.returncode == 2 and f"declined by {b.public.name}" in again.stderr, again.stderr
    # A non-member participant is named as such, not as a shortage of tuples.
    stranger = "0x" + "ab" * 20
    outsider = run("job", "propose", "--home", str(org_homes[0]), "--analysis", "mean", "--column", "income",
                   "--participants", f"{a.account.address},{stranger}", env=env)
    assert outsider.returncode == 2 and "is not an active member" in outsider.stderr, outsider.stderr
    # Members, but not the whole group in its order: the tuples could not serve it (refused, nothing sent).
    for chosen in (f"{b.account.address},{a.account.address}",):
        partial = run("job", "propose", "--home", str(org_homes[0]), "--analysis", "mean", "--column", "income",
                      "--participants", chosen, env=env)
        assert partial.returncode == 2 and "every active member, in the registry's order" in partial.stderr, \
            partial.stderr
    # Deviating: a deadline in the year 36812 is refused by the client and by the contract.
    far = run("job", "propose", "--home", str(org_homes[0]), "--analysis", "mean", "--column", "income",
              "--result-s", str(2**40), env=env)
    assert far.returncode == 2 and "more than this deployment lets a job run" in far.stderr, far.stderr
