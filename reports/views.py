"""The reports for supervisors and administrators of a company (PROTOCOL.md section 7): the staffing
calculator, as a page and as staffing.json, and the CSV exports (interactions.csv, queues.csv, agents.csv)."""

import math
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from functools import wraps

from asgiref.sync import sync_to_async
from django.core.exceptions import PermissionDenied
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from contactcentre.models import Membership
from contactcentre.views import AgentRequest, agent_required
from reports import erlang, exports, queries, selectors
from reports.filters import FilterError, ReportFilters, parse_filters
from reports.forms import StaffingForm
from reports.metrics import QUEUES_CSV_COLUMNS, display

FORBIDDEN = "Reports are for supervisors and administrators."
# The agents needed and this many more, in the trade-off table.
TRADE_OFF_ROWS = 6


class Invalid(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NoSuchQueue(Exception):
    pass


def _json_error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


def supervisor_json(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed in as a supervisor or administrator, or a JSON refusal: 401 without a session (a script
    is not sent to a login page), 403 for anyone else."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return _json_error(401, "unauthenticated", "Sign in as a supervisor or administrator.")
        member = Membership.objects.select_related("company").filter(user=request.user).first()
        if member is None or not member.is_supervisor:
            return _json_error(403, "forbidden", FORBIDDEN)
        request.agent = member
        return view(request, *args, **kwargs)

    return wrapper


def supervisor_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """`agent_required` (anonymous visitors go to the login), then supervisors and administrators only."""

    @agent_required
    @wraps(view)
    def wrapper(request: AgentRequest, *args, **kwargs) -> HttpResponse:
        if not request.agent.is_supervisor:
            raise PermissionDenied(FORBIDDEN)
        return view(request, *args, **kwargs)

    return wrapper


@dataclass(frozen=True)
class Plan:
    """A staffing question answered: the inputs used (the queue's recent figures filled in) and the
    fewest agents reaching the target."""

    queue: selectors.StaffingQueue | None
    recent: selectors.RecentFigures | None
    interval_minutes: int
    volume: float
    aht_seconds: float
    target_seconds: float
    service_level_pct: float
    concurrency: int
    result: erlang.Staffing

    @property
    def volume_from_queue(self) -> bool:
        return self.recent is not None and self.recent.volume_per(self.interval_minutes) == self.volume

    @property
    def aht_from_queue(self) -> bool:
        return self.recent is not None and self.recent.aht_seconds == self.aht_seconds

    def trade_off(self) -> list[erlang.Staffing]:
        """One agent fewer than needed (what missing the target looks like), the agents needed and five
        more."""
        first = max(self.result.agents - 1, 0)
        return erlang.staffing_table(
            self.result.traffic_erlangs,
            first,
            self.result.agents - first + TRADE_OFF_ROWS,
            self.aht_seconds,
            self.target_seconds,
            self.concurrency,
        )


def _plan(form: StaffingForm, *, company_id: int) -> Plan:
    """The answer to a valid form; Invalid or NoSuchQueue when its inputs name no answer."""
    data = form.cleaned_data
    queue = recent = None
    if data["queue"]:
        try:
            queue = selectors.staffing_queue_get(company_id=company_id, key=data["queue"])
        except ValueError as error:
            raise Invalid(f"queue: {error}") from None
        if queue is None:
            raise NoSuchQueue
    volume, aht = data["volume"], data["aht_seconds"]
    if queue is not None and (volume is None or aht is None):
        recent = selectors.queue_recent_figures(queue=queue, now=timezone.now())
        volume = recent.volume_per(data["interval_minutes"]) if volume is None else volume
        aht = recent.aht_seconds if aht is None else aht
        if volume is None or aht is None:
            raise Invalid(
                f"{queue.name} had no answered contacts in the last four weeks: give the volume and the "
                "average handle time."
            )
    try:
        traffic = erlang.traffic_erlangs(volume, data["interval_minutes"] * 60, aht)
        result = erlang.agents_needed(
            traffic, aht, data["target_seconds"], data["service_level_pct"], data["concurrency"]
        )
    except ValueError as error:
        raise Invalid(str(error)) from None
    return Plan(
        queue=queue,
        recent=recent,
        interval_minutes=data["interval_minutes"],
        volume=volume,
        aht_seconds=aht,
        target_seconds=data["target_seconds"],
        service_level_pct=data["service_level_pct"],
        concurrency=data["concurrency"],
        result=result,
    )


@require_GET
@supervisor_json
def staffing_json(request: AgentRequest) -> HttpResponse:
    """GET /reports/staffing.json: the fewest agents reaching the target, with their figures."""
    form = StaffingForm(request.GET)
    if not form.is_valid():
        return _json_error(400, "invalid", form.first_error())
    try:
        plan = _plan(form, company_id=request.agent.company_id)
    except Invalid as refusal:
        return _json_error(400, "invalid", refusal.message)
    except NoSuchQueue:
        return _json_error(404, "not_found", "The company has no such queue.")
    result = plan.result
    return JsonResponse(
        {
            "agents": result.agents,
            "traffic_erlangs": round(result.traffic_erlangs, 4),
            "probability_of_waiting": round(result.probability_of_waiting, 4),
            "service_level_pct": round(result.service_level_pct, 2),
            "asa_seconds": round(result.asa_seconds, 2),
            "occupancy_pct": round(result.occupancy_pct, 2),
        }
    )


@dataclass(frozen=True)
class Row:
    """One line of the trade-off table, as the page shows it."""

    agents: int
    fewest: bool
    service_level: str
    meets_target: bool
    probability_of_waiting: str
    asa: str
    occupancy: str


def _row(staffing: erlang.Staffing, plan: Plan) -> Row:
    asa = "never answered" if math.isinf(staffing.asa_seconds) else display(staffing.asa_seconds, 1, " s")
    return Row(
        agents=staffing.agents,
        fewest=staffing.agents == plan.result.agents,
        service_level=display(staffing.service_level_pct, 1, " %"),
        meets_target=staffing.service_level_pct >= plan.service_level_pct,
        probability_of_waiting=display(100 * staffing.probability_of_waiting, 1, " %"),
        asa=asa,
        occupancy=display(staffing.occupancy_pct, 1, " %"),
    )


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _filled_in(query: QueryDict, plan: Plan) -> QueryDict:
    """The form's inputs with the figures the plan used, so the page shows the queue's own numbers."""
    data = query.copy()
    data["volume"] = _number(plan.volume)
    data["aht_seconds"] = _number(plan.aht_seconds)
    return data


@require_GET
@supervisor_page
def staffing(request: AgentRequest) -> HttpResponse:
    """The staffing calculator: the form (a GET, so a plan can be bookmarked and shared) and, once
    asked, the agents needed and the figures of one fewer and a few more."""
    company_id = request.agent.company_id
    context = {
        "agent": request.agent,
        "queues": selectors.staffing_queues(company_id=company_id),
        "plan": None,
        "error": None,
    }
    status = 200
    if not request.GET:
        form = StaffingForm()
    else:
        form = StaffingForm(request.GET)
        if form.is_valid():
            try:
                plan = _plan(form, company_id=company_id)
            except Invalid as refusal:
                context["error"], status = refusal.message, 400
            except NoSuchQueue:
                context["error"], status = "The company has no such queue.", 404
            else:
                form = StaffingForm(_filled_in(request.GET, plan))
                form.is_valid()
                context["plan"] = plan
                context["rows"] = [_row(row, plan) for row in plan.trade_off()]
        else:
            status = 400
    context["form"] = form
    return render(request, "reports/staffing.html", context, status=status)


# PROTOCOL.md section 7: the exports' columns, in order (queues.csv's are metrics.QUEUES_CSV_COLUMNS,
# interactions.csv's exports.INTERACTIONS_CSV_COLUMNS).
AGENTS_CSV_COLUMNS = (
    "agent",
    "interactions",
    "average_handle_seconds",
    "average_wrapup_seconds",
    "seconds_available",
    "seconds_busy",
    "seconds_on_break",
    "seconds_wrapup",
    "occupancy_pct",
    "csat_average",
)
# Lines of an export made and sent at a time while it streams (rows read at a time, without COPY).
CHUNK = 2000


def _rounded(value: float | None, decimals: int = 1) -> float | None:
    return None if value is None else round(value, decimals)


def queues_csv_row(counts: queries.QueueCounts) -> tuple:
    """metrics.QueueInterval.queues_csv_row, its interval's start written in UTC like every time."""
    row = list(counts.interval.queues_csv_row())
    row[2] = exports.utc_iso(counts.interval.interval_start)
    return tuple(row)


def agents_csv_row(row: queries.AgentRow) -> tuple:
    """An agent's agents.csv fields: seconds and percentages to 1 decimal, the rating to 2."""
    return (
        row.agent,
        row.interactions,
        _rounded(row.average_handle_seconds),
        _rounded(row.average_wrapup_seconds),
        _rounded(row.seconds_available),
        _rounded(row.seconds_busy),
        _rounded(row.seconds_on_break),
        _rounded(row.seconds_wrapup),
        _rounded(row.occupancy_pct),
        _rounded(row.csat_average, 2),
    )


async def _in_batches(batches: Iterator[str | bytes]) -> AsyncIterator[str | bytes]:
    """The batches, each one made on the request's own thread (its database connection and the cursor or
    COPY reading the rows stay there): how an ASGI server streams what a synchronous generator makes.
    Django's ASGI handler would otherwise read a synchronous generator to its end before sending a byte."""

    def batch() -> str | bytes | None:
        return next(batches, None)

    try:
        while (text := await sync_to_async(batch, thread_sensitive=True)()) is not None:
            yield text
    finally:  # the client went away: close the rows' cursor on the thread that opened it
        await sync_to_async(batches.close, thread_sensitive=True)()


def _csv_response(
    request: HttpRequest, name: str, filters: ReportFilters, batches: Iterator[str | bytes]
) -> HttpResponse:
    """The export, streamed: under ASGI in batches made on the request's thread, under WSGI as is."""
    content = _in_batches(batches) if isinstance(request, ASGIRequest) else batches
    response = StreamingHttpResponse(content, content_type="text/csv; charset=utf-8")
    filename = f"{name}-{filters.date_from.isoformat()}-to-{filters.date_to.isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


def _export(view: Callable[[AgentRequest, ReportFilters], HttpResponse]) -> Callable[..., HttpResponse]:
    """A CSV export: GET only, supervisors and administrators (JSON 401/403 as staffing.json), its
    filters read from the query string (400/404 JSON error when they name nothing)."""

    @require_GET
    @supervisor_json
    @wraps(view)
    def wrapper(request: AgentRequest) -> HttpResponse:
        try:
            filters = parse_filters(request.GET, request.agent.company)
        except FilterError as refusal:
            return _json_error(refusal.status, refusal.code, refusal.message)
        return view(request, filters)

    return wrapper


@_export
def interactions_csv(request: AgentRequest, filters: ReportFilters) -> HttpResponse:
    """GET /reports/interactions.csv: a row per interaction that arrived in the range, streamed. PostgreSQL
    writes the CSV itself (COPY); on another database (the embedded SQLite) Python writes the same bytes."""
    if exports.supports_copy():
        batches = exports.copy_batches(filters, CHUNK)
    else:
        rows = exports.python_rows(filters, CHUNK)
        batches = exports.csv_batches(CHUNK, exports.INTERACTIONS_CSV_COLUMNS, rows)
    return _csv_response(request, "interactions", filters, batches)


@_export
def queues_csv(request: AgentRequest, filters: ReportFilters) -> HttpResponse:
    """GET /reports/queues.csv: a row per queue and interval (hour, day or week) with arrivals."""
    rows = (queues_csv_row(r) for r in queries.queue_interval_counts(filters))
    return _csv_response(request, "queues", filters, exports.csv_batches(CHUNK, QUEUES_CSV_COLUMNS, rows))


@_export
def agents_csv(request: AgentRequest, filters: ReportFilters) -> HttpResponse:
    """GET /reports/agents.csv: a row per agent with interactions or status time in the range."""
    rows = (agents_csv_row(r) for r in queries.agent_rows(filters))
    return _csv_response(request, "agents", filters, exports.csv_batches(CHUNK, AGENTS_CSV_COLUMNS, rows))
