"""BGV encryption with plaintext modulus t = r, the scheme LowGear builds on (Overdrive, Keller-Pastro-Rotaru 2018).

Keys and the sign convention. The secret key s is ternary. The public key is
(a, b) with a uniform in R_Q and b = a s + t e, e binomial: so b - a s = t e
is small and a multiple of t. A ciphertext (c0, c1) decrypts through

    c0 - s c1 = scale * m + t e'   (mod Q),

taking the representative in (-Q/2, Q/2] and reducing it modulo t. This is
correct while the noise ||scale * m + t e'||_inf, on integers, stays below
Q/2; :mod:`offchain.lattice.noise` bounds it for the LowGear pipeline.

The plaintext scale. Modulus switching multiplies the plaintext modulo t by
the inverse of each prime it drops (see
:meth:`offchain.lattice.ring.CoeffPoly.mod_switch`). A :class:`Ciphertext`
carries that public factor as ``scale`` (1 when fresh) and decryption divides
it out, so callers always deal in plaintexts m and never in scaled ones.
Adding a plaintext adds scale * m; adding two ciphertexts needs equal scales,
which ciphertexts switched over the same primes have.

Levels. Fresh ciphertexts use all the primes of the key's ring; a LowGear
return is switched down to :func:`return_levels` primes (12 -> 6 in
production) before it is flooded, so that the flooding noise only has to
hide a product noise made small by the switch.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import numpy as np

from offchain.errors import ConfigError
from offchain.field import FieldVec
from offchain.lattice import sampling
from offchain.lattice.params import PLAINTEXT_MODULUS, RingParams
from offchain.lattice.ring import CoeffPoly, EvalPoly
from offchain.lattice.sampling import RandBytes
from offchain.lattice.slots import Plaintext

T = PLAINTEXT_MODULUS
FLOOD_BITS = 147
"""Flooding adds t u with |u| < 2^147: statistical distance below 2^-40 over 2^15 coefficients even for a
receiver whose key is only as good as its proof allows (see noise)."""


def return_levels(params: RingParams) -> int:
    """The number of primes a LowGear return keeps after switching: half of them rounded up (7 of 13)."""
    return (params.levels + 1) // 2


class SecretKey:
    """A ternary secret s, held in evaluation form for decryption; never shown by repr or str.

    Invariant: the coefficients of s lie in {-1, 0, 1}; s is kept at the full
    level of its ring, and restricted to the first primes for ciphertexts
    that were switched down.
    """

    __slots__ = ("_s",)
    _s: EvalPoly

    def __init__(self, s: CoeffPoly) -> None:
        object.__setattr__(self, "_s", s.ntt())

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("SecretKey is immutable")

    @property
    def params(self) -> RingParams:
        return self._s.params

    def __repr__(self) -> str:
        return f"SecretKey(n={self.params.n}, levels={self.params.levels}, <secret>)"

    __str__ = __repr__

    def decrypt(self, ct: Ciphertext) -> Plaintext:
        """m = scale^-1 * ([c0 - s c1]_Q mod t): the plaintext, if the noise stayed below Q/2.

        The subtraction, the centred reconstruction and the reduction run in
        the kernel without secret-dependent branches. A ciphertext whose
        noise exceeded Q/2 decrypts to a wrong plaintext; nothing here can
        tell, which is why the noise bound is checked ahead of time.
        """
        params = ct.params
        if params != self.params.prefix(params.levels):
            raise ConfigError("the ciphertext belongs to another ring than the key")
        s = self._s.prefix(params.levels)
        coeffs = (ct.c0 - (s * ct.c1.ntt()).intt()).to_field()
        if ct.scale != 1:
            coeffs = coeffs * pow(ct.scale, -1, T)
        return Plaintext(coeffs)

    def decrypt_slots(self, ct: Ciphertext) -> FieldVec:
        """The slots of the decrypted plaintext."""
        return self.decrypt(ct).decode()


@dataclass(frozen=True, eq=False)
class PublicKey:
    """(a, b = a s + t e) in evaluation form; ``at(levels)`` gives the key for fewer primes."""

    a: EvalPoly
    b: EvalPoly

    def __post_init__(self) -> None:
        if self.a.params != self.b.params:
            raise ConfigError("the two parts of a public key belong to different rings")

    @property
    def params(self) -> RingParams:
        return self.a.params

    def at(self, levels: int | None = None) -> PublicKey:
        """The key modulo the first ``levels`` primes (all of them by default): still b - a s = t e there."""
        if levels is None or levels == self.params.levels:
            return self
        return PublicKey(self.a.prefix(levels), self.b.prefix(levels))


def keygen(params: RingParams, randbytes: RandBytes = secrets.token_bytes) -> tuple[SecretKey, PublicKey]:
    """A key pair: s ternary, a uniform, e binomial, b = a s + t e."""
    secret, public, _, _ = keygen_with_witness(params, randbytes)
    return secret, public


def keygen_with_witness(params: RingParams, randbytes: RandBytes = secrets.token_bytes
                        ) -> tuple[SecretKey, PublicKey, np.ndarray, np.ndarray]:
    """:func:`keygen`'s key pair (the same for the same bytes) and its s and e as small integers: what the
    key's proof (:mod:`offchain.dealerless.keys`) takes as its witness."""
    s = sampling.ternary(params.n, randbytes)
    a = sampling.uniform_poly(params, randbytes)
    e = sampling.cbd(params.n, randbytes)
    sk = SecretKey(CoeffPoly.from_small(s, params))
    return sk, PublicKey(a, a * sk._s + CoeffPoly.from_small(e, params).scale(T).ntt()), s, e


@dataclass(frozen=True, eq=False)
class Ciphertext:
    """(c0, c1) in coefficient form, decrypting to ``scale`` * m modulo t (see the module docstring).

    Invariant: both parts belong to the same ring and 1 <= scale < t.
    """

    c0: CoeffPoly
    c1: CoeffPoly
    scale: int = 1

    def __post_init__(self) -> None:
        if self.c0.params != self.c1.params:
            raise ConfigError("the two parts of a ciphertext belong to different rings")
        if not 1 <= self.scale < T:
            raise ConfigError("a ciphertext's plaintext scale is a non-zero element of Z_r")

    @property
    def params(self) -> RingParams:
        return self.c0.params

    @property
    def levels(self) -> int:
        return self.c0.params.levels

    def _scaled(self, pt: Plaintext) -> CoeffPoly:
        """pt times the scale, lifted to (-r/2, r/2] in this ciphertext's ring."""
        coeffs = pt.coeffs if self.scale == 1 else pt.coeffs * self.scale
        return Plaintext(coeffs).lift(self.params)

    def __add__(self, other: Ciphertext | Plaintext) -> Ciphertext:
        """Enc(m) + Enc(m') = Enc(m + m'), or Enc(m) + m' = Enc(m + m'): noises add."""
        if isinstance(other, Plaintext):
            return Ciphertext(self.c0 + self._scaled(other), self.c1, self.scale)
        if not isinstance(other, Ciphertext):
            return NotImplemented
        if other.scale != self.scale:
            raise ConfigError("ciphertexts switched over different primes cannot be added")
        return Ciphertext(self.c0 + other.c0, self.c1 + other.c1, self.scale)

    def __sub__(self, other: Plaintext) -> Ciphertext:
        """Enc(m) - m' = Enc(m - m'): how a LowGear return subtracts its mask."""
        if not isinstance(other, Plaintext):
            return NotImplemented
        return Ciphertext(self.c0 - self._scaled(other), self.c1, self.scale)

    def __mul__(self, other: Plaintext) -> Ciphertext:
        """Enc(m) * b = Enc(m b), slot by slot; the noise is multiplied by at most N ||b||_inf."""
        if not isinstance(other, Plaintext):
            return NotImplemented
        return self.prepared() * other

    def prepared(self) -> PreparedCiphertext:
        """The ciphertext in evaluation form, to multiply it by several plaintexts for one transform."""
        return PreparedCiphertext(self.c0.ntt(), self.c1.ntt(), self.scale)

    def switch_to(self, levels: int) -> Ciphertext:
        """Modulus switching down to the first ``levels`` primes; the scale takes the dropped primes' inverses.

        The noise becomes noise / (Q/Q') plus at most (t/2)(1 + ||s||_1) per
        prime dropped (:meth:`offchain.lattice.ring.CoeffPoly.mod_switch`).
        """
        if levels == self.levels:
            return self
        factor = self.params.switch_factor(levels)
        return Ciphertext(self.c0.switch_to(levels), self.c1.switch_to(levels), self.scale * factor % T)

    def rerandomise(self, pk: PublicKey, randbytes: RandBytes = secrets.token_bytes) -> Ciphertext:
        """Adds a fresh encryption of zero under ``pk`` at this level: c1 no longer reveals the multiplier.

        Without it, c1 * b and the sender's own c1 would give b away by a division in R_Q.
        """
        zero = encrypt_zero(pk, randbytes, self.levels)
        # Zero is zero at every scale, so the sum keeps this ciphertext's.
        return Ciphertext(self.c0 + zero.c0, self.c1 + zero.c1, self.scale)

    def flood(self, randbytes: RandBytes = secrets.token_bytes, bits: int = FLOOD_BITS) -> Ciphertext:
        """Adds t u to c0, u uniform in (-2^bits, 2^bits): the decryption noise no longer reveals the multiplier.

        The plaintext is unchanged (t u = 0 mod t); the noise grows by t (2^bits - 1).
        """
        u = sampling.symmetric_poly(self.params, bits, randbytes)
        return Ciphertext(self.c0 + u.scale(T), self.c1, self.scale)


@dataclass(frozen=True, eq=False)
class PreparedCiphertext:
    """A ciphertext in evaluation form: it can only be multiplied by plaintexts (into a Ciphertext)."""

    c0: EvalPoly
    c1: EvalPoly
    scale: int = 1

    def __post_init__(self) -> None:
        if self.c0.params != self.c1.params:
            raise ConfigError("the two parts of a ciphertext belong to different rings")

    @property
    def params(self) -> RingParams:
        return self.c0.params

    def __mul__(self, other: Plaintext) -> Ciphertext:
        """Enc(m) * b: b lifted to (-r/2, r/2] and multiplied into both parts; the scale is unchanged."""
        if not isinstance(other, Plaintext):
            return NotImplemented
        b = other.lift(self.params).ntt()
        return Ciphertext((self.c0 * b).intt(), (self.c1 * b).intt(), self.scale)


def encrypt(pk: PublicKey, pt: Plaintext, randbytes: RandBytes = secrets.token_bytes,
            levels: int | None = None) -> Ciphertext:
    """c = (b v + t e0 + m, a v + t e1) with v ternary and e0, e1 binomial, at ``levels`` primes (default all).

    Then c0 - s c1 = m + t (e v + e0 - s e1): the noise of a fresh encryption.
    """
    key = pk.at(levels)
    return _encrypt(key, pt.lift(key.params), randbytes)


def encrypt_zero(pk: PublicKey, randbytes: RandBytes = secrets.token_bytes, levels: int | None = None) -> Ciphertext:
    """A fresh encryption of the zero plaintext, for re-randomisation."""
    key = pk.at(levels)
    return _encrypt(key, CoeffPoly.zeros(key.params), randbytes)


def encrypt_with(pk: PublicKey, m: CoeffPoly, v: CoeffPoly, e0: CoeffPoly, e1: CoeffPoly) -> Ciphertext:
    """c = (b v + t e0 + m, a v + t e1) with the randomness given, at the level of ``pk``.

    Nothing here checks that m, v, e0, e1 are small: a proof of plaintext
    knowledge (:mod:`offchain.lattice.zk`) encrypts its wide masks and
    responses with it, and :func:`encrypt` its sampled randomness.
    """
    vv = v.ntt()
    return Ciphertext((pk.b * vv).intt() + e0.scale(T) + m, (pk.a * vv).intt() + e1.scale(T))


def _encrypt(pk: PublicKey, m: CoeffPoly, randbytes: RandBytes) -> Ciphertext:
    params = pk.params
    v, e0, e1 = (CoeffPoly.from_small(draw(params.n, randbytes), params)
                 for draw in (sampling.ternary, sampling.cbd, sampling.cbd))
    return encrypt_with(pk, m, v, e0, e1)


def return_product(ct: Ciphertext | PreparedCiphertext, multiplier: Plaintext, mask: Plaintext, pk: PublicKey,
                   randbytes: RandBytes = secrets.token_bytes, levels: int | None = None) -> Ciphertext:
    """Party j's answer to party i's Enc_i(a_i) in LowGear: Enc_i(a_i * b_j - r_ij), j keeping r_ij.

    In the order of LowGear's triple generation (Overdrive, KPR18): multiply by b_j, add a
    fresh encryption of zero under i's key, switch down to ``levels`` primes
    (default :func:`return_levels`), flood, subtract the mask. Party i adds
    the n - 1 returns and decrypts once; sum_j (a_i b_j - r_ij) plus the
    r_ij kept by each j gives a_i * sum_j b_j.
    """
    product = ct * multiplier
    target = return_levels(product.params) if levels is None else levels
    return product.rerandomise(pk, randbytes).switch_to(target).flood(randbytes) - mask
