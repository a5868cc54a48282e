import pytest

from routing import engine
from tests.engine.conftest import drive_to, open_chat, reload


def test_activating_a_chat_parks_the_agents_active_chat(db, clock, manual_queue, agent):
    first = drive_to("active", manual_queue, agent)
    second = drive_to("inbox", manual_queue, agent)

    engine.chat_activate(agent=agent, chat_id=second.pk)

    assert (reload(first).state, reload(first).park_reason) == ("parked", "manual")
    assert reload(second).state == "active"


def test_activating_a_chat_during_an_active_wrapup_pauses_the_wrapup(db, clock, manual_queue, agent):
    finished = drive_to("wrapup", manual_queue, agent)
    waiting = drive_to("inbox", manual_queue, agent)

    engine.chat_activate(agent=agent, chat_id=waiting.pk)

    assert reload(finished).state == "wrapup_parked"


def test_parking_keeps_the_handle_time_and_the_clock_restarts_on_reactivation(db, clock, manual_queue, agent):
    chat = drive_to("active", manual_queue, agent)
    clock.shift(30)
    engine.chat_park(agent=agent, chat_id=chat.pk)
    clock.shift(600)
    engine.chat_activate(agent=agent, chat_id=chat.pk)
    clock.shift(15)
    engine.chat_end(agent=agent, chat_id=chat.pk)

    assert reload(chat).handle_seconds == pytest.approx(45)


def test_a_parked_wrapup_keeps_its_remaining_time(db, clock, manual_queue, agent):
    manual_queue.wrapup_seconds = 60
    manual_queue.save()
    chat = drive_to("wrapup", manual_queue, agent)
    clock.shift(20)
    engine.chat_park(agent=agent, chat_id=chat.pk)
    clock.shift(3600)
    assert engine.expire_wrapups() == 0

    engine.chat_activate(agent=agent, chat_id=chat.pk)

    chat = reload(chat)
    assert chat.state == "wrapup"
    assert (chat.wrapup_deadline - chat.wrapup_started_at).total_seconds() == pytest.approx(3600 + 60)
    clock.shift(39)
    assert engine.expire_wrapups() == 0
    clock.shift(2)
    assert engine.expire_wrapups() == 1
    assert reload(chat).state == "closed"


def test_a_chat_the_customer_left_in_the_inbox_enters_wrapup_when_activated(db, clock, manual_queue, agent):
    chat = drive_to("inbox", manual_queue, agent)
    engine.chat_end_by_customer(chat_id=chat.pk)
    assert reload(chat).state == "inbox"

    engine.chat_activate(agent=agent, chat_id=chat.pk)

    assert reload(chat).state == "wrapup"


def test_a_chat_the_customer_left_while_parked_cannot_be_put_back(db, clock, manual_queue, agent):
    chat = drive_to("parked", manual_queue, agent)
    engine.chat_end_by_customer(chat_id=chat.pk)

    with pytest.raises(engine.TransitionError) as refusal:
        engine.chat_put_back(agent=agent, chat_id=chat.pk)

    assert refusal.value.code == "customer_left"


def test_the_customer_ending_an_active_chat_starts_wrapup(db, clock, manual_queue, agent):
    chat = drive_to("active", manual_queue, agent)

    engine.chat_end_by_customer(chat_id=chat.pk)

    chat = reload(chat)
    assert (chat.state, chat.ended_by) == ("wrapup", "customer")


def test_ending_on_a_queue_without_wrapup_closes_at_once(db, clock, manual_queue, agent):
    manual_queue.wrapup_enabled = False
    manual_queue.save()
    chat = drive_to("active", manual_queue, agent)

    engine.chat_end(agent=agent, chat_id=chat.pk)

    assert (reload(chat).state, reload(chat).outcome) == ("closed", "completed")


def test_a_customer_leaving_a_queued_chat_abandons_it(db, clock, manual_queue):
    chat = open_chat(manual_queue)

    engine.chat_end_by_customer(chat_id=chat.pk)

    assert (reload(chat).state, reload(chat).outcome) == ("closed", "abandoned")


def test_transfer_moves_the_chat_to_another_queue_with_its_history(db, clock, company, manual_queue, agent):
    from tests import factories

    other = factories.WebchatQueueFactory(company=company, auto_allocate=False)
    chat = engine.chat_open(queue_token=manual_queue.token, first_message="Hello").chat
    engine.chat_take(agent=agent, chat_id=chat.pk)

    engine.chat_transfer(agent=agent, chat_id=chat.pk, queue_id=other.pk)

    chat = reload(chat)
    assert (chat.state, chat.queue, chat.agent) == ("queued", other, None)
    assert chat.messages.first().text == "Hello"


def test_transfer_to_a_queue_the_agent_does_not_serve_is_refused(db, clock, company, manual_queue):
    from tests import factories

    hidden = factories.WebchatQueueFactory(company=company, auto_allocate=False)
    profile = factories.QueueProfileFactory(company=company, all_queues=False)
    profile.queues.add(manual_queue)
    agent = factories.MembershipFactory(company=company, queue_profile=profile)
    chat = drive_to("inbox", manual_queue, agent)

    with pytest.raises(engine.TransitionError):
        engine.chat_transfer(agent=agent, chat_id=chat.pk, queue_id=hidden.pk)

    assert reload(chat).state == "inbox"


def test_only_the_active_chat_can_be_replied_to(db, clock, manual_queue, agent):
    chat = drive_to("parked", manual_queue, agent)

    with pytest.raises(engine.TransitionError) as refusal:
        engine.message_post_agent(agent=agent, chat_id=chat.pk, client_id="c1", text="Hi")

    assert refusal.value.code == "not_active"
    assert not chat.messages.exists()


def test_a_resent_message_is_stored_once(db, clock, manual_queue):
    chat = open_chat(manual_queue)

    first, created = engine.message_post_customer(chat_id=chat.pk, client_id="abc", text="Hi")
    again, created_again = engine.message_post_customer(chat_id=chat.pk, client_id="abc", text="Hi")

    assert (created, created_again) == (True, False)
    assert first.pk == again.pk
    assert chat.messages.count() == 1
