"""BGV over the lattice ring layer: sampling, keys, encryption, the LowGear return path and its noise bound.

Small rings (N = 64 with the production's thirteen 61-bit primes, so levels
and switching are those of production) carry the functional tests; oracles
are field arithmetic on slots (FieldVec) and exact integer noise. Random
bytes come from seeded streams, so every run sees the same keys and noise.
"""
# ruff: noqa: S101, S311 - pytest asserts, and seeded `random` makes reproducible test data (never secrets).

from __future__ import annotations

import random
from collections.abc import Iterator

import numpy as np
import pytest

from offchain.errors import ConfigError
from offchain.field import FieldVec, P
from offchain.lattice import _kernel, _reference, ring, sampling, slots
from offchain.lattice.bgv import (
    FLOOD_BITS,
    Ciphertext,
    PublicKey,
    SecretKey,
    encrypt,
    encrypt_zero,
    keygen,
    return_levels,
    return_product,
)
from offchain.lattice.noise import fresh_bound, lowgear_noise, margin_bits
from offchain.lattice.params import RingParams, production, small
from offchain.lattice.ring import CoeffPoly
from offchain.lattice.sampling import RandBytes
from offchain.lattice.slots import Plaintext, encode

PARAMS = small(64, 13)
kernel = _kernel.load()
needs_kernel = pytest.mark.skipif(kernel is None, reason="liblatkernel.so is not built (no gcc?)")
on_kernel = pytest.mark.skipif(ring.BACKEND != "kernel", reason="production size needs the kernel in use")


def stream(seed: int) -> RandBytes:
    return random.Random(seed).randbytes


def slots_of(n: int, randbytes: RandBytes) -> FieldVec:
    return FieldVec.random(n, randbytes)


def chi_square(counts: np.ndarray) -> float:
    expected = counts.sum() / len(counts)
    return float(((counts - expected) ** 2 / expected).sum())


def noise_of(sk: SecretKey, ct: Ciphertext) -> int:
    """||c0 - s c1||_inf on centred integers: the exact noise (reads the key's private s, as only a test may)."""
    s = sk._s.prefix(ct.levels)
    return max(abs(x) for x in (ct.c0 - (s * ct.c1.ntt()).intt()).to_centred())


@pytest.fixture(scope="module")
def keys() -> tuple[SecretKey, PublicKey]:
    return keygen(PARAMS, stream(1))


# Sampling ----------------------------------------------------------------------------------------
def test_uniform_residues_have_no_modulo_bias() -> None:
    q, count = 97, 20_000
    values = sampling.uniform_residues(q, count, stream(2))
    assert len(values) == count and values.dtype == np.uint64 and int(values.max()) < q
    # 96 degrees of freedom: the statistic exceeds 170 with probability below 10^-6.
    assert chi_square(np.bincount(values.astype(np.int64), minlength=q)) < 170
    # The same test rejects a byte reduced mod 97, which favours 0..61 by 3/256 against 2/256.
    biased = np.frombuffer(stream(2)(count), dtype=np.uint8) % q
    assert chi_square(np.bincount(biased, minlength=q)) > 170


def test_uniform_poly_is_canonical_and_covers_the_primes() -> None:
    a = sampling.uniform_poly(PARAMS, stream(3))
    for row, q in zip(a.residues, PARAMS.primes, strict=True):
        # The top bit of a 61-bit prime's residues is set about 1 - 2^60/q of the time, well above 0.
        assert int(row.max()) < q and (row >= np.uint64(2**60)).any()


def test_ternary_is_uniform_on_three_values() -> None:
    values = sampling.ternary(30_000, stream(4))
    counts = np.bincount(values + 1, minlength=3)
    assert values.dtype == np.int64 and set(np.unique(values)) == {-1, 0, 1}
    assert chi_square(counts) < 30  # 2 degrees of freedom.


def test_binomial_noise_has_its_range_and_variance() -> None:
    values = sampling.cbd(30_000, stream(5))
    assert int(np.abs(values).max()) <= sampling.CBD_K
    assert abs(values.mean()) < 0.1 and abs(values.var() - sampling.CBD_K / 2) < 0.5


def test_flooding_is_uniform_on_the_open_interval() -> None:
    digits = sampling.symmetric_digits(30_000, 3, stream(6))  # All ones (1/16 of draws) is redrawn.
    values = sum(d << (31 * j) for j, d in enumerate(digits))
    assert isinstance(values, np.ndarray) and values.min() >= -7 and values.max() <= 7
    assert chi_square(np.bincount(values + 7, minlength=15)) < 80  # 14 degrees of freedom.
    wide = sampling.symmetric_poly(small(16, 3), FLOOD_BITS, stream(7)).to_centred()
    assert all(abs(u) < 2**FLOOD_BITS for u in wide) and max(abs(u) for u in wide) > 2**(FLOOD_BITS - 4)
    with pytest.raises(ConfigError):
        sampling.symmetric_digits(4, 0, stream(6))


def test_a_short_byte_source_is_refused() -> None:
    with pytest.raises(ConfigError, match="bytes"):
        sampling.ternary(8, lambda k: b"\x00" * (k - 1))


# Keys and encryption -----------------------------------------------------------------------------
def test_secret_key_is_never_shown(keys: tuple[SecretKey, PublicKey]) -> None:
    sk, _ = keys
    shown = [repr(sk), str(sk), f"{sk}", repr([sk])]
    assert all("<secret>" in s and "residues" not in s for s in shown)
    assert str(int(sk._s.residues[0, 0])) not in repr(sk)
    with pytest.raises(TypeError):
        vars(sk)
    with pytest.raises(AttributeError):
        sk._s = sk._s  # type: ignore[misc]


def test_public_key_is_an_rlwe_sample(keys: tuple[SecretKey, PublicKey]) -> None:
    sk, pk = keys
    # b - a s = t e with e binomial: divided by t it is small.
    e = (pk.b - pk.a * sk._s).intt().to_centred()
    assert all(x % P == 0 and abs(x // P) <= sampling.CBD_K for x in e)


def test_round_trip_and_fresh_noise(keys: tuple[SecretKey, PublicKey]) -> None:
    sk, pk = keys
    x = slots_of(PARAMS.n, stream(8))
    ct = encrypt(pk, encode(x), stream(9))
    assert ct.levels == PARAMS.levels and ct.scale == 1
    assert sk.decrypt_slots(ct) == x and sk.decrypt(ct) == encode(x)
    assert noise_of(sk, ct) <= fresh_bound(PARAMS.n)
    low = encrypt(pk, encode(x), stream(10), levels=5)  # 305 bits hold the fresh noise's 265.
    assert low.levels == 5 and sk.decrypt_slots(low) == x


def test_additive_homomorphism(keys: tuple[SecretKey, PublicKey]) -> None:
    sk, pk = keys
    rb = stream(11)
    x, y, z = (slots_of(PARAMS.n, rb) for _ in range(3))
    cx, cy = encrypt(pk, encode(x), rb), encrypt(pk, encode(y), rb)
    assert sk.decrypt_slots(cx + cy) == x + y
    assert sk.decrypt_slots(cx + encode(z)) == x + z
    assert sk.decrypt_slots(cx - encode(z)) == x - z
    assert sk.decrypt_slots(cx + encrypt_zero(pk, rb)) == x


def test_product_by_a_plaintext_plus_a_mask(keys: tuple[SecretKey, PublicKey]) -> None:
    sk, pk = keys
    rb = stream(12)
    a, b, mask = (slots_of(PARAMS.n, rb) for _ in range(3))
    ca = encrypt(pk, encode(a), rb)
    assert sk.decrypt_slots(ca * encode(b) + encrypt(pk, encode(mask), rb)) == a * b + mask
    prepared = ca.prepared()
    assert sk.decrypt_slots(prepared * encode(mask)) == a * mask


def test_switching_tracks_the_plaintext_scale(keys: tuple[SecretKey, PublicKey]) -> None:
    sk, pk = keys
    rb = stream(13)
    x, y = slots_of(PARAMS.n, rb), slots_of(PARAMS.n, rb)
    down = (encrypt(pk, encode(x), rb) * encode(y)).switch_to(6)
    assert down.levels == 6 and down.scale == PARAMS.switch_factor(6)
    assert sk.decrypt_slots(down) == x * y
    assert sk.decrypt_slots(down + encode(y)) == x * y + y
    further = down.rerandomise(pk, rb).switch_to(5)  # Without flooding, 5 primes still hold the noise.
    assert further.scale == PARAMS.switch_factor(5) and sk.decrypt_slots(further) == x * y
    fresh = encrypt(pk, encode(x), rb, levels=6)
    with pytest.raises(ConfigError, match="different primes"):
        down + fresh


def test_foreign_and_malformed_ciphertexts_are_refused(keys: tuple[SecretKey, PublicKey]) -> None:
    sk, pk = keys
    _, other_pk = keygen(small(64, 3, bits=40), stream(14))
    ct = encrypt(other_pk, Plaintext(FieldVec.zeros(64)), stream(15))
    with pytest.raises(ConfigError, match="another ring"):
        sk.decrypt(ct)
    zero = CoeffPoly.zeros(PARAMS)
    with pytest.raises(ConfigError):
        Ciphertext(zero, zero, scale=0)
    with pytest.raises(ConfigError):
        Ciphertext(zero, CoeffPoly.zeros(PARAMS.prefix(6)))
    with pytest.raises(ConfigError):
        encrypt(pk, Plaintext(FieldVec.zeros(16)), stream(16))


# The LowGear return path -------------------------------------------------------------------------
def add_all(vectors: list[FieldVec]) -> FieldVec:
    total = vectors[0]
    for v in vectors[1:]:
        total = total + v
    return total


def lowgear_round(n_parties: int, params: RingParams, seed: int) -> None:
    """Each party i gets Enc_i(a_i) * b_j - r_ij back from every j != i; the shares of c add up to a * b."""
    rb = stream(seed)
    keypairs = [keygen(params, rb) for _ in range(n_parties)]
    a = [slots_of(params.n, rb) for _ in range(n_parties)]
    b = [slots_of(params.n, rb) for _ in range(n_parties)]
    masks = {(i, j): slots_of(params.n, rb) for i in range(n_parties) for j in range(n_parties) if i != j}
    c = [a[i] * b[i] for i in range(n_parties)]
    for i, (sk, pk) in enumerate(keypairs):
        sent = encrypt(pk, encode(a[i]), rb).prepared()
        returns = [return_product(sent, encode(b[j]), encode(masks[i, j]), pk, rb)
                   for j in range(n_parties) if j != i]
        assert all(r.levels == return_levels(params) for r in returns)
        total = returns[0]
        for r in returns[1:]:
            total = total + r
        c[i] = c[i] + sk.decrypt_slots(total)
        for j in range(n_parties):
            if j != i:
                c[j] = c[j] + masks[i, j]
    assert add_all(c) == add_all(a) * add_all(b)


def test_lowgear_three_parties_share_the_product() -> None:
    lowgear_round(3, PARAMS, 17)


@pytest.fixture
def reference_backend(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(ring, "ops", _reference)
    monkeypatch.setattr(slots, "ops", _reference)
    yield


def test_lowgear_on_the_reference_backend(reference_backend: None) -> None:
    lowgear_round(2, small(16, 13), 18)


@needs_kernel
def test_kernel_and_reference_make_the_same_ciphertexts(monkeypatch: pytest.MonkeyPatch) -> None:
    params = small(16, 13)

    def run() -> tuple[np.ndarray, ...]:
        rb = stream(19)
        _, pk = keygen(params, rb)
        x, y, m = (encode(slots_of(params.n, rb)) for _ in range(3))
        out = return_product(encrypt(pk, x, rb), y, m, pk, rb)
        return out.c0.residues, out.c1.residues

    monkeypatch.setattr(ring, "ops", kernel)
    monkeypatch.setattr(slots, "ops", kernel)
    with_kernel = run()
    monkeypatch.setattr(ring, "ops", _reference)
    monkeypatch.setattr(slots, "ops", _reference)
    assert all(np.array_equal(k, r) for k, r in zip(with_kernel, run(), strict=True))


def test_a_return_stays_within_its_noise_bound(keys: tuple[SecretKey, PublicKey]) -> None:
    sk, pk = keys
    rb = stream(20)
    x, y, m = (encode(slots_of(PARAMS.n, rb)) for _ in range(3))
    out = return_product(encrypt(pk, x, rb), y, m, pk, rb)
    report = lowgear_noise(PARAMS, parties=2, slack_bits=0)
    assert noise_of(sk, out) <= report.returned
    # Flooding dominates the bound: the observed noise is within a few bits of it.
    assert noise_of(sk, out) > report.returned >> 4


def test_decryption_fails_when_flooding_breaks_the_bound(keys: tuple[SecretKey, PublicKey]) -> None:
    sk, pk = keys
    rb = stream(21)
    x, y = slots_of(PARAMS.n, rb), slots_of(PARAMS.n, rb)
    low = (encrypt(pk, encode(x), rb) * encode(y)).rerandomise(pk, rb).switch_to(7)
    wide = 175  # t 2^175 is about 2^429 against Q'/2 = 2^426.
    assert lowgear_noise(PARAMS, flood_bits=wide).margin_bits < 0 < margin_bits(PARAMS)
    assert sk.decrypt_slots(low.flood(rb)) == x * y
    wrong = sk.decrypt_slots(low.flood(rb, bits=wide))
    assert sum(u != v for u, v in zip(wrong, x * y, strict=True)) > PARAMS.n // 2


# Noise budget ------------------------------------------------------------------------------------
def test_production_noise_margin_is_positive() -> None:
    report = lowgear_noise(production())
    # Worst case with the TopGear slack and the flooding a proven key needs: about 24.4 bits at the return
    # level, 173.4 before switching.
    assert 24 < report.margin_bits < 25 and 173 < report.product_margin_bits < 174
    assert report.flood_distance_bits < -40
    assert lowgear_noise(production(), parties=5).margin_bits > 23


def test_test_parameters_have_a_positive_margin() -> None:
    for params in (PARAMS, small(16, 13)):
        assert lowgear_noise(params).margin_bits > 24 and lowgear_noise(params).flood_distance_bits < -40
    with pytest.raises(ConfigError):
        lowgear_noise(PARAMS, parties=1)


@on_kernel
def test_production_round_trip() -> None:
    params = production()
    rb = stream(22)
    sk, pk = keygen(params, rb)
    a, b, m = (slots_of(params.n, rb) for _ in range(3))
    out = return_product(encrypt(pk, encode(a), rb), encode(b), encode(m), pk, rb)
    assert out.levels == 7 and sk.decrypt_slots(out) == a * b - m
