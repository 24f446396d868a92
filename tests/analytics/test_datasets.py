"""Named datasets: each source reads the same table, columns are renamed, DuckDB can neither read nor write files.

The PostgreSQL tests run against a throwaway server (initdb and pg_ctl in a
temporary folder, as the ``postgres`` user when the tests run as root); they
fail, naming what to install, where PostgreSQL's server programs are not (scripts/setup installs them).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import psycopg
import pytest
from analytics_testkit import spec

from offchain.analytics import sources
from offchain.analytics.data import data_for, read_table
from offchain.analytics.sources import (
    Dataset,
    ParquetFile,
    PostgresSource,
    Source,
    SqlSource,
    check_conninfo,
    lock,
)
from offchain.errors import ConfigError

AGE, TARGET = 'Age "years"', "od280/od315_of_diluted_wines"
ROWS = [(31.5, 2.25, "north"), (47.0, -1.5, "süd"), (52.25, 3.0, "north")]
SPEC = spec(analysis="summary", columns=("age", "target"), group_by="region", max_rows=8,
            domains={"region": ("north", "süd")}, reveal=("count", "mean"))
RENAMES = {"age": AGE, "target": TARGET}


def write_csv(path: Path, rows: list[tuple[object, ...]], header: str = f'"{AGE.replace(chr(34), 2 * chr(34))}",'
              f"{TARGET},region") -> Path:
    path.write_text(header + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows), encoding="utf-8")
    return path


def write_parquet(path: Path, rows: list[tuple[object, ...]], age_type: str = "DOUBLE") -> Path:
    """A Parquet file made by DuckDB from ``rows`` (the age column typed ``age_type``)."""
    con = duckdb.connect()
    con.execute(f'CREATE TABLE t ("{AGE.replace(chr(34), 2 * chr(34))}" {age_type}, "{TARGET}" DOUBLE, '
                "region VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?, ?, ?)", rows)
    con.execute("COPY t TO ? (FORMAT parquet)", [str(path)])
    con.close()
    return path


def write_sqlite(path: Path, rows: list[tuple[object, ...]]) -> Path:
    with sqlite3.connect(path) as db:
        db.execute(f'CREATE TABLE wine ("{AGE.replace(chr(34), 2 * chr(34))}" REAL, "{TARGET}" REAL, region TEXT)')
        db.executemany("INSERT INTO wine VALUES (?, ?, ?)", rows)
    db.close()
    return path


def check_table(source: Source) -> None:
    table = read_table(SPEC, Dataset(source, RENAMES))
    assert table.rows == 3
    assert table.numeric["age"].tolist() == [31.5, 47.0, 52.25]
    assert table.numeric["target"].tolist() == [2.25, -1.5, 3.0]
    assert table.codes["region"].tolist() == [0, 1, 0]


@pytest.mark.parametrize("kind", ["csv", "parquet", "sqlite table", "sqlite query"])
def test_every_file_source_reads_the_same_table(tmp_path: Path, kind: str) -> None:
    sources: dict[str, Source] = {
        "csv": write_csv(tmp_path / "wine.csv", ROWS),
        "parquet": ParquetFile(write_parquet(tmp_path / "wine.parquet", ROWS)),
        "sqlite table": SqlSource(write_sqlite(tmp_path / "t.db", ROWS), table="wine"),
        "sqlite query": SqlSource(write_sqlite(tmp_path / "q.db", ROWS), f'SELECT * FROM wine WHERE "{TARGET}" < 9'),
    }
    check_table(sources[kind])


def test_two_datasets_may_both_have_a_target_column(tmp_path: Path) -> None:
    datasets = {"wine": Dataset(ParquetFile(write_parquet(tmp_path / "wine.parquet", ROWS)), RENAMES),
                "clinic": Dataset(write_csv(tmp_path / "clinic.csv", [(1, 10, "süd"), (2, 20, "süd")],
                                            "age,target,region"))}
    wine, clinic = (spec(**{**SPEC.model_dump(), "dataset": name}) for name in ("wine", "clinic"))
    assert read_table(wine, data_for(wine, datasets)).numeric["target"].tolist() == [2.25, -1.5, 3.0]
    assert read_table(clinic, data_for(clinic, datasets)).numeric["target"].tolist() == [10.0, 20.0]
    # A spec naming no dataset keeps the canonical text (and hash) it always had.
    assert '"dataset"' not in SPEC.canonical() and '"dataset":"wine"' in wine.canonical()
    with pytest.raises(ConfigError, match=r"dataset 'default', which this organisation does not have "
                                          r"\(its datasets: clinic, wine\); declare it under \[datasets.default\]"):
        data_for(SPEC, datasets)


def test_names_that_differ_only_in_case_are_two_columns(tmp_path: Path) -> None:
    # DuckDB compares names without case; the columns keep their own all the same.
    csv = tmp_path / "case.csv"
    csv.write_text("a,A\n1,10\n2,20\n")
    table = read_table(spec(analysis="summary", columns=("a", "A"), reveal=("count", "mean")), Dataset(csv))
    assert table.numeric["a"].tolist() == [1.0, 2.0] and table.numeric["A"].tolist() == [10.0, 20.0]


def test_bad_cells_name_the_source_the_row_and_the_column(tmp_path: Path) -> None:
    text = write_parquet(tmp_path / "text.parquet", [("31", 1.0, "north"), ("1_000", 2.0, "süd")], "VARCHAR")
    with pytest.raises(ConfigError, match=rf"text.parquet \(its column '{AGE}' read as 'age'\), row 2, "
                                          r"column 'age': '1_000' is not a plain number"):
        read_table(SPEC, Dataset(ParquetFile(text), RENAMES))
    null = write_parquet(tmp_path / "null.parquet", [(31.0, 1.0, "north"), (None, 2.0, "süd")])
    with pytest.raises(ConfigError, match=r"null.parquet .*, row 2, column 'age': missing value"):
        read_table(SPEC, Dataset(ParquetFile(null), RENAMES))
    csv = write_csv(tmp_path / "bad.csv", [(31, 1, "north"), (40, "x", "süd"), (41, 2, "west")])
    with pytest.raises(ConfigError, match=rf"bad.csv \(its column '{TARGET}' read as 'target'\), row 3, "
                                          r"column 'target': 'x' is not a number"):
        read_table(SPEC, Dataset(csv, RENAMES))


def test_missing_files_and_columns_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"data file .*absent.parquet does not exist"):
        read_table(SPEC, Dataset(ParquetFile(tmp_path / "absent.parquet"), RENAMES))
    with pytest.raises(ConfigError, match=r"data file .*absent.csv does not exist"):
        read_table(SPEC, Dataset(tmp_path / "absent.csv", RENAMES))
    parquet = ParquetFile(write_parquet(tmp_path / "wine.parquet", ROWS))
    with pytest.raises(ConfigError, match=r"wine.parquet: no column 'age'; the file has \['Age \"years\"'"):
        read_table(SPEC, Dataset(parquet, {"target": TARGET}))
    not_parquet = ParquetFile(write_csv(tmp_path / "fake.parquet", ROWS))
    with pytest.raises(ConfigError, match=r"fake.parquet: not a readable Parquet file"):
        read_table(SPEC, Dataset(not_parquet, RENAMES))


def test_a_locked_connection_reads_and_writes_no_file(tmp_path: Path) -> None:
    parquet = write_parquet(tmp_path / "wine.parquet", ROWS)
    con = duckdb.connect(":memory:")
    con.execute("CREATE TABLE t AS SELECT * FROM read_parquet(?)", [str(parquet)])
    lock(con)
    before = sorted(tmp_path.iterdir())
    for statement in (f"COPY t TO '{tmp_path / 'out.csv'}'", f"ATTACH '{tmp_path / 'new.db'}' AS planted",
                      f"EXPORT DATABASE '{tmp_path / 'dump'}'", f"SELECT * FROM read_parquet('{parquet}')",
                      "SET enable_external_access = true", "INSTALL sqlite"):
        with pytest.raises(duckdb.Error):
            con.execute(statement)
    assert sorted(tmp_path.iterdir()) == before
    assert con.execute("SELECT count(*) FROM t").fetchone() == (3,)  # What was loaded stays readable.


def test_a_connection_string_with_a_password_is_refused() -> None:
    with pytest.raises(ConfigError, match="holds a password: remove it and name an environment variable"):
        check_conninfo("postgresql://reader:hunter2@db.example/clinic")
    with pytest.raises(ConfigError, match="not a PostgreSQL connection string"):
        check_conninfo("host=db dbname")
    check_conninfo("postgresql://reader@db.example/clinic")


# PostgreSQL, on a throwaway server --------------------------------------------------------------
def _server_program(name: str) -> str | None:
    found = shutil.which(name) or sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))[-1:]
    return found if isinstance(found, str) else (found[0] if found else None)


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    """A PostgreSQL server on a Unix socket in a temporary folder: its owner's conninfo (password auth)."""
    initdb, pg_ctl = _server_program("initdb"), _server_program("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.fail("PostgreSQL's server programs (initdb, pg_ctl) are not installed; run scripts/setup")
    # The server refuses to run as root: then it runs as the postgres user the Debian package made.
    user = "postgres" if os.geteuid() == 0 else None
    if user is not None and user not in {entry.pw_name for entry in pwd.getpwall()}:
        pytest.fail("running as root, the server needs the postgres user (Debian's postgresql package makes it; "
                    "run scripts/setup)")
    folder = Path(tempfile.mkdtemp(prefix="mpcc-pg-"))
    password = folder / "pw"
    password.write_text("owner-secret\n")
    if user is not None:
        owner = pwd.getpwnam(user)
        for path in (folder, password):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    run = {"check": True, "capture_output": True, "user": user, "timeout": 60}
    subprocess.run([initdb, "-D", str(folder / "data"), "-U", "owner", "-A", "scram-sha-256",
                    "--pwfile", str(password), "-E", "UTF8", "--no-sync"], **run)  # type: ignore[call-overload]
    subprocess.run([pg_ctl, "-D", str(folder / "data"), "-l", str(folder / "log"), "-w", "-o",
                    f"-k {folder} -c listen_addresses='' -c fsync=off", "start"], **run)  # type: ignore[call-overload]
    try:
        yield f"host={folder} dbname=postgres user=owner"
    finally:
        subprocess.run([pg_ctl, "-D", str(folder / "data"), "-m", "immediate", "stop"], **run)  # type: ignore[call-overload]
        shutil.rmtree(folder)


@pytest.fixture
def open_folder() -> Iterator[Path]:
    """A folder the server could write in, were it let (tmp_path's parents are closed to other users)."""
    folder = Path(tempfile.mkdtemp(prefix="mpcc-pg-out-"))
    folder.chmod(0o777)
    yield folder
    shutil.rmtree(folder)


@pytest.fixture(scope="module")
def clinic(postgres: str) -> str:
    """A table ``wine`` of ROWS, and a role ``reader`` that may change it but not write files: its conninfo."""
    with psycopg.connect(postgres, password="owner-secret", autocommit=True) as db:
        db.execute(f'CREATE TABLE wine ("{AGE.replace(chr(34), 2 * chr(34))}" float8, "{TARGET}" numeric, '
                   "region text)")
        with db.cursor() as cursor:
            cursor.executemany("INSERT INTO wine VALUES (%s, %s, %s)", ROWS)
        # The role may write the table, so that only the read-only transaction stops its writes.
        db.execute("CREATE ROLE reader LOGIN PASSWORD 'reader-secret'")
        db.execute("GRANT SELECT, INSERT, DELETE ON wine TO reader")
        db.execute("GRANT CREATE ON SCHEMA public TO reader")
    return postgres.replace("user=owner", "user=reader")


def test_postgresql_reads_the_same_table(clinic: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGPASSWORD_CLINIC", "reader-secret")
    check_table(PostgresSource(clinic, table="wine", password_env="PGPASSWORD_CLINIC"))
    check_table(PostgresSource(clinic, f'SELECT * FROM wine WHERE "{TARGET}" < 9', password_env="PGPASSWORD_CLINIC"))
    monkeypatch.delenv("PGPASSWORD_CLINIC")
    with pytest.raises(ConfigError, match=r"environment variable PGPASSWORD_CLINIC .* is not set"):
        read_table(SPEC, Dataset(PostgresSource(clinic, table="wine", password_env="PGPASSWORD_CLINIC"), RENAMES))
    monkeypatch.setenv("PGPASSWORD", "wrong")  # libpq's own variable, used when password_env is not given.
    with pytest.raises(ConfigError, match=r"PostgreSQL database 'postgres' on .*: cannot connect: .*password"):
        read_table(SPEC, Dataset(PostgresSource(clinic, table="wine"), RENAMES))


@pytest.mark.parametrize(("query", "refusal"), [
    ("INSERT INTO wine VALUES (1, 1, 'north') RETURNING *", "cannot execute INSERT in a read-only transaction"),
    ("CREATE TABLE planted AS SELECT * FROM wine", "cannot execute CREATE TABLE AS in a read-only transaction"),
    ("SELECT * FROM wine; DELETE FROM wine", "cannot execute DELETE in a read-only transaction"),
    ("COPY (SELECT 1) TO '{file}'", "must be superuser or have privileges of the pg_write_server_files role"),
])
def test_a_postgresql_query_cannot_write(clinic: str, monkeypatch: pytest.MonkeyPatch, open_folder: Path,
                                         query: str, refusal: str) -> None:
    monkeypatch.setenv("PGPASSWORD", "reader-secret")
    planted = open_folder / "planted"
    with pytest.raises(ConfigError, match=r"\(query .*\): the query failed: " + refusal):
        read_table(SPEC, Dataset(PostgresSource(clinic, query.format(file=planted)), RENAMES))
    check_table(PostgresSource(clinic, table="wine"))  # Nothing changed,
    assert not planted.exists()  # and no file was written.


def test_a_postgresql_query_that_runs_too_long_is_cancelled_by_the_server(
        clinic: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGPASSWORD", "reader-secret")
    monkeypatch.setattr(sources, "STATEMENT_TIMEOUT_S", 1)
    started = time.monotonic()
    with pytest.raises(ConfigError, match=r"the query ran longer than 1 s and the server cancelled it"):
        read_table(SPEC, Dataset(PostgresSource(clinic, "SELECT *, pg_sleep(30) FROM wine"), RENAMES))
    assert time.monotonic() - started < 20


def test_a_postgresql_role_that_may_write_files_is_refused(postgres: str, monkeypatch: pytest.MonkeyPatch,
                                                           open_folder: Path) -> None:
    monkeypatch.setenv("PGPASSWORD", "owner-secret")
    planted = open_folder / "planted"
    # The owner is a superuser: in a read-only transaction it could still COPY to a file.
    source = PostgresSource(postgres, f"COPY (SELECT 1) TO '{planted}'")
    with pytest.raises(ConfigError, match=r"the role connected may write files on the server .*connect as a role "
                                          "that may only read"):
        read_table(SPEC, Dataset(source, RENAMES))
    assert not planted.exists()
