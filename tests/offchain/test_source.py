"""Tuple sources hand out every tuple once and say exactly what is missing."""

from __future__ import annotations

import pytest

from harness.dealing import unchecked
from offchain.engine import estimate
from offchain.errors import TuplesExhausted
from offchain.preprocessing.dealer import Dealer
from offchain.preprocessing.source import MemoryTupleSource
from offchain.preprocessing.tuples import Needs, TupleKey, TupleKind

TRIPLE = TupleKey(TupleKind.TRIPLE)


def filled(*sizes: int) -> MemoryTupleSource:
    dealer, _ = Dealer.create(2)
    source = MemoryTupleSource()
    for n in sizes:
        source.add(unchecked(dealer.triples(n)[0]))
    return source


def test_each_tuple_is_handed_out_once_across_batches() -> None:
    source = filled(5, 7)
    taken = [source.take(TRIPLE, k) for k in (3, 4, 5)]
    assert [len(t) for t in taken] == [3, 4, 5] and source.available(TRIPLE) == 0
    seen = [a for t in taken for a in t.columns[0].share.to_ints()]
    assert len(set(seen)) == 12
    with pytest.raises(TuplesExhausted) as info:
        source.take(TRIPLE, 1)
    assert info.value.kind == "triple" and info.value.missing == 1


def test_exhaustion_names_kind_and_missing_and_takes_nothing() -> None:
    source = filled(10)
    with pytest.raises(TuplesExhausted, match="'triple'.*3 missing") as info:
        source.take(TRIPLE, 13)
    assert info.value.missing == 3
    assert source.available(TRIPLE) == 10
    with pytest.raises(TuplesExhausted) as info:
        source.take(TupleKey(TupleKind.INPUT_MASK, owner=1), 2)
    assert info.value.kind == "input_mask[owner=1]" and info.value.missing == 2


def test_reserve_moves_exactly_the_needs_into_a_job_source() -> None:
    source = filled(10)
    job = source.reserve(estimate.mul(4))
    assert job.available(TRIPLE) == 4 and source.available(TRIPLE) == 6
    with pytest.raises(TuplesExhausted):
        source.reserve(estimate.mul(5) + estimate.bits(1))
    assert source.available(TRIPLE) == 6  # A failed reservation takes nothing.


def test_needs_add_and_scale() -> None:
    needs = estimate.mul(3) + estimate.mul(2) + estimate.input_values(1, 4)
    assert needs[TupleKind.TRIPLE] == 5
    assert (2 * needs).as_dict() == {"input_mask[owner=1]": 8, "triple": 10}
    assert estimate.trunc(2, 20, 104).as_dict() == {"bit": 208}  # Pairs are built from bits.
    assert Needs().as_dict() == {} and estimate.square(0).as_dict() == {}
