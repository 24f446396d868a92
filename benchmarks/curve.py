"""Benchmark of BN254 G1 for Pedersen commitments: py_ecc, our pure-Python reference, our C kernel.

    .venv/bin/python benchmarks/curve.py            # a table
    .venv/bin/python benchmarks/curve.py --json     # ... and one JSON object as last line

Measures, for each implementation, variable-base scalar multiplications per
second (k * P for random 254-bit k and a random point P) and commitments per
second (v*G + r*H for random 254-bit v, r, affine result):

  - ``py_ecc_bn128`` and ``py_ecc_optimized``: py_ecc.bn128 (affine) and
    py_ecc.optimized_bn128 (projective); a commitment is two ``multiply``
    calls, an ``add`` and (optimized) a ``normalize``;
  - ``reference_int`` / ``reference_gmpy2``: offchain._g1ref, the fallback
    of offchain.curve, on Python ints / gmpy2.mpz (the default when installed),
    with its fixed-base tables for G and H built before the clock starts;
  - ``kernel``: offchain/libmpccg1.so through offchain.curve (ctypes, batches
    of ``--batch`` points), plus Pippenger MSM throughput (points per second
    for one MSM of ``--batch`` points) and the one-off table build;
  - ``kernel_direct_lookup``: the same kernel compiled into a temporary
    directory with -DMPCC_G1_DIRECT_LOOKUP -DFB_W=8: fixed-base table entries
    read directly at a digit-dependent address (windows of 8 bits) instead of
    the default masked scan of every entry (windows of 7 bits), to price that
    side-channel defence;
  - ``fastecdsa`` (a C extension on GMP) if it is importable: it is not a
    dependency; ``pip install --target DIR fastecdsa`` and ``PYTHONPATH=DIR``.

Every figure is operations per CPU second of this process (time.process_time,
so that other processes competing for the cores do not count), the best of
``--repeat`` timed runs of at least ``--min-time`` CPU seconds; everything
runs on one thread. ``ratio_vs_py_ecc`` divides by py_ecc_optimized of the
same run, since absolute numbers move with the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from offchain import _build_kernel, _g1kernel, _g1ref, curve  # noqa: E402
from offchain.field import FieldVec  # noqa: E402

Q, ORDER = curve.Q, curve.ORDER


def _best_rate(run: Callable[[], int], min_time: float, repeat: int) -> float:
    """Operations per second of ``run`` (which returns how many it did), best of ``repeat``."""
    best = 0.0
    for _ in range(repeat):
        done, start = 0, time.process_time()
        while True:
            done += run()
            elapsed = time.process_time() - start
            if elapsed >= min_time:
                break
        best = max(best, done / elapsed)
    return best


def _scalars(n: int) -> list[int]:
    return [secrets.randbelow(ORDER) for _ in range(n)]


def bench_py_ecc(module: Any, per_run: int, args: argparse.Namespace) -> dict[str, float]:
    """py_ecc's multiply on random scalars; a commitment adds two products."""
    g = module.G1
    h_x, h_y = curve.H.to_ints()[0]  # type: ignore[misc]
    h = (module.FQ(h_x), module.FQ(h_y)) + ((module.FQ.one(),) if len(g) == 3 else ())
    p = module.multiply(g, secrets.randbelow(ORDER))
    finish = getattr(module, "normalize", lambda point: point)

    def mults() -> int:
        for k in _scalars(per_run):
            finish(module.multiply(p, k))
        return per_run

    def commits() -> int:
        for v, r in zip(_scalars(per_run), _scalars(per_run)):
            finish(module.add(module.multiply(g, v), module.multiply(h, r)))
        return per_run

    return {"scalar_mults_per_s": _best_rate(mults, args.min_time, args.repeat),
            "commitments_per_s": _best_rate(commits, args.min_time, args.repeat)}


def bench_ops(ops: Any, batch: int, args: argparse.Namespace,
              msm: bool = False) -> dict[str, float]:
    """A backend of offchain.curve on byte batches (the interface of _g1ref.ReferenceOps)."""
    start = time.process_time()
    tables = (ops.table(curve.G.to_bytes()), ops.table(curve.H.to_bytes()))
    table_s = time.process_time() - start
    points = curve.G.scale(secrets.randbelow(ORDER)).to_bytes() * batch
    values, rands = FieldVec.random(batch).packed(), FieldVec.random(batch).packed()

    def mults() -> int:
        ops.scale(points, values)
        return batch

    def commits() -> int:
        ops.commit(tables, values, rands)
        return batch

    out = {"scalar_mults_per_s": _best_rate(mults, args.min_time, args.repeat),
           "commitments_per_s": _best_rate(commits, args.min_time, args.repeat),
           "table_build_s": table_s}
    if msm:
        distinct = ops.scale(points, FieldVec.random(batch).packed())

        def msms() -> int:
            ops.msm(distinct, values)
            return batch

        out["msm_points_per_s"] = _best_rate(msms, args.min_time, args.repeat)
    return out


def bench_direct(args: argparse.Namespace) -> dict[str, float] | None:
    """The kernel built with the direct (digit-dependent address) fixed-base lookup."""
    with tempfile.TemporaryDirectory() as tmp:
        library = Path(tmp) / "libmpccg1_direct.so"
        flags = ("-DMPCC_G1_DIRECT_LOOKUP", "-DFB_W=8")
        if not _build_kernel.compile_library(_build_kernel.G1_SOURCE, library, quiet=True,
                                             extra_flags=flags):
            return None
        ops = _g1kernel.load(library)
        if ops is None:
            return None
        v, r = FieldVec.random(64), FieldVec.random(64)
        tables = (ops.table(curve.G.to_bytes()), ops.table(curve.H.to_bytes()))
        assert ops.commit(tables, v.packed(), r.packed()) == curve.commit(v, r).to_bytes()
        result = bench_ops(ops, args.batch, args)
        return {"commitments_per_s": result["commitments_per_s"]}


def bench_fastecdsa(per_run: int, args: argparse.Namespace) -> dict[str, float] | None:
    try:
        from fastecdsa.curve import Curve
        from fastecdsa.point import Point
    except ImportError:
        return None
    bn254 = Curve("bn254", Q, 0, 3, ORDER, 1, 2)
    g = Point(1, 2, curve=bn254)
    h = Point(*curve.H.to_ints()[0], curve=bn254)  # type: ignore[misc]
    p = secrets.randbelow(ORDER) * g

    def mults() -> int:
        for k in _scalars(per_run):
            k * p
        return per_run

    def commits() -> int:
        for v, r in zip(_scalars(per_run), _scalars(per_run)):
            v * g + r * h
        return per_run

    return {"scalar_mults_per_s": _best_rate(mults, args.min_time, args.repeat),
            "commitments_per_s": _best_rate(commits, args.min_time, args.repeat)}


def run(args: argparse.Namespace) -> dict[str, Any]:
    from py_ecc import bn128, optimized_bn128

    _build_kernel.build(quiet=True)
    kernel = _g1kernel.load()
    results: dict[str, Any] = {
        "py_ecc_bn128": bench_py_ecc(bn128, 2, args),
        "py_ecc_optimized": bench_py_ecc(optimized_bn128, 4, args),
        "reference_int": bench_ops(_g1ref.ReferenceOps(int), 16, args),
        "reference_gmpy2": bench_ops(_g1ref.ReferenceOps(), 32, args),
        "kernel": bench_ops(kernel, args.batch, args, msm=True) if kernel else None,
        "kernel_direct_lookup": bench_direct(args) if kernel else None,
        "fastecdsa": bench_fastecdsa(64, args),
    }
    base = results["py_ecc_optimized"]
    ratios = {name: {key: round(r[key] / base[key], 1) for key in base if key in r}
              for name, r in results.items() if r is not None}
    return {**results, "ratio_vs_py_ecc": ratios, "curve_backend": curve.BACKEND,
            "batch": args.batch, "cpus": os.cpu_count(), "load_average": os.getloadavg()[0],
            "machine": platform.machine(), "python": platform.python_version()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object as the last line")
    parser.add_argument("--batch", type=int, default=4096, help="points per kernel call")
    parser.add_argument("--min-time", type=float, default=0.4, help="CPU seconds per timed run")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per figure (best kept)")
    args = parser.parse_args()
    summary = run(args)
    print(f"{'implementation':<22}{'scalar mults/s':>16}{'commitments/s':>16}"
          f"{'x py_ecc (mul, com)':>24}")
    for name, r in summary.items():
        if isinstance(r, dict) and name != "ratio_vs_py_ecc":
            ratio = summary["ratio_vs_py_ecc"][name]
            print(f"{name:<22}{r.get('scalar_mults_per_s', float('nan')):>16,.1f}"
                  f"{r['commitments_per_s']:>16,.1f}"
                  f"{ratio.get('scalar_mults_per_s', float('nan')):>12}"
                  f"{ratio['commitments_per_s']:>12}")
        elif r is None:
            print(f"{name:<22}{'(not available)':>16}")
    kernel = summary["kernel"]
    if kernel:
        print(f"kernel MSM of {args.batch} points: {kernel['msm_points_per_s']:,.0f} points/s; "
              f"fixed-base tables of G and H built in {kernel['table_build_s'] * 1e3:.1f} ms")
    if args.json:
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
