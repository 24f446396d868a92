"""The dealer's key material on disk, so a restarted preprocessing service keeps its MAC key.

The members fetch their share of the global MAC key alpha once and keep it
(beside their tuple cache). A service that dealt under a fresh alpha on every
start would make every later batch fail the members' sacrifice; so
``mpcc preprocess serve`` keeps alpha and the exact shares it dealt in a state
file (``--state``, default ``.mpcc/dealer-state.json`` in the working
directory) and deals under them again when it restarts for the same group of
the same deployment. A different group (a member joined or left, or the order
changed) or another deployment gets a new key, said so in the log; the state
replaced is kept as ``FILE.previous``. A state file that cannot be read, does
not parse, fails its authentication or may be read by other users is an
error naming the file and what to do: never a silent new key.

File format, versioned JSON (mode 0600, written to a temporary file in the
same folder, fsynced, then renamed over the old one)::

    {"format": "mpcc-dealer-state", "version": 1,
     "created": ISO 8601 UTC time the key was dealt,
     "service": the service account (0x...), "chain_id": int,
     "registry": OrgRegistry address, "ledger": PreprocessingLedger address,
     "group": group id (hex, offchain.preprocessing.keyshare.group_id),
     "members": [member accounts in party order],
     "nonce": 12 bytes hex, "sealed": hex}

``sealed`` is ChaCha20-Poly1305 under HKDF-SHA256(the service account's
private key, info "mpcc/dealer-state/v1") of the secret, version 1::

    offset  size  field
         0     1  version = 1
         1     2  n, the number of members
         3    32  alpha (big-endian, < P)
        35  32*n  alpha_0 .. alpha_{n-1}, party i's share (sum = alpha mod P)

with associated data "mpcc/dealer-state/v1" followed by the canonical JSON
(sorted keys, no spaces) of every field but ``nonce`` and ``sealed``; so the
key is bound to its group, deployment and account, and the file holds no
secret in clear. It protects the consortium's MAC key: whoever holds it and
the service account's key can forge MACs on any value, so neither may reach a
member (the dealer must not collude with any organisation). Nothing of it
goes on chain.
"""

from __future__ import annotations

import datetime
import json
import os
import secrets
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import BaseModel, ConfigDict, ValidationError

from offchain.errors import DealerStateError
from offchain.field import FieldVec, P, RandBytes
from offchain.shares import MacKeyShare, split_key

FORMAT = "mpcc-dealer-state"
VERSION = 1
_DOMAIN = b"mpcc/dealer-state/v1"
_NONCE_BYTES = 12
REFETCH = ("every member that holds a share of the old key must delete its key share (the .keyshare "
           "file beside its tuple cache) and restart its peer to fetch the new one")


@dataclass(frozen=True)
class DealerBinding:
    """What a MAC key is dealt for: the deployment, the recipient group and the service account."""

    chain_id: int
    registry: str
    ledger: str
    group: bytes
    members: tuple[str, ...]
    service: str


@dataclass(frozen=True)
class DealerKeys:
    """The global MAC key alpha and its shares, party i's at index i (sum = alpha mod P)."""

    alpha: int
    shares: tuple[MacKeyShare, ...]

    def __repr__(self) -> str:
        return f"DealerKeys(n={len(self.shares)}, alpha=<hidden>)"

    @classmethod
    def fresh(cls, n_parties: int, randbytes: RandBytes = secrets.token_bytes) -> DealerKeys:
        alpha = FieldVec.random(1, randbytes)[0]
        return cls(alpha, tuple(split_key(alpha, n_parties, randbytes)))


@dataclass(frozen=True)
class LoadedKeys:
    """The keys to deal under and what became of the state file: reused, created or replaced."""

    keys: DealerKeys
    outcome: Literal["reused", "created", "replaced"]
    message: str


class _StateFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal["mpcc-dealer-state"]
    version: Literal[1]
    created: str
    service: str
    chain_id: int
    registry: str
    ledger: str
    group: str
    members: list[str]
    nonce: str
    sealed: str

    def matches(self, binding: DealerBinding) -> bool:
        """Same deployment and group (the service account is checked apart: another one cannot open it)."""
        return (self.chain_id, self.registry.lower(), self.ledger.lower(), self.group, _lower(self.members)) == (
            binding.chain_id, binding.registry.lower(), binding.ledger.lower(), binding.group.hex(),
            _lower(binding.members))


def load_or_deal(path: Path, binding: DealerBinding, account_key: bytes,
                 randbytes: RandBytes = secrets.token_bytes) -> LoadedKeys:
    """The keys kept in ``path`` for ``binding``; a new key (saved there) if none is, or if it is another's.

    ``account_key`` is the service account's private key, which seals the file.
    Raises :class:`DealerStateError` if the file exists but cannot be used.
    """
    if not path.exists():
        keys = DealerKeys.fresh(len(binding.members), randbytes)
        save(path, binding, keys, account_key)
        return LoadedKeys(keys, "created", f"no dealer state at {path}: dealt a new MAC key for the group of "
                          f"{len(binding.members)} members and saved it there (mode 0600); keep the file, "
                          "a restart then deals under the same key")
    raw = _read(path)
    state = _parse(path, raw)
    if state.matches(binding):
        keys = _open(path, state, binding, account_key)
        return LoadedKeys(keys, "reused", f"dealer state {path}: dealing under the MAC key dealt {state.created} "
                          f"for the group of {len(binding.members)} members ({binding.group.hex()[:16]})")
    previous = path.with_name(path.name + ".previous")
    _write_atomic(previous, raw)
    keys = DealerKeys.fresh(len(binding.members), randbytes)
    save(path, binding, keys, account_key)
    return LoadedKeys(keys, "replaced", f"dealer state {path} was dealt for {_difference(state, binding)}: "
                      f"dealt a new MAC key for this one and saved it there (the old state is kept as "
                      f"{previous}); batches dealt from now on fail the sacrifice at any member still "
                      f"holding the old key: {REFETCH}")


def save(path: Path, binding: DealerBinding, keys: DealerKeys, account_key: bytes) -> None:
    """Writes ``keys`` for ``binding`` to ``path`` atomically, mode 0600 (format in the module docstring)."""
    public: dict[str, Any] = {
        "format": FORMAT, "version": VERSION,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "service": binding.service, "chain_id": binding.chain_id, "registry": binding.registry,
        "ledger": binding.ledger, "group": binding.group.hex(), "members": list(binding.members)}
    nonce = secrets.token_bytes(_NONCE_BYTES)
    sealed = ChaCha20Poly1305(_sealing_key(account_key)).encrypt(nonce, _secret_bytes(keys), _aad(public))
    text = json.dumps({**public, "nonce": nonce.hex(), "sealed": sealed.hex()}, indent=1) + "\n"
    _write_atomic(path, text.encode())


def _open(path: Path, state: _StateFile, binding: DealerBinding, account_key: bytes) -> DealerKeys:
    if state.service.lower() != binding.service.lower():
        raise DealerStateError(
            f"the dealer state {path} was sealed by the service account {state.service}, but this service "
            f"signs as {binding.service}: start it with {state.service}'s key; or, to deal a new MAC key, "
            f"move {path} aside and start again, and then {REFETCH}")
    try:
        aad = _aad(state.model_dump(exclude={"nonce", "sealed"}))
        secret = ChaCha20Poly1305(_sealing_key(account_key)).decrypt(
            bytes.fromhex(state.nonce), bytes.fromhex(state.sealed), aad)
    except (ValueError, InvalidTag):
        raise _unusable(path, "its sealed key does not authenticate (the file was altered or damaged)") from None
    return _secret_keys(path, secret, len(binding.members))


def _secret_bytes(keys: DealerKeys) -> bytes:
    n = len(keys.shares)
    return (bytes([VERSION]) + n.to_bytes(2, "big") + keys.alpha.to_bytes(32, "big")
            + b"".join(s.alpha.to_bytes(32, "big") for s in keys.shares))


def _secret_keys(path: Path, secret: bytes, n_parties: int) -> DealerKeys:
    if len(secret) < 3 or secret[0] != VERSION or int.from_bytes(secret[1:3], "big") != n_parties \
            or len(secret) != 35 + 32 * n_parties:
        raise _unusable(path, "its sealed key is not a version-1 key for this group")
    values = [int.from_bytes(secret[i:i + 32], "big") for i in range(3, len(secret), 32)]
    alpha, shares = values[0], values[1:]
    if any(v >= P for v in values) or sum(shares) % P != alpha:
        raise _unusable(path, "its key shares do not add up to its MAC key")
    return DealerKeys(alpha, tuple(MacKeyShare(i, a) for i, a in enumerate(shares)))


def _read(path: Path) -> bytes:
    try:
        mode = path.stat().st_mode
        raw = path.read_bytes()
    except OSError as err:
        raise _unusable(path, f"it cannot be read ({err.strerror or err})") from err
    if stat.S_IMODE(mode) & 0o077:
        raise DealerStateError(f"the dealer state {path} may be read by other users (mode "
                               f"{stat.S_IMODE(mode):04o}) and it guards the consortium's MAC key: "
                               f"`chmod 600 {path}` and start again")
    return raw


def _parse(path: Path, raw: bytes) -> _StateFile:
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise _unusable(path, "it is not JSON") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise _unusable(path, f"it is not an mpcc dealer state (no \"format\": \"{FORMAT}\")")
    if data.get("version") != VERSION:
        raise _unusable(path, f"it is of version {data.get('version')!r}; this mpcc reads version {VERSION}")
    try:
        return _StateFile.model_validate(data)
    except ValidationError as err:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in err.errors())
        raise _unusable(path, f"fields missing or malformed: {fields}") from None


def _unusable(path: Path, why: str) -> DealerStateError:
    return DealerStateError(
        f"the dealer state {path} is unusable: {why}. The service will not deal under a new MAC key on its "
        f"own, since the members hold shares of the old one. Restore the file from a backup; or, to start "
        f"over with a new key, move it aside and start the service again, and then {REFETCH}")


def _difference(state: _StateFile, binding: DealerBinding) -> str:
    """What differs between the state's deployment and group and ``binding``'s, in words."""
    if (state.chain_id, state.registry.lower(), state.ledger.lower()) != (
            binding.chain_id, binding.registry.lower(), binding.ledger.lower()):
        return (f"another deployment (chain {state.chain_id}, ledger {state.ledger}; this is chain "
                f"{binding.chain_id}, ledger {binding.ledger})")
    old, new = _lower(state.members), _lower(binding.members)
    joined = [m for m in binding.members if m.lower() not in old]
    left = [m for m in state.members if m.lower() not in new]
    change = "; ".join(part for part in (f"joined: {', '.join(joined)}" if joined else "",
                                         f"left: {', '.join(left)}" if left else "") if part)
    return (f"another group ({len(old)} members, now {len(new)}; {change or 'the same members in another order'})")


def _lower(accounts: Sequence[str]) -> tuple[str, ...]:
    return tuple(a.lower() for a in accounts)


def _aad(public: dict[str, Any]) -> bytes:
    return _DOMAIN + json.dumps(public, sort_keys=True, separators=(",", ":")).encode()


def _sealing_key(account_key: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_DOMAIN).derive(bytes(account_key))


def write_private(path: Path, data: bytes) -> None:
    """``data`` in ``path``, mode 0600: a private temporary file beside it, fsynced, then renamed over it.

    A crash leaves the old file or the new one, and at most a ``.NAME.*.tmp`` beside it. OSError on failure.
    """
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise


def _write_atomic(path: Path, data: bytes) -> None:
    try:
        write_private(path, data)
    except OSError as err:
        raise DealerStateError(f"cannot write the dealer state {path}: {err.strerror or err}; the service "
                               "needs a private, writable folder for it (--state)") from err
