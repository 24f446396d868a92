"""Fixtures shared by every test folder: a real `npx hardhat node` on a free loopback port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.register_assert_rewrite("harness")

from harness.nodes import hardhat_node_at  # noqa: E402 - after the rewrite is registered

#: Folders in the order their modules run: those whose modules start processes or run long
#: jobs first. scripts/test hands whole modules to the workers in collection order
#: (pytest-xdist's loadscope without reordering by test count), so the longest units start
#: first and the many short unit-test modules fill the workers' ends, instead of a module of
#: five process tests starting last while the other worker idles.
HEAVY_FIRST = ("e2e", "explorer", "peer", "onchain", "analytics")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        parts = item.nodeid.split("/")
        folder = parts[1] if len(parts) > 2 and parts[0] == "tests" else ""
        return HEAVY_FIRST.index(folder) if folder in HEAVY_FIRST else len(HEAVY_FIRST)

    items.sort(key=rank)  # Stable: the order within a folder is kept.


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
