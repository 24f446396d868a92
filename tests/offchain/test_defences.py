"""Every defence proven: a cheating party never makes an honest party output a wrong value."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from offchain.engine import estimate
from offchain.engine.arith import mul, square
from offchain.engine.coin import commit, open_commitment
from offchain.engine.context import Context
from offchain.engine.inputs import input_values
from offchain.engine.mac_check import check_pending
from offchain.engine.opening import open_value, output
from offchain.errors import (
    BroadcastMismatch, CommitmentMismatch, MacCheckFailed, ProtocolAbort)
from offchain.field import P, FieldVec
from offchain.shares import SharedVec
from offchain_testkit import add_to_vector_message, is_vector_message, run, values_of

CHEATER = 1
X, Y = [5, -7, 0], [2**64, 3, P - 1]
EXPECTED = [pow(x * y, 2, P) + x for x, y in zip(X, Y)]
NEEDS = (estimate.input_values(0, 3) + estimate.input_values(CHEATER, 3) + estimate.mul(3)
         + estimate.square(3))


def computation(cheat: Callable[[Context, SharedVec], SharedVec] = lambda c, v: v
                ) -> Callable[[Context], object]:
    """x*y squared plus x; ``cheat`` may alter the cheater's shares just before output."""
    async def program(ctx: Context) -> list[int]:
        x = await input_values(ctx, 0, FieldVec.from_ints(X) if ctx.party == 0 else None, 3)
        y = await input_values(ctx, CHEATER, FieldVec.from_ints(Y) if ctx.party == CHEATER
                               else None, 3)
        z = (await square(ctx, await mul(ctx, x, y))) + x
        if ctx.party == CHEATER:
            z = cheat(ctx, z)
        return (await output(ctx, z)).to_ints()
    return program


def honest(results: list[object]) -> list[object]:
    return [r for i, r in enumerate(results) if i != CHEATER]


def test_the_computation_is_right_without_cheating() -> None:
    assert values_of(run(3, computation(), NEEDS)) == EXPECTED


def test_an_error_in_an_opened_share_fails_the_mac_check() -> None:
    def cheat(ctx: Context, z: SharedVec) -> SharedVec:
        return SharedVec(z.share + FieldVec.from_ints([0, 1, 0]), z.mac)

    results = run(3, computation(cheat), NEEDS)
    assert all(isinstance(r, MacCheckFailed) for r in honest(results)), results


def test_an_error_in_a_mac_share_fails_the_mac_check() -> None:
    def cheat(ctx: Context, z: SharedVec) -> SharedVec:
        return SharedVec(z.share, z.mac - FieldVec.from_ints([0, 0, 12345]))

    results = run(3, computation(cheat), NEEDS)
    assert all(isinstance(r, MacCheckFailed) for r in honest(results)), results


def test_a_consistent_additive_attack_still_needs_alpha() -> None:
    # Shifting the share by d and the MAC by a guess of alpha_i*d is not enough:
    # the MAC relation involves the global key, which no party knows.
    def cheat(ctx: Context, z: SharedVec) -> SharedVec:
        d = FieldVec.from_ints([1, 1, 1])
        return SharedVec(z.share + d, z.mac + d * ctx.key.alpha)

    results = run(3, computation(cheat), NEEDS)
    assert all(isinstance(r, MacCheckFailed) for r in honest(results)), results


def test_an_equivocating_input_broadcast_is_caught() -> None:
    # The cheater's input broadcast is the 1st message on each of its channels;
    # it tells party 0 something else than party 2.
    def tamper(frm: int, to: int, index: int, payload: bytes) -> bytes:
        if frm == CHEATER and to == 0 and index == 0:
            return add_to_vector_message(payload)
        return payload

    results = run(3, computation(), NEEDS, tamper=tamper)
    assert all(isinstance(r, BroadcastMismatch) for r in honest(results)), results


def message_kinds() -> list[bool]:
    """For each message the cheater sends party 0: is it a vector (share or input)?"""
    kinds: list[bool] = []

    def tally(frm: int, to: int, index: int, payload: bytes) -> bytes:
        if frm == CHEATER and to == 0:
            kinds.append(is_vector_message(payload))
        return payload

    run(3, computation(), NEEDS, tamper=tally)
    return kinds


KINDS = message_kinds()
MESSAGES = len(KINDS)


@pytest.mark.parametrize("k", range(MESSAGES))
def test_corrupting_the_kth_message_to_everyone_aborts_every_honest_party(k: int) -> None:
    def tamper(frm: int, to: int, index: int, payload: bytes) -> bytes:
        return add_to_vector_message(payload) if frm == CHEATER and index == k else payload

    results = run(3, computation(), NEEDS, tamper=tamper)
    assert all(isinstance(r, ProtocolAbort) for r in honest(results)), results


@pytest.mark.parametrize("k", range(MESSAGES))
def test_corrupting_the_kth_message_to_one_party_never_yields_a_wrong_output(k: int) -> None:
    opened_share = []

    def tamper(frm: int, to: int, index: int, payload: bytes) -> bytes:
        if frm == CHEATER and to == 0 and index == k:
            opened_share.append(is_vector_message(payload))
            return add_to_vector_message(payload)
        return payload

    results = run(3, computation(), NEEDS, tamper=tamper)
    outputs = [r for r in honest(results) if not isinstance(r, BaseException)]
    assert all(r == EXPECTED for r in outputs), results
    assert all(isinstance(r, (ProtocolAbort, list)) for r in results), results
    assert isinstance(results[0], ProtocolAbort), results
    if opened_share[0]:
        # An altered opened share (or input broadcast) aborts every honest party:
        # the confirmation round keeps them together.
        assert not outputs, results


def test_every_kind_of_message_was_attacked() -> None:
    # Input, Beaver opening, square opening, output opening (vectors), then the
    # MAC check: coin commitment, coin opening, commitment to s_i with the
    # transcript digest, opening of s_i, confirmation.
    assert KINDS == [True] * 4 + [False] * 5


def test_opened_values_are_checked_even_without_output() -> None:
    async def program(ctx: Context) -> None:
        x = await input_values(ctx, 0, FieldVec.from_ints([4]) if ctx.party == 0 else None, 1)
        if ctx.party == CHEATER:
            x = SharedVec(x.share + FieldVec.from_ints([1]), x.mac)
        await open_value(ctx, x)
        await check_pending(ctx)

    results = run(3, program, estimate.input_values(0, 1))
    assert all(isinstance(r, MacCheckFailed) for r in honest(results)), results


def test_commitments_bind() -> None:
    c, opening = commit(b"value", lambda n: bytes(n))
    assert open_commitment(0, c, opening, "x") == b"value"
    with pytest.raises(CommitmentMismatch):
        open_commitment(2, c, opening[:-1] + b"w", "x")
    with pytest.raises(CommitmentMismatch):
        open_commitment(2, c, b"", "x")
