"""Under the Content-Security-Policy every page still works, and the browser reports no violation."""

import datetime as dt
import re

import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import ConsoleMessage, Page, expect

from contactcentre.models import Role
from crm import services
from crm.models import Channel, Interaction
from tests import factories
from tests.browser.inbox_pages import sign_in
from tests.two_factor_support import give_authenticator

pytestmark = pytest.mark.browser


def watch(page: Page) -> list[str]:
    """What the browser complains of, from the page and every frame in it: console errors, script errors."""
    complaints: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning") or "Content Security Policy" in message.text:
            complaints.append(f"{message.type}: {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: complaints.append(f"pageerror: {error}"))
    return complaints


def csp_violations(complaints: list[str]) -> list[str]:
    return [text for text in complaints if "Content Security Policy" in text or "Refused to" in text]


def answered_an_hour_ago(queue, agent) -> None:
    """A chat of the queue, answered and classified, as the CRM records it: the reports have it to draw."""
    opened = timezone.now() - dt.timedelta(hours=1)
    Interaction.objects.create(
        company=queue.company,
        channel=Channel.WEBCHAT,
        queue_name=queue.name,
        webchat_queue=queue,
        arrival_webchat_queue=queue,
        agent=agent,
        agent_name=agent.name,
        customer_name="Grace Hopper",
        opened_at=opened,
        answered_at=opened + dt.timedelta(seconds=12),
        ended_at=opened + dt.timedelta(seconds=200),
        closed_at=opened + dt.timedelta(seconds=220),
        wait_seconds=12,
        handle_seconds=188,
        wrapup_seconds=20,
        classification=factories.ClassificationFactory(company=queue.company, label="Delivery"),
        outcome="completed",
    )
    # Written directly, as a bulk load would: the reports' rollup is rebuilt from it.
    services.report_rollup_rebuild(company_id=queue.company_id)


def test_the_inbox_wallboard_contacts_admin_reports_and_widget_work_with_no_policy_violation(
    new_page, transactional_db
):
    company = factories.CompanyFactory(slug="demo", name="Demo Company")
    queue = factories.WebchatQueueFactory(
        company=company, name="Sales", widget_title="Talk to us", auto_allocate=True
    )
    factories.ContactFactory(company=company, name="Grace Hopper")
    factories.ContactFactory(company=company, name="Alan Turing")
    administrator = factories.MembershipFactory(
        company=company, role=Role.ADMINISTRATOR, user__is_staff=True, display_name="Ada"
    )
    give_authenticator(administrator.user)
    page = new_page()
    complaints = watch(page)

    # The inbox, after the code step: its script opened the agent socket.
    sign_in(page, administrator)

    # The contacts: htmx searches as the agent types.
    page.get_by_role("link", name="Contacts").click()
    page.get_by_role("searchbox").fill("Grace")
    expect(page.get_by_text("Grace Hopper")).to_be_visible()
    expect(page.get_by_text("Alan Turing")).to_have_count(0)

    # The wallboard: its board is live.
    page.get_by_role("link", name="Wallboard").click()
    expect(page.locator("body")).to_have_attribute("data-connection", "live")
    expect(page.get_by_role("row", name="Sales")).to_be_visible()

    # The admin: its own scripts run (the theme switch), and the queue's page shows the snippet.
    page.goto("/admin/")
    before = page.evaluate("document.documentElement.dataset.theme || 'auto'")
    page.locator("button.theme-toggle").first.click()
    expect(page.locator("html")).not_to_have_attribute("data-theme", before)
    page.goto(f"/admin/routing/webchatqueue/{queue.pk}/change/")
    expect(page.locator(".queue-snippet-code")).to_contain_text("widget.js")

    # The reports: their charts drawn by Chart.js, which sizes its canvases through the CSSOM.
    answered_an_hour_ago(queue, administrator)
    page.goto("/reports/")
    chart = page.get_by_role("img", name="Bars: contacts answered and abandoned", exact=False)
    expect(chart).to_be_visible()
    assert chart.evaluate("canvas => Boolean(Chart.getChart(canvas)) && canvas.width > 0")
    expect(page.locator("canvas[data-chart]")).to_have_count(4)

    # The widget, framed by the demo page, under its own policy.
    page.goto("/demo/")
    page.get_by_role("button", name="Talk to us").click()
    widget = page.frame_locator("iframe[title='Talk to us']")
    expect(widget.get_by_role("textbox", name=re.compile("message", re.I))).to_be_visible()

    assert csp_violations(complaints) == []
    assert [text for text in complaints if text.startswith("pageerror")] == []


def test_a_locked_out_sign_in_shows_the_lockout_page_in_the_browser(new_page, transactional_db):
    agent = factories.MembershipFactory()
    page = new_page()
    complaints = watch(page)
    page.goto("/accounts/login/")

    for _ in range(settings.AXES_FAILURE_LIMIT):
        page.get_by_label("Username").fill(agent.user.username)
        page.get_by_label("Password").fill("not-the-password")
        page.get_by_role("button", name="Sign in").click()
        if page.get_by_role("heading", name="Too many attempts").count():
            break

    expect(page.get_by_role("heading", name="Too many attempts")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("too many wrong passwords")
    page.get_by_role("link", name="Back to sign in").click()
    page.get_by_label("Username").fill(agent.user.username)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Too many attempts")).to_be_visible()
    assert csp_violations(complaints) == []
