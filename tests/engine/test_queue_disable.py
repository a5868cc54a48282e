"""Disabling a webchat queue: it takes no new chats, and its waiting chats move to its fallback queue or end
with a message to the customer. It goes through the engine, from the admin too."""

import pytest
from django.test import Client

from crm.models import Interaction
from routing import engine, selectors
from routing.models import SERVICE_LEVEL_FIELDS, WebchatQueue
from tests import factories
from tests.engine.concurrency import run_together
from tests.engine.conftest import drive_to, open_chat, reload
from tests.two_factor_support import log_in_verified
from webchat.models import Chat, Sender


@pytest.fixture
def fallback(company):
    return factories.WebchatQueueFactory(company=company, name="Overflow", auto_allocate=False)


@pytest.fixture
def closing(company, fallback):
    return factories.WebchatQueueFactory(
        company=company, name="Evening", auto_allocate=False, fallback_queue=fallback
    )


def last_words(chat: Chat) -> str:
    return chat.messages.order_by("-seq").first().text


def test_waiting_chats_move_to_the_fallback_queue_keeping_their_time_in_the_queue(
    db, clock, closing, fallback
):
    already_there = open_chat(fallback, "Ada")
    clock.shift(10)
    first = open_chat(closing, "Grace")
    clock.shift(10)
    second = open_chat(closing, "Linus")
    clock.shift(60)

    result = engine.queue_disable(queue_id=closing.pk)

    assert {chat.pk for chat in result.moved} == {first.pk, second.pk}
    for chat in (first, second):
        moved = reload(chat)
        assert (moved.state, moved.queue_id, moved.queued_at) == ("queued", fallback.pk, chat.queued_at)
        assert moved.messages.filter(sender=Sender.SYSTEM).count() == 1
        assert "moved to another queue" in last_words(moved)
    order = list(selectors.waiting_chats(fallback.pk).values_list("pk", flat=True))
    assert order == [already_there.pk, first.pk, second.pk]
    assert reload(closing).enabled is False


def test_without_a_fallback_queue_waiting_chats_end_with_a_message_to_the_customer(db, clock, company):
    queue = factories.WebchatQueueFactory(company=company, auto_allocate=False)
    chat = open_chat(queue, "Grace")

    result = engine.queue_disable(queue_id=queue.pk)

    ended = reload(chat)
    assert [c.pk for c in result.ended] == [chat.pk]
    assert (ended.state, ended.outcome, ended.ended_by) == ("closed", "queue_closed", "system")
    assert "this chat has ended" in last_words(ended)
    assert selectors.customer_state(ended).state == "ended"
    assert Interaction.objects.filter(chat=chat, outcome="queue_closed").exists()


def test_a_disabled_fallback_queue_takes_nothing(db, clock, closing, fallback):
    fallback.enabled = False
    fallback.save()
    chat = open_chat(closing)

    engine.queue_disable(queue_id=closing.pk)

    assert (reload(chat).state, reload(chat).queue_id) == ("closed", closing.pk)


def test_chats_that_agents_hold_stay_with_them(db, clock, closing, agent):
    held = drive_to("active", closing, agent)

    engine.queue_disable(queue_id=closing.pk)

    assert (reload(held).state, reload(held).agent_id) == ("active", agent.pk)


def test_a_disabled_queue_takes_no_new_chats(db, closing):
    engine.queue_disable(queue_id=closing.pk)

    with pytest.raises(engine.TransitionError) as refusal:
        open_chat(closing)
    assert refusal.value.code == "unknown_queue"


def test_an_auto_allocating_fallback_queue_allocates_the_chats_it_received(
    db, clock, company, closing, fallback
):
    fallback.auto_allocate = True
    fallback.save()
    profile = factories.QueueProfileFactory(company=company, all_queues=False)
    profile.queues.add(fallback)
    overflow_agent = factories.MembershipFactory(company=company, queue_profile=profile)
    chat = open_chat(closing)

    engine.queue_disable(queue_id=closing.pk)

    assert (reload(chat).state, reload(chat).agent_id) == ("inbox", overflow_agent.pk)


def test_a_chat_released_by_a_logout_after_its_queue_closed_waits_in_the_fallback_queue(
    db, clock, closing, fallback, agent
):
    held = drive_to("inbox", closing, agent)
    engine.queue_disable(queue_id=closing.pk)

    engine.agent_logout(agent=agent)

    assert (reload(held).state, reload(held).queue_id) == ("queued", fallback.pk)


def test_a_chat_released_by_a_logout_with_no_queue_to_wait_in_ends_with_a_message(db, clock, company, agent):
    queue = factories.WebchatQueueFactory(company=company, auto_allocate=False)
    held = drive_to("active", queue, agent)
    engine.queue_disable(queue_id=queue.pk)

    engine.agent_logout(agent=agent)

    ended = reload(held)
    assert (ended.state, ended.outcome) == ("closed", "queue_closed")
    assert "this chat has ended" in last_words(ended)


def test_a_chat_of_a_disabled_queue_cannot_be_put_back_into_it(db, clock, closing, agent):
    held = drive_to("active", closing, agent)
    engine.queue_disable(queue_id=closing.pk)

    with pytest.raises(engine.TransitionError) as refusal:
        engine.chat_put_back(agent=agent, chat_id=held.pk)
    assert refusal.value.code == "queue_disabled"
    assert reload(held).state == "active"


@pytest.mark.django_db(transaction=True)
def test_chats_opening_while_the_queue_is_disabled_are_refused_or_handed_on_never_left_behind(company):
    fallback = factories.WebchatQueueFactory(company=company, name="Overflow", auto_allocate=False)
    closing = factories.WebchatQueueFactory(company=company, auto_allocate=False, fallback_queue=fallback)
    refused = []

    def customer():
        try:
            open_chat(closing)
        except engine.TransitionError as refusal:
            refused.append(refusal.code)

    errors = run_together([customer] * 8 + [lambda: engine.queue_disable(queue_id=closing.pk)])

    assert not errors
    assert not Chat.objects.filter(queue=closing, state="queued").exists()
    assert set(refused) <= {"unknown_queue"}
    assert Chat.objects.filter(queue=fallback, state="queued").count() == 8 - len(refused)


# ---------------------------------------------------------------------------------------------------------
# The admin


def queue_form(queue: WebchatQueue, **changes) -> dict:
    form = {
        "name": queue.name,
        "enabled": "on",
        "fallback_queue": queue.fallback_queue_id or "",
        "auto_allocate": "on" if queue.auto_allocate else "",
        "allowed_origins": queue.allowed_origins,
        "widget_title": queue.widget_title,
        "widget_colour": queue.widget_colour,
        "welcome_message": queue.welcome_message,
        "max_queue_length": queue.max_queue_length,
        "wrapup_enabled": "on",
        "wrapup_seconds": queue.wrapup_seconds,
        "wrapup_extension_seconds": queue.wrapup_extension_seconds,
        "wrapup_extensions": queue.wrapup_extensions,
        "allow_wait_without_agents": "on",
        "agents_view_queue_status": "on",
        "max_chats_per_agent": "",
        "reply_alert_seconds": queue.reply_alert_seconds,
        **{field: getattr(queue, field) for field in SERVICE_LEVEL_FIELDS},
        "_save": "Save",
    }
    form.update(changes)
    return {key: value for key, value in form.items() if value is not None}


@pytest.fixture
def admin_client(company):
    administrator = factories.MembershipFactory(company=company, role="administrator", user__is_staff=True)
    client = Client()
    log_in_verified(client, administrator.user)
    return client


def test_disabling_a_queue_in_the_admin_hands_its_waiting_chats_to_the_fallback_queue(
    db, admin_client, closing, fallback
):
    chat = open_chat(closing)

    response = admin_client.post(
        f"/admin/routing/webchatqueue/{closing.pk}/change/", queue_form(closing, enabled=None)
    )

    assert response.status_code == 302
    assert reload(closing).enabled is False
    assert (reload(chat).state, reload(chat).queue_id) == ("queued", fallback.pk)


def test_the_admin_refuses_a_fallback_queue_of_another_company(db, admin_client, closing):
    elsewhere = factories.WebchatQueueFactory(name="Elsewhere")

    response = admin_client.post(
        f"/admin/routing/webchatqueue/{closing.pk}/change/", queue_form(closing, fallback_queue=elsewhere.pk)
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["fallback_queue"]
    assert reload(closing).fallback_queue_id != elsewhere.pk


def test_the_admin_refuses_a_queue_as_its_own_fallback(db, admin_client, closing):
    response = admin_client.post(
        f"/admin/routing/webchatqueue/{closing.pk}/change/", queue_form(closing, fallback_queue=closing.pk)
    )

    assert response.status_code == 200
    assert "its own fallback" in str(response.context["adminform"].form.errors["fallback_queue"])


@pytest.mark.django_db(transaction=True)
def test_logouts_racing_the_queue_being_disabled_leave_no_chat_waiting_in_it(company):
    fallback = factories.WebchatQueueFactory(company=company, name="Overflow", auto_allocate=False)
    for round_ in range(5):
        closing = factories.WebchatQueueFactory(
            company=company, name=f"Evening {round_}", auto_allocate=False, fallback_queue=fallback
        )
        agents = [factories.MembershipFactory(company=company) for _ in range(4)]
        for agent in agents:
            drive_to("active", closing, agent)
        logouts = [lambda agent=agent: engine.agent_logout(agent=agent.pk) for agent in agents]

        errors = run_together([*logouts, lambda queue=closing: engine.queue_disable(queue_id=queue.pk)])

        assert not errors
        assert not Chat.objects.filter(queue=closing, state="queued").exists()
        assert Chat.objects.filter(queue=fallback, state="queued").count() == 4 * (round_ + 1)
