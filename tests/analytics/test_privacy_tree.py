"""Differentially private ID3 (offchain.analytics.tree_privacy) against a plaintext twin of it.

The twin grows the tree breadth first in the MPC's slot order, adds each level's noise to
the pooled counts, clamps at 0 and applies the exact ID3 rule. The noise comes from the MPC
run itself: a test hook opens the shares of every level's noise (jobs never do), and the
tree with the hook equals the tree without it from the same seeded dealer.
"""

from __future__ import annotations

import asyncio
import functools
import math
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

import numpy as np
import pytest

from offchain.auditable import routes
from offchain.analytics import registry, tree, tree_privacy
from offchain.analytics.data import Table
from offchain.analytics.privacy import Noise
from offchain.analytics.spec import JobSpec
from offchain.engine.context import Context
from harness.local import run_local
from harness.twins import xlog2x_plain
from offchain.errors import ConfigError
from analytics_testkit import PARTIES, opened_noise, run_analysis, spec, split_tables
from test_analytics_tree import DOMAINS, data, plain_id3, tree_spec

SEED = b"dp-tree"


def dp_spec(features: tuple[str, ...], depth: int, max_rows: int, epsilon: float,
            criterion: str = "gini") -> JobSpec:
    params: dict[str, Any] = {"max_depth": depth, "epsilon": epsilon}
    if criterion != "gini":
        params["criterion"] = criterion
    return spec(analysis="decision_tree", columns=features, label="k", max_rows=max_rows,
                domains={n: DOMAINS[n] for n in (*features, "k")}, params=params,
                reveal=("tree",))


def dp_twin(columns: Mapping[str, Sequence[str]], features: Sequence[str], label: str,
            domains: Mapping[str, Sequence[str]], depth: int, noise: Sequence[Sequence[int]],
            criterion: str = "gini", bits: int = 0, clamped: list[int] | None = None
            ) -> dict[str, str]:
    """The DP ID3 rule in plaintext. Level t's node s (breadth first, children in value
    order) sees m = max(n + z, 0) for each count n, z = noise[t][s * width + offset + ...]
    in the MPC's layout: class counts are sums of feature 0's m; a node with at most one
    positive class count is a leaf (of its parent's class if all are 0); otherwise the
    candidate of most sum_v A_v / max(n_v, 1) (Gini) or least integer E_f (entropy) splits,
    ties to the first. ``clamped`` collects how many counts went below 0."""
    classes, C, F = domains[label], len(domains[label]), len(features)
    sizes = [len(domains[f]) for f in features]
    offset, width = [C * sum(sizes[:f]) for f in range(F)], C * sum(sizes)
    out: dict[str, str] = {}
    level: list[tuple[tuple[tuple[int, int], ...], list[int], int]] = [
        ((), list(range(len(columns[label]))), 0)]

    def noisy(n: int, z: int) -> int:
        if clamped is not None:
            clamped.append(int(n + z < 0))
        return max(n + z, 0)

    for t in range(depth + 1):
        children = []
        for s, (path, members, parent) in enumerate(level):
            key = "node[" + ",".join(f"{features[f]}={domains[features[f]][v]}"
                                     for f, v in path) + "]"
            ys = [columns[label][r] for r in members]
            if t == depth:
                cc = [noisy(ys.count(c), noise[t][s * C + i]) for i, c in enumerate(classes)]
                out[key] = f"leaf:{classes[cc.index(max(cc)) if sum(cc) else parent]}"
                continue
            m = [[[noisy(sum(1 for r in members if columns[name][r] == value
                             and columns[label][r] == c),
                         noise[t][s * width + offset[f] + v * C + i])
                   for i, c in enumerate(classes)] for v, value in enumerate(domains[name])]
                 for f, name in enumerate(features)]
            cc = [sum(row[i] for row in m[0]) for i in range(C)]
            own = cc.index(max(cc))
            if max(cc) == sum(cc):
                out[key] = f"leaf:{classes[own if sum(cc) else parent]}"
                continue
            options = [f for f in range(F) if f not in {g for g, _ in path}]
            best = min(options, key=lambda f: (score(m[f], criterion, bits), f))
            out[key] = f"split:{features[best]}"
            name = features[best]
            children += [((*path, (best, v)), [r for r in members if columns[name][r] == value],
                          own) for v, value in enumerate(domains[name])]
        level = children
    return out


def score(table: list[list[int]], criterion: str, bits: int) -> Fraction | int:
    """The smaller the better: -G_f (Gini) or E_f (entropy) of one feature's counts."""
    if criterion == "entropy":
        return sum(xlog2x_plain(sum(row), bits) - sum(xlog2x_plain(c, bits) for c in row)
                   for row in table)
    return -sum((Fraction(sum(c * c for c in row), max(sum(row), 1)) for row in table),
                Fraction(0))


def run_with_noise(s: JobSpec, tables: Sequence[Table], seed: bytes
                   ) -> tuple[dict[str, str], list[list[int]]]:
    """The MPC tree and every level's noise, opened on the side; exact needs, as run_analysis."""
    needs = routes.needs(s)

    async def program(ctx: Context) -> tuple[dict[str, str], dict[str, int]]:
        result = await tree.run(ctx, s, tables[ctx.party])
        left = {str(k): ctx.source.available(k) for k, _ in needs}
        return result, {k: v for k, v in left.items() if v}

    with opened_noise() as drawn:
        results = asyncio.run(run_local(len(tables), program, needs=needs, sacrifice=False,
                                        seed=seed, timeout=120))
    for r in results:
        if isinstance(r, BaseException):
            raise r
    seen = [[z for _, opened in drawn.by_party[p] for z in opened] for p in range(len(tables))]
    assert all(r[0] == results[0][0] for r in results)  # type: ignore[index]
    assert all(z == seen[0] for z in seen)
    assert not results[0][1], f"tuples left over: {results[0][1]}"  # type: ignore[index]
    return results[0][0], seen[0]  # type: ignore[index]


FEATURES = ("a", "b", "c")


@functools.cache
def noised_run(criterion: str) -> tuple[dict[str, np.ndarray], JobSpec, dict[str, str],
                                        list[list[int]]]:
    """Depth 2 over three features, epsilon 1.5 (0.5 per level): noise that matters."""
    columns = data(61, 60, 0.15)
    s = dp_spec(FEATURES, 2, 20, 1.5, criterion)
    got, noise = run_with_noise(s, split_tables(s, columns), SEED)
    return columns, s, got, noise


@pytest.mark.parametrize("criterion", ["gini", "entropy"])
def test_mpc_equals_the_plaintext_dp_twin_given_the_same_noise(criterion: str) -> None:
    columns, s, got, noise = noised_run(criterion)
    pooled = {n: list(v) for n, v in columns.items()}
    bits = tree.shape_of(s).log_bits
    clamped: list[int] = []
    assert got == dp_twin(pooled, FEATURES, "k", DOMAINS, 2, noise, criterion, bits, clamped)
    # The noise matters here: it is not all 0, clamps counts below 0 and changes the tree.
    assert sum(clamped) >= 3 and sum(z != 0 for z in noise[0]) >= 8
    assert got != plain_id3(pooled, FEATURES, "k", DOMAINS, 2, criterion, bits)
    if criterion == "gini":  # The peek only opens: the same dealer gives the same tree without it.
        assert run_analysis(s, split_tables(s, columns), seed=SEED) == got


# b and k per a: p (u, v, u, v, u, v) all yes; q (v, u, u) all no; a = r never occurs.
FEW = {"a": ["p", "p", "p", "q", "q", "p", "p", "q", "p"],
       "b": ["u", "v", "u", "v", "u", "v", "u", "u", "v"],
       "k": ["yes", "yes", "yes", "no", "no", "yes", "yes", "no", "yes"]}


@pytest.mark.parametrize("epsilon, criterion, seed",
                         [(10.0, "gini", SEED), (4.0, "entropy", b"dp-tree-1")])
def test_pure_and_empty_nodes_are_decided_on_noisy_counts_as_in_the_twin(
        epsilon: float, criterion: str, seed: bytes) -> None:
    s = dp_spec(("a", "b"), 2, 3, epsilon, criterion)
    got, noise = run_with_noise(s, split_tables(s, FEW), seed)
    bits = tree.shape_of(s).log_bits
    assert got == dp_twin(FEW, ("a", "b"), "k", DOMAINS, 2, noise, criterion, bits)
    # Exactly, a = p and a = q are pure leaves and a = r an empty one. With this (seeded)
    # noise, a leaf still stops at the middle level, and under entropy the empty a = r
    # splits on noise alone while a = p stays pure. (The noise comes from the seeded dealer's
    # bits after every other tuple the job takes: when the job's needs change, pick the seed
    # again among b"dp-tree-0", b"dp-tree-1", ... for one that shows both.)
    assert any(v.startswith("leaf:") and k.count("=") == 1 for k, v in got.items())
    if criterion == "entropy":
        assert got["node[a=r]"] == "split:b" and got["node[a=p]"] == "leaf:yes"


@pytest.mark.parametrize("seed, criterion", [(62, "gini"), (63, "entropy"), (64, "gini")])
def test_the_twin_without_noise_is_plain_id3(seed: int, criterion: str) -> None:
    columns = {n: list(v) for n, v in data(seed, 45, 0.3).items()}
    s = dp_spec(FEATURES, 3, 15, 1.0, criterion)
    sh = tree.shape_of(s)
    zeros = [[0] * n.cells for n in tree_privacy.plan(sh)]
    bits = tree.shape_of(tree_spec(3, 15, FEATURES, criterion)).log_bits
    assert dp_twin(columns, FEATURES, "k", DOMAINS, 3, zeros, criterion, bits) == plain_id3(
        columns, FEATURES, "k", DOMAINS, 3, criterion, bits)


def test_each_level_gets_its_share_of_epsilon_on_its_sensitivity() -> None:
    _, s, _, noise = noised_run("gini")
    sh = tree.shape_of(s)
    # Sizes (3, 2, 3), 2 classes: 16 counts per slot; slots 1, 3, 3 * 3; epsilon 1.5 / 3 levels;
    # one row moves one count per feature (3) at levels 0 and 1, one class count at level 2.
    want = [Noise("level 0", 16, 0.5, 3), Noise("level 1", 48, 0.5, 3),
            Noise("level 2", 18, 0.5, 1)]
    assert tree_privacy.plan(sh) == want
    # W: 2^W / 6 >= 40 ln 2 (q = e^(-1/6)): W = 8; counts reach 60 + 255 * 2 * 3.
    assert (sh.noise_bits, sh.bound, sh.noisy_bits) == (8, 1590, 10)
    assert [len(z) for z in noise] == [16, 48, 18] and max(map(abs, sum(noise, []))) < 2**8
    # The drawn noise has the planned spread: E|Z| = 2q / (1 - q^2), 5.96 for q = e^(-0.5/3)
    # below the last level and 1.92 for q = e^(-0.5) at it. A wrong F at either, or an unsplit
    # epsilon, moves E|Z| by a factor of about 3, outside [0.5, 2] (a pinned draw: the dealer
    # is seeded; the 18 last-level values give 0.64 of their mean).
    for zs, sens in ((noise[0] + noise[1], 3), (noise[2], 1)):
        q = math.exp(-0.5 / sens)
        ratio = float(np.mean(np.abs(zs))) / (2 * q / (1 - q * q))
        assert 0.5 <= ratio <= 2, (sens, ratio)


@pytest.mark.parametrize("criterion", ["gini", "entropy"])
def test_a_large_epsilon_keeps_a_clear_tree(criterion: str) -> None:
    # k = yes iff a = p; b is independent of k. 240 rows, epsilon 10 (5 per level): the
    # tree stays the exact one unless some |Z| >= 10, as the margins allow +-9 on every
    # count (Gini: G_a >= 192 > 150 >= G_b; entropy: E_a <= 122 < 180 <= E_b, in bits).
    # Pr[|Z| >= 10] = 2 q^10 / (1 + q) < 3e-11 for q = e^(-5/2) (sensitivity 2), so over
    # the 16 counts, with the sampler's 2^-39 per draw, the test fails with chance < 1e-9.
    a = np.repeat(["p", "q", "r"], 80)
    columns = {"a": a, "b": np.tile(["u", "v"], 120), "k": np.where(a == "p", "yes", "no")}
    s = dp_spec(("a", "b"), 1, 80, 10.0, criterion)
    got = run_analysis(s, split_tables(s, columns))
    pooled = {n: list(v) for n, v in columns.items()}
    assert got == plain_id3(pooled, ("a", "b"), "k", DOMAINS, 1, criterion,
                            tree.shape_of(s).log_bits)
    assert got == {"node[]": "split:a", "node[a=p]": "leaf:yes", "node[a=q]": "leaf:no",
                   "node[a=r]": "leaf:no"}


def test_the_input_hook_still_comes_first_and_the_noise_after_it() -> None:
    s = dp_spec(("a", "b"), 1, 3, 2.0)
    tables = split_tables(s, data(65, 9))
    seen: list[tuple[str, int, int, int]] = []

    with opened_noise() as drawn:
        async def program(ctx: Context) -> dict[str, str]:
            async def hook(shares: Any) -> None:  # Nothing opened and no noise drawn yet.
                seen.append(("inputs", ctx.party, len(ctx.pending),
                             len(drawn.by_party.get(ctx.party, []))))
            return await tree.run(ctx, s, tables[ctx.party], hook)

        results = asyncio.run(run_local(3, program, needs=routes.needs(s), sacrifice=False))
    assert all(r == results[0] and isinstance(r, dict) for r in results)
    for p in range(3):
        assert [e for e in seen if e[1] == p] == [("inputs", p, 0, 0)]
        assert [len(noises) for noises, _ in drawn.by_party[p]] == [2]  # Then both levels' noise.


WIDE = {**{n: tuple(f"v{i}" for i in range(10)) for n in "abc"}, "k": ("n", "y")}
BASE: dict[str, Any] = dict(analysis="decision_tree", columns=("a", "b", "c"), label="k",
                            max_rows=10, domains=WIDE, reveal=("tree",))


@pytest.mark.parametrize("params, message", [
    ({"max_depth": 2, "epsilon": 0.01},
     "gini comparisons .* and noise below 2\\^15 \\(epsilon 0.01 over 3 levels\\) need \\d+ "
     "bits, above 210; .* or raise epsilon, or use params.criterion \"entropy\""),
    ({"max_depth": 2, "epsilon": 0.0}, "from 0.01 to 10"),
    ({"max_depth": 2, "epsilon": 11}, "from 0.01 to 10"),
    ({"max_depth": 2, "epsilon": 1.0, "clip_lower": 0, "clip_upper": 1}, "reveals counts only"),
    ({"max_depth": 2, "clip_lower": 0, "clip_upper": 1}, "they need params.epsilon"),
])
def test_bad_private_tree_specs_are_refused(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        registry.build_spec(participants=PARTIES, params=params, **BASE)


def test_the_noise_bound_widens_the_bits_and_entropy_still_fits() -> None:
    plain = tree.shape_of(registry.build_spec(participants=PARTIES, params={"max_depth": 2}, **BASE))
    loose = tree.shape_of(registry.build_spec(participants=PARTIES,
                                        params={"max_depth": 2, "epsilon": 1.0}, **BASE))
    assert (plain.noise_bits, plain.bound) == (0, 30) and tree_privacy.plan(plain) == []
    # epsilon 1 over 3 levels on sensitivity 3: 2^W >= 9 * 40 ln 2 = 249.5, W = 8.
    assert loose.noise_bits == 8 and loose.bound == 30 + 255 * 2 * 10
    assert plain.gini_bits < loose.gini_bits <= tree.MAX_GINI_BITS
    tight = registry.build_spec(participants=PARTIES, **BASE,
                          params={"max_depth": 2, "epsilon": 0.01, "criterion": "entropy"})
    sh = tree.shape_of(tight)
    assert sh.noise_bits == 15 and sh.entropy_bits <= tree.MAX_GINI_BITS < sh.gini_bits
    assert '"epsilon":0.01' in tight.canonical() and registry.parse_spec(tight.canonical()) == tight
