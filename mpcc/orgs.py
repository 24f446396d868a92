"""An organisation's home folder and its part in the consortium's membership.

``mpcc org init`` makes the home: ``org.toml`` (no secrets), the encrypted
Ethereum keystore, TLS key and certificate, HPKE key pair, and ``public.json``
(what the organisation publishes: the registry entry it asks for). Joining,
approving and rotating keys are transactions of the OrgRegistry client; this
module validates everything first so that bad input never reaches the chain.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path

from eth_account.signers.local import LocalAccount
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from web3 import Web3

from offchain import identity
from offchain.net.address import check_host_port
from onchain import keystore
from onchain.errors import ConfigError
from onchain.registry import MemberKeys

ORG_FILE = "org.toml"
PUBLIC_FILE = "public.json"


def check_endpoint(endpoint: str) -> str:
    """``host:port`` with a port in 1..65535; ``ConfigError`` naming the problem otherwise."""
    try:
        return check_host_port(endpoint)
    except ValueError:
        raise ConfigError(f"malformed peer endpoint {endpoint!r}: expected host:port, e.g. 10.0.0.5:9443") from None


def check_name(name: str) -> str:
    if not name.strip() or len(name.encode()) > 64:
        raise ConfigError(f"organisation name {name!r} must be 1 to 64 bytes")
    return name.strip()


def check_address(address: str) -> str:
    if not Web3.is_address(address):
        raise ConfigError(f"malformed Ethereum address {address!r}: expected 0x and 40 hex digits")
    return Web3.to_checksum_address(address)


class PublicEntry(BaseModel):
    """What an organisation publishes about itself (``public.json``)."""

    model_config = ConfigDict(frozen=True)

    name: str
    account: str
    endpoint: str
    tls_fingerprint: str
    hpke_public_key: str

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_name(v)

    @field_validator("account")
    @classmethod
    def _account(cls, v: str) -> str:
        return check_address(v)

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, v: str) -> str:
        return check_endpoint(v)

    @field_validator("tls_fingerprint")
    @classmethod
    def _fingerprint(cls, v: str) -> str:
        return "0x" + identity.parse_fingerprint(v).hex()

    @field_validator("hpke_public_key")
    @classmethod
    def _hpke(cls, v: str) -> str:
        try:
            raw = bytes.fromhex(v.removeprefix("0x"))
        except ValueError:
            raise ConfigError("malformed HPKE public key: not hexadecimal") from None
        identity.parse_hpke_public(raw)
        return "0x" + raw.hex()

    def keys(self) -> MemberKeys:
        return MemberKeys(self.name, self.endpoint, bytes.fromhex(self.tls_fingerprint[2:]),
                          bytes.fromhex(self.hpke_public_key[2:]))

    @classmethod
    def load(cls, path: Path) -> PublicEntry:
        try:
            return cls.model_validate_json(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"{path} is missing; it is written by `mpcc org init`") from None
        except ValidationError as err:
            raise ConfigError(f"{path}: {_first_error(err)}") from err


@dataclass(frozen=True)
class Org:
    """A loaded organisation: its published entry and its decrypted keys."""

    home: Path
    public: PublicEntry
    account: LocalAccount
    identity: identity.Identity


def init(home: Path, name: str, endpoint: str, secret: bytes) -> PublicEntry:
    """Create an organisation's keys and files in ``home``."""
    name, endpoint = check_name(name), check_endpoint(endpoint)
    if (home / ORG_FILE).exists():
        raise ConfigError(f"{home / ORG_FILE} exists already: this folder holds an organisation")
    ident = identity.create(home, name, endpoint, secret)
    account = keystore.create(home / keystore.KEYSTORE_FILE, secret)
    entry = PublicEntry(name=name, account=account.address, endpoint=endpoint,
                        tls_fingerprint=ident.tls_fingerprint.hex(), hpke_public_key=ident.hpke_public.hex())
    (home / PUBLIC_FILE).write_text(entry.model_dump_json(indent=2) + "\n")
    (home / ORG_FILE).write_text(
        "# mpcc organisation; no secrets here (the passphrase comes from MPCC_PASSPHRASE or a prompt)\n"
        f"name = {json.dumps(name)}\nendpoint = {json.dumps(endpoint)}\naccount = {json.dumps(account.address)}\n"
    )
    return entry


def load(home: Path, secret: bytes) -> Org:
    """Load an organisation's home, decrypting its keys with ``secret``."""
    config = _read_config(home)
    public = PublicEntry.load(home / PUBLIC_FILE)
    account = keystore.load(home / keystore.KEYSTORE_FILE, secret)
    if account.address != public.account or config.get("account") != account.address:
        raise ConfigError(f"{home}: the keystore's account differs from {PUBLIC_FILE}/{ORG_FILE}")
    ident = identity.load(home, public.name, secret)
    if "0x" + ident.tls_fingerprint.hex() != public.tls_fingerprint:
        raise ConfigError(f"{home}: the TLS certificate does not match the published fingerprint")
    return Org(home, public, account, ident)


def _read_config(home: Path) -> dict[str, object]:
    try:
        return tomllib.loads((home / ORG_FILE).read_text())
    except FileNotFoundError:
        raise ConfigError(f"{home} holds no organisation ({ORG_FILE} missing); run `mpcc org init`") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{home / ORG_FILE}: {err}") from err


def _first_error(err: ValidationError) -> str:
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return f"{where}: {first['msg']}".replace("Value error, ", "")
