"""When the members who make their own tuples change, a peer puts the old group's key share and cache aside
(and takes a group's back when it forms again): mpcc.peer.intake.settle_group_files."""

from __future__ import annotations

from pathlib import Path

from mpcc.peer.intake import settle_group_files
from offchain.preprocessing.keyshare import group_id
from offchain.preprocessing.protocol import SealedKeyShare

THREE = group_id(["0x" + "aa" * 20, "0x" + "bb" * 20, "0x" + "cc" * 20])
TWO = group_id(["0x" + "aa" * 20, "0x" + "bb" * 20])


def _group_of(tag: bytes, home: Path) -> None:
    """A key share sealed for group ``tag`` and a cache (with its SQLite side file) that names it."""
    (home / "tuples.made-keyshare").write_bytes(SealedKeyShare(tag, 3, 0, b"sealed" * 8).to_bytes())
    (home / "tuples.sqlite").write_bytes(b"cache of " + tag)
    (home / "tuples.sqlite-wal").write_bytes(b"wal of " + tag)


def test_another_group_s_files_are_put_aside_and_taken_back_when_it_forms_again(tmp_path: Path) -> None:
    key, cache = tmp_path / "tuples.made-keyshare", tmp_path / "tuples.sqlite"
    _group_of(THREE, tmp_path)
    assert settle_group_files(key, cache, THREE) is None  # The current group's: nothing to do.
    said = settle_group_files(key, cache, TWO)  # C was suspended.
    assert said is not None and f"tuples.sqlite.group-{THREE.hex()[:16]}" in said
    assert not key.exists() and not cache.exists() and not (tmp_path / "tuples.sqlite-wal").exists()
    assert (tmp_path / f"tuples.sqlite-wal.group-{THREE.hex()[:16]}").read_bytes() == b"wal of " + THREE
    _group_of(TWO, tmp_path)  # The daemon drew a key for the two and made tuples with them.
    said = settle_group_files(key, cache, THREE)  # C was reinstated: the three's files serve again.
    assert said is not None and "taken back" in said
    assert cache.read_bytes() == b"cache of " + THREE and SealedKeyShare.from_bytes(key.read_bytes()).group == THREE
    assert (tmp_path / f"tuples.sqlite.group-{TWO.hex()[:16]}").read_bytes() == b"cache of " + TWO
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["tuples.made-keyshare", "tuples.sqlite", "tuples.sqlite-wal",
         *(f"{name}.group-{TWO.hex()[:16]}" for name in ("tuples.made-keyshare", "tuples.sqlite", "tuples.sqlite-wal"))])


def test_a_first_start_and_a_damaged_key_share_are_left_alone(tmp_path: Path) -> None:
    key, cache = tmp_path / "tuples.made-keyshare", tmp_path / "tuples.sqlite"
    assert settle_group_files(key, cache, THREE) is None and not any(tmp_path.iterdir())
    key.write_bytes(b"short")  # load_key names it; nothing is moved on a guess.
    assert settle_group_files(key, cache, THREE) is None and key.read_bytes() == b"short"
