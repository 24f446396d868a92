"""Builds the optional C kernels with gcc: ``libmpccfield.so``, ``libmpccg1.so`` and ``liblatkernel.so``.

Run as ``python offchain/_build_kernel.py [--quiet] [--force]``. Idempotent:
a library is rebuilt only when it is older than its source. Without a library,
:mod:`offchain.field` (field kernel) and :mod:`offchain.curve` (BN254 G1
kernel) and :mod:`offchain.lattice` (BGV ring arithmetic) fall back to their
pure-Python references (slower, same results).
The libraries are loaded with ctypes; no Python headers needed.
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
G1_SOURCE = HERE / "_g1kernel.c"
G1_LIBRARY = HERE / "libmpccg1.so"
LAT_SOURCE = HERE / "_latkernel.c"
LAT_LIBRARY = HERE / "liblatkernel.so"
SHARED_HEADER = HERE / "_bn254r.h"  # r and its Montgomery product, included by the field and lattice kernels
KERNELS = ((SOURCE, LIBRARY), (G1_SOURCE, G1_LIBRARY), (LAT_SOURCE, LAT_LIBRARY))
FLAG_SETS = (
    ["-O3", "-march=native", "-fPIC", "-shared"],
    ["-O3", "-fPIC", "-shared"],
)


def is_current(source: Path = SOURCE, library: Path = LIBRARY) -> bool:
    """True if the library exists and is at least as new as its source and the header every source includes."""
    newest = max(source.stat().st_mtime, SHARED_HEADER.stat().st_mtime)
    return library.exists() and library.stat().st_mtime >= newest


def compile_library(source: Path, library: Path, *, quiet: bool = False,
                    extra_flags: tuple[str, ...] = ()) -> bool:
    """Compiles ``source`` into ``library`` unconditionally; returns True on success."""
    compiler = os.environ.get("CC") or shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        if not quiet:
            print(f"kernel: no C compiler found; {library.name} is not built and the "
                  "pure-Python reference stays in use", file=sys.stderr)
        return False
    last_error = ""
    for flags in FLAG_SETS:
        # Compile to a temporary name and rename, so concurrent builds never
        # leave a half-written library behind.
        fd, tmp = tempfile.mkstemp(suffix=".so", dir=library.parent)
        os.close(fd)
        result = subprocess.run([compiler, *flags, *extra_flags, "-o", tmp, str(source)],  # noqa: S603 - gcc, our sources
                                capture_output=True, text=True)
        if result.returncode == 0:
            os.replace(tmp, library)
            if not quiet:
                print(f"kernel: built {library} ({' '.join([*flags, *extra_flags])})")
            return True
        os.unlink(tmp)
        last_error = result.stderr
    if not quiet:
        print(f"kernel: compiling {source.name} failed; the pure-Python reference stays "
              f"in use\n{last_error}", file=sys.stderr)
    return False


def build(*, force: bool = False, quiet: bool = False) -> bool:
    """Compiles every kernel that is not current; True if all libraries are usable."""
    ok = True
    for source, library in KERNELS:
        if force or not is_current(source, library):
            ok = compile_library(source, library, quiet=quiet) and ok
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quiet", action="store_true", help="print nothing on success")
    parser.add_argument("--force", action="store_true", help="rebuild even if current")
    args = parser.parse_args()
    build(force=args.force, quiet=args.quiet)
    return 0  # A missing kernel is not an error: the reference path still works.


if __name__ == "__main__":
    sys.exit(main())
