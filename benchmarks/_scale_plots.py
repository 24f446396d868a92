"""The figures of ``benchmarks/scale.py``: PNG plots of its rows (matplotlib, no display).

- ``scale-time-vs-rows.png``: per analysis, time against pooled rows, a line per
  (parties, RTT); the numpy reference dashed.
- ``scale-time-vs-parties.png``: per analysis, time against parties at the
  smallest row count measured, a line per RTT.
- ``scale-bytes.png``: bytes sent per party (the most of any party) and rounds
  against parties, a line per analysis, at the smallest row count.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

Row = dict[str, Any]
COLOURS = ("tab:blue", "tab:orange", "tab:red", "tab:green", "tab:purple")
MARKERS = ("o", "s", "^", "D", "v")


def _values(rows: Iterable[Row], key: str) -> list[Any]:
    return sorted({r[key] for r in rows})


def _xy(points: list[tuple[Any, Any]]) -> tuple[list[Any], list[Any]]:
    return [p[0] for p in points], [p[1] for p in points]


def _panels(n: int) -> tuple[Any, list[Any]]:
    cols = min(n, 3)
    fig, axes = plt.subplots(-(-n // cols), cols, figsize=(5 * cols, 4 * -(-n // cols)),
                             squeeze=False)
    flat = list(axes.flat)
    for extra in flat[n:]:
        extra.set_visible(False)
    return fig, flat[:n]


def time_vs_rows(rows: list[Row], path: Path) -> None:
    analyses = _values(rows, "analysis")
    rtts, parties = _values(rows, "rtt_ms"), _values(rows, "parties")
    fig, axes = _panels(len(analyses))
    for ax, name in zip(axes, analyses, strict=True):
        mine = [r for r in rows if r["analysis"] == name]
        for i, rtt in enumerate(rtts):
            for j, n in enumerate(parties):
                line = sorted((r["rows"], r["time_s"]) for r in mine
                              if r["rtt_ms"] == rtt and r["parties"] == n)
                if line:
                    ax.plot(*_xy(line), color=COLOURS[i % 5], marker=MARKERS[j % 5],
                            label=f"{n} parties, {rtt:g} ms")
        numpy = sorted({(r["rows"], r["numpy_s"]) for r in mine})
        ax.plot(*_xy(numpy), color="black", linestyle="--", label="numpy (pooled rows)")
        ax.set(xscale="log", yscale="log", xlabel="pooled rows", ylabel="time (s)", title=name)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=7)
    _save(fig, path, "Time of one run (median, slowest party) against rows")


def time_vs_parties(rows: list[Row], path: Path) -> None:
    analyses = _values(rows, "analysis")
    fig, axes = _panels(len(analyses))
    for ax, name in zip(axes, analyses, strict=True):
        mine = [r for r in rows if r["analysis"] == name]
        smallest = min(r["rows"] for r in mine)
        for i, rtt in enumerate(_values(mine, "rtt_ms")):
            line = sorted((r["parties"], r["time_s"]) for r in mine
                          if r["rtt_ms"] == rtt and r["rows"] == smallest)
            ax.plot(*_xy(line), color=COLOURS[i % 5], marker="o", label=f"RTT {rtt:g} ms")
        ax.set(xlabel="parties", ylabel="time (s)", title=f"{name}, {smallest:,} rows",
               ylim=(0, None))
        ax.set_xticks(_values(mine, "parties"))
        ax.grid(True, alpha=0.3)
    axes[0].legend(fontsize=8)
    _save(fig, path, "Time of one run (median, slowest party) against parties")


def bytes_and_rounds(rows: list[Row], path: Path) -> None:
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for i, name in enumerate(_values(rows, "analysis")):
        mine = [r for r in rows if r["analysis"] == name]
        smallest = min(r["rows"] for r in mine)
        points = sorted({(r["parties"], r["bytes_per_party_max"], r["rounds"]) for r in mine
                         if r["rows"] == smallest and r["rtt_ms"] == min(_values(mine, "rtt_ms"))})
        label = f"{name} ({smallest:,} rows)"
        left.plot([p[0] for p in points], [p[1] / 1e3 for p in points], marker=MARKERS[i % 5],
                  color=COLOURS[i % 5], label=label)
        right.plot([p[0] for p in points], [p[2] for p in points], marker=MARKERS[i % 5],
                   color=COLOURS[i % 5], label=label)
    left.set(xlabel="parties", ylabel="kB sent per party (largest)", yscale="log",
             title="Bytes sent per party in one run")
    right.set(xlabel="parties", ylabel="rounds", title="Rounds of one run")
    for ax in (left, right):
        ax.set_xticks(_values(rows, "parties"))
        ax.grid(True, which="both", alpha=0.3)
    right.legend(fontsize=8)
    _save(fig, path, "Communication against parties")


def _save(fig: Any, path: Path, title: str) -> None:
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def draw(rows: list[Row], directory: Path) -> list[str]:
    """The three PNG files in ``directory``; their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = [directory / f"scale-{name}.png" for name in ("time-vs-rows", "time-vs-parties", "bytes")]
    for draw_one, path in zip((time_vs_rows, time_vs_parties, bytes_and_rounds), paths, strict=True):
        draw_one(rows, path)
    return [str(p) for p in paths]
