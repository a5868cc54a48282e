"""Auto-allocation in the real inbox: the bell rings for the least busy of two agents."""

import pytest
from playwright.sync_api import expect

from routing import engine
from tests import factories
from tests.browser.inbox_pages import sign_in

pytestmark = pytest.mark.browser


def test_an_allocated_chat_rings_the_bell_of_the_least_busy_agent(new_page, transactional_db, run_in_thread):
    company = factories.CompanyFactory()
    sales = factories.WebchatQueueFactory(company=company, name="Sales", auto_allocate=True)
    busy = factories.MembershipFactory(company=company, display_name="Bob")
    free = factories.MembershipFactory(company=company, display_name="Alice")
    held = factories.ChatFactory(queue=sales, customer_name="Linus")
    run_in_thread(engine.chat_take, agent=busy, chat_id=held.pk)
    busy_inbox = sign_in(new_page(), busy)
    free_inbox = sign_in(new_page(), free)
    expect(free_inbox.locator("#bell")).to_contain_text("0 new chats")

    run_in_thread(engine.chat_open, queue_token=sales.token, customer_name="Ada", first_message="Hello")

    expect(free_inbox.locator("#bell")).to_contain_text("1 new chat")
    new_row = free_inbox.locator("#inbox-list .item--new")
    expect(new_row).to_contain_text("Ada")
    expect(new_row).to_contain_text("New")
    expect(free_inbox.locator("#announcer")).to_contain_text("A new chat is in your inbox.")
    expect(busy_inbox.locator("#bell")).to_contain_text("0 new chats")
    expect(busy_inbox.locator("#inbox-list")).not_to_contain_text("Ada")

    new_row.get_by_role("link").click()
    expect(free_inbox.locator("#bell")).to_contain_text("0 new chats")
    expect(free_inbox.locator("#inbox-list .item--new")).to_have_count(0)
