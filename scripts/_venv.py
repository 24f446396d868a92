"""Run a script under the project's .venv (made by scripts/setup) if not already in it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def ensure_venv() -> None:
    python = ROOT / ".venv" / "bin" / "python"
    if Path(sys.prefix).resolve() != (ROOT / ".venv").resolve():
        if not python.exists():
            sys.exit("the project's environment is missing: run scripts/setup first")
        os.execv(str(python), [str(python), *sys.argv])  # noqa: S606 - re-run this script in the venv
    sys.path.insert(0, str(ROOT))
