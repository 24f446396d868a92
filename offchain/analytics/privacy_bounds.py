"""Differentially private min and max: a noisy histogram over the clip range, thresholded in MPC.

A la ApproxBounds (Google's differential-privacy library), on linear bins of
the declared range. With ``params.epsilon``, a summary that reveals min or max
cuts [clip_lower, clip_upper] into B = ``params.minmax_bins`` public bins of
equal width, in encodings: with L = round(clip_lower 2^f), H = round(clip_upper 2^f),
bin i holds the clipped encodings X with floor((X - L) B / (H - L)) = i (the
top bin also holds H), so it is [e_i, e_(i+1)) for the exact edges
e_i = L + ceil(i (H - L) / B). Each party inputs, per group and column, how
many of its clipped values fall in each bin (a linear input: the totals are
the pooled histogram h). Then, inside MPC, with nothing opened but the answer:

    h~ = h + Z               discrete Laplace noise on every bin (offchain.analytics.privacy,
                             part "bins": sensitivity C, a row falls in one bin per column)
    a_i = [h~_i > tau]       one LTZ per bin
    p_i = OR_(j <= i) a_j    prefix OR from below, s_i = OR_(j >= i) a_j from above
                             (Sklansky: log2 B rounds of products)
    min index = B - sum p_i  the first bin above tau (B if none)
    max index = sum s_i      one past the last bin above tau (0 if none)

The indices are opened; the revealed min is e_index and the revealed max
e_index (the upper edge of the last bin above tau). When no bin exceeds tau
(an empty group, or one too sparse to tell) both are "none", as for an empty
group without epsilon. Everything after the noise is post-processing of h~,
so the pair is epsilon_bins-differentially private, epsilon_bins being the
histogram's share of the budget (one share for min and max: ``privacy.plan``).

The threshold tau is the least integer with N q^(tau+1) / (1 + q) <= SPURIOUS,
for the N bins of the job in all and q = exp(-epsilon_bins / C): an empty bin
exceeds tau when Z >= tau + 1, with probability q^(tau+1) / (1 + q), so noise
alone lifts some empty bin of the job above tau with probability at most
SPURIOUS = 1e-9 (ApproxBounds' default), plus the sampler's statistical
distance (at most N 2^-38). tau is about C ln(N / SPURIOUS) / epsilon_bins:
2 for epsilon_bins = 9, C = 1 and 32 bins; 23 for epsilon_bins = 1; 47 for 0.5.

Accuracy, with width = (H - L) / B (one ulp more by the ceilings): with
probability 1 - SPURIOUS every bin above tau holds data, so the revealed min
is the lower edge of a non-empty bin, above (true min - width). When the bin
of the true (clipped) minimum holds m > tau rows, it exceeds tau unless its
noise is at most tau - m (probability q^(m - tau) / (1 + q)); the revealed min
is then its lower edge, in (true min - width, true min]. Rows sparser than
about tau per bin at an edge are clipped inward: a lone outlier is never
revealed, which is what differential privacy asks. The max is alike from
above, in [true max, true max + width). More bins narrow the width but hold
fewer rows each, and tau grows with ln N.

Cost: the noise of N bins, N LTZs of k + 1 bits, and prefix_or_mults(B) products
per cell for each of min and max revealed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from offchain.analytics import common, privacy
from offchain.analytics.spec import JobSpec
from offchain.engine import estimate
from offchain.engine.bitwise import prefix_or, prefix_or_mults
from offchain.engine.compare import ltz
from offchain.engine.evaluator import Evaluator, S
from offchain.errors import ConfigError
from offchain.preprocessing.tuples import Needs

SPURIOUS = 1e-9  # beta: the chance that noise lifts any empty bin of a job above tau.


def wanted(spec: JobSpec) -> tuple[str, ...]:
    """Which of min and max the spec reveals, in that order."""
    return tuple(name for name in ("min", "max") if name in spec.reveal)


def bins_noise(spec: JobSpec) -> privacy.Noise:
    """The histogram's entry of the spec's noise plan."""
    return next(n for n in privacy.plan(spec) if n.part == "bins")


def threshold(noise: privacy.Noise) -> int:
    """tau: the least integer with N q^(tau+1) / (1 + q) <= SPURIOUS (the module docstring)."""
    rate = noise.epsilon / noise.sensitivity  # -ln q
    q = math.exp(-rate)
    return max(0, math.ceil(math.log(noise.cells / (SPURIOUS * (1 + q))) / rate) - 1)


def ends(spec: JobSpec) -> tuple[int, int]:
    """(L, H): the encodings of the clip bounds."""
    p, f = spec.params, spec.fixed_point.f
    return round((p.clip_lower or 0.0) * (1 << f)), round((p.clip_upper or 0.0) * (1 << f))


def edges(spec: JobSpec) -> list[int]:
    """e_0 .. e_B: bin i holds the encodings in [e_i, e_(i+1)), the top bin also e_B = H."""
    (low, high), b = ends(spec), spec.params.minmax_bins
    return [low - (-i * (high - low) // b) for i in range(b + 1)]


def local_counts(spec: JobSpec, encodings: Sequence[int]) -> list[int]:
    """How many of a party's clipped encodings fall in each bin."""
    (low, high), b = ends(spec), spec.params.minmax_bins
    out = [0] * b
    for x in encodings:
        out[min(b - 1, (x - low) * b // (high - low))] += 1
    return out


def check_room(spec: JobSpec, counts: Sequence[int]) -> None:
    """ConfigError if a party's rows in a group (a bound on its bin counts) leave the LTZs no room.

    Each party's count stays below 2^(k-2) / parties and the noise below 2^(k-2)
    (``privacy.check``), so |h~| < 2^(k-1); tau is below 1.25 2^W <= 1.25 2^(k-2)
    (ln(N / SPURIOUS) < 34 < 1.25 ln 2^40), so tau - h~ fits the k + 1 bits of the LTZ.
    """
    k, parties = spec.fixed_point.k, len(spec.participants)
    limit = (1 << (k - 2)) // parties
    if max(counts, default=0) >= limit:
        raise ConfigError(f"{max(counts)} rows of a group at one party are too many for the "
                          f"min/max bins in fixed_point k={k} with {parties} parties (at most "
                          f"{limit - 1}); choose a larger k")


def needs(spec: JobSpec, cells: int) -> Needs:
    """``extremes`` over ``cells`` histograms (the noise is in the spec's plan, not here)."""
    b = spec.params.minmax_bins
    return (estimate.ltz(cells * b, spec.fixed_point.k + 1)
            + estimate.mul(prefix_or_mults(b) * cells * len(wanted(spec))))


async def extremes(ctx: Evaluator[S], spec: JobSpec, noisy: S) -> dict[str, S]:
    """<min index>, <max index> per cell from the noised histograms (cell-major, then bin)."""
    b, names = spec.params.minmax_bins, wanted(spec)
    cells = len(noisy) // b
    tau = threshold(bins_noise(spec))
    above = await ltz(ctx, ctx.rsub_public(noisy, tau), spec.fixed_point.k + 1)
    by_bin = [common.gather(above, range(i, len(above), b)) for i in range(b)]
    # One prefix OR for both: block i holds bin i (from below) then bin B-1-i (from above).
    ored = await prefix_or(ctx, [ctx.concat([by_bin[i if n == "min" else b - 1 - i]
                                                   for n in names]) for i in range(b)])
    total = common.total(ored)
    out: dict[str, S] = {}
    for k, name in enumerate(names):
        part = total[k * cells:(k + 1) * cells]
        out[name] = ctx.rsub_public(part, b) if name == "min" else part
    return out


def decode(spec: JobSpec, name: str, indices: Sequence[int]) -> list[int]:
    """The encodings revealed for opened indices: an edge, or +-sentinel ("none") if none passed."""
    edge, b, big = edges(spec), spec.params.minmax_bins, common.sentinel(spec)
    empty = b if name == "min" else 0
    return [big if i == empty else edge[i] for i in indices]
