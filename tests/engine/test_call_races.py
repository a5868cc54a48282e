"""Calls racing each other, chat takes and logouts: real concurrent transactions on PostgreSQL."""

import pytest

from routing import engine
from routing.models import Call
from tests import factories
from tests.engine.concurrency import run_together
from webchat.models import Chat

pytestmark = pytest.mark.django_db(transaction=True)


def voice_company():
    company = factories.CompanyFactory()
    queue = factories.VoiceQueueFactory(company=company, slug="switchboard")
    return company, queue


def voice_agent(company, queue):
    agent = factories.MembershipFactory(company=company, can_voice=True)
    agent.voice_queues.add(queue)
    return agent


def arrive(company, call_id):
    def work():
        engine.call_arrived(company_id=company.pk, pbx_call_id=call_id, queue_slug="switchboard")

    return work


def test_two_calls_and_one_eligible_agent_ring_that_agent_once():
    for round_ in range(10):
        company, queue = voice_company()
        agent = voice_agent(company, queue)

        assert run_together([arrive(company, f"a-{round_}"), arrive(company, f"b-{round_}")]) == []

        calls = Call.objects.filter(company=company)
        assert sorted(calls.values_list("state", flat=True)) == ["offered", "waiting"]
        assert calls.get(state="offered").agent == agent


def test_a_call_arriving_while_the_agent_takes_a_chat_leaves_both_consistent():
    for round_ in range(10):
        company, queue = voice_company()
        chat_queue = factories.WebchatQueueFactory(company=company, auto_allocate=False)
        agent = voice_agent(company, queue)
        chat = engine.chat_open(queue_token=chat_queue.token).chat

        def take(agent=agent, chat=chat):
            engine.chat_take(agent=agent, chat_id=chat.pk)
            engine.chat_activate(agent=agent, chat_id=chat.pk)

        assert run_together([take, arrive(company, f"c-{round_}")]) == []

        call = Call.objects.get(company=company)
        chat.refresh_from_db()
        assert (call.state, call.agent) == ("offered", agent)
        assert (chat.state, chat.agent) == ("active", agent)
        engine.call_answer(agent=agent, call_id=call.pk)
        chat.refresh_from_db()
        assert (chat.state, chat.park_reason) == ("parked", "interrupted")


def test_a_call_and_a_logout_at_once_never_leave_a_call_ringing_for_a_logged_out_agent():
    for round_ in range(10):
        company, queue = voice_company()
        agent = voice_agent(company, queue)

        def logout(agent=agent):
            engine.agent_logout(agent=agent)

        assert run_together([arrive(company, f"d-{round_}"), logout]) == []

        agent.refresh_from_db()
        assert agent.presence == "unavailable"
        call = Call.objects.get(company=company)
        assert (call.state, call.agent) == ("waiting", None)
        assert not Chat.objects.filter(agent=agent).exists()
