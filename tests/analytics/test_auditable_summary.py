"""The auditable summary under MPC and the auditor's replay of it: equal to numpy, and every attack named.

The attacks are made by all parties together (the public verification's
threat): they alter a tuple, an opening or an input commitment consistently
with everything else they control, and the replay must fail on that step.
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
from collections.abc import Callable

import numpy as np
import pytest

from offchain.auditable import routes
from offchain import curve
from offchain.analytics import registry
from offchain.analytics.spec import JobSpec
from offchain.auditable import summary as auditable_summary
from offchain.auditable.commitments import ShareCommitments
from offchain.auditable.routes import route
from offchain.auditable.replay import STEPS, PartyRecord, replay
from offchain.auditable.tracked import Transcript
from offchain.engine.context import Context
from harness.local import run_local
from offchain.errors import ConfigError
from offchain.field import P, FieldVec

from analytics_testkit import PARTIES, close, rng, spec as make_spec, split_tables


def summary_spec(**fields: object) -> object:
    base: dict[str, object] = {"analysis": "summary", "columns": ("x", "y"),
                               "reveal": ("count", "mean", "variance", "std"), "auditable": True}
    base.update(fields)
    return make_spec(**base)


def run_audited(spec, tables, tamper: Callable[[int, list], None] | None = None):  # type: ignore[no-untyped-def]
    """Runs every party; returns (results, per-party PartyRecord, t)."""
    t = int.from_bytes(secrets.token_bytes(32), "big") % P
    needs = routes.needs(spec)

    async def program(ctx: Context):  # type: ignore[no-untyped-def]
        transcript, lists = Transcript(), []

        async def commit(mine: ShareCommitments, tuples: curve.PointVec) -> None:
            lists.append((mine.points, tuples))

        async def challenge() -> int:
            return t

        result = await auditable_summary.run(ctx, spec, tables[ctx.party], commit, challenge, transcript)
        shares, rands = Transcript.parse(transcript.to_bytes())
        left = sum(ctx.source.available(k) for k, _ in needs)
        return result, PartyRecord(lists[0][0], lists[0][1], shares, rands), left

    out = asyncio.run(run_local(len(tables), program, needs=needs, sacrifice=False, timeout=120))
    for r in out:
        if isinstance(r, BaseException):
            raise r
    assert all(r[2] == 0 for r in out), "the needs are exact"
    return [r[0] for r in out], [r[1] for r in out], t


@pytest.fixture(scope="module")
def honest():  # type: ignore[no-untyped-def]
    data = rng(7)
    x, y = data.normal(50, 12, 30).round(3), data.uniform(-5, 5, 30).round(3)
    spec = summary_spec(reveal=("count", "mean", "variance", "std", "sample_variance", "sample_std"))
    tables = split_tables(spec, {"x": x, "y": y})
    results, records, t = run_audited(spec, tables)
    return spec, x, y, results, records, t


def test_the_result_equals_numpy_and_the_replay_re_derives_it(honest) -> None:  # type: ignore[no-untyped-def]
    spec, x, y, results, records, t = honest
    assert all(r == results[0] for r in results)
    result = results[0]
    assert result["count"] == "30"
    for name, col in (("x", x), ("y", y)):
        assert close(result[f"mean.{name}"], float(np.mean(col)), 0, ulps=1)
        assert close(result[f"variance.{name}"], float(np.var(col)), 1e-9, ulps=1)
        assert close(result[f"std.{name}"], float(np.std(col)), 1e-9, ulps=1)
        assert close(result[f"sample_variance.{name}"], float(np.var(col, ddof=1)), 1e-9, ulps=1)
        assert close(result[f"sample_std.{name}"], float(np.std(col, ddof=1)), 1e-9, ulps=1)
    derived, findings = replay(spec, t, records)
    assert [f.name for f in findings] == list(STEPS) and all(f.passed for f in findings), findings
    assert derived == result


def _forge(records: list[PartyRecord], party: int, **changes: object) -> list[PartyRecord]:
    out = list(records)
    out[party] = dataclasses.replace(records[party], **changes)
    return out


def _failed(spec, t, records) -> list[str]:  # type: ignore[no-untyped-def]
    derived, findings = replay(spec, t, records)
    failed = [f for f in findings if not f.passed]
    assert (derived is None) == bool(failed)
    return [f.name for f in failed]


def test_an_altered_opening_fails_its_step(honest) -> None:  # type: ignore[no-untyped-def]
    spec, *_, records, t = honest
    m = 2 * 2  # Openings start with rho (2gc values), then sigma, z, d, e, outputs.
    for index, step in ((0, "sacrifice openings"), (2 * m + 1, "sacrifice check"),
                        (3 * m, "Beaver openings"), (5 * m + 1, "outputs")):
        shares = records[1].shares.to_ints()
        shares[index] = (shares[index] + 1) % P
        assert _failed(spec, t, _forge(records, 1, shares=FieldVec.from_ints(shares))) [0] == step


def test_an_altered_tuple_fails_the_sacrifice_check(honest) -> None:  # type: ignore[no-untyped-def]
    """All parties collude on a triple with c != ab: party 0 commits to c_0 + 1 and opens consistently."""
    spec, *_, records, t = honest
    gc = 2
    index = 2 * (4 * gc) + 1  # c of the second Beaver triple, in a || b || c.
    tuples = records[0].tuples
    altered = curve.PointVec.concat([tuples[:index], tuples[index:index + 1] + curve.G, tuples[index + 1:]])
    # Colluders make every opening that involves c consistent: the zero check opens t instead of 0.
    shares = records[0].shares.to_ints()
    shares[2 * 4 + 1] = (shares[2 * 4 + 1] + t) % P
    forged = _forge(records, 0, tuples=altered, shares=FieldVec.from_ints(shares))
    failed = _failed(spec, t, forged)
    assert failed[0] == "sacrifice check"
    # Without the colluders' fix of the zero check, the same tuple fails there too.
    assert _failed(spec, t, _forge(records, 0, tuples=altered))[0] == "sacrifice check"


def test_an_altered_input_commitment_fails_the_outputs(honest) -> None:  # type: ignore[no-untyped-def]
    spec, *_, records, t = honest
    inputs = records[2].inputs
    altered = curve.PointVec.concat([inputs[:1] + curve.G, inputs[1:]])
    assert "outputs" in _failed(spec, t, _forge(records, 2, inputs=altered))


def test_a_replay_of_the_wrong_size_is_refused(honest) -> None:  # type: ignore[no-untyped-def]
    spec, *_, records, t = honest
    with pytest.raises(ConfigError, match="party 1 published"):
        replay(spec, t, _forge(records, 1, shares=records[1].shares[1:]))


def test_a_summary_without_a_variance_is_linear_and_replayed() -> None:
    spec = summary_spec(columns=("x",), reveal=("count", "sum", "mean"), group_by="g",
                        domains={"g": ("u", "v")})
    data = rng(3)
    x = data.normal(0, 1, 12).round(2)
    g = ["u", "v"] * 6
    results, records, t = run_audited(spec, split_tables(spec, {"x": x, "g": g}))
    derived, findings = replay(spec, t, records)
    assert [f.name for f in findings] == ["outputs"] and findings[0].passed
    assert derived == results[0]
    assert results[0]["count[g=u]"] == "6"
    assert close(results[0]["mean.x[g=u]"], float(np.mean(x[0::2])), 0, ulps=1)


@pytest.mark.parametrize("reveal", [("mean",), ("count", "min")])
def test_other_summaries_go_to_the_general_replay(reveal) -> None:  # type: ignore[no-untyped-def]
    spec = registry.build_spec(participants=PARTIES, analysis="summary", columns=("x",), reveal=reveal,
                         auditable=True)
    assert route(spec).value == "program"
