"""A LowGear setup each member keeps between sessions: resumed when all keep the same, else made afresh.

Three parties over the in-memory network on the small ring; each has an
organisation identity of its own (its HPKE key seals its kept decryption key).
The oracle is the reconstruction of the shares with the global MAC key.
"""
# ruff: noqa: S101 - pytest asserts.

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from dealerless_testkit import PARAMS, keys_for, opened, stream

from offchain import identity
from offchain.dealerless import LowGear, triple_batch
from offchain.dealerless.kept import KeptSetup, keep, restore, resume
from offchain.engine.sacrifice import accept_batch
from offchain.engine.session import Session
from offchain.errors import ConfigError, DecodeError
from offchain.net.memory import MemoryNetwork, MemoryTransport, run_parties
from offchain.preprocessing.keyshare import group_id
from offchain.preprocessing.tuples import TupleSet
from offchain.shares import MacKeyShare

N = 3
GROUP = group_id([f"0x{i:040x}" for i in range(1, N + 1)])


@pytest.fixture(scope="module")
def identities(tmp_path_factory: pytest.TempPathFactory) -> list[identity.Identity]:
    root = tmp_path_factory.mktemp("orgs")
    return [identity.create(root / f"org{i}", f"org{i}", f"127.0.0.1:{9000 + i}", b"pass") for i in range(N)]


Outcome = tuple[bool, KeptSetup, TupleSet]  # (resumed, what the member keeps now, its checked triples)


def session(idents: list[identity.Identity], kept: list[bytes | None], keys: list[MacKeyShare] | None = None,
            seed: int = 10) -> list[Outcome]:
    """One making session: resume or set up (keeping the fresh setup), then one triple batch through the sacrifice."""
    keys = keys or keys_for(N)

    def party(i: int) -> Callable[[MemoryTransport], Awaitable[Outcome]]:
        async def run(t: MemoryTransport) -> Outcome:
            ctx = Session(t, keys[i], randbytes=stream(seed + i))
            held = None
            if kept[i] is not None:
                stored = KeptSetup.from_bytes(kept[i])
                held = (stored, restore(stored, idents[i], PARAMS, ctx, GROUP))
            lowgear, mac = await resume(ctx, PARAMS, held)
            now = held[0] if mac is None and held else keep(ctx, lowgear, mac or {}, GROUP, idents[i].hpke_public)
            tuples = await accept_batch(ctx, await triple_batch(ctx, lowgear))
            return mac is None, now, tuples
        return run

    return asyncio.run(run_parties(MemoryNetwork(N, timeout=120), [party(i) for i in range(N)]))


def products_hold(outcomes: list[Outcome], keys: list[MacKeyShare]) -> bool:
    a, b, c = (opened([o[2].columns[k] for o in outcomes], keys) for k in range(3))
    return bool(c == a * b) and len(set(a)) == len(a)


@pytest.fixture(scope="module")
def first(identities: list[identity.Identity]) -> list[Outcome]:
    return session(identities, [None] * N)


def test_a_setup_every_member_kept_is_resumed_and_makes_checked_triples(
        identities: list[identity.Identity], first: list[Outcome]) -> None:
    assert not any(resumed for resumed, _, _ in first)
    ids = {kept.setup_id for _, kept, _ in first}
    assert len(ids) == 1  # Every honest member derives the same setup id.
    again = session(identities, [kept.to_bytes() for _, kept, _ in first], seed=40)
    assert all(resumed for resumed, _, _ in again)
    assert products_hold(again, keys_for(N))  # The sacrifice passed and the products are right.
    assert {kept.setup_id for _, kept, _ in again} == ids


def test_one_member_without_its_kept_setup_makes_every_member_set_up_afresh(
        identities: list[identity.Identity], first: list[Outcome]) -> None:
    kept = [first[0][1].to_bytes(), first[1][1].to_bytes(), None]
    again = session(identities, kept, seed=70)
    assert not any(resumed for resumed, _, _ in again)
    fresh = {k.setup_id for _, k, _ in again}
    assert len(fresh) == 1 and fresh != {first[0][1].setup_id}
    assert products_hold(again, keys_for(N))


def test_the_kept_file_holds_no_key_seed_in_clear_and_opens_for_its_member_only(
        identities: list[identity.Identity], first: list[Outcome]) -> None:
    def restored(kept: KeptSetup, ident: identity.Identity, alpha: int) -> LowGear:
        # Party 0's session of three (restore reads who it is, and how many they are, from it).
        return restore(kept, ident, PARAMS, Session(MemoryNetwork(N).transport(0), MacKeyShare(0, alpha)), GROUP)

    kept, alpha = first[0][1], keys_for(N)[0].alpha
    data = kept.to_bytes()
    assert KeptSetup.from_bytes(data).to_bytes() == data
    seed = restored(kept, identities[0], alpha).keys.seed
    assert len(seed) == 32 and seed not in data  # Sealed to the member's HPKE key, never in the clear.
    with pytest.raises(ConfigError, match="does not open with this organisation's key"):
        restored(kept, identities[1], alpha)
    with pytest.raises(ConfigError, match="another MAC key share"):
        restored(kept, identities[0], alpha + 1)
    doctored = KeptSetup(kept.setup_id, kept.group, 0, kept.sealed, (kept.public[1], *kept.public[1:]), kept.mac)
    with pytest.raises(ConfigError, match="does not derive the public key kept"):
        restored(doctored, identities[0], alpha)
    with pytest.raises(ConfigError, match="another group"):
        restored(KeptSetup(kept.setup_id, bytes(32), 0, kept.sealed, kept.public, kept.mac), identities[0], alpha)
    with pytest.raises(DecodeError, match="a kept LowGear setup: truncated"):
        KeptSetup.from_bytes(data[:-1])
