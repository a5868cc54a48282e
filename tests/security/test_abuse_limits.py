"""The limits hold when pushed: all at once, from both the REST API and the socket, from many sockets.

Per address: chats opened a minute, and WebSockets held open. Per chat: messages in ten seconds, REST and
socket together. Per queue: its Maximum Queue Length. Per message and per request: their size. Each limit
is exact under concurrent requests on the real PostgreSQL and Redis, refuses with the documented error,
stores nothing for what it refused, and leaves everyone else served.
"""

import threading
from collections import Counter

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connections
from django.test import Client

from contactcentre.asgi import application
from routing import engine
from tests import factories
from tests.webchat_support import API, bearer, closed_with, customer_socket, next_frame, say_hello
from webchat.customer_socket import CustomerChatConsumer
from webchat.models import Chat, Message
from webchat.tokens import customer_token_for

TIMEOUT = 10


def all_at_once(n: int, work) -> list:
    """Run `work(i)` in n threads released together (each with its own database connection)."""
    barrier, results = threading.Barrier(n), [None] * n

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work(i)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.mark.django_db(transaction=True)
def test_concurrent_opens_never_fill_a_queue_past_its_maximum_queue_length(settings):
    settings.WEBCHAT_RATE_PER_IP = 1000
    queue = factories.WebchatQueueFactory(auto_allocate=False, max_queue_length=3)

    statuses = all_at_once(
        10,
        lambda i: Client().post(f"{API}/chats", {"queue_token": queue.token}, "application/json").status_code,
    )

    assert Counter(statuses) == {201: 3, 409: 7}
    assert Chat.objects.filter(queue=queue, state="queued").count() == 3
    # The refused ones are logged for the company's reports, closed as refused, with nothing in them.
    assert Chat.objects.filter(queue=queue, state="closed", outcome="refused").count() == 7
    assert not Message.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_opens_from_one_address_are_refused_past_its_limit(clock, settings):
    # The clock stands still: every open falls in one of the limit's one-minute windows.
    settings.WEBCHAT_RATE_PER_IP = 5
    queue = factories.WebchatQueueFactory(auto_allocate=False)

    def open_chat(i: int) -> int:
        body = {"queue_token": queue.token, "message": f"Hello {i}"}
        return Client(REMOTE_ADDR="203.0.113.9").post(f"{API}/chats", body, "application/json").status_code

    statuses = all_at_once(12, open_chat)

    assert Counter(statuses) == {201: 5, 429: 7}
    assert Chat.objects.count() == Message.objects.count() == 5
    other = Client(REMOTE_ADDR="203.0.113.10").post(
        f"{API}/chats", {"queue_token": queue.token}, "application/json"
    )
    assert other.status_code == 201


@pytest.fixture
def waiting_chat(transactional_db, settings):
    settings.WEBCHAT_RATE_PER_CHAT = 4
    queue = factories.WebchatQueueFactory(auto_allocate=False)
    chat = engine.chat_open(queue_token=queue.token).chat
    return chat, customer_token_for(chat_id=chat.pk)


async def test_the_message_limit_of_a_chat_counts_the_api_and_the_socket_together(clock, waiting_chat):
    # The clock stands still: all five messages fall in one of the limit's ten-second windows.
    chat, token = waiting_chat
    client = Client()
    for n in range(2):
        body = {"client_id": f"rest-{n}", "text": "Hello"}
        response = await database_sync_to_async(client.post)(
            f"{API}/chats/{chat.pk}/messages", body, "application/json", headers=bearer(token)
        )
        assert response.status_code == 201
    ws = await customer_socket(chat.pk)
    await say_hello(ws, token, after_seq=2)
    answers = []
    for n in range(3):
        await ws.send_json_to({"type": "message", "client_id": f"ws-{n}", "text": "Hello"})
        answers.append(await next_frame(ws, lambda f: f["type"] in ("ack", "error")))

    assert [a["type"] for a in answers] == ["ack", "ack", "error"]
    assert answers[2]["code"] == "rate_limited" and answers[2]["client_id"] == "ws-2"
    stored = await database_sync_to_async(lambda: list(chat.messages.values_list("client_id", flat=True)))()
    assert stored == ["rest-0", "rest-1", "ws-0", "ws-1"]
    # The socket stays open and answering.
    await ws.send_json_to({"type": "bogus"})
    assert (await next_frame(ws, lambda f: f["type"] == "error"))["code"] == "invalid"
    await ws.disconnect()


async def test_a_message_one_character_past_the_limit_is_refused_on_the_socket_and_one_at_it_is_stored(
    waiting_chat, settings
):
    settings.WEBCHAT_MAX_MESSAGE_CHARS = 50
    chat, token = waiting_chat
    ws = await customer_socket(chat.pk)
    await say_hello(ws, token)

    await ws.send_json_to({"type": "message", "client_id": "long", "text": "x" * 51})
    refused = await next_frame(ws, lambda f: f["type"] in ("ack", "error"))
    await ws.send_json_to({"type": "message", "client_id": "fits", "text": "x" * 50})
    stored = await next_frame(ws, lambda f: f["type"] in ("ack", "error"))

    assert (refused["type"], refused["code"], stored["type"]) == ("error", "too_long", "ack")
    assert await database_sync_to_async(
        lambda: list(chat.messages.values_list("client_id", flat=True))
    )() == ["fits"]
    await ws.disconnect()


def test_a_request_larger_than_any_message_is_refused_with_413_and_stores_nothing(waiting_chat):
    chat, token = waiting_chat
    body = '{"client_id": "big", "text": "' + "x" * (3 * 1024 * 1024) + '"}'
    response = Client().post(
        f"{API}/chats/{chat.pk}/messages", body, "application/json", headers=bearer(token)
    )
    assert (response.status_code, response.json()["error"]["code"]) == (413, "too_long")
    assert not chat.messages.exists()


def test_while_the_rate_limit_counters_are_unreachable_customers_are_still_served(waiting_chat, settings):
    # Redis restarting: the counters cannot be reached, but the conversation lives in PostgreSQL.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
        }
    }
    chat, token = waiting_chat
    body = {"client_id": "c-1", "text": "Hi"}
    response = Client().post(
        f"{API}/chats/{chat.pk}/messages", body, "application/json", headers=bearer(token)
    )
    assert response.status_code == 201
    assert chat.messages.get().client_id == "c-1"


# ---------------------------------------------------------------------------------------------------------
# Connection floods


async def _socket_from(address: str, path: str) -> WebsocketCommunicator:
    return WebsocketCommunicator(
        application, path, headers=[(b"host", b"testserver"), (b"x-forwarded-for", address.encode())]
    )


async def _open(communicator: WebsocketCommunicator) -> int | None:
    """None when the socket is open and waiting; its close code when it was closed at once."""
    connected, code = await communicator.connect(timeout=TIMEOUT)
    if not connected:
        return code
    if await communicator.receive_nothing(timeout=0.05):
        return None
    output = await communicator.receive_output(timeout=TIMEOUT)
    return output.get("code")


async def test_one_address_holds_no_more_sockets_than_its_limit_and_others_are_still_served(
    waiting_chat, settings
):
    settings.WEBSOCKET_MAX_PER_IP = 5
    settings.TRUSTED_PROXY_COUNT = 1
    chat, token = waiting_chat
    path = f"/ws/webchat/{chat.pk}/"
    flood = [await _socket_from("198.51.100.7", path) for _ in range(8)]

    outcomes = [await _open(ws) for ws in flood]

    assert outcomes == [None] * 5 + [4429] * 3
    # Someone else, from another address, is served as usual meanwhile.
    other = await _socket_from("192.0.2.1", path)
    assert await _open(other) is None
    await say_hello(other, token)
    await other.send_json_to({"type": "message", "client_id": "c-1", "text": "Still here?"})
    assert (await next_frame(other, lambda f: f["type"] == "ack"))["seq"] == 1
    # A socket that closes frees its place.
    await flood[0].disconnect()
    again = await _socket_from("198.51.100.7", path)
    assert await _open(again) is None
    for ws in [*flood[1:5], other, again]:
        await ws.disconnect()


async def test_the_limit_counts_agent_sockets_and_a_forged_forwarded_address_does_not_escape_it(
    waiting_chat, settings
):
    settings.WEBSOCKET_MAX_PER_IP = 3
    settings.TRUSTED_PROXY_COUNT = 0
    # Without a trusted proxy the forwarded header is the client's own word: every socket below counts
    # against the connection's address, whatever it claims.
    agents = [await _socket_from(f"10.0.0.{n}", "/ws/agent/") for n in range(3)]
    assert [await _open(ws) for ws in agents] == [4401, 4401, 4401]  # anonymous: closed...
    for ws in agents:
        await ws.disconnect()  # ...and, once the server let go of them, no longer counted
    chat, _ = waiting_chat
    held = [await _socket_from(f"10.0.1.{n}", f"/ws/webchat/{chat.pk}/") for n in range(4)]
    assert [await _open(ws) for ws in held] == [None, None, None, 4429]
    for ws in held[:3]:
        await ws.disconnect()


async def test_sockets_that_never_say_hello_are_closed_after_the_hello_timeout(waiting_chat, monkeypatch):
    monkeypatch.setattr(CustomerChatConsumer, "hello_timeout_seconds", 0.2)
    chat, _ = waiting_chat
    silent = [await customer_socket(chat.pk) for _ in range(5)]
    assert [await closed_with(ws) for ws in silent] == [4401] * 5
    for ws in silent:
        await ws.disconnect()
