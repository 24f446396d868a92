"""Compiled contract artifacts: loading them and knowing when they are stale.

Artifacts live in ``onchain/artifacts/<Contract>.json`` and are committed, so
running mpcc needs no compiler. Each records the SHA-256 of all Solidity
sources it was built from; ``check_fresh`` fails when the sources changed
since.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from onchain.errors import ArtifactError

ARTIFACT_DIR = Path(__file__).resolve().parent / "artifacts"
_CONTRACTS_DIR = Path(__file__).resolve().parent.parent / "contracts"


class Artifact(BaseModel):
    """ABI, bytecode and provenance of one compiled contract."""

    model_config = ConfigDict(frozen=True)

    contract_name: str
    source_unit: str
    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str
    compiler_version: str
    settings: dict[str, Any]
    source_sha256: str
    userdoc: dict[str, Any] = {}
    devdoc: dict[str, Any] = {}
    # Members of each enum the ABI refers to, by canonical name, from the compiler's AST.
    enums: dict[str, list[str]] = {}

    @property
    def sha256(self) -> str:
        """Digest of the artifact's ABI and bytecode, recorded in deployment manifests."""
        return hashlib.sha256((repr(self.abi) + self.bytecode).encode()).hexdigest()


def source_digest(contracts_dir: Path = _CONTRACTS_DIR) -> str:
    """SHA-256 over every Solidity file's name and content, plus the compiler pin."""
    digest = hashlib.sha256()
    files = [*sorted(contracts_dir.rglob("*.sol")), contracts_dir / "compiler.json"]
    for path in files:
        digest.update(path.relative_to(contracts_dir).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


@cache
def load(name: str) -> Artifact:
    """The committed artifact of contract ``name``."""
    path = ARTIFACT_DIR / f"{name}.json"
    if not path.exists():
        raise ArtifactError(
            f"no artifact for contract {name} at {path}; run `python -m onchain.compiler`"
        )
    try:
        return Artifact.model_validate_json(path.read_text())
    except ValueError as err:
        raise ArtifactError(f"artifact {path} is malformed: {err}") from err


def check_fresh(names: list[str] | None = None) -> None:
    """Raise ``ArtifactError`` if any artifact was built from other sources than today's."""
    if not _CONTRACTS_DIR.is_dir():
        return
    current = source_digest()
    for path in sorted(ARTIFACT_DIR.glob("*.json")):
        if names is not None and path.stem not in names:
            continue
        if load(path.stem).source_sha256 != current:
            raise ArtifactError(
                f"artifact {path.name} is stale: contracts/ changed since it was compiled; "
                "run `python -m onchain.compiler` and commit onchain/artifacts/"
            )
