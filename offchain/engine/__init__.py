"""The online SPDZ protocols, as async functions of an evaluator; no global runtime.

Modules in dependency order: session (a live party's transport, MAC key share,
transcript) -> comm (exchanges, broadcast transcript) -> coin (commitments,
joint coins) -> evaluator (the interface programs are written against: a live
party or a replay) -> mac_check -> opening (open, output) -> tape (Recorder,
Playback) -> context (a live party's evaluator) and replay (a replay's) ->
inputs -> arith (Beaver products) -> estimate (tuple needs). Fixed point and
comparison build on these (random bits and truncation pairs come from
``Evaluator.take``): bitwise (random masks, bit circuits, bit decomposition)
-> fixedpoint (encoding, TruncPr, products) -> compare (LTZ, EQZ,
min/max/argmax) -> divide (reciprocal, division, square root); estimate has
their tuple needs. The sacrifice checks a dealer's batch on a session.
"""
