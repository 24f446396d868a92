"""Range checks under MPC: every value in range passes, any field element outside is named,
the needs are exact, and a party that corrupts a message never gets an honest value blamed."""

from __future__ import annotations

import pytest
from fixedpoint_testkit import CHEATER, assert_needs_exact, message_count, share
from offchain_testkit import add_to_vector_message, run, values_of

from offchain.engine import estimate, ranges
from offchain.engine.context import Context
from offchain.engine.opening import output_many
from offchain.engine.ranges import Bound
from offchain.errors import ProtocolAbort, RangeCheckFailed
from offchain.field import FieldVec, P

S64 = ranges.signed(64)
BOUNDS = [S64, S64, S64, S64, Bound(0, 1), Bound(0, 1), Bound(0, 100), Bound(0, 100),
          Bound(-5, 10), Bound(-5, 10), Bound(0, 0)]
INSIDE = [0, -(2**63), 2**63 - 1, -1, 0, 1, 0, 100, -5, 10, 0]
# Just outside each edge, and field elements nowhere near the range.
OUTSIDE = [2**63, -(2**63) - 1, P // 2, 2**200, 2, -1, 101, -1, 11, -6, 1]


def checked(values: list[int], bounds: list[Bound]):  # type: ignore[no-untyped-def]
    async def program(ctx: Context) -> list[int]:
        x = await share(ctx, 2, FieldVec.from_ints(values))
        await ranges.check(ctx, x, bounds)
        (out,) = await output_many(ctx, [x])
        return out.to_signed_ints()
    return program


def needs_of(bounds: list[Bound]) -> estimate.Needs:
    return estimate.input_values(2, len(bounds)) + estimate.range_check(bounds)


def test_values_in_range_pass_at_every_edge() -> None:
    assert values_of(run(3, checked(INSIDE, BOUNDS), needs_of(BOUNDS))) == INSIDE


@pytest.mark.parametrize("position", range(len(OUTSIDE)))
def test_a_value_outside_its_range_is_named_by_every_party(position: int) -> None:
    values = INSIDE.copy()
    values[position] = OUTSIDE[position]
    results = run(3, checked(values, BOUNDS), needs_of(BOUNDS))
    assert all(isinstance(r, RangeCheckFailed) and r.indices == [position] for r in results), results


def test_every_value_outside_is_named() -> None:
    results = run(3, checked(OUTSIDE, BOUNDS), needs_of(BOUNDS))
    assert all(isinstance(r, RangeCheckFailed) and r.indices == list(range(len(OUTSIDE)))
               for r in results), results


def test_the_needs_are_exact() -> None:
    bounds = [S64, Bound(0, 1), Bound(0, 100), Bound(3, 3)]
    assert_needs_exact(checked([5, 1, 7, 3], bounds), estimate.range_check(bounds),
                       estimate.input_values(2, len(bounds)))


def test_a_corrupted_message_never_blames_an_honest_value() -> None:
    """A cheater that adds 1 to any one message it sends makes the honest parties abort,
    but never with RangeCheckFailed: the values are in range, so no one may be named."""
    program, needs = checked(INSIDE, BOUNDS), needs_of(BOUNDS)
    for k in range(message_count(program, needs)):
        def tamper(frm: int, to: int, index: int, payload: bytes, k: int = k) -> bytes:
            return add_to_vector_message(payload) if frm == CHEATER and index == k else payload

        results = run(3, program, needs, tamper=tamper)
        honest = [r for i, r in enumerate(results) if i != CHEATER]
        assert not any(isinstance(r, RangeCheckFailed) for r in honest), (k, results)
        assert all(r == INSIDE or isinstance(r, ProtocolAbort) for r in honest), (k, results)


def test_an_empty_range_is_refused() -> None:
    with pytest.raises(ValueError, match="empty range"):
        Bound(3, 2)
