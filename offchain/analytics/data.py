"""An organisation's data for a job: columns from CSV files or SQLite queries, validated before use.

Nothing is sent before every value has been read and checked: a missing file or
column, an empty or non-numeric cell, a value outside the fixed-point range, a
category outside the spec's domain or more rows than the spec's ``max_rows``
raises ``ConfigError`` naming the file (or database and query), the row and
the column. In a CSV file blank lines are skipped and rows are numbered as in
the file (the header is row 1); a query's rows are numbered from 1, its
columns are named by the query (``SELECT age, bmi AS weight FROM ...``) and
NULL is a missing value. Databases are opened read-only.

A column is checked whole (numpy masks over its parsed cells, ``float`` being
the parser); the error names the first bad cell of the first bad column,
numeric columns before categorical ones. A numeric cell is plain ASCII: ``float`` also reads
``1_000`` and digits of other scripts, which are refused; a column named twice (in a
header or a query) is refused, and a query may only read (an authorizer refuses ATTACH,
PRAGMA and writes).
"""

from __future__ import annotations

import csv
import math
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import compress
from operator import itemgetter
from pathlib import Path
from typing import cast

import numpy as np

from offchain.analytics.spec import JobSpec, categorical_columns, numeric_columns
from offchain.errors import ConfigError


def read_column(path: Path, column: str, k: int = 64, f: int = 20) -> list[float]:
    """The numeric values of ``column`` in CSV ``path`` (header row first), validated."""
    values = _numbers(str(path), column, _read_cells(path, [column])[column], 2 ** (k - 1 - f))
    if not values.size:
        raise ConfigError(f"{path}: column {column!r} has no values")
    floats: list[float] = values.tolist()
    return floats


@dataclass(frozen=True)
class SqlSource:
    """Rows of ``query`` against the local SQLite database ``database`` (opened read-only)."""

    database: Path
    query: str

    def __str__(self) -> str:
        return f"{self.database} (query {self.query!r})"


#: What a spec column is bound to: a CSV file, or a query.
Binding = Path | SqlSource


@dataclass(frozen=True)
class RawColumn:
    """One column's cells as read, unvalidated, and the row number of each (as errors name rows).

    A cell is a CSV cell's text, or a value a query returned; either is validated
    as its text (``_text``: NULL is the empty text, a missing value).
    """

    lines: Sequence[int]
    cells: Sequence[object]


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
    cells: dict[str, RawColumn] = {}
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
    cells = {c: RawColumn(range(2, len(vs) + 2), list(map(str, vs))) for c, vs in columns.items()}
    return table_from_cells(spec, cells, {c: source for c in columns})


def table_from_cells(spec: JobSpec, cells: Mapping[str, RawColumn],
                     sources: Mapping[str, str]) -> Table:
    """Validates raw columns against the spec's types, domains and range.

    Numeric columns are checked first, then categorical ones, each in spec order;
    within a column the first bad cell (in row order) is the one reported.
    """
    k, f = spec.fixed_point.k, spec.fixed_point.f
    lengths = {c: len(v.cells) for c, v in cells.items()}
    rows = max(lengths.values(), default=0)
    if len(set(lengths.values())) > 1:
        raise ConfigError(f"columns have different numbers of rows: {lengths}")
    if rows == 0:
        raise ConfigError(f"no rows in {sorted(set(sources.values()))}")
    if spec.max_rows is not None and rows > spec.max_rows:
        raise ConfigError(f"{sorted(set(sources.values()))}: {rows} rows, the spec allows at "
                          f"most max_rows={spec.max_rows} per party")
    # Messages about numeric cells have always named the source through Path(), which
    # also normalises a query's text ("//" becomes "/"); kept so that they are unchanged.
    numeric = {c: _numbers(str(Path(sources[c])), c, cells[c], 2 ** (k - 1 - f))
               for c in numeric_columns(spec)}
    codes = {c: _categories(sources[c], c, cells[c], spec.domain(c))
             for c in categorical_columns(spec)}
    if spec.analysis == "histogram":
        column = spec.columns[0]
        _in_bins(spec, numeric[column], cells[column], sources[column])
    return Table(rows, numeric, codes)


def read_features(source: Binding, numeric: Sequence[str], categorical: Mapping[str, Sequence[str]],
                  limit: int, hint: str) -> tuple[Table, Sequence[int]]:
    """The named columns of one file or query, validated as ``read_table`` validates a spec's, and the row numbers.

    Used to predict with a model: no spec (no label, no ``max_rows``), only the
    columns the model reads; ``categorical`` maps each to its domain. A missing
    column's error ends with ``hint`` (what to do); numeric values must satisfy
    |x| < ``limit``.
    """
    wanted = [*numeric, *categorical]
    if isinstance(source, SqlSource):
        cells = _read_query(source, wanted, hint)
    else:
        cells = _read_cells(Path(source), wanted, hint)
    lines = next(iter(cells.values())).lines if cells else ()
    if not lines:
        raise ConfigError(f"no rows in {source}")
    values = {c: _numbers(str(source), c, cells[c], limit) for c in numeric}
    codes = {c: _categories(str(source), c, cells[c], domain) for c, domain in categorical.items()}
    return Table(len(lines), values, codes), lines


# Validation: vectorised over a column; the first bad cell's message is built apart -------------
def _numbers(source: str, column: str, raw: RawColumn, limit: int) -> np.ndarray:
    """The cells as floats; ``ConfigError`` at the first missing, non-numeric or too large one."""
    values = _floats(raw.cells)
    # NaN (also what _floats puts for a cell float() refuses), infinities and values at
    # or beyond the limit all fail "< limit"; the limit is a power of 2, exact in a double.
    bad = np.flatnonzero(~(np.abs(values) < float(limit)))
    if bad.size:
        i = int(bad[0])
        raise _value_error(f"{source}, row {raw.lines[i]}, column {column!r}",
                           _text(raw.cells[i]), limit)
    return values


def _floats(cells: Sequence[object]) -> np.ndarray:
    """``_plain_float(_text(cell))`` of every cell, NaN where it fails."""
    if set(map(type, cells)) <= {str, float, int} and _plain(cells):
        # float() of an int or a float is float() of its text (both round correctly),
        # unless it raises OverflowError where the text would give an infinity.
        try:
            return np.fromiter(map(float, cells), np.float64, len(cells))  # type: ignore[arg-type]
        except (ValueError, OverflowError):
            pass
    return np.fromiter(map(_float_or_nan, cells), np.float64, len(cells))


def _plain(cells: Sequence[object]) -> bool:
    """Whether no text cell holds what ``float`` accepts beyond plain ASCII decimals."""
    texts = "".join(c for c in cells if isinstance(c, str))
    return texts.isascii() and "_" not in texts


def _plain_float(text: str) -> float:
    """``float(text)`` refusing what Python accepts but a data file should not hold.

    ``float`` takes ``1_000`` (a separator) and digits of any script (Arabic-Indic,
    fullwidth), so a typo or a pasted value could be read as another
    number than its author meant; a cell is plain ASCII, without ``_``.
    """
    if "_" in text or not text.isascii():
        raise ValueError(text)
    return float(text)


def _float_or_nan(cell: object) -> float:
    try:
        return _plain_float(_text(cell))
    except ValueError:
        return math.nan


def _text(cell: object) -> str:
    """The text a cell is validated as: a query's NULL is empty (missing)."""
    return "" if cell is None else str(cell)


def _texts(cells: Sequence[object]) -> Sequence[str]:
    """Every cell's text (the cells themselves if all are strings, as a CSV file's are)."""
    if set(map(type, cells)) <= {str}:
        return cast(Sequence[str], cells)
    return [_text(c) for c in cells]


def _value_error(where: str, cell: str, limit: int) -> ConfigError:
    """What is wrong with a numeric cell known to be bad."""
    if not cell.strip():
        return ConfigError(f"{where}: missing value; fill it in or remove the row")
    try:
        _plain_float(cell)
    except ValueError:
        if "_" in cell or not cell.isascii():
            return ConfigError(f"{where}: {cell!r} is not a plain number: write it with the ASCII digits 0-9, "
                               "an optional sign, decimal point and exponent, without '_' separators or digits "
                               "of other scripts")
        return ConfigError(f"{where}: {cell!r} is not a number")
    return ConfigError(f"{where}: {cell!r} is outside the fixed-point range (-{limit}, {limit})")


def _categories(source: str, column: str, raw: RawColumn, domain: Sequence[str]) -> np.ndarray:
    """The cells as indices into ``domain`` (stripped); ``ConfigError`` at the first bad one."""
    index = {v: i for i, v in enumerate(domain)}
    texts = _texts(raw.cells)
    # Each distinct text is stripped and looked up once; -1 marks a missing or unknown value.
    code = {text: index.get(text.strip(), -1) if text.strip() else -1
            for text in dict.fromkeys(texts)}
    codes = np.fromiter(map(code.__getitem__, texts), np.int64, len(texts))
    bad = np.flatnonzero(codes < 0)
    if bad.size:
        i = int(bad[0])
        where = f"{source}, row {raw.lines[i]}, column {column!r}"
        value = texts[i].strip()
        if not value:
            raise ConfigError(f"{where}: missing value; fill it in or remove the row")
        raise ConfigError(f"{where}: {value!r} is not in the declared domain {list(index)}")
    return codes


def _in_bins(spec: JobSpec, values: np.ndarray, raw: RawColumn, source: str) -> None:
    low, high = spec.params.bins[0], spec.params.bins[-1]
    bad = np.flatnonzero(~((low <= values) & (values <= high)))
    if bad.size:
        i = int(bad[0])
        raise ConfigError(f"{source}, row {raw.lines[i]}, column {spec.columns[0]!r}: "
                          f"{_text(raw.cells[i])!r} is outside the histogram's bins [{low}, {high}]")


# Sources: CSV files and SQLite queries, read whole before any cell is checked ------------------
def _read_cells(path: Path, columns: list[str], hint: str = "") -> dict[str, RawColumn]:
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
    for column in columns:
        if column not in header:
            raise ConfigError(f"{path}: no column {column!r}; the header has {header}{hint}")
        _check_unique(str(path), "row 1 (the header)", header, column)
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


def _check_unique(source: str, row: str, header: Sequence[str], column: str) -> None:
    """Refuses a column named twice: which of them a job would read is anybody's guess."""
    at = [i + 1 for i, name in enumerate(header) if name == column]
    if len(at) > 1:
        raise ConfigError(f"{source}, {row}, column {column!r}: the name is given to {len(at)} columns "
                          f"(positions {', '.join(map(str, at))}); rename all but one")


#: What a binding's query may do: read tables and call functions, nothing else (no ATTACH,
#: which would create a file, no PRAGMA, no write even to a temporary table).
_READ_ONLY_ACTIONS = frozenset({sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION,
                                sqlite3.SQLITE_RECURSIVE})


def _read_only(action: int, *_: object) -> int:
    return sqlite3.SQLITE_OK if action in _READ_ONLY_ACTIONS else sqlite3.SQLITE_DENY


def _read_query(source: SqlSource, columns: list[str], hint: str = "") -> dict[str, RawColumn]:
    if not source.database.is_file():
        raise ConfigError(f"database {source.database} does not exist; check the organisation's data binding")
    try:
        db = sqlite3.connect(source.database.resolve().as_uri() + "?mode=ro", uri=True)
    except sqlite3.Error as err:
        raise ConfigError(f"{source}: cannot open the database: {err}") from err
    try:
        db.set_authorizer(_read_only)
        cursor = db.execute(source.query)
        if cursor.description is None:
            raise ConfigError(f"{source}: the query returns no rows; it must be a SELECT")
        header = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    except sqlite3.DatabaseError as err:
        hint = ("; a binding's query may only read (SELECT): ATTACH, PRAGMA and writes are refused"
                if "not authorized" in str(err) else "")
        raise ConfigError(f"{source}: the query failed: {err}{hint}") from err
    finally:
        db.close()
    for column in columns:
        if column not in header:
            raise ConfigError(f"{source}: no column {column!r}; the query returns {header} "
                              f"(name it with AS {column}){hint}")
        _check_unique(str(source), "its result", header, column)
    lines = range(1, len(rows) + 1)
    return {c: RawColumn(lines, list(map(itemgetter(header.index(c)), rows))) for c in columns}
