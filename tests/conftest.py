"""Fixtures shared by every test folder: a real `npx hardhat node` on a free loopback port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.register_assert_rewrite("harness")

from harness.nodes import hardhat_node_at  # noqa: E402 - after the rewrite is registered


@pytest.fixture(scope="session")
def hardhat_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One node for the session (tests that each deploy their own contracts)."""
    with hardhat_node_at(tmp_path_factory.mktemp("hardhat") / "node.log") as url:
        yield url


@pytest.fixture(scope="module")
def e2e_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh node for each test module (a whole consortium's history per module)."""
    with hardhat_node_at(tmp_path_factory.mktemp("hardhat") / "node.log") as url:
        yield url
