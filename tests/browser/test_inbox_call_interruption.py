"""A call interrupts an active chat: simulate_call rings the agent, Answer parks the chat, Hang up brings it
back active with its earlier messages and those the customer sent during the call."""

import io
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.management import call_command
from django.db import connections
from playwright.sync_api import expect

from routing import engine
from tests import factories
from tests.browser.inbox_pages import sign_in

pytestmark = pytest.mark.browser


def simulate_call(**options) -> str:
    output = io.StringIO()
    try:
        call_command("simulate_call", stdout=output, **options)
    finally:
        connections.close_all()
    return output.getvalue()


def test_a_call_parks_the_active_chat_and_hanging_up_brings_it_back(
    new_page, live_server_url, transactional_db, run_in_thread
):
    company = factories.CompanyFactory(slug="acme")
    support = factories.WebchatQueueFactory(company=company, name="Support", auto_allocate=False)
    switchboard = factories.VoiceQueueFactory(company=company, slug="switchboard", wrapup_seconds=0)
    agent = factories.MembershipFactory(company=company, can_voice=True, display_name="Alice")
    agent.voice_queues.add(switchboard)
    chat = run_in_thread(
        engine.chat_open, queue_token=support.token, customer_name="Grace", first_message="Hi"
    ).chat
    run_in_thread(engine.chat_take, agent=agent, chat_id=chat.pk)
    run_in_thread(engine.chat_activate, agent=agent, chat_id=chat.pk)
    inbox = sign_in(new_page(), agent)
    inbox.goto(f"/inbox/{chat.pk}/")
    workspace = inbox.locator("#chat")
    expect(workspace).to_have_attribute("data-state", "active")

    with ThreadPoolExecutor(max_workers=1) as pool:
        caller = pool.submit(
            simulate_call,
            company="acme",
            queue="switchboard",
            number="+441234567890",
            hold=60,
            url=live_server_url,
            answer_timeout=30,
        )
        banner = inbox.locator("#call")
        expect(banner).to_contain_text("Incoming call")
        expect(banner).to_contain_text("+441234567890")

        banner.get_by_role("button", name="Answer").click()

        expect(banner).to_contain_text("On a call")
        expect(workspace).to_have_attribute("data-state", "parked")
        expect(inbox.locator("#status")).to_contain_text("On a call")
        run_in_thread(engine.message_post_customer, chat_id=chat.pk, client_id="during", text="Still there?")

        banner.get_by_role("button", name="Hang up").click()

        expect(workspace).to_have_attribute("data-state", "active")
        expect(inbox.locator(f"#transcript-{chat.pk}")).to_contain_text("Hi")
        expect(inbox.locator(f"#transcript-{chat.pk}")).to_contain_text("Still there?")
        expect(inbox.locator("#status")).to_contain_text("Handling a chat")
        # The caller's side ends the call as soon as the agent has hung up, not after the whole hold.
        assert "The agent hung up." in caller.result(timeout=20)
