"""A consortium of separate processes on `npx hardhat node`, for end-to-end tests and benchmarks.

:class:`Cluster` runs the CLI as a user would (``mpcc org init``, ``deploy``,
``org join``/``approve``, ``preprocess serve``, ``peer run``, ``job ...``), keeps
each long-running process's log in a file, and reads chain state and the
peers' caches directly for the assertions.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.nodes import free_port

ROOT = Path(__file__).resolve().parents[2]
#: The installed entry point beside the interpreter running the tests (any virtual environment).
MPCC = str(Path(sys.executable).parent / "mpcc")
PASSPHRASE = "e2e test passphrase, not a secret"
SERVICE_ACCOUNT = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"  # account #1 of the public Hardhat mnemonic
NAMES = ("Party A", "Party B", "Party C")
TAGS = ("a", "b", "c")


def _mean_spec() -> Any:
    from offchain.analytics.spec import JobSpec

    return JobSpec(analysis="mean", column="income", reveal=("count", "mean"),
                   participants=tuple("0x" + f"{i + 1:040x}" for i in range(3)))


def mean_needs(jobs: int = 1) -> dict[str, int]:
    """The tuples ``jobs`` mean-income jobs of three parties take: input masks, and the bits,
    triples and truncation pairs that range-check the inputs (cache keys, as ``Cluster.stock``)."""
    from offchain.auditable import routes

    return {str(key): n * jobs for key, n in routes.needs(_mean_spec())}


def mean_stock(jobs: int = 1, extra: str = "") -> str:
    """A ``preprocess serve --stock`` value for ``jobs`` mean-income jobs, plus the levels in ``extra``."""
    from mpcc.cli.commands import stock_text
    from offchain.auditable import routes

    levels: dict[str, int] = {}
    for text, times in ((stock_text(routes.needs(_mean_spec())), jobs), (extra, 1)):
        for item in filter(None, text.split(",")):
            name, _, n = item.partition("=")
            levels[name] = levels.get(name, 0) + int(n) * times
    return ",".join(f"{name}={n}" for name, n in levels.items())


def wait_until(what: str, check: Callable[[], Any], timeout: float, every: float = 0.3) -> Any:
    """Polls ``check`` until it returns something truthy; fails naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class Cluster:
    """Three organisations, the service and three peer daemons, each its own process."""

    workdir: Path
    rpc: str
    service_port: int = field(default_factory=free_port)
    ports: list[int] = field(default_factory=lambda: [free_port() for _ in NAMES])
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    accounts: list[str] = field(default_factory=list)
    #: The peers' timing settings (short for tests; a real chain wants the defaults of mpcc.peer.config).
    settings: str = "timeout_s = 15\nconnect_timeout_s = 6\npoll_s = 0.3\n"
    command_timeout: float = 120  # Seconds a CLI command may take (a deployment waits for ~10 blocks).
    #: The members make their own tuples (``make`` in the peers' configurations): no service at all.
    made_by_members: bool = False

    @property
    def manifest(self) -> Path:
        return self.workdir / "deployment.json"

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "MPCC_PASSPHRASE": PASSPHRASE, "MPCC_RPC": self.rpc,
                "MPCC_MANIFEST": str(self.manifest)}

    def home(self, i: int) -> Path:
        return self.workdir / f"org-{TAGS[i]}"

    def config(self, i: int) -> Path:
        return self.workdir / f"{TAGS[i]}.toml"

    def cache(self, i: int) -> Path:
        return self.workdir / f"{TAGS[i]}-tuples.sqlite"

    def log(self, name: str) -> Path:
        return self.workdir / f"{name}.log"

    def mpcc(self, *args: str, check: bool = True, timeout: float | None = None) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([MPCC, *args], capture_output=True, text=True, env=self.env, cwd=self.workdir,
                              timeout=timeout or self.command_timeout)
        if check and done.returncode != 0:
            raise AssertionError(f"mpcc {' '.join(args)} exited {done.returncode}: {done.stderr}")
        return done

    def mpcc_json(self, *args: str, timeout: float | None = None) -> Any:
        return json.loads(self.mpcc(*args, "--json", timeout=timeout).stdout.strip().splitlines()[-1])

    # Setting up -------------------------------------------------------------------------

    def form(self) -> None:
        """Keys for three organisations; A bootstrapped at deployment, B and C join and are approved."""
        for i, name in enumerate(NAMES):
            made = self.mpcc_json("org", "init", "--home", str(self.home(i)), "--name", name,
                                  "--endpoint", f"127.0.0.1:{self.ports[i]}")
            self.accounts.append(made["account"])
        self.mpcc("dev", "fund", self.accounts[0])
        self.mpcc("deploy", "--test-account", "--quorum", "2", "--bootstrap", str(self.home(0) / "public.json"),
                  *(() if self.made_by_members else ("--preprocessor", SERVICE_ACCOUNT)))
        for i in (1, 2):
            self.mpcc("org", "join", "--home", str(self.home(i)), "--fund-from-test-account")
        self.mpcc("org", "approve", self.accounts[1], "--home", str(self.home(0)))
        for approver in (0, 1):
            self.mpcc("org", "approve", self.accounts[2], "--home", str(self.home(approver)))
        for i in range(3):
            self.config(i).write_text(
                f'home = "{self.home(i).name}"\nrpc = "{self.rpc}"\nmanifest = "{self.manifest.name}"\n'
                f'cache = "{self.cache(i).name}"\n'
                + (f'make = "{mean_stock()}"\n' if self.made_by_members else
                   f'service = "127.0.0.1:{self.service_port}"\n') +
                'accept = "auto"\n' + self.settings +
                f'[data]\nincome = "{ROOT / "examples" / f"incomes_party_{TAGS[i]}.csv"}"\n')

    def bind(self, i: int, columns: dict[str, Path]) -> None:
        """Binds more columns of peer ``i`` to files (after ``form``; before the peer starts)."""
        with self.config(i).open("a") as config:
            config.writelines(f'{column} = "{path}"\n' for column, path in columns.items())

    def start(self, name: str, *args: str, command: Sequence[str] = (MPCC,)) -> None:
        """Runs ``command`` (the real ``mpcc`` unless a test says otherwise) with ``args``."""
        log = self.log(name).open("ab")
        self.processes[name] = subprocess.Popen([*command, *args], env=self.env, cwd=self.workdir, stdout=log,
                                                stderr=subprocess.STDOUT, start_new_session=True)
        log.close()

    def start_service(self, stock: str | None = None) -> None:
        """The service, keeping ``stock`` (default: enough for one mean-income job)."""
        stock = mean_stock() if stock is None else stock
        self.start("service", "preprocess", "serve", "--test-account-index", "1", "--listen",
                   f"127.0.0.1:{self.service_port}", "--stock", stock, "--poll-s", "0.5")

    def start_peer(self, i: int, command: Sequence[str] = (MPCC,)) -> None:
        self.start(f"peer-{TAGS[i]}", "peer", "run", "--config", str(self.config(i)), command=command)

    def signal(self, name: str, sig: signal.Signals) -> None:
        self.processes[name].send_signal(sig)

    def kill(self, name: str) -> None:
        process = self.processes.pop(name)
        process.kill()
        process.wait(timeout=20)

    def stop_all(self) -> None:
        for name, process in list(self.processes.items()):
            if process.poll() is None:
                process.send_signal(signal.SIGCONT)
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        self.processes.clear()

    # Reading state ----------------------------------------------------------------------

    def dep(self) -> Any:
        """Typed clients of the deployment, in the test process (for fast polling)."""
        from onchain.chain import Chain
        from onchain.deploy import Deployment
        from onchain.manifest import Manifest

        manifest = Manifest.load(self.manifest)
        return Deployment.attach(Chain.connect(self.rpc, manifest.chain_id), manifest)

    def propose_mean(self, *deadlines: str) -> int:
        source = (("--cache", str(self.cache(0))) if self.made_by_members
                  else ("--service", f"127.0.0.1:{self.service_port}"))
        made = self.mpcc_json("job", "propose", "--home", str(self.home(0)), *source, "--analysis", "mean",
                              "--column", "income", "--title", "mean income", *deadlines)
        return int(made["job"])

    def advance_chain_time(self, seconds: int) -> None:
        """Moves the node's clock forward and mines a block (as if that much time had passed)."""
        for method, params in (("evm_increaseTime", [seconds]), ("evm_mine", [])):
            body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
            request = urllib.request.Request(self.rpc, body, {"content-type": "application/json"})
            with urllib.request.urlopen(request, timeout=10) as response:
                assert b"error" not in response.read()

    def print_log_tails(self, lines: int = 40) -> None:
        """The last lines of the service's and each peer's log (shown by pytest when a test fails)."""
        for name in ("service", *(f"peer-{tag}" for tag in TAGS)):
            text = self.log_text(name)
            if text:
                print(f"----- {name}.log (last lines) -----\n" + "\n".join(text.splitlines()[-lines:]))

    def log_text(self, name: str) -> str:
        return self.log(name).read_text(errors="replace") if self.log(name).exists() else ""

    def alive(self, name: str) -> bool:
        return self.processes[name].poll() is None

    def stock(self, i: int) -> dict[str, int]:
        if not self.cache(i).exists():
            return {}
        db = sqlite3.connect(f"file:{self.cache(i)}?mode=ro", uri=True, timeout=30)
        try:
            rows = db.execute("SELECT key, SUM(count - used) FROM batches WHERE attested = 1 GROUP BY key")
            return {key: int(n) for key, n in rows}
        except sqlite3.OperationalError:  # The daemon has not made its tables yet.
            return {}
        finally:
            db.close()

    def stocked(self, jobs: int = 1) -> bool:
        """Every peer holds the attested tuples of ``jobs`` mean-income jobs (``mean_needs``)."""
        want = mean_needs(jobs)
        return all(all(self.stock(i).get(k, 0) >= n for k, n in want.items()) for i in range(3))


def cache_ranges(path: Path) -> list[tuple[bytes, int, int, str | None, int]]:
    """Every allocated range of a cache: (batch id, start, stop, job id, taken)."""
    with sqlite3.connect(path, timeout=30) as db:
        return [(bytes(r[0]), r[1], r[2], r[3], r[4]) for r in db.execute(
            "SELECT b.batch_id, r.start, r.stop, r.job_id, r.taken FROM ranges r JOIN batches b ON b.id = r.batch")]


def check_cache_consistent(path: Path) -> None:
    """No tuple allocated twice; counters match the ranges; no job took more than it reserved."""
    ranges = cache_ranges(path)
    by_batch: dict[bytes, list[tuple[int, int]]] = {}
    for batch_id, start, stop, _, taken in ranges:
        by_batch.setdefault(batch_id, []).append((start, stop))
        assert 0 <= taken <= stop - start
    for batch_id, spans in by_batch.items():
        spans.sort()
        for (_, stop), (start, _) in zip(spans, spans[1:]):
            assert stop <= start, f"{path}: overlapping ranges in batch {batch_id.hex()}"
    with sqlite3.connect(path, timeout=30) as db:
        for batch_id, used in db.execute("SELECT batch_id, used FROM batches"):
            assert used == sum(stop - start for start, stop in by_batch.get(bytes(batch_id), [])), path


def peak_memory_bytes(pid: int) -> int:
    """A live process's peak resident memory (VmHWM of /proc/PID/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmHWM in /proc/{pid}/status")


def set_automine(rpc: str, on: bool) -> None:
    """Turns the Hardhat node's mining of each transaction on arrival on or off (off: no receipts come)."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "evm_setAutomine", "params": [on]}).encode()
    request = urllib.request.Request(rpc, body, {"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert b"error" not in response.read()
