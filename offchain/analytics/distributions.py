"""Tail probabilities of Student's t and the chi-square distribution, in decimal arithmetic.

The p-values of offchain.analytics.significance are computed by every party
in the clear from the opened totals, and every party must post the same
bytes. Floating-point ``math.lgamma`` and ``math.exp`` come from the
platform's libm and may differ in the last bit between parties, so these
functions run in ``decimal`` at ``PRECISION`` digits instead: its operations
(``+ - * /``, ``sqrt``, ``ln``, ``exp``) are specified to the last digit, so
every party gets the same digits on any platform.

Methods (Press, Teukolsky, Vetterling and Flannery, Numerical Recipes, 3rd
ed., sections 6.1, 6.2 and 6.4):

    ln Gamma(x)   shifted to x >= 40 by Gamma(x) = Gamma(x + 1) / x, then Stirling's
                  series with the Bernoulli numbers B_2 .. B_24 (remainder < 1e-36)
    I_x(a, b)     the regularized incomplete beta function: the continued fraction
                  ``betacf`` evaluated by the modified Lentz method, on x or on 1 - x
                  (whichever side converges fast), so neither tail cancels
    Q(a, x)       the regularized upper incomplete gamma function: the series of
                  P(a, x) for x < a + 1 (``gser``), else the continued fraction of
                  Q (``gcf``, modified Lentz)

    two-sided t tail:  Pr[|T| >= |t|] = I_(df / (df + t^2))(df / 2, 1 / 2)
    chi-square tail:   Pr[X >= x]     = Q(dof / 2, x / 2)

Each loop stops when a step changes the value by less than 10^-(PRECISION - 10)
relatively, and raises ``ArithmeticError`` after ``MAX_ITERATIONS`` (which
takes a df or dof above about 10^12).
"""

from __future__ import annotations

import functools
from decimal import Decimal, localcontext
from fractions import Fraction

PRECISION = 50
MAX_ITERATIONS = 2_000_000
_EPS = Decimal(10) ** -(PRECISION - 10)
_TINY = Decimal(10) ** -(3 * PRECISION)  # Lentz's stand-in for a zero denominator.
_BERNOULLI = (Fraction(1, 6), Fraction(-1, 30), Fraction(1, 42), Fraction(-1, 30), Fraction(5, 66),
              Fraction(-691, 2730), Fraction(7, 6), Fraction(-3617, 510), Fraction(43867, 798),
              Fraction(-174611, 330), Fraction(854513, 138), Fraction(-236364091, 2730))
_SHIFT = 40


def t_two_sided(t: Decimal, df: Decimal) -> Decimal:
    """Pr[|T| >= |t|] for Student's T with ``df`` > 0 degrees of freedom (df need not be whole)."""
    if df <= 0:
        raise ValueError(f"degrees of freedom must be positive, got {df}")
    with localcontext(prec=PRECISION):
        t2 = t * t
        if t2 == 0:
            return Decimal(1)
        x, y = df / (df + t2), t2 / (df + t2)  # y = 1 - x, computed without cancellation.
        return +_beta_regularized(df / 2, Decimal("0.5"), x, y)


def chi2_upper(x: Decimal, dof: Decimal) -> Decimal:
    """Pr[X >= x] for a chi-square X with ``dof`` > 0 degrees of freedom."""
    if dof <= 0:
        raise ValueError(f"degrees of freedom must be positive, got {dof}")
    with localcontext(prec=PRECISION):
        if x <= 0:
            return Decimal(1)
        return +_gamma_upper(dof / 2, x / 2)


def ln_gamma(x: Decimal) -> Decimal:
    """ln Gamma(x) for x > 0 (Stirling's series after shifting x to at least 40)."""
    if x <= 0:
        raise ValueError(f"ln_gamma needs x > 0, got {x}")
    with localcontext(prec=PRECISION + 10):
        shift = Decimal(0)
        while x < _SHIFT:
            shift += x.ln()
            x += 1
        series = (x - Decimal("0.5")) * x.ln() - x + _half_ln_two_pi()
        power, x2 = x, x * x
        for k, b in enumerate(_BERNOULLI, start=1):
            series += Decimal(b.numerator) / (Decimal(b.denominator) * (2 * k) * (2 * k - 1) * power)
            power *= x2
        return +(series - shift)


def _beta_regularized(a: Decimal, b: Decimal, x: Decimal, y: Decimal) -> Decimal:
    """I_x(a, b) with y = 1 - x given exactly (NR's ``betai``)."""
    if x <= 0:
        return Decimal(0)
    if y <= 0:
        return Decimal(1)
    front = (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * y.ln()).exp()
    if x < (a + 1) / (a + b + 2):
        return front * _betacf(a, b, x) / a
    return 1 - front * _betacf(b, a, y) / b


def _betacf(a: Decimal, b: Decimal, x: Decimal) -> Decimal:
    """The continued fraction of I_x(a, b), by the modified Lentz method (NR's ``betacf``)."""
    qab, qap, qam = a + b, a + 1, a - 1
    c, d = Decimal(1), _nonzero(1 - qab * x / qap)
    d = 1 / d
    h = d
    for m in range(1, MAX_ITERATIONS):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d, c = 1 / _nonzero(1 + aa * d), _nonzero(1 + aa / c)
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d, c = 1 / _nonzero(1 + aa * d), _nonzero(1 + aa / c)
        step = d * c
        h *= step
        if abs(step - 1) < _EPS:
            return h
    raise ArithmeticError(f"incomplete beta did not converge for a={a}, b={b}, x={x}")


def _gamma_upper(a: Decimal, x: Decimal) -> Decimal:
    """Q(a, x) = 1 - P(a, x) (NR's ``gammq``)."""
    front = (a * x.ln() - x - ln_gamma(a)).exp()
    if x < a + 1:
        return 1 - front * _gser(a, x)
    return front * _gcf(a, x)


def _gser(a: Decimal, x: Decimal) -> Decimal:
    """P(a, x) / (e^-x x^a / Gamma(a)) by its series."""
    term = total = 1 / a
    ap = a
    for _ in range(MAX_ITERATIONS):
        ap += 1
        term *= x / ap
        total += term
        if abs(term) < abs(total) * _EPS:
            return total
    raise ArithmeticError(f"incomplete gamma series did not converge for a={a}, x={x}")


def _gcf(a: Decimal, x: Decimal) -> Decimal:
    """Q(a, x) / (e^-x x^a / Gamma(a)) by its continued fraction (modified Lentz)."""
    b = x + 1 - a
    c, d = 1 / _TINY, 1 / _nonzero(b)
    h = d
    for i in range(1, MAX_ITERATIONS):
        an = -i * (i - a)
        b += 2
        d, c = 1 / _nonzero(an * d + b), _nonzero(b + an / c)
        step = d * c
        h *= step
        if abs(step - 1) < _EPS:
            return h
    raise ArithmeticError(f"incomplete gamma fraction did not converge for a={a}, x={x}")


def _nonzero(value: Decimal) -> Decimal:
    return value if abs(value) >= _TINY else _TINY


@functools.cache
def _half_ln_two_pi() -> Decimal:
    """ln(2 pi) / 2, with pi by the series of the decimal module's documentation."""
    with localcontext(prec=PRECISION + 20):
        three = Decimal(3)
        lasts, t, s, n, na, d, da = Decimal(0), three, three, 1, 0, 0, 24
        while s != lasts:
            lasts = s
            n, na = n + na, na + 8
            d, da = d + da, da + 32
            t = (t * n) / d
            s += t
        return (2 * s).ln() / 2
