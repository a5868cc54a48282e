from django.test import override_settings

from routing import engine
from tests import factories
from tests.engine.conftest import drive_to, open_chat, reload
from webchat.models import Chat


def test_logout_returns_held_chats_to_the_front_of_their_queue_and_completes_wrapups(
    db, clock, company, manual_queue, agent
):
    waiting = open_chat(manual_queue, name="Already waiting")
    clock.shift(60)
    in_inbox = drive_to("inbox", manual_queue, agent)
    active = drive_to("active", manual_queue, agent)
    wrapping = drive_to("wrapup", manual_queue, agent)
    queued_at = reload(active).queued_at
    clock.shift(120)

    engine.agent_logout(agent=agent)

    assert reload(agent).presence == "unavailable"
    assert reload(wrapping).state == "closed"
    assert reload(active).queued_at == queued_at
    order = list(
        Chat.objects.filter(queue=manual_queue, state="queued")
        .order_by("-queue_priority", "queued_at", "pk")
        .values_list("pk", flat=True)
    )
    assert order[-1] == waiting.pk
    assert set(order[:2]) == {in_inbox.pk, active.pk}


def test_a_returned_chat_is_allocated_to_another_agent_before_older_waiting_chats(
    db, clock, company, auto_queue
):
    leaving = factories.MembershipFactory(company=company)
    chat = open_chat(auto_queue)
    assert chat.agent == leaving
    engine.agent_set_presence(agent=leaving, presence="break")
    clock.shift(5)
    later = open_chat(auto_queue)
    assert later.state == "queued"

    engine.agent_logout(agent=leaving)
    arriving = factories.MembershipFactory(company=company, presence="unavailable")
    auto_queue.max_chats_per_agent = 1
    auto_queue.save()
    engine.agent_login(agent=arriving)

    assert reload(chat).agent == arriving
    assert reload(later).state == "queued"


@override_settings(AGENT_CONNECTION_GRACE_SECONDS=60)
def test_an_agent_unseen_for_the_grace_period_is_logged_out(db, clock, manual_queue, agent):
    chat = drive_to("active", manual_queue, agent)
    engine.agent_seen(agent_id=agent.pk)

    clock.shift(59)
    assert engine.expire_lost_connections() == 0
    clock.shift(2)
    assert engine.expire_lost_connections() == 1

    assert reload(agent).presence == "unavailable"
    assert reload(chat).state == "queued"


@override_settings(AGENT_CONNECTION_GRACE_SECONDS=60)
def test_heartbeats_keep_the_agent_logged_in(db, clock, agent):
    for _ in range(5):
        clock.shift(30)
        engine.agent_seen(agent_id=agent.pk)
        assert engine.expire_lost_connections() == 0

    assert reload(agent).presence == "available"


def test_a_break_carries_its_reason_and_available_ends_it(db, clock, company, agent):
    lunch = factories.BreakReasonFactory(company=company, name="Lunch")

    engine.agent_set_presence(agent=agent, presence="break", break_reason_id=lunch.pk)
    assert (reload(agent).presence, reload(agent).break_reason) == ("break", lunch)

    engine.agent_set_presence(agent=agent, presence="available")
    assert (reload(agent).presence, reload(agent).break_reason) == ("available", None)


def test_another_companys_break_reason_is_refused(db, agent):
    foreign = factories.BreakReasonFactory()

    try:
        engine.agent_set_presence(agent=agent, presence="break", break_reason_id=foreign.pk)
    except engine.TransitionError as refusal:
        assert refusal.code == "unknown_break_reason"
    else:
        raise AssertionError("a foreign break reason was accepted")
    assert reload(agent).presence == "available"


def test_the_status_shows_the_work_that_overrides_presence(db, clock, manual_queue, agent):
    from routing.selectors import agent_status

    assert agent_status(reload(agent)).label == "Available"
    chat = drive_to("active", manual_queue, agent)
    assert agent_status(reload(agent)).label == "Handling a chat"
    engine.chat_end(agent=agent, chat_id=chat.pk)
    status = agent_status(reload(agent))
    assert status.label == "Wrap-up"
    assert status.wrapup_deadline == reload(chat).wrapup_deadline
    engine.chat_park(agent=agent, chat_id=chat.pk)
    assert agent_status(reload(agent)).label == "Available"
