"""Requests to addresses that a company configures: its telephony URL, and its webhook.

A company's administrator chooses these addresses, so the server must never become their way into the
network it runs in, nor let one company's slow endpoint hold up another's. Every such request:

- goes only to an https URL whose host resolves to public addresses only: no loopback, private, shared,
  link-local, multicast, reserved or unspecified address, nor an IPv6 address that carries one of those
  inside it (IPv4-mapped, 6to4, NAT64);
- connects to the very address that was checked, so a name cannot answer a public address to the check
  and a private one to the connection;
- follows no redirect, waits at most CONNECT_TIMEOUT_SECONDS to connect and READ_TIMEOUT_SECONDS for each
  read, and reads at most MAX_RESPONSE_BYTES of the answer;
- is sent from its company's own lane (`Lanes`), never from a pool that every company shares.

The address is checked when it is saved (`validate_outbound_url`) and again before each request, since
what a name resolves to may change in between.

OUTBOUND_ALLOW_PRIVATE_ADDRESSES lets labs and tests send to their own machine: non-public addresses pass,
and plain http to them too. Never in production.
"""

import heapq
import ipaddress
import itertools
import logging
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import urllib3
from django.conf import settings
from django.core import checks
from django.core.exceptions import ValidationError

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 2.0
READ_TIMEOUT_SECONDS = 3.0
MAX_RESPONSE_BYTES = 64 * 1024
MAX_ADDRESSES = 3  # tried in turn when one does not take the connection

# NAT64 translates these to the IPv4 address in their last 32 bits (RFC 6052); the local-use prefix
# (RFC 8215) translates within the operator's own network.
_NAT64_WELL_KNOWN = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL_USE = ipaddress.ip_network("64:ff9b:1::/48")


class Refused(Exception):
    """The URL may not be requested; the message says why, in words for an administrator."""


class Failed(Exception):
    """The request could not be completed: no connection, no answer in time, or an answer too long."""


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def is_public(address: IPAddress) -> bool:
    """Whether the address is reachable on the public internet, and so is nothing of our own network.

    `is_global` alone lets multicast, IPv6 site-local and addresses that embed an IPv4 address through.
    """
    inside = [address]
    if isinstance(address, ipaddress.IPv6Address):
        if address in _NAT64_LOCAL_USE:
            return False
        if address.ipv4_mapped is not None:
            inside.append(address.ipv4_mapped)
        if address.sixtofour is not None:
            inside.append(address.sixtofour)
        if address in _NAT64_WELL_KNOWN:
            inside.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return all(
        each.is_global
        and not (each.is_multicast or each.is_reserved or each.is_unspecified)
        and not getattr(each, "is_site_local", False)
        for each in inside
    )


@dataclass(frozen=True)
class Destination:
    """A URL that passed the checks, with the addresses its host resolved to (every one of them checked)."""

    scheme: str
    host: str  # as sent in Host and for TLS: an ASCII name, or an address without brackets
    port: int
    target: str  # path and query
    addresses: tuple[str, ...]

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def destination(url: str) -> Destination:
    """Check a URL and resolve its host, once; raises Refused with the reason."""
    allow_private = settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise Refused("This is not a valid web address.") from None
    scheme = parts.scheme.lower()
    if scheme != "https" and not (scheme == "http" and allow_private):
        raise Refused("The address must start with https://.")
    if parts.username is not None or parts.password is not None:
        raise Refused("Leave the user name and password out of the address.")
    if not parts.hostname:
        raise Refused("The address has no host name.")
    try:
        host = parts.hostname.encode("idna").decode("ascii")
    except UnicodeError:
        raise Refused(f"{parts.hostname} is not a valid host name.") from None
    port = port or (443 if scheme == "https" else 80)
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        raise Refused(f"The host {host} could not be found.") from None
    addresses = tuple(dict.fromkeys(info[4][0] for info in found))
    if not addresses:
        raise Refused(f"The host {host} could not be found.")
    public = [is_public(ipaddress.ip_address(address.split("%")[0])) for address in addresses]
    if not allow_private and not all(public):
        private = addresses[public.index(False)]
        raise Refused(
            f"The host {host} is not a public address ({private}): only hosts on the public internet "
            "may be used."
        )
    if scheme == "http" and any(public):
        raise Refused("The address must start with https://.")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Destination(scheme=scheme, host=host, port=port, target=target, addresses=addresses)


def validate_outbound_url(value: str) -> None:
    """Model and form validator: the URL must be one the product will send to."""
    try:
        destination(value)
    except Refused as refusal:
        raise ValidationError(str(refusal), code="outbound_url") from None


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes


def post(url: str, *, body: bytes, headers: dict[str, str]) -> Response:
    """POST body to url, checked and resolved here; raises Refused or Failed.

    The checked addresses are tried in turn (the first MAX_ADDRESSES of them) until one takes the
    connection; nothing is sent twice.
    """
    target = destination(url)
    timeout = urllib3.Timeout(connect=CONNECT_TIMEOUT_SECONDS, read=READ_TIMEOUT_SECONDS)
    failure: Exception | None = None
    for address in target.addresses[:MAX_ADDRESSES]:
        if target.scheme == "https":
            # Connect to the checked address; the name still goes in SNI and is what the certificate
            # must prove.
            pool = urllib3.HTTPSConnectionPool(
                address, target.port, timeout=timeout, maxsize=1, server_hostname=target.host
            )
        else:
            pool = urllib3.HTTPConnectionPool(address, target.port, timeout=timeout, maxsize=1)
        with pool:
            try:
                response = pool.urlopen(
                    "POST",
                    target.target,
                    body=body,
                    headers={**headers, "Host": target.host_header, "Accept-Encoding": "identity"},
                    retries=False,
                    redirect=False,
                    assert_same_host=False,
                    preload_content=False,
                )
            except urllib3.exceptions.ConnectTimeoutError as error:  # refused or timed out: nothing sent
                failure = error
                continue
            except (urllib3.exceptions.HTTPError, OSError) as error:
                raise Failed(str(error)) from None
            try:
                answer = response.read(MAX_RESPONSE_BYTES + 1, decode_content=False)
            except (urllib3.exceptions.HTTPError, OSError) as error:
                raise Failed(str(error)) from None
            finally:
                response.close()
            if len(answer) > MAX_RESPONSE_BYTES:
                raise Failed(f"the answer was longer than {MAX_RESPONSE_BYTES} bytes")
            return Response(status=response.status, body=answer)
    raise Failed(str(failure))


class TryLater(Exception):
    """Raised by a lane's work when it failed in a way that another attempt may mend."""


@dataclass
class _Work:
    tenant: Hashable
    run: Callable[[], None]
    what: str
    attempt: int = 1


@dataclass
class _Lane:
    waiting: deque[_Work] = field(default_factory=deque)
    running: int = 0
    accepted: int = 0  # taken and not yet finished: waiting, running, or waiting to be tried again


class Lanes:
    """Background work kept apart per tenant, so that one tenant's slow endpoint costs only that tenant.

    Each tenant has a lane: at most `concurrency` of its pieces of work run at once, each in a thread of
    its own that ends when the lane is empty; at most `queue_limit` are taken and unfinished (waiting,
    running or waiting to be tried again), and work beyond that is dropped and logged. Work that raises
    TryLater is tried again after a back-off (`backoff_seconds`, doubled each time), up to `attempts` in
    all; while it waits it holds no thread: one timer thread, shared, only puts it back in its lane.
    """

    def __init__(
        self,
        name: str,
        *,
        concurrency: int = 2,
        queue_limit: int = 50,
        attempts: int = 3,
        backoff_seconds: float = 1.0,
    ) -> None:
        self.name = name
        self.concurrency = concurrency
        self.queue_limit = queue_limit
        self.attempts = attempts
        self.backoff_seconds = backoff_seconds
        self._lock = threading.Condition()
        self._lanes: dict[Hashable, _Lane] = {}
        self._later: list[tuple[float, int, _Work]] = []
        self._order = itertools.count()
        self._timer: threading.Thread | None = None

    def submit(self, tenant: Hashable, run: Callable[[], None], *, what: str) -> bool:
        """Run `run` in the tenant's lane; False when the lane is full and the work was dropped."""
        with self._lock:
            lane = self._lanes.setdefault(tenant, _Lane())
            if lane.accepted >= self.queue_limit:
                logger.warning(
                    "%s for %s dropped: %d already waiting or in flight",
                    what,
                    tenant,
                    lane.accepted,
                    extra={"lane": self.name, "tenant": str(tenant)},
                )
                return False
            lane.accepted += 1
            self._enqueue(lane, _Work(tenant=tenant, run=run, what=what))
        return True

    def wait_until_idle(self, timeout: float) -> bool:
        """Whether every lane finished its work within the timeout: for an orderly stop, and for tests."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._lanes:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(left)
        return True

    def _enqueue(self, lane: _Lane, work: _Work) -> None:
        lane.waiting.append(work)
        if lane.running < self.concurrency:
            worker = threading.Thread(
                target=self._work_through, args=(work.tenant,), name=f"{self.name}-{work.tenant}", daemon=True
            )
            try:
                worker.start()
            except RuntimeError:
                # Out of threads: the work waits in its lane for the next worker rather than fail the caller.
                logger.exception("%s: no thread for %s", self.name, work.tenant)
                return
            lane.running += 1

    def _work_through(self, tenant: Hashable) -> None:
        while True:
            with self._lock:
                lane = self._lanes[tenant]
                if not lane.waiting:
                    lane.running -= 1
                    self._forget_if_idle(tenant, lane)
                    return
                work = lane.waiting.popleft()
            again = self._run(work)
            with self._lock:
                if again:
                    delay = self.backoff_seconds * 2 ** (work.attempt - 1)
                    work.attempt += 1
                    heapq.heappush(self._later, (time.monotonic() + delay, next(self._order), work))
                    self._start_timer()
                    self._lock.notify_all()
                else:
                    lane.accepted -= 1

    def _run(self, work: _Work) -> bool:
        """Run one attempt; whether to try again."""
        about = {"lane": self.name, "tenant": str(work.tenant), "attempt": work.attempt}
        try:
            work.run()
        except TryLater as reason:
            if work.attempt < self.attempts:
                logger.warning(
                    "%s for %s attempt %d failed: %s",
                    work.what,
                    work.tenant,
                    work.attempt,
                    reason,
                    extra=about,
                )
                return True
            logger.error(
                "%s for %s not delivered after %d attempts: %s",
                work.what,
                work.tenant,
                work.attempt,
                reason,
                extra=about,
            )
        except Exception:
            logger.exception("%s for %s failed", work.what, work.tenant, extra=about)
        return False

    def _start_timer(self) -> None:
        if self._timer is None:
            self._timer = threading.Thread(
                target=self._put_back_when_due, name=f"{self.name}-later", daemon=True
            )
            self._timer.start()

    def _put_back_when_due(self) -> None:
        with self._lock:
            while self._later:
                due, _, work = self._later[0]
                left = due - time.monotonic()
                if left > 0:
                    self._lock.wait(left)
                    continue
                heapq.heappop(self._later)
                self._enqueue(self._lanes[work.tenant], work)
            self._timer = None

    def _forget_if_idle(self, tenant: Hashable, lane: _Lane) -> None:
        if lane.accepted == 0 and lane.running == 0:
            del self._lanes[tenant]
            self._lock.notify_all()


@checks.register(checks.Tags.security, deploy=True)
def private_addresses_allowed(app_configs, **kwargs) -> list[checks.CheckMessage]:
    if settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES:
        return [
            checks.Warning(
                "OUTBOUND_ALLOW_PRIVATE_ADDRESSES is on: a company's telephony URL may reach this server's "
                "own network. It is for labs and tests only.",
                id="contactcentre.W001",
            )
        ]
    return []
