"""The agent's socket: only a logged-in member gets in; bad frames get an error and store nothing."""

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from contactcentre.asgi import application
from contactcentre.models import Membership
from tests import factories
from tests.webchat_support import agent_socket, connected_chat, next_frame
from webchat import agent_socket as agent_socket_module
from webchat.models import Message

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def conversation(company, agent):
    queue = factories.WebchatQueueFactory(company=company, auto_allocate=False)
    return connected_chat(queue, agent)


async def test_a_visitor_without_a_session_is_turned_away():
    ws = WebsocketCommunicator(application, "/ws/agent/")
    connected, code = await ws.connect()

    assert not connected
    assert code == 4401
    # The refused consumer still waits for the disconnect; without it the test's loop never winds down.
    await ws.disconnect()


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        "[1, 2]",
        "[" * 5000 + "]" * 5000,
        '{"type": "message", "chat_id": "x", "client_id": "c1"}',
        '{"type": "message", "client_id": "c1", "text": "hi"}',
        '{"type": "dance"}',
    ],
)
async def test_a_bad_frame_gets_an_error_and_the_socket_stays_open(conversation, agent, frame):
    ws = await agent_socket(agent)

    await ws.send_to(text_data=frame)

    error = await next_frame(ws, lambda f: f["type"] == "error")
    assert error["code"] == "invalid"
    await ws.send_json_to({"type": "heartbeat"})
    assert await ws.receive_nothing(timeout=0.2)
    await ws.disconnect()


@pytest.mark.parametrize("text", ["nul \x00 byte", "lone \ud800 surrogate", "   "])
async def test_text_the_database_cannot_store_is_refused_and_nothing_is_stored(conversation, agent, text):
    chat, _ = conversation
    ws = await agent_socket(agent)

    await ws.send_json_to({"type": "message", "chat_id": str(chat.pk), "client_id": "a-1", "text": text})

    error = await next_frame(ws, lambda f: f["type"] == "error")
    assert error["code"] == "invalid"
    assert not await database_sync_to_async(Message.objects.filter(client_id="a-1").exists)()
    await ws.disconnect()


async def test_another_agents_chat_cannot_be_written_to(conversation, company):
    chat, _ = conversation
    colleague = await database_sync_to_async(factories.MembershipFactory)(company=company)
    ws = await agent_socket(colleague)

    await ws.send_json_to({"type": "message", "chat_id": str(chat.pk), "client_id": "a-1", "text": "Hi"})

    error = await next_frame(ws, lambda f: f["type"] == "error")
    assert error["code"] == "not_yours"
    assert not await database_sync_to_async(Message.objects.filter(client_id="a-1").exists)()
    await ws.disconnect()


async def test_a_reply_is_a_sign_of_life_and_carries_the_agents_name(conversation, agent, monkeypatch):
    chat, _ = conversation
    ws = await agent_socket(agent)
    long_ago = timezone.now() - timedelta(hours=1)
    await database_sync_to_async(Membership.objects.filter(pk=agent.pk).update)(last_seen_at=long_ago)
    monkeypatch.setattr(agent_socket_module, "SEEN_WRITE_SECONDS", 0)

    await ws.send_json_to({"type": "message", "chat_id": str(chat.pk), "client_id": "a-1", "text": "Hello"})

    frames = {}
    while {"message", "ack"} - frames.keys():
        frame = await next_frame(ws, lambda f: f["type"] in {"message", "ack"})
        frames[frame["type"]] = frame
    assert frames["message"]["agent_name"] == agent.name
    assert frames["ack"]["seq"] == frames["message"]["seq"]
    agent_now = await database_sync_to_async(Membership.objects.get)(pk=agent.pk)
    assert agent_now.last_seen_at > long_ago + timedelta(minutes=59)
    await ws.disconnect()
