"""The customer's chat WebSocket: hello, resume, idempotent sends, refusals and bad frames."""

import logging
import uuid

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from routing import engine, events
from tests.webchat_support import (
    agent_socket,
    closed_with,
    connected_chat,
    customer_socket,
    frames_until,
    next_frame,
    say_hello,
)
from webchat import protocol
from webchat.customer_socket import CustomerChatConsumer
from webchat.models import Message
from webchat.tokens import customer_token_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def manual_queue(manual_queue):
    """The shared queue, on a shop's web site that allows its customers' sockets."""
    manual_queue.allowed_origins = "https://shop.example"
    manual_queue.save(update_fields=["allowed_origins"])
    return manual_queue


@pytest.fixture
def conversation(manual_queue, agent):
    return connected_chat(manual_queue, agent)


@pytest.fixture
def waiting_chat(manual_queue):
    chat = engine.chat_open(queue_token=manual_queue.token, first_message="Hello?", client_id="c-0").chat
    return chat, customer_token_for(chat_id=chat.pk)


def is_type(kind: str):
    return lambda frame: frame["type"] == kind


def stored_texts(chat) -> list[str]:
    return list(Message.objects.filter(chat=chat).order_by("seq").values_list("text", flat=True))


async def test_hello_answers_every_message_then_the_state(waiting_chat, manual_queue):
    chat, token = waiting_chat
    await database_sync_to_async(engine.chat_open)(queue_token=manual_queue.token)
    ws = await customer_socket(chat.pk)

    frames = await say_hello(ws, token)

    assert [frame["type"] for frame in frames] == ["message", "state"]
    assert (frames[0]["seq"], frames[0]["client_id"], frames[0]["text"]) == (1, "c-0", "Hello?")
    assert frames[1] == {"type": "state", "state": "queued", "position": 1}
    await ws.disconnect()


async def test_a_client_that_reconnects_gets_exactly_what_it_missed_in_order(conversation, agent):
    chat, token = conversation
    ws = await customer_socket(chat.pk)
    await say_hello(ws, token)
    await ws.send_json_to({"type": "message", "client_id": "c-1", "text": "one"})
    last_seen = (await next_frame(ws, is_type("ack")))["seq"]
    await ws.disconnect()

    for n in range(3):
        await database_sync_to_async(engine.message_post_agent)(
            agent=agent, chat_id=chat.pk, client_id=f"a-{n}", text=f"missed {n}"
        )
    ws = await customer_socket(chat.pk)
    frames = await say_hello(ws, token, after_seq=last_seen)

    assert [(frame["type"], frame.get("seq"), frame.get("text")) for frame in frames] == [
        ("message", 2, "missed 0"),
        ("message", 3, "missed 1"),
        ("message", 4, "missed 2"),
        ("state", None, None),
    ]
    assert frames[-1] == {"type": "state", "state": "connected", "agent_name": agent.name}
    await ws.disconnect()


async def test_the_same_client_id_twice_is_stored_once_and_acked_with_the_same_seq(waiting_chat):
    chat, token = waiting_chat
    ws = await customer_socket(chat.pk)
    await say_hello(ws, token)

    acks = []
    for _ in range(2):
        await ws.send_json_to({"type": "message", "client_id": "c-1", "text": "only once"})
        acks.append(await next_frame(ws, is_type("ack")))

    assert acks == [{"type": "ack", "client_id": "c-1", "seq": 2}] * 2
    assert await database_sync_to_async(stored_texts)(chat) == ["Hello?", "only once"]
    await ws.disconnect()


@pytest.mark.parametrize("token", ["", "garbage", None, 42])
async def test_a_bad_token_closes_the_socket_with_4401(waiting_chat, token):
    chat, _ = waiting_chat
    ws = await customer_socket(chat.pk)

    await ws.send_json_to({"type": "hello", "customer_token": token, "after_seq": 0})

    assert await closed_with(ws) == 4401


async def test_another_chats_token_closes_the_socket_with_4401(waiting_chat, manual_queue):
    chat, _ = waiting_chat
    other = await database_sync_to_async(engine.chat_open)(queue_token=manual_queue.token)
    ws = await customer_socket(chat.pk)

    await ws.send_json_to({"type": "hello", "customer_token": customer_token_for(chat_id=other.chat.pk)})

    assert await closed_with(ws) == 4401


async def test_an_unknown_chat_closes_the_socket_with_4401():
    ws = await customer_socket(uuid.uuid4())

    assert await closed_with(ws) == 4401


async def test_a_socket_that_never_says_hello_is_closed(waiting_chat, monkeypatch):
    chat, _ = waiting_chat
    monkeypatch.setattr(CustomerChatConsumer, "hello_timeout_seconds", 0.05)
    ws = await customer_socket(chat.pk)

    assert await closed_with(ws) == 4401


async def test_a_foreign_origin_is_closed_with_4403_and_a_listed_one_is_served(waiting_chat):
    chat, token = waiting_chat

    foreign = await customer_socket(chat.pk, origin="https://evil.example")
    assert await closed_with(foreign) == 4403

    for origin in ("https://shop.example", "http://testserver", None):
        ws = await customer_socket(chat.pk, origin=origin)
        assert (await say_hello(ws, token))[-1]["type"] == "state"
        await ws.disconnect()


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        "[1, 2]",
        '{"type": "shout"}',
        '{"type": "message"}',
        '{"type": "message", "client_id": "c-9"}',
        '{"type": "message", "client_id": "c-9", "text": "   "}',
        '{"type": "message", "client_id": "c-9", "text": "nul \\u0000"}',
        '{"type": "message", "client_id": 9, "text": "hi"}',
        '{"type": "typing", "typing": "yes"}',
        '{"type": "hello", "customer_token": "again"}',
    ],
)
async def test_a_malformed_frame_gets_an_error_and_the_socket_stays_open(waiting_chat, frame):
    chat, token = waiting_chat
    ws = await customer_socket(chat.pk)
    await say_hello(ws, token)

    await ws.send_to(text_data=frame)
    error = await next_frame(ws, is_type("error"))
    await ws.send_json_to({"type": "message", "client_id": "c-1", "text": "still here"})

    assert error["code"] == "invalid"
    assert (await next_frame(ws, is_type("ack")))["client_id"] == "c-1"
    assert await database_sync_to_async(stored_texts)(chat) == ["Hello?", "still here"]
    await ws.disconnect()


async def test_frames_before_hello_get_an_error_until_hello(waiting_chat):
    chat, token = waiting_chat
    ws = await customer_socket(chat.pk)

    await ws.send_json_to({"type": "message", "client_id": "c-1", "text": "too early"})
    error = await next_frame(ws, is_type("error"))
    frames = await say_hello(ws, token)

    assert (error["code"], error["client_id"]) == ("invalid", "c-1")
    assert frames[-1]["type"] == "state"
    assert await database_sync_to_async(stored_texts)(chat) == ["Hello?"]
    await ws.disconnect()


async def test_an_oversize_message_gets_a_too_long_error_and_is_not_stored(waiting_chat, settings):
    chat, token = waiting_chat
    ws = await customer_socket(chat.pk)
    await say_hello(ws, token)

    await ws.send_json_to(
        {"type": "message", "client_id": "c-1", "text": "x" * (settings.WEBCHAT_MAX_MESSAGE_CHARS + 1)}
    )

    error = await next_frame(ws, is_type("error"))
    assert (error["code"], error["client_id"]) == ("too_long", "c-1")
    assert await database_sync_to_async(stored_texts)(chat) == ["Hello?"]
    await ws.disconnect()


async def test_a_flood_of_messages_gets_rate_limited_errors_and_is_not_stored(clock, waiting_chat, settings):
    # The clock stands still: the flood stays within one of the limit's ten-second windows.
    settings.WEBCHAT_RATE_PER_CHAT = 2
    chat, token = waiting_chat
    ws = await customer_socket(chat.pk)
    await say_hello(ws, token)

    answers = []
    for n in range(3):
        await ws.send_json_to({"type": "message", "client_id": f"spam-{n}", "text": "spam"})
        answers.append(await next_frame(ws, lambda frame: frame["type"] in ("ack", "error")))

    assert [(a["type"], a.get("code"), a["client_id"]) for a in answers] == [
        ("ack", None, "spam-0"),
        ("ack", None, "spam-1"),
        ("error", "rate_limited", "spam-2"),
    ]
    assert await database_sync_to_async(stored_texts)(chat) == ["Hello?", "spam", "spam"]
    await ws.disconnect()


async def test_the_customer_ends_the_chat_and_later_messages_are_refused(waiting_chat):
    chat, token = waiting_chat
    ws = await customer_socket(chat.pk)
    await say_hello(ws, token)

    await ws.send_json_to({"type": "end"})
    assert await next_frame(ws, is_type("state")) == {"type": "state", "state": "ended"}
    await ws.send_json_to({"type": "message", "client_id": "c-late", "text": "wait"})
    error = await next_frame(ws, is_type("error"))

    assert (error["code"], error["client_id"]) == ("chat_ended", "c-late")
    assert "wait" not in await database_sync_to_async(stored_texts)(chat)
    await ws.disconnect()


async def test_the_customer_hears_the_agent_take_the_chat(waiting_chat, agent):
    chat, token = waiting_chat
    ws = await customer_socket(chat.pk)
    await say_hello(ws, token)

    await database_sync_to_async(engine.chat_take)(agent=agent, chat_id=chat.pk)

    assert await next_frame(ws, is_type("state")) == {
        "type": "state",
        "state": "connected",
        "agent_name": agent.name,
    }
    await ws.disconnect()


async def test_a_hello_on_a_socket_refused_for_its_origin_is_dropped_without_a_server_error(
    waiting_chat, caplog
):
    chat, token = waiting_chat
    ws = await customer_socket(chat.pk, origin="https://evil.example")

    await ws.send_json_to({"type": "hello", "customer_token": token, "after_seq": 0})

    assert await closed_with(ws) == 4403
    assert [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR] == []


async def test_ending_over_the_socket_sends_the_system_message_then_the_ended_state_once(conversation, agent):
    chat, token = conversation
    agents_ws = await agent_socket(agent)
    ws = await customer_socket(chat.pk)
    await say_hello(ws, token)

    await ws.send_json_to({"type": "end"})
    frames = await frames_until(ws, is_type("message"))
    frames += await frames_until(ws, is_type("state"))
    # Sent to the chat after the end's frames, through the same group: whatever the end sent comes before.
    await get_channel_layer().group_send(
        events.chat_group(chat.pk), protocol.relay(protocol.typing_to_customer(False))
    )
    frames += await frames_until(ws, is_type("typing"))
    agent_frames = await frames_until(agents_ws, is_type("chat"))

    assert [(frame["type"], frame.get("sender"), frame.get("state")) for frame in frames] == [
        ("message", "system", None),
        ("state", None, "ended"),
        ("typing", "agent", None),
    ]
    told_agent = [frame for frame in agent_frames if frame["type"] in ("message", "state", "chat")]
    assert [(frame["type"], frame.get("sender"), frame.get("state")) for frame in told_agent] == [
        ("message", "system", None),
        ("chat", None, "wrapup"),
    ]
    await ws.disconnect()
    await agents_ws.disconnect()


async def test_ending_a_chat_that_has_ended_is_answered_with_its_state_alone(conversation):
    chat, token = conversation
    ws = await customer_socket(chat.pk)
    await say_hello(ws, token)
    await ws.send_json_to({"type": "end"})
    await frames_until(ws, is_type("state"))

    await ws.send_json_to({"type": "end"})
    frames = await frames_until(ws, is_type("state"))
    await get_channel_layer().group_send(
        events.chat_group(chat.pk), protocol.relay(protocol.typing_to_customer(False))
    )
    frames += await frames_until(ws, is_type("typing"))

    assert [(frame["type"], frame.get("state")) for frame in frames] == [("state", "ended"), ("typing", None)]
    await ws.disconnect()


async def test_a_client_id_sent_again_with_another_text_gets_an_error_and_the_socket_stays_open(
    waiting_chat,
):
    chat, token = waiting_chat
    ws = await customer_socket(chat.pk)
    await say_hello(ws, token)
    await ws.send_json_to({"type": "message", "client_id": "c-1", "text": "first"})
    ack = await next_frame(ws, is_type("ack"))

    await ws.send_json_to({"type": "message", "client_id": "c-1", "text": "changed"})
    error = await next_frame(ws, is_type("error"))
    await ws.send_json_to({"type": "message", "client_id": "c-1", "text": "first"})
    again = await next_frame(ws, is_type("ack"))

    assert (error["code"], error["client_id"]) == ("client_id_reused", "c-1")
    assert again == ack
    assert await database_sync_to_async(stored_texts)(chat) == ["Hello?", "first"]
    await ws.disconnect()


async def test_the_customer_hears_when_the_agent_opens_an_allocated_chat(queue, agent):
    chat = await database_sync_to_async(
        lambda: engine.chat_open(queue_token=queue.token, first_message="Hello?", client_id="c-0").chat
    )()
    ws = await customer_socket(chat.pk)
    frames = await say_hello(ws, customer_token_for(chat_id=chat.pk))
    assert frames[-1] == {
        "type": "state",
        "state": "connected",
        "agent_name": agent.name,
        "agent_joined": False,
    }

    await database_sync_to_async(engine.chat_mark_seen)(agent=agent, chat_id=chat.pk)

    # The opening's own state frame may still be on its way after the hello's: the next different one.
    assert await next_frame(ws, lambda frame: frame["type"] == "state" and frame != frames[-1]) == {
        "type": "state",
        "state": "connected",
        "agent_name": agent.name,
    }
    await ws.disconnect()
