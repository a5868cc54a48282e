"""The agents' status history: intervals written by the engine in the transaction that changed the status."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from routing import engine, selectors
from routing.models import AgentStatusInterval
from tests import factories
from tests.engine.concurrency import run_together
from tests.reports.conftest import at, history, move_to, open_chat


def test_a_typical_agent_day_leaves_its_intervals_with_exact_times(
    db, clock, company, manual_queue, voice_queue, logged_out_agent
):
    agent = logged_out_agent
    lunch = factories.BreakReasonFactory(company=company, name="Lunch")
    coffee = factories.BreakReasonFactory(company=company, name="Coffee")

    engine.agent_login(agent=agent)  # 09:00 Available
    move_to(clock, at(minutes=5))
    chat = open_chat(manual_queue)
    move_to(clock, at(minutes=6))
    engine.chat_take(agent=agent, chat_id=chat.pk)  # in the inbox: still Available
    move_to(clock, at(minutes=7))
    engine.chat_activate(agent=agent, chat_id=chat.pk)  # 09:07 Handling
    move_to(clock, at(minutes=10))
    engine.chat_park(agent=agent, chat_id=chat.pk)  # 09:10 Available again
    move_to(clock, at(minutes=12))
    call = engine.call_arrived(company_id=company.pk, pbx_call_id="pbx-1", queue_slug="switchboard")
    assert (call.state, call.agent_id) == ("offered", agent.pk)  # ringing shows no new status
    move_to(clock, at(minutes=12, seconds=10))
    engine.call_answer(agent=agent, call_id=call.pk)  # 09:12:10 On a call
    move_to(clock, at(minutes=15))
    engine.call_ended_by_pbx(company_id=company.pk, pbx_call_id="pbx-1")  # 09:15 call wrap-up
    move_to(clock, at(minutes=15, seconds=20))
    engine.call_wrapup_complete(agent=agent, call_id=call.pk)  # 09:15:20 Available
    move_to(clock, at(minutes=16))
    engine.chat_activate(agent=agent, chat_id=chat.pk)  # 09:16 Handling
    move_to(clock, at(minutes=20))
    engine.chat_end(agent=agent, chat_id=chat.pk)  # 09:20 chat wrap-up
    move_to(clock, at(minutes=21))
    engine.wrapup_complete(agent=agent, chat_id=chat.pk)  # 09:21 Available
    move_to(clock, at(minutes=30))
    engine.agent_set_presence(agent=agent, presence="break", break_reason_id=lunch.pk)  # 09:30 Lunch
    move_to(clock, at(hours=1))
    engine.agent_set_presence(agent=agent, presence="break", break_reason_id=coffee.pk)  # 10:00 Coffee
    move_to(clock, at(hours=1, minutes=10))
    engine.agent_set_presence(agent=agent, presence="available")  # 10:10 Available
    move_to(clock, at(hours=1, minutes=15))
    engine.agent_set_presence(agent=agent, presence="available")  # no change: no interval
    move_to(clock, at(hours=8))
    engine.agent_logout(agent=agent)  # 17:00 logged out

    assert history(agent) == [
        ("available", "", at(), at(minutes=7)),
        ("handling", "", at(minutes=7), at(minutes=10)),
        ("available", "", at(minutes=10), at(minutes=12, seconds=10)),
        ("call", "", at(minutes=12, seconds=10), at(minutes=15)),
        ("wrapup", "", at(minutes=15), at(minutes=15, seconds=20)),
        ("available", "", at(minutes=15, seconds=20), at(minutes=16)),
        ("handling", "", at(minutes=16), at(minutes=20)),
        ("wrapup", "", at(minutes=20), at(minutes=21)),
        ("available", "", at(minutes=21), at(minutes=30)),
        ("break", "Lunch", at(minutes=30), at(hours=1)),
        ("break", "Coffee", at(hours=1), at(hours=1, minutes=10)),
        ("available", "", at(hours=1, minutes=10), at(hours=8)),
        ("logged_out", "", at(hours=8), None),
    ]

    # The next morning's login ends the night.
    move_to(clock, at(days=1))
    engine.agent_login(agent=agent)
    assert history(agent)[-2:] == [
        ("logged_out", "", at(hours=8), at(days=1)),
        ("available", "", at(days=1), None),
    ]


def test_the_recorded_status_is_the_one_the_agent_is_shown(db, clock, manual_queue, logged_out_agent):
    agent = logged_out_agent
    engine.agent_login(agent=agent)
    chat = open_chat(manual_queue)
    engine.chat_take(agent=agent, chat_id=chat.pk)
    engine.chat_activate(agent=agent, chat_id=chat.pk)

    shown = selectors.agent_status(agent.__class__.objects.get(pk=agent.pk))
    open_interval = AgentStatusInterval.objects.get(agent=agent, ended_at__isnull=True)
    assert (open_interval.status, open_interval.started_at) == (shown.code, shown.since) == ("handling", at())


def test_posting_messages_writes_no_interval_and_reads_none(db, clock, manual_queue, logged_out_agent):
    agent = logged_out_agent
    engine.agent_login(agent=agent)
    chat = open_chat(manual_queue)
    engine.chat_take(agent=agent, chat_id=chat.pk)
    engine.chat_activate(agent=agent, chat_id=chat.pk)
    before = history(agent)
    table = AgentStatusInterval._meta.db_table

    clock.shift(30)
    with CaptureQueriesContext(connection) as queries:
        engine.message_post_customer(chat_id=chat.pk, client_id="c-1", text="Hello?")
        engine.message_post_agent(agent=agent, chat_id=chat.pk, client_id="a-1", text="Hello, Grace.")

    assert history(agent) == before
    assert not [q["sql"] for q in queries.captured_queries if table in q["sql"]]


def test_the_customer_ending_the_active_chat_starts_wrap_up_and_its_expiry_ends_it(
    db, clock, manual_queue, logged_out_agent
):
    agent = logged_out_agent
    engine.agent_login(agent=agent)
    chat = open_chat(manual_queue)
    engine.chat_take(agent=agent, chat_id=chat.pk)
    engine.chat_activate(agent=agent, chat_id=chat.pk)
    move_to(clock, at(minutes=2))
    engine.chat_end_by_customer(chat_id=chat.pk)  # wrap-up of the queue's 60 seconds
    move_to(clock, at(minutes=3))
    assert engine.expire_wrapups() == 1

    assert history(agent) == [
        ("available", "", at(), at()),
        ("handling", "", at(), at(minutes=2)),
        ("wrapup", "", at(minutes=2), at(minutes=3)),
        ("available", "", at(minutes=3), None),
    ]


def test_put_back_and_transfer_end_handling(db, clock, company, manual_queue, logged_out_agent):
    agent = logged_out_agent
    other = factories.WebchatQueueFactory(company=company, name="Billing", auto_allocate=False)
    engine.agent_login(agent=agent)
    first, second = open_chat(manual_queue), open_chat(manual_queue)
    for chat in (first, second):
        engine.chat_take(agent=agent, chat_id=chat.pk)
    move_to(clock, at(minutes=1))
    engine.chat_activate(agent=agent, chat_id=first.pk)
    move_to(clock, at(minutes=2))
    engine.chat_put_back(agent=agent, chat_id=first.pk)
    move_to(clock, at(minutes=3))
    engine.chat_activate(agent=agent, chat_id=second.pk)
    move_to(clock, at(minutes=4))
    engine.chat_transfer(agent=agent, chat_id=second.pk, queue_id=other.pk)

    assert [row[:3] for row in history(agent)] == [
        ("available", "", at()),
        ("handling", "", at(minutes=1)),
        ("available", "", at(minutes=2)),
        ("handling", "", at(minutes=3)),
        ("available", "", at(minutes=4)),
    ]


def test_logging_out_on_a_call_keeps_the_call_until_it_ends(
    db, clock, company, voice_queue, logged_out_agent
):
    agent = logged_out_agent
    voice_queue.wrapup_seconds = 0
    voice_queue.save()
    engine.agent_login(agent=agent)
    call = engine.call_arrived(company_id=company.pk, pbx_call_id="pbx-9", queue_slug="switchboard")
    engine.call_answer(agent=agent, call_id=call.pk)
    move_to(clock, at(minutes=1))
    engine.agent_logout(agent=agent)  # still talking: the call is what they show
    move_to(clock, at(minutes=4))
    engine.call_ended_by_pbx(company_id=company.pk, pbx_call_id="pbx-9")

    assert history(agent) == [
        ("available", "", at(), at()),
        ("call", "", at(), at(minutes=4)),
        ("logged_out", "", at(minutes=4), None),
    ]


def test_an_agent_never_has_two_open_intervals(db, clock, logged_out_agent):
    agent = logged_out_agent
    engine.agent_login(agent=agent)

    with pytest.raises(IntegrityError), transaction.atomic():
        AgentStatusInterval.objects.create(
            company=agent.company, agent=agent, status="break", started_at=at(minutes=1)
        )


@pytest.mark.django_db(transaction=True)
def test_concurrent_presence_changes_leave_one_contiguous_history(clock):
    agent = factories.MembershipFactory(presence="unavailable", presence_since=None)
    reason = factories.BreakReasonFactory(company=agent.company, name="Lunch")
    engine.agent_login(agent=agent)

    def flip(presence):
        def work():
            for _ in range(10):
                engine.agent_set_presence(
                    agent=agent, presence=presence, break_reason_id=reason.pk if presence == "break" else None
                )

        return work

    assert run_together([flip("break"), flip("available"), flip("break"), flip("available")]) == []

    intervals = list(AgentStatusInterval.objects.filter(agent=agent).order_by("started_at", "pk"))
    assert [i.ended_at is None for i in intervals].count(True) == 1
    assert intervals[-1].ended_at is None
    # Each interval ends where the next starts, and no two neighbours hold the same status.
    for before, after in zip(intervals, intervals[1:], strict=False):
        assert before.ended_at == after.started_at
        assert (before.status, before.break_reason_id) != (after.status, after.break_reason_id)
    shown = selectors.agent_status(agent.__class__.objects.get(pk=agent.pk)).code
    assert intervals[-1].status == shown
