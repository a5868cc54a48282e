"""One company's slow telephony system delays only that company's call offers, never another's.

The telephony systems are real HTTP servers on loopback (allowed by the lab setting); the offers come from
calls routed by the engine, committed, and sent in the background as in production.
"""

import logging
import threading

import pytest

from routing import engine, telephony
from runtime import outbound
from tests import factories
from tests.outbound_servers import Endpoint

pytestmark = pytest.mark.django_db(transaction=True)

RING_SECONDS = 20
# Well within a ring time, and shorter than the wait for one unanswered request (READ_TIMEOUT_SECONDS).
PROMPTLY = 2.5


def company_with_telephony(endpoint: Endpoint, agents: int):
    company = factories.CompanyFactory(telephony_url=endpoint.url())
    queue = factories.VoiceQueueFactory(
        company=company, slug="switchboard", ring_timeout_seconds=RING_SECONDS
    )
    for _ in range(agents):
        agent = factories.MembershipFactory(company=company, can_voice=True, extension="2001")
        agent.voice_queues.add(queue)
    return company


def call_arrives(company, call_id: str):
    return engine.call_arrived(company_id=company.pk, pbx_call_id=call_id, queue_slug="switchboard")


@pytest.fixture
def telephony_systems(settings):
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True
    hanging, answering = Endpoint(hang=True), Endpoint()
    yield hanging, answering
    # Let the hanging system answer at last, so that every offer finishes before the database goes.
    hanging.release()
    assert telephony.lanes.wait_until_idle(timeout=30)
    hanging.stop()
    answering.stop()


def test_a_company_whose_telephony_system_hangs_does_not_delay_another_companys_offers(telephony_systems):
    hanging, answering = telephony_systems
    stuck = company_with_telephony(hanging, agents=6)
    fine = company_with_telephony(answering, agents=1)
    for n in range(6):
        call_arrives(stuck, f"stuck-{n}")
    assert hanging.wait_for_requests(2, timeout=PROMPTLY), "the first offers never reached the hanging system"

    call = call_arrives(fine, "fine-1")

    assert call.state == "offered"
    assert answering.wait_for_requests(1, timeout=PROMPTLY), "the other company's offer was held up"
    assert b'"call_id": "fine-1"' in answering.requests[0]["body"]
    # The hanging company's offers are still waiting for their system, at most two at a time.
    assert len(hanging.requests) == 2
    assert hanging.most_in_flight == 2


def test_offers_beyond_a_companys_queue_limit_are_dropped_and_logged_while_others_still_flow(caplog):
    lanes = outbound.Lanes("test", concurrency=1, queue_limit=3)
    hold = threading.Event()
    done = threading.Event()

    with caplog.at_level(logging.WARNING, logger="runtime.outbound"):
        taken = [lanes.submit("stuck", lambda: hold.wait(30), what=f"offer {n}") for n in range(5)]
        other = lanes.submit("fine", done.set, what="offer of the other company")

    assert taken == [True, True, True, False, False]
    assert "offer 3 for stuck dropped: 3 already waiting or in flight" in caplog.text
    assert other and done.wait(PROMPTLY)
    hold.set()
    assert lanes.wait_until_idle(timeout=10)


def test_a_retry_waits_without_holding_its_companys_lane():
    lanes = outbound.Lanes("test", concurrency=1, attempts=2, backoff_seconds=0.5)
    tries = []
    retried = threading.Event()
    second_ran_before_the_retry = threading.Event()

    def fails_once() -> None:
        tries.append("first")
        if len(tries) == 1:
            raise outbound.TryLater("no answer")
        retried.set()

    def second() -> None:
        if not retried.is_set():
            second_ran_before_the_retry.set()

    lanes.submit("acme", fails_once, what="first offer")
    lanes.submit("acme", second, what="second offer")

    assert second_ran_before_the_retry.wait(PROMPTLY)
    assert retried.wait(PROMPTLY)
    assert lanes.wait_until_idle(timeout=10)


def test_an_offer_is_not_retried_once_the_call_has_moved_on(settings):
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True
    failing = Endpoint(status=503)
    try:
        company = company_with_telephony(failing, agents=1)
        call_arrives(company, "pbx-1")
        assert failing.wait_for_requests(1, timeout=PROMPTLY)

        engine.call_ended_by_pbx(company_id=company.pk, pbx_call_id="pbx-1")

        assert telephony.lanes.wait_until_idle(timeout=10)
        assert len(failing.requests) == 1, "an offer for a call that ended was sent again"
    finally:
        failing.stop()
