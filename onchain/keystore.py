"""Ethereum accounts kept in encrypted keystore files (Web3 Secret Storage v3)."""

from __future__ import annotations

import getpass
import json
import os
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from onchain.errors import ConfigError

PASSPHRASE_ENV = "MPCC_PASSPHRASE"  # noqa: S105 - the name of the variable, not a passphrase
KEYSTORE_FILE = "eth-keystore.json"


def passphrase(prompt: str = "passphrase: ", env: str = PASSPHRASE_ENV) -> bytes:
    """The passphrase from the environment variable ``env``, else from a prompt."""
    value = os.environ.get(env)
    if value:
        return value.encode()
    if not os.isatty(0):
        raise ConfigError(f"no passphrase: set {env} or run in a terminal to be prompted")
    return getpass.getpass(prompt).encode()


def create(path: Path, secret: bytes) -> LocalAccount:
    """A new account, written encrypted to ``path`` (refuses to overwrite)."""
    if path.exists():
        raise ConfigError(f"{path} exists already; an account keystore is never overwritten")
    account: LocalAccount = Account.create()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(json.dumps(Account.encrypt(account.key, secret.decode())))
    return account


def load(path: Path, secret: bytes) -> LocalAccount:
    """Decrypt the account in keystore ``path``."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"keystore {path} is missing") from None
    except json.JSONDecodeError as err:
        raise ConfigError(f"keystore {path} is not valid JSON: {err}") from err
    try:
        account: LocalAccount = Account.from_key(Account.decrypt(data, secret.decode()))
        return account
    except ValueError as err:
        raise ConfigError(f"cannot decrypt keystore {path}: wrong passphrase ({err})") from err


def address_of(path: Path) -> str:
    """The account address recorded in a keystore, without decrypting it."""
    return Web3.to_checksum_address("0x" + json.loads(path.read_text())["address"])
