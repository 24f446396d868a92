"""Builds the optional C field kernel ``offchain/libmpccfield.so`` with gcc.

Run as ``python offchain/_build_kernel.py [--quiet] [--force]``. Idempotent:
nothing happens when the library is newer than its source. Without the
library, :mod:`offchain.field` falls back to its pure-Python reference (slower,
same results). The library is loaded with ctypes; no Python headers needed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "_fieldkernel.c"
LIBRARY = HERE / "libmpccfield.so"
FLAG_SETS = (
    ["-O3", "-march=native", "-fPIC", "-shared"],
    ["-O3", "-fPIC", "-shared"],
)


def is_current() -> bool:
    """True if the library exists and is at least as new as its source."""
    return LIBRARY.exists() and LIBRARY.stat().st_mtime >= SOURCE.stat().st_mtime


def build(*, force: bool = False, quiet: bool = False) -> bool:
    """Compiles the kernel unless current; returns True if a usable library exists."""
    if is_current() and not force:
        return True
    compiler = os.environ.get("CC") or shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        if not quiet:
            print("kernel: no C compiler found; the pure-Python field stays in use",
                  file=sys.stderr)
        return False
    for flags in FLAG_SETS:
        # Compile to a temporary name and rename, so concurrent builds never
        # leave a half-written library behind.
        fd, tmp = tempfile.mkstemp(suffix=".so", dir=HERE)
        os.close(fd)
        result = subprocess.run([compiler, *flags, "-o", tmp, str(SOURCE)],
                                capture_output=True, text=True)
        if result.returncode == 0:
            os.replace(tmp, LIBRARY)
            if not quiet:
                print(f"kernel: built {LIBRARY} ({' '.join(flags)})")
            return True
        os.unlink(tmp)
        last_error = result.stderr
    if not quiet:
        print(f"kernel: compilation failed; the pure-Python field stays in use\n{last_error}",
              file=sys.stderr)
    return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quiet", action="store_true", help="print nothing on success")
    parser.add_argument("--force", action="store_true", help="rebuild even if current")
    args = parser.parse_args()
    build(force=args.force, quiet=args.quiet)
    return 0  # A missing kernel is not an error: the reference path still works.


if __name__ == "__main__":
    sys.exit(main())
