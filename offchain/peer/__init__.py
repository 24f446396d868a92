"""A member's runtime and the preprocessing service: where the chain meets the engine.

Only this package (with the CLI and scripts) imports both ``offchain`` and
``onchain``; arithmetic, preprocessing, engine and net never import the chain.
"""
