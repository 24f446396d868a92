"""The preprocessing service's dealer state file: private, sealed, bound to its group and deployment."""

from __future__ import annotations

import dataclasses
import json
import stat
from pathlib import Path
from typing import Any, Callable

import pytest

from offchain.errors import ConfigError, DealerStateError
from offchain.field import P
from mpcc.service.dealer_state import DealerBinding, DealerKeys, load_or_deal, save

ACCOUNTS = tuple(f"0x{i:040x}" for i in (0xA1, 0xB2, 0xC3))
BINDING = DealerBinding(31337, "0x" + "11" * 20, "0x" + "22" * 20, bytes(range(32)), ACCOUNTS, "0x" + "cc" * 20)
ACCOUNT_KEY = bytes(range(1, 33))


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_state_is_private_sealed_and_a_restart_reads_the_same_keys(tmp_path: Path) -> None:
    path = tmp_path / ".mpcc" / "dealer-state.json"
    first = load_or_deal(path, BINDING, ACCOUNT_KEY)
    assert first.outcome == "created" and str(path) in first.message
    assert (mode(path), mode(path.parent)) == (0o600, 0o700)
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # No temporary file left behind.
    keys = first.keys
    assert len(keys.shares) == 3 and sum(s.alpha for s in keys.shares) % P == keys.alpha
    assert [s.party for s in keys.shares] == [0, 1, 2]
    text = path.read_text()
    assert all(f"{v:064x}" not in text and str(v) not in text for v in (keys.alpha, *(s.alpha for s in keys.shares)))
    stored = json.loads(text)
    assert (stored["format"], stored["version"], stored["chain_id"], stored["members"]) == (
        "mpcc-dealer-state", 1, 31337, list(ACCOUNTS))
    again = load_or_deal(path, BINDING, ACCOUNT_KEY)
    assert again.outcome == "reused" and again.keys == keys
    assert "alpha=<hidden>" in repr(keys) and str(keys.alpha) not in repr(keys)


@pytest.mark.parametrize(("change", "words"), [
    (dict(members=ACCOUNTS + ("0x" + "dd" * 20,), group=b"\x01" * 32), "joined: 0x" + "dd" * 20),
    (dict(members=ACCOUNTS[:2], group=b"\x02" * 32), f"left: {ACCOUNTS[2]}"),
    (dict(members=ACCOUNTS[::-1], group=b"\x03" * 32), "the same members in another order"),
    (dict(chain_id=11155111), "another deployment (chain 31337"),
    (dict(ledger="0x" + "33" * 20), "another deployment"),
])
def test_another_group_or_deployment_gets_a_new_key_and_says_so(tmp_path: Path, change: dict[str, Any],
                                                                  words: str) -> None:
    path = tmp_path / "dealer-state.json"
    old = load_or_deal(path, BINDING, ACCOUNT_KEY).keys
    old_bytes = path.read_bytes()
    other = dataclasses.replace(BINDING, **change)
    made = load_or_deal(path, other, ACCOUNT_KEY)
    assert made.outcome == "replaced" and words in made.message
    assert "delete its key share" in made.message and "restart its peer" in made.message
    assert made.keys.alpha != old.alpha and len(made.keys.shares) == len(other.members)
    previous = path.with_name(path.name + ".previous")
    assert previous.read_bytes() == old_bytes and mode(previous) == 0o600 and mode(path) == 0o600
    assert load_or_deal(path, other, ACCOUNT_KEY).keys == made.keys


def _flip_sealed(state: dict[str, Any]) -> None:
    state["sealed"] = ("0" if state["sealed"][0] != "0" else "1") + state["sealed"][1:]


def _edit(field: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda state: state.__setitem__(field, value)


@pytest.mark.parametrize(("damage", "why"), [
    (lambda s: None, "it is not JSON"),
    (_flip_sealed, "does not authenticate"),
    (_edit("created", "2020-01-01T00:00:00+00:00"), "does not authenticate"),
    (_edit("version", 2), "version 2; this mpcc reads version 1"),
    (_edit("format", "something else"), "not an mpcc dealer state"),
    (lambda s: s.pop("nonce"), "fields missing or malformed: nonce"),
    (_edit("nonce", "zz"), "does not authenticate"),
])
def test_a_damaged_state_is_a_clear_error_and_never_a_new_key(tmp_path: Path,
                                                             damage: Callable[[dict[str, Any]], None],
                                                             why: str) -> None:
    path = tmp_path / "dealer-state.json"
    load_or_deal(path, BINDING, ACCOUNT_KEY)
    state = json.loads(path.read_text())
    damage(state)
    text = json.dumps(state) if why != "it is not JSON" else path.read_text()[:40]
    path.write_text(text)
    path.chmod(0o600)
    with pytest.raises(DealerStateError) as refused:
        load_or_deal(path, BINDING, ACCOUNT_KEY)
    message = str(refused.value)
    assert isinstance(refused.value, ConfigError)
    assert f"the dealer state {path} is unusable: " in message and why in message
    assert "Restore the file from a backup" in message and "move it aside" in message
    assert path.read_text() == text and not path.with_name(path.name + ".previous").exists()


def test_shares_that_do_not_add_up_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "dealer-state.json"
    keys = DealerKeys.fresh(3)
    save(path, BINDING, dataclasses.replace(keys, alpha=(keys.alpha + 1) % P), ACCOUNT_KEY)
    with pytest.raises(DealerStateError, match="its key shares do not add up to its MAC key"):
        load_or_deal(path, BINDING, ACCOUNT_KEY)


def test_a_state_others_may_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "dealer-state.json"
    load_or_deal(path, BINDING, ACCOUNT_KEY)
    path.chmod(0o644)
    with pytest.raises(DealerStateError, match=rf"may be read by other users \(mode 0644\).*`chmod 600 {path}`"):
        load_or_deal(path, BINDING, ACCOUNT_KEY)


def test_another_service_account_cannot_open_it(tmp_path: Path) -> None:
    path = tmp_path / "dealer-state.json"
    load_or_deal(path, BINDING, ACCOUNT_KEY)
    other = dataclasses.replace(BINDING, service="0x" + "ee" * 20)
    with pytest.raises(DealerStateError, match=f"sealed by the service account {BINDING.service}, but this "
                                               f"service signs as {other.service}"):
        load_or_deal(path, other, bytes(32))
    with pytest.raises(DealerStateError, match="does not authenticate"):  # The right address, the wrong key.
        load_or_deal(path, BINDING, bytes(32))
