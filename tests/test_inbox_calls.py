"""The call banner: a call rings above everything with Answer and Hang up, and interrupts the chat."""

import pytest

from routing import engine
from routing.models import CallState
from tests import factories
from webchat.models import ChatState, ParkReason


@pytest.fixture
def ringing_call(agent, company):
    queue = factories.VoiceQueueFactory(company=company, name="Switchboard")
    agent.can_voice = True
    agent.save()
    agent.voice_queues.add(queue)
    call = engine.call_arrived(
        company_id=company.pk, pbx_call_id="pbx-1", queue_slug=queue.slug, caller_number="+441234567890"
    )
    call.refresh_from_db()
    assert call.state == CallState.OFFERED
    return call


def test_a_ringing_call_shows_answer_and_hang_up(agent_client, ringing_call):
    content = agent_client.get("/inbox/").content.decode()
    assert "Incoming call" in content
    assert "+441234567890" in content
    assert ">Answer</button>" in content
    assert ">Hang up</button>" in content


def test_answering_a_call_parks_the_active_chat_as_interrupted(htmx_client, agent, active_chat, ringing_call):
    response = htmx_client.post(f"/inbox/calls/{ringing_call.pk}/answer/")
    assert response.status_code == 200
    assert "On a call" in response.content.decode()
    active_chat.refresh_from_db()
    assert active_chat.state == ChatState.PARKED
    assert active_chat.park_reason == ParkReason.INTERRUPTED
    assert "Interrupted by a call" in htmx_client.get("/inbox/list/").content.decode()
    assert (
        '<strong class="status__label">On a call</strong>'
        in htmx_client.get("/inbox/status/").content.decode()
    )


def test_hanging_up_then_completing_call_wrap_up_clears_the_banner(htmx_client, ringing_call):
    htmx_client.post(f"/inbox/calls/{ringing_call.pk}/answer/")
    response = htmx_client.post(f"/inbox/calls/{ringing_call.pk}/hang-up/")
    assert "Call wrap-up" in response.content.decode()
    response = htmx_client.post(f"/inbox/calls/{ringing_call.pk}/complete/", {"notes": "Booked a visit"})
    assert response.status_code == 200
    assert "call__banner" not in response.content.decode()
    ringing_call.refresh_from_db()
    assert ringing_call.state == CallState.CLOSED
    assert ringing_call.notes == "Booked a visit"


def test_another_agents_call_cannot_be_answered(htmx_client, company, ringing_call, agent):
    colleague = factories.MembershipFactory(company=company)
    ringing_call.agent = colleague
    ringing_call.save()
    assert htmx_client.post(f"/inbox/calls/{ringing_call.pk}/answer/").status_code == 404
    ringing_call.refresh_from_db()
    assert ringing_call.state == CallState.OFFERED
