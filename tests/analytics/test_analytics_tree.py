"""ID3 decision trees under MPC against a plaintext ID3 (same criterion, same ties) on pooled rows.

Gini is exact; information gain uses the integer XLOG of offchain.engine.logarithm
in both, and is also checked against information gain in floating point."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

import numpy as np
import pytest

from offchain.auditable import routes
from offchain.analytics import registry, tree
from offchain.analytics.spec import JobSpec
from offchain.engine.context import Context
from harness.twins import xlog2x_plain
from harness.local import run_local
from offchain.errors import ConfigError
from analytics_testkit import PARTIES, rng, run_analysis, spec, split_tables

DOMAINS = {"a": ("p", "q", "r"), "b": ("u", "v"), "c": ("x", "y", "z"), "k": ("no", "yes")}


def plain_id3(columns: Mapping[str, Sequence[str]], features: Sequence[str], label: str,
              domains: Mapping[str, Sequence[str]], max_depth: int, criterion: str = "gini",
              bits: int = 0) -> dict[str, str]:
    """Textbook ID3: split on the unused feature of least weighted Gini impurity, or of least
    conditional entropy (most information gain: "entropy" with the integer XLOG of counts
    below 2^bits, "float" in floating point), first in column order on ties; leaves at
    max_depth or when pure; a leaf's class is the most frequent (first in the domain on
    ties), an empty leaf takes its parent's."""
    rows = list(range(len(columns[label])))
    out: dict[str, str] = {}

    def majority(members: list[int]) -> str:
        counts = [sum(columns[label][r] == c for r in members) for c in domains[label]]
        return domains[label][counts.index(max(counts))]

    def impurity(members: list[int], feature: str) -> Fraction | float | int:
        parts = [[r for r in members if columns[feature][r] == value] for value in domains[feature]]
        table = [[sum(columns[label][r] == c for r in part) for c in domains[label]]
                 for part in parts]
        if criterion == "entropy":  # n H(Y|f) 2^G, as the MPC computes it
            return sum(xlog2x_plain(sum(row), bits) - sum(xlog2x_plain(c, bits) for c in row)
                       for row in table)
        if criterion == "float":
            return sum(-sum(c * math.log2(c / sum(row)) for c in row if c) for row in table)
        return sum((Fraction(sum(row), len(members)) * (1 - sum(Fraction(c, sum(row)) ** 2
                                                                for c in row))
                    for row in table if sum(row)), Fraction(0))

    def grow(members: list[int], path: list[str], used: set[str], inherited: str) -> None:
        key = "node[" + ",".join(path) + "]"
        if not members:
            out[key] = f"leaf:{inherited}"
            return
        major = majority(members)
        if len(path) == max_depth or len({columns[label][r] for r in members}) == 1:
            out[key] = f"leaf:{major}"
            return
        options = [f for f in features if f not in used]
        best = min(options, key=lambda f: (impurity(members, f), options.index(f)))
        out[key] = f"split:{best}"
        for value in domains[best]:
            grow([r for r in members if columns[best][r] == value], path + [f"{best}={value}"],
                 used | {best}, major)

    grow(rows, [], set(), "")
    return out


def plain_predict(model: Mapping[str, str], record: Mapping[str, str]) -> str:
    path: list[str] = []
    while not model["node[" + ",".join(path) + "]"].startswith("leaf:"):
        feature = model["node[" + ",".join(path) + "]"][6:]
        path.append(f"{feature}={record[feature]}")
    return model["node[" + ",".join(path) + "]"][5:]


def data(seed: int, rows: int, noise: float = 0.15) -> dict[str, np.ndarray]:
    r = rng(seed)
    a, b, c = (r.choice(DOMAINS[n], rows) for n in "abc")
    noisy = r.random(rows) < noise
    k = np.where(((a == "p") & (b == "u")) | ((a == "r") & (c != "x")), "yes", "no")
    return {"a": a, "b": b, "c": c, "k": np.where(noisy, np.where(k == "yes", "no", "yes"), k)}


def tree_spec(depth: int, max_rows: int, features: tuple[str, ...] = ("a", "b", "c"),
              criterion: str = "gini") -> JobSpec:
    params: dict[str, Any] = {"max_depth": depth}
    if criterion != "gini":
        params["criterion"] = criterion
    return spec(analysis="decision_tree", columns=features, label="k", max_rows=max_rows,
                domains={n: DOMAINS[n] for n in (*features, "k")}, params=params,
                reveal=("tree",))


@pytest.mark.parametrize("seed, rows, depth, noise, criterion", [
    (31, 30, 2, 0.15, "gini"), (32, 27, 3, 0.4, "gini"),
    (34, 30, 2, 0.15, "entropy"), (35, 27, 3, 0.4, "entropy")])
def test_mpc_tree_equals_plaintext_id3_and_predicts_identically(
        seed: int, rows: int, depth: int, noise: float, criterion: str) -> None:
    columns = data(seed, rows, noise)
    s = tree_spec(depth, max_rows=rows // 3, criterion=criterion)
    got = run_analysis(s, split_tables(s, columns))
    pooled = {n: list(v) for n, v in columns.items()}
    bits = tree.shape_of(s).log_bits
    want = plain_id3(pooled, ("a", "b", "c"), "k", DOMAINS, depth, criterion, bits)
    assert got == want
    if criterion == "entropy":  # No near-tie here: the integer rule is exact information gain.
        assert want == plain_id3(pooled, ("a", "b", "c"), "k", DOMAINS, depth, "float")
    assert list(got)[0] == "node[]" and got["node[]"].startswith("split:")
    assert max(key.count("=") for key in got) == depth  # The tree grows to its full depth.
    for values in np.array(np.meshgrid(*[DOMAINS[n] for n in "abc"])).T.reshape(-1, 3):
        record = dict(zip("abc", values))
        assert tree.predict(s, got, record) == plain_predict(want, record)


def test_ties_pure_nodes_and_empty_branches_follow_the_plaintext_rule() -> None:
    # b=v rows all say "no" (a pure leaf); below b=u, a and c both separate the classes
    # (a tie: a, the lower index, wins) and a=r never occurs (an empty leaf that takes its
    # parent's majority, "yes").
    a = ["p", "p", "p", "p", "q", "q", "p", "p", "q"]
    b = ["u", "v", "u", "v", "u", "v", "u", "v", "v"]
    c = ["x", "y", "x", "y", "z", "z", "x", "y", "x"]
    k = ["yes", "no", "yes", "no", "no", "no", "yes", "no", "no"]
    columns = {"a": a, "b": b, "c": c, "k": k}
    s = tree_spec(2, max_rows=3)
    got = run_analysis(s, split_tables(s, columns))
    assert got == plain_id3(columns, ("a", "b", "c"), "k", DOMAINS, 2)
    assert got["node[]"] == "split:b" and got["node[b=u]"] == "split:a"
    assert got["node[b=u,a=r]"] == "leaf:yes" and got["node[b=v]"] == "leaf:no"


def test_a_tree_complete_levels_before_max_depth_runs_its_padding_levels_to_the_end() -> None:
    # One class only: the root is a pure leaf, and levels 1 and 2 have no node left to reveal.
    columns = {"a": ["p", "q", "r"] * 3, "b": ["u", "v", "u"] * 3, "c": ["x", "y", "z"] * 3, "k": ["no"] * 9}
    s = tree_spec(3, max_rows=3)
    got = run_analysis(s, split_tables(s, columns))
    assert got == plain_id3(columns, ("a", "b", "c"), "k", DOMAINS, 3) == {"node[]": "leaf:no"}


def test_the_input_hook_sees_the_first_levels_inputs_before_any_opening() -> None:
    columns = data(33, 9)
    s = tree_spec(1, max_rows=3, features=("a", "b"))
    tables = split_tables(s, columns)
    seen: list[tuple[int, list[int], int]] = []

    async def program(ctx: Context) -> dict[str, str]:
        async def hook(shares: Any) -> None:
            seen.append((ctx.party, [len(x) for x in shares], len(ctx.pending)))
        return await registry.run(ctx, s, tables[ctx.party], hook)

    results = asyncio.run(run_local(3, program, needs=routes.needs(s), sacrifice=False))
    assert all(r == results[0] and isinstance(r, dict) for r in results)
    assert sorted(seen) == [(p, [10, 10, 10], 0) for p in range(3)]


@pytest.mark.parametrize("fields, message", [
    (dict(max_rows=None), "needs max_rows"),
    (dict(params={}), "needs params.max_depth from 1 to the number of features"),
    (dict(params={"max_depth": 4}), "max_depth from 1 to the number of features \\(3\\)"),
    (dict(params={"max_depth": 2, "criterion": "variance"}), "'gini' or 'entropy'"),
    (dict(domains={"a": ("p",), "b": ("u",), "c": ("x",), "k": ("no",)}), "two classes"),
    (dict(max_rows=10**6, domains={n: tuple(f"v{i}" for i in range(30)) for n in "abck"}),
     "gini comparisons .* lower max_rows"),
    (dict(domains={**{n: tuple(f"v{i}" for i in range(40)) for n in "abc"}, "k": ("n", "y")},
          params={"max_depth": 3}), "inputs per party"),
    (dict(label=None), "needs a label"),
    (dict(domains={"a": ("p", "q"), "k": ("n", "y")}), "needs a domain"),
])
def test_bad_tree_specs_are_refused(fields: dict[str, Any], message: str) -> None:
    base: dict[str, Any] = dict(analysis="decision_tree", columns=("a", "b", "c"), label="k",
                                max_rows=10, domains=DOMAINS, params={"max_depth": 2},
                                reveal=("tree",))
    with pytest.raises(ConfigError, match=message):
        registry.build_spec(participants=PARTIES, **{**base, **fields})


def test_tree_params_are_refused_elsewhere_and_the_spec_round_trips() -> None:
    with pytest.raises(ConfigError, match="for decision trees only"):
        registry.build_spec(participants=PARTIES, analysis="summary", columns=("x",), reveal=("mean",),
                      params={"max_depth": 2})
    s = tree_spec(2, max_rows=10)
    assert registry.parse_spec(s.canonical()) == s
    assert '"params":{"max_depth":2}' in s.canonical()


# Class counts per value (no, yes): a = p: (2, 2), q: (4, 0); b = u: (0, 1), v: (6, 1).
# Weighted Gini: a 1/4, b 3/14 (b wins); conditional entropy: a 0.5, b 0.518 bits (a wins).
DIVERGING = {"a": ["p", "p", "q", "q", "q", "q", "p", "p"],
             "b": ["v", "v", "v", "v", "v", "v", "u", "v"],
             "k": ["no", "no", "no", "no", "no", "no", "yes", "yes"]}


@pytest.mark.parametrize("max_rows", [3, 10**6])
def test_gini_and_information_gain_choose_different_splits_as_in_plaintext(max_rows: int) -> None:
    got = {}
    for criterion in ("gini", "entropy"):
        s = tree_spec(1, max_rows=max_rows, features=("a", "b"), criterion=criterion)
        got[criterion] = run_analysis(s, split_tables(s, DIVERGING))
        bits = tree.shape_of(s).log_bits
        assert got[criterion] == plain_id3(DIVERGING, ("a", "b"), "k", DOMAINS, 1, criterion,
                                           bits)
    assert got["gini"]["node[]"] == "split:b" and got["entropy"]["node[]"] == "split:a"
    assert plain_id3(DIVERGING, ("a", "b"), "k", DOMAINS, 1, "float")["node[]"] == "split:a"


def test_entropy_comparison_bits_do_not_grow_with_the_domains() -> None:
    wide = {**{n: tuple(f"v{i}" for i in range(30)) for n in "abc"}, "k": ("n", "y")}
    base: dict[str, Any] = dict(analysis="decision_tree", columns=("a", "b", "c"), label="k",
                                max_rows=10**6, domains=wide, reveal=("tree",))
    with pytest.raises(ConfigError, match="gini comparisons"):
        registry.build_spec(participants=PARTIES, params={"max_depth": 2}, **base)
    s = registry.build_spec(participants=PARTIES, params={"max_depth": 2, "criterion": "entropy"},
                      **base)
    sh = tree.shape_of(s)
    assert sh.entropy_bits <= tree.MAX_GINI_BITS and sh.log_bits == 22
    assert '"criterion":"entropy"' in s.canonical() and registry.parse_spec(s.canonical()) == s
    assert "criterion" not in tree_spec(2, max_rows=10).canonical()
