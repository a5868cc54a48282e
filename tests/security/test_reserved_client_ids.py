"""The client ids of the product's own messages can never be claimed by a client (PROTOCOL.md: refused with
400 `invalid`, never a 500): not through the API, not through either socket, not through the engine; chats
poisoned before that rule are repaired by a data migration; and a database error on the message path is
a documented error, not a 500."""

import importlib

import pytest
from channels.db import database_sync_to_async
from django.apps import apps
from django.db import IntegrityError, connections
from django.test import Client

from routing import engine
from tests import factories
from tests.webchat_support import (
    API,
    agent_socket,
    bearer,
    connected_chat,
    customer_socket,
    next_frame,
    open_chat,
    post_message,
    say_hello,
)
from webchat.models import Chat, Message, Sender
from webchat.tokens import customer_token_valid

rename_migration = importlib.import_module("webchat.migrations.0003_rename_client_ids_in_reserved_namespace")


def reserved_ids(chat: Chat) -> list[str]:
    """The ids the product gives, or may give, its own messages in this chat, in several spellings."""
    return [
        f"system-{chat.pk}-{chat.last_seq + 1}",
        f"system-{chat.pk}-{chat.last_seq + 2}",
        f"SYSTEM-{chat.pk}-{chat.last_seq + 1}",
        "system-anything",
        f"open-{chat.pk}",
    ]


@pytest.fixture
def quiet_client() -> Client:
    return Client(raise_request_exception=False)


@pytest.fixture
def live_chat(db):
    company = factories.CompanyFactory()
    queue = factories.WebchatQueueFactory(company=company, auto_allocate=False)
    agent = factories.MembershipFactory(company=company)
    chat, token = connected_chat(queue, agent)
    return chat, token, agent, queue


def test_a_customer_cannot_send_a_message_under_a_system_messages_id(quiet_client, live_chat):
    chat, token, _, _ = live_chat
    for client_id in reserved_ids(Chat.objects.get(pk=chat.pk)):
        response = post_message(quiet_client, chat.pk, token, client_id=client_id, text="Hello")

        assert response.status_code == 400, client_id
        assert response.json()["error"]["code"] == "invalid"
        assert "system-" in response.json()["error"]["message"]
    assert not Message.objects.filter(chat=chat).exclude(sender=Sender.SYSTEM).exists()


def test_a_chat_cannot_be_opened_with_a_first_message_under_a_reserved_id(quiet_client, db):
    queue = factories.WebchatQueueFactory(auto_allocate=False)
    chats = Chat.objects.count()

    response = open_chat(quiet_client, queue_token=queue.token, message="Hi", client_id="system-x-1")

    assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid")
    assert Chat.objects.count() == chats


def test_the_engine_itself_refuses_reserved_ids_from_either_side(live_chat):
    chat, _, agent, queue = live_chat
    for client_id in reserved_ids(Chat.objects.get(pk=chat.pk)):
        with pytest.raises(engine.TransitionError) as customer_refusal:
            engine.message_post_customer(chat_id=chat.pk, client_id=client_id, text="Hi")
        with pytest.raises(engine.TransitionError) as agent_refusal:
            engine.message_post_agent(agent=agent, chat_id=chat.pk, client_id=client_id, text="Hi")
        with pytest.raises(engine.TransitionError) as opening_refusal:
            engine.chat_open(queue_token=queue.token, first_message="Hi", client_id=client_id)
        for refusal in (customer_refusal, agent_refusal, opening_refusal):
            assert (refusal.value.code, refusal.value.status) == ("invalid", 400)


def test_after_a_refused_claim_the_agent_can_still_end_put_back_and_log_out(quiet_client, live_chat):
    chat, token, agent, queue = live_chat
    for client_id in reserved_ids(Chat.objects.get(pk=chat.pk)):
        post_message(quiet_client, chat.pk, token, client_id=client_id, text="Gotcha")

    engine.chat_put_back(agent=agent, chat_id=chat.pk)
    engine.chat_take(agent=agent, chat_id=chat.pk)
    engine.chat_activate(agent=agent, chat_id=chat.pk)
    other_queue = factories.WebchatQueueFactory(company=queue.company, auto_allocate=False)
    engine.chat_transfer(agent=agent, chat_id=chat.pk, queue_id=other_queue.pk)
    engine.chat_take(agent=agent, chat_id=chat.pk)
    engine.chat_activate(agent=agent, chat_id=chat.pk)
    engine.chat_end(agent=agent, chat_id=chat.pk)
    engine.agent_logout(agent=agent)

    chat.refresh_from_db()
    assert chat.state == "closed"
    # Put back, transfer and end each stored their system message; the logout completed the wrap-up.
    assert Message.objects.filter(chat=chat, sender=Sender.SYSTEM).count() == 3


def test_the_inbox_refuses_a_reply_under_a_reserved_id(live_chat):
    chat, _, agent, _ = live_chat
    client = Client(raise_request_exception=False)
    client.force_login(agent.user)

    response = client.post(
        f"/inbox/{chat.pk}/messages/",
        {"text": "Hi", "client_id": f"system-{chat.pk}-9"},
        headers={"HX-Request": "true"},
    )

    assert response.status_code == 400
    assert not Message.objects.filter(chat=chat, sender=Sender.AGENT).exists()


@pytest.fixture
async def socket_db(transactional_db):
    yield
    await database_sync_to_async(connections.close_all)()


async def test_the_customer_socket_refuses_a_reserved_id_with_an_error_frame(socket_db):
    company = await database_sync_to_async(factories.CompanyFactory)()
    queue = await database_sync_to_async(factories.WebchatQueueFactory)(company=company, auto_allocate=False)
    agent = await database_sync_to_async(factories.MembershipFactory)(company=company)
    chat, token = await database_sync_to_async(connected_chat)(queue, agent)
    ws = await customer_socket(chat.pk)
    await say_hello(ws, token)
    claimed = f"system-{chat.pk}-{chat.last_seq + 1}"

    await ws.send_json_to({"type": "message", "client_id": claimed, "text": "Gotcha"})
    refusal = await next_frame(ws, lambda frame: frame["type"] == "error")
    await ws.send_json_to({"type": "message", "client_id": "c-1", "text": "Still here"})
    ack = await next_frame(ws, lambda frame: frame["type"] == "ack")

    assert (refusal["code"], refusal["client_id"]) == ("invalid", claimed)
    assert ack["client_id"] == "c-1"
    await ws.disconnect()


async def test_the_agent_socket_refuses_a_reserved_id_with_an_error_frame(socket_db):
    company = await database_sync_to_async(factories.CompanyFactory)()
    queue = await database_sync_to_async(factories.WebchatQueueFactory)(company=company, auto_allocate=False)
    agent = await database_sync_to_async(factories.MembershipFactory)(company=company)
    chat, _ = await database_sync_to_async(connected_chat)(queue, agent)
    ws = await agent_socket(agent)

    await ws.send_json_to(
        {"type": "message", "chat_id": str(chat.pk), "client_id": f"system-{chat.pk}-9", "text": "Hi"}
    )
    refusal = await next_frame(ws, lambda frame: frame["type"] == "error")

    assert refusal["code"] == "invalid"
    assert not await database_sync_to_async(Message.objects.filter(sender=Sender.AGENT).exists)()
    await ws.disconnect()


# ---------------------------------------------------------------------------------------------------------
# Chats poisoned before the rule


def poison(chat: Chat, *, seq_ahead: int = 1, sender: str = Sender.CUSTOMER) -> Message:
    """What a customer could store before the rule: a message under the id of the chat's next system
    message (written directly, as the database of an older release may hold it)."""
    chat.refresh_from_db()
    claimed = f"system-{chat.pk}-{chat.last_seq + 1 + seq_ahead}"
    chat.last_seq += 1
    chat.save(update_fields=["last_seq"])
    return Message.objects.create(
        chat=chat, seq=chat.last_seq, client_id=claimed, sender=sender, text="Gotcha", sent_at=chat.created_at
    )


def test_a_poisoned_chat_breaks_the_engine_until_the_migration_renames_the_claimed_id(live_chat):
    chat, _, agent, _ = live_chat
    claimed = poison(chat)
    with pytest.raises(IntegrityError):
        engine.chat_put_back(agent=agent, chat_id=chat.pk)

    rename_migration.rename_claimed_ids(apps, None)
    engine.chat_put_back(agent=agent, chat_id=chat.pk)

    claimed.refresh_from_db()
    assert claimed.client_id == f"system-client-{claimed.seq}"
    assert claimed.text == "Gotcha"
    assert Chat.objects.get(pk=chat.pk).state == "queued"


def test_the_migration_leaves_the_products_own_ids_alone_and_never_meets_the_unique_constraint(live_chat):
    chat, _, _, queue = live_chat
    first = engine.chat_open(queue_token=queue.token, first_message="Hi").first_message
    chat.refresh_from_db()
    system_ids = set(Message.objects.filter(sender=Sender.SYSTEM).values_list("client_id", flat=True))
    poisoned = [poison(chat, seq_ahead=n) for n in (1, 2)]
    # A client message already holding the name the first would be renamed to, under a reserved id itself.
    chat.last_seq += 1
    chat.save(update_fields=["last_seq"])
    squatter = Message.objects.create(
        chat=chat,
        seq=chat.last_seq,
        client_id=f"system-client-{poisoned[0].seq}",
        sender=Sender.CUSTOMER,
        text="Squatting",
        sent_at=chat.created_at,
    )

    rename_migration.rename_claimed_ids(apps, None)

    ids = dict(Message.objects.filter(chat=chat).values_list("pk", "client_id"))
    assert len(set(ids.values())) == len(ids)
    # The name it would get was taken (by the squatter, renamed after it): it gets the next free one.
    assert ids[poisoned[0].pk] == f"system-client-{poisoned[0].seq}-1"
    assert ids[poisoned[1].pk] == f"system-client-{poisoned[1].seq}"
    assert ids[squatter.pk] == f"system-client-{squatter.seq}"
    assert Message.objects.get(pk=first.pk).client_id == f"open-{first.chat_id}"
    assert set(Message.objects.filter(sender=Sender.SYSTEM).values_list("client_id", flat=True)) == system_ids


# ---------------------------------------------------------------------------------------------------------
# A database error on the message path


REFUSE_MESSAGES = """
    CREATE FUNCTION refuse_message() RETURNS trigger AS $$
    BEGIN RAISE EXCEPTION 'refused' USING ERRCODE = 'unique_violation'; END $$ LANGUAGE plpgsql;
    CREATE TRIGGER refuse_message BEFORE INSERT ON webchat_message
    FOR EACH ROW WHEN (NEW.client_id LIKE 'doomed-%') EXECUTE FUNCTION refuse_message();
"""
ACCEPT_MESSAGES = """
    DROP TRIGGER refuse_message ON webchat_message;
    DROP FUNCTION refuse_message();
"""


def _run_sql(sql: str) -> None:
    with connections["default"].cursor() as cursor:
        cursor.execute(sql)


@pytest.fixture
def failing_inserts(db):
    """A database that refuses some new messages (a trigger), as a constraint the checks missed would. The
    test's transaction takes the trigger away again."""
    _run_sql(REFUSE_MESSAGES)


def test_a_database_error_on_the_message_path_is_a_documented_json_error(
    quiet_client, live_chat, failing_inserts
):
    chat, token, _, _ = live_chat

    response = quiet_client.post(
        f"{API}/chats/{chat.pk}/messages",
        {"client_id": "doomed-1", "text": "Hello"},
        content_type="application/json",
        headers=bearer(token),
    )

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "invalid"
    assert not Message.objects.filter(chat=chat, client_id="doomed-1").exists()
    assert Chat.objects.get(pk=chat.pk).last_seq == chat.last_seq


@pytest.fixture
async def failing_socket_inserts(socket_db):
    await database_sync_to_async(_run_sql)(REFUSE_MESSAGES)
    yield
    await database_sync_to_async(_run_sql)(ACCEPT_MESSAGES)


async def test_a_database_error_on_either_socket_is_an_error_frame_and_the_socket_stays_open(
    failing_socket_inserts,
):
    company = await database_sync_to_async(factories.CompanyFactory)()
    queue = await database_sync_to_async(factories.WebchatQueueFactory)(company=company, auto_allocate=False)
    agent = await database_sync_to_async(factories.MembershipFactory)(company=company)
    chat, token = await database_sync_to_async(connected_chat)(queue, agent)
    customer_ws = await customer_socket(chat.pk)
    await say_hello(customer_ws, token)
    agent_ws = await agent_socket(agent)

    await customer_ws.send_json_to({"type": "message", "client_id": "doomed-1", "text": "Hi"})
    customer_refusal = await next_frame(customer_ws, lambda frame: frame["type"] == "error")
    await agent_ws.send_json_to(
        {"type": "message", "chat_id": str(chat.pk), "client_id": "doomed-2", "text": "Hi"}
    )
    agent_refusal = await next_frame(agent_ws, lambda frame: frame["type"] == "error")
    await customer_ws.send_json_to({"type": "message", "client_id": "c-1", "text": "Still here"})
    ack = await next_frame(customer_ws, lambda frame: frame["type"] == "ack")

    assert (customer_refusal["code"], customer_refusal["client_id"]) == ("invalid", "doomed-1")
    assert (agent_refusal["code"], agent_refusal["client_id"]) == ("invalid", "doomed-2")
    assert ack["client_id"] == "c-1"
    await customer_ws.disconnect()
    await agent_ws.disconnect()


def test_the_token_of_a_chat_opened_through_the_api_still_works_after_a_refused_claim(quiet_client, db):
    queue = factories.WebchatQueueFactory(auto_allocate=False)
    opened = open_chat(quiet_client, queue_token=queue.token, message="Hi", client_id="c-0").json()
    token = opened["customer_token"]

    refused = post_message(quiet_client, opened["chat_id"], token, client_id="system-1", text="x")
    sent = post_message(quiet_client, opened["chat_id"], token, client_id="c-1", text="Hello")

    assert refused.status_code == 400 and sent.status_code == 201
    # The chat's own token (tokens carry the second they were made: compared by what they say).
    assert customer_token_valid(token=token, chat_id=opened["chat_id"])
