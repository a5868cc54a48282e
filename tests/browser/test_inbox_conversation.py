"""An agent's whole conversation in the real inbox, with a customer in the real widget."""

import re

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.browser.inbox_pages import sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def company(transactional_db):
    return factories.CompanyFactory(name="Demo Company")


@pytest.fixture
def support(company):
    """A manual queue: agents take its chats."""
    return factories.WebchatQueueFactory(
        company=company, name="Support", auto_allocate=False, widget_title="Chat with us"
    )


@pytest.fixture
def alice(company):
    agent = factories.MembershipFactory(company=company, display_name="Alice")
    factories.ResponseTemplateFactory(
        company=company, title="Greeting", text="Hi {customer_name}, this is {agent_name}. How can I help?"
    )
    return agent


def test_an_agent_takes_answers_parks_ends_and_wraps_up_a_chat(new_page, support, alice, company):
    grace = factories.ContactFactory(company=company, name="Grace Hopper", email="grace@example.com")
    inbox = sign_in(new_page(), alice)
    queue_row = inbox.locator(f"#queue-{support.pk}")
    expect(queue_row).to_contain_text("0 waiting")

    customer = new_page()
    customer.goto(f"/demo/?queue={support.token}")
    customer.get_by_role("button", name="Chat with us").click()
    widget = customer.frame_locator("iframe[title='Chat with us']")
    widget.get_by_label("Your name").fill("Grace")
    widget.get_by_label("Message").fill("Hi, my order 1234 is late")
    widget.get_by_role("button", name="Send").click()

    expect(queue_row).to_contain_text("1 waiting")
    queue_row.get_by_role("button", name="Support").click()
    queue_row.get_by_role("button", name="Take").click()
    chat = inbox.locator("#chat")
    expect(chat.get_by_role("heading", name="Grace Support")).to_be_visible()
    expect(queue_row).to_contain_text("0 waiting")
    chat.get_by_role("button", name="Activate").click()
    expect(inbox.locator("#status")).to_contain_text("Handling a chat")
    expect(widget.get_by_text("Alice", exact=False).first).to_be_visible()

    widget.get_by_label("Message").press_sequentially("Are you", delay=20)
    expect(chat.get_by_text("Grace is typing...")).to_be_visible()
    message_box = chat.get_by_label("Message to Grace")
    message_box.press_sequentially("Let me", delay=20)
    expect(widget.get_by_text("Alice is typing...")).to_be_visible()
    message_box.fill("")
    chat.get_by_label("Response templates").select_option(label="Greeting")
    expect(message_box).to_have_value("Hi Grace, this is Alice. How can I help?")
    message_box.press("Enter")
    expect(widget.get_by_text("Hi Grace, this is Alice. How can I help?")).to_be_visible()
    transcript = chat.locator(".transcript")
    expect(transcript.get_by_text("Hi Grace, this is Alice. How can I help?")).to_have_count(1)

    message_box.fill("Order 1234,")
    message_box.press("Shift+Enter")
    message_box.press_sequentially("checking now.")
    message_box.press("Enter")
    expect(transcript.locator(".msg--agent .msg__text").last).to_have_text("Order 1234,\nchecking now.")

    widget.get_by_label("Message").fill("Are you there? It was due Tuesday")
    widget.get_by_role("button", name="Send").click()
    expect(transcript.get_by_text("Are you there? It was due Tuesday")).to_be_visible()
    expect(transcript.locator(".wait")).to_contain_text("Waiting")

    chat.get_by_role("button", name="Assign contact").click()
    chat.get_by_label("Find a contact").fill("hopper")
    chat.get_by_role("button", name="Assign", exact=True).click()
    expect(chat.locator(".crm")).to_contain_text("grace@example.com")

    inbox.locator("#chat-title").click()
    inbox.keyboard.press("?")
    expect(inbox.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()
    inbox.keyboard.press("Escape")
    expect(inbox.get_by_role("dialog", name="Keyboard shortcuts")).to_be_hidden()

    chat.get_by_role("button", name="Park").click()
    expect(chat.locator(".state")).to_have_text("Parked")
    expect(inbox.locator("#inbox-list")).to_contain_text("Parked")
    expect(inbox.locator("#status")).to_contain_text("Available")
    chat.get_by_role("button", name="Activate").click()
    expect(chat.locator(".state")).to_have_text("Active")

    chat.get_by_role("button", name="End chat").click()
    confirm = inbox.get_by_role("dialog", name="End the chat with Grace?")
    confirm.get_by_role("button", name="End chat").click()
    expect(widget.get_by_text("The chat has ended").first).to_be_visible()
    countdown = chat.locator(".countdown time")
    expect(countdown).to_have_text(re.compile(r"^[01]:\d\d$"))
    expect(chat.get_by_text("3 left")).to_be_visible()
    chat.get_by_role("button", name="Extend").click()
    expect(chat.get_by_text("2 left")).to_be_visible()
    expect(countdown).to_have_text(re.compile(r"^[12]:\d\d$"))
    chat.get_by_label("Notes").fill("Order 1234 delayed by the courier")
    chat.get_by_role("button", name="Complete wrap-up").click()
    expect(chat).to_contain_text("This chat is closed")
    expect(inbox.locator("#inbox-list")).to_contain_text("No chats in your inbox")

    inbox.goto(f"/contacts/{grace.pk}/")
    expect(inbox.get_by_text("Order 1234 delayed by the courier")).to_be_visible()
    inbox.get_by_role("button", name="Transcript").click()
    expect(inbox.get_by_text("Are you there? It was due Tuesday")).to_be_visible()
