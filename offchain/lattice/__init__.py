"""The ring arithmetic of BGV for dealerless preprocessing (LowGear, Keller-Pastro-Rotaru 2018).

Modules in dependency order: :mod:`~offchain.lattice.params` (rings and
their NTT-friendly primes), :mod:`~offchain.lattice.tables` (precomputed
transform and switching constants), :mod:`~offchain.lattice.ring` (RNS
polynomials, NTT, CRT, modulus switching) and :mod:`~offchain.lattice.slots`
(plaintexts modulo r and their N slots). Encryption, keys and proofs build on
these and are not here yet.
"""

from offchain.lattice.params import RingParams, ntt_primes, production, small
from offchain.lattice.ring import BACKEND, CoeffPoly, EvalPoly
from offchain.lattice.slots import Plaintext, decode, encode

__all__ = ["BACKEND", "CoeffPoly", "EvalPoly", "Plaintext", "RingParams", "decode", "encode", "ntt_primes",
           "production", "small"]
