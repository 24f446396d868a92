"""Welch's two-sample t-test and the chi-square test of independence, from totals opened under MPC.

Both tests need only sufficient statistics, so each party inputs those, the
totals are summed under MPC (linear: no multiplication), opened to the
participants through one MAC-checked output, and the test is computed by
every party in the clear, in exact rationals and ``decimal``
(offchain.analytics.distributions), so that all post the same bytes.

    t_test      one numeric column, rows split into two groups by the two values
                of the categorical ``group_by``. Each party inputs per group g its
                row count n_g, the sum S_g of the encodings round(x 2^f) and the sum
                of squares Q_g (scale 2^f, rounded once per party). Then

                    m_g = S_g / (n_g 2^f)
                    v_g = (n_g Q_g 2^f - S_g^2) / (n_g (n_g - 1) 2^2f)      (sample variance)
                    t   = (m_1 - m_2) / sqrt(v_1 / n_1 + v_2 / n_2)
                    df  = (v_1 / n_1 + v_2 / n_2)^2 / ((v_1 / n_1)^2 / (n_1 - 1) + (v_2 / n_2)^2 / (n_2 - 1))
                    p   = Pr[|T_df| >= |t|]          (Welch-Satterthwaite, two-sided)

                m_g and v_g are exact rationals of the opened integers (no fixed-point
                division, so no cancellation in n Q - S^2). With a group of fewer than
                2 rows, or both variances 0, t, df and p_value are "undefined".
    chi_square  two categorical columns; each party inputs its contingency table
                (offchain.analytics.counts, as a two-column frequency table). With
                row and column totals r_i, c_j and N: E_ij = r_i c_j / N,
                statistic = sum (O_ij - E_ij)^2 / E_ij, dof = (R - 1)(C - 1) over the R
                rows and C columns whose total is not 0 (empty ones are dropped, and
                said so), p = Pr[X_dof >= statistic] (no continuity correction).
                ``warning`` is set when an expected count is below 5.

Revealed: the participants learn the opened totals (n_g, S_g, Q_g of both
groups; the whole contingency table), as a mean job's participants learn its
count and sum; the result posted on chain holds only the items the spec's
``reveal`` names (and ``warning``). Error: the totals are exact sums of the
encodings; each value is rounded once to 2^-(f+1) and each party's Q_g by at
most 1/2 ulp, so v_g is off by at most parties / (2 (n_g - 1)) ulp from the
variance of the encodings; everything after is computed to ``PRECISION``
digits.

With ``params.epsilon`` (offchain.analytics.privacy): a t-test's n_g, S_g and
Q_g get discrete Laplace noise with epsilon / 3 each (clip bounds required); a
chi-square test's cells get epsilon on the whole table (sensitivity 1). The
test is then post-processing of the noised totals: n_g is clamped to at least
2, n_g Q_g 2^f - S_g^2 and each count to at least 0.
"""

from __future__ import annotations

import itertools
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from fractions import Fraction

from offchain.analytics import common, counts, privacy
from offchain.analytics.data import Table
from offchain.analytics.distributions import PRECISION, chi2_upper, t_two_sided
from offchain.analytics.spec import JobSpec
from offchain.engine import ranges
from offchain.engine.evaluator import Evaluator, S
from offchain.engine.ranges import Bound
from offchain.preprocessing.tuples import Needs

UNDEFINED = "undefined"
DIGITS = 10  # Significant digits of a printed t, df, statistic and p-value.
EXPECTED_MIN = 5
T_TEST_INPUTS = 6  # n_1, n_2, S_1, S_2, Q_1, Q_2.


def input_bounds(spec: JobSpec) -> list[Bound]:
    """The ranges of a party's inputs, checked under MPC: counts in [0, max_rows], sums and
    sums of squares k-bit encodings."""
    if spec.analysis == "chi_square":
        return counts.bounds(spec)
    return [common.count_bound(spec)] * 2 + [ranges.signed(spec.fixed_point.k)] * (T_TEST_INPUTS - 2)


def needs(spec: JobSpec) -> Needs:
    """The input masks of the totals and their range checks, and the noise under epsilon."""
    if spec.analysis == "t_test":
        total = common.input_needs(spec, T_TEST_INPUTS, input_bounds(spec))
        return total + privacy.plan_needs(privacy.plan(spec)) if spec.params.epsilon is not None else total
    cells = len(counts.cells(spec))
    total = common.input_needs(spec, cells, input_bounds(spec), counts.sums(spec))
    if spec.params.epsilon is not None:
        total = total + privacy.noise_needs(cells, spec.params.epsilon, privacy.sensitivity(spec))
    return total


def local(spec: JobSpec, table: Table) -> list[int]:
    """This party's inputs: n_1, n_2, S_1, S_2, Q_1, Q_2 (t-test) or its contingency table."""
    if spec.analysis == "chi_square":
        return counts.local(spec, table)
    f, group, column = spec.fixed_point.f, spec.group_by or "", spec.columns[0]
    member = table.codes[group]
    encoded = [common.encodings(privacy.clip(spec, table.numeric[column][member == g]), f) for g in (0, 1)]
    sums = [sum(enc) for enc in encoded]
    squares = [common.product_sum(enc, enc, f) for enc in encoded]
    labels = [f"{what} of {column!r} in {group}={v}" for what in ("sum", "sum of squares")
              for v in spec.domain(group)]
    common.check_local(spec, sums + squares, labels)
    if spec.params.epsilon is not None:
        privacy.check_room(spec, sums + squares, labels)
    return [len(enc) for enc in encoded] + sums + squares


async def run(ctx: Evaluator[S], spec: JobSpec, table: Table,
              on_inputs: common.InputHook[S] | None = None) -> dict[str, str]:
    sums = counts.sums(spec) if spec.analysis == "chi_square" else ()
    inputs = await common.input_all(ctx, spec, local(spec, table), on_inputs, input_bounds(spec), sums)
    tot = common.total(inputs)
    if spec.params.epsilon is not None and spec.analysis == "t_test":
        tot = tot + await privacy.noise_at(ctx, spec, T_TEST_INPUTS, {"count": 0, "sum": 2, "squares": 4})
    elif spec.params.epsilon is not None:
        tot = tot + await privacy.noise(ctx, len(tot), spec.params.epsilon, privacy.sensitivity(spec))
    (opened,) = await common.reveal(ctx, [tot])
    return welch(spec, opened) if spec.analysis == "t_test" else chi_square(spec, opened)


def welch(spec: JobSpec, totals: list[int]) -> dict[str, str]:
    """The t-test's result from the opened n_1, n_2, S_1, S_2, Q_1, Q_2 (module docstring)."""
    scale = 1 << spec.fixed_point.f
    group, column = spec.group_by or "", spec.columns[0]
    n = [max(totals[0], 2), max(totals[1], 2)] if spec.params.epsilon is not None else totals[0:2]
    s, q = totals[2:4], totals[4:6]
    means = [Fraction(s[g], n[g] * scale) if n[g] > 0 else Fraction(0) for g in (0, 1)]
    variances = [Fraction(max(n[g] * q[g] * scale - s[g] ** 2, 0), n[g] * (n[g] - 1) * scale * scale)
                 if n[g] > 1 else None for g in (0, 1)]
    result: dict[str, str] = {}
    for g, value in enumerate(spec.domain(group)):
        tag = f"[{group}={value}]"
        if "count" in spec.reveal:
            result[f"count{tag}"] = str(totals[g])
        if "mean" in spec.reveal:
            result[f"mean.{column}{tag}"] = _fixed(means[g], spec.fixed_point.f)
        if "variance" in spec.reveal:
            variance = variances[g]
            result[f"variance.{column}{tag}"] = UNDEFINED if variance is None else _fixed(variance, spec.fixed_point.f)
    result.update(_welch_test(means, variances, n))
    return result


def _welch_test(means: list[Fraction], variances: list[Fraction | None],
                n: list[int]) -> dict[str, str]:
    v1, v2 = variances
    if v1 is None or v2 is None or v1 + v2 == 0:
        return {"t": UNDEFINED, "df": UNDEFINED, "p_value": UNDEFINED}
    e1, e2 = v1 / n[0], v2 / n[1]
    df = (e1 + e2) ** 2 / (e1 * e1 / (n[0] - 1) + e2 * e2 / (n[1] - 1))
    with localcontext(prec=PRECISION):
        t = _decimal(means[0] - means[1]) / _decimal(e1 + e2).sqrt()
        p = t_two_sided(t, _decimal(df))
    return {"t": _significant(t), "df": _significant(_decimal(df)), "p_value": _significant(p)}


def chi_square(spec: JobSpec, table: list[int]) -> dict[str, str]:
    """The chi-square test's result from the opened contingency table (module docstring)."""
    a, b = spec.columns
    shape = (len(spec.domain(a)), len(spec.domain(b)))
    observed = [[max(table[i * shape[1] + j], 0) for j in range(shape[1])] for i in range(shape[0])]
    result = {key: str(v) for key, v in zip(counts.cells(spec), table, strict=True)} if "counts" in spec.reveal else {}
    kept_rows = [i for i, row in enumerate(observed) if sum(row) > 0]
    kept_cols = [j for j in range(shape[1]) if sum(row[j] for row in observed) > 0]
    empty = [f"{a}={v}" for i, v in enumerate(spec.domain(a)) if i not in kept_rows]
    empty += [f"{b}={v}" for j, v in enumerate(spec.domain(b)) if j not in kept_cols]
    notes = [f"no rows with {', '.join(empty)}: left out of the test"] if empty else []
    if len(kept_rows) < 2 or len(kept_cols) < 2:
        notes.append("fewer than 2 non-empty values in a column: no test")
        return {**result, "statistic": UNDEFINED, "dof": UNDEFINED, "p_value": UNDEFINED,
                "warning": "; ".join(notes)}
    stat, dof, small = _pearson([[observed[i][j] for j in kept_cols] for i in kept_rows])
    if small:
        notes.append(f"{len(small)} of {len(kept_rows) * len(kept_cols)} expected counts below {EXPECTED_MIN} "
                     f"(smallest {_fixed(min(small), 20)}): the chi-square approximation may be poor")
    with localcontext(prec=PRECISION):
        p = chi2_upper(_decimal(stat), Decimal(dof))
    result.update({"statistic": _significant(_decimal(stat)), "dof": str(dof), "p_value": _significant(p)})
    return {**result, "warning": "; ".join(notes)} if notes else result


def _pearson(observed: list[list[int]]) -> tuple[Fraction, int, list[Fraction]]:
    """Pearson's statistic of a table without empty rows or columns, its dof, and its expected counts below 5."""
    rows, cols = [sum(row) for row in observed], [sum(col) for col in zip(*observed, strict=True)]
    total = sum(rows)
    expected = [[Fraction(r * c, total) for c in cols] for r in rows]
    stat = sum(((x - e) ** 2 / e for row_o, row_e in zip(observed, expected, strict=True)
                for x, e in zip(row_o, row_e, strict=True)), Fraction(0))
    small = [e for e in itertools.chain.from_iterable(expected) if e < EXPECTED_MIN]
    return stat, (len(rows) - 1) * (len(cols) - 1), small


def _decimal(x: Fraction) -> Decimal:
    return Decimal(x.numerator) / Decimal(x.denominator)


def _fixed(x: Fraction | Decimal, f: int) -> str:
    """Printed as every fixed-point result of format f is (common.decimal_text)."""
    with localcontext(prec=PRECISION):
        value = _decimal(x) if isinstance(x, Fraction) else x
        return common.decimal_text(value, f)


def _significant(x: Decimal) -> str:
    """``DIGITS`` significant digits, half-even: plain from 1e-4 to 1e12, else scientific."""
    with localcontext(prec=DIGITS, rounding=ROUND_HALF_EVEN):
        x = +x
    plain = x == 0 or Decimal("1e-4") <= abs(x) < Decimal("1e12")
    return f"{x:.{DIGITS}g}" if plain else f"{x:.{DIGITS - 1}e}"
