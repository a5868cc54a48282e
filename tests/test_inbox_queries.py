"""The inbox and queue views cost the same number of queries however many chats there are."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from routing import engine, selectors
from tests import factories
from tests.webchat_support import customer_says
from webchat.models import Chat


def queries(client, url, **params) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url, params).status_code == 200
    return len(captured)


def hold(agent, queue, n):
    """n chats in the agent's inbox, each with a customer waiting, one active."""
    chats = factories.ChatFactory.create_batch(n, queue=queue)
    for chat in chats:
        engine.chat_take(agent=agent, chat_id=chat.pk)
        customer_says(chat, "Hello")
    engine.chat_activate(agent=agent, chat_id=chats[0].pk)
    return chats


@pytest.fixture
def roomy_queue(manual_queue):
    manual_queue.max_chats_per_agent = 100
    manual_queue.save()
    return manual_queue


@pytest.mark.parametrize("url", ["/inbox/", "/inbox/list/", "/inbox/bell/", "/inbox/status/"])
def test_the_inbox_costs_the_same_with_3_or_30_chats(agent_client, agent, roomy_queue, url):
    chats = hold(agent, roomy_queue, 3)
    few = queries(agent_client, url)
    hold(agent, roomy_queue, 27)
    assert queries(agent_client, url) == few
    assert len(chats) == 3


def test_the_selected_chat_costs_the_same_with_3_or_30_messages(agent_client, agent, roomy_queue, company):
    chat = hold(agent, roomy_queue, 1)[0]
    contact = factories.ContactFactory(company=company)
    engine.chat_assign_contact(agent=agent, chat_id=chat.pk, contact_id=contact.pk)
    few = queries(agent_client, f"/inbox/{chat.pk}/")
    for n in range(27):
        customer_says(chat, f"Message {n}")
    assert queries(agent_client, f"/inbox/{chat.pk}/") == few


def test_an_open_queue_costs_the_same_with_3_or_30_waiting(agent_client, roomy_queue):
    factories.ChatFactory.create_batch(3, queue=roomy_queue)
    few = queries(agent_client, f"/inbox/queues/{roomy_queue.pk}/", open="1")
    factories.ChatFactory.create_batch(27, queue=roomy_queue)
    assert queries(agent_client, f"/inbox/queues/{roomy_queue.pk}/", open="1") == few


def test_the_queues_panel_costs_the_same_with_3_or_30_queues(agent_client, company):
    factories.WebchatQueueFactory.create_batch(3, company=company)
    few = queries(agent_client, "/inbox/")
    factories.WebchatQueueFactory.create_batch(27, company=company)
    assert queries(agent_client, "/inbox/") == few


def test_the_queue_counter_counts_only_waiting_chats_however_long_the_history(agent_client, roomy_queue):
    factories.ChatFactory.create_batch(3, queue=roomy_queue)
    factories.ChatFactory.create_batch(5, queue=roomy_queue, state="closed", outcome="completed")
    few = queries(agent_client, f"/inbox/queues/{roomy_queue.pk}/")
    factories.ChatFactory.create_batch(40, queue=roomy_queue, state="closed", outcome="completed")
    content = agent_client.get(f"/inbox/queues/{roomy_queue.pk}/").content.decode()
    assert ">3 waiting</span>" in content
    assert queries(agent_client, f"/inbox/queues/{roomy_queue.pk}/") == few


def test_a_long_queue_is_read_in_serving_order_from_its_index_without_a_sort(roomy_queue):
    Chat.objects.bulk_create(factories.ChatFactory.build_batch(2000, queue=roomy_queue))
    waiting = selectors.waiting_chats(roomy_queue.pk)[:50]
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE webchat_chat")
        sql, params = waiting.query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "chat_queue_order" in plan
    assert "Sort" not in plan
