"""Organisations: keys at home, joining, approval by quorum, refusals before any transaction."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mpcc import orgs
from mpcc.consortium import admit, request_join
from onchain.abi.org_registry import MemberAdmitted
from onchain.deploy import Deployment
from onchain.errors import ConfigError, ContractRevert
from onchain.history import registry_at
from onchain.registry import MemberStatus, Role

from onchain_testkit import PASSPHRASE


def test_org_home_holds_keys_encrypted_and_public_entry(org_homes: list[Path]) -> None:
    home = org_homes[0]
    entry = orgs.PublicEntry.load(home / orgs.PUBLIC_FILE)
    assert len(bytes.fromhex(entry.hpke_public_key[2:])) == 1216
    for name in ("tls-key.pem", "hpke-key.pem"):
        assert b"ENCRYPTED PRIVATE KEY" in (home / name).read_bytes()
    assert "crypto" in json.loads((home / "eth-keystore.json").read_text())
    assert "passphrase" not in (home / orgs.ORG_FILE).read_text().split("#", 1)[1].split("\n", 1)[1]


def test_wrong_passphrase_is_refused(org_homes: list[Path]) -> None:
    with pytest.raises(ConfigError, match="wrong passphrase"):
        orgs.load(org_homes[0], b"not it")


def test_init_refuses_bad_input_and_existing_folders(org_homes: list[Path], tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="malformed peer endpoint"):
        orgs.init(tmp_path / "x", "X", "no-port", PASSPHRASE)
    with pytest.raises(ConfigError, match="1 to 64 bytes"):
        orgs.init(tmp_path / "x", "", "h:1", PASSPHRASE)
    with pytest.raises(ConfigError, match="exists already"):
        orgs.init(org_homes[0], "Again", "h:1", PASSPHRASE)


@pytest.mark.parametrize("field,value,message", [
    ("tls_fingerprint", "0x1234", "malformed TLS fingerprint"),
    ("hpke_public_key", "00" * 100, "malformed HPKE public key: 100 bytes"),
    ("hpke_public_key", "zz", "not hexadecimal"),
    ("account", "0x12", "malformed Ethereum address"),
])
def test_malformed_public_entry_is_refused(org_copies: list[Path], field: str, value: str, message: str) -> None:
    path = org_copies[0] / orgs.PUBLIC_FILE
    data = json.loads(path.read_text())
    data[field] = value
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=message):
        orgs.PublicEntry.load(path)


def test_bootstrap_join_and_approval_by_quorum(consortium: Deployment, loaded_orgs: list[orgs.Org]) -> None:
    a, b, c = loaded_orgs[:3]
    reg = consortium.registry
    assert reg.bootstrap_sealed() and reg.is_active(a.account.address)
    admit(consortium, b, [a])  # one active member: quorum 2 is capped at 1
    assert reg.is_active(b.account.address)
    receipts = admit(consortium, c, [a, b])
    assert [r.named(MemberAdmitted) != [] for r in receipts[1:]] == [False, True]
    members = reg.active_members()
    assert [(m.name, m.endpoint) for m in members] == [(o.public.name, o.public.endpoint) for o in (a, b, c)]
    assert members[2].tls_fingerprint == c.identity.tls_fingerprint
    assert members[2].hpke_public_key == c.identity.hpke_public


def test_a_non_member_approval_is_a_decoded_revert_and_sends_nothing(
        consortium: Deployment, loaded_orgs: list[orgs.Org]) -> None:
    b, c = loaded_orgs[1], loaded_orgs[2]
    request_join(consortium, b)
    w3 = consortium.chain.w3
    nonce = w3.eth.get_transaction_count(c.account.address)
    with pytest.raises(ContractRevert) as caught:
        consortium.registry.approve_join(c.account, b.account.address)
    assert caught.value.error_name == "NotActiveMember"
    assert isinstance(caught.value, consortium.registry.errors.NotActiveMember)
    assert list(caught.value.fields.values()) == [c.account.address]
    assert w3.eth.get_transaction_count(c.account.address) == nonce


def test_joining_twice_is_refused_before_a_transaction(consortium: Deployment, loaded_orgs: list[orgs.Org]) -> None:
    b = loaded_orgs[1]
    request_join(consortium, b)
    sent = len(consortium.chain.log)
    with pytest.raises(ConfigError, match="already registered with status pending"):
        request_join(consortium, b)
    assert len(consortium.chain.log) == sent


def test_rotate_keys_updates_the_entry(consortium: Deployment, loaded_orgs: list[orgs.Org]) -> None:
    a, d = loaded_orgs[0], loaded_orgs[3]
    consortium.registry.rotate_keys(a.account, "10.1.1.1:7000", d.identity.tls_fingerprint, d.identity.hpke_public)
    entry = consortium.registry.member(a.account.address)
    assert (entry.endpoint, entry.tls_fingerprint, entry.status) == (
        "10.1.1.1:7000", d.identity.tls_fingerprint, MemberStatus.ACTIVE)


def test_registry_at_any_block_is_rebuilt_from_events(consortium: Deployment, loaded_orgs: list[orgs.Org]) -> None:
    a, b, c = loaded_orgs[:3]
    reg = consortium.registry
    admit(consortium, b, [a])
    before_c = consortium.chain.w3.eth.block_number
    admit(consortium, c, [a, b])
    reg.rotate_keys(b.account, "10.9.9.9:1", c.identity.tls_fingerprint, c.identity.hpke_public)
    reg.vote_suspend(a.account, c.account.address)
    reg.vote_suspend(b.account, c.account.address)
    now = consortium.chain.w3.eth.block_number
    snapshot = registry_at(reg, now)
    for member in reg.members():
        rebuilt = snapshot.members[member.account]
        assert (rebuilt.name, rebuilt.endpoint, rebuilt.tls_fingerprint, rebuilt.hpke_public_key, rebuilt.status) == (
            member.name, member.endpoint, member.tls_fingerprint, member.hpke_public_key, member.status)
    assert snapshot.sealed
    assert snapshot.has_role(Role.PREPROCESSOR, consortium.chain.test_account(1).address)
    earlier = registry_at(reg, before_c)
    assert c.account.address not in earlier.members
    assert earlier.members[b.account.address].endpoint == b.public.endpoint


def test_an_unfunded_sender_is_refused_before_sending(consortium: Deployment, loaded_orgs: list[orgs.Org]) -> None:
    from eth_account import Account

    from onchain.chain import InsufficientFunds

    pauper = Account.create()
    sent = len(consortium.chain.log)
    with pytest.raises(InsufficientFunds, match=f"account {pauper.address} holds 0.000000 ETH.*fund the account"):
        consortium.registry.request_join(pauper, loaded_orgs[3].public.keys())
    assert len(consortium.chain.log) == sent
    assert consortium.chain.w3.eth.get_transaction_count(pauper.address) == 0


def test_a_node_refusing_to_send_a_reverting_transaction_gives_the_same_named_error(
        consortium: Deployment, loaded_orgs: list[orgs.Org], monkeypatch: pytest.MonkeyPatch) -> None:
    """Hardhat in automine refuses such a send with a JSON-RPC error (web3's Web3RPCError)
    instead of mining a revert; the in-process chain cannot, so the refusal is made from the
    real revert data here. Two peers expiring the same job raced into exactly this."""
    from web3.exceptions import ContractCustomError, Web3RPCError

    b, c = loaded_orgs[1], loaded_orgs[2]
    request_join(consortium, b)
    with pytest.raises(ContractRevert) as real:
        consortium.registry.approve_join(c.account, b.account.address)
    cause = real.value.__cause__
    assert isinstance(cause, ContractCustomError)
    refusal = Web3RPCError("execution reverted", rpc_response={
        "jsonrpc": "2.0", "id": 1, "error": {"code": 3, "message": "execution reverted",
                                             "data": cause.data}})

    def refuse(*args: object, **kwargs: object) -> None:
        raise refusal

    monkeypatch.setattr(consortium.chain, "transact", refuse)
    with pytest.raises(ContractRevert) as caught:
        consortium.registry.approve_join(c.account, b.account.address)
    assert caught.value.error_name == "NotActiveMember"
