"""The facts each closed chat and call leaves for the reports: where it arrived, how long it waited for its
first answer, handle and wrap-up time without parked time, transfers, and an outcome that tells abandoned
(never answered) apart."""

import pytest

from crm import selectors as crm_selectors
from crm.models import Interaction
from routing import engine
from tests import factories
from tests.reports.conftest import at, move_to, open_chat
from webchat.models import Chat


def record(chat) -> Interaction:
    return Interaction.objects.get(chat_id=chat.pk)


def facts(interaction: Interaction) -> dict:
    return {
        "outcome": interaction.outcome,
        "arrival": interaction.arrival_webchat_queue_id or interaction.arrival_voice_queue_id,
        "queue": interaction.webchat_queue_id or interaction.voice_queue_id,
        "wait": interaction.wait_seconds,
        "handle": interaction.handle_seconds,
        "wrapup": interaction.wrapup_seconds,
        "transfers": interaction.transfers,
    }


def finish(agent, chat, *, handled_for: int, wrapped_for: int, clock) -> None:
    engine.chat_activate(agent=agent, chat_id=chat.pk)
    clock.shift(handled_for)
    engine.chat_end(agent=agent, chat_id=chat.pk)
    clock.shift(wrapped_for)
    engine.wrapup_complete(agent=agent, chat_id=chat.pk)


@pytest.mark.parametrize("answer_after", [30, 60, 61, 120])
def test_a_chat_taken_waits_from_arrival_to_the_take(db, clock, agent, manual_queue, answer_after):
    chat = open_chat(manual_queue)
    clock.shift(answer_after)
    engine.chat_take(agent=agent, chat_id=chat.pk)
    clock.shift(15)  # the agent opens it later: that is not part of the wait
    finish(agent, chat, handled_for=200, wrapped_for=20, clock=clock)

    interaction = record(chat)
    assert facts(interaction) == {
        "outcome": "completed",
        "arrival": manual_queue.pk,
        "queue": manual_queue.pk,
        "wait": answer_after,
        "handle": 200,
        "wrapup": 20,
        "transfers": 0,
    }
    assert interaction.answered_at == at(seconds=answer_after)
    assert interaction.opened_at == at()


def test_a_chat_allocated_waits_from_arrival_to_the_allocation(db, clock, company, queue):
    chat = open_chat(queue)  # an auto-allocating queue; nobody is logged in
    move_to(clock, at(seconds=45))
    agent = factories.MembershipFactory(company=company)
    engine.allocate_queue(queue_id=queue.pk)
    assert Chat.objects.get(pk=chat.pk).agent_id == agent.pk
    move_to(clock, at(minutes=5))
    finish(agent, chat, handled_for=100, wrapped_for=10, clock=clock)

    assert facts(record(chat))["wait"] == 45


@pytest.mark.parametrize("left_after", [3, 5, 90])
def test_a_customer_who_leaves_before_an_answer_abandons(db, clock, manual_queue, left_after):
    chat = open_chat(manual_queue)
    clock.shift(left_after)
    engine.chat_end_by_customer(chat_id=chat.pk)

    interaction = record(chat)
    assert facts(interaction) == {
        "outcome": "abandoned",
        "arrival": manual_queue.pk,
        "queue": manual_queue.pk,
        "wait": None,
        "handle": 0,
        "wrapup": 0,
        "transfers": 0,
    }
    # Short or long is the time from arrival to leaving, against the queue's threshold (5 s).
    assert (interaction.ended_at - interaction.opened_at).total_seconds() == left_after
    assert manual_queue.short_abandon_seconds == 5


def test_a_customer_who_leaves_after_being_put_back_was_answered(db, clock, agent, manual_queue):
    chat = open_chat(manual_queue)
    clock.shift(20)
    engine.chat_take(agent=agent, chat_id=chat.pk)
    clock.shift(10)
    engine.chat_put_back(agent=agent, chat_id=chat.pk)
    clock.shift(100)
    engine.chat_end_by_customer(chat_id=chat.pk)

    assert facts(record(chat)) | {"answered_at": record(chat).answered_at} == {
        "outcome": "left_after_answer",
        "arrival": manual_queue.pk,
        "queue": manual_queue.pk,
        "wait": 20,
        "handle": 0,
        "wrapup": 0,
        "transfers": 0,
        "answered_at": at(seconds=20),
    }


def test_a_chat_put_back_and_answered_again_keeps_its_first_answer(db, clock, company, agent, manual_queue):
    other = factories.MembershipFactory(company=company)
    chat = open_chat(manual_queue)
    clock.shift(40)
    engine.chat_take(agent=agent, chat_id=chat.pk)
    clock.shift(20)
    engine.chat_put_back(agent=agent, chat_id=chat.pk)
    clock.shift(300)
    engine.chat_take(agent=other, chat_id=chat.pk)
    finish(other, chat, handled_for=60, wrapped_for=5, clock=clock)

    assert facts(record(chat))["wait"] == 40
    assert record(chat).agent_id == other.pk


def test_a_refused_chat_is_recorded_apart_and_kept_out_of_contact_histories(db, clock, company, agent):
    queue = factories.WebchatQueueFactory(company=company, max_queue_length=1, auto_allocate=False)
    waiting = open_chat(queue)
    with pytest.raises(engine.TransitionError) as refusal:
        open_chat(queue, name="Ada")
    assert refusal.value.code == "queue_full"

    refused = Interaction.objects.exclude(chat_id=waiting.pk).get()
    assert facts(refused) == {
        "outcome": "refused",
        "arrival": queue.pk,
        "queue": queue.pk,
        "wait": None,
        "handle": 0,
        "wrapup": 0,
        "transfers": 0,
    }
    assert refused.opened_at == refused.closed_at == at()
    # It names no contact, so no contact's history (which agents read) shows it.
    assert refused.contact_id is None
    contact = factories.ContactFactory(company=company)
    assert (
        not crm_selectors.contact_interactions(contact=contact, viewer=agent).filter(pk=refused.pk).exists()
    )


def test_a_chat_refused_for_want_of_agents_is_refused(db, clock, company):
    queue = factories.WebchatQueueFactory(company=company, allow_wait_without_agents=False)
    with pytest.raises(engine.TransitionError) as refusal:
        open_chat(queue)
    assert refusal.value.code == "no_agents"
    assert Interaction.objects.get().outcome == "refused"


@pytest.mark.parametrize("times", [1, 2])
def test_transfers_are_counted_and_the_chat_counts_where_it_arrived(db, clock, company, agent, times):
    queues = [
        factories.WebchatQueueFactory(company=company, name=name, auto_allocate=False)
        for name in ("Sales", "Billing", "Support")
    ]
    chat = open_chat(queues[0])
    clock.shift(25)
    for step in range(times):
        engine.chat_take(agent=agent, chat_id=chat.pk)
        engine.chat_activate(agent=agent, chat_id=chat.pk)
        clock.shift(30)
        engine.chat_transfer(agent=agent, chat_id=chat.pk, queue_id=queues[step + 1].pk)
        clock.shift(50)
    engine.chat_take(agent=agent, chat_id=chat.pk)
    finish(agent, chat, handled_for=40, wrapped_for=8, clock=clock)

    interaction = record(chat)
    assert facts(interaction) == {
        "outcome": "completed",
        "arrival": queues[0].pk,
        "queue": queues[times].pk,
        "wait": 25,
        "handle": 30 * times + 40,
        "wrapup": 8,
        "transfers": times,
    }
    assert interaction.queue_name == queues[times].name  # what the CRM shows: where it closed


def test_parked_time_is_not_handle_time(db, clock, agent, manual_queue):
    chat = open_chat(manual_queue)
    engine.chat_take(agent=agent, chat_id=chat.pk)
    engine.chat_activate(agent=agent, chat_id=chat.pk)
    clock.shift(120)
    engine.chat_park(agent=agent, chat_id=chat.pk)
    clock.shift(400)
    engine.chat_activate(agent=agent, chat_id=chat.pk)
    clock.shift(60)
    engine.chat_end(agent=agent, chat_id=chat.pk)
    clock.shift(10)
    engine.wrapup_complete(agent=agent, chat_id=chat.pk)

    assert (record(chat).handle_seconds, record(chat).wrapup_seconds) == (180, 10)


def test_parked_wrap_up_is_not_wrap_up_time(db, clock, agent, manual_queue):
    chat = open_chat(manual_queue)
    engine.chat_take(agent=agent, chat_id=chat.pk)
    engine.chat_activate(agent=agent, chat_id=chat.pk)
    clock.shift(30)
    engine.chat_end(agent=agent, chat_id=chat.pk)
    clock.shift(20)
    engine.chat_park(agent=agent, chat_id=chat.pk)  # the wrap-up pauses
    clock.shift(300)
    engine.chat_activate(agent=agent, chat_id=chat.pk)  # and resumes
    clock.shift(15)
    engine.chat_park(agent=agent, chat_id=chat.pk)
    clock.shift(200)
    engine.wrapup_complete(agent=agent, chat_id=chat.pk)  # completed while parked

    assert (record(chat).handle_seconds, record(chat).wrapup_seconds) == (30, 35)


def test_a_chat_whose_queue_closes_ends_as_queue_closed(db, clock, manual_queue):
    chat = open_chat(manual_queue)
    clock.shift(70)
    engine.queue_disable(queue_id=manual_queue.pk)

    assert facts(record(chat))["outcome"] == "queue_closed"
    assert facts(record(chat))["wait"] is None


@pytest.fixture
def voice_agent(company, voice_queue):
    agent = factories.MembershipFactory(company=company, can_voice=True)
    agent.voice_queues.add(voice_queue)
    return agent


def test_a_call_answered_records_its_wait_and_arrival_queue(db, clock, company, voice_queue, voice_agent):
    call = engine.call_arrived(company_id=company.pk, pbx_call_id="pbx-1", queue_slug="switchboard")
    clock.shift(12)
    engine.call_answer(agent=voice_agent, call_id=call.pk)
    clock.shift(200)
    engine.call_ended_by_pbx(company_id=company.pk, pbx_call_id="pbx-1")
    clock.shift(30)
    assert engine.expire_call_wrapups() == 1

    interaction = Interaction.objects.get(channel="voice")
    assert facts(interaction) == {
        "outcome": "completed",
        "arrival": voice_queue.pk,
        "queue": voice_queue.pk,
        "wait": 12,
        "handle": 200,
        "wrapup": 30,
        "transfers": 0,
    }
    assert interaction.arrival_webchat_queue_id is None


def test_a_caller_who_hangs_up_before_an_answer_abandons(db, clock, company, voice_queue):
    engine.call_arrived(company_id=company.pk, pbx_call_id="pbx-2", queue_slug="switchboard")
    clock.shift(4)
    engine.call_ended_by_pbx(company_id=company.pk, pbx_call_id="pbx-2")

    interaction = Interaction.objects.get(channel="voice")
    assert facts(interaction) == {
        "outcome": "abandoned",
        "arrival": voice_queue.pk,
        "queue": voice_queue.pk,
        "wait": None,
        "handle": 0,
        "wrapup": 0,
        "transfers": 0,
    }
    assert (interaction.ended_at - interaction.opened_at).total_seconds() == 4
