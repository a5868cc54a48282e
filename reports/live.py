"""The live figures of every queue, chat and voice: what the wallboard shows and the service-level alert
checks (docs/reports.md, "Live figures and alerts").

Read from the chats and calls themselves (`webchat.models.Chat`, `routing.models.Call`), not from the
interactions: a chat or call is a row from the moment it arrives, and keeps its arrival, first answer, end
and outcome when it closes, so one source covers the contacts still open (a chat answered a minute ago and
still being handled) and the closed ones alike. The formulas are reports/metrics.py's.

A constant number of queries whatever the number of queues: one per channel for the queues with their
waiting contacts, one per channel for the counts, grouped by queue.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import (
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    IntegerField,
    Min,
    OuterRef,
    Q,
    Subquery,
    Sum,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from reports import metrics
from routing.models import Call, CallState, VoiceQueue, WebchatQueue
from webchat.models import Chat, ChatState, Outcome

CHAT, VOICE = "chat", "voice"

# A call is waiting until an agent answers it: queued, or ringing an agent.
CALL_WAITING_STATES = (CallState.WAITING, CallState.OFFERED)


@dataclass(frozen=True)
class QueueLive:
    """One queue's live figures. Window counts cover the queue's rolling window (`kpi_window_minutes`)
    back from `now`; "today" counts run from midnight in the product's time zone."""

    channel: str
    queue: WebchatQueue | VoiceQueue
    waiting: int
    oldest: datetime | None
    answered: int = 0
    answered_within_target: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    answered_today: int = 0
    abandoned_today: int = 0
    handled_today: int = 0
    handle_seconds_today: float = 0.0

    @property
    def key(self) -> str:
        return f"{self.channel}-{self.queue.pk}"

    @property
    def name(self) -> str:
        return self.queue.name

    @property
    def service_level_pct(self) -> float | None:
        return metrics.service_level_pct(
            self.answered_within_target, self.answered, self.abandoned, self.short_abandoned
        )

    @property
    def average_handle_seconds_today(self) -> float | None:
        return metrics.average_handle_seconds(self.handle_seconds_today, self.handled_today)

    @property
    def below_warning(self) -> bool:
        """The live service level is defined and below the queue's warning threshold."""
        level = self.service_level_pct
        return level is not None and level < self.queue.sl_warning_pct

    @property
    def below_target(self) -> bool:
        level = self.service_level_pct
        return level is not None and level < self.queue.sl_target_pct

    @property
    def service_level_display(self) -> str:
        return metrics.display(self.service_level_pct, decimals=0, unit=" %")

    @property
    def average_handle_display(self) -> str:
        value = self.average_handle_seconds_today
        if value is None:
            return metrics.UNDEFINED
        minutes, rest = divmod(round(value), 60)
        return f"{minutes}:{rest:02d}"


def day_start(now: datetime) -> datetime:
    """Midnight of `now`'s day in the product's time zone (settings.TIME_ZONE): where "today" starts."""
    return timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)


def _per_queue(queues, queue: str, condition) -> Q:
    """`condition(settings_queue)` for the rows of each queue, as one condition: each queue's own window and
    thresholds, written as plain times and intervals that every database compares (PostgreSQL and the
    embedded SQLite alike), in the one query whatever the number of queues."""
    combined = Q(pk__in=[])
    for settings_queue in queues:
        combined |= Q(**{f"{queue}_id": settings_queue.pk}) & condition(settings_queue)
    return combined


def _counts(
    rows, *, queues, queue: str, arrived: str, now: datetime, today: datetime, longest: int, handle
) -> dict[int, dict]:
    """Counts per queue id: in the queue's window, the contacts answered (within target) and abandoned
    (short); today, those answered, abandoned and handled (answered and ended) with their handle time.

    A contact counts when the event happens: answered when first answered, abandoned when the customer
    left. The counting queue is the one it arrived in."""

    def window(q) -> datetime:
        return now - timedelta(minutes=q.kpi_window_minutes)

    answered = _per_queue(queues, queue, lambda q: Q(answered_at__isnull=False, answered_at__gte=window(q)))
    within = _per_queue(
        queues, queue, lambda q: Q(answered_at__lte=F(arrived) + timedelta(seconds=q.sl_target_seconds))
    )
    abandoned = Q(outcome=Outcome.ABANDONED) & _per_queue(queues, queue, lambda q: Q(ended_at__gte=window(q)))
    # Short: within the threshold; a threshold of 0 makes every abandon count.
    short = _per_queue(
        [q for q in queues if q.short_abandon_seconds > 0],
        queue,
        lambda q: Q(ended_at__lte=F(arrived) + timedelta(seconds=q.short_abandon_seconds)),
    )
    handled_today = Q(answered_at__isnull=False, ended_at__gte=today)
    # Only the contacts answered or ended since the earlier of midnight and the longest window's start.
    earliest = min(today, now - timedelta(minutes=longest))
    rows = (
        rows.filter(Q(answered_at__gte=earliest) | Q(ended_at__gte=earliest))
        .order_by()
        .values(queue)
        .annotate(
            answered=Count("pk", filter=answered),
            answered_within_target=Count("pk", filter=answered & within),
            abandoned=Count("pk", filter=abandoned),
            short_abandoned=Count("pk", filter=abandoned & short),
            answered_today=Count("pk", filter=Q(answered_at__gte=today)),
            abandoned_today=Count("pk", filter=Q(outcome=Outcome.ABANDONED, ended_at__gte=today)),
            handled_today=Count("pk", filter=handled_today),
            handle_today=Sum(handle, filter=handled_today),
        )
    )
    counts = {}
    for row in rows:
        handle_today = row.pop("handle_today")
        if isinstance(handle_today, timedelta):
            handle_today = handle_today.total_seconds()
        row["handle_seconds_today"] = float(handle_today or 0.0)
        counts[row.pop(queue)] = row
    return counts


def queues_live(*, company_id: int, now: datetime | None = None) -> list[QueueLive]:
    """Every enabled queue of the company, chat queues by name then voice queues by name, with its live
    figures: four queries whatever the number of queues."""
    now = now or timezone.now()
    today = day_start(now)
    scope = {"company_id": company_id}

    waiting_chats = (
        Chat.objects.filter(queue=OuterRef("pk"), state=ChatState.QUEUED).order_by().values("queue")
    )
    chat_queues = (
        WebchatQueue.objects.filter(enabled=True, **scope)
        .annotate(
            waiting=Coalesce(
                Subquery(waiting_chats.annotate(n=Count("pk")).values("n")), 0, output_field=IntegerField()
            ),
            oldest=Subquery(waiting_chats.annotate(first=Min("queued_at")).values("first")),
        )
        .order_by("name")
    )
    waiting_calls = (
        Call.objects.filter(queue=OuterRef("pk"), state__in=CALL_WAITING_STATES).order_by().values("queue")
    )
    voice_queues = (
        VoiceQueue.objects.filter(**scope)
        .annotate(
            waiting=Coalesce(
                Subquery(waiting_calls.annotate(n=Count("pk")).values("n")), 0, output_field=IntegerField()
            ),
            oldest=Subquery(waiting_calls.annotate(first=Min("arrived_at")).values("first")),
        )
        .order_by("name")
    )
    chat_queues, voice_queues = list(chat_queues), list(voice_queues)
    longest = max((q.kpi_window_minutes for q in chat_queues + voice_queues), default=0)
    chat_counts = _counts(
        Chat.objects.filter(**scope),
        queues=chat_queues,
        queue="arrival_queue",
        arrived="created_at",
        now=now,
        today=today,
        longest=longest,
        handle="handle_seconds",
    )
    call_counts = _counts(
        Call.objects.filter(**scope),
        queues=voice_queues,
        queue="queue",
        arrived="arrived_at",
        now=now,
        today=today,
        longest=longest,
        handle=ExpressionWrapper(F("ended_at") - F("answered_at"), output_field=DurationField()),
    )
    return [
        QueueLive(CHAT, queue, queue.waiting, queue.oldest, **chat_counts.get(queue.pk, {}))
        for queue in chat_queues
    ] + [
        QueueLive(VOICE, queue, queue.waiting, queue.oldest, **call_counts.get(queue.pk, {}))
        for queue in voice_queues
    ]
