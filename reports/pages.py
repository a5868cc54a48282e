"""The report pages for supervisors and administrators: /reports/ (headline figures, charts and tables for
a range, queues, agents, channel and classification, by hour, day or week) and /reports/interactions/
(the interactions behind one figure, each linking to its transcript).

The filters are GET parameters (reports/filters.py reads them, as the CSV exports do), so a report is a
URL to bookmark or send. Every figure is read from reports/queries.py and computed by reports/metrics.py;
every count links to the drill-down with the report's filters and the figure's own conditions
(reports/drilldown.py).
"""

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.core.paginator import Paginator
from django.http import HttpResponse, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from contactcentre.models import Membership
from contactcentre.views import AgentRequest
from crm.selectors import interactions_visible_to
from reports import charts, drilldown, metrics, queries, selectors
from reports.filters import CHANNELS, INTERVALS, FilterError, ReportFilters, company_time_zone, parse_filters
from reports.views import supervisor_page
from routing.models import VoiceQueue, WebchatQueue
from webchat.models import Classification, Outcome

FILTER_PARAMETERS = ("from", "to", "queue", "agent", "channel", "classification", "interval")
PRESETS = (
    ("today", "Today"),
    ("yesterday", "Yesterday"),
    ("last_7_days", "Last 7 days"),
    ("this_month", "This month"),
    ("last_month", "Last month"),
)
DEFAULT_PRESET = "last_7_days"
# Beyond these the page asks for a shorter range or a longer interval, and the CSV has everything.
MAX_CHART_INTERVALS = 750
MAX_TABLE_ROWS = 500
PAGE_SIZE = 50
INTERVAL_LABELS = {"hour": "Hour", "day": "Day", "week": "Week"}


# ---------------------------------------------------------------------------------------------------------
# The filters as the form and the links carry them


def preset_range(preset: str, today: dt.date) -> tuple[dt.date, dt.date]:
    if preset == "today":
        return today, today
    if preset == "yesterday":
        day = today - dt.timedelta(days=1)
        return day, day
    if preset == "last_7_days":
        return today - dt.timedelta(days=6), today
    if preset == "this_month":
        return today.replace(day=1), today
    last_day = today.replace(day=1) - dt.timedelta(days=1)
    return last_day.replace(day=1), last_day


def _values(query: QueryDict, name: str) -> list[str]:
    return [part.strip() for value in query.getlist(name) for part in value.split(",") if part.strip()]


def _clean(query: QueryDict) -> QueryDict:
    """The query string without NUL characters, which no stored text holds (PostgreSQL refuses them in a
    query): a name with one names nothing, and is refused as such."""
    cleaned = QueryDict(mutable=True)
    for name, values in query.lists():
        cleaned.setlist(name.replace("\x00", ""), [value.replace("\x00", "�") for value in values])
    return cleaned


def _today(company) -> dt.date:
    """Today in the company's time zone."""
    return timezone.localtime(timezone.now(), ZoneInfo(company_time_zone(company))).date()


def filter_query(query: QueryDict, today: dt.date) -> QueryDict:
    """The report's filters from a request's query string, the range defaulting to the last 7 days."""
    query = _clean(query)
    kept = QueryDict(mutable=True)
    for name in FILTER_PARAMETERS:
        values = _values(query, name) if name in ("queue", "agent", "classification") else []
        if values:
            kept.setlist(name, values)
        elif (value := query.get(name, "").strip()) and name not in ("queue", "agent", "classification"):
            kept[name] = value
    if "from" not in kept and "to" not in kept:
        start, end = preset_range(DEFAULT_PRESET, today)
        kept["from"], kept["to"] = start.isoformat(), end.isoformat()
    return kept


def link(path: str, query: QueryDict, **changes) -> str:
    """`path` with the query string `query`, some parameters replaced (a list sets several values, None
    removes one)."""
    data = query.copy()
    for name, value in changes.items():
        data.pop(name, None)
        if isinstance(value, (list, tuple)):
            data.setlist(name, [str(v) for v in value])
        elif value is not None:
            data[name] = str(value)
    encoded = urlencode(list(data.lists()), doseq=True)
    return f"{path}?{encoded}" if encoded else path


@dataclass(frozen=True)
class Option:
    value: str
    label: str
    selected: bool


@dataclass(frozen=True)
class FormState:
    """What the filter form shows: the values asked for and the choices of the company."""

    date_from: str
    date_to: str
    channel: str
    interval: str
    queues: list[Option]
    agents: list[Option]
    classifications: list[Option]
    presets: list[tuple[str, str, bool]]  # label, link, current

    @staticmethod
    def summary(options: list[Option], every: str, many: str) -> str:
        chosen = [o for o in options if o.selected]
        if not chosen:
            return every
        return chosen[0].label if len(chosen) == 1 else f"{len(chosen)} {many}"

    @property
    def queues_summary(self) -> str:
        return self.summary(self.queues, "All queues", "queues")

    @property
    def agents_summary(self) -> str:
        return self.summary(self.agents, "All agents", "agents")

    @property
    def classifications_summary(self) -> str:
        return self.summary(self.classifications, "All classifications", "classifications")


def form_state(company_id: int, query: QueryDict, today: dt.date, path: str) -> FormState:
    queues = set(_values(query, "queue"))
    agents = set(_values(query, "agent"))
    classifications = set(_values(query, "classification"))
    members = (
        Membership.objects.filter(company_id=company_id).select_related("user").order_by("user__username")
    )
    presets = []
    for key, label in PRESETS:
        start, end = preset_range(key, today)
        current = query.get("from") == start.isoformat() and query.get("to") == end.isoformat()
        presets.append(
            (label, link(path, query, **{"from": start.isoformat(), "to": end.isoformat()}), current)
        )
    return FormState(
        date_from=query.get("from", ""),
        date_to=query.get("to", ""),
        channel=query.get("channel", ""),
        interval=query.get("interval", "") or "day",
        queues=[
            Option(q.key, q.label, q.key in queues or (q.channel == "chat" and str(q.id) in queues))
            for q in selectors.staffing_queues(company_id=company_id)
        ],
        agents=[
            Option(
                m.user.get_username(), f"{m.name} ({m.user.get_username()})", m.user.get_username() in agents
            )
            for m in members
        ],
        classifications=[
            Option(str(c.pk), str(c), str(c.pk) in classifications)
            for c in Classification.objects.filter(company_id=company_id).order_by("label", "code")
        ],
        presets=presets,
    )


# ---------------------------------------------------------------------------------------------------------
# The report's figures


def total(intervals: Iterable[metrics.QueueInterval], **identity) -> metrics.QueueInterval:
    """The counts and totals of several queue intervals added up (the longest wait: the longest of
    theirs), so metrics' figures apply to the sum."""
    sums: dict[str, float] = defaultdict(float)
    longest = None
    summed = ("queue", "channel", "interval_start", "max_wait_seconds")
    for row in intervals:
        for field in dataclasses.fields(row):
            if field.name not in summed:
                sums[field.name] += getattr(row, field.name)
        if row.max_wait_seconds is not None:
            longest = max(longest or 0.0, row.max_wait_seconds)
    counts = {
        f.name: (int(sums[f.name]) if f.type in (int, "int") else sums[f.name])
        for f in dataclasses.fields(metrics.QueueInterval)
        if f.name not in summed
    }
    identity = {"queue": "", "channel": "", "interval_start": None, **identity}
    return metrics.QueueInterval(**identity, **counts, max_wait_seconds=longest)


def interval_starts(filters: ReportFilters) -> list[dt.datetime]:
    """Every interval's start over the range, in the company's time zone (weeks start on Monday)."""
    start = filters.start
    if filters.interval == "week":
        start = dt.datetime.combine(
            filters.date_from - dt.timedelta(days=filters.date_from.weekday()),
            dt.time(),
            tzinfo=filters.tzinfo,
        )
    starts = []
    moment = start
    while moment < filters.end and len(starts) <= MAX_CHART_INTERVALS:
        starts.append(moment)
        if filters.interval == "hour":
            moment = (moment.astimezone(dt.UTC) + dt.timedelta(hours=1)).astimezone(filters.tzinfo)
        else:
            moment = drilldown.interval_end(moment, filters.interval)
    return starts


def interval_label(start: dt.datetime, interval: str, *, short: bool = False, table: bool = False) -> str:
    """An interval in words: in full ("Mon 2 Mar 2026"), in a table (no year: the range shows it) or
    on a chart's axis ("2 Mar", "09:00")."""
    if table and interval != "hour":
        return (
            f"{start:%a} {start.day} {start:%b}" if interval == "day" else f"Week of {start.day} {start:%b}"
        )
    if interval == "hour":
        return start.strftime("%H:%M") if short else f"{start:%a} {start.day} {start:%b %H:%M}"
    if interval == "week":
        return f"{start.day} {start:%b}" if short else f"Week of {start:%a} {start.day} {start:%b %Y}"
    return f"{start.day} {start:%b}" if short else f"{start:%a} {start.day} {start:%b %Y}"


def _key(start: dt.datetime) -> str:
    return start.isoformat()


def _targets(filters: ReportFilters) -> list[int]:
    chat, voice = (
        WebchatQueue.objects.filter(company_id=filters.company_id),
        VoiceQueue.objects.filter(company_id=filters.company_id),
    )
    if filters.queues:
        chat, voice = (
            chat.filter(pk__in=filters.queue_ids("chat")),
            voice.filter(pk__in=filters.queue_ids("voice")),
        )
    if filters.channel == "chat":
        voice = voice.none()
    elif filters.channel == "voice":
        chat = chat.none()
    targets = set(chat.values_list("sl_target_pct", flat=True)) | set(
        voice.values_list("sl_target_pct", flat=True)
    )
    return sorted(t for t in targets if t is not None)


@dataclass(frozen=True)
class Headline:
    label: str
    value: str
    href: str
    note: str = ""
    state: str = ""  # "good", "bad" or "" for the service level against its target
    verdict: str = ""  # the state in words


@dataclass(frozen=True)
class Cell:
    value: str
    href: str = ""


def _count_cell(value: int, href: str) -> Cell:
    return Cell(str(value), href if value else "")


def build_report(request: AgentRequest, filters: ReportFilters, query: QueryDict) -> dict:
    drill = reverse("reports_interactions")
    counts = queries.queue_interval_counts(filters)
    everything = total(c.interval for c in counts)
    refused = sum(c.refused for c in counts)
    targets = _targets(filters)
    target = targets[0] if len(targets) == 1 else None
    level = everything.service_level_pct

    def drill_link(**changes) -> str:
        return link(drill, query, **changes)

    if level is None or not targets:
        state = ""
    else:
        state = "good" if level >= max(targets) else ("bad" if level < min(targets) else "")
    target_text = (
        f"Target {targets[0]} %"
        if len(targets) == 1
        else (f"Targets {targets[0]}–{targets[-1]} %" if targets else "")
    )
    abandonment = metrics.display(everything.abandonment_rate_pct, 1, " %")
    wrapup = metrics.display(
        metrics.average_wrapup_seconds(everything.total_wrapup_seconds, everything.wrapped_up), 1, " s"
    )
    against = f", against a target of {target} %" if target else ""
    headlines = [
        Headline("Offered", str(everything.offered), drill_link(outcome="offered")),
        Headline("Answered", str(everything.answered), drill_link(outcome="answered")),
        Headline(
            "Abandoned",
            str(everything.abandoned),
            drill_link(outcome="abandoned"),
            note=f"{everything.short_abandoned} short · rate {abandonment}",
        ),
        Headline(
            "Service level",
            metrics.display(level, 1, " %"),
            drill_link(answered_within_target=1),
            note=f"{target_text} · {everything.answered_within_target} within".strip(" ·"),
            state=state,
            verdict={"good": "On target", "bad": "Below target"}.get(state, ""),
        ),
        Headline(
            "Average speed of answer",
            metrics.display(metrics.asa_seconds(everything.total_wait_seconds, everything.answered), 1, " s"),
            drill_link(outcome="answered"),
            note=f"Longest {metrics.display(everything.max_wait_seconds, 0, ' s')}",
        ),
        Headline(
            "Average handle time",
            metrics.display(
                metrics.average_handle_seconds(everything.total_handle_seconds, everything.handled), 1, " s"
            ),
            drill_link(outcome="answered"),
            note=f"Wrap-up {wrapup}",
        ),
        Headline(
            "Refused",
            str(refused),
            drill_link(outcome="refused"),
            note="Not offered: queue full or unstaffed",
        ),
    ]

    # Over time: the queues added up per interval, every interval of the range shown.
    by_start: dict[str, list[metrics.QueueInterval]] = defaultdict(list)
    for c in counts:
        by_start[_key(c.interval.interval_start)].append(c.interval)
    starts = interval_starts(filters)
    timeline = [total(by_start.get(_key(s), []), interval_start=s) for s in starts]
    volume_chart = None
    if everything.offered and len(starts) <= MAX_CHART_INTERVALS:
        volume_chart = charts.volume_and_service_level(
            [interval_label(s, filters.interval, short=True) for s in starts],
            [t.answered for t in timeline],
            [t.abandoned for t in timeline],
            [t.service_level_pct for t in timeline],
            target,
            interval_starts=[s.isoformat() for s in starts],
            drill=drill_link(),
            description=(
                f"Bars: contacts answered and abandoned per {filters.interval}; line: the service level, "
                f"{metrics.display(level, 1, ' %')} over the range{against}. "
                "The table “Queues by interval” below has every figure."
            ),
        )

    queue_rows = []
    for c in counts[:MAX_TABLE_ROWS]:
        row, start = c.interval, c.interval.interval_start
        cell = {"queue": c.key, "interval_start": start.isoformat()}
        queue_rows.append(
            {
                "queue": row.queue,
                "channel": "Webchat" if row.channel == CHANNELS["chat"].value else "Voice",
                "interval": interval_label(start, filters.interval, table=True),
                "offered": _count_cell(row.offered, drill_link(**cell, outcome="offered")),
                "answered": _count_cell(row.answered, drill_link(**cell, outcome="answered")),
                "abandoned": _count_cell(row.abandoned, drill_link(**cell, outcome="abandoned")),
                "short_abandoned": _count_cell(
                    row.short_abandoned, drill_link(**cell, outcome="short_abandoned")
                ),
                "within_target": _count_cell(
                    row.answered_within_target, drill_link(**cell, answered_within_target=1)
                ),
                "service_level": metrics.display(row.service_level_pct, 1, " %"),
                "asa": metrics.display(metrics.asa_seconds(row.total_wait_seconds, row.answered), 1, " s"),
                "aht": metrics.display(
                    metrics.average_handle_seconds(row.total_handle_seconds, row.handled), 1, " s"
                ),
                "max_wait": metrics.display(row.max_wait_seconds, 0, " s"),
                "refused": _count_cell(c.refused, drill_link(**cell, outcome="refused")),
            }
        )

    buckets = drilldown.wait_distribution(filters)
    wait_rows = [
        {
            "label": b.label,
            "answered": _count_cell(b.answered, drill_link(wait_min=b.low, wait_max=b.high)),
        }
        for b in buckets
    ]
    wait_chart = None
    if any(b.answered for b in buckets):
        wait_chart = charts.bars(
            "Wait before an answer",
            [b.label for b in buckets],
            [b.answered for b in buckets],
            links=[row["answered"].href for row in wait_rows],
            description=(
                "Answered contacts by how long they waited: "
                + ", ".join(f"{b.label}: {b.answered}" for b in buckets)
                + "."
            ),
        )

    agents = queries.agent_rows(filters)
    agent_rows = [
        {
            "name": a.name,
            "username": a.agent,
            "interactions": _count_cell(a.interactions, drill_link(agent=a.agent)),
            "aht": metrics.display(a.average_handle_seconds, 1, " s"),
            "wrapup": metrics.display(a.average_wrapup_seconds, 1, " s"),
            "available": _duration(a.seconds_available),
            "busy": _duration(a.seconds_busy),
            "wrapup_time": _duration(a.seconds_wrapup),
            "break": _duration(a.seconds_on_break),
            "occupancy": metrics.display(a.occupancy_pct, 1, " %"),
        }
        for a in agents
    ]
    handled = [a for a in agents if a.average_handle_seconds is not None]
    handle_chart = None
    if handled:
        handle_chart = charts.bars(
            "Average handle time per agent",
            [a.name for a in handled],
            [round(a.average_handle_seconds, 1) for a in handled],
            links=[drill_link(agent=a.agent) for a in handled],
            unit=" s",
            horizontal=True,
            counts=False,
            description="Average handle time per agent: "
            + ", ".join(f"{a.name} {a.average_handle_seconds:.1f} s" for a in handled)
            + ".",
        )

    classes = queries.classification_counts(filters)
    class_rows = []
    for c in classes:
        if c.classification_id is not None:
            href = drill_link(classification=c.classification_id, refused=0)
        elif c.label:
            href = drill_link(classification_text=c.label, refused=0)
        else:
            href = drill_link(unclassified=1, refused=0)
        class_rows.append({"label": c.label or "Unclassified", "count": _count_cell(c.interactions, href)})
    class_chart = None
    if class_rows:
        class_chart = charts.bars(
            "Classifications",
            [r["label"] for r in class_rows],
            [c.interactions for c in classes],
            links=[r["count"].href for r in class_rows],
            horizontal=True,
            description="Contacts per classification: "
            + ", ".join(f"{r['label']} {r['count'].value}" for r in class_rows)
            + ".",
        )

    return {
        "headlines": headlines,
        "volume_chart": volume_chart,
        "too_many_intervals": len(starts) > MAX_CHART_INTERVALS,
        "queue_rows": queue_rows,
        "queue_rows_cut": len(counts) > MAX_TABLE_ROWS,
        "wait_rows": wait_rows,
        "wait_chart": wait_chart,
        "agent_rows": agent_rows,
        "handle_chart": handle_chart,
        "class_rows": class_rows,
        "class_chart": class_chart,
        "exports": {
            "interactions": link(reverse("reports_interactions_csv"), query),
            "queues": link(reverse("reports_queues_csv"), query),
            "agents": link(reverse("reports_agents_csv"), query),
        },
        "interval_label": INTERVAL_LABELS[filters.interval],
    }


def _duration(seconds: float) -> str:
    """Hours and minutes (h:mm) of a time in status."""
    minutes = round(seconds / 60)
    return f"{minutes // 60}:{minutes % 60:02d}"


def _range_text(filters: ReportFilters) -> str:
    if filters.date_from == filters.date_to:
        return f"{filters.date_from:%a} {filters.date_from.day} {filters.date_from:%b %Y}"
    return (
        f"{filters.date_from.day} {filters.date_from:%b %Y} – {filters.date_to.day} {filters.date_to:%b %Y}"
    )


def _page_context(request: AgentRequest, query: QueryDict, today: dt.date, path: str) -> dict:
    return {
        "agent": request.agent,
        "form": form_state(request.agent.company_id, query, today, path),
        "intervals": [(i, INTERVAL_LABELS[i]) for i in INTERVALS],
        "error": None,
    }


@require_GET
@supervisor_page
def report(request: AgentRequest) -> HttpResponse:
    """The report page: the filter form, then the range's figures, charts and tables."""
    company = request.agent.company
    today = _today(company)
    query = filter_query(request.GET, today)
    context = _page_context(request, query, today, reverse("reports"))
    try:
        filters = parse_filters(query, company)
    except FilterError as refusal:
        context["error"] = refusal.message
        return render(request, "reports/report.html", context, status=refusal.status)
    context.update(build_report(request, filters, query))
    context["range_text"] = _range_text(filters)
    context["filters"] = filters
    return render(request, "reports/report.html", context)


# ---------------------------------------------------------------------------------------------------------
# The drill-down


def _describe(filters: ReportFilters, conditions: drilldown.Conditions) -> list[str]:
    """The figure's conditions in words, for the drill-down's heading."""
    words = []
    if conditions.outcome:
        words.append(drilldown.OUTCOMES[conditions.outcome])
    if conditions.answered_within_target is not None:
        words.append(
            "Answered within target" if conditions.answered_within_target else "Answered past target"
        )
    if conditions.wait_min is not None or conditions.wait_max is not None:
        low = int(conditions.wait_min or 0)
        high = None if conditions.wait_max is None else int(conditions.wait_max)
        words.append(f"Waited {drilldown.bucket_label(low, high)}")
    if conditions.interval_start is not None:
        words.append(interval_label(conditions.interval_start, filters.interval))
    if conditions.unclassified:
        words.append("Unclassified")
    elif conditions.classification_text:
        words.append(f"Classified “{conditions.classification_text}”")
    return words


def _scope(filters: ReportFilters) -> list[str]:
    words = []
    if filters.queues:
        names = {q.key: q.label for q in selectors.staffing_queues(company_id=filters.company_id)}
        words.append(", ".join(names.get(f"{c}-{pk}", f"{c}-{pk}") for c, pk in filters.queues))
    if filters.agents:
        people = Membership.objects.filter(pk__in=filters.agents).select_related("user")
        words.append(", ".join(m.name for m in people))
    if filters.channel:
        words.append("Webchat" if filters.channel == "chat" else "Voice")
    if filters.classifications:
        words.append(", ".join(str(c) for c in Classification.objects.filter(pk__in=filters.classifications)))
    return words


def _wait(interaction) -> str:
    """The wait to the first answer; for a customer who was never answered, how long they stayed."""
    if interaction.wait_seconds is not None:
        return metrics.display(interaction.wait_seconds, 0, " s")
    if interaction.ended_at is not None and interaction.outcome != queries.REFUSED:
        stayed = (interaction.ended_at - interaction.opened_at).total_seconds()
        return f"{metrics.display(stayed, 0, ' s')}, left"
    return "—"


@require_GET
@supervisor_page
def interactions(request: AgentRequest) -> HttpResponse:
    """The interactions behind a figure: the report's filters and the figure's conditions, newest last,
    a page at a time, each with a link to its transcript."""
    company = request.agent.company
    today = _today(company)
    query = filter_query(request.GET, today)
    drill_query = query.copy()
    for name in (*drilldown.PARAMETERS, "refused"):
        if value := request.GET.get(name, "").strip():
            drill_query[name] = value
    context = {"agent": request.agent, "error": None, "back": link(reverse("reports"), query)}
    try:
        filters = parse_filters(query, company)
        conditions = drilldown.parse_conditions(_clean(request.GET), filters)
        refused_flag = request.GET.get("refused", "").strip()
        if refused_flag not in ("", "0", "1"):
            raise FilterError("refused: write 1 or 0.")
    except FilterError as refusal:
        context["error"] = refusal.message
        return render(request, "reports/interactions.html", context, status=refusal.status)
    rows = drilldown.narrow(queries.interactions(filters), conditions, filters)
    if refused_flag == "0":
        rows = rows.exclude(outcome=queries.REFUSED)
    rows = rows.select_related(
        "contact", "classification", "arrival_webchat_queue", "arrival_voice_queue", "agent__user"
    )
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    listed = list(page.object_list)
    readable = set(
        interactions_visible_to(request.agent)
        .filter(pk__in=[i.pk for i in listed])
        .values_list("pk", flat=True)
    )
    tz = filters.tzinfo
    context.update(
        {
            "filters": filters,
            "range_text": _range_text(filters),
            "what": _describe(filters, conditions),
            "scope": _scope(filters),
            "page": page,
            "rows": [
                {
                    "interaction": i,
                    "arrived": timezone.localtime(i.opened_at, tz),
                    "channel": "Webchat" if i.channel == CHANNELS["chat"].value else "Voice",
                    "queue": getattr(i.arrival_webchat_queue or i.arrival_voice_queue, "name", i.queue_name),
                    "agent": i.agent_name or "—",
                    "contact": (i.contact.name if i.contact else "")
                    or i.customer_name
                    or i.caller_number
                    or "—",
                    "wait": _wait(i),
                    "handle": metrics.display(i.handle_seconds, 0, " s")
                    if i.wait_seconds is not None
                    else "—",
                    "outcome": Outcome(i.outcome).label if i.outcome in Outcome.values else i.outcome,
                    "classification": (str(i.classification) if i.classification else i.classification_text)
                    or "—",
                    "readable": i.pk in readable,
                }
                for i in listed
            ],
            "page_links": {
                "previous": link(request.path, drill_query, page=page.previous_page_number())
                if page.has_previous()
                else "",
                "next": link(request.path, drill_query, page=page.next_page_number())
                if page.has_next()
                else "",
            },
            "export": link(reverse("reports_interactions_csv"), query),
        }
    )
    return render(request, "reports/interactions.html", context)
