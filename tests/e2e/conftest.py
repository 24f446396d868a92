"""Fixtures of the end-to-end tests: `npx hardhat node` and a consortium of separate processes."""

from __future__ import annotations

from typing import Iterator

import pytest

from harness.cluster import Cluster, wait_until


@pytest.fixture(scope="module")
def cluster(e2e_node: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Three organisations formed through the CLI; the service and three peers running and stocked."""
    made = Cluster(tmp_path_factory.mktemp("cluster"), e2e_node)
    try:
        made.form()
        made.start_service()
        for i in range(3):
            made.start_peer(i)
        wait_until("every peer to hold checked input masks", made.stocked, timeout=90)
        yield made
    finally:
        made.stop_all()
        made.print_log_tails()
