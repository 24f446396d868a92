"""Helpers for the fixed-point, comparison and division tests (n parties in one process)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from offchain.engine.context import Context
from offchain.engine.inputs import input_values
from offchain.errors import ProtocolAbort, TuplesExhausted
from offchain.field import FieldVec
from offchain.preprocessing.tuples import Needs
from offchain.shares import SharedVec
from offchain_testkit import add_to_vector_message, run, values_of

Program = Callable[[Context], Awaitable[Any]]
CHEATER = 1


async def share(ctx: Context, owner: int, values: FieldVec) -> SharedVec:
    """``values`` (known to the test) input by party ``owner``."""
    return await input_values(ctx, owner, values if ctx.party == owner else None, len(values))


def without_one(needs: Needs, key: object) -> Needs:
    """``needs`` with one tuple of ``key`` fewer."""
    return Needs({k: c - (k == key) for k, c in needs.counts.items() if c - (k == key) > 0})


def assert_needs_exact(program: Program, needs: Needs, base: Needs = Needs()) -> None:
    """Runs with ``base + needs``; with one tuple fewer of any kind, TuplesExhausted."""
    values_of(run(3, program, base + needs))
    for key, _ in needs:
        results = run(3, program, base + without_one(needs, key))
        assert all(isinstance(r, TuplesExhausted) for r in results), (key, results)


def message_count(program: Program, needs: Needs) -> int:
    """How many messages the cheater sends party 0 in an honest run."""
    count = [0]

    def tally(frm: int, to: int, index: int, payload: bytes) -> bytes:
        count[0] += frm == CHEATER and to == 0
        return payload

    values_of(run(3, program, needs, tamper=tally))
    return count[0]


def assert_fault_never_yields_wrong_output(program: Program, needs: Needs, k: int,
                                           right: Callable[[Any], bool], *,
                                           to_everyone: bool) -> None:
    """Corrupts the cheater's k-th message (to party 0, or to everyone): honest parties
    output a value that is ``right`` or abort, and party 0 (who got a corrupted message) aborts."""
    def tamper(frm: int, to: int, index: int, payload: bytes) -> bytes:
        if frm == CHEATER and index == k and (to_everyone or to == 0):
            return add_to_vector_message(payload)
        return payload

    results = run(3, program, needs, tamper=tamper)
    honest = [r for i, r in enumerate(results) if i != CHEATER]
    assert all(isinstance(r, ProtocolAbort) or right(r) for r in honest), results
    assert isinstance(results[0], ProtocolAbort), results
