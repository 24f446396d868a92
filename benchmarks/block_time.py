"""The README walkthrough on a chain with real block times: do its jobs finalise, and how long do they take?

    .venv/bin/python benchmarks/block_time.py                     # 12 s blocks, the mean and the tree
    .venv/bin/python benchmarks/block_time.py --block-time 2 --json

Starts `npx hardhat node` mining a block every ``--block-time`` seconds (as a
public chain does every ~12), then runs the walkthrough as a user would, each
process on its own: three organisations make their keys, deploy, join and are
approved; the preprocessing service stocks the tuples of the mean and the
decision tree of examples/specs; three peer daemons (with the walkthrough's
settings: timeout_s 60) check and store them; the mean and then the tree are
proposed and followed to the end. It reports the seconds of each phase, each
job's state and result, and for each peer how long its transactions waited
for receipts against how long its event loop ever stalled. With --json the
last line is one JSON object with the keys block_time_s, form_s, stock_s,
jobs ({name: {state, seconds, latency_s, steps_s, result, model}}: seconds
from `job propose` started, latency_s from its proposal mined, to the job
closed on chain, steps_s when each state (accepted, inputs_committed) was
first seen after the proposal was mined, polling every 20 ms; a name run
again is NAME#2, ...), peers ([{transactions,
longest_receipt_wait_s, longest_stall_s}]) and service (the same figures).

A finalised job with a model (a tree, a forest, naive Bayes, k-means, an SVM,
logistic or linear regression) is then used as a user would: `mpcc model
export JOB --out FILE`, and `mpcc model predict` on party c's rows, once from
the chain (JOB) and once from the export (--model FILE); its ``model`` holds
the exported type, the rows predicted and whether the two agree. So

    .venv/bin/python benchmarks/block_time.py --block-time 0 --json --jobs \
        decision_tree,random_forest,naive_bayes,gaussian_naive_bayes,kmeans,svm,logistic_regression,linear_regression

trains every model of examples/specs through the CLI and the peers, then predicts and exports it.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # The test harness: a consortium of processes, the node.

from harness.cluster import TAGS, Cluster, wait_until  # noqa: E402
from harness.nodes import hardhat_node_at, mine_every  # noqa: E402
from onchain.jobs import JobState  # noqa: E402

SPECS = ROOT / "examples" / "specs"
PATIENT_COLUMNS = ("age", "bmi", "systolic", "smoker", "activity", "risk")
CLOSED = (JobState.FINALISED, JobState.ABORTED)
README_SETTINGS = "timeout_s = 60\nconnect_timeout_s = 30\npoll_s = 0.5\n"


def run(block_time: float, jobs: list[str], workdir: Path) -> dict[str, Any]:
    out: dict[str, Any] = {"block_time_s": block_time, "jobs": {}}
    with hardhat_node_at(workdir / "node.log") as url:
        if block_time > 0:
            mine_every(url, block_time)
        cluster = Cluster(workdir / "walk", url, settings=README_SETTINGS, command_timeout=60 * block_time + 300)
        cluster.workdir.mkdir()
        try:
            started = time.monotonic()
            cluster.form()
            out["form_s"] = round(time.monotonic() - started, 1)
            for i, tag in enumerate(TAGS):
                data = ROOT / "examples" / f"patients_party_{tag}.csv"
                cluster.bind(i, {c: data for c in PATIENT_COLUMNS})
            specs = [SPECS / f"{name}.json" for name in jobs]
            started = time.monotonic()
            cluster.start("service", "preprocess", "serve", "--test-account-index", "1", "--listen",
                          f"127.0.0.1:{cluster.service_port}", "--stock", "input_mask=2",
                          *[a for s in specs for a in ("--stock-for", str(s))])
            for i in range(3):
                cluster.start_peer(i)
            for spec in specs:
                needs = cluster.mpcc_json("job", "plan", "--spec", str(spec))["needs"]
                wait_until(f"the tuples of {spec.name} at every peer", lambda n=needs: all(
                    all(cluster.stock(i).get(k, 0) >= v for k, v in n.items()) for i in range(3)), 1800, every=2)
            out["stock_s"] = round(time.monotonic() - started, 1)
            for n, (name, spec) in enumerate(zip(jobs, specs, strict=True)):
                key = name if jobs.count(name) == 1 else f"{name}#{jobs[:n].count(name) + 1}"
                out["jobs"][key] = _job(cluster, spec, block_time)
            out["peers"] = [_figures(cluster, i) for i in range(3)]
        finally:
            cluster.stop_all()
        line = re.search(r"longest stall ([0-9.]+) s; (\d+) transactions, longest receipt wait ([0-9.]+) s",
                         cluster.log_text("service"))
        out["service"] = None if line is None else {
            "longest_stall_s": float(line[1]), "transactions": int(line[2]), "longest_receipt_wait_s": float(line[3])}
    return out


def _job(cluster: Cluster, spec: Path, block_time: float) -> dict[str, Any]:
    started = time.monotonic()
    job = cluster.mpcc_json("job", "propose", "--home", str(cluster.home(0)), "--service",
                            f"127.0.0.1:{cluster.service_port}", "--spec", str(spec), timeout=300)["job"]
    proposed = time.monotonic()  # `job propose` returns once the proposal is mined.
    jobs, wait = cluster.dep().jobs, 60 * block_time + 600
    seen: dict[str, float] = {}  # When each state was first seen, in seconds after the proposal was mined.
    while (state := jobs.job(job).state) not in CLOSED and time.monotonic() - proposed < wait:
        seen.setdefault(state.name.lower(), round(time.monotonic() - proposed, 2))
        time.sleep(0.02)
    closed = time.monotonic()
    status = cluster.mpcc_json("job", "status", str(job), "--wait", "--timeout", str(wait), timeout=wait + 60)
    done: dict[str, Any] = {"job": job, "state": status["state"], "seconds": round(closed - started, 2),
                            "latency_s": round(closed - proposed, 2), "steps_s": seen}
    if status["state"] == "finalised":
        done["result"] = cluster.mpcc_json("job", "result", str(job))["result"]
        done["model"] = _model(cluster, job)
    return done


def _model(cluster: Cluster, job: int) -> dict[str, Any] | None:
    """The job's model exported and used to predict party c's rows, from the chain and from the export
    (None for a job without a model: `mpcc model export` refuses it)."""
    export = cluster.workdir / f"model-{job}.json"
    exported = cluster.mpcc("model", "export", str(job), "--out", str(export), "--json", check=False)
    if exported.returncode != 0:
        return None
    data = str(ROOT / "examples" / "patients_party_c.csv")
    from_chain = cluster.mpcc_json("model", "predict", str(job), "--data", data)["rows"]
    from_file = cluster.mpcc_json("model", "predict", "--model", str(export), "--data", data)["rows"]
    return {"type": json.loads(exported.stdout.strip().splitlines()[-1])["type"], "predicted_rows": len(from_chain),
            "export_agrees": [r["prediction"] for r in from_chain] == [r["prediction"] for r in from_file]}


def _figures(cluster: Cluster, i: int) -> dict[str, Any]:
    daemon = cluster.mpcc_json("peer", "status", "--config", str(cluster.config(i)))["daemon"]
    return {**daemon.get("chain", {}), "longest_stall_s": daemon.get("loop", {}).get("longest_stall_s")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--block-time", type=float, default=12.0,
                        help="seconds between blocks (0: a block per transaction, Hardhat's automine)")
    parser.add_argument("--jobs", default="mean,decision_tree", help="example specs to run, in order")
    parser.add_argument("--json", action="store_true", help="end with one JSON object")
    parser.add_argument("--keep", type=Path, help="work in this new folder and keep it (the processes' logs)")
    args = parser.parse_args()
    if args.keep is not None:
        args.keep.mkdir(parents=True)
        out = run(args.block_time, args.jobs.split(","), args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="mpcc-block-time-") as tmp:
            out = run(args.block_time, args.jobs.split(","), Path(tmp))
    for name, job in out["jobs"].items():
        print(f"{name}: {job['state']} in {job['seconds']} s, {job['latency_s']} s after the proposal was mined")
        if job.get("model"):
            model = job["model"]
            print(f"  {model['type']} model: {model['predicted_rows']} rows predicted; from the export "
                  f"{'the same' if model['export_agrees'] else 'DIFFERENT'}")
    print(f"formed in {out['form_s']} s, stocked in {out['stock_s']} s; blocks every {out['block_time_s']} s")
    for i, peer in enumerate(out.get("peers", [])):
        print(f"peer {TAGS[i]}: {peer}")
    print(f"service: {out['service']}")
    if args.json:
        print(json.dumps(out))


if __name__ == "__main__":
    main()
