"""The CLI and scripts run as a user would, on `npx hardhat node` and without a chain."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from onchain_testkit import ROOT, free_port

#: The installed entry point beside the interpreter running the tests (any virtual environment).
MPCC = str(Path(sys.executable).parent / "mpcc")


def run(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "MPCC_PASSPHRASE": "cli test passphrase", **(env or {})}
    return subprocess.run(list(args), capture_output=True, text=True, env=full_env, cwd=cwd, timeout=300)


def test_help_lists_the_commands() -> None:
    out = run(MPCC, "--help").stdout
    for command in ("deploy", "org", "demo"):
        assert command in out


def test_deploy_to_the_in_process_chain_is_explained() -> None:
    result = run(MPCC, "deploy", "--rpc", "memory", "--test-account")
    assert result.returncode == 2
    assert "mpcc demo" in result.stderr


def test_unreachable_rpc_is_named_with_exit_code_3(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = run(MPCC, "deploy", "--rpc", url, "--test-account", "--manifest", str(tmp_path / "m.json"))
    assert result.returncode == 3
    assert f"cannot reach the JSON-RPC endpoint {url}" in result.stderr


def test_malformed_fingerprint_in_bootstrap_is_refused_before_connecting(tmp_path: Path) -> None:
    bad = tmp_path / "public.json"
    bad.write_text(json.dumps({"name": "X", "account": "0x" + "11" * 20, "endpoint": "h:1",
                               "tls_fingerprint": "abc", "hpke_public_key": "00"}))
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens: the input check must come first
    result = run(MPCC, "deploy", "--rpc", url, "--test-account", "--bootstrap", str(bad),
                 "--manifest", str(tmp_path / "m.json"))
    assert result.returncode == 2
    assert "malformed TLS fingerprint" in result.stderr


@pytest.mark.hardhat
def test_deploy_and_join_on_hardhat_node(hardhat_node: str, tmp_path: Path) -> None:
    env = {"MPCC_RPC": hardhat_node, "MPCC_MANIFEST": str(tmp_path / "deployment.json")}
    homes = [tmp_path / name for name in ("a", "b", "c")]
    init = run(MPCC, "org", "init", "--home", str(homes[0]), "--name", "Hospital A",
               "--endpoint", "127.0.0.1:9901", "--json", env=env)
    assert init.returncode == 0, init.stderr
    funded = run(MPCC, "dev", "fund", json.loads(init.stdout)["account"], env=env)
    assert funded.returncode == 0, funded.stderr
    deployed = run(str(ROOT / "scripts" / "deploy.py"), "--test-account", "--quorum", "2",
                   "--bootstrap", str(homes[0] / "public.json"), "--json", env=env)
    assert deployed.returncode == 0, deployed.stderr
    assert json.loads(deployed.stdout.splitlines()[-1])["chain_id"] == 31337
    again = run(str(ROOT / "scripts" / "deploy.py"), "--test-account", env=env)
    assert again.returncode == 2 and "--force" in again.stderr
    member_again = run(MPCC, "org", "join", "--home", str(homes[0]), env=env)
    assert member_again.returncode == 2 and "already registered with status active" in member_again.stderr
    for home, name, port in ((homes[1], "Hospital B", 9902), (homes[2], "Hospital C", 9903)):
        joined = run(str(ROOT / "scripts" / "join.py"), "--home", str(home), "--name", name,
                     "--endpoint", f"127.0.0.1:{port}", "--fund-from-test-account", env=env)
        assert joined.returncode == 0, joined.stderr
    address = {h: json.loads((h / "public.json").read_text())["account"] for h in homes}
    assert run(MPCC, "org", "approve", address[homes[1]], "--home", str(homes[0]), env=env).returncode == 0
    outsider = run(MPCC, "org", "approve", address[homes[1]], "--home", str(homes[2]), env=env)
    assert outsider.returncode == 1 and "NotActiveMember" in outsider.stderr
    for approver in homes[:2]:
        assert run(MPCC, "org", "approve", address[homes[2]], "--home", str(approver), env=env).returncode == 0
    members = json.loads(run(MPCC, "org", "members", "--json", env=env).stdout)
    assert [(m["name"], m["status"]) for m in members] == [
        ("Hospital A", "active"), ("Hospital B", "active"), ("Hospital C", "active")]
    bad_vote = run(MPCC, "org", "vote", "banish", address[homes[2]], "--home", str(homes[0]), env=env)
    assert bad_vote.returncode == 2 and "unknown vote 'banish'" in bad_vote.stderr
    for voter in homes[:2]:
        voted = run(MPCC, "org", "vote", "suspend", address[homes[2]], "--home", str(voter), "--json", env=env)
        assert voted.returncode == 0, voted.stderr
    assert json.loads(voted.stdout)["effects"] == ["MemberSuspended"]
    members = json.loads(run(MPCC, "org", "members", "--json", env=env).stdout)
    assert members[2]["status"] == "suspended"


@pytest.mark.hardhat
def test_manifest_of_another_chain_is_refused(hardhat_node: str, tmp_path: Path) -> None:
    manifest = tmp_path / "deployment.json"
    env = {"MPCC_RPC": hardhat_node, "MPCC_MANIFEST": str(manifest)}
    assert run(MPCC, "deploy", "--test-account", env=env).returncode == 0
    data = json.loads(manifest.read_text())
    data["chain_id"] = 11155111
    manifest.write_text(json.dumps(data))
    result = run(MPCC, "org", "members", env=env)
    assert result.returncode == 3
    assert "chain id 31337" in result.stderr and "11155111" in result.stderr


@pytest.mark.hardhat
def test_deploy_with_an_encrypted_keystore(hardhat_node: str, tmp_path: Path) -> None:
    from onchain import keystore

    account = keystore.create(tmp_path / "deployer.json", b"cli test passphrase")
    env = {"MPCC_RPC": hardhat_node, "MPCC_MANIFEST": str(tmp_path / "deployment.json")}
    assert run(MPCC, "dev", "fund", account.address, "--eth", "2", env=env).returncode == 0
    wrong = run(MPCC, "deploy", "--keystore", str(tmp_path / "deployer.json"), env={**env, "MPCC_PASSPHRASE": "no"})
    assert wrong.returncode == 2 and "wrong passphrase" in wrong.stderr
    deployed = run(MPCC, "deploy", "--keystore", str(tmp_path / "deployer.json"), "--json", env=env)
    assert deployed.returncode == 0, deployed.stderr
    assert json.loads((tmp_path / "deployment.json").read_text())["deployer"] == account.address
