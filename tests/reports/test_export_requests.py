"""The exports' requests: who may download them, what a bad query string gets, where the days and weeks
of the company's time zone start and end, and what a spreadsheet would run as a formula."""

import csv
import datetime as dt
import io

import pytest

from contactcentre.models import Presence, Role
from routing import engine
from tests import factories
from tests.reports.conftest import open_chat
from tests.two_factor_support import log_in_verified

UTC = dt.UTC
DAY = {"from": "2026-03-02", "to": "2026-03-02"}
EXPORTS = ["/reports/interactions.csv", "/reports/queues.csv", "/reports/agents.csv"]


def table(response) -> list[list[str]]:
    assert response.status_code == 200, response.content
    assert response.streaming
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.fixture
def supervisor_client(client, company):
    supervisor = factories.MembershipFactory(company=company, role=Role.SUPERVISOR)
    return log_in_verified(client, supervisor.user)


@pytest.mark.parametrize("url", EXPORTS)
def test_an_administrator_may_download_them(client, company, url):
    administrator = factories.MembershipFactory(company=company, role=Role.ADMINISTRATOR)
    log_in_verified(client, administrator.user)

    assert table(client.get(url, DAY))[0][0] in ("interaction_id", "queue", "agent")


@pytest.mark.parametrize("url", EXPORTS)
def test_an_agent_is_refused(agent_client, url):
    response = agent_client.get(url, DAY)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize("url", EXPORTS)
def test_a_visitor_who_has_not_signed_in_is_refused_without_a_redirect(client, company, url):
    response = client.get(url, DAY)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"


@pytest.mark.parametrize("url", EXPORTS)
def test_only_get_is_served(supervisor_client, url):
    assert supervisor_client.post(url, DAY).status_code == 405


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ({}, "from"),
        ({"from": "2026-03-02"}, "to"),
        ({"from": "2026-02-30", "to": "2026-03-02"}, "from"),
        ({"from": "02/03/2026", "to": "2026-03-02"}, "from"),
        ({"from": "2026-W10-1", "to": "2026-03-02"}, "from"),
        ({"from": "2026-03-02", "to": "2026-03-02\x00"}, "to"),
        ({"from": "2026-03-03", "to": "2026-03-02"}, "from"),
        ({"from": "2025-01-01", "to": "2026-03-02"}, "to"),
        ({**DAY, "channel": "email"}, "channel"),
        ({**DAY, "interval": "month"}, "interval"),
        ({**DAY, "queue": "sales-1"}, "queue"),
        ({**DAY, "queue": "chat-abc"}, "queue"),
        ({**DAY, "queue": "chat-99999999999999"}, "queue"),
        ({**DAY, "classification": "billing"}, "classification"),
        ({**DAY, "agent": "ali\x00ce"}, "agent"),
    ],
)
@pytest.mark.parametrize("url", EXPORTS)
def test_a_bad_query_string_is_refused_with_400_naming_the_parameter(supervisor_client, url, query, names):
    response = supervisor_client.get(url, query)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert error["message"].startswith(f"{names}: ")


@pytest.mark.parametrize("url", EXPORTS)
def test_a_range_of_400_days_is_served(supervisor_client, url):
    assert table(supervisor_client.get(url, {"from": "2025-02-01", "to": "2026-03-07"}))


@pytest.mark.parametrize("url", EXPORTS)
def test_a_queue_agent_or_classification_the_company_lacks_is_not_found(supervisor_client, company, url):
    queue = factories.WebchatQueueFactory(company=company)
    for query in (
        {"queue": f"chat-{queue.pk + 1000}"},
        {"queue": f"voice-{queue.pk}"},  # no voice queue has that id
        {"agent": "nobody"},
        {"classification": "12345"},
    ):
        response = supervisor_client.get(url, {**DAY, **query})
        assert response.status_code == 404, query
        assert response.json()["error"]["code"] == "not_found"


def abandon_at(clock, queue, moment, name="Guest"):
    clock.move_to(moment)
    chat = open_chat(queue, name=name)
    clock.shift(2)
    engine.chat_end_by_customer(chat_id=chat.pk)


@pytest.fixture
def around_midnights(db, clock, company, manual_queue):
    """Abandoned chats either side of Paris midnights (Paris is UTC+1 in early March)."""
    for moment in [
        (2026, 3, 1, 22, 59, 59),  # Sunday 1 March 23:59:59 in Paris
        (2026, 3, 1, 23, 0, 0),  # Monday 2 March 00:00 in Paris
        (2026, 3, 2, 22, 59, 30),  # Monday 23:59:30
        (2026, 3, 2, 23, 0, 0),  # Tuesday 3 March 00:00
        (2026, 3, 8, 22, 59, 0),  # Sunday 8 March 23:59
        (2026, 3, 8, 23, 0, 0),  # Monday 9 March 00:00: the next week
    ]:
        abandon_at(clock, manual_queue, dt.datetime(*moment, tzinfo=UTC))


def starts(response) -> list[tuple[str, str]]:
    return [(row[2], row[3]) for row in table(response)[1:]]


def test_days_weeks_and_hours_are_the_companys(supervisor_client, around_midnights, settings):
    settings.TIME_ZONE = "Europe/Paris"
    get = supervisor_client.get
    week = {"from": "2026-03-02", "to": "2026-03-08"}

    # `to` is included, up to its last second in Paris; the Sunday before and the Monday after are not.
    assert starts(get("/reports/queues.csv", {**week, "interval": "day"})) == [
        ("2026-03-01T23:00:00Z", "2"),
        ("2026-03-02T23:00:00Z", "1"),
        ("2026-03-07T23:00:00Z", "1"),
    ]
    assert starts(get("/reports/queues.csv", {**week, "interval": "week"})) == [("2026-03-01T23:00:00Z", "4")]
    assert starts(
        get("/reports/queues.csv", {"from": "2026-03-01", "to": "2026-03-09", "interval": "week"})
    ) == [
        ("2026-02-22T23:00:00Z", "1"),
        ("2026-03-01T23:00:00Z", "4"),
        ("2026-03-08T23:00:00Z", "1"),
    ]
    assert starts(get("/reports/queues.csv", {**DAY, "interval": "hour"})) == [
        ("2026-03-01T23:00:00Z", "1"),
        ("2026-03-02T22:00:00Z", "1"),
    ]
    arrivals = [row[5] for row in table(get("/reports/interactions.csv", DAY))[1:]]
    assert arrivals == ["2026-03-01T23:00:00Z", "2026-03-02T22:59:30Z"]


def test_in_utc_the_same_chats_fall_on_other_days(supervisor_client, around_midnights, settings):
    settings.TIME_ZONE = "UTC"

    # 2 March in UTC: 22:59:30 and 23:00 (Tuesday in Paris); 1 March 23:00 is the day before.
    assert starts(supervisor_client.get("/reports/queues.csv", {**DAY, "interval": "day"})) == [
        ("2026-03-02T00:00:00Z", "2"),
    ]
    assert starts(supervisor_client.get("/reports/queues.csv", {**DAY, "interval": "hour"})) == [
        ("2026-03-02T22:00:00Z", "1"),
        ("2026-03-02T23:00:00Z", "1"),
    ]


def test_time_in_a_status_is_clipped_to_the_range_and_an_open_interval_ends_now(
    supervisor_client, clock, company, settings
):
    settings.TIME_ZONE = "UTC"
    zoe = factories.MembershipFactory(
        company=company, user__username="zoe", presence=Presence.UNAVAILABLE, presence_since=None
    )
    tea = factories.BreakReasonFactory(company=company, name="Tea")
    clock.move_to(dt.datetime(2026, 3, 1, 23, 0, tzinfo=UTC))
    engine.agent_login(agent=zoe)
    clock.move_to(dt.datetime(2026, 3, 2, 0, 30, tzinfo=UTC))
    engine.agent_set_presence(agent=zoe, presence="break", break_reason_id=tea.pk)
    clock.move_to(dt.datetime(2026, 3, 2, 1, 0, tzinfo=UTC))
    engine.agent_set_presence(agent=zoe, presence="available")
    clock.move_to(dt.datetime(2026, 3, 2, 9, 0, tzinfo=UTC))

    get = supervisor_client.get
    # 2 March: Available 00:00-00:30 (of an interval started the day before) and 01:00-09:00 (now).
    assert table(get("/reports/agents.csv", DAY))[1:] == [
        ["zoe", "0", "", "", "30600.0", "0.0", "1800.0", "0.0", "0.0", ""]
    ]
    assert table(get("/reports/agents.csv", {"from": "2026-03-01", "to": "2026-03-01"}))[1:] == [
        ["zoe", "0", "", "", "3600.0", "0.0", "0.0", "0.0", "0.0", ""]
    ]
    assert table(get("/reports/agents.csv", {"from": "2026-03-03", "to": "2026-03-03"}))[1:] == []


def test_text_a_spreadsheet_would_run_is_written_as_text(supervisor_client, clock, company, settings):
    settings.TIME_ZONE = "UTC"
    queue = factories.WebchatQueueFactory(company=company, name="=Evil()", auto_allocate=False)
    names = ['=HYPERLINK("http://x.example")', "+1 555", "@SUM(A1)", "-2", "Ann = Bob"]
    for name in names:
        chat = open_chat(queue, name=name)
        engine.chat_end_by_customer(chat_id=chat.pk)

    interactions = table(supervisor_client.get("/reports/interactions.csv", DAY))[1:]
    assert [(row[2], row[4]) for row in interactions] == [
        ("'=Evil()", '\'=HYPERLINK("http://x.example")'),
        ("'=Evil()", "'+1 555"),
        ("'=Evil()", "'@SUM(A1)"),
        ("'=Evil()", "'-2"),
        ("'=Evil()", "Ann = Bob"),
    ]
    assert table(supervisor_client.get("/reports/queues.csv", DAY))[1][0] == "'=Evil()"


def test_the_hours_around_a_change_of_clocks_are_the_companys(
    supervisor_client, clock, manual_queue, settings
):
    settings.TIME_ZONE = "Europe/Paris"
    # Sunday 25 October 2026: Paris clocks go back from 03:00 CEST to 02:00 CET, at 01:00 UTC.
    for moment in [(0, 30), (1, 30), (2, 30)]:  # 02:30 CEST, 02:30 CET, 03:30 CET
        abandon_at(clock, manual_queue, dt.datetime(2026, 10, 25, *moment, tzinfo=UTC))

    day = {"from": "2026-10-25", "to": "2026-10-25"}
    # The day is 25 hours long: 22:00 UTC on the 24th to 23:00 UTC on the 25th.
    assert starts(supervisor_client.get("/reports/queues.csv", {**day, "interval": "day"})) == [
        ("2026-10-24T22:00:00Z", "3")
    ]
    # The wall clock shows 02:00-03:00 twice: both are one row, starting at the first (00:00 UTC).
    assert starts(supervisor_client.get("/reports/queues.csv", {**day, "interval": "hour"})) == [
        ("2026-10-25T00:00:00Z", "2"),
        ("2026-10-25T02:00:00Z", "1"),
    ]
