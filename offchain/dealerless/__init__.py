"""Dealerless preprocessing: the organisations make their own SPDZ tuples (LowGear, Keller-Pastro-Rotaru 2018).

Modules in dependency order: :mod:`~offchain.dealerless.messages` (the
byte formats of the protocol's messages), :mod:`~offchain.dealerless.announce`
(the broadcasts of keys and of ciphertexts under them, where the
zero-knowledge proofs will attach), :mod:`~offchain.dealerless.returns` (the
pairwise masked products: each party's share of sum_{i != j} x_i y_j) and
:mod:`~offchain.dealerless.lowgear` (the session setup and the triple and
square batches, handed to the engine's sacrifice as
:class:`~offchain.preprocessing.tuples.PartyBatch` objects).

The lattice arithmetic is :mod:`offchain.lattice`; the sacrifice and MAC
check are the engine's. Without the proofs this is not yet secure against a
malicious party (see :mod:`~offchain.dealerless.lowgear`).
"""

from offchain.dealerless.lowgear import LowGear, check_parameters, setup, square_batch, triple_batch

__all__ = ["LowGear", "check_parameters", "setup", "square_batch", "triple_batch"]
