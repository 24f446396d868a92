"""Where an organisation's columns come from: CSV, Parquet, SQLite and PostgreSQL sources, read through DuckDB.

A ``Dataset`` is one source and an optional renaming of its columns to the
names specs use (``{"target": "od280/od315_of_diluted_wines"}``: the spec's
``target`` is the source's column of that name; a column not renamed keeps its
name). The peer configuration's older ``[data]`` map, which binds each column
to a CSV file or a SQLite query, is a dataset too (``Bindings``), whose columns
may come from several sources.

Every read goes through one in-memory DuckDB connection. Each source is loaded
into a table of it: a Parquet file by DuckDB itself; a CSV file, a SQLite or a
PostgreSQL result by Python's own readers, as text (so that a CSV file's rows
keep their numbers and each database is opened read-only by its own driver:
SQLite in ``mode=ro`` under an authorizer that refuses ATTACH, PRAGMA and
writes, PostgreSQL in a ``READ ONLY`` transaction). Then the connection is
locked, with no file access and no setting that can be changed back, before
the columns are selected under their spec names. Nothing is written anywhere.

A column named twice in a source is refused. Cells are not checked here:
offchain.analytics.data validates them. A CSV file's rows are numbered as in
the file (the header is row 1); the rows of a Parquet file, a table or a query
are numbered from 1.
"""

from __future__ import annotations

import csv
import os
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import compress
from operator import itemgetter
from pathlib import Path
from typing import Final

import duckdb
import numpy as np
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from offchain.errors import ConfigError

#: The dataset of a spec that names none: the peer configuration's ``[data]`` map.
DEFAULT_DATASET: Final = "default"
#: Seconds to wait for a PostgreSQL server to answer the connection.
_CONNECT_TIMEOUT_S: Final = 10
#: Seconds a dataset's PostgreSQL query may run before the server cancels it (the peer's data worker waits).
STATEMENT_TIMEOUT_S: Final = 300


@dataclass(frozen=True)
class RawColumn:
    """One column's cells as read, unvalidated, and the row number of each (as errors name rows).

    A cell is a CSV cell's text, a database value as text, or a Parquet value;
    None is a missing value (a NULL).
    """

    lines: Sequence[int]
    cells: Sequence[object]


@dataclass(frozen=True)
class SqlSource:
    """Rows of ``query``, or of all of ``table``, in the local SQLite database ``database`` (opened read-only)."""

    database: Path
    query: str = ""
    table: str = ""

    def __str__(self) -> str:
        if self.table:
            return f"{self.database} (table {self.table!r})"
        return f"{self.database} (query {self.query!r})"


@dataclass(frozen=True)
class ParquetFile:
    """A Parquet file, read by DuckDB; numeric columns may be typed as numbers or hold text."""

    path: Path

    def __str__(self) -> str:
        return str(self.path)


@dataclass(frozen=True)
class PostgresSource:
    """Rows of ``query``, or of all of ``table``, from a PostgreSQL server, in a read-only transaction.

    ``conninfo`` is a libpq connection string or URI without a password: the
    password comes from the environment variable ``password_env``, or from
    libpq's own ``PGPASSWORD`` or ``~/.pgpass``.
    """

    conninfo: str
    query: str = ""
    table: str = ""
    password_env: str = ""

    def __str__(self) -> str:
        try:
            params = conninfo_to_dict(self.conninfo)
        except psycopg.ProgrammingError:
            params = {}
        where = f"PostgreSQL database {params.get('dbname', '(default)')!r} on {params.get('host', 'localhost')}"
        if self.table:
            return f"{where} (table {self.table!r})"
        return f"{where} (query {self.query!r})"


#: A source of columns; a plain path is a CSV file (as in the ``[data]`` map).
Source = Path | ParquetFile | SqlSource | PostgresSource
#: What a ``[data]`` column is bound to: a CSV file, or a SQLite query.
Binding = Path | SqlSource
#: The ``[data]`` map: each spec column bound to its source.
Bindings = Mapping[str, Binding]


@dataclass(frozen=True)
class Dataset:
    """One source's columns under the names specs use: ``columns`` maps a spec name to the source's."""

    source: Source
    columns: Mapping[str, str] = field(default_factory=dict)


#: A dataset as ``read_columns`` takes it: one source with renames, or the ``[data]`` map.
Data = Dataset | Bindings


def check_conninfo(conninfo: str) -> None:
    """Refuses a PostgreSQL connection string that does not parse or holds a password in clear."""
    try:
        params = conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError as err:
        raise ConfigError(f"not a PostgreSQL connection string ({err})") from None
    if "password" in params:
        raise ConfigError("the connection string holds a password: remove it and name an environment variable "
                          "with password_env (or use PGPASSWORD or ~/.pgpass)")


def unbound_columns(data: Data, columns: Sequence[str]) -> list[str]:
    """The columns a ``[data]`` map binds no source to (a dataset's columns are known only once read)."""
    if isinstance(data, Dataset):
        return []
    return [c for c in columns if c not in data]


def read_columns(data: Data, columns: Sequence[str],
                 hint: str = "") -> tuple[dict[str, RawColumn], dict[str, str]]:
    """The cells of ``columns`` (spec names), and for each the source that errors name.

    Every source is loaded into one in-memory DuckDB connection, which is then
    locked (no file access, settings fixed) before the columns are selected.
    A missing source column's error ends with ``hint`` (what to do).
    """
    plan = [(source, names) for source, names in _plan(data, columns) if names]
    con = duckdb.connect(":memory:", config={"threads": 1, "autoinstall_known_extensions": False,
                                             "autoload_known_extensions": False, "temp_directory": ""})
    try:
        lines = [_load(con, f"s{i}", source, list(dict.fromkeys(names.values())), hint)
                 for i, (source, names) in enumerate(plan)]
        lock(con)
        cells: dict[str, RawColumn] = {}
        sources: dict[str, str] = {}
        for i, (source, names) in enumerate(plan):
            selected = _select(con, f"s{i}", names)
            cells.update({c: RawColumn(lines[i], selected[c]) for c in names})
            sources.update({c: _described(source, c, s) for c, s in names.items()})
        return cells, sources
    finally:
        con.close()


def lock(con: duckdb.DuckDBPyConnection) -> None:
    """Takes file access away from ``con`` for good: no read, write, COPY, ATTACH or extension load."""
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def quoted(name: str) -> str:
    """``name`` as a SQL identifier (any text: quotes doubled)."""
    return '"' + name.replace('"', '""') + '"'


def _plan(data: Data, columns: Sequence[str]) -> list[tuple[Source, dict[str, str]]]:
    """Each source to read and the columns read from it: spec name -> source column name."""
    if isinstance(data, Dataset):
        return [(data.source, {c: data.columns.get(c, c) for c in columns})]
    # Columns bound to the same file (or the same query) are read from it together.
    return [(source, {c: c for c in columns if data[c] == source})
            for source in dict.fromkeys(data[c] for c in columns)]


def _described(source: Source, column: str, source_column: str) -> str:
    if column == source_column:
        return str(source)
    return f"{source} (its column {source_column!r} read as {column!r})"


def _load(con: duckdb.DuckDBPyConnection, name: str, source: Source, columns: list[str],
          hint: str) -> Sequence[int]:
    """Loads ``columns`` of ``source`` into table ``name`` (columns c0, c1, ...); the rows' numbers."""
    if isinstance(source, ParquetFile):
        return _load_parquet(con, name, source.path, columns, hint)
    if isinstance(source, SqlSource):
        raw = read_sqlite(source, columns, hint)
    elif isinstance(source, PostgresSource):
        raw = read_postgres(source, columns, hint)
    else:
        raw = read_csv(source, columns, hint)
    # Registered as text (VARCHAR), the only type every cell of a CSV file or a database column has.
    con.register(name, {f"c{j}": np.array([None if v is None else str(v) for v in raw[c].cells], dtype=object)
                        for j, c in enumerate(columns)})
    return next(iter(raw.values())).lines if raw else ()


def _load_parquet(con: duckdb.DuckDBPyConnection, name: str, path: Path, columns: list[str],
                  hint: str) -> Sequence[int]:
    if not path.is_file():
        raise ConfigError(f"data file {path} does not exist; check the organisation's dataset")
    try:
        described = con.execute("SELECT * FROM read_parquet(?) LIMIT 0", [str(path)]).description
        header = [d[0] for d in described or ()]
        _check_columns(str(path), "its schema", header, columns, f"the file has {header}{hint}")
        selection = ", ".join(f"{quoted(c)} AS c{j}" for j, c in enumerate(columns))
        # Identifiers quoted by quoted(), the table named by us, the path a parameter.
        con.execute(f"CREATE TABLE {name} AS SELECT {selection} FROM read_parquet(?)",  # noqa: S608
                    [str(path)])
        count = con.execute(f"SELECT count(*) FROM {name}").fetchone()  # noqa: S608 - our table's name
    except duckdb.Error as err:
        raise ConfigError(f"{path}: not a readable Parquet file ({err})") from err
    return range(1, (count[0] if count else 0) + 1)


def _select(con: duckdb.DuckDBPyConnection, name: str, names: Mapping[str, str]) -> dict[str, list[object]]:
    """The columns of table ``name`` under their spec names, in the source's row order."""
    position = {s: j for j, s in enumerate(dict.fromkeys(names.values()))}
    selection = ", ".join(f"c{position[s]} AS {quoted(c)}" for c, s in names.items())
    rows = con.execute(f"SELECT {selection} FROM {name}").fetchall()  # noqa: S608 - quoted names, our table
    # By position: DuckDB compares names without case, so the result's names may not be the spec's.
    return {c: [row[i] for row in rows] for i, c in enumerate(names)}


def _check_columns(source: str, row: str, header: Sequence[str], columns: Sequence[str], has: str) -> None:
    """Every column is in the header exactly once; ``has`` says what there is instead."""
    for column in columns:
        if column not in header:
            raise ConfigError(f"{source}: no column {column!r}; {has}")
        at = [i + 1 for i, name in enumerate(header) if name == column]
        # A column named twice is refused: which of them a job would read is anybody's guess.
        if len(at) > 1:
            raise ConfigError(f"{source}, {row}, column {column!r}: the name is given to {len(at)} columns "
                              f"(positions {', '.join(map(str, at))}); rename all but one")


# Python's readers: a CSV file, and the two databases, each opened read-only ---------------------
def read_csv(path: Path, columns: list[str], hint: str = "") -> dict[str, RawColumn]:
    """The named columns of CSV ``path`` (header row first); blank rows skipped, rows numbered as in the file."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
    except FileNotFoundError:
        raise ConfigError(f"data file {path} does not exist; check the organisation's data binding") from None
    except (UnicodeDecodeError, csv.Error) as err:
        raise ConfigError(f"{path}: not a readable UTF-8 CSV file ({err})") from err
    if not rows:
        raise ConfigError(f"{path}: empty file, expected a header row with columns {columns}")
    header = [h.strip() for h in rows[0]]
    _check_columns(str(path), "row 1 (the header)", header, columns, f"the header has {header}{hint}")
    lines, body = _filled_rows(rows)
    shortest = min(map(len, body), default=0)
    return {c: RawColumn(lines, _cells_at(body, header.index(c), shortest)) for c in columns}


def _filled_rows(rows: list[list[str]]) -> tuple[Sequence[int], list[list[str]]]:
    """The rows after the header with a non-blank cell, and their numbers (the header is row 1)."""
    body, lines = rows[1:], range(2, len(rows) + 1)
    # "".join(row).strip() is empty exactly when every cell of the row is blank.
    filled = list(map(bool, map(str.strip, map("".join, body))))
    if all(filled):
        return lines, body
    return list(compress(lines, filled)), list(compress(body, filled))


def _cells_at(rows: list[list[str]], index: int, shortest: int) -> list[str]:
    """Cell ``index`` of every row; "" (a missing value) where a row is shorter."""
    if index < shortest:
        return list(map(itemgetter(index), rows))
    return [row[index] if index < len(row) else "" for row in rows]


#: What a SQLite query may do: read tables and call functions, nothing else (no ATTACH,
#: which would create a file, no PRAGMA, no write even to a temporary table).
_READ_ONLY_ACTIONS = frozenset({sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION,
                                sqlite3.SQLITE_RECURSIVE})


def _read_only(action: int, *_: object) -> int:
    return sqlite3.SQLITE_OK if action in _READ_ONLY_ACTIONS else sqlite3.SQLITE_DENY


def read_sqlite(source: SqlSource, columns: list[str], hint: str = "") -> dict[str, RawColumn]:
    """The named columns of a SQLite table or query's result (the database opened read-only)."""
    if not source.database.is_file():
        raise ConfigError(f"database {source.database} does not exist; check the organisation's data binding")
    try:
        db = sqlite3.connect(source.database.resolve().as_uri() + "?mode=ro", uri=True)
    except sqlite3.Error as err:
        raise ConfigError(f"{source}: cannot open the database: {err}") from err
    try:
        db.set_authorizer(_read_only)
        cursor = db.execute(source.query or f"SELECT * FROM {quoted(source.table)}")  # noqa: S608 - quoted
        if cursor.description is None:
            raise ConfigError(f"{source}: the query returns no rows; it must be a SELECT")
        header = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    except sqlite3.DatabaseError as err:
        hint_ = ("; a binding's query may only read (SELECT): ATTACH, PRAGMA and writes are refused"
                 if "not authorized" in str(err) else "")
        raise ConfigError(f"{source}: the query failed: {err}{hint_}") from err
    finally:
        db.close()
    return _result_columns(source, header, rows, columns, hint)


def read_postgres(source: PostgresSource, columns: list[str], hint: str = "") -> dict[str, RawColumn]:
    """The named columns of a PostgreSQL table or query's result, read in a read-only transaction."""
    params: dict[str, object] = {"connect_timeout": _CONNECT_TIMEOUT_S}
    if source.password_env:
        if source.password_env not in os.environ:
            raise ConfigError(f"{source}: the environment variable {source.password_env} (password_env) is not "
                              "set; set it to the database password before starting the peer")
        params["password"] = os.environ[source.password_env]
    try:
        conn = psycopg.connect(source.conninfo, **params)  # type: ignore[arg-type]
    except psycopg.Error as err:
        raise ConfigError(f"{source}: cannot connect: {err}".strip()) from err
    try:
        conn.read_only = True
        with conn.cursor() as cursor:
            # The first statement of the transaction, so that no later one may write.
            cursor.execute("SET TRANSACTION READ ONLY")
            cursor.execute(sql.SQL("SET LOCAL statement_timeout = {}").format(sql.Literal(f"{STATEMENT_TIMEOUT_S}s")))
            _check_reader(source, cursor)
            cursor.execute(sql.SQL("SELECT * FROM {}").format(sql.Identifier(source.table)) if source.table
                           else source.query.encode())
            if cursor.description is None:
                raise ConfigError(f"{source}: the query returns no rows; it must be a SELECT")
            header = [d.name for d in cursor.description]
            rows = cursor.fetchall()
    except psycopg.errors.QueryCanceled as err:
        raise ConfigError(f"{source}: the query ran longer than {STATEMENT_TIMEOUT_S} s and the server cancelled "
                          "it; read a smaller table, or a view or query the server answers sooner") from err
    except psycopg.Error as err:
        raise ConfigError(f"{source}: the query failed: {str(err).strip()}; a dataset's query may only "
                          "read (it runs in a read-only transaction)") from err
    finally:
        conn.close()
    return _result_columns(source, header, rows, columns, hint)


def _check_reader(source: PostgresSource, cursor: psycopg.Cursor[tuple[object, ...]]) -> None:
    """Refuses a role that could write files on the server, which a read-only transaction does not stop.

    A superuser (or a member of ``pg_write_server_files`` or ``pg_execute_server_program``)
    may ``COPY ... TO`` a file or a program even in a read-only transaction.
    """
    cursor.execute("SELECT pg_has_role('pg_write_server_files', 'USAGE') "
                   "OR pg_has_role('pg_execute_server_program', 'USAGE')")
    row = cursor.fetchone()
    if row is None or row[0] is not False:
        raise ConfigError(f"{source}: the role connected may write files on the server (a superuser, or a member "
                          "of pg_write_server_files or pg_execute_server_program); connect as a role that may only "
                          "read the data (CREATE ROLE reader LOGIN; GRANT SELECT ON ... TO reader)")


def _result_columns(source: SqlSource | PostgresSource, header: list[str], rows: list[tuple[object, ...]],
                    columns: list[str], hint: str) -> dict[str, RawColumn]:
    for column in columns:
        has = (f"the table has {header}" if source.table
               else f"the query returns {header} (name it with AS {column})")
        _check_columns(str(source), "its result", header, [column], has + hint)
    lines = range(1, len(rows) + 1)
    return {c: RawColumn(lines, list(map(itemgetter(header.index(c)), rows))) for c in columns}
