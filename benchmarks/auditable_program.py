"""Auditable mode for any analysis: what the replay costs the parties, the chain and the auditor.

For each analysis, three parties run it once plainly and once in auditable
mode (offchain.auditable.program) in one process over the in-memory
transport, from the same data. Reported per analysis: the tuples each needs
(plain and auditable), the commitments and opened values of the record, the
time of both runs and their ratio (the plain run is the reference measured in
the same run), the bytes the first participant publishes on AuditTrail
(summed tuple commitments, compressed to 32 bytes each, and the transcript), their calldata gas (16 per nonzero and
4 per zero byte, 21,000 per transaction of at most 96 KiB: the chunks a peer
sends), and the auditor's replay time. The JSON has, per analysis, among
others ``calldata_bytes`` (tuple commitments and transcript together) and
``overhead_vs_plain`` (auditable run time over plain run time).

    .venv/bin/python benchmarks/auditable_program.py [--only NAME ...] [--json]
"""

from __future__ import annotations

import sys
from pathlib import Path

import argparse
import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from offchain.auditable import routes
from offchain import curve
from offchain.analytics import registry
from offchain.analytics.spec import JobSpec
from offchain.auditable import program, program_audit
from offchain.engine.context import Context
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # The test harness.

from harness.local import run_local
from mpcc.peer.member import DATA_CHUNK

PARTIES = tuple("0x" + f"{i + 1:040x}" for i in range(3))
ROWS = 60


def specs() -> dict[str, JobSpec]:
    def build(**fields: Any) -> JobSpec:
        return registry.build_spec(participants=PARTIES, auditable=True, **fields)

    return {
        "summary (count, min, max)": build(analysis="summary", columns=("a",),
                                           reveal=("count", "min", "max")),
        "correlation (2 columns)": build(analysis="correlation", columns=("a", "b"),
                                         reveal=("correlation",)),
        "linear regression (2 features)": build(analysis="linear_regression", columns=("a", "b"),
                                                label="y", reveal=("coefficients", "intercept")),
        "DP histogram (2 bins)": build(analysis="histogram", columns=("a",), reveal=("counts",),
                                       params={"bins": (-20, 10, 40), "epsilon": 1.0}),
    }


def data(spec: JobSpec) -> list[Any]:
    rng = np.random.default_rng(7)
    a = rng.normal(10, 3, ROWS).round(2)
    columns = {"a": a, "b": (0.5 * a + rng.normal(0, 1, ROWS)).round(2),
               "y": (2 * a + rng.normal(0, 1, ROWS)).round(2)}
    wanted = [*spec.columns, *([spec.label] if spec.label else [])]
    return [registry.table_from_columns(spec, {c: columns[c][p::3].tolist() for c in wanted})
            for p in range(3)]


def timed(needs: Any, party: Callable[[Context], Any]) -> tuple[list[Any], float]:
    started = time.perf_counter()
    results = asyncio.run(run_local(3, party, needs=needs, sacrifice=False, timeout=3600))
    elapsed = time.perf_counter() - started
    for r in results:
        if isinstance(r, BaseException):
            raise r
    return results, elapsed


def calldata_gas(data: bytes) -> int:
    gas = 0
    for at in range(0, len(data), DATA_CHUNK):
        chunk = np.frombuffer(data[at:at + DATA_CHUNK], dtype=np.uint8)
        nonzero = int(np.count_nonzero(chunk))
        gas += 21_000 + 16 * nonzero + 4 * (len(chunk) - nonzero)
    return gas


def measure(spec: JobSpec) -> dict[str, Any]:
    tables = data(spec)

    async def plain(ctx: Context) -> dict[str, str]:
        return await registry.run(ctx, spec, tables[ctx.party])

    async def audited(ctx: Context) -> tuple[dict[str, str], program.Record]:
        return await program.run_party(ctx, spec, tables[ctx.party])

    _, plain_s = timed(registry.needs(spec), plain)
    results, audited_s = timed(routes.needs(spec), audited)
    result, record = results[0]
    tuples, transcript = curve.compress(record.commitments), record.transcript()
    started = time.perf_counter()  # The auditor's work from the published bytes.
    _, steps = program_audit.audit(spec, 3, program.Record.parse(tuples, transcript), result)
    audit_s = time.perf_counter() - started
    assert all(s.passed for s in steps), steps
    return {
        "plain_tuples": sum(n for _, n in registry.needs(spec)),
        "auditable_tuples": sum(n for _, n in routes.needs(spec)),
        "commitments": len(record.commitments), "opened": len(record.opened),
        "plain_s": round(plain_s, 2), "auditable_s": round(audited_s, 2),
        "ratio": round(audited_s / plain_s, 1),
        "overhead_vs_plain": round(audited_s / plain_s, 2),
        "tuples_bytes": len(tuples), "transcript_bytes": len(transcript),
        "calldata_bytes": len(tuples) + len(transcript),
        "calldata_gas": calldata_gas(tuples) + calldata_gas(transcript),
        "audit_s": round(audit_s, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="analyses to run (by the start of their name)")
    parser.add_argument("--json", action="store_true", help="end with one JSON object")
    args = parser.parse_args()
    out = {}
    for name, spec in specs().items():
        if args.only and not any(name.startswith(o) for o in args.only):
            continue
        out[name] = measure(spec)
        row = out[name]
        print(f"{name}: {row['plain_tuples']} -> {row['auditable_tuples']} tuples, "
              f"{row['commitments']} commitments, {row['opened']} opened; run "
              f"{row['plain_s']} s plain, {row['auditable_s']} s auditable ({row['ratio']}x); "
              f"published {row['tuples_bytes'] + row['transcript_bytes']:,} bytes, "
              f"{row['calldata_gas']:,} gas of calldata; audit {row['audit_s']} s", flush=True)
    if args.json:
        print(json.dumps({"parties": 3, "rows": ROWS, "analyses": out}))


if __name__ == "__main__":
    main()
