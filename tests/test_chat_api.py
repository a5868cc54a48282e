"""The public chat API (PROTOCOL.md section 1): opening a chat, its messages, ending it."""

import uuid

import pytest

from contactcentre.models import Presence
from routing import engine
from tests import factories
from tests.webchat_support import API, bearer, open_chat, post_message
from webchat.models import Chat, ChatState, Message, Outcome
from webchat.tokens import customer_token_for


def opened(client, queue, **body) -> dict:
    response = open_chat(client, queue_token=queue.token, **body)
    assert response.status_code == 201, response.content
    return response.json()


def test_it_opens_a_chat_that_waits_in_the_queue(client, manual_queue):
    body = opened(client, manual_queue, name="Grace", message="My order is late", visitor_id="v-1")

    chat = Chat.objects.get(pk=body["chat_id"])
    assert body == {
        "chat_id": str(chat.pk),
        "customer_token": body["customer_token"],
        "state": "queued",
        "websocket": f"/ws/webchat/{chat.pk}/",
    }
    assert (chat.customer_name, chat.visitor_id, chat.state) == ("Grace", "v-1", ChatState.QUEUED)
    assert list(chat.messages.values_list("seq", "sender", "text")) == [(1, "customer", "My order is late")]


def test_it_says_connected_when_the_chat_was_allocated_at_once(client, queue, agent):
    body = opened(client, queue)

    assert body["state"] == "connected"
    assert Chat.objects.get(pk=body["chat_id"]).agent == agent


def test_the_first_message_keeps_the_client_id_the_widget_chose(client, manual_queue):
    body = opened(client, manual_queue, message="Hello", client_id="first-1")

    assert Message.objects.get(chat_id=body["chat_id"]).client_id == "first-1"


def test_an_unknown_queue_token_is_refused_with_404(client, company):
    disabled = factories.WebchatQueueFactory(company=company, enabled=False)

    for token in ("no-such-token", disabled.token):
        response = open_chat(client, queue_token=token)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "unknown_queue"
    assert not Chat.objects.exists()


def test_a_full_queue_is_refused_with_409_queue_full(client, company):
    queue = factories.WebchatQueueFactory(company=company, auto_allocate=False, max_queue_length=1)
    opened(client, queue)

    response = open_chat(client, queue_token=queue.token, message="Anyone?")

    assert response.status_code == 409
    assert response.json() == {
        "error": {
            "code": "queue_full",
            "message": "All our agents are busy and the queue is full. Please try again later.",
        }
    }
    assert Chat.objects.filter(state=ChatState.QUEUED).count() == 1


def test_a_queue_nobody_serves_is_refused_with_409_no_agents_when_waiting_is_not_allowed(client, company):
    queue = factories.WebchatQueueFactory(company=company, allow_wait_without_agents=False)
    factories.MembershipFactory(company=company, presence=Presence.UNAVAILABLE)

    response = open_chat(client, queue_token=queue.token)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "no_agents"
    assert not Chat.objects.exclude(outcome=Outcome.REFUSED).exists()


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'"text"',
        b"[" * 100_000,
        b"{}",
        b'{"queue_token": 7}',
        b'{"queue_token": ""}',
        b'{"queue_token": "t", "name": ["Grace"]}',
        b'{"queue_token": "t", "message": {"text": "hi"}}',
        b'{"queue_token": "t", "visitor_id": 12}',
        b'{"queue_token": "t", "message": "nul \\u0000 byte"}',
        b'{"queue_token": "t", "message": "lone \\ud800 surrogate"}',
        b"\xff\xfe not utf-8",
    ],
    ids=lambda body: body[:30].decode("latin-1"),
)
def test_a_malformed_open_is_refused_with_400_invalid(client, queue, body):
    body = body.replace(b'"t"', f'"{queue.token}"'.encode())

    response = client.post(f"{API}/chats", body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert not Chat.objects.exists()


def test_a_name_longer_than_the_limit_is_refused(client, queue, settings):
    response = open_chat(client, queue_token=queue.token, name="x" * (settings.WEBCHAT_MAX_NAME_CHARS + 1))

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert not Chat.objects.exists()


def test_a_first_message_past_the_size_limit_is_refused_with_413(client, queue, settings):
    response = open_chat(
        client, queue_token=queue.token, message="x" * (settings.WEBCHAT_MAX_MESSAGE_CHARS + 1)
    )

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_long"
    assert not Chat.objects.exists()


def test_the_customer_reads_the_messages_after_a_sequence_number(client, manual_queue):
    body = opened(client, manual_queue, message="one")
    token = body["customer_token"]
    for n, text in enumerate(["two", "three"]):
        post_message(client, body["chat_id"], token, client_id=f"c{n}", text=text)

    response = client.get(f"{API}/chats/{body['chat_id']}/messages?after_seq=1", headers=bearer(token))

    assert response.status_code == 200
    messages = response.json()["messages"]
    assert [(m["seq"], m["sender"], m["text"], m["client_id"]) for m in messages] == [
        (2, "customer", "two", "c0"),
        (3, "customer", "three", "c1"),
    ]
    assert set(messages[0]) == {"seq", "client_id", "sender", "text", "sent_at"}
    assert messages[0]["sent_at"].endswith("Z")


def test_the_state_says_queued_with_the_place_connected_with_the_agent_then_ended(
    client, manual_queue, agent
):
    opened(client, manual_queue)
    body = opened(client, manual_queue)
    url = f"{API}/chats/{body['chat_id']}/messages"
    headers = bearer(body["customer_token"])

    assert client.get(url, headers=headers).json() == {"state": "queued", "position": 2, "messages": []}

    engine.chat_take(agent=agent, chat_id=body["chat_id"])
    engine.chat_activate(agent=agent, chat_id=body["chat_id"])
    engine.message_post_agent(agent=agent, chat_id=body["chat_id"], client_id="a1", text="Hello, I'm here")
    answer = client.get(url, headers=headers).json()
    assert (answer["state"], answer["agent_name"]) == ("connected", agent.name)
    assert [(m["sender"], m["agent_name"]) for m in answer["messages"]] == [("agent", agent.name)]

    engine.chat_end(agent=agent, chat_id=body["chat_id"])
    assert client.get(url, headers=headers).json()["state"] == "ended"


def test_a_message_is_stored_once_per_client_id(client, manual_queue):
    body = opened(client, manual_queue)

    first = post_message(client, body["chat_id"], body["customer_token"], client_id="m-1", text="Hi")
    again = post_message(client, body["chat_id"], body["customer_token"], client_id="m-1", text="Hi")

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()
    assert first.json()["seq"] == 1
    assert Message.objects.filter(chat_id=body["chat_id"]).count() == 1


def test_a_client_id_sent_again_with_another_text_is_refused_with_409_and_the_message_is_unchanged(
    client, manual_queue
):
    body = opened(client, manual_queue)
    first = post_message(client, body["chat_id"], body["customer_token"], client_id="m-1", text="Hi")

    reused = post_message(client, body["chat_id"], body["customer_token"], client_id="m-1", text="Bye")
    again = post_message(client, body["chat_id"], body["customer_token"], client_id="m-1", text="Hi")

    assert reused.status_code == 409
    assert reused.json()["error"]["code"] == "client_id_reused"
    assert (again.status_code, again.json()) == (200, first.json())
    assert list(Message.objects.filter(chat_id=body["chat_id"]).values_list("text", flat=True)) == ["Hi"]


def test_a_message_past_the_size_limit_is_refused_with_413_and_not_stored(client, manual_queue, settings):
    body = opened(client, manual_queue)

    too_long = "x" * (settings.WEBCHAT_MAX_MESSAGE_CHARS + 1)

    response = post_message(client, body["chat_id"], body["customer_token"], client_id="m-1", text=too_long)

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_long"
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"client_id": "c1"},
        {"text": "hi"},
        {"client_id": "", "text": "hi"},
        {"client_id": "c1", "text": "  "},
        {"client_id": "c" * 65, "text": "hi"},
        {"client_id": 1, "text": "hi"},
        {"client_id": "c1", "text": None},
    ],
)
def test_a_malformed_message_is_refused_with_400_invalid(client, manual_queue, body):
    chat = opened(client, manual_queue)

    response = client.post(
        f"{API}/chats/{chat['chat_id']}/messages",
        body,
        content_type="application/json",
        headers=bearer(chat["customer_token"]),
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert not Message.objects.exists()


def test_a_message_to_an_ended_chat_is_refused_with_409_chat_ended(client, manual_queue):
    body = opened(client, manual_queue)
    client.post(f"{API}/chats/{body['chat_id']}/end", headers=bearer(body["customer_token"]))

    response = post_message(
        client, body["chat_id"], body["customer_token"], client_id="late", text="Still there?"
    )

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "chat_ended"
    assert not Message.objects.filter(client_id="late").exists()


def test_the_customer_ends_the_chat(client, manual_queue):
    body = opened(client, manual_queue)
    url = f"{API}/chats/{body['chat_id']}/end"

    response = client.post(url, headers=bearer(body["customer_token"]))
    again = client.post(url, headers=bearer(body["customer_token"]))

    assert (response.status_code, response.json()) == (200, {"state": "ended"})
    assert (again.status_code, again.json()) == (200, {"state": "ended"})
    chat = Chat.objects.get(pk=body["chat_id"])
    assert (chat.state, chat.outcome) == (ChatState.CLOSED, Outcome.ABANDONED)


def test_a_chat_is_not_read_or_written_without_its_own_token(client, manual_queue):
    mine, other = opened(client, manual_queue), opened(client, manual_queue)
    url = f"{API}/chats/{mine['chat_id']}"
    wrong = [
        {},
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": f"Basic {mine['customer_token']}"},
        bearer(other["customer_token"]),
        bearer(customer_token_for(chat_id=uuid.uuid4())),
    ]

    for headers in wrong:
        for response in (
            client.get(f"{url}/messages", headers=headers),
            client.post(
                f"{url}/messages", {"client_id": "x", "text": "hi"}, "application/json", headers=headers
            ),
            client.post(f"{url}/end", headers=headers),
        ):
            assert response.status_code == 401, headers
            assert response.json()["error"]["code"] == "unauthorized"
            assert response["WWW-Authenticate"].startswith("Bearer")
    assert not Message.objects.exists()
    assert Chat.objects.get(pk=mine["chat_id"]).state == ChatState.QUEUED


def test_an_unknown_chat_is_404(client, manual_queue):
    body = opened(client, manual_queue)

    for chat_id in (uuid.uuid4(), "not-a-uuid"):
        response = client.get(f"{API}/chats/{chat_id}/messages", headers=bearer(body["customer_token"]))
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("after_seq", ["-1", "x", "1.5", "99999999999", ""])
def test_a_bad_after_seq_is_refused_with_400(client, manual_queue, after_seq):
    body = opened(client, manual_queue)

    response = client.get(
        f"{API}/chats/{body['chat_id']}/messages?after_seq={after_seq}",
        headers=bearer(body["customer_token"]),
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


def test_a_wrong_method_is_refused_with_405(client, manual_queue):
    body = opened(client, manual_queue)

    for response in (client.get(f"{API}/chats"), client.delete(f"{API}/chats/{body['chat_id']}/end")):
        assert response.status_code == 405
        assert response.json()["error"]["code"] == "method_not_allowed"


def test_the_state_says_the_agent_has_not_joined_until_they_open_the_allocated_chat(client, queue, agent):
    body = opened(client, queue, message="Hello?")
    url = f"{API}/chats/{body['chat_id']}/messages"
    headers = bearer(body["customer_token"])

    answer = client.get(url, headers=headers).json()
    assert (answer["state"], answer["agent_name"], answer["agent_joined"]) == ("connected", agent.name, False)

    engine.chat_mark_seen(agent=agent, chat_id=body["chat_id"])
    answer = client.get(url, headers=headers).json()
    assert (answer["state"], answer["agent_name"]) == ("connected", agent.name)
    assert "agent_joined" not in answer


def test_a_transfer_tells_the_customer_in_their_words_and_the_agents_the_queue(
    client, company, manual_queue, agent
):
    billing = factories.WebchatQueueFactory(company=company, name="Billing", auto_allocate=False)
    body = opened(client, manual_queue, message="Hello?")
    engine.chat_take(agent=agent, chat_id=body["chat_id"])
    engine.chat_transfer(agent=agent, chat_id=body["chat_id"], queue_id=billing.pk)
    engine.chat_take(agent=agent, chat_id=body["chat_id"])
    engine.chat_put_back(agent=agent, chat_id=body["chat_id"])

    answer = client.get(f"{API}/chats/{body['chat_id']}/messages", headers=bearer(body["customer_token"]))
    said = [m["text"] for m in answer.json()["messages"] if m["sender"] == "system"]
    assert said == [
        "You're being connected to another agent. Please stay in the chat.",
        "Your chat is waiting for the next available agent.",
    ]
    assert not any("Billing" in text for text in said)
    system = Message.objects.filter(chat_id=body["chat_id"], sender="system").order_by("seq")
    assert [m.text_for_agents for m in system] == [
        "Transferred to Billing.",
        "Returned to the Billing queue.",
    ]
