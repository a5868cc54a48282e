"""Fixtures for browser tests: the product served live, and headless Chromium driven by Playwright.

The live server is Daphne in a subprocess (channels' ChannelsLiveServerTestCase), serving pages, static
files and WebSockets from the test database, with the channel layer of the settings (Redis when REDIS_URL
is set, so events the test publishes through the engine reach the server's sockets). Tests using
`live_server_url` get a transactional database: the server only sees committed rows.

Playwright's sync API cannot run inside an asyncio loop, so browser tests are plain (sync) functions.
"""

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from asgiref.sync import SyncToAsync
from channels.layers import DEFAULT_CHANNEL_LAYER, channel_layers
from channels.testing import ChannelsLiveServerTestCase
from daphne.testing import DaphneProcess
from django.db import connections
from django.test import override_settings
from playwright.sync_api import Browser, Page, expect, sync_playwright

# Waits are for events, with room for a busy machine: a passing test never waits this long.
TIMEOUT_MS = 20_000
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class DaphneOnTheTestDatabase(DaphneProcess):
    """Daphne in a process forked from the tests', on the test database and a channel layer of its own.

    The inherited database settings already name the test database (channels' own setup would prefix the
    name with "test_" once more). What earlier tests left running does not survive the fork: the channel
    layer is bound to this process's event loops, and the worker thread behind database_sync_to_async is
    not in the child, so both are made anew.
    """

    def __init__(self, host, get_application, setup=None, **kwargs) -> None:
        super().__init__(host, get_application, setup=_renew_after_fork, **kwargs)


def _renew_after_fork() -> None:
    SyncToAsync.single_thread_executor = ThreadPoolExecutor(max_workers=1)
    channel_layers.set(DEFAULT_CHANNEL_LAYER, channel_layers.make_backend(DEFAULT_CHANNEL_LAYER))


class LiveServer(ChannelsLiveServerTestCase):
    # An address, not "localhost": the browser then never tries IPv6 first.
    host = "127.0.0.1"
    ProtocolServerProcess = DaphneOnTheTestDatabase


# Not named live_server: pytest-django gives that name to its own (WSGI, without WebSockets) server.
@pytest.fixture(scope="session")
def channels_live_server(django_db_setup, django_db_blocker) -> Iterator[str]:
    """Daphne serving the product for the whole run; tests use `live_server_url`."""
    # The server process is forked from this one: it must not share this process's database connections,
    # and it keeps the state of pytest-django's database blocker at the fork, so it forks unblocked.
    connections.close_all()
    connections["default"].close_pool()  # its idle connections too: they would be shared after the fork
    # The server serves the demo page (off in production), which the widget's tests open; the setting is
    # the server's alone: it holds in the process forked here, and this one goes back to the default.
    with django_db_blocker.unblock(), override_settings(DEMO_PAGE=True):
        LiveServer.setUpClass()
    yield f"http://{LiveServer.host}:{LiveServer._port}"
    LiveServer.tearDownClass()
    LiveServer.doClassCleanups()


@pytest.fixture
def live_server_url(channels_live_server, transactional_db) -> str:
    """The live server's address, e.g. http://127.0.0.1:40123."""
    return channels_live_server


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Playwright's sync API keeps its asyncio loop marked as running in this thread. Django takes that for
    # async code and refuses database access; the tests' database work is plain sync code, so the check is
    # lifted while the browser is up (and only then: the scope is one module).
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        playwright = sync_playwright().start()
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        expect.set_options(timeout=TIMEOUT_MS)
        yield browser
        browser.close()
        playwright.stop()


@pytest.fixture
def run_in_thread() -> Callable:
    """Call a function in a thread of its own and return its result.

    Engine transitions publish their events with async_to_sync, which refuses to run in the thread that
    holds Playwright's loop: call them through this, e.g.
    `run_in_thread(engine.chat_take, agent=agent, chat_id=chat.pk)`.
    """

    def run(function: Callable, /, *args, **kwargs):
        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(_call_and_disconnect, function, args, kwargs).result()

    return run


def _call_and_disconnect(function: Callable, args: tuple, kwargs: dict):
    try:
        return function(*args, **kwargs)
    finally:
        connections.close_all()


@pytest.fixture
def new_page(browser, live_server_url) -> Iterator[Callable[..., Page]]:
    """Make pages, each in a browser context of its own (its own cookies and storage), with relative
    addresses resolved against the live server. Keyword arguments go to `browser.new_context`."""
    contexts = []

    def make(**context_options) -> Page:
        context = browser.new_context(base_url=live_server_url, **context_options)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page) -> Page:
    return new_page()
