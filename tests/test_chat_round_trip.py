"""A conversation between the customer's socket and the agent's socket: messages, acks and typing."""

import pytest
from channels.db import database_sync_to_async

from tests import factories
from tests.webchat_support import agent_socket, connected_chat, customer_socket, next_frame, say_hello
from webchat.models import Message

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def conversation(company, agent):
    queue = factories.WebchatQueueFactory(company=company, auto_allocate=False)
    return connected_chat(queue, agent)


def is_type(kind: str):
    return lambda frame: frame["type"] == kind


async def test_a_message_goes_from_customer_to_agent_and_a_reply_comes_back(conversation, agent):
    chat, token = conversation
    agent_ws = await agent_socket(agent)
    customer_ws = await customer_socket(chat.pk)
    await say_hello(customer_ws, token)

    await customer_ws.send_json_to({"type": "message", "client_id": "c-1", "text": "Where is my order?"})
    assert await next_frame(customer_ws, is_type("ack")) == {"type": "ack", "client_id": "c-1", "seq": 1}
    heard = await next_frame(agent_ws, is_type("message"))
    assert (heard["chat_id"], heard["seq"], heard["sender"], heard["text"]) == (
        str(chat.pk),
        1,
        "customer",
        "Where is my order?",
    )

    await agent_ws.send_json_to(
        {"type": "message", "chat_id": str(chat.pk), "client_id": "a-1", "text": "On its way"}
    )
    assert (await next_frame(agent_ws, is_type("ack")))["seq"] == 2
    reply = await next_frame(customer_ws, lambda frame: frame["type"] == "message" and frame["seq"] == 2)
    assert reply == {
        "type": "message",
        "seq": 2,
        "client_id": "a-1",
        "sender": "agent",
        "agent_name": agent.name,
        "text": "On its way",
        "sent_at": reply["sent_at"],
    }

    await customer_ws.disconnect()
    await agent_ws.disconnect()


async def test_typing_is_relayed_both_ways_and_never_stored(conversation, agent):
    chat, token = conversation
    agent_ws = await agent_socket(agent)
    customer_ws = await customer_socket(chat.pk)
    await say_hello(customer_ws, token)

    await customer_ws.send_json_to({"type": "typing", "typing": True})
    assert await next_frame(agent_ws, is_type("typing")) == {
        "type": "typing",
        "chat_id": str(chat.pk),
        "sender": "customer",
        "typing": True,
    }
    await customer_ws.send_json_to({"type": "typing", "typing": False})
    assert (await next_frame(agent_ws, is_type("typing")))["typing"] is False

    await agent_ws.send_json_to({"type": "typing", "chat_id": str(chat.pk), "typing": True})
    assert await next_frame(customer_ws, is_type("typing")) == {
        "type": "typing",
        "sender": "agent",
        "typing": True,
    }

    assert not await database_sync_to_async(Message.objects.exists)()
    await customer_ws.disconnect()
    await agent_ws.disconnect()


async def test_typing_starts_are_throttled_but_stops_always_pass(conversation, agent):
    chat, token = conversation
    agent_ws = await agent_socket(agent)
    customer_ws = await customer_socket(chat.pk)
    await say_hello(customer_ws, token)

    for typing in (True, True, True, False):
        await customer_ws.send_json_to({"type": "typing", "typing": typing})
    await customer_ws.send_json_to({"type": "message", "client_id": "c-1", "text": "done"})

    heard = []
    while not heard or heard[-1]["type"] != "message":
        heard.append(await next_frame(agent_ws, lambda frame: frame["type"] in ("typing", "message")))
    assert [(frame["type"], frame.get("typing")) for frame in heard] == [
        ("typing", True),
        ("typing", False),
        ("message", None),
    ]
    await customer_ws.disconnect()
    await agent_ws.disconnect()
