"""The dealer's tuples satisfy their relations; batches serialise; seeded mode is reproducible."""

from __future__ import annotations

import hashlib

import pytest

from harness.dealing import seeded_dealer
from harness.dealing import unchecked
from offchain.errors import ConfigError, DecodeError
from offchain.field import P
from offchain.preprocessing.dealer import Dealer
from offchain.preprocessing.tuples import PartyBatch, TupleKey, TupleKind
from offchain.shares import reconstruct
from offchain_testkit import alpha_of


@pytest.fixture
def dealer_keys() -> tuple[Dealer, int]:
    dealer, keys = Dealer.create(3)
    return dealer, alpha_of(keys)


def opened(batches: list[PartyBatch], alpha: int, column: int, checks: bool = False
           ) -> list[int]:
    source = [b.checks if checks else b.columns for b in batches]
    return reconstruct([s[column] for s in source], alpha).to_ints()


def test_triples(dealer_keys: tuple[Dealer, int]) -> None:
    dealer, alpha = dealer_keys
    batches = dealer.triples(50)
    assert len({b.batch_id for b in batches}) == 1 and [b.party for b in batches] == [0, 1, 2]
    for checks in (False, True):
        a, b, c = (opened(batches, alpha, i, checks) for i in range(3))
        assert c == [x * y % P for x, y in zip(a, b)]


def test_squares_and_bits(dealer_keys: tuple[Dealer, int]) -> None:
    dealer, alpha = dealer_keys
    squares = dealer.squares(40)
    a, b = opened(squares, alpha, 0), opened(squares, alpha, 1)
    assert b == [x * x % P for x in a]
    bits = opened(dealer.bits(400), alpha, 0)
    assert set(bits) == {0, 1}


def test_input_masks_are_known_to_the_owner_only(dealer_keys: tuple[Dealer, int]) -> None:
    dealer, alpha = dealer_keys
    batches = dealer.input_masks(owner=1, count=30)
    assert batches[0].clear is None and batches[2].clear is None
    clear = batches[1].clear
    assert clear is not None and len(clear) == 31
    assert opened(batches, alpha, 0) == clear.to_ints()[:30]
    assert opened(batches, alpha, 0, checks=True) == clear.to_ints()[30:]
    assert unchecked(batches[1]).clear == clear[:30]


def test_truncation_pairs_are_not_dealt(dealer_keys: tuple[Dealer, int]) -> None:
    dealer, _ = dealer_keys
    with pytest.raises(ConfigError, match="built from checked bits"):
        dealer.batch(TupleKey(TupleKind.TRUNC, f=20, bits=104), 3)


def test_batch_serialisation_round_trip(dealer_keys: tuple[Dealer, int]) -> None:
    dealer, _ = dealer_keys
    for batches in (dealer.triples(5), dealer.input_masks(0, 4),
                    dealer.bits(9), dealer.squares(2)):
        for batch in batches:
            data = batch.to_bytes()
            assert data[0] == 1 and data[2:34] == batch.batch_id
            assert PartyBatch.from_bytes(data) == batch


def test_batch_decoding_rejects_damage(dealer_keys: tuple[Dealer, int]) -> None:
    dealer, _ = dealer_keys
    data = dealer.triples(2)[0].to_bytes()
    for bad in (data[:-1], data + b"\x00", b"\x02" + data[1:], data[:1] + b"\x09" + data[2:],
                data[:-32] + (2**256 - 1).to_bytes(32, "big")):
        with pytest.raises(DecodeError):
            PartyBatch.from_bytes(bad)


def test_seeded_dealer_is_reproducible_known_answer() -> None:
    def digest(seed: bytes) -> str:
        dealer, keys = seeded_dealer(2, seed)
        data = b"".join(b.to_bytes() for b in dealer.triples(3) + dealer.input_masks(0, 2))
        return hashlib.sha256(data + repr([k.alpha for k in keys]).encode()).hexdigest()

    assert digest(b"kat-1") == digest(b"kat-1") != digest(b"kat-2")
    assert digest(b"kat-1") == KAT_DIGEST


KAT_DIGEST = "65a69c150e867b234694f19d7ca6eb5929f7fca0740c895137e7f99c8f2cfd3f"


@pytest.mark.parametrize("kwargs", [dict(kind=TupleKind.INPUT_MASK),
                                    dict(kind=TupleKind.TRIPLE, owner=0),
                                    dict(kind=TupleKind.TRUNC, f=20),
                                    dict(kind=TupleKind.TRUNC, f=20, bits=253),
                                    dict(kind=TupleKind.TRUNC, f=0, bits=64)])
def test_tuple_keys_are_validated(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        TupleKey(**kwargs)


def test_dealer_refuses_bad_parameters() -> None:
    with pytest.raises(ConfigError):
        Dealer.create(1)
    dealer, _ = Dealer.create(2)
    with pytest.raises(ConfigError):
        dealer.triples(0)


def test_kind_names_are_stable() -> None:
    assert [k.value for k in TupleKind] == ["triple", "square", "bit", "input_mask", "trunc"]
