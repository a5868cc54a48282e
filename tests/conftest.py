import datetime as dt
import threading

import pytest
import time_machine
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.core.cache import cache
from django.core.management.commands import flush
from django.db import connections
from django.test import Client, override_settings
from whitenoise.base import WhiteNoise

from routing import engine
from runtime import database
from tests import factories
from tests.frame_schemas import frame_problem
from tests.two_factor_support import log_in_verified
from webchat import protocol


@pytest.fixture(scope="session", autouse=True)
def fast_password_hashing():
    """Production-strength hashing (PBKDF2, about 0.2 s a password) of every test user would only slow the
    suite down. Set once for the whole run, before the browser tests' live server is forked from this
    process, so that logins through the real sign-in form there check the same hashes."""
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


def _commits_do_not_wait_for_the_disk() -> None:
    """The test databases are dropped after the run, so their commits need not wait for the disk to confirm
    them (PostgreSQL's synchronous_commit: what a transaction sees, and when, is unchanged; only a crash of
    the server could lose the last commits). The suite commits some 30,000 times, about 2 ms each here."""
    for connection in connections.all(initialized_only=False):
        if connection.vendor == "postgresql":
            options = connection.settings_dict.setdefault("OPTIONS", {})
            options["options"] = f"{options.get('options', '')} -c synchronous_commit=off".strip()


_commits_do_not_wait_for_the_disk()


@pytest.fixture(scope="session", autouse=True)
def static_files_scanned_once():
    """A server process scans its static files once, when WhiteNoise's middleware loads. Django's test
    client loads the middleware anew for every client, so each test's first request would walk and stat
    every collected file again (a tenth of the suite's time): the scan of a folder is kept for the run,
    which collects its static files before it starts."""
    scan = WhiteNoise.update_files_dictionary
    scanned: dict[tuple[str, str], dict] = {}

    def update_files_dictionary(self, root: str, prefix: str) -> None:
        if (root, prefix) not in scanned:
            own, self.files = self.files, {}
            scan(self, root, prefix)
            scanned[root, prefix], self.files = self.files, own
        self.files.update(scanned[root, prefix])

    WhiteNoise.update_files_dictionary = update_files_dictionary
    yield
    WhiteNoise.update_files_dictionary = scan


@pytest.fixture(autouse=True)
def every_frame_sent_matches_its_schema(monkeypatch):
    """Every frame either socket sends, in every test, is checked against its published schema
    (docs/frames/): a frame of a shape the docs do not promise fails the test that made it."""
    wrong: list[str] = []
    encode = protocol.encode

    def checked(socket: str, frame: dict) -> str:
        problem = frame_problem(socket, protocol.TO_CLIENT, frame)
        if problem is not None:
            wrong.append(problem)
        return encode(socket, frame)

    monkeypatch.setattr(protocol, "encode", checked)
    yield
    assert not wrong, "frames sent that their schemas refuse:\n" + "\n".join(wrong)


# What migrating wrote and what Django's post-migrate signal would write again after a flush.
KEPT_BY_FLUSH = {"django_content_type", "auth_permission"}


@pytest.fixture(scope="session", autouse=True)
def tables_emptied_by_delete():
    """After each transactional test (the sockets', the browser's, the races') Django empties every table
    with one TRUNCATE, which on PostgreSQL makes each of the ~40 tables a new file: about a third of a
    second, a good part of such a test. Tables holding a test's few rows are emptied far faster by DELETE,
    all in one transaction: the foreign keys Django makes are deferred to its commit, when every table is
    empty. The tables end as empty as before; sequences are not reset by either (a test asking for that
    still gets TRUNCATE ... RESTART IDENTITY).

    The content types and permissions, which migrating made and no test changes, are kept: Django would
    otherwise make all of them anew after each flush (its post-migrate signal, a twentieth of the suite's
    time), with new ids that a live server's cache would have to forget."""
    ops = type(connections["default"].ops)
    if connections["default"].vendor != "postgresql":
        yield
        return
    truncate = ops.sql_flush

    emptied_all = [True]

    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        emptied_all[0] = reset_sequences or not tables
        if emptied_all[0]:
            return truncate(self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
        deletes = "; ".join(
            f"DELETE FROM {self.quote_name(table)}" for table in tables if table not in KEPT_BY_FLUSH
        )
        return [f"SET CONSTRAINTS ALL DEFERRED; {deletes}"]

    def emit_post_migrate_signal(*args, **kwargs) -> None:
        if emptied_all[0]:
            refill(*args, **kwargs)

    refill = flush.emit_post_migrate_signal
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ops, "sql_flush", sql_flush)
        patch.setattr(flush, "emit_post_migrate_signal", emit_post_migrate_signal)
        yield


@pytest.fixture
def clock():
    """The clock, stopped at a known moment; `clock.shift(seconds)` moves it on."""
    with time_machine.travel(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC), tick=False) as traveller:
        yield traveller


@pytest.fixture
def company(db):
    return factories.CompanyFactory()


@pytest.fixture
def queue(company):
    return factories.WebchatQueueFactory(company=company, name="Sales")


@pytest.fixture
def agent(company):
    return factories.MembershipFactory(company=company)


@pytest.fixture
def manual_queue(company):
    """A queue whose chats wait for an agent to take them."""
    return factories.WebchatQueueFactory(company=company, name="Support", auto_allocate=False)


@pytest.fixture
def agent_client(client, agent):
    client.force_login(agent.user)
    return client


@pytest.fixture
def htmx_client(agent_client):
    """The signed-in agent's browser as htmx drives it."""
    agent_client.defaults["HTTP_HX_REQUEST"] = "true"
    return agent_client


@pytest.fixture
def waiting_chat(manual_queue):
    return factories.ChatFactory(queue=manual_queue, customer_name="Grace")


@pytest.fixture
def held_chat(agent, waiting_chat):
    """A chat in the agent's inbox, not yet active."""
    return engine.chat_take(agent=agent, chat_id=waiting_chat.pk)


@pytest.fixture
def active_chat(agent, held_chat):
    return engine.chat_activate(agent=agent, chat_id=held_chat.pk)


@pytest.fixture
def wrapup_chat(agent, active_chat):
    return engine.chat_end(agent=agent, chat_id=active_chat.pk)


@pytest.fixture
def other_company_chat():
    """A chat held by an agent of another company."""
    stranger = factories.MembershipFactory()
    queue = factories.WebchatQueueFactory(company=stranger.company, auto_allocate=False)
    chat = factories.ChatFactory(queue=queue, customer_name="Stranger")
    engine.chat_take(agent=stranger, chat_id=chat.pk)
    return engine.chat_activate(agent=stranger, chat_id=chat.pk)


@pytest.fixture
def admin_client(admin_user) -> Client:
    """pytest-django's superuser client, with the second step of signing in done."""
    return log_in_verified(Client(), admin_user)


@pytest.fixture(autouse=True)
def sockets_end_with_their_test(request):
    """Every async test ends the sockets it opened before its event loop ends (see `_sockets_ended`)."""
    if request.node.get_closest_marker("asyncio"):
        request.getfixturevalue("_sockets_ended")


@pytest.fixture
async def _sockets_ended(monkeypatch):
    """Disconnect, within the test's event loop, every WebSocket communicator the test left open, then close
    the connection of Channels' database thread (it would outlive the test and hold up dropping the test
    database at the end of the run).

    A consumer left running (a test that failed half-way, or one that never said goodbye) would otherwise
    be cancelled by pytest-asyncio's end of the loop, together with every other task of the loop at once,
    the channel layer's reader among them: its clean-up then unsubscribes from Redis at the very moment the
    connection it needs is being torn down. Disconnected here, each consumer leaves its groups and ends by
    the ordinary way, one at a time, while the layer still works.
    """
    opened: list[WebsocketCommunicator] = []
    make = WebsocketCommunicator.__init__

    def remembered(communicator, *args, **kwargs) -> None:
        make(communicator, *args, **kwargs)
        opened.append(communicator)

    monkeypatch.setattr(WebsocketCommunicator, "__init__", remembered)
    yield
    for communicator in opened:
        if not communicator.future.done():
            await communicator.disconnect()
    await database_sync_to_async(connections.close_all)()


@pytest.fixture(autouse=True)
def rate_limits_start_empty():
    """Rate-limit counters live in the cache; each test starts with none."""
    cache.clear()


def close_in_every_database_thread() -> None:
    """Close the connections the sockets' database threads hold (runtime/database.py).

    Each socket call closes its connection when it ends, but a call that ends after its test (a consumer's
    disconnect, the publisher's read of queue places) meets pytest-django's database blocker there, which
    refuses the check that comes before closing: its connection stays with the thread. One task per thread,
    held at a barrier until every thread has one, closes each thread's own.
    """
    size = settings.DATABASE_THREADS
    everyone_here = threading.Barrier(size)

    def close_here() -> None:
        everyone_here.wait(timeout=30)
        connections.close_all()

    for done in [database._threads.submit(close_here) for _ in range(size)]:
        done.result(timeout=60)


@pytest.fixture(scope="session", autouse=True)
def pooled_connections_close_before_the_test_database_is_dropped(django_db_setup, django_db_blocker):
    yield
    with django_db_blocker.unblock():
        close_in_every_database_thread()
        connections.close_all()
        for each in connections.all():
            if hasattr(each, "close_pool"):
                each.close_pool()
