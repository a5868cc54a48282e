import datetime as dt

import pytest

from contactcentre.models import Presence
from routing import engine
from routing.models import AgentStatusInterval
from tests import factories

START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)  # the `clock` fixture's moment


def at(hours=0, minutes=0, seconds=0, days=0) -> dt.datetime:
    """A moment of the test day, counted from the clock's start (09:00 UTC)."""
    return START + dt.timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def move_to(clock, moment: dt.datetime) -> None:
    clock.move_to(moment)


@pytest.fixture
def voice_queue(company):
    return factories.VoiceQueueFactory(
        company=company, slug="switchboard", ring_timeout_seconds=20, wrapup_seconds=30
    )


@pytest.fixture
def logged_out_agent(company, voice_queue):
    """A voice and webchat agent who has not logged in yet (no status history)."""
    agent = factories.MembershipFactory(
        company=company, can_voice=True, presence=Presence.UNAVAILABLE, presence_since=None
    )
    agent.voice_queues.add(voice_queue)
    return agent


def open_chat(queue, name="Grace"):
    return engine.chat_open(queue_token=queue.token, customer_name=name).chat


def history(agent) -> list[tuple]:
    """The agent's intervals in order: (status, break reason's name, started_at, ended_at)."""
    return [
        (i.status, i.break_reason.name if i.break_reason_id else "", i.started_at, i.ended_at)
        for i in AgentStatusInterval.objects.filter(agent=agent)
        .select_related("break_reason")
        .order_by("started_at", "pk")
    ]
