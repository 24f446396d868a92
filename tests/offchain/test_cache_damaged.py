"""A damaged tuple cache is a clear error naming the file and what to do, not a raw traceback."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from offchain.errors import ConfigError
from offchain.preprocessing.cache import TupleCache


def test_a_file_that_is_not_a_database_names_itself_and_the_way_out(tmp_path: Path) -> None:
    path = tmp_path / "tuples.sqlite"
    path.write_bytes(b"this is not SQLite, " * 300)
    with pytest.raises(ConfigError) as err:
        TupleCache(path)
    text = str(err.value)
    assert f"the tuple cache {path} is damaged" in text and "move the file aside" in text


def test_a_cache_with_its_pages_overwritten_names_itself(tmp_path: Path) -> None:
    path = tmp_path / "tuples.sqlite"
    TupleCache(path).close()
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode=DELETE")
    db.close()
    raw = bytearray(path.read_bytes())
    raw[100:] = b"\xff" * (len(raw) - 100)  # The header survives; every page is garbage.
    path.write_bytes(bytes(raw))
    with pytest.raises(ConfigError, match="is damaged or is not an mpcc tuple cache") as err:
        TupleCache(path)
    assert str(path) in str(err.value)
