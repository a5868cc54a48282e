import pytest

from crm.models import Interaction
from routing import engine
from tests import factories
from tests.engine.conftest import open_chat
from webchat.models import Chat


def test_opening_a_chat_with_a_first_message_stores_it_and_starts_the_customer_wait(db, clock, manual_queue):
    opened = engine.chat_open(queue_token=manual_queue.token, customer_name="Grace", first_message="Hi")

    assert opened.chat.state == "queued"
    assert opened.first_message.seq == 1
    assert opened.first_message.sender == "customer"
    assert opened.chat.customer_waiting_since is not None


@pytest.mark.parametrize("enabled", [True, False])
def test_a_wrong_or_disabled_token_is_an_unknown_queue(db, manual_queue, enabled):
    manual_queue.enabled = enabled
    manual_queue.save()
    token = "no-such-token" if enabled else manual_queue.token

    with pytest.raises(engine.TransitionError) as refusal:
        engine.chat_open(queue_token=token)

    assert (refusal.value.code, refusal.value.status) == ("unknown_queue", 404)
    assert not Chat.objects.exists()


def test_a_full_queue_refuses_the_chat_and_logs_it_as_refused(db, clock, manual_queue):
    manual_queue.max_queue_length = 2
    manual_queue.save()
    open_chat(manual_queue)
    open_chat(manual_queue)

    with pytest.raises(engine.TransitionError) as refusal:
        open_chat(manual_queue, message="Anyone there?")

    assert refusal.value.code == "queue_full"
    assert Chat.objects.filter(state="queued").count() == 2
    refused = Interaction.objects.get(outcome="refused")
    assert refused.queue_name == manual_queue.name


def test_a_queue_nobody_serves_refuses_when_waiting_is_not_allowed(db, company, manual_queue):
    manual_queue.allow_wait_without_agents = False
    manual_queue.save()
    factories.MembershipFactory(company=company, presence="unavailable")

    with pytest.raises(engine.TransitionError) as refusal:
        open_chat(manual_queue)

    assert refusal.value.code == "no_agents"
    assert not Chat.objects.filter(state="queued").exists()


def test_an_agent_on_a_break_counts_as_serving_the_queue(db, company, manual_queue):
    manual_queue.allow_wait_without_agents = False
    manual_queue.save()
    factories.MembershipFactory(company=company, presence="break")

    assert open_chat(manual_queue).state == "queued"


def test_a_chat_on_an_auto_allocating_queue_goes_straight_to_an_available_agent(db, company, auto_queue):
    agent = factories.MembershipFactory(company=company)

    chat = open_chat(auto_queue)

    assert (chat.state, chat.agent, chat.unseen) == ("inbox", agent, True)
