"""Auditable runs of any analysis (offchain.auditable.program): the record, the replay, the attacks.

The honest run is a summary with min and max, so the replay covers
comparisons, truncation pairs built from bits, and the public checks of
triples, square pairs and bits. Each attack fails the step it attacks.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from harness.dealing import seeded_dealer
from harness.local import run_local

from offchain import curve
from offchain.analytics import registry
from offchain.analytics.spec import JobSpec
from offchain.auditable import program, program_audit, routes
from offchain.auditable.commitments import mismatches
from offchain.auditable.routes import route
from offchain.auditable.shadows import RandVec
from offchain.engine.context import Context
from offchain.engine.replay import ReplayContext
from offchain.engine.tape import Playback, ReplayMismatch
from offchain.errors import ConfigError, DecodeError, MacCheckFailed, MalformedMessage, ProtocolAbort, SacrificeFailed
from offchain.field import FieldVec
from offchain.preprocessing.source import TupleSource
from offchain.preprocessing.tuples import TupleKey, TupleKind, TupleSet
from offchain.shares import SharedVec
from tests.analytics.analytics_testkit import spec, split_tables
from tests.offchain.offchain_testkit import add_to_vector_message, is_vector_message

VALUES = [12.5, -3.25, 7.0, 0.5, 9.75, -1.0, 4.25, 2.0, 15.5]


def summary_spec() -> JobSpec:
    return spec(analysis="summary", columns=("a",), reveal=("count", "min", "max"), auditable=True)


def run_parties(s: JobSpec, columns: dict[str, list[Any]],
                tamper: Callable[[Context], None] | None = None, seed: bytes | None = None,
                network: Any = None) -> list[Any]:
    tables = split_tables(s, columns)

    async def party(ctx: Context) -> tuple[dict[str, str], program.Record]:
        if tamper is not None and ctx.party == 0:
            tamper(ctx)
        return await program.run_party(ctx, s, tables[ctx.party])

    return asyncio.run(run_local(3, party, needs=routes.needs(s), sacrifice=False, timeout=120,
                                 seed=seed, tamper=network))


@pytest.fixture(scope="module")
def honest() -> tuple[JobSpec, dict[str, str], program.Record]:
    s = summary_spec()
    results = run_parties(s, {"a": VALUES})
    for r in results:
        if isinstance(r, BaseException):
            raise r
    assert all(r[0] == results[0][0] for r in results)
    assert all(r[1] == results[0][1] for r in results), "every party holds the same record"
    return s, results[0][0], results[0][1]


def failed(steps: list[Any]) -> list[str]:
    return [s.name for s in steps if not s.passed]


def test_routes() -> None:
    assert route(summary_spec()).value == "program"
    assert route(spec(analysis="mean", column="a", reveal=("count", "mean"), auditable=True)).value == "linear"
    assert route(spec(analysis="summary", columns=("a",), reveal=("count", "mean"),
                      auditable=True)).value == "summary"


def test_honest_run_is_the_plain_result_and_passes_every_step(honest: Any) -> None:
    s, result, record = honest
    assert result == {"count": "9", "min.a": "-3.250000", "max.a": "15.500000"}
    derived, steps = program_audit.audit(s, 3, record, result)
    assert derived == result
    assert [st.name for st in steps] == list(program_audit.STEPS)
    assert not failed(steps), steps
    lay = program.Layout.of(registry.needs(s))
    assert len(record.commitments) == lay.size()
    assert not any(k.kind is TupleKind.TRUNC for k, _ in registry.needs(s)), \
        "truncation pairs come from committed bits"


def test_needs_are_exact_and_cover_the_checks() -> None:
    s = summary_spec()
    plain, lay = registry.needs(s), program.Layout.of(registry.needs(s))
    got = routes.needs(s)
    assert got[TupleKind.TRIPLE] == 2 * plain[TupleKind.TRIPLE]
    assert got[TupleKind.BIT] == plain[TupleKind.BIT] == lay.bits
    assert got[TupleKind.SQUARE] == 2 * (plain[TupleKind.SQUARE] + got[TupleKind.BIT])
    assert not any(k.kind is TupleKind.TRUNC for k, _ in got)


def test_altered_result_fails_result(honest: Any) -> None:
    s, result, record = honest
    _, steps = program_audit.audit(s, 3, record, {**result, "max.a": "16.000000"})
    assert failed(steps) == ["result"]


def test_altered_opening_fails_openings_naming_it(honest: Any) -> None:
    s, result, record = honest
    last = len(record.opened) - 1
    opened = record.opened.to_ints()
    opened[last] += 1
    _, steps = program_audit.audit(s, 3, dataclasses.replace(record, opened=FieldVec.from_ints(opened)),
                             result)
    assert "openings" in failed(steps)
    detail = next(st.detail for st in steps if st.name == "openings")
    assert f"opened value {last} (analysis" in detail


def test_altered_randomness_fails_openings(honest: Any) -> None:
    s, result, record = honest
    rands = record.rands.to_ints()
    rands[5] += 1
    _, steps = program_audit.audit(s, 3, dataclasses.replace(record, rands=FieldVec.from_ints(rands)), result)
    assert failed(steps) == ["openings"]
    assert "opened value 5 (tuple checks" in next(st.detail for st in steps if not st.passed)


def test_altered_commitment_fails(honest: Any) -> None:
    s, result, record = honest
    points = record.commitments
    altered = type(points).concat([points[1:2], points[0:1], points[2:]])  # Two swapped.
    _, steps = program_audit.audit(s, 3, dataclasses.replace(record, commitments=altered), result)
    assert "openings" in failed(steps)


def test_truncated_record_does_not_fit_the_program(honest: Any) -> None:
    s, result, record = honest
    short = dataclasses.replace(record, opened=record.opened[:-1], rands=record.rands[:-1])
    _, steps = program_audit.audit(s, 3, short, result)
    assert failed(steps) == ["openings"]
    assert "does not fit the program" in steps[-1].detail


class _Bad(TupleSource):
    """Party 0's tuples with one value off: what a cheating dealer or party would hand in.

    With ``alpha`` (the global MAC key, known here from a seeded dealer) the MAC
    moves too, as a dealer in league with the parties would make it.
    """

    def __init__(self, inner: TupleSource, key: TupleKey, column: int, delta: int,
                 alpha: int = 0) -> None:
        self.inner, self.key, self.column, self.delta, self.alpha = inner, key, column, delta, alpha

    def available(self, key: TupleKey) -> int:
        return self.inner.available(key)

    def take(self, key: TupleKey, count: int) -> TupleSet:
        got = self.inner.take(key, count)
        if key != self.key:
            return got
        col = got.columns[self.column]
        share = col.share.to_ints()
        share[0] += self.delta
        mac = col.mac.to_ints()
        mac[0] += self.alpha * self.delta
        columns = list(got.columns)
        columns[self.column] = SharedVec(FieldVec.from_ints(share), FieldVec.from_ints(mac))
        return TupleSet(key, tuple(columns), got.clear)


def _tamper(kind: TupleKind, column: int, delta: int, alpha: int = 0
            ) -> Callable[[Context], None]:
    def apply(ctx: Context) -> None:
        ctx.source = _Bad(ctx.source, TupleKey(kind), column, delta, alpha)
    return apply


@pytest.mark.parametrize("kind, column, delta", [
    (TupleKind.TRIPLE, 2, 1),   # c = ab + 1
    (TupleKind.SQUARE, 1, 1),   # b = a^2 + 1
    (TupleKind.BIT, 0, 2),      # b in {2, 3}
])
def test_parties_catch_a_bad_tuple_in_public(kind: TupleKind, column: int, delta: int) -> None:
    results = run_parties(summary_spec(), {"a": VALUES}, _tamper(kind, column, delta))
    assert all(isinstance(r, SacrificeFailed) and r.kind == kind.value for r in results), results


def test_colluding_parties_cannot_pass_a_bad_triple(monkeypatch: pytest.MonkeyPatch) -> None:
    """All parties skip their own check: the auditor still fails the record, whatever they post."""
    s = summary_spec()
    seed = b"collusion"
    alpha = sum(key.alpha for key in seeded_dealer(3, seed)[1])
    with monkeypatch.context() as m:
        m.setattr(program, "check_zero", lambda zero: None)
        results = run_parties(s, {"a": VALUES}, _tamper(TupleKind.TRIPLE, 2, 1, alpha), seed)
    result, record = results[0]
    _, steps = program_audit.audit(s, 3, record, result)
    assert failed(steps) == ["tuple checks"]
    assert "the public check of the job's triples failed" in steps[1].detail
    # They post a zero for the failed check instead: the opening no longer opens its commitment.
    lay = program.Layout.of(registry.needs(s))
    at = 2 * lay.triples + lay.checked_squares + lay.bits  # After rho, sigma, squares' rho, bits' rho.
    opened = record.opened.to_ints()
    assert opened[at] != 0 and opened[at + 1:at + 3] == [0, 0]  # The triples' combined check.
    opened[at] = 0
    _, steps = program_audit.audit(s, 3, dataclasses.replace(record, opened=FieldVec.from_ints(opened)),
                             result)
    assert "openings" in failed(steps)
    assert f"opened value {at} (tuple checks" in next(st.detail for st in steps if not st.passed)


def test_a_tampered_opening_in_an_auditable_run_fails_the_mac_check() -> None:
    """The run records its public values, and its context still MAC-checks every opening.

    Party 1 alters its share of the last value opened before the run's first MAC
    check (inside a comparison), towards party 0 only.
    """
    kinds: list[bool] = []

    def tally(frm: int, to: int, index: int, payload: bytes) -> bytes:
        if (frm, to) == (1, 0):
            kinds.append(is_vector_message(payload))
        return payload

    run_parties(summary_spec(), {"a": VALUES}, network=tally)
    last = next(k for k in range(1, len(kinds) - 1) if kinds[k] and not kinds[k + 1])

    def tamper(frm: int, to: int, index: int, payload: bytes) -> bytes:
        return add_to_vector_message(payload) if (frm, to, index) == (1, 0, last) else payload

    results = run_parties(summary_spec(), {"a": VALUES}, network=tamper)
    assert isinstance(results[0], MacCheckFailed), results
    assert all(isinstance(r, ProtocolAbort) for r in results), results


def test_differentially_private_count_is_audited() -> None:
    """The noise comes from committed bits, so the auditor re-derives the noisy count too."""
    s = spec(analysis="histogram", columns=("a",), reveal=("counts",), params={"bins": (-5, 20),
             "epsilon": 8.0}, auditable=True)
    results = run_parties(s, {"a": VALUES})
    for r in results:
        if isinstance(r, BaseException):
            raise r
    result, record = results[0]
    derived, steps = program_audit.audit(s, 3, record, result)
    assert not failed(steps) and derived == result


def test_a_replay_sends_nothing_and_must_use_the_whole_record() -> None:
    tape = Playback(FieldVec.from_ints([1, 2]), ())
    ctx = ReplayContext(tape, 3, RandVec)
    assert not hasattr(ctx, "transport"), "a replay has no channel to send on"
    with pytest.raises(ReplayMismatch):  # Even party 0's broadcast comes from the tape.
        asyncio.run(ctx.broadcast_from(0, b"x"))
    assert tape.play_opened([1]) == [FieldVec.from_ints([1])]
    with pytest.raises(ReplayMismatch):
        tape.finished()
    with pytest.raises(ReplayMismatch):
        tape.play_opened([2])


@pytest.mark.parametrize("cut, message", [
    (64, "tuple commitments, expected"),        # A point short.
    (1, "tuple commitments: point vector"),    # Not a whole number of points.
])
def test_a_party_sending_a_malformed_commitment_list_is_named(cut: int, message: str) -> None:
    def network(frm: int, to: int, index: int, payload: bytes) -> bytes:
        return payload[:-cut] if (frm, index) == (1, 0) else payload  # Party 1's list.

    results = run_parties(summary_spec(), {"a": VALUES}, network=network)
    for party in (0, 2):
        assert isinstance(results[party], MalformedMessage) and results[party].party == 1
        assert message in str(results[party])


@pytest.mark.parametrize("change, message", [
    (lambda t: b"\x09" + t[1:], "unknown version byte"),
    (lambda t: t[:-1], "runs past the end|too short"),
    (lambda t: t + b"\x00", "trailing bytes"),
    (lambda t: t[:5], "too short"),
])
def test_a_malformed_published_transcript_is_refused(honest: Any, change: Any, message: str) -> None:
    _, _, record = honest
    packed = curve.compress(record.commitments)
    assert program.Record.parse(packed, record.transcript()) == record
    with pytest.raises(DecodeError, match=message):
        program.Record.parse(packed, change(record.transcript()))


def test_an_opening_check_needs_one_value_and_randomness_per_commitment() -> None:
    points = curve.commit(FieldVec.from_ints([1, 2]), FieldVec.from_ints([3, 4]))
    assert mismatches(points, FieldVec.from_ints([1, 5]), FieldVec.from_ints([3, 4])).tolist() == [1]
    with pytest.raises(ConfigError, match="1 values and 2 randomness values for 2 commitments"):
        mismatches(points, FieldVec.from_ints([1]), FieldVec.from_ints([3, 4]))
