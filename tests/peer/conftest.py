"""Fixtures for end-to-end jobs: three organisations and an in-process consortium."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from mpcc.demo.local import LocalConsortium
from mpcc import orgs

ROOT = Path(__file__).resolve().parents[2]
PASSPHRASE = b"peer test passphrase, not a secret"


@pytest.fixture(scope="session")
def members(tmp_path_factory: pytest.TempPathFactory) -> list[orgs.Org]:
    base = tmp_path_factory.mktemp("members")
    made = []
    for i, name in enumerate(("Clinic A", "Clinic B", "Clinic C")):
        orgs.init(base / f"m{i}", name, f"127.0.0.1:{9600 + i}", PASSPHRASE)
        made.append(orgs.load(base / f"m{i}", PASSPHRASE))
    return made


@pytest.fixture
def incomes() -> list[dict[str, Path]]:
    return [{"income": ROOT / "examples" / f"incomes_party_{tag}.csv"} for tag in "abc"]


@pytest.fixture
def consortium(members: list[orgs.Org], incomes: list[dict[str, Path]], tmp_path: Path) -> Iterator[LocalConsortium]:
    made = LocalConsortium.create(members, incomes, cache_dir=tmp_path)
    yield made
    made.close()
