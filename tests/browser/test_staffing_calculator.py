"""A supervisor plans staff in a real browser: from the navigation to the calculator, by its labels."""

import pytest
from playwright.sync_api import expect

from contactcentre.models import Role
from tests import factories
from tests.browser.inbox_pages import sign_in
from tests.two_factor_support import give_authenticator

pytestmark = pytest.mark.browser


def test_a_supervisor_finds_how_many_agents_reach_the_target(new_page, transactional_db):
    company = factories.CompanyFactory()
    factories.WebchatQueueFactory(company=company, name="Sales")
    supervisor = factories.MembershipFactory(company=company, role=Role.SUPERVISOR, display_name="Sam")
    give_authenticator(supervisor.user)
    page = sign_in(new_page(), supervisor)

    page.get_by_role("link", name="Staffing").click()
    expect(page.get_by_role("heading", name="Staffing calculator")).to_be_visible()
    expect(page.get_by_label("Queue")).to_contain_text("Sales (webchat)")
    page.get_by_label("Interval (minutes)").fill("30")
    page.get_by_label("Contacts per interval").fill("100")
    page.get_by_label("Average handle time (seconds)").fill("180")
    page.get_by_label("Answer within (seconds)").fill("20")
    page.get_by_label("Service level target (%)").fill("80")
    page.get_by_role("button", name="Calculate").click()

    expect(page.get_by_role("heading", name="14 agents needed")).to_be_visible()
    fewest = page.get_by_role("row", name="14 fewest")
    expect(fewest).to_contain_text("88.8 %")
    expect(fewest).to_contain_text("Yes")
    expect(page.get_by_role("row").nth(1)).to_contain_text("13")
    expect(page.get_by_role("row").nth(1)).to_contain_text("No")
    expect(page.get_by_role("row")).to_have_count(8)
    expect(page.get_by_label("Contacts per interval")).to_have_value("100")
