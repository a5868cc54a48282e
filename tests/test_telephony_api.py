"""The telephony API: signed events, each accepted once, never a 500."""

import json

import pytest

from crm.models import Interaction
from routing.models import Call
from routing.telephony import signature
from tests import factories

URL = "/api/telephony/v1/events"


@pytest.fixture
def voice_setup(db):
    company = factories.CompanyFactory(slug="acme")
    queue = factories.VoiceQueueFactory(company=company, slug="switchboard", wrapup_seconds=0)
    agent = factories.MembershipFactory(company=company, can_voice=True)
    agent.voice_queues.add(queue)
    return company, agent


def post(client, company, event, secret=None):
    body = json.dumps(event).encode()
    return client.post(
        URL,
        body,
        content_type="application/json",
        headers={"X-Contact-Signature": signature(secret or company.telephony_secret, body)},
    )


def arrived(company, call_id="c-1"):
    return {
        "event": "call.arrived",
        "company": company.slug,
        "call_id": call_id,
        "queue": "switchboard",
        "from": "+441234567890",
    }


def test_an_arriving_call_is_accepted_and_offered_to_an_agent(client, voice_setup):
    company, agent = voice_setup

    response = post(client, company, arrived(company))

    assert response.status_code == 202
    assert response.json()["call"] == {"call_id": "c-1", "state": "offered", "agent": agent.user.username}


def test_a_bad_signature_is_refused_and_changes_nothing(client, voice_setup):
    company, _ = voice_setup

    response = post(client, company, arrived(company), secret="wrong-secret")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "bad_signature"
    assert not Call.objects.exists()


def test_a_missing_signature_is_refused(client, voice_setup):
    company, _ = voice_setup

    response = client.post(URL, json.dumps(arrived(company)), content_type="application/json")

    assert response.status_code == 401


def test_a_replayed_event_is_accepted_again_and_changes_nothing(client, voice_setup):
    company, agent = voice_setup
    post(client, company, arrived(company))
    answered = {
        "event": "call.answered",
        "company": company.slug,
        "call_id": "c-1",
        "agent": agent.user.username,
    }
    ended = {"event": "call.ended", "company": company.slug, "call_id": "c-1"}

    responses = [post(client, company, e) for e in (arrived(company), answered, ended, answered, ended)]

    assert [r.status_code for r in responses] == [202] * 5
    assert Call.objects.count() == 1
    assert Interaction.objects.filter(channel="voice").count() == 1
    assert Call.objects.get().state == "closed"


def test_an_unknown_call_is_not_found(client, voice_setup):
    company, _ = voice_setup

    response = post(client, company, {"event": "call.ended", "company": company.slug, "call_id": "nope"})

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_call"


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"event": 5}',
        b'{"event": "call.arrived"}',
        b'{"event": "call.exploded", "company": "acme", "call_id": "x"}',
    ],
)
def test_a_malformed_event_gets_a_clear_error(client, voice_setup, body):
    company, _ = voice_setup

    response = client.post(
        URL,
        body,
        content_type="application/json",
        headers={"X-Contact-Signature": signature(company.telephony_secret, body)},
    )

    assert response.status_code in (400, 401)
    assert "error" in response.json()
    assert not Call.objects.exists()


def test_an_unknown_voice_queue_is_not_found(client, voice_setup):
    company, _ = voice_setup
    event = {**arrived(company), "queue": "nowhere"}

    response = post(client, company, event)

    assert (response.status_code, response.json()["error"]["code"]) == (404, "unknown_queue")
