"""Error reporting to Sentry (or any server speaking its protocol), on only when SENTRY_DSN is set.

`start` runs once, from the end of the settings module, so that every process the product runs (Daphne,
the Celery worker and beat, management commands) reports the same way without each entry point repeating
it; with no DSN, sentry_sdk is not even imported. The edges that know which chat or agent they act for
(the chat API, the sockets, the periodic jobs) name them with `tag`, or open a `context` of their own where
no request or task has one already. Ids only: names, emails, message texts and tokens are personal data,
kept out of events by `scrub`.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

_started = False

# What is dropped from an event's request wherever it appears: the customer's token and the agents' session
# and CSRF cookies ride in these, and the telephony provider signs its webhooks with the last one.
SECRET_HEADERS = frozenset({"authorization", "cookie", "set-cookie", "x-csrftoken", "x-contact-signature"})
FILTERED = "[Filtered]"


def start(*, dsn: str, environment: str, release: str | None, traces_sample_rate: float) -> None:
    global _started
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment or None,
        release=release or None,
        traces_sample_rate=traces_sample_rate,
        send_default_pii=False,
        include_local_variables=False,
        max_request_body_size="never",
        # Only what is named here, not every library sentry_sdk finds installed: each would add its own
        # breadcrumbs (Redis commands carry the channel layer's frames) to what has to be scrubbed.
        auto_enabling_integrations=False,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        before_send=scrub,
        before_send_transaction=scrub,
    )
    _started = True


def checkout_commit(base_dir: Path) -> str | None:
    """The commit checked out in base_dir, read from .git's files (no git process); None without one."""
    try:
        git = base_dir / ".git"
        if git.is_file():  # a worktree: .git names its own folder, beside the repository's shared one
            git = (base_dir / git.read_text().removeprefix("gitdir:").strip()).resolve()
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref:"):
            return head or None
        ref = head.removeprefix("ref:").strip()
        common = git / (git / "commondir").read_text().strip() if (git / "commondir").is_file() else git
        for folder in (git, common):
            if (folder / ref).is_file():
                return (folder / ref).read_text().strip() or None
        for line in (common / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split(" ", 1)[0]
    except OSError:
        return None
    return None


def stop() -> None:
    """Send what is queued and switch reporting off (tests; a process's exit does it by itself)."""
    global _started
    if not _started:
        return
    import sentry_sdk

    client = sentry_sdk.get_client()
    client.close(timeout=5)
    sentry_sdk.get_global_scope().set_client(None)
    _started = False


def is_on() -> bool:
    return _started


def tag(**ids: object) -> None:
    """Name the chat, agent, call or job the current request, task or socket acts for on its events."""
    if not _started:
        return
    import sentry_sdk

    scope = sentry_sdk.get_isolation_scope()
    for name, value in ids.items():
        if value is not None:
            scope.set_tag(name, str(value))


@contextmanager
def context(**ids: object) -> Iterator[None]:
    """A scope of its own for work that runs outside a request, a task or a socket (the in-process
    scheduler's jobs), so that one job's tags are not left on the next one's events."""
    if not _started:
        yield
        return
    import sentry_sdk

    with sentry_sdk.isolation_scope():
        tag(**ids)
        yield


def sockets(application: Callable) -> Callable:
    """The WebSocket application, with each connection's own scope and its unhandled errors reported."""
    if not _started:
        return application
    from sentry_sdk.integrations.asgi import SentryAsgiMiddleware

    return SentryAsgiMiddleware(application)


def scrub(event: dict, hint: dict | None = None) -> dict:
    """Remove personal data and secrets from an event before it leaves the process: the request's body
    (message texts, customer names and emails), its query string, cookies and secret headers, the user,
    the frames' local variables and the breadcrumbs' data (log and SQL lines keep their text, which
    carries ids, not values)."""
    request = event.get("request")
    if isinstance(request, dict):
        request.pop("data", None)
        request.pop("cookies", None)
        if request.get("query_string"):
            request["query_string"] = FILTERED
        headers = request.get("headers")
        if isinstance(headers, dict):
            for name in list(headers):
                if name.lower() in SECRET_HEADERS:
                    headers[name] = FILTERED
        env = request.get("env")
        if isinstance(env, dict):
            env.pop("REMOTE_ADDR", None)
    event.pop("user", None)
    for exception in (event.get("exception") or {}).get("values") or []:
        for frame in (exception.get("stacktrace") or {}).get("frames") or []:
            frame.pop("vars", None)
    for thread in (event.get("threads") or {}).get("values") or []:
        for frame in (thread.get("stacktrace") or {}).get("frames") or []:
            frame.pop("vars", None)
    breadcrumbs = event.get("breadcrumbs")
    values = breadcrumbs.get("values") if isinstance(breadcrumbs, dict) else breadcrumbs
    for crumb in values or []:
        crumb.pop("data", None)
    extra = event.get("extra")
    if isinstance(extra, dict):
        extra.pop("sys.argv", None)
    return event
