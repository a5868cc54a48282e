"""Concurrency: real concurrent transactions on PostgreSQL, checked by SQL after the run.

An audit trigger records every change of a chat's holder as it happens, with how many chats the new
holder held at that moment, so a double allocation or a capacity breach at any commit shows up even if a
later transition hid it.
"""

import contextlib
import random

import pytest
from django.db import connection
from django.utils import timezone

from routing import engine
from tests import factories
from tests.engine.concurrency import run_together
from webchat.models import Chat

pytestmark = pytest.mark.django_db(transaction=True)

AUDIT_SQL = """
CREATE TABLE chat_holder_audit (
    id bigserial PRIMARY KEY,
    chat_id uuid NOT NULL,
    old_state text, new_state text NOT NULL,
    old_agent bigint, new_agent bigint,
    held_after integer
);
CREATE FUNCTION audit_chat_holder() RETURNS trigger AS $$
BEGIN
    IF NEW.agent_id IS DISTINCT FROM OLD.agent_id OR NEW.state IS DISTINCT FROM OLD.state THEN
        INSERT INTO chat_holder_audit (chat_id, old_state, new_state, old_agent, new_agent, held_after)
        VALUES (NEW.id, OLD.state, NEW.state, OLD.agent_id, NEW.agent_id,
                CASE WHEN NEW.agent_id IS NULL
                       OR NEW.state NOT IN ('inbox', 'active', 'parked', 'wrapup', 'wrapup_parked')
                THEN NULL ELSE (
                    SELECT count(*) FROM webchat_chat c
                    WHERE c.agent_id = NEW.agent_id AND c.id <> NEW.id
                      AND c.state IN ('inbox', 'active', 'parked', 'wrapup', 'wrapup_parked')
                ) + 1 END);
    END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER chat_holder_audit AFTER UPDATE ON webchat_chat
    FOR EACH ROW EXECUTE FUNCTION audit_chat_holder();
"""


@pytest.fixture
def audit():
    with connection.cursor() as cursor:
        cursor.execute(AUDIT_SQL)
    yield
    with connection.cursor() as cursor:
        cursor.execute(
            "DROP TRIGGER chat_holder_audit ON webchat_chat; DROP FUNCTION audit_chat_holder(); "
            "DROP TABLE chat_holder_audit;"
        )


def sql(query: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(query)
        return cursor.fetchall()


def test_of_many_agents_taking_the_same_chat_exactly_one_wins(audit):
    queue = factories.WebchatQueueFactory(auto_allocate=False)
    agents = [factories.MembershipFactory(company=queue.company) for _ in range(8)]
    chat = engine.chat_open(queue_token=queue.token).chat
    winners, refusals = [], []

    def take(agent):
        def work():
            try:
                engine.chat_take(agent=agent, chat_id=chat.pk)
                winners.append(agent.pk)
            except engine.TransitionError as refusal:
                refusals.append(refusal.code)

        return work

    assert run_together([take(a) for a in agents]) == []

    assert len(winners) == 1
    assert refusals == ["not_queued"] * 7
    assert Chat.objects.get(pk=chat.pk).agent_id == winners[0]
    assert sql("SELECT count(*) FROM chat_holder_audit WHERE new_state = 'inbox'") == [(1,)]


def test_allocators_and_takers_over_a_backlog_never_double_allocate_or_breach_capacity(audit):
    capacity = 3
    company = factories.CompanyFactory(default_max_chats_per_agent=capacity)
    queue = factories.WebchatQueueFactory(company=company, auto_allocate=True)
    agents = [factories.MembershipFactory(company=company) for _ in range(50)]
    now = timezone.now()
    Chat.objects.bulk_create(
        Chat(company=company, queue=queue, created_at=now, queued_at=now, customer_name=f"c{i}")
        for i in range(1000)
    )
    rounds = 40

    def allocator():
        for _ in range(rounds):
            engine.allocate_queue(queue_id=queue.pk)

    def taker(seed):
        rng = random.Random(seed)
        # Each taker acts for its own agents, as each agent has one browser; allocators serve them all.
        own_agents = agents[seed::3]

        def work():
            for _ in range(rounds):
                agent = rng.choice(own_agents)
                waiting = list(
                    Chat.objects.filter(queue=queue, state="queued").values_list("pk", flat=True)[:20]
                )
                if waiting:
                    with contextlib.suppress(engine.TransitionError):
                        engine.chat_take(agent=agent, chat_id=rng.choice(waiting))
                held = list(Chat.objects.filter(agent=agent, state="inbox").values_list("pk", flat=True)[:1])
                for chat_id in held:
                    # Finish a chat now and then so capacity keeps freeing and allocation keeps running.
                    engine.chat_activate(agent=agent, chat_id=chat_id)
                    engine.chat_end(agent=agent, chat_id=chat_id)
                    engine.wrapup_complete(agent=agent, chat_id=chat_id)

        return work

    errors = run_together([allocator, allocator, allocator, taker(0), taker(1), taker(2)])

    assert errors == []
    given = sql("SELECT count(*) FROM chat_holder_audit WHERE new_state = 'inbox'")[0][0]
    assert given > 150
    # Every assignment came straight from the queue: never from one holder to another.
    assert sql(
        "SELECT count(*) FROM chat_holder_audit WHERE new_state = 'inbox' AND old_state <> 'queued'"
    ) == [(0,)]
    assert sql(
        "SELECT count(*) FROM chat_holder_audit WHERE old_agent IS NOT NULL AND new_agent IS NOT NULL "
        "AND old_agent <> new_agent"
    ) == [(0,)]
    # No agent ever held more than the capacity, at any commit.
    assert sql("SELECT coalesce(max(held_after), 0) FROM chat_holder_audit")[0][0] <= capacity
    assert sql(
        "SELECT count(*) FROM (SELECT agent_id FROM webchat_chat WHERE state IN "
        "('inbox','active','parked','wrapup','wrapup_parked') "
        f"GROUP BY agent_id HAVING count(*) > {capacity}) x"
    ) == [(0,)]
    # Each chat was given out at most once per time it was queued.
    assert sql(
        "SELECT count(*) FROM (SELECT chat_id FROM chat_holder_audit WHERE new_state = 'inbox' "
        "GROUP BY chat_id HAVING count(*) > 1) x"
    ) == [(0,)]


def test_a_logout_racing_a_take_leaves_the_agent_unavailable_and_holding_nothing(audit):
    queue = factories.WebchatQueueFactory(auto_allocate=False)
    for _ in range(15):
        agent = factories.MembershipFactory(company=queue.company)
        chat = engine.chat_open(queue_token=queue.token).chat

        def take(agent=agent, chat=chat):
            try:
                engine.chat_take(agent=agent, chat_id=chat.pk)
            except engine.TransitionError as refusal:
                assert refusal.code == "unavailable"

        def logout(agent=agent):
            engine.agent_logout(agent=agent)

        assert run_together([take, logout]) == []

        agent.refresh_from_db()
        assert agent.presence == "unavailable"
        assert not Chat.objects.filter(agent=agent).exclude(state="closed").exists()
        assert Chat.objects.get(pk=chat.pk).state == "queued"


def test_agents_becoming_available_together_each_return_holding_a_full_inbox(audit):
    """Changes made together share allocation rounds; still, each call returns only after a round that saw
    its own change, so no agent is left with room while chats wait."""
    capacity = 3
    company = factories.CompanyFactory(default_max_chats_per_agent=capacity)
    queue = factories.WebchatQueueFactory(company=company, auto_allocate=True)
    agents = [factories.MembershipFactory(company=company, presence="break") for _ in range(16)]
    now = timezone.now()
    Chat.objects.bulk_create(
        Chat(company=company, queue=queue, created_at=now, queued_at=now, customer_name=f"c{i}")
        for i in range(100)
    )
    held_on_return: dict[int, int] = {}

    def available(agent):
        def work():
            engine.agent_set_presence(agent=agent, presence="available")
            held_on_return[agent.pk] = Chat.objects.filter(agent=agent, state="inbox").count()

        return work

    assert run_together([available(agent) for agent in agents]) == []

    assert held_on_return == {agent.pk: capacity for agent in agents}
    assert Chat.objects.filter(queue=queue, state="queued").count() == 100 - 16 * capacity
    assert sql("SELECT coalesce(max(held_after), 0) FROM chat_holder_audit")[0][0] == capacity
    assert sql(
        "SELECT count(*) FROM (SELECT chat_id FROM chat_holder_audit WHERE new_state = 'inbox' "
        "GROUP BY chat_id HAVING count(*) > 1) x"
    ) == [(0,)]
