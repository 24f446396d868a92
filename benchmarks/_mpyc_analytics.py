"""The analytics benchmark's MPyC side: mean, variance, correlation and regression in MPyC.

    python benchmarks/_mpyc_analytics.py --rows N --repeats K -P host:port ... -I i [--ssl]

(started three times by ``bench_mpyc``; not run by hand). Every party makes the
pooled rows of ``_analytics_jobs.data`` and keeps its third, as our parties
do. Numbers are ``SecFxp(80, 40)`` in MPyC's secure numpy arrays: MPyC's
fixed-point reciprocal (``_rec``, behind every secure division) needs f >= l/2
(its default type is SecFxp(32, 16)); with our spec's k=64, f=20 it returns 0.
So MPyC gets 2^39 of integer range (ours 2^43; this data needs 2^37) and 20
more fractional bits than ours. Each analysis runs in two ways:

- ``rows``: each party inputs its rows (``mpc.input`` of an n_i x m array,
  sender i), the means are sum / n, the covariance matrix is
  ``xc.T @ xc / n`` of the centred rows (one secure matrix product);
- ``local``: each party inputs its local sums and cross products (m + m^2
  values, computed with numpy inside the timed part), summed under MPC, then
  ``cov = C / n - mu mu^T``: the sufficient-statistics approach of ours.

In both, the row counts n_i are public (MPyC's array shapes; ours keep them
secret and reveal only the total), division by n is by a public constant
(as ``mpyc.statistics.mean`` does it: times 2^e/n, then 2^-e). Then, from the
covariance matrix: correlations cov_ab / sd_a / sd_b with the square roots
by the bitwise method of ``mpyc.statistics._fsqrt`` applied to the diagonal
at once (``Programs.sqrt``; ``statistics.correlation`` takes one pair of
lists of secure scalars, and recomputes the roots for every pair), and the
regression from the normal equations on the covariance scale, solved by
Gauss-Jordan without pivoting (no square root needed; f=40 keeps the
reciprocals of the pivots precise), intercept mu_y - sum_a beta_a mu_a.
MPyC has no naive Bayes or decision tree in its library (a secure ID3 is
among its demos, not installed with the package), so those are not run.

Timed per run, after a barrier: the inputs (and, ``local``, the local sums),
the computation and ``mpc.output`` of the revealed values. Bytes are what
this party sent to its peers meanwhile (MPyC's own counters). MPyC is
semi-honest with an honest majority (Shamir, t=1 of 3) and needs no
preprocessing; ours is actively secure with abort against a dishonest
majority (SPDZ: MACs, checked openings, sacrificed tuples).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402

from _analytics_jobs import data, party_rows  # noqa: E402

#: The analyses MPyC runs, with the columns each reads.
MPYC_ANALYSES: dict[str, tuple[str, ...]] = {
    "mean": ("a",), "variance": ("a",), "correlation": ("a", "b", "c"),
    "linear_regression": ("a", "b", "c", "y"),
}
VARIANTS = ("rows", "local")
FIXED_POINT = (80, 40)  # MPyC's (l, f); see the module docstring.


class Programs:
    """The MPyC programs of one party over ``rows`` pooled rows (this party's third in ``mine``)."""

    def __init__(self, mpc: Any, rows: int) -> None:
        self.mpc, self.n = mpc, rows
        self.secfxp = mpc.SecFxp(*FIXED_POINT)
        self.me = mpc.pid
        self.counts = [len(range(i, rows, 3)) for i in range(3)]
        self.mine = party_rows(data(rows), self.me)

    def over_n(self, x: Any) -> Any:
        e = self.n.bit_length() - 1  # 1/2 < 2^e / n <= 1, as mpyc.statistics.mean.
        return x * (2**e / self.n) * 2**-e

    def input_each(self, local: np.ndarray, shapes: list[tuple[int, ...]]) -> list[Any]:
        """Party i's array (shape shapes[i]) as a secure array, for i = 0, 1, 2."""
        return [self.mpc.input(self.secfxp.array(local if i == self.me else np.zeros(shape)),
                               senders=i) for i, shape in enumerate(shapes)]

    def moments(self, variant: str, names: tuple[str, ...], second: bool) -> tuple[Any, Any]:
        """(means, covariance matrix or None) of the columns, under MPC."""
        m, mpc = len(names), self.mpc
        mine = np.column_stack([self.mine[c] for c in names])
        if variant == "rows":
            x = mpc.np_vstack(self.input_each(mine, [(k, m) for k in self.counts]))
            mu = self.over_n(np.sum(x, axis=0))
            if not second:
                return mu, None
            xc = x - mu
            return mu, self.over_n(xc.T @ xc)
        local = mine.sum(axis=0)
        if second:
            local = np.concatenate([local, (mine.T @ mine).ravel()])
        parts = self.input_each(local, [local.shape] * 3)
        total = parts[0] + parts[1] + parts[2]
        mu = self.over_n(total[:m])
        if not second:
            return mu, None
        return mu, self.over_n(total[m:].reshape(m, m)) - np.outer(mu, mu)

    async def run(self, name: str, variant: str) -> dict[str, float]:
        names = MPYC_ANALYSES[name]
        mu, cov = self.moments(variant, names, second=name != "mean")
        if name == "mean":
            (mean,) = await self.mpc.output(list(mu))
            return {"count": self.n, "mean": mean}
        if name == "variance":
            return {"variance.a": await self.mpc.output(cov[0, 0])}
        m = len(names)
        if name == "correlation":
            inv = 1 / self.sqrt(self.mpc.np_diagonal(cov))
            corr = cov * inv.reshape(m, 1) * inv.reshape(1, m)  # |cov_ab / sd_a| <= sd_b first.
            pairs = [(a, b) for a in range(m) for b in range(a + 1, m)]
            values = await self.mpc.output([corr[a, b] for a, b in pairs])
            return {f"correlation[{names[a]},{names[b]}]": v for (a, b), v in zip(pairs, values)}
        d = m - 1
        beta = gauss_jordan([[cov[a, b] for b in range(m)] for a in range(d)])
        intercept = mu[d] - sum((beta[a] * mu[a] for a in range(1, d)), beta[0] * mu[0])
        values = await self.mpc.output(beta + [intercept])
        return {**{f"coefficient[{names[a]}]": v for a, v in enumerate(values[:d])},
                "intercept": values[d]}

    def sqrt(self, a: Any) -> Any:
        """Elementwise square roots: ``mpyc.statistics._fsqrt``'s bitwise method on an array."""
        kind = type(a)
        f, e = kind.frac_length, (kind.sectype.bit_length + kind.frac_length - 1) // 2
        r, j = kind(np.zeros(a.shape)), 2.0 ** (e - f)
        for _ in range(e + 1):
            h = r + j
            r = self.mpc.np_where(h * h <= a, h, r)
            j /= 2
        return r


def gauss_jordan(rows: list[list[Any]]) -> list[Any]:
    """The solution of d x d rows augmented by the right-hand side, in order, no pivoting
    (the features' covariance matrix: symmetric positive definite)."""
    d = len(rows)
    for i in range(d):
        inv = 1 / rows[i][i]
        rows[i] = [0] * i + [1] + [v * inv for v in rows[i][i + 1:]]
        for o in range(d):
            if o != i:
                f = rows[o][i]
                rows[o] = [rows[o][j] - f * rows[i][j] if j > i else rows[o][j]
                           for j in range(d + 1)]
    return [row[d] for row in rows]


def bytes_sent(mpc: Any) -> int:
    return sum(p.protocol.nbytes_sent for p in mpc.parties
               if p.pid != mpc.pid and p.protocol is not None)


def worker(args: argparse.Namespace) -> None:
    """One MPyC party: every analysis and variant ``repeats`` times; prints its figures."""
    from mpyc.runtime import mpc

    async def main() -> None:
        await mpc.start()
        programs = Programs(mpc, args.rows)
        runs: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for name in args.analyses.split(","):
            for variant in args.variants.split(","):
                for _ in range(args.repeats):
                    await mpc.barrier()
                    sent, start = bytes_sent(mpc), time.perf_counter()
                    result = await programs.run(name, variant)
                    elapsed = time.perf_counter() - start
                    runs.setdefault(name, {}).setdefault(variant, []).append(
                        {"elapsed_s": elapsed, "bytes_sent": bytes_sent(mpc) - sent,
                         "result": result})
        await mpc.shutdown()
        print(json.dumps({"party": mpc.pid, "runs": runs}), flush=True)

    mpc.run(main())


def bench_mpyc(rows: int, repeats: int, names: list[str], timeout: float) -> dict[str, Any]:
    """The MPyC programs as three processes over TLS (--ssl) on loopback; plain TCP, said so
    in ``transport``, if MPyC's --ssl cannot run. Per party, its figures (``worker``)."""
    from engine import ChildFailure

    try:
        return {"transport": "ssl", "parties": _processes(rows, repeats, names, timeout, True)}
    except ChildFailure as err:
        print(f"MPyC with --ssl failed, falling back to TCP: {err}", file=sys.stderr)
        return {"transport": f"tcp (ssl failed: {err.reason})",
                "parties": _processes(rows, repeats, names, timeout, False)}


def _processes(rows: int, repeats: int, names: list[str], timeout: float, use_ssl: bool
               ) -> list[dict[str, Any]]:
    from engine import Children, free_ports, last_json, write_mpyc_certificates

    workdir = Path(tempfile.mkdtemp(prefix="mpcc-bench-mpyc-analytics-"))
    try:
        if use_ssl:
            write_mpyc_certificates(workdir, 3)
        addresses = [a for port in free_ports(3) for a in ("-P", f"127.0.0.1:{port}")]
        base = [sys.executable, str(Path(__file__).resolve()), "--rows", str(rows), "--repeats",
                str(repeats), "--analyses", ",".join(names), *addresses, "--no-log",
                *(["--ssl"] if use_ssl else [])]
        with Children(timeout) as children:
            procs = [children.start(base + ["-I", str(i)], workdir / f"mpyc{i}.log", cwd=workdir)
                     for i in range(3)]
            try:
                return [last_json(text) for text in children.wait_all(procs)]
            except (OSError, ValueError) as err:
                children.kill()
                raise children.failure(f"MPyC ({rows} rows, {'ssl' if use_ssl else 'tcp'}: "
                                       f"{err})") from err
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="one MPyC party of benchmarks/analytics.py")
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--analyses", default=",".join(MPYC_ANALYSES))
    worker(parser.parse_known_args()[0])
