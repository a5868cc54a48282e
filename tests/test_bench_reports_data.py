"""The reports benchmark's data (bench/scenarios/reports.py, `make bench` scenario 5): rows the product could
have written, so that its figures measure the reports on data like a real company's."""

import datetime as dt
from itertools import pairwise

import pytest
from django.db.models import Count

from bench.scenarios import reports as reports_data
from crm.models import Interaction
from reports import queries
from reports.filters import ReportFilters
from routing.models import AgentStatusInterval

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 12, 7)


@pytest.fixture
def loaded():
    data = reports_data.load("bench", 1500, 10, today=TODAY, seed=0.5)
    reports_data.load("other", 300, 2, today=TODAY, seed=0.25)
    return data


def test_the_interactions_are_consistent_facts_of_one_year(loaded):
    rows = Interaction.objects.filter(company_id=loaded.company_id)
    assert rows.count() == 1500
    start = dt.datetime.combine(TODAY - dt.timedelta(days=365), dt.time(), tzinfo=dt.UTC)
    end = dt.datetime.combine(TODAY, dt.time(), tzinfo=dt.UTC)
    for i in rows.select_related("agent", "arrival_webchat_queue", "arrival_voice_queue"):
        assert start <= i.opened_at < end
        assert (i.arrival_webchat_queue is None) != (i.arrival_voice_queue is None)
        assert i.arrival_webchat_queue_id == i.webchat_queue_id
        assert i.channel == ("webchat" if i.arrival_webchat_queue else "voice")
        answered = i.wait_seconds is not None
        assert answered == (i.agent_id is not None) == (i.answered_at is not None)
        assert answered == (i.outcome in ("completed", "left_after_answer"))
        assert i.opened_at <= i.ended_at <= i.closed_at
        if answered:
            assert i.agent.company_id == loaded.company_id
            assert i.agent.name == i.agent_name
            assert i.ended_at == i.answered_at + dt.timedelta(seconds=i.handle_seconds)
        else:
            assert i.handle_seconds == i.wrapup_seconds == 0
    outcomes = dict(rows.values_list("outcome").annotate(n=Count("pk")))
    assert set(outcomes) == {"completed", "abandoned", "left_after_answer", "refused", "queue_closed"}
    assert 0.6 < outcomes["completed"] / 1500 < 0.95


def test_the_status_intervals_follow_each_other_one_open_per_agent(loaded):
    for agent_id in set(
        AgentStatusInterval.objects.filter(company_id=loaded.company_id).values_list("agent_id", flat=True)
    ):
        intervals = list(AgentStatusInterval.objects.filter(agent_id=agent_id).order_by("started_at"))
        assert len(intervals) == reports_data.DAYS * (len(reports_data.SHIFT) + 1)
        for before, after in pairwise(intervals):
            assert before.ended_at == after.started_at
            assert before.status != after.status
        assert intervals[-1].ended_at is None
        assert all(i.ended_at is not None for i in intervals[:-1])


def test_the_reports_count_only_the_company_s_rows(loaded):
    filters = ReportFilters(
        company_id=loaded.company_id,
        date_from=TODAY - dt.timedelta(days=365),
        date_to=TODAY - dt.timedelta(days=1),
    )
    counts = queries.queue_interval_counts(filters)
    rows = Interaction.objects.filter(company_id=loaded.company_id)
    assert sum(c.interval.offered for c in counts) == rows.exclude(outcome="refused").count()
    assert sum(c.refused for c in counts) == rows.filter(outcome="refused").count()
    assert len(queries.agent_rows(filters, now=dt.datetime.combine(TODAY, dt.time(), tzinfo=dt.UTC))) == 10
