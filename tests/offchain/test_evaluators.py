"""A live party and a replay are different evaluators (offchain.engine.context, offchain.engine.replay).

A live Context records but never plays a tape back, its key must be its own,
and a recorded run still MAC-checks every opened value; a ReplayContext has
no transport and no key and takes every public value from its tape. Both run
the same engine code, each on its own share type, and mypy tells them apart.
"""

from __future__ import annotations

import asyncio
import dataclasses
import textwrap
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from offchain_testkit import add_to_vector_message, is_vector_message, run

from offchain import curve
from offchain.auditable.shadows import CommitVec, RandVec
from offchain.engine import estimate
from offchain.engine.arith import mul
from offchain.engine.context import Context
from offchain.engine.inputs import input_values
from offchain.engine.opening import output
from offchain.engine.replay import R, ReplayContext
from offchain.engine.session import Session
from offchain.engine.tape import Playback, Recorder, ReplayMismatch
from offchain.errors import ConfigError, MacCheckFailed, ProtocolAbort, TuplesExhausted
from offchain.field import FieldVec, P
from offchain.net.memory import MemoryNetwork
from offchain.preprocessing.source import MemoryTupleSource
from offchain.preprocessing.tuples import TupleKey, TupleKind, TupleSet
from offchain.shares import MacKeyShare

CHEATER = 1
X, Y = [5, -7, 0], [2**64, 3, 11]
NEEDS = estimate.input_values(0, 3) + estimate.input_values(CHEATER, 3) + estimate.mul(3)


def recorded(tapes: dict[int, Recorder]) -> Callable[[Context], Awaitable[list[int]]]:
    """x*y as an auditable run does it: on a context that records its public values."""
    async def program(ctx: Context) -> list[int]:
        tape = tapes.setdefault(ctx.party, Recorder())
        live = dataclasses.replace(ctx, recorder=tape)
        x = await input_values(live, 0, FieldVec.from_ints(X) if ctx.party == 0 else None, 3)
        y = await input_values(live, CHEATER, FieldVec.from_ints(Y) if ctx.party == CHEATER
                               else None, 3)
        return (await output(live, await mul(live, x, y))).to_ints()
    return program


# A live context -----------------------------------------------------------------------------------
def test_a_live_context_refuses_a_playback_tape_at_run_time() -> None:
    transport = MemoryNetwork(2).transport(0)
    playback = Playback(FieldVec.zeros(0), ())
    with pytest.raises(ConfigError, match="cannot play a tape back"):
        Context(transport, MacKeyShare(0, 1), MemoryTupleSource(), recorder=playback)  # type: ignore[arg-type]
    assert not isinstance(playback, Recorder)
    ctx = Context(transport, MacKeyShare(0, 1), MemoryTupleSource(), recorder=Recorder())
    with pytest.raises(ConfigError, match="cannot play a tape back"):
        dataclasses.replace(ctx, recorder=playback)  # type: ignore[arg-type]


@pytest.mark.parametrize("recorder", [None, Recorder()])
def test_a_live_context_takes_only_its_own_key_share(recorder: Recorder | None) -> None:
    transport = MemoryNetwork(3).transport(2)
    for other in (0, 3):  # Another party's, or nobody's (what a replay used to play).
        with pytest.raises(ConfigError, match="belongs to another party"):
            Context(transport, MacKeyShare(other, 0), MemoryTupleSource(), recorder=recorder)
        with pytest.raises(ConfigError, match="belongs to another party"):
            Session(transport, MacKeyShare(other, 0))


def test_a_recorded_run_is_right_and_every_party_records_the_same() -> None:
    tapes: dict[int, Recorder] = {}
    results = run(3, recorded(tapes), NEEDS)
    assert all(r == [x * y % P for x, y in zip(X, Y, strict=True)] for r in results), results
    assert len({(tuple(t.flat().to_ints()), tuple(t.messages)) for t in tapes.values()}) == 1


def test_a_tampered_opening_in_a_recorded_run_fails_the_mac_check() -> None:
    """The cheater sends party 0 a wrong share of Beaver's d, e: recording changes nothing."""
    kinds: list[bool] = []

    def tally(frm: int, to: int, index: int, payload: bytes) -> bytes:
        if frm == CHEATER and to == 0:
            kinds.append(is_vector_message(payload))
        return payload

    run(3, recorded({}), NEEDS, tamper=tally)
    beaver = 1  # Its input broadcast, its share of the opened d || e, of the output, the MAC check.
    assert kinds[:3] == [True] * 3 and not any(kinds[3:])

    def tamper(frm: int, to: int, index: int, payload: bytes) -> bytes:
        if frm == CHEATER and to == 0 and index == beaver:
            return add_to_vector_message(payload)
        return payload

    tapes: dict[int, Recorder] = {}
    results = run(3, recorded(tapes), NEEDS, tamper=tamper)
    assert isinstance(results[0], MacCheckFailed), results
    assert all(isinstance(r, ProtocolAbort) for r in results), results
    assert tapes[0].flat() != tapes[2].flat(), "party 0 recorded the altered value, then refused it"


# A replay -----------------------------------------------------------------------------------------
def _tape(values: list[int]) -> Playback:
    return Playback(FieldVec.from_ints(values), ())


def test_a_replay_has_no_transport_no_key_and_plays_no_party() -> None:
    ctx = ReplayContext(_tape([]), 3, RandVec)
    assert ctx.party is None and ctx.n_parties == 3
    assert not hasattr(ctx, "key") and not hasattr(ctx, "transport") and not hasattr(ctx, "pending")
    with pytest.raises(TypeError):
        ReplayContext(parties=3, shares=RandVec)  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match="at least 2"):
        ReplayContext(_tape([]), 1, RandVec)


def test_a_replay_outputs_only_what_its_tape_holds() -> None:
    ctx = ReplayContext(_tape([7, 8]), 3, RandVec)
    x = RandVec(FieldVec.from_ints([1, 2]))
    assert asyncio.run(output(ctx, x)) == FieldVec.from_ints([7, 8])
    assert ctx.opened() == x
    with pytest.raises(ReplayMismatch):
        asyncio.run(output(ctx, x))
    with pytest.raises(ReplayMismatch):
        asyncio.run(ctx.broadcast_from(0, None))
    ctx.tape.finished()


def test_public_constants_follow_the_share_type() -> None:
    c = FieldVec.from_ints([3, 4])
    rands = RandVec(FieldVec.from_ints([5, 6]))
    assert ReplayContext(_tape([]), 3, RandVec).add_public(rands, c) == rands  # Randomness 0.
    commitments = CommitVec(curve.commit(FieldVec.from_ints([1, 2]), rands.rands))
    auditor = ReplayContext(_tape([]), 3, CommitVec)
    shifted = auditor.add_public(commitments, c)
    assert shifted.points == curve.commit(FieldVec.from_ints([4, 6]), rands.rands)  # + c*G.
    assert auditor.constant(c).points == curve.commit(c, FieldVec.zeros(2))


def _beaver_replayed(shares: type[R], shadow: Callable[[FieldVec, FieldVec], R]) -> None:
    """mul on a replay: the same code, d and e from the tape, c + e a + d b + d e on the shadows."""
    a, b, x, y = (FieldVec.from_ints(v) for v in ([2, 9], [4, 1], [10, 20], [3, 5]))
    c = a * b
    r = {name: FieldVec.from_ints([17 * i + k for k in range(2)])
         for i, name in enumerate("abcxy", start=1)}
    d, e = x - a, y - b
    triple = TupleSet(TupleKey(TupleKind.TRIPLE), (shadow(a, r["a"]), shadow(b, r["b"]), shadow(c, r["c"])))
    ctx = ReplayContext(Playback(FieldVec.concat([d, e]), ()), 3, shares).with_tuples([triple])
    z = asyncio.run(mul(ctx, shadow(x, r["x"]), shadow(y, r["y"])))
    assert z == shadow(x * y, r["c"] + r["a"] * e + r["b"] * d)
    assert ctx.opened() == shares.concat([shadow(d, r["x"] - r["a"]), shadow(e, r["y"] - r["b"])])
    ctx.tape.finished()
    with pytest.raises(TuplesExhausted):
        ctx.take(TupleKind.TRIPLE, 1)


def test_beaver_replayed_on_commitments_commits_to_the_product() -> None:
    _beaver_replayed(CommitVec, lambda value, rand: CommitVec(curve.commit(value, rand)))


def test_beaver_replayed_on_randomness_gives_the_products_randomness() -> None:
    _beaver_replayed(RandVec, lambda value, rand: RandVec(rand))


# What mypy sees -------------------------------------------------------------------------------------
SNIPPET = '''
from offchain.auditable.shadows import CommitVec
from offchain.engine.arith import mul
from offchain.engine.context import Context
from offchain.engine.replay import R, ReplayContext
from offchain.engine.tape import Playback
from offchain.field import P, FieldVec
from offchain.shares import SharedVec


async def live(ctx: Context, tape: Playback) -> None:
    Context(ctx.transport, ctx.key, ctx.source, recorder=tape)  # line 12: a live context records only


async def replay(ctx: ReplayContext[CommitVec], x: SharedVec, c: CommitVec) -> None:
    print(ctx.key)  # line 16: a replay has no MAC key
    await mul(ctx, x, x)  # line 17: a replay computes on commitments, not on shares
    await mul(ctx, c, c)
'''


def test_mypy_tells_live_and_replayed_shares_apart(tmp_path: Path) -> None:
    api = pytest.importorskip("mypy.api")
    source = tmp_path / "snippet.py"
    source.write_text(textwrap.dedent(SNIPPET))
    out, _, _ = api.run(["--no-incremental", "--cache-dir", str(tmp_path / "cache"),
                         "--ignore-missing-imports", "--follow-imports=silent", str(source)])
    lines = {int(line.split(":")[1]) for line in out.splitlines() if ": error:" in line}
    assert lines == {12, 16, 17}, out
