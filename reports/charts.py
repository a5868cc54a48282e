"""The report page's charts, drawn by matplotlib (its SVG backend, no pyplot: each chart is its own Figure,
so nothing is shared between requests) from figures the page has already computed.

A chart is a picture of a table on the same page: it takes the rows, draws them and carries a title and a
one-sentence description for its text alternative. The page shows it as an <img> of a data: URL, so the
SVG's own styling stays inside the image and the Content-Security-Policy (no inline styles) holds.
"""

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

# The palette of static/inbox/inbox.css.
TEXT = "#1f2933"
MUTED = "#5f6b7a"
BORDER = "#dde1e6"
ACCENT = "#2558c7"
ALERT = "#c0262d"
GREEN = "#1d7a3e"
AMBER = "#9a5b00"

# Text stays text (smaller files, the system font, selectable); ids are stable so the same figures draw
# the same bytes.
matplotlib.rcParams.update(
    {
        "svg.fonttype": "none",
        # Names are shown as typed: "$5 refund" is not TeX.
        "text.parse_math": False,
        "svg.hashsalt": "contactcentre-reports",
        "font.family": "sans-serif",
        "font.sans-serif": ["Inter", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "DejaVu Sans"],
        "font.size": 10,
        "axes.edgecolor": BORDER,
        "axes.labelcolor": MUTED,
        "xtick.color": MUTED,
        "ytick.color": MUTED,
        "text.color": TEXT,
    }
)

WIDTH_INCHES = 9.6
# A chart beside another (wait distribution, classifications) is drawn half as wide, so its text shows
# at the size of the page's.
HALF_WIDTH_INCHES = 4.6
# Tick labels on the time axis: at most this many, so a year by day stays readable.
MAX_TIME_LABELS = 14


@dataclass(frozen=True)
class Chart:
    """A drawn chart: `title` (its heading), `description` (its text alternative) and the SVG."""

    title: str
    description: str
    svg: bytes

    @property
    def data_url(self) -> str:
        return "data:image/svg+xml;base64," + base64.b64encode(self.svg).decode("ascii")


def _figure(height_inches: float, width_inches: float = WIDTH_INCHES) -> Figure:
    figure = Figure(figsize=(width_inches, height_inches), dpi=100, layout="constrained")
    figure.patch.set_alpha(0)
    return figure


def _tidy(axes, grid_axis: str = "y") -> None:
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    axes.grid(axis=grid_axis, color=BORDER, linewidth=0.8)
    axes.set_axisbelow(True)
    axes.tick_params(length=0)
    axes.set_facecolor("none")


def _svg(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    return buffer.getvalue()


def volume_and_service_level(
    labels: Sequence[str],
    answered: Sequence[int],
    abandoned: Sequence[int],
    service_level: Sequence[float | None],
    target_pct: float | None,
    *,
    description: str,
) -> Chart:
    """Offered contacts per interval as stacked bars (answered, then abandoned), the service level as a
    line on its own 0-100 % axis, and the target as a dashed line."""
    figure = _figure(3.4)
    axes = figure.add_subplot()
    positions = list(range(len(labels)))
    axes.bar(positions, answered, color=ACCENT, width=0.7, label="Answered")
    axes.bar(positions, abandoned, bottom=answered, color=ALERT, width=0.7, label="Abandoned")
    axes.set_ylabel("Contacts")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    _tidy(axes)
    step = max(1, -(-len(labels) // MAX_TIME_LABELS))
    axes.set_xticks(positions[::step], [labels[i] for i in positions[::step]])
    # A few intervals keep a bar's width: the axis spans at least four.
    pad = max(0.6, (4 - len(labels)) / 2 + 0.6)
    axes.set_xlim(-pad, len(labels) - 1 + pad)
    level = axes.twinx()
    points = [(x, y) for x, y in zip(positions, service_level, strict=True) if y is not None]
    if points:
        level.plot(
            [x for x, _ in points],
            [y for _, y in points],
            color=GREEN,
            marker="o",
            markersize=7,
            markeredgecolor="white",
            markeredgewidth=1.5,
            linewidth=2,
            label="Service level",
        )
    if target_pct is not None:
        level.axhline(
            target_pct, color=AMBER, linestyle="--", linewidth=1.2, label=f"Target {target_pct:g} %"
        )
    level.set_ylim(0, 105)
    level.yaxis.set_major_formatter(PercentFormatter(decimals=0))
    level.set_ylabel("Service level")
    for side in ("top", "left"):
        level.spines[side].set_visible(False)
    level.spines["right"].set_color(BORDER)
    level.tick_params(length=0)
    handles = axes.get_legend_handles_labels()
    more = level.get_legend_handles_labels()
    figure.legend(
        handles[0] + more[0],
        handles[1] + more[1],
        loc="outside upper left",
        ncols=4,
        frameon=False,
    )
    return Chart("Service level and volume", description, _svg(figure))


def bars(
    title: str,
    labels: Sequence[str],
    values: Sequence[float],
    *,
    description: str,
    unit: str = "",
    horizontal: bool = False,
    half: bool = False,
    counts: bool = True,
    colour: str = ACCENT,
) -> Chart:
    """One bar per label, its value written at its end: vertical for ordered categories (wait buckets),
    horizontal for names (agents, classifications), in the order given (top to bottom). `half`: drawn for
    half the page's width; `counts`: whole numbers on the value axis."""
    width = HALF_WIDTH_INCHES if half else WIDTH_INCHES
    if horizontal:
        figure = _figure(max(1.4, 0.36 * len(labels) + 0.7), width)
        axes = figure.add_subplot()
        positions = list(range(len(labels)))[::-1]
        drawn = axes.barh(positions, values, color=colour, height=0.6)
        axes.set_yticks(positions, labels)
        _tidy(axes, grid_axis="x")
        axes.set_ylim(-0.6, len(labels) - 0.4)
        if counts:
            axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    else:
        figure = _figure(2.2 if half else 2.6, width)
        axes = figure.add_subplot()
        positions = list(range(len(labels)))
        drawn = axes.bar(positions, values, color=colour, width=0.7)
        axes.set_xticks(positions, labels, fontsize=9 if half else 10)
        if counts:
            axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        _tidy(axes)
    axes.bar_label(drawn, labels=[f"{value:g}{unit}" for value in values], padding=3, color=TEXT)
    axes.margins(x=0.08 if horizontal else 0.02, y=0.02 if horizontal else 0.12)
    return Chart(title, description, _svg(figure))
