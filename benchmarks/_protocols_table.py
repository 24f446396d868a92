"""The protocol table of benchmarks/protocols.py as text, and as a plot (latency and bytes per party, log scale)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def show(rows: list[dict[str, Any]]) -> None:
    """One line per row: the figures, then the notes below the table."""
    print(f"{'protocol':<16} {'n':>2} {'workload':<5} {'latency s':>10} {'x MPyC':>7} {'rounds':>7} "
          f"{'B/party':>11} {'CPU s':>8} {'prep CPU s':>10} {'prep B/party':>12}")
    for r in rows:
        print(f"{r['protocol']:<16} {r['parties']:>2} {r['workload']:<5} {_fmt(r['latency_s'], '.4f'):>10} "
              f"{_fmt(r.get('latency_ratio_vs_mpyc'), '.2f'):>7} {_fmt(r['rounds'], '.0f'):>7} "
              f"{_fmt(r['bytes_per_party'], ',.0f'):>11} {_fmt(r['cpu_s'], '.4f'):>8} "
              f"{_fmt(r.get('prep_cpu_s'), '.2f'):>10} {_fmt(r.get('prep_bytes_per_party'), ',.0f'):>12}")
    for r in rows:
        if r.get("note"):
            print(f"- {r['protocol']} {r['workload']}: {r['note']}")


def plot(rows: list[dict[str, Any]], path: Path, date: str) -> None:
    """Two panels (latency, bytes per party), a group of bars per workload, log scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    workloads = sorted({r["workload"] for r in rows}, key=["mul", "cmp", "mean"].index)
    protocols = list(dict.fromkeys(r["protocol"] for r in rows))
    figure, axes = plt.subplots(1, 2, figsize=(13, 4.8))
    width = 0.8 / max(1, len(protocols))
    for ax, key, label in ((axes[0], "latency_s", "latency, s (median)"),
                           (axes[1], "bytes_per_party", "bytes sent per party (median)")):
        for j, protocol in enumerate(protocols):
            values = []
            for w in workloads:
                found = [r[key] for r in rows if r["protocol"] == protocol and r["workload"] == w]
                values.append(found[0] if found and found[0] else 0)
            ax.bar([i + j * width for i in range(len(workloads))], values, width, label=protocol)
        ax.set_xticks([i + width * (len(protocols) - 1) / 2 for i in range(len(workloads))], workloads)
        ax.set_yscale("log")
        ax.set_ylabel(label)
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=8)
    figure.suptitle(f"10,000 multiplications, 1,000 comparisons, mean of 12 incomes (run {date}; "
                    "missing bar: no figure)", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
