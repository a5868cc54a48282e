"""The report page and its drill-down: the figures of a known day of traffic, each linking to exactly the
interactions behind it; the filters; who may look."""

import json
import re

import pytest
from django.urls import reverse

from contactcentre.models import Presence, Role
from routing import engine
from routing.models import QueueProfile
from tests import factories
from tests.reports.conftest import at, move_to, open_chat
from tests.two_factor_support import log_in_verified

DAY = {"from": "2026-03-02", "to": "2026-03-02"}


def logged_out(company, username, **kwargs):
    return factories.MembershipFactory(
        company=company, user__username=username, presence=Presence.UNAVAILABLE, presence_since=None, **kwargs
    )


@pytest.fixture
def supervisor_client(client, company):
    supervisor = factories.MembershipFactory(
        company=company, role=Role.SUPERVISOR, user__username="sue", display_name="Sue"
    )
    return log_in_verified(client, supervisor.user)


@pytest.fixture
def day(db, clock, company):
    return known_day(company, clock)


def known_day(company, clock) -> dict:
    """Monday 2 March 2026, UTC (the product's time zone in tests). Targets: chat 60 s, voice 20 s, both
    80 %; short abandon 5 s.

    - A, Sales, 09:00:00 "Grace", classified BILL: alice takes it at 09:00:30 (wait 30), ends it at
      09:04:30 (handle 240), wrap-up 20 s.
    - B, Sales, 09:05:00 "Eve": leaves after 3 s (short abandon).
    - C, Sales, 09:06:00 "Hal": leaves after 90 s (abandon).
    - D, Full (holds 1), 09:08:00 "Ida": bob takes it at 09:09:30 (wait 90, past target), ends it at
      09:11:30 (handle 120), wrap-up 10 s. E, Full, 09:08:05 "Jo": refused.
    - call, Switchboard, 10:30:00: alice answers at 10:30:12 (wait 12), it ends 10:33:32 (handle 200).
    - Another company's chat at 09:00.

    Offered 5, answered 3, abandoned 2 (1 short), refused 1; within target A and the call: service level
    2 / (3 + 2 − 1) = 50.0 %; ASA (30 + 90 + 12) / 3 = 44.0 s; handle (240 + 120 + 200) / 3 = 186.7 s.
    """
    sales = factories.WebchatQueueFactory(company=company, name="Sales", auto_allocate=False)
    full = factories.WebchatQueueFactory(
        company=company, name="Full", auto_allocate=False, max_queue_length=1
    )
    switchboard = factories.VoiceQueueFactory(
        company=company, name="Switchboard", slug="switchboard", ring_timeout_seconds=20, wrapup_seconds=30
    )
    alice = logged_out(company, "alice", can_voice=True, display_name="Alice")
    alice.voice_queues.add(switchboard)
    bob = logged_out(company, "bob", display_name="Bob")
    bill = factories.ClassificationFactory(company=company, code="BILL", label="Billing question")
    other = factories.WebchatQueueFactory(name="Theirs", auto_allocate=False)
    engine.agent_login(agent=alice)
    engine.agent_login(agent=bob)
    open_chat(other, name="Not yours")

    a = open_chat(sales, name="Grace")
    move_to(clock, at(seconds=30))
    engine.chat_take(agent=alice, chat_id=a.pk)
    engine.chat_activate(agent=alice, chat_id=a.pk)
    engine.chat_record_details(agent=alice, chat_id=a.pk, classification_id=bill.pk)
    move_to(clock, at(minutes=4, seconds=30))
    engine.chat_end(agent=alice, chat_id=a.pk)
    move_to(clock, at(minutes=4, seconds=50))
    engine.wrapup_complete(agent=alice, chat_id=a.pk)

    move_to(clock, at(minutes=5))
    b = open_chat(sales, name="Eve")
    move_to(clock, at(minutes=5, seconds=3))
    engine.chat_end_by_customer(chat_id=b.pk)
    move_to(clock, at(minutes=6))
    c = open_chat(sales, name="Hal")
    move_to(clock, at(minutes=7, seconds=30))
    engine.chat_end_by_customer(chat_id=c.pk)

    move_to(clock, at(minutes=8))
    d = open_chat(full, name="Ida")
    move_to(clock, at(minutes=8, seconds=5))
    with pytest.raises(engine.TransitionError):
        open_chat(full, name="Jo")
    move_to(clock, at(minutes=9, seconds=30))
    engine.chat_take(agent=bob, chat_id=d.pk)
    engine.chat_activate(agent=bob, chat_id=d.pk)
    move_to(clock, at(minutes=11, seconds=30))
    engine.chat_end(agent=bob, chat_id=d.pk)
    move_to(clock, at(minutes=11, seconds=40))
    engine.wrapup_complete(agent=bob, chat_id=d.pk)

    move_to(clock, at(hours=1, minutes=30))
    call = engine.call_arrived(company_id=company.pk, pbx_call_id="pbx-1", queue_slug="switchboard")
    move_to(clock, at(hours=1, minutes=30, seconds=12))
    engine.call_answer(agent=alice, call_id=call.pk)
    move_to(clock, at(hours=1, minutes=33, seconds=32))
    engine.call_ended_by_pbx(company_id=company.pk, pbx_call_id="pbx-1")
    move_to(clock, at(hours=1, minutes=34, seconds=2))
    engine.call_wrapup_complete(agent=alice, call_id=call.pk)
    move_to(clock, at(hours=2))
    return {"sales": sales, "full": full, "switchboard": switchboard, "alice": alice, "bill": bill}


def text(html: bytes) -> str:
    """The page's text, tags and repeated spaces removed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html.decode()))


def chart_data(html: bytes) -> dict[str, dict]:
    """The figures each chart of the page draws, by the id of their script element (json_script)."""
    return {
        name: json.loads(data)
        for name, data in re.findall(
            r'<script id="([\w-]+-chart)" type="application/json">(.*?)</script>', html.decode(), re.S
        )
    }


def headline(html: bytes, label: str) -> tuple[str, str]:
    """(value, drill-down link) of a headline figure."""
    match = re.search(
        r'<a href="([^"]+)"[^>]*>\s*<span class="headline__label">' + re.escape(label) + r"</span>\s*"
        r'<span class="headline__value number">([^<]+)</span>',
        html.decode(),
    )
    assert match, label
    return match.group(2), match.group(1).replace("&amp;", "&")


def listed(client, href: str) -> list[str]:
    """The contacts listed by a drill-down link, all pages."""
    names = []
    while href:
        response = client.get(href)
        assert response.status_code == 200, response.content
        page = response.content.decode()
        body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S):
            cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
            if len(cells) > 4:
                names.append(cells[4].strip())
        following = re.search(r'<a href="([^"]+)">Next', page)
        href = following.group(1).replace("&amp;", "&") if following else ""
    return sorted(names)


def test_the_page_shows_the_days_figures(supervisor_client, day):
    response = supervisor_client.get(reverse("reports"), DAY)
    assert response.status_code == 200
    html = response.content
    assert headline(html, "Offered")[0] == "5"
    assert headline(html, "Answered")[0] == "3"
    assert headline(html, "Abandoned")[0] == "2"
    assert headline(html, "Refused")[0] == "1"
    assert headline(html, "Service level")[0] == "50.0 %"
    assert headline(html, "Average speed of answer")[0] == "44.0 s"
    assert headline(html, "Average handle time")[0] == "186.7 s"
    page = text(html)
    assert "Target 80 % · 2 within ▼ Below target" in page
    assert "1 short" in page
    # Four charts, each a canvas with its text alternative and its figures for the browser to draw.
    alternatives = re.findall(r'<canvas role="img" aria-label="([^"]+)" data-chart="([^"]+)"', html.decode())
    assert sorted(name for _, name in alternatives) == sorted(chart_data(html))
    assert len(alternatives) == 4
    assert any("Billing question 1" in label for label, _ in alternatives)
    assert any("Alice 220.0 s" in label and "Bob 120.0 s" in label for label, _ in alternatives)
    # The tables: per queue and hour, per agent, per classification, the wait distribution.
    assert "Sales Webchat Mon 2 Mar 3 1 2 1 1 50.0 % 30.0 s 240.0 s 30 s 0" in page
    assert "Full Webchat Mon 2 Mar 1 1 0 0 0 0.0 % 90.0 s 120.0 s 90 s 1" in page
    assert "Switchboard Voice Mon 2 Mar 1 1 0 0 1 100.0 % 12.0 s 200.0 s 12 s 0" in page
    assert "Billing question 1" in page and "Unclassified 4" in page
    assert "10–20 s 1" in page and "30–60 s 1" in page and "1–2 min 1" in page and "5+ min 0" in page
    assert "Alice alice 2 220.0 s" in page and "Bob bob 1 120.0 s" in page


def test_the_hourly_table_has_a_row_per_queue_and_hour(supervisor_client, day):
    page = text(supervisor_client.get(reverse("reports"), {**DAY, "interval": "hour"}).content)
    assert "Full Webchat Mon 2 Mar 09:00 1 1 0 0 0 0.0 % 90.0 s 120.0 s 90 s 1" in page
    assert "Sales Webchat Mon 2 Mar 09:00 3 1 2 1 1 50.0 % 30.0 s 240.0 s 30 s 0" in page
    assert "Switchboard Voice Mon 2 Mar 10:00 1 1 0 0 1 100.0 % 12.0 s 200.0 s 12 s 0" in page


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("Offered", ["Eve", "Grace", "Hal", "Ida", "—"]),
        ("Answered", ["Grace", "Ida", "—"]),
        ("Abandoned", ["Eve", "Hal"]),
        ("Refused", ["Jo"]),
        ("Service level", ["Grace", "—"]),
    ],
)
def test_each_headline_lists_exactly_the_interactions_behind_it(supervisor_client, day, label, expected):
    html = supervisor_client.get(reverse("reports"), DAY).content
    value, href = headline(html, label)
    assert href.startswith("/reports/interactions/?")
    names = listed(supervisor_client, href)
    assert names == expected
    if label != "Service level":
        assert len(names) == int(value)


def test_table_counts_link_to_their_rows(supervisor_client, day):
    html = supervisor_client.get(reverse("reports"), {**DAY, "interval": "hour"}).content.decode()
    links = {
        name: href.replace("&amp;", "&")
        for href, name in re.findall(r'<a href="(/reports/interactions/\?[^"]+)">([^<]+)</a>', html)
    }
    short = next(
        href.replace("&amp;", "&")
        for href in re.findall(r'href="(/reports/interactions/\?[^"]+)"', html)
        if "outcome=short_abandoned" in href
    )
    assert listed(supervisor_client, short) == ["Eve"]
    bucket = next(
        href.replace("&amp;", "&")
        for href in re.findall(r'href="(/reports/interactions/\?[^"]+)"', html)
        if "wait_min=60" in href
    )
    assert listed(supervisor_client, bucket) == ["Ida"]
    unclassified = next(
        href.replace("&amp;", "&")
        for href in re.findall(r'href="(/reports/interactions/\?[^"]+)"', html)
        if "unclassified=1" in href
    )
    assert listed(supervisor_client, unclassified) == ["Eve", "Hal", "Ida", "—"]
    assert links  # every count is a link
    agent = next(
        href.replace("&amp;", "&")
        for href in re.findall(r'href="(/reports/interactions/\?[^"]+)"', html)
        if "agent=alice" in href
    )
    assert listed(supervisor_client, agent) == ["Grace", "—"]


def test_filters_narrow_the_figures(supervisor_client, day):
    html = supervisor_client.get(reverse("reports"), {**DAY, "queue": f"chat-{day['sales'].pk}"}).content
    assert headline(html, "Offered")[0] == "3"
    assert headline(html, "Service level")[0] == "50.0 %"
    _, href = headline(html, "Offered")
    assert f"queue=chat-{day['sales'].pk}" in href
    assert listed(supervisor_client, href) == ["Eve", "Grace", "Hal"]
    voice = supervisor_client.get(reverse("reports"), {**DAY, "channel": "voice"}).content
    assert headline(voice, "Offered")[0] == "1"
    assert headline(voice, "Service level")[0] == "100.0 %"
    other_day = supervisor_client.get(reverse("reports"), {"from": "2026-03-03", "to": "2026-03-03"}).content
    assert headline(other_day, "Offered")[0] == "0"
    assert headline(other_day, "Service level")[0] == "—"
    assert b"No contacts arrived in this range." in other_day


def test_the_form_keeps_the_filters_and_the_exports_carry_them(supervisor_client, day):
    query = {**DAY, "queue": f"chat-{day['sales'].pk}", "interval": "hour", "agent": "alice"}
    html = supervisor_client.get(reverse("reports"), query).content.decode()
    assert f'value="chat-{day["sales"].pk}" checked' in html
    assert 'value="alice" checked' in html
    assert '<option value="hour" selected>' in html
    exports = re.findall(r'<a class="button button--small" href="([^"]+)" download>Export CSV</a>', html)
    assert {e.split("?")[0] for e in exports} == {
        "/reports/interactions.csv",
        "/reports/queues.csv",
        "/reports/agents.csv",
    }
    for export in exports:
        assert "from=2026-03-02" in export and "interval=hour" in export and "agent=alice" in export


def test_the_default_range_is_the_last_seven_days(supervisor_client, day):
    html = supervisor_client.get(reverse("reports")).content.decode()
    assert 'value="2026-02-24"' in html and 'value="2026-03-02"' in html
    assert re.search(r'class="preset" href="[^"]+" aria-current="true">Last 7 days', html)
    assert headline(html.encode(), "Offered")[0] == "5"


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ({"from": "2026-03-02", "to": "yesterday"}, 400, "is not a date"),
        ({"from": "2026-03-05", "to": "2026-03-02"}, 400, "starts after it ends"),
        ({**DAY, "interval": "minute"}, 400, "hour, day or week"),
        ({**DAY, "queue": "chat-x"}, 400, "names no queue"),
        ({**DAY, "agent": "nobody"}, 404, "no agent"),
        ({**DAY, "agent": "ali\x00ce"}, 404, "no agent"),
    ],
)
def test_bad_filters_show_the_form_with_the_error(supervisor_client, day, query, status, message):
    response = supervisor_client.get(reverse("reports"), query)
    assert response.status_code == status
    assert message in text(response.content)
    assert b'role="alert"' in response.content and b"Show report" in response.content


@pytest.mark.parametrize(
    "extra",
    [
        {"outcome": "lost"},
        {"interval_start": "noon"},
        {"interval_start": "2026-03-02T09:00:00"},
        {"answered_within_target": "yes"},
        {"wait_min": "-4"},
        {"wait_min": "60", "wait_max": "30"},
        {"refused": "2"},
    ],
)
def test_bad_drill_down_conditions_are_refused_with_a_message(supervisor_client, day, extra):
    response = supervisor_client.get(reverse("reports_interactions"), {**DAY, **extra})
    assert response.status_code == 400
    assert b'role="alert"' in response.content


def test_a_nul_in_a_drill_down_condition_matches_nothing(supervisor_client, day):
    response = supervisor_client.get(reverse("reports_interactions"), {**DAY, "classification_text": "a\x00"})
    assert response.status_code == 200
    assert "0 interactions" in text(response.content)


def test_another_companys_queue_is_not_found(supervisor_client, day):
    theirs = factories.WebchatQueueFactory(name="Theirs too")
    for name in ("reports", "reports_interactions"):
        response = supervisor_client.get(reverse(name), {**DAY, "queue": f"chat-{theirs.pk}"})
        assert response.status_code == 404
        assert b"Not yours" not in response.content


def test_the_drill_down_pages_and_links_each_row_to_its_transcript(supervisor_client, day, company):
    response = supervisor_client.get(reverse("reports_interactions"), {**DAY, "outcome": "abandoned"})
    html = response.content.decode()
    assert "2 interactions" in html
    transcripts = re.findall(r'href="(/contacts/interactions/\d+/transcript/)"', html)
    assert len(transcripts) == 2
    page = supervisor_client.get(transcripts[0])
    assert page.status_code == 200
    assert b"<h1>Chat with" in page.content


def test_the_drill_down_is_paginated(supervisor_client, company, clock, day):
    queue = day["sales"]
    for number in range(55):
        engine.chat_end_by_customer(chat_id=open_chat(queue, name=f"P{number:02d}").pk)
    first = supervisor_client.get(reverse("reports_interactions"), {**DAY, "outcome": "abandoned"})
    assert "57 interactions · page 1 of 2" in text(first.content)
    assert (
        len(
            listed(
                supervisor_client,
                f"{reverse('reports_interactions')}?from=2026-03-02&to=2026-03-02&outcome=abandoned",
            )
        )
        == 57
    )


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.ADMINISTRATOR])
def test_supervisors_and_administrators_read_the_reports(client, company, role):
    member = factories.MembershipFactory(company=company, role=role)
    log_in_verified(client, member.user)
    assert client.get(reverse("reports")).status_code == 200
    assert client.get(reverse("reports_interactions"), DAY).status_code == 200
    assert b'href="/reports/"' in client.get(reverse("inbox")).content


def test_agents_are_refused_and_see_no_reports_link(client, company):
    member = factories.MembershipFactory(company=company, role=Role.AGENT)
    client.force_login(member.user)
    assert client.get(reverse("reports")).status_code == 403
    assert client.get(reverse("reports_interactions"), DAY).status_code == 403
    assert b'href="/reports/"' not in client.get(reverse("inbox")).content


def test_anonymous_visitors_go_to_the_login(client):
    response = client.get(reverse("reports"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_supervisor_sees_every_row_but_only_the_transcripts_their_profile_allows(client, company, day):
    full_only = QueueProfile.objects.create(company=company, name="Full only")
    full_only.queues.add(day["full"])
    supervisor = factories.MembershipFactory(company=company, role=Role.SUPERVISOR, queue_profile=full_only)
    log_in_verified(client, supervisor.user)
    html = client.get(reverse("reports_interactions"), {**DAY, "outcome": "answered"}).content.decode()
    assert "3 interactions" in html
    transcripts = re.findall(r'href="/contacts/interactions/(\d+)/transcript/"', html)
    assert len(transcripts) == 1  # Ida's chat, in Full; not Grace's (Sales) nor the call
    assert html.count("Outside your queue profile") == 2


def test_weeks_start_on_monday_and_their_counts_link_to_their_rows(supervisor_client, day):
    query = {"from": "2026-03-01", "to": "2026-03-04", "interval": "week"}
    html = supervisor_client.get(reverse("reports"), query).content
    page = text(html)
    # Sunday 1 March is in the week of Monday 23 February; the day's traffic in the week of 2 March.
    assert "Sales Webchat Week of 2 Mar 3 1 2 1 1 50.0 %" in page
    offered = re.search(r'href="([^"]+outcome=offered)">3<', html.decode()).group(1).replace("&amp;", "&")
    assert "interval_start=2026-03-02T00%3A00%3A00%2B00%3A00" in offered
    assert listed(supervisor_client, offered) == ["Eve", "Grace", "Hal"]
