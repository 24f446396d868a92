"""The p-value functions (offchain.analytics.distributions) against scipy.stats and closed forms.

Grid: df and dof from 0.5 to 10^5, statistics from 10^-8 to 10^4, tails down to
1e-300. Tolerance 1e-9 relative, except where scipy itself is known to be less
exact (there the closed form decides).
"""

from __future__ import annotations

import math
from decimal import Decimal, localcontext

import pytest
from scipy import special, stats

from offchain.analytics.distributions import chi2_upper, ln_gamma, t_two_sided

REL = 1e-9
DFS = [0.5, 1, 1.5, 2, 3, 4.7, 10, 29.3, 100, 1000, 1e5]
TS = [1e-3, 0.1, 0.5, 1, 1.96, 3, 5, 10, 30, 100, 1e4]
DOFS = [1, 2, 3, 4, 5, 7, 10, 30, 100, 1000]
XS = [1e-6, 0.1, 0.5, 1, 2, 3.84, 10, 30, 100, 300, 1000, 3000]


def rel_err(got: Decimal, want: float) -> float:
    return abs(float(got) - want) / want


@pytest.mark.parametrize("df", DFS)
def test_t_two_sided_agrees_with_scipy(df: float) -> None:
    for t in TS:
        want = 2 * stats.t.sf(t, df)
        if want < 1e-300:
            continue  # Below the smallest normal double: scipy underflows.
        assert rel_err(t_two_sided(Decimal(t), Decimal(df)), want) < REL, (t, df)
        assert t_two_sided(Decimal(-t), Decimal(df)) == t_two_sided(Decimal(t), Decimal(df))


@pytest.mark.parametrize("dof", DOFS)
def test_chi2_upper_agrees_with_scipy(dof: int) -> None:
    for x in XS:
        want = stats.chi2.sf(x, dof)
        if want < 1e-300:
            continue
        assert rel_err(chi2_upper(Decimal(x), Decimal(dof)), want) < REL, (x, dof)


def test_closed_forms_and_extreme_tails() -> None:
    # df = 1 is the Cauchy distribution, df = 2 has p = 1 - t / sqrt(2 + t^2).
    for t in (1e-8, 0.3, 7.0, 1e6):
        assert rel_err(t_two_sided(Decimal(t), Decimal(1)), 2 / math.pi * math.atan(1 / t)) < 1e-12
        with localcontext(prec=80):  # Doubles, or 28 digits, would cancel.
            exact = 1 - Decimal(t) / (2 + Decimal(t) ** 2).sqrt()
        assert abs(t_two_sided(Decimal(t), Decimal(2)) / exact - 1) < Decimal("1e-30")
    # dof = 2 is the exponential: Pr[X >= x] = exp(-x / 2), far below scipy's doubles too.
    for x in (1e-9, 1.0, 50.0, 1400.0, 5000.0):
        assert abs(chi2_upper(Decimal(x), Decimal(2)) / (Decimal(-x) / 2).exp() - 1) < Decimal("1e-25")  # 28 digits.
    assert rel_err(t_two_sided(Decimal(40), Decimal(30)), 2 * stats.t.sf(40, 30)) < REL  # About 1e-26.
    assert rel_err(chi2_upper(Decimal(1200), Decimal(3)), stats.chi2.sf(1200, 3)) < REL  # About 1e-259.


def test_no_statistic_is_a_p_value_of_one() -> None:
    assert t_two_sided(Decimal(0), Decimal(5)) == 1
    assert chi2_upper(Decimal(0), Decimal(4)) == 1


def test_ln_gamma_agrees_with_scipy() -> None:
    for x in (1e-5, 0.5, 1, 1.5, 2, 7.25, 39.9, 40, 171.3, 1e4, 1e8):
        want = float(special.gammaln(x))
        assert abs(float(ln_gamma(Decimal(x))) - want) <= 1e-13 * max(1.0, abs(want)), x
    assert ln_gamma(Decimal(1)).copy_abs() < Decimal("1e-36")  # Stirling's remainder at x = 40.
    assert abs(ln_gamma(Decimal("0.5")) - Decimal(math.pi).sqrt().ln()) < Decimal("1e-15")


def test_degrees_of_freedom_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        t_two_sided(Decimal(1), Decimal(0))
    with pytest.raises(ValueError, match="positive"):
        chi2_upper(Decimal(1), Decimal(-1))
