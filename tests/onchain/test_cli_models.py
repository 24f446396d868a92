"""``mpcc model``: a finalised job's model read from the chain, and the commands as a user runs them.

On the in-process chain, jobs are finalised with the results their analyses
give under MPC (the peers' part is played by the test: accept, commit, post);
the commands themselves run as subprocesses of the real entry point on an
exported model, which needs no chain. The run through peers on a Hardhat node
is in test_cli_jobs.py (test_analyses_from_spec_files_between_processes).
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.chain import placeholder_consortium
from harness.local import run_local
from mpcc.cli.models import job_model, predictions
from offchain import models
from offchain.analytics import registry
from offchain.analytics.spec import JobSpec
from offchain.auditable import routes
from offchain.errors import ConfigError
from onchain.embedded import in_memory_chain
from onchain.deploy import Deployment
from onchain.jobs import Deadlines
from onchain_testkit import ROOT

MPCC = str(Path(sys.executable).parent / "mpcc")
EXAMPLES = ROOT / "examples"
COLUMNS = ("age", "bmi", "systolic", "smoker", "activity", "risk")


def mpcc(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MPCC, *args], capture_output=True, text=True, cwd=cwd, timeout=120,
                          env={**os.environ, "MPCC_RPC": "http://127.0.0.1:9"})  # No chain is reachable there.


def example_spec(name: str, participants: list[str]) -> JobSpec:
    fields = json.loads((EXAMPLES / "specs" / f"{name}.json").read_text())
    return registry.build_spec(**fields, participants=participants)


def mpc_result(spec: JobSpec) -> dict[str, str]:
    tables = [registry.read_table(spec, {c: EXAMPLES / f"patients_party_{t}.csv" for c in COLUMNS}) for t in "abc"]

    async def program(ctx: Any) -> dict[str, str]:
        return await registry.run(ctx, spec, tables[ctx.party])

    results = asyncio.run(run_local(3, program, needs=routes.needs(spec), sacrifice=False, timeout=120))
    return results[0]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def chain_jobs() -> tuple[Deployment, dict[str, int], dict[str, dict[str, str]]]:
    """Jobs on the in-process chain: a finalised tree, mean and forest, and a tree still proposed."""
    chain = in_memory_chain()
    dep, members = placeholder_consortium(chain, 3)
    addresses = [m.address for m in members]
    jobs, results = {}, {}
    for name in ("decision_tree", "mean", "pending", "random_forest"):
        if name == "mean":
            spec = registry.build_spec(analysis="mean", column="age", reveal=("count", "mean"),
                                       participants=addresses)
        else:
            spec = example_spec("random_forest" if name == "random_forest" else "decision_tree", addresses)
        job_id, _ = dep.jobs.propose(members[0], spec.canonical(), addresses, Deadlines.from_now(chain.now()))
        jobs[name] = job_id
        if name == "pending":
            continue
        results[name] = mpc_result(spec) if name != "mean" else {"count": "24", "mean": "52.125"}
        for m in members[1:]:
            dep.jobs.accept(m, job_id)
        for m in members:
            dep.jobs.commit_inputs(m, job_id, secrets.token_bytes(32))
        for m in members:
            dep.jobs.submit_result(m, job_id, registry.result_bytes(results[name]))
    return dep, jobs, results


def test_a_finalised_jobs_model_is_read_from_the_chain(chain_jobs: Any, tmp_path: Path) -> None:
    dep, jobs, results = chain_jobs
    source = job_model(dep, jobs["decision_tree"])
    assert isinstance(source.model, models.DecisionTree) and dict(source.model.result) == results["decision_tree"]
    assert source.job == jobs["decision_tree"] and source.result_hash and source.result_hash.startswith("0x")
    done = predictions(source, EXAMPLES / "patients_party_a.csv")
    with (EXAMPLES / "patients_party_a.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["row"] for r in done["rows"]] == list(range(2, 2 + len(rows)))
    assert [r["prediction"] for r in done["rows"]] == source.model.predict(rows)
    assert done["target"] == {"name": "risk", "kind": "categorical", "values": ["low", "high"]}


@pytest.mark.parametrize(("job", "message"), [
    (99, "there is no job 99"),
    ("mean", "is a mean job: its result is not a model"),
    ("pending", "is proposed, not finalised: it has no result"),
])
def test_jobs_without_a_model_are_refused(chain_jobs: Any, job: Any, message: str) -> None:
    dep, jobs, _ = chain_jobs
    with pytest.raises(ConfigError, match=message):
        job_model(dep, jobs.get(job, job))


# The commands on an export: no chain -----------------------------------------------------------

@pytest.fixture(scope="module")
def exported(chain_jobs: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    dep, jobs, _ = chain_jobs
    source = job_model(dep, jobs["decision_tree"])
    path = tmp_path_factory.mktemp("model") / "tree.json"
    path.write_text(models.dumps(source.model, source.job, source.result_hash))
    return path


def test_predict_from_an_export_prints_a_table_json_and_a_csv(exported: Path, tmp_path: Path) -> None:
    data = str(EXAMPLES / "patients_party_b.csv")
    shown = mpcc("model", "predict", "--model", str(exported), "--data", data)
    assert shown.returncode == 0, shown.stderr
    assert "Predictions of the decision_tree model of job 1 (risk)" in shown.stdout
    printed = mpcc("model", "predict", "--model", str(exported), "--data", data, "--json")
    done = json.loads(printed.stdout)
    model = models.loads(exported.read_text())
    with open(data) as handle:
        rows = list(csv.DictReader(handle))
    assert [r["prediction"] for r in done["rows"]] == model.predict(rows)
    out = tmp_path / "predicted.csv"
    written = mpcc("model", "predict", "--model", str(exported), "--data", data, "--out", str(out))
    assert written.returncode == 0 and f"wrote {len(rows)} predictions" in written.stdout
    with out.open() as handle:
        table = list(csv.DictReader(handle))
    assert list(table[0]) == ["row", "smoker", "activity", "prediction"]
    assert [r["prediction"] for r in table] == model.predict(rows)


def test_bad_data_exits_2_before_any_output(exported: Path, tmp_path: Path) -> None:
    out = tmp_path / "never.csv"
    missing = mpcc("model", "predict", "--model", str(exported), "--data", str(EXAMPLES / "incomes_party_a.csv"),
                   "--out", str(out))
    assert missing.returncode == 2 and missing.stdout == "" and not out.exists()
    assert "no column 'smoker'" in missing.stderr and "add the column to the data" in missing.stderr
    unseen = tmp_path / "unseen.csv"
    unseen.write_text("smoker,activity\nyes,low\nsometimes,high\n")
    refused = mpcc("model", "predict", "--model", str(exported), "--data", str(unseen))
    assert refused.returncode == 2 and refused.stdout == ""
    assert "row 3, column 'smoker': 'sometimes' is not in the declared domain ['no', 'yes']" in refused.stderr
    kmeans_file = tmp_path / "kmeans.json"
    spec = example_spec("kmeans", list(models.loads(exported.read_text()).spec.participants))
    kmeans_file.write_text(models.dumps(models.model_of(spec, mpc_result(spec))))
    text = tmp_path / "text.csv"
    text.write_text("age,bmi\n30,22\n41,heavy\n")
    not_number = mpcc("model", "predict", "--model", str(kmeans_file), "--data", str(text), "--json")
    assert not_number.returncode == 2 and not_number.stdout == ""
    assert "text.csv, row 3, column 'bmi': 'heavy' is not a number" in not_number.stderr


def test_the_command_line_refuses_what_it_cannot_use(exported: Path, tmp_path: Path) -> None:
    data = str(EXAMPLES / "patients_party_a.csv")
    nowhere = mpcc("model", "predict", "--model", str(exported), "--data", str(tmp_path / "none.csv"))
    assert nowhere.returncode == 2 and "none.csv does not exist; --data names the CSV file" in nowhere.stderr
    both = mpcc("model", "predict", "1", "--model", str(exported), "--data", data)
    assert both.returncode == 2 and "a JOB number (read from the chain) or --model FILE" in both.stderr
    edited = tmp_path / "edited.json"
    edited.write_text(exported.read_text().replace('"leaf": "high"', '"leaf": "low"', 1))
    refused = mpcc("model", "predict", "--model", str(edited), "--data", data)
    assert refused.returncode == 2 and "'parameters' differs" in refused.stderr


@pytest.mark.parametrize("name", ["logistic_regression", "svm"])
def test_a_linear_classifiers_export_predicts_from_the_command_line(name: str, tmp_path: Path) -> None:
    """The command on an export of each classifier (its training under MPC is tested in tests/analytics)."""
    spec = example_spec(name, [f"0x{i:040x}" for i in range(1, 4)])
    result = {"coefficient[age]": "0.050000", "coefficient[bmi]": "-0.100000", "intercept": "-0.200000"}
    path = tmp_path / f"{name}.json"
    path.write_text(models.dumps(models.model_of(spec, result), job=4))
    data = str(EXAMPLES / "patients_party_b.csv")
    printed = mpcc("model", "predict", "--model", str(path), "--data", data, "--json")
    assert printed.returncode == 0, printed.stderr
    done = json.loads(printed.stdout)
    with open(data) as handle:
        rows = list(csv.DictReader(handle))
    want = ["high" if 0.05 * float(r["age"]) - 0.1 * float(r["bmi"]) - 0.2 > 0 else "low" for r in rows]
    assert [r["prediction"] for r in done["rows"]] == want and set(want) == {"low", "high"}
    assert done["analysis"] == name and done["target"]["values"] == ["low", "high"]


def test_a_forest_job_is_read_from_the_chain_and_predicts_from_its_export(chain_jobs: Any, tmp_path: Path) -> None:
    dep, jobs, results = chain_jobs
    source = job_model(dep, jobs["random_forest"])
    assert isinstance(source.model, models.RandomForest) and dict(source.model.result) == results["random_forest"]
    path = tmp_path / "forest.json"
    path.write_text(models.dumps(source.model, source.job, source.result_hash))
    data = str(EXAMPLES / "patients_party_c.csv")
    printed = mpcc("model", "predict", "--model", str(path), "--data", data, "--json")
    assert printed.returncode == 0, printed.stderr
    with open(data) as handle:
        rows = list(csv.DictReader(handle))
    assert [r["prediction"] for r in json.loads(printed.stdout)["rows"]] == source.model.predict(rows)
