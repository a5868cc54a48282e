"""Changes an administrator makes reach an open inbox: a queue added to the agent's profile appears, one
disabled goes, and a deactivated agent's inbox leaves for the sign-in page."""

import re

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from routing import engine
from routing.models import QueueProfile
from tests import factories
from tests.browser.inbox_pages import sign_in

pytestmark = pytest.mark.browser


def test_the_queues_of_an_open_inbox_follow_the_agents_profile(new_page, transactional_db, run_in_thread):
    company = factories.CompanyFactory()
    sales = factories.WebchatQueueFactory(company=company, name="Sales", auto_allocate=False)
    returns = factories.WebchatQueueFactory(company=company, name="Returns", auto_allocate=False)
    profile = QueueProfile.objects.create(company=company, name="Sales only")
    profile.queues.add(sales)
    agent = factories.MembershipFactory(company=company, queue_profile=profile)
    inbox = sign_in(new_page(), agent)
    queues = inbox.locator("#queue-list")
    expect(queues).to_contain_text("Sales")
    expect(queues).not_to_contain_text("Returns")

    run_in_thread(profile.queues.add, returns)
    expect(queues).to_contain_text("Returns")

    run_in_thread(engine.queue_disable, queue_id=sales.pk)
    expect(queues).not_to_contain_text("Sales")


def test_a_deactivated_agents_open_inbox_goes_to_the_sign_in_page(new_page, transactional_db, run_in_thread):
    agent = factories.MembershipFactory()
    inbox = sign_in(new_page(), agent)
    expect(inbox.locator("#inbox-list")).to_be_visible()

    def deactivate():
        user = get_user_model().objects.get(pk=agent.user_id)
        user.is_active = False
        user.save()

    run_in_thread(deactivate)

    expect(inbox).to_have_url(re.compile(r"/accounts/login/"))
