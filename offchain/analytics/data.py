"""An organisation's data for a job: columns from CSV files, validated before use.

Nothing is sent before every value has been read and checked: a missing file or
column, an empty or non-numeric cell, or a value outside the fixed-point range
raises ``ConfigError`` naming the file, the row and the column.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from offchain.errors import ConfigError


def read_column(path: Path, column: str, k: int = 64, f: int = 20) -> list[float]:
    """The numeric values of ``column`` in CSV ``path`` (header row first)."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
    except FileNotFoundError:
        raise ConfigError(f"data file {path} does not exist; check the organisation's data binding") from None
    except (UnicodeDecodeError, csv.Error) as err:
        raise ConfigError(f"{path}: not a readable UTF-8 CSV file ({err})") from err
    if not rows:
        raise ConfigError(f"{path}: empty file, expected a header row with column {column!r}")
    header = [h.strip() for h in rows[0]]
    if column not in header:
        raise ConfigError(f"{path}: no column {column!r}; the header has {header}")
    index = header.index(column)
    limit = 2 ** (k - 1 - f)
    values = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        values.append(_value(path, line, column, row[index] if index < len(row) else "", limit))
    if not values:
        raise ConfigError(f"{path}: column {column!r} has no values")
    return values


def _value(path: Path, line: int, column: str, cell: str, limit: int) -> float:
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
