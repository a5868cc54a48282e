"""A customer token reads its chat for WEBCHAT_TRANSCRIPT_READ_SECONDS after the chat's end, and no longer:
after that, 401 `token_expired` on the API and close 4401 (after an error frame saying why) on the socket.
Writes after the end are refused at once."""

import datetime as dt

import pytest
from channels.db import database_sync_to_async
from django.db import connections
from django.test import Client

from routing import engine
from tests import factories
from tests.webchat_support import (
    API,
    agent_socket,
    bearer,
    closed_with,
    connected_chat,
    customer_socket,
    post_message,
    say_hello,
)
from webchat.models import Chat

DAY = 24 * 60 * 60


@pytest.fixture
def ended_chat(db, clock):
    company = factories.CompanyFactory()
    queue = factories.WebchatQueueFactory(company=company, auto_allocate=False)
    agent = factories.MembershipFactory(company=company)
    chat, token = connected_chat(queue, agent)
    engine.message_post_customer(chat_id=chat.pk, client_id="c-1", text="Where is my order?")
    engine.chat_end(agent=agent, chat_id=chat.pk)
    return chat, token


def read(client: Client, chat: Chat, token: str):
    return client.get(f"{API}/chats/{chat.pk}/messages", headers=bearer(token))


def test_the_default_window_is_a_day(settings):
    assert settings.WEBCHAT_TRANSCRIPT_READ_SECONDS == DAY


def test_the_transcript_is_readable_within_the_window_after_the_end(client, ended_chat, clock):
    chat, token = ended_chat
    clock.shift(DAY - 1)

    response = read(client, chat, token)

    assert response.status_code == 200
    assert response.json()["state"] == "ended"
    assert "Where is my order?" in [message["text"] for message in response.json()["messages"]]


def test_after_the_window_the_token_reads_nothing(client, ended_chat, clock):
    chat, token = ended_chat
    clock.shift(DAY + 1)

    response = read(client, chat, token)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_expired"
    assert "Where is my order?" not in response.content.decode()
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_the_window_is_the_operators_to_set(client, ended_chat, clock, settings):
    chat, token = ended_chat
    settings.WEBCHAT_TRANSCRIPT_READ_SECONDS = 60
    clock.shift(61)

    assert read(client, chat, token).status_code == 401


def test_a_chat_that_has_not_ended_is_readable_however_long_it_lasts(client, db, clock):
    company = factories.CompanyFactory()
    queue = factories.WebchatQueueFactory(company=company, auto_allocate=False)
    chat, token = connected_chat(queue, factories.MembershipFactory(company=company))
    clock.shift(7 * DAY)

    assert read(client, chat, token).status_code == 200


def test_writes_after_the_end_are_refused_and_change_nothing(client, ended_chat, clock):
    chat, token = ended_chat
    before = list(chat.messages.values_list("seq", "client_id"))

    message = post_message(client, chat.pk, token, client_id="c-2", text="Hello again")
    ended_again = client.post(f"{API}/chats/{chat.pk}/end", headers=bearer(token))

    assert (message.status_code, message.json()["error"]["code"]) == (409, "chat_ended")
    assert (ended_again.status_code, ended_again.json()) == (200, {"state": "ended"})
    assert list(chat.messages.values_list("seq", "client_id")) == before


def test_after_the_window_writes_are_unauthorized_too(client, ended_chat, clock):
    chat, token = ended_chat
    clock.shift(DAY + 1)

    message = post_message(client, chat.pk, token, client_id="c-2", text="Hello again")
    ended_again = client.post(f"{API}/chats/{chat.pk}/end", headers=bearer(token))

    assert message.status_code == ended_again.status_code == 401
    assert message.json()["error"]["code"] == ended_again.json()["error"]["code"] == "token_expired"


# ---------------------------------------------------------------------------------------------------------
# The socket


@pytest.fixture
async def socket_db(transactional_db):
    yield
    await database_sync_to_async(connections.close_all)()


def _ended_chat_and_agent(ended_ago: int):
    company = factories.CompanyFactory()
    queue = factories.WebchatQueueFactory(company=company, auto_allocate=False)
    agent = factories.MembershipFactory(company=company)
    chat, token = connected_chat(queue, agent)
    engine.chat_end(agent=agent, chat_id=chat.pk)
    chat.refresh_from_db()
    Chat.objects.filter(pk=chat.pk).update(ended_at=chat.ended_at - dt.timedelta(seconds=ended_ago))
    return chat, token, agent


async def test_a_hello_after_the_window_is_told_why_and_closed_with_4401(socket_db):
    chat, token, _ = await database_sync_to_async(_ended_chat_and_agent)(DAY + 1)
    ws = await customer_socket(chat.pk)

    await ws.send_json_to({"type": "hello", "customer_token": token, "after_seq": 0})
    said = await ws.receive_json_from(timeout=10)

    assert (said["type"], said["code"]) == ("error", "token_expired")
    assert await closed_with(ws) == 4401


async def test_a_hello_within_the_window_reads_the_transcript_and_writes_are_refused(socket_db):
    chat, token, agent = await database_sync_to_async(_ended_chat_and_agent)(DAY - 60)
    ws = await customer_socket(chat.pk)
    agent_ws = await agent_socket(agent)

    frames = await say_hello(ws, token)
    await ws.send_json_to({"type": "typing", "typing": True})
    await ws.send_json_to({"type": "message", "client_id": "c-2", "text": "Hello again"})
    refusal = await ws.receive_json_from(timeout=10)

    assert frames[-1] == {"type": "state", "state": "ended"}
    assert (refusal["type"], refusal["code"]) == ("error", "chat_ended")
    assert not [f for f in await _drain(agent_ws) if f["type"] == "typing"]
    await ws.disconnect()
    await agent_ws.disconnect()


async def _drain(ws) -> list[dict]:
    frames = []
    while not await ws.receive_nothing(timeout=0.2):
        frames.append(await ws.receive_json_from())
    return frames
