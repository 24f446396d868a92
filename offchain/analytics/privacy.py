"""Differential privacy for count tables: discrete Laplace noise drawn inside MPC, known to no one.

With ``params.epsilon`` set, a histogram, frequency table or categorical naive
Bayes model opens every count plus its own noise Z = G1 - G2, the difference
of two geometric variables with ratio q = exp(-epsilon / sensitivity):
Pr[Z = z] = (1 - q) / (1 + q) q^|z| (the discrete Laplace, or two-sided
geometric, mechanism of Ghosh, Roughgarden and Sundararajan 2009), which
makes the released table epsilon-differentially private for neighbouring
tables that differ by one row added or removed. Sensitivities (L1, one row):

    histogram, frequency: 1         (a row falls in one cell)
    naive_bayes:          1 + F     (its class count and one cell per feature, F features)

(For tables that differ by one row replaced, double them: use epsilon / 2.)
Noised counts may be negative or above the true total; clamping them is
post-processing and left to the reader of the result.

Sampling inside MPC, from shared random bits only: the binary digits of a
geometric variable G (Pr[G = g] = (1 - q) q^g) are independent, digit i being
1 with probability p_i = q^(2^i) / (1 + q^(2^i)). Each digit is a Bernoulli
bit [U < round(p_i 2^L)] of a shared uniform L-bit U (L random bits and one
LTZ); G = sum_(i < W) 2^i B_i keeps W digits, W the least with
q^(2^W) <= 2^-SECURITY. The sampler thus differs from the exact mechanism by
a statistical distance of at most cells * 2 (q^(2^W) + W 2^-L) (a delta of
about 2^-40 per count), and no party learns anything of Z: its bits are the
dealer's authenticated random bits, opened only masked (the LTZ), and the
result opens count + Z as one value.
"""

from __future__ import annotations

import math
import random

from offchain.analytics import common, counts
from offchain.analytics.data import Table
from offchain.analytics.spec import JobSpec
from offchain.engine import estimate
from offchain.engine.bitwise import binary_sum, weighted_sum
from offchain.engine.compare import ltz
from offchain.engine.context import Context
from offchain.field import FieldVec
from offchain.preprocessing.tuples import Needs, TupleKind
from offchain.shares import SharedVec

SUPPORTED = ("histogram", "frequency", "naive_bayes")
UNIFORM_BITS = 48   # L: each Bernoulli probability is rounded to a multiple of 2^-L.
SECURITY = 40       # W digits: Pr[G >= 2^W] = q^(2^W) <= 2^-SECURITY.


def sensitivity(spec: JobSpec) -> int:
    """The L1 sensitivity of the spec's count table to one row (see the module docstring)."""
    return 1 + len(spec.columns) if spec.analysis == "naive_bayes" else 1


def check(spec: JobSpec) -> None:
    """Rules for ``params.epsilon`` (ValueError naming the problem)."""
    epsilon = spec.params.epsilon
    if epsilon is None:
        return
    if spec.analysis not in SUPPORTED:
        raise ValueError(f"params.epsilon (differential privacy) is supported for "
                         f"{list(SUPPORTED)} only, not {spec.analysis!r}")
    if not 0.01 <= epsilon <= 10:
        raise ValueError(f"params.epsilon must be from 0.01 to 10, got {epsilon}")


def thresholds(epsilon: float, sens: int) -> list[int]:
    """round(p_i 2^L) for the W binary digits of one geometric variable, lowest digit first."""
    log_q = -epsilon / sens  # ln q
    out, i = [], 0
    while (2 ** i) * log_q / math.log(2) > -SECURITY:
        qi = math.exp((2 ** i) * log_q)
        out.append(round(qi / (1 + qi) * 2 ** UNIFORM_BITS))
        i += 1
    return out


def sample_plain(epsilon: float, sens: int, count: int, rand: random.Random) -> list[int]:
    """The same sampler in plaintext (tests): count draws of G1 - G2, bit by bit."""
    digits = thresholds(epsilon, sens)

    def geometric() -> int:
        return sum(1 << i for i, c in enumerate(digits) if rand.getrandbits(UNIFORM_BITS) < c)

    return [geometric() - geometric() for _ in range(count)]


def noise_needs(count: int, epsilon: float, sens: int) -> Needs:
    draws = 2 * count * len(thresholds(epsilon, sens))
    return estimate.bits(draws * UNIFORM_BITS) + estimate.ltz(draws, UNIFORM_BITS + 1)


async def noise(ctx: Context, count: int, epsilon: float, sens: int) -> SharedVec:
    """<G1 - G2> for ``count`` cells, from shared random bits (see the module docstring)."""
    digits = thresholds(epsilon, sens)
    draws = 2 * count * len(digits)  # Layout: digit-major, then the two variables, then cells.
    (bits,) = ctx.take(TupleKind.BIT, draws * UNIFORM_BITS).columns
    uniform = binary_sum(bits, draws)
    limits = FieldVec.from_ints([c for c in digits for _ in range(2 * count)])
    below = await ltz(ctx, uniform.sub_public(limits, ctx.key), UNIFORM_BITS + 1)
    parts = [below[i * 2 * count:(i + 1) * 2 * count] for i in range(len(digits))]
    both = weighted_sum(parts, [1 << i for i in range(len(digits))])
    return both[:count] - both[count:]


def needs(spec: JobSpec) -> Needs:
    cells = len(counts.cells(spec))
    return counts.needs(spec) + noise_needs(cells, spec.params.epsilon or 1.0, sensitivity(spec))


async def run(ctx: Context, spec: JobSpec, table: Table,
              on_inputs: common.InputHook | None = None) -> dict[str, str]:
    """The spec's count table, each count with fresh discrete Laplace noise."""
    inputs = await common.input_all(ctx, spec, counts.local(spec, table), on_inputs)
    keys = counts.cells(spec)
    z = await noise(ctx, len(keys), spec.params.epsilon or 1.0, sensitivity(spec))
    (opened,) = await common.reveal(ctx, [common.total(inputs) + z])
    return {key: str(v) for key, v in zip(keys, opened)}
