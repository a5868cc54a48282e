"""A supervisor reads a day's report in a real browser: picks the range and a queue, sees a chart and the
table it is drawn from, follows a figure to the interactions behind it and opens one's transcript, with no
Content-Security-Policy violation and no script error. At 1024 px wide, as a supervisor's laptop shows it;
a week's report at 1440 px too, and a year's by day.

With UPDATE_SCREENSHOTS=1 the test also saves docs/screenshots/reports.png and reports-drilldown.png.
"""

import datetime as dt
import os
import random
import re
from pathlib import Path

import pytest
import time_machine
from playwright.sync_api import expect

from contactcentre.models import Membership, Role
from crm import services
from crm.models import Channel, Interaction
from tests import factories
from tests.browser.inbox_pages import sign_in
from tests.browser.test_content_security_policy import csp_violations, watch
from tests.reports.test_report_pages import known_day
from tests.two_factor_support import give_authenticator

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def build(company) -> dict:
    """The known day of tests/reports/test_report_pages.py, on 2 March 2026 (the clock stopped there only
    while it is built)."""
    with time_machine.travel(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC), tick=False) as clock:
        return known_day(company, clock)


def busy_week(company, day: dict) -> None:
    """A week of traffic before the known day (23 February to 1 March), for the screenshot of a week's
    report: rows as the CRM records them, spread over the day, some answered late, some abandoned."""
    randomness = random.Random(19)
    bob = Membership.objects.get(company=company, user__username="bob")
    queues = [(day["sales"], 14), (day["full"], 6), (day["switchboard"], 8)]
    for offset in range(7, 0, -1):
        date = dt.datetime(2026, 3, 2, tzinfo=dt.UTC) - dt.timedelta(days=offset)
        for queue, volume in queues:
            voice = queue._meta.model_name == "voicequeue"
            for number in range(volume + randomness.randint(-3, 4)):
                opened = date + dt.timedelta(hours=8, minutes=randomness.randint(0, 9 * 60))
                wait = randomness.choice([4, 8, 15, 25, 40, 55, 70, 95, 150, 320])
                answered = randomness.random() > 0.12
                agent = randomness.choice([day["alice"], bob])
                handle = randomness.randint(90, 420) if answered else 0
                Interaction.objects.create(
                    company=company,
                    channel=Channel.VOICE if voice else Channel.WEBCHAT,
                    queue_name=queue.name,
                    webchat_queue=None if voice else queue,
                    voice_queue=queue if voice else None,
                    arrival_webchat_queue=None if voice else queue,
                    arrival_voice_queue=queue if voice else None,
                    agent=agent if answered else None,
                    agent_name=agent.name if answered else "",
                    customer_name=f"Customer {offset}-{number}",
                    opened_at=opened,
                    answered_at=opened + dt.timedelta(seconds=wait) if answered else None,
                    ended_at=opened + dt.timedelta(seconds=wait + handle),
                    closed_at=opened + dt.timedelta(seconds=wait + handle + 20),
                    wait_seconds=wait if answered else None,
                    handle_seconds=handle,
                    wrapup_seconds=20 if answered else 0,
                    classification=day["bill"] if answered and randomness.random() < 0.4 else None,
                    outcome="completed" if answered else "abandoned",
                )
    # Rows written directly, as a bulk load would: the reports' rollup is rebuilt from them.
    services.report_rollup_rebuild(company_id=company.pk)


def console_errors(page) -> list[str]:
    """The errors the page's scripts log (a missing script or file among them), but the browser's own
    request for /favicon.ico, which the product does not serve."""
    errors: list[str] = []
    page.on(
        "console",
        lambda message: (
            message.type == "error"
            and not message.location["url"].endswith("/favicon.ico")
            and errors.append(f"{message.text} ({message.location['url']})")
        ),
    )
    return errors


def drawn(chart) -> bool:
    """Whether Chart.js drew the chart: its canvas has a size and painted pixels."""
    return chart.evaluate(
        """canvas => Boolean(window.Chart && Chart.getChart(canvas)) && canvas.width > 0 && canvas.height > 0
            && canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data
                .some((value, index) => index % 4 === 3 && value > 0)"""
    )


def screenshot(page, name: str) -> None:
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        page.screenshot(path=SCREENSHOTS / name, full_page=True)


def test_a_supervisor_follows_a_figure_to_a_transcript(new_page, run_in_thread, transactional_db):
    company = factories.CompanyFactory(name="Acme")
    day = run_in_thread(build, company)
    supervisor = factories.MembershipFactory(company=company, role=Role.SUPERVISOR, display_name="Sam")
    give_authenticator(supervisor.user)
    page = new_page(viewport={"width": 1024, "height": 900})
    complaints = watch(page)
    errors = console_errors(page)
    sign_in(page, supervisor)

    page.get_by_role("link", name="Reports").click()
    expect(page.get_by_role("heading", name="Reports", exact=False).first).to_be_visible()
    page.get_by_label("From").fill("2026-03-02")
    page.get_by_label("To", exact=True).fill("2026-03-02")
    page.locator("summary", has_text="Queues").click()
    page.get_by_label("Sales (webchat)").check()
    page.get_by_label("Full (webchat)").check()
    page.get_by_role("button", name="Show report").click()

    # The filters are the address: it can be bookmarked and shared.
    expect(page).to_have_url(re.compile(r"/reports/\?from=2026-03-02&to=2026-03-02&"))
    assert f"queue=chat-{day['sales'].pk}" in page.url and f"queue=chat-{day['full'].pk}" in page.url
    expect(page.locator(".picker__summary").first).to_have_text("2 queues")
    chart = page.get_by_role("img", name="Bars: contacts answered and abandoned per day", exact=False)
    expect(chart).to_be_visible()
    assert drawn(chart)
    table = page.get_by_role("table", name="Figures per queue and day")
    expect(table.get_by_role("row", name="Sales Webchat", exact=False)).to_contain_text("50.0 %")
    expect(page.get_by_role("link", name="Abandoned 2")).to_be_visible()
    expect(page.get_by_role("link", name="Export CSV")).to_have_count(3)
    page.evaluate("document.fonts.ready")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1024  # nothing wider than the window
    screenshot(page, "reports.png")

    page.get_by_role("link", name="Abandoned 2").click()
    expect(page.get_by_role("heading", name="Interactions", exact=False)).to_be_visible()
    expect(page.get_by_text("2 interactions")).to_be_visible()
    rows = page.get_by_role("table").get_by_role("row")
    expect(rows).to_have_count(3)  # the header and two interactions
    expect(rows.nth(1)).to_contain_text("Eve")
    expect(rows.nth(2)).to_contain_text("Hal")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1024
    screenshot(page, "reports-drilldown.png")

    rows.nth(2).get_by_role("link", name="Transcript", exact=False).click()
    expect(page.get_by_role("heading", name="Chat with Hal")).to_be_visible()
    expect(page.get_by_role("list", name="Transcript of the Sales chat")).to_be_visible()

    # A week's report: every chart drawn, at a laptop's width and at a desktop's (the docs' screenshot).
    run_in_thread(busy_week, company, day)
    page.goto("/reports/?from=2026-02-23&to=2026-03-02&interval=day")
    charts = page.get_by_role("img")
    expect(charts).to_have_count(4)
    for width in (1024, 1440):
        page.set_viewport_size({"width": width, "height": 900})
        for index in range(4):
            expect(charts.nth(index)).to_be_visible()
            assert drawn(charts.nth(index))
        assert page.evaluate("document.documentElement.scrollWidth") <= width
    screenshot(page, "reports.png")

    # A bar is a link too: the abandoned contacts of 2 March.
    volume = page.get_by_role("img", name="Bars: contacts answered and abandoned per day", exact=False)
    x, y = volume.evaluate(
        "canvas => { const bar = Chart.getChart(canvas).getDatasetMeta(1).data[7];"
        " return [bar.x, (bar.y + bar.base) / 2]; }"
    )
    volume.click(position={"x": x, "y": y})
    expect(page).to_have_url(re.compile(r"/reports/interactions/\?.*outcome=abandoned"))
    expect(page.get_by_text("2 interactions")).to_be_visible()

    # A year by day: 365 bars, a readable number of dates under them.
    page.goto("/reports/?from=2025-03-03&to=2026-03-02&interval=day")
    volume = page.get_by_role("img", name="Bars: contacts answered and abandoned per day", exact=False)
    assert drawn(volume)
    assert volume.evaluate("canvas => Chart.getChart(canvas).data.labels.length") == 365
    assert volume.evaluate("canvas => Chart.getChart(canvas).scales.x.ticks.length") <= 14

    assert csp_violations(complaints) == []
    assert [c for c in complaints if c.startswith("pageerror")] == []
    assert errors == []
