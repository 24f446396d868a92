"""TopGear proofs of plaintext knowledge: honest proofs, cheating provers, tampering, the wire and the slack.

Small rings (N = 64 with the production's thirteen 61-bit primes) and the
production shape U = 6, V = 3 carry the protocol tests; the knowledge error
there is 129^-3 = 2^-21 per proof, so a cheating prover is caught for every
seed tried. Oracles are integer arithmetic on Python ints. Random bytes come
from seeded streams, so every run sees the same keys, masks and challenges.
"""
# ruff: noqa: S101, S311 - pytest asserts, and seeded `random` makes reproducible test data (never secrets).

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Iterator

import numpy as np
import pytest

from offchain.errors import ConfigError, DecodeError, ProofFailed, ProtocolAbort
from offchain.field import FieldVec, P
from offchain.lattice import _kernel, _reference, ring, sampling, slots, zk
from offchain.lattice.bgv import FLOOD_BITS, Ciphertext, PublicKey, SecretKey, encrypt, keygen
from offchain.lattice.noise import TOPGEAR_SLACK_BITS, lowgear_noise, proof_slack_bits, proven_key
from offchain.lattice.params import RingParams, production, small
from offchain.lattice.ring import CoeffPoly
from offchain.lattice.sampling import RandBytes
from offchain.lattice.slots import Plaintext, encode
from offchain.lattice.wide import WidePoly
from offchain.lattice.zk import Commitment, Preimage, Response
from offchain.lattice.zkparams import HONEST_NOISE, HONEST_PLAIN, HONEST_TERNARY, ProofParams

PARAMS = small(64, 13)
PROOF = ProofParams(64, u=6, v=3)
on_kernel = pytest.mark.skipif(ring.BACKEND != "kernel", reason="production size needs the kernel in use")
needs_kernel = pytest.mark.skipif(_kernel.load() is None, reason="liblatkernel.so is not built (no gcc?)")


def stream(seed: int) -> RandBytes:
    return random.Random(seed).randbytes


def seed_of(i: int) -> bytes:
    return stream(1000 + i)(zk.SEED_BYTES)


Statement = tuple[list[Ciphertext], list[Preimage]]


def statement(pk: PublicKey, proof: ProofParams, randbytes: RandBytes) -> Statement:
    pairs = [zk.encrypt_for_proof(pk, encode(FieldVec.random(proof.n, randbytes)), randbytes)
             for _ in range(proof.u)]
    return [c for c, _ in pairs], [w for _, w in pairs]


def prove(pk: PublicKey, witnesses: list[Preimage], seed: bytes, randbytes: RandBytes,
          proof: ProofParams = PROOF) -> tuple[Commitment, Response]:
    state, commitment = zk.commit(pk, witnesses, randbytes, proof)
    return commitment, zk.respond(state, seed)


def failed_check(pk: PublicKey, cts: list[Ciphertext], commitment: Commitment, seed: bytes, response: Response,
                 proof: ProofParams = PROOF) -> str:
    with pytest.raises(ProofFailed) as caught:
        zk.verify(pk, cts, commitment, seed, response, proof)
    return caught.value.check


@pytest.fixture(scope="module")
def keys() -> tuple[SecretKey, PublicKey]:
    return keygen(PARAMS, stream(1))


@pytest.fixture(scope="module")
def honest(keys: tuple[SecretKey, PublicKey]) -> Statement:
    return statement(keys[1], PROOF, stream(2))


# Parameters, soundness and the noise budget ------------------------------------------------------
def test_production_shape_soundness_and_hiding() -> None:
    proof = ProofParams.for_ring(production().n)
    assert (proof.u, proof.v) == (6, 3) and proof.challenges == 65537
    assert 48 < proof.soundness_bits < 48.01 and proof.hiding_bits == 58
    assert proof.zk_distance_bits < -40
    assert [proof.mask_bits(h) for h in (HONEST_PLAIN, HONEST_TERNARY, HONEST_NOISE)] == [314, 61, 65]
    assert [proof.width(h) for h in (HONEST_PLAIN, HONEST_TERNARY, HONEST_NOISE)] == [40, 8, 9]
    for n in (16, 64, 2**12):
        assert ProofParams.for_ring(n).soundness_bits >= 42 and ProofParams.for_ring(n).zk_distance_bits < -40


def test_derived_slack_keeps_the_noise_budget() -> None:
    proof = ProofParams.for_ring(production().n)
    assert proof_slack_bits(proof) == TOPGEAR_SLACK_BITS == 77
    report = lowgear_noise(production())
    # The margin is set by flooding, sized to hide the returns from a key as bad as its proof allows.
    assert report.margin_bits > 24 and report.flood_distance_bits < -40
    assert lowgear_noise(production(), parties=5).margin_bits > 23
    bad = proven_key(production().n)
    assert (bad.s.bit_length(), bad.e.bit_length()) == (78, 82)  # Just above 2^77 and 2^81.
    assert report.exposed > report.switched << 60
    assert lowgear_noise(production(), flood_bits=FLOOD_BITS - 2).flood_distance_bits > -40


def test_twice_the_inverse_of_a_challenge_difference_is_ternary() -> None:
    """2 / (X^d - 1) has coefficients in {-1, 0, 1}: the extractor's factor N comes from this l1 norm."""
    params = small(16, 1)
    q, n = params.primes[0], params.n
    for d in range(1, 2 * n):
        diff = (monomial(params, d) - monomial(params, 0)).ntt()
        inverse = np.array([[2 * pow(int(x), -1, q) % q for x in diff.residues[0]]], dtype=np.uint64)
        coeffs = ring.EvalPoly(inverse, params).intt().to_centred()
        assert set(coeffs) <= {-1, 0, 1} and sum(map(abs, coeffs)) <= n


def monomial(params: RingParams, power: int) -> CoeffPoly:
    coeffs = [0] * params.n
    coeffs[power % params.n] = -1 if power >= params.n else 1
    return CoeffPoly.from_ints(coeffs, params)


def test_challenge_matrix_is_deterministic_and_covers_its_set() -> None:
    tiny = ProofParams(4, u=6, v=3)  # 9 challenges: zero and X^0..X^7.
    seen: list[int | None] = []
    for i in range(200):
        w = zk.challenge_matrix(seed_of(i), tiny)
        assert w == zk.challenge_matrix(seed_of(i), tiny) and len(w) == 3 and all(len(row) == 6 for row in w)
        seen.extend(x for row in w for x in row)
    counts = [seen.count(None)] + [seen.count(j) for j in range(8)]
    assert sum(counts) == len(seen) and min(counts) > len(seen) / 9 * 0.8
    assert zk.challenge_matrix(seed_of(0), PROOF) != zk.challenge_matrix(seed_of(1), PROOF)
    with pytest.raises(ConfigError, match="seed"):
        zk.challenge_matrix(b"short", PROOF)


# Ring helpers ------------------------------------------------------------------------------------
@pytest.mark.parametrize("power", [0, 1, 5, 63, 64, 65, 100, 127])
def test_multiplying_by_a_monomial_rotates_with_signs(power: int) -> None:
    values = [random.Random(power).randrange(-2**200, 2**200) for _ in range(PARAMS.n)]
    product = schoolbook_times_monomial(values, power)
    poly = CoeffPoly.from_ints(values, PARAMS)
    assert poly.times_monomial(power).to_centred() == product
    assert WidePoly.from_ints(values).times_monomial(power).to_ints() == product
    with pytest.raises(ConfigError):
        poly.times_monomial(2 * PARAMS.n)


def schoolbook_times_monomial(values: list[int], power: int) -> list[int]:
    n = len(values)
    out = [0] * n
    for j, v in enumerate(values):
        k = j + power
        out[k % n] += v * (-1) ** (k // n)
    return out


def test_wide_polynomials_convert_exactly() -> None:
    r = random.Random(4)
    extremes = [0, -1, 1, 2**31, -2**31, 2**32 - 1, -2**32, 2**63 - 1, -2**63, 2**300, -2**300 + 7]
    values = extremes + [r.randrange(-2**310, 2**310) for _ in range(64 - len(extremes))]
    wide = WidePoly.from_ints(values)
    assert wide.to_ints() == values and wide.normalised().to_ints() == values
    assert (wide + wide + wide).to_ints() == [3 * v for v in values]
    assert wide.to_rns(PARAMS) == CoeffPoly.from_ints(values, PARAMS)
    assert all(WidePoly.from_bytes(wide.to_bytes(w), 64, w).to_ints() == values for w in (39, 40, 41))
    top = max(map(abs, values))
    assert wide.exceeds(top - 1) and not wide.exceeds(top)
    assert WidePoly.from_ints([-top]).exceeds(top - 1) and not WidePoly.from_ints([-top]).exceeds(top)
    with pytest.raises(ConfigError, match="fit"):
        wide.to_bytes(38)  # 2^300 and above need 39 signed bytes.
    with pytest.raises(DecodeError):
        WidePoly.from_bytes(b"\x00" * 10, 4, 3)
    small_values = np.array(extremes[:9], dtype=np.int64)
    assert WidePoly.from_small(small_values).to_ints() == extremes[:9]


def test_plaintexts_lift_to_centred_integers() -> None:
    coeffs = FieldVec.from_ints([0, 1, P - 1, P // 2, P // 2 + 1, 12345, *range(10)])
    assert WidePoly.from_field(coeffs).to_ints() == coeffs.to_signed_ints()


def test_masks_are_uniform_on_their_range() -> None:
    mask = WidePoly.uniform(20_000, 2, stream(5)).to_ints()
    assert min(mask) == -4 and max(mask) == 3  # [-2^2, 2^2): eight values.
    counts = [mask.count(v) for v in range(-4, 4)]
    assert sum((c - 2500) ** 2 / 2500 for c in counts) < 30  # 7 degrees of freedom.
    wide = WidePoly.uniform(256, 314, stream(6))
    assert not wide.exceeds(2**314) and wide.exceeds(2**310)


# Honest proofs -----------------------------------------------------------------------------------
def test_an_honest_proof_verifies(keys: tuple[SecretKey, PublicKey], honest: Statement) -> None:
    sk, pk = keys
    cts, witnesses = honest
    for i in range(3):
        commitment, response = prove(pk, witnesses, seed_of(i), stream(10 + i))
        zk.verify(pk, cts, commitment, seed_of(i), response, PROOF)
        # What the proof vouches for, 2 C, decrypts to twice the plaintext.
        assert sk.decrypt(cts[i] + cts[i]) == Plaintext(FieldVec.from_ints(witnesses[i].m.to_ints()) * 2)


def test_a_proof_fails_under_another_seed(keys: tuple[SecretKey, PublicKey], honest: Statement) -> None:
    _, pk = keys
    cts, witnesses = honest
    commitment, response = prove(pk, witnesses, seed_of(0), stream(11))
    for i in range(1, 4):
        assert failed_check(pk, cts, commitment, seed_of(i), response) == "linear relation"


def test_witnesses_encrypt_like_bgv(keys: tuple[SecretKey, PublicKey]) -> None:
    _, pk = keys
    pt = encode(FieldVec.random(PARAMS.n, stream(12)))
    ct, witness = zk.encrypt_for_proof(pk, pt, stream(13))
    same = encrypt(pk, pt, stream(13))
    assert ct.c0 == same.c0 and ct.c1 == same.c1
    again = witness.encrypt(pk)
    assert again.c0 == ct.c0 and again.c1 == ct.c1 and repr(witness) == "Preimage(n=64)"


def test_a_state_answers_one_challenge_only(keys: tuple[SecretKey, PublicKey], honest: Statement) -> None:
    _, pk = keys
    state, _ = zk.commit(pk, honest[1], stream(14), PROOF)
    assert "<secret>" in repr(state)
    zk.respond(state, seed_of(0))
    with pytest.raises(ConfigError, match="answered already"):
        zk.respond(state, seed_of(1))
    with pytest.raises(ConfigError):
        zk.commit(pk, honest[1][:5], stream(14), PROOF)


@pytest.fixture
def reference_backend(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(ring, "ops", _reference)
    monkeypatch.setattr(slots, "ops", _reference)
    yield


def reference_run() -> bytes:
    params, proof = small(16, 13), ProofParams(16, u=6, v=3)
    rb = stream(15)
    _, pk = keygen(params, rb)
    cts, witnesses = statement(pk, proof, rb)
    commitment, response = prove(pk, witnesses, seed_of(0), rb, proof)
    zk.verify(pk, cts, commitment, seed_of(0), response, proof)
    return commitment.to_bytes() + response.to_bytes(proof)


def test_an_honest_proof_verifies_on_the_reference_backend(reference_backend: None) -> None:
    reference_run()


@needs_kernel
def test_kernel_and_reference_make_the_same_proof(monkeypatch: pytest.MonkeyPatch) -> None:
    kernel = _kernel.load()
    monkeypatch.setattr(ring, "ops", kernel)
    monkeypatch.setattr(slots, "ops", kernel)
    with_kernel = reference_run()
    monkeypatch.setattr(ring, "ops", _reference)
    monkeypatch.setattr(slots, "ops", _reference)
    assert reference_run() == with_kernel


# Cheating provers --------------------------------------------------------------------------------
def test_a_ciphertext_without_a_witness_is_rejected(keys: tuple[SecretKey, PublicKey], honest: Statement) -> None:
    """c0 replaced by a uniform polynomial mod Q: the prover's witness no longer fits, whatever the seed."""
    _, pk = keys
    cts, witnesses = list(honest[0]), honest[1]
    cts[2] = Ciphertext(sampling.uniform_poly(PARAMS, stream(16)).intt(), cts[2].c1)
    for i in range(4):
        commitment, response = prove(pk, witnesses, seed_of(i), stream(20 + i))
        assert failed_check(pk, cts, commitment, seed_of(i), response) == "linear relation"


def test_a_plaintext_far_out_of_range_is_rejected(keys: tuple[SecretKey, PublicKey], honest: Statement) -> None:
    """m with a coefficient r^2: it decrypts like 0 there, but its noise is r^2 and it breaks the bound."""
    sk, pk = keys
    cts, witnesses = list(honest[0]), list(honest[1])
    big = [P * P if j == 5 else 0 for j in range(PARAMS.n)]
    ternary, noise = (WidePoly.from_small(draw(PARAMS.n, stream(17))) for draw in (sampling.ternary, sampling.cbd))
    witnesses[4] = Preimage(WidePoly.from_ints(big), ternary, noise, noise)
    cts[4] = witnesses[4].encrypt(pk)
    assert sk.decrypt(cts[4]) == Plaintext(FieldVec.zeros(PARAMS.n))
    for i in range(4):
        commitment, response = prove(pk, witnesses, seed_of(i), stream(30 + i))
        assert failed_check(pk, cts, commitment, seed_of(i), response) == "plaintext bound"


@pytest.mark.parametrize(("part", "check"), [("v", "ternary randomness bound"), ("e0", "noise e0 bound"),
                                             ("e1", "noise e1 bound")])
def test_randomness_far_above_its_bound_is_rejected(keys: tuple[SecretKey, PublicKey], honest: Statement,
                                                     part: str, check: str) -> None:
    _, pk = keys
    cts, witnesses = list(honest[0]), list(honest[1])
    parts = dict(zip(("m", "v", "e0", "e1"), witnesses[1].parts(), strict=True))
    parts[part] = WidePoly.from_ints([2**80 * (-1) ** j for j in range(PARAMS.n)])
    witnesses[1] = Preimage(**parts)
    cts[1] = witnesses[1].encrypt(pk)
    for i in range(3):
        commitment, response = prove(pk, witnesses, seed_of(i), stream(40 + i))
        assert failed_check(pk, cts, commitment, seed_of(i), response) == check


# Tampering ---------------------------------------------------------------------------------------
def shifted(w: WidePoly, index: int, delta: int) -> WidePoly:
    values = w.to_ints()
    values[index] += delta
    return WidePoly.from_ints(values)


def with_row(response: Response, i: int, row: Preimage) -> Response:
    return Response(tuple(row if j == i else r for j, r in enumerate(response.rows)))


def test_a_tampered_response_is_rejected(keys: tuple[SecretKey, PublicKey], honest: Statement) -> None:
    _, pk = keys
    cts, witnesses = honest
    seed = seed_of(0)
    commitment, response = prove(pk, witnesses, seed, stream(50))
    row = response.rows[1]
    off_by_one = Preimage(shifted(row.m, 7, 1), row.v, row.e0, row.e1)
    assert failed_check(pk, cts, commitment, seed, with_row(response, 1, off_by_one)) == "linear relation"
    noisy = Preimage(row.m, row.v, row.e0, shifted(row.e1, 0, -1))
    assert failed_check(pk, cts, commitment, seed, with_row(response, 1, noisy)) == "linear relation"
    bound = PROOF.check_bound(HONEST_PLAIN)
    values = [0] * PARAMS.n
    values[3] = bound + 1
    too_wide = Preimage(WidePoly.from_ints(values), row.v, row.e0, row.e1)
    assert failed_check(pk, cts, commitment, seed, with_row(response, 2, too_wide)) == "plaintext bound"
    values[3] = -bound  # On the bound itself the check passes and the relation fails.
    at_bound = Preimage(WidePoly.from_ints(values), row.v, row.e0, row.e1)
    assert failed_check(pk, cts, commitment, seed, with_row(response, 2, at_bound)) == "linear relation"
    short = Response(response.rows[:2])
    assert failed_check(pk, cts, commitment, seed, short) == "shape"


def test_a_tampered_commitment_or_statement_is_rejected(keys: tuple[SecretKey, PublicKey],
                                                        honest: Statement) -> None:
    _, pk = keys
    cts, witnesses = honest
    seed = seed_of(1)
    commitment, response = prove(pk, witnesses, seed, stream(51))
    data = bytearray(commitment.to_bytes())
    data[4 + 8 * 100] ^= 1  # One residue of D_0's c0, still canonical.
    tampered = Commitment.from_bytes(bytes(data), PARAMS, PROOF)
    assert failed_check(pk, cts, tampered, seed, response) == "linear relation"
    swapped = [cts[1], cts[0], *cts[2:]]
    assert failed_check(pk, swapped, commitment, seed, response) == "linear relation"
    lower = [Ciphertext(cts[0].c0.prefix(6), cts[0].c1.prefix(6)), *cts[1:]]
    assert failed_check(pk, lower, commitment, seed, response) == "shape"
    assert failed_check(pk, cts[:5], commitment, seed, response) == "shape"
    assert issubclass(ProofFailed, ProtocolAbort)


# The wire ----------------------------------------------------------------------------------------
def test_messages_round_trip_on_the_wire(keys: tuple[SecretKey, PublicKey], honest: Statement) -> None:
    _, pk = keys
    cts, witnesses = honest
    seed = seed_of(2)
    commitment, response = prove(pk, witnesses, seed, stream(52))
    c_bytes, r_bytes = commitment.to_bytes(), response.to_bytes(PROOF)
    assert c_bytes[:4] == bytes((1, 3, 13, 6)) and len(c_bytes) == 4 + 3 * 2 * 13 * 64 * 8
    widths = [PROOF.width(h) for h in (HONEST_PLAIN, HONEST_TERNARY, HONEST_NOISE)]
    assert r_bytes[:6] == bytes((1, 3, 6, *widths))
    assert len(r_bytes) == 6 + 3 * 64 * (widths[0] + widths[1] + 2 * widths[2])
    commitment2, response2 = Commitment.from_bytes(c_bytes, PARAMS, PROOF), Response.from_bytes(r_bytes, PROOF)
    assert commitment2.to_bytes() == c_bytes and response2.to_bytes(PROOF) == r_bytes
    zk.verify(pk, cts, commitment2, seed, response2, PROOF)


def test_malformed_messages_are_refused(keys: tuple[SecretKey, PublicKey], honest: Statement) -> None:
    _, pk = keys
    commitment, response = prove(pk, honest[1], seed_of(3), stream(53))
    c_bytes, r_bytes = commitment.to_bytes(), response.to_bytes(PROOF)
    q0 = PARAMS.primes[0]
    non_canonical = c_bytes[:4] + q0.to_bytes(8, "little") + c_bytes[12:]
    for bad in (b"", b"\x02" + c_bytes[1:], c_bytes[:-1], c_bytes + b"\x00", non_canonical,
                c_bytes[:1] + b"\x02" + c_bytes[2:], c_bytes[:2] + b"\x06" + c_bytes[3:]):
        with pytest.raises(DecodeError):
            Commitment.from_bytes(bad, PARAMS, PROOF)
    for bad in (b"", b"\x02" + r_bytes[1:], r_bytes[:-1], r_bytes + b"\x00",
                r_bytes[:3] + b"\x3f" + r_bytes[4:], r_bytes[:1] + b"\x02" + r_bytes[2:]):
        with pytest.raises(DecodeError):
            Response.from_bytes(bad, PROOF)
    with pytest.raises(DecodeError):
        Response.from_bytes(r_bytes, ProofParams(64, u=6, v=3, zk_bits=80))  # Other widths.


# Commitments by digest, and padding -------------------------------------------------------------
def failed_digest_check(pk: PublicKey, cts: list[Ciphertext], digest: bytes, seed: bytes, response: Response,
                        proof: ProofParams = PROOF) -> str:
    with pytest.raises(ProofFailed) as caught:
        zk.verify_digest(pk, cts, digest, seed, response, proof)
    return caught.value.check


def test_a_proof_verifies_against_the_digest_of_its_commitment(keys: tuple[SecretKey, PublicKey],
                                                               honest: Statement) -> None:
    _, pk = keys
    cts, witnesses = honest
    commitment, response = prove(pk, witnesses, seed_of(4), stream(70))
    digest = commitment.digest()
    assert digest == hashlib.sha256(b"mpcc-topgear-commitment-v1" + commitment.to_bytes()).digest()
    zk.verify_digest(pk, cts, digest, seed_of(4), response, PROOF)
    assert failed_digest_check(pk, cts, digest, seed_of(5), response) == "linear relation"
    assert failed_digest_check(pk, [cts[1], cts[0], *cts[2:]], digest, seed_of(4), response) == "linear relation"
    assert failed_digest_check(pk, cts, bytes(32), seed_of(4), response) == "linear relation"
    row = response.rows[0]
    off_by_one = Preimage(row.m, row.v, shifted(row.e0, 3, 1), row.e1)
    assert failed_digest_check(pk, cts, digest, seed_of(4), with_row(response, 0, off_by_one)) == "linear relation"
    assert failed_digest_check(pk, cts[:5], digest, seed_of(4), response) == "shape"


def test_zero_ciphertexts_pad_a_statement(keys: tuple[SecretKey, PublicKey], honest: Statement) -> None:
    """(0, 0) with the zero preimage fills a proof: both sides know it, nothing about it is sent."""
    _, pk = keys
    cts = [*honest[0][:2], *[zk.zero_ciphertext(PARAMS)] * 4]
    witnesses = [*honest[1][:2], *[Preimage.zero(PARAMS.n)] * 4]
    commitment, response = prove(pk, witnesses, seed_of(6), stream(71))
    zk.verify_digest(pk, cts, commitment.digest(), seed_of(6), response, PROOF)
    fake = [*cts[:5], honest[0][2]]  # A real ciphertext where the prover padded: its witness is missing.
    assert failed_digest_check(pk, fake, commitment.digest(), seed_of(6), response) == "linear relation"


# Diagonal proofs ---------------------------------------------------------------------------------
DIAGONAL = ProofParams.diagonal_for_ring(64)


def constant_statement(pk: PublicKey, value: int, randbytes: RandBytes, n: int = PARAMS.n) -> Statement:
    ct, witness = zk.encrypt_for_proof(pk, Plaintext(FieldVec.from_ints([value] + [0] * (n - 1))), randbytes)
    return [ct], [witness]


def test_diagonal_parameters_and_their_noise() -> None:
    proof = ProofParams.diagonal_for_ring(production().n)
    assert (proof.u, proof.v, proof.challenges, proof.challenge_norm) == (1, 12, 13, 6) and proof.diagonal
    assert 44.4 < proof.soundness_bits < 44.5 and proof.zk_distance_bits < -40
    assert proof.vouched == 27720 == math.lcm(*range(1, 13)) and proof.extraction_factor == 2 * 27720
    assert all(proof.vouched % d == 0 for d in range(1, 13))  # Every challenge difference divides L.
    assert [proof.mask_bits(h) for h in (HONEST_PLAIN, HONEST_TERNARY, HONEST_NOISE)] == [316, 63, 67]
    # Slightly more slack than TopGear's 77 bits (wider masks), and still within the noise budget.
    assert proof_slack_bits(proof) == 79
    report = lowgear_noise(production(), slack_bits=79)
    assert report.margin_bits > 24 and report.flood_distance_bits < -40
    assert ProofParams.diagonal_for_ring(64).soundness_bits > 42


def test_diagonal_challenges_are_small_integers() -> None:
    seen: list[int | None] = []
    for i in range(100):
        w = zk.challenge_matrix(seed_of(i), DIAGONAL)
        assert len(w) == 12 and all(len(row) == 1 for row in w)
        seen.extend(x for row in w for x in row)
    assert set(seen) == {None, *range(-6, 0), *range(1, 7)}
    assert min(seen.count(x) for x in set(seen)) > len(seen) / 13 * 0.6
    assert zk.challenge_matrix(seed_of(0), DIAGONAL) != zk.challenge_matrix(seed_of(0), ProofParams(64, 1, 12))


@pytest.mark.parametrize("factor", [-6, -1, 1, 5])
def test_wide_polynomials_times_small_integers(factor: int) -> None:
    values = [random.Random(factor).randrange(-2**300, 2**300) for _ in range(16)]
    assert WidePoly.from_ints(values).times_small(factor).to_ints() == [factor * v for v in values]


@pytest.mark.parametrize("value", [12345, P - 5])
def test_an_honest_diagonal_proof_vouches_for_l_times_the_ciphertext(keys: tuple[SecretKey, PublicKey],
                                                                     value: int) -> None:
    sk, pk = keys
    cts, witnesses = constant_statement(pk, value, stream(72))
    commitment, response = prove(pk, witnesses, seed_of(7), stream(73), DIAGONAL)
    zk.verify(pk, cts, commitment, seed_of(7), response, DIAGONAL)
    data = response.to_bytes(DIAGONAL)
    widths = [DIAGONAL.width(h) for h in (HONEST_PLAIN, HONEST_TERNARY, HONEST_NOISE)]
    assert len(data) == 6 + 12 * (widths[0] + 64 * (widths[1] + 2 * widths[2]))  # z is one coefficient.
    zk.verify_digest(pk, cts, commitment.digest(), seed_of(7), Response.from_bytes(data, DIAGONAL), DIAGONAL)
    scaled = Ciphertext(cts[0].c0.scale(DIAGONAL.vouched), cts[0].c1.scale(DIAGONAL.vouched))
    assert sk.decrypt_slots(scaled) == FieldVec.full(PARAMS.n, value * DIAGONAL.vouched % P)


def test_a_plaintext_that_is_not_constant_fails_the_diagonal_proof(keys: tuple[SecretKey, PublicKey]) -> None:
    _, pk = keys
    pt = Plaintext(FieldVec.from_ints([7, 1] + [0] * (PARAMS.n - 2)))
    ct, witness = zk.encrypt_for_proof(pk, pt, stream(74))
    for i in range(3):
        commitment, response = prove(pk, [witness], seed_of(i), stream(75 + i), DIAGONAL)
        if all(entry is None for row in zk.challenge_matrix(seed_of(i), DIAGONAL) for entry in row):
            continue  # Cannot happen for these seeds (13^-12), but would make every response a mask.
        assert failed_check(pk, [ct], commitment, seed_of(i), response, DIAGONAL) == "constant plaintext"
        # The wire keeps only the constant coefficient: the relation then fails.
        wired = Response.from_bytes(response.to_bytes(DIAGONAL), DIAGONAL)
        assert failed_digest_check(pk, [ct], commitment.digest(), seed_of(i), wired, DIAGONAL) == "linear relation"
    # A proof of the ordinary kind does not show constancy: the same statement passes it.
    ordinary = ProofParams(64, u=1, v=3)
    commitment, response = prove(pk, [witness], seed_of(0), stream(79), ordinary)
    zk.verify(pk, [ct], commitment, seed_of(0), response, ordinary)


def test_a_diagonal_response_from_another_proof_is_refused(keys: tuple[SecretKey, PublicKey]) -> None:
    _, pk = keys
    cts, witnesses = constant_statement(pk, 9, stream(80))
    _, response = prove(pk, witnesses, seed_of(8), stream(81), DIAGONAL)
    with pytest.raises(DecodeError):
        Response.from_bytes(response.to_bytes(DIAGONAL), ProofParams(64, u=1, v=12))
    commitment, response = prove(pk, witnesses, seed_of(8), stream(82), DIAGONAL)
    assert failed_check(pk, cts, commitment, seed_of(9), response, DIAGONAL) == "linear relation"


# Production size ---------------------------------------------------------------------------------
@on_kernel
def test_a_production_proof_verifies() -> None:
    params = production()
    proof = ProofParams.for_ring(params.n)
    rb = stream(60)
    _, pk = keygen(params, rb)
    cts, witnesses = statement(pk, proof, rb)
    commitment, response = prove(pk, witnesses, seed_of(0), rb, proof)
    zk.verify(pk, cts, Commitment.from_bytes(commitment.to_bytes(), params, proof), seed_of(0),
              Response.from_bytes(response.to_bytes(proof), proof), proof)
    assert math.isclose(proof.soundness_bits, 48, abs_tol=0.01)
