"""Tenant isolation on the WebSocket routes (the HTTP routes are in test_isolation_matrix).

On the customer's chat socket, Brightside's chat and a colleague's chat stay closed to every Acme member
and to anonymous visitors (no token, another chat's token, a web site the queue does not allow). On the
agent socket, anonymous is closed with 4401, and an Acme member can neither write to those chats nor hear
anything that happens in them. Every route of the WebSocket routing must have a case here.
"""

import json
from collections.abc import Callable

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from contactcentre.asgi import application
from contactcentre.routing import websocket_urlpatterns
from routing import engine
from tests.security.world import ACTORS, B_SECRET, World, build
from tests.webchat_support import session_cookie
from webchat.models import Message

pytestmark = pytest.mark.django_db(transaction=True)


def websocket_routes() -> list[str]:
    return [str(pattern.pattern) for pattern in websocket_urlpatterns]


TIMEOUT = 5


async def _socket(path: str, world: World, actor: str, origin: str | None = None) -> WebsocketCommunicator:
    headers = [(b"host", b"testserver")]
    if actor != "anonymous":
        cookie = await database_sync_to_async(lambda: session_cookie(world.client(actor)))()
        headers.append((b"cookie", cookie.encode()))
    if origin:
        headers.append((b"origin", origin.encode()))
    return WebsocketCommunicator(application, path, headers=headers)


async def _close_code(communicator: WebsocketCommunicator) -> int | None:
    connected, code = await communicator.connect(timeout=TIMEOUT)
    if not connected:
        return code
    output = await communicator.receive_output(timeout=TIMEOUT)
    assert output["type"] == "websocket.close", output
    return output["code"]


async def _customer_socket_case(world: World, actor: str) -> list[str]:
    """Brightside's chat, with no token, with an Acme chat's token, from a web site it does not allow."""
    problems = []
    b_chat = world.b_objects["chat"]
    path = f"/ws/webchat/{b_chat.pk}/"
    for hello in ({"type": "hello"}, {"type": "hello", "customer_token": world.a_token}):
        ws = await _socket(path, world, actor)
        assert (await ws.connect(timeout=TIMEOUT))[0]
        await ws.send_json_to({**hello, "after_seq": 0})
        output = await ws.receive_output(timeout=TIMEOUT)
        if output.get("type") != "websocket.close" or output.get("code") != 4401:
            problems.append(f"{actor}: hello {hello} on Brightside's chat answered {output}")
        await ws.disconnect()
    ws = await _socket(path, world, actor, origin="https://acme.example")
    if (code := await _close_code(ws)) != 4403:
        problems.append(f"{actor}: a socket from a web site Brightside does not allow closed with {code}")
    await ws.disconnect()
    ws = await _socket(f"/ws/webchat/{world.colleague_chat.pk}/", world, actor)
    assert (await ws.connect(timeout=TIMEOUT))[0]
    await ws.send_json_to({"type": "hello", "customer_token": world.a_token, "after_seq": 0})
    output = await ws.receive_output(timeout=TIMEOUT)
    if output.get("code") != 4401:
        problems.append(f"{actor}: another chat's token opened the colleague's chat: {output}")
    await ws.disconnect()
    return problems


async def _agent_socket_case(world: World, actor: str) -> list[str]:
    """Anonymous is closed with 4401; an Acme member's socket hears nothing of Brightside or of the
    colleague's chat, and cannot write to either."""
    ws = await _socket("/ws/agent/", world, actor)
    if actor == "anonymous":
        code = await _close_code(ws)
        await ws.disconnect()
        return [] if code == 4401 else [f"anonymous agent socket closed with {code}"]
    problems = []
    assert (await ws.connect(timeout=TIMEOUT))[0]
    for chat in (world.b_objects["chat"], world.colleague_chat):
        await ws.send_json_to(
            {"type": "message", "chat_id": str(chat.pk), "client_id": "nosy-1", "text": "Hi"}
        )
        answer = await ws.receive_json_from(timeout=TIMEOUT)
        if answer.get("type") != "error" or answer.get("code") not in ("not_found", "not_yours"):
            problems.append(f"{actor}: a message to chat {chat.pk} was answered {answer}")
        await ws.send_json_to({"type": "typing", "chat_id": str(chat.pk), "typing": True})
    # What happens in Brightside's chat and in the colleague's must not reach this socket.
    b = world.b_objects
    await database_sync_to_async(engine.message_post_customer)(
        chat_id=b["chat"].pk, client_id="b-2", text="Psst"
    )
    await database_sync_to_async(engine.message_post_customer)(
        chat_id=world.colleague_chat.pk, client_id=f"cc-{actor}", text="Psst"
    )
    await database_sync_to_async(engine.chat_open)(queue_token=b["webchatqueue"].token, customer_name="New")
    while not await ws.receive_nothing(timeout=0.3):
        frame = await ws.receive_json_from(timeout=TIMEOUT)
        if str(frame.get("chat_id")) in (
            str(b["chat"].pk),
            str(world.colleague_chat.pk),
        ) or B_SECRET in json.dumps(frame):
            problems.append(f"{actor} heard {frame}")
    await ws.disconnect()
    return problems


SOCKET_CASES: dict[str, Callable] = {
    "ws/webchat/<uuid:chat_id>/": _customer_socket_case,
    "ws/agent/": _agent_socket_case,
}


@pytest.fixture
def socket_world():
    return build()


@pytest.mark.parametrize("route", websocket_routes())
async def test_no_socket_reaches_another_companys_chat_or_a_colleagues(socket_world, route):
    case = SOCKET_CASES.get(route)
    assert case is not None, f"the WebSocket route {route!r} has no case in the isolation matrix"
    from tests.security.test_isolation_matrix import guarded_rows

    before = await database_sync_to_async(guarded_rows)(socket_world)
    problems = []
    for actor in ACTORS:
        problems += await case(socket_world, actor)
    assert not problems, "\n".join(problems)
    after = await database_sync_to_async(guarded_rows)(socket_world)
    changed = {label for label in before if before[label] != after[label]}
    # The socket case itself posts messages in those chats to see that nobody hears them.
    assert changed <= {"webchat.Message", "webchat.Chat"}, changed
    assert await database_sync_to_async(_nothing_from_the_attackers)(socket_world)


def _nothing_from_the_attackers(world: World) -> bool:
    return not Message.objects.filter(client_id="nosy-1").exists()
