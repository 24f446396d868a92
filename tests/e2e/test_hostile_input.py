"""Input that used to crash the CLI or hide its cause, run through the real entry point.

`mpcc job plan` died with SIGSEGV (exit 139) on deeply nested JSON, because
py-evm and py_ecc raise the recursion limit to 100000 when imported; an
unreachable node's error was cut before its cause.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from harness.cluster import MPCC
from harness.nodes import free_port


def mpcc(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MPCC, *args], capture_output=True, text=True, cwd=cwd, timeout=120,
                          env={"PATH": str(Path(sys.executable).parent), "MPCC_PASSPHRASE": "x"})


def test_a_deeply_nested_spec_is_a_clear_error_not_a_crash(tmp_path: Path) -> None:
    spec = tmp_path / "deep.json"
    spec.write_text('{"analysis": "mean", "column": ' + "[" * 100_000 + "]" * 100_000 + "}")
    done = mpcc("job", "plan", "--spec", str(spec), cwd=tmp_path)
    assert done.returncode == 2, (done.returncode, done.stderr[-500:])
    assert f"{spec}: JSON nested more than 32 levels deep" in done.stderr


def test_importing_the_chain_leaves_python_s_recursion_limit() -> None:
    probe = "import sys, onchain.chain, mpcc.cli.main; print(sys.getrecursionlimit())"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "1000"


def test_an_unreachable_node_s_error_ends_with_its_cause(tmp_path: Path) -> None:
    port = free_port()  # Nothing listens there.
    done = mpcc("dev", "fund", "0x70997970C51812dc3A010C7d01b50e0d17dc79C8", "--rpc", f"http://127.0.0.1:{port}",
                cwd=tmp_path)
    assert done.returncode == 3
    assert f"cannot reach the JSON-RPC endpoint http://127.0.0.1:{port}: Connection refused" in done.stderr
    assert "Check that the node is running" in done.stderr


def test_brackets_in_names_and_labels_are_printed_as_they_are(tmp_path: Path) -> None:
    """rich took `[north]` (or an audit's `[group]` label) for markup and dropped it."""
    home = tmp_path / "org"
    made = mpcc("org", "init", "--home", str(home), "--name", "Lab [north]", "--endpoint", "127.0.0.1:9701",
                cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    shown = mpcc("org", "show", "--home", str(home), cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "Lab [north]" in shown.stdout
