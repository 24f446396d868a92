"""The Solidity toolchain: adapter, committed artifacts, Hardhat parity."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from onchain import artifacts, codegen, compiler
from onchain.errors import ArtifactError

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = ("OrgRegistry", "PreprocessingLedger", "JobManager")


def test_adapter_answers_like_solc_with_the_pinned_version() -> None:
    out = subprocess.run([str(compiler.ADAPTER), "--version"], capture_output=True, text=True, check=True).stdout
    assert f"Version: {compiler.compiler_config()['version']}+commit" in out


def test_adapter_refuses_other_modes() -> None:
    result = subprocess.run([str(compiler.ADAPTER), "--bin", "x.sol"], capture_output=True, text=True)
    assert result.returncode == 2 and "only --version and --standard-json" in result.stderr


def test_committed_artifacts_match_the_sources() -> None:
    artifacts.check_fresh()
    for name in CONTRACTS:
        art = artifacts.load(name)
        assert art.compiler_version.startswith(compiler.compiler_config()["version"] + "+commit")
        assert art.settings == compiler.compiler_config()["settings"]


def test_a_changed_source_makes_the_artifacts_stale(tmp_path: Path) -> None:
    copy = Path(shutil.copytree(ROOT / "contracts", tmp_path / "contracts"))
    assert artifacts.source_digest(copy) == artifacts.load("OrgRegistry").source_sha256
    target = copy / "OrgRegistry.sol"
    target.write_text(target.read_text() + "\n// changed\n")
    assert artifacts.source_digest(copy) != artifacts.load("OrgRegistry").source_sha256


def test_stale_artifact_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(artifacts, "source_digest", lambda *a: "0" * 64)
    with pytest.raises(ArtifactError, match="stale.*python -m onchain.compiler"):
        artifacts.check_fresh()


def test_recompiling_reproduces_the_committed_bytecode() -> None:
    fresh = compiler.compile_all()
    for name in CONTRACTS:
        assert fresh[name].bytecode == artifacts.load(name).bytecode, name
        assert fresh[name].abi == artifacts.load(name).abi, name
        assert fresh[name].enums == artifacts.load(name).enums, name


def test_the_generated_modules_are_what_the_committed_artifacts_give() -> None:
    codegen.check_fresh()
    digest = hashlib.sha256((artifacts.ARTIFACT_DIR / "JobManager.json").read_bytes()).hexdigest()
    assert f"sha256 {digest}." in (codegen.ABI_DIR / "job_manager.py").read_text().splitlines()[1]
    assert codegen.expected() == codegen.expected()  # Deterministic: nothing but the artifact goes in.


def test_a_changed_artifact_makes_the_generated_modules_stale(tmp_path: Path) -> None:
    copy = Path(shutil.copytree(artifacts.ARTIFACT_DIR, tmp_path / "artifacts"))
    target = copy / "JobManager.json"
    data = json.loads(target.read_text())
    data["enums"]["IJobManager.JobState"].append("Disputed")
    target.write_text(json.dumps(data, indent=2) + "\n")
    assert "    DISPUTED = 6\n" in codegen.expected(copy)[codegen.ABI_DIR / "job_manager.py"]
    with pytest.raises(ArtifactError, match="job_manager.py in onchain/abi is stale.*python -m onchain.codegen"):
        codegen.check_fresh(copy)


def test_every_external_function_has_natspec() -> None:
    for name in CONTRACTS:
        art = artifacts.load(name)
        functions = {f"{i['name']}(" for i in art.abi if i["type"] == "function"}
        documented = {sig.split("(")[0] + "(" for sig in {**art.userdoc.get("methods", {}),
                                                           **art.devdoc.get("methods", {})}}
        assert functions <= documented, (name, sorted(functions - documented))


@pytest.mark.hardhat
def test_hardhat_compiles_offline_to_the_same_bytecode() -> None:
    result = subprocess.run(["npx", "--no-install", "hardhat", "compile", "--force", "--quiet"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in CONTRACTS:
        built = json.loads((ROOT / "artifacts-hardhat" / "contracts" / f"{name}.sol" / f"{name}.json").read_text())
        assert built["bytecode"] == artifacts.load(name).bytecode, name
