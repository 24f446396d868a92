"""An auditable summary: count, sum, mean, variance and std that anyone can re-check from chain data.

Inputs are those of offchain.analytics.summary (per group its row count n, per
cell the sum S of the encodings and, for a variance, the sum of squares Q at
scale 2^f), committed with Pedersen commitments like every auditable input.
Under MPC, with one Beaver product per pair of 2gc values (gc = groups x
columns) whose triples are sacrificed in public with 2gc more:

    T = n Q 2^f - S^2        exact at scale 2^2f: x = (n, S), y = (Q 2^f, S), T = xy[:gc] - xy[gc:]

and the totals n, S (when the sum or the mean is asked) and T (for the
variance or std) are opened, MAC-checked and recorded in the transcript. The
statistics follow in public, exactly, rounded once (half-even) to the spec's
fixed point: mean = S / n, variance = T / (n (n - ddof)) / 2^f (sample_variance: n - 1), std = its
square root; an empty group (or n <= ddof) gives 0. They are therefore exact
to half an ulp, tighter than the divisions of the plain summary.

Auditable summaries reveal the count (the public division needs it; a spec
must list it) and never min or max (comparisons are not replayed).

Commitment layout of a party (see offchain.auditable.replay): its input
shares, owner-major (the AuditTrail list), then its tuples a || b || c, each
4gc long: the first 2gc are the Beaver triples, the last 2gc their check triples.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from offchain import curve
from offchain.analytics import common, summary
from offchain.analytics.data import Table
from offchain.analytics.spec import JobSpec
from offchain.auditable.commitments import ShareCommitments, commit_shares
from offchain.auditable.tracked import Tracked, Transcript, beaver, output_tracked, public_sacrifice
from offchain.engine import estimate
from offchain.engine.context import Context
from offchain.field import FieldVec, P, RandBytes
from offchain.preprocessing.tuples import Needs, TupleKind

#: Awaited with the input commitments and the tuples' points, before any opening.
CommitHook = Callable[[ShareCommitments, curve.PointVec], Awaitable[None]]
#: Returns the public challenge of the sacrifice (from chain data, once every list is committed).
ChallengeHook = Callable[[], Awaitable[int]]


@dataclass(frozen=True)
class Plan:
    """The public shape: groups, cells, the input width and what is opened."""

    groups: int
    cells: int
    width: int
    second: bool
    sums: bool

    @property
    def tuples(self) -> int:
        """Triples taken: 2gc for the product and 2gc to sacrifice them (none without a variance)."""
        return 4 * self.cells if self.second else 0


def plan(spec: JobSpec) -> Plan:
    lay = summary.layout(spec)
    return Plan(len(lay.groups), lay.cells, lay.width, lay.second,
                bool({"sum", "mean"} & set(spec.reveal)))


def challenge(job_id: int, commitments: Sequence[bytes]) -> int:
    """The public sacrifice's challenge t, fixed by chain data once every list is committed.

    SHA-512 over "mpcc/public-sacrifice/v1", the job id (32 bytes) and each
    participant's JobManager input commitment in party order (which binds its
    tuple commitments), reduced mod p (the bias is below 2^-250).
    """
    digest = hashlib.sha512(b"mpcc/public-sacrifice/v1" + job_id.to_bytes(32, "big") + b"".join(commitments))
    return int.from_bytes(digest.digest(), "big") % P


def needs(spec: JobSpec) -> Needs:
    p = plan(spec)
    return (common.input_needs(spec, p.width, summary.input_bounds(spec))
            + (estimate.mul(p.tuples) if p.tuples else Needs()))


def repeat_cells(x: Tracked, columns: int) -> Tracked:
    """Each group's value once per column (local)."""
    return Tracked.concat([x[i:i + 1] for i in range(len(x)) for _ in range(columns)])


async def run(ctx: Context, spec: JobSpec, table: Table, commit: CommitHook, challenge: ChallengeHook,
              transcript: Transcript, randbytes: RandBytes = secrets.token_bytes) -> dict[str, str]:
    """This party's run; the result is the same on every party (and what the auditor re-derives)."""
    p, f = plan(spec), spec.fixed_point.f
    inputs = await common.input_all(ctx, spec, summary.local(spec, table), bounds=summary.input_bounds(spec))
    mine = commit_shares(inputs, randbytes)
    total = Tracked.concat([Tracked(x, mine.rands[k * p.width:(k + 1) * p.width])
                            for k, x in enumerate(inputs)])
    tot = total[0:p.width]
    for k in range(1, len(inputs)):
        tot = tot + total[k * p.width:(k + 1) * p.width]
    triples = _take_triples(ctx, p.tuples, randbytes)
    await commit(mine, _points(triples))
    g, gc = p.groups, p.cells
    n, s = tot[0:g], tot[g:g + gc]
    opened = [n] + ([s] if p.sums else [])
    if p.second:
        t = await challenge()
        main = [x[0:2 * gc] for x in triples]
        await public_sacrifice(ctx, main, [x[2 * gc:] for x in triples], t, transcript)
        q = tot[g + gc:g + 2 * gc]
        xy = await beaver(ctx, Tracked.concat([repeat_cells(n, len(spec.columns)), s]),
                          Tracked.concat([q.scale(1 << f), s]), main, transcript)
        opened.append(xy[0:gc] - xy[gc:2 * gc])
    values = [v.to_signed_ints() for v in await output_tracked(ctx, opened, transcript)]
    return derive(spec, values[0], values[1] if p.sums else None, values[-1] if p.second else None)


def _take_triples(ctx: Context, count: int, randbytes: RandBytes) -> list[Tracked]:
    if not count:
        return []
    return [Tracked(col, FieldVec.random(count, randbytes)) for col in ctx.take(TupleKind.TRIPLE, count).columns]


def _points(triples: list[Tracked]) -> curve.PointVec:
    if not triples:
        return curve.PointVec.infinity(0)
    return curve.commit(FieldVec.concat([t.x.share for t in triples]), FieldVec.concat([t.r for t in triples]))


def derive(spec: JobSpec, n: list[int], s: list[int] | None, t: list[int] | None) -> dict[str, str]:
    """The revealed statistics from the opened totals (offchain.analytics.summary.derive)."""
    opened = summary.derive(spec, n, s, t)
    return summary.format_result(spec, {name: opened[name] for name in summary.STATS if name in spec.reveal})
