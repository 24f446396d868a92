"""Plots as inline SVG, drawn on the server: bar charts, stacked bar charts and a step line.

No script and no plotting library in the browser: each function returns the
text of one ``<svg>`` element (every label escaped), which scales to the page
width through its ``viewBox``.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 70, 10, 20, 40
#: Colours of the series of a stacked chart, in order (readable on white, distinct in grey too).
PALETTE = ("#2b6cb0", "#dd6b20", "#38a169", "#805ad5", "#d53f8c", "#718096", "#b7791f", "#319795",
           "#c53030", "#2c5282", "#276749")


def _frame(title: str, body: list[str], top: float) -> str:
    """The SVG around ``body``: the title, the y axis with its top value, the x axis."""
    h = HEIGHT - BOTTOM
    parts = [f'<svg class="plot" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
             f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>',
             f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{h}" stroke="#444"/>',
             f'<line x1="{LEFT}" y1="{h}" x2="{WIDTH - RIGHT}" y2="{h}" stroke="#444"/>',
             f'<text x="{LEFT - 6}" y="{TOP + 4}" text-anchor="end" font-size="11">{_number(top)}</text>',
             f'<text x="{LEFT - 6}" y="{h}" text-anchor="end" font-size="11">0</text>']
    return "".join(parts + body) + "</svg>"


def _number(value: float) -> str:
    if value >= 1e6:
        return f"{value / 1e6:.1f}M"
    if value >= 1e4:
        return f"{value / 1e3:.0f}k"
    return f"{value:g}"


def _scale(values: Sequence[float]) -> float:
    return max([*values, 1.0])


def bar_chart(title: str, bars: Sequence[tuple[str, float]]) -> str:
    """One bar per (label, value); the value is written above its bar."""
    return stacked_chart(title, [label for label, _ in bars], {"": [value for _, value in bars]})


def stacked_chart(title: str, labels: Sequence[str], series: dict[str, Sequence[float]]) -> str:
    """One bar per label, stacked from the series in order; a legend names the series (unless one, unnamed)."""
    totals = [sum(s[i] for s in series.values()) for i in range(len(labels))]
    top, h = _scale(totals), HEIGHT - BOTTOM
    slot = (WIDTH - LEFT - RIGHT) / max(len(labels), 1)
    body: list[str] = []
    for i, label in enumerate(labels):
        x, base = LEFT + i * slot + slot * 0.15, float(h)
        for k, (name, values) in enumerate(series.items()):
            height = (h - TOP) * values[i] / top
            if height > 0:
                base -= height
                body.append(f'<rect x="{x:.1f}" y="{base:.1f}" width="{slot * 0.7:.1f}" height="{height:.1f}" '
                            f'fill="{PALETTE[k % len(PALETTE)]}"><title>{escape(label)} {escape(name)}: '
                            f'{values[i]:g}</title></rect>')
        body.append(f'<text x="{x + slot * 0.35:.1f}" y="{base - 3:.1f}" text-anchor="middle" font-size="10">'
                    f'{_number(totals[i])}</text>')
        body.append(f'<text x="{x + slot * 0.35:.1f}" y="{h + 14}" text-anchor="middle" font-size="11">'
                    f'{escape(label)}</text>')
    if len(series) > 1 or any(series):
        for k, name in enumerate(n for n in series if n):
            y = h + 30
            x = LEFT + k * 110
            body.append(f'<rect x="{x}" y="{y - 8}" width="9" height="9" fill="{PALETTE[k % len(PALETTE)]}"/>'
                        f'<text x="{x + 12}" y="{y}" font-size="10">{escape(name)}</text>')
    return _frame(title, body, top)


def step_chart(title: str, points: Sequence[tuple[str, float]]) -> str:
    """A value that holds until the next point (e.g. members over time); each point labelled below."""
    top, h = _scale([v for _, v in points]), HEIGHT - BOTTOM
    step = (WIDTH - LEFT - RIGHT) / max(len(points), 1)
    path, body = [], []
    for i, (label, value) in enumerate(points):
        y = h - (h - TOP) * value / top
        x0, x1 = LEFT + i * step, LEFT + (i + 1) * step
        path.append(f"{'M' if i == 0 else 'L'}{x0:.1f},{y:.1f} L{x1:.1f},{y:.1f}")
        body.append(f'<circle cx="{x0:.1f}" cy="{y:.1f}" r="3" fill="{PALETTE[0]}"><title>{escape(label)}: '
                    f'{value:g}</title></circle>')
        body.append(f'<text x="{x0:.1f}" y="{y - 6:.1f}" font-size="10">{value:g}</text>')
        body.append(f'<text x="{x0:.1f}" y="{h + 14}" font-size="10">{escape(label)}</text>')
    if path:
        body.insert(0, f'<path d="{" ".join(path)}" fill="none" stroke="{PALETTE[0]}" stroke-width="2"/>')
    return _frame(title, body, top)
