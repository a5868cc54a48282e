"""The report page's charts as data: the figures a chart shows, its heading and its text alternative, from
figures the page has already computed. The browser draws them (static/reports/charts.js, with Chart.js).

A chart is a picture of a table on the same page. The page ships each chart's `data` as JSON in a
<script type="application/json"> (Django's json_script, which escapes markup, so a name stays text and the
Content-Security-Policy holds), and a <canvas> carrying the chart's description as its text alternative.
Every bar has a link to the interactions behind it, as the table's counts have.

The shapes of `data` (what charts.js reads):

- "volume": `labels` (one per interval of the range), `answered` and `abandoned` (counts, stacked bars),
  `service_level` (per cent to one decimal, null where nothing was offered, a line on its own 0-100 %
  axis), `target` (per cent, or null when the queues have no single target), `links` (per interval, the
  drill-down of its answered and of its abandoned contacts: `base` with `interval_start` and `outcome` set).
- "bars": `labels`, `values`, `unit` (written after each bar's value), `horizontal` (names, top to bottom)
  or vertical (ordered categories), `counts` (whole numbers on the value axis), `links` (one per bar, "" for
  none).
"""

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Chart:
    """A chart to draw: `title` (its heading), `description` (its text alternative) and `data` (JSON)."""

    title: str
    description: str
    data: dict


def _level(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def volume_and_service_level(
    labels: Sequence[str],
    answered: Sequence[int],
    abandoned: Sequence[int],
    service_level: Sequence[float | None],
    target_pct: float | None,
    *,
    interval_starts: Sequence[str],
    drill: str,
    description: str,
) -> Chart:
    """Offered contacts per interval as stacked bars (answered, then abandoned), the service level as a
    line and the target as a dashed one. A bar links to `drill` narrowed to its interval (`interval_starts`,
    ISO 8601) and its outcome."""
    return Chart(
        "Service level and volume",
        description,
        {
            "kind": "volume",
            "labels": list(labels),
            "answered": list(answered),
            "abandoned": list(abandoned),
            "service_level": [_level(v) for v in service_level],
            "target": target_pct,
            "links": {"base": drill, "interval_starts": list(interval_starts)},
        },
    )


def bars(
    title: str,
    labels: Sequence[str],
    values: Sequence[float],
    *,
    description: str,
    links: Sequence[str],
    unit: str = "",
    horizontal: bool = False,
    counts: bool = True,
) -> Chart:
    """One bar per label, its value written at its end: vertical for ordered categories (wait buckets),
    horizontal for names (agents, classifications), in the order given (top to bottom); `counts`: whole
    numbers on the value axis."""
    return Chart(
        title,
        description,
        {
            "kind": "bars",
            "labels": list(labels),
            "values": list(values),
            "unit": unit,
            "horizontal": horizontal,
            "counts": counts,
            "links": list(links),
        },
    )
