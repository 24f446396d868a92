"""The deployment manifest: where the contracts of one consortium live.

Written by ``mpcc deploy`` and read by every other command. It records the
chain id (checked on every connection), the contract addresses, the deploy
block (where event scans start) and the SHA-256 of each artifact deployed.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from onchain.errors import ManifestError

CONTRACT_NAMES = ("OrgRegistry", "PreprocessingLedger", "JobManager", "AuditTrail")
DEFAULT_PATH = Path(".mpcc/deployment.json")


class DeployedContract(BaseModel):
    model_config = ConfigDict(frozen=True)

    address: str
    artifact_sha256: str
    tx_hash: str


class Manifest(BaseModel):
    """Everything another command needs to find and trust the deployment."""

    model_config = ConfigDict(frozen=True)

    version: int = 1
    chain_id: int
    rpc_url: str
    deployer: str
    deploy_block: int
    quorum: int
    contracts: dict[str, DeployedContract]

    def address(self, name: str) -> str:
        return self.contracts[name].address

    def save(self, path: Path, force: bool = False) -> None:
        """Write the manifest; refuses to replace an existing one unless ``force``."""
        if path.exists() and not force:
            raise ManifestError(
                f"{path} exists already (a deployment to chain "
                f"{_existing_chain(path)}); pass --force to replace it or --manifest for another file"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.model_dump_json(indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> Manifest:
        try:
            manifest = cls.model_validate_json(path.read_text())
        except FileNotFoundError:
            raise ManifestError(
                f"no deployment manifest at {path}; run `mpcc deploy` first or pass --manifest"
            ) from None
        except ValidationError as err:
            raise ManifestError(f"deployment manifest {path} is malformed: {err}") from err
        missing = [n for n in CONTRACT_NAMES if n not in manifest.contracts]
        if missing:
            raise ManifestError(f"deployment manifest {path} lacks {', '.join(missing)}")
        return manifest


def _existing_chain(path: Path) -> str:
    try:
        return str(json.loads(path.read_text()).get("chain_id", "?"))
    except (OSError, ValueError):
        return "?"
