"""An organisation's data for a job: a dataset's columns, validated before use.

The columns come from a dataset (offchain.analytics.sources: a CSV, Parquet,
SQLite or PostgreSQL source, or the ``[data]`` map of columns to CSV files and
SQLite queries), read through DuckDB. Nothing is sent before every value has
been read and checked: a missing file or column, an empty or non-numeric cell,
a value outside the fixed-point range, a category outside the spec's domain or
more rows than the spec's ``max_rows`` raises ``ConfigError`` naming the file
(or database and table or query), the row and the column. In a CSV file blank
lines are skipped and rows are numbered as in the file (the header is row 1);
the rows of a Parquet file, a table or a query are numbered from 1, a query's
columns are named by the query (``SELECT age, bmi AS weight FROM ...``) and
NULL is a missing value. Databases are opened read-only.

A column is checked whole (numpy masks over its parsed cells, ``float`` being
the parser); the error names the first bad cell of the first bad column,
numeric columns before categorical ones. A numeric cell given as text is plain
ASCII: ``float`` also reads ``1_000`` and digits of other scripts, which are
refused (a Parquet column typed as numbers holds numbers); a column named twice
(in a header, a schema or a query) is refused, and a SQLite query may only read
(an authorizer refuses ATTACH, PRAGMA and writes).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np

from offchain.analytics.sources import (
    DEFAULT_DATASET,
    Binding,
    Data,
    Dataset,
    RawColumn,
    Source,
    SqlSource,
    read_columns,
    read_csv,
    unbound_columns,
)
from offchain.analytics.spec import JobSpec, categorical_columns, numeric_columns
from offchain.errors import ConfigError

__all__ = ["Binding", "Data", "Dataset", "RawColumn", "SqlSource", "Table", "data_for", "read_column",
           "read_features", "read_table", "table_from_cells", "table_from_columns"]


def read_column(path: Path, column: str, k: int = 64, f: int = 20) -> list[float]:
    """The numeric values of ``column`` in CSV ``path`` (header row first), validated."""
    values = _numbers(str(path), column, read_csv(path, [column])[column], 2 ** (k - 1 - f))
    if not values.size:
        raise ConfigError(f"{path}: column {column!r} has no values")
    floats: list[float] = values.tolist()
    return floats


# Tables: every column a spec reads, validated against the spec ---------------------------------
@dataclass(frozen=True)
class Table:
    """One party's validated rows: numeric columns as floats, categorical ones as domain indices."""

    rows: int
    numeric: Mapping[str, np.ndarray]
    codes: Mapping[str, np.ndarray]


def read_table(spec: JobSpec, data: Data) -> Table:
    """The columns ``spec`` reads from ``data`` (a dataset, or the ``[data]`` map), validated.

    Columns bound to the same file (or the same query) are read from it together
    (one row = one record); columns from different sources must have the same
    number of rows.
    ``ConfigError`` names the file, row and column of the first bad cell.
    """
    wanted = [*numeric_columns(spec), *categorical_columns(spec)]
    missing = unbound_columns(data, wanted)
    if missing:
        raise ConfigError(f"no data file is bound to column {missing[0]!r}; add it to the "
                          "organisation's data bindings")
    cells, sources = read_columns(data, wanted)
    return table_from_cells(spec, cells, sources)


def data_for(spec: JobSpec, datasets: Mapping[str, Data]) -> Data:
    """The dataset ``spec`` names (the default one if it names none); ``ConfigError`` if there is none."""
    name = spec.dataset or DEFAULT_DATASET
    if name not in datasets:
        have = ", ".join(sorted(datasets)) or "none"
        raise ConfigError(f"the spec reads dataset {name!r}, which this organisation does not have "
                          f"(its datasets: {have}); declare it under [datasets.{name}]")
    return datasets[name]


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


def read_features(source: Source, numeric: Sequence[str], categorical: Mapping[str, Sequence[str]],
                  limit: int, hint: str) -> tuple[Table, Sequence[int]]:
    """The named columns of one file or query, validated as ``read_table`` validates a spec's, and the row numbers.

    Used to predict with a model: no spec (no label, no ``max_rows``), only the
    columns the model reads; ``categorical`` maps each to its domain. A missing
    column's error ends with ``hint`` (what to do); numeric values must satisfy
    |x| < ``limit``.
    """
    wanted = [*numeric, *categorical]
    cells, _ = read_columns(Dataset(source), wanted, hint)
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
