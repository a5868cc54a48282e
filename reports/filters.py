"""What a report covers: a company, a range of days in its time zone, and optional queues, agents, channel,
classifications and interval. `parse_filters` reads them from a query string (PROTOCOL.md section 7's
parameters) and refuses what names nothing, so the queries (reports/queries.py) receive only valid,
company-scoped ids."""

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.conf import settings
from django.http import QueryDict

from contactcentre.models import Company, Membership
from crm.models import Channel
from routing.models import VoiceQueue, WebchatQueue
from webchat.models import Classification

CHAT, VOICE = "chat", "voice"
# The channel parameter's values and the interactions' channel they select.
CHANNELS = {CHAT: Channel.WEBCHAT, VOICE: Channel.VOICE}
INTERVALS = ("hour", "day", "week")
DEFAULT_INTERVAL = "day"
DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# The largest id PostgreSQL's integer keys hold: a larger one names nothing.
MAX_ID = 2**31 - 1
# The longest range a report reads: a year and a bit, so a year can be compared with the same weeks.
MAX_DAYS = 400


class FilterError(Exception):
    """A query string the reports refuse: `status` 400 (`invalid`) or 404 (`not_found`, a queue, agent or
    classification the company does not have), with a sentence for the person who sent it."""

    status = 400
    code = "invalid"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class FilterNotFound(FilterError):
    status = 404
    code = "not_found"


def parse_queue_key(key: str) -> tuple[str, int]:
    """(channel, id) from `chat-<id>`, `voice-<id>` or a bare webchat queue id; ValueError otherwise."""
    channel, _, number = key.strip().rpartition("-")
    channel = channel or CHAT
    if channel not in (CHAT, VOICE) or not _is_id(number):
        raise ValueError(f"{key!r} names no queue: write chat-<id> or voice-<id>.")
    return channel, int(number)


def _is_id(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 10 and 0 < int(text) <= MAX_ID


def company_time_zone(company: Company) -> str:
    """The time zone a company's days and hours are counted in: its own if it has one, else the
    product's TIME_ZONE (companies have no time zone of their own today)."""
    return getattr(company, "time_zone", "") or settings.TIME_ZONE


@dataclass(frozen=True)
class ReportFilters:
    """A report's scope. Days are the company's (`time_zone`), `date_to` included. `queues` are
    (channel, id) pairs (`chat`/`voice`), `agents` membership ids, `classifications` classification ids;
    empty means all. `channel` is `chat`, `voice` or None (both)."""

    company_id: int
    date_from: dt.date
    date_to: dt.date
    queues: Sequence[tuple[str, int]] = ()
    agents: Sequence[int] = ()
    channel: str | None = None
    classifications: Sequence[int] = ()
    interval: str = DEFAULT_INTERVAL
    time_zone: str = field(default_factory=lambda: settings.TIME_ZONE)

    @property
    def tzinfo(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @property
    def start(self) -> dt.datetime:
        """The first moment of `date_from` in the company's time zone."""
        return dt.datetime.combine(self.date_from, dt.time(), tzinfo=self.tzinfo)

    @property
    def end(self) -> dt.datetime:
        """The first moment after `date_to` (the range is [start, end))."""
        return dt.datetime.combine(self.date_to + dt.timedelta(days=1), dt.time(), tzinfo=self.tzinfo)

    def queue_ids(self, channel: str) -> list[int]:
        return [pk for queue_channel, pk in self.queues if queue_channel == channel]


def _date(query: QueryDict, name: str) -> dt.date:
    value = query.get(name, "").strip()
    if not value:
        raise FilterError(f"{name}: give a date, YYYY-MM-DD.")
    try:
        if not DATE.fullmatch(value):
            raise ValueError
        return dt.date.fromisoformat(value)
    except ValueError:
        raise FilterError(f"{name}: {value[:40]!r} is not a date; write YYYY-MM-DD.") from None


def _values(query: QueryDict, name: str) -> list[str]:
    """A parameter's values, repeated or comma-separated, blanks left out."""
    values = [part.strip() for value in query.getlist(name) for part in value.split(",") if part.strip()]
    if any("\x00" in value for value in values):
        raise FilterError(f"{name}: a value holds a NUL character.")
    return values


def _queues(keys: list[str], company_id: int) -> tuple[tuple[str, int], ...]:
    queues = []
    for key in keys:
        try:
            channel, pk = parse_queue_key(key)
        except ValueError as error:
            raise FilterError(f"queue: {error}") from None
        model = WebchatQueue if channel == CHAT else VoiceQueue
        if not model.objects.filter(company_id=company_id, pk=pk).exists():
            raise FilterNotFound(f"queue: the company has no queue {key!r}.")
        queues.append((channel, pk))
    return tuple(dict.fromkeys(queues))


def _agents(names: list[str], company_id: int) -> tuple[int, ...]:
    """Membership ids from usernames (or membership ids) of the company's people."""
    ids = []
    members = Membership.objects.filter(company_id=company_id)
    for name in names:
        pk = members.filter(user__username=name).values_list("pk", flat=True).first()
        if pk is None and _is_id(name):
            pk = members.filter(pk=int(name)).values_list("pk", flat=True).first()
        if pk is None:
            raise FilterNotFound(f"agent: the company has no agent {name[:80]!r}.")
        ids.append(pk)
    return tuple(dict.fromkeys(ids))


def _classifications(values: list[str], company_id: int) -> tuple[int, ...]:
    ids = []
    for value in values:
        if not _is_id(value):
            raise FilterError(f"classification: {value[:40]!r} is not a classification id.")
        if not Classification.objects.filter(company_id=company_id, pk=int(value)).exists():
            raise FilterNotFound(f"classification: the company has no classification {value!r}.")
        ids.append(int(value))
    return tuple(dict.fromkeys(ids))


def parse_filters(query: QueryDict, company: Company) -> ReportFilters:
    """The filters of a report request: `from`, `to` (YYYY-MM-DD, both required, `to` included),
    `queue` (chat-<id>, voice-<id> or a bare webchat queue id), `agent` (username or membership id),
    `classification` (id) — each repeatable or comma-separated —, `channel` (chat|voice) and `interval`
    (hour|day|week, default day). FilterError (400) for malformed input or a range over MAX_DAYS days;
    FilterNotFound (404) for a queue, agent or classification the company does not have."""
    date_from, date_to = _date(query, "from"), _date(query, "to")
    if date_from > date_to:
        raise FilterError("from: the range starts after it ends.")
    if (date_to - date_from).days + 1 > MAX_DAYS:
        raise FilterError(f"to: a report covers at most {MAX_DAYS} days.")
    channel = query.get("channel", "").strip() or None
    if channel is not None and channel not in CHANNELS:
        raise FilterError("channel: write chat or voice.")
    interval = query.get("interval", "").strip() or DEFAULT_INTERVAL
    if interval not in INTERVALS:
        raise FilterError("interval: write hour, day or week.")
    return ReportFilters(
        company_id=company.pk,
        date_from=date_from,
        date_to=date_to,
        queues=_queues(_values(query, "queue"), company.pk),
        agents=_agents(_values(query, "agent"), company.pk),
        channel=channel,
        classifications=_classifications(_values(query, "classification"), company.pk),
        interval=interval,
        time_zone=company_time_zone(company),
    )
