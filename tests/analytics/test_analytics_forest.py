"""Random forests under MPC (offchain.analytics.forest) against a plaintext twin of the documented rules.

The twin recomputes the bootstrap weights and the per-node feature draws from the coin's seed
by the rules of offchain.analytics.forest_bagging's docstring (its own SHAKE-256 calls and its own
Poisson thresholds, from exact fractions), then grows each tree breadth first on the pooled,
weighted rows: the MPC's slot layout, the documented noise (if any), and the exact ID3 rule.
The seed is the one the MPC run tossed, peeked at by wrapping the forest's coin.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import itertools
import math
from collections.abc import Iterator, Mapping, Sequence
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from analytics_testkit import PARTIES, opened_noise, rng, run_analysis, spec, split_tables
from rich.console import Console

from harness.local import run_local
from harness.twins import xlog2x_plain
from mpcc.cli.views import job_result_view
from offchain import models
from offchain.analytics import forest, forest_bagging, registry
from offchain.analytics.spec import JobSpec
from offchain.auditable import program, program_audit, routes
from offchain.engine.context import Context
from offchain.engine.evaluator import Evaluator
from offchain.errors import CommitmentMismatch, ConfigError

DOMAINS = {"a": ("p", "q", "r"), "b": ("u", "v"), "c": ("x", "y", "z"), "k": ("no", "yes")}
FEATURES = ("a", "b", "c")
Path = tuple[tuple[int, int], ...]


def forest_spec(trees: int, depth: int, max_rows: int, **params: Any) -> JobSpec:
    return spec(analysis="random_forest", columns=FEATURES, label="k", max_rows=max_rows, domains=DOMAINS,
                params={"trees": trees, "max_depth": depth, **params}, reveal=("forest",))


def data(seed: int, rows: int) -> dict[str, list[str]]:
    r = rng(seed)
    a, b, c = (r.choice(DOMAINS[n], rows) for n in "abc")
    k = np.where(((a == "p") & (b == "u")) | ((a == "r") & (c != "x")) | (r.random(rows) < 0.2), "yes", "no")
    return {"a": list(a), "b": list(b), "c": list(c), "k": list(k)}


# The twin --------------------------------------------------------------------------------------
def poisson_thresholds(cap: int) -> list[int]:
    """floor(2^64 P(X <= k - 1)), X ~ Poisson(1), from e^-1 as an exact 40-term series."""
    e_inv = sum(Fraction((-1) ** i, math.factorial(i)) for i in range(40))
    return [math.floor(e_inv * sum(Fraction(1, math.factorial(i)) for i in range(k)) * 2**64)
            for k in range(1, cap + 1)]


def twin_weights(seed: bytes, tree: int, party: int, rows: int) -> list[int]:
    stream = hashlib.shake_256(b"mpcc-forest-weight-v1" + seed + bytes([tree >> 8, tree & 255, party >> 8,
                                                                         party & 255])).digest(8 * rows)
    bounds = poisson_thresholds(4)
    return [sum(int.from_bytes(stream[8 * r:8 * r + 8], "big") >= b for b in bounds) for r in range(rows)]


def twin_features(seed: bytes, tree: int, path: Path, m: int, n_features: int = 3) -> list[int]:
    free = [f for f in range(n_features) if f not in {g for g, _ in path}]
    if m >= len(free):
        return free
    keys = {f: hashlib.shake_256(b"mpcc-forest-feature-v1" + seed + tree.to_bytes(2, "big") + bytes([len(path)])
                                 + bytes([x for pair in path for x in pair]) + bytes([f])).digest(8) for f in free}
    return sorted(sorted(free, key=lambda f: keys[f])[:m])


def twin_forest(s: JobSpec, tables: Sequence[Mapping[str, Sequence[str]]], seed: bytes, m: int,
                noise: Sequence[Sequence[int]] | None = None, bits: int = 0,
                features: tuple[str, ...] = FEATURES) -> dict[str, str]:
    """Every tree breadth first over the pooled weighted rows (children in value order, slot
    layout as the MPC's: tree j's P_t slots after tree j - 1's); ``noise[t]`` is added to level
    t's counts in that layout and clamped at 0."""
    T, D, C = s.params.trees or 0, s.params.max_depth or 0, 2
    F = len(features)
    sizes = [len(DOMAINS[f]) for f in features]
    width, offsets = C * sum(sizes), [C * sum(sizes[:f]) for f in range(F)]
    rows = [(tuple(DOMAINS[f].index(tab[f][r]) for f in features), DOMAINS["k"].index(tab["k"][r]), p, r)
            for p, tab in enumerate(tables) for r in range(len(tab["k"]))]
    out: dict[str, str] = {}
    for j in range(T):
        w = {p: twin_weights(seed, j, p, len(tab["k"])) for p, tab in enumerate(tables)}
        level: list[tuple[Path, int]] = [((), 0)]
        for t in range(D + 1):
            slots = math.prod(sorted(sizes, reverse=True)[:t])
            nxt: list[tuple[Path, int]] = []
            for s_i, (path, inherited) in enumerate(level):
                members = [(x, y, w[p][r]) for x, y, p, r in rows if all(x[f] == v for f, v in path)]
                base = (j * slots + s_i) * (width if t < D else C)

                def count(at: int, n: int, t: int = t, base: int = base) -> int:
                    return max(n + (noise[t][base + at] if noise else 0), 0)

                if t == D:
                    cls = [count(c, sum(wt for _, y, wt in members if y == c)) for c in range(C)]
                    table = None
                else:
                    table = [[[count(offsets[f] + v * C + c, sum(wt for x, y, wt in members if x[f] == v and y == c))
                               for c in range(C)] for v in range(sizes[f])] for f in range(F)]
                    cls = [sum(table[0][v][c] for v in range(sizes[0])) for c in range(C)]
                major = cls.index(max(cls))
                key = f"tree[{j}].node[" + ",".join(f"{features[f]}={DOMAINS[features[f]][v]}" for f, v in path) + "]"
                if sum(cls) == 0:
                    out[key] = "leaf:" + DOMAINS["k"][inherited]
                elif table is None or max(cls) == sum(cls):
                    out[key] = "leaf:" + DOMAINS["k"][major]
                else:
                    best = max(twin_features(seed, j, path, m, F),
                               key=lambda f: (score(table[f], s.params.criterion, bits), -f))
                    out[key] = "split:" + features[best]
                    nxt += [((*path, (best, v)), major) for v in range(sizes[best])]
            level = nxt
    return out


def score(table: list[list[int]], criterion: str, bits: int) -> Fraction | int:
    """Larger is better: sum_v A_v / max(n_v, 1) (Gini), or -E_f (information gain)."""
    if criterion == "gini":
        return sum((Fraction(sum(c * c for c in row), max(sum(row), 1)) for row in table), Fraction(0))
    return -sum(xlog2x_plain(sum(row), bits) - sum(xlog2x_plain(c, bits) for c in row) for row in table)


def twin_vote(result: Mapping[str, str], trees: int, record: Mapping[str, str]) -> str:
    votes = []
    for j in range(trees):
        path: list[str] = []
        while (node := result[f"tree[{j}].node[" + ",".join(path) + "]"]).startswith("split:"):
            path.append(f"{node[6:]}={record[node[6:]]}")
        votes.append(node[5:])
    return max(DOMAINS["k"], key=lambda c: (votes.count(c), -DOMAINS["k"].index(c)))


# Tests ------------------------------------------------------------------------------------------
@pytest.fixture
def seeds(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bytes]]:
    """Every party's coin (and any replay's), as the forest tossed it."""
    tossed: list[bytes] = []
    toss = forest.toss_recorded

    async def peek(ctx: Evaluator[Any]) -> bytes:
        seed = await toss(ctx)
        tossed.append(seed)
        return seed

    monkeypatch.setattr(forest, "toss_recorded", peek)
    yield tossed


def records() -> Iterator[dict[str, str]]:
    for values in itertools.product(*(DOMAINS[f] for f in FEATURES)):
        yield dict(zip(FEATURES, values, strict=True))


@pytest.mark.parametrize("trees, depth, max_features, criterion",
                         [(4, 2, 2, "gini"), (3, 2, None, "entropy")])
def test_mpc_forest_equals_the_plaintext_twin_and_votes_identically(
        seeds: list[bytes], trees: int, depth: int, max_features: int | None, criterion: str) -> None:
    extra = {"max_features": max_features} if max_features else {}
    s = forest_spec(trees, depth, max_rows=8, criterion=criterion, **extra)
    columns = data(41, 24)
    tables = split_tables(s, columns)
    got = run_analysis(s, tables)
    assert len(seeds) == 3 and len(set(seeds)) == 1  # One coin, the same on every party.
    parts = [{n: v[p::3] for n, v in columns.items()} for p in range(3)]
    want = twin_forest(s, parts, seeds[0], max_features or 1, bits=forest.shape_of(s).log_bits)
    assert got == want
    # Not a trivial forest (a twin-only run of 1000 coins never failed these two at 24 rows).
    assert any(got[f"tree[{j}].node[]"].startswith("split:") for j in range(trees))
    predicted = [forest.predict(s, got, r) for r in records()]
    assert predicted == [twin_vote(want, trees, r) for r in records()]
    assert len(set(predicted)) == 2
    model = models.model_of(s, got)
    assert isinstance(model, models.RandomForest) and model.predict(list(records())) == predicted


def test_a_forest_complete_before_max_depth_runs_its_padding_levels_to_the_end(seeds: list[bytes]) -> None:
    # One class only: every root is a pure leaf, and levels 1 and 2 have no node left to reveal.
    columns = {"a": ["p", "q", "r"] * 3, "b": ["u", "v", "u"] * 3, "c": ["x", "y", "z"] * 3, "k": ["no"] * 9}
    s = forest_spec(2, 3, max_rows=3)
    got = run_analysis(s, split_tables(s, columns))
    parts = [{n: v[p::3] for n, v in columns.items()} for p in range(3)]
    assert got == twin_forest(s, parts, seeds[0], 1) == {"tree[0].node[]": "leaf:no", "tree[1].node[]": "leaf:no"}


def test_the_bootstrap_weights_and_feature_draws_follow_their_documented_rules() -> None:
    assert list(forest_bagging.THRESHOLDS) == poisson_thresholds(4)
    seed = bytes(range(32))
    w = forest_bagging.weights(seed, 3, 1, 20000)
    assert w.tolist()[:300] == twin_weights(seed, 3, 1, 300)
    freq = np.bincount(w, minlength=5) / len(w)
    p = [math.exp(-1) / math.factorial(k) for k in range(4)]
    assert np.allclose(freq[:4], p, atol=0.01) and abs(freq[4] - (1 - sum(p))) < 0.005
    assert w.tolist() != forest_bagging.weights(seed, 3, 2, 20000).tolist()  # Each party has its own.
    assert w.tolist() != forest_bagging.weights(seed, 4, 1, 20000).tolist()  # Each tree has its own.
    draws = {tuple(forest_bagging.features(seed, j, ((1, 0),), [0, 2], 1)) for j in range(16)}
    assert draws == {(0,), (2,)}  # Both free features are drawn by some tree, none on the path.
    for j, path in itertools.product(range(8), [(), ((0, 2),), ((2, 1),)]):
        free = [f for f in range(3) if f not in {g for g, _ in path}]
        assert forest_bagging.features(seed, j, path, free, 2) == twin_features(seed, j, path, 2)


def test_dp_forest_equals_the_twin_on_the_same_noise(seeds: list[bytes]) -> None:
    s = forest_spec(3, 1, max_rows=12, epsilon=10.0, max_features=2)
    columns = data(43, 36)
    tables = split_tables(s, columns)
    with opened_noise() as drawn:
        got = run_analysis(s, tables)
    ((plan, noise),) = drawn
    assert [(n.cells, n.epsilon, n.sensitivity) for n in plan] == [(3 * 16, 5.0, 3 * 4 * 3), (3 * 3 * 2, 5.0, 3 * 4)]
    assert any(z for level in noise for z in level)
    parts = [{n: v[p::3] for n, v in columns.items()} for p in range(3)]
    sh = forest.shape_of(s)
    assert got == twin_forest(s, parts, seeds[0], 2, noise=noise, bits=sh.log_bits)
    assert sh.noise_bits > 0 and sh.rows == 3 * 12 * forest.MAX_WEIGHT


BASE: dict[str, Any] = dict(analysis="random_forest", columns=FEATURES, label="k", max_rows=10, domains=DOMAINS,
                            params={"trees": 3, "max_depth": 2}, reveal=("forest",))


@pytest.mark.parametrize("fields, message", [
    (dict(params={"max_depth": 2}), "needs params.trees"),
    (dict(params={"trees": 65, "max_depth": 2}), "trees"),
    (dict(params={"trees": 3}), "max_depth from 1 to the number of features \\(3\\)"),
    (dict(params={"trees": 3, "max_depth": 2, "max_features": 4}), "max_features is 4, above .* \\(3\\)"),
    (dict(max_rows=None), "needs max_rows"),
    (dict(reveal=("tree",)), "may reveal only \\['forest'\\]"),
    (dict(max_rows=10**5, domains={n: tuple(f"v{i}" for i in range(30)) for n in "abck"}),
     "gini comparisons for max_rows=100000, rows weighted up to 4"),
    (dict(params={"trees": 64, "max_depth": 3}, domains={**{n: tuple(f"v{i}" for i in range(8)) for n in "abc"},
                                                        "k": ("n", "y")}), "64 padded trees need .* inputs"),
    (dict(params={"trees": 3, "max_depth": 2, "epsilon": 0.001}), "epsilon must be from 0.01"),
])
def test_bad_forest_specs_are_refused(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        registry.build_spec(participants=PARTIES, **{**BASE, **fields})


def test_forest_params_are_refused_elsewhere_and_the_weights_widen_the_tree_bounds() -> None:
    with pytest.raises(ConfigError, match="for random forests only"):
        registry.build_spec(participants=PARTIES, **{**BASE, "analysis": "decision_tree", "reveal": ("tree",)})
    # A tree of the same shape fits where the forest, its rows weighted up to 4, does not.
    wide = {**BASE, "max_rows": 5000, "domains": {n: tuple(f"v{i}" for i in range(8)) for n in "abck"}}
    registry.build_spec(participants=PARTIES, **{**wide, "analysis": "decision_tree", "reveal": ("tree",),
                                                 "params": {"max_depth": 2}})
    with pytest.raises(ConfigError, match="rows weighted up to 4"):
        registry.build_spec(participants=PARTIES, **wide)
    s = forest_spec(3, 2, max_rows=10, max_features=2)
    assert registry.parse_spec(s.canonical()) == s
    assert '"params":{"max_depth":2,"max_features":2,"trees":3}' in s.canonical()


def test_the_forest_model_votes_ties_to_the_first_class_exports_and_refuses_edits() -> None:
    s = forest_spec(2, 1, max_rows=5)
    result = {"tree[0].node[]": "split:a", "tree[0].node[a=p]": "leaf:no", "tree[0].node[a=q]": "leaf:yes",
              "tree[0].node[a=r]": "leaf:yes", "tree[1].node[]": "leaf:yes"}
    model = models.model_of(s, result)
    rows = [{"a": "p", "b": "u"}, {"a": "q"}, {"a": "r"}]
    assert model.predict(rows) == ["no", "yes", "yes"]  # 1 vote each for a=p: the first class wins.
    assert [forest.predict(s, result, r) for r in ({"a": "p"}, {"a": "q"})] == ["no", "yes"]
    assert list(model.categorical) == ["a"]
    loaded = models.loads(models.dumps(model, job=3))
    assert loaded == model and loaded.predict(rows) == model.predict(rows)
    data = models.export(model)
    assert data["parameters"]["trees"][1] == {"leaf": "yes"}
    data["parameters"]["trees"][1] = {"leaf": "no"}
    with pytest.raises(ConfigError, match="'parameters' differs .* edited"):
        models.load(data)
    with pytest.raises(ConfigError, match="'tree\\[2\\].node\\[\\]' is no node of the spec's 2 trees"):
        models.model_of(s, {**result, "tree[2].node[]": "leaf:no"})
    with pytest.raises(ConfigError, match="no 'tree\\[1\\].node\\[\\]'"):
        models.model_of(s, {k: v for k, v in result.items() if not k.startswith("tree[1]")})
    with pytest.raises(ConfigError, match="random forest has no scikit-learn equivalent"):
        models.to_sklearn(model)
    with pytest.raises(ConfigError, match="row 1: a='s' is not in the model's domain"):
        model.predict([{"a": "s"}])


def test_an_auditable_forest_replays_its_coin_and_passes_the_audit(seeds: list[bytes]) -> None:
    s = spec(analysis="random_forest", columns=("a", "b"), label="k", max_rows=3, domains=DOMAINS,
             params={"trees": 2, "max_depth": 1, "max_features": 1}, reveal=("forest",), auditable=True)
    assert routes.route(s) is routes.Route.PROGRAM
    columns = {n: v for n, v in data(44, 9).items() if n != "c"}
    tables = split_tables(s, columns)

    async def party(ctx: Context) -> tuple[dict[str, str], program.Record]:
        return await program.run_party(ctx, s, tables[ctx.party])

    runs = asyncio.run(run_local(3, party, needs=routes.needs(s), sacrifice=False, timeout=120))
    result, record = runs[0]
    assert all(r == (result, record) for r in runs)
    parts = [{n: v[p::3] for n, v in columns.items()} for p in range(3)]
    derived, steps = program_audit.audit(s, 3, record, result)
    assert derived == result and all(st.passed for st in steps), steps
    assert len(seeds) > 3 and len(set(seeds)) == 1  # The replays (the auditor's last) recomputed the coin.
    assert result == twin_forest(s, parts, seeds[0], 1, features=("a", "b"))
    # A record whose coin opening does not match its commitment does not fit the program.
    messages = list(record.messages)
    opened = next(j for j, m in enumerate(messages)
                  if hashlib.sha256(b"mpcc-commit-v1" + m).digest() in messages[:j])  # coin.py's rule
    messages[opened] = messages[opened][:-1] + bytes([messages[opened][-1] ^ 1])
    derived, steps = program_audit.audit(s, 3, dataclasses.replace(record, messages=tuple(messages)), result)
    assert derived is None and not steps[-1].passed and "coin share" in steps[-1].detail


def test_a_party_opening_another_coin_share_than_it_committed_to_is_named() -> None:
    s = forest_spec(2, 1, max_rows=3)
    tables = split_tables(s, data(45, 9))

    def network(frm: int, to: int, index: int, payload: bytes) -> bytes:
        # Party 1's second message is its coin opening: nonce || share.
        return payload[:-1] + bytes([payload[-1] ^ 1]) if (frm, index) == (1, 1) else payload

    async def party(ctx: Context) -> dict[str, str]:
        return await registry.run(ctx, s, tables[ctx.party])

    results = asyncio.run(run_local(3, party, needs=routes.needs(s), sacrifice=False, timeout=20, tamper=network))
    for p in (0, 2):
        assert isinstance(results[p], CommitmentMismatch) and results[p].party == 1, results[p]


def test_the_result_view_shows_the_forest_tree_by_tree() -> None:
    result = {"tree[0].node[]": "split:a", "tree[10].node[]": "leaf:no", "tree[1].node[]": "leaf:yes",
              "tree[0].node[a=p]": "leaf:no", "tree[0].node[a=q]": "leaf:yes", "tree[0].node[a=r]": "leaf:yes"}
    console = Console(width=100, record=True)
    console.print(job_result_view({"job": 1, "title": "", "analysis": "random_forest", "result": result}))
    lines = [line.strip("│ ") for line in console.export_text().splitlines() if "leaf" in line or "split" in line]
    assert [" ".join(line.split()) for line in lines] == [
        "tree 0 │ split:a", "a=p │ leaf:no", "a=q │ leaf:yes", "a=r │ leaf:yes", "tree 1 │ leaf:yes",
        "tree 10 │ leaf:no"]
