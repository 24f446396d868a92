"""The online SPDZ protocols, as async functions of a per-party :class:`Context`.

Modules in dependency order: context (state) -> comm (exchanges, broadcast
transcript) -> coin (commitments, joint coins) -> mac_check -> opening
(open, output) -> inputs -> arith (Beaver products) -> estimate (tuple needs)
-> local (n parties in one process). Fixed point and comparison build on
these (random bits and truncation pairs come from ``Context.take``):
bitwise (random masks, bit circuits, bit decomposition) -> fixedpoint
(encoding, TruncPr, products) -> compare (LTZ, EQZ, min/max/argmax) ->
divide (reciprocal, division, square root); estimate has their tuple needs.
"""
