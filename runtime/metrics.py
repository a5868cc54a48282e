"""The process's metrics in the Prometheus format, and `GET /metrics` that serves them.

Every metric of the product is defined here, with prometheus_client's default registry: one registry per
process, scraped from that process (each Daphne process on its own port, the Celery worker on
METRICS_WORKER_PORT), so no process's figures depend on another's and no shared directory is needed.
Counters are bumped where things happen (a few hundred nanoseconds each); what can be read when asked
(the database pool, the channel layer's backlog, the chats waiting) is read by a collector at scrape time
and costs nothing in between. Labels never name a person: views, routes, senders, codes, jobs, and the
queue and company a waiting chat is in.

docs/operations.md#metrics lists every metric, what to alert on, and how the endpoint is protected.
"""

import hmac
import ipaddress
import time
from collections.abc import Callable, Iterable
from functools import cache

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.db import connections
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from runtime.client_address import client_ip

# Seconds: a page or an API call is expected in tens of milliseconds; past 10 s something is stuck.
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter(
    "contactcentre_http_requests",
    "HTTP requests answered, by view (route name), method and status class",
    ["view", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "contactcentre_http_request_duration_seconds",
    "Time from a request reaching the first middleware to its response, by view and method",
    ["view", "method"],
    buckets=_LATENCY_BUCKETS,
)
WEBSOCKETS_OPEN = Gauge(
    "contactcentre_websocket_connections_open",
    "WebSocket connections accepted and not yet closed, by route (agent, customer)",
    ["route"],
)
WEBSOCKET_FRAMES_SENT = Counter(
    "contactcentre_websocket_frames_sent",
    "Frames sent to WebSocket clients (messages delivered, states, acknowledgements ...), by route",
    ["route"],
)
CHATS_OPENED = Counter(
    "contactcentre_chats_opened", "Chats opened and put in a queue (refused ones not counted)"
)
MESSAGES_STORED = Counter(
    "contactcentre_messages_stored", "Messages stored, by sender (customer, agent, system)", ["sender"]
)
ALLOCATIONS = Counter("contactcentre_allocations", "Waiting chats given to an agent by an allocation round")
REFUSALS = Counter(
    "contactcentre_refusals",
    "Refusals raised (runtime.refusals.Refused: the engine's rules and the edges' checks), by code",
    ["code"],
)
JOB_DURATION = Histogram(
    "contactcentre_periodic_job_duration_seconds",
    "How long one run of a periodic job took, by job",
    ["job"],
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0),
)
JOB_FAILURES = Counter(
    "contactcentre_periodic_job_failures", "Runs of a periodic job that failed as a whole, by job", ["job"]
)
JOB_ITEM_FAILURES = Counter(
    "contactcentre_periodic_job_item_failures",
    "Items of a periodic job (a chat, a call, a queue ...) that failed and were skipped, by job",
    ["job"],
)
DATABASE_THREADS = Gauge(
    "contactcentre_database_threads",
    "The sockets' database calls: running on a database thread (busy) or waiting for one (queued)",
    ["state"],
)
CHANNEL_LAYER_SEND_FAILURES = Counter(
    "contactcentre_channel_layer_send_failures",
    "Sends to the channel layer that raised (Redis unreachable ...), by operation (send, group_send)",
    ["operation"],
)
CHANNEL_LAYER_RECONNECTS = Counter(
    "contactcentre_channel_layer_reconnects",
    "Times the channel layer's subscriptions were re-made after their Redis connection broke",
)

_database_busy = DATABASE_THREADS.labels("busy")
_database_queued = DATABASE_THREADS.labels("queued")


def database_call(fn: Callable) -> Callable:
    """`fn` counted as queued until a database thread picks it up, then busy until it returns."""
    _database_queued.inc()

    def counted(*args, **kwargs):
        _database_queued.dec()
        _database_busy.inc()
        try:
            return fn(*args, **kwargs)
        finally:
            _database_busy.dec()

    return counted


# ---------------------------------------------------------------------------------------------------------
# Read at scrape time


class GaugeCollector(Collector):
    """A gauge whose samples `read` returns when scraped: [(label values, value), ...]."""

    def __init__(self, name: str, documentation: str, labels: list[str], read: Callable[[], Iterable]):
        self.name, self.documentation, self.labels, self.read = name, documentation, labels, read

    def collect(self):
        family = GaugeMetricFamily(self.name, self.documentation, labels=self.labels)
        for label_values, value in self.read():
            family.add_metric([str(v) for v in label_values], value)
        yield family

    def describe(self):
        # Described without reading: registering must not query the database.
        yield GaugeMetricFamily(self.name, self.documentation, labels=self.labels)


class DatabasePoolCollector(Collector):
    """psycopg's connection pool of each database that uses one: its size, idle connections, requests
    waiting for a connection, and since start-up the requests that had to wait and those that timed out."""

    def collect(self):
        yield from self._families(read=True)

    def describe(self):
        # Described without reading: the pool is made on first use, and must be made with the settings the
        # process ends up with (a test run renames the database after start-up).
        yield from self._families(read=False)

    def _families(self, *, read: bool):
        size = GaugeMetricFamily(
            "contactcentre_database_pool_connections",
            "Connections the pool holds (open) and of those the idle ones, and its maximum (max)",
            labels=["database", "state"],
        )
        waiting = GaugeMetricFamily(
            "contactcentre_database_pool_requests_waiting",
            "Requests waiting now for a connection from the pool",
            labels=["database"],
        )
        queued = CounterMetricFamily(
            "contactcentre_database_pool_requests_queued",
            "Requests since start-up that had to wait for a connection",
            labels=["database"],
        )
        errors = CounterMetricFamily(
            "contactcentre_database_pool_requests_errors",
            "Requests since start-up that got no connection within DATABASE_POOL_TIMEOUT_SECONDS",
            labels=["database"],
        )
        for alias in connections if read else ():
            pool = getattr(connections[alias], "pool", None)
            if pool is None:
                continue
            stats = pool.get_stats()
            size.add_metric([alias, "open"], stats.get("pool_size", 0))
            size.add_metric([alias, "idle"], stats.get("pool_available", 0))
            size.add_metric([alias, "max"], stats.get("pool_max", pool.max_size))
            waiting.add_metric([alias], stats.get("requests_waiting", 0))
            queued.add_metric([alias], stats.get("requests_queued", 0))
            errors.add_metric([alias], stats.get("requests_errors", 0))
        yield from (size, waiting, queued, errors)


REGISTRY.register(DatabasePoolCollector())


def register(collector: Collector) -> None:
    """Add a collector to what every scrape of this process reads (apps register theirs when ready)."""
    REGISTRY.register(collector)


# ---------------------------------------------------------------------------------------------------------
# Requests and sockets


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _observe(request: HttpRequest, response: HttpResponse, started: float) -> None:
    match = request.resolver_match
    view = match.view_name if match is not None else "unresolved"
    method = request.method if request.method in _METHODS else "other"
    HTTP_REQUESTS.labels(view, method, f"{response.status_code // 100}xx").inc()
    HTTP_LATENCY.labels(view, method).observe(time.perf_counter() - started)


class RequestMetricsMiddleware:
    """Counts and times every HTTP request by the name of the view that answered it. First in MIDDLEWARE,
    so a redirect or refusal by a later middleware is counted too (as `unresolved` when no URL matched)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest):
        if self.is_async:
            return self._acall(request)
        started = time.perf_counter()
        response = self.get_response(request)
        _observe(request, response, started)
        return response

    async def _acall(self, request: HttpRequest):
        started = time.perf_counter()
        response = await self.get_response(request)
        _observe(request, response, started)
        return response


class WebSocketMetrics:
    """ASGI middleware: the WebSockets open on each route, and the frames sent on them.

    `routes` maps a path prefix to the route's name; a socket counts as open from its accept to the end of
    its connection."""

    def __init__(self, app, *, routes: dict[str, str]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "websocket":
            return await self.app(scope, receive, send)
        route = next(
            (name for prefix, name in self.routes.items() if scope["path"].startswith(prefix)), "other"
        )
        frames = WEBSOCKET_FRAMES_SENT.labels(route)
        gauge = WEBSOCKETS_OPEN.labels(route)
        accepted = False

        async def counted_send(message: dict) -> None:
            nonlocal accepted
            kind = message["type"]
            if kind == "websocket.send":
                frames.inc()
            elif kind == "websocket.accept" and not accepted:
                accepted = True
                gauge.inc()
            await send(message)

        try:
            return await self.app(scope, receive, counted_send)
        finally:
            if accepted:
                gauge.dec()


# ---------------------------------------------------------------------------------------------------------
# The endpoint


@cache
def _allowed_networks(spec: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(network, strict=False) for network in spec)


def _address_allowed(request: HttpRequest) -> bool:
    spec = tuple(settings.METRICS_ALLOWED_NETWORKS)
    if not spec:
        return True
    address = client_ip(
        remote_addr=request.META.get("REMOTE_ADDR", ""),
        forwarded_for=request.headers.get("X-Forwarded-For", ""),
    )
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in _allowed_networks(spec))


def _token_given(request: HttpRequest) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    expected = settings.METRICS_TOKEN.encode()
    # Constant time: how much of a guess matched must not show in how long the refusal took.
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected)


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """This process's metrics. 404 unless METRICS_TOKEN or METRICS_ALLOWED_NETWORKS is set, and to an
    address outside the allowed networks; 401 without the right bearer token when a token is set."""
    if not (settings.METRICS_TOKEN or settings.METRICS_ALLOWED_NETWORKS) or not _address_allowed(request):
        return HttpResponseNotFound("Not found.", content_type="text/plain")
    if settings.METRICS_TOKEN and not _token_given(request):
        response = HttpResponse("A bearer token is required.", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)
