"""An agent socket lasts only as long as the session that opened it.

Deactivating an agent, changing their password or signing them out closes their open sockets at once
(through the channel layer, so whichever server process holds them) and logs them out through the engine:
their chats go back to their queues. A session that simply stops being valid (expired, deleted, a close
that was lost) is found at the socket's next sign of life, which is refused. Allocation and call routing
never pick a deactivated user, even one whose logout has not caught up.
"""

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.test import Client

from contactcentre.asgi import application
from contactcentre.models import Membership, Presence
from routing import engine
from tests import factories
from tests.two_factor_support import log_in_verified
from tests.webchat_support import connected_chat, session_cookie
from webchat import agent_socket as agent_socket_module
from webchat.models import Chat, Message

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 10
User = get_user_model()


@pytest.fixture
def conversation(company, agent):
    queue = factories.WebchatQueueFactory(company=company, auto_allocate=False)
    chat, _ = connected_chat(queue, agent)
    return chat


def _signed_in(agent) -> Client:
    client = Client()
    client.force_login(agent.user)
    return client


async def _socket(client: Client) -> WebsocketCommunicator:
    cookie = session_cookie(client)
    ws = WebsocketCommunicator(
        application,
        "/ws/agent/",
        headers=[(b"host", b"testserver"), (b"origin", b"http://testserver"), (b"cookie", cookie.encode())],
    )
    connected, _ = await ws.connect(timeout=TIMEOUT)
    assert connected
    # The consumer finishes opening (its first check of the session) before it answers a frame.
    await ws.send_json_to({"type": "settle"})
    while (await ws.receive_json_from(timeout=TIMEOUT)).get("type") != "error":
        pass
    return ws


async def _close_code(ws: WebsocketCommunicator) -> int:
    """The close code, skipping the frames sent before it."""
    while True:
        output = await ws.receive_output(timeout=TIMEOUT)
        if output["type"] == "websocket.close":
            await ws.disconnect()
            return output["code"]


def _state(chat: Chat) -> tuple[str, int | None]:
    chat = Chat.objects.get(pk=chat.pk)
    return chat.state, chat.agent_id


def _presence(agent: Membership) -> str:
    return Membership.objects.get(pk=agent.pk).presence


def _deactivate(agent: Membership) -> None:
    user = User.objects.get(pk=agent.user_id)
    user.is_active = False
    user.save()


def _change_password(agent: Membership) -> None:
    user = User.objects.get(pk=agent.user_id)
    user.set_password("a-brand-new-password-42")
    user.save()


@pytest.mark.parametrize("change", [_deactivate, _change_password], ids=["deactivated", "new password"])
async def test_the_change_closes_every_open_socket_of_the_agent_and_returns_their_chats(
    conversation, agent, change
):
    first = await _socket(await database_sync_to_async(_signed_in)(agent))
    second = await _socket(await database_sync_to_async(_signed_in)(agent))

    await database_sync_to_async(change)(agent)

    assert await _close_code(first) == 4401
    assert await _close_code(second) == 4401
    assert await database_sync_to_async(_state)(conversation) == ("queued", None)
    assert await database_sync_to_async(_presence)(agent) == Presence.UNAVAILABLE


async def test_a_deactivated_agents_socket_cannot_send_while_it_closes(conversation, agent):
    ws = await _socket(await database_sync_to_async(_signed_in)(agent))
    await database_sync_to_async(_deactivate)(agent)

    await ws.send_json_to(
        {"type": "message", "chat_id": str(conversation.pk), "client_id": "late-1", "text": "Still here?"}
    )

    assert await _close_code(ws) == 4401
    assert not await database_sync_to_async(Message.objects.filter(client_id="late-1").exists)()


async def test_signing_out_closes_the_sockets_of_that_session_only(conversation, agent):
    office = await database_sync_to_async(_signed_in)(agent)
    home = await database_sync_to_async(_signed_in)(agent)
    office_socket = await _socket(office)
    home_socket = await _socket(home)

    await database_sync_to_async(office.post)("/accounts/logout/")

    assert await _close_code(office_socket) == 4401
    assert await database_sync_to_async(_state)(conversation) == ("queued", None)
    # The other session still signs the agent in: its socket stays, and hears that they are Unavailable.
    frames = []
    while not await home_socket.receive_nothing(timeout=0.3):
        frames.append(await home_socket.receive_json_from(timeout=TIMEOUT))
    assert {"type": "presence"} in frames
    await home_socket.send_json_to({"type": "heartbeat"})
    assert await home_socket.receive_nothing(timeout=0.3)
    await home_socket.disconnect()


async def test_signing_out_of_the_admin_logs_the_agent_out_too(company):
    administrator = await database_sync_to_async(factories.MembershipFactory)(
        company=company, role="administrator", user__is_staff=True
    )
    client = await database_sync_to_async(_signed_in)(administrator)
    ws = await _socket(client)

    await database_sync_to_async(client.post)("/admin/logout/")

    assert await _close_code(ws) == 4401
    assert await database_sync_to_async(_presence)(administrator) == Presence.UNAVAILABLE


async def test_a_deleted_session_is_refused_at_the_next_message_and_nothing_is_stored(
    conversation, agent, monkeypatch
):
    ws = await _socket(await database_sync_to_async(_signed_in)(agent))
    monkeypatch.setattr(agent_socket_module, "SEEN_WRITE_SECONDS", 0)
    await database_sync_to_async(Session.objects.all().delete)()

    await ws.send_json_to(
        {"type": "message", "chat_id": str(conversation.pk), "client_id": "gone-1", "text": "Hello"}
    )

    assert await _close_code(ws) == 4401
    assert not await database_sync_to_async(Message.objects.filter(client_id="gone-1").exists)()
    assert await database_sync_to_async(_state)(conversation) == ("queued", None)


async def test_an_expired_session_is_refused_at_the_next_heartbeat(conversation, agent, monkeypatch):
    ws = await _socket(await database_sync_to_async(_signed_in)(agent))
    monkeypatch.setattr(agent_socket_module, "SEEN_WRITE_SECONDS", 0)
    await database_sync_to_async(Session.objects.update)(expire_date="2000-01-01T00:00:00Z")

    await ws.send_json_to({"type": "heartbeat"})

    assert await _close_code(ws) == 4401
    assert await database_sync_to_async(_presence)(agent) == Presence.UNAVAILABLE


async def test_a_deactivation_that_sent_no_signal_is_caught_at_the_next_heartbeat(
    conversation, agent, monkeypatch
):
    ws = await _socket(await database_sync_to_async(_signed_in)(agent))
    monkeypatch.setattr(agent_socket_module, "SEEN_WRITE_SECONDS", 0)
    # A bulk update sends no signal: the socket's own check finds it.
    await database_sync_to_async(User.objects.filter(pk=agent.user_id).update)(is_active=False)

    await ws.send_json_to({"type": "heartbeat"})

    assert await _close_code(ws) == 4401
    assert await database_sync_to_async(_state)(conversation) == ("queued", None)


async def test_a_session_that_ended_after_the_agent_signed_in_again_leaves_the_new_login_alone(
    conversation, agent, monkeypatch
):
    old = await _socket(await database_sync_to_async(_signed_in)(agent))
    monkeypatch.setattr(agent_socket_module, "SEEN_WRITE_SECONDS", 0)
    await database_sync_to_async(Session.objects.all().delete)()
    new_login = await database_sync_to_async(Client)()
    await database_sync_to_async(new_login.post)(
        "/accounts/login/", {"username": agent.user.username, "password": factories.PASSWORD}
    )

    await old.send_json_to({"type": "heartbeat"})

    assert await _close_code(old) == 4401
    assert await database_sync_to_async(_presence)(agent) == Presence.AVAILABLE
    assert await database_sync_to_async(_state)(conversation) == ("active", agent.pk)


# ---------------------------------------------------------------------------------------------------------
# Allocation and call routing


def test_allocation_never_gives_a_chat_to_a_deactivated_user(db, company):
    queue = factories.WebchatQueueFactory(company=company, auto_allocate=True)
    deactivated = factories.MembershipFactory(company=company)
    User.objects.filter(pk=deactivated.user_id).update(is_active=False)

    chat = engine.chat_open(queue_token=queue.token, customer_name="Grace").chat
    assert _state(chat) == ("queued", None)

    active = factories.MembershipFactory(company=company)
    engine.allocate_queue(queue_id=queue.pk)
    assert _state(chat) == ("inbox", active.pk)


def test_a_deactivated_user_does_not_count_as_serving_a_queue(db, company):
    queue = factories.WebchatQueueFactory(company=company, allow_wait_without_agents=False)
    deactivated = factories.MembershipFactory(company=company)
    User.objects.filter(pk=deactivated.user_id).update(is_active=False)

    with pytest.raises(engine.TransitionError) as refusal:
        engine.chat_open(queue_token=queue.token, customer_name="Grace")
    assert refusal.value.code == "no_agents"


def test_a_deactivated_user_cannot_take_a_chat(db, company):
    queue = factories.WebchatQueueFactory(company=company, auto_allocate=False)
    deactivated = factories.MembershipFactory(company=company)
    chat = engine.chat_open(queue_token=queue.token, customer_name="Grace").chat
    User.objects.filter(pk=deactivated.user_id).update(is_active=False)

    with pytest.raises(engine.TransitionError) as refusal:
        engine.chat_take(agent=deactivated, chat_id=chat.pk)
    assert refusal.value.code == "inactive"
    assert _state(chat) == ("queued", None)


def test_call_routing_never_offers_a_call_to_a_deactivated_user(db, company):
    voice_queue = factories.VoiceQueueFactory(company=company, slug="switchboard")
    deactivated = factories.MembershipFactory(company=company, can_voice=True)
    deactivated.voice_queues.add(voice_queue)
    User.objects.filter(pk=deactivated.user_id).update(is_active=False)

    call = engine.call_arrived(company_id=company.pk, pbx_call_id="pbx-1", queue_slug="switchboard")

    assert (call.state, call.agent_id) == ("waiting", None)


def test_deactivating_an_agent_in_the_admin_logs_them_out_and_returns_their_chats(db, company, agent):
    queue = factories.WebchatQueueFactory(company=company, auto_allocate=False)
    chat, _ = connected_chat(queue, agent)
    administrator = factories.MembershipFactory(company=company, role="administrator", user__is_staff=True)
    admin = Client()
    log_in_verified(admin, administrator.user)

    response = admin.post(
        f"/admin/contactcentre/membership/{agent.pk}/change/",
        {
            "username": agent.user.username,
            "password": "",
            "first_name": "",
            "last_name": "",
            "email": "",
            "role": "agent",
            "display_name": "",
            "extension": "",
            "can_webchat": "on",
            "queue_profile": agent.queue_profile_id,
            "_save": "Save",
        },
    )

    assert response.status_code == 302
    assert not User.objects.get(pk=agent.user_id).is_active
    assert _state(chat) == ("queued", None)
    assert _presence(agent) == Presence.UNAVAILABLE
