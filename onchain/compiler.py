"""Compile the Solidity sources into committed artifacts, one JSON per contract.

Run ``python -m onchain.compiler`` (or ``mpcc dev compile``) after changing
anything under ``contracts/``; it also generates the typed modules of
``onchain/abi/`` from the new artifacts (``onchain.codegen``). The compiler version and settings come from
``contracts/compiler.json``, the one place they are pinned, which
``hardhat.config.js`` reads as well so that both paths emit the same bytecode.

The compiler is a native ``solc`` on PATH when it is the pinned version, else
the npm package ``solc`` (solc-js) through ``scripts/solcjs-adapter``, which
answers py-solc-x's ``--version`` and ``--standard-json`` calls. Nothing is
ever downloaded.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import solcx
from solcx.exceptions import SolcError

from onchain import codegen
from onchain.artifacts import ARTIFACT_DIR, Artifact, source_digest
from onchain.errors import ArtifactError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONTRACTS_DIR = PROJECT_ROOT / "contracts"
ADAPTER = PROJECT_ROOT / "scripts" / "solcjs-adapter"
# Per contract: ABI, bytecode and NatSpec; per source file: the AST, read only for the enums' members
# (the ABI gives an enum as uint8 and its name, never its members). Outputs do not change the bytecode.
OUTPUT_SELECTION = {"*": {"": ["ast"],
                          "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object", "devdoc", "userdoc"]}}


def compiler_config() -> dict[str, Any]:
    """The pinned compiler version and settings from ``contracts/compiler.json``."""
    config: dict[str, Any] = json.loads((CONTRACTS_DIR / "compiler.json").read_text())
    return config


def find_solc(version: str) -> Path:
    """A solc executable of exactly ``version``: native if present, else the adapter."""
    native = shutil.which("solc")
    if native and str(solcx.wrapper.get_solc_version(Path(native))) == version:
        return Path(native)
    if not (PROJECT_ROOT / "node_modules" / "solc").is_dir():
        raise ArtifactError(
            f"no solc {version} found: neither a native `solc` of that version on PATH nor "
            "the npm package `solc` in node_modules. Run scripts/setup."
        )
    found = str(solcx.wrapper.get_solc_version(ADAPTER))
    if found != version:
        raise ArtifactError(
            f"the npm package solc is version {found}, but contracts/compiler.json pins {version}; "
            "run scripts/setup (npm ci) to install the pinned version"
        )
    return ADAPTER


def source_units() -> dict[str, Path]:
    """Every Solidity file under contracts/, keyed by its source unit name."""
    return {f"contracts/{p.relative_to(CONTRACTS_DIR).as_posix()}": p for p in sorted(CONTRACTS_DIR.rglob("*.sol"))}


def standard_input() -> dict[str, Any]:
    """The standard-JSON compiler input, identical to what Hardhat sends."""
    settings = dict(compiler_config()["settings"])
    settings["outputSelection"] = OUTPUT_SELECTION
    sources = {name: {"content": path.read_text()} for name, path in source_units().items()}
    return {"language": "Solidity", "sources": sources, "settings": settings}


def compile_all() -> dict[str, Artifact]:
    """Compile every contract with bytecode; interfaces and abstract contracts are skipped."""
    config = compiler_config()
    solc = find_solc(config["version"])
    data = standard_input()
    try:
        output = solcx.compile_standard(data, solc_binary=solc, base_path=str(PROJECT_ROOT),
                                        allow_paths=str(PROJECT_ROOT))
    except SolcError as err:
        raise ArtifactError(f"compilation failed:\n{err}") from err
    long_version = _long_version(solc)
    enums = enum_definitions(output.get("sources", {}))
    artifacts: dict[str, Artifact] = {}
    for unit, contracts in output["contracts"].items():
        for name, out in contracts.items():
            bytecode = out["evm"]["bytecode"]["object"]
            if not bytecode:
                continue
            artifacts[name] = Artifact(
                contract_name=name,
                source_unit=unit,
                abi=out["abi"],
                bytecode="0x" + bytecode,
                deployed_bytecode="0x" + out["evm"]["deployedBytecode"]["object"],
                compiler_version=long_version,
                settings=config["settings"],
                source_sha256=source_digest(),
                userdoc=out.get("userdoc", {}),
                devdoc=out.get("devdoc", {}),
                enums={enum: enums[enum] for enum in sorted(enums_used(out["abi"]))},
            )
    return artifacts


def enum_definitions(sources: dict[str, Any]) -> dict[str, list[str]]:
    """Every enum of the sources' ASTs: canonical name (``IJobManager.JobState``) -> member names in order."""
    found: dict[str, list[str]] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("nodeType") == "EnumDefinition":
                found[node["canonicalName"]] = [m["name"] for m in node["members"]]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for unit in sorted(sources):
        walk(sources[unit].get("ast"))
    return found


def enums_used(abi: list[dict[str, Any]]) -> set[str]:
    """Canonical names of the enums an ABI refers to (``internalType`` "enum IJobManager.JobState")."""
    used: set[str] = set()

    def walk(param: dict[str, Any]) -> None:
        internal = param.get("internalType", "")
        if internal.startswith("enum "):
            used.add(internal.removeprefix("enum ").split("[")[0])
        for component in param.get("components", []):
            walk(component)

    for item in abi:
        for param in item.get("inputs", []) + item.get("outputs", []):
            walk(param)
    return used


def _long_version(solc: Path) -> str:
    out = solcx.wrapper.solc_wrapper(solc_binary=solc, version=True)[0]
    for line in out.splitlines():
        if line.startswith("Version:"):
            return line.split(":", 1)[1].strip()
    return out.strip()


def write_artifacts(artifacts: dict[str, Artifact], directory: Path = ARTIFACT_DIR) -> list[Path]:
    """Write each artifact as pretty JSON and drop artifacts of deleted contracts."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, artifact in sorted(artifacts.items()):
        path = directory / f"{name}.json"
        path.write_text(artifact.model_dump_json(indent=2) + "\n")
        written.append(path)
    for stale in directory.glob("*.json"):
        if stale.stem not in artifacts:
            stale.unlink()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Compile contracts/ into onchain/artifacts/")
    parser.parse_args(argv)
    artifacts = compile_all()
    for path in write_artifacts(artifacts):
        size = (len(artifacts[path.stem].deployed_bytecode) - 2) // 2
        print(f"wrote {path.relative_to(PROJECT_ROOT)} ({size} bytes deployed)")
    for path in codegen.write():
        print(f"wrote {path.relative_to(PROJECT_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
