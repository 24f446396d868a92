#!/usr/bin/env python3
"""An organisation creates its keys (if its folder has none yet) and asks to join.

    MPCC_PASSPHRASE=... scripts/join.py --home orgs/b --name "Hospital B" \
        --endpoint 127.0.0.1:9702 --rpc http://127.0.0.1:8545 [--fund-from-test-account]

Members then admit it with `mpcc org approve ADDRESS --home THEIR_FOLDER`.
"""

import argparse
import sys
from pathlib import Path

from _venv import ensure_venv

ensure_venv()
from mpcc.cli.main import main  # noqa: E402
from mpcc.orgs import ORG_FILE  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--home", type=Path, required=True)
parser.add_argument("--name")
parser.add_argument("--endpoint")
args, rest = parser.parse_known_args()
if not (args.home / ORG_FILE).exists():
    if not args.name or not args.endpoint:
        parser.error(f"{args.home} holds no organisation yet: give --name and --endpoint to create it")
    sys.argv = ["mpcc", "org", "init", "--home", str(args.home), "--name", args.name, "--endpoint", args.endpoint]
    try:
        main()
    except SystemExit as done:
        if done.code:
            raise
sys.argv = ["mpcc", "org", "join", "--home", str(args.home), *rest]
main()
