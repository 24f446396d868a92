"""The import contracts of pyproject.toml hold, and they fail on the imports they exist to forbid.

Each negative case copies the three packages to a temporary folder, adds one
import that breaks the layering (an upward import, a cycle between siblings,
the chain side reaching the computation), and runs import-linter there, as CI
would on a change that did it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = str(Path(sys.executable).parent / "lint-imports")


def lint(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LINT_IMPORTS, "--config", str(tree / "pyproject.toml"), "--no-cache"], cwd=tree,
                          env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the packages and of the contracts."""
    base = tmp_path_factory.mktemp("layers")
    for package in ("offchain", "onchain", "mpcc"):
        shutil.copytree(ROOT / package, base / package, ignore=shutil.ignore_patterns("__pycache__", "*.so",
                                                                                      "artifacts"))
    shutil.copy(ROOT / "pyproject.toml", base / "pyproject.toml")
    return base


def test_the_real_tree_keeps_every_contract() -> None:
    done = lint(ROOT)
    assert done.returncode == 0, done.stdout
    assert "0 broken" in done.stdout


@pytest.mark.parametrize(("module", "line", "broken"), [
    ("offchain/field.py", "import offchain.engine.context", "offchain layers"),
    ("offchain/analytics/spec.py", "import offchain.auditable.routes", "offchain layers"),
    ("offchain/engine/context.py", "import onchain.chain", "the application (mpcc) joins"),
    ("onchain/chain.py", "import mpcc.peer.daemon", "the application (mpcc) joins"),
    ("mpcc/orgs.py", "import mpcc.cli.main", "application layers"),
    ("offchain/analytics/bayes.py", "import offchain.analytics.registry", "no cycles between sibling"),
])
def test_an_upward_import_or_a_cycle_breaks_a_contract(tree: Path, module: str, line: str, broken: str) -> None:
    path = tree / module
    original = path.read_text()
    path.write_text(original + f"\n{line}  # A deliberate violation (tests/architecture).\n")
    try:
        done = lint(tree)
    finally:
        path.write_text(original)
    assert done.returncode == 1, done.stdout
    _, _, report = done.stdout.partition("Broken contracts")
    assert broken in report.replace("\n", " ") and line.split(".")[-1] in report, done.stdout
