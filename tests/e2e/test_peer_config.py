"""ORG.toml: paths resolved beside the file, policies, and errors that name the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from offchain.analytics.data import SqlSource
from offchain.errors import ConfigError
from mpcc.peer.config import PeerConfig
from mpcc.service.server import parse_stock
from offchain.preprocessing.tuples import TupleKey, TupleKind

GOOD = 'home = "org"\nservice = "127.0.0.1:9700"\naccept = "auto"\n[data]\nincome = "data/a.csv"\n'


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "org.toml"
    path.write_text(text)
    return path


def test_paths_are_relative_to_the_file_and_defaults_apply(tmp_path: Path) -> None:
    config = PeerConfig.load(write(tmp_path, GOOD))
    assert config.home == tmp_path / "org"
    assert config.data == {"income": tmp_path / "data" / "a.csv"}
    assert config.cache_path == tmp_path / "org" / "tuples.sqlite"
    assert config.listen is None and config.accepts("mean", "0x" + "11" * 20) is True


def test_columns_may_be_bound_to_a_query_on_a_local_database(tmp_path: Path) -> None:
    text = GOOD + 'age = { sqlite = "data/clinic.db", query = "SELECT age FROM patients" }\n'
    config = PeerConfig.load(write(tmp_path, text))
    bindings = config.bindings()
    assert bindings["income"] == tmp_path / "data" / "a.csv"
    assert bindings["age"] == SqlSource(tmp_path / "data" / "clinic.db", "SELECT age FROM patients")
    with pytest.raises(ConfigError, match=r"key 'data': column 'age': a database binding .*query"):
        PeerConfig.load(write(tmp_path, GOOD + 'age = { sqlite = "data/clinic.db", query = "" }\n'))
    with pytest.raises(ConfigError, match=r"key 'data': column 'age'"):
        PeerConfig.load(write(tmp_path, GOOD + 'age = { sqlite = "c.db", sql = "SELECT 1" }\n'))


def test_a_passphrase_in_the_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"org\.toml: key 'passphrase': secrets never go in the configuration"):
        PeerConfig.load(write(tmp_path, 'passphrase = "hunter2"\n' + GOOD))
    with pytest.raises(ConfigError, match=r"key 'data.passphrase'"):
        PeerConfig.load(write(tmp_path, GOOD + 'passphrase = "hunter2"\n'))


@pytest.mark.parametrize(("extra", "message"), [
    ('listen = "nowhere"\n', r"key 'listen': .*'nowhere' is not host:port"),
    ('accept = []\n', r"key 'accept'"),
    ('timeout_s = -1\n', r"key 'timeout_s'"),
    ('colour = "blue"\n', r"key 'colour': Extra inputs are not permitted"),
])
def test_errors_name_the_file_and_the_key(tmp_path: Path, extra: str, message: str) -> None:
    text = GOOD.replace('accept = "auto"\n', "") if extra.startswith("accept") else GOOD
    with pytest.raises(ConfigError, match=message):
        PeerConfig.load(write(tmp_path, extra + text))


def test_missing_required_key_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"key 'service': Field required"):
        PeerConfig.load(write(tmp_path, 'home = "org"\n'))
    with pytest.raises(ConfigError, match="does not exist"):
        PeerConfig.load(tmp_path / "absent.toml")


def test_accept_lists_filter_by_analysis_and_proposer(tmp_path: Path) -> None:
    alice = "0x" + "aa" * 20
    config = PeerConfig.load(write(tmp_path, GOOD.replace('"auto"', f'["mean", "{alice}"]')))
    assert config.accepts("mean", alice.upper().replace("0X", "0x"))
    assert not config.accepts("sum", alice) and not config.accepts("mean", "0x" + "bb" * 20)
    manual = PeerConfig.load(write(tmp_path, GOOD.replace('"auto"', '"manual"')))
    assert manual.accepts("mean", alice) is None


def test_stock_levels_parse_per_owner_and_refuse_nonsense() -> None:
    levels = parse_stock("input_mask=4, triple=100, trunc:20:104=8", 3)
    assert levels[TupleKey(TupleKind.INPUT_MASK, owner=2)] == 4 and levels[TupleKey(TupleKind.TRIPLE)] == 100
    assert levels[TupleKey(TupleKind.TRUNC, f=20, bits=104)] == 8
    for bad, message in (("dragon=3", "unknown tuple kind"), ("triple=0", "KIND=COUNT"), ("", "names no")):
        with pytest.raises(ConfigError, match=message):
            parse_stock(bad, 3)
