"""Error reporting: with a DSN, a server error reaches a Sentry-compatible endpoint named by the chat, the
agent or the job it happened in, and carries none of the customer's personal data or secrets."""

import gzip
import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from contactcentre.routing import websocket_urlpatterns
from routing import engine, jobs, scheduler
from runtime import error_reporting
from tests.webchat_support import TIMEOUT, post_message, say_hello
from webchat.tokens import customer_token_for

NAME = "Grace Hopperton"
EMAIL = "grace.hopperton@example.com"
PHONE = "+44 7700 900123"
TEXT = f"My card ends 4242, write to {EMAIL} or call {PHONE}"


class Envelopes(ThreadingHTTPServer):
    """A Sentry-compatible endpoint on loopback that keeps every envelope posted to it."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Receiver)
        self.received: list[bytes] = []

    @property
    def dsn(self) -> str:
        return f"http://public@127.0.0.1:{self.server_address[1]}/1"

    def events(self) -> list[dict]:
        """The error events received, each an envelope's item of type event."""
        found = []
        for envelope in self.received:
            lines = envelope.split(b"\n")
            for header, payload in zip(lines[1::2], lines[2::2], strict=False):
                if json.loads(header).get("type") == "event":
                    found.append(json.loads(payload))
        return found


class _Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        status = 200 if self.path == "/api/1/envelope/" else 404
        if status == 200:
            self.server.received.append(body)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def sentry():
    """Reporting on, to an endpoint of the test's own; off again, its client closed, after the test."""
    import sentry_sdk

    server = Envelopes()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    error_reporting.start(dsn=server.dsn, environment="test", release="test-release", traces_sample_rate=0)
    try:
        with sentry_sdk.isolation_scope():
            yield server
    finally:
        error_reporting.stop()
        server.shutdown()
        server.server_close()


def flushed(server: Envelopes) -> list[dict]:
    import sentry_sdk

    sentry_sdk.flush(timeout=10)
    return server.events()


def assert_no_personal_data(server: Envelopes, *secrets: str) -> None:
    everything = b"".join(server.received)
    for secret in (NAME, EMAIL, PHONE, TEXT, *secrets):
        assert secret.encode() not in everything, secret


def failing(name: str):
    def fail(*args, **kwargs):
        raise RuntimeError(f"{name} failed")

    fail.__name__ = name
    return fail


@pytest.mark.django_db
def test_a_chat_api_server_error_is_reported_with_the_chat_id_and_no_personal_data(
    sentry, manual_queue, monkeypatch
):
    chat = engine.chat_open(queue_token=manual_queue.token, customer_name=NAME, first_message="Hi").chat
    token = customer_token_for(chat_id=chat.pk)
    monkeypatch.setattr(engine, "message_post_customer", failing("message_post_customer"))
    client = Client(raise_request_exception=False)
    client.cookies["sessionid"] = "session-secret-1"
    client.cookies["csrftoken"] = "csrf-secret-1"

    response = post_message(
        client, chat.pk, token, client_id="c-1", text=TEXT, headers={"X-CSRFToken": "csrf-secret-1"}
    )

    assert response.status_code == 500
    [event] = flushed(sentry)
    assert event["tags"]["chat_id"] == str(chat.pk)
    assert event["exception"]["values"][-1]["value"] == "message_post_customer failed"
    assert_no_personal_data(sentry, token, "session-secret-1", "csrf-secret-1")


@pytest.mark.django_db(transaction=True)
async def test_a_customer_socket_error_is_reported_with_the_chat_id_and_no_personal_data(
    sentry, manual_queue, monkeypatch
):
    opened = await database_sync_to_async(engine.chat_open)(
        queue_token=manual_queue.token, customer_name=NAME
    )
    chat_id = opened.chat.pk
    token = customer_token_for(chat_id=chat_id)
    monkeypatch.setattr(engine, "message_post_customer", failing("message_post_customer"))
    application = error_reporting.sockets(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
    socket = WebsocketCommunicator(application, f"/ws/webchat/{chat_id}/", headers=[(b"host", b"testserver")])
    assert (await socket.connect(timeout=TIMEOUT))[0]
    await say_hello(socket, token)

    await socket.send_json_to({"type": "message", "client_id": "c-1", "text": TEXT})
    with pytest.raises(RuntimeError):
        await socket.wait(timeout=TIMEOUT)

    [event] = await database_sync_to_async(flushed)(sentry)
    assert event["tags"]["chat_id"] == str(chat_id)
    assert_no_personal_data(sentry, token)


@pytest.mark.django_db
def test_a_failing_periodic_job_is_reported_with_its_name_and_the_others_still_run(sentry, monkeypatch):
    ran = []
    monkeypatch.setattr(
        jobs, "PERIODIC_JOBS", [failing("sweep_allocation"), lambda: ran.append(True), failing("sweep_calls")]
    )

    scheduler.run_jobs_once()

    events = flushed(sentry)
    assert ran == [True]
    assert sorted(event["tags"]["job"] for event in events) == ["sweep_allocation", "sweep_calls"]


def test_the_scrubber_removes_each_kind_of_personal_data_and_secret():
    event = {
        "request": {
            "url": "https://cc.example/api/webchat/v1/chats/1/messages",
            "data": {"text": TEXT, "name": NAME},
            "query_string": "customer_token=tok-1",
            "cookies": {"sessionid": "session-1", "csrftoken": "csrf-1"},
            "headers": {
                "Authorization": "Bearer tok-1",
                "Cookie": "sessionid=session-1",
                "X-CSRFToken": "csrf-1",
                "X-Contact-Signature": "sha256=sig-1",
                "User-Agent": "Widget",
            },
            "env": {"REMOTE_ADDR": "203.0.113.9"},
        },
        "user": {"email": EMAIL, "username": "grace"},
        "exception": {"values": [{"stacktrace": {"frames": [{"function": "f", "vars": {"text": TEXT}}]}}]},
        "threads": {"values": [{"stacktrace": {"frames": [{"vars": {"phone": PHONE}}]}}]},
        "breadcrumbs": {
            "values": [{"category": "query", "message": "SELECT 1", "data": {"params": [EMAIL]}}]
        },
        "extra": {"sys.argv": ["manage.py", "--password", "pw-1"]},
    }

    scrubbed = json.dumps(error_reporting.scrub(event))

    for secret in (TEXT, NAME, EMAIL, PHONE, "tok-1", "session-1", "csrf-1", "sig-1", "203.0.113.9", "pw-1"):
        assert secret not in scrubbed, secret
    assert event["request"]["headers"]["User-Agent"] == "Widget"


def test_without_a_dsn_nothing_is_started():
    assert not settings.SENTRY_DSN
    assert not error_reporting.is_on()
    code = (
        "import sys, django; django.setup();"
        "from runtime import error_reporting;"
        "assert not error_reporting.is_on();"
        "assert 'sentry_sdk' not in sys.modules, 'imported'"
    )
    env = {"DJANGO_SETTINGS_MODULE": "contactcentre.settings", "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=settings.BASE_DIR)


def test_a_bad_traces_sample_rate_stops_start_up_with_a_clear_error():
    code = "import django; django.setup()"
    env = {"DJANGO_SETTINGS_MODULE": "contactcentre.settings", "SENTRY_TRACES_SAMPLE_RATE": "lots"}
    result = subprocess.run([sys.executable, "-c", code], env=env, cwd=settings.BASE_DIR, capture_output=True)
    assert result.returncode != 0
    assert b"SENTRY_TRACES_SAMPLE_RATE: a fraction between 0 and 1" in result.stderr
