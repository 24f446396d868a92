"""BGV for dealerless preprocessing (LowGear, Keller-Pastro-Rotaru 2018): the ring and the scheme.

Modules in dependency order: :mod:`~offchain.lattice.params` (rings and
their NTT-friendly primes), :mod:`~offchain.lattice.tables` (precomputed
transform, switching and CRT constants), :mod:`~offchain.lattice.ring` (RNS
polynomials, NTT, CRT, modulus switching), :mod:`~offchain.lattice.slots`
(plaintexts modulo r and their N slots), :mod:`~offchain.lattice.sampling`
(uniform, ternary, binomial and flooding distributions from a byte source),
:mod:`~offchain.lattice.bgv` (keys, encryption, decryption, the homomorphic
operations and a LowGear return), :mod:`~offchain.lattice.wide` (integer
polynomials with wide coefficients), :mod:`~offchain.lattice.zkparams` (the
shape, soundness, hiding and slack of a TopGear proof),
:mod:`~offchain.lattice.noise` (the worst-case noise bound of the pipeline
with that slack, and its margin), :mod:`~offchain.lattice.zk` (the TopGear
proof of plaintext knowledge) and :mod:`~offchain.lattice.wire` (the byte
formats of public keys and ciphertexts). The protocol is
:mod:`offchain.dealerless`; it does not use the proofs yet.
"""

from offchain.lattice.bgv import Ciphertext, PublicKey, SecretKey, encrypt, keygen, return_product
from offchain.lattice.params import RingParams, ntt_primes, production, small
from offchain.lattice.ring import BACKEND, CoeffPoly, EvalPoly
from offchain.lattice.slots import Plaintext, decode, encode

__all__ = ["BACKEND", "Ciphertext", "CoeffPoly", "EvalPoly", "Plaintext", "PublicKey", "RingParams", "SecretKey",
           "decode", "encode", "encrypt", "keygen", "ntt_primes", "production", "return_product", "small"]
