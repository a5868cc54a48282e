"""Every periodic job handles each item (chat, call, agent, queue) in its own transaction: an item that fails
is logged and skipped, and the same tick still handles the others, another company's above all.

Each case plants failing items of one company (a row the database refuses to change, or a chat poisoned by
an older release, where a client's message holds the id of the chat's next system message) before and
after a healthy item of another company in every order the job might take them, runs one tick (the
function Celery's task and the embedded scheduler both run), and checks that the healthy item was handled
and the failures were logged.
"""

import datetime as dt
import logging
from collections.abc import Callable

import pytest
from django.db import connection
from django.utils import timezone

from contactcentre.models import Membership, Presence
from crm.models import Interaction
from routing import engine, jobs, scheduler
from routing.models import Call, ServiceLevelBreach
from tests import factories
from tests.reports.live_support import breaching_traffic
from webchat.models import Chat, Message, Sender


@pytest.fixture
def refuse_updates(transactional_db):
    """`refuse_updates(table, ids)`: from now on the database refuses to change those rows (a trigger),
    as it would a row that breaks a constraint; taken away again after the test."""
    tables = []

    def refuse(table: str, ids: list) -> None:
        listed = ", ".join(f"'{pk}'" for pk in ids)
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE OR REPLACE FUNCTION planted_failure() RETURNS trigger AS $$ "
                "BEGIN RAISE EXCEPTION 'this row may not change'; END $$ LANGUAGE plpgsql"
            )
            cursor.execute(
                f"CREATE TRIGGER planted_failure BEFORE UPDATE ON {table} FOR EACH ROW "
                f"WHEN (OLD.id IN ({listed})) EXECUTE FUNCTION planted_failure()"
            )
        tables.append(table)

    yield refuse
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"DROP TRIGGER IF EXISTS planted_failure ON {table}")
        cursor.execute("DROP FUNCTION IF EXISTS planted_failure()")


def reload(obj):
    return type(obj).objects.get(pk=obj.pk)


def drive_to_wrapup(company) -> Chat:
    queue = factories.WebchatQueueFactory(company=company, auto_allocate=False, wrapup_seconds=60)
    agent = factories.MembershipFactory(company=company)
    chat = engine.chat_open(queue_token=queue.token, customer_name="Grace").chat
    engine.chat_take(agent=agent, chat_id=chat.pk)
    engine.chat_activate(agent=agent, chat_id=chat.pk)
    engine.chat_end(agent=agent, chat_id=chat.pk)
    return reload(chat)


def voice_agent(company, queue):
    agent = factories.MembershipFactory(company=company, can_voice=True)
    agent.voice_queues.add(queue)
    return agent


def arrive(company, queue, name: str) -> Call:
    return engine.call_arrived(company_id=company.pk, pbx_call_id=name, queue_slug=queue.slug)


# ---------------------------------------------------------------------------------------------------------
# One case per job: (broken company, healthy company, clock, refuse_updates) -> a check of the healthy item.
# Items are made bad, good, bad, a second apart, so that a bad one comes first whatever the job's order.


def expire_wrapups_case(broken, healthy, clock, refuse_updates) -> Callable[[], None]:
    chats = []
    for company in (broken, healthy, broken):
        chats.append(drive_to_wrapup(company))
        clock.shift(1)
    refuse_updates("webchat_chat", [chats[0].pk, chats[2].pk])
    clock.shift(3600)

    def check() -> None:
        assert (reload(chats[1]).state, reload(chats[1]).outcome) == ("closed", "completed")
        assert reload(chats[0]).state == reload(chats[2]).state == "wrapup"

    return check


def expire_call_offers_case(broken, healthy, clock, refuse_updates) -> Callable[[], None]:
    offered = []
    for n, company in enumerate((broken, healthy, broken)):
        queue = factories.VoiceQueueFactory(company=company, ring_timeout_seconds=20)
        agent = voice_agent(company, queue)
        call = arrive(company, queue, f"pbx-{n}")
        assert call.agent == agent
        offered.append((call, agent))
        clock.shift(1)
    refuse_updates("routing_call", [offered[0][0].pk, offered[2][0].pk])
    clock.shift(60)

    def check() -> None:
        call, agent = offered[1]
        assert agent in reload(call).missed_by.all()
        assert reload(offered[0][0]).state == reload(offered[2][0]).state == "offered"

    return check


def expire_call_wrapups_case(broken, healthy, clock, refuse_updates) -> Callable[[], None]:
    calls = []
    for n, company in enumerate((broken, healthy, broken)):
        queue = factories.VoiceQueueFactory(company=company, wrapup_seconds=30)
        agent = voice_agent(company, queue)
        call = arrive(company, queue, f"pbx-{n}")
        engine.call_answer(agent=agent, call_id=call.pk)
        engine.call_hang_up(agent=agent, call_id=call.pk)
        assert reload(call).state == "wrapup"
        calls.append(call)
        clock.shift(1)
    refuse_updates("routing_call", [calls[0].pk, calls[2].pk])
    clock.shift(3600)

    def check() -> None:
        assert reload(calls[1]).state == "closed"
        assert reload(calls[0]).state == reload(calls[2]).state == "wrapup"

    return check


def flag_reply_alerts_case(broken, healthy, clock, refuse_updates) -> Callable[[], None]:
    chats = []
    for n, company in enumerate((broken, healthy, broken)):
        # Named so that the broken company's queues sort first and last by name too.
        queue = factories.WebchatQueueFactory(
            company=company, name=f"{'AZ'[n // 2]} queue {n}", auto_allocate=False, reply_alert_seconds=30
        )
        agent = factories.MembershipFactory(company=company)
        chat = engine.chat_open(queue_token=queue.token).chat
        engine.chat_take(agent=agent, chat_id=chat.pk)
        engine.chat_activate(agent=agent, chat_id=chat.pk)
        engine.message_post_customer(chat_id=chat.pk, client_id="c-1", text="Hello?")
        chats.append(chat)
        clock.shift(1)
    refuse_updates("webchat_chat", [chats[0].pk, chats[2].pk])
    clock.shift(3600)

    def check() -> None:
        assert reload(chats[1]).reply_overdue
        assert not reload(chats[0]).reply_overdue and not reload(chats[2]).reply_overdue

    return check


def sweep_allocation_case(broken, healthy, clock, refuse_updates) -> Callable[[], None]:
    waiting = []
    for company in (broken, healthy, broken):
        queue = factories.WebchatQueueFactory(company=company, auto_allocate=True)
        waiting.append(engine.chat_open(queue_token=queue.token).chat)
        clock.shift(1)
    # Agents whose presence changed outside the engine: only the sweep gives them the waiting chats.
    factories.MembershipFactory(company=broken)
    helper = factories.MembershipFactory(company=healthy)
    refuse_updates("webchat_chat", [waiting[0].pk, waiting[2].pk])

    def check() -> None:
        assert (reload(waiting[1]).state, reload(waiting[1]).agent) == ("inbox", helper)
        assert reload(waiting[0]).state == reload(waiting[2]).state == "queued"

    return check


def sweep_calls_case(broken, healthy, clock, refuse_updates) -> Callable[[], None]:
    calls, queues = [], {}
    for n, company in enumerate((broken, healthy, broken)):
        queue = queues.setdefault(company.pk, factories.VoiceQueueFactory(company=company))
        call = arrive(company, queue, f"pbx-{n}")
        assert call.state == "waiting"
        calls.append(call)
        clock.shift(1)
    # Agents who became able to take calls outside the engine: only the sweep offers them the calls.
    for company in (broken, healthy):
        voice_agent(company, queues[company.pk])
    refuse_updates("routing_call", [calls[0].pk, calls[2].pk])

    def check() -> None:
        assert reload(calls[1]).state == "offered"
        assert reload(calls[0]).state == reload(calls[2]).state == "waiting"

    return check


def expire_lost_connections_case(broken, healthy, clock, refuse_updates) -> Callable[[], None]:
    held = []
    for company in (broken, healthy, broken):
        queue = factories.WebchatQueueFactory(company=company, auto_allocate=False)
        agent = factories.MembershipFactory(company=company)
        chat = engine.chat_open(queue_token=queue.token).chat
        engine.chat_take(agent=agent, chat_id=chat.pk)
        engine.chat_activate(agent=agent, chat_id=chat.pk)
        engine.agent_seen(agent_id=agent.pk)
        held.append((agent, reload(chat)))
        clock.shift(1)
    for _, chat in (held[0], held[2]):
        poison(chat)
    clock.shift(3600)

    def check() -> None:
        agent, chat = held[1]
        assert reload(agent).presence == Presence.UNAVAILABLE
        assert reload(chat).state == "queued"
        for agent, chat in (held[0], held[2]):
            assert reload(agent).presence == Presence.AVAILABLE
            assert reload(chat).state == "active"

    return check


def transcripts_expire_case(broken, healthy, clock, refuse_updates) -> Callable[[], None]:
    interactions = []
    for company in (broken, healthy, broken):
        company.transcript_retention_days = 1
        company.save(update_fields=["transcript_retention_days"])
        chat = drive_to_wrapup(company)
        engine.wrapup_complete(agent=chat.agent, chat_id=chat.pk)
        interactions.append(Interaction.objects.get(chat=chat))
        clock.shift(1)
    refuse_updates("crm_interaction", [interactions[0].pk, interactions[2].pk])
    clock.shift(dt.timedelta(days=2))

    def check() -> None:
        assert reload(interactions[1]).anonymised_at is not None
        assert reload(interactions[0]).anonymised_at is None and reload(interactions[2]).anonymised_at is None

    return check


def alert_service_levels_case(broken, healthy, clock, refuse_updates) -> Callable[[], None]:
    queues = []
    for company in (broken, healthy, broken):
        queue = factories.WebchatQueueFactory(company=company, auto_allocate=False)
        breaching_traffic(queue, timezone.now())
        queues.append(queue)
        clock.shift(1)
    states = [ServiceLevelBreach.objects.create(company=q.company, webchat_queue=q) for q in queues]
    refuse_updates("routing_servicelevelbreach", [states[0].pk, states[2].pk])

    def check() -> None:
        assert reload(states[1]).started_at is not None
        assert reload(states[0]).started_at is None and reload(states[2]).started_at is None

    return check


def poison(chat: Chat) -> None:
    """What an older release let a customer store: a message under the id of the chat's next system
    message, which makes that system message (here, the logout's) break the unique constraint."""
    chat.last_seq += 1
    chat.save(update_fields=["last_seq"])
    Message.objects.create(
        chat=chat,
        seq=chat.last_seq,
        client_id=f"system-{chat.pk}-{chat.last_seq + 1}",
        sender=Sender.CUSTOMER,
        text="Gotcha",
        sent_at=chat.created_at,
    )


CASES = {
    "expire_wrapups": expire_wrapups_case,
    "expire_call_offers": expire_call_offers_case,
    "expire_call_wrapups": expire_call_wrapups_case,
    "flag_reply_alerts": flag_reply_alerts_case,
    "sweep_allocation": sweep_allocation_case,
    "sweep_calls": sweep_calls_case,
    "expire_lost_connections": expire_lost_connections_case,
    "transcripts_expire": transcripts_expire_case,
    "alert_service_levels": alert_service_levels_case,
}


def test_every_periodic_job_has_a_case_here():
    # A new job must show that one bad item does not stop it: add its case to CASES.
    assert {job.__name__ for job in jobs.PERIODIC_JOBS} == set(CASES)


@pytest.mark.parametrize("job", sorted(CASES))
def test_a_failing_item_of_one_company_does_not_stop_the_tick_for_another(job, clock, refuse_updates, caplog):
    broken = factories.CompanyFactory(name="Broken")
    healthy = factories.CompanyFactory(name="Healthy")
    check = CASES[job](broken, healthy, clock, refuse_updates)
    if job != "expire_lost_connections":
        # The agents are still connected: only the job under test has work to do.
        Membership.objects.update(last_seen_at=timezone.now())

    with caplog.at_level(logging.ERROR):
        scheduler.run_jobs_once()

    check()
    failures = [record for record in caplog.records if record.getMessage().endswith("failed and was skipped")]
    assert len(failures) == 2, [record.getMessage() for record in caplog.records]
    assert all(record.exc_info for record in failures)
    # And the job as a whole was not reported as failed by the scheduler.
    assert not [record for record in caplog.records if record.name == "routing.scheduler"]
