"""What the staffing calculator reads: a company's queues, and a queue's own recent volume and handle time."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Avg, Count, F
from django.db.models.functions import TruncHour
from django.utils import timezone

from crm.models import Interaction
from reports.filters import CHAT, VOICE, parse_queue_key
from routing.models import VoiceQueue, WebchatQueue

# How far back a queue's recent figures look: four whole weeks, so each weekday counts as often.
RECENT = timedelta(weeks=4)


@dataclass(frozen=True)
class StaffingQueue:
    """A webchat or voice queue, named in requests by its key: `chat-<id>` or `voice-<id>` (a bare id is a
    webchat queue's)."""

    channel: str
    id: int
    name: str

    @property
    def key(self) -> str:
        return f"{self.channel}-{self.id}"

    @property
    def label(self) -> str:
        return f"{self.name} ({'webchat' if self.channel == CHAT else 'voice'})"


@dataclass(frozen=True)
class RecentFigures:
    """A queue's traffic over the last four weeks (None where it had none):

    - `busiest_hour_volume`: for each hour of the day (in the product's time zone), the contacts that
      arrived in that hour over the four weeks divided by the days on which the queue had any arrival
      (the days it was open, as far as its traffic tells); the largest of these 24 means. Staffing for
      the busiest hour is what a planner needs first; quieter hours need fewer agents.
    - `aht_seconds`: the mean handle time plus wrap-up time of the answered contacts, since an agent in
      wrap-up takes no new contact on that line.
    """

    interactions: int
    days_open: int
    busiest_hour: int | None
    busiest_hour_volume: float | None
    aht_seconds: float | None

    def volume_per(self, interval_minutes: int) -> float | None:
        """The busiest hour's mean arrivals scaled to an interval of `interval_minutes`."""
        if self.busiest_hour_volume is None:
            return None
        return self.busiest_hour_volume * interval_minutes / 60


def staffing_queues(*, company_id: int) -> list[StaffingQueue]:
    """The company's webchat queues, then its voice queues, each by name."""
    chats = WebchatQueue.objects.filter(company_id=company_id).order_by("name").values_list("id", "name")
    calls = VoiceQueue.objects.filter(company_id=company_id).order_by("name").values_list("id", "name")
    return [StaffingQueue(CHAT, pk, name) for pk, name in chats] + [
        StaffingQueue(VOICE, pk, name) for pk, name in calls
    ]


def staffing_queue_get(*, company_id: int, key: str) -> StaffingQueue | None:
    """The company's queue named by `key`; None if the company has no such queue. ValueError if the key
    is malformed."""
    channel, pk = parse_queue_key(key)
    model = WebchatQueue if channel == CHAT else VoiceQueue
    name = model.objects.filter(company_id=company_id, pk=pk).values_list("name", flat=True).first()
    return None if name is None else StaffingQueue(channel, pk, name)


def queue_recent_figures(*, queue: StaffingQueue, now: datetime) -> RecentFigures:
    """The queue's recent volume and handle time (RecentFigures), from the interactions that arrived in it
    over the four weeks before `now`: two grouped reads of that queue's rows only."""
    field = "webchat_queue_id" if queue.channel == CHAT else "voice_queue_id"
    recent = Interaction.objects.filter(**{field: queue.id}, opened_at__gte=now - RECENT, opened_at__lt=now)
    per_hour = recent.annotate(hour=TruncHour("opened_at")).values("hour").annotate(n=Count("id"))
    days = set()
    by_hour_of_day: dict[int, int] = defaultdict(int)
    for row in per_hour:
        local = timezone.localtime(row["hour"])
        days.add(local.date())
        by_hour_of_day[local.hour] += row["n"]
    aht = recent.filter(answered_at__isnull=False).aggregate(
        aht=Avg(F("handle_seconds") + F("wrapup_seconds"))
    )["aht"]
    if not by_hour_of_day:
        return RecentFigures(0, 0, None, None, aht)
    busiest = max(sorted(by_hour_of_day), key=by_hour_of_day.__getitem__)
    return RecentFigures(
        interactions=sum(by_hour_of_day.values()),
        days_open=len(days),
        busiest_hour=busiest,
        busiest_hour_volume=by_hour_of_day[busiest] / len(days),
        aht_seconds=aht,
    )
