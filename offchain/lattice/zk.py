"""TopGear proof of plaintext knowledge for U BGV ciphertexts under one public key (Baum-Cozzo-Smart 2019).

Statement: C_k = Enc(pk, m_k; v_k, e0_k, e1_k) for k < U, with m_k lifted to
(-r/2, r/2], v_k ternary and e0_k, e1_k binomial. The prover shows that it
knows such preimages, up to the slack of :mod:`offchain.lattice.zkparams`, in
three moves with a public coin:

1. :func:`commit` (TopGear's first move): V masks (y_i, s_i) uniform on the
   wide ranges of :class:`~offchain.lattice.zkparams.ProofParams`, sent as
   D_i = Enc(y_i; s_i).
2. The caller broadcasts the commitment, then draws ``seed`` with the joint
   coin (offchain.engine.coin.toss), so no prover can grind the challenge;
   :func:`challenge_matrix` expands it to W in C^(V x U), C = {0} u {X^j : j < 2N}.
   One seed may serve every prover of a round, each having committed first.
3. :func:`respond`: z_i = y_i + sum_k W_ik m_k and t_i = s_i + sum_k W_ik (v_k, e0_k, e1_k),
   over the integers, never reduced.
4. :func:`verify`: every part of (z_i, t_i) within its bound, then
   Enc(z_i; t_i) = D_i + sum_k W_ik C_k for each row i; else :class:`ProofFailed` names the check.

The prover may send :meth:`Commitment.digest`, a hash of the D_i, instead of
the D_i (V ciphertexts, 18.9 MB in production): :func:`verify_digest`
recomputes D_i = Enc(z_i; t_i) - sum_k W_ik C_k and compares the hash. An
extractor that rewinds the prover gets the same D_i in both transcripts
unless it finds a SHA-256 collision, so soundness holds as before, now
computationally (binding of the hash); the simulator hashes the D_i it
computes. Zero knowledge is unchanged.

A diagonal proof (``ProofParams.diagonal``, see :mod:`offchain.lattice.zkparams`)
shows in addition that every m_k is a constant polynomial: its plaintext
masks are constants, its challenges are integers w with |w| <= 6, and
:func:`verify` checks that every plaintext response is constant. It vouches
for L C_k with L = 27720 (``ProofParams.vouched``) instead of 2 C_k. On the
wire a diagonal response carries only that constant coefficient.

What acceptance vouches for is 2 C_k, not C_k: the extractor inverts
W_ik - W'_ik only up to a factor 2. With a knowledge error of at most
(2N + 1)^-V, 2 C_k decrypts through noise at most 2^S times an honest
fresh encryption's (:func:`offchain.lattice.noise.proof_slack_bits`, S = 77 in
production), to the plaintext 2 m_k. LowGear therefore uses 2 C_k, e.g. the
product (C_k + C_k) * (b 2^-1 mod r) = Enc(m_k b). C_k alone may hold
half-integral noise of size Q/2 and must not be used.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from offchain.errors import ConfigError, DecodeError, ProofFailed
from offchain.lattice import sampling
from offchain.lattice.bgv import Ciphertext, PublicKey, encrypt_with
from offchain.lattice.params import RingParams
from offchain.lattice.ring import CoeffPoly
from offchain.lattice.sampling import RandBytes
from offchain.lattice.slots import Plaintext
from offchain.lattice.wide import WidePoly
from offchain.lattice.zkparams import HONEST_NOISE, HONEST_PLAIN, HONEST_TERNARY, ProofParams

WIRE_VERSION = 1
SEED_BYTES = 32
"""The challenge seed: the joint coin's 32 bytes."""
_CHALLENGE_TAG = b"mpcc-topgear-challenge-v1"
_DIAGONAL_TAG = b"mpcc-topgear-diagonal-challenge-v1"
_DIGEST_TAG = b"mpcc-topgear-commitment-v1"
_PARTS = ("plaintext", "ternary randomness", "noise e0", "noise e1")
_HONEST = (HONEST_PLAIN, HONEST_TERNARY, HONEST_NOISE, HONEST_NOISE)

Challenge = tuple[tuple[int | None, ...], ...]
"""W as V rows of U entries: None for 0, j for the monomial X^j (in a diagonal proof, the integer w itself)."""


@dataclass(frozen=True, eq=False)
class Preimage:
    """(m, v, e0, e1): integer polynomials that encrypt to (b v + t e0 + m, a v + t e1) under (a, b).

    A witness behind a ciphertext, a mask, or a row of a response; the repr
    shows no coefficient.
    """

    m: WidePoly
    v: WidePoly
    e0: WidePoly
    e1: WidePoly

    def __post_init__(self) -> None:
        if len({p.n for p in self.parts()}) != 1:
            raise ConfigError("the parts of a preimage have different dimensions")

    def __repr__(self) -> str:
        return f"Preimage(n={self.m.n})"

    def parts(self) -> tuple[WidePoly, WidePoly, WidePoly, WidePoly]:
        return self.m, self.v, self.e0, self.e1

    def encrypt(self, pk: PublicKey) -> Ciphertext:
        """The ciphertext these integers make under ``pk`` (:func:`offchain.lattice.bgv.encrypt_with`)."""
        m, v, e0, e1 = (p.to_rns(pk.params) for p in self.parts())
        return encrypt_with(pk, m, v, e0, e1)

    def __add__(self, other: Preimage) -> Preimage:
        """Part by part: the preimage of the sum of the two ciphertexts."""
        if not isinstance(other, Preimage):
            return NotImplemented
        return Preimage(*(a + b for a, b in zip(self.parts(), other.parts(), strict=True)))

    def times_monomial(self, power: int) -> Preimage:
        """Every part times X^power: the preimage of the ciphertext times X^power."""
        return Preimage(*(p.times_monomial(power) for p in self.parts()))

    def times_small(self, factor: int) -> Preimage:
        """Every part times a small integer: the preimage of the ciphertext times it."""
        return Preimage(*(p.times_small(factor) for p in self.parts()))

    @classmethod
    def zero(cls, n: int) -> Preimage:
        """All parts zero: the preimage of the ciphertext (0, 0), which pads a statement to U ciphertexts.

        Both sides know (0, 0) and that it encrypts 0, so it is never sent.
        """
        nothing = WidePoly(np.zeros((1, n), dtype=np.int64))
        return cls(nothing, nothing, nothing, nothing)


def zero_ciphertext(params: RingParams) -> Ciphertext:
    """(0, 0) = Enc(0; 0, 0, 0): the padding of a statement with fewer than U ciphertexts."""
    return Ciphertext(CoeffPoly.zeros(params), CoeffPoly.zeros(params))


def encrypt_for_proof(pk: PublicKey, pt: Plaintext,
                      randbytes: RandBytes = secrets.token_bytes) -> tuple[Ciphertext, Preimage]:
    """A fresh encryption at pk's level and its preimage: the same ciphertext as ``bgv.encrypt`` for the same bytes."""
    params = pk.params
    v, e0, e1 = (draw(params.n, randbytes) for draw in (sampling.ternary, sampling.cbd, sampling.cbd))
    ct = encrypt_with(pk, pt.lift(params), *(CoeffPoly.from_small(x, params) for x in (v, e0, e1)))
    return ct, Preimage(WidePoly.from_field(pt.coeffs), *(WidePoly.from_small(x) for x in (v, e0, e1)))


def challenge_matrix(seed: bytes, proof: ProofParams) -> Challenge:
    """W from a joint seed: V x U entries uniform on the |C| elements of C, no modulo bias.

    SHAKE-256 of the tag, V, U, N (4 bytes big-endian) and the seed gives
    32-bit little-endian words; a word is kept below the largest multiple of
    |C| under 2^32 and taken modulo |C|: 0 is the zero entry, c > 0 is X^(c-1).
    A diagonal proof has its own tag and |C| = 2K + 1: c is the integer w = c - K (None for 0).
    """
    if len(seed) != SEED_BYTES:
        raise ConfigError(f"a challenge seed has {SEED_BYTES} bytes, not {len(seed)}")
    size, need = proof.challenges, proof.u * proof.v
    limit = (1 << 32) // size * size
    tag = _DIAGONAL_TAG if proof.diagonal else _CHALLENGE_TAG
    shake = hashlib.shake_256(tag + bytes((proof.v, proof.u)) + proof.n.to_bytes(4, "big") + seed)
    words = np.zeros(0, dtype=np.uint32)
    length = 4 * need + 64
    while len(words) < need:
        # A longer SHAKE output extends the shorter one, so the kept words never change.
        stream = np.frombuffer(shake.digest(length), dtype="<u4")
        words = stream[stream < limit]
        length *= 2
    values = [int(x) % size for x in words[:need]]
    if proof.diagonal:
        entries = [None if c == proof.challenge_norm else c - proof.challenge_norm for c in values]
    else:
        entries = [None if c == 0 else c - 1 for c in values]
    return tuple(tuple(entries[i * proof.u:(i + 1) * proof.u]) for i in range(proof.v))


# Messages and their wire formats ---------------------------------------------------------------
def _log2(n: int) -> int:
    return n.bit_length() - 1


def _poly_from(data: memoryview, ring: RingParams) -> CoeffPoly:
    residues = np.frombuffer(data, dtype="<u8").reshape(ring.levels, ring.n).astype(np.uint64)
    if not np.all(residues < np.array(ring.primes, dtype=np.uint64).reshape(-1, 1)):
        raise DecodeError("a residue is not below its prime")
    return CoeffPoly(residues, ring)


@dataclass(frozen=True, eq=False)
class Commitment:
    """The prover's first message: the V mask ciphertexts D_i = Enc(y_i; s_i)."""

    masks: tuple[Ciphertext, ...]

    def to_bytes(self) -> bytes:
        """Wire format, version 1::

            0x01 || V (1 byte) || L (1 byte) || log2 N (1 byte) || D_0 || ... || D_(V-1)
            D_i = c0 || c1, each L x N residues as 8 bytes little-endian, prime by
            prime (residue j modulo q_l at offset 8 (l N + j)), each below its prime.
        """
        if not self.masks:
            raise ConfigError("a commitment holds at least one mask")
        ring = self.masks[0].params
        head = bytes((WIRE_VERSION, len(self.masks), ring.levels, _log2(ring.n)))
        body = (p.residues.astype("<u8").tobytes() for ct in self.masks for p in (ct.c0, ct.c1))
        return head + b"".join(body)

    @classmethod
    def from_bytes(cls, data: bytes, ring: RingParams, proof: ProofParams) -> Commitment:
        """Parses :meth:`to_bytes` for V masks over ``ring``.

        DecodeError if the version, a count or the length differs, or a residue is not below its prime.
        """
        head = bytes((WIRE_VERSION, proof.v, ring.levels, _log2(ring.n)))
        size = 8 * ring.levels * ring.n
        if data[:4] != head:
            raise DecodeError("commitment: unknown version or a shape other than the proof's")
        if len(data) != 4 + 2 * proof.v * size:
            raise DecodeError(f"commitment: {4 + 2 * proof.v * size} bytes expected, not {len(data)}")
        view = memoryview(data)[4:]
        polys = [_poly_from(view[i * size:(i + 1) * size], ring) for i in range(2 * proof.v)]
        return cls(tuple(Ciphertext(polys[2 * i], polys[2 * i + 1]) for i in range(proof.v)))

    def digest(self) -> bytes:
        """SHA-256 of a tag and :meth:`to_bytes`: what a prover may send instead (see :func:`verify_digest`).

        The residues are hashed in place, without building the byte string.
        """
        ring = self.masks[0].params
        digest = hashlib.sha256(_DIGEST_TAG + bytes((WIRE_VERSION, len(self.masks), ring.levels, _log2(ring.n))))
        for ct in self.masks:
            for poly in (ct.c0, ct.c1):
                digest.update(np.ascontiguousarray(poly.residues, dtype="<u8").data)
        return digest.digest()


@dataclass(frozen=True, eq=False)
class Response:
    """The prover's answer: one preimage (z_i, t_i) per mask row."""

    rows: tuple[Preimage, ...]

    def to_bytes(self, proof: ProofParams) -> bytes:
        """Wire format, version 1::

            0x01 || V || log2 N || w_m || w_v || w_e (1 byte each) || row_0 || ... || row_(V-1)
            row_i = z_i || tv_i || te0_i || te1_i, N coefficients each, coefficient j
            at offset j w as w bytes little-endian two's complement, with w = w_m for
            z and w_v, w_e, w_e for the others (ProofParams.width of each part's bound).

        In a diagonal proof z_i is its constant coefficient alone (w_m bytes):
        the others are written as nothing and read as zero, so a prover whose
        z_i is not constant sends a response that fails the linear relation.
        """
        widths = [proof.width(h) for h in _HONEST]
        head = bytes((WIRE_VERSION, len(self.rows), _log2(proof.n), *widths[:3]))
        body = []
        for row in self.rows:
            z, *rest = row.parts()
            body.append(_constant_term(z).to_bytes(widths[0]) if proof.diagonal else z.to_bytes(widths[0]))
            body.extend(p.to_bytes(w) for p, w in zip(rest, widths[1:], strict=True))
        return head + b"".join(body)

    @classmethod
    def from_bytes(cls, data: bytes, proof: ProofParams) -> Response:
        """Parses :meth:`to_bytes`; DecodeError on another version, shape, width or length.

        Every byte string of the right length is the canonical encoding of its
        coefficients; whether they lie within the bounds is :func:`verify`'s check.
        """
        widths = [proof.width(h) for h in _HONEST]
        counts = [1 if proof.diagonal else proof.n] + [proof.n] * 3
        head = bytes((WIRE_VERSION, proof.v, _log2(proof.n), *widths[:3]))
        expected = 6 + proof.v * sum(c * w for c, w in zip(counts, widths, strict=True))
        if data[:6] != head:
            raise DecodeError("response: unknown version or a shape other than the proof's")
        if len(data) != expected:
            raise DecodeError(f"response: {expected} bytes expected, not {len(data)}")
        view, offset, parts = memoryview(data), 6, []
        for _ in range(proof.v):
            for count, w in zip(counts, widths, strict=True):
                part = WidePoly.from_bytes(view[offset:offset + count * w], count, w)
                parts.append(part if count == proof.n else _constant(part, proof.n))
                offset += count * w
        return cls(tuple(Preimage(*parts[4 * i:4 * i + 4]) for i in range(proof.v)))


def _constant(coefficient: WidePoly, n: int) -> WidePoly:
    """The polynomial of n coefficients whose constant term is the one coefficient given, the others zero."""
    digits = np.zeros((coefficient.digits.shape[0], n), dtype=np.int64)
    digits[:, 0] = coefficient.digits[:, 0]
    return WidePoly(digits)


def _constant_term(poly: WidePoly) -> WidePoly:
    return WidePoly(poly.digits[:, :1])


def _is_constant(poly: WidePoly) -> bool:
    return not np.any(poly.normalised().digits[:, 1:])


class ProverState:
    """What the prover keeps from commit to respond: its witnesses and masks, secret, for one challenge only.

    Two answers with the same masks would reveal (W - W') m_k, so the state
    refuses a second :func:`respond`.
    """

    __slots__ = ("_masks", "_proof", "_spent", "_witnesses")

    def __init__(self, proof: ProofParams, witnesses: tuple[Preimage, ...], masks: tuple[Preimage, ...]) -> None:
        self._proof, self._witnesses, self._masks, self._spent = proof, witnesses, masks, False

    def __repr__(self) -> str:
        return f"ProverState(u={self._proof.u}, v={self._proof.v}, {'spent' if self._spent else 'pending'}, <secret>)"

    @property
    def proof(self) -> ProofParams:
        return self._proof

    def _take(self) -> tuple[tuple[Preimage, ...], tuple[Preimage, ...]]:
        if self._spent:
            raise ConfigError("this proof was answered already: a second answer would reveal the plaintexts")
        self._spent = True
        return self._witnesses, self._masks


# The three moves -------------------------------------------------------------------------------
def commit(pk: PublicKey, witnesses: Sequence[Preimage], randbytes: RandBytes = secrets.token_bytes,
           proof: ProofParams | None = None) -> tuple[ProverState, Commitment]:
    """TopGear's first move: V masks with parts uniform on [-2^b, 2^b) (b from ``proof``) and their encryptions.

    ``witnesses`` are the preimages of the U ciphertexts proven (from
    :func:`encrypt_for_proof`); they are not checked here, so a witness
    beyond the honest bounds (or not constant, in a diagonal proof) gives a
    proof that fails, or hides less. A diagonal proof's plaintext masks are
    constants: one coefficient uniform on [-2^b, 2^b), the others zero.
    """
    proof = proof or ProofParams.for_ring(pk.params.n)
    if proof.n != pk.params.n or len(witnesses) != proof.u:
        raise ConfigError(f"a proof covers {proof.u} ciphertexts of dimension {proof.n}")
    if any(w.m.n != proof.n for w in witnesses):
        raise ConfigError("a witness has another dimension than the proof")
    masks = tuple(Preimage(*(_mask(proof, h, randbytes, constant=proof.diagonal and part == 0)
                             for part, h in enumerate(_HONEST))) for _ in range(proof.v))
    return ProverState(proof, tuple(witnesses), masks), Commitment(tuple(y.encrypt(pk) for y in masks))


def _mask(proof: ProofParams, honest: int, randbytes: RandBytes, constant: bool) -> WidePoly:
    if constant:
        return _constant(WidePoly.uniform(1, proof.mask_bits(honest), randbytes), proof.n)
    return WidePoly.uniform(proof.n, proof.mask_bits(honest), randbytes)


def respond(state: ProverState, seed: bytes) -> Response:
    """TopGear's third move: row i is mask_i + sum_k W_ik witness_k, over the integers."""
    proof = state.proof
    challenge = challenge_matrix(seed, proof)
    witnesses, masks = state._take()
    rows = []
    for mask, entries in zip(masks, challenge, strict=True):
        row = mask
        for witness, entry in zip(witnesses, entries, strict=True):
            if entry is not None:
                row = row + (witness.times_small(entry) if proof.diagonal else witness.times_monomial(entry))
        rows.append(row)
    return Response(tuple(rows))


def verify(pk: PublicKey, ciphertexts: Sequence[Ciphertext], commitment: Commitment, seed: bytes,
           response: Response, proof: ProofParams | None = None) -> None:
    """The verifier's checks, cheapest first; raises ProofFailed naming the first that fails.

    ``shape``: U fresh ciphertexts and V masks at pk's level, V response rows;
    ``constant plaintext`` (diagonal proofs): every z_i constant;
    ``<part> bound``: each part of each row within ProofParams.check_bound;
    ``linear relation``: Enc(z_i; t_i) = D_i + sum_k W_ik C_k for every row.
    """
    proof = _checked_responses(pk, ciphertexts, commitment.masks, response, proof)
    for i, (implied, sent) in enumerate(zip(_implied_masks(pk, ciphertexts, seed, response, proof),
                                            commitment.masks, strict=True)):
        if implied.c0 != sent.c0 or implied.c1 != sent.c1:
            raise ProofFailed("linear relation", f"row {i}: Enc(z, t) differs from D + W C")


def verify_digest(pk: PublicKey, ciphertexts: Sequence[Ciphertext], digest: bytes, seed: bytes,
                  response: Response, proof: ProofParams | None = None) -> None:
    """:func:`verify` against :meth:`Commitment.digest`: the D_i recomputed from the response must hash to it.

    The same checks; ``linear relation`` fails when the hash differs.
    """
    proof = _checked_responses(pk, ciphertexts, None, response, proof)
    implied = Commitment(tuple(_implied_masks(pk, ciphertexts, seed, response, proof)))
    if not hmac.compare_digest(implied.digest(), digest):
        raise ProofFailed("linear relation", "Enc(z, t) - W C does not hash to the commitment")


def _checked_responses(pk: PublicKey, ciphertexts: Sequence[Ciphertext], masks: Sequence[Ciphertext] | None,
                       response: Response, proof: ProofParams | None) -> ProofParams:
    """The checks before the linear relation (shape, constants, bounds); the proof's parameters."""
    proof = proof or ProofParams.for_ring(pk.params.n)
    if proof.n != pk.params.n:
        raise ConfigError(f"the proof is for dimension {proof.n}, the key for {pk.params.n}")
    _check_shape(pk, ciphertexts, masks, response, proof)
    if proof.diagonal:
        for i, row in enumerate(response.rows):
            if not _is_constant(row.m):
                raise ProofFailed("constant plaintext", f"row {i} has a plaintext response that is not constant")
    bounds = [proof.check_bound(h) for h in _HONEST]
    for i, row in enumerate(response.rows):
        for part, bound, name in zip(row.parts(), bounds, _PARTS, strict=True):
            if part.exceeds(bound):
                raise ProofFailed(f"{name} bound", f"row {i} has a coefficient above {bound.bit_length()} bits")
    return proof


def _implied_masks(pk: PublicKey, ciphertexts: Sequence[Ciphertext], seed: bytes, response: Response,
                   proof: ProofParams) -> list[Ciphertext]:
    """D_i = Enc(z_i; t_i) - sum_k W_ik C_k modulo Q: the masks an honest prover committed to."""
    challenge = challenge_matrix(seed, proof)
    implied = []
    for row, entries in zip(response.rows, challenge, strict=True):
        got = row.encrypt(pk)
        c0, c1 = got.c0, got.c1
        for ct, entry in zip(ciphertexts, entries, strict=True):
            if entry is not None:
                c0, c1 = c0 - _times(ct.c0, entry, proof), c1 - _times(ct.c1, entry, proof)
        implied.append(Ciphertext(c0, c1))
    return implied


def _times(poly: CoeffPoly, entry: int, proof: ProofParams) -> CoeffPoly:
    """A ciphertext part times a challenge entry: the integer itself if diagonal, else the monomial X^entry."""
    return poly.scale(entry) if proof.diagonal else poly.times_monomial(entry)


def _check_shape(pk: PublicKey, ciphertexts: Sequence[Ciphertext], masks: Sequence[Ciphertext] | None,
                 response: Response, proof: ProofParams) -> None:
    if len(ciphertexts) != proof.u or len(response.rows) != proof.v or (masks is not None and len(masks) != proof.v):
        raise ProofFailed("shape", f"{proof.u} ciphertexts, {proof.v} masks and {proof.v} rows are expected")
    if any(ct.params != pk.params or ct.scale != 1 for ct in (*ciphertexts, *(masks or ()))):
        raise ProofFailed("shape", "a ciphertext is not a fresh one at the key's level")
    if any(row.m.n != proof.n for row in response.rows):
        raise ProofFailed("shape", "a response row has another dimension")
