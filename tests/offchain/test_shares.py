"""Authenticated shares: dealing, the MAC relation, local linear operations, encoding."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from offchain.errors import DecodeError, MacCheckFailed
from offchain.field import P, FieldVec
from offchain.shares import MacKeyShare, SharedVec, deal, reconstruct, split_key

element = st.one_of(st.sampled_from([0, 1, P - 1, P // 2, 2**64]), st.integers(0, P - 1))


def vectors(n: int) -> st.SearchStrategy[list[int]]:
    return st.lists(element, min_size=n, max_size=n)


@st.composite
def setting(draw: st.DrawFn) -> tuple[int, int, list[int], list[int], int]:
    n_parties = draw(st.integers(2, 5))
    size = draw(st.integers(1, 8))
    return (n_parties, draw(st.integers(1, P - 1)), draw(vectors(size)), draw(vectors(size)),
            draw(st.integers(-(2**70), 2**70)))


@given(setting())
def test_linear_operations_match_plaintext(case: tuple[int, int, list[int], list[int], int]
                                           ) -> None:
    n, alpha, x, y, c = case
    keys = [MacKeyShare(i, a) for i, a in enumerate(_split(alpha, n))]
    xs = deal(FieldVec.from_ints(x), alpha, n)
    ys = deal(FieldVec.from_ints(y), alpha, n)
    cv = FieldVec.from_ints([c + i for i in range(len(x))])

    def check(shares: list[SharedVec], expected: list[int]) -> None:
        assert reconstruct(shares, alpha).to_ints() == [v % P for v in expected]

    check([a + b for a, b in zip(xs, ys)], [u + v for u, v in zip(x, y)])
    check([a - b for a, b in zip(xs, ys)], [u - v for u, v in zip(x, y)])
    check([-a for a in xs], [-u for u in x])
    check([a.scale(c) for a in xs], [u * c for u in x])
    check([a.scale(cv) for a in xs], [u * w for u, w in zip(x, cv.to_ints())])
    check([a.scale_add(cv, b) for a, b in zip(xs, ys)],
          [u + w * v for u, v, w in zip(x, y, cv.to_ints())])
    check([a.add_public(c, k) for a, k in zip(xs, keys)], [u + c for u in x])
    check([a.add_public(cv, k) for a, k in zip(xs, keys)], [u + w for u, w in zip(x, cv)])
    check([a.sub_public(c, k) for a, k in zip(xs, keys)], [u - c for u in x])
    check([a.rsub_public(c, k) for a, k in zip(xs, keys)], [c - u for u in x])


def _split(alpha: int, n: int) -> list[int]:
    return [k.alpha for k in split_key(alpha, n)]


def test_key_shares_sum_to_alpha_and_hide_it() -> None:
    keys = split_key(12345, 4)
    assert sum(k.alpha for k in keys) % P == 12345
    assert [k.party for k in keys] == [0, 1, 2, 3]
    assert "12345" not in repr(keys[0]) and str(keys[0].alpha) not in repr(keys[0])


def test_a_wrong_share_or_mac_breaks_the_relation() -> None:
    alpha = 99
    xs = deal(FieldVec.from_ints([1, 2, 3]), alpha, 3)
    bad = [xs[0], SharedVec(xs[1].share + 1, xs[1].mac), xs[2]]
    with pytest.raises(MacCheckFailed):
        reconstruct(bad, alpha)
    bad = [xs[0], xs[1], SharedVec(xs[2].share, xs[2].mac - 1)]
    with pytest.raises(MacCheckFailed):
        reconstruct(bad, alpha)


def test_shares_of_a_value_look_random() -> None:
    xs = deal(FieldVec.zeros(50), 7, 3)
    assert len(set(xs[0].share.to_ints())) == 50


@given(st.integers(0, 6).flatmap(vectors))
def test_serialisation_round_trip(x: list[int]) -> None:
    v = deal(FieldVec.from_ints(x), 5, 2)[0]
    data = v.to_bytes()
    assert data[0] == 1 and int.from_bytes(data[1:5], "big") == len(x)
    assert SharedVec.from_bytes(data) == v


@pytest.mark.parametrize("data", [b"", b"\x02\x00\x00\x00\x00", b"\x01\x00\x00\x00\x01",
                                  b"\x01\x00\x00\x00\x01" + bytes(63)])
def test_serialisation_rejects_bad_input(data: bytes) -> None:
    with pytest.raises(DecodeError):
        SharedVec.from_bytes(data)
