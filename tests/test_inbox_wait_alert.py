"""The wait-time alert: neutral, amber near the queue's limit, red once the server flagged it overdue."""

from datetime import timedelta

import time_machine
from django.utils import timezone

from routing import engine
from tests.webchat_support import customer_says


def alert_at(client, chat, seconds_later):
    with time_machine.travel(timezone.now() + timedelta(seconds=seconds_later), tick=False):
        return client.get(f"/inbox/{chat.pk}/transcript/").content.decode()


def test_a_customer_waiting_shows_a_neutral_clock_on_their_latest_message(htmx_client, active_chat):
    customer_says(active_chat, "Hello?")
    content = alert_at(htmx_client, active_chat, 10)
    assert '<span class="wait wait--ok"' in content
    assert '<span class="wait__label">Waiting</span> <time class="ticker">0:10</time>' in content


def test_the_alert_turns_amber_near_the_queues_limit(htmx_client, active_chat):
    customer_says(active_chat, "Hello?")
    content = alert_at(htmx_client, active_chat, 46)
    assert '<span class="wait wait--near"' in content
    assert '<span class="wait__label">Reply soon</span>' in content


def test_the_alert_turns_red_only_once_the_server_flagged_it(htmx_client, active_chat):
    customer_says(active_chat, "Hello?")
    assert "wait--overdue" not in alert_at(htmx_client, active_chat, 90)
    engine.flag_reply_alerts(now=timezone.now() + timedelta(seconds=90))
    content = alert_at(htmx_client, active_chat, 90)
    assert '<span class="wait wait--overdue"' in content
    assert '<span class="wait__label">Overdue</span>' in content
    assert "wait--overdue" in htmx_client.get("/inbox/list/").content.decode()


def test_the_alert_sits_on_the_latest_message_and_goes_when_the_agent_replies(
    htmx_client, agent, active_chat
):
    customer_says(active_chat, "First")
    customer_says(active_chat, "Second")
    content = htmx_client.get(f"/inbox/{active_chat.pk}/transcript/").content.decode()
    assert content.count('class="wait ') == 1
    assert content.index("First") < content.index('class="wait ') < content.index("Second")
    engine.message_post_agent(agent=agent, chat_id=active_chat.pk, client_id="r", text="Hi")
    assert 'class="wait ' not in htmx_client.get(f"/inbox/{active_chat.pk}/transcript/").content.decode()
