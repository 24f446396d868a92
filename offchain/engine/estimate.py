"""Tuple needs of each engine operation, known before a computation starts.

A job adds up the needs of the operations it will run and reserves them
(``TupleSource.reserve(needs)``) before it sends its first message, so it
never stops half way for lack of tuples. Operations built on top of the
engine (fixed point, comparison) add their functions here, composing these.
Opening and output consume no tuples.

    needs = estimate.input_values(0, 100) + estimate.input_values(1, 100) + estimate.mul(100)
"""

from __future__ import annotations

from offchain.preprocessing.tuples import Needs, TupleKey, TupleKind

__all__ = ["Needs", "bits", "input_values", "mul", "square", "trunc"]


def input_values(owner: int, count: int) -> Needs:
    """``input_values(ctx, owner, ..., count)``: one mask of ``owner`` per value."""
    return Needs.of(TupleKey(TupleKind.INPUT_MASK, owner=owner), count)


def mul(count: int) -> Needs:
    """``mul`` of two vectors of length ``count``: one triple per element."""
    return Needs.of(TupleKind.TRIPLE, count)


def square(count: int) -> Needs:
    """``square`` of a vector of length ``count``: one square pair per element."""
    return Needs.of(TupleKind.SQUARE, count)


def bits(count: int) -> Needs:
    """``count`` shared random bits taken with ``ctx.take(TupleKind.BIT, count)``."""
    return Needs.of(TupleKind.BIT, count)


def trunc(count: int, f: int, bits: int) -> Needs:
    """``count`` truncation pairs (<r>, <r mod 2^f>) with r < 2^bits."""
    return Needs.of(TupleKey(TupleKind.TRUNC, f=f, bits=bits), count)
