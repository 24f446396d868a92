"""The protocol table's MPyC rows: Shamir secret sharing (BGW-style multiplication), 3 processes with ``--ssl``.

    python benchmarks/_protocols_mpyc.py --workload W --spec JSON --repeats K -P host:port ... -I i [--ssl]

(started three times by :func:`run`; not run by hand). Workloads, as ours:
``mul`` (``reps`` chained products of two SecInt(64) arrays of ``size``,
inputs by parties 0 and 1 before the clock), ``cmp`` (x < y on ``size``
signed 64-bit SecInt(64) values, inputs before the clock), ``mean`` (each
party inputs its incomes as a SecFxp(64, 20) array, timed; the sum divided
by the public count; the mean output). Per repeat, after a barrier, timed
until ``mpc.output`` of one value of the result returns (MPyC evaluates a
secure array as one value, so the whole array is computed): wall clock, this
process's CPU time, the bytes it sent to its peers (MPyC's own counters,
``protocol.nbytes_sent``, 12 bytes of header per message included), and its
send phases: a send after a receive starts a new one, as our transports count
rounds (MPyC counts none; the count wraps its protocol's ``send`` and
``data_received``). Party i prints its figures as JSON on its last line.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from engine import ChildFailure, Children, free_ports, last_json, write_mpyc_certificates  # noqa: E402

SECURITY = ("semi-honest, honest majority (Shamir secret sharing, t < n/2: 1 of 3; BGW-style multiplication "
            "with resharing; no preprocessing)")


class Phases:
    """Counts one party's send phases: a message sent after one was received starts a new phase."""

    def __init__(self) -> None:
        self.count = 0
        self.messages = 0
        self._received = True

    def wrap(self, exchanger: type) -> None:
        """Counts through ``exchanger``'s methods (MPyC's MessageExchanger has slots: the class is wrapped,
        in this party's process only)."""
        send, received = exchanger.send, exchanger.data_received  # type: ignore[attr-defined]
        phases = self

        def counted_send(protocol: Any, *args: Any, **kwargs: Any) -> Any:
            phases.messages += 1
            if phases._received:
                phases.count += 1
                phases._received = False
            return send(protocol, *args, **kwargs)

        def counted_received(protocol: Any, data: bytes) -> Any:
            phases._received = True
            return received(protocol, data)

        exchanger.send, exchanger.data_received = counted_send, counted_received  # type: ignore[attr-defined]


def worker(args: argparse.Namespace) -> None:
    """One MPyC party: the workload ``repeats`` times; party i prints its figures."""
    import numpy as np
    from mpyc.asyncoro import MessageExchanger
    from mpyc.runtime import mpc

    spec = json.loads(args.spec)
    secint, secfxp = mpc.SecInt(64), mpc.SecFxp(64, 20)
    phases = Phases()
    phases.wrap(MessageExchanger)

    def sent() -> int:
        return sum(p.protocol.nbytes_sent for p in mpc.parties if p.pid != mpc.pid)

    async def inputs() -> tuple[Any, Any]:
        if args.workload == "mul":
            values = np.arange(spec["size"], dtype=object) % 1000
            x, y = secint.array(values), secint.array(values)
        else:
            n = spec["size"]
            ints = np.array([v - 2**62 for v in range(0, 2**63, 2**63 // n)][:n], dtype=object)
            x, y = secint.array(ints), secint.array(-ints)
        return mpc.input(x, senders=0), mpc.input(y, senders=1)

    async def once(x: Any, y: Any) -> Any:
        if args.workload == "mul":
            for _ in range(spec["reps"]):
                x = x * y
            return await mpc.output(x[0])
        if args.workload == "cmp":
            return await mpc.output((x < y)[0])
        else:
            mine = secfxp.array(np.array(spec["incomes"][mpc.pid], dtype=float))
            columns = mpc.input(mine, senders=list(range(len(mpc.parties))))
            total = sum(c.sum() for c in columns)
            return await mpc.output(total / sum(len(c) for c in spec["incomes"]))

    async def main() -> None:
        await mpc.start()
        x, y = (await inputs()) if args.workload != "mean" else (None, None)
        runs = []
        for _ in range(args.repeats):
            await mpc.barrier()
            wall, cpu, before = time.perf_counter(), time.process_time(), sent()
            count, messages = phases.count, phases.messages
            result = await once(x, y)
            runs.append({"result": str(result), "elapsed_s": time.perf_counter() - wall,
                         "cpu_s": time.process_time() - cpu,
                         "bytes_sent": sent() - before, "send_phases": phases.count - count,
                         "messages_sent": phases.messages - messages})
        await mpc.shutdown()
        print(json.dumps({"party": mpc.pid, "runs": runs}), flush=True)

    mpc.run(main())


def run(workload: str, spec: dict[str, Any], repeats: int, timeout: float) -> tuple[list[dict[str, Any]], str]:
    """The workload in three MPyC processes with ``--ssl`` (over TCP if that fails, said so): each
    party's figures and the transport used."""
    try:
        return _processes(workload, spec, repeats, timeout, use_ssl=True), "TLS (mpyc --ssl), 3 processes"
    except ChildFailure as err:
        print(f"MPyC with --ssl failed, falling back to TCP: {err}", file=sys.stderr)
        return (_processes(workload, spec, repeats, timeout, use_ssl=False),
                f"TCP (--ssl failed: {err.reason}), 3 processes")


def _processes(workload: str, spec: dict[str, Any], repeats: int, timeout: float,
               use_ssl: bool) -> list[dict[str, Any]]:
    workdir = Path(tempfile.mkdtemp(prefix="mpcc-bench-protocols-mpyc-"))
    try:
        if use_ssl:
            write_mpyc_certificates(workdir, 3)
        addresses = [a for port in free_ports(3) for a in ("-P", f"127.0.0.1:{port}")]
        base = [sys.executable, str(Path(__file__).resolve()), "--workload", workload, "--spec", json.dumps(spec),
                "--repeats", str(repeats), *addresses, "--no-log"] + (["--ssl"] if use_ssl else [])
        with Children(timeout) as children:
            procs = [children.start([*base, "-I", str(i)], workdir / f"mpyc{i}.log", cwd=workdir)
                     for i in range(3)]
            try:
                return [last_json(text) for text in children.wait_all(procs)]
            except (OSError, ValueError) as err:
                children.kill()
                raise children.failure(f"MPyC {workload} ({'ssl' if use_ssl else 'tcp'}: {err})") from err
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description="one MPyC party (started by benchmarks/protocols.py)")
    parser.add_argument("--workload", choices=("mul", "cmp", "mean"), required=True)
    parser.add_argument("--spec", required=True, help="the workload's sizes as JSON")
    parser.add_argument("--repeats", type=int, default=3)
    args, _ = parser.parse_known_args()  # MPyC reads its own options (-P, -I, --ssl, ...).
    worker(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
