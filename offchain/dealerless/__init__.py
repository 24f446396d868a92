"""Dealerless preprocessing: the organisations make their own SPDZ tuples (LowGear, Keller-Pastro-Rotaru 2018).

Modules in dependency order: :mod:`~offchain.dealerless.messages` (the
byte formats of the protocol's messages), :mod:`~offchain.dealerless.keys`
(each party's key pair, and the statement its proof proves),
:mod:`~offchain.dealerless.announce` (the broadcasts of ciphertexts under
those keys, each verified with a TopGear proof, or a diagonal proof for the
MAC key, before use), :mod:`~offchain.dealerless.returns` (the pairwise
masked products: each party's share of sum_{i != j} x_i y_j) and
:mod:`~offchain.dealerless.lowgear` (the session setup and the triple and
square batches, handed to the engine's sacrifice as
:class:`~offchain.preprocessing.tuples.PartyBatch` objects) and
:mod:`~offchain.dealerless.kinds` (random bits from square pairs, and input
masks for an owner, as batches of the same form) and
:mod:`~offchain.dealerless.produce` (a batch of any stored kind from a key
and a count, and the commitment a member puts on chain for it) and
:mod:`~offchain.dealerless.kept` (the setup each member keeps between
sessions, its decryption key sealed, resumed when every member kept the
same). Truncation
pairs are never made: every party builds them from checked bits.

The lattice arithmetic and the proofs are :mod:`offchain.lattice`; the
sacrifice and MAC check are the engine's. Security against a malicious
party: see :mod:`~offchain.dealerless.lowgear` and
:mod:`~offchain.dealerless.keys`.
"""

from offchain.dealerless.kinds import bit_batch, input_mask_batch
from offchain.dealerless.lowgear import LowGear, check_parameters, setup, square_batch, triple_batch

__all__ = ["LowGear", "bit_batch", "check_parameters", "input_mask_batch", "setup", "square_batch", "triple_batch"]
