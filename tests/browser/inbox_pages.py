"""What the inbox browser tests share: signing an agent in through the login page."""

import re

from playwright.sync_api import Page, expect

from tests import factories


def sign_in(page: Page, agent) -> Page:
    """Sign the agent in and wait until their page listens on the agent socket."""
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(agent.user.username)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/inbox/$"))
    expect(page.locator("body")).to_have_attribute("data-connection", "live")
    return page
