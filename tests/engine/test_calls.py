"""Voice calls: priority over chats, interruption, resumption, ring-no-answer, the CRM log."""

import pytest

from crm.models import Interaction
from routing import engine, selectors
from routing.models import Call
from tests import factories
from tests.engine.conftest import drive_to, reload


@pytest.fixture
def voice_queue(company):
    return factories.VoiceQueueFactory(
        company=company, slug="switchboard", ring_timeout_seconds=20, wrapup_seconds=0
    )


def voice_agent(company, voice_queue, **kwargs):
    agent = factories.MembershipFactory(company=company, can_voice=True, **kwargs)
    agent.voice_queues.add(voice_queue)
    return agent


def arrive(company, call_id="pbx-1", number="+441234567890"):
    return engine.call_arrived(
        company_id=company.pk, pbx_call_id=call_id, queue_slug="switchboard", caller_number=number
    )


def test_an_idle_agent_is_chosen_over_one_busy_on_a_chat(db, clock, company, voice_queue, manual_queue):
    busy = voice_agent(company, voice_queue)
    drive_to("active", manual_queue, busy)
    idle = voice_agent(company, voice_queue)

    call = arrive(company)

    assert (call.state, call.agent) == ("offered", idle)


def test_a_chat_busy_agent_is_interrupted_only_when_no_idle_agent_is_free(
    db, clock, company, voice_queue, manual_queue
):
    busy = voice_agent(company, voice_queue)
    chat = drive_to("active", manual_queue, busy)

    call = arrive(company)
    assert call.agent == busy
    assert reload(chat).state == "active"

    engine.call_answer(agent=busy, call_id=call.pk)

    chat = reload(chat)
    assert (chat.state, chat.park_reason) == ("parked", "interrupted")
    assert selectors.agent_status(reload(busy)).label == "On a call"


def test_the_longest_idle_agent_gets_the_call(db, clock, company, voice_queue):
    longest = voice_agent(company, voice_queue)
    clock.shift(600)
    voice_agent(company, voice_queue)

    assert arrive(company).agent == longest


def test_an_agent_in_chat_wrapup_gets_no_call_until_it_completes(
    db, clock, company, voice_queue, manual_queue
):
    agent = voice_agent(company, voice_queue)
    chat = drive_to("wrapup", manual_queue, agent)

    call = arrive(company)
    assert call.state == "waiting"

    engine.wrapup_complete(agent=agent, chat_id=chat.pk)

    assert (reload(call).state, reload(call).agent) == ("offered", agent)


def test_a_parked_wrapup_does_not_block_calls(db, clock, company, voice_queue, manual_queue):
    agent = voice_agent(company, voice_queue)
    chat = drive_to("wrapup", manual_queue, agent)
    call = arrive(company)
    assert call.state == "waiting"

    engine.chat_park(agent=agent, chat_id=chat.pk)

    assert reload(call).agent == agent


def test_the_interrupted_chat_resumes_by_itself_after_the_call(db, clock, company, voice_queue, manual_queue):
    agent = voice_agent(company, voice_queue)
    chat = drive_to("active", manual_queue, agent)
    call = arrive(company)
    engine.call_answer(agent=agent, call_id=call.pk)
    engine.message_post_customer(chat_id=chat.pk, client_id="during-call", text="Still there?")

    engine.call_ended_by_pbx(company_id=company.pk, pbx_call_id="pbx-1")

    chat = reload(chat)
    assert (chat.state, chat.park_reason) == ("active", "")
    assert chat.messages.filter(client_id="during-call").exists()


def test_a_customer_who_ends_during_the_call_leaves_parked_wrapup_then_active_wrapup(
    db, clock, company, manual_queue
):
    voice_queue = factories.VoiceQueueFactory(company=company, slug="switchboard", wrapup_seconds=30)
    agent = voice_agent(company, voice_queue)
    chat = drive_to("active", manual_queue, agent)
    call = arrive(company)
    engine.call_answer(agent=agent, call_id=call.pk)

    engine.chat_end_by_customer(chat_id=chat.pk)
    assert reload(chat).state == "parked" and reload(chat).ended_by == "customer"
    engine.call_hang_up(agent=agent, call_id=call.pk)
    assert reload(call).state == "wrapup"
    assert reload(chat).state == "parked"

    engine.call_wrapup_complete(agent=agent, call_id=call.pk, notes="Called about billing")

    assert reload(chat).state == "wrapup"
    interaction = Interaction.objects.get(channel="voice")
    assert (interaction.caller_number, interaction.notes, interaction.agent) == (
        "+441234567890",
        "Called about billing",
        agent,
    )


def test_an_interrupted_wrapup_resumes_as_a_running_countdown(db, clock, company, voice_queue, manual_queue):
    agent = voice_agent(company, voice_queue)
    chat = drive_to("wrapup", manual_queue, agent)
    call = Call.objects.create(
        company=company, queue=voice_queue, pbx_call_id="direct", arrived_at=chat.created_at
    )
    engine.call_answer(agent=agent, call_id=call.pk)
    assert reload(chat).state == "wrapup_parked"

    engine.call_hang_up(agent=agent, call_id=call.pk)

    assert reload(chat).state == "wrapup"


def test_ring_no_answer_moves_the_offer_to_the_next_agent(db, clock, company, voice_queue):
    first = voice_agent(company, voice_queue)
    second = voice_agent(company, voice_queue)
    call = arrive(company)
    offered_to = call.agent
    other = second if offered_to == first else first

    clock.shift(19)
    assert engine.expire_call_offers() == 0
    clock.shift(2)
    assert engine.expire_call_offers() == 1

    assert reload(call).agent == other


def test_declining_a_ringing_call_offers_it_to_the_next_agent(db, clock, company, voice_queue):
    voice_agent(company, voice_queue)
    voice_agent(company, voice_queue)
    call = arrive(company)
    declined_by = call.agent

    engine.call_hang_up(agent=declined_by, call_id=call.pk)

    assert reload(call).agent not in (None, declined_by)


def test_chats_are_not_allocated_to_an_agent_on_a_call(db, clock, company, voice_queue, auto_queue):
    agent = voice_agent(company, voice_queue)
    call = arrive(company)
    engine.call_answer(agent=agent, call_id=call.pk)

    chat = engine.chat_open(queue_token=auto_queue.token).chat

    assert chat.state == "queued"
    engine.call_ended_by_pbx(company_id=company.pk, pbx_call_id="pbx-1")
    assert reload(chat).agent == agent


def test_one_call_per_agent(db, clock, company, voice_queue):
    voice_agent(company, voice_queue)

    first = arrive(company, "pbx-1")
    second = arrive(company, "pbx-2")

    assert (first.state, second.state) == ("offered", "waiting")


def test_a_repeated_event_changes_nothing(db, clock, company, voice_queue):
    agent = voice_agent(company, voice_queue)
    call = arrive(company)
    arrive(company)
    assert Call.objects.count() == 1

    engine.call_answered_by_pbx(company_id=company.pk, pbx_call_id="pbx-1", username=agent.user.username)
    engine.call_ended_by_pbx(company_id=company.pk, pbx_call_id="pbx-1")
    engine.call_ended_by_pbx(company_id=company.pk, pbx_call_id="pbx-1")
    engine.call_answered_by_pbx(company_id=company.pk, pbx_call_id="pbx-1", username=agent.user.username)

    assert reload(call).state == "closed"
    assert Interaction.objects.filter(channel="voice").count() == 1


def test_a_caller_who_hangs_up_while_waiting_is_logged_as_abandoned(db, clock, company, voice_queue):
    call = arrive(company)
    assert call.state == "waiting"

    engine.call_ended_by_pbx(company_id=company.pk, pbx_call_id="pbx-1")

    assert (reload(call).state, reload(call).outcome) == ("closed", "abandoned")


def test_webchat_first_priority_never_interrupts_a_chat(db, clock, company, voice_queue, manual_queue):
    company.channel_priority = "webchat,voice"
    company.save()
    agent = voice_agent(company, voice_queue)
    drive_to("active", manual_queue, agent)

    assert arrive(company).state == "waiting"


def test_an_agent_on_a_call_cannot_activate_a_chat(db, clock, company, voice_queue, manual_queue):
    agent = voice_agent(company, voice_queue)
    chat = drive_to("inbox", manual_queue, agent)
    call = arrive(company)
    engine.call_answer(agent=agent, call_id=call.pk)

    with pytest.raises(engine.TransitionError) as refusal:
        engine.chat_activate(agent=agent, chat_id=chat.pk)

    assert refusal.value.code == "on_a_call"


def test_logout_moves_a_ringing_call_on(db, clock, company, voice_queue):
    voice_agent(company, voice_queue)
    voice_agent(company, voice_queue)
    call = arrive(company)
    leaving = call.agent

    engine.agent_logout(agent=leaving)

    assert reload(call).agent not in (None, leaving)


def test_an_interruptible_break_may_take_calls_and_another_may_not(db, clock, company, voice_queue):
    short = factories.BreakReasonFactory(company=company, interruptible=True)
    lunch = factories.BreakReasonFactory(company=company, interruptible=False)
    at_lunch = voice_agent(company, voice_queue, presence="break", break_reason=lunch)
    on_short_break = voice_agent(company, voice_queue, presence="break", break_reason=short)

    call = arrive(company)

    assert call.agent == on_short_break
    assert call.agent != at_lunch


def test_the_call_sweep_routes_each_company_once_however_many_calls_wait(
    db, clock, company, voice_queue, monkeypatch
):
    for n in range(5):
        arrive(company, call_id=f"pbx-{n}")
        clock.shift(1)
    routed = []
    monkeypatch.setattr(engine.sweeps, "route_calls", lambda *, company_id: routed.append(company_id) or [])

    engine.sweep_calls()

    assert routed == [company.pk]
