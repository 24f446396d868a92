"""The job commands of the CLI as a user runs them: spec files, plans, help, progress, tables.

Offline tests check every example spec and the refusal of bad ones before any
connection; on `npx hardhat node` a bad spec is refused before any transaction,
and a consortium of separate processes runs non-mean analyses from spec files.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
import typer

from harness import cluster as cluster_kit
from offchain.auditable import routes
from offchain.analytics import registry
from offchain.analytics.spec import JobSpec
from mpcc.cli import commands
from mpcc.progress import LineProgress
from mpcc.cli.watch import JobWaitTimeout, job_phase, status_phase, wait_for_job
from mpcc.cli.main import app, main
from onchain.abi.preprocessing_ledger import BatchCommitted
from onchain_testkit import PASSPHRASE, ROOT, free_port

MPCC = str(Path(sys.executable).parent / "mpcc")  # The entry point beside the tests' interpreter.
SPECS = ROOT / "examples" / "specs"
EXAMPLES = ROOT / "examples"
PARTIES = ["0x" + f"{i + 1:040x}" for i in range(3)]
ANALYSES = ("mean", "summary", "histogram", "correlation", "linear_regression", "naive_bayes",
            "gaussian_naive_bayes", "decision_tree", "kmeans")
PATIENT_COLUMNS = ("age", "bmi", "systolic", "smoker", "activity", "risk")


def run(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "MPCC_PASSPHRASE": PASSPHRASE.decode(), **(env or {})}
    return subprocess.run([MPCC, *args], capture_output=True, text=True, env=full_env, cwd=cwd, timeout=300)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """Runs ``mpcc ARGS`` in this process (as ``main`` does, exit codes included): (code, stdout, stderr)."""
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", list(root.handlers))  # `serve` and `peer run` set up logging.
    monkeypatch.setattr(root, "level", root.level)

    def invoke(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["mpcc", *args])
        monkeypatch.setenv("MPCC_PASSPHRASE", PASSPHRASE.decode())
        capsys.readouterr()
        try:
            main()
            code = 0
        except SystemExit as done:
            code = int(done.code or 0)
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


def bindings(tag: str) -> dict[str, Path]:
    """Party ``tag``'s columns, as a peer's ORG.toml binds them to the example files."""
    return {"income": EXAMPLES / f"incomes_party_{tag}.csv",
            **{c: EXAMPLES / f"patients_party_{tag}.csv" for c in PATIENT_COLUMNS}}


# Help -------------------------------------------------------------------------------------

def _commands(command: Any, path: tuple[str, ...] = ("mpcc",)) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, (*path, name))


def test_every_command_and_option_has_help() -> None:
    missing = []
    for path, command in _commands(typer.main.get_command(app)):
        if not (command.help or "").strip():
            missing.append(" ".join(path))
        for param in command.params:
            if param.name != "help" and not (getattr(param, "help", None) or "").strip():
                missing.append(f"{' '.join(path)} {param.name}")
    assert not missing, f"without help: {missing}"


def test_bracketed_help_text_is_printed_not_taken_as_markup() -> None:
    """Rich reads "[data]" in a help text as a markup tag and drops it, unless it is escaped."""
    shown = run("job", "plan", "--help", env={"COLUMNS": "200"}).stdout
    assert "(its [datasets.NAME]; default: its [data])" in shown
    eaten = []
    for path, command in _commands(typer.main.get_command(app)):
        for param in command.params:
            text = getattr(param, "help", None) or ""
            if re.search(r"(?<!\\)\[[a-z]", text):
                eaten.append(f"{' '.join(path)} {param.name}")
    assert not eaten, f"help with unescaped [...]: {eaten}"


def test_top_level_help_lists_the_life_of_a_consortium_in_order() -> None:
    out = run("--help").stdout
    steps = ["mpcc org init", "mpcc deploy", "mpcc org join", "mpcc org approve", "mpcc preprocess serve",
             "mpcc peer run", "mpcc job plan", "mpcc job propose", "mpcc job status --wait", "mpcc audit"]
    positions = [out.index(step) for step in steps]
    assert positions == sorted(positions)
    assert "Exit codes" in out


# Example specs ----------------------------------------------------------------------------

def example(name: str) -> JobSpec:
    fields = commands.read_spec_file(SPECS / f"{name}.json")
    assert "participants" not in fields  # Filled in from the consortium.
    return commands.parse_spec({**fields, "participants": PARTIES}, name)


def test_there_is_an_example_spec_for_every_analysis() -> None:
    names = {p.stem for p in SPECS.glob("*.json")}
    assert set(ANALYSES) <= names
    assert {example(n).analysis for n in names} == names  # Each file is named after its analysis.


@pytest.mark.parametrize("name", sorted(p.stem for p in SPECS.glob("*.json")))
def test_example_spec_parses_reads_the_example_data_and_has_computable_needs(name: str) -> None:
    spec = example(name)
    needs = routes.needs(spec)
    assert sum(n for _, n in needs) > 0
    assert all(n > 0 for _, n in needs)
    for tag in "abc":
        table = registry.read_table(spec, bindings(tag))  # Validated as a peer validates it.
        assert table.rows >= 4
    plan = commands.job_plan(spec)
    assert plan["reveal"] == list(spec.reveal) and plan["needs"] == {str(k): n for k, n in needs}


def test_small_examples_give_the_plaintext_results() -> None:
    """The histogram and the tree of the walkthrough, under MPC in one process, against plain Python."""
    from harness.local import run_local

    rows = [row for tag in "abc" for row in _csv(EXAMPLES / f"patients_party_{tag}.csv")]
    histogram = _run_local(run_local, example("histogram"))
    edges = [20, 35, 50, 65, 80]
    for (low, high), key in zip(zip(edges, edges[1:]), histogram):
        want = sum(low <= float(r["age"]) < high or (high == 80 and float(r["age"]) == 80) for r in rows)
        assert int(histogram[key]) == want
    tree = _run_local(run_local, example("decision_tree"))
    assert tree["node[]"].startswith("split:")


def _csv(path: Path) -> list[dict[str, str]]:
    import csv

    with path.open() as handle:
        return list(csv.DictReader(handle))


def _run_local(run_local: Any, spec: JobSpec) -> dict[str, str]:
    tables = [registry.read_table(spec, bindings(t)) for t in "abc"]

    async def program(ctx: Any) -> dict[str, str]:
        return await registry.run(ctx, spec, tables[ctx.party])

    results = asyncio.run(run_local(3, program, needs=routes.needs(spec), sacrifice=False, timeout=120))
    assert all(r == results[0] for r in results)
    return results[0]  # type: ignore[no-any-return]


def test_job_plan_needs_no_chain_when_the_participants_are_named(cli: Any) -> None:
    code, out, err = cli("job", "plan", "--spec", str(SPECS / "histogram.json"), "--participants",
                         ",".join(PARTIES), "--rpc", f"http://127.0.0.1:{free_port()}", "--json")
    assert code == 0, err
    plan = json.loads(out)
    stock = dict(item.split("=") for item in plan["stock"].split(","))
    # Two parties' 4 bin counts each, and the bits and triples that range-check them.
    assert stock["input_mask"] == "4" and int(stock["bit"]) > 0 and plan["reveal"] == ["counts"]
    assert plan["reads"] == {"numeric": ["age"], "categorical": []}
    code, out, _ = cli("job", "plan", "--spec", str(SPECS / "decision_tree.json"), "--participants",
                       ",".join(PARTIES))
    assert code == 0 and "input_mask[owner=2]" in out and "  bit=" in out and "the peers' `make`" in out
    assert plan["auditable"] is None and "auditable" not in out
    # The tree truncates, but no plan stocks truncation pairs: the members build them from checked bits.
    assert "trunc[" not in out and "trunc" not in plan["stock"]
    # What a dealer is trusted with is said plainly, as a development mode, beside the members' own tuples.
    dealer, members = plan["preprocessing"]["dealer"], plan["preprocessing"]["members"]
    assert dealer["development"] is True and members["development"] is False
    assert "all zero: no DP noise" in dealer["trusts"] and "nobody learns the MAC key" in members["trusts"]
    assert "dealer (development mode)" in " ".join(out.split())


def test_job_plan_says_how_an_auditable_job_is_verified_and_what_it_publishes() -> None:
    fields = commands.read_spec_file(SPECS / "decision_tree.json")
    plain = commands.job_plan(commands.parse_spec({**fields, "participants": PARTIES}, "tree"))
    plan = commands.job_plan(commands.parse_spec({**fields, "participants": PARTIES, "auditable": True},
                                                 "tree"))
    audit = plan["auditable"]
    assert audit["route"] == "program" and audit["tuple_bytes"] == 32 * audit["tuple_commitments"]
    assert sum(plan["needs"].values()) > sum(plain["needs"].values())  # Checks and bits cost tuples.
    assert "trunc" not in plan["stock"]  # Truncation pairs come from committed bits.
    mean = commands.read_spec_file(SPECS / "mean.json")
    linear = commands.job_plan(commands.parse_spec({**mean, "participants": PARTIES, "auditable": True},
                                                   "mean"))["auditable"]
    assert linear == {"route": "linear", "how": "verified on chain by AuditTrail against the input "
                                                "commitments"}


# Bad specs --------------------------------------------------------------------------------

BAD_SPECS = [
    ('{"analysis": "histogram", "columns": ["age"], "params": {"bins": [50, 20]}, "reveal": ["counts"]}',
     "params.bins"),
    ('{"analysis": "summary", "colums": ["age"], "reveal": ["mean"]}', "colums: Extra inputs"),
    ('{"analysis": "median", "column": "age", "reveal": ["mean"]}', "analysis: Input should be"),
    ('{"analysis": "summary", "columns": ["age"], "reveal": ["median"]}', "also asks for ['median']"),
    ('{"analysis": "decision_tree", "columns": ["smoker"], "label": "risk", "max_rows": 10,'
     ' "domains": {"smoker": ["no", "yes"], "risk": ["low", "high"]}, "params": {"max_depth": 0},'
     ' "reveal": ["tree"]}', "params.max_depth"),
    ('{"analysis": "kmeans", "columns": ["age", "bmi"], "reveal": ["centroids"],'
     ' "params": {"centroids": [[1, 2], [3, 4]], "iterations": 2}}', "needs max_rows"),
    ('{"analysis": "mean", "column": "income", "reveal": ["count", "mean"], "participants": ["0x12"]}',
     "participants"),
    ('{"analysis": "mean",\n "column": income}', "not valid JSON"),
    ('["mean"]', "a job spec is a JSON object"),
]


@pytest.mark.parametrize("text, message", BAD_SPECS)
def test_a_bad_spec_is_refused_before_connecting_naming_the_field(cli: Any, tmp_path: Path, text: str,
                                                                    message: str) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(text)
    url = f"http://127.0.0.1:{free_port()}"  # Nothing listens: the spec must be refused first.
    for command in (["job", "plan", "--spec"], ["job", "propose", "--home", str(tmp_path), "--spec"],
                    ["preprocess", "serve", "--test-account-index", "1", "--stock-for"]):
        code, _, err = cli(*command, str(bad), "--rpc", url, "--manifest", str(tmp_path / "m.json"))
        assert code == 2, err
        assert str(bad) in err and message in err, err


def test_a_bad_spec_file_as_a_user_runs_it(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(BAD_SPECS[0][0])
    result = run("job", "propose", "--home", str(tmp_path), "--spec", str(bad),
                 "--rpc", f"http://127.0.0.1:{free_port()}")
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {bad}: invalid job spec") and "params.bins" in result.stderr


def test_spec_and_options_conflicts_are_named(cli: Any, tmp_path: Path) -> None:
    mean = str(SPECS / "mean.json")
    code, _, err = cli("job", "plan", "--spec", mean, "--analysis", "sum", "--column", "x")
    assert code == 2 and "not both" in err
    code, _, err = cli("job", "plan")
    assert code == 2 and "--spec FILE" in err
    named = tmp_path / "named.json"
    named.write_text(json.dumps({**json.loads(Path(mean).read_text()), "participants": PARTIES}))
    code, _, err = cli("job", "plan", "--spec", str(named), "--participants", ",".join(reversed(PARTIES)))
    assert code == 2 and "give them once" in err


# Progress ---------------------------------------------------------------------------------

def _status(state: str, accepted: int, committed: int, submitted: int) -> dict[str, Any]:
    return {"job": 7, "state": state, "abort_reason": "none", "participants": PARTIES,
            "accepted": accepted, "committed": committed, "submitted": submitted}


def test_waiting_for_a_job_reports_each_phase_once_then_the_end() -> None:
    states = iter([_status("proposed", 1, 0, 0), _status("proposed", 1, 0, 0), _status("accepted", 3, 1, 0),
                   _status("inputs_committed", 3, 3, 2), _status("finalised", 3, 3, 3)])
    out = io.StringIO()
    final = wait_for_job(lambda: next(states), 60, LineProgress(out), poll_s=0)
    assert final["state"] == "finalised"
    lines = out.getvalue().splitlines()
    assert lines[:3] == ["job 7: proposed: 1 of 3 accepted [1/9]", "job 7: accepted: 1 of 3 committed their "
                         "inputs [4/9]", "job 7: computing: 2 of 3 results posted [8/9]"]
    assert lines[3].startswith("job 7: finalised (") and len(lines) == 4


def test_waiting_gives_up_at_the_timeout() -> None:
    with pytest.raises(JobWaitTimeout, match="still proposed after 0 s"):
        wait_for_job(lambda: _status("proposed", 1, 0, 0), 0, LineProgress(io.StringIO()), poll_s=0)
    assert status_phase({**_status("aborted", 2, 0, 0), "abort_reason": "declined"})[2] == "aborted (declined)"


def test_daemon_job_phases_follow_the_chain_while_running() -> None:
    assert job_phase("connecting", "accepted") == (2, "connecting to the participants")
    assert job_phase("running", "inputs_committed") == (4, "computing under MPC")
    assert job_phase("finalised", "finalised") is None


def test_progress_stays_off_stdout_and_off_by_default_when_piped(tmp_path: Path) -> None:
    result = run("job", "plan", "--spec", str(SPECS / "mean.json"), "--participants", ",".join(PARTIES[:2]),
                 "--json")
    assert json.loads(result.stdout)["stock"].startswith("bit=") and result.stderr == ""


# On a chain -------------------------------------------------------------------------------

@pytest.mark.hardhat
def test_a_bad_spec_sends_nothing(hardhat_node: str, org_homes: list[Path], tmp_path: Path) -> None:
    from mpcc import orgs
    from onchain.chain import Chain
    from onchain.deploy import Deployment
    from onchain.manifest import Manifest

    manifest = tmp_path / "deployment.json"
    env = {"MPCC_RPC": hardhat_node, "MPCC_MANIFEST": str(manifest)}
    for home in org_homes[:2]:
        assert run("dev", "fund", str(home), env=env).returncode == 0
    deployed = run("deploy", "--test-account", "--bootstrap", str(org_homes[0] / "public.json"),
                   "--bootstrap", str(org_homes[1] / "public.json"), env=env)
    assert deployed.returncode == 0, deployed.stderr
    dep = Deployment.attach(Chain.connect(hardhat_node), Manifest.load(manifest))
    proposer = orgs.PublicEntry.load(org_homes[0] / "public.json").account
    nonce = dep.chain.w3.eth.get_transaction_count(proposer)
    # Through the real entry point against a live deployment: one spec that is not JSON, one with an unknown
    # field, one with a bad participant (every bad spec is refused by plan, propose and serve in process above).
    for text, message in (BAD_SPECS[-2], BAD_SPECS[1], BAD_SPECS[6]):
        bad = tmp_path / "bad.json"
        bad.write_text(text)
        result = run("job", "propose", "--home", str(org_homes[0]), "--spec", str(bad), env=env)
        assert result.returncode == 2 and message in result.stderr, result.stderr
    no_service = run("job", "propose", "--home", str(org_homes[0]), "--spec", str(SPECS / "histogram.json"),
                     "--service", f"127.0.0.1:{free_port()}", env=env)
    assert no_service.returncode == 1 and "preprocess serve" in no_service.stderr
    assert dep.jobs.job_count() == 0 and dep.chain.w3.eth.get_transaction_count(proposer) == nonce
    state = tmp_path / "dealer-state.json"  # A damaged dealer state stops the service: never a new key.
    state.write_text('{"format": "mpcc-dealer-state", "version": 1')
    state.chmod(0o600)
    served = run("preprocess", "serve", "--test-account-index", "1", "--listen", f"127.0.0.1:{free_port()}",
                 "--state", str(state), env=env)
    assert served.returncode == 2 and f"the dealer state {state} is unusable: it is not JSON" in served.stderr
    assert state.read_text().endswith('"version": 1') and dep.ledger.logs(BatchCommitted) == []
    plan = json.loads(run("job", "plan", "--spec", str(SPECS / "mean.json"), "--json", env=env).stdout)
    assert plan["participants"] == [m.account for m in dep.registry.active_members()]
    assert run("job", "list", "--json", env=env).stdout.strip() == "[]"
    missing = run("job", "status", "1", env=env)
    assert missing.returncode == 2 and "there is no job 1" in missing.stderr
    members = run("org", "members", env=env).stdout
    assert "party" in members and dep.registry.active_members()[1].account in members


def test_analyses_from_spec_files_between_processes(hardhat_node: str, tmp_path: Path) -> None:
    """The README's walkthrough: the members make their own tuples (no service) for the specs their
    configurations name; a non-mean job from a spec file, followed with --wait, audited."""
    cluster = cluster_kit.Cluster(tmp_path, hardhat_node, made_by_members=True)
    try:
        cluster.form()
        # The tree runs in auditable mode: replayed on committed tuples from the node's calldata. One
        # level deep: every tuple of it is committed (32k instead of 102k at depth 2); the replay of
        # depth-2 trees is tested in process, in the auditable forest (tests/peer/test_forest_jobs.py).
        tree_spec = json.loads((SPECS / "decision_tree.json").read_text())
        tree_spec = {**tree_spec, "auditable": True, "params": {**tree_spec["params"], "max_depth": 1}}
        (tmp_path / "tree.json").write_text(json.dumps(tree_spec))
        specs = [str(SPECS / "histogram.json"), str(tmp_path / "tree.json")]
        for i, tag in enumerate(cluster_kit.TAGS):
            config = cluster.config(i)  # Patient data; making tuples shares the machine with the jobs: more time.
            text = config.read_text().replace("timeout_s = 15", "timeout_s = 90")
            text = "\n".join(f"make_for = {json.dumps(specs)}" if line.startswith("make = ") else line
                             for line in text.splitlines()) + "\n"
            config.write_text(text.replace("connect_timeout_s = 6", "connect_timeout_s = 30") + "".join(
                f'{c} = "{p}"\n' for c, p in bindings(tag).items() if c != "income"))
        for i, tag in enumerate(cluster_kit.TAGS):
            cluster.start(f"peer-{tag}", "peer", "run", "--config", str(cluster.config(i)), "--progress")
        needs = [cluster.mpcc_json("job", "plan", "--spec", spec)["needs"] for spec in specs]
        both = {k: sum(n.get(k, 0) for n in needs) for k in set(needs[0]) | set(needs[1])}
        cluster_kit.wait_until("the tuples of the tree and the histogram at every peer",
                       lambda: all(all(cluster.stock(i).get(k, 0) >= n for k, n in both.items()) for i in range(3)),
                       300)
        tree_job = cluster.mpcc_json("job", "propose", "--home", str(cluster.home(1)), "--cache",
                                     str(cluster.cache(1)), "--spec", specs[1])["job"]
        waited = cluster.mpcc("job", "result", str(tree_job), "--wait", "--timeout", "120", "--progress", "--json",
                              timeout=200)
        tree = json.loads(waited.stdout)
        assert tree["analysis"] == "decision_tree"
        plain = {**tree_spec, "auditable": False, "participants": PARTIES}  # The same tree, computed here.
        assert tree["result"] == _run_local(_local(), commands.parse_spec(plain, "decision_tree"))
        assert f"job {tree_job}: finalised" in waited.stderr
        histogram_job = cluster.mpcc_json("job", "propose", "--home", str(cluster.home(2)), "--cache",
                                          str(cluster.cache(2)), "--spec", specs[0])["job"]
        status = cluster.mpcc("job", "status", str(histogram_job), "--wait", "--timeout", "120", timeout=200)
        assert "finalised" in status.stdout and "Party C" in status.stdout
        shown = cluster.mpcc("job", "result", str(histogram_job)).stdout
        assert "count[age=[65,80]]" in shown
        _predict_and_export(cluster, tree_job, histogram_job, tmp_path)
        assert cluster.mpcc("audit", str(histogram_job), check=False).returncode == 0
        # No dealer: only members committed batches, every member attested each, and the audit says so.
        dep = cluster.dep()
        committed = dep.ledger.logs(BatchCommitted)
        assert committed and {e.service.lower() for e in committed} <= {a.lower() for a in cluster.accounts}
        assert all(dep.ledger.is_attested(e.batchId, a) for e in committed for a in cluster.accounts)
        (tuples,) = [c for c in cluster.mpcc_json("audit", str(histogram_job))["checks"]
                     if c["check"].startswith("tuples:")]
        assert tuples["passed"] and "made by the members" in tuples["detail"], tuples
        checks = {c["check"]: c["passed"] for c in cluster.mpcc_json("audit", str(tree_job))["checks"]}  # Exit 0.
        assert {name: checks.get(f"public: {name}") for name in ("tuple commitments", "tuple checks",
                                                                   "openings", "result")} == dict.fromkeys(
            ("tuple commitments", "tuple checks", "openings", "result"), True)
        listed = cluster.mpcc_json("job", "list")
        assert [(j["analysis"], j["state"]) for j in listed] == [("decision_tree", "finalised"),
                                                                 ("histogram", "finalised")]
        peer = cluster.mpcc_json("peer", "status", "--config", str(cluster.config(0)))
        assert peer["tuples"]["made_by"] == "members" and peer["tuples"]["make_for"] == specs
        shown = cluster.mpcc("peer", "status", "--config", str(cluster.config(0))).stdout
        assert "made by the members (no dealer)" in " ".join(shown.split())
        assert peer["jobs"][0]["columns"] == ["smoker", "activity", "risk"]
        assert "made by the members, checked, attested and stored" in cluster.log_text("peer-b")
        assert not cluster.log("service").exists()
        assert f"job {tree_job}: finalised" in cluster.log_text("peer-a")
    finally:
        cluster.stop_all()
        for name in ("service", "peer-a", "peer-b", "peer-c"):
            lines = [line for line in cluster.log_text(name).splitlines() if "batch" not in line]
            print(f"----- {name}.log (but batches) -----\n" + "\n".join(lines[-40:]))


def _predict_and_export(cluster: cluster_kit.Cluster, tree_job: int, histogram_job: int, tmp_path: Path) -> None:
    """`mpcc model` on the finalised tree: predictions as the revealed tree gives them, an export that
    predicts the same without the chain; unknown jobs and jobs without a model exit 2."""
    data = EXAMPLES / "patients_party_c.csv"
    predicted = cluster.mpcc_json("model", "predict", str(tree_job), "--data", str(data))
    result = cluster.mpcc_json("job", "result", str(tree_job))["result"]
    want = [_tree_predict(result, row) for row in _csv(data)]
    assert [r["prediction"] for r in predicted["rows"]] == want and predicted["job"] == tree_job
    exported = tmp_path / "tree-model.json"
    cluster.mpcc("model", "export", str(tree_job), "--out", str(exported))
    assert json.loads(exported.read_text())["result"] == result
    offline = cluster.mpcc("model", "predict", "--model", str(exported), "--data", str(data), "--json")
    assert [r["prediction"] for r in json.loads(offline.stdout)["rows"]] == want
    for job, message in ((99, "there is no job 99"), (histogram_job, "is a histogram job: its result is not a model")):
        refused = cluster.mpcc("model", "predict", str(job), "--data", str(data), check=False)
        assert refused.returncode == 2 and message in refused.stderr and refused.stdout == ""


def _tree_predict(result: dict[str, str], row: dict[str, str]) -> str:
    path: list[str] = []
    while result["node[" + ",".join(path) + "]"].startswith("split:"):
        feature = result["node[" + ",".join(path) + "]"][6:]
        path.append(f"{feature}={row[feature]}")
    return result["node[" + ",".join(path) + "]"][5:]


def _local() -> Any:
    from harness.local import run_local

    return run_local
