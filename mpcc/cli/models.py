"""The ``mpcc model`` commands: predict with a finalised model job, or export it (offchain.models).

A job's model is read from the chain as ``mpcc job result`` reads it (its
JobFinalised result) with its spec (its JobProposed event); ``predict
--model FILE`` reads an export instead and needs no chain. Data are checked
whole before anything is printed or written: a missing column or a bad cell
exits 2 naming the file, the row and the column.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from rich.console import Group
from rich.table import Table
from rich.text import Text

from mpcc.cli.base import JSON_OUT, MANIFEST, RPC, connect, emit, show
from mpcc.records import job_result, job_status
from offchain.analytics.data import Binding, SqlSource, read_features
from offchain.analytics.spec import JobSpec
from offchain.models import MODEL_ANALYSES, Model, dumps, loads, model_of, records
from onchain.abi.job_manager import JobProposed
from onchain.deploy import Deployment
from onchain.errors import ConfigError

model_app = typer.Typer(help="Predict with a finalised model job, or export its model as JSON.", no_args_is_help=True)

OPTIONAL_JOB = typer.Argument(None, min=1, help="The model job's number (or give --model FILE instead).")


@dataclass(frozen=True)
class JobModel:
    """A model and where it comes from (a job on chain, or an export file)."""

    model: Model
    job: int | None
    result_hash: str | None


def job_model(dep: Deployment, job_id: int) -> JobModel:
    """The model of a finalised job; ConfigError for an unknown job, a job without a model or without a result."""
    analysis = job_status(dep, job_id, gas=False)["analysis"]
    if analysis not in MODEL_ANALYSES:
        raise ConfigError(f"job {job_id} is a {analysis} job: its result is not a model (models come from "
                          f"{', '.join(MODEL_ANALYSES)} jobs); read it with: mpcc job result {job_id}")
    done = job_result(dep, job_id)
    spec = JobSpec.parse(dep.jobs.logs(JobProposed, from_block=dep.manifest.deploy_block, jobId=job_id)[0].spec)
    try:
        model = model_of(spec, done["result"])
    except ConfigError as err:
        raise ConfigError(f"job {job_id}: {err}") from err
    return JobModel(model, job_id, done["result_hash"])


def predictions(source: JobModel, data: Binding) -> dict[str, Any]:
    """The model's prediction for every row of ``data``, after every row was read and checked."""
    model = source.model
    path = data.database if isinstance(data, SqlSource) else Path(data)
    if not path.is_file():
        raise ConfigError(f"{path} does not exist; --data names the CSV file (or, with --query, the SQLite "
                          "database) holding the rows to predict")
    needed = [f"{n} (a number)" for n in model.numeric]
    needed += [f"{n} (one of {', '.join(d)})" for n, d in model.categorical.items()]
    hint = f"; the model reads {', '.join(needed)}: add the column to the data, or rename the one that holds it"
    fp = model.spec.fixed_point
    table, lines = read_features(data, model.numeric, model.categorical, 2 ** (fp.k - 1 - fp.f), hint)
    rows = records(model, table)
    predicted = model.predict(rows)
    return {"job": source.job, "analysis": model.analysis, "target": model.target(),
            "features": [*model.numeric, *model.categorical], "data": str(data),
            "rows": [{"row": line, **row, "prediction": p}
                     for line, row, p in zip(lines, rows, predicted, strict=True)]}


@model_app.command("export")
def model_export(job: int = typer.Argument(..., min=1, help="The model job's number."), rpc: str = RPC,
                 manifest: Path = MANIFEST,
                 out: Path | None = typer.Option(None, "--out", help="Write the JSON here instead of stdout."),
                 as_json: bool = JSON_OUT) -> None:
    """Export a finalised model job as JSON (docs/reference/models.md), to stdout or --out FILE."""
    source = job_model(connect(rpc, manifest), job)
    text = dumps(source.model, source.job, source.result_hash)
    if out is None:
        print(text, end="")
        return
    out.write_text(text, encoding="utf-8")
    emit(as_json, {"job": job, "type": source.model.analysis, "out": str(out)},
         [f"wrote the {source.model.analysis} model of job {job} to {out}"])


@model_app.command("predict")
def model_predict(
    job: int | None = OPTIONAL_JOB, rpc: str = RPC, manifest: Path = MANIFEST,
    data: Path = typer.Option(..., "--data", help="The rows to predict: a CSV file with a header row, or a "
                                                  "SQLite database with --query."),
    query: str | None = typer.Option(None, "--query", help="With a SQLite --data: the SELECT giving the rows "
                                                           "(name columns with AS)."),
    model_file: Path | None = typer.Option(None, "--model", help="Predict with this export (`mpcc model "
                                                                 "export`) instead of a job: no chain needed."),
    out: Path | None = typer.Option(None, "--out", help="Write the rows and predictions to this CSV file."),
    as_json: bool = JSON_OUT,
) -> None:
    """Predict with a model job (or an exported --model) for every row of --data."""
    if (job is None) == (model_file is None):
        raise ConfigError("say which model: a JOB number (read from the chain) or --model FILE (an export)")
    source = _load(model_file) if model_file is not None else job_model(connect(rpc, manifest), job or 0)
    done = predictions(source, SqlSource(data, query) if query is not None else data)
    if out is not None:
        _write_csv(out, done)
        emit(as_json, {**done, "rows": len(done["rows"]), "out": str(out)},
             [f"wrote {len(done['rows'])} predictions of {_origin(source)} to {out}"])
        return
    show(as_json, done, [_view(source, done)])


def _load(path: Path) -> JobModel:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read the model file {path}: {err}") from err
    model = loads(text, str(path))  # Checked first: the text is then a valid export.
    data = json.loads(text)
    job, digest = data.get("job"), data.get("result_hash")
    return JobModel(model, job if isinstance(job, int) else None, digest if isinstance(digest, str) else None)


def _origin(source: JobModel) -> str:
    what = f"the {source.model.analysis} model"
    return what + (f" of job {source.job}" if source.job is not None else "")


def _cell(value: object, prediction: bool = False) -> str:
    """A value as printed: a regression's prediction to six places, a number read as Python writes it."""
    return f"{value:.6f}" if prediction and isinstance(value, float) else str(value)


def _write_csv(out: Path, done: dict[str, Any]) -> None:
    columns = ["row", *done["features"], "prediction"]
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in done["rows"]:
            writer.writerow([_cell(row[c], c == "prediction") for c in columns])


def _view(source: JobModel, done: dict[str, Any]) -> Group:
    table = Table()
    columns = ["row", *done["features"], "prediction"]
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in done["rows"]:
        table.add_row(*(Text(_cell(row[c], c == "prediction")) for c in columns))
    title = f"Predictions of {_origin(source)} ({done['target']['name']}) for {done['data']}"
    return Group(Text(title, style="bold"), table)
