"""Ring parameters of BGV: Z_Q[X]/(X^N + 1) with Q a product of NTT-friendly primes.

A prime q is NTT-friendly for ring dimension N when q = 1 (mod 2N): then Z_q
holds a primitive 2N-th root of unity psi, and the negacyclic NTT evaluates a
polynomial at the odd powers psi^(2k+1), the N roots of X^N + 1 modulo q.
Every prime is below 2^62 so that the kernel's lazy butterflies (values kept
in [0, 4q), after Harvey 2014) never overflow 64 bits.

The primes are found deterministically, largest first below a power of two,
so every party derives the same set from (N, count, bits) alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, cached_property

from offchain.errors import ConfigError
from offchain.field import P

PLAINTEXT_MODULUS = P
"""t = r, the BN254 group order: plaintext slots are field elements of mpcc."""

MAX_PRIME_BITS = 62
PRODUCTION_N = 2**15
PRODUCTION_PRIMES = 13
SWITCHED_PRIMES = 7
"""Returned ciphertexts are switched down to the first seven primes (427 bits) before flooding."""
_MR_BASES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37)


def is_prime(n: int) -> bool:
    """Miller-Rabin with the first twelve prime bases: exact for every n < 3.3 * 10^24.

    The bases are the deterministic set for 64-bit integers (and well beyond),
    so no randomness is involved and the answer is a proof, not a probability.
    """
    if n < 2:
        return False
    for p in _MR_BASES:
        if n % p == 0:
            return n == p
    if n >= 3_317_044_064_679_887_385_961_981:
        raise ConfigError("is_prime is deterministic only below 3.3e24")
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for a in _MR_BASES:
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def ntt_primes(n: int, count: int, bits: int = 61) -> tuple[int, ...]:
    """The ``count`` largest primes q < 2^bits with q = 1 (mod 2n), in decreasing order.

    Walks q = 2^bits - 2n*k + 1 for k = 1, 2, ... (each candidate is 1 mod 2n
    because 2n divides 2^bits) and keeps the primes; raises ConfigError if the
    candidates run out before ``count`` primes of exactly ``bits`` bits are found.
    """
    _check_dimension(n)
    if not 2 * n < 2 ** (bits - 1) or bits > MAX_PRIME_BITS:
        raise ConfigError(f"cannot find {bits}-bit primes = 1 mod {2 * n} below 2^{MAX_PRIME_BITS}")
    found: list[int] = []
    q = 2**bits + 1 - 2 * n
    while len(found) < count:
        if q < 2 ** (bits - 1):
            raise ConfigError(f"only {len(found)} primes of {bits} bits are 1 mod {2 * n}")
        if is_prime(q):
            found.append(q)
        q -= 2 * n
    return tuple(found)


def _check_dimension(n: int) -> None:
    if n < 2 or n & (n - 1):
        raise ConfigError(f"the ring dimension must be a power of two >= 2, not {n}")


@dataclass(frozen=True)
class RingParams:
    """Z_Q[X]/(X^n + 1) with Q = prod(primes): what an RNS polynomial lives in.

    Invariant: n is a power of two, the primes are distinct, each is prime,
    below 2^62 and = 1 (mod 2n). The level of a ciphertext is how many of the
    primes it still uses; :meth:`prefix` gives the parameters one level down.
    """

    n: int
    primes: tuple[int, ...]

    def __post_init__(self) -> None:
        _check_dimension(self.n)
        if not self.primes:
            raise ConfigError("a ring needs at least one prime")
        if len(set(self.primes)) != len(self.primes):
            raise ConfigError("the primes of a ring must be distinct")
        for q in self.primes:
            if not 2 < q < 2**MAX_PRIME_BITS or q % (2 * self.n) != 1 or not is_prime(q):
                raise ConfigError(f"{q} is not a prime below 2^{MAX_PRIME_BITS} that is 1 mod {2 * self.n}")

    @property
    def levels(self) -> int:
        """L, the number of primes in use."""
        return len(self.primes)

    @cached_property
    def modulus(self) -> int:
        """Q, the product of the primes."""
        q = 1
        for p in self.primes:
            q *= p
        return q

    def prefix(self, levels: int) -> RingParams:
        """The same ring with only the first ``levels`` primes (after modulus switching)."""
        if not 1 <= levels <= self.levels:
            raise ConfigError(f"level {levels} is outside 1..{self.levels}")
        return RingParams(self.n, self.primes[:levels])

    def switch_factor(self, levels: int | None = None) -> int:
        """prod q_j^-1 mod t over the primes dropped when switching down to ``levels`` (default: one).

        Modulus switching multiplies the plaintext modulo t by this factor
        (see :meth:`offchain.lattice.ring.CoeffPoly.mod_switch`).
        """
        target = self.levels - 1 if levels is None else levels
        if not 1 <= target < self.levels:
            raise ConfigError(f"cannot switch from {self.levels} primes down to {target}")
        factor = 1
        for q in self.primes[target:]:
            factor = factor * pow(q, -1, PLAINTEXT_MODULUS) % PLAINTEXT_MODULUS
        return factor


@cache
def production() -> RingParams:
    """N = 2^15 and thirteen 61-bit primes (793 bits, below the 881 that N = 2^15 allows at 128-bit security
    with a ternary secret): fresh ciphertexts of the LowGear design."""
    return RingParams(PRODUCTION_N, ntt_primes(PRODUCTION_N, PRODUCTION_PRIMES, 61))


def small(n: int = 16, count: int = 3, bits: int = 61) -> RingParams:
    """A small ring for tests: the same kind of primes, a dimension where schoolbook products are cheap."""
    return RingParams(n, ntt_primes(n, count, bits))
