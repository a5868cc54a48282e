"""What the inbox browser tests share: signing an agent in through the login page."""

import re

from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import Page, expect

from tests import factories
from tests.two_factor_support import code_now


def sign_in(page: Page, agent) -> Page:
    """Sign the agent in (with the code of their authenticator app, if they have one) and wait until their
    page listens on the agent socket."""
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(agent.user.username)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    device = TOTPDevice.objects.filter(user=agent.user, confirmed=True).first()
    if device is not None:
        expect(page).to_have_url(re.compile(r"/accounts/login/code/$"))
        page.get_by_label("Code", exact=True).fill(code_now(device))
        page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(re.compile(r"/inbox/$"))
    expect(page.locator("body")).to_have_attribute("data-connection", "live")
    return page
