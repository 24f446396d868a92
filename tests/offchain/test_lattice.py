"""The BGV ring layer: parameters, RNS polynomials, modulus switching and plaintext slots.

Oracles are plain integer arithmetic: schoolbook negacyclic products, the
NTT's defining sum, CRT by big integers, and the modulus-switching formula on
whole integers. The C kernel is checked against the pure-Python reference on
small rings, with primes of 61 bits (as in production) and of 20 bits.
"""
# ruff: noqa: S101, S311 - pytest asserts, and seeded `random` makes reproducible test data (never secrets).

from __future__ import annotations

import os
import random
from collections.abc import Iterator

import gmpy2
import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from offchain_testkit import Scribbler

from offchain import _fieldref
from offchain.errors import ConfigError
from offchain.field import FieldVec, P
from offchain.lattice import _kernel, _reference, ring, slots
from offchain.lattice.params import PLAINTEXT_MODULUS, RingParams, is_prime, ntt_primes, production, small
from offchain.lattice.ring import CoeffPoly, EvalPoly, LatticeOps
from offchain.lattice.slots import Plaintext, decode, encode
from offchain.lattice.tables import bit_reverse, crt_tables, limbs, ntt_tables, root_of_unity, slot_tables

# The last ring drops its largest prime, so the dropped q_L exceeds the primes kept.
RINGS = [small(16, 3), small(64, 3), small(16, 4, bits=20), small(8, 5, bits=14),
         RingParams(16, small(16, 3, bits=20).primes[::-1])]
kernel = _kernel.load()
needs_kernel = pytest.mark.skipif(kernel is None, reason="liblatkernel.so is not built (no gcc?)")
BACKENDS: list[LatticeOps] = [_reference, *([kernel] if kernel is not None else [])]
seeds = st.integers(0, 2**32 - 1)


@pytest.fixture(params=BACKENDS, ids=lambda b: b.name)
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[LatticeOps]:
    """Runs a test through the public API once per backend."""
    monkeypatch.setattr(ring, "ops", request.param)
    monkeypatch.setattr(slots, "ops", request.param)
    yield request.param


def ring_id(params: RingParams) -> str:
    return f"n{params.n}-L{params.levels}-{params.primes[0].bit_length()}bit"


def residues(params: RingParams, rng: np.random.Generator) -> np.ndarray:
    """Uniform residues with edges in the first columns: 0, q-1, (q-1)/2 and (q+1)/2 in every row,
    and in the last row the values that modulus switching centres to +-(q_L-1)/2."""
    a = np.stack([rng.integers(0, q, params.n, dtype=np.uint64) for q in params.primes])
    for i, q in enumerate(params.primes):
        a[i, :4] = [0, q - 1, (q - 1) // 2, (q + 1) // 2]
    q_last = params.primes[-1]
    a[-1, 4:6] = [P * ((q_last - 1) // 2) % q_last, P * ((q_last + 1) // 2) % q_last]
    return a


def negacyclic(x: list[int], y: list[int]) -> list[int]:
    """x * y in Z[X]/(X^n + 1), by the schoolbook rule X^n = -1."""
    n = len(x)
    z = [0] * n
    for i, u in enumerate(x):
        for j, v in enumerate(y):
            if i + j < n:
                z[i + j] += u * v
            else:
                z[i + j - n] -= u * v
    return z


def field_values(n: int, rng: random.Random) -> list[int]:
    edges = [0, 1, P - 1, (P - 1) // 2, (P + 1) // 2]
    return (edges + [rng.randrange(P) for _ in range(n)])[:n]


# Parameters -----------------------------------------------------------------------------------
def test_production_primes() -> None:
    params = production()
    assert params.n == 2**15 and params.levels == 13
    assert len(set(params.primes)) == 13 and list(params.primes) == sorted(params.primes, reverse=True)
    for q in params.primes:
        assert gmpy2.is_prime(q, 50) and q.bit_length() == 61 and q % (2 * params.n) == 1
    assert 792 <= params.modulus.bit_length() <= 793 <= 881  # 881: the most N = 2^15 allows at 128-bit security.
    assert params.prefix(7).modulus.bit_length() >= 426


def test_ntt_primes_are_the_largest_ones() -> None:
    n, bits = 32, 20
    found = ntt_primes(n, 4, bits)
    every = [q for q in range(2**bits - 1, found[-1] - 1, -1) if q % (2 * n) == 1 and gmpy2.is_prime(q)]
    assert found == tuple(every)
    with pytest.raises(ConfigError):
        ntt_primes(n, 10_000, bits)


@given(st.integers(0, 2**64))
@example(3_825_123_056_546_413_051)  # A strong pseudoprime to bases 2..23.
@example(3_215_031_751)
@example(2**61 - 1)
def test_miller_rabin_is_exact(n: int) -> None:
    assert is_prime(n) == bool(gmpy2.is_prime(n, 50))


@pytest.mark.parametrize(("n", "primes"), [(12, (97,)), (16, ()), (16, (97, 97)), (16, (31,)), (16, (33,)),
                                           (16, (2**62 + 1,))])
def test_bad_parameters_are_refused(n: int, primes: tuple[int, ...]) -> None:
    with pytest.raises(ConfigError):
        RingParams(n, primes)


def test_switch_factor_is_the_product_of_inverses() -> None:
    params = small(16, 4)
    q = params.primes
    assert params.switch_factor() == pow(q[3], -1, P)
    assert params.switch_factor(2) * q[2] * q[3] % P == 1
    with pytest.raises(ConfigError):
        params.switch_factor(4)
    with pytest.raises(ConfigError):
        params.prefix(1).switch_factor()


# Kernel against reference ----------------------------------------------------------------------
@needs_kernel
@given(st.sampled_from(RINGS), seeds)
def test_kernel_matches_reference(params: RingParams, seed: int) -> None:
    assert kernel is not None
    rng = np.random.default_rng(seed)
    t, a, b = ntt_tables(params), residues(params, rng), residues(params, rng)
    for name in ("ntt", "intt", "neg", "mod_switch"):
        assert np.array_equal(getattr(kernel, name)(a, t), getattr(_reference, name)(a, t)), name
    for name in ("add", "sub", "mul"):
        assert np.array_equal(getattr(kernel, name)(a, b, t), getattr(_reference, name)(a, b, t)), name
    c = a[:, 5].copy()
    assert np.array_equal(kernel.mul_const(a, c, t), _reference.mul_const(a, c, t))
    crt = crt_tables(params)
    assert np.array_equal(kernel.crt_to_field(a, t, crt), _reference.crt_to_field(a, t, crt))
    v = rng.integers(-(2**63), 2**63 - 1, params.n, dtype=np.int64, endpoint=True)
    v[:4] = [-(2**63), 2**63 - 1, -1, 0]
    assert np.array_equal(kernel.from_i64(v, t), _reference.from_i64(v, t))
    limbs = _fieldref.from_ints(field_values(params.n, random.Random(seed)))
    assert np.array_equal(kernel.from_field(limbs, t), _reference.from_field(limbs, t))
    s = slot_tables(params.n)
    assert np.array_equal(kernel.slot_ntt(limbs, s), _reference.slot_ntt(limbs, s))
    assert np.array_equal(kernel.slot_intt(limbs, s), _reference.slot_intt(limbs, s))


@needs_kernel
def test_kernel_matches_reference_at_production_size() -> None:
    assert kernel is not None
    params = production().prefix(2)
    t, a = ntt_tables(params), residues(params, np.random.default_rng(7))
    assert np.array_equal(kernel.ntt(a, t), _reference.ntt(a, t))
    crt = crt_tables(params)
    assert np.array_equal(kernel.crt_to_field(a, t, crt), _reference.crt_to_field(a, t, crt))
    limbs = _fieldref.from_ints(field_values(params.n, random.Random(7)))
    assert np.array_equal(kernel.slot_ntt(limbs, slot_tables(params.n)),
                          _reference.slot_ntt(limbs, slot_tables(params.n)))


@needs_kernel
def test_kernel_arguments_live_until_the_c_call_returns() -> None:
    assert kernel is not None
    scribbled = _kernel.KernelOps.__new__(_kernel.KernelOps)
    scribbled._lib = Scribbler(kernel._lib, (3, 4, 5, 8))  # type: ignore[assignment]
    params = small(8, 5, bits=14)
    t, a = ntt_tables(params), residues(params, np.random.default_rng(3))
    c = a[:, 4].copy()
    assert np.array_equal(scribbled.mul_const(a, c, t), _reference.mul_const(a, c, t))
    v = np.arange(-4, 4, dtype=np.int64)
    assert np.array_equal(scribbled.from_i64(v, t), _reference.from_i64(v, t))
    assert np.array_equal(scribbled.mod_switch(a, t), _reference.mod_switch(a, t))
    crt = crt_tables(params)
    assert np.array_equal(scribbled.crt_to_field(a, t, crt), _reference.crt_to_field(a, t, crt))


@needs_kernel
def test_kernel_refuses_strided_misshapen_or_mistyped_arrays() -> None:
    assert kernel is not None
    params = RINGS[0]
    t, a = ntt_tables(params), residues(params, np.random.default_rng(1))
    wide = np.zeros((params.levels, 2 * params.n), dtype=np.uint64)
    with pytest.raises(ConfigError, match="contiguous"):
        kernel.add(wide[:, ::2], a, t)
    with pytest.raises(ConfigError, match="shape"):
        kernel.ntt(a[:2], t)
    with pytest.raises(ConfigError, match="uint64"):
        kernel.mul(a.astype(np.int64), a, t)
    with pytest.raises(ConfigError, match="int64"):
        kernel.from_i64(np.zeros(params.n, dtype=np.uint64), t)


def test_backend_is_the_kernel_when_built() -> None:
    forced = os.environ.get("MPCC_LATTICE", "").lower() == "reference"
    assert ("kernel" if kernel is not None and not forced else "reference") == ring.BACKEND


# Ring arithmetic through the public API, on each backend -----------------------------------------
@pytest.mark.parametrize("params", RINGS[:1] + RINGS[2:3], ids=ring_id)
def test_ntt_is_evaluation_at_odd_powers_of_psi(backend: LatticeOps, params: RingParams) -> None:
    rng = np.random.default_rng(5)
    a = CoeffPoly(residues(params, rng), params)
    values, order = a.ntt().residues, bit_reverse(params.n)
    for i, q in enumerate(params.primes):
        psi = root_of_unity(params.n, q)
        for k in range(params.n):
            point = pow(psi, 2 * int(order[k]) + 1, q)
            assert int(values[i, k]) == sum(int(c) * pow(point, j, q) for j, c in enumerate(a.residues[i])) % q


@given(st.sampled_from(RINGS), seeds)
def test_ntt_round_trip_and_linearity(params: RingParams, seed: int) -> None:
    rng = np.random.default_rng(seed)
    a, b = CoeffPoly(residues(params, rng), params), CoeffPoly(residues(params, rng), params)
    assert a.ntt().intt() == a
    assert (a + b).ntt() == a.ntt() + b.ntt() and (a - b).ntt() == a.ntt() - b.ntt()
    assert (-a).ntt() == -a.ntt() and a + (-a) == CoeffPoly.zeros(params)
    k = seed - 2**31
    assert a.scale(k).to_centred() == CoeffPoly.from_ints([k * c for c in a.to_centred()], params).to_centred()


@pytest.mark.parametrize("params", [small(16, 3), small(64, 3), small(16, 4, bits=20)], ids=ring_id)
def test_ntt_product_is_the_negacyclic_product(backend: LatticeOps, params: RingParams) -> None:
    rng = random.Random(params.n)
    # Coefficients small enough that the exact product stays inside (-Q/2, Q/2].
    bound = int(gmpy2.isqrt(params.modulus // (4 * params.n)))
    x = [rng.randint(-bound, bound) for _ in range(params.n)]
    y = [rng.randint(-bound, bound) for _ in range(params.n)]
    x[0], y[-1] = bound, -bound
    a, b = CoeffPoly.from_ints(x, params), CoeffPoly.from_ints(y, params)
    assert (a.ntt() * b.ntt()).intt().to_centred() == negacyclic(x, y)


@given(st.sampled_from(RINGS), seeds)
def test_crt_round_trip_of_centred_values(params: RingParams, seed: int) -> None:
    rng, half = random.Random(seed), (params.modulus - 1) // 2
    values = [half, -half, 0, -1] + [rng.randint(-half, half) for _ in range(params.n - 4)]
    assert CoeffPoly.from_ints(values, params).to_centred() == values
    small_values = np.array([-(2**63), 2**63 - 1] + [rng.randint(-(2**63), 2**63 - 1) for _ in range(params.n - 2)],
                            dtype=np.int64)
    as_ints = [int(v) for v in small_values]
    assert CoeffPoly.from_small(small_values, params) == CoeffPoly.from_ints(as_ints, params)


def test_field_elements_lift_to_centred_integers(backend: LatticeOps) -> None:
    params = small(16, 5)  # Q > 2r, so the lift is visible whole.
    values = field_values(params.n, random.Random(11))
    poly = CoeffPoly.from_field(FieldVec.from_ints(values), params)
    assert poly.to_centred() == [v - P if v > P // 2 else v for v in values]
    assert poly.to_field() == FieldVec.from_ints(values)


@pytest.mark.parametrize("params", RINGS, ids=ring_id)
def test_to_field_reduces_the_centred_crt_mod_r(backend: LatticeOps, params: RingParams) -> None:
    """Edges: +-(Q-1)/2 (the thresholds where the multiple of Q to subtract changes), 0, +-1, and r-multiples."""
    rng, half = random.Random(params.n + params.levels), (params.modulus - 1) // 2
    edges = [v for v in (half, -half, 0, 1, -1, half - 1, -half + 1, P, -P, P * (half // P)) if abs(v) <= half]
    values = (edges + [rng.randint(-half, half) for _ in range(params.n)])[:params.n]
    assert CoeffPoly.from_ints(values, params).to_field() == FieldVec.from_ints(values)


def test_crt_tables_hold_the_sums_they_must() -> None:
    params = small(8, 5, bits=14)
    crt = crt_tables(params)
    assert crt.kq_r.shape == (params.levels + 1, 4) and crt.half.shape == (params.levels, params.levels)
    assert _fieldref.to_ints(crt.kq_r) == [k * params.modulus % P for k in range(params.levels + 1)]
    assert limbs(2**64 + 3, 2) == [3, 1]
    with pytest.raises(ConfigError):
        limbs(2**128, 2)


def _switched(c: int, q_last: int) -> int:
    """The modulus-switching rule on a whole integer: (c - t [t^-1 c]_q) / q."""
    v = c * pow(P, -1, q_last) % q_last
    v = v - q_last if v > q_last // 2 else v
    assert (c - P * v) % q_last == 0
    return (c - P * v) // q_last


@pytest.mark.parametrize("params", [small(16, 7), small(16, 3), small(16, 4, bits=20)], ids=ring_id)
def test_mod_switch_keeps_the_plaintext_and_bounds_the_error(backend: LatticeOps, params: RingParams) -> None:
    rng, q_last = random.Random(params.levels), params.primes[-1]
    half = (params.modulus - 1) // 2
    values = [half, -half, 0, 1] + [rng.randint(-half, half) for _ in range(params.n - 4)]
    switched = CoeffPoly.from_ints(values, params).mod_switch()
    assert switched.params == params.prefix(params.levels - 1)
    exact = [_switched(c, q_last) for c in values]
    assert switched == CoeffPoly.from_ints(exact, switched.params)
    for c, d in zip(values, exact, strict=True):
        assert d % P == c * params.switch_factor() % P
        assert abs(d * q_last - c) <= P * q_last // 2
    if switched.params.modulus > 4 * P:
        # Away from the wrap-around, the centred result is the exact integer.
        inner = [c // 4 for c in values]
        assert CoeffPoly.from_ints(inner, params).mod_switch().to_centred() == [_switched(c, q_last) for c in inner]


def test_switching_several_levels_multiplies_the_plaintext_by_the_factor() -> None:
    params, levels = small(16, 9), 5
    rng = random.Random(9)
    message = [rng.randrange(P) for _ in range(params.n)]
    noise = [rng.randint(-(2**280), 2**280) for _ in range(params.n)]
    # |m + t e| < 2^535 < Q/2, and after dropping four 61-bit primes about 2^291 < Q_5 / 2.
    c = CoeffPoly.from_ints([m + P * e for m, e in zip(message, noise, strict=True)], params)
    down = c.switch_to(levels)
    factor = params.switch_factor(levels)
    assert down.params == params.prefix(levels)
    assert [v % P for v in down.to_centred()] == [m * factor % P for m in message]


def test_polynomials_are_immutable_and_typed() -> None:
    params = RINGS[0]
    a = CoeffPoly.zeros(params)
    with pytest.raises(ValueError):
        a.residues[0, 0] = 1
    with pytest.raises(AttributeError):
        a._a = None  # type: ignore[assignment]
    with pytest.raises(ConfigError):
        a + a.ntt()  # type: ignore[operator]
    with pytest.raises(ConfigError):
        a + CoeffPoly.zeros(RINGS[2])
    with pytest.raises(TypeError):
        a * a  # type: ignore[operator]
    with pytest.raises(ConfigError):
        CoeffPoly(np.full((params.levels, params.n), params.primes[0], dtype=np.uint64), params)
    with pytest.raises(ConfigError):
        CoeffPoly.from_ints([1, 2], params)
    with pytest.raises(ConfigError):
        CoeffPoly.zeros(params.prefix(1)).mod_switch()
    with pytest.raises(ConfigError):
        a.scale_rns(np.array(params.primes, dtype=np.uint64))
    assert isinstance(a.ntt(), EvalPoly) and a.switch_to(1).params == params.prefix(1)


@pytest.mark.parametrize("params", RINGS[:1] + RINGS[3:4], ids=ring_id)
def test_prefix_reduces_modulo_the_first_primes_in_either_form(params: RingParams) -> None:
    a = CoeffPoly(residues(params, np.random.default_rng(8)), params)
    low = a.prefix(2)
    assert low.params == params.prefix(2) and np.array_equal(low.residues, a.residues[:2])
    assert a.ntt().prefix(2) == low.ntt() and a.prefix(params.levels) == a
    with pytest.raises(ConfigError):
        a.prefix(0)


# Plaintext slots ----------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [2, 16, 64])
def test_encode_decode_round_trip_and_slotwise_products(backend: LatticeOps, n: int) -> None:
    rng = random.Random(n)
    x, y = FieldVec.from_ints(field_values(n, rng)), FieldVec.from_ints([rng.randrange(P) for _ in range(n)])
    px, py = encode(x), encode(y)
    assert px.decode() == x and encode(decode(px.coeffs)) == px
    product = [v % P for v in negacyclic(px.coeffs.to_ints(), py.coeffs.to_ints())]
    assert decode(FieldVec.from_ints(product)) == x * y
    assert decode(px.coeffs + py.coeffs) == x + y


def test_slots_are_evaluations_at_odd_powers_of_psi(backend: LatticeOps) -> None:
    n = 16
    coeffs = FieldVec.from_ints(field_values(n, random.Random(2)))
    psi, order = root_of_unity(n, PLAINTEXT_MODULUS), bit_reverse(n)
    expected = [sum(c * pow(psi, (2 * int(order[k]) + 1) * j, P) for j, c in enumerate(coeffs)) % P
                for k in range(n)]
    assert decode(coeffs).to_ints() == expected


def test_lifted_plaintexts_multiply_slotwise_in_the_ring(backend: LatticeOps) -> None:
    """The product of two lifted plaintexts in R_Q, reduced mod r, decodes to the slot-wise product."""
    params = small(16, 9)  # Q > 2 N (r/2)^2, so the integer product does not wrap.
    rng = random.Random(4)
    x, y = (FieldVec.from_ints([rng.randrange(P) for _ in range(params.n)]) for _ in range(2))
    product = (encode(x).lift(params).ntt() * encode(y).lift(params).ntt()).intt()
    assert Plaintext(product.to_field()).decode() == x * y


def test_slot_counts_must_split_r_minus_one() -> None:
    with pytest.raises(ConfigError):
        slot_tables(2**28)
    with pytest.raises(ConfigError):
        Plaintext(FieldVec.zeros(12))
    with pytest.raises(ConfigError):
        encode(FieldVec.zeros(16)).lift(small(64, 3))


@needs_kernel
def test_production_round_trips() -> None:
    params = production()
    a = CoeffPoly(residues(params, np.random.default_rng(1)), params)
    assert a.ntt().intt() == a
    x = FieldVec.from_ints(field_values(params.n, random.Random(1)))
    assert encode(x).decode() == x
