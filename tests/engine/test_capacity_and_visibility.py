import pytest

from routing import engine
from tests import factories
from tests.engine.conftest import open_chat, reload


def test_an_agent_may_take_a_chat_while_already_holding_chats(db, company, manual_queue, agent):
    first, second = open_chat(manual_queue), open_chat(manual_queue)
    engine.chat_take(agent=agent, chat_id=first.pk)

    engine.chat_take(agent=agent, chat_id=second.pk)

    assert reload(second).agent == agent


def test_taking_past_the_queues_maximum_is_refused(db, company, manual_queue, agent):
    manual_queue.max_chats_per_agent = 2
    manual_queue.save()
    chats = [open_chat(manual_queue) for _ in range(3)]
    for chat in chats[:2]:
        engine.chat_take(agent=agent, chat_id=chat.pk)

    with pytest.raises(engine.TransitionError) as refusal:
        engine.chat_take(agent=agent, chat_id=chats[2].pk)

    assert refusal.value.code == "at_capacity"
    assert reload(chats[2]).state == "queued"


def test_the_company_default_applies_when_the_queue_sets_no_maximum(db, company, manual_queue, agent):
    company.default_max_chats_per_agent = 1
    company.save()
    first, second = open_chat(manual_queue), open_chat(manual_queue)
    engine.chat_take(agent=agent, chat_id=first.pk)

    with pytest.raises(engine.TransitionError):
        engine.chat_take(agent=agent, chat_id=second.pk)


def test_chats_in_wrapup_count_against_capacity(db, company, manual_queue, agent):
    manual_queue.max_chats_per_agent = 1
    manual_queue.save()
    first, second = open_chat(manual_queue), open_chat(manual_queue)
    engine.chat_take(agent=agent, chat_id=first.pk)
    engine.chat_activate(agent=agent, chat_id=first.pk)
    engine.chat_end(agent=agent, chat_id=first.pk)

    with pytest.raises(engine.TransitionError):
        engine.chat_take(agent=agent, chat_id=second.pk)


def test_a_queue_outside_the_agents_profile_cannot_be_taken_from(db, company, manual_queue):
    other_queue = factories.WebchatQueueFactory(company=company, auto_allocate=False)
    profile = factories.QueueProfileFactory(company=company, all_queues=False)
    profile.queues.add(other_queue)
    agent = factories.MembershipFactory(company=company, queue_profile=profile)
    chat = open_chat(manual_queue)

    with pytest.raises(engine.TransitionError) as refusal:
        engine.chat_take(agent=agent, chat_id=chat.pk)

    assert refusal.value.status == 404
    assert reload(chat).state == "queued"


def test_another_companys_chat_is_not_found(db, manual_queue):
    stranger = factories.MembershipFactory()
    chat = open_chat(manual_queue)

    with pytest.raises(engine.TransitionError) as refusal:
        engine.chat_take(agent=stranger, chat_id=chat.pk)

    assert (refusal.value.code, refusal.value.status) == ("not_found", 404)


def test_an_agent_cannot_act_on_another_agents_chat(db, company, manual_queue, agent):
    colleague = factories.MembershipFactory(company=company)
    chat = open_chat(manual_queue)
    engine.chat_take(agent=colleague, chat_id=chat.pk)

    with pytest.raises(engine.TransitionError) as refusal:
        engine.chat_activate(agent=agent, chat_id=chat.pk)

    assert refusal.value.code == "not_yours"
    assert reload(chat).state == "inbox"


def test_an_unavailable_agent_cannot_take_a_chat(db, company, manual_queue):
    agent = factories.MembershipFactory(company=company, presence="unavailable")
    chat = open_chat(manual_queue)

    with pytest.raises(engine.TransitionError) as refusal:
        engine.chat_take(agent=agent, chat_id=chat.pk)

    assert refusal.value.code == "unavailable"
