"""Plaintext twins of protocols: the very values the MPC versions compute, for tests to compare."""

from __future__ import annotations

import random
from collections.abc import Sequence

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
