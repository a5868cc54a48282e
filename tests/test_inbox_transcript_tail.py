"""The conversation on the agent's screen grows by what is new, not by reading the whole transcript again."""

import re

from django.db import connection
from django.test.utils import CaptureQueriesContext

from routing import engine
from tests.webchat_support import customer_says
from webchat import selectors
from webchat.models import Chat


def shown(html: str) -> list[int]:
    return [int(seq) for seq in re.findall(r'data-seq="(\d+)"', html)]


def alerted(html: str) -> list[int]:
    """The messages that carry the customer's wait alert."""
    return [
        int(seq) for seq, item in re.findall(r'data-seq="(\d+)"(.*?)</li>', html, re.S) if "wait--" in item
    ]


def tail(client, chat, after) -> str:
    response = client.get(f"/inbox/{chat.pk}/transcript/", {"after": after})
    assert response.status_code == 200
    return response.content.decode()


def test_the_page_gets_only_the_messages_after_the_last_one_it_shows(htmx_client, active_chat):
    first = customer_says(active_chat, "Hello")
    second = customer_says(active_chat, "Anyone there?")
    html = tail(htmx_client, active_chat, first.seq)
    assert shown(html) == [second.seq]
    assert "Anyone there?" in html and "Hello" not in html
    assert "<ol" not in html
    assert tail(htmx_client, active_chat, second.seq).strip() == ""


def test_the_new_part_costs_the_same_however_long_the_conversation(htmx_client, active_chat):
    for n in range(3):
        customer_says(active_chat, f"Message {n}")
    last = customer_says(active_chat, "Latest")
    with CaptureQueriesContext(connection) as few:
        tail(htmx_client, active_chat, last.seq - 1)
    for n in range(30):
        customer_says(active_chat, f"More {n}")
    last = customer_says(active_chat, "Latest again")
    with CaptureQueriesContext(connection) as many:
        html = tail(htmx_client, active_chat, last.seq - 1)
    assert shown(html) == [last.seq]
    assert len(many) == len(few)


def test_the_wait_alert_stands_on_the_latest_customer_message_of_the_new_part(htmx_client, active_chat):
    first = customer_says(active_chat, "Hello")
    second = customer_says(active_chat, "Hello?")
    # The page showed the first message with the alert: it asks again from there.
    html = tail(htmx_client, active_chat, first.seq - 1)
    assert shown(html) == [first.seq, second.seq]
    assert alerted(html) == [second.seq]


def test_a_reply_takes_the_wait_alert_away_and_the_next_customer_message_carries_it(
    htmx_client, agent, active_chat
):
    waiting = customer_says(active_chat, "Hello")
    engine.message_post_agent(agent=agent, chat_id=active_chat.pk, client_id="r1", text="Hi, one moment")
    reply = active_chat.messages.get(client_id="r1")
    assert alerted(tail(htmx_client, active_chat, waiting.seq - 1)) == []
    again = customer_says(active_chat, "Thanks")
    html = tail(htmx_client, active_chat, reply.seq)
    assert shown(html) == [again.seq]
    assert alerted(html) == [again.seq]


def test_a_malformed_position_is_refused_with_a_clear_message(htmx_client, active_chat):
    for after in ("x", "-1", "²", "9" * 40):
        response = htmx_client.get(f"/inbox/{active_chat.pk}/transcript/", {"after": after})
        assert response.status_code == 400
        assert "That message number is not valid." in response.content.decode()


def test_the_whole_conversation_is_still_there_for_the_workspace(htmx_client, active_chat):
    first = customer_says(active_chat, "Hello")
    second = customer_says(active_chat, "Hello?")
    html = htmx_client.get(f"/inbox/{active_chat.pk}/transcript/").content.decode()
    assert f'<ol id="transcript-{active_chat.pk}"' in html
    assert 'hx-swap="beforeend"' in html
    assert shown(html) == [first.seq, second.seq]


def test_a_chat_read_before_its_customer_wrote_still_shows_the_wait_on_that_message(active_chat):
    """A view reads the chat, then its messages: a customer message stored in between is listed, and carries
    the wait it started (it was listed without one, and the alert never came to the agent's screen)."""
    read_before = Chat.objects.get(pk=active_chat.pk)
    written = customer_says(active_chat, "Is anyone there?")

    transcript = selectors.transcript_get(agent=active_chat.agent, chat=read_before)

    assert [m.seq for m in transcript["messages"]][-1] == written.seq
    assert transcript["waiting_seq"] == written.seq
