"""ORG.toml: paths resolved beside the file, policies, and errors that name the file and the key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from offchain.analytics.data import SqlSource
from offchain.analytics.sources import Dataset, ParquetFile, PostgresSource
from offchain.errors import ConfigError
from mpcc.peer.config import PeerConfig
from offchain.preprocessing.tuples import parse_levels as parse_stock
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


DATASETS = """
[datasets.wine]
parquet = "data/wine.parquet"
columns = { target = "od280/od315_of_diluted_wines", age = "Age (years)" }

[datasets.clinic]
postgresql = "postgresql://reader@db.example/clinic"
password_env = "PGPASSWORD_CLINIC"
table = "patients"

[datasets.trial]
sqlite = "data/trial.db"
query = "SELECT * FROM visits"
"""


def test_named_datasets_beside_the_default_one(tmp_path: Path) -> None:
    named = PeerConfig.load(write(tmp_path, GOOD + DATASETS)).named_data()
    assert named == {
        "default": {"income": tmp_path / "data" / "a.csv"},
        "wine": Dataset(ParquetFile(tmp_path / "data" / "wine.parquet"),
                        {"target": "od280/od315_of_diluted_wines", "age": "Age (years)"}),
        "clinic": Dataset(PostgresSource("postgresql://reader@db.example/clinic", table="patients",
                                         password_env="PGPASSWORD_CLINIC")),
        "trial": Dataset(SqlSource(tmp_path / "data" / "trial.db", "SELECT * FROM visits")),
    }
    only = PeerConfig.load(write(tmp_path, GOOD.split("[data]")[0] + '[datasets.default]\ncsv = "a.csv"\n'))
    assert only.named_data() == {"default": Dataset(tmp_path / "a.csv")}


@pytest.mark.parametrize(("dataset", "message"), [
    ('csv = "a.csv"\nparquet = "a.parquet"', "exactly one source of csv, parquet, sqlite, postgresql; it has csv, "
                                             "parquet"),
    ('sqlite = "a.db"', "a sqlite dataset reads either table = NAME or query"),
    ('postgresql = "postgresql://r@h/db"\ntable = "t"\nquery = "SELECT 1"', "either table = NAME or query"),
    ('csv = "a.csv"\ntable = "t"', "a csv dataset is the whole file: it takes no table or query"),
    ('postgresql = "postgresql://r:hunter2@h/db"\ntable = "t"', "holds a password: remove it"),
    ('csv = "a.csv"\npassword_env = "X"', "password_env is for a postgresql dataset only"),
    ('csv = "a.csv"\ncolumns = { "a b" = "c" }', "'a b' = 'c': write spec name = \"source column\""),
    ('csv = "a.csv"\ncolumns = { a = "" }', "'a' = '': write spec name"),
    ('csv = "a.csv"\nquery2 = "x"', "Extra inputs are not permitted"),
])
def test_a_bad_dataset_is_refused_naming_it(tmp_path: Path, dataset: str, message: str) -> None:
    with pytest.raises(ConfigError, match=r"key 'datasets.wine.*': .*" + message):
        PeerConfig.load(write(tmp_path, GOOD + f"[datasets.wine]\n{dataset}\n"))


def test_a_dataset_name_is_a_spec_name_and_default_is_declared_once(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"key 'datasets': dataset name 'my-wine' must be a letter"):
        PeerConfig.load(write(tmp_path, GOOD + '[datasets.my-wine]\ncsv = "a.csv"\n'))
    with pytest.raises(ConfigError, match=r"\[data\] is the dataset 'default': declare it or \[datasets.default\]"):
        PeerConfig.load(write(tmp_path, GOOD + '[datasets.default]\ncsv = "a.csv"\n'))


def test_a_passphrase_in_the_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"org\.toml: key 'passphrase': secrets never go in the configuration"):
        PeerConfig.load(write(tmp_path, 'passphrase = "hunter2"\n' + GOOD))
    with pytest.raises(ConfigError, match=r"key 'data.passphrase'"):
        PeerConfig.load(write(tmp_path, GOOD + 'passphrase = "hunter2"\n'))
    with pytest.raises(ConfigError, match=r"key 'datasets.clinic.password': .* name the environment variable "
                                          "holding the database password with password_env"):
        PeerConfig.load(write(tmp_path, GOOD + '[datasets.clinic]\npostgresql = "host=db"\ntable = "t"\n'
                                               'password = "hunter2"\n'))


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
    with pytest.raises(ConfigError, match=r"key 'home': Field required"):
        PeerConfig.load(write(tmp_path, 'make = "triple=10"\n'))
    with pytest.raises(ConfigError, match="say where the tuples come from, once"):
        PeerConfig.load(write(tmp_path, 'home = "org"\n'))
    with pytest.raises(ConfigError, match=r"key 'make': levels: unknown tuple kind 'dragon'"):
        PeerConfig.load(write(tmp_path, 'home = "org"\nmake = "dragon=3"\n'))
    made = PeerConfig.load(write(tmp_path, 'home = "org"\nmake = "triple=10,input_mask=2"\n'))
    assert made.service is None and len(made.make_levels(3)) == 4
    assert made.key_share_path != PeerConfig.load(write(tmp_path, GOOD)).key_share_path
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
    levels = parse_stock("input_mask=4, triple=100, bit=8", 3)
    assert levels[TupleKey(TupleKind.INPUT_MASK, owner=2)] == 4 and levels[TupleKey(TupleKind.TRIPLE)] == 100
    assert levels[TupleKey(TupleKind.BIT)] == 8
    for bad, message in (("dragon=3", "unknown tuple kind"), ("triple=0", "KIND=COUNT"), ("", "names no"),
                         ("trunc:20:104=8", "stock bits instead")):
        with pytest.raises(ConfigError, match=message):
            parse_stock(bad, 3)


def test_peer_run_refuses_a_configuration_naming_two_sources_of_tuples(tmp_path: Path) -> None:
    # Through the real entry point, before any key, chain or port is touched: exit 2, saying what to do.
    both = write(tmp_path, GOOD.replace('accept = "auto"', 'make_for = ["specs"]\naccept = "auto"'))
    done = subprocess.run([str(Path(sys.executable).parent / "mpcc"), "peer", "run", "--config", str(both)],
                          capture_output=True, text=True, timeout=60, env={**os.environ, "MPCC_PASSPHRASE": "x"})
    assert done.returncode == 2, done.stderr
    assert "say where the tuples come from, once" in done.stderr and "make_for" in done.stderr
