"""The reports' reads: the interactions of a range, each queue's figures per interval, each agent's
figures and the classifications' counts, for the filters of reports/filters.py.

Every count and total is computed by PostgreSQL (GROUP BY over the range's rows, found through the
(company, opened_at) and (company, arrival queue, opened_at) indexes); the figures derived from them
(service level, averages, occupancy...) are reports/metrics.py's, never computed here a second time.
docs/reports.md ("Formulas", "Exports") states what each figure counts."""

import datetime as dt
from dataclasses import dataclass

from django.db import connection
from django.db.models import (
    Case,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    IntegerField,
    Max,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Greatest, Least, Trunc
from django.utils import timezone

from contactcentre.models import Membership
from crm.models import (
    ROLLUP_MAX_SECONDS,
    WAIT_BANDS,
    Interaction,
    ReportAgentDay,
    ReportClassificationDay,
    ReportQueueHour,
)
from reports import metrics
from reports.filters import CHANNELS, CHAT, VOICE, ReportFilters
from routing.models import AgentStatusInterval, VoiceQueue, WebchatQueue
from webchat.models import Classification

# Outcomes (docs/reports.md "Outcomes").
ABANDONED, REFUSED = "abandoned", "refused"
# The customer's rating: no interaction holds one yet. When `Interaction.csat_score` exists, its totals are
# read; until then every rating figure is empty and its count 0.
CSAT_FIELD = "csat_score"


def _has_csat() -> bool:
    return any(f.name == CSAT_FIELD for f in Interaction._meta.get_fields())


def interactions(filters: ReportFilters) -> QuerySet[Interaction]:
    """The interactions that arrived in the range (refused chats included), in the filters' arrival
    queues, agents, channel and classifications, oldest first (by `opened_at`, then id)."""
    return _interactions_between(filters, [(filters.start, filters.end)])


def _interactions_between(
    filters: ReportFilters, spans: list[tuple[dt.datetime, dt.datetime]]
) -> QuerySet[Interaction]:
    """`interactions(filters)`, but arrived in one of `spans` ([start, end) each) rather than the range."""
    arrived = Q(pk__in=[])
    for start, end in spans:
        arrived |= Q(opened_at__gte=start, opened_at__lt=end)
    rows = Interaction.objects.filter(arrived, company_id=filters.company_id)
    if filters.queues:
        rows = rows.filter(
            Q(arrival_webchat_queue_id__in=filters.queue_ids(CHAT))
            | Q(arrival_voice_queue_id__in=filters.queue_ids(VOICE))
        )
    if filters.agents:
        rows = rows.filter(agent_id__in=filters.agents)
    if filters.channel:
        rows = rows.filter(channel=CHANNELS[filters.channel])
    if filters.classifications:
        rows = rows.filter(classification_id__in=filters.classifications)
    return rows.order_by("opened_at", "pk")


def short_abandoned_q(company_id: int) -> Q:
    """Abandoned within the arrival queue's short-abandon threshold: each queue's own threshold, written as
    a time plus a fixed interval, which every database compares (PostgreSQL and the embedded SQLite)."""
    condition = Q(pk__in=[])
    for field, model in (("arrival_webchat_queue", WebchatQueue), ("arrival_voice_queue", VoiceQueue)):
        for pk, seconds in model.objects.filter(company_id=company_id).values_list(
            "pk", "short_abandon_seconds"
        ):
            condition |= Q(**{f"{field}_id": pk}) & Q(
                ended_at__lte=F("opened_at") + dt.timedelta(seconds=seconds)
            )
    return Q(outcome=ABANDONED) & condition


def _ms(total: float | None) -> float:
    """A total of durations held to the millisecond (as each one is): the same whichever order the
    database added them in."""
    return round(total or 0.0, 3)


def _csat_sums() -> dict:
    if not _has_csat():
        return {}
    rated = Q(**{f"{CSAT_FIELD}__isnull": False})
    return {
        "csat_total": Sum(CSAT_FIELD, filter=rated, output_field=FloatField()),
        "csat_responses": Count("pk", filter=rated),
    }


@dataclass(frozen=True)
class QueueCounts:
    """A queue's interval: metrics.QueueInterval with the refused chats counted apart and the queue's
    key (`chat-<id>`, `voice-<id>`)."""

    key: str
    interval: metrics.QueueInterval
    refused: int


def queue_intervals(filters: ReportFilters) -> list[metrics.QueueInterval]:
    """One QueueInterval per queue and interval (hour, day or week of the company's time zone) that had
    an arrival in the range: by queue name, then interval. `interval_start` is in the company's time
    zone. Refused chats are not in it: `queue_interval_counts` has them."""
    return [row.interval for row in queue_interval_counts(filters)]


def queue_interval_counts(filters: ReportFilters) -> list[QueueCounts]:
    """queue_intervals with each row's queue key and refused count: one grouped read, of the rollup when
    it can serve the filters (`_rollup_serves_queues`), else of the interactions."""
    if _rollup_serves_queues(filters):
        rows = list(_queue_hours(filters).order_by().values(*QUEUE_KEY).annotate(**_queue_hour_sums(filters)))
    else:
        rows = _raw_queue_interval_rows(filters)
    return _queue_counts(filters, rows)


def _raw_queue_interval_rows(filters: ReportFilters) -> list[dict]:
    answered = Q(wait_seconds__isnull=False)
    abandoned = Q(outcome=ABANDONED)
    wrapped_up = answered & Q(wrapup_seconds__gt=0)
    short = short_abandoned_q(filters.company_id)
    grouped = (
        interactions(filters)
        .exclude(arrival_webchat_queue__isnull=True, arrival_voice_queue__isnull=True)
        .annotate(
            bucket=Trunc("opened_at", filters.interval, tzinfo=filters.tzinfo),
            target=Coalesce(
                F("arrival_webchat_queue__sl_target_seconds"), F("arrival_voice_queue__sl_target_seconds")
            ),
        )
        .order_by()
        .values("arrival_webchat_queue_id", "arrival_voice_queue_id", "bucket")
        .annotate(
            refused=Count("pk", filter=Q(outcome=REFUSED)),
            offered=Count("pk", filter=~Q(outcome=REFUSED)),
            answered=Count("pk", filter=answered),
            abandoned=Count("pk", filter=abandoned),
            short_abandoned=Count("pk", filter=short),
            answered_within_target=Count("pk", filter=answered & Q(wait_seconds__lte=F("target"))),
            total_wait_seconds=Sum("wait_seconds", filter=answered),
            max_wait_seconds=Max("wait_seconds", filter=answered),
            total_handle_seconds=Sum("handle_seconds", filter=answered),
            wrapped_up=Count("pk", filter=wrapped_up),
            total_wrapup_seconds=Sum("wrapup_seconds", filter=wrapped_up),
            **_csat_sums(),
        )
    )
    return list(grouped)


def _queue_counts(filters: ReportFilters, rows: list[dict]) -> list[QueueCounts]:
    names = {
        CHAT: dict(
            WebchatQueue.objects.filter(pk__in={r["arrival_webchat_queue_id"] for r in rows}).values_list(
                "pk", "name"
            )
        ),
        VOICE: dict(
            VoiceQueue.objects.filter(pk__in={r["arrival_voice_queue_id"] for r in rows}).values_list(
                "pk", "name"
            )
        ),
    }
    result = []
    for row in rows:
        channel, pk = (
            (CHAT, row["arrival_webchat_queue_id"])
            if row["arrival_webchat_queue_id"] is not None
            else (VOICE, row["arrival_voice_queue_id"])
        )
        interval = metrics.QueueInterval(
            queue=names[channel][pk],
            channel=CHANNELS[channel].value,
            interval_start=timezone.localtime(row["bucket"], filters.tzinfo),
            offered=row["offered"],
            answered=row["answered"],
            abandoned=row["abandoned"],
            short_abandoned=row["short_abandoned"],
            answered_within_target=row["answered_within_target"],
            total_wait_seconds=_ms(row["total_wait_seconds"]),
            handled=row["answered"],
            total_handle_seconds=_ms(row["total_handle_seconds"]),
            wrapped_up=row["wrapped_up"],
            total_wrapup_seconds=_ms(row["total_wrapup_seconds"]),
            max_wait_seconds=row["max_wait_seconds"],
            csat_total=row.get("csat_total") or 0.0,
            csat_responses=row.get("csat_responses", 0),
        )
        result.append(QueueCounts(f"{channel}-{pk}", interval, row["refused"]))
    result.sort(key=lambda r: (r.interval.queue, r.interval.channel, r.key, r.interval.interval_start))
    return result


@dataclass(frozen=True)
class AgentRow:
    """An agent's figures over the range: the interactions they held last (in the filters' queues,
    channel and classifications) and their time in each status (clipped to the range)."""

    membership_id: int
    agent: str  # username
    name: str
    interactions: int = 0
    handled: int = 0
    total_handle_seconds: float = 0.0
    wrapped_up: int = 0
    total_wrapup_seconds: float = 0.0
    seconds_available: float = 0.0
    seconds_busy: float = 0.0
    seconds_on_break: float = 0.0
    seconds_wrapup: float = 0.0
    csat_total: float = 0.0
    csat_responses: int = 0

    @property
    def average_handle_seconds(self) -> float | None:
        return metrics.average_handle_seconds(self.total_handle_seconds, self.handled)

    @property
    def average_wrapup_seconds(self) -> float | None:
        return metrics.average_wrapup_seconds(self.total_wrapup_seconds, self.wrapped_up)

    @property
    def occupancy_pct(self) -> float | None:
        return metrics.occupancy_pct(self.seconds_busy, self.seconds_wrapup, self.seconds_available)

    @property
    def csat_average(self) -> float | None:
        return metrics.csat_average(self.csat_total, self.csat_responses)


# Status → AgentRow field. Handling a chat and being on a call are both busy.
STATUS_FIELDS = {
    AgentStatusInterval.Status.AVAILABLE: "seconds_available",
    AgentStatusInterval.Status.HANDLING: "seconds_busy",
    AgentStatusInterval.Status.CALL: "seconds_busy",
    AgentStatusInterval.Status.BREAK: "seconds_on_break",
    AgentStatusInterval.Status.WRAPUP: "seconds_wrapup",
}


def status_seconds(filters: ReportFilters, now: dt.datetime | None = None) -> dict[int, dict[str, float]]:
    """Each agent's seconds in each status over the range: the intervals overlapping it, clipped to it,
    an open interval ending `now` (default: the clock's now). One grouped read."""
    now = now or timezone.now()
    end = min(filters.end, now)
    if end <= filters.start:  # a range still to come
        return {}
    overlapping = AgentStatusInterval.objects.filter(
        company_id=filters.company_id, started_at__lt=end
    ).filter(Q(ended_at__isnull=True) | Q(ended_at__gt=filters.start))
    if filters.agents:
        overlapping = overlapping.filter(agent_id__in=filters.agents)
    clipped = ExpressionWrapper(
        Least(Coalesce("ended_at", Value(now)), Value(end)) - Greatest("started_at", Value(filters.start)),
        output_field=DurationField(),
    )
    seconds: dict[int, dict[str, float]] = {}
    rows = overlapping.order_by().values("agent_id", "status").annotate(total=Sum(clipped))
    for row in rows:
        field = STATUS_FIELDS.get(row["status"])
        if field is not None and row["total"] is not None:
            agent = seconds.setdefault(row["agent_id"], {})
            agent[field] = agent.get(field, 0.0) + max(row["total"].total_seconds(), 0.0)
    return seconds


AGENT_SUMS = ("interactions", "handled", "total_handle_seconds", "wrapped_up", "total_wrapup_seconds")


def _raw_agent_counts(rows: QuerySet[Interaction]) -> list[dict]:
    answered = Q(wait_seconds__isnull=False)
    wrapped_up = answered & Q(wrapup_seconds__gt=0)
    return list(
        rows.filter(agent__isnull=False)
        .order_by()
        .values("agent_id")
        .annotate(
            interactions=Count("pk"),
            handled=Count("pk", filter=answered),
            total_handle_seconds=Sum("handle_seconds", filter=answered),
            wrapped_up=Count("pk", filter=wrapped_up),
            total_wrapup_seconds=Sum("wrapup_seconds", filter=wrapped_up),
            **_csat_sums(),
        )
    )


def _agent_counts(filters: ReportFilters) -> dict[int, dict]:
    """Each agent's counts and totals over the filters' interactions: the rollup's whole UTC days, and
    the interactions themselves for the hours of the range outside them (`_day_split`)."""
    split = _day_split(filters) if _rollup_serves(filters) else None
    if split is None:
        return {row["agent_id"]: row for row in _raw_agent_counts(interactions(filters))}
    first, last, edges = split
    days = _scoped(ReportAgentDay.objects, filters).filter(day__gte=first, day__lt=last)
    if filters.agents:
        days = days.filter(agent_id__in=filters.agents)
    rows = list(days.order_by().values("agent_id").annotate(**{name: Sum(name) for name in AGENT_SUMS}))
    if edges:
        rows += _raw_agent_counts(_interactions_between(filters, edges))
    counts: dict[int, dict] = {}
    for row in rows:
        total = counts.setdefault(row["agent_id"], {"agent_id": row["agent_id"]})
        for name in AGENT_SUMS:
            total[name] = total.get(name, 0) + (row[name] or 0)
    return counts


def agent_rows(filters: ReportFilters, now: dt.datetime | None = None) -> list[AgentRow]:
    """A row per agent who held an interaction in the filters or had a status in the range (only the
    filters' agents, if any), by username."""
    counts = _agent_counts(filters)
    statuses = status_seconds(filters, now)
    members = (
        Membership.objects.filter(company_id=filters.company_id, pk__in=set(counts) | set(statuses))
        .select_related("user")
        .order_by("user__username")
    )
    result = []
    for member in members:
        count = counts.get(member.pk, {})
        result.append(
            AgentRow(
                membership_id=member.pk,
                agent=member.user.get_username(),
                name=member.name,
                interactions=count.get("interactions", 0),
                handled=count.get("handled", 0),
                total_handle_seconds=_ms(count.get("total_handle_seconds")),
                wrapped_up=count.get("wrapped_up", 0),
                total_wrapup_seconds=_ms(count.get("total_wrapup_seconds")),
                csat_total=count.get("csat_total") or 0.0,
                csat_responses=count.get("csat_responses", 0),
                **statuses.get(member.pk, {}),
            )
        )
    return result


@dataclass(frozen=True)
class ClassificationCount:
    """How many of the filters' interactions carry a classification (None: unclassified; `label` is the
    classification's, or the text kept when it was deleted)."""

    classification_id: int | None
    label: str
    interactions: int


def _raw_classification_rows(rows: QuerySet[Interaction]) -> list[dict]:
    return list(
        rows.exclude(outcome=REFUSED)
        .order_by()
        .values("classification_id", "classification_text")
        .annotate(n=Count("pk"))
    )


def _classification_rows(filters: ReportFilters) -> list[dict]:
    """The filters' interactions (refused left out) counted per classification id and text: the
    rollup's whole UTC days and the interactions of the hours around them, or the interactions alone."""
    split = _day_split(filters) if _rollup_serves(filters) and not filters.agents else None
    if split is None:
        return _raw_classification_rows(interactions(filters))
    first, last, edges = split
    rows = list(
        _scoped(ReportClassificationDay.objects, filters)
        .filter(day__gte=first, day__lt=last)
        .order_by()
        .values("classification_id", "classification_text")
        .annotate(n=Sum("interactions"))
    )
    if edges:
        rows += _raw_classification_rows(_interactions_between(filters, edges))
    return rows


def classification_counts(filters: ReportFilters) -> list[ClassificationCount]:
    """The filters' interactions per classification, most frequent first (refused chats left out)."""
    rows = _classification_rows(filters)
    labels = {
        c.pk: str(c)
        for c in Classification.objects.filter(
            company_id=filters.company_id, pk__in={r["classification_id"] for r in rows}
        )
    }
    totals: dict[tuple[int | None, str], int] = {}
    for row in rows:
        pk = row["classification_id"]
        label = labels.get(pk) or row["classification_text"] or ""
        key = (pk if pk in labels else None, label)
        totals[key] = totals.get(key, 0) + row["n"]
    return sorted(
        (ClassificationCount(pk, label, n) for (pk, label), n in totals.items()),
        key=lambda c: (-c.interactions, c.label),
    )


# ---------------------------------------------------------------------------------------------------------
# The rollup (crm.models.ReportQueueHour, ReportClassificationDay, ReportAgentDay; docs/reports.md
# "Rollup"): the same figures as the reads above, added up as the interactions were written.

# Off in the tests that compare the rollup's figures with the interactions' own.
USE_ROLLUP = True
QUEUE_KEY = ("arrival_webchat_queue_id", "arrival_voice_queue_id", "bucket")


class _CumulativeAt(Func):
    """`array[index + 1]` (PostgreSQL counts from 1), or `past_end` beyond the array's end: a cumulative
    count of the rollup at a whole number of seconds."""

    output_field = IntegerField()

    def as_sql(self, compiler, connection, **extra):
        (array, array_params), (index, index_params), (past_end, past_params) = (
            compiler.compile(expression) for expression in self.get_source_expressions()
        )
        return f"COALESCE(({array})[({index}) + 1], {past_end})", (*array_params, *index_params, *past_params)


def _rollup_serves(filters: ReportFilters) -> bool:
    """Whether the rollup holds what the filters select: not per classification (nor the ratings, once
    interactions hold them), and only on PostgreSQL."""
    return (
        USE_ROLLUP and connection.vendor == "postgresql" and not filters.classifications and not _has_csat()
    )


def _queue_settings(company_id: int) -> dict[tuple[str, int], tuple[int, int]]:
    """(sl_target_seconds, short_abandon_seconds) of each of the company's queues, by (channel, id)."""
    found = {}
    for channel, model in ((CHAT, WebchatQueue), (VOICE, VoiceQueue)):
        for pk, target, short in model.objects.filter(company_id=company_id).values_list(
            "pk", "sl_target_seconds", "short_abandon_seconds"
        ):
            found[(channel, pk)] = (target, short)
    return found


def _hours_align(filters: ReportFilters) -> bool:
    """Whether the range's days (and so its hours and weeks) are made of whole UTC hours: the company's
    offset from UTC is a whole number of hours at each midnight of the range and after it."""
    day = filters.date_from
    while day <= filters.date_to + dt.timedelta(days=1):
        offset = dt.datetime.combine(day, dt.time(), tzinfo=filters.tzinfo).utcoffset()
        if offset is None or offset % dt.timedelta(hours=1):
            return False
        day += dt.timedelta(days=1)
    return True


def _rollup_serves_queues(filters: ReportFilters) -> bool:
    """The queue figures come from the rollup's hours unless the filters name agents or classifications,
    the time zone's days are not whole UTC hours, or a queue's target or short-abandon threshold is longer
    than the rollup counts (ROLLUP_MAX_SECONDS)."""
    if not _rollup_serves(filters) or filters.agents or not _hours_align(filters):
        return False
    return all(
        target <= ROLLUP_MAX_SECONDS and short <= ROLLUP_MAX_SECONDS
        for target, short in _queue_settings(filters.company_id).values()
    )


def _scoped(rows: QuerySet, filters: ReportFilters) -> QuerySet:
    """A rollup table's rows of the company, in the filters' queues and channel."""
    rows = rows.filter(company_id=filters.company_id)
    if filters.queues:
        rows = rows.filter(
            Q(arrival_webchat_queue_id__in=filters.queue_ids(CHAT))
            | Q(arrival_voice_queue_id__in=filters.queue_ids(VOICE))
        )
    if filters.channel:
        rows = rows.filter(channel=CHANNELS[filters.channel])
    return rows


def _per_queue(settings: dict[tuple[str, int], tuple[int, int]], which: int) -> Case:
    return Case(
        *(
            When(
                **{f"arrival_{'webchat' if channel == CHAT else 'voice'}_queue_id": pk},
                then=Value(values[which]),
            )
            for (channel, pk), values in settings.items()
        ),
        default=Value(None),
        output_field=IntegerField(),
    )


def _queue_hours(filters: ReportFilters) -> QuerySet[ReportQueueHour]:
    """The rollup's hours of the range in the filters' queues and channel, of queues that still exist (an
    interaction of a deleted queue has no arrival queue, and counts in no queue figure), each with its
    interval (`bucket`)."""
    settings = _queue_settings(filters.company_id)
    existing = Q(arrival_webchat_queue_id__in=[pk for c, pk in settings if c == CHAT]) | Q(
        arrival_voice_queue_id__in=[pk for c, pk in settings if c == VOICE]
    )
    return (
        _scoped(ReportQueueHour.objects, filters)
        .filter(existing, hour__gte=filters.start, hour__lt=filters.end)
        .annotate(bucket=Trunc("hour", filters.interval, tzinfo=filters.tzinfo))
    )


def _queue_hour_sums(filters: ReportFilters) -> dict:
    """The aggregates of `_raw_queue_interval_rows`, over the rollup's hours: the answered within target
    and the short abandons at each queue's settings of the moment."""
    settings = _queue_settings(filters.company_id)
    return {
        # First: `answered` below would otherwise name the sum, not the rollup's column.
        "short_abandoned": Sum(
            _CumulativeAt(F("abandoned_by_stay"), _per_queue(settings, 1), F("abandoned_ended"))
        ),
        "answered_within_target": Sum(
            _CumulativeAt(F("answered_by_wait"), _per_queue(settings, 0), F("answered"))
        ),
        "refused": Sum("refused"),
        "offered": Sum("offered"),
        "answered": Sum("answered"),
        "abandoned": Sum("abandoned"),
        "total_wait_seconds": Sum("total_wait_seconds"),
        "max_wait_seconds": Max("max_wait_seconds"),
        "total_handle_seconds": Sum("total_handle_seconds"),
        "wrapped_up": Sum("wrapped_up"),
        "total_wrapup_seconds": Sum("total_wrapup_seconds"),
    }


def wait_band_counts(filters: ReportFilters) -> list[int] | None:
    """The answered interactions of the filters (those of a queue) per WAIT_BANDS band, from the rollup;
    None when the rollup cannot serve the filters."""
    if not _rollup_serves_queues(filters):
        return None
    sums = _queue_hours(filters).aggregate(
        **{f"b{index}": Sum(F(f"wait_bands__{index}")) for index in range(len(WAIT_BANDS))}
    )
    return [sums[f"b{index}"] or 0 for index in range(len(WAIT_BANDS))]


def _day_split(
    filters: ReportFilters,
) -> tuple[dt.date, dt.date, list[tuple[dt.datetime, dt.datetime]]] | None:
    """The range as the rollup's whole UTC days [first, last) and the moments of it outside them (none
    when the company's days are UTC's), or None when it holds no whole UTC day."""
    start, end = filters.start.astimezone(dt.UTC), filters.end.astimezone(dt.UTC)

    def midnight(day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)

    first = start.date() if start == midnight(start.date()) else start.date() + dt.timedelta(days=1)
    last = end.date()
    if first >= last:
        return None
    edges = [(a, b) for a, b in ((start, midnight(first)), (midnight(last), end)) if a < b]
    return first, last, edges
