"""A peer's configuration file (``ORG.toml``): where its keys, chain, cache and data are.

Example::

    home = "orgs/a"                      # the organisation's folder (`mpcc org init`)
    rpc = "http://127.0.0.1:8545"
    manifest = ".mpcc/deployment.json"
    listen = "127.0.0.1:9701"            # MPC channels; default: the registered endpoint
    cache = "orgs/a/tuples.sqlite"       # default: tuples.sqlite in home
    make = "triple=20000,bit=40000,input_mask=64"   # the members make their own tuples, keeping these levels
    # service = "127.0.0.1:9700"         # or: a preprocessing service deals them (dealer, development mode)
    accept = "auto"                      # "auto", "manual", or ["mean", "0xProposer..."]
    timeout_s = 60                       # a silent peer or a stalled step aborts after this
    connect_timeout_s = 30
    rpc_patience_s = 300                 # an unreachable chain node is waited for this long
    handshake_timeout_s = 5              # an incoming connection's handshake, at most
    max_connections = 512                # open at once on the MPC listener
    max_connections_per_host = 128       # open at once from one remote address

    [data]                               # the default dataset, column by column
    income = "data/incomes.csv"          # a CSV file with a column "income"
    age = { sqlite = "data/clinic.db", query = "SELECT age, bmi FROM patients" }
    bmi = { sqlite = "data/clinic.db", query = "SELECT age, bmi FROM patients" }

    [datasets.wine]                      # a named dataset: one source (a spec's "dataset")
    parquet = "data/wine.parquet"        # or csv = FILE, sqlite = FILE, postgresql = "postgresql://..."
    columns = { target = "od280/od315_of_diluted_wines" }   # spec name = source column

    [datasets.clinic]
    postgresql = "postgresql://reader@db.example/clinic"     # no password here
    password_env = "PGPASSWORD_CLINIC"   # or libpq's PGPASSWORD / ~/.pgpass
    query = "SELECT age, bmi FROM patients"                 # or table = "patients"

Relative paths are relative to the file. The file holds no secret: the
passphrase of the keys comes from ``MPCC_PASSPHRASE`` or a prompt, and a
``passphrase`` key (or a password in a connection string) is refused. Every
error names the file and the key. ``[data]`` is the dataset named
``default``, which a spec naming no dataset reads; a file declares either it
or ``[datasets.default]``.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from offchain.analytics.sources import (
    DEFAULT_DATASET,
    Binding,
    Data,
    Dataset,
    ParquetFile,
    PostgresSource,
    Source,
    SqlSource,
    check_conninfo,
)
from offchain.errors import ConfigError
from offchain.net.address import check_host_port
from offchain.net.limits import ConnectionLimits
from offchain.preprocessing.tuples import TupleKey, parse_levels

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_SECRET_KEYS = ("passphrase", "password", "secret", "private_key")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_SOURCES = ("csv", "parquet", "sqlite", "postgresql")

AcceptPolicy = Literal["auto", "manual"] | list[str]


def _secret_key(table: dict[str, object], prefix: str = "") -> str | None:
    """The dotted name of the first key that looks like a secret, in any table."""
    for key, value in table.items():
        if key.lower() in _SECRET_KEYS:
            return prefix + key
        if isinstance(value, dict):
            found = _secret_key(value, f"{prefix}{key}.")
            if found:
                return found
    return None


class SqlBinding(BaseModel):
    """A column read from a query against a local SQLite database (opened read-only)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sqlite: Path
    query: str = Field(min_length=1)


class DatasetConfig(BaseModel):
    """A named dataset: one source (csv, parquet, sqlite or postgresql) and its columns' spec names."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    csv: Path | None = None
    parquet: Path | None = None
    sqlite: Path | None = None
    postgresql: str | None = None
    table: str | None = Field(None, min_length=1)
    query: str | None = Field(None, min_length=1)
    password_env: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    columns: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_source(self) -> DatasetConfig:
        given = [key for key in _SOURCES if getattr(self, key) is not None]
        if len(given) != 1:
            raise ValueError(f"a dataset has exactly one source of {', '.join(_SOURCES)}; it has "
                             f"{', '.join(given) or 'none'}")
        database = given[0] in ("sqlite", "postgresql")
        if database and (self.table is None) == (self.query is None):
            raise ValueError(f"a {given[0]} dataset reads either table = NAME or query = \"SELECT ...\"")
        if not database and (self.table or self.query):
            raise ValueError(f"a {given[0]} dataset is the whole file: it takes no table or query")
        if self.password_env and given[0] != "postgresql":
            raise ValueError("password_env is for a postgresql dataset only")
        if self.postgresql is not None:
            check_conninfo(self.postgresql)
        bad = [name for name, source in self.columns.items() if not _NAME.match(name) or not source]
        if bad:
            raise ValueError(f"columns: {bad[0]!r} = {self.columns[bad[0]]!r}: write spec name = \"source column\", "
                             "the spec name a letter or _ then letters, digits or _, the source column not empty")
        return self

    def resolved(self, base: Path) -> DatasetConfig:
        """This dataset with its file made absolute against ``base``."""
        return self.model_copy(update={key: base / getattr(self, key) for key in ("csv", "parquet", "sqlite")
                                       if getattr(self, key) is not None})

    def source(self) -> Source:
        """The source, as offchain.analytics.sources reads it."""
        if self.postgresql is not None:
            return PostgresSource(self.postgresql, self.query or "", self.table or "", self.password_env or "")
        if self.sqlite is not None:
            return SqlSource(self.sqlite, self.query or "", self.table or "")
        if self.parquet is not None:
            return ParquetFile(self.parquet)
        return self.csv or Path()


class PeerConfig(BaseModel):
    """The validated contents of ``ORG.toml``; paths are absolute once loaded."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    home: Path
    rpc: str = "http://127.0.0.1:8545"
    manifest: Path = Path(".mpcc/deployment.json")
    listen: str | None = None
    cache: Path | None = None
    service: str | None = None
    make: str | None = None
    make_for: list[Path] = Field(default_factory=list)
    accept: AcceptPolicy = "manual"
    timeout_s: float = Field(60.0, gt=0)
    connect_timeout_s: float = Field(30.0, gt=0)
    poll_s: float = Field(0.5, gt=0)
    rpc_patience_s: float = Field(300.0, ge=0)
    handshake_timeout_s: float = Field(5.0, gt=0, le=120)
    max_connections: int = Field(512, ge=1)
    max_connections_per_host: int = Field(128, ge=1)
    data: dict[str, Path | SqlBinding] = Field(default_factory=dict)
    datasets: dict[str, DatasetConfig] = Field(default_factory=dict)

    @field_validator("data", mode="before")
    @classmethod
    def _data(cls, value: object) -> object:
        """A file path, or a table { sqlite = FILE, query = SELECT } per column."""
        if not isinstance(value, dict):
            return value
        out: dict[str, object] = {}
        for column, binding in value.items():
            if isinstance(binding, dict):
                try:
                    binding = SqlBinding.model_validate(binding)
                except ValidationError as err:
                    raise ValueError(f"column {column!r}: a database binding is "
                                     '{ sqlite = "FILE", query = "SELECT ..." } '
                                     f"({err.errors()[0]['msg']})") from None
            elif not isinstance(binding, (str, Path)):
                raise ValueError(f"column {column!r}: bind it to a CSV file path or to "
                                 '{ sqlite = "FILE", query = "SELECT ..." }')
            out[column] = binding
        return out

    @field_validator("datasets")
    @classmethod
    def _dataset_names(cls, value: dict[str, DatasetConfig]) -> dict[str, DatasetConfig]:
        bad = [name for name in value if not _NAME.match(name)]
        if bad:
            raise ValueError(f"dataset name {bad[0]!r} must be a letter or _ then letters, digits or _")
        return value

    @field_validator("listen", "service")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        return None if value is None else check_host_port(value)

    @field_validator("accept")
    @classmethod
    def _accept(cls, value: AcceptPolicy) -> AcceptPolicy:
        if isinstance(value, list) and not value:
            raise ValueError('an empty list accepts nothing: say "manual" instead')
        return value

    @model_validator(mode="after")
    def _one_default(self) -> PeerConfig:
        if self.data and DEFAULT_DATASET in self.datasets:
            raise ValueError(f"[data] is the dataset {DEFAULT_DATASET!r}: declare it or "
                             f"[datasets.{DEFAULT_DATASET}], not both")
        return self

    @model_validator(mode="after")
    def _one_source_of_tuples(self) -> PeerConfig:
        if (self.service is None) == (not self.made_by_members):
            raise ValueError('say where the tuples come from, once: make = "triple=N,bit=N,input_mask=N" and/or '
                             'make_for = ["SPEC.json or folder"] (the members make them: the levels to keep) or '
                             'service = "HOST:PORT" (a preprocessing service deals them: a development mode)')
        return self

    @property
    def made_by_members(self) -> bool:
        """Whether the members make their own tuples (``make``, ``make_for``) rather than a service deals them."""
        return self.make is not None or bool(self.make_for)

    @field_validator("make")
    @classmethod
    def _levels(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_levels(value, 2, "levels")
            except ConfigError as err:
                raise ValueError(str(err)) from None
        return value

    @model_validator(mode="after")
    def _caps(self) -> PeerConfig:
        if self.max_connections_per_host > self.max_connections:
            raise ValueError(f"max_connections_per_host ({self.max_connections_per_host}) exceeds "
                             f"max_connections ({self.max_connections})")
        return self

    def limits(self) -> ConnectionLimits:
        """The MPC listener's caps and handshake deadline (offchain.net.limits)."""
        return ConnectionLimits(self.max_connections, self.max_connections_per_host, self.handshake_timeout_s)

    def make_levels(self, n_parties: int) -> dict[TupleKey, int]:
        """The stock levels ``make`` names for ``n_parties`` (``make_for`` is read by ``mpcc peer run``)."""
        return parse_levels(self.make, n_parties, "make") if self.make is not None else {}

    def make_for_files(self) -> list[Path]:
        """The spec files of ``make_for``: each file, and each ``*.json`` of each folder."""
        return [f for p in self.make_for for f in (sorted(p.glob("*.json")) if p.is_dir() else [p])]

    @property
    def key_share_path(self) -> Path:
        """This member's MAC key share, sealed to its own HPKE key (one file per source of tuples)."""
        return self.cache_path.with_suffix(".made-keyshare" if self.made_by_members else ".keyshare")

    @property
    def kept_setup_path(self) -> Path:
        """The LowGear setup this member keeps between making sessions, its decryption key sealed
        (offchain.dealerless.kept)."""
        return self.cache_path.with_suffix(".lowgear")

    @property
    def cache_path(self) -> Path:
        return self.cache or self.home / "tuples.sqlite"

    @property
    def status_path(self) -> Path:
        """Where the running daemon writes its live status (connections, local job states)."""
        return self.cache_path.with_suffix(".status.json")

    def accepts(self, analysis: str, proposer: str) -> bool | None:
        """True or False by policy; None for "manual" (wait for `mpcc job accept`)."""
        if self.accept == "auto":
            return True
        if self.accept == "manual":
            return None
        analyses = [a for a in self.accept if not _ADDRESS.match(a)]
        proposers = [a.lower() for a in self.accept if _ADDRESS.match(a)]
        return ((not analyses or analysis in analyses)
                and (not proposers or proposer.lower() in proposers))

    @classmethod
    def load(cls, path: Path) -> PeerConfig:
        """Reads and validates ``path``; ``ConfigError`` naming the file and the key."""
        try:
            raw = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"peer configuration {path} does not exist") from None
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"{path}: not valid TOML: {err}") from err
        secret = _secret_key(raw)
        if secret is not None and secret.startswith("datasets."):
            raise ConfigError(f"{path}: key {secret!r}: secrets never go in the configuration file; name the "
                              "environment variable holding the database password with password_env (or use "
                              "PGPASSWORD or ~/.pgpass)")
        if secret is not None:
            raise ConfigError(f"{path}: key {secret!r}: secrets never go in the configuration file; "
                              "set MPCC_PASSPHRASE or answer the prompt")
        try:
            config = cls.model_validate(raw)
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(file)"
            raise ConfigError(f"{path}: key {where!r}: "
                              f"{first['msg'].replace('Value error, ', '')}") from err
        return config._resolved(path.resolve().parent)

    def _resolved(self, base: Path) -> PeerConfig:
        def absolute(p: Path) -> Path:
            return p if p.is_absolute() else base / p

        return self.model_copy(update={
            "home": absolute(self.home), "manifest": absolute(self.manifest),
            "cache": absolute(self.cache) if self.cache else None,
            "make_for": [absolute(p) for p in self.make_for],
            "data": {column: absolute(p) if isinstance(p, Path)
                     else SqlBinding(sqlite=absolute(p.sqlite), query=p.query)
                     for column, p in self.data.items()},
            "datasets": {name: d.resolved(base) for name, d in self.datasets.items()},
        })

    def bindings(self) -> dict[str, Binding]:
        """The data bindings as ``read_table`` takes them."""
        return {column: b if isinstance(b, Path) else SqlSource(b.sqlite, b.query)
                for column, b in self.data.items()}

    def named_data(self) -> dict[str, Data]:
        """Every dataset by name, as ``read_table`` takes them: ``[data]`` is the default one."""
        named: dict[str, Data] = {DEFAULT_DATASET: self.bindings()} if self.data else {}
        for name, dataset in self.datasets.items():
            named[name] = Dataset(dataset.source(), dict(dataset.columns))
        return named
