"""The README's first command, `mpcc demo`, run as a user would."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_demo_computes_the_seed_example_mean_and_passes_its_audit() -> None:
    done = subprocess.run([str(Path(sys.executable).parent / "mpcc"), "demo", "--json"], capture_output=True,
                          text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["state"] == "finalised"
    assert report["result"] == {"count": "12", "mean": f"{635000 / 12:.6f}"}
    assert report["results_agree"] and report["audit_passed"]
    assert report["members"] == ["Party A", "Party B", "Party C"]
    assert all(tx["gas"] > 0 for tx in report["transactions"])
    assert 0 < report["audit_seconds"] < report["seconds"]  # The audit alone, not the whole demo.
    # No dealer: the organisations made the job's tuples themselves, and the audit of record says so.
    (tuples,) = [c for c in report["audit"] if c["check"].startswith("tuples:")]
    assert "made by the members" in tuples["detail"] and "preprocessing service" not in tuples["detail"]
