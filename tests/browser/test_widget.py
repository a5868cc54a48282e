"""The customer's widget in a real browser: the demo page, a conversation with an agent, a reload."""

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import Page, expect

from routing import engine
from tests import factories
from webchat.models import Chat

pytestmark = pytest.mark.browser


@pytest.fixture
def demo_company(transactional_db):
    return factories.CompanyFactory(slug="demo", name="Demo Company")


@pytest.fixture
def alice(demo_company):
    return factories.MembershipFactory(company=demo_company, display_name="Alice")


def open_widget(page: Page):
    page.goto("/demo/")
    page.get_by_role("button", name="Talk to us").click()
    return page.frame_locator("iframe[title='Talk to us']")


def agent_socket(page: Page, agent) -> None:
    """Open the agent's WebSocket from a page of the product, logged in as the agent."""
    client = Client()
    client.force_login(agent.user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    host = page.evaluate("location.hostname")
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": session, "domain": host, "path": "/"}]
    )
    page.evaluate(
        """() => new Promise((resolve, reject) => {
            window.agentSocket = new WebSocket(`ws://${location.host}/ws/agent/`);
            window.agentSocket.onopen = resolve;
            window.agentSocket.onclose = reject;
        })"""
    )


def agent_sends(page: Page, frame: dict) -> None:
    page.evaluate("(frame) => window.agentSocket.send(JSON.stringify(frame))", frame)


def test_a_customer_chats_with_an_agent_and_keeps_the_conversation_over_a_reload(
    new_page, alice, demo_company, run_in_thread
):
    factories.WebchatQueueFactory(
        company=demo_company,
        name="Sales",
        widget_title="Talk to us",
        welcome_message="Hello from Demo Company!",
    )
    customer = new_page()
    widget = open_widget(customer)
    expect(widget.get_by_text("Hello from Demo Company!")).to_be_visible()

    widget.get_by_label("Your name").fill("Grace")
    widget.get_by_label("Message").fill("Where is my order?")
    widget.get_by_role("button", name="Send").click()

    expect(widget.get_by_text("Alice will be with you shortly")).to_be_visible()
    expect(widget.locator(".msg--customer")).to_contain_text("Where is my order?")
    expect(widget.locator(".msg--customer")).to_contain_text("Sent")
    chat = Chat.objects.get()
    assert chat.customer_name == "Grace"
    run_in_thread(engine.chat_activate, agent=alice, chat_id=chat.pk)
    expect(widget.get_by_text("You're chatting with Alice")).to_be_visible()

    agent = new_page()
    agent.goto("/demo/?queue=none")
    agent_socket(agent, alice)
    agent_sends(agent, {"type": "typing", "chat_id": str(chat.pk), "typing": True})
    expect(widget.get_by_text("Alice is typing...")).to_be_visible()
    agent_sends(
        agent, {"type": "message", "chat_id": str(chat.pk), "client_id": "a-1", "text": "It ships today"}
    )
    expect(widget.locator(".msg--agent")).to_contain_text("It ships today")
    expect(widget.get_by_text("Alice is typing...")).to_be_hidden()

    customer.reload()
    widget = customer.frame_locator("iframe[title='Talk to us']")
    expect(widget.locator(".msg--customer")).to_contain_text("Where is my order?")
    expect(widget.locator(".msg--agent")).to_contain_text("It ships today")
    expect(widget.get_by_text("You're chatting with Alice")).to_be_visible()

    widget.get_by_label("Message").fill("Thank you!")
    widget.get_by_label("Message").press("Enter")
    expect(widget.locator(".msg--customer").last).to_contain_text("Sent")
    assert list(chat.messages.values_list("text", flat=True)) == [
        "Where is my order?",
        "It ships today",
        "Thank you!",
    ]


def test_a_refused_chat_is_explained_and_what_was_typed_is_kept(new_page, demo_company):
    factories.WebchatQueueFactory(
        company=demo_company, widget_title="Talk to us", allow_wait_without_agents=False
    )
    widget = open_widget(new_page())

    widget.get_by_label("Message").fill("Anyone there?")
    widget.get_by_role("button", name="Send").click()

    expect(widget.get_by_role("alert")).to_have_text(
        "No one is available to chat right now. Please try again later."
    )
    expect(widget.get_by_label("Message")).to_have_value("Anyone there?")
    assert not Chat.objects.exclude(outcome="refused").exists()


def start_chat(widget, text: str = "Hello") -> Chat:
    widget.get_by_label("Message").fill(text)
    widget.get_by_role("button", name="Send").click()
    expect(widget.locator(".msg--customer").last).to_contain_text("Sent")
    return Chat.objects.get()


def test_after_a_reload_a_long_conversation_opens_at_the_newest_message(
    new_page, alice, demo_company, run_in_thread
):
    factories.WebchatQueueFactory(company=demo_company, widget_title="Talk to us")
    customer = new_page()
    widget = open_widget(customer)
    chat = start_chat(widget)
    run_in_thread(engine.chat_activate, agent=alice, chat_id=chat.pk)
    for n in range(1, 41):
        run_in_thread(
            engine.message_post_agent, agent=alice, chat_id=chat.pk, client_id=f"a-{n}", text=f"Reply {n}"
        )
    expect(widget.locator(".msg--agent").last).to_contain_text("Reply 40")

    customer.reload()
    widget = customer.frame_locator("iframe[title='Talk to us']")

    newest = widget.locator(".msg--agent").last
    expect(newest).to_contain_text("Reply 40")
    expect(newest).to_be_in_viewport()
    expect(widget.locator(".msg--customer").first).not_to_be_in_viewport()


def test_the_customer_hears_the_agent_will_come_until_they_open_the_chat_and_no_queue_names(
    new_page, alice, demo_company, run_in_thread
):
    factories.WebchatQueueFactory(company=demo_company, name="Sales", widget_title="Talk to us")
    support = factories.WebchatQueueFactory(company=demo_company, name="Support", auto_allocate=False)
    widget = open_widget(new_page())
    chat = start_chat(widget)
    assert Chat.objects.get().agent == alice

    status = widget.locator("#chat-status")
    expect(status).to_have_text("Alice will be with you shortly")
    run_in_thread(engine.chat_mark_seen, agent=alice, chat_id=chat.pk)
    expect(status).to_have_text("You're chatting with Alice")

    run_in_thread(engine.chat_transfer, agent=alice, chat_id=chat.pk, queue_id=support.pk)

    expect(widget.locator(".msg--system")).to_have_text(
        "You're being connected to another agent. Please stay in the chat."
    )
    expect(widget.get_by_text("Support")).to_have_count(0)
    expect(status).to_have_text("You're number 1 in the queue")


def test_ending_the_chat_asks_first_and_can_be_called_off(new_page, alice, demo_company):
    factories.WebchatQueueFactory(company=demo_company, widget_title="Talk to us")
    widget = open_widget(new_page())
    chat = start_chat(widget)
    end = widget.get_by_role("button", name="End chat")

    end.click()
    question = widget.get_by_role("group", name="End this chat?")
    expect(question).to_be_visible()
    expect(widget.get_by_role("button", name="Keep chatting")).to_be_focused()
    widget.get_by_role("button", name="Keep chatting").click()
    expect(question).to_be_hidden()
    expect(end).to_be_focused()

    end.click()
    widget.get_by_role("button", name="Keep chatting").press("Escape")
    expect(question).to_be_hidden()
    chat.refresh_from_db()
    assert chat.ended_at is None

    end.click()
    widget.get_by_role("button", name="Yes, end the chat").click()
    expect(widget.locator("#chat-status")).to_have_text("The chat has ended")
    chat.refresh_from_db()
    assert chat.ended_by == "customer"
