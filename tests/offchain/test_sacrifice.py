"""The joint sacrifice accepts honest batches and rejects a batch with one bad tuple."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from offchain.engine.context import Context
from offchain.errors import ProtocolAbort, SacrificeFailed
from offchain.field import FieldVec
from offchain.net.memory import MemoryNetwork, MemoryTransport, run_parties
from offchain.preprocessing.dealer import Dealer
from offchain.engine.sacrifice import accept_batch
from offchain.preprocessing.source import MemoryTupleSource
from offchain.preprocessing.tuples import PartyBatch, TupleKey, TupleKind, TupleSet
from offchain.shares import MacKeyShare, SharedVec
from offchain_testkit import alpha_of

N = 3


def check_all(batches: list[PartyBatch], keys: list[MacKeyShare]) -> list[object]:
    def party(i: int) -> Callable[[MemoryTransport], object]:
        async def run(t: MemoryTransport) -> TupleSet:
            return await accept_batch(Context(t, keys[i], MemoryTupleSource()), batches[i])
        return run

    return asyncio.run(run_parties(MemoryNetwork(N, timeout=5), [party(i) for i in range(N)]))


def dealt(kind: str, count: int = 20) -> tuple[list[PartyBatch], list[MacKeyShare]]:
    dealer, keys = Dealer.create(N)
    make = {"triple": dealer.triples, "square": dealer.squares, "bit": dealer.bits,
            "input_mask": lambda n: dealer.input_masks(1, n)}[kind]
    return make(count), keys


def corrupt(batch: PartyBatch, column: int, index: int, delta: int, alpha: int,
            *, in_checks: bool = False, mac_only: bool = False) -> PartyBatch:
    """Adds delta at one position of one column; the MAC follows unless mac_only.

    With the MAC following, this is a dealer producing a wrong tuple with
    perfectly consistent MACs: only the multiplicative check can see it.
    """
    cols = list(batch.checks if in_checks else batch.columns)
    old = cols[column]
    bump = FieldVec.from_ints([delta if i == index else 0 for i in range(len(old))])
    share = old.share if mac_only else old.share + bump
    cols[column] = SharedVec(share, old.mac + bump * (1 if mac_only else alpha))
    if in_checks:
        return PartyBatch(batch.batch_id, batch.key, batch.party, batch.n_parties,
                          batch.columns, tuple(cols), batch.clear)
    return PartyBatch(batch.batch_id, batch.key, batch.party, batch.n_parties, tuple(cols),
                      batch.checks, batch.clear)


@pytest.mark.parametrize("kind", ["triple", "square", "bit", "input_mask"])
def test_honest_batches_pass(kind: str) -> None:
    batches, keys = dealt(kind)
    results = check_all(batches, keys)
    assert all(isinstance(r, TupleSet) and len(r) == 20 for r in results), results


@pytest.mark.parametrize("kind,column,in_checks", [
    ("triple", 2, False), ("triple", 0, False), ("triple", 2, True), ("square", 1, False),
    ("square", 1, True), ("bit", 0, False), ("bit", 1, True)])
def test_one_bad_tuple_with_consistent_macs_fails_the_whole_batch(
        kind: str, column: int, in_checks: bool) -> None:
    batches, keys = dealt(kind)
    alpha = alpha_of(keys)
    # (+1 could turn a 0 bit into a valid 1 bit; +2 never leaves a valid bit.)
    batches[2] = corrupt(batches[2], column, 13, 2, alpha, in_checks=in_checks)
    results = check_all(batches, keys)
    for r in results:
        assert isinstance(r, SacrificeFailed), results
        assert r.batch_id == batches[0].batch_id and r.kind == kind
        assert batches[0].batch_id.hex() in str(r)


def test_a_bit_that_is_two_fails() -> None:
    # b = 2 with consistent MACs: b^2 != b, so the square check of (b, b) fails.
    batches, keys = dealt("bit")
    batches[0] = corrupt(batches[0], 0, 3, 2, alpha_of(keys))
    assert all(isinstance(r, SacrificeFailed) for r in check_all(batches, keys))


@pytest.mark.parametrize("kind", ["input_mask", "triple"])
def test_an_inconsistent_mac_fails(kind: str) -> None:
    batches, keys = dealt(kind)
    batches[1] = corrupt(batches[1], 0, 5, 1, alpha_of(keys), mac_only=True)
    assert all(isinstance(r, SacrificeFailed) for r in check_all(batches, keys))


def test_a_dealer_that_deals_truncation_pairs_is_refused_whatever_their_values() -> None:
    # A hostile dealer deals pairs skewed its way (r_low != r mod 2^f, with consistent MACs): a linear
    # check cannot see that, so no dealt pair is ever used; the members build theirs from checked bits.
    batches, keys = dealt("square")
    key = TupleKey(TupleKind.TRUNC, f=16, bits=96)
    skewed = [PartyBatch(b.batch_id, key, b.party, N, b.columns, b.checks) for b in batches]
    for r in check_all(skewed, keys):
        assert isinstance(r, SacrificeFailed) and r.kind == "trunc", r
        assert "built from checked bits" in str(r)


def test_an_input_mask_the_owner_was_told_wrongly_fails() -> None:
    batches, keys = dealt("input_mask")
    owner = batches[1]
    assert owner.clear is not None
    wrong = FieldVec.concat([owner.clear[:4], owner.clear[4:5] + 1, owner.clear[5:]])
    batches[1] = PartyBatch(owner.batch_id, owner.key, 1, N, owner.columns, owner.checks, wrong)
    results = check_all(batches, keys)
    assert isinstance(results[1], SacrificeFailed)
    assert all(isinstance(r, ProtocolAbort) for r in results)


def test_parties_checking_different_batches_abort() -> None:
    batches, keys = dealt("triple")
    other, _ = dealt("triple")
    batches[0] = other[0]
    assert all(isinstance(r, ProtocolAbort) for r in check_all(batches, keys))
