"""Jobs on named datasets, on the in-process chain: two datasets with a column of the same name, and a
dataset a member does not have, refused before anything is sent."""

from __future__ import annotations

import asyncio
import statistics
from pathlib import Path

import duckdb
import pytest

from mpcc.cli.commands import job_plan, spec_fields
from mpcc.demo.local import LocalConsortium
from offchain.analytics import stats
from offchain.analytics.sources import DEFAULT_DATASET, Dataset, ParquetFile
from offchain.analytics.spec import JobSpec
from offchain.errors import ConfigError
from onchain.abi.job_manager import InputsCommitted

TARGET = "od280/od315_of_diluted_wines"


def mean_of_target(c: LocalConsortium, dataset: str | None) -> JobSpec:
    return JobSpec(analysis="mean", column="target", reveal=("count", "mean"), dataset=dataset,
                   participants=tuple(p.address for p in c.peers))


def give_datasets(c: LocalConsortium, tmp_path: Path) -> dict[str, list[float]]:
    """Each peer: a Parquet dataset "wine" (target renamed) and a CSV dataset "clinic"; the values of each."""
    values: dict[str, list[float]] = {"wine": [], "clinic": []}
    for i, peer in enumerate(c.peers):
        wine = [1.5 + i, 2.25 * i, 3.0]
        clinic = [100.0 + 10 * i, 50.0]
        parquet = tmp_path / f"wine{i}.parquet"
        con = duckdb.connect()
        con.execute(f'CREATE TABLE t ("{TARGET}" DOUBLE)')
        con.executemany("INSERT INTO t VALUES (?)", [(v,) for v in wine])
        con.execute("COPY t TO ? (FORMAT parquet)", [str(parquet)])
        con.close()
        csv = tmp_path / f"clinic{i}.csv"
        csv.write_text("target\n" + "".join(f"{v}\n" for v in clinic))
        peer.datasets = {**peer.datasets, "wine": Dataset(ParquetFile(parquet), {"target": TARGET}),
                         "clinic": Dataset(csv)}
        values["wine"] += wine
        values["clinic"] += clinic
    return values


def test_two_datasets_with_a_target_column_feed_two_specs(consortium: LocalConsortium, tmp_path: Path) -> None:
    values = give_datasets(consortium, tmp_path)
    wine, clinic = mean_of_target(consortium, "wine"), mean_of_target(consortium, "clinic")
    consortium.feed(stats.needs(wine))
    outcomes = consortium.run_job(consortium.propose(wine))
    expected = {"count": str(len(values["wine"])), "mean": f"{statistics.mean(values['wine']):.6f}"}
    assert [getattr(o, "result", o) for o in outcomes] == [expected] * len(consortium.peers)
    # The other spec reads the other dataset's target (one MPC run is enough to show the path).
    tables = [asyncio.run(peer.load_data(clinic)) for peer in consortium.peers]
    assert [v for t in tables for v in t.numeric["target"].tolist()] == values["clinic"]


def test_a_dataset_a_member_does_not_have_is_refused_before_anything_is_sent(consortium: LocalConsortium,
                                                                             tmp_path: Path) -> None:
    give_datasets(consortium, tmp_path)
    peer = consortium.peers[0]
    spec = mean_of_target(consortium, "trial")
    reason = peer.missing_data(spec)
    assert reason is not None and "dataset 'trial', which this organisation does not have" in reason
    assert "its datasets: clinic, default, wine" in reason
    with pytest.raises(ConfigError, match="dataset 'trial'"):
        asyncio.run(peer.load_data(spec))
    # The default dataset ([data]) binds income, not target: that is missing data too.
    assert peer.missing_data(mean_of_target(consortium, None)) == "no data is bound to column 'target' here"
    assert peer.missing_data(mean_of_target(consortium, "wine")) is None
    assert set(peer.datasets) == {DEFAULT_DATASET, "wine", "clinic"}
    assert not consortium.dep.jobs.logs(InputsCommitted)


def test_job_options_name_the_dataset(tmp_path: Path) -> None:
    fields = spec_fields(None, "mean", "target", "0x" + "11" * 20 + ",0x" + "22" * 20, None, "wine")
    assert fields["dataset"] == "wine" and job_plan(JobSpec(**fields))["dataset"] == "wine"
    with pytest.raises(ConfigError, match="invalid job spec: dataset"):
        spec_fields(None, "mean", "target", None, None, "no such")
    file = tmp_path / "spec.json"
    file.write_text('{"analysis": "mean", "column": "target", "reveal": ["count", "mean"], "dataset": "clinic"}')
    assert spec_fields(file, None, None, None, None)["dataset"] == "clinic"
    with pytest.raises(ConfigError, match="names dataset 'clinic' and --dataset 'wine'; give it once"):
        spec_fields(file, None, None, None, None, "wine")
