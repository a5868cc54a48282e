"""The interactions behind a report figure: the conditions a figure adds to the report's filters, read from
the drill-down page's query string, and the wait-time distribution the page draws.

A figure of the report page is a count over `queries.interactions(filters)` (or a mean over such a count);
its link carries the report's filters plus the conditions below, and the drill-down lists
`narrow(queries.interactions(filters), ...)`. The conditions are the same row conditions the counts use
(docs/reports.md "Definitions"), so a figure of 2 lists 2 rows:

- `outcome`: `offered` (arrived and allowed to wait: not refused), `answered` (has a wait: taken or
  allocated), `abandoned`, `short_abandoned` (abandoned within the arrival queue's short-abandon
  threshold) or `refused`. These are queue figures: only interactions with an arrival queue count.
- `answered_within_target`: 1 (answered with a wait no longer than the arrival queue's target) or 0
  (answered past it).
- `interval_start`: an ISO 8601 moment starting one of the report's intervals (hour, day or week of the
  company's time zone): the interactions that arrived in that interval.
- `wait_min`, `wait_max`: answered with a wait of at least `wait_min` and under `wait_max` seconds (a bar
  of the wait distribution).
- `unclassified=1`: with no classification; `classification_text`: with the classification of that
  name that has since been deleted.
"""

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, F, Q, QuerySet
from django.db.models.functions import Coalesce
from django.http import QueryDict

from crm.models import WAIT_BANDS, Interaction
from reports import queries
from reports.filters import FilterError, ReportFilters
from reports.queries import short_abandoned_q

OFFERED, ANSWERED, ABANDONED, SHORT_ABANDONED, REFUSED = (
    "offered",
    "answered",
    "abandoned",
    "short_abandoned",
    "refused",
)
OUTCOMES = {
    OFFERED: "Offered",
    ANSWERED: "Answered",
    ABANDONED: "Abandoned",
    SHORT_ABANDONED: "Short abandoned",
    REFUSED: "Refused",
}
# The drill-down's own parameters, apart from the report's filters.
PARAMETERS = (
    "outcome",
    "answered_within_target",
    "interval_start",
    "wait_min",
    "wait_max",
    "unclassified",
    "classification_text",
)

# The wait distribution's buckets, in seconds: [low, high), the last one open (the rollup counts them).
WAIT_BUCKETS = WAIT_BANDS


@dataclass(frozen=True)
class Conditions:
    outcome: str | None = None
    answered_within_target: bool | None = None
    interval_start: dt.datetime | None = None
    wait_min: float | None = None
    wait_max: float | None = None
    unclassified: bool = False
    classification_text: str = ""

    def __bool__(self) -> bool:
        return self != Conditions()


def bucket_label(low: int, high: int | None) -> str:
    """A wait bucket in words: "0–10 s", "30–60 s", "1–2 min", "5+ min"."""

    def minutes(seconds: int) -> bool:
        return seconds >= 60 and seconds % 60 == 0

    if high is None:
        return f"{low // 60}+ min" if minutes(low) else f"{low}+ s"
    if minutes(high) and (low == 0 or minutes(low)) and high > 60:
        return f"{low // 60}–{high // 60} min"
    return f"{low}–{high} s"


def _seconds(query: QueryDict, name: str) -> float | None:
    value = query.get(name, "").strip()
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0 <= number < 10**7:
        raise FilterError(f"{name}: give a number of seconds.")
    return number


def _flag(query: QueryDict, name: str) -> bool | None:
    value = query.get(name, "").strip()
    if value not in ("", "0", "1"):
        raise FilterError(f"{name}: write 1 or 0.")
    return None if value == "" else value == "1"


def parse_conditions(query: QueryDict, filters: ReportFilters) -> Conditions:
    """The drill-down's conditions from its query string; FilterError (400) for malformed ones."""
    outcome = query.get("outcome", "").strip() or None
    if outcome is not None and outcome not in OUTCOMES:
        raise FilterError("outcome: write offered, answered, abandoned, short_abandoned or refused.")
    start = None
    if raw := query.get("interval_start", "").strip():
        try:
            start = dt.datetime.fromisoformat(raw)
        except ValueError:
            raise FilterError("interval_start: write a moment in ISO 8601, with its offset.") from None
        if start.tzinfo is None:
            raise FilterError("interval_start: write a moment in ISO 8601, with its offset.")
        start = start.astimezone(filters.tzinfo)
    wait_min, wait_max = _seconds(query, "wait_min"), _seconds(query, "wait_max")
    if wait_min is not None and wait_max is not None and wait_max <= wait_min:
        raise FilterError("wait_max: give more seconds than wait_min.")
    return Conditions(
        outcome=outcome,
        answered_within_target=_flag(query, "answered_within_target"),
        interval_start=start,
        wait_min=wait_min,
        wait_max=wait_max,
        unclassified=bool(_flag(query, "unclassified")),
        classification_text=query.get("classification_text", "").strip()[:200],
    )


def interval_end(start: dt.datetime, interval: str) -> dt.datetime:
    """The first moment after the interval (hour, day or week of the company's time zone) at `start`:
    a day is a calendar day, 23 or 25 hours long when the clocks change."""
    if interval == "hour":
        return start + dt.timedelta(hours=1)
    days = 7 if interval == "week" else 1
    return dt.datetime.combine(start.date() + dt.timedelta(days=days), start.timetz())


def _target() -> Coalesce:
    return Coalesce(
        F("arrival_webchat_queue__sl_target_seconds"), F("arrival_voice_queue__sl_target_seconds")
    )


IN_A_QUEUE = ~Q(arrival_webchat_queue__isnull=True, arrival_voice_queue__isnull=True)
ANSWERED_Q = Q(wait_seconds__isnull=False)


def _wait_q(low: float | None, high: float | None) -> Q:
    condition = ANSWERED_Q
    if low is not None:
        condition &= Q(wait_seconds__gte=low)
    if high is not None:
        condition &= Q(wait_seconds__lt=high)
    return condition


def narrow(
    rows: QuerySet[Interaction], conditions: Conditions, filters: ReportFilters
) -> QuerySet[Interaction]:
    """`rows` (the report's interactions) with the conditions of one figure."""
    if conditions.outcome is not None or conditions.answered_within_target is not None:
        rows = rows.filter(IN_A_QUEUE)
    if conditions.outcome == OFFERED:
        rows = rows.exclude(outcome=REFUSED)
    elif conditions.outcome == ANSWERED:
        rows = rows.filter(ANSWERED_Q)
    elif conditions.outcome in (ABANDONED, REFUSED):
        rows = rows.filter(outcome=conditions.outcome)
    elif conditions.outcome == SHORT_ABANDONED:
        rows = rows.filter(short_abandoned_q(filters.company_id))
    if conditions.answered_within_target is not None:
        rows = rows.annotate(target=_target()).filter(ANSWERED_Q)
        within = Q(wait_seconds__lte=F("target"))
        rows = rows.filter(within) if conditions.answered_within_target else rows.exclude(within)
    if conditions.interval_start is not None:
        end = interval_end(conditions.interval_start, filters.interval)
        rows = rows.filter(opened_at__gte=conditions.interval_start, opened_at__lt=end)
    if conditions.wait_min is not None or conditions.wait_max is not None:
        rows = rows.filter(_wait_q(conditions.wait_min, conditions.wait_max))
    if conditions.unclassified:
        rows = rows.filter(classification__isnull=True, classification_text="")
    elif conditions.classification_text:
        rows = rows.filter(classification__isnull=True, classification_text=conditions.classification_text)
    return rows


@dataclass(frozen=True)
class WaitBucket:
    low: int
    high: int | None
    answered: int

    @property
    def label(self) -> str:
        return bucket_label(self.low, self.high)


def wait_distribution(filters: ReportFilters) -> list[WaitBucket]:
    """How many of the report's interactions were answered with a wait in each of WAIT_BUCKETS, counting
    those of a queue as the answered figure does: one read, of the rollup when it serves the filters."""
    counts = queries.wait_band_counts(filters)
    if counts is None:
        counts = _raw_wait_counts(queries.interactions(filters))
    return [WaitBucket(low, high, counts[index]) for index, (low, high) in enumerate(WAIT_BUCKETS)]


def _raw_wait_counts(rows: QuerySet[Interaction]) -> list[int]:
    counts = (
        rows.filter(IN_A_QUEUE)
        .order_by()
        .aggregate(
            **{
                f"b{index}": Count("pk", filter=_wait_q(low, high))
                for index, (low, high) in enumerate(WAIT_BUCKETS)
            }
        )
    )
    return [counts[f"b{index}"] for index in range(len(WAIT_BUCKETS))]
