"""Tuples made ahead of time: kinds and batches, the dealer, their delivery, and the peer's cache."""
