"""A bar chart of sync run outcomes per day, drawn as SVG on the server (no script, no library).

Outcomes differ by fill pattern as well as colour, and the page carries the same numbers as a
table, so nothing is told by colour alone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 640, 200, 32, 24, 8
#: Stacking order, bottom up; each with a colour and a pattern id defined in the template.
SERIES = (("completed", "#00703c", "solid"), ("failed", "#b10e1e", "hatch"),
          ("cancelled", "#505a5f", "dots"))


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    series: str
    fill: str


def bars(days: list[dict[str, Any]]) -> dict[str, Any]:
    peak = max([sum(d[s] for s, _, _ in SERIES) for d in days] + [1])
    plot_w, plot_h = WIDTH - LEFT, HEIGHT - BOTTOM - TOP
    step = plot_w / max(len(days), 1)
    drawn: list[Bar] = []
    for i, day in enumerate(days):
        base = HEIGHT - BOTTOM
        for series, colour, pattern in SERIES:
            h = plot_h * day[series] / peak
            if h:
                fill = colour if pattern == "solid" else f"url(#pattern-{pattern})"
                drawn.append(Bar(LEFT + i * step + 1, base - h, max(step - 2, 1), h, series, fill))
                base -= h
    ticks = [{"y": HEIGHT - BOTTOM - plot_h * v / peak, "label": v} for v in sorted({0, peak})]
    first, last = (days[0]["day"], days[-1]["day"]) if days else ("", "")
    return {"bars": drawn, "ticks": ticks, "width": WIDTH, "height": HEIGHT, "left": LEFT,
            "bottom": HEIGHT - BOTTOM, "first": first, "last": last,
            "totals": {s: sum(d[s] for d in days) for s, _, _ in SERIES}}
