"""The report page's charts: the figures the page ships for the browser to draw are those of its tables,
each bar links to exactly the interactions behind it, and names travel as typed, never as markup."""

import pytest
from django.urls import reverse

from contactcentre.models import Role
from crm import services
from crm.models import Interaction
from tests import factories
from tests.reports.test_report_pages import DAY, chart_data, known_day, listed, text
from tests.two_factor_support import log_in_verified


@pytest.fixture
def supervisor_client(client, company):
    supervisor = factories.MembershipFactory(company=company, role=Role.SUPERVISOR, display_name="Sue")
    return log_in_verified(client, supervisor.user)


@pytest.fixture
def day(db, clock, company):
    return known_day(company, clock)


def test_the_charts_show_the_figures_of_the_tables(supervisor_client, day):
    html = supervisor_client.get(reverse("reports"), DAY).content
    page = text(html)
    charts = chart_data(html)

    volume = charts["volume-chart"]
    assert volume["kind"] == "volume"
    assert volume["labels"] == ["2 Mar"]
    assert volume["links"]["interval_starts"] == ["2026-03-02T00:00:00+00:00"]
    # The queues' rows of the day added up: Sales 1 + 2, Full 1 + 0, Switchboard 1 + 0; 2 of 4 within target.
    assert (volume["answered"], volume["abandoned"], volume["service_level"]) == ([3], [2], [50.0])
    assert volume["target"] == 80

    wait = charts["wait-chart"]
    assert (wait["kind"], wait["horizontal"]) == ("bars", False)
    for label, value in zip(wait["labels"], wait["values"], strict=True):
        assert f"{label} {value}" in page
    assert dict(zip(wait["labels"], wait["values"], strict=True)) == {
        "0–10 s": 0,
        "10–20 s": 1,
        "20–30 s": 0,
        "30–60 s": 1,
        "1–2 min": 1,
        "2–5 min": 0,
        "5+ min": 0,
    }

    classes = charts["classes-chart"]
    assert classes["horizontal"] is True
    assert list(zip(classes["labels"], classes["values"], strict=True)) == [
        ("Unclassified", 4),
        ("BILL – Billing question", 1),
    ]
    assert "BILL – Billing question 1" in page and "Unclassified 4" in page

    handle = charts["handle-chart"]
    assert (handle["horizontal"], handle["counts"], handle["unit"]) == (True, False, " s")
    assert dict(zip(handle["labels"], handle["values"], strict=True)) == {"Alice": 220.0, "Bob": 120.0}
    assert "Alice alice 2 220.0 s" in page and "Bob bob 1 120.0 s" in page


def test_each_bar_links_to_the_interactions_behind_it(supervisor_client, day):
    charts = chart_data(supervisor_client.get(reverse("reports"), DAY).content)

    # The volume chart's bars: the base link narrowed to the bar's interval and outcome (charts.js).
    volume = charts["volume-chart"]
    start = volume["links"]["interval_starts"][0].replace("+", "%2B")
    bar = f"{volume['links']['base']}&interval_start={start}&outcome=abandoned"
    assert listed(supervisor_client, bar) == ["Eve", "Hal"]

    wait = dict(zip(charts["wait-chart"]["labels"], charts["wait-chart"]["links"], strict=True))
    assert listed(supervisor_client, wait["1–2 min"]) == ["Ida"]
    assert wait["0–10 s"] == ""  # no bar, no link

    handle = dict(zip(charts["handle-chart"]["labels"], charts["handle-chart"]["links"], strict=True))
    assert listed(supervisor_client, handle["Bob"]) == ["Ida"]

    classes = dict(zip(charts["classes-chart"]["labels"], charts["classes-chart"]["links"], strict=True))
    assert listed(supervisor_client, classes["BILL – Billing question"]) == ["Grace"]


def test_a_year_by_day_ships_a_bar_for_every_day(supervisor_client, day):
    html = supervisor_client.get(reverse("reports"), {"from": "2025-03-03", "to": "2026-03-02"}).content
    volume = chart_data(html)["volume-chart"]
    assert len(volume["labels"]) == len(volume["answered"]) == len(volume["service_level"]) == 365
    assert volume["labels"][0] == "3 Mar" and volume["labels"][-1] == "2 Mar"
    # Days with no contact have no service level: the line skips them.
    assert volume["answered"][-1] == 3 and sum(volume["answered"]) == 3
    assert volume["service_level"][:-1] == [None] * 364


def test_an_hourly_year_is_not_drawn(supervisor_client, day):
    html = supervisor_client.get(
        reverse("reports"), {"from": "2026-01-01", "to": "2026-03-02", "interval": "hour"}
    ).content
    assert "volume-chart" not in chart_data(html)
    assert "Too many hours to draw" in text(html)


def test_names_travel_as_typed_never_as_markup(supervisor_client, company, day):
    typed = "</script><script>alert(1)</script> $\\frac{ refund"
    classification = factories.ClassificationFactory(company=company, code="ODD", label=typed)
    Interaction.objects.filter(company=company, customer_name="Ida").update(classification=classification)
    services.report_rollup_rebuild(company_id=company.pk)
    html = supervisor_client.get(reverse("reports"), DAY).content
    assert f"ODD – {typed}" in chart_data(html)["classes-chart"]["labels"]
    assert b"<script>alert(1)" not in html


def test_a_range_without_contacts_draws_no_chart(supervisor_client, day):
    html = supervisor_client.get(reverse("reports"), {"from": "2026-02-01", "to": "2026-02-07"}).content
    assert chart_data(html) == {}
    assert "No contacts arrived in this range." in text(html)
