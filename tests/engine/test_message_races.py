"""Messages stored at the same moment into one chat: real concurrent transactions on PostgreSQL."""

import pytest

from routing import engine
from tests import factories
from tests.engine.concurrency import run_together
from webchat.models import Chat, Message

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def active_chat():
    queue = factories.WebchatQueueFactory(auto_allocate=False)
    agent = factories.MembershipFactory(company=queue.company)
    chat = engine.chat_open(queue_token=queue.token, customer_name="Grace").chat
    engine.chat_take(agent=agent, chat_id=chat.pk)
    engine.chat_activate(agent=agent, chat_id=chat.pk)
    return chat, agent


def test_messages_sent_together_from_both_sides_get_one_sequence_with_no_gap(active_chat):
    chat, agent = active_chat

    def customer(n):
        return lambda: engine.message_post_customer(chat_id=chat.pk, client_id=f"c-{n}", text=f"question {n}")

    def reply(n):
        return lambda: engine.message_post_agent(
            agent=agent, chat_id=chat.pk, client_id=f"a-{n}", text=f"answer {n}"
        )

    assert run_together([customer(n) for n in range(8)] + [reply(n) for n in range(8)]) == []

    seqs = sorted(Message.objects.filter(chat=chat).values_list("seq", flat=True))
    assert seqs == list(range(1, 17))
    assert Chat.objects.get(pk=chat.pk).last_seq == 16


def test_one_message_resent_from_several_connections_at_once_is_stored_once(active_chat):
    chat, _ = active_chat
    results = []

    def resend():
        results.append(engine.message_post_customer(chat_id=chat.pk, client_id="c-1", text="Hello?"))

    assert run_together([resend for _ in range(8)]) == []

    assert Message.objects.filter(chat=chat, client_id="c-1").count() == 1
    assert sorted(created for _, created in results) == [False] * 7 + [True]
    assert {message.seq for message, _ in results} == {1}
    assert Chat.objects.get(pk=chat.pk).last_seq == 1
