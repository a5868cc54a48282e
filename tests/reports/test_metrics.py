"""The formulas of the report figures (reports/metrics.py), against values computed by hand."""

import datetime as dt

import pytest

from reports import metrics


def test_service_level_leaves_short_abandons_out_and_counts_other_abandons_against():
    # 45 of 50 answered within target; 12 left, 2 of them within the short-abandon threshold:
    # 45 / (50 + 12 - 2) = 45 / 60 = 75 %.
    assert metrics.service_level_pct(45, 50, 12, 2) == 75.0
    assert (
        metrics.service_level_pct(answered_within_target=8, answered=8, abandoned=0, short_abandoned=0) == 100
    )


def test_service_level_is_undefined_without_answers_or_counted_abandons():
    assert metrics.service_level_pct(0, 0, 0, 0) is None
    assert metrics.service_level_pct(0, 0, 3, 3) is None
    assert metrics.service_level_pct(0, 0, 4, 3) == 0.0


def test_averages_divide_totals_by_their_own_counts():
    assert metrics.asa_seconds(600, 40) == 15.0
    assert metrics.asa_seconds(dt.timedelta(minutes=2, seconds=30), 6) == 25.0
    assert metrics.average_handle_seconds(dt.timedelta(minutes=90), 20) == 270.0
    assert metrics.average_wrapup_seconds(900, 20) == 45.0
    assert metrics.csat_average(43, 10) == 4.3


@pytest.mark.parametrize(
    "figure",
    [
        lambda: metrics.asa_seconds(0, 0),
        lambda: metrics.average_handle_seconds(0, 0),
        lambda: metrics.average_wrapup_seconds(0, 0),
        lambda: metrics.csat_average(0, 0),
        lambda: metrics.abandonment_rate_pct(2, 2, 2),
        lambda: metrics.occupancy_pct(0, 0, 0),
    ],
)
def test_a_figure_over_nothing_is_undefined_not_zero(figure):
    assert figure() is None


def test_abandonment_rate_leaves_short_abandons_out_of_both_sides():
    # 62 offered, 12 abandoned of which 2 short: 10 / 60.
    assert metrics.abandonment_rate_pct(12, 2, 62) == pytest.approx(100 / 6)


def test_occupancy_counts_wrap_up_as_busy_and_ignores_breaks():
    # 1 h 30 handling, 30 min wrap-up, 30 min available: 2 h busy of 2 h 30 ready = 80 %.
    assert metrics.occupancy_pct(5400, 1800, 1800) == 80.0
    assert metrics.occupancy_pct(dt.timedelta(hours=1), 0, dt.timedelta(hours=3)) == 25.0


def test_an_undefined_figure_shows_as_a_dash():
    assert metrics.display(None) == "—"
    assert metrics.display(88.835, 1, " %") == "88.8 %"
    assert metrics.display(7.0, 1, " s") == "7.0 s"


def test_a_queue_interval_gives_its_queues_csv_row_in_the_protocols_order():
    interval = metrics.QueueInterval(
        queue="Support",
        channel="webchat",
        interval_start=dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC),
        offered=62,
        answered=50,
        abandoned=12,
        short_abandoned=2,
        answered_within_target=45,
        total_wait_seconds=600,
        handled=50,
        total_handle_seconds=13_500,
        wrapped_up=40,
        total_wrapup_seconds=1_236,
        max_wait_seconds=95.04,
        csat_total=43,
        csat_responses=10,
    )

    row = dict(zip(metrics.QUEUES_CSV_COLUMNS, interval.queues_csv_row(), strict=True))

    assert list(row) == [
        "queue",
        "channel",
        "interval_start",
        "offered",
        "answered",
        "abandoned",
        "short_abandoned",
        "answered_within_target",
        "service_level_pct",
        "asa_seconds",
        "average_handle_seconds",
        "average_wrapup_seconds",
        "max_wait_seconds",
        "csat_average",
        "csat_responses",
    ]
    assert row == {
        "queue": "Support",
        "channel": "webchat",
        "interval_start": "2026-03-02T09:00:00+00:00",
        "offered": 62,
        "answered": 50,
        "abandoned": 12,
        "short_abandoned": 2,
        "answered_within_target": 45,
        "service_level_pct": 75.0,
        "asa_seconds": 12.0,
        "average_handle_seconds": 270.0,
        "average_wrapup_seconds": 30.9,
        "max_wait_seconds": 95.0,
        "csat_average": 4.3,
        "csat_responses": 10,
    }
    assert interval.abandonment_rate_pct == pytest.approx(100 / 6)


def test_a_quiet_interval_has_empty_figures_not_zeros():
    quiet = metrics.QueueInterval(queue="Sales", channel="voice", interval_start=dt.datetime(2026, 3, 2))

    row = dict(zip(metrics.QUEUES_CSV_COLUMNS, quiet.queues_csv_row(), strict=True))

    assert row["offered"] == 0
    for column in (
        "service_level_pct",
        "asa_seconds",
        "average_handle_seconds",
        "average_wrapup_seconds",
        "max_wait_seconds",
        "csat_average",
    ):
        assert row[column] is None, column
