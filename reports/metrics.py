"""The formulas of every report figure, written once: the wallboard, the report pages and the CSV exports
all compute their figures here, from counts and durations read elsewhere.

Pure functions over plain numbers (durations in seconds, as floats, or as timedeltas): no database, no
Django, so a figure is the same wherever it shows. A figure whose denominator is 0 (no answered contact,
no time logged in...) is undefined, and is None, never 0: the pages show it as "—" (`display`), the CSV
exports as an empty field. docs/reports.md ("Formulas") states each definition with a worked example, as
PROTOCOL.md section 7 defines them.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

Seconds = float | timedelta

# PROTOCOL.md section 7: the columns of queues.csv, in order.
QUEUES_CSV_COLUMNS = (
    "queue",
    "channel",
    "interval_start",
    "offered",
    "answered",
    "abandoned",
    "short_abandoned",
    "answered_within_target",
    "service_level_pct",
    "asa_seconds",
    "average_handle_seconds",
    "average_wrapup_seconds",
    "max_wait_seconds",
    "csat_average",
    "csat_responses",
)

UNDEFINED = "—"


def seconds(duration: Seconds) -> float:
    """A duration in seconds, from seconds or a timedelta."""
    return duration.total_seconds() if isinstance(duration, timedelta) else float(duration)


def _ratio(numerator: float, denominator: float, scale: float = 1.0) -> float | None:
    if denominator <= 0:
        return None
    return scale * numerator / denominator


def service_level_pct(
    answered_within_target: int, answered: int, abandoned: int, short_abandoned: int
) -> float | None:
    """The share of contacts answered within the queue's target, in percent:
    answered_within_target / (answered + abandoned − short_abandoned) × 100.

    Short abandons (customers who left within the short-abandon threshold) count neither for nor against;
    other abandons count against. None when nobody was answered and nobody but short abandoners left.

    >>> service_level_pct(answered_within_target=45, answered=50, abandoned=12, short_abandoned=2)
    75.0
    >>> service_level_pct(0, 0, 3, 3) is None
    True
    """
    return _ratio(answered_within_target, answered + abandoned - short_abandoned, 100)


def asa_seconds(total_wait: Seconds, answered: int) -> float | None:
    """Average speed of answer: the mean wait (arrival to first answer) of the answered contacts.

    >>> asa_seconds(total_wait=600, answered=40)
    15.0
    """
    return _ratio(seconds(total_wait), answered)


def average_handle_seconds(total_handle: Seconds, handled: int) -> float | None:
    """Average handle time: the mean time active (parked time excluded) of the contacts handled.

    >>> average_handle_seconds(total_handle=timedelta(minutes=90), handled=20)
    270.0
    """
    return _ratio(seconds(total_handle), handled)


def average_wrapup_seconds(total_wrapup: Seconds, wrapped_up: int) -> float | None:
    """Average wrap-up time: the mean time in wrap-up (parked wrap-up excluded) of the contacts wrapped
    up.

    >>> average_wrapup_seconds(total_wrapup=900, wrapped_up=20)
    45.0
    """
    return _ratio(seconds(total_wrapup), wrapped_up)


def abandonment_rate_pct(abandoned: int, short_abandoned: int, offered: int) -> float | None:
    """The share of offered contacts whose customer left before an answer, in percent, short abandons
    left out of both sides as in the service level: (abandoned − short_abandoned) / (offered −
    short_abandoned) × 100.

    >>> round(abandonment_rate_pct(abandoned=12, short_abandoned=2, offered=62), 2)
    16.67
    """
    return _ratio(abandoned - short_abandoned, offered - short_abandoned, 100)


def occupancy_pct(seconds_busy: Seconds, seconds_wrapup: Seconds, seconds_available: Seconds) -> float | None:
    """The share of an agent's ready time spent on contacts, in percent: busy / (busy + available) × 100,
    where busy is handling chats or on a call (`seconds_busy`, as in agents.csv) plus wrap-up. Time on
    break, unavailable or logged out is not ready time and counts in neither.

    >>> occupancy_pct(seconds_busy=5400, seconds_wrapup=1800, seconds_available=1800)
    80.0
    """
    busy = seconds(seconds_busy) + seconds(seconds_wrapup)
    return _ratio(busy, busy + seconds(seconds_available), 100)


def csat_average(total_score: float, responses: int) -> float | None:
    """The mean customer rating (1 to 5) of the interactions rated.

    >>> csat_average(total_score=43, responses=10)
    4.3
    """
    return _ratio(total_score, responses)


def display(value: float | None, decimals: int = 1, unit: str = "") -> str:
    """A figure for a page: rounded, with its unit, or "—" when undefined.

    >>> display(88.835, unit=" %"), display(None)
    ('88.8 %', '—')
    """
    if value is None:
        return UNDEFINED
    return f"{value:.{decimals}f}{unit}"


def _rounded(value: float | None, decimals: int) -> float | None:
    return None if value is None else round(value, decimals)


@dataclass(frozen=True)
class QueueInterval:
    """The counts and totals of one queue over one interval (hour, day or week), per PROTOCOL.md
    section 7's definitions: a contact counts in the interval and queue where it arrived."""

    queue: str
    channel: str
    interval_start: datetime
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    answered_within_target: int = 0
    total_wait_seconds: float = 0.0
    handled: int = 0
    total_handle_seconds: float = 0.0
    wrapped_up: int = 0
    total_wrapup_seconds: float = 0.0
    max_wait_seconds: float | None = None
    csat_total: float = 0.0
    csat_responses: int = 0

    @property
    def service_level_pct(self) -> float | None:
        return service_level_pct(
            self.answered_within_target, self.answered, self.abandoned, self.short_abandoned
        )

    @property
    def abandonment_rate_pct(self) -> float | None:
        return abandonment_rate_pct(self.abandoned, self.short_abandoned, self.offered)

    def queues_csv_row(self) -> tuple:
        """The fields of its queues.csv row, in QUEUES_CSV_COLUMNS' order: counts as ints, percentages
        and seconds rounded to 1 decimal, the rating to 2, the interval's start in ISO 8601, and None
        for an undefined figure (an empty field in the CSV)."""
        return (
            self.queue,
            self.channel,
            self.interval_start.isoformat(),
            self.offered,
            self.answered,
            self.abandoned,
            self.short_abandoned,
            self.answered_within_target,
            _rounded(self.service_level_pct, 1),
            _rounded(asa_seconds(self.total_wait_seconds, self.answered), 1),
            _rounded(average_handle_seconds(self.total_handle_seconds, self.handled), 1),
            _rounded(average_wrapup_seconds(self.total_wrapup_seconds, self.wrapped_up), 1),
            _rounded(self.max_wait_seconds, 1),
            _rounded(csat_average(self.csat_total, self.csat_responses), 2),
            self.csat_responses,
        )
