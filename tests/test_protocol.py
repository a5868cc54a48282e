"""The realtime protocol as published: every frame type of both sockets, made by the real product, matches
its JSON Schema in docs/frames/; the schemas are valid and published as the protocol module holds them; and
what the server reads from clients agrees with what the schemas allow."""

import json
import uuid
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from jsonschema import Draft202012Validator

from routing import engine
from runtime.refusals import Refused
from tests import factories
from tests.frame_schemas import frame_problem
from tests.webchat_support import (
    agent_socket,
    connected_chat,
    customer_says,
    customer_socket,
    next_frame,
    post_message,
    say_hello,
)
from webchat import protocol
from webchat.tokens import customer_token_for

pytestmark = pytest.mark.django_db(transaction=True)

CUSTOMER, AGENT, TO_CLIENT, TO_SERVER = (
    protocol.CUSTOMER,
    protocol.AGENT,
    protocol.TO_CLIENT,
    protocol.TO_SERVER,
)


@pytest.mark.parametrize("key", sorted(protocol.SCHEMAS), ids="/".join)
def test_every_schema_is_a_valid_json_schema(key):
    Draft202012Validator.check_schema(protocol.schema_document(key))


def test_the_published_schemas_are_the_protocol_modules():
    call_command("frame_schemas", "--check")


# --- Every frame the server sends, made by the product ------------------------------------------------------


@pytest.fixture
def world(company, agent):
    """An agent holding an active chat of a manual queue, with a customer who has said hello."""
    queue = factories.WebchatQueueFactory(company=company, auto_allocate=False, reply_alert_seconds=60)
    chat, token = connected_chat(queue, agent)
    return {"company": company, "agent": agent, "queue": queue, "chat": chat, "token": token}


async def _customer(world) -> object:
    ws = await customer_socket(world["chat"].pk)
    await say_hello(ws, world["token"])
    return ws


async def _customer_message(world):
    ws = await _customer(world)
    await database_sync_to_async(engine.message_post_agent)(
        agent=world["agent"], chat_id=world["chat"].pk, client_id="a-1", text="Hello Grace"
    )
    return ws, await next_frame(ws, lambda f: f["type"] == "message" and f["sender"] == "agent")


async def _customer_ack(world):
    ws = await _customer(world)
    await ws.send_json_to({"type": "message", "client_id": "c-1", "text": "Where is my order?"})
    return ws, await next_frame(ws, lambda f: f["type"] == "ack")


async def _customer_typing(world):
    ws = await _customer(world)
    agent_ws = await agent_socket(world["agent"])
    await agent_ws.send_json_to({"type": "typing", "chat_id": str(world["chat"].pk), "typing": True})
    frame = await next_frame(ws, lambda f: f["type"] == "typing")
    await agent_ws.disconnect()
    return ws, frame


async def _customer_state(world):
    # Queued (with the place), connected (with the agent's name), and ended: each a state frame.
    waiting = await database_sync_to_async(engine.chat_open)(
        queue_token=world["queue"].token, customer_name="Ann"
    )
    queued_ws = await customer_socket(waiting.chat.pk)
    queued = (
        await say_hello(queued_ws, await database_sync_to_async(customer_token_for)(chat_id=waiting.chat.pk))
    )[-1]
    await queued_ws.disconnect()
    ws = await customer_socket(world["chat"].pk)
    connected = (await say_hello(ws, world["token"]))[-1]
    await ws.send_json_to({"type": "end"})
    ended = await next_frame(ws, lambda f: f["type"] == "state" and f["state"] == "ended")
    assert [queued["state"], connected["state"], ended["state"]] == ["queued", "connected", "ended"]
    return ws, [queued, connected, ended]


async def _customer_error(world):
    ws = await _customer(world)
    await ws.send_json_to({"type": "message", "client_id": "system-1", "text": "Hi"})
    return ws, await next_frame(ws, lambda f: f["type"] == "error")


async def _agent(world) -> object:
    return await agent_socket(world["agent"])


async def _agent_inbox(world):
    ws = await _agent(world)
    await database_sync_to_async(engine.chat_park)(agent=world["agent"], chat_id=world["chat"].pk)
    return ws, await next_frame(ws, lambda f: f["type"] == "inbox")


async def _agent_chat(world):
    ws = await _agent(world)
    await database_sync_to_async(engine.chat_park)(agent=world["agent"], chat_id=world["chat"].pk)
    return ws, await next_frame(ws, lambda f: f["type"] == "chat")


async def _agent_bell(world):
    colleague = await database_sync_to_async(factories.MembershipFactory)(company=world["company"])
    auto = await database_sync_to_async(factories.WebchatQueueFactory)(
        company=world["company"], auto_allocate=True
    )
    ws = await agent_socket(colleague)
    await database_sync_to_async(engine.chat_open)(queue_token=auto.token, customer_name="Bea")
    return ws, await next_frame(ws, lambda f: f["type"] == "bell")


async def _agent_alert(world):
    ws = await _agent(world)
    await database_sync_to_async(customer_says)(world["chat"], "Anyone there?")
    later = timezone.now() + timedelta(seconds=61)
    await database_sync_to_async(engine.flag_reply_alerts)(now=later)
    return ws, await next_frame(ws, lambda f: f["type"] == "alert")


async def _agent_presence(world):
    ws = await _agent(world)
    await database_sync_to_async(engine.agent_set_presence)(agent=world["agent"], presence="break")
    return ws, await next_frame(ws, lambda f: f["type"] == "presence")


def _ringing(world):
    voice = factories.VoiceQueueFactory(company=world["company"])
    colleague = factories.MembershipFactory(company=world["company"], can_voice=True)
    colleague.voice_queues.add(voice)
    return voice, colleague


async def _agent_call(world):
    voice, colleague = await database_sync_to_async(_ringing)(world)
    ws = await agent_socket(colleague)
    await database_sync_to_async(engine.call_arrived)(
        company_id=world["company"].pk, pbx_call_id=f"pbx-{uuid.uuid4()}", queue_slug=voice.slug
    )
    return ws, await next_frame(ws, lambda f: f["type"] == "call")


async def _agent_queue(world):
    ws = await _agent(world)
    await database_sync_to_async(engine.chat_open)(queue_token=world["queue"].token, customer_name="Cy")
    return ws, await next_frame(ws, lambda f: f["type"] == "queue")


async def _agent_wallboard(world):
    supervisor = await database_sync_to_async(factories.MembershipFactory)(
        company=world["company"], role="supervisor"
    )
    ws = await agent_socket(supervisor)
    await database_sync_to_async(engine.agent_set_presence)(agent=world["agent"], presence="break")
    return ws, await next_frame(ws, lambda f: f["type"] == "wallboard")


def _new_profile(agent) -> None:
    """The agent is given another queue profile (as an administrator does in the admin)."""
    agent.queue_profile = factories.QueueProfileFactory(company=agent.company, all_queues=False)
    agent.save()


async def _agent_queues(world):
    ws = await _agent(world)
    await database_sync_to_async(_new_profile)(world["agent"])
    return ws, await next_frame(ws, lambda f: f["type"] == "queues")


async def _agent_message(world):
    ws = await _agent(world)
    await database_sync_to_async(customer_says)(world["chat"], "Where is my order?")
    return ws, await next_frame(ws, lambda f: f["type"] == "message")


async def _agent_typing(world):
    ws = await _agent(world)
    customer_ws = await _customer(world)
    await customer_ws.send_json_to({"type": "typing", "typing": True})
    frame = await next_frame(ws, lambda f: f["type"] == "typing")
    await customer_ws.disconnect()
    return ws, frame


async def _agent_ack(world):
    ws = await _agent(world)
    await ws.send_json_to(
        {"type": "message", "chat_id": str(world["chat"].pk), "client_id": "a-1", "text": "Hi"}
    )
    return ws, await next_frame(ws, lambda f: f["type"] == "ack")


async def _agent_error(world):
    ws = await _agent(world)
    await ws.send_json_to(
        {"type": "message", "chat_id": str(world["chat"].pk), "client_id": "open-1", "text": "Hi"}
    )
    return ws, await next_frame(ws, lambda f: f["type"] == "error")


SENT = {
    (CUSTOMER, TO_CLIENT, "message"): _customer_message,
    (CUSTOMER, TO_CLIENT, "ack"): _customer_ack,
    (CUSTOMER, TO_CLIENT, "typing"): _customer_typing,
    (CUSTOMER, TO_CLIENT, "state"): _customer_state,
    (CUSTOMER, TO_CLIENT, "error"): _customer_error,
    (AGENT, TO_CLIENT, "inbox"): _agent_inbox,
    (AGENT, TO_CLIENT, "chat"): _agent_chat,
    (AGENT, TO_CLIENT, "bell"): _agent_bell,
    (AGENT, TO_CLIENT, "alert"): _agent_alert,
    (AGENT, TO_CLIENT, "presence"): _agent_presence,
    (AGENT, TO_CLIENT, "call"): _agent_call,
    (AGENT, TO_CLIENT, "queue"): _agent_queue,
    (AGENT, TO_CLIENT, "wallboard"): _agent_wallboard,
    (AGENT, TO_CLIENT, "queues"): _agent_queues,
    (AGENT, TO_CLIENT, "message"): _agent_message,
    (AGENT, TO_CLIENT, "typing"): _agent_typing,
    (AGENT, TO_CLIENT, "ack"): _agent_ack,
    (AGENT, TO_CLIENT, "error"): _agent_error,
}


def test_every_frame_the_server_sends_has_a_case_here():
    assert sorted(SENT) == sorted(key for key in protocol.SCHEMAS if key[1] == TO_CLIENT)


@pytest.mark.parametrize("key", sorted(SENT), ids="/".join)
async def test_each_frame_the_server_sends_matches_its_schema(world, key):
    socket, direction, kind = key
    ws, made = await SENT[key](world)
    try:
        for frame in made if isinstance(made, list) else [made]:
            assert frame["type"] == kind
            assert frame_problem(socket, direction, frame) is None
    finally:
        await ws.disconnect()


# --- What clients send: the server reads what the schemas allow, and refuses what they refuse ---------------

CHAT = str(uuid.uuid4())
READ = {
    (CUSTOMER, TO_SERVER, "hello"): (
        protocol.read_hello,
        [
            {"type": "hello", "customer_token": "t0k3n", "after_seq": 0},
            {"type": "hello", "customer_token": "t"},
        ],
        [
            {"type": "hello", "customer_token": "t", "after_seq": -1},
            {"type": "hello", "customer_token": "t", "after_seq": "3"},
            {"type": "hello", "customer_token": "t", "after_seq": True},
            {"type": "hello", "customer_token": "t", "after_seq": 2**31},
        ],
    ),
    (CUSTOMER, TO_SERVER, "message"): (
        protocol.read_customer_message,
        [{"type": "message", "client_id": str(uuid.uuid4()), "text": "Where is my order?"}],
        [
            {"type": "message", "text": "no id"},
            {"type": "message", "client_id": "", "text": "empty id"},
            {"type": "message", "client_id": "c" * 65, "text": "id too long"},
            {"type": "message", "client_id": "system-9", "text": "the server's own id"},
            {"type": "message", "client_id": "Open-abc", "text": "the server's own id, in another case"},
            {"type": "message", "client_id": "c-1"},
            {"type": "message", "client_id": "c-1", "text": ""},
            {"type": "message", "client_id": "c-1", "text": "   "},
            {"type": "message", "client_id": "c-1", "text": 7},
        ],
    ),
    (CUSTOMER, TO_SERVER, "typing"): (
        protocol.read_typing,
        [{"type": "typing", "typing": True}, {"type": "typing", "typing": False}],
        [{"type": "typing"}, {"type": "typing", "typing": "yes"}, {"type": "typing", "typing": 1}],
    ),
    (CUSTOMER, TO_SERVER, "end"): (lambda frame: None, [{"type": "end"}], []),
    (AGENT, TO_SERVER, "heartbeat"): (lambda frame: None, [{"type": "heartbeat"}], []),
    (AGENT, TO_SERVER, "message"): (
        protocol.read_agent_message,
        [{"type": "message", "chat_id": CHAT, "client_id": "a-1", "text": "Hello"}],
        [
            {"type": "message", "client_id": "a-1", "text": "no chat"},
            {"type": "message", "chat_id": 5, "client_id": "a-1", "text": "chat not a string"},
            {"type": "message", "chat_id": CHAT, "client_id": "SYSTEM-1", "text": "the server's own id"},
            {"type": "message", "chat_id": CHAT, "client_id": "a-1", "text": " "},
        ],
    ),
    (AGENT, TO_SERVER, "typing"): (
        protocol.read_agent_typing,
        [{"type": "typing", "chat_id": CHAT, "typing": False}],
        [{"type": "typing", "typing": True}, {"type": "typing", "chat_id": CHAT, "typing": "no"}],
    ),
}


def test_every_frame_a_client_sends_has_a_case_here():
    assert sorted(READ) == sorted(key for key in protocol.SCHEMAS if key[1] == TO_SERVER)


@pytest.mark.parametrize("key", sorted(READ), ids="/".join)
def test_the_server_reads_the_frames_their_schema_allows(key):
    reader, allowed, _ = READ[key]
    for frame in allowed:
        assert frame_problem(key[0], TO_SERVER, frame) is None
        reader(frame)


@pytest.mark.parametrize("key", sorted(READ), ids="/".join)
def test_the_server_refuses_the_frames_their_schema_refuses(key):
    reader, _, refused = READ[key]
    for frame in refused:
        assert frame_problem(key[0], TO_SERVER, frame) is not None, frame
        with pytest.raises(Refused) as refusal:
            reader(frame)
        assert refusal.value.code == "invalid", frame


def test_a_frame_that_is_not_a_json_object_is_refused():
    for text in ("not json", "[1, 2]", '"hello"', "", "[" * 5000 + "]" * 5000):
        with pytest.raises(Refused):
            protocol.read(text)


async def test_a_message_reads_the_same_over_the_socket_and_the_api(world):
    ws = await _customer(world)
    client = Client()
    response = await database_sync_to_async(post_message)(
        client, world["chat"].pk, world["token"], client_id="c-9", text="Same everywhere"
    )
    frame = await next_frame(ws, lambda f: f["type"] == "message")
    await ws.disconnect()

    assert response.status_code == 201
    assert frame == {"type": "message", **response.json()}


def test_the_documented_session_matches_the_schemas():
    """The example session in docs/chat-api.md is what a developer copies: every frame in it is valid."""
    lines = (settings.BASE_DIR / "docs" / "chat-api.md").read_text().splitlines()
    session = [line for line in lines if line.startswith(("→ {", "← {"))]
    assert len(session) > 10
    for line in session:
        direction = TO_SERVER if line.startswith("→") else TO_CLIENT
        assert frame_problem(CUSTOMER, direction, json.loads(line[2:])) is None, line
