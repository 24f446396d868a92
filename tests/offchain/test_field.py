"""FieldVec against plain integer arithmetic, and the C kernel against the reference."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from offchain import _fieldkernel, _fieldref
from offchain.errors import ConfigError, DecodeError
from offchain.field import BACKEND, P, WIRE_VERSION, FieldVec, beaver_combine
from harness.dealing import SeededBytes
from offchain_testkit import Scribbler

EDGES = [0, 1, 2, P - 1, P - 2, P // 2, P // 2 + 1, 2**64 - 1, 2**64, 2**128 + 7, 2**253,
         2**253 - 1]
element = st.one_of(st.sampled_from(EDGES), st.integers(0, P - 1))
vectors = st.lists(element, min_size=1, max_size=20)


def pairs() -> st.SearchStrategy[tuple[list[int], list[int]]]:
    return st.integers(1, 20).flatmap(
        lambda n: st.tuples(st.lists(element, min_size=n, max_size=n),
                            st.lists(element, min_size=n, max_size=n)))


@given(pairs())
def test_arithmetic_matches_integers(xy: tuple[list[int], list[int]]) -> None:
    x, y = xy
    a, b = FieldVec.from_ints(x), FieldVec.from_ints(y)
    assert (a + b).to_ints() == [(u + v) % P for u, v in zip(x, y)]
    assert (a - b).to_ints() == [(u - v) % P for u, v in zip(x, y)]
    assert (a * b).to_ints() == [u * v % P for u, v in zip(x, y)]
    assert (-a).to_ints() == [-u % P for u in x]
    assert a.dot(b) == sum(u * v for u, v in zip(x, y)) % P
    assert a.sum() == sum(x) % P
    assert b.mul_add(a, a).to_ints() == [(v + u * u) % P for u, v in zip(x, y)]


@given(vectors, st.one_of(st.sampled_from([0, 1, -1, P - 1, P, P + 5, -(2**300)]),
                          st.integers(-(2**300), 2**300)))
def test_scalar_operations(x: list[int], c: int) -> None:
    a = FieldVec.from_ints(x)
    assert (a * c).to_ints() == [u * c % P for u in x]
    assert (c * a) == a * c
    assert (a + c).to_ints() == [(u + c) % P for u in x]
    assert (a - c).to_ints() == [(u - c) % P for u in x]
    assert (c - a).to_ints() == [(c - u) % P for u in x]


def test_negative_ints_are_field_elements() -> None:
    a = FieldVec.from_ints([-1, -5, 0, 3])
    assert a.to_ints() == [P - 1, P - 5, 0, 3]
    assert a.to_signed_ints() == [-1, -5, 0, 3]


@given(vectors)
def test_wire_format_round_trip(x: list[int]) -> None:
    a = FieldVec.from_ints(x)
    data = a.to_bytes()
    assert data[0] == WIRE_VERSION and len(data) == 1 + 32 * len(x)
    assert data[1:33] == x[0].to_bytes(32, "big")
    assert FieldVec.from_bytes(data) == a


@pytest.mark.parametrize("data", [b"", b"\x02" + bytes(32), b"\x01" + bytes(31),
                                  b"\x01" + P.to_bytes(32, "big"),
                                  b"\x01" + (2**256 - 1).to_bytes(32, "big")])
def test_wire_format_rejects_bad_input(data: bytes) -> None:
    with pytest.raises(DecodeError):
        FieldVec.from_bytes(data)


def test_vectors_are_immutable_and_length_checked() -> None:
    a = FieldVec.from_ints([1, 2, 3])
    with pytest.raises(ValueError):
        a.limbs[0, 0] = 5
    with pytest.raises(AttributeError):
        a._a = None  # type: ignore[misc]
    with pytest.raises(ConfigError):
        a + FieldVec.from_ints([1, 2])


def test_indexing_and_slicing() -> None:
    a = FieldVec.from_ints([10, 20, 30, 40])
    assert a[0] == 10 and a[-1] == 40 and a[1:3].to_ints() == [20, 30]
    assert FieldVec.concat([a[:1], a[3:]]).to_ints() == [10, 40]
    assert len(FieldVec.zeros(5)) == 5 and FieldVec.full(2, -1).to_ints() == [P - 1, P - 1]


def test_random_elements_are_canonical_and_distinct() -> None:
    r = FieldVec.random(2000)
    ints = r.to_ints()
    assert all(0 <= v < P for v in ints)
    assert len(set(ints)) == len(ints)
    assert max(ints) > P // 2  # top bits are used


# Kernel against reference ---------------------------------------------------------------
kernel = _fieldkernel.load()
needs_kernel = pytest.mark.skipif(kernel is None, reason="C kernel not built")


def test_backend_is_the_kernel_when_built() -> None:
    forced = os.environ.get("MPCC_FIELD", "").lower() == "reference"
    assert BACKEND == ("kernel" if kernel is not None and not forced else "reference")


@needs_kernel
@given(pairs(), st.integers(0, P - 1))
def test_kernel_matches_reference(xy: tuple[list[int], list[int]], s: int) -> None:
    assert kernel is not None
    a, b = _fieldref.from_ints(xy[0]), _fieldref.from_ints(xy[1])
    for name in ("add", "sub", "mul"):
        assert np.array_equal(getattr(kernel, name)(a, b), getattr(_fieldref, name)(a, b)), name
    assert np.array_equal(kernel.neg(a), _fieldref.neg(a))
    assert np.array_equal(kernel.add_scalar(a, s), _fieldref.add_scalar(a, s))
    assert np.array_equal(kernel.mul_scalar(a, s), _fieldref.mul_scalar(a, s))
    assert np.array_equal(kernel.mul_add(b, a, b), _fieldref.mul_add(b, a, b))
    assert kernel.dot(a, b) == _fieldref.dot(a, b)
    assert kernel.total(a) == _fieldref.total(a)
    assert kernel.to_be(a) == _fieldref.to_be(a)
    assert np.array_equal(kernel.from_be(_fieldref.to_be(a), len(xy[0])), a)


@needs_kernel
@given(st.lists(st.integers(1, P - 1), min_size=0, max_size=40))
def test_kernel_inverse_square_roots_match_reference(values: list[int]) -> None:
    assert kernel is not None
    squares = _fieldref.from_ints([v * v % P for v in values])
    got, want = kernel.inv_sqrt(squares), _fieldref.inv_sqrt(squares)
    assert got is not None and want is not None and np.array_equal(got, want)
    for v, inverse in zip(values, _fieldref.to_ints(got), strict=True):
        assert inverse * min(v, P - v) % P == 1  # The root in [0, (P - 1) / 2], inverted.


@needs_kernel
@pytest.mark.parametrize("bad", [0, 5])  # 0 has no inverse root; 5 generates the group: no square.
def test_kernel_inverse_square_roots_refuse_what_has_none(bad: int) -> None:
    assert kernel is not None
    for at in (0, 3):
        values = [4, 9, 16, 25]
        values.insert(at, bad)
        assert kernel.inv_sqrt(_fieldref.from_ints(values)) is None
        assert _fieldref.inv_sqrt(_fieldref.from_ints(values)) is None


@needs_kernel
def test_kernel_sampling_matches_reference() -> None:
    assert kernel is not None
    one, two = SeededBytes(b"kat"), SeededBytes(b"kat")
    assert np.array_equal(kernel.sample(300, one), _fieldref.sample(300, two))


@needs_kernel
def test_kernel_rejects_non_canonical_bytes() -> None:
    assert kernel is not None
    data = (5).to_bytes(32, "big") + P.to_bytes(32, "big")
    with pytest.raises(DecodeError, match="element 1"):
        kernel.from_be(data, 2)
    with pytest.raises(DecodeError, match="element 1"):
        _fieldref.from_be(data, 2)


@given(pairs(), st.integers(0, P - 1), st.integers(0, P - 1))
def test_horner_is_polynomial_evaluation(xy: tuple[list[int], list[int]], t: int, acc: int
                                         ) -> None:
    x, y = xy
    a = FieldVec.from_ints(x)
    n = len(x)
    expected = (acc * pow(t, n, P) + sum(v * pow(t, n - 1 - j, P) for j, v in enumerate(x))) % P
    assert a.horner(t, acc) == expected
    # Continuing the evaluation over a second vector equals evaluating the concatenation.
    b = FieldVec.from_ints(y)
    assert b.horner(t, a.horner(t)) == FieldVec.concat([a, b]).horner(t)


@given(st.integers(1, 6).flatmap(lambda width: st.tuples(
    st.just(width), st.integers(0, 4).flatmap(lambda n: st.lists(element, min_size=width * n,
                                                                 max_size=width * n)))))
def test_binary_reads_rows_as_the_bits_of_numbers(rows: tuple[int, list[int]]) -> None:
    width, values = rows
    n = len(values) // width
    expected = [sum(values[i * n + j] << i for i in range(width)) % P for j in range(n)]
    assert FieldVec.from_ints(values).binary(width).to_ints() == expected
    assert _fieldref.to_ints(_fieldref.binary(_fieldref.from_ints(values), width)) == expected
    if kernel is not None:
        assert _fieldref.to_ints(kernel.binary(_fieldref.from_ints(values), width)) == expected


def test_binary_refuses_rows_of_unequal_length() -> None:
    with pytest.raises(ConfigError, match="5 elements are not 2 rows"):
        FieldVec.from_ints(range(5)).binary(2)
    with pytest.raises(ConfigError, match="are not 0 rows"):
        FieldVec.from_ints(range(4)).binary(0)


@given(st.integers(1, 8).flatmap(lambda n: st.lists(st.lists(element, min_size=n, max_size=n),
                                                    min_size=8, max_size=8)),
       st.integers(0, P - 1), st.booleans())
def test_fused_beaver_step_matches_its_formula(cols: list[list[int]], alpha: int,
                                               first: bool) -> None:
    cs, cm, as_, am, bs, bm, d, e = (FieldVec.from_ints(c) for c in cols)
    share, mac = beaver_combine((cs, cm), (as_, am), (bs, bm), d, e, alpha, first)
    de = d * e
    assert share == cs + as_ * e + bs * d + (de if first else FieldVec.zeros(len(d)))
    assert mac == cm + am * e + bm * d + de * alpha
    if kernel is not None:
        limbs = [v.limbs for v in (cs, cm, as_, am, bs, bm, d, e)]
        ref = _fieldref.beaver(*limbs, alpha, first)
        ker = kernel.beaver(*limbs, alpha, first)
        assert all(np.array_equal(r, k) for r, k in zip(ref, ker))
        assert kernel.horner(alpha, cs.limbs, 7) == _fieldref.horner(alpha, cs.limbs, 7)


@needs_kernel
def test_kernel_arguments_live_until_the_c_call_returns() -> None:
    assert kernel is not None
    scribbled = _fieldkernel.KernelOps(kernel._lib)
    scribbled._lib = Scribbler(kernel._lib, [(1, 4), (1, 4)])
    vectors = [_fieldref.from_ints([3 * i + j + 1 for j in range(5)]) for i in range(6)]
    t, acc, alpha = 7, 11, 13
    assert scribbled.horner(acc, vectors[0], t) == _fieldref.horner(acc, vectors[0], t)
    for first in (True, False):
        got = scribbled.beaver(*vectors, vectors[0], vectors[1], alpha, first)
        want = _fieldref.beaver(*vectors, vectors[0], vectors[1], alpha, first)
        assert all(np.array_equal(g, w) for g, w in zip(got, want, strict=True))
    assert np.array_equal(scribbled.add_scalar(vectors[0], acc), _fieldref.add_scalar(vectors[0], acc))
    assert np.array_equal(scribbled.mul_scalar(vectors[0], acc), _fieldref.mul_scalar(vectors[0], acc))


@needs_kernel
def test_kernel_refuses_a_strided_view() -> None:
    assert kernel is not None
    a = _fieldref.from_ints(list(range(1, 9)))
    with pytest.raises(ValueError, match="contiguous"):
        kernel.add(a[::2], a[1::2])
