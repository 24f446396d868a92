"""Deployment, the manifest, and the checks made before any transaction."""

from __future__ import annotations

from pathlib import Path

import pytest

from onchain.chain import Chain
from onchain.deploy import Deployment, deploy
from onchain.embedded import in_memory_chain
from onchain.errors import ChainIdMismatch, ConfigError, ManifestError, RpcUnreachable
from onchain.manifest import CONTRACT_NAMES, Manifest

from onchain_testkit import free_port


def test_deploy_wires_the_contracts_and_describes_them_in_the_manifest(chain: Chain, tmp_path: Path) -> None:
    dep = deploy(chain, chain.test_account(0), quorum=3)
    assert dep.registry.quorum() == 3
    assert dep.ledger.job_manager() == dep.jobs.address
    manifest = dep.manifest
    assert manifest.chain_id == chain.chain_id
    assert set(manifest.contracts) == set(CONTRACT_NAMES)
    assert manifest.deploy_block >= 1
    path = tmp_path / "deployment.json"
    manifest.save(path)
    again = Deployment.attach(chain, Manifest.load(path))
    assert again.registry.address == dep.registry.address


def test_manifest_is_not_overwritten_without_force(chain: Chain, tmp_path: Path) -> None:
    dep = deploy(chain, chain.test_account(0), quorum=2)
    path = tmp_path / "deployment.json"
    dep.manifest.save(path)
    with pytest.raises(ManifestError, match="exists already.*--force"):
        dep.manifest.save(path)
    dep.manifest.save(path, force=True)


def test_missing_or_malformed_manifest_is_named(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="no deployment manifest at .*mpcc deploy"):
        Manifest.load(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text('{"chain_id": "x"}')
    with pytest.raises(ManifestError, match="malformed"):
        Manifest.load(tmp_path / "bad.json")


def test_wrong_chain_id_is_refused(chain: Chain) -> None:
    dep = deploy(chain, chain.test_account(0), quorum=2)
    other = dep.manifest.model_copy(update={"chain_id": 1})
    with pytest.raises(ChainIdMismatch, match="chain id 1"):
        Deployment.attach(chain, other)


def test_manifest_on_a_fresh_chain_finds_no_code(chain: Chain) -> None:
    dep = deploy(chain, chain.test_account(0), quorum=2)
    with pytest.raises(ManifestError, match="no contract code"):
        Deployment.attach(in_memory_chain(), dep.manifest)


def test_unreachable_rpc_is_named() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(RpcUnreachable, match=url.replace(".", r"\.")):
        Chain.connect(url)


def test_quorum_below_one_is_refused(chain: Chain) -> None:
    with pytest.raises(ConfigError, match="quorum"):
        deploy(chain, chain.test_account(0), quorum=0)
    assert chain.log == []
