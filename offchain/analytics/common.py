"""What every analysis shares: fixed-point parameters, local statistics, input, output, format.

Local statistics are exact integers: a value x is the encoding X = round(x 2^f),
a sum of values is the exact sum of encodings, and a sum of products
sum X_a X_b (scale 2^2f) is rounded once to scale 2^f, so each party adds at
most 1/2 ulp of rounding to a second-moment total. Every local statistic
must stay below 2^(k-1) / n_parties so that the totals fit the k-bit range;
``check_local`` refuses larger ones before anything is sent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Sequence
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from fractions import Fraction

import numpy as np

from offchain.analytics.spec import MAX_ROWS, JobSpec
from offchain.engine import estimate, ranges
from offchain.engine.compare import ltz, min_max
from offchain.engine.evaluator import Evaluator, S
from offchain.engine.fixedpoint import FixedParams
from offchain.engine.inputs import input_values
from offchain.engine.opening import output_many
from offchain.engine.ranges import Bound
from offchain.errors import ConfigError, InputOutOfRange, RangeCheckFailed, ResultOutOfRange
from offchain.field import FieldVec
from offchain.preprocessing.tuples import Needs
from offchain.shares import SharedVec


def params_of(spec: JobSpec) -> FixedParams:
    """The spec's fixed-point format (inputs and most results)."""
    return FixedParams(spec.fixed_point.k, spec.fixed_point.f)


def wide_of(spec: JobSpec) -> FixedParams:
    """A wider format with the same f, for second moments times counts (n^2 variance)."""
    p = params_of(spec)
    return FixedParams(min(2 * p.k, (252 - p.kappa) // 2), p.f, p.kappa)


def wide_check_bits(spec: JobSpec) -> int | None:
    """The comparison width that checks n Q 2^f - S^2 against the wide format, or None if it always fits.

    That value is n^2 times a (co)variance at scale 2^2f, before it is truncated
    into ``wide_of(spec)``, whose divisions need it below 2^(wide.k - 1 + f). Its
    public bound: n < parties * max_rows and each total second moment below
    parties * 2^(k-1) (every party's is range-checked), so |n Q| < 2^(top - 1)
    with top as below. Two bits more cover S^2 and the noise of a noised total.
    """
    parties, wide, k, f = len(spec.participants), wide_of(spec), spec.fixed_point.k, spec.fixed_point.f
    top = k + (parties * parties * (spec.max_rows or MAX_ROWS)).bit_length()
    if top <= wide.k:
        return None
    bits = top + f + 2
    if bits + wide.kappa > 252:
        raise ConfigError(f"second moments of up to {spec.max_rows or MAX_ROWS} rows per party in fixed_point "
                          f"k={k}, f={f} cannot be range-checked under MPC (it would take {bits}-bit comparisons); "
                          "choose a smaller f or k, or set max_rows")
    return bits


def wide_check_needs(spec: JobSpec, count: int) -> Needs:
    """``check_wide`` of ``count`` values."""
    bits = wide_check_bits(spec)
    return estimate.ltz(count, bits, wide_of(spec).kappa) if bits else Needs()


async def check_wide(ctx: Evaluator[S], spec: JobSpec, x: S, labels: Sequence[str]) -> None:
    """ResultOutOfRange naming each of ``labels`` whose n^2 (co)variance ``x`` (n Q 2^f - S^2, scale 2^2f)
    does not fit the wide format, where it would overflow without a trace.

    One comparison per value, and only whether each fits is opened (MAC-checked):
    the job fails instead of publishing a wrong variance. Skipped where the
    format holds any value the inputs' ranges allow (``wide_check_bits``).
    """
    bits = wide_check_bits(spec)
    if bits is None:
        return
    wide, f = wide_of(spec), spec.fixed_point.f
    (fits,) = await reveal(ctx, [await ltz(ctx, ctx.sub_public(x, 1 << (wide.k - 1 + f)), bits, wide.kappa)])
    over = [label for label, ok in zip(labels, fits, strict=True) if not ok]
    if over:
        limit = 2.0 ** (wide.k - 1 - f)
        raise ResultOutOfRange(
            f"n^2 * variance of {', '.join(over)} is at least {limit:.3g}, beyond fixed_point "
            f"k={spec.fixed_point.k}, f={f} (its square roots, divisions and masks hold n^2 * variance below "
            f"2^{wide.k - 1 - f})",
            "choose a smaller f (each bit less doubles the limit; the default k=64, f=20 holds any data it "
            "accepts), or analyse fewer rows")


def encodings(values: np.ndarray, f: int) -> list[int]:
    """round(x 2^f) for each value, as Python ints (values were range-checked on reading)."""
    return [round(float(v) * (1 << f)) for v in values]


def product_sum(a: Sequence[int], b: Sequence[int], f: int) -> int:
    """sum_i a_i b_i of two encodings, rounded once from scale 2^2f to 2^f."""
    total = sum(x * y for x, y in zip(a, b, strict=True))
    return (total + (1 << (f - 1))) >> f


def check_local(spec: JobSpec, values: Sequence[int], labels: Sequence[str], spare_bits: int = 1,
                purpose: str = "for") -> None:
    """ConfigError naming the first local statistic that could overflow the totals.

    Each must stay below 2^(k - spare_bits) / n_parties; privacy.check_room keeps
    one more bit spare for the noise.
    """
    limit = (1 << (spec.fixed_point.k - spare_bits)) // len(spec.participants)
    for value, label in zip(values, labels, strict=True):
        if abs(value) >= limit:
            raise ConfigError(f"the local {label} is {value / (1 << spec.fixed_point.f):.6g}, "
                              f"too large {purpose} fixed_point k={spec.fixed_point.k} with "
                              f"{len(spec.participants)} parties; choose a larger k")


#: Called with every party's input shares once they exist (see ``input_all``).
InputHook = Callable[[Sequence[S]], Awaitable[None]]


#: Ranges of a party's input vector whose sum is checked too, each with the bound of its sum
#: (e.g. the cells of a count table: each row counts in at most one, so they sum to <= max_rows).
Sums = Sequence[tuple[range, Bound]]


def input_needs(spec: JobSpec, width: int, bounds: Sequence[Bound] | None = None, sums: Sums = ()) -> Needs:
    """Every participant inputs ``width`` values, range-checked with their ``sums`` (see ``input_all``)."""
    total = estimate.range_check(_all_bounds(spec, width, bounds, sums))
    for owner in range(len(spec.participants)):
        total = total + estimate.input_values(owner, width)
    return total


def count_bound(spec: JobSpec) -> Bound:
    """The range of one party's count of rows: [0, max_rows] (``MAX_ROWS`` when the spec sets none)."""
    return Bound(0, spec.max_rows or MAX_ROWS)


def _all_bounds(spec: JobSpec, width: int, bounds: Sequence[Bound] | None, sums: Sums = ()) -> list[Bound]:
    """The bounds of every party's checked vector (its values, then its sums), in party order
    (default: k-bit encodings)."""
    mine = list(bounds) if bounds is not None else [ranges.signed(spec.fixed_point.k)] * width
    if len(mine) != width:
        raise ConfigError(f"{len(mine)} input bounds for {width} inputs")
    if any(r.start < 0 or r.stop > width or not len(r) for r, _ in sums):
        raise ConfigError(f"a checked sum must cover some of the {width} inputs")
    return (mine + [b for _, b in sums]) * len(spec.participants)


def _with_sums(shares: S, sums: Sums) -> S:
    """A party's input shares followed by each checked sum of them (linear: no communication)."""
    if not sums:
        return shares
    totals = [shares[r.start:r.stop].combine(FieldVec.from_ints([1] * len(r))) for r, _ in sums]
    return type(shares).concat([shares, *totals])


async def input_all(ctx: Evaluator[S], spec: JobSpec, mine: Sequence[int],
                    on_inputs: InputHook[S] | None = None,
                    bounds: Sequence[Bound] | None = None, sums: Sums = ()) -> list[S]:
    """Every party inputs a vector as long as ``mine``; their shares in party order.

    ``on_inputs`` runs once all inputs are shared and before any computation,
    so that a peer can commit to its input shares on chain first. Then every
    input is proven under MPC to lie within ``bounds`` (by position; default:
    a k-bit fixed-point encoding), and the sum of each of ``sums``' ranges of
    its vector within that range's bound, so nothing computed after depends on a
    value outside the range its encoding declares; a party whose input is
    outside is named by ``InputOutOfRange``.
    """
    out = []
    for owner in range(len(spec.participants)):
        values = FieldVec.from_ints(mine) if owner == ctx.party else None
        out.append(await input_values(ctx, owner, values, len(mine)))
    if on_inputs is not None:
        await on_inputs(out)
    await check_inputs(ctx, [_with_sums(shares, sums) for shares in out], _all_bounds(spec, len(mine), bounds, sums))
    return out


async def check_inputs(ctx: Evaluator[S], parts: Sequence[S], bounds: Sequence[Bound]) -> None:
    """Range-check the parties' input vectors (in party order) against ``bounds`` (all of them
    concatenated); ``InputOutOfRange`` names every party with a value outside."""
    if not parts or not len(bounds):
        return
    try:
        await ranges.check(ctx, ctx.concat(list(parts)), bounds)
    except RangeCheckFailed as failed:
        starts = np.cumsum([0, *map(len, parts)])
        owners = sorted({int(np.searchsorted(starts, i, side="right")) - 1 for i in failed.indices})
        raise InputOutOfRange(owners, len(failed.indices)) from failed


def input_commitment(shares: Sequence[SharedVec], job_tag: bytes, party: int, salt: bytes) -> bytes:
    """A party's commitment to its shares of every input (hiding by ``salt``, which the party keeps).

    SHA-256 over "mpcc/input-shares/v1" | job tag | party (2 bytes) | salt | each
    shared vector's wire bytes in party order; it is what a peer posts on chain.
    """
    digest = hashlib.sha256(b"mpcc/input-shares/v1" + job_tag + party.to_bytes(2, "big") + salt)
    for shared in shares:
        digest.update(shared.to_bytes())
    return digest.digest()


def total(parts: Sequence[S]) -> S:
    """The sum of the parties' input vectors (local)."""
    acc = parts[0]
    for part in parts[1:]:
        acc = acc + part
    return acc


def gather(x: S, indices: Sequence[int]) -> S:
    """The elements of x at ``indices``, in that order (local; indices may repeat)."""
    return x.gather(np.asarray(list(indices), dtype=np.int64))


def repeat_each(x: S, times: int) -> S:
    """Each element of x ``times`` times in a row: [x0, x0, .., x1, x1, ..]."""
    return type(x).concat([x[i:i + 1] for i in range(len(x)) for _ in range(times)])


async def reveal(ctx: Evaluator[S], items: Sequence[S]) -> list[list[int]]:
    """Opens the vectors (one MAC-checked output) as signed integers."""
    opened = await output_many(ctx, list(items))
    return [v.to_signed_ints() for v in opened]


def party_extremes_needs(spec: JobSpec, width: int) -> Needs:
    """``party_extremes`` over ``width`` (min, max) pairs."""
    needs, m = Needs(), len(spec.participants)
    while m > 1:
        needs = needs + estimate.min_max(2 * width * (m // 2), spec.fixed_point.k)
        m -= m // 2
    return needs


async def party_extremes(ctx: Evaluator[S], spec: JobSpec, mins: list[S],
                         maxs: list[S]) -> tuple[S, S]:
    """Elementwise min of the parties' minima and max of their maxima, by a pairwise tree."""
    both = [ctx.concat([lo, hi]) for lo, hi in zip(mins, maxs, strict=True)]
    width = len(mins[0])
    while len(both) > 1:
        h = len(both) // 2
        small, large = await min_max(ctx, ctx.concat(both[0:2 * h:2]),
                                     ctx.concat(both[1:2 * h:2]), spec.fixed_point.k)
        merged = [ctx.concat([small[2 * width * i:2 * width * i + width],
                                    large[2 * width * i + width:2 * width * (i + 1)]])
                  for i in range(h)]
        both = merged + both[2 * h:]
    return both[0][:width], both[0][width:]


#: Bits of an encoding a printed value leaves out: 3 for the 8 ulp of a division's relative error
#: bound, 11 so that a value within its bound of a rounding midpoint is rare (below 2^-10).
GUARD_BITS = 14


def text_bits(f: int) -> int | None:
    """Significant bits a printed value of f fractional bits keeps (None: six decimal places).

    A value x is first rounded (half-even) to the binary grid 2^g,
    g = max(-(f - GUARD_BITS), e - (f - GUARD_BITS)) with 2^(e-1) <= |x| < 2^e:
    f - GUARD_BITS significant bits, and never finer than 2^-(f - GUARD_BITS).
    An error of E ulp (relative, E ulp |x|, or absolute) changes that rounding
    only where x lies that close to a midpoint of the grid: with probability at
    most 2E / 2^14 per value, below 1e-3 for the 8 ulp of division, 5e-3 for the
    40 ulp of a correlation, at the worst case of the bounds; the midpoints are
    odd multiples of 2^(g-1), which exact results of decimal data do not hit
    (a decimal grid would: the mean 663.52799375 of 16 values with four decimals
    is a midpoint of ten significant digits). So two runs of a job, whose random
    truncations differ, print the same text. Formats too narrow for six digits
    so kept (f < 34, such as k=64, f=20) print six decimal places as before,
    whose last digits can differ between runs.
    """
    bits = f - GUARD_BITS
    return bits if bits * 30103 // 100000 >= 6 else None


def decimal_text(exact: Fraction | Decimal, f: int) -> str:
    """A real as printed for format f: rounded as ``text_bits`` says, then written in decimal with
    floor(bits log10 2) significant digits and as many decimal places at most (plain, half-even)."""
    bits = text_bits(f)
    x = Fraction(exact)
    if bits is None:
        return _decimal(x, Decimal("0.000001"))
    if x:
        e = abs(x.numerator).bit_length() - x.denominator.bit_length()
        e += 1 if Fraction(1 << e if e >= 0 else 1, 1 if e >= 0 else 1 << -e) <= abs(x) else 0
        g = max(-bits, e - bits)
        step = Fraction(2) ** g
        x = round(x / step) * step
    digits = bits * 30103 // 100000
    quantum = Decimal(1).scaleb(-digits)
    if x:
        quantum = max(quantum, Decimal(1).scaleb(_exponent(x) + 1 - digits))
    return _decimal(x, quantum)


def _exponent(x: Fraction) -> int:
    """floor(log10 |x|) for x != 0."""
    with localcontext(prec=60):
        return (Decimal(abs(x.numerator)) / Decimal(x.denominator)).adjusted()


def _decimal(x: Fraction, quantum: Decimal) -> str:
    with localcontext(prec=80):
        value = Decimal(x.numerator) / Decimal(x.denominator)
        return f"{value.quantize(quantum, rounding=ROUND_HALF_EVEN):f}"


def fixed_text(value: int, f: int) -> str:
    """A fixed-point encoding as a decimal string (``decimal_text``)."""
    return decimal_text(Fraction(value, 1 << f), f)


def sentinel(spec: JobSpec) -> int:
    """The largest encoding: a party without rows in a group inputs it as its minimum."""
    return (1 << (spec.fixed_point.k - 1)) - 1
