"""interactions.csv written by PostgreSQL (COPY) and by Python (the embedded SQLite's path) is the same file,
byte for byte: names that are formulas, quotes, commas, line breaks and non-ASCII text; deleted queues, agents
and classifications; moments with and without microseconds, stored from other time zones; whole, fractional,
tiny and huge seconds; nothing where nothing applies. The filters narrow both alike, and a hostile value
in one is only ever a value."""

import csv
import datetime as dt
import io

import pytest
from django.db import connection

from contactcentre.models import Role
from crm.models import Channel, Interaction
from reports import exports
from reports.filters import ReportFilters
from tests import factories
from tests.two_factor_support import log_in_verified

DAY = dt.date(2026, 3, 2)
PARIS_MORNING = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)
KOLKATA = dt.timezone(dt.timedelta(hours=5, minutes=30))
HOSTILE_USERNAME = "o'brien\";--=1+1"


@pytest.fixture
def paris(settings):
    settings.TIME_ZONE = "Europe/Paris"


@pytest.fixture
def nasty(db, paris, company):
    """Interactions whose every text, moment and number is one a writer could get wrong."""
    chat = factories.WebchatQueueFactory(company=company, name='=Sales, "east"\nfloor')
    voice = factories.VoiceQueueFactory(company=company, name="@Ligne été", slug="ligne")
    hostile = factories.MembershipFactory(company=company, user__username=HOSTILE_USERNAME)
    zoe = factories.MembershipFactory(company=company, user__username="Zoë,\r\n-ops")
    billing = factories.ClassificationFactory(
        company=company, code="=B1", label='Billing, "disputed"\r\nsecond line'
    )
    plain = factories.ClassificationFactory(company=company, code="C2", label="Delivery")
    formula = factories.ContactFactory(company=company, name="@SUM(A1:A9)")
    other = factories.WebchatQueueFactory(name="Theirs")

    def interaction(minutes: float, **fields) -> Interaction:
        opened = PARIS_MORNING + dt.timedelta(minutes=minutes)
        defaults = {
            "company": company,
            "channel": Channel.WEBCHAT,
            "queue_name": chat.name,
            "arrival_webchat_queue": chat,
            "opened_at": opened,
            "ended_at": opened + dt.timedelta(seconds=40),
            "closed_at": opened + dt.timedelta(seconds=45),
            "outcome": "abandoned",
        }
        return Interaction.objects.create(**{**defaults, **fields})

    answered = {"answered_at": PARIS_MORNING, "outcome": "completed"}
    interaction(
        0,
        customer_name="Grace",
        agent=hostile,
        wait_seconds=30.0,
        handle_seconds=180.0,
        wrapup_seconds=20.0,
        classification=billing,
        **answered,
    )
    interaction(
        0,
        customer_name="\rCR first",
        agent=zoe,
        wait_seconds=12.345,
        handle_seconds=0.1 + 0.2,
        wrapup_seconds=0.0,
        classification=plain,
        transfers=3,
        **answered,
    )
    interaction(
        1.5,
        customer_name='Ünïcødé 😀 "quoted"',
        contact=formula,
        agent=None,
        agent_name="\tTabbed",
        wait_seconds=1e-05,
        handle_seconds=123456789.125,
        wrapup_seconds=1.5e-07,
        classification_text="-gone, deleted",
        **answered,
    )
    interaction(
        2.000001,
        customer_name="",
        agent_name="",
        wait_seconds=2e15,
        handle_seconds=1e16,
        wrapup_seconds=1234.5e20,
        **answered,
    )
    # Never answered: handle and wrap-up are left out whatever is stored.
    interaction(3, customer_name="+33 6 12", handle_seconds=5.0, wrapup_seconds=2.0, ended_at=None)
    # Its queue deleted: the name it closed under, or nothing.
    interaction(4, arrival_webchat_queue=None, queue_name="-Old queue", customer_name="Ida")
    interaction(5, arrival_webchat_queue=None, queue_name="", customer_name="Jo", outcome="=odd")
    # Stored from another time zone, with and without microseconds.
    interaction(
        6,
        channel=Channel.VOICE,
        arrival_webchat_queue=None,
        arrival_voice_queue=voice,
        queue_name=voice.name,
        opened_at=dt.datetime(2026, 3, 2, 16, 0, 0, 500, tzinfo=KOLKATA),
        answered_at=dt.datetime(2026, 3, 2, 16, 0, 7, tzinfo=KOLKATA),
        wait_seconds=6.9995,
        handle_seconds=60.0,
        wrapup_seconds=30.0,
        outcome="completed",
        agent=zoe,
    )
    # The company's day in Paris starts at 23:00 UTC the day before; the next one at 23:00 UTC.
    interaction(-600 + 1, customer_name="Paris at dawn")
    interaction(14 * 60 - 1, customer_name="Paris before midnight")
    interaction(14 * 60, customer_name="the next day")
    interaction(0, company=other.company, arrival_webchat_queue=other, queue_name=other.name,
                customer_name="Not yours")  # fmt: skip
    return {"chat": chat, "voice": voice, "hostile": hostile, "zoe": zoe, "billing": billing}


def filters_for(company, **narrowing) -> ReportFilters:
    return ReportFilters(company_id=company.pk, date_from=DAY, date_to=DAY, time_zone="Europe/Paris",
                         **narrowing)  # fmt: skip


def by_copy(filters: ReportFilters, lines: int = 3) -> bytes:
    return b"".join(exports.copy_batches(filters, lines))


def by_python(filters: ReportFilters, lines: int = 3) -> bytes:
    rows = exports.python_rows(filters, lines)
    return "".join(exports.csv_batches(lines, exports.INTERACTIONS_CSV_COLUMNS, rows)).encode()


def table(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode(), newline="")))


def test_postgresql_and_python_write_the_same_bytes(nasty, company):
    assert connection.vendor == "postgresql"
    filters = filters_for(company)

    copied = by_copy(filters)

    assert copied == by_python(filters)
    assert copied.startswith(",".join(exports.INTERACTIONS_CSV_COLUMNS).encode() + b"\r\n")
    assert copied.endswith(b"\r\n")
    rows = table(copied)
    assert len(rows) == 1 + 10
    assert [row[4] for row in rows[1:]] == [
        "Paris at dawn", "Grace", "'\rCR first", "'@SUM(A1:A9)", "", "'+33 6 12", "Ida", "Jo", "",
        "Paris before midnight",
    ]  # fmt: skip
    grace, cr, unicode, huge, unanswered, old_queue, emptied, call = rows[2:10]
    assert grace[1:5] == ["webchat", '\'=Sales, "east"\nfloor', HOSTILE_USERNAME, "Grace"]
    assert grace[9:13] == ["30.0", "180.0", "20.0", "completed"]
    assert grace[13:16] == ['\'=B1 – Billing, "disputed"\r\nsecond line', "0", ""]
    assert cr[3] == "Zoë,\r\n-ops"
    assert cr[9:15] == ["12.345", "0.30000000000000004", "0.0", "completed", "C2 – Delivery", "3"]
    assert unicode[3:5] == ["'\tTabbed", "'@SUM(A1:A9)"]
    assert unicode[9:12] == ["1e-05", "123456789.125", "1.5e-07"]
    assert unicode[13] == "'-gone, deleted"
    assert huge[3:5] == ["", ""]
    assert huge[5] == "2026-03-02T09:02:00.000060Z"
    assert huge[9:12] == ["2000000000000000.0", "1e+16", "1.2345e+23"]
    assert unanswered[6:12] == ["", "", "2026-03-02T09:03:45Z", "", "", ""]
    assert old_queue[2] == "'-Old queue"
    assert emptied[2] == "" and emptied[12] == "'=odd"
    assert call[1:3] == ["voice", "'@Ligne été"]
    assert call[5:7] == ["2026-03-02T10:30:00.000500Z", "2026-03-02T10:30:07Z"]
    assert call[9] == "6.9995"


def test_the_filters_narrow_both_alike(nasty, company):
    for narrowing in (
        {"agents": (nasty["zoe"].pk,)},
        {"agents": (nasty["hostile"].pk, nasty["zoe"].pk)},
        {"queues": (("voice", nasty["voice"].pk),)},
        {"queues": (("chat", nasty["chat"].pk), ("voice", nasty["voice"].pk))},
        {"channel": "voice"},
        {"classifications": (nasty["billing"].pk,)},
    ):
        filters = filters_for(company, **narrowing)
        copied = by_copy(filters, lines=2)
        assert copied == by_python(filters, lines=2)
        assert 1 < len(table(copied)) < 11, narrowing


def test_a_batch_holds_the_lines_asked_for_and_the_last_the_rest(nasty, company):
    batches = list(exports.copy_batches(filters_for(company), 4))

    assert [len(table(batch)) for batch in batches] == [4, 4, 3]
    assert all(batch.endswith(b"\r\n") for batch in batches)


@pytest.fixture
def supervisor_client(client, company):
    supervisor = factories.MembershipFactory(company=company, role=Role.SUPERVISOR, user__username="sue")
    return log_in_verified(client, supervisor.user)


def test_a_hostile_agent_name_in_the_query_is_only_a_name(nasty, supervisor_client):
    url = "/reports/interactions.csv"
    query = {"from": DAY.isoformat(), "to": DAY.isoformat()}

    theirs = supervisor_client.get(url, {**query, "agent": HOSTILE_USERNAME})
    unknown = supervisor_client.get(url, {**query, "agent": "x' OR '1'='1"})
    dropping = supervisor_client.get(url, {**query, "agent": "x'); DROP TABLE crm_interaction; --"})

    assert theirs.status_code == 200
    rows = table(b"".join(theirs.streaming_content))
    assert [row[3] for row in rows[1:]] == [HOSTILE_USERNAME]
    assert unknown.status_code == dropping.status_code == 404
    assert Interaction.objects.count() == 12
