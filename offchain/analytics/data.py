"""An organisation's data for a job: columns from CSV files or SQLite queries, validated before use.

Nothing is sent before every value has been read and checked: a missing file or
column, an empty or non-numeric cell, a value outside the fixed-point range, a
category outside the spec's domain or more rows than the spec's ``max_rows``
raises ``ConfigError`` naming the file (or database and query), the row and
the column. In a CSV file blank lines are skipped and rows are numbered as in
the file (the header is row 1); a query's rows are numbered from 1, its
columns are named by the query (``SELECT age, bmi AS weight FROM ...``) and
NULL is a missing value. Databases are opened read-only.
"""

from __future__ import annotations

import csv
import math
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from offchain.analytics.shape import categorical_columns, numeric_columns
from offchain.analytics.spec import JobSpec
from offchain.errors import ConfigError


def read_column(path: Path, column: str, k: int = 64, f: int = 20) -> list[float]:
    """The numeric values of ``column`` in CSV ``path`` (header row first), validated."""
    limit = 2 ** (k - 1 - f)
    values = [_value(path, line, column, cell, limit) for line, cell in _read_cells(path, [column])[column]]
    if not values:
        raise ConfigError(f"{path}: column {column!r} has no values")
    return values


def _value(path: Path | str, line: int, column: str, cell: str, limit: int) -> float:
    where = f"{path}, row {line}, column {column!r}"
    if not cell.strip():
        raise ConfigError(f"{where}: missing value; fill it in or remove the row")
    try:
        value = float(cell)
    except ValueError:
        raise ConfigError(f"{where}: {cell!r} is not a number") from None
    if not math.isfinite(value) or abs(value) >= limit:
        raise ConfigError(f"{where}: {cell!r} is outside the fixed-point range (-{limit}, {limit})")
    return value


@dataclass(frozen=True)
class SqlSource:
    """Rows of ``query`` against the local SQLite database ``database`` (opened read-only)."""

    database: Path
    query: str

    def __str__(self) -> str:
        return f"{self.database} (query {self.query!r})"


#: What a spec column is bound to: a CSV file, or a query.
Binding = Path | SqlSource


# Tables: every column a spec reads, validated against the spec ---------------------------------
@dataclass(frozen=True)
class Table:
    """One party's validated rows: numeric columns as floats, categorical ones as domain indices."""

    rows: int
    numeric: Mapping[str, np.ndarray]
    codes: Mapping[str, np.ndarray]


def read_table(spec: JobSpec, bindings: Mapping[str, Binding]) -> Table:
    """The columns ``spec`` reads, each from the CSV file or query bound to it, validated.

    Columns bound to the same file (or the same query) are read from it together
    (one row = one record); columns from different sources must have the same
    number of rows.
    ``ConfigError`` names the file, row and column of the first bad cell.
    """
    wanted = [*numeric_columns(spec), *categorical_columns(spec)]
    missing = [c for c in wanted if c not in bindings]
    if missing:
        raise ConfigError(f"no data file is bound to column {missing[0]!r}; add it to the "
                          "organisation's data bindings")
    cells: dict[str, list[tuple[int, str]]] = {}
    sources: dict[str, str] = {}
    for source in dict.fromkeys(bindings[c] for c in wanted):
        columns = [c for c in wanted if bindings[c] == source]
        if isinstance(source, SqlSource):
            cells.update(_read_query(source, columns))
        else:
            cells.update(_read_cells(Path(source), columns))
        sources.update({c: str(source) for c in columns})
    return table_from_cells(spec, cells, sources)


def table_from_columns(spec: JobSpec, columns: Mapping[str, Sequence[object]],
                       source: str = "<memory>") -> Table:
    """A table from in-memory columns (tests, benchmarks), validated as ``read_table`` does."""
    cells = {c: [(i + 2, str(v)) for i, v in enumerate(vs)] for c, vs in columns.items()}
    return table_from_cells(spec, cells, {c: source for c in columns})


def table_from_cells(spec: JobSpec, cells: Mapping[str, list[tuple[int, str]]],
                     sources: Mapping[str, str]) -> Table:
    """Validates (line, cell) lists per column against the spec's types, domains and range."""
    k, f = spec.fixed_point.k, spec.fixed_point.f
    limit = 2 ** (k - 1 - f)
    lengths = {c: len(v) for c, v in cells.items()}
    rows = max(lengths.values(), default=0)
    if len(set(lengths.values())) > 1:
        raise ConfigError(f"columns have different numbers of rows: {lengths}")
    if rows == 0:
        raise ConfigError(f"no rows in {sorted(set(sources.values()))}")
    if spec.max_rows is not None and rows > spec.max_rows:
        raise ConfigError(f"{sorted(set(sources.values()))}: {rows} rows, the spec allows at "
                          f"most max_rows={spec.max_rows} per party")
    numeric = {}
    for c in numeric_columns(spec):
        numeric[c] = np.array([_value(Path(sources[c]), line, c, cell, limit)
                               for line, cell in cells[c]], dtype=np.float64)
    codes = {}
    for c in categorical_columns(spec):
        index = {v: i for i, v in enumerate(spec.domain(c))}
        codes[c] = np.array([_category(sources[c], line, c, cell, index)
                             for line, cell in cells[c]], dtype=np.int64)
    if spec.analysis == "histogram":
        _in_bins(spec, numeric[spec.columns[0]], cells[spec.columns[0]], sources)
    return Table(rows, numeric, codes)


def _read_cells(path: Path, columns: list[str]) -> dict[str, list[tuple[int, str]]]:
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
    out: dict[str, list[tuple[int, str]]] = {c: [] for c in columns}
    for column in columns:
        if column not in header:
            raise ConfigError(f"{path}: no column {column!r}; the header has {header}")
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        for column in columns:
            index = header.index(column)
            out[column].append((line, row[index] if index < len(row) else ""))
    return out


def _read_query(source: SqlSource, columns: list[str]) -> dict[str, list[tuple[int, str]]]:
    if not source.database.is_file():
        raise ConfigError(f"database {source.database} does not exist; check the organisation's data binding")
    try:
        with sqlite3.connect(source.database.resolve().as_uri() + "?mode=ro", uri=True) as db:
            cursor = db.execute(source.query)
            if cursor.description is None:
                raise ConfigError(f"{source}: the query returns no rows; it must be a SELECT")
            header = [d[0] for d in cursor.description]
            rows = cursor.fetchall()
    except sqlite3.Error as err:
        raise ConfigError(f"{source}: the query failed: {err}") from err
    for column in columns:
        if column not in header:
            raise ConfigError(f"{source}: no column {column!r}; the query returns {header} "
                              f"(name it with AS {column})")
    index = {c: header.index(c) for c in columns}
    return {c: [(line, "" if row[index[c]] is None else str(row[index[c]]))
                for line, row in enumerate(rows, start=1)] for c in columns}


def _category(source: str, line: int, column: str, cell: str, index: dict[str, int]) -> int:
    where = f"{source}, row {line}, column {column!r}"
    value = cell.strip()
    if not value:
        raise ConfigError(f"{where}: missing value; fill it in or remove the row")
    if value not in index:
        raise ConfigError(f"{where}: {value!r} is not in the declared domain {list(index)}")
    return index[value]


def _in_bins(spec: JobSpec, values: np.ndarray, cells: list[tuple[int, str]],
             sources: Mapping[str, str]) -> None:
    low, high = spec.params.bins[0], spec.params.bins[-1]
    column = spec.columns[0]
    for value, (line, cell) in zip(values, cells):
        if not low <= value <= high:
            raise ConfigError(f"{sources[column]}, row {line}, column {column!r}: {cell!r} is "
                              f"outside the histogram's bins [{low}, {high}]")
