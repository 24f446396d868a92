"""Publicly verifiable jobs: Pedersen commitments to shares and the checks anyone can run on them."""
