"""Count, sum and mean over the rows of every participant, under MPC.

Each party sums its own rows locally and inputs two values: its row count and
its row sum in fixed point (a la the sufficient-statistics approach: no party
learns another's row count or values). The totals are linear in the inputs,
so they cost no multiplication; only the values the spec reveals are opened,
through the MAC-checked output. With the count revealed, mean = sum / count is
computed from the two opened totals. Before anything is opened, every party's
pair is proven in range under MPC (offchain.engine.ranges): the count in
[0, max_rows] and |sum| <= count (2^(k-1) - 1), so that a forged count or sum
aborts the job naming its party instead of bending the totals.

With ``params.epsilon`` (offchain.analytics.privacy), each party first clips its
values to the spec's clip bounds, and the totals get discrete Laplace noise
drawn inside MPC before they are opened: the count, the sum, or for the mean
both with epsilon / 2 each; the mean is then noisy sum / max(noisy count, 1).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Generic

from offchain.analytics import common, privacy
from offchain.analytics.spec import JobSpec
from offchain.engine import estimate
from offchain.engine.evaluator import Evaluator, S
from offchain.engine.inputs import input_values
from offchain.engine.opening import output_many
from offchain.engine.ranges import Bound
from offchain.field import FieldVec
from offchain.preprocessing.tuples import Needs

INPUTS_PER_PARTY = 2  # (row count, row sum)


def needs(spec: JobSpec) -> Needs:
    """The tuples a count/sum/mean job consumes: two input masks per participant, the range checks."""
    total = estimate.range_check(bounds(spec) * len(spec.participants))
    for owner in range(len(spec.participants)):
        total = total + estimate.input_values(owner, INPUTS_PER_PARTY)
    if spec.params.epsilon is not None:
        total = total + privacy.plan_needs(privacy.plan(spec))
    return total


def local_summary(values: Sequence[float], f: int) -> FieldVec:
    """This party's (count, fixed-point sum) to input; rounding happens once, here."""
    scaled_sum = sum(round(v * (1 << f)) for v in values)
    return FieldVec.from_ints([len(values), scaled_sum])


@dataclass(frozen=True)
class InputPhase(Generic[S]):
    """Shares of every party's (count, sum), in party order."""

    shares: tuple[S, ...]


async def input_phase(ctx: Evaluator[S], spec: JobSpec, my_values: Sequence[float]) -> InputPhase[S]:
    """Every party inputs its summary (of clipped values under epsilon); the shares of all."""
    mine = local_summary(privacy.clip(spec, my_values).tolist(), spec.fixed_point.f)
    if spec.params.epsilon is not None:
        privacy.check_room(spec, mine.to_signed_ints()[1:], [f"sum of {spec.column!r}"])
    shares = []
    for owner in range(len(spec.participants)):
        values = mine if owner == ctx.party else None
        shares.append(await input_values(ctx, owner, values, INPUTS_PER_PARTY))
    return InputPhase(tuple(shares))


def bounds(spec: JobSpec) -> list[Bound]:
    """The ranges of one party's (count, top count - sum, top count + sum), top = 2^(k-1) - 1:
    together, 0 <= count <= max_rows and |sum| <= top count, as honest rows give."""
    count, top = common.count_bound(spec), common.sentinel(spec)
    return [count, Bound(0, 2 * top * count.hi), Bound(0, 2 * top * count.hi)]


async def check(ctx: Evaluator[S], spec: JobSpec, phase: InputPhase[S]) -> None:
    """``InputOutOfRange`` naming every party whose (count, sum) is outside ``bounds``."""
    top = common.sentinel(spec)
    derived = []
    for shared in phase.shares:
        count, total = shared[0:1], shared[1:2]
        derived.append(ctx.concat([count, count.scale(top) - total, count.scale(top) + total]))
    await common.check_inputs(ctx, derived, bounds(spec) * len(phase.shares))


async def reveal(ctx: Evaluator[S], spec: JobSpec, phase: InputPhase[S]) -> dict[str, str]:
    """Open (MAC-checked) what the spec reveals and return it as decimal strings."""
    total = phase.shares[0]
    for shared in phase.shares[1:]:
        total = total + shared
    if spec.params.epsilon is not None:
        total = total + await privacy.noise_at(ctx, spec, INPUTS_PER_PARTY, {"count": 0, "sum": 1})
    count_shared, sum_shared = total[0:1], total[1:2]
    wanted = {"count": count_shared, "sum": sum_shared, "mean": sum_shared}
    to_open = sorted({name for name in spec.reveal} | ({"count"} if spec.analysis == "mean" else set()))
    opened = dict(zip(to_open, await output_many(ctx, [wanted[n] for n in to_open]), strict=True))
    return _result(spec, {n: v.to_signed_ints()[0] for n, v in opened.items()})


def _result(spec: JobSpec, opened: dict[str, int]) -> dict[str, str]:
    scale = Decimal(1 << spec.fixed_point.f)
    result = {}
    if "count" in opened:
        result["count"] = str(opened["count"])
    if "sum" in opened and spec.analysis == "sum":
        result["sum"] = _decimal(Decimal(opened["sum"]) / scale, spec.fixed_point.f)
    if spec.analysis == "mean":  # A noisy count may be below 1 (under epsilon only).
        result["mean"] = _decimal(Decimal(opened["mean"]) / scale / max(1, opened["count"]), spec.fixed_point.f)
    return result


def _decimal(value: Decimal, f: int) -> str:
    return common.decimal_text(value, f)


def result_bytes(result: dict[str, str]) -> bytes:
    """The canonical bytes every participant posts on chain for a result."""
    return json.dumps(result, sort_keys=True, separators=(",", ":")).encode()
