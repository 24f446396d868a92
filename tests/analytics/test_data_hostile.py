"""Data and specs a party did not mean, or a hostile one wrote: refused with the file, row and column.

``float`` reads ``1_000`` and digits of any script, a header may name a column
twice, a query may ATTACH (which creates a file), and a spec may nest deeper
than any parser recurses: each is refused with a clear error instead.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from analytics_testkit import spec
from offchain.analytics.data import SqlSource, read_table
from offchain.analytics.spec import MAX_JSON_DEPTH, MAX_SPEC_BYTES, JobSpec, load_json
from offchain.errors import ConfigError

SPEC = spec(analysis="summary", columns=("income",), group_by="region", max_rows=8,
            domains={"region": ("north", "süd")}, reveal=("count", "mean"))


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "data.csv"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("cell", ["1_000", "\u0661\u0662", "\uff11\uff12", "12\u00a0", "\u0967.5e3"])
def test_numbers_python_reads_but_a_data_file_should_not_hold_are_refused(tmp_path: Path, cell: str) -> None:
    float(cell)  # Python's parser takes every one of them.
    path = write(tmp_path, f"income,region\n10,north\n{cell},süd\n")
    with pytest.raises(ConfigError, match=r"row 3, column 'income': .* is not a plain number") as err:
        read_table(SPEC, {"income": path, "region": path})
    assert str(path) in str(err.value) and "ASCII digits 0-9" in str(err.value)


def test_non_ascii_categories_are_still_read(tmp_path: Path) -> None:
    path = write(tmp_path, "income,region\n10,north\n-2.5e1,süd\n")
    table = read_table(SPEC, {"income": path, "region": path})
    assert table.numeric["income"].tolist() == [10.0, -25.0] and table.codes["region"].tolist() == [0, 1]


def test_a_column_named_twice_is_refused_not_read_from_the_first(tmp_path: Path) -> None:
    path = write(tmp_path, "income,region,income\n10,north,99\n")
    with pytest.raises(ConfigError, match=r"row 1 \(the header\), column 'income': the name is given to "
                                          r"2 columns \(positions 1, 3\)") as err:
        read_table(SPEC, {"income": path, "region": path})
    assert str(path) in str(err.value)


def test_a_query_naming_a_column_twice_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "clinic.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE patients (pay REAL, other REAL, area TEXT)")
        conn.execute("INSERT INTO patients VALUES (1, 2, 'north')")
    conn.close()
    source = SqlSource(db, "SELECT pay AS income, other AS income, area AS region FROM patients")
    with pytest.raises(ConfigError, match="column 'income': the name is given to 2 columns"):
        read_table(SPEC, {"income": source, "region": source})


@pytest.mark.parametrize("query", [
    "ATTACH DATABASE '{new}' AS planted",
    "ATTACH DATABASE 'file:{new}?mode=rwc' AS planted",
    "SELECT pay AS income, area AS region FROM patients; ATTACH '{new}' AS planted",
    "PRAGMA journal_mode=DELETE",
])
def test_a_binding_query_cannot_attach_or_create_a_file(tmp_path: Path, query: str) -> None:
    db = tmp_path / "clinic.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE patients (pay REAL, area TEXT)")
        conn.execute("INSERT INTO patients VALUES (1, 'north')")
    conn.close()
    planted = tmp_path / "planted.db"
    before = sorted(p.name for p in tmp_path.iterdir())
    source = SqlSource(db, query.format(new=planted))
    with pytest.raises(ConfigError) as err:
        read_table(SPEC, {"income": source, "region": source})
    assert str(db) in str(err.value)
    assert not planted.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_a_deeply_nested_spec_from_the_chain_is_refused_before_parsing() -> None:
    deep = '{"analysis":"mean","params":' + "[" * 100_000 + "]" * 100_000 + "}"
    with pytest.raises(ConfigError, match=f"nested more than {MAX_JSON_DEPTH} levels"):
        JobSpec.parse(deep)
    with pytest.raises(ConfigError, match=f"more than the {MAX_SPEC_BYTES} allowed"):
        JobSpec.parse('{"title":"' + "x" * MAX_SPEC_BYTES + '"}')
    # Brackets inside strings are text, not nesting.
    assert load_json('{"title":"' + "[" * 1000 + '\\"]"}', "spec") == {"title": "[" * 1000 + '"]'}
