"""A long conversation in the real inbox: new messages are added at its end, what the agent scrolled back
to stays where it is, and an agent at the end keeps following the conversation."""

import pytest
from playwright.sync_api import expect

from routing import engine
from tests import factories
from tests.browser.inbox_pages import sign_in

pytestmark = pytest.mark.browser

EARLIER = 40


def test_new_messages_are_added_at_the_end_without_moving_an_agent_who_reads_back(
    new_page, transactional_db, run_in_thread
):
    company = factories.CompanyFactory()
    queue = factories.WebchatQueueFactory(company=company, auto_allocate=False)
    agent = factories.MembershipFactory(company=company)
    chat = factories.ChatFactory(queue=queue, customer_name="Grace")
    run_in_thread(engine.chat_take, agent=agent, chat_id=chat.pk)
    run_in_thread(engine.chat_activate, agent=agent, chat_id=chat.pk)
    for n in range(EARLIER):
        run_in_thread(engine.message_post_customer, chat_id=chat.pk, client_id=f"c{n}", text=f"Earlier {n}")
    inbox = sign_in(new_page(), agent)
    inbox.locator("#inbox-list").get_by_text("Grace").click()
    transcript = inbox.locator(f"#transcript-{chat.pk}")
    messages = transcript.locator("li[data-seq]")
    expect(messages).to_have_count(EARLIER)
    scroller = inbox.locator("#chat .transcript")
    settled = transcript.locator(".htmx-added, .htmx-settling")

    def quiet():
        """Wait until no part of the page is being fetched or swapped, so the agent's scrolling is theirs."""
        inbox.wait_for_function(
            "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')"
        )

    at_bottom = "el => el.scrollHeight - el.scrollTop - el.clientHeight < 2"
    # A message already shown is left in place, not drawn again: a mark put on it survives.
    transcript.locator("li[data-seq]").first.evaluate("el => { el.kept = true; }")

    # Reading back: a new message is added, and the agent's place does not move.
    quiet()
    scroller.evaluate("el => { el.scrollTop = 0; }")
    run_in_thread(engine.message_post_customer, chat_id=chat.pk, client_id="new1", text="Are you there?")
    expect(messages).to_have_count(EARLIER + 1)
    expect(messages.last).to_contain_text("Are you there?")
    expect(settled).to_have_count(0)
    assert scroller.evaluate("el => el.scrollTop") == 0
    assert transcript.locator("li[data-seq]").first.evaluate("el => el.kept === true")

    # At the end: the conversation is followed.
    quiet()
    scroller.evaluate("el => { el.scrollTop = el.scrollHeight; }")
    run_in_thread(engine.message_post_customer, chat_id=chat.pk, client_id="new2", text="Hello?")
    expect(messages).to_have_count(EARLIER + 2)
    expect(messages.last).to_contain_text("Hello?")
    expect(settled).to_have_count(0)
    assert scroller.evaluate(at_bottom)
    assert transcript.locator("li[data-seq]").first.evaluate("el => el.kept === true")

    # A reply takes the customer's wait alert away from the message it stood on.
    expect(messages.last.locator(".wait")).to_be_visible()
    run_in_thread(engine.message_post_agent, agent=agent, chat_id=chat.pk, client_id="r1", text="Yes, here")
    expect(messages).to_have_count(EARLIER + 3)
    expect(transcript.locator(".wait")).to_have_count(0)
    assert transcript.locator("li[data-seq]").first.evaluate("el => el.kept === true")
