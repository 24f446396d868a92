"""Benchmark of the SPDZ engine core: 3 parties, in one process (in-memory) or over TLS.

    .venv/bin/python benchmarks/engine.py            # a table
    .venv/bin/python benchmarks/engine.py --json     # ... and one JSON object as last line
    .venv/bin/python benchmarks/engine.py --transport tls --json   # 3 processes over TLS

Measures multiplications per second (Beaver, vectors, MAC check included),
comparisons per second (x < y on signed 64-bit values: LTZ with preprocessed
bits, MAC checks included), fixed-point multiplications per second (k=64,
f=20: Beaver product and probabilistic truncation), triples generated and
sacrifice-checked per second (dealer, per-party batch serialisation, joint
sacrifice), rounds and bytes per operation, the memory of one million checked
triples held by one party, and the same workloads in MPyC (3 local parties,
secure numpy arrays of SecInt(64) and SecFxp(64, 20), started as ``-M3``
subprocesses by MPyC itself), and SPU's ABY3 when ``spu`` is installed
(``spu_aby3_*``: 3 processes over SPU's brpc link on loopback, int64 and
fixed point with f=20 in Z/2^64, median of 3 runs; see
benchmarks/_protocols_spu.py; else ``spu_aby3_unavailable`` says why).
Preprocessing is dealt before the clock starts
(without the sacrifice, which ``triples_per_s`` measures on its own).

``--pairs-ahead`` (with ``--transport tls``) builds the fixed-point products'
truncation pairs from their checked bits before the clock starts, as if
pairs were stored after the sacrifice; ``fxmul_pairs_ahead`` says so in the
output. A job builds them as it goes, so this is a bound on what storing
pairs would gain, not a figure of the engine.

``--transport tls``: the same workloads (benchmarks/_workloads.py) between three
processes (benchmarks/_tls_party.py) connected by ``connect_job`` (mutual TLS 1.3,
pinned certificates) on 127.0.0.1. This process makes three identities in a
temporary directory, deals every tuple the workloads need with one dealer in
batches of ``--batch-size``, seals each batch with HPKE (``seal_batch``) and
writes each party's delivery, chain record, and MAC key share to files. Each
party then takes delivery of every batch (read and parse, ``open_batch``
against the ``ChainBatch`` of ``chain_record()``, sacrifice over TLS, store in its
own SQLite ``TupleCache``), takes each workload's tuples from the cache and
runs it after a barrier. Timings are the slowest party's; rounds and bytes are
party 2's (``transport.stats``). The same keys are printed, plus
``transport: "tls"``, ``delivery_tuples_per_s`` (tuples read, opened, sacrificed
and stored per second, slowest party) with its breakdown (``delivery_*_s``),
and ``mpyc_transport``. In this mode ``triples_per_s`` counts the workloads'
triples dealt and sealed (``dealer_s``) then delivered (``sacrifice_s``: read,
open, sacrifice over TLS, store); ``mb_per_million_triples`` is measured in
this process as in the default mode. MPyC runs as three processes with
``-P 127.0.0.1:port ... -I i --ssl`` and certificates generated into a
temporary ``.config`` (its working directory); if that fails it runs over TCP
and ``mpyc_transport`` says why. Every child is killed on error or timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # The test harness (n parties in one process).
sys.path.insert(0, str(HERE))  # benchmarks/_workloads.py, shared with _tls_party.py


def bench_mul(size: int, reps: int) -> dict[str, float]:
    """``reps`` chained products of vectors of ``size`` elements, then the MAC check."""
    from _workloads import mul_workload

    from harness.local import run_local

    program, needs = mul_workload(size, reps)
    results = asyncio.run(run_local(3, program, needs=needs, sacrifice=False))
    elapsed = max(r[0] for r in results)  # type: ignore[index]
    _, mul_rounds, sent = results[2]  # type: ignore[misc]  # party 2 owns no input
    return {"mul_per_s": size * reps / elapsed, "rounds_per_mul_call": mul_rounds / reps,
            "bytes_per_mul": sent / (size * reps)}


def bench_cmp(size: int) -> dict[str, float]:
    """x < y elementwise on ``size`` signed 64-bit values, then the MAC check."""
    from _workloads import cmp_workload

    from harness.local import run_local

    program, needs = cmp_workload(size)
    results = asyncio.run(run_local(3, program, needs=needs, sacrifice=False))
    elapsed = max(r[0] for r in results)  # type: ignore[index]
    _, rounds, sent = results[2]  # type: ignore[misc]
    return {"cmp_vector": size, "cmp_per_s": size / elapsed, "rounds_per_cmp_call": rounds,
            "bytes_per_cmp": sent / size}


def bench_fxmul(size: int, reps: int) -> dict[str, float]:
    """``reps`` chained fixed-point products (k=64, f=20) of ``size`` elements, MAC check."""
    from _workloads import fxmul_workload

    from harness.local import run_local

    program, needs = fxmul_workload(size, reps)
    results = asyncio.run(run_local(3, program, needs=needs, sacrifice=False))
    elapsed = max(r[0] for r in results)  # type: ignore[index]
    _, rounds, sent = results[2]  # type: ignore[misc]
    return {"fxmul_vector": size, "fxmul_per_s": size * reps / elapsed,
            "rounds_per_fxmul_call": rounds / reps, "bytes_per_fxmul": sent / (size * reps)}


def bench_triples(count: int) -> dict[str, float]:
    """Dealer -> bytes -> parse -> joint sacrifice for ``count`` triples, 3 parties."""
    from offchain.engine.context import Context
    from offchain.engine.sacrifice import accept_batch
    from offchain.net.memory import MemoryNetwork, run_parties
    from offchain.preprocessing.dealer import Dealer
    from offchain.preprocessing.source import MemoryTupleSource
    from offchain.preprocessing.tuples import PartyBatch

    dealer, keys = Dealer.create(3)
    start = time.perf_counter()
    wire = [b.to_bytes() for b in dealer.triples(count)]
    dealt = time.perf_counter()

    def party(i: int):  # type: ignore[no-untyped-def]
        async def run(t):  # type: ignore[no-untyped-def]
            batch = PartyBatch.from_bytes(wire[i])
            return await accept_batch(Context(t, keys[i], MemoryTupleSource()), batch)
        return run

    results = asyncio.run(run_parties(MemoryNetwork(3), [party(i) for i in range(3)]))
    for r in results:
        if isinstance(r, BaseException):
            raise r
    end = time.perf_counter()
    return {"triples_per_s": count / (end - start), "dealer_s": dealt - start,
            "sacrifice_s": end - dealt}


def bench_memory(total: int, chunk: int) -> dict[str, float]:
    """Memory held by ``total`` checked triples of one party (tracemalloc sees numpy)."""
    from harness.dealing import unchecked
    from offchain.preprocessing.dealer import Dealer
    from offchain.preprocessing.source import MemoryTupleSource

    dealer, _ = Dealer.create(3)
    gc.collect()
    tracemalloc.start()
    source = MemoryTupleSource()
    for _ in range(total // chunk):
        source.add(unchecked(dealer.triples(chunk)[0]))
        gc.collect()
    held, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    scale = 1e6 / total / 2**20
    return {"mb_per_million_triples": held * scale, "peak_mb_while_loading": peak / 2**20}


def bench_mpyc(args: argparse.Namespace) -> dict[str, float]:
    """Runs this script as an MPyC worker with -M3 (MPyC spawns parties 1 and 2)."""
    port = 20000 + os.getpid() % 20000
    cmd = [sys.executable, __file__, "--mpyc-worker", "--size", str(args.size), "--reps",
           str(args.reps), "--cmp-size", str(args.cmp_size), "--fx-size", str(args.fx_size),
           "--fx-reps", str(args.fx_reps), "-M3", "-B", str(port), "--no-log"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=True)  # noqa: S603
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def mpyc_worker(args: argparse.Namespace) -> None:
    """One MPyC party; party 0 prints its timings as JSON."""
    import numpy as np
    from mpyc.runtime import mpc

    async def main() -> None:
        secint, secfxp = mpc.SecInt(64), mpc.SecFxp(64, 20)
        await mpc.start()
        size, reps = args.size, args.reps
        values = np.arange(size, dtype=object) % 1000
        x = mpc.input(secint.array(values), senders=0)
        y = mpc.input(secint.array(values), senders=1)
        await mpc.barrier()
        start = time.perf_counter()
        for _ in range(reps):
            x = x * y
        await mpc.output(x[0])
        mul_s = time.perf_counter() - start

        n = args.cmp_size
        ints = np.array([v - 2**62 for v in range(0, 2**63, 2**63 // n)][:n], dtype=object)
        a = mpc.input(secint.array(ints), senders=0)
        b = mpc.input(secint.array(-ints), senders=1)
        await mpc.barrier()
        start = time.perf_counter()
        await mpc.output((a < b)[0])
        cmp_s = time.perf_counter() - start

        m, fx_reps = args.fx_size, args.fx_reps
        u = mpc.input(secfxp.array(np.array([(i % 2000 - 1000) / 7 for i in range(m)])),
                      senders=0)
        v = mpc.input(secfxp.array(np.array([(-1.0) ** i for i in range(m)])), senders=1)
        await mpc.barrier()
        start = time.perf_counter()
        for _ in range(fx_reps):
            u = u * v
        await mpc.output(u[0])
        fx_s = time.perf_counter() - start
        await mpc.shutdown()
        if mpc.pid == 0:
            print(json.dumps({"mpyc_mul_per_s": size * reps / mul_s, "mpyc_cmp_per_s": n / cmp_s,
                              "mpyc_fxmul_per_s": m * fx_reps / fx_s}))

    mpc.run(main())


# --transport tls -------------------------------------------------------------------------
TLS_PASSPHRASE = b"mpcc engine benchmark (throwaway keys)"


class ChildFailure(RuntimeError):
    """A benchmark child process failed or timed out (its stderr is in the message)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason  # One line: what failed and the first failing child's last words.


class Children:
    """Child processes started by this benchmark: all killed (by pid) on error or timeout."""

    def __init__(self, timeout: float) -> None:
        self.procs: list[subprocess.Popen[str]] = []
        self.logs: list[Path] = []
        self.timeout = timeout
        self.timed_out = False
        self._watchdog = threading.Timer(timeout, self._expire)
        self._watchdog.daemon = True
        self._watchdog.start()

    def start(self, cmd: list[str], log: Path, cwd: Path | None = None,
              stdin: bool = False) -> subprocess.Popen[str]:
        with open(log, "w") as err:
            proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=err, text=True,  # noqa: S603
                                    stdin=subprocess.PIPE if stdin else subprocess.DEVNULL)
        self.procs.append(proc)
        self.logs.append(log)
        return proc

    def wait_all(self, procs: list[subprocess.Popen[str]]) -> list[str]:
        """Each process's stdout once all exited with status 0; at the first failure (or the
        deadline) every child is killed and ValueError raised, so no peer waits forever."""
        outputs: list[list[str]] = [[] for _ in procs]
        readers = [threading.Thread(target=lambda p=p, o=o: o.append(p.stdout.read()),
                                    daemon=True) for p, o in zip(procs, outputs, strict=True)]
        for reader in readers:
            reader.start()
        while True:
            codes = [p.poll() for p in procs]
            if any(c not in (None, 0) for c in codes):
                self.kill()
                raise ValueError("exit status " + ", ".join(str(c) for c in codes))
            if all(c == 0 for c in codes):
                break
            time.sleep(0.05)
        for reader in readers:
            reader.join(timeout=5)
        return ["".join(o) for o in outputs]

    def _expire(self) -> None:
        self.timed_out = True
        self.kill()

    def kill(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()

    def close(self) -> None:
        self._watchdog.cancel()
        self.kill()
        for proc in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
            for stream in (proc.stdin, proc.stdout):
                if stream is not None:
                    stream.close()

    def failure(self, what: str) -> ChildFailure:
        why = f"timed out after {self.timeout:g} s" if self.timed_out else "failed"
        tails, last_words = [], ""
        for i, (proc, log) in enumerate(zip(self.procs, self.logs, strict=True)):
            text = (log.read_text(errors="replace").strip().splitlines()[-15:]
                    if log.exists() else [])
            tails.append(f"--- child {i} (exit {proc.poll()}) stderr:\n" + "\n".join(text))
            if text and not last_words and proc.poll() not in (None, 0, -9):
                last_words = text[-1].strip()
        reason = f"{what} {why}" + (f": {last_words}" if last_words else "")
        return ChildFailure(f"{reason}\n" + "\n".join(tails), reason)

    def __enter__(self) -> Children:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def last_json(text: str) -> dict[str, Any]:
    lines = [line for line in text.strip().splitlines() if line.startswith("{")]
    if not lines:
        raise ValueError("no JSON line")
    return json.loads(lines[-1])  # type: ignore[no-any-return]


def write_parties(workdir: Path, keys: list[Any], passphrase: bytes) -> list[Any]:
    """Per party i: an identity in workdir/p{i}/identity, its MAC key share, an empty deliveries/.

    ``keys`` are the parties' MAC key shares (one per party, in order); the
    identities (offchain.identity.Identity) are returned in the same order.
    """
    from offchain import identity

    orgs = [identity.create(workdir / f"p{i}" / "identity", f"party{i}", "127.0.0.1:0",
                            passphrase) for i in range(len(keys))]
    for i, key in enumerate(keys):
        (workdir / f"p{i}" / "deliveries").mkdir(parents=True)
        path = workdir / f"p{i}" / "mac_key.json"
        path.touch(mode=0o600)
        path.write_text(json.dumps({"party": key.party, "alpha": str(key.alpha)}))
    return orgs


def deal_sealed(workdir: Path, dealer: Any, orgs: list[Any], needs: Any, batch_size: int
                ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every tuple of ``needs`` dealt in batches of ``batch_size`` (or fewer: at most what one
    batch of that kind may hold), sealed with HPKE and written to each party's deliveries/; the batches' entries of config.json and the dealer's times.

    The times are totals (``deal_s``, ``seal_s``, ``write_s``, ``triple_prep_s``: deal and
    seal of the triple batches) and ``triple_batch_prep_s``, deal and seal per triple batch.
    """
    from offchain.preprocessing.delivery import seal_batch
    from offchain.preprocessing.tuples import TupleKind, max_batch_count

    batches: list[dict[str, Any]] = []
    times: dict[str, Any] = {"deal_s": 0.0, "seal_s": 0.0, "write_s": 0.0, "triple_prep_s": 0.0,
                             "triple_batch_prep_s": []}
    for key, total in needs:
        size = min(batch_size, max_batch_count(key.kind))
        for offset in range(0, total, size):
            count = min(size, total - offset)
            t0 = time.perf_counter()
            parts = dealer.batch(key, count)
            t1 = time.perf_counter()
            sealed = seal_batch(parts, [o.hpke_public for o in orgs])
            del parts
            t2 = time.perf_counter()
            name = f"batch_{len(batches):04d}.bin"
            for i in range(len(orgs)):
                (workdir / f"p{i}" / "deliveries" / name).write_bytes(sealed.delivery(i).to_bytes())
            t3 = time.perf_counter()
            record = sealed.chain_record()
            batches.append({"file": name, "key": str(key), "batch_id": record.batch_id.hex(),
                            "kind": record.kind.name, "count": record.count,
                            "commitment": record.commitment.hex()})
            for step, dt in (("deal_s", t1 - t0), ("seal_s", t2 - t1), ("write_s", t3 - t2)):
                times[step] += dt
            if key.kind is TupleKind.TRIPLE:
                times["triple_prep_s"] += t2 - t0
                times["triple_batch_prep_s"].append(t2 - t0)
    return batches, times


def write_config(workdir: Path, orgs: list[Any], passphrase: bytes, timeout: float,
                 batches: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """workdir/config.json as ``_tls_party.run`` reads it (plus ``extra``); returns it."""
    cfg = {"job_id": os.urandom(32).hex(), "passphrase": passphrase.hex(),
           "fingerprints": [o.tls_fingerprint.hex() for o in orgs], "timeout": float(timeout),
           "batches": batches, **extra}
    (workdir / "config.json").write_text(json.dumps(cfg))
    return cfg


def prepare_tls(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Identities, a dealer, the job's batches sealed per party; config.json for the children."""
    from _workloads import workloads

    from offchain.preprocessing.dealer import Dealer
    from offchain.preprocessing.tuples import Needs

    cfg_workload = {"size": args.size, "reps": args.reps, "cmp_size": args.cmp_size,
                    "fx_size": args.fx_size, "fx_reps": args.fx_reps, "pairs_ahead": args.pairs_ahead}
    needs = sum((n for _, n in workloads(cfg_workload).values()), Needs())
    dealer, keys = Dealer.create(3)
    orgs = write_parties(workdir, keys, TLS_PASSPHRASE)
    batches, times = deal_sealed(workdir, dealer, orgs, needs, args.batch_size)
    write_config(workdir, orgs, TLS_PASSPHRASE, args.tls_timeout, batches, workload=cfg_workload)
    return {"needs": needs.as_dict(), "tuples_dealt": sum(b["count"] for b in batches),
            "batches": len(batches), "deal_s": times["deal_s"], "seal_s": times["seal_s"],
            "write_s": times["write_s"], "triple_prep_s": times["triple_prep_s"]}


#: Given the children and the parties' listening ports, the ports each party dials (row i: party i's).
Route = Callable[[Children, list[int]], list[list[int]]]


def run_tls_parties(workdir: Path, timeout: float, script: str = "_tls_party.py",
                    parties: int = 3, route: Route | None = None) -> list[dict[str, Any]]:
    """Starts the parties (``script``, next to this file, one process each), hands them the
    roster's ports (``route``'s rows if given, e.g. a shaping proxy's), returns their figures."""
    path = str(HERE / script)
    with Children(timeout) as children:
        procs = [children.start([sys.executable, path, str(workdir), str(i)],
                                workdir / f"party{i}.log", stdin=True) for i in range(parties)]
        try:
            ports = [int(json.loads(p.stdout.readline())["port"])  # type: ignore[union-attr]
                     for p in procs]
            rows = route(children, ports) if route else [ports] * parties
            for proc, row in zip(procs, rows, strict=True):
                proc.stdin.write(json.dumps({"ports": row}) + "\n")  # type: ignore[union-attr]
                proc.stdin.flush()  # type: ignore[union-attr]
            return [last_json(text) for text in children.wait_all(procs)]
        except (OSError, ValueError, KeyError) as err:
            children.kill()
            raise children.failure(f"the TLS parties ({err})") from err


def bench_tls(args: argparse.Namespace) -> dict[str, Any]:
    """The engine workloads between three processes over TLS on loopback (see the docstring)."""
    workdir = Path(tempfile.mkdtemp(prefix="mpcc-bench-tls-"))
    try:
        prep = prepare_tls(args, workdir)
        results = run_tls_parties(workdir, args.tls_timeout)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    def slowest(name: str) -> float:
        return max(r[name]["elapsed_s"] for r in results)

    observer = results[2]  # Party 2 owns no input (as in the in-memory mode).
    size, reps = args.size, args.reps
    triples = observer["triples_delivered"]
    sacrifice_s = max(r["triple_delivery_s"] for r in results)
    delivery_s = max(r["delivery_s"] for r in results)
    out: dict[str, Any] = {
        "mul_per_s": size * reps / slowest("mul"),
        "rounds_per_mul_call": observer["mul"]["rounds"] / reps,
        "bytes_per_mul": observer["mul"]["bytes_sent"] / (size * reps),
        "cmp_vector": args.cmp_size, "cmp_per_s": args.cmp_size / slowest("cmp"),
        "rounds_per_cmp_call": observer["cmp"]["rounds"],
        "bytes_per_cmp": observer["cmp"]["bytes_sent"] / args.cmp_size,
        "fxmul_vector": args.fx_size, "fxmul_per_s": args.fx_size * args.fx_reps / slowest("fxmul"),
        "fxmul_pairs_ahead": args.pairs_ahead,
        "rounds_per_fxmul_call": observer["fxmul"]["rounds"] / args.fx_reps,
        "bytes_per_fxmul": observer["fxmul"]["bytes_sent"] / (args.fx_size * args.fx_reps),
        # Dealt, sealed (parent), then read, opened, sacrificed over TLS and stored (children).
        "triples_per_s": triples / (prep["triple_prep_s"] + sacrifice_s),
        "dealer_s": prep["triple_prep_s"], "sacrifice_s": sacrifice_s,
        "triples_measured": triples,
        "delivery_tuples_per_s": observer["delivery_tuples"] / delivery_s,
        "delivery_tuples": observer["delivery_tuples"], "delivery_batches": prep["batches"],
        "delivery_batch_size": args.batch_size, "delivery_s": delivery_s,
    }
    for step in ("fetch", "open", "sacrifice", "store"):
        out[f"delivery_{step}_s"] = max(r[f"{step}_s"] for r in results)
    out["take_from_cache_s"] = max(sum(r[f"{w}_take_s"] for w in ("mul", "cmp", "fxmul"))
                                   for r in results)
    out["seal_tuples_per_s"] = prep["tuples_dealt"] / prep["seal_s"]
    out["tls_connect_s"] = max(r["connect_s"] for r in results)
    out["tls_bytes_sent_party2"] = observer["traffic"]["bytes_sent"]
    out["tls_rounds_party2"] = observer["traffic"]["rounds"]
    return out


def write_mpyc_certificates(directory: Path, n: int) -> None:
    """A CA and party_{i}.crt/.key signed by it in directory/.config, as ``mpyc --ssl`` reads.

    MPyC 0.11 (runtime.start) loads .config/party_{pid}.crt, .config/party_{pid}.key
    (unencrypted) and .config/mpyc_ca.crt relative to the working directory, requires
    client certificates, and checks the server's name as "MPyC party {pid}".
    """
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    config = directory / ".config"
    config.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)

    def name(text: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])

    def pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
        return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = (x509.CertificateBuilder().subject_name(name("MPyC CA")).issuer_name(name("MPyC CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                       False), critical=True)
          .add_extension(ca_ski, critical=False)
          .sign(ca_key, hashes.SHA256()))
    (config / "mpyc_ca.crt").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    for i in range(n):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder().subject_name(name(f"MPyC party {i}"))
                .issuer_name(ca.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(f"MPyC party {i}")]),
                               critical=False)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                      ExtendedKeyUsageOID.CLIENT_AUTH]),
                               critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                    ca_ski), critical=False)
                .sign(ca_key, hashes.SHA256()))
        (config / f"party_{i}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        path = config / f"party_{i}.key"
        path.touch(mode=0o600)
        path.write_bytes(pem_key(key))


def free_ports(n: int) -> list[int]:
    """n distinct free TCP ports on 127.0.0.1 (free when asked; MPyC binds them itself)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def bench_mpyc_processes(args: argparse.Namespace, use_ssl: bool) -> dict[str, float]:
    """The MPyC workloads as three processes started here (-P 127.0.0.1:port ... -I i)."""
    workdir = Path(tempfile.mkdtemp(prefix="mpcc-bench-mpyc-"))
    try:
        if use_ssl:
            write_mpyc_certificates(workdir, 3)
        addresses = [a for port in free_ports(3) for a in ("-P", f"127.0.0.1:{port}")]
        base = [sys.executable, str(Path(__file__).resolve()), "--mpyc-worker", "--size",
                str(args.size), "--reps", str(args.reps), "--cmp-size", str(args.cmp_size),
                "--fx-size", str(args.fx_size), "--fx-reps", str(args.fx_reps), *addresses,
                "--no-log"] + (["--ssl"] if use_ssl else [])
        with Children(args.mpyc_timeout) as children:
            procs = [children.start([*base, "-I", str(i)], workdir / f"mpyc{i}.log", cwd=workdir)
                     for i in range(3)]
            try:
                return last_json(children.wait_all(procs)[0])
            except (OSError, ValueError) as err:
                children.kill()
                raise children.failure(f"MPyC ({'ssl' if use_ssl else 'tcp'}: {err})") from err
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def bench_mpyc_tls_mode(args: argparse.Namespace) -> dict[str, Any]:
    """MPyC with --ssl in three processes; over plain TCP (said so) if --ssl cannot run."""
    try:
        figures: dict[str, Any] = dict(bench_mpyc_processes(args, use_ssl=True))
        figures["mpyc_transport"] = "ssl (3 processes, --ssl, TLS on loopback)"
    except ChildFailure as err:
        reason = err.reason
        print(f"MPyC with --ssl failed, falling back to TCP: {err}", file=sys.stderr)
        figures = dict(bench_mpyc_processes(args, use_ssl=False))
        figures["mpyc_transport"] = f"tcp (ssl unavailable: {reason})"
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description="engine benchmark (3 parties)")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    parser.add_argument("--size", type=int, default=100_000, help="vector length per mul")
    parser.add_argument("--reps", type=int, default=5, help="chained multiplications")
    parser.add_argument("--triples", type=int, default=200_000, help="triples to generate")
    parser.add_argument("--memory-triples", type=int, default=1_000_000)
    parser.add_argument("--cmp-size", type=int, default=5_000, help="comparisons")
    parser.add_argument("--fx-size", type=int, default=10_000, help="vector length per fx mul")
    parser.add_argument("--fx-reps", type=int, default=2, help="chained fixed-point muls")
    parser.add_argument("--pairs-ahead", action="store_true",
                        help="tls: build the fixed-point products' truncation pairs from their bits before the "
                        "clock starts (what storing pairs would save; not what a job does)")
    parser.add_argument("--no-mpyc", action="store_true", help="skip the MPyC comparison")
    parser.add_argument("--no-spu", action="store_true", help="skip SPU's ABY3 (run when spu is installed)")
    parser.add_argument("--transport", choices=("memory", "tls"), default="memory",
                        help="memory: 3 parties in this process (default); tls: 3 processes "
                        "over TLS on 127.0.0.1, MPyC as 3 processes with --ssl")
    parser.add_argument("--batch-size", type=int, default=100_000,
                        help="tls: tuples per sealed batch delivered (at most what one batch of the kind may hold)")
    parser.add_argument("--tls-timeout", type=float, default=150.0,
                        help="tls: seconds before the child processes are killed")
    parser.add_argument("--mpyc-timeout", type=float, default=90.0,
                        help="tls: seconds before the MPyC processes are killed")
    parser.add_argument("--mpyc-worker", action="store_true", help=argparse.SUPPRESS)
    args, _ = parser.parse_known_args()
    if args.mpyc_worker:
        mpyc_worker(args)
        return 0
    if args.transport == "tls":
        return main_tls(args)
    from offchain.field import BACKEND

    figures: dict[str, object] = {"parties": 3, "field_backend": BACKEND,
                                  "mul_vector": args.size, "mul_reps": args.reps}
    figures.update(bench_mul(args.size, args.reps))
    figures.update(bench_cmp(args.cmp_size))
    figures.update(bench_fxmul(args.fx_size, args.fx_reps))
    figures.update(bench_triples(args.triples))
    figures.update(bench_memory(args.memory_triples, min(args.memory_triples, 250_000)))
    ratios = (("mul", "mul"), ("cmp", "cmp"), ("fxmul", "fxmul"))
    if args.no_mpyc:
        for ours, _ in ratios:
            figures[f"mpyc_{ours}_per_s"] = figures[f"{ours}_ratio_vs_mpyc"] = None
    else:
        figures.update(bench_mpyc(args))
        for ours, theirs in ratios:
            figures[f"{ours}_ratio_vs_mpyc"] = (figures[f"{ours}_per_s"]  # type: ignore[operator]
                                                / figures[f"mpyc_{theirs}_per_s"])
    add_spu_aby3(figures, args)
    show(figures, args.json)
    return 0


def add_spu_aby3(figures: dict[str, object], args: argparse.Namespace) -> None:
    """SPU's ABY3 on the same workloads (3 processes on loopback, benchmarks/_protocols_spu.py) beside MPyC's:
    ``spu_aby3_{mul,cmp,fxmul}_per_s`` and their ratio to MPyC's, or ``spu_aby3_unavailable`` (no spu, --no-spu)."""
    if args.no_spu:
        figures["spu_aby3_unavailable"] = "skipped (--no-spu)"
        return
    from _protocols_spu import engine_figures

    figures.update(engine_figures(args))
    for op in ("mul", "cmp", "fxmul"):
        ours, mpyc = figures.get(f"spu_aby3_{op}_per_s"), figures.get(f"mpyc_{op}_per_s")
        if isinstance(ours, float) and isinstance(mpyc, float):
            figures[f"spu_aby3_{op}_ratio_vs_mpyc"] = ours / mpyc


def show(figures: dict[str, object], as_json: bool) -> None:
    for key, value in figures.items():
        shown = f"{value:,.2f}" if isinstance(value, float) else str(value)
        print(f"{key:<26} {shown:>16}")
    if as_json:
        print(json.dumps(figures))


def main_tls(args: argparse.Namespace) -> int:
    """``--transport tls``: the same keys, from three processes over TLS; MPyC with --ssl."""
    from offchain.field import BACKEND

    figures: dict[str, object] = {"parties": 3, "field_backend": BACKEND, "transport": "tls",
                                  "mul_vector": args.size, "mul_reps": args.reps}
    try:
        figures.update(bench_tls(args))
    except ChildFailure as err:
        print(f"engine over TLS: {err}", file=sys.stderr)
        return 1
    figures.update(bench_memory(args.memory_triples, min(args.memory_triples, 250_000)))
    ratios = ("mul", "cmp", "fxmul")
    if args.no_mpyc:
        figures["mpyc_transport"] = None
        for ours in ratios:
            figures[f"mpyc_{ours}_per_s"] = figures[f"{ours}_ratio_vs_mpyc"] = None
    else:
        try:
            figures.update(bench_mpyc_tls_mode(args))
        except ChildFailure as err:
            print(f"MPyC: {err}", file=sys.stderr)
            return 1
        for ours in ratios:
            figures[f"{ours}_ratio_vs_mpyc"] = (figures[f"{ours}_per_s"]  # type: ignore[operator]
                                                / figures[f"mpyc_{ours}_per_s"])
    add_spu_aby3(figures, args)
    show(figures, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
