"""Plaintext twins of protocols: the very values the MPC versions compute, for tests to compare."""

from __future__ import annotations

import random
from collections.abc import Sequence

from offchain.analytics.kmeans_seeding import DRAW_BITS, clusters, draws
from offchain.analytics.privacy import UNIFORM_BITS, thresholds
from offchain.analytics.privacy_bounds import bins_noise, threshold, wanted
from offchain.analytics.spec import JobSpec
from offchain.engine.logarithm import _check, _weights, scale_bits, window
from offchain.errors import ConfigError


def sample_plain(epsilon: float, sens: int, count: int, rand: random.Random) -> list[int]:
    """The DP sampler of offchain.analytics.privacy in plaintext: count draws of G1 - G2, bit by bit."""
    digits = thresholds(epsilon, sens)

    def geometric() -> int:
        return sum(1 << i for i, c in enumerate(digits) if rand.getrandbits(UNIFORM_BITS) < c)

    return [geometric() - geometric() for _ in range(count)]


def extremes_plain(spec: JobSpec, noisy: Sequence[int]) -> dict[str, list[int]]:
    """The indices ``privacy_bounds.extremes`` opens, from a plaintext noised histogram."""
    b, tau = spec.params.minmax_bins, threshold(bins_noise(spec))
    rows = [noisy[i:i + b] for i in range(0, len(noisy), b)]
    above = [[h > tau for h in row] for row in rows]
    out = {"min": [next((i for i, a in enumerate(row) if a), b) for row in above],
           "max": [next((b - i for i, a in enumerate(reversed(row)) if a), 0) for row in above]}
    return {name: out[name] for name in wanted(spec)}


def xlog2x_plain(a: int, bits: int) -> int:
    """XLOG_b(a) in plaintext: the very integer ``logarithm.xlog2x`` computes under MPC."""
    _check(bits)
    if not 0 <= a < 1 << bits:
        raise ConfigError(f"xlog2x takes 0 <= a < 2^{bits}, got {a}")
    if a == 0:
        return 0
    h, e = window(bits), a.bit_length() - 1
    u = (a << (h - e) if e <= h else a >> (e - h)) - (1 << h)
    poly = sum(c * u**i for i, c in enumerate(_weights(h), start=1))
    return a * ((e << scale_bits(bits)) + poly)


def kmeanspp_plain(spec: JobSpec, parts: Sequence[Sequence[Sequence[float]]], coin: bytes,
                   run: int = 0) -> list[list[int]]:
    """The centres (encodings, scale 2^f) ``kmeans_seeding.seed`` picks from each party's rows and the
    coin, in run ``run`` of ``params.n_init`` (the run-th K draws of the coin's stream).

    Rows laid out as the MPC inputs them: party p's row r at p * max_rows + r, padded with
    invalid zero rows; every sum exact in Python integers, as the MPC's shares are.
    """
    f, m, per = spec.fixed_point.f, len(spec.columns), spec.max_rows or 0
    x: list[list[int]] = []
    valid: list[int] = []
    for rows in parts:
        x += [[round(float(v) * (1 << f)) for v in row] for row in rows] + [[0] * m] * (per - len(rows))
        valid += [1] * len(rows) + [0] * (per - len(rows))
    k = clusters(spec)
    u, w = draws(coin, k * (run + 1))[run * k:], valid
    centres: list[list[int]] = []
    for t in range(clusters(spec)):
        total, prefix, pick = sum(w), 0, None
        for i, wi in enumerate(w):
            prefix += wi
            if u[t] * total < prefix << DRAW_BITS:
                pick = i
                break
        centres.append(list(x[pick]) if pick is not None else [0] * m)
        d = [sum((a - c) ** 2 for a, c in zip(row, centres[-1], strict=True)) for row in x]
        w = ([v * di for v, di in zip(valid, d, strict=True)] if t == 0
             else [min(a, b) for a, b in zip(w, d, strict=True)])
    return centres
