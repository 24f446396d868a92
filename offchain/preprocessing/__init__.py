"""Tuples made ahead of time: kinds and batches, the dealer, the sacrifice, tuple sources.

Data flow: dealer.Dealer -> tuples.PartyBatch (bytes on the way) ->
sacrifice.accept_batch (joint check) -> tuples.TupleSet -> source.TupleSource.
"""
