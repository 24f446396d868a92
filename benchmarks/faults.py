"""A fault campaign and a soak: does the consortium of processes survive crashes, outages and reorgs?

    .venv/bin/python benchmarks/faults.py --json                  # 60 faults, seed 1, then the soak
    .venv/bin/python benchmarks/faults.py --faults 12 --seed 7 --soak-jobs 0

Everything runs on loopback, as a user runs it: `npx hardhat node`, three
organisations formed through the CLI, the preprocessing service and three
peer daemons as processes (tests/harness/cluster.py). The peers and the
service reach the node through a forwarder that can be cut
(tests/harness/proxy.py), so an RPC outage is real to them while the node
runs on.

Each round proposes one job (a mean or a count of the walkthrough's
incomes, alternately), injects one fault chosen by the seeded generator at a
point of the job or of the preprocessing that refills its tuples, recovers
(restarts what was killed, restores the RPC, thaws the node), and follows the
job to its end. The faults:

- ``kill``: kill -9 of a peer or of the service, in a phase observed on chain
  or in the logs: ``preprocessing`` (a batch committed, not yet attested by
  everyone: intake and sacrifice), ``attestation`` (attested by some),
  ``input`` (proposed, inputs not all committed), ``online`` (inputs
  committed, no result), ``posting`` (results being posted);
- ``audit``: kill -9 of `mpcc audit` while it runs, then the audit again;
- ``rpc_outage``: the peers' and the service's RPC endpoint unreachable for
  5-30 s;
- ``node_freeze``: the node itself stopped (SIGSTOP) for 5-30 s;
- ``reorg``: the chain reverted (evm_snapshot/evm_revert) across the job's
  transactions: what was mined after the snapshot is gone.

Rounds run with an auto-mining node, then with a block every 2 s, then every
12 s (``--block-times``). A job that has not ended after its round's wait has
its deadlines passed on the node (evm_increaseTime), after which it must be
expired by the peers or by `mpcc job expire`: that is an abort, clean if it
ends there; a job still open after that is stuck.

Counted: ``faults`` injected, ``jobs``, ``finalised``, ``aborted_cleanly``,
``stuck``, ``wrong_results`` (a finalised result that differs from the plain
computation, or whose audit fails), ``tuples_reused`` (a tuple range
allocated twice in any peer's cache, or a job's audit reporting a reuse),
``rows_lost`` (a finalised count below the rows the members hold),
``max_rss_mb`` (the largest peak resident memory of any peer or service
process). The soak then proposes ``--soak-jobs`` jobs at once, from the three
organisations, and follows all of them (``soak``: jobs, finalised, seconds,
peak memory of each process). With --json the last line is one JSON object
with those keys, plus ``by_fault`` and ``rounds``.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # The test harness: a consortium of processes, the node.

from harness.cluster import MPCC, TAGS, Cluster, check_cache_consistent, mean_stock  # noqa: E402
from harness.nodes import Node, hardhat_node, mine_every, rpc_call  # noqa: E402
from harness.proxy import CuttableProxy  # noqa: E402

SETTINGS = "timeout_s = 20\nconnect_timeout_s = 10\npoll_s = 0.5\n"
PHASES = ("preprocessing", "attestation", "input", "online", "posting")
FAULTS = ("kill", "kill", "kill", "audit", "rpc_outage", "node_freeze", "reorg")
OPEN, FINALISED, ABORTED = ("proposed", "accepted", "inputs_committed"), "finalised", "aborted"


def plain_incomes() -> list[float]:
    rows: list[float] = []
    for tag in TAGS:
        with (ROOT / "examples" / f"incomes_party_{tag}.csv").open() as f:
            rows += [float(r["income"]) for r in csv.DictReader(f)]
    return rows


@dataclass
class Figures:
    faults: int = 0
    jobs: int = 0
    finalised: int = 0
    aborted_cleanly: int = 0
    stuck: int = 0
    wrong_results: int = 0
    tuples_reused: int = 0
    rows_lost: int = 0
    rss_mb: dict[str, float] = field(default_factory=dict)
    by_fault: dict[str, dict[str, int]] = field(default_factory=dict)
    rounds: list[dict[str, Any]] = field(default_factory=list)

    def out(self) -> dict[str, Any]:
        return {"faults": self.faults, "jobs": self.jobs, "finalised": self.finalised,
                "aborted_cleanly": self.aborted_cleanly, "stuck": self.stuck, "wrong_results": self.wrong_results,
                "tuples_reused": self.tuples_reused, "rows_lost": self.rows_lost,
                "max_rss_mb": max(self.rss_mb.values(), default=0.0), "rss_mb": self.rss_mb,
                "by_fault": self.by_fault, "rounds": self.rounds}


class Campaign:
    def __init__(self, workdir: Path, node: Node, seed: int) -> None:
        self.node, self.rng, self.figures = node, random.Random(seed), Figures()
        host, port = node.url.removeprefix("http://").split(":")
        self.proxy = CuttableProxy(host, int(port))
        self.cluster = Cluster(workdir, self.proxy.url, settings=SETTINGS, command_timeout=600)
        self.incomes = plain_incomes()
        self.block_time = 0.0
        self.args: dict[str, tuple[str, ...]] = {}
        self.dep: Any = None

    # Setting up ---------------------------------------------------------------------------------

    def form(self, jobs: int) -> None:
        """Forms the consortium; the service keeps the tuples of ``jobs`` mean-income jobs."""
        self.cluster.form()
        from onchain.chain import Chain
        from onchain.deploy import Deployment
        from onchain.manifest import Manifest

        manifest = Manifest.load(self.cluster.manifest)
        self.dep = Deployment.attach(Chain.connect(self.node.url, manifest.chain_id), manifest)
        self.start("service", "preprocess", "serve", "--test-account-index", "1", "--listen",
                   f"127.0.0.1:{self.cluster.service_port}", "--stock", mean_stock(jobs), "--poll-s", "0.5")
        for i, tag in enumerate(TAGS):
            self.start(f"peer-{tag}", "peer", "run", "--config", str(self.cluster.config(i)))

    def start(self, name: str, *args: str) -> None:
        self.args[name] = args
        self.cluster.start(name, *args)

    def restart_dead(self) -> None:
        """Starts again what a fault killed; a restarted service is awaited until it listens, since
        `job propose --service` asks it for the stock (a round once found it still starting)."""
        for name, args in self.args.items():
            process = self.cluster.processes.get(name)
            if process is None or process.poll() is not None:
                self.cluster.processes.pop(name, None)
                self.cluster.start(name, *args)
                if name == "service":
                    self.wait(lambda: _listening(self.cluster.service_port), 120, every=0.5)

    def sample_rss(self) -> None:
        for name, process in self.cluster.processes.items():
            try:
                status = Path(f"/proc/{process.pid}/status").read_text()
            except OSError:
                continue
            peak = re.search(r"VmHWM:\s+(\d+) kB", status)
            if peak:
                self.figures.rss_mb[name] = max(self.figures.rss_mb.get(name, 0.0), round(int(peak[1]) / 1024, 1))

    def set_block_time(self, seconds: float) -> None:
        if seconds == self.block_time:
            return
        if seconds:
            mine_every(self.node.url, seconds)
        else:
            rpc_call(self.node.url, "evm_setIntervalMining", [0])
            rpc_call(self.node.url, "evm_setAutomine", [True])
        self.block_time = seconds

    # Chain reads (straight from the node, not through the proxy) --------------------------------

    def state(self, job_id: int) -> str:
        return str(self.dep.jobs.job(job_id).state.name.lower())

    def stocked(self, jobs: int) -> bool:
        """Every peer holds the tuples of ``jobs`` mean-income (or count) jobs, range checks included."""
        return self.cluster.stocked(jobs)

    def wait(self, check: Any, timeout: float, every: float = 0.1) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return True
            time.sleep(every)
        return False

    # One round ---------------------------------------------------------------------------------

    def round(self, number: int) -> None:
        rng, cluster = self.rng, self.cluster
        fault = rng.choice(FAULTS)
        phase = rng.choice(PHASES) if fault == "kill" else rng.choice(PHASES[2:]) if fault != "audit" else "audit"
        target = rng.choice([*(f"peer-{t}" for t in TAGS), "service"]) if fault == "kill" else ""
        analysis = ("mean", "count")[number % 2]
        slow = max(self.block_time, 1.0)
        record: dict[str, Any] = {"round": number, "fault": fault, "phase": phase, "target": target,
                                  "analysis": analysis, "block_time_s": self.block_time}
        self.restart_dead()
        if not self.wait(lambda: self.stocked(1), 180 + 20 * slow, every=1):
            record["note"] = "stock not ready"
        committed = cluster.log_text("service").count(" committed: ")
        proposer = rng.randrange(3)
        window = str(int(120 + 30 * slow))
        made = cluster.mpcc("job", "propose", "--home", str(cluster.home(proposer)), "--service",
                            f"127.0.0.1:{cluster.service_port}", "--analysis", analysis, "--column", "income",
                            "--title", f"round {number}", "--accept-s", window, "--commit-s", window,
                            "--result-s", window, "--json", check=False)
        if made.returncode != 0:
            record["outcome"] = f"not proposed: {made.stderr.strip()[-200:]}"
            self.figures.rounds.append(record)
            return
        job_id = int(json.loads(made.stdout.strip().splitlines()[-1])["job"])
        record["job"] = job_id
        self.figures.jobs += 1
        snapshot = rpc_call(self.node.url, "evm_snapshot", []) if fault == "reorg" else None
        if fault != "audit":
            record["observed"] = self.inject(fault, phase, target, job_id, committed, snapshot)
            self.figures.faults += record["observed"] is not None
        record["outcome"] = self.follow(job_id, slow)
        if fault == "audit" and record["outcome"] == FINALISED:
            record["observed"] = self.kill_audit(job_id)
            self.figures.faults += 1
        if record["outcome"] == FINALISED:
            self.check_result(job_id, analysis, record)
        self.check_caches(record)
        self.sample_rss()
        counts = self.figures.by_fault.setdefault(f"{fault}:{record.get('observed') or phase}", {})
        counts[record["outcome"]] = counts.get(record["outcome"], 0) + 1
        self.figures.rounds.append(record)

    def inject(self, fault: str, phase: str, target: str, job_id: int, committed: int,
               snapshot: Any) -> str | None:
        """Waits for ``phase`` and applies the fault; returns the phase observed when it struck."""
        observed = self.reach(phase, job_id, committed)
        if observed is None:
            return None
        self.sample_rss()
        if fault == "kill":
            time.sleep(self.rng.uniform(0, 0.5))
            self.cluster.processes[target].send_signal(signal.SIGKILL)
            self.cluster.processes[target].wait(timeout=20)
            time.sleep(self.rng.uniform(1, 4))
            self.restart_dead()
        elif fault == "rpc_outage":
            self.proxy.cut()
            time.sleep(self.rng.uniform(5, 30))
            self.proxy.restore()
        elif fault == "node_freeze":
            self.node.signal(signal.SIGSTOP)
            time.sleep(self.rng.uniform(5, 30))
            self.node.signal(signal.SIGCONT)
        elif fault == "reorg":
            time.sleep(self.rng.uniform(0, 2))
            rpc_call(self.node.url, "evm_revert", [snapshot])
            if self.block_time == 0:
                rpc_call(self.node.url, "evm_mine", [])
        return observed

    def reach(self, phase: str, job_id: int, committed: int) -> str | None:
        """Waits until the job (or its refill) is in ``phase``; the phase seen, None if it went by."""
        log = self.cluster.log_text
        if phase in ("preprocessing", "attestation"):
            if not self.wait(lambda: log("service").count(" committed: ") > committed, 60, every=0.05):
                return None
            if phase == "attestation":
                batch = re.findall(r"batch ([0-9a-f]{64}) committed", log("service"))[-1]
                self.wait(lambda: any(self.dep.ledger.is_attested(bytes.fromhex(batch), a)
                                      for a in self.cluster.accounts), 30, every=0.05)
                attested = sum(self.dep.ledger.is_attested(bytes.fromhex(batch), a) for a in self.cluster.accounts)
                return "attestation" if 0 < attested < 3 else "preprocessing" if attested == 0 else "after"
            return "preprocessing"
        wanted = {"input": ("proposed", "accepted"), "online": ("inputs_committed",),
                  "posting": ("inputs_committed",)}[phase]
        seen = self.wait(lambda: self.state(job_id) in wanted or self.state(job_id) not in OPEN, 120, every=0.02)
        if phase == "posting":  # The posts follow the online phase within a second: strike in that window.
            time.sleep(self.rng.uniform(0.1, 1.0))
        job = self.dep.jobs.job(job_id)
        state = job.state.name.lower()
        if not seen or state not in OPEN:
            return None
        return {"proposed": "input", "accepted": "input"}.get(state, "posting" if job.submitted else "online")

    def follow(self, job_id: int, slow: float) -> str:
        """The job's end: finalised, aborted (cleanly, perhaps after its deadlines) or stuck."""
        if self.wait(lambda: self.state(job_id) not in OPEN, 90 + 10 * slow, every=0.5):
            return self.ended(job_id)
        # Past every deadline: the peers (or anyone, with `mpcc job expire`) must end it.
        rpc_call(self.node.url, "evm_increaseTime", [4 * 3600])
        rpc_call(self.node.url, "evm_mine", [])
        if not self.wait(lambda: self.state(job_id) not in OPEN, 30 + 5 * slow, every=0.5):
            self.cluster.mpcc("job", "expire", str(job_id), "--home", str(self.cluster.home(0)), check=False)
        if self.wait(lambda: self.state(job_id) not in OPEN, 30 + 5 * slow, every=0.5):
            return self.ended(job_id)
        self.figures.stuck += 1
        return f"stuck in {self.state(job_id)}"

    def ended(self, job_id: int) -> str:
        state = self.state(job_id)
        if state == FINALISED:
            self.figures.finalised += 1
        elif state == ABORTED:
            self.figures.aborted_cleanly += 1
        return state

    def check_result(self, job_id: int, analysis: str, record: dict[str, Any]) -> None:
        result = self.cluster.mpcc_json("job", "result", str(job_id))["result"]
        record["result"] = result
        rows = len(self.incomes)
        if analysis == "count":
            self.figures.rows_lost += max(0, rows - int(float(result["count"])))
            right = int(float(result["count"])) == rows
        else:
            right = abs(float(result["mean"]) - sum(self.incomes) / rows) < 0.01
        audit = self.cluster.mpcc("audit", str(job_id), "--json", check=False)
        record["audit_exit"] = audit.returncode
        if "reuse" in audit.stdout.lower() and audit.returncode != 0:
            self.figures.tuples_reused += 1
        if not right or audit.returncode != 0:
            self.figures.wrong_results += 1

    def kill_audit(self, job_id: int) -> str:
        auditor = subprocess.Popen([MPCC, "audit", str(job_id)], env=self.cluster.env, cwd=self.cluster.workdir,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(self.rng.uniform(0.3, 3))
        auditor.kill()
        auditor.wait(timeout=20)
        return "audit"

    def check_caches(self, record: dict[str, Any]) -> None:
        for i in range(3):
            try:
                check_cache_consistent(self.cluster.cache(i))
            except AssertionError as err:
                self.figures.tuples_reused += 1
                record.setdefault("cache_errors", []).append(str(err))

    # The soak ----------------------------------------------------------------------------------

    def soak(self, jobs: int) -> dict[str, Any]:
        self.set_block_time(0)
        self.restart_dead()
        self.figures.rss_mb.clear()
        if not self.wait(lambda: self.stocked(jobs), 900, every=2):
            return {"jobs": 0, "note": "the stock for the soak was not reached"}
        cluster, started = self.cluster, time.monotonic()

        refusals: dict[str, int] = {}

        def propose(n: int) -> int | None:
            done = cluster.mpcc("job", "propose", "--home", str(cluster.home(n % 3)), "--service",
                                f"127.0.0.1:{cluster.service_port}", "--analysis", "mean", "--column", "income",
                                "--title", f"soak {n}", "--json", check=False)
            if done.returncode == 0:
                return int(json.loads(done.stdout.strip().splitlines()[-1])["job"])
            why = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1][:200]
            refusals[why] = refusals.get(why, 0) + 1
            return None

        with ThreadPoolExecutor(jobs) as pool:
            ids = list(pool.map(propose, range(jobs)))
        proposed = [j for j in ids if j is not None]
        self.wait(lambda: all(self.state(j) not in OPEN for j in proposed), 900, every=1)
        self.sample_rss()
        states = [self.state(j) for j in proposed]
        return {"jobs": jobs, "proposed": len(proposed), "finalised": states.count(FINALISED),
                "aborted": states.count(ABORTED), "refused": refusals, "seconds": round(time.monotonic() - started, 1),
                "peak_rss_mb": dict(self.figures.rss_mb)}

    def close(self) -> None:
        self.cluster.stop_all()
        self.proxy.close()


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def block_time_for(share: float, block_times: list[float]) -> float:
    """The first block time for 70 % of the faults, the second for the next 20 %, the third for the rest."""
    turn = 0 if share < 0.7 else 1 if share < 0.9 else 2
    return block_times[min(turn, len(block_times) - 1)]


def run(faults: int, seed: int, block_times: list[float], soak_jobs: int, budget_s: float,
        workdir: Path) -> dict[str, Any]:
    with hardhat_node(workdir / "node.log") as node:
        campaign = Campaign(workdir / "consortium", node, seed)
        campaign.cluster.workdir.mkdir()
        try:
            campaign.form(jobs=max(4, soak_jobs))
            started, number = time.monotonic(), 0
            while campaign.figures.faults < faults and time.monotonic() - started < budget_s:
                campaign.set_block_time(block_time_for(campaign.figures.faults / faults, block_times))
                number += 1
                campaign.round(number)
                last = campaign.figures.rounds[-1]
                print(f"round {number}: {last['fault']} {last.get('target', '')} at {last.get('observed')} "
                      f"({last['block_time_s']} s blocks): job {last.get('job')} {last['outcome']}", flush=True)
            out = campaign.figures.out()
            out["seconds"] = round(time.monotonic() - started, 1)
            out["soak"] = campaign.soak(soak_jobs) if soak_jobs else None
        finally:
            campaign.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faults", type=int, default=60, help="faults to inject")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--block-times", default="0,2,12", help="seconds between blocks, in turn (0: automine)")
    parser.add_argument("--soak-jobs", type=int, default=20, help="jobs proposed at once after the faults")
    parser.add_argument("--budget-s", type=float, default=3 * 3600, help="stop injecting after this long")
    parser.add_argument("--keep", type=Path, help="run in this folder and keep the logs")
    parser.add_argument("--json", action="store_true", help="end with one JSON object")
    args = parser.parse_args()
    block_times = [float(b) for b in args.block_times.split(",")]
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=False)
        out = run(args.faults, args.seed, block_times, args.soak_jobs, args.budget_s, args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="mpcc-faults-") as tmp:
            out = run(args.faults, args.seed, block_times, args.soak_jobs, args.budget_s, Path(tmp))
    print(f"{out['faults']} faults over {out['jobs']} jobs in {out['seconds']} s: {out['finalised']} finalised, "
          f"{out['aborted_cleanly']} aborted cleanly, {out['stuck']} stuck, {out['wrong_results']} wrong results, "
          f"{out['tuples_reused']} tuples reused, {out['rows_lost']} rows lost; peak memory {out['max_rss_mb']} MB")
    if out["soak"]:
        print(f"soak: {out['soak']}")
    if args.json:
        print(json.dumps(out))


if __name__ == "__main__":
    main()
