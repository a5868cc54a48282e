"""Helpers for the customer chat's tests: the API, the customer's socket and the agent's socket."""

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Callable, Iterator

from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from contactcentre.asgi import application
from contactcentre.models import Membership
from routing import engine
from webchat.models import Chat
from webchat.tokens import customer_token_for

API = "/api/webchat/v1"
TIMEOUT = 10
agent_socket_log = logging.getLogger("webchat.agent_socket")


def open_chat(client: Client, *, headers: dict | None = None, **body):
    return client.post(f"{API}/chats", body, content_type="application/json", headers=headers)


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def post_message(client: Client, chat_id, token: str, *, client_id: str, text: str, headers=None):
    return client.post(
        f"{API}/chats/{chat_id}/messages",
        {"client_id": client_id, "text": text},
        content_type="application/json",
        headers={**bearer(token), **(headers or {})},
    )


def connected_chat(queue, agent: Membership, name: str = "Grace") -> tuple[Chat, str]:
    """A chat opened by a customer, taken and made active by the agent; and the customer's token."""
    chat = engine.chat_open(queue_token=queue.token, customer_name=name).chat
    engine.chat_take(agent=agent, chat_id=chat.pk)
    engine.chat_activate(agent=agent, chat_id=chat.pk)
    return chat, customer_token_for(chat_id=chat.pk)


async def customer_socket(chat_id, *, origin: str | None = None) -> WebsocketCommunicator:
    headers = [(b"host", b"testserver")]
    if origin:
        headers.append((b"origin", origin.encode()))
    communicator = WebsocketCommunicator(application, f"/ws/webchat/{chat_id}/", headers=headers)
    connected, _ = await communicator.connect(timeout=TIMEOUT)
    assert connected
    return communicator


async def say_hello(communicator: WebsocketCommunicator, token: str, after_seq: int = 0) -> list[dict]:
    """Say hello and return what the server sends back: the missed messages, then the state."""
    await communicator.send_json_to({"type": "hello", "customer_token": token, "after_seq": after_seq})
    return await frames_until(communicator, lambda frame: frame["type"] == "state")


async def agent_socket(agent: Membership) -> WebsocketCommunicator:
    """The agent's socket, once it has joined its groups: what is sent to them from then on reaches it.

    The socket accepts first and joins the agent's groups after (a read of the database, a subscription in
    Redis); a frame sent to the agent in between never reaches this socket, as it would not reach a browser
    still connecting. The socket says it is open, in its log, when it has joined them all.
    """
    cookie = await database_sync_to_async(signed_in_cookie)(agent)
    communicator = WebsocketCommunicator(
        application, "/ws/agent/", headers=[(b"host", b"testserver"), (b"cookie", cookie.encode())]
    )
    with _agent_socket_opened(agent) as opened:
        connected, _ = await communicator.connect(timeout=TIMEOUT)
        assert connected
        await asyncio.wait_for(opened.wait(), TIMEOUT)
    return communicator


@contextlib.contextmanager
def _agent_socket_opened(agent: Membership) -> Iterator[asyncio.Event]:
    """An event set when the agent socket's log says that a socket of `agent` is open."""
    opened = asyncio.Event()

    class Opened(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.msg == "agent socket opened" and getattr(record, "agent_id", None) == agent.pk:
                opened.set()

    handler = Opened(level=logging.INFO)
    level = agent_socket_log.level
    agent_socket_log.addHandler(handler)
    agent_socket_log.setLevel(logging.INFO)
    try:
        yield opened
    finally:
        agent_socket_log.removeHandler(handler)
        agent_socket_log.setLevel(level)


def session_cookie(client: Client) -> str:
    """The Cookie header that carries the signed-in test client's session to a socket."""
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def signed_in_cookie(agent: Membership) -> str:
    client = Client()
    client.force_login(agent.user)
    return session_cookie(client)


async def frames_until(communicator: WebsocketCommunicator, wanted: Callable[[dict], bool]) -> list[dict]:
    """Every frame received up to and including the first one that is `wanted`."""
    frames = []
    while True:
        frames.append(json.loads(await communicator.receive_from(timeout=TIMEOUT)))
        if wanted(frames[-1]):
            return frames


async def next_frame(communicator: WebsocketCommunicator, wanted: Callable[[dict], bool]) -> dict:
    """The first `wanted` frame, skipping the others (an agent's socket also hears inbox and queue news)."""
    return (await frames_until(communicator, wanted))[-1]


async def closed_with(communicator: WebsocketCommunicator) -> int:
    """The close code the server sent; the socket is then disconnected, so that its consumer ends before
    the test's event loop does (a consumer still waiting on the channel layer can hold up the loop's end)."""
    output = await communicator.receive_output(timeout=TIMEOUT)
    assert output["type"] == "websocket.close", output
    await communicator.disconnect()
    return output["code"]


def customer_says(chat, text: str):
    """The customer's message in the chat, posted through the engine."""
    message, _ = engine.message_post_customer(chat_id=chat.pk, client_id=str(uuid.uuid4()), text=text)
    return message
