"""Reading a party's table: every bad cell is refused naming file, row and column, before sending."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from offchain.analytics import registry
from offchain.analytics.data import SqlSource, read_table
from offchain.engine.context import Context
from offchain.engine.local import run_local
from offchain.errors import ConfigError
from analytics_testkit import spec

SPEC = spec(analysis="summary", columns=("income",), group_by="region", max_rows=4,
            domains={"region": ("north", "south")}, reveal=("count", "mean"))


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "data.csv"
    path.write_text(text)
    return path


def test_a_good_file_reads_as_a_table(tmp_path: Path) -> None:
    path = write(tmp_path, "income,region\n10,north\n\n20.5, south\n")
    table = read_table(SPEC, {"income": path, "region": path})
    assert table.rows == 2 and table.numeric["income"].tolist() == [10.0, 20.5]
    assert table.codes["region"].tolist() == [0, 1]


@pytest.mark.parametrize("text, where", [
    ("income,region\n10,north\n,south\n", "row 3, column 'income': missing value"),
    ("income,region\n10,north\nabc,south\n", "row 3, column 'income': 'abc' is not a number"),
    ("income,region\n1e30,north\n", "row 2, column 'income': '1e30' is outside the fixed-point"),
    ("income,region\n10,east\n", "row 2, column 'region': 'east' is not in the declared domain"),
    ("income,region\n10,\n", "row 2, column 'region': missing value"),
    ("income\n10\n", "no column 'region'"),
    ("income,region\n" + "1,north\n" * 5, "5 rows, the spec allows at most max_rows=4"),
])
def test_bad_cells_name_file_row_and_column(tmp_path: Path, text: str, where: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=where) as err:
        read_table(SPEC, {"income": path, "region": path})
    assert str(path) in str(err.value) or "no column" in where


def test_unbound_and_missing_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no data file is bound to column 'region'"):
        read_table(SPEC, {"income": tmp_path / "x.csv"})
    with pytest.raises(ConfigError, match="does not exist"):
        read_table(SPEC, {"income": tmp_path / "x.csv", "region": tmp_path / "x.csv"})


def test_histogram_values_outside_the_bins_are_refused() -> None:
    s = spec(analysis="histogram", columns=("x",), params={"bins": (0, 10)}, reveal=("counts",))
    with pytest.raises(ConfigError, match="row 3, column 'x': '11' is outside the histogram"):
        registry.table_from_columns(s, {"x": [1, 11]})


def test_an_overflowing_local_statistic_is_refused_before_any_message() -> None:
    s = spec(analysis="summary", columns=("x",), reveal=("variance",))
    big = registry.table_from_columns(s, {"x": [2.0**40] * 3})
    small = registry.table_from_columns(s, {"x": [1.0]})
    tables = [big, small, small]
    sent = []

    def tally(frm: int, to: int, index: int, payload: bytes) -> bytes:
        sent.append(frm)
        return payload

    async def program(ctx: Context) -> dict[str, str]:
        return await registry.run(ctx, s, tables[ctx.party])

    results = asyncio.run(run_local(3, program, needs=registry.needs(s), sacrifice=False,
                                    timeout=2, tamper=tally))
    assert isinstance(results[0], ConfigError) and "sum of 'x'" in str(results[0])
    assert 0 not in sent


def clinic_db(tmp_path: Path, rows: list[tuple[object, object]]) -> Path:
    path = tmp_path / "clinic.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE patients (pay REAL, area TEXT)")
        db.executemany("INSERT INTO patients VALUES (?, ?)", rows)
    return path


def test_columns_come_from_a_query_on_a_local_sqlite_database(tmp_path: Path) -> None:
    db = clinic_db(tmp_path, [(10, "north"), (20.5, "south"), (7, "north")])
    source = SqlSource(db, "SELECT pay AS income, area AS region FROM patients WHERE pay > 8 ORDER BY pay")
    table = read_table(SPEC, {"income": source, "region": source})
    assert table.rows == 2 and table.numeric["income"].tolist() == [10.0, 20.5]
    assert table.codes["region"].tolist() == [0, 1]
    # A CSV file and a query can be mixed when their rows line up.
    csv_path = write(tmp_path, "region\nsouth\nnorth\n")
    table = read_table(SPEC, {"income": source, "region": csv_path})
    assert table.codes["region"].tolist() == [1, 0]


@pytest.mark.parametrize("query, where", [
    ("SELECT pay AS income, area AS region FROM patients", "row 2, column 'income': missing value"),
    ("SELECT pay AS income FROM patients", r"no column 'region'; the query returns \['income'\]"),
    ("SELECT * FROM nowhere", "the query failed: no such table"),
    ("DELETE FROM patients", "attempt to write a readonly database"),
    ("CREATE TEMP TABLE t (x)", "the query returns no rows; it must be a SELECT"),
])
def test_bad_queries_and_values_are_named(tmp_path: Path, query: str, where: str) -> None:
    db = clinic_db(tmp_path, [(10, "north"), (None, "south")])
    source = SqlSource(db, query)
    with pytest.raises(ConfigError, match=where) as err:
        read_table(SPEC, {"income": source, "region": source})
    assert str(db) in str(err.value)
    with sqlite3.connect(db) as check:  # Read-only: nothing was deleted.
        assert check.execute("SELECT count(*) FROM patients").fetchone() == (2,)
