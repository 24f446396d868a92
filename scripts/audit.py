#!/usr/bin/env python3
"""Verify a job's whole record from chain data alone (same options as `mpcc audit`).

    scripts/audit.py JOB_ID --rpc http://127.0.0.1:8545 [--manifest .mpcc/deployment.json] [--json]

Exits non-zero when any check fails.
"""

import sys

from _venv import ensure_venv

ensure_venv()
from mpcc.cli.main import main  # noqa: E402

sys.argv = ["mpcc", "audit", *sys.argv[1:]]
main()
