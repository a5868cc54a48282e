"""The customer's wait for a reply in the real inbox: the alert turns amber near the limit, then red once
the server's periodic job flags it."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from routing import engine
from tests import factories
from tests.browser.inbox_pages import sign_in

pytestmark = pytest.mark.browser


def test_the_wait_alert_changes_colour_as_the_limit_passes(new_page, transactional_db, run_in_thread):
    company = factories.CompanyFactory()
    queue = factories.WebchatQueueFactory(company=company, auto_allocate=False, reply_alert_seconds=2)
    agent = factories.MembershipFactory(company=company)
    chat = factories.ChatFactory(queue=queue, customer_name="Grace")
    run_in_thread(engine.chat_take, agent=agent, chat_id=chat.pk)
    run_in_thread(engine.chat_activate, agent=agent, chat_id=chat.pk)
    inbox = sign_in(new_page(), agent)
    inbox.locator("#inbox-list").get_by_text("Grace").click()

    run_in_thread(engine.message_post_customer, chat_id=chat.pk, client_id="c1", text="Is anyone there?")

    alert = inbox.locator("#chat .transcript .wait")
    # The browser sees the limit coming: amber, and the words change with the colour.
    expect(alert).to_have_class("wait wait--near")
    expect(alert).to_contain_text("Reply soon")
    expect(alert.locator(".icon--alarm")).to_be_visible()

    run_in_thread(engine.flag_reply_alerts, now=timezone.now() + timedelta(seconds=3))

    expect(alert).to_have_class("wait wait--overdue")
    expect(alert).to_contain_text("Overdue")
    expect(alert.locator(".icon--alert")).to_be_visible()
    expect(inbox.locator("#inbox-list .wait--overdue")).to_be_visible()
    expect(inbox.locator("#announcer")).to_contain_text("Grace has waited too long for a reply.")
