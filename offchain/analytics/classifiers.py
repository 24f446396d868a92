"""Linear classifiers under MPC: logistic regression and a linear SVM, by full-batch gradient descent.

Every party inputs each of its rows as x~ = (x_1 .. x_C, 1), the spec's numeric
``columns`` and a validity 1 that carries the intercept, padded to ``max_rows``
rows of zeros, so the inputs and the work depend on the spec alone. The label
is categorical with two values, the second the positive class: y = 1 for it,
y = 0 for the first (logistic regression), s = 2y - 1 (SVM). With
R = parties * max_rows rows, weights w = (w_1 .. w_C, b) starting at 0, T =
``params.iterations`` steps of learning rate eta (``params.learning_rate``) and
L2 penalty lambda (``params.regularization``, not on the intercept), each step is

    logistic:  z_i = w . x~_i,   D = sum_i (sigma'(z_i) - y_i) x~_i
    SVM:       z_i = s_i w . x~_i,  D = - sum_i [z_i < 1] s_i x~_i
    both:      w_a <- (1 - eta lambda) w_a - eta D_a,   b <- b - eta D_b

the full-batch descent of sum_i loss_i + lambda/2 |w|^2, with the log loss or the
hinge loss max(0, 1 - s_i (w . x_i + b)) (a subgradient at the hinge). The
gradient is summed, not averaged: with n rows in all, eta = c / n is the
averaged step c. Only the final weights are revealed ("coefficient[column]",
"intercept"); margins, indicators and gradients stay secret.

The sigmoid is the piecewise-linear sigma'(z) = sum_j d_j max(z - b_j, 0), knots
b = (-63/16, -13/8, 13/8, 63/16), slope changes d = (1/16, 5/32, -5/32, -1/16):
0 below -63/16, slope 1/16 to -13/8, 7/32 through 0 (sigma'(0) = 1/2), 1/16 to
63/16 and 1 above. Its largest error |sigma' - sigma| is SIGMOID_ERROR = 0.0200
(at the inner knots |z| = 13/8); knots and slopes are dyadic, so with f >= 8 they are exact.
Under MPC, max(z - b_j, 0) is (z - b_j) minus [z < b_j] (z - b_j): 4 LTZ and 4
products per row and step. The SVM needs one LTZ per row and step, [z_i < 1].
Each party inputs s_i x~_i for the SVM (the sign hides in the row) and, for the
logistic regression, also its exact local sum Y = sum_i y_i x~_i (C + 1 values).

Cost per step: (C + 1) R products and R truncations for the margins; logistic
4R LTZ(k), 4R products, R + (C + 1) truncations and (C + 1) R products; SVM R
LTZ(k) and (C + 1) R products (a bit times a row: no truncation); the update
C + 1 truncations.

Error (ulp = 2^-f), against the same algorithm in float64 on the inputs
rounded to f bits, with eta and 1 - eta lambda rounded to f bits as here
(B' = max(B, 1) for the largest |x|, e_t the weights' error vector after t steps):

    logistic:  |e_T|_2 <= T sqrt(C + 1) (1 + eta (1 + 39/32 R B')) ulp
               when eta (7/32 sum_i |x~_i|^2 + lambda) <= 2
    SVM:       |e_T|_inf <= T ulp, as long as no row's margin z_i lies within
               (C + 1) B' |e_t|_inf + 1 ulp of 1 in any step

Logistic: sigma' is monotone with slopes in [0, 7/32], so the descent map moves
an error e to (S - eta H) e, S the shrink factors and H = sum_i s_i x~_i x~_i^T
with s_i in [0, 7/32]; under the condition (a step stable for every weight
vector) it is non-expansive, and each step adds its roundings: 1 ulp for the
update, eta times 1 ulp for the gradient total, R B' ulp for the sigmoids and
7/32 R B' for the margins, per weight. Without the condition the error can
grow by 1 + eta R (C + 1) B'^2 7/32 per step. SVM: with the plaintext
indicators, D is exact (a bit times an input) and only the update rounds. A
prediction sign(w . x + b) equals the plaintext model's unless |w . x + b| is
within (C + 1) B' |e_T|_inf of 0; the tests use separated classes.

Range: every value must satisfy |x| <= ``bound(spec)``, chosen so that the
weights after T steps, |w_a| <= T eta (R B' + N) (N the noise bound below, 0
without epsilon; each step shrinks by 1 - eta lambda in [0, 1] and moves by at
most eta |D_a| <= eta R B'), keep every margin |z| <= (C + 1) B' |w| within
2^(k-1-f) / 8; ``run`` refuses a larger local value before sending, and a spec
whose bound is below 1 is refused (fewer steps, a lower rate or more bits).
Features are used as given: standardise them beforehand (a few units around 0),
since one fixed step suits columns of one scale only.

With ``params.epsilon`` (the noisy gradient descent of SuLQ, Blum, Dwork,
McSherry and Nissim 2005, as in offchain.analytics.kmeans), each party clips
its features to [clip_lower, clip_upper] before input, and each step adds
discrete Laplace noise inside MPC to the C + 1 totals D (offchain.analytics.privacy:
sensitivity C (M + 1) + 2^f + 1 ulp, as a row moves each total by at most one
clipped value, or 1 for the intercept, plus a rounding; epsilon / T per step,
all T (C + 1) draws at once after the input). Given the noised totals before
it, a step is a query of that sensitivity, so the T steps compose to epsilon;
the update and all later steps are post-processing. N = 2^W ulp is the noise
bound of privacy.thresholds.
"""

from __future__ import annotations

import math

from offchain.analytics import common, privacy
from offchain.analytics.data import Table
from offchain.analytics.spec import JobSpec
from offchain.engine import estimate
from offchain.engine.arith import mul
from offchain.engine.bitwise import block_sum, weighted_sum
from offchain.engine.compare import ltz
from offchain.engine.evaluator import Evaluator, S
from offchain.engine.fixedpoint import fx_trunc
from offchain.engine.ranges import Bound
from offchain.errors import ConfigError
from offchain.field import FieldVec, P
from offchain.preprocessing.tuples import Needs

#: The sigmoid's piecewise-linear approximation: knots b_j and slope changes d_j (module docstring).
KNOTS = (-63 / 16, -13 / 8, 13 / 8, 63 / 16)
SLOPES = (1 / 16, 5 / 32, -5 / 32, -1 / 16)
SIGMOID_ERROR = 0.0200  # max over z of |sigma'(z) - 1 / (1 + e^-z)|
MIN_F = 8  # Knots and slopes are exact with f >= 8 fractional bits.


def _sizes(spec: JobSpec) -> tuple[int, int]:
    """(R padded rows of all parties, C + 1 weights)."""
    return (spec.max_rows or 0) * len(spec.participants), len(spec.columns) + 1


def _noise_bound(spec: JobSpec) -> float:
    """N: the largest |noise| of a gradient total, in real units (0 without epsilon)."""
    p = spec.params
    if p.epsilon is None or not 0.01 <= p.epsilon <= 10:
        return 0.0
    noise = privacy.plan(spec)[0]
    return 2.0 ** (len(privacy.thresholds(noise.epsilon, noise.sensitivity)) - spec.fixed_point.f)


def bound(spec: JobSpec) -> float:
    """The largest |value| the fixed-point range allows (see the module docstring)."""
    fp, p = spec.fixed_point, spec.params
    rows, width = _sizes(spec)
    room = 2.0 ** (fp.k - 1 - fp.f) / 8
    steps = p.iterations * (p.learning_rate or 0.0)
    n = _noise_bound(spec)
    if steps <= 0 or rows <= 0:
        return 0.0
    # The largest B' with width * steps * (R B'^2 + N B') <= room, and R B' <= room.
    limit = room / (width * steps)
    b = (-n + math.sqrt(n * n + 4 * rows * limit)) / (2 * rows)
    return min(b, room / rows) * 0.99


def check(spec: JobSpec) -> None:
    """The spec rules of the classifiers (ValueError naming the problem)."""
    p, fp = spec.params, spec.fixed_point
    if not 1 <= p.iterations <= 50:
        raise ValueError(f"{spec.analysis} needs params.iterations (descent steps) from 1 to 50")
    if p.learning_rate is None:
        raise ValueError(f"{spec.analysis} needs params.learning_rate, the step on the summed gradient")
    if p.learning_rate * p.regularization > 1:
        raise ValueError("params.learning_rate * params.regularization must be at most 1 (the weights' "
                         "shrink factor 1 - eta lambda would turn negative)")
    if fp.f < MIN_F:
        raise ValueError(f"{spec.analysis} needs fixed_point.f of at least {MIN_F}")
    rows, width = _sizes(spec)
    if rows * width * p.iterations > 1 << 17:
        raise ValueError(f"{spec.analysis} over {rows} padded rows, {width - 1} columns and {p.iterations} "
                         "steps is too large; lower max_rows or the iterations")
    limit = bound(spec)
    if limit < 1:
        noise = ", raise epsilon" if _noise_bound(spec) else ""
        raise ValueError(f"with {p.iterations} steps of learning rate {p.learning_rate:g} over {rows} padded "
                         f"rows, the weights could leave fixed_point k={fp.k}, f={fp.f}; lower the steps or "
                         f"the rate{noise}, or raise k")
    if p.epsilon is not None and any(v is not None and abs(v) > limit for v in (p.clip_lower, p.clip_upper)):
        raise ValueError(f"the clip bounds [{p.clip_lower}, {p.clip_upper}] reach beyond the range "
                         f"+-{limit:.6g} that {spec.analysis} allows here; narrow them or lower the steps")


def needs(spec: JobSpec) -> Needs:
    rows, width = _sizes(spec)
    params, k = common.params_of(spec), spec.fixed_point.k
    logistic = spec.analysis == "logistic_regression"
    step = estimate.mul(rows * width) + estimate.fx_trunc(rows, params)  # The margins.
    if logistic:
        step = step + estimate.ltz(4 * rows, k) + estimate.mul(4 * rows) + estimate.fx_trunc(rows, params)
        step = step + estimate.fx_trunc(width, params)
    else:
        step = step + estimate.ltz(rows, k)
    step = step + estimate.mul(rows * width) + estimate.fx_trunc(width, params)  # Gradient, update.
    own = (spec.max_rows or 0) * width + (width if logistic else 0)
    total = common.input_needs(spec, own, input_bounds(spec)) + step * spec.params.iterations
    if spec.params.epsilon is not None:
        total = total + privacy.plan_needs(privacy.plan(spec))
    return total


def input_bounds(spec: JobSpec) -> list[Bound]:
    """The ranges of a party's inputs (``local``), checked under MPC: each entry of a row
    within +-max(bound, 1) (the bias column is 1, or +-1 for SVM), and each logistic sum
    of Y within max_rows times that."""
    top = max(math.ceil(bound(spec) * (1 << spec.fixed_point.f)), 1 << spec.fixed_point.f)
    per, width = spec.max_rows or 0, len(spec.columns) + 1
    rows = [Bound(-top, top)] * (per * width)
    if spec.analysis == "svm":
        return rows
    return rows + [Bound(-top * per, top * per)] * width


def local(spec: JobSpec, table: Table) -> list[int]:
    """This party's input: its rows x~ (SVM: s x~) column-major, padded; logistic: then Y."""
    f, limit, per = spec.fixed_point.f, bound(spec), spec.max_rows or 0
    columns = {c: privacy.clip(spec, table.numeric[c]) for c in spec.columns}
    for c, values in columns.items():
        if len(values) and float(abs(values).max()) > limit:
            raise ConfigError(f"column {c!r} holds {float(abs(values).max()):.6g}, outside the range "
                              f"+-{limit:.6g} {spec.analysis} allows with fixed_point k={spec.fixed_point.k} "
                              "and these steps; standardise the column, lower the steps or raise k")
    enc = [common.encodings(columns[c], f) for c in spec.columns] + [[1 << f] * table.rows]
    labels = [int(y) for y in table.codes[spec.label or ""]]
    pad = [0] * (per - table.rows)
    if spec.analysis == "svm":
        return [v for e in enc for v in [(2 * y - 1) * x for x, y in zip(e, labels, strict=True)] + pad]
    sums = [sum(x for x, y in zip(e, labels, strict=True) if y) for e in enc]
    return [v for e in enc for v in e + pad] + sums


async def _margins(ctx: Evaluator[S], spec: JobSpec, x: S, w: S) -> S:
    """<w . x~_i> for every row (x column-major: a block of R per weight)."""
    rows, width = _sizes(spec)
    prod = await mul(ctx, x, common.gather(w, [a for a in range(width) for _ in range(rows)]))
    return await fx_trunc(ctx, block_sum(prod, rows), common.params_of(spec))


async def _sigmoid(ctx: Evaluator[S], spec: JobSpec, z: S) -> S:
    """<sigma'(z)>: the sum of d_j max(z - b_j, 0), each max from one LTZ and one product."""
    f, rows = spec.fixed_point.f, len(z)
    shifted = ctx.concat([ctx.sub_public(z, round(b * (1 << f)) % P) for b in KNOTS])
    below = await ltz(ctx, shifted, spec.fixed_point.k)
    relu = shifted - await mul(ctx, below, shifted)
    parts = [relu[j * rows:(j + 1) * rows] for j in range(len(KNOTS))]
    return await fx_trunc(ctx, weighted_sum(parts, [round(d * (1 << f)) % P for d in SLOPES]),
                          common.params_of(spec))


async def _gradient(ctx: Evaluator[S], spec: JobSpec, x: S, x_rows: S, w: S, y: S) -> S:
    """<D>, the step's C + 1 gradient totals (x_rows: the rows row-major)."""
    rows, width = _sizes(spec)
    z = await _margins(ctx, spec, x, w)
    each = [i for i in range(rows) for _ in range(width)]
    if spec.analysis == "svm":
        active = await ltz(ctx, ctx.sub_public(z, 1 << spec.fixed_point.f), spec.fixed_point.k)
        return -block_sum(await mul(ctx, x_rows, common.gather(active, each)), width)
    g = await _sigmoid(ctx, spec, z)
    prod = await mul(ctx, x_rows, common.gather(g, each))
    return await fx_trunc(ctx, block_sum(prod, width), common.params_of(spec)) - y


async def _step(ctx: Evaluator[S], spec: JobSpec, w: S, d: S) -> S:
    """<(1 - eta lambda) w - eta D>, the intercept not shrunk; one truncation each."""
    p, f = spec.params, spec.fixed_point.f
    shrink = round((1 - (p.learning_rate or 0.0) * p.regularization) * (1 << f))
    rate = round((p.learning_rate or 0.0) * (1 << f))
    scaled = w.scale(FieldVec.from_ints([shrink] * len(spec.columns) + [1 << f])) - d.scale(rate)
    return await fx_trunc(ctx, scaled, common.params_of(spec))


async def run(ctx: Evaluator[S], spec: JobSpec, table: Table,
              on_inputs: common.InputHook[S] | None = None) -> dict[str, str]:
    rows, width = _sizes(spec)
    per, parties = spec.max_rows or 0, len(spec.participants)
    block = per * width + (width if spec.analysis == "logistic_regression" else 0)
    data = ctx.concat(await common.input_all(ctx, spec, local(spec, table), on_inputs, input_bounds(spec)))
    at = [[p * block + a * per + r for p in range(parties) for r in range(per)] for a in range(width)]
    x = common.gather(data, [i for column in at for i in column])
    x_rows = common.gather(data, [at[a][i] for i in range(rows) for a in range(width)])
    y = ctx.zeros(width)
    if spec.analysis == "logistic_regression":
        y = block_sum(common.gather(data, [p * block + per * width + a for p in range(parties)
                                           for a in range(width)]), width)
    noisy = spec.params.epsilon is not None
    z = (await privacy.noise_many(ctx, privacy.plan(spec)))[0] if noisy else None
    w = ctx.zeros(width)
    for t in range(spec.params.iterations):
        d = await _gradient(ctx, spec, x, x_rows, w, y)
        if z is not None:
            d = d + z[t * width:(t + 1) * width]
        w = await _step(ctx, spec, w, d)
    (opened,) = await common.reveal(ctx, [w])
    f = spec.fixed_point.f
    result = {f"coefficient[{c}]": common.fixed_text(opened[a], f) for a, c in enumerate(spec.columns)}
    result["intercept"] = common.fixed_text(opened[-1], f)
    return result
