"""SPU's protocols (SecretFlow, PyPI ``spu``) as separate processes on loopback: ABY3, SEMI2K and CHEETAH.

    .venv/bin/pip install spu==0.9.5        # or: pip install -e ".[spu]" (Python 3.11 only, ~160 MB of wheels)

Used by ``benchmarks/protocols.py`` and ``benchmarks/engine.py``; a child runs
this file as ``python _protocols_spu.py --party RANK ...`` (not by hand). The
parent never imports ``spu``: without it, :func:`unavailable` gives the reason
and the install command, and the callers print ``"available": false`` rows.

Each party process opens SPU's brpc link to the others on 127.0.0.1
(``libspu.link.create_brpc``), makes an SPU ``Runtime`` with field FM64 (the
ring Z/2^64) and 20 fractional bits for fixed point, and compiles the
workload's jax function itself (off the clock). Inputs, off the clock too:
the owner of each input makes its shares (``Io.make_shares``) and sends every
other party its share over the link. Then per repeat: a link barrier and
``Runtime.run``, timed (wall clock, and this process's CPU time with all its
threads). With ``enable_pphlo_profile`` set, SPU logs after every run one line
``Link details: total send bytes B, recv bytes R, send actions A, recv
actions Q``: the parent reads B (bytes this party sent) and A (its send
calls; SPU 0.9.5 counts no rounds) from the child's stderr. After the last
run the output's shares are gathered at party 0 and reconstructed, and
checked against numpy: a wrong result fails the benchmark.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from engine import ChildFailure, Children, free_ports, last_json  # noqa: E402

INSTALL = ".venv/bin/pip install spu==0.9.5  (or pip install -e '.[spu]'; Python 3.11)"
PARTIES = {"ABY3": 3, "SEMI2K": 3, "CHEETAH": 2}
SECURITY = {
    "ABY3": "semi-honest, honest majority (3 parties, replicated secret sharing over Z/2^64; at most 1 corrupt)",
    "SEMI2K": "semi-honest, dishonest majority (additive sharing over Z/2^64); Beaver triples from a trusted "
              "first party (SPU's default beaver_type TrustedFirstParty: party 0 deals them, so it must not "
              "collude)",
    "CHEETAH": "semi-honest, 2 parties only (additive sharing over Z/2^64; HE for products, silent OT for "
               "comparisons)",
}
FRACTION_BITS = 20
_LINK = re.compile(r"Link details: total send bytes (\d+), recv bytes (\d+), send actions (\d+), recv actions (\d+)")


def unavailable() -> str | None:
    """Why SPU cannot run here (None if it can)."""
    if sys.version_info[:2] != (3, 11):
        return f"spu 0.9.5 has wheels for CPython 3.11 only (this is {sys.version.split()[0]})"
    if importlib.util.find_spec("spu") is None:
        return f"spu is not installed; install it with: {INSTALL}"
    return None


# The workloads, as plain data every party derives alike ----------------------------------------
def inputs(workload: str, spec: dict[str, Any]) -> list[np.ndarray]:
    """The workload's inputs in order; input i is owned by party i mod n."""
    if workload == "mul":
        size = spec["size"]
        return [np.arange(size, dtype=np.int64) % 1000, np.arange(size, dtype=np.int64) % 997]
    if workload == "cmp":
        size = spec["size"]
        values = np.array([v - 2**62 for v in range(0, 2**63, 2**63 // size)][:size], dtype=np.int64)
        return [values, -values]
    if workload == "fxmul":
        size = spec["size"]
        return [np.array([(i % 2000 - 1000) / 7 for i in range(size)]), np.array([(-1.0) ** i for i in range(size)])]
    return [np.array(column, dtype=np.float64) for column in spec["incomes"]]  # mean: one input per holder


def function(workload: str, spec: dict[str, Any]) -> Any:
    """The workload as a jax function of its inputs (jnp imported by the party only)."""
    import jax.numpy as jnp

    reps = spec.get("reps", 1)

    def chained(x: Any, y: Any) -> Any:
        for _ in range(reps):
            x = x * y
        return x

    if workload in ("mul", "fxmul"):
        return chained
    if workload == "cmp":
        return lambda x, y: x < y
    return lambda *columns: jnp.mean(jnp.concatenate(columns))


def expected(workload: str, spec: dict[str, Any]) -> np.ndarray:
    """What the party's reconstructed output must be (mod 2^64 for integers; close for fixed point)."""
    values = inputs(workload, spec)
    if workload == "mean":
        return np.array(np.concatenate(values).mean())
    if workload == "cmp":
        return values[0] < values[1]
    x, y = values
    with np.errstate(over="ignore"):
        for _ in range(spec.get("reps", 1)):
            x = x * y
    return x


# The party (child process) -----------------------------------------------------------------------
def _share_bytes(share: Any) -> str:
    return json.dumps([share.meta.hex(), [chunk.hex() for chunk in share.share_chunks]])


def _share_from(text: str | bytes, libspu: Any) -> Any:
    meta, chunks = json.loads(text)
    share = libspu.Share()
    share.meta = bytes.fromhex(meta)
    share.share_chunks = [bytes.fromhex(c) for c in chunks]
    return share


def party(args: argparse.Namespace) -> None:
    """One SPU party: link, runtime, compile, inputs, timed runs, checked output (see the docstring)."""
    import jax

    jax.config.update("jax_enable_x64", True)
    import spu.api as spu_api
    import spu.libspu as libspu
    from spu.utils import frontend

    spec, n, me = json.loads(args.spec), len(args.ports.split(",")), args.party
    desc = libspu.link.Desc()
    desc.recv_timeout_ms = 120_000
    for i, port in enumerate(args.ports.split(",")):
        desc.add_party(f"p{i}", f"127.0.0.1:{port}")
    link = libspu.link.create_brpc(desc, me)
    config = libspu.RuntimeConfig(protocol=getattr(libspu.ProtocolKind, args.protocol),
                                  field=libspu.FieldType.FM64)
    config.fxp_fraction_bits = FRACTION_BITS
    config.enable_pphlo_profile = True  # Logs the link's counters after every run.
    runtime, io = spu_api.Runtime(link, config), spu_api.Io(n, config)
    values = inputs(args.workload, spec)
    names = [f"in{i}" for i in range(len(values))]
    executable, _ = frontend.compile(frontend.Kind.JAX, function(args.workload, spec), tuple(values), {}, names,
                                     [libspu.Visibility.VIS_SECRET] * len(values), lambda out: ["out"])
    for i, (name, value) in enumerate(zip(names, values, strict=True)):
        owner = i % n
        if me == owner:
            shares = io.make_shares(value, libspu.Visibility.VIS_SECRET)
            for j in range(n):
                if j != me:
                    link.send(j, _share_bytes(shares[j]))
            runtime.set_var(name, shares[me])
        else:
            runtime.set_var(name, _share_from(link.recv(owner), libspu))
    runs = []
    for _ in range(args.repeats):
        link.barrier()
        wall, cpu = time.perf_counter(), time.process_time()
        runtime.run(executable)
        runs.append({"elapsed_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu})
        sys.stderr.flush()
    gathered = link.gather(_share_bytes(runtime.get_var("out")), 0)
    out: dict[str, Any] = {"party": me, "runs": runs}
    if me == 0:
        result = io.reconstruct([_share_from(g, libspu) for g in gathered])
        want = expected(args.workload, spec)
        exact = args.workload in ("mul", "cmp")
        out["correct"] = bool(np.array_equal(result, want) if exact
                              else np.allclose(result, want, rtol=1e-3, atol=1e-2))
        out["sample"] = np.asarray(result).ravel()[:1].tolist()
    link.barrier()
    print(json.dumps(out), flush=True)
    # Leave the peers time to finish the barrier, then skip the link's teardown, which can fail
    # (exit status 255) when a peer's server stops first.
    time.sleep(1.0)
    sys.stderr.flush()
    os._exit(0)


# The parent side --------------------------------------------------------------------------------
def link_counters(text: str) -> list[tuple[int, int]]:
    """(bytes sent, send actions) of every run in a party's log (SPU logs to stdout), in order."""
    return [(int(m.group(1)), int(m.group(3))) for m in _LINK.finditer(text)]


def run(protocol: str, workload: str, spec: dict[str, Any], repeats: int, timeout: float) -> list[dict[str, Any]]:
    """The workload in ``PARTIES[protocol]`` processes, ``repeats`` runs; per party its runs with the
    link's bytes and send actions added. Raises engine.ChildFailure (every child killed) on failure."""
    n = PARTIES[protocol]
    workdir = Path(tempfile.mkdtemp(prefix=f"mpcc-bench-spu-{protocol.lower()}-"))
    try:
        ports = ",".join(str(p) for p in free_ports(n))
        base = [sys.executable, str(Path(__file__).resolve()), "--party", "0", "--protocol", protocol,
                "--ports", ports, "--workload", workload, "--spec", json.dumps(spec), "--repeats", str(repeats)]
        with Children(timeout) as children:
            procs = [children.start([*base[:3], str(i), *base[4:]], workdir / f"spu{i}.log") for i in range(n)]
            outputs: list[str] = []
            try:
                outputs = children.wait_all(procs)
                parties = [last_json(text) for text in outputs]
            except (OSError, ValueError) as err:
                children.kill()
                raise children.failure(f"SPU {protocol} {workload} ({err})") from err
            for i, figures in enumerate(parties):
                counters = link_counters(outputs[i])
                if len(counters) != repeats:
                    raise children.failure(f"SPU {protocol}: {len(counters)} link records for {repeats} runs")
                for one, (sent, actions) in zip(figures["runs"], counters, strict=True):
                    one.update(bytes_sent=sent, send_actions=actions)
        if not parties[0]["correct"]:
            raise ValueError(f"SPU {protocol} {workload}: wrong result (first value {parties[0]['sample']})")
        parties[0]["runs"][-1]["sample"] = parties[0]["sample"][0]
        return parties
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def engine_figures(args: argparse.Namespace) -> dict[str, Any]:
    """``spu_aby3_{mul,cmp,fxmul}_per_s`` for benchmarks/engine.py's sizes (median of 3 runs, slowest party),
    or ``spu_aby3_unavailable`` with the reason."""
    reason = unavailable()
    if reason is not None:
        return {"spu_aby3_unavailable": reason}
    work = {"mul": ({"size": args.size, "reps": args.reps}, args.size * args.reps),
            "cmp": ({"size": args.cmp_size}, args.cmp_size),
            "fxmul": ({"size": args.fx_size, "reps": args.fx_reps}, args.fx_size * args.fx_reps)}
    out: dict[str, Any] = {"spu_aby3_transport": "brpc over TCP on 127.0.0.1 (3 processes, no TLS)"}
    try:
        for name, (spec, ops) in work.items():
            parties = run("ABY3", name, spec, 3, args.mpyc_timeout)
            runs = zip(*(p["runs"] for p in parties), strict=True)
            out[f"spu_aby3_{name}_per_s"] = ops / statistics.median(max(r["elapsed_s"] for r in rs) for rs in runs)
    except (ChildFailure, ValueError) as err:
        return {"spu_aby3_unavailable": f"SPU ABY3 failed: {str(err).splitlines()[0]}"}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description="one SPU party (started by benchmarks/protocols.py)")
    parser.add_argument("--party", type=int, required=True)
    parser.add_argument("--protocol", choices=sorted(PARTIES), required=True)
    parser.add_argument("--ports", required=True, help="the parties' ports on 127.0.0.1, comma-separated")
    parser.add_argument("--workload", choices=("mul", "cmp", "fxmul", "mean"), required=True)
    parser.add_argument("--spec", required=True, help="the workload's sizes as JSON")
    parser.add_argument("--repeats", type=int, default=3)
    party(parser.parse_args())
    return 0


if __name__ == "__main__":
    sys.exit(main())
