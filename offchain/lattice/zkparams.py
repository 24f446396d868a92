"""The numbers of a TopGear proof: its shape, soundness, hiding, the verifier's bounds and the slack they leave.

TopGear (Baum-Cozzo-Smart, "Using TopGear in Overdrive", SAC 2019) proves
knowledge of bounded (m_k, v_k, e0_k, e1_k) behind U ciphertexts C_k with V
masking ciphertexts D_i, answering a challenge matrix W in C^(V x U) with
C = {0} u {X^j : 0 <= j < 2N}, 2N + 1 monomials (X^(N+j) = -X^j).

Soundness. Row i of the verifier's check only involves row i of W, so two
accepted challenges whose row i differs in entry k alone give
(W_ik - W'_ik) C_k = Enc(z_i - z'_i; t_i - t'_i). A prover without a
witness for C_k can therefore be accepted, in each row, on at most one value
of W_ik per choice of the row's other entries: on a fraction at most
(2N + 1)^-V of the matrices. We take V = ceil((sec + 2) / log2(2N + 1)) as
MP-SPDZ does (two bits for the extractor), U = 2V: N = 2^15 gives V = 3, U = 6
and a knowledge error of 65537^-3 = 2^-48.0 per proof.

Extraction and the factor 2. For 0 < d < 2N, 2 / (X^d - 1) has coefficients in
{-1, 0, 1} (Benhamouda et al. 2014, Lemma 3.2), so its l1 norm is at most N.
Multiplying the difference above by 2 / (W_ik - W'_ik) gives a witness for
2 C_k (not C_k) whose every part is at most 2N times the verifier's bound
(when one entry is 0 the inverse is a monomial and 4 times suffices). So a
verified proof vouches for 2 C_k only.

Hiding. Mask coefficients are uniform on [-2^b, 2^b) with 2^b >= 2^Z U h,
h the honest bound of the part (r/2 for m, 1 for v, the binomial k for e0 and e1);
a response coefficient is a mask shifted by at most U h, at statistical
distance at most U h / 2^(b+1) <= 2^-(Z+1) from the mask alone. Over the 4 V N
coefficients of a response that is at most 2^-zk_bits when
Z = zk_bits - 1 + ceil(log2(4 V N)) (Z = 58 in production). The prover never
aborts, so the proof is honest-verifier statistical zero knowledge, which is
what a challenge from the joint coin needs.

Verifier's bound on each part: 2^b + U h, the largest honest response.

The diagonal proof (``diagonal=True``, Overdrive's "Diag" flag). It shows that
each C_k encrypts a constant polynomial, the same value in every slot, as a
MAC key share must be. A monomial X^j times a constant is no longer
constant, so the challenges are the integers w with |w| <= K = 6
(:data:`DIAGONAL_CHALLENGE`, 13 values); plaintext masks are constants; the
verifier checks that every plaintext response is constant. A response now
shifts its mask by up to K U h, so masks and bounds count K U h where the
ordinary proof counts U h.

Soundness: as above, with |C| = 2K + 1 = 13, so the knowledge error is
13^-V and V = ceil((sec + 2) / log2 13) (12 for 40 bits: 2^-44.4), U = 1.
Extraction: two accepted challenges differing in row i give d C_k =
Enc(z - z'; t - t') with 0 < |d| <= 2K. Every such d divides
L = lcm(1, ..., 2K) = 27720, so L C_k = (L / d) d C_k has a witness with a
constant plaintext and every part at most 2L times the verifier's bound
(:attr:`ProofParams.vouched` = L, :attr:`ProofParams.extraction_factor` = 2L):
a verified diagonal proof vouches for L C_k, which LowGear multiplies by
y L^-1 mod r. With K = 1 it would vouch for 2 C_k with factor 4, but need
V = 27 rows; K = 6 keeps 2L = 2^15.8 below the ordinary proof's 2N = 2^16
in production and needs 12 rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from offchain.errors import ConfigError
from offchain.lattice.params import PLAINTEXT_MODULUS
from offchain.lattice.sampling import CBD_K

SOUNDNESS_BITS = 40
"""The knowledge error per proof is at most 2^-40 (2^-48 in production)."""
ZK_BITS = 40
"""A proof's transcript is within statistical distance 2^-40 of a simulated one."""
EXTRACTOR_BITS = 2
"""Extra soundness bits asked of V, as MP-SPDZ asks them (its V = ceil((sec + 2) / log2(2N + 1)))."""
HONEST_PLAIN = (PLAINTEXT_MODULUS - 1) // 2
"""An honest plaintext is lifted to (-r/2, r/2]."""
HONEST_TERNARY = 1
HONEST_NOISE = CBD_K
DIAGONAL_CHALLENGE = 6
"""K: a diagonal proof's challenges are the integers -K..K."""


@dataclass(frozen=True)
class ProofParams:
    """The shape of a TopGear proof over ring dimension ``n``: ``u`` ciphertexts, ``v`` masks.

    Every bound and width below is derived from (n, u, v, zk_bits, diagonal);
    both sides of a proof must use the same five.
    """

    n: int
    u: int
    v: int
    zk_bits: int = ZK_BITS
    diagonal: bool = False
    """Whether the plaintexts proven are constant polynomials, with integer challenges (see the module)."""

    def __post_init__(self) -> None:
        if self.n < 2 or self.n & (self.n - 1):
            raise ConfigError(f"the ring dimension must be a power of two >= 2, not {self.n}")
        if not (1 <= self.u <= 255 and 1 <= self.v <= 255 and 1 <= self.zk_bits <= 256):
            raise ConfigError(f"a proof has 1..255 ciphertexts and masks, not u={self.u}, v={self.v}")

    @classmethod
    def for_ring(cls, n: int, soundness_bits: int = SOUNDNESS_BITS, zk_bits: int = ZK_BITS) -> ProofParams:
        """V = ceil((soundness + 2) / log2(2N + 1)) masks and U = 2V ciphertexts, as in TopGear's analysis."""
        v = math.ceil((soundness_bits + EXTRACTOR_BITS) / math.log2(2 * n + 1))
        return cls(n, 2 * v, v, zk_bits)

    @classmethod
    def diagonal_for_ring(cls, n: int, soundness_bits: int = SOUNDNESS_BITS, zk_bits: int = ZK_BITS) -> ProofParams:
        """The diagonal proof of one ciphertext: V = ceil((soundness + 2) / log2(2K + 1)) masks, U = 1."""
        v = math.ceil((soundness_bits + EXTRACTOR_BITS) / math.log2(2 * DIAGONAL_CHALLENGE + 1))
        return cls(n, 1, v, zk_bits, diagonal=True)

    @property
    def challenges(self) -> int:
        """|C|: 2N + 1 (zero and the monomials X^j, 0 <= j < 2N), or 2K + 1 (the integers -K..K) if diagonal."""
        return 2 * DIAGONAL_CHALLENGE + 1 if self.diagonal else 2 * self.n + 1

    @property
    def challenge_norm(self) -> int:
        """The most a challenge entry multiplies a coefficient by: 1 for a monomial, K for an integer."""
        return DIAGONAL_CHALLENGE if self.diagonal else 1

    @property
    def vouched(self) -> int:
        """f such that a verified proof vouches for f C_k: 2, or L = lcm(1..2K) = 27720 for a diagonal proof."""
        return math.lcm(*range(1, 2 * DIAGONAL_CHALLENGE + 1)) if self.diagonal else 2

    @property
    def soundness_bits(self) -> float:
        """-log2 of the knowledge error |C|^-V."""
        return self.v * math.log2(self.challenges)

    @property
    def hiding_bits(self) -> int:
        """Z: each mask is 2^Z times wider than the U honest values it hides."""
        return self.zk_bits - 1 + math.ceil(math.log2(4 * self.v * self.n))

    def mask_bits(self, honest: int) -> int:
        """b with masks uniform on [-2^b, 2^b) and 2^b >= 2^Z U honest (2^Z K U honest if diagonal)."""
        return self.hiding_bits + (self.u * self.challenge_norm * honest).bit_length()

    def check_bound(self, honest: int) -> int:
        """What the verifier enforces on a response part: 2^b plus the largest honest shift, U honest (K U honest)."""
        return (1 << self.mask_bits(honest)) + self.u * self.challenge_norm * honest

    def width(self, honest: int) -> int:
        """Bytes of one response coefficient on the wire: the check bound, signed."""
        return (self.check_bound(honest).bit_length() + 8) // 8

    @property
    def zk_distance_bits(self) -> float:
        """log2 of the statistical distance bound: the sum over parts of V N U h / 2^(b+1) (with K U h if diagonal)."""
        parts = (HONEST_PLAIN, HONEST_TERNARY, HONEST_NOISE, HONEST_NOISE)
        shift = self.u * self.challenge_norm
        total = sum(self.v * self.n * shift * h / 2 ** (self.mask_bits(h) + 1) for h in parts)
        return math.log2(total)

    @property
    def extraction_factor(self) -> int:
        """How much larger than the verifier's bound a part of the witness extracted for f C_k can be (f = vouched).

        2N for monomial challenges (the l1 norm of 2 / (X^d - 1) times the 2 of a
        difference of responses); 2L for a diagonal proof (L / d <= L, times 2).
        """
        return 2 * self.vouched if self.diagonal else 2 * self.n

    @property
    def extracted(self) -> tuple[int, int, int]:
        """Bounds on the (plaintext, ternary part, noise parts) of the witness extracted for f C_k (f = vouched)."""
        return tuple(self.extraction_factor * self.check_bound(h)  # type: ignore[return-value]
                     for h in (HONEST_PLAIN, HONEST_TERNARY, HONEST_NOISE))
