"""The reports' rollup: the figures it gives are the interactions' own, for every filter it serves, after
a queue's settings change, after erasure, after a rebuild; and closes of the same queue and hour at the
same moment both count."""

import dataclasses
import datetime as dt
import threading

import pytest
from django.db import connection, connections, transaction

from crm import services
from crm.models import Channel, Interaction, ReportAgentDay, ReportClassificationDay, ReportQueueHour
from reports import drilldown, queries
from reports.filters import ReportFilters
from reports.views import queues_csv_row
from routing.models import Call, CallState
from tests import factories
from tests.reports.test_report_pages import known_day

UTC = dt.UTC


def call(queue, *, arrived, wait=None, stay=None, handle=0.0, wrapup=0.0, agent=None, classification=None):
    """A closed call of `queue`: answered after `wait` seconds (talk `handle`, wrap-up `wrapup`), or the
    caller hung up after `stay` seconds (None: no end recorded)."""
    answered = arrived + dt.timedelta(seconds=wait) if wait is not None else None
    if answered is not None:
        ended = answered + dt.timedelta(seconds=handle)
    else:
        ended = arrived + dt.timedelta(seconds=stay) if stay is not None else None
    closed = (ended or arrived) + dt.timedelta(seconds=wrapup)
    return services.interaction_record_call(
        call=Call(
            company=queue.company,
            queue=queue,
            pbx_call_id="x",
            state=CallState.CLOSED,
            outcome="completed" if answered else "abandoned",
            arrived_at=arrived,
            answered_at=answered,
            ended_at=ended,
            closed_at=closed,
            classification=classification,
        ),
        agent=agent,
    )


@pytest.fixture
def traffic(db, clock, settings, company):
    """Paris days (whole hours from UTC, the clocks going forward on 29 March): the known day of the page's
    tests (chats through the engine: answered, abandoned, short abandoned, refused, a call) and five weeks
    of calls on two voice queues around it, waits and stays on and just past the targets and thresholds,
    some arriving in the last hour before a Paris midnight."""
    settings.TIME_ZONE = "Europe/Paris"
    day = known_day(company, clock)
    lines = [
        factories.VoiceQueueFactory(company=company, name="Line", slug="line", sl_target_seconds=20),
        factories.VoiceQueueFactory(
            company=company, name="Other line", slug="other", short_abandon_seconds=8
        ),
    ]
    carol = factories.MembershipFactory(company=company, user__username="carol", can_voice=True)
    bill = day["bill"]
    spare = factories.ClassificationFactory(company=company, code="SPARE", label="To be deleted")
    waits = (0.0, 3.25, 19.999, 20.0, 20.001, 45.5, 60.0, 61.0, 299.999, 300.0, 2500.0)
    stays = (0.0, 4.9995, 5.0, 5.000001, 8.0, 8.5, 40.0, None)
    start = dt.datetime(2026, 2, 20, 22, 30, tzinfo=UTC)
    n = 0
    for d in range(40):
        for slot in range(4):
            arrived = start + dt.timedelta(days=d, hours=slot * 5 + (d % 3), minutes=7 * slot)
            queue = lines[(d + slot) % 2]
            n += 1
            if n % 3:
                call(
                    queue,
                    arrived=arrived,
                    wait=waits[n % len(waits)],
                    handle=30 + n % 97 + 0.125,
                    wrapup=(n % 4) * 5.5,
                    agent=carol if n % 5 else day["alice"],
                    classification=(bill, spare, None)[n % 3],
                )
            else:
                call(queue, arrived=arrived, stay=stays[n % len(stays)], classification=(spare, None)[n % 2])
    return {**day, "lines": lines, "carol": carol, "spare": spare}


def figures(filters: ReportFilters) -> dict:
    """Every figure the report page reads and every column of queues.csv."""
    counts = queries.queue_interval_counts(filters)
    return {
        "queues": [dataclasses.astuple(c.interval) + (c.key, c.refused) for c in counts],
        "queues_csv": [queues_csv_row(c) for c in counts],
        "waits": [(b.low, b.high, b.answered) for b in drilldown.wait_distribution(filters)],
        "agents": [dataclasses.astuple(a) for a in queries.agent_rows(filters)],
        "classifications": [dataclasses.astuple(c) for c in queries.classification_counts(filters)],
    }


def both_ways(filters: ReportFilters, monkeypatch) -> tuple[dict, dict]:
    rolled_up = figures(filters)
    with monkeypatch.context() as patch:
        patch.setattr(queries, "USE_ROLLUP", False)
        raw = figures(filters)
    return rolled_up, raw


def scopes(company, traffic) -> list[ReportFilters]:
    line, other = traffic["lines"]
    common = {"company_id": company.pk, "time_zone": "Europe/Paris"}
    month = {"date_from": dt.date(2026, 2, 21), "date_to": dt.date(2026, 3, 31)}
    return [
        ReportFilters(**common, **month),
        ReportFilters(**common, **month, interval="hour"),
        ReportFilters(**common, **month, interval="week"),
        ReportFilters(**common, date_from=dt.date(2026, 3, 2), date_to=dt.date(2026, 3, 2), interval="hour"),
        ReportFilters(**common, **month, channel="voice"),
        ReportFilters(**common, **month, channel="chat", interval="hour"),
        ReportFilters(**common, **month, queues=(("voice", line.pk), ("chat", traffic["sales"].pk))),
        ReportFilters(
            **common, date_from=dt.date(2026, 3, 28), date_to=dt.date(2026, 3, 30), interval="hour"
        ),
        ReportFilters(**common, **month, agents=(traffic["carol"].pk,)),
        ReportFilters(**common, **month, classifications=(traffic["bill"].pk,)),
        ReportFilters(**{**common, "time_zone": "UTC"}, **month, interval="day"),
        ReportFilters(**{**common, "time_zone": "Asia/Kolkata"}, **month, interval="day"),
    ]


def test_the_rollup_gives_every_figure_the_interactions_give(traffic, company, monkeypatch):
    plain = ReportFilters(company_id=company.pk, date_from=dt.date(2026, 2, 21), date_to=dt.date(2026, 3, 31))
    assert queries._rollup_serves_queues(plain)
    for filters in scopes(company, traffic):
        rolled_up, raw = both_ways(filters, monkeypatch)
        assert rolled_up == raw, filters
    assert both_ways(plain, monkeypatch)[0]["queues"], "the traffic is in the range"


def test_a_changed_target_or_threshold_rates_the_past_again_the_same_both_ways(traffic, company, monkeypatch):
    line, other = traffic["lines"]
    filters = ReportFilters(
        company_id=company.pk,
        date_from=dt.date(2026, 2, 21),
        date_to=dt.date(2026, 3, 31),
        time_zone="Europe/Paris",
    )
    before = both_ways(filters, monkeypatch)[0]
    for target, short in ((61, 0), (1, 40), (300, 9), (3000, 5)):
        line.sl_target_seconds, line.short_abandon_seconds = target, short
        line.save()
        rolled_up, raw = both_ways(filters, monkeypatch)
        assert rolled_up == raw, (target, short)
    assert rolled_up != before  # the figures did change


def test_a_deleted_queue_or_classification_counts_as_in_the_raw_reads(traffic, company, monkeypatch):
    line = traffic["lines"][1]
    Interaction.objects.filter(arrival_voice_queue=line).update(arrival_voice_queue=None, voice_queue=None)
    line.delete()
    traffic["spare"].delete()
    for filters in scopes(company, traffic)[:6]:
        rolled_up, raw = both_ways(filters, monkeypatch)
        assert rolled_up == raw, filters


def rollup_tables() -> list:
    return [
        sorted(
            model.objects.values_list(*[f.attname for f in model._meta.fields if f.name != "id"]), key=repr
        )
        for model in (ReportQueueHour, ReportClassificationDay, ReportAgentDay)
    ]


def test_a_rebuild_gives_the_rows_the_closes_added_and_erasure_keeps_them(traffic):
    added = rollup_tables()
    assert all(added)
    assert services.report_rollup_rebuild() == {
        ReportQueueHour._meta.db_table: len(added[0]),
        ReportClassificationDay._meta.db_table: len(added[1]),
        ReportAgentDay._meta.db_table: len(added[2]),
    }
    assert rollup_tables() == added
    for pk in Interaction.objects.values_list("pk", flat=True):
        services.interaction_anonymise(interaction_id=pk)
    assert not Interaction.objects.filter(anonymised_at__isnull=True).exists()
    assert rollup_tables() == added


def waiting_on_a_lock(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
        row = cursor.fetchone()
    return bool(row) and row[0] == "Lock"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("existing_row", [False, True])
def test_closes_of_one_queue_and_hour_at_the_same_moment_both_count(existing_row):
    """Two transactions close a call each in the same queue and hour: the second's upsert waits for the
    first's row (new or existing), then adds to what the first committed."""
    company = factories.CompanyFactory()
    line = factories.VoiceQueueFactory(company=company, name="Line", slug="line", sl_target_seconds=20)
    hour = dt.datetime(2026, 3, 2, 9, tzinfo=UTC)
    if existing_row:
        call(line, arrived=hour, wait=1.0, handle=10)
    first_recorded, release_first = threading.Event(), threading.Event()
    second_pid: list[int] = []
    failures: list[BaseException] = []

    def first():
        try:
            with transaction.atomic():
                call(line, arrived=hour + dt.timedelta(minutes=10), wait=30.0, handle=100)
                first_recorded.set()
                assert release_first.wait(30)
        except BaseException as error:  # reported by the test
            failures.append(error)
            first_recorded.set()
        finally:
            connections.close_all()

    def second():
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                second_pid.append(cursor.fetchone()[0])
            with transaction.atomic():
                call(line, arrived=hour + dt.timedelta(minutes=20), wait=5.0, handle=50)
        except BaseException as error:
            failures.append(error)
        finally:
            connections.close_all()

    a = threading.Thread(target=first)
    a.start()
    assert first_recorded.wait(30)
    b = threading.Thread(target=second)
    b.start()
    waited = threading.Event()
    for _ in range(3000):  # until the second close waits for the first's row lock
        if second_pid and waiting_on_a_lock(second_pid[0]):
            break
        waited.wait(0.01)
    blocked = bool(second_pid) and waiting_on_a_lock(second_pid[0])
    release_first.set()
    a.join(30)
    b.join(30)
    assert not failures
    assert blocked

    row = ReportQueueHour.objects.get(company=company, channel=Channel.VOICE, arrival_voice_queue_id=line.pk)
    expected = 3 if existing_row else 2
    assert (row.offered, row.answered, row.max_wait_seconds) == (expected, expected, 30.0)
    assert row.total_handle_seconds == (160 if existing_row else 150)
    # Waits 30 and 5 (and 1): at most 4 s none (or one), 5 s on one more, 30 s on all.
    assert row.answered_by_wait[4] == (1 if existing_row else 0)
    assert row.answered_by_wait[5] == expected - 1
    assert row.answered_by_wait[30] == expected
    added = rollup_tables()
    services.report_rollup_rebuild(company_id=company.pk)
    assert rollup_tables() == added
