"""A client id names one message: sent again with the same text it is the stored message, with another text
it is refused and the stored message stays as it was, for the customer and the agent alike."""

import pytest

from routing import engine
from routing.engine import TransitionError
from tests import factories
from webchat.models import Message

pytestmark = pytest.mark.django_db


@pytest.fixture
def active_chat():
    queue = factories.WebchatQueueFactory(auto_allocate=False)
    agent = factories.MembershipFactory(company=queue.company)
    chat = engine.chat_open(queue_token=queue.token, customer_name="Grace").chat
    engine.chat_take(agent=agent, chat_id=chat.pk)
    engine.chat_activate(agent=agent, chat_id=chat.pk)
    return chat, agent


def test_a_customers_client_id_with_another_text_is_refused_and_the_message_kept(active_chat):
    chat, _ = active_chat
    stored, _ = engine.message_post_customer(chat_id=chat.pk, client_id="c-1", text="Hello?")

    with pytest.raises(TransitionError) as refused:
        engine.message_post_customer(chat_id=chat.pk, client_id="c-1", text="Goodbye")
    again, created = engine.message_post_customer(chat_id=chat.pk, client_id="c-1", text="Hello?")

    assert (refused.value.code, refused.value.status) == ("client_id_reused", 409)
    assert (again.pk, created) == (stored.pk, False)
    assert list(Message.objects.filter(chat=chat).values_list("text", flat=True)) == ["Hello?"]


def test_an_agents_client_id_with_another_text_is_refused_and_the_reply_kept(active_chat):
    chat, agent = active_chat
    engine.message_post_agent(agent=agent, chat_id=chat.pk, client_id="a-1", text="Hello Grace")

    with pytest.raises(TransitionError) as refused:
        engine.message_post_agent(agent=agent, chat_id=chat.pk, client_id="a-1", text="Bye Grace")

    assert refused.value.code == "client_id_reused"
    assert list(Message.objects.filter(chat=chat).values_list("text", flat=True)) == ["Hello Grace"]
