"""Reading a party's table: every bad cell is refused naming file, row and column, before sending."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from offchain.auditable import routes
from offchain.analytics import registry
from offchain.analytics.data import SqlSource, read_column, read_table
from offchain.engine.context import Context
from harness.local import run_local
from offchain.errors import ConfigError
from analytics_testkit import F, K, spec

SPEC = spec(analysis="summary", columns=("income",), group_by="region", max_rows=4,
            domains={"region": ("north", "south")}, reveal=("count", "mean"))
#: The range tests pin the old default, whose edge 2^43 has exact decimal spellings.
EDGE = spec(analysis="summary", columns=("income",), group_by="region", max_rows=4,
            domains={"region": ("north", "south")}, reveal=("count", "mean"),
            fixed_point={"k": 64, "f": 20})


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
    # Three values of half the range: their sum exceeds 2^(k-1) / 3 parties (ulp), their squares too.
    big = registry.table_from_columns(s, {"x": [2.0 ** (K - 2 - F)] * 3})
    small = registry.table_from_columns(s, {"x": [1.0]})
    tables = [big, small, small]
    sent = []

    def tally(frm: int, to: int, index: int, payload: bytes) -> bytes:
        sent.append(frm)
        return payload

    async def program(ctx: Context) -> dict[str, str]:
        return await registry.run(ctx, s, tables[ctx.party])

    results = asyncio.run(run_local(3, program, needs=routes.needs(s), sacrifice=False,
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
    ("DELETE FROM patients", "not authorized; a binding.s query may only read"),
    ("CREATE TEMP TABLE t (x)", "not authorized; a binding.s query may only read"),
])
def test_bad_queries_and_values_are_named(tmp_path: Path, query: str, where: str) -> None:
    db = clinic_db(tmp_path, [(10, "north"), (None, "south")])
    source = SqlSource(db, query)
    with pytest.raises(ConfigError, match=where) as err:
        read_table(SPEC, {"income": source, "region": source})
    assert str(db) in str(err.value)
    with sqlite3.connect(db) as check:  # Read-only: nothing was deleted.
        assert check.execute("SELECT count(*) FROM patients").fetchone() == (2,)


# Large tables: cells are checked a column at a time; the first bad cell is still the one named.
def many_rows(n: int, bad: dict[int, str], blank_every: int = 0) -> str:
    """A CSV text of ``n`` good records, record i's income replaced by ``bad[i]``; a blank
    line after every ``blank_every`` records (so row numbers and record numbers differ)."""
    lines = ["income,region"]
    for i in range(n):
        lines.append(f"{bad.get(i, str(i % 97 + 0.25))},{'north' if i % 3 else 'south'}")
        if blank_every and i % blank_every == blank_every - 1:
            lines.append(" , " if i % 2 else "")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("bad, where", [
    ({7000: "1e99", 9000: "abc"}, "row 7002, column 'income': '1e99' is outside the fixed-point"),
    ({7000: "abc", 9000: "1e99"}, "row 7002, column 'income': 'abc' is not a number"),
    ({9000: "nan", 9500: ""}, "row 9002, column 'income': 'nan' is outside the fixed-point"),
    ({9999: " "}, "row 10001, column 'income': missing value"),
])
def test_the_first_bad_cell_of_many_rows_is_named(tmp_path: Path, bad: dict[int, str],
                                                  where: str) -> None:
    s = spec(analysis="summary", columns=("income",), group_by="region",
             domains={"region": ("north", "south")}, reveal=("count", "mean"))
    path = write(tmp_path, many_rows(10_000, bad))
    with pytest.raises(ConfigError, match=where):
        read_table(s, {"income": path, "region": path})


def test_rows_are_numbered_as_in_the_file_across_blank_lines(tmp_path: Path) -> None:
    s = spec(analysis="summary", columns=("income",), group_by="region",
             domains={"region": ("north", "south")}, reveal=("count", "mean"))
    path = write(tmp_path, many_rows(1000, {}, blank_every=10))
    table = read_table(s, {"income": path, "region": path})
    assert table.rows == 1000 and table.numeric["income"][:3].tolist() == [0.25, 1.25, 2.25]
    # Record 995 sits on row 2 + 995 + 99 (one blank line after every 10 records before it).
    path = write(tmp_path, many_rows(1000, {995: "x"}, blank_every=10))
    with pytest.raises(ConfigError, match="row 1096, column 'income': 'x' is not a number"):
        read_table(s, {"income": path, "region": path})
    # Numeric columns are checked before categorical ones, whatever the rows.
    text = many_rows(1000, {900: "x"}).replace("\n1.25,north\n", "\n1.25,west\n")
    with pytest.raises(ConfigError, match="row 902, column 'income'"):
        read_table(s, {"income": path, "region": write(tmp_path, text)})


LIMIT = 2**43  # k=64, f=20: values must lie in (-2^43, 2^43).


@pytest.mark.parametrize("cell, ok", [
    ("8796093022207.998", True), ("-8796093022207.998", True), (" 8796093022207 ", True),
    ("8796093022208", False), ("-8796093022208", False), ("8.796093022208e12", False),
    # Parsed to the nearest double, which is 2^43 itself.
    ("8796093022207.9999999", False), ("inf", False), ("-Infinity", False), ("NaN", False),
])
def test_values_at_the_edge_of_the_fixed_point_range(tmp_path: Path, cell: str, ok: bool) -> None:
    path = write(tmp_path, f"income,region\n1,north\n{cell},south\n")
    if ok:
        table = read_table(EDGE, {"income": path, "region": path})
        assert table.numeric["income"][1] == float(cell) and abs(float(cell)) < LIMIT
    else:
        with pytest.raises(ConfigError, match=rf"row 3, column 'income': '{cell}' is outside "
                                              rf"the fixed-point range \(-{LIMIT}, {LIMIT}\)"):
            read_table(EDGE, {"income": path, "region": path})


def test_a_small_fixed_point_range_is_enforced() -> None:
    s = spec(analysis="summary", columns=("x",), reveal=("count", "mean"),
             fixed_point={"k": 16, "f": 15})
    assert registry.table_from_columns(s, {"x": [0.99, -0.99]}).numeric["x"].tolist() == [0.99, -0.99]
    with pytest.raises(ConfigError, match=r"row 3, column 'x': '-1' is outside the fixed-point "
                                          r"range \(-1, 1\)"):
        registry.table_from_columns(s, {"x": [0.5, -1, 2]})


@pytest.mark.parametrize("text, where", [
    ("", "empty file, expected a header row with columns"),
    ("income,region\n", "no rows in"),
    ("income,region\n\n , \n,,\n", "no rows in"),
    ("income,region\n10,north\n20\n", "row 3, column 'region': missing value"),
])
def test_empty_files_and_short_rows(tmp_path: Path, text: str, where: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=where) as err:
        read_table(SPEC, {"income": path, "region": path})
    assert str(path) in str(err.value)


def test_query_values_are_checked_as_their_text(tmp_path: Path) -> None:
    db = tmp_path / "typed.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE t (v, g)")
        conn.executemany("INSERT INTO t VALUES (?, ?)",
                         [(1, 2), (2.5, 1), (" 3 ", "1"), (2**62, 1), (b"7", None)])
    s = spec(analysis="summary", columns=("v",), group_by="g", domains={"g": ("1", "2")},
             reveal=("count", "mean"))

    def read(query: str) -> object:
        source = SqlSource(db, query)
        return read_table(s, {"v": source, "g": source})

    table = read("SELECT v, g FROM t LIMIT 3")
    assert table.numeric["v"].tolist() == [1.0, 2.5, 3.0] and table.codes["g"].tolist() == [1, 0, 0]
    with pytest.raises(ConfigError, match=f"row 4, column 'v': '{2**62}' is outside the fixed"):
        read("SELECT v, g FROM t")
    with pytest.raises(ConfigError, match="row 4, column 'v': \"b'7'\" is not a number"):
        read("SELECT v, g FROM t WHERE rowid <> 4")
    with pytest.raises(ConfigError, match="row 2, column 'g': missing value"):
        read("SELECT v, CASE WHEN rowid = 2 THEN NULL ELSE g END AS g FROM t LIMIT 3")
    with pytest.raises(ConfigError, match="no rows in"):
        read("SELECT v, g FROM t WHERE 0")


def test_sources_with_different_row_counts_are_refused(tmp_path: Path) -> None:
    db = clinic_db(tmp_path, [(10, "north"), (20.5, "south"), (7, "north")])
    query = SqlSource(db, "SELECT pay AS income FROM patients")
    path = write(tmp_path, "region\nnorth\nsouth\n")
    with pytest.raises(ConfigError, match=r"different numbers of rows: \{'income': 3, 'region': 2\}"):
        read_table(SPEC, {"income": query, "region": path})


def test_the_first_value_outside_the_histogram_is_named() -> None:
    s = spec(analysis="histogram", columns=("x",), params={"bins": (0, 10)}, reveal=("counts",))
    values = [5.0] * 5000
    values[4000], values[4500] = -0.5, 10.5
    with pytest.raises(ConfigError, match="row 4002, column 'x': '-0.5' is outside the histogram"):
        registry.table_from_columns(s, {"x": values})


def test_read_column_returns_floats(tmp_path: Path) -> None:
    path = write(tmp_path, "income\n1\n\n2.5\n")
    values = read_column(path, "income")
    assert values == [1.0, 2.5] and all(type(v) is float for v in values)
    with pytest.raises(ConfigError, match="column 'income' has no values"):
        read_column(write(tmp_path, "income\n"), "income")
    with pytest.raises(ConfigError, match="row 3, column 'income': '9' is outside the fixed-point"):
        read_column(write(tmp_path, "income\n1\n9\n"), "income", k=16, f=12)
