#!/usr/bin/env python3
"""Deploy mpcc's contracts to a chain and write the deployment manifest.

Same options as `mpcc deploy` (see --help), e.g. against `npx hardhat node`:
    scripts/deploy.py --rpc http://127.0.0.1:8545 --test-account --quorum 2 \
        --bootstrap orgs/a/public.json --preprocessor 0x...
"""

import sys

from _venv import ensure_venv

ensure_venv()
from mpcc.cli.main import main  # noqa: E402

sys.argv = ["mpcc", "deploy", *sys.argv[1:]]
main()
