"""Worst-case noise of the LowGear pipeline and the margin it leaves: the check the design asks to ship.

The noise of a ciphertext (c0, c1) is the integer polynomial x = scale * m + t e
with c0 - s c1 = x (mod Q), followed exactly through every operation;
decryption is right while ||x||_inf < Q/2 at the ciphertext's level. Every
bound here is a worst case on the infinity norm, with no probabilistic tail,
from two facts: ||x + y|| <= ||x|| + ||y||, and ||x y|| <= N ||x|| ||y|| in
Z[X]/(X^N + 1). Bounds are exact Python integers; only the margins are logs.

The pipeline (docs/dealerless-noise.md derives each step):

1. :func:`fresh_bound`: an honest encryption, ||m|| <= (t-1)/2, v and s
   ternary, e (the key's noise), e0, e1 binomial with parameter k.
2. :func:`extracted_bound`: 2 C, party i's ciphertext doubled, as a TopGear
   proof guarantees it. The knowledge extractor only finds a plaintext and
   randomness for 2 C, not C (:mod:`offchain.lattice.zkparams`), each part up
   to 2N times the verifier's bound; :func:`proof_slack_bits` turns that into
   a slack factor 2^slack_bits on the fresh bound (77 bits in production, the
   design's figure; 79 for the diagonal proof of the MAC key, whose L C
   takes the place of 2 C).
3. :func:`product_bound`: times party j's plaintext, b_j 2^-1 mod t so that
   2 C gives Enc(a_i b_j), lifted to coefficients of at most (t-1)/2; then
   plus a fresh encryption of zero (:func:`zero_bound`, the re-randomisation).
4. :func:`switch_bound`: modulus switching, prime by prime, down to the
   return level.
5. plus the flooding t (2^flood_bits - 1) and the mask's (t-1)/2.
6. times n - 1: party i adds the returns of every other party.

The margin is log2(Q_return / 2) - log2(total), for an honest receiver,
whose key is exact (s ternary, e binomial: :data:`EXACT_KEY`).

The flooding must hide the noise from any receiver, including one whose key
is only as good as its proof (:mod:`offchain.dealerless.keys`): s and e up
to the extracted bounds of the key proof (:func:`proven_key`, 2^77 and 2^81
in production), decrypting 2 C' with them. Steps 1 to 4 with that key give
the noise such a receiver could see (``NoiseReport.exposed``), and
:attr:`NoiseReport.flood_distance_bits` is log2 of the statistical distance
bound that flooding achieves against it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from offchain.errors import ConfigError
from offchain.lattice.bgv import FLOOD_BITS, return_levels
from offchain.lattice.params import PLAINTEXT_MODULUS, PRODUCTION_N, RingParams
from offchain.lattice.sampling import CBD_K
from offchain.lattice.zkparams import ProofParams

T = PLAINTEXT_MODULUS
HALF_T = (T - 1) // 2
"""The largest coefficient of a plaintext lifted to (-t/2, t/2]."""


@dataclass(frozen=True)
class KeyBound:
    """Bounds on a key pair's secret s and noise e (infinity norms), as the noise bounds take them."""

    s: int
    e: int


EXACT_KEY = KeyBound(1, CBD_K)
"""An honest key: s ternary, e binomial with parameter k."""


def proven_key(n: int) -> KeyBound:
    """What a verified key proof vouches for over dimension ``n``: 2 b = a s' + t e' with s' and e' up to the
    extracted bounds of the ring's TopGear proof on a ternary and a noise part (2^77 and 2^81 in production)."""
    _, s, e = ProofParams.for_ring(n).extracted
    return KeyBound(s, e)


def witness_bound(n: int, plain: int, ternary: int, noise: int, k: int = CBD_K, key: KeyBound | None = None) -> int:
    """||m + t (e v + e0 - s e1)|| for ||m|| <= plain, ||v|| <= ternary, ||e0||, ||e1|| <= noise.

    With the key's ||s|| <= key.s (so ||s||_1 <= N key.s) and ||e|| <= key.e
    (default: exact, s ternary and e at most k), ||e v|| <= N key.e ternary
    and ||s e1|| <= N key.s noise.
    """
    key = key or KeyBound(1, k)
    return plain + T * (n * key.e * ternary + noise + n * key.s * noise)


def zero_bound(n: int, k: int = CBD_K, key: KeyBound | None = None) -> int:
    """||t (e v + e0 - s e1)||: a fresh encryption of zero (with an exact key, ||e v||, ||s e1|| <= N k)."""
    return witness_bound(n, 0, 1, k, k, key)


def fresh_bound(n: int, k: int = CBD_K, key: KeyBound | None = None) -> int:
    """||m + t (e v + e0 - s e1)||: an honest fresh encryption of a plaintext lifted to (-t/2, t/2]."""
    return witness_bound(n, HALF_T, 1, k, k, key)


def extracted_parts(n: int) -> tuple[int, int, int]:
    """Bounds on the (plaintext, ternary, noise) parts of any ciphertext either proof of the ring accepts
    (TopGear's 2 C, the diagonal proof's L C), part by part the larger."""
    proofs = (ProofParams.for_ring(n), ProofParams.diagonal_for_ring(n))
    return tuple(max(p.extracted[i] for p in proofs) for i in range(3))  # type: ignore[return-value]


def proof_slack_bits(proof: ProofParams, k: int = CBD_K) -> int:
    """S with noise(2 C) <= 2^S fresh_bound for every C a TopGear proof with ``proof`` accepts.

    The extracted witness of 2 C has parts bounded by ``proof.extracted``;
    S is the least integer with 2^S fresh_bound >= its noise bound, in exact integers.
    """
    ratio = -(-witness_bound(proof.n, *proof.extracted, k=k) // fresh_bound(proof.n, k))
    return (ratio - 1).bit_length()


TOPGEAR_SLACK_BITS = proof_slack_bits(ProofParams.for_ring(PRODUCTION_N))
"""The slack of the production proof (N = 2^15, U = 6, V = 3, 40-bit hiding): 77 bits (2^76.8 exactly).

Derived from :class:`offchain.lattice.zkparams.ProofParams`, so a change of
U, V, the soundness or the hiding moves it and :func:`lowgear_noise` with it.
"""


def extracted_bound(n: int, slack_bits: int = TOPGEAR_SLACK_BITS, k: int = CBD_K) -> int:
    """The fresh bound with the plaintext m and the randomness v, e0, e1 each up to 2^slack_bits times larger.

    Every term of m + t (e v + e0 - s e1) is linear in one of m, v, e0, e1,
    and the (honest) key's s and e carry no slack, so the whole bound scales by 2^slack_bits.
    """
    return fresh_bound(n, k) << slack_bits


def product_bound(n: int, noise: int, multiplier: int = HALF_T) -> int:
    """||x b|| <= N ||x|| ||b||: the noise x times a plaintext b with coefficients of at most ``multiplier``."""
    return n * noise * multiplier


def switch_bound(noise: int, dropped: tuple[int, ...], n: int, key_s: int = 1) -> int:
    """The noise after dropping ``dropped`` primes one by one (last prime of the ring first).

    Dropping q turns x into (x - (d0 - s d1)) / q with d0, d1 multiples of t
    of size at most t (q-1)/2 (:meth:`offchain.lattice.ring.CoeffPoly.mod_switch`),
    so ||x'|| <= (||x|| + t ((q-1)/2) (1 + ||s||_1)) / q, and ||s||_1 <= N key_s.
    The relation c0 - s c1 = x (mod Q) holds for the exact integer x, so
    the switch is right even if ||x|| exceeded Q/2 before it: only the
    result has to stay below Q'/2.
    """
    for q in dropped:
        noise = -(-(noise + T * ((q - 1) // 2) * (1 + n * key_s)) // q)
    return noise


def flood_bound(bits: int = FLOOD_BITS) -> int:
    """||t u|| for u uniform in (-2^bits, 2^bits)."""
    return T * ((1 << bits) - 1)


@dataclass(frozen=True)
class NoiseReport:
    """Each stage's noise bound (exact integers) and the margins they leave, for one parameter set.

    ``margin_bits`` is the one that decides correctness: the noise that the
    decrypting party sees against half the return level's modulus.
    ``product_margin_bits`` compares the noise before switching with half
    the full modulus, which is headroom, not a requirement. ``exposed`` is
    the switched noise a receiver sees through a key as bad as its proof
    allows (:func:`proven_key`), and ``flood_distance_bits`` is log2 of
    N ||e|| / (2^(flood_bits+1) - 1), the statistical distance between a
    flooded return and pure flooding as that receiver sees them, e = 2
    (exposed / t + 1) (the 2: it decrypts 2 C', whose flooding is 2 t u).
    """

    n: int
    parties: int
    levels: int
    return_levels: int
    fresh: int
    extracted: int
    product: int
    switched: int
    exposed: int
    returned: int
    total: int
    margin_bits: float
    product_margin_bits: float
    flood_distance_bits: float


def lowgear_noise(params: RingParams, parties: int = 3, slack_bits: int = TOPGEAR_SLACK_BITS,
                  flood_bits: int = FLOOD_BITS, levels: int | None = None, k: int = CBD_K) -> NoiseReport:
    """The worst-case noise of one LowGear triple batch at ``params`` (see the module docstring)."""
    if parties < 2:
        raise ConfigError("LowGear needs at least two parties")
    target = return_levels(params) if levels is None else levels
    if not 1 <= target <= params.levels:
        raise ConfigError(f"cannot return at {target} of {params.levels} primes")
    n = params.n
    extracted = extracted_bound(n, slack_bits, k)
    product = product_bound(n, extracted) + zero_bound(n, k)
    dropped = params.primes[target:][::-1]
    switched = switch_bound(product, dropped, n)
    returned = switched + flood_bound(flood_bits) + HALF_T
    total = (parties - 1) * returned
    low = params.prefix(target).modulus
    # What a receiver with a key as bad as its proof allows sees: the same steps with that key.
    bad = proven_key(n)
    exposed_product = product_bound(n, witness_bound(n, *extracted_parts(n), k=k, key=bad)) + zero_bound(n, k, bad)
    exposed = switch_bound(exposed_product, dropped, n, bad.s)
    e_exposed = 2 * ((exposed + HALF_T) // T + 1)
    return NoiseReport(
        n=n, parties=parties, levels=params.levels, return_levels=target,
        fresh=fresh_bound(n, k), extracted=extracted, product=product, switched=switched, exposed=exposed,
        returned=returned, total=total,
        margin_bits=math.log2(low) - 1 - math.log2(total),
        product_margin_bits=math.log2(params.modulus) - 1 - math.log2(product),
        flood_distance_bits=math.log2(n * e_exposed) - math.log2((1 << (flood_bits + 1)) - 1))


def margin_bits(params: RingParams, parties: int = 3, slack_bits: int = TOPGEAR_SLACK_BITS,
                flood_bits: int = FLOOD_BITS) -> float:
    """log2(Q_return / 2) - log2(worst-case noise): positive means every decryption is right."""
    return lowgear_noise(params, parties, slack_bits, flood_bits).margin_bits
